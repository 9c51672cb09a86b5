"""Wycheproof RSA signature vectors (C2SP Wycheproof, testvectors_v1) against ``PublicKey.verify``.

* ``rsa_signature_<bits>_<hash>_test.json`` — RSASSA-PKCS1-v1_5 with the group's ``sha``.
* ``rsa_pss_<bits>_<hash>_mgf1_<salt>_test.json`` — RSASSA-PSS built with
  :func:`trust.crypto.algorithms.rsa_pss` from the group's ``sha``, ``mgfSha`` and ``sLen``.

Keys come from ``publicKeyDer`` (cross-checked against ``publicKeyPem``). Project policy: RSA keys below
2048 bits are refused with ``WeakKey``; keys up to 8192 bits verify. All keys in these files are 2048-4096
bits, so every group loads (asserted).
"""

from __future__ import annotations

import pytest

from tests.conformance._wycheproof import HASHES, Ledger, check_signature_case, h, load, signature_outcome
from trust.crypto.algorithms import RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, SignatureAlgorithm, rsa_pss
from trust.crypto.keys import RSAPublicKey, load_public_key

PKCS1_FILES = (
    "rsa_signature_2048_sha256_test.json",
    "rsa_signature_2048_sha384_test.json",
    "rsa_signature_2048_sha512_test.json",
    "rsa_signature_3072_sha256_test.json",
    "rsa_signature_4096_sha256_test.json",
)
PSS_FILES = (
    "rsa_pss_2048_sha256_mgf1_32_test.json",
    "rsa_pss_2048_sha384_mgf1_48_test.json",
    "rsa_pss_3072_sha256_mgf1_32_test.json",
    "rsa_pss_4096_sha512_mgf1_64_test.json",
)
FILES = PKCS1_FILES + PSS_FILES

PKCS1 = {"sha256": RSA_PKCS1_SHA256, "sha384": RSA_PKCS1_SHA384, "sha512": RSA_PKCS1_SHA512}

# Cases where the project deliberately gives another verdict than Wycheproof: none.
DEVIATIONS: dict[str, dict[int, str]] = {name: {} for name in FILES}

_MISSING_NULL = (
    "reject",
    "MissingNull: the DigestInfo hash AlgorithmIdentifier omits its NULL parameters (acceptable because "
    "RFC 8017 appendix B.1 lets them be absent). The project (pyca/cryptography on OpenSSL) compares with "
    "the encoding of RFC 8017 clause 9.2 note 1, which has the NULL, and rejects it with InvalidSignature.",
)
# ``acceptable`` cases and the verdict the project gives (asserted).
ACCEPTABLE: dict[str, dict[int, tuple[str, str]]] = {
    "rsa_signature_2048_sha256_test.json": {8: _MISSING_NULL},
    "rsa_signature_2048_sha384_test.json": {8: _MISSING_NULL},
    "rsa_signature_2048_sha512_test.json": {8: _MISSING_NULL},
    "rsa_signature_3072_sha256_test.json": {8: _MISSING_NULL},
    "rsa_signature_4096_sha256_test.json": {8: _MISSING_NULL},
    **{name: {} for name in PSS_FILES},
}


def _algorithm(filename: str, group: dict[str, object]) -> SignatureAlgorithm:
    hash_name = HASHES[str(group["sha"])]
    if filename in PSS_FILES:
        assert group["mgf"] == "MGF1"
        return rsa_pss(hash_name, mgf_hash=HASHES[str(group["mgfSha"])], salt_length=int(str(group["sLen"])))
    return PKCS1[hash_name]


@pytest.mark.parametrize("filename", FILES)
def test_wycheproof_rsa(filename: str) -> None:
    data = load(filename)
    ledger = Ledger(filename, data, DEVIATIONS[filename], ACCEPTABLE[filename])
    for group in data["testGroups"]:
        der = h(group["publicKeyDer"])
        algorithm = _algorithm(filename, group)
        key = load_public_key(der)
        assert isinstance(key, RSAPublicKey) and key.size == group["keySize"]
        assert load_public_key(group["publicKeyPem"].encode()) == key
        if filename in PSS_FILES:
            assert (algorithm.mgf_hash, algorithm.salt_length) == (HASHES[group["mgfSha"]], group["sLen"])
        for test in group["tests"]:
            outcome = signature_outcome(der, h(test["sig"]), h(test["msg"]), algorithm)
            check_signature_case(ledger, test, outcome)
    ledger.finish()
