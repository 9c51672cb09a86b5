"""Transparency log formats (issue 19): RFC 9162 Merkle tree hashing and proofs, C2SP checkpoints and signed notes.

Pure: no storage, no policy, no network. The service keeps the tree (``trust.service.tlog``); the verifier checks
what this module checks, offline.

**Hashing** (RFC 9162 §2.1.1): ``MTH({}) = HASH()``, leaf ``HASH(0x00 || d)``, node ``HASH(0x01 || left || right)``,
the split at the largest power of two smaller than the size. ``HASH`` is SHA-256 (the RFC's default); SM3 may be
chosen (:data:`HASHES`) and is named in every proof.

**Proofs**: inclusion (§2.1.3.1 generation, §2.1.3.2 verification) and consistency (§2.1.4.1, §2.1.4.2). Generation
works over a *node source*: a function giving the hash of a perfect subtree ``(level, index)`` — the leaves
``index*2**level .. (index+1)*2**level - 1`` — so a store holding every perfect subtree (the tiles) answers a proof
with O(log n) reads. :class:`MemoryTree` is such a source in memory.

**Checkpoints** (c2sp.org/tlog-checkpoint): ``origin\\nsize\\nbase64(root)\\n`` and extension lines, signed as a
c2sp.org/signed-note. Signature types: Ed25519 (``0x01``), witness cosignatures ``cosignature/v1`` (``0x04``,
c2sp.org/tlog-cosignature), and — the documented superset for the national keys — ``0xff`` followed by an
identifier (``huren/sm2-sm3``, ``huren/rsa-pkcs1-sha256``), the key ID ``SHA-256(name || 0x0A || 0xff || identifier
|| SPKI DER)[:4]`` and the signature the algorithm's usual DER (SM2) or PKCS#1 value over the note text. Verifiers of
the plain signed-note specification ignore those lines as signatures of unknown keys, as the specification requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature as _PycaInvalid
from cryptography.hazmat.primitives.asymmetric import ed25519

from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import Code, InputError, InvalidSignature, TrustError
from trust.crypto.keys import PublicKey, SM2PublicKey
from trust.crypto.signer import Signer
from trust.crypto.sm3 import sm3

# --- hashing (RFC 9162 §2.1.1) ------------------------------------------------------------------------------------

HASHES: Final[dict[str, Callable[[bytes], bytes]]] = {
    "sha256": lambda data: hashlib.sha256(data).digest(),
    "sm3": sm3,
}
HASH_SIZE: Final = 32
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
MAX_TREE_SIZE: Final = 2**63 - 1
MAX_PROOF_HASHES: Final = 64
PDF_ATTACHMENT: Final = "huren-log-proofs.json"
"""The embedded file (``/EmbeddedFiles``, ISO 32000-2 7.11.4) of a sealed PDF that carries its signer certificates'
inclusion proofs: a JSON array of ``trust log prove`` documents, written in the revision the signatures cover. Not a
DSS key: pyHanko's modification analysis refuses any DSS key but ``/Certs``, ``/CRLs``, ``/OCSPs``, ``/VRI`` and
``/Type`` in every later revision (docs/TRANSPARENCY.md)."""
PDF_ATTACHMENT_MIME: Final = "application/vnd.huren.log-proofs+json"
"""Its media type (the embedded file stream's ``/Subtype``: a stream's dictionary is never inside an object stream, so a
verifier finds the marker ``huren.log-proofs`` in the file's bytes before it parses anything)."""
PDF_MARKER: Final = b"huren.log-proofs"
MAX_PDF_PROOFS: Final = 16


class LogError(TrustError):
    """A log proof, checkpoint or note is malformed or does not verify (``E1800``–``E1899``)."""

    default_code = Code.LOG_PROOF_INVALID


def _hash(name: str) -> Callable[[bytes], bytes]:
    try:
        return HASHES[name]
    except KeyError:
        raise InputError(f"unknown log hash {name!r} (known: {', '.join(HASHES)})", code=Code.LOG_MALFORMED) from None


def leaf_hash(entry: bytes, hash_name: str = "sha256") -> bytes:
    return _hash(hash_name)(LEAF_PREFIX + entry)


def node_hash(left: bytes, right: bytes, hash_name: str = "sha256") -> bytes:
    return _hash(hash_name)(NODE_PREFIX + left + right)


def empty_root(hash_name: str = "sha256") -> bytes:
    return _hash(hash_name)(b"")


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


NodeSource = Callable[[int, int], bytes]
"""``(level, index) -> hash`` of the perfect subtree of leaves ``index << level`` to ``((index + 1) << level) - 1``."""


def subtree_root(node: NodeSource, start: int, end: int, hash_name: str = "sha256") -> bytes:
    """MTH of leaves ``[start, end)`` where ``start`` is a multiple of the largest power of two <= ``end - start``
    (every range the RFC's recursion visits is): perfect subtrees from ``node``, folded right to left."""
    size = end - start
    if size <= 0:
        return empty_root(hash_name)
    parts: list[bytes] = []
    position = start
    while position < end:
        level = (end - position).bit_length() - 1
        parts.append(node(level, position >> level))
        position += 1 << level
    root = parts[-1]
    for part in reversed(parts[:-1]):
        root = node_hash(part, root, hash_name)
    return root


def root_from_leaves(leaf_hashes: Sequence[bytes], hash_name: str = "sha256") -> bytes:
    """MTH over leaf hashes (a whole tree in memory)."""
    return MemoryTree.of(leaf_hashes, hash_name).root()


def inclusion_proof(node: NodeSource, index: int, size: int, hash_name: str = "sha256") -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1), bottom first."""
    _check_index(index, size)
    proof: list[bytes] = []
    start, end, m = 0, size, index
    # Collected top first, returned bottom first.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            proof.append(subtree_root(node, start + k, end, hash_name))
            end = start + k
        else:
            proof.append(subtree_root(node, start, start + k, hash_name))
            start, m = start + k, m - k
    proof.reverse()
    return proof


def consistency_proof(node: NodeSource, old_size: int, new_size: int, hash_name: str = "sha256") -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 §2.1.4.1): empty when ``old_size`` is 0 or equals ``new_size``."""
    if not 0 <= old_size <= new_size <= MAX_TREE_SIZE:
        raise InputError(f"no consistency proof from size {old_size} to {new_size}", code=Code.LOG_MALFORMED)
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                proof.append(subtree_root(node, start, end, hash_name))
            break
        k = _split(n)
        if m <= k:
            proof.append(subtree_root(node, start + k, end, hash_name))
            end = start + k
        else:
            proof.append(subtree_root(node, start, start + k, hash_name))
            start, m, whole = start + k, m - k, False
    proof.reverse()
    return proof


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size <= MAX_TREE_SIZE:
        raise LogError(
            f"leaf index {index} is not in a tree of size {size}",
            code=Code.LOG_PROOF_INVALID,
            evidence={"leaf_index": index, "tree_size": size},
        )


def _check_hashes(hashes: Iterable[bytes], what: str) -> list[bytes]:
    items = list(hashes)
    if len(items) > MAX_PROOF_HASHES:
        raise LogError(f"{what} has {len(items)} hashes (at most {MAX_PROOF_HASHES})", code=Code.LOG_MALFORMED)
    for item in items:
        if len(item) != HASH_SIZE:
            raise LogError(f"{what} holds a hash of {len(item)} bytes, not {HASH_SIZE}", code=Code.LOG_MALFORMED)
    return items


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], hash_name: str = "sha256") -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-5), or :class:`LogError` if it has the wrong
    length for ``index`` in ``size``."""
    _check_index(index, size)
    items = _check_hashes(proof, "the inclusion proof")
    fn, sn, r = index, size - 1, leaf
    for p in items:
        if sn == 0:
            raise LogError("the inclusion proof is longer than the tree allows", code=Code.LOG_PROOF_INVALID)
        if fn & 1 or fn == sn:
            r = node_hash(p, r, hash_name)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p, hash_name)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogError("the inclusion proof is shorter than the tree requires", code=Code.LOG_PROOF_INVALID)
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes, hash_name: str = "sha256"
) -> None:
    """Raise :class:`LogError` (``E1801``) unless ``proof`` shows leaf hash ``leaf`` at ``index`` under ``root``."""
    computed = root_from_inclusion(index, size, leaf, proof, hash_name)
    if computed != root:
        raise LogError(
            f"the inclusion proof of leaf {index} leads to another root than the tree of size {size}",
            code=Code.LOG_PROOF_INVALID,
            evidence={"expected_root": root.hex(), "computed_root": computed.hex()},
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes], hash_name: str = "sha256"
) -> None:
    """Raise :class:`LogError` (``E1802``) unless the tree ``(new_size, new_root)`` extends ``(old_size, old_root)``
    (RFC 9162 §2.1.4.2)."""
    items = _check_hashes(proof, "the consistency proof")
    if not 0 <= old_size <= new_size <= MAX_TREE_SIZE:
        raise LogError(
            f"the tree shrank from {old_size} to {new_size} leaves",
            code=Code.LOG_INCONSISTENT,
            evidence={"old_size": old_size, "new_size": new_size},
        )
    if old_size == new_size:
        if items or old_root != new_root:
            raise LogError(
                f"two trees of size {new_size} with different roots",
                code=Code.LOG_INCONSISTENT,
                evidence={"old_root": old_root.hex(), "new_root": new_root.hex()},
            )
        return
    if old_size == 0:
        if items:
            raise LogError("a consistency proof from the empty tree must be empty", code=Code.LOG_INCONSISTENT)
        return
    if not items:
        raise LogError("the consistency proof is empty", code=Code.LOG_INCONSISTENT)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        items = [old_root, *items]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            raise LogError("the consistency proof is too long", code=Code.LOG_INCONSISTENT)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr, hash_name)
            sr = node_hash(c, sr, hash_name)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c, hash_name)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise LogError(
            f"the tree of size {new_size} is not an extension of the tree of size {old_size}",
            code=Code.LOG_INCONSISTENT,
            evidence={
                "old_size": old_size,
                "new_size": new_size,
                "old_root": old_root.hex(),
                "new_root": new_root.hex(),
            },
        )


@dataclass
class MemoryTree:
    """Every perfect subtree of a tree in memory (``levels[l][i]``): a :data:`NodeSource` for proofs, tests and
    benchmarks. Appending costs one hash per completed subtree (amortised two per leaf)."""

    hash_name: str = "sha256"
    levels: list[list[bytes]] = field(default_factory=lambda: [[]])

    @classmethod
    def of(cls, leaf_hashes: Iterable[bytes], hash_name: str = "sha256") -> MemoryTree:
        tree = cls(hash_name)
        for item in leaf_hashes:
            tree.append_hash(item)
        return tree

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, entry: bytes) -> int:
        return self.append_hash(leaf_hash(entry, self.hash_name))

    def append_hash(self, leaf: bytes) -> int:
        index = self.size
        self.levels[0].append(leaf)
        level, i = 0, index
        while i & 1:
            parent = node_hash(self.levels[level][i - 1], self.levels[level][i], self.hash_name)
            level += 1
            if len(self.levels) == level:
                self.levels.append([])
            self.levels[level].append(parent)
            i >>= 1
        return index

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return subtree_root(self.node, 0, self.size if size is None else size, self.hash_name)

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self.node, index, self.size if size is None else size, self.hash_name)

    def consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(self.node, old_size, self.size if new_size is None else new_size, self.hash_name)


# --- checkpoints and signed notes (c2sp.org/tlog-checkpoint, signed-note, tlog-cosignature) -------------------------

ED25519: Final = 0x01
COSIGNATURE_V1: Final = 0x04
EXTENDED: Final = 0xFF
HUREN_TYPES: Final = {"sm2": b"huren/sm2-sm3", "rsa": b"huren/rsa-pkcs1-sha256"}
"""The identifiers after ``0xff`` for the national keys' signature types (the documented superset)."""
MAX_NOTE_BYTES: Final = 1 << 16
MAX_SIGNATURES: Final = 64
_DASH: Final = "\u2014 "
_NAME: Final = re.compile(r"[^\s+\u2014]+")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)

    def extension(self, prefix: str) -> str | None:
        for line in self.extensions:
            if line.startswith(prefix + " "):
                return line[len(prefix) + 1 :]
        return None


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def parse_checkpoint(text: str) -> Checkpoint:
    """The note text of a checkpoint: origin, decimal size, base64 root (32 bytes), extension lines."""
    if not text.endswith("\n"):
        raise LogError("a checkpoint must end with a newline", code=Code.LOG_MALFORMED)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0] or any(line == "" for line in lines):
        raise LogError("a checkpoint has an origin, a size and a root hash, one per line", code=Code.LOG_MALFORMED)
    origin, size_text, root_text, *extensions = lines
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text) or int(size_text) > MAX_TREE_SIZE:
        raise LogError(f"checkpoint size {size_text[:24]!r} is not a decimal tree size", code=Code.LOG_MALFORMED)
    root = _b64(root_text, "the checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise LogError(f"the checkpoint root hash has {len(root)} bytes, not {HASH_SIZE}", code=Code.LOG_MALFORMED)
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def _b64(text: str, what: str) -> bytes:
    try:
        value = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise LogError(f"{what} is not base64", code=Code.LOG_MALFORMED) from None
    if base64.b64encode(value).decode() != text:
        raise LogError(f"{what} is not canonical base64", code=Code.LOG_MALFORMED)
    return value


def parse_note(data: str | bytes) -> Note:
    """A signed note (c2sp.org/signed-note): text, blank line, signature lines; bounded and strict."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise LogError(f"a signed note of {len(data)} bytes is too long", code=Code.LOG_MALFORMED)
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LogError("a signed note must be UTF-8", code=Code.LOG_MALFORMED) from None
    if len(data) > MAX_NOTE_BYTES:
        raise LogError("the signed note is too long", code=Code.LOG_MALFORMED)
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise LogError("a signed note holds a control character", code=Code.LOG_MALFORMED)
    cut = data.rfind("\n\n")
    if cut < 0 or not data.endswith("\n"):
        raise LogError("a signed note is text, a blank line and signature lines", code=Code.LOG_MALFORMED)
    text, lines = data[: cut + 1], data[cut + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise LogError(f"a signed note with {len(lines)} signatures is refused", code=Code.LOG_MALFORMED)
    signatures = []
    for line in lines:
        if not line.startswith(_DASH):
            raise LogError("a signature line starts with an em dash and a space", code=Code.LOG_MALFORMED)
        parts = line[len(_DASH) :].split(" ")
        if len(parts) != 2 or not _NAME.fullmatch(parts[0]):
            raise LogError("a signature line is a key name and a base64 signature", code=Code.LOG_MALFORMED)
        raw = _b64(parts[1], "a note signature")
        if len(raw) < 5:
            raise LogError("a note signature is shorter than its key ID", code=Code.LOG_MALFORMED)
        signatures.append(NoteSignature(parts[0], raw[:4], raw[4:]))
    if not signatures:
        raise LogError("a signed note has at least one signature", code=Code.LOG_MALFORMED)
    return Note(text, tuple(signatures))


def key_id(name: str, signature_type: bytes, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + signature_type + public).digest()[:4]


@dataclass(frozen=True)
class NoteVerifier:
    """A key trusted to sign notes: its name, its ID, and how to check a signature over the note text (and, for a
    cosignature, the time it carries; ``None`` otherwise)."""

    name: str
    key_id: bytes
    kind: str  # "ed25519", "cosignature", "sm2", "rsa"
    public: bytes  # the raw Ed25519 key, or SPKI DER
    _check: Callable[[str, bytes], int | None] = field(repr=False, compare=False)

    def verify(self, text: str, signature: bytes) -> int | None:
        return self._check(text, signature)

    def vkey(self) -> str:
        """The verifier key string (``name+hexid+base64(type || key)``) of Ed25519 and cosignature keys."""
        type_byte = ED25519 if self.kind == "ed25519" else COSIGNATURE_V1
        material = bytes([type_byte]) + self.public
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(material).decode()}"


def parse_vkey(text: str) -> NoteVerifier:
    """A verifier key string ``name+hexid+base64(type || key)`` of an Ed25519 (``0x01``) or cosignature (``0x04``)
    key; the ID must be the one the key's hash gives."""
    parts = text.split("+", 2) if isinstance(text, str) else []
    if len(parts) != 3 or not _NAME.fullmatch(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise LogError("a verifier key is name+hex ID+base64 key", code=Code.LOG_MALFORMED)
    material = _b64(parts[2], "the verifier key")
    if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE_V1):
        raise LogError("only Ed25519 and cosignature/v1 verifier keys are read", code=Code.LOG_MALFORMED)
    verifier = ed25519_verifier(parts[0], material[1:], cosignature=material[0] == COSIGNATURE_V1)
    if verifier.key_id.hex() != parts[1]:
        raise LogError(f"the verifier key of {parts[0]} names another key ID", code=Code.LOG_MALFORMED)
    return verifier


def ed25519_verifier(name: str, public: bytes, *, cosignature: bool = False) -> NoteVerifier:
    """A verifier for Ed25519 signatures (``0x01``) or ``cosignature/v1`` witness cosignatures (``0x04``)."""
    key = ed25519.Ed25519PublicKey.from_public_bytes(public)
    if cosignature:

        def check(text: str, signature: bytes) -> int | None:
            if len(signature) != 72:
                raise InvalidSignature(f"a cosignature of {name} must be 72 bytes", code=Code.LOG_SIGNATURE_INVALID)
            (timestamp,) = struct.unpack(">Q", signature[:8])
            message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
            _ed_verify(key, signature[8:], message, name)
            return int(timestamp)

        return NoteVerifier(name, key_id(name, bytes([COSIGNATURE_V1]), public), "cosignature", public, check)

    def check_plain(text: str, signature: bytes) -> int | None:
        _ed_verify(key, signature, text.encode(), name)
        return None

    return NoteVerifier(name, key_id(name, bytes([ED25519]), public), "ed25519", public, check_plain)


def _ed_verify(key: ed25519.Ed25519PublicKey, signature: bytes, message: bytes, name: str) -> None:
    try:
        key.verify(signature, message)
    except _PycaInvalid:
        raise InvalidSignature(
            f"the note signature of {name} does not verify", code=Code.LOG_SIGNATURE_INVALID
        ) from None


def national_verifier(name: str, public: PublicKey, algorithm: SignatureAlgorithm) -> NoteVerifier:
    """A verifier for the superset types: the national SM2 (SM3, default user ID, DER) or RSA key."""
    kind = "sm2" if isinstance(public, SM2PublicKey) else "rsa"
    identifier = HUREN_TYPES[kind]

    def check(text: str, signature: bytes) -> int | None:
        try:
            public.verify(signature, text.encode(), algorithm)
        except InvalidSignature as exc:
            raise InvalidSignature(
                f"the note signature of {name} ({kind}) does not verify", code=Code.LOG_SIGNATURE_INVALID
            ) from exc
        return None

    spki = public.spki_der()
    return NoteVerifier(name, key_id(name, bytes([EXTENDED]) + identifier, spki), kind, spki, check)


def sign_national(text: str, name: str, signer: Signer) -> NoteSignature:
    kind = "sm2" if isinstance(signer.public_key, SM2PublicKey) else "rsa"
    kid = key_id(name, bytes([EXTENDED]) + HUREN_TYPES[kind], signer.public_key.spki_der())
    return NoteSignature(name, kid, signer.sign(text.encode()))


def sign_ed25519(text: str, name: str, key: ed25519.Ed25519PrivateKey) -> NoteSignature:
    public = key.public_key().public_bytes_raw()
    return NoteSignature(name, key_id(name, bytes([ED25519]), public), key.sign(text.encode()))


def cosign(text: str, name: str, key: ed25519.Ed25519PrivateKey, timestamp: int) -> NoteSignature:
    """A ``cosignature/v1`` over a checkpoint's note text at ``timestamp`` (seconds since the epoch)."""
    public = key.public_key().public_bytes_raw()
    message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
    return NoteSignature(
        name, key_id(name, bytes([COSIGNATURE_V1]), public), struct.pack(">Q", timestamp) + key.sign(message)
    )


@dataclass(frozen=True)
class VerifiedNote:
    note: Note
    checkpoint: Checkpoint
    signed_by: tuple[str, ...]
    cosigned_by: Mapping[str, int]  # witness name -> cosignature time


def verify_checkpoint(
    data: str | bytes, log_keys: Sequence[NoteVerifier], witnesses: Sequence[NoteVerifier] = (), *, quorum: int = 0
) -> VerifiedNote:
    """Parse a signed checkpoint; every signature of a known key must verify (RFC-style strictness: one bad one
    rejects the note), at least one of ``log_keys`` must have signed, and at least ``quorum`` of ``witnesses``.
    Signatures of unknown keys are ignored (signed-note)."""
    note = parse_note(data)
    checkpoint = parse_checkpoint(note.text)
    known = {(v.name, v.key_id): v for v in (*log_keys, *witnesses)}
    log_ids = {(v.name, v.key_id) for v in log_keys}
    signed: list[str] = []
    cosigned: dict[str, int] = {}
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        when = verifier.verify(note.text, sig.signature)
        if (sig.name, sig.key_id) in log_ids and verifier.kind != "cosignature":
            signed.append(f"{sig.name} ({verifier.kind})")
        elif when is not None:
            cosigned[sig.name] = when
    if not signed:
        raise LogError(
            f"the checkpoint of {checkpoint.origin!r} carries no signature of a trusted log key",
            code=Code.LOG_SIGNATURE_INVALID,
        )
    if len(cosigned) < quorum:
        raise LogError(
            f"the checkpoint is cosigned by {len(cosigned)} trusted witnesses, {quorum} required",
            code=Code.LOG_SIGNATURE_INVALID,
            evidence={"cosigned_by": sorted(cosigned)},
        )
    return VerifiedNote(note, checkpoint, tuple(signed), cosigned)


def add_signatures(data: str, signatures: Iterable[NoteSignature]) -> str:
    """``data`` (a signed note) with more signature lines (a cosignature already present by the same key is kept)."""
    note = parse_note(data)
    present = {(s.name, s.key_id) for s in note.signatures}
    extra = tuple(s for s in signatures if (s.name, s.key_id) not in present)
    return Note(note.text, note.signatures + extra).encode()


# --- witnesses ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessState:
    """What a witness saw last: the checkpoint it cosigned (size, root, the signed note as evidence)."""

    size: int
    root: bytes
    note: str

    def to_json(self) -> dict[str, object]:
        return {"size": self.size, "root": self.root.hex(), "note": self.note}

    @classmethod
    def from_json(cls, value: object) -> WitnessState:
        if not isinstance(value, dict) or not isinstance(value.get("note"), str):
            raise LogError("a witness state is {size, root, note}", code=Code.LOG_MALFORMED)
        size = value.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise LogError("a witness state's size is an integer", code=Code.LOG_MALFORMED)
        return cls(size, hex32(value.get("root"), "the witness state's root"), str(value["note"]))


def witness(
    state: WitnessState | None,
    note: str,
    proof: Sequence[bytes],
    log_keys: Sequence[NoteVerifier],
    name: str,
    key: ed25519.Ed25519PrivateKey,
    timestamp: int,
) -> tuple[WitnessState, NoteSignature]:
    """A witness's step (c2sp.org/tlog-witness, offline): the new checkpoint must be signed by the log and extend the
    one seen last (``proof``: the consistency proof between them); then it is cosigned (``cosignature/v1``). A fork —
    the same size with another root, a smaller tree, a failing proof — raises :class:`LogError` (``E1802``) with both
    checkpoints as evidence, and the state stays as it was."""
    checkpoint = verify_checkpoint(note, log_keys).checkpoint
    if state is not None:
        try:
            if checkpoint.size < state.size:
                raise LogError(
                    f"the log shows {checkpoint.size} leaves after {state.size}: a smaller later tree",
                    code=Code.LOG_INCONSISTENT,
                )
            verify_consistency(state.size, checkpoint.size, state.root, checkpoint.root, proof)
        except LogError as exc:
            raise LogError(
                f"fork: {exc.message}",
                code=Code.LOG_INCONSISTENT,
                evidence={"seen": state.note, "new": note, **exc.evidence},
            ) from exc
    signature = cosign(parse_note(note).text, name, key, timestamp)
    return WitnessState(checkpoint.size, checkpoint.root, note), signature


# --- tiles (c2sp.org/tlog-tiles) ----------------------------------------------------------------------------------

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT


def tile_index_path(index: int) -> str:
    """``1234067`` -> ``x001/x234/067`` (three-digit groups, all but the last prefixed ``x``)."""
    digits = f"{index:d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    partial = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/{level}/{tile_index_path(index)}{partial}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    partial = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/entries/{tile_index_path(index)}{partial}"


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for entry in entries:
        if len(entry) > 0xFFFF:
            raise InputError("a log entry is longer than 65535 bytes", code=Code.LOG_MALFORMED)
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def tiles_for(size: int, old_size: int = 0) -> list[tuple[int, int, int]]:
    """The tiles ``(level, index, width)`` of a tree of ``size`` leaves that differ from those of ``old_size``."""
    out: list[tuple[int, int, int]] = []
    level = 0
    while True:
        nodes = size >> (TILE_HEIGHT * level)  # complete nodes at this tile level's bottom
        old_nodes = old_size >> (TILE_HEIGHT * level)
        if nodes == 0:
            break
        first = old_nodes // TILE_WIDTH
        for index in range(first, (nodes - 1) // TILE_WIDTH + 1):
            width = min(TILE_WIDTH, nodes - index * TILE_WIDTH)
            if index * TILE_WIDTH + width > old_nodes:
                out.append((level, index, width))
        level += 1
    return out


# --- proof documents (`trust log prove`) ---------------------------------------------------------------------------


def hex32(text: object, what: str) -> bytes:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9a-f]{64}", text):
        raise LogError(f"{what} must be 64 lowercase hex digits", code=Code.LOG_MALFORMED)
    return bytes.fromhex(text)


@dataclass(frozen=True)
class InclusionDocument:
    """``{"hash", "leaf_hash", "leaf_index", "tree_size", "inclusion", "root_hash", "checkpoint"}`` plus ``entry``
    (the logged entry, base64) so a verifier can tie the leaf to the credential."""

    hash_name: str
    leaf_hash: bytes
    leaf_index: int
    tree_size: int
    inclusion: tuple[bytes, ...]
    root_hash: bytes
    checkpoint: str
    entry: bytes | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "hash": self.hash_name,
            "leaf_hash": self.leaf_hash.hex(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "inclusion": [h.hex() for h in self.inclusion],
            "root_hash": self.root_hash.hex(),
            "checkpoint": self.checkpoint,
        }
        if self.entry is not None:
            out["entry"] = base64.b64encode(self.entry).decode()
        return out

    @classmethod
    def from_json(cls, value: object) -> InclusionDocument:
        if not isinstance(value, dict):
            raise LogError("an inclusion proof is a JSON object", code=Code.LOG_MALFORMED)
        hash_name = value.get("hash")
        if hash_name not in HASHES:
            raise LogError(f"unknown proof hash {hash_name!r}", code=Code.LOG_MALFORMED)
        index, size = value.get("leaf_index"), value.get("tree_size")
        if not isinstance(index, int) or isinstance(index, bool) or not isinstance(size, int) or isinstance(size, bool):
            raise LogError("leaf_index and tree_size are integers", code=Code.LOG_MALFORMED)
        path = value.get("inclusion")
        if not isinstance(path, list) or len(path) > MAX_PROOF_HASHES:
            raise LogError("inclusion is a list of at most 64 hashes", code=Code.LOG_MALFORMED)
        checkpoint = value.get("checkpoint")
        if not isinstance(checkpoint, str):
            raise LogError("checkpoint is the signed note text", code=Code.LOG_MALFORMED)
        entry = value.get("entry")
        if entry is not None and not isinstance(entry, str):
            raise LogError("entry is base64 text", code=Code.LOG_MALFORMED)
        return cls(
            str(hash_name),
            hex32(value.get("leaf_hash"), "leaf_hash"),
            index,
            size,
            tuple(hex32(h, "an inclusion hash") for h in path),
            hex32(value.get("root_hash"), "root_hash"),
            checkpoint,
            _b64(entry, "entry") if entry is not None else None,
        )

    def verify(self) -> None:
        """The proof's own arithmetic: the entry hashes to the leaf hash, the path leads to the root
        (RFC 9162 §2.1.3.2)."""
        if self.entry is not None and leaf_hash(self.entry, self.hash_name) != self.leaf_hash:
            raise LogError("the entry does not hash to the proof's leaf hash", code=Code.LOG_PROOF_INVALID)
        verify_inclusion(
            self.leaf_index, self.tree_size, self.leaf_hash, self.inclusion, self.root_hash, self.hash_name
        )
