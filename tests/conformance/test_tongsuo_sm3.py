"""SM3 and HMAC-SM3 known answers from Tongsuo's ``evpmd_sm3.txt`` and ``evpmac_sm3.txt``, and the two SM3
examples of GB/T 32905 (``../shared/standards/README.md``), against :mod:`trust.crypto.sm3`.

Every block of both files is accounted for: the SM3 blocks run against ``sm3()`` and the incremental
``SM3`` class; the file's two "case insensitive digest" blocks that are not SM3 are listed in
``NOT_SM3`` with what is asserted instead.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.conformance._evp import Block, digest_input, keyword_lines, parse
from tests.conftest import shared_file
from trust.crypto import algorithms
from trust.crypto.errors import UnsupportedAlgorithm
from trust.crypto.sm3 import SM3, hmac_sm3, hmac_sm3_verify, sm3

EVP_DIR = ("sm2", "tongsuo", "test", "recipes", "30-test_evp_data")

# Blocks of evpmd_sm3.txt that are not SM3 (OpenSSL's "Case insensitive digest tests").
NOT_SM3 = {
    "Digest#9": (
        "Sha3-256: SHA3 is not part of the project's crypto layer (hashes: sm3, sha256, sha384, sha512); "
        "asserted: trust.crypto.algorithms refuses it with UnsupportedAlgorithm, and hashlib gives the Output"
    ),
    "Digest#10": (
        "shA512: not SM3; asserted through trust.crypto.algorithms.digest('sha512'), which the project uses "
        "for RSA/ECDSA"
    ),
}
# sm2_cases.json speaks of "7 KATs": the file has 8 SM3 blocks, of which Digest#1 (draft-shen-sm2-ecdsa-02)
# and Digest#4 (GmSSL suite) are the same known answer, so 7 distinct (Input, Output) pairs.
EXPECTED_SM3_BLOCKS = 8
EXPECTED_DISTINCT_SM3_KATS = 7
EXPECTED_MAC_BLOCKS = 4  # GM/T 0042-2015 appendix D.3


def _chunked_sm3(message: bytes) -> bytes:
    ctx = SM3()
    for start in range(0, len(message), 37):  # odd chunk size: crosses every 64-byte block boundary
        ctx.update(message[start : start + 37])
    return ctx.digest()


def _check_other_digest(block: Block, message: bytes, expected: bytes) -> str | None:
    name = block.value.lower()
    if name == "sha3-256":
        try:
            algorithms.hash_algorithm(name)
        except UnsupportedAlgorithm:
            pass
        else:
            return "the project unexpectedly supports SHA3-256: move this block out of NOT_SM3"
        if hashlib.sha3_256(message).digest() != expected:
            return "parser error: Output does not match hashlib's SHA3-256"
        return None
    if name == "sha512":
        got = algorithms.digest("sha512", message)
        return None if got == expected else f"sha512 gave {got.hex()}"
    return f"no check written for digest {block.value!r}"


def test_evpmd_sm3() -> None:
    path = shared_file(*EVP_DIR, "evpmd_sm3.txt")
    blocks = parse(path)
    assert len(blocks) == keyword_lines(path), "parser lost or invented a block"
    mismatches, sm3_blocks, others, distinct = [], 0, set(), set()
    for block in blocks:
        assert block.keyword == "Digest", f"{block.id}: unexpected block in a digest file"
        message, expected = digest_input(block), block.bytes("Output")
        if block.value.upper() == "SM3":
            sm3_blocks += 1
            distinct.add((message, expected))
            got, streamed = sm3(message), _chunked_sm3(message)
            if got != expected or streamed != expected:
                mismatches.append(f"{block.id} line {block.line}: sm3 {got.hex()}, streamed {streamed.hex()}")
            continue
        others.add(block.id)
        assert block.id in NOT_SM3, f"{block.id} ({block.value}) is neither SM3 nor listed in NOT_SM3"
        problem = _check_other_digest(block, message, expected)
        if problem:
            mismatches.append(f"{block.id} line {block.line}: {problem}")
    assert not mismatches, "\n".join(mismatches)
    assert others == set(NOT_SM3), f"stale NOT_SM3 entries: {set(NOT_SM3) - others}"
    assert sm3_blocks == EXPECTED_SM3_BLOCKS
    assert len(distinct) == EXPECTED_DISTINCT_SM3_KATS
    assert len(blocks) == EXPECTED_SM3_BLOCKS + len(NOT_SM3)


def test_evpmac_sm3() -> None:
    path = shared_file(*EVP_DIR, "evpmac_sm3.txt")
    blocks = parse(path)
    assert len(blocks) == keyword_lines(path), "parser lost or invented a block"
    mismatches = []
    for block in blocks:
        assert (block.keyword, block.value, block.get("Algorithm")) == ("MAC", "HMAC", "SM3"), block.id
        key, message, expected = block.bytes("Key"), block.bytes("Input"), block.bytes("Output")
        got = hmac_sm3(key, message)
        if got != expected or not hmac_sm3_verify(key, message, expected):
            mismatches.append(f"{block.id} line {block.line}: got {got.hex()}")
        wrong = bytes([expected[0] ^ 1]) + expected[1:]
        if hmac_sm3_verify(key, message, wrong):
            mismatches.append(f"{block.id} line {block.line}: a one-bit change of the tag verifies")
    assert not mismatches, "\n".join(mismatches)
    assert len(blocks) == EXPECTED_MAC_BLOCKS


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
    ids=["abc", "abcd*16"],
)
def test_sm3_standard_examples(message: bytes, digest: str) -> None:
    assert sm3(message).hex() == digest
    assert _chunked_sm3(message).hex() == digest
