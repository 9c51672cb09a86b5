"""The JOSE layer's refusals (RFC 7515, RFC 8725) and its SM2 JWS, checked against gmssl.

Every refusal is shown next to the same token (or one made the same way) being accepted, so a test fails if
the layer refuses everything as well as if it refuses nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import pytest
from gmssl import sm2 as gm_sm2

from trust.crypto import base64url
from trust.crypto import jwk as huren_jwk
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    InvalidKey,
    InvalidSignature,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.crypto.keys import PrivateKey, PublicKey, generate_private_key, load_private_key
from trust.crypto.signer import Signer
from trust.formats import jose

ALL = sorted(jose.ACCEPTED_ALGORITHMS)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def header_part(header: Mapping[str, Any] | str) -> str:
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    return b64(text.encode())


def hand_signed(key: PrivateKey, header: Mapping[str, Any] | str, payload: bytes = b'{"sub":"x"}') -> str:
    """A compact JWS signed by ``key`` over an arbitrary header (the layer's signer would refuse some)."""
    signing_input = f"{header_part(header)}.{b64(payload)}"
    signature = key.sign(signing_input.encode(), encoding="raw")
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture(scope="module")
def rsa() -> PrivateKey:
    return generate_private_key("rsa-2048")


@pytest.fixture(scope="module")
def p256() -> PrivateKey:
    return generate_private_key("ec-p256")


@pytest.fixture(scope="module")
def p384() -> PrivateKey:
    return generate_private_key("ec-p384")


@pytest.fixture(scope="module")
def sm2_key() -> PrivateKey:
    while True:  # gmssl strips a leading "04" from the hex public key: avoid x starting with those digits
        key = generate_private_key("sm2")
        if not xy_hex(key.public_key).startswith("04"):
            return key


def xy_hex(key: PublicKey) -> str:
    jwk = huren_jwk.public_jwk(key)
    return (base64url.decode(jwk["x"]) + base64url.decode(jwk["y"])).hex()


def fixed(key: PublicKey) -> Any:
    return lambda _header: key


# --- the baseline: a good token verifies ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["rsa", "p256", "p384", "sm2_key"])
def test_round_trip(spec: str, request: pytest.FixtureRequest) -> None:
    key: PrivateKey = request.getfixturevalue(spec)
    token = jose.sign_compact(b'{"sub":"x"}', key.signer(), headers={"kid": "k"})
    verified = jose.verify_compact(token, fixed(key.public_key), algorithms=ALL)
    assert verified.payload == b'{"sub":"x"}'
    assert verified.header == {"alg": key.signer().algorithm.jose, "kid": "k", "typ": "JWT"}
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(InvalidSignature):
        jose.verify_compact(f"{head}.{body}.{flipped}", fixed(key.public_key), algorithms=ALL)


# --- alg none and HMAC ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(alg: str, p256: PrivateKey) -> None:
    token = f"{header_part({'alg': alg})}.{b64(b'{}')}."
    with pytest.raises(UnsupportedAlgorithm):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=[*ALL, alg])


def test_hs256_keyed_with_the_rsa_public_key_is_refused(rsa: PrivateKey) -> None:
    """The classic confusion attack: HMAC-SHA256 with the RS256 key's public PEM as the secret."""
    pem = rsa.public_key.pem().encode()
    claims = b64(b'{"admin":true}')
    signing_input = f"{header_part({'alg': 'HS256', 'typ': 'JWT'})}.{claims}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(mac)}"
    # A library that took the key material at face value would accept it: the MAC is right for that secret.
    assert hmac.compare_digest(mac, hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    resolved: list[Any] = []

    def resolve(header: dict[str, Any]) -> PublicKey:
        resolved.append(header)
        return rsa.public_key

    for allowed in (ALL, ["RS256", "HS256"], ["HS256"]):
        with pytest.raises(UnsupportedAlgorithm, match="HS256"):
            jose.verify_compact(token, resolve, algorithms=allowed)
    assert resolved == [], "the key must not even be looked up for an HMAC token"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_is_refused_in_json_serialization(alg: str, rsa: PrivateKey) -> None:
    protected = header_part({"alg": alg})
    document = {"payload": b64(b"x"), "signatures": [{"protected": protected, "signature": b64(b"\0" * 32)}]}
    _payload, [item] = jose.parse_json(document)
    with pytest.raises(UnsupportedAlgorithm):
        jose.verify_json_signature(item, rsa.public_key, algorithms=ALL)


def test_algorithm_outside_the_allow_list_is_refused(p256: PrivateKey) -> None:
    token = jose.sign_compact(b"x", p256.signer())
    with pytest.raises(UnsupportedAlgorithm, match="allowed: RS256"):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=["RS256"])
    assert jose.verify_compact(token, fixed(p256.public_key), algorithms="ES256").payload == b"x"
    with pytest.raises(UnsupportedAlgorithm):  # a string is one name, not the characters "E", "S", "2", ...
        jose.verify_compact(token, fixed(p256.public_key), algorithms="ES2567")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256K", "RSA1_5", "SM3", ""])
def test_unknown_algorithms_are_refused(alg: str, p256: PrivateKey) -> None:
    token = f"{header_part({'alg': alg})}.{b64(b'{}')}.{b64(b'sig')}"
    with pytest.raises(UnsupportedAlgorithm):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=[*ALL, alg])


# --- keys in the header, crit -------------------------------------------------------------------------------


def test_embedded_jwk_is_refused_even_with_a_matching_signature(p256: PrivateKey) -> None:
    attacker = generate_private_key("ec-p256")
    header = {"alg": "ES256", "jwk": huren_jwk.public_jwk(attacker.public_key)}
    token = hand_signed(attacker, header)
    with pytest.raises(InputError, match="jwk"):
        jose.verify_compact(token, lambda h: huren_jwk.public_key_from_jwk(h["jwk"]), algorithms=ALL)
    # The same token without the jwk member is simply a wrong signature for the trusted key.
    plain = hand_signed(attacker, {"alg": "ES256"})
    with pytest.raises(InvalidSignature):
        jose.verify_compact(plain, fixed(p256.public_key), algorithms=ALL)


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_remote_key_references_are_refused(member: str, p256: PrivateKey) -> None:
    token = hand_signed(p256, {"alg": "ES256", member: "https://attacker.example/keys"})
    with pytest.raises(InputError, match=member):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=ALL)
    assert jose.verify_compact(hand_signed(p256, {"alg": "ES256"}), fixed(p256.public_key), algorithms=ALL)


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["urn:example:unknown"], []])
def test_crit_is_refused(crit: list[str], p256: PrivateKey) -> None:
    header = {"alg": "ES256", "crit": crit, **dict.fromkeys(crit, True)}
    token = hand_signed(p256, header)
    with pytest.raises(InputError, match="critical"):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=ALL)


# --- alg versus key -----------------------------------------------------------------------------------------------


def test_rs256_header_with_an_ec_key_is_a_key_mismatch(rsa: PrivateKey, p256: PrivateKey) -> None:
    token = jose.sign_compact(b"x", rsa.signer())
    with pytest.raises(InvalidKey) as info:
        jose.verify_compact(token, fixed(p256.public_key), algorithms=ALL)
    assert info.value.code is Code.KEY_MISMATCH


def test_es256_header_with_a_p384_key_is_a_key_mismatch(p256: PrivateKey, p384: PrivateKey) -> None:
    token = jose.sign_compact(b"x", p256.signer())
    with pytest.raises(InvalidKey, match="secp256r1") as info:
        jose.verify_compact(token, fixed(p384.public_key), algorithms=ALL)
    assert info.value.code is Code.KEY_MISMATCH
    # ... and an ES384 token (the right alg for P-384) is not accepted under the P-256 key either.
    with pytest.raises(InvalidKey):
        jose.verify_compact(jose.sign_compact(b"x", p384.signer()), fixed(p256.public_key), algorithms=ALL)


def test_sm2_header_with_an_rsa_key_is_a_key_mismatch(sm2_key: PrivateKey, rsa: PrivateKey) -> None:
    token = jose.sign_compact(b"x", sm2_key.signer())
    with pytest.raises(InvalidKey) as info:
        jose.verify_compact(token, fixed(rsa.public_key), algorithms=ALL)
    assert info.value.code is Code.KEY_MISMATCH
    # The reverse (an RS256 token under the SM2 key) as well.
    with pytest.raises(InvalidKey):
        jose.verify_compact(jose.sign_compact(b"x", rsa.signer()), fixed(sm2_key.public_key), algorithms=ALL)


def test_es256_header_with_an_sm2_key_is_a_key_mismatch(sm2_key: PrivateKey) -> None:
    """SM2 keys are JWK kty EC too; an ES256 header must still not select SM2 (or vice versa)."""
    token = hand_signed(sm2_key, {"alg": "ES256"})
    with pytest.raises(InvalidKey):
        jose.verify_compact(token, fixed(sm2_key.public_key), algorithms=ALL)


# --- malformed tokens ---------------------------------------------------------------------------------------------


def test_duplicate_header_members_are_refused(p256: PrivateKey) -> None:
    token = hand_signed(p256, '{"alg":"ES256","alg":"ES256"}')
    with pytest.raises(EncodingError, match="twice"):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=ALL)
    # python-jose alone would have taken the last "alg": the layer is stricter than its library.
    shadowed = hand_signed(p256, '{"alg":"none","alg":"ES256"}')
    with pytest.raises(EncodingError, match="twice"):
        jose.verify_compact(shadowed, fixed(p256.public_key), algorithms=ALL)


@pytest.mark.parametrize(
    "header",
    ["not json", '["alg","ES256"]', '"ES256"', '{"alg":"ES256"', '{"alg":"ES256","x":NaN}', "\udcff"],
)
def test_non_json_or_non_object_headers_are_refused(header: str, p256: PrivateKey) -> None:
    raw = header.encode("utf-8", "surrogateescape")
    token = f"{b64(raw)}.{b64(b'{}')}.{b64(b'sig')}"
    with pytest.raises(EncodingError):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=ALL)


def test_header_without_alg_is_refused(p256: PrivateKey) -> None:
    with pytest.raises(EncodingError, match="no alg"):
        jose.verify_compact(hand_signed(p256, {"typ": "JWT"}), fixed(p256.public_key), algorithms=ALL)
    with pytest.raises(EncodingError, match="no alg"):
        jose.verify_compact(hand_signed(p256, {"alg": 256}), fixed(p256.public_key), algorithms=ALL)


def test_oversized_token_is_refused(p256: PrivateKey) -> None:
    payload = b"x" * (jose.MAX_TOKEN_BYTES * 3 // 4)
    with pytest.raises(InputError) as info:
        jose.verify_compact(jose.sign_compact(payload, p256.signer()), fixed(p256.public_key), algorithms=ALL)
    assert info.value.code is Code.INPUT_TOO_LARGE
    small = jose.sign_compact(payload[: len(payload) // 2], p256.signer())
    assert jose.verify_compact(small, fixed(p256.public_key), algorithms=ALL)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda h, p, s: (h + "=", p, s),  # padding
        lambda h, p, s: (h, p + "==", s),
        lambda h, p, s: (h, p, s.replace("-", "+").replace("_", "/") + "+/"),  # the other alphabet
        lambda h, p, s: (h, p[:4] + " " + p[4:], s),  # whitespace inside
        lambda h, p, s: (h, p, s[:-1] + "$"),  # not base64 at all
        lambda h, p, s: (h, p + "A" * ((1 - len(p)) % 4 or 4), s),  # impossible length (4n + 1)
    ],
)
def test_bad_base64url_is_refused(spoil: Any, p256: PrivateKey) -> None:
    token = jose.sign_compact(b'{"a":1}', p256.signer())
    h, p, s = spoil(*token.split("."))
    with pytest.raises(EncodingError, match="base64url"):
        jose.verify_compact(f"{h}.{p}.{s}", fixed(p256.public_key), algorithms=ALL)


@pytest.mark.parametrize("parts", [1, 2, 4, 5])
def test_wrong_number_of_parts_is_refused(parts: int, p256: PrivateKey) -> None:
    h, p, s = jose.sign_compact(b"x", p256.signer()).split(".")
    token = ".".join([h, p, s, s, s][:parts])
    with pytest.raises(EncodingError, match="3 parts"):
        jose.verify_compact(token, fixed(p256.public_key), algorithms=ALL)
    with pytest.raises(EncodingError):
        jose.verify_compact("", fixed(p256.public_key), algorithms=ALL)


# --- signing side -----------------------------------------------------------------------------------------------


def test_signing_refuses_headers_it_would_refuse_to_verify(p256: PrivateKey) -> None:
    headers: dict[str, Any]
    for headers in ({"alg": "none"}, {"alg": "HS256"}, {"jwk": {}}, {"jku": "x"}, {"x5u": "x"}, {"crit": ["x"]}):
        with pytest.raises(InputError):
            jose.sign_compact(b"x", p256.signer(), headers=headers)
        with pytest.raises(InputError):
            jose.sign_json(b"x", [(p256.signer(), headers)])
    token = jose.sign_compact(b"x", p256.signer(), headers={"alg": "ES256", "typ": "example+jwt"})
    assert jose.verify_compact(token, fixed(p256.public_key), algorithms=ALL).header["typ"] == "example+jwt"


_HEADER_SETS: list[dict[str, Any]] = [
    {},
    {"kid": "k1"},
    {"typ": "huren-license+jwt", "kid": "k1", "x5c": ["MIIB", "MIIC"]},
    {"kid": "名称", "cty": "JWT"},
    {"kid": "k1", "x5c": ["MIIB"]},  # same kid, different chain: a different header
    {"kid": "k1", "x5c": "MIIB"},  # a string where the array was: a different header again
    {"kid": "k1", "n": 1},  # not cached (numbers compare across types) but encoded alike
    {"kid": "k1", "n": True},
    {"kid": "k1", "nested": {"a": ["b"]}},
]


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa as pyca_rsa

    key = pyca_rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encoding, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, pkcs8, serialization.NoEncryption())


@pytest.mark.parametrize("headers", _HEADER_SETS, ids=lambda h: ",".join(f"{k}={v!r}" for k, v in h.items()) or "none")
def test_compact_form_is_pyjwts_byte_for_byte(headers: dict[str, Any], rsa_pem: bytes) -> None:
    """RS256 (PKCS #1 v1.5) is deterministic, so the token must equal PyJWT's ``jwt.api_jws.encode`` (the reference
    library, its own RSA code) exactly -- twice, so the second (cached header) encoding is compared as well."""
    import jwt

    signer = load_private_key(rsa_pem).signer()
    payload = '{"sub":"x","名":"值"}'.encode()
    expected = jwt.api_jws.encode(payload, rsa_pem, algorithm="RS256", headers=headers)
    for _ in range(2):
        assert jose.sign_compact(payload, signer, headers=headers) == expected
    verified = jose.verify_compact(expected, fixed(signer.public_key), algorithms=ALL)
    assert verified.header == {"typ": "JWT", "alg": "RS256", **headers}


def test_header_cache_keeps_look_alike_headers_apart(rsa: PrivateKey) -> None:
    """Headers that compare equal in Python but serialize differently never share an encoding."""
    signer = rsa.signer()
    seen: dict[str, dict[str, Any]] = {}
    for headers in _HEADER_SETS:
        token = jose.sign_compact(b"x", signer, headers=headers)
        header = jose.verify_compact(token, fixed(rsa.public_key), algorithms=ALL).header
        assert header == {"typ": "JWT", "alg": "RS256", **headers}
        assert type(header.get("n")) is type(headers.get("n"))  # True must not come back as 1
        seen[token.split(".")[0]] = headers
    assert len(seen) == len(_HEADER_SETS)


class _FailingSigner:
    """A signer whose back end fails (an HSM that went away)."""

    def __init__(self, key: PrivateKey):
        self._inner = key.signer()

    algorithm = property(lambda self: self._inner.algorithm)
    public_key = property(lambda self: self._inner.public_key)
    user_id = property(lambda self: self._inner.user_id)

    def sign(self, data: bytes, *, encoding: str = "der") -> bytes:
        raise TrustError("HSM unavailable")


def test_signer_errors_surface_as_trust_errors(p256: PrivateKey) -> None:
    signer = _FailingSigner(p256)
    assert isinstance(signer, Signer)
    with pytest.raises(TrustError, match="HSM unavailable"):
        jose.sign_compact(b"x", signer)


# --- JSON serialization ---------------------------------------------------------------------------------------


def test_json_general_and_flattened_forms(p256: PrivateKey, sm2_key: PrivateKey) -> None:
    document = jose.sign_json(b"doc", [(p256.signer(), {"kid": "a"}), (sm2_key.signer(), {"kid": "b"})])
    payload, items = jose.parse_json(json.dumps(document))  # text is parsed too
    assert payload == b"doc"
    assert [
        jose.verify_json_signature(i, k.public_key, algorithms=ALL).jose
        for i, k in zip(items, [p256, sm2_key], strict=True)
    ] == [
        "ES256",
        "SM2",
    ]
    flattened = {"payload": document["payload"], **document["signatures"][0]}
    _payload, [item] = jose.parse_json(flattened)
    assert jose.verify_json_signature(item, p256.public_key, algorithms=ALL).jose == "ES256"
    with pytest.raises(InvalidSignature):
        jose.verify_json_signature(item, generate_private_key("ec-p256").public_key, algorithms=ALL)


def test_json_serialization_refusals(p256: PrivateKey) -> None:
    document = jose.sign_json(b"doc", [(p256.signer(), {})])
    entry = document["signatures"][0]
    bad = [
        {**document, **entry},  # general and flattened mixed
        {**document, "signatures": [{**entry, "header": {"kid": "x"}}]},  # unprotected header
        {**document, "signatures": [{**entry, "signature": 7}]},  # signature not a string
        {**document, "signatures": []},
        {**document, "signatures": [entry] * 17},
        {"signatures": document["signatures"]},  # detached payload
        {"payload": document["payload"]},  # no signature at all
        '{"payload":"ZG9j","payload":"ZG9j","signatures":[]}',  # duplicate member
    ]
    for case in bad:
        with pytest.raises(InputError):
            jose.parse_json(case)  # type: ignore[arg-type]


# --- verification keys from JWKs --------------------------------------------------------------------------------


def test_verification_jwk_rules(p256: PrivateKey) -> None:
    public = huren_jwk.public_jwk(p256.public_key)
    assert jose.public_key_for_verification(public) == p256.public_key
    assert jose.public_key_for_verification({**public, "use": "sig", "key_ops": ["verify"], "alg": "ES256"}, "ES256")
    refusals: list[tuple[dict[str, Any], str | None, str]] = [
        ({**public, "d": "AAAA"}, None, "private"),
        ({**public, "use": "enc"}, None, "use"),
        ({**public, "key_ops": ["encrypt"]}, None, "key_ops"),
        ({**public, "key_ops": "verify"}, None, "key_ops"),
        ({**public, "alg": "ES384"}, "ES256", "declared"),
        ({"kty": "oct", "k": "c2VjcmV0"}, None, "private"),
        ({"kty": "oct"}, None, "oct"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, None, "OKP"),
    ]
    for jwk, alg, match in refusals:
        with pytest.raises(TrustError, match=match):
            jose.public_key_for_verification(jwk, alg)


# --- SM2 (docs/CRYPTO.md "JOSE SM2") checked with gmssl ------------------------------------------------------------


def test_sm2_jws_verifies_in_gmssl(sm2_key: PrivateKey) -> None:
    token = jose.sign_compact('{"名称":"广东省市场监督管理局"}'.encode(), sm2_key.signer(), headers={"kid": "gd"})
    head, body, sig = token.split(".")
    signature = base64url.decode(sig)
    assert len(signature) == 64  # raw r || s
    peer = gm_sm2.CryptSM2(private_key=None, public_key=xy_hex(sm2_key.public_key))
    signing_input = f"{head}.{body}".encode()
    assert peer.verify_with_sm3(signature.hex(), signing_input) is True
    assert not peer.verify_with_sm3(signature.hex(), signing_input + b"x")
    assert json.loads(base64url.decode(head)) == {"alg": "SM2", "kid": "gd", "typ": "JWT"}
    # And ours verifies it.
    assert jose.verify_compact(token, fixed(sm2_key.public_key), algorithms=["SM2"]).payload.decode() == (
        '{"名称":"广东省市场监督管理局"}'
    )


def test_gmssl_sm2_signature_verifies_as_our_jws(sm2_key: PrivateKey) -> None:
    """A JWS whose signature gmssl made (with its own SM3, Z and arithmetic) verifies with the layer."""
    from trust.crypto.keys import SM2PrivateKey

    assert isinstance(sm2_key, SM2PrivateKey)
    d = sm2_key._key.private_scalar()  # the test needs the scalar to give gmssl the same key
    peer = gm_sm2.CryptSM2(private_key=f"{d:064x}", public_key=xy_hex(sm2_key.public_key))
    signing_input = f"{header_part({'alg': 'SM2'})}.{b64(b'from gmssl')}"
    k = f"{int.from_bytes(hashlib.sha256(b'nonce for the test').digest(), 'big') % (2**255):064x}"
    signature_hex = peer.sign_with_sm3(signing_input.encode(), k)
    token = f"{signing_input}.{b64(bytes.fromhex(signature_hex))}"
    verified = jose.verify_compact(token, fixed(sm2_key.public_key), algorithms=ALL)
    assert verified.payload == b"from gmssl"
    assert verified.algorithm == SignatureAlgorithm.from_jose("SM2")
