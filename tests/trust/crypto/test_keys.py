"""Keys in and out: PEM/DER/SPKI/PKCS#8/JWK round trips, size policy, hostile input, no secret leaks."""

from __future__ import annotations

import pickle

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from trust.crypto import algorithms, base64url, jwk, pkcs8
from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    InvalidKey,
    InvalidSignature,
    TrustError,
    UnsupportedAlgorithm,
    WeakKey,
)
from trust.crypto.keys import (
    SM2PrivateKey,
    generate_private_key,
    load_private_key,
    load_public_key,
    public_key_from_spki,
)

SPECS = ["sm2", "rsa-2048", "ec-p256", "ec-p384"]


@pytest.fixture(scope="module", params=SPECS)
def key(request: pytest.FixtureRequest):
    return generate_private_key(request.param)


def test_public_key_pem_der_jwk_round_trip(key) -> None:
    public = key.public_key
    assert load_public_key(public.pem().encode()) == public
    assert load_public_key(public.spki_der()) == public
    assert public_key_from_spki(public.spki) == public
    assert jwk.public_key_from_jwk(jwk.public_jwk(public)) == public
    assert len(public.fingerprint()) == 64
    assert len(public.key_identifier()) == 20


def test_sm2_spki_follows_gbt_20518() -> None:
    public = generate_private_key("sm2").public_key
    algorithm = public.spki["algorithm"]
    assert algorithm["algorithm"].dotted == "1.2.840.10045.2.1"  # id-ecPublicKey
    assert algorithm["parameters"].chosen.dotted == "1.2.156.10197.1.301"
    assert jwk.public_jwk(public)["crv"] == "SM2"


def test_encrypted_pkcs8_round_trip(key) -> None:
    pem = pkcs8.encrypt_private_key_pem(key, b"passphrase", iterations=2_000)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    again = load_private_key(pem, b"passphrase")
    assert again.public_key == key.public_key
    again.public_key.verify(again.sign(b"m"), b"m")
    with pytest.raises(InputError, match="no passphrase"):
        load_private_key(pem)


def test_sign_verify_both_encodings(key) -> None:
    for encoding in ("der", "raw"):
        signature = key.sign(b"message", encoding=encoding)
        key.public_key.verify(signature, b"message", encoding=encoding)
        with pytest.raises(InvalidSignature):
            key.public_key.verify(signature, b"messagE", encoding=encoding)


def test_algorithm_must_fit_the_key(key) -> None:
    wrong = algorithms.RSA_PKCS1_SHA256 if key.public_key.family.value != "RSA" else algorithms.SM2_SM3
    with pytest.raises(InvalidKey) as caught:
        key.sign(b"m", wrong)
    assert caught.value.code is Code.KEY_MISMATCH
    with pytest.raises(InvalidKey):
        key.public_key.verify(b"\x00" * 64, b"m", wrong)


def test_private_keys_do_not_leak(key) -> None:
    text = repr(key) + str(key) + repr(key.signer())
    secret_hex = _secret_hex(key)
    assert secret_hex not in text.lower()
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert not any(name in dir(key) for name in ("private_bytes", "to_pem", "pkcs8", "export"))


def _secret_hex(key) -> str:
    from trust.crypto.keys import ECPrivateKey, RSAPrivateKey, SM2PrivateKey

    if isinstance(key, SM2PrivateKey):
        return f"{key._key.private_scalar():x}"
    if isinstance(key, RSAPrivateKey):
        return f"{key._key.private_numbers().d:x}"[:40]
    assert isinstance(key, ECPrivateKey)
    return f"{key._key.private_numbers().private_value:x}"


def test_rsa_size_policy() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    der = small.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(WeakKey, match="at least 2048"):
        load_public_key(der)
    pk8 = small.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(WeakKey):
        load_private_key(pk8)
    with pytest.raises(InputError):
        generate_private_key("rsa-1024")
    big = rsa.generate_private_key(public_exponent=65537, key_size=6144)
    big_pem = big.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidKey, match="at most 4096"):
        load_private_key(big_pem)
    # ... but a 6144-bit public key may still verify third-party signatures.
    assert (
        load_public_key(
            big.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ).size
        == 6144
    )


def test_unsupported_curve_refused() -> None:
    k1 = ec.generate_private_key(ec.SECP256K1())
    der = k1.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(UnsupportedAlgorithm, match="not supported"):
        load_public_key(der)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x30\x03\x02\x01",
        b"-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n",
        b"\x30" + b"\x84\xff\xff\xff\xff" + b"\x00" * 10,
    ],
)
def test_hostile_public_key_input(data: bytes) -> None:
    with pytest.raises(TrustError) as caught:
        load_public_key(data)
    assert caught.value.code in (Code.MALFORMED_ENCODING, Code.INVALID_KEY, Code.UNSUPPORTED_ALGORITHM)


def test_truncated_spki_every_length() -> None:
    der = generate_private_key("sm2").public_key.spki_der()
    for cut in range(len(der)):
        with pytest.raises(TrustError):
            load_public_key(der[:cut])


def test_oversized_key_input() -> None:
    with pytest.raises(InputError) as caught:
        load_public_key(b"\x30" * (65 * 1024))
    assert caught.value.code is Code.INPUT_TOO_LARGE


def test_corrupt_encrypted_key_never_returns_garbage() -> None:
    key = generate_private_key("sm2")
    der = pkcs8.encrypt_private_key(key, b"pw", iterations=2_000)
    for position in (len(der) - 1, len(der) - 20, len(der) - 40):
        broken = bytearray(der)
        broken[position] ^= 0x01
        with pytest.raises(TrustError):
            load_private_key(bytes(broken), b"pw")


def test_hostile_iteration_count_refused() -> None:
    key = generate_private_key("ec-p256")
    with pytest.raises(InputError):
        pkcs8.encrypt_private_key(key, b"pw", iterations=100)
    der = pkcs8.encrypt_private_key(key, b"pw", iterations=2_000)
    # Patch the INTEGER 2000 (0x07d0) to 0x7fffffff-ish: a file that would make us spin for hours.
    hostile = der.replace(b"\x02\x02\x07\xd0", b"\x02\x04\x7f\xff\xff\xff")
    hostile = _fix_lengths(hostile)
    with pytest.raises(TrustError):
        load_private_key(hostile, b"pw")


def _fix_lengths(der: bytes) -> bytes:
    """Re-encode through asn1crypto so the patched INTEGER's enclosing lengths are right."""
    from asn1crypto import keys

    try:
        return keys.EncryptedPrivateKeyInfo.load(der).dump(force=True)
    except Exception:
        return der


def test_jwk_rejects_bad_members() -> None:
    public = jwk.public_jwk(generate_private_key("sm2").public_key)
    with pytest.raises(InvalidKey):
        jwk.public_key_from_jwk({**public, "y": public["x"]})  # not on the curve
    with pytest.raises(EncodingError):
        jwk.public_key_from_jwk({**public, "x": public["x"] + "="})
    with pytest.raises(UnsupportedAlgorithm):
        jwk.public_key_from_jwk({"kty": "oct", "k": "AAAA"})
    with pytest.raises(UnsupportedAlgorithm):
        jwk.public_key_from_jwk({**public, "crv": "secp256k1"})


def test_private_jwk_must_match_public_members() -> None:
    a, b = generate_private_key("sm2"), generate_private_key("sm2")
    assert isinstance(a, SM2PrivateKey)
    d = a._key.private_scalar().to_bytes(32, "big")
    private = {**jwk.public_jwk(b.public_key), "d": base64url.encode(d)}
    with pytest.raises(InvalidKey):
        jwk.private_key_from_jwk(private)
    good = {**jwk.public_jwk(a.public_key), "d": base64url.encode(d)}
    assert jwk.private_key_from_jwk(good).public_key == a.public_key


def test_thumbprint_rfc7638_example() -> None:
    """RFC 7638 clause 3.1 example key and thumbprint."""
    example = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE"
            "CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
            "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
            "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
    }
    assert jwk.thumbprint(jwk.public_key_from_jwk(example)) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_sm2_key_written_with_the_sm2_oid_as_algorithm_is_the_same_key() -> None:
    """Tongsuo/GmSSL 2 write SPKI.algorithm = 1.2.156.10197.1.301 instead of id-ecPublicKey + sm2p256v1."""
    from asn1crypto import core
    from asn1crypto import keys as asn1_keys

    key = generate_private_key("sm2")
    bit_string = key.public_key.spki["public_key"].dump()
    for parameters in (None, core.ObjectIdentifier("1.2.156.10197.1.301")):
        algorithm = core.Sequence(
            contents=core.ObjectIdentifier("1.2.156.10197.1.301").dump() + (parameters.dump() if parameters else b"")
        )
        spki_der = core.Sequence(contents=algorithm.dump() + bit_string).dump()
        info = asn1_keys.PublicKeyInfo.load(spki_der)
        loaded = public_key_from_spki(info)
        assert loaded.family is algorithms.KeyFamily.SM2
        signature = key.sign(b"message", algorithms.SM2_SM3)
        loaded.verify(signature, b"message", algorithms.SM2_SM3)
        with pytest.raises(InvalidSignature):
            loaded.verify(signature, b"other", algorithms.SM2_SM3)
    odd = core.Sequence(
        contents=core.Sequence(
            contents=core.ObjectIdentifier("1.2.156.10197.1.301").dump() + core.Integer(5).dump()
        ).dump()
        + bit_string
    ).dump()
    with pytest.raises(UnsupportedAlgorithm):
        public_key_from_spki(asn1_keys.PublicKeyInfo.load(odd))
