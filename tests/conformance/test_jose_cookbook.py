"""RFC 7520 ("JOSE Cookbook") JWS examples, ``jose-cookbook/jws/4_*.json``, through :mod:`trust.formats.jose`;
and interoperability of the JWS Huren signs with PyJWT and joserfc.

For every example the signature must verify with the public part of ``input.key`` and the payload must equal
``input.payload``: compact via :func:`jose.verify_compact`, JSON (general and flattened) via
:func:`jose.parse_json` + :func:`jose.verify_json_signature`.

Deviations (:data:`REFUSED`), each asserted as the refusal the project gives:

* 4.4, 4.5, 4.6, 4.7 use HS256. Huren refuses HMAC JWS by design (no symmetric keys in an offline trust
  system; the RS256/HS256 confusion attack), so they are refused with ``UnsupportedAlgorithm`` — and no JWK of
  ``kty`` ``oct`` is accepted as a key at all.
* 4.5 (detached content): its JSON forms have no ``payload``; detached payloads are not accepted
  (``EncodingError``).
* 4.6 and 4.7 put ``kid`` (4.6) or everything, ``alg`` included (4.7), in the *unprotected* header; Huren
  refuses unprotected header members (``InputError``; 4.7 has no protected header at all: ``EncodingError``).
* 4.8 (multiple signatures): the document carries unprotected headers, so it is refused as a whole
  (``InputError``). Of its signatures, the RS256 one is checked separately — its ``alg`` is protected and
  the unprotected ``kid`` only names the key, so with that member dropped it must verify; the ES512 one has
  no protected header (``alg`` unprotected) and the HS256 one is HMAC: both refused.
"""

from __future__ import annotations

import json
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from joserfc import jws as rfc_jws
from joserfc.jwk import ECKey, RSAKey

from tests.conftest import shared_file
from trust.crypto import base64url
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import EncodingError, InputError, TrustError, UnsupportedAlgorithm
from trust.crypto.keys import ECPrivateKey, PublicKey, RSAPrivateKey, generate_private_key, load_public_key
from trust.formats import jose

ALGORITHMS = sorted(jose.ACCEPTED_ALGORITHMS)
_PRIVATE = ("d", "p", "q", "dp", "dq", "qi", "k")

VERIFIED = {
    "4_1.rsa_v15_signature.json": "RS256",
    "4_2.rsa-pss_signature.json": "PS384",
    "4_3.ecdsa_signature.json": "ES512",
}
REFUSED = {
    "4_4.hmac-sha2_integrity_protection.json": "HS256: HMAC is refused by design",
    "4_5.signature_with_detached_content.json": "HS256 (refused by design); detached payload not accepted",
    "4_6.protecting_specific_header_fields.json": "HS256 (refused by design); unprotected kid refused",
    "4_7.protecting_content_only.json": "HS256 and alg in the unprotected header: no protected header",
    "4_8.multiple_signatures.json": "unprotected headers refused; RS256 signature verified separately",
}


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_file("jose-cookbook", "jws", name).read_text(encoding="utf-8"))
    return data


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k not in _PRIVATE}


def test_every_jws_example_is_classified() -> None:
    names = sorted(p.name for p in shared_file("jose-cookbook", "jws").glob("4_*.json"))
    assert names == sorted({**VERIFIED, **REFUSED})
    assert len(names) == 8


@pytest.mark.parametrize("name", sorted(VERIFIED))
def test_cookbook_signature_verifies(name: str) -> None:
    example = _example(name)
    assert example["input"]["alg"] == VERIFIED[name]
    key = jose.public_key_for_verification(_public(example["input"]["key"]), alg=example["input"]["alg"])
    payload = example["input"]["payload"].encode("utf-8")
    output = example["output"]

    verified = jose.verify_compact(output["compact"], lambda _h: key, algorithms=ALGORITHMS)
    assert verified.payload == payload
    assert verified.header["alg"] == VERIFIED[name]
    assert verified.header["kid"] == example["input"]["key"]["kid"]

    for form in ("json", "json_flat"):
        decoded, signatures = jose.parse_json(output[form])
        assert decoded == payload
        assert len(signatures) == 1
        assert jose.verify_json_signature(signatures[0], key, algorithms=ALGORITHMS).jose == VERIFIED[name]

    # The same signatures fail on a changed payload: the check is real.
    header, _body, sig = output["compact"].split(".")
    forged = f"{header}.{base64url.encode(payload + b'!')}.{sig}"
    with pytest.raises(TrustError):
        jose.verify_compact(forged, lambda _h: key, algorithms=ALGORITHMS)


def _any_key() -> PublicKey:
    return generate_private_key("ec-p256").public_key


def test_4_4_hmac_is_refused() -> None:
    example = _example("4_4.hmac-sha2_integrity_protection.json")
    with pytest.raises(UnsupportedAlgorithm):
        jose.public_key_for_verification(_public(example["input"]["key"]))  # kty "oct": no such key here
    never = pytest.fail  # the key resolver must not even be asked
    with pytest.raises(UnsupportedAlgorithm):
        jose.verify_compact(example["output"]["compact"], lambda _h: never("resolver called"), algorithms=ALGORITHMS)
    for form in ("json", "json_flat"):
        _payload, signatures = jose.parse_json(example["output"][form])
        with pytest.raises(UnsupportedAlgorithm):
            jose.verify_json_signature(signatures[0], _any_key(), algorithms=ALGORITHMS)


def test_4_5_detached_content_is_refused() -> None:
    example = _example("4_5.signature_with_detached_content.json")
    assert example["output"]["compact"].split(".")[1] == ""  # detached: empty payload part
    with pytest.raises(UnsupportedAlgorithm):
        jose.verify_compact(example["output"]["compact"], lambda _h: _any_key(), algorithms=ALGORITHMS)
    for form in ("json", "json_flat"):
        with pytest.raises(EncodingError, match="payload"):
            jose.parse_json(example["output"][form])


def test_4_6_unprotected_kid_is_refused() -> None:
    example = _example("4_6.protecting_specific_header_fields.json")
    for form in ("json", "json_flat"):
        with pytest.raises(InputError, match="unprotected"):
            jose.parse_json(example["output"][form])


def test_4_7_unprotected_alg_is_refused() -> None:
    example = _example("4_7.protecting_content_only.json")
    for form in ("json", "json_flat"):
        document = example["output"][form]
        entries = document.get("signatures", [document])
        assert all("protected" not in entry and entry["header"]["alg"] == "HS256" for entry in entries)
        with pytest.raises(EncodingError, match="protected header"):
            jose.parse_json(example["output"][form])


def test_4_8_multiple_signatures() -> None:
    example = _example("4_8.multiple_signatures.json")
    document = example["output"]["json"]
    with pytest.raises(InputError, match="unprotected"):
        jose.parse_json(document)
    rsa_sig, ec_sig, hmac_sig = document["signatures"]
    rsa_key, ec_key, _oct_key = example["input"]["key"]
    payload = example["input"]["payload"].encode("utf-8")

    # RS256: alg protected, kid (a key hint) unprotected; without the hint the signature itself verifies.
    decoded, signatures = jose.parse_json({"payload": document["payload"], "signatures": [_protected_only(rsa_sig)]})
    assert decoded == payload
    key = jose.public_key_for_verification(_public(rsa_key))
    assert jose.verify_json_signature(signatures[0], key, algorithms=ALGORITHMS).jose == "RS256"
    assert rsa_sig["header"] == {"kid": rsa_key["kid"]}

    # ES512: alg only in the unprotected header, no protected header to verify under.
    assert "protected" not in ec_sig and ec_sig["header"]["alg"] == "ES512"
    with pytest.raises(EncodingError, match="protected header"):
        jose.parse_json({"payload": document["payload"], "signatures": [_protected_only(ec_sig)]})
    jose.public_key_for_verification(_public(ec_key))  # the key itself (P-521) would be fine

    # HS256: refused as HMAC.
    _payload, signatures = jose.parse_json({"payload": document["payload"], "signatures": [hmac_sig]})
    with pytest.raises(UnsupportedAlgorithm):
        jose.verify_json_signature(signatures[0], key, algorithms=ALGORITHMS)


def _protected_only(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "header"}


# --- interoperability: what Huren signs, PyJWT and joserfc verify (and the other way round) -----------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


CLAIMS = {"iss": "https://huren.example/region/440000", "sub": "91440101MA5CXXX00X", "名称": "广州某公司"}


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_our_compact_jws_verifies_in_pyjwt_and_joserfc(
    alg: str, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    raw = ec_key if alg.startswith("ES") else rsa_key
    ours = ECPrivateKey(raw) if isinstance(raw, ec.EllipticCurvePrivateKey) else RSAPrivateKey(raw)
    signer = ours.signer(SignatureAlgorithm.from_jose(alg))
    token = jose.sign_compact(json.dumps(CLAIMS, ensure_ascii=False).encode(), signer, headers={"kid": "k1"})

    assert pyjwt.decode(token, _pem(raw), algorithms=[alg]) == CLAIMS
    assert pyjwt.get_unverified_header(token) == {"alg": alg, "kid": "k1", "typ": "JWT"}
    rfc_key = (ECKey if alg.startswith("ES") else RSAKey).import_key(_pem(raw))
    obj = rfc_jws.deserialize_compact(token, rfc_key, algorithms=[alg])
    assert json.loads(obj.payload) == CLAIMS

    # Both peers refuse the token once its payload changes.
    head, _body, sig = token.split(".")
    forged = f"{head}.{base64url.encode(json.dumps({**CLAIMS, 'sub': 'x'}).encode())}.{sig}"
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(forged, _pem(raw), algorithms=[alg])
    with pytest.raises(Exception, match="signature"):
        rfc_jws.deserialize_compact(forged, rfc_key, algorithms=[alg])


def test_our_json_serialization_verifies_in_joserfc(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = RSAPrivateKey(rsa_key).signer()
    document: Any = jose.sign_json(b'{"list":"trust"}', [(signer, {"kid": "root-rsa"})])  # joserfc types it
    obj = rfc_jws.deserialize_json(document, RSAKey.import_key(_pem(rsa_key)), algorithms=["RS256"])
    assert obj.payload == b'{"list":"trust"}'


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_pyjwt_tokens_verify_with_ours(
    alg: str, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    raw = ec_key if alg.startswith("ES") else rsa_key
    token = pyjwt.encode(CLAIMS, raw, algorithm=alg, headers={"kid": "peer"})
    key = load_public_key(_pem(raw))
    verified = jose.verify_compact(token, lambda _h: key, algorithms=[alg])
    assert json.loads(verified.payload) == CLAIMS
    stranger = generate_private_key("ec-p256" if alg.startswith("ES") else "rsa-2048").public_key
    with pytest.raises(TrustError):
        jose.verify_compact(token, lambda _h: stranger, algorithms=[alg])


def test_rsa_pss_salt_is_the_hash_length(rsa_key: rsa.RSAPrivateKey) -> None:
    """RFC 7518 clause 3.5: PS256 uses a 32-byte salt — check our PS256 with pyca directly."""
    signer = RSAPrivateKey(rsa_key).signer(SignatureAlgorithm.from_jose("PS256"))
    token = jose.sign_compact(b"pss", signer)
    head, body, sig = token.split(".")
    rsa_key.public_key().verify(
        base64url.decode(sig),
        f"{head}.{body}".encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
