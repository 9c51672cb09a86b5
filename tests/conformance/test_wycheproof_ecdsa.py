"""Wycheproof ECDSA verification vectors (C2SP Wycheproof, testvectors_v1) against ``PublicKey.verify``.

* ``ecdsa_<curve>_<hash>_test.json`` — DER ``SEQUENCE {r, s}`` (``encoding="der"``); the project accepts only
  the one canonical DER form, which is exactly what Wycheproof calls valid.
* ``ecdsa_<curve>_<hash>_p1363_test.json`` — IEEE P1363 ``r || s`` (``encoding="raw"``, JOSE ``ES*``).

The key of each group is ``publicKeyDer`` (cross-checked against ``publicKeyPem``); the hash is the group's
``sha``. ``valid`` must verify; ``invalid`` must raise :class:`InvalidSignature` (``MalformedSignature`` for
encoding problems) or refuse the key (``InvalidKey``, ``UnsupportedAlgorithm``, ``EncodingError``).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conformance._wycheproof import HASHES, Ledger, cases, check_signature_case, h, load, signature_outcome
from trust.crypto.algorithms import ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512
from trust.crypto.ecsig import SignatureEncoding
from trust.crypto.keys import ECPublicKey, load_public_key

FILES = (
    "ecdsa_secp256r1_sha256_test.json",
    "ecdsa_secp384r1_sha384_test.json",
    "ecdsa_secp521r1_sha512_test.json",
    "ecdsa_secp256r1_sha256_p1363_test.json",
    "ecdsa_secp384r1_sha384_p1363_test.json",
    "ecdsa_secp521r1_sha512_p1363_test.json",
)

ALGORITHMS = {"sha256": ECDSA_SHA256, "sha384": ECDSA_SHA384, "sha512": ECDSA_SHA512}

# Cases where the project deliberately gives another verdict than Wycheproof: none.
DEVIATIONS: dict[str, dict[int, str]] = {name: {} for name in FILES}

# ``acceptable`` cases and the verdict the project gives: these v1 files contain none (the ledger fails if one
# appears without an entry here).
ACCEPTABLE: dict[str, dict[int, tuple[str, str]]] = {name: {} for name in FILES}


@pytest.mark.parametrize("filename", FILES)
def test_wycheproof_ecdsa(filename: str) -> None:
    data = load(filename)
    encoding: SignatureEncoding = "raw" if filename.endswith("_p1363_test.json") else "der"
    ledger = Ledger(filename, data, DEVIATIONS[filename], ACCEPTABLE[filename])
    for group in data["testGroups"]:
        der = h(group["publicKeyDer"])
        algorithm = ALGORITHMS[HASHES[group["sha"]]]
        pem_key = load_public_key(group["publicKeyPem"].encode())
        assert load_public_key(der) == pem_key, "publicKeyDer and publicKeyPem must load to the same key"
        for test in group["tests"]:
            outcome = signature_outcome(der, h(test["sig"]), h(test["msg"]), algorithm, encoding)
            check_signature_case(ledger, test, outcome)
    assert ledger.checked == sum(1 for _ in cases(data))
    ledger.finish()


# Group orders from FIPS 186-4 appendix D.1.2 (= SEC 2). The range check of (r, s) and the P1363 length
# (2 * ceil(bitlen(n) / 8)) both derive from the order the project holds for the curve.
FIPS_186_4_ORDERS = {
    "secp256r1": (ec.SECP256R1(), 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "secp384r1": (
        ec.SECP384R1(),
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    ),
    "secp521r1": (
        ec.SECP521R1(),
        int(
            "01FF" + "FF" * 31 + "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
    ),
}


@pytest.mark.parametrize("curve_name", sorted(FIPS_186_4_ORDERS))
def test_ec_group_order_matches_fips_186_4(curve_name: str) -> None:
    curve, order = FIPS_186_4_ORDERS[curve_name]
    assert order.bit_length() == curve.key_size  # the reference value itself: n has the field's bit length
    spki = (
        ec.generate_private_key(curve)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key = load_public_key(spki)
    assert isinstance(key, ECPublicKey)
    assert key.order == order, f"{curve_name}: project order has {key.order.bit_length()} bits, expected {order:#x}"
