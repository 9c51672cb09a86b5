"""RFC 9162 hashing and proofs (trust.formats.tlog) against two independent implementations — pymerkle configured
for RFC 9162 hashing, and a minimal verifier below written from RFC 9162 §2.1.1, §2.1.3.2 and §2.1.4.2 alone — and
the C2SP checkpoint/signed-note formats, with forged and truncated variants."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from trust.crypto.errors import Code
from trust.formats import tlog

# --- an independent verifier, written from RFC 9162 alone (no code shared with trust.formats.tlog) ------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_mth(leaves: list[bytes]) -> bytes:
    """§2.1.1: MTH({}) = HASH(), MTH({d0}) = HASH(0x00 || d0), else split at k (largest power of 2 < n)."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:]))


def rfc_verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """§2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = _h(b"\x01" + r + p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]) -> bool:
    """§2.1.4.2, step by step (for 0 < first < second)."""
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = _h(b"\x01" + sr + c)
        fn //= 2
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0


def _leaves(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


SIZES = [*range(1, 34), 64, 65, 127, 128, 129, 1000]


@pytest.mark.parametrize("size", [0, *SIZES])
def test_roots_agree_with_the_rfc_definition(size):
    leaves = _leaves(size)
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in leaves)
    assert tree.root() == rfc_mth(leaves)


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proofs_verify_with_the_rfc_verifier(size):
    leaves = _leaves(size)
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in leaves)
    root = rfc_mth(leaves)
    for index in range(size) if size <= 129 else random.Random(size).sample(range(size), 40):
        proof = tree.inclusion(index)
        leaf = tlog.leaf_hash(leaves[index])
        assert rfc_verify_inclusion(index, size, leaf, proof, root)
        tlog.verify_inclusion(index, size, leaf, proof, root)
        # the same proof for another leaf, and a truncated one, fail in both verifiers
        other = tlog.leaf_hash(b"forged")
        assert not rfc_verify_inclusion(index, size, other, proof, root)
        with pytest.raises(tlog.LogError) as bad:
            tlog.verify_inclusion(index, size, other, proof, root)
        assert bad.value.code is Code.LOG_PROOF_INVALID
        if proof:
            assert not rfc_verify_inclusion(index, size, leaf, proof[:-1], root)
            with pytest.raises(tlog.LogError):
                tlog.verify_inclusion(index, size, leaf, proof[:-1], root)


@pytest.mark.parametrize("size", [8, 13, 33])
def test_inclusion_proofs_of_older_trees(size):
    leaves = _leaves(size)
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in leaves)
    for old in range(1, size + 1):
        root = rfc_mth(leaves[:old])
        for index in range(old):
            proof = tree.inclusion(index, old)
            assert rfc_verify_inclusion(index, old, tlog.leaf_hash(leaves[index]), proof, root)


@pytest.mark.parametrize("size", [2, 3, 7, 8, 9, 16, 17, 31, 33, 64, 65, 100])
def test_consistency_proofs_verify_with_the_rfc_verifier(size):
    leaves = _leaves(size)
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in leaves)
    new_root = rfc_mth(leaves)
    for old in range(1, size):
        old_root = rfc_mth(leaves[:old])
        proof = tree.consistency(old)
        assert rfc_verify_consistency(old, size, old_root, new_root, proof)
        tlog.verify_consistency(old, size, old_root, new_root, proof)
        forged_old = _h(b"another history")
        assert not rfc_verify_consistency(old, size, forged_old, new_root, proof)
        with pytest.raises(tlog.LogError) as bad:
            tlog.verify_consistency(old, size, forged_old, new_root, proof)
        assert bad.value.code is Code.LOG_INCONSISTENT


def test_a_fork_and_a_shrinking_tree_are_inconsistent():
    a = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in _leaves(10))
    b = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in [*_leaves(9), b"other"])
    with pytest.raises(tlog.LogError) as same_size:
        tlog.verify_consistency(10, 10, a.root(), b.root(), [])
    assert same_size.value.code is Code.LOG_INCONSISTENT
    assert same_size.value.evidence["old_root"] == a.root().hex()
    with pytest.raises(tlog.LogError, match="shrank"):
        tlog.verify_consistency(10, 9, a.root(), a.root(9), [])
    tlog.verify_consistency(10, 10, a.root(), a.root(), [])
    tlog.verify_consistency(0, 10, tlog.empty_root(), a.root(), [])


# --- pymerkle, configured for RFC 9162 hashing ----------------------------------------------------------------------


def _pymerkle_tree(leaves: list[bytes]):
    pymerkle = pytest.importorskip("pymerkle")
    # disable_security=False keeps the 0x00/0x01 prefixes of RFC 9162; SHA-256 as the RFC's default
    tree = pymerkle.InmemoryTree(algorithm="sha256", disable_security=False)
    for data in leaves:
        tree.append_entry(data)
    return pymerkle, tree


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 64, 100])
def test_roots_and_proofs_agree_with_pymerkle(size):
    leaves = _leaves(size)
    pymerkle, ref = _pymerkle_tree(leaves)
    ours = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in leaves)
    assert ref.get_root() == ours.root()
    for index in range(size):
        leaf = tlog.leaf_hash(leaves[index])
        assert ref.get_leaf(index + 1) == leaf  # pymerkle numbers leaves from 1
        theirs = ref.prove_inclusion(index + 1, size)
        # pymerkle's path is the leaf, then the RFC 9162 audit path bottom first: the same hashes as ours
        assert [bytes.fromhex(h) for h in theirs.serialize()["path"]] == [leaf, *ours.inclusion(index)]
        pymerkle.verify_inclusion(leaf, ours.root(), theirs)
        with pytest.raises(pymerkle.InvalidProof):
            pymerkle.verify_inclusion(tlog.leaf_hash(b"forged"), ours.root(), theirs)
    for old in range(1, size):
        assert ref.get_root(old) == ours.root(old)
        # pymerkle's consistency proofs are its own format (not RFC 9162's): each side's proof checks the other's roots
        proof = ref.prove_consistency(old, size)
        pymerkle.verify_consistency(ours.root(old), ours.root(), proof)
        with pytest.raises(pymerkle.InvalidProof):
            pymerkle.verify_consistency(_h(b"fork"), ours.root(), proof)
        tlog.verify_consistency(old, size, ref.get_root(old), ref.get_root(), ours.consistency(old))


def test_sm3_hashing_is_selectable():
    leaves = _leaves(5)
    tree = tlog.MemoryTree.of((tlog.leaf_hash(d, "sm3") for d in leaves), "sm3")
    proof = tree.inclusion(3)
    tlog.verify_inclusion(3, 5, tlog.leaf_hash(leaves[3], "sm3"), proof, tree.root(), "sm3")
    with pytest.raises(tlog.LogError):
        tlog.verify_inclusion(3, 5, tlog.leaf_hash(leaves[3]), proof, tree.root(), "sm3")


def test_proofs_grow_logarithmically():
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in _leaves(4097))
    assert len(tree.inclusion(0)) == 13
    assert len(tree.inclusion(4096)) == 1
    assert max(len(tree.inclusion(i, 4096)) for i in (0, 1000, 4095)) == 12


def test_hostile_proof_shapes_are_refused():
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in _leaves(4))
    leaf = tlog.leaf_hash(b"entry 0")
    with pytest.raises(tlog.LogError):
        tlog.verify_inclusion(4, 4, leaf, tree.inclusion(0), tree.root())
    with pytest.raises(tlog.LogError):
        tlog.verify_inclusion(-1, 4, leaf, tree.inclusion(0), tree.root())
    with pytest.raises(tlog.LogError) as long:
        tlog.verify_inclusion(0, 4, leaf, [b"\0" * 32] * 65, tree.root())
    assert long.value.code is Code.LOG_MALFORMED
    with pytest.raises(tlog.LogError):
        tlog.verify_inclusion(0, 4, leaf, [b"\0" * 31, *tree.inclusion(0)[1:]], tree.root())
    with pytest.raises(tlog.LogError, match="longer"):
        tlog.verify_inclusion(0, 4, leaf, [*tree.inclusion(0), b"\0" * 32], tree.root())


# --- checkpoints and signed notes -------------------------------------------------------------------------------------


def test_checkpoint_ed25519_signature_is_standard_signed_note():
    # The example key and note of c2sp.org/signed-note's Ed25519 reference (generated here: same construction)
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in _leaves(7))
    cp = tlog.Checkpoint("huren.example/log", 7, tree.root())
    text = cp.body()
    assert text == f"huren.example/log\n7\n{base64.b64encode(tree.root()).decode()}\n"
    note = tlog.Note(text, (tlog.sign_ed25519(text, "huren.example/log", key),)).encode()
    public = key.public_key().public_bytes_raw()
    verifier = tlog.ed25519_verifier("huren.example/log", public)
    # the key ID is SHA-256(name || 0x0A || 0x01 || key)[:4]
    assert verifier.key_id == hashlib.sha256(b"huren.example/log\n\x01" + public).digest()[:4]
    verified = tlog.verify_checkpoint(note, [verifier])
    assert verified.checkpoint == cp
    assert verifier.vkey().startswith("huren.example/log+" + verifier.key_id.hex() + "+")


def test_cosignatures_and_unknown_signatures():
    log_key = ed25519.Ed25519PrivateKey.generate()
    witness = ed25519.Ed25519PrivateKey.generate()
    stranger = ed25519.Ed25519PrivateKey.generate()
    text = tlog.Checkpoint("huren.example/log", 3, b"\1" * 32, ("huren-time 2026-12-07T10:00:00Z",)).body()
    note = tlog.Note(text, (tlog.sign_ed25519(text, "log", log_key),)).encode()
    note = tlog.add_signatures(note, [tlog.cosign(text, "witness/330000", witness, 1_800_000_000)])
    note = tlog.add_signatures(note, [tlog.sign_ed25519(text, "stranger", stranger)])
    log_v = tlog.ed25519_verifier("log", log_key.public_key().public_bytes_raw())
    wit_v = tlog.ed25519_verifier("witness/330000", witness.public_key().public_bytes_raw(), cosignature=True)
    verified = tlog.verify_checkpoint(note, [log_v], [wit_v], quorum=1)
    assert verified.cosigned_by == {"witness/330000": 1_800_000_000}
    assert verified.checkpoint.extension("huren-time") == "2026-12-07T10:00:00Z"
    # without the log key: refused; a witness quorum not met: refused
    with pytest.raises(tlog.LogError) as no_log:
        tlog.verify_checkpoint(note, [wit_v])
    assert no_log.value.code is Code.LOG_SIGNATURE_INVALID
    with pytest.raises(tlog.LogError, match="2 required"):
        tlog.verify_checkpoint(note, [log_v], [wit_v], quorum=2)
    # a changed size under the same signatures: a known key's signature fails, the note is refused
    forged = note.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(Exception) as bad:
        tlog.verify_checkpoint(forged, [log_v])
    assert getattr(bad.value, "code", None) is Code.LOG_SIGNATURE_INVALID


@pytest.mark.parametrize(
    "note",
    [
        "",
        "origin\n1\n",
        "origin\n1\nAAAA\n\n\u2014 k AAAAAAA=\n",  # root not 32 bytes
        "origin\n01\n" + base64.b64encode(b"\0" * 32).decode() + "\n\n\u2014 k AAAAAAA=\n",  # non-canonical size
        "origin\n1\n" + base64.b64encode(b"\0" * 32).decode() + "\n\n- k AAAAAAA=\n",  # not an em dash
        "origin\n1\n" + base64.b64encode(b"\0" * 32).decode() + "\n\n\u2014 k AAAA\n",  # shorter than a key ID
        "origin\x07\n1\n" + base64.b64encode(b"\0" * 32).decode() + "\n\n\u2014 k AAAAAAA=\n",  # control character
        "o\n1\n" + base64.b64encode(b"\0" * 32).decode() + "\n\n" + "\u2014 k AAAAAAA=\n" * 65,  # too many
    ],
)
def test_malformed_notes_are_refused_specifically(note):
    with pytest.raises(tlog.LogError) as bad:
        tlog.verify_checkpoint(note, [])
    assert bad.value.code is Code.LOG_MALFORMED


def test_inclusion_document_round_trip_and_forgery():
    entries = _leaves(11)
    tree = tlog.MemoryTree.of(tlog.leaf_hash(d) for d in entries)
    doc = tlog.InclusionDocument(
        "sha256", tlog.leaf_hash(entries[6]), 6, 11, tuple(tree.inclusion(6)), tree.root(), "cp", entries[6]
    )
    again = tlog.InclusionDocument.from_json(doc.to_json())
    assert again == doc
    again.verify()
    as_json = doc.to_json()
    as_json["leaf_index"] = 5
    with pytest.raises(tlog.LogError):
        tlog.InclusionDocument.from_json(as_json).verify()
    as_json = doc.to_json()
    as_json["entry"] = base64.b64encode(b"entry 7").decode()
    with pytest.raises(tlog.LogError, match="entry does not hash"):
        tlog.InclusionDocument.from_json(as_json).verify()


def test_tile_paths_follow_tlog_tiles():
    assert tlog.tile_index_path(0) == "000"
    assert tlog.tile_index_path(1234067) == "x001/x234/067"
    assert tlog.tile_path(0, 1234067, 10) == "tile/0/x001/x234/067.p/10"
    assert tlog.entries_path(5) == "tile/entries/005"
    assert tlog.tiles_for(256) == [(0, 0, 256), (1, 0, 1)]
    assert tlog.tiles_for(300, 256) == [(0, 1, 44)]
    assert tlog.entry_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
