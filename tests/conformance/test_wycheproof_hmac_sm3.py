"""Wycheproof HMAC-SM3 vectors (``hmac_sm3_test.json``) against :mod:`trust.crypto.sm3`.

Groups have ``tagSize`` 256 (full tag) or 128 bits (truncated tag, RFC 2104 clause 5). For every case:

* ``valid``: ``hmac_sm3(key, msg)`` truncated to ``tagSize`` equals ``tag`` and ``hmac_sm3_verify`` is true;
* ``invalid``: the truncated tag differs and ``hmac_sm3_verify`` is false.

``hmac_sm3_verify`` accepts tags of 16..32 bytes (``min_tag_bytes=16``), so both group sizes are in range.
"""

from __future__ import annotations

from tests.conformance._wycheproof import Ledger, h, load
from trust.crypto.sm3 import DIGEST_SIZE, hmac_sm3, hmac_sm3_verify

FILENAME = "hmac_sm3_test.json"

# Cases where the project deliberately gives another verdict than Wycheproof: none.
DEVIATIONS: dict[int, str] = {}


def test_wycheproof_hmac_sm3() -> None:
    data = load(FILENAME)
    ledger = Ledger(FILENAME, data, DEVIATIONS)
    sizes = set()
    for group in data["testGroups"]:
        tag_bytes = group["tagSize"] // 8
        sizes.add(tag_bytes)
        for test in group["tests"]:
            key, msg, tag = h(test["key"]), h(test["msg"]), h(test["tag"])
            assert len(key) * 8 == group["keySize"] and len(tag) == tag_bytes
            full = hmac_sm3(key, msg)
            computed = full[:tag_bytes]
            verified = hmac_sm3_verify(key, msg, tag)
            valid = test["result"] == "valid"
            ok = len(full) == DIGEST_SIZE and (computed == tag) is valid and verified is valid
            ledger.record(test, ok, f"computed {computed.hex()}, verify returned {verified}")
    assert sizes == {16, 32}, "the file must exercise both full and truncated tags"
    ledger.finish()
