"""Wycheproof SM4-GCM and SM4-CCM vectors (``sm4_gcm_test.json``, ``sm4_ccm_test.json``) against
:mod:`trust.crypto.sm4`, in both directions.

* ``valid``: ``*_decrypt(key, iv, ct || tag, aad, tagSize / 8)`` returns ``msg`` and ``*_encrypt`` of ``msg``
  reproduces ``ct || tag`` byte for byte.
* ``invalid``: decryption raises ``DecryptionFailed`` (bad tag) or ``InputError`` (refused nonce or tag
  size), and encryption never reproduces ``ct || tag`` (it raises ``InputError`` or gives other bytes).

Documented policy (``trust/crypto/sm4.py``, ``docs/CRYPTO.md``): SM4-GCM refuses IVs shorter than 8 bytes
or longer than 128 bytes and tags shorter than 12 bytes; SM4-CCM takes nonces of 7..13 bytes and tags of
4, 6, ..., 16 bytes (SP 800-38C).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from tests.conformance._wycheproof import Ledger, h, load
from trust.crypto import sm4
from trust.crypto.errors import DecryptionFailed, InputError

Encrypt = Callable[[bytes, bytes, bytes, bytes, int], bytes]

MODES: dict[str, tuple[Encrypt, Encrypt]] = {
    "sm4_gcm_test.json": (sm4.gcm_encrypt, sm4.gcm_decrypt),
    "sm4_ccm_test.json": (sm4.ccm_encrypt, sm4.ccm_decrypt),
}

_SMALL_IV = (
    "SmallIv: valid in SP 800-38D, but the project refuses SM4-GCM IVs shorter than 8 bytes (collision risk "
    "of short IVs); encrypt and decrypt raise InputError"
)
_LONG_IV = (
    "LongIv: valid in SP 800-38D, but the project refuses SM4-GCM IVs longer than 128 bytes (1024 bits); "
    "encrypt and decrypt raise InputError"
)

# Wycheproof ``valid`` cases the project deliberately refuses; for these InputError is asserted both ways.
DEVIATIONS: dict[str, dict[int, str]] = {
    "sm4_gcm_test.json": {
        90: _LONG_IV + " (IV of 257 bytes)",
        91: _SMALL_IV + " (IV of 1 byte)",
        92: _SMALL_IV + " (IV of 1 byte)",
        93: _SMALL_IV + " (IV of 2 bytes)",
        94: _SMALL_IV + " (IV of 2 bytes)",
        95: _SMALL_IV + " (IV of 4 bytes)",
        96: _SMALL_IV + " (IV of 4 bytes)",
        97: _SMALL_IV + " (IV of 6 bytes)",
        98: _SMALL_IV + " (IV of 6 bytes)",
    },
    "sm4_ccm_test.json": {},
}


def _run(call: Callable[[], bytes]) -> bytes | Exception:
    try:
        return call()
    except Exception as exc:
        return exc


@pytest.mark.parametrize("filename", sorted(MODES))
def test_wycheproof_sm4(filename: str) -> None:
    encrypt, decrypt = MODES[filename]
    data = load(filename)
    deviations = DEVIATIONS[filename]
    ledger = Ledger(filename, data, deviations)
    for group in data["testGroups"]:
        tag_length = group["tagSize"] // 8
        for test in group["tests"]:
            key, iv, msg, aad = h(test["key"]), h(test["iv"]), h(test["msg"]), h(test["aad"])
            sealed = h(test["ct"]) + h(test["tag"])
            assert len(iv) * 8 == group["ivSize"]
            opened = _run(partial(decrypt, key, iv, sealed, aad, tag_length))
            made = _run(partial(encrypt, key, iv, msg, aad, tag_length))
            detail = f"decrypt -> {opened!r}, encrypt -> {made!r}"
            if int(test["tcId"]) in deviations:
                assert test["result"] == "valid", "deviations list only valid cases the project refuses"
                ok = isinstance(opened, InputError) and isinstance(made, InputError)
            elif test["result"] == "valid":
                ok = opened == msg and made == sealed
            else:
                ok = isinstance(opened, DecryptionFailed | InputError) and (
                    isinstance(made, InputError) or (isinstance(made, bytes) and made != sealed)
                )
            ledger.record(test, ok, detail)
    ledger.finish()
