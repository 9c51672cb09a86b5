"""JSON Web Keys (RFC 7517/7518) for RSA, EC and SM2, and RFC 7638 thumbprints.

RSA and EC keys follow RFC 7518 clause 6. SM2 has no registered JWK form; this project writes it as an EC
key with the curve name ``SM2`` — ``{"kty": "EC", "crv": "SM2", "x": ..., "y": ...}`` with ``x``/``y`` the
32-byte big-endian coordinates in base64url, as the GM/T JOSE drafts and several Chinese libraries do
(``docs/CRYPTO.md``). Public keys only are written; private JWKs are read (``d``, and the RSA CRT members)
for test vectors and imports, never produced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from trust.crypto import base64url, sm2
from trust.crypto.errors import EncodingError, InvalidKey, UnsupportedAlgorithm
from trust.crypto.keys import (
    ECPrivateKey,
    ECPublicKey,
    PrivateKey,
    PublicKey,
    RSAPrivateKey,
    RSAPublicKey,
    SM2PrivateKey,
    SM2PublicKey,
)

_JWK_CURVES = {
    "P-256": ("secp256r1", ec.SECP256R1, 32),
    "P-384": ("secp384r1", ec.SECP384R1, 48),
    "P-521": ("secp521r1", ec.SECP521R1, 66),
}
_CURVE_TO_JWK = {value[0]: name for name, value in _JWK_CURVES.items()}


def _int(member: str, jwk: Mapping[str, Any]) -> int:
    if member not in jwk:
        raise EncodingError(f"JWK lacks the member {member!r}")
    return int.from_bytes(base64url.decode(jwk[member], f"JWK member {member!r}"), "big")


def _coord(member: str, jwk: Mapping[str, Any], size: int) -> int:
    raw = base64url.decode(jwk.get(member, ""), f"JWK member {member!r}") if member in jwk else b""
    if len(raw) != size:
        raise InvalidKey(f"JWK member {member!r} must be {size} bytes, got {len(raw)}")
    return int.from_bytes(raw, "big")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The public JWK of ``key`` (members in RFC 7638 order where it matters)."""
    if isinstance(key, RSAPublicKey):
        rsa_numbers = key.raw.public_numbers()
        return {"kty": "RSA", "n": base64url.encode(_be(rsa_numbers.n)), "e": base64url.encode(_be(rsa_numbers.e))}
    if isinstance(key, ECPublicKey):
        numbers = key.raw.public_numbers()
        name = _CURVE_TO_JWK[key.curve]
        size = _JWK_CURVES[name][2]
        return {
            "kty": "EC",
            "crv": name,
            "x": base64url.encode(numbers.x.to_bytes(size, "big")),
            "y": base64url.encode(numbers.y.to_bytes(size, "big")),
        }
    if isinstance(key, SM2PublicKey):
        return {
            "kty": "EC",
            "crv": "SM2",
            "x": base64url.encode(key.raw.x.to_bytes(32, "big")),
            "y": base64url.encode(key.raw.y.to_bytes(32, "big")),
        }
    raise UnsupportedAlgorithm(f"no JWK form for {type(key).__name__}")


def _be(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def thumbprint(key: PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url — the project's ``kid`` for a key."""
    jwk = public_jwk(key)
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64url.encode(hashlib.sha256(canonical.encode()).digest())


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """A public key from a JWK (private members, if any, are ignored)."""
    if not isinstance(jwk, Mapping):
        raise EncodingError("a JWK must be a JSON object")
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            return RSAPublicKey(rsa.RSAPublicNumbers(_int("e", jwk), _int("n", jwk)).public_key())
        if kty == "EC":
            crv = jwk.get("crv")
            if crv == "SM2":
                return SM2PublicKey(sm2.SM2PublicKey(_coord("x", jwk, 32), _coord("y", jwk, 32)))
            if crv in _JWK_CURVES:
                _name, curve, size = _JWK_CURVES[crv]
                numbers = ec.EllipticCurvePublicNumbers(_coord("x", jwk, size), _coord("y", jwk, size), curve())
                return ECPublicKey(numbers.public_key())
            raise UnsupportedAlgorithm(f"JWK curve {crv!r} is not supported (P-256, P-384, P-521, SM2)")
    except ValueError as exc:
        raise InvalidKey(f"JWK does not describe a valid {kty} public key: {exc}") from exc
    raise UnsupportedAlgorithm(f"JWK key type {kty!r} is not supported (RSA, EC)")


def private_key_from_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    """A private key from a private JWK; the public members must match ``d``."""
    public = public_key_from_jwk(jwk)
    if "d" not in jwk:
        raise InvalidKey("JWK has no private member 'd'")
    try:
        if isinstance(public, SM2PublicKey):
            d = _coord("d", jwk, 32)
            return SM2PrivateKey(sm2.SM2PrivateKey.from_scalar(d, public.point()))
        if isinstance(public, ECPublicKey):
            size = _JWK_CURVES[_CURVE_TO_JWK[public.curve]][2]
            numbers = ec.EllipticCurvePrivateNumbers(_coord("d", jwk, size), public.raw.public_numbers())
            return ECPrivateKey(numbers.private_key())
        if isinstance(public, RSAPublicKey):
            pub = public.raw.public_numbers()
            d = _int("d", jwk)
            if all(m in jwk for m in ("p", "q", "dp", "dq", "qi")):
                p, q = _int("p", jwk), _int("q", jwk)
                dp, dq, qi = _int("dp", jwk), _int("dq", jwk), _int("qi", jwk)
            else:
                p, q = rsa.rsa_recover_prime_factors(pub.n, pub.e, d)
                dp, dq, qi = rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)
            return RSAPrivateKey(rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, pub).private_key())
    except ValueError:
        raise InvalidKey("JWK private key is inconsistent with its public members") from None
    raise UnsupportedAlgorithm("unsupported private JWK")
