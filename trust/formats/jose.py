"""The JOSE layer (RFC 7515 JWS, RFC 7517 JWK, RFC 7518 algorithms, RFC 7638 thumbprints): Huren's own code over
:mod:`trust.crypto`.

Decision (issue 14 item 6): Huren owns its JOSE code outright instead of registering key classes with a JOSE
library. It used to register one key class with python-jose's process-wide key registry
(``jose.jwk.register_key``) for every algorithm it accepts, which replaced python-jose's own RSA and ECDSA keys
for every other user in the process (plain ``jose.jwt.encode(claims, pem, "RS256")`` then failed). What Huren needs
of JOSE is small — compact and JSON serialization, strict parsing, an algorithm table and JWKs — and every signature
already went through the project's :class:`~trust.crypto.signer.Signer` and
:meth:`~trust.crypto.keys.PublicKey.verify` (one key-size and encoding policy for everything), so this module
does the rest itself; JWKs and thumbprints are :mod:`trust.crypto.jwk`. No JOSE library is a dependency; PyJWT,
joserfc and panva/jose are the independent peers the tests compare with. Algorithms: ``SM2`` (SM2 with SM3, default
user ID, signature ``r || s``; ``docs/CRYPTO.md``), ``RS256/384/512``, ``PS256/384/512``, ``ES256/384/512``.

Verification is strict (RFC 8725 "JWT best current practices"):

* ``alg`` must be in the caller's allow-list: ``none`` and HMAC algorithms are never accepted;
* ``alg`` must match the key (family, and for ECDSA the curve: ES256 needs P-256, ...);
* a header with an embedded ``jwk`` or a remote ``jku``/``x5u`` is refused (keys come from the trust list);
* ``crit`` naming any extension is refused (this implementation understands none, RFC 7515 clause 4.1.11);
* duplicate header members, non-JSON or non-object headers, and oversized tokens are refused;
* base64url must be unpadded and canonical; JSON must be strict (no duplicate members, no ``NaN``);
* a JWK used to verify must be public and meant for signatures (``use``/``key_ops``,
  :func:`public_key_for_verification`).

JSON serialization (RFC 7515 clause 7.2.1, general form) is used for documents signed by several keys at
once — the trust list and the offline bundle are signed by both national roots. :func:`parse_json` also reads
the flattened form (clause 7.2.2); unprotected header members are refused in both.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from trust.crypto import base64url
from trust.crypto import jwk as huren_jwk
from trust.crypto.algorithms import KeyFamily, SignatureAlgorithm
from trust.crypto.errors import (
    Code,
    CryptoError,
    EncodingError,
    InputError,
    InvalidKey,
    InvalidSignature,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.crypto.keys import PublicKey
from trust.crypto.signer import Signer
from trust.formats import strict_json

ACCEPTED_ALGORITHMS: Final = frozenset(
    {"SM2", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
_EC_CURVE_FOR: Final = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
MAX_TOKEN_BYTES: Final = 1024 * 1024
_FORBIDDEN_HEADERS: Final = frozenset({"jwk", "jku", "x5u"})


def check_algorithm(alg: str, key: PublicKey) -> SignatureAlgorithm:
    """The algorithm for ``alg`` if Huren accepts it and it fits ``key``; raises otherwise."""
    if alg not in ACCEPTED_ALGORITHMS:
        raise UnsupportedAlgorithm(f"JOSE algorithm {alg!r} is not accepted (none and HMAC never are)")
    algorithm = SignatureAlgorithm.from_jose(alg)
    if algorithm.family is not key.family:
        raise InvalidKey(f"alg {alg} does not match the {key.family.value} key", code=Code.KEY_MISMATCH)
    if algorithm.family is KeyFamily.EC and key.curve != _EC_CURVE_FOR[alg]:
        raise InvalidKey(
            f"alg {alg} needs curve {_EC_CURVE_FOR[alg]}, the key is on {key.curve}", code=Code.KEY_MISMATCH
        )
    return algorithm


_PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_key_for_verification(jwk: Mapping[str, Any], alg: str | None = None) -> PublicKey:
    """The public key of a JWK that is meant to verify JWS signatures (RFC 7517 clauses 4.2-4.4).

    Refuses a JWK whose ``use`` is not ``sig``, whose ``key_ops`` lack ``verify``, or that carries private
    members (a verification key that arrives with its private half has leaked; ``cnf.jwk`` must never hold
    one). With ``alg`` (the token's ``alg``, for a key resolver), a JWK that names another ``alg`` is refused:
    a key is used only with the algorithm its owner declared (no RS256 signature under a PS512 key). The
    token's ``alg`` is checked against the key itself by :func:`check_algorithm` in any case.
    """
    if not isinstance(jwk, Mapping):
        raise EncodingError("a JWK must be a JSON object")
    if alg is not None and "alg" in jwk and jwk["alg"] != alg:
        raise InvalidKey(
            f"the JWK is declared for alg {jwk['alg']!r}, the JWS uses {alg!r}",
            code=Code.KEY_MISMATCH,
            evidence={"expected": str(jwk["alg"]), "found": alg},
        )
    private = sorted(_PRIVATE_JWK_MEMBERS.intersection(jwk))
    if private:
        raise InvalidKey(f"a verification JWK must be public; it carries private members {', '.join(private)}")
    if "use" in jwk and jwk["use"] != "sig":
        raise InvalidKey(f"JWK use {jwk['use']!r} is not 'sig': the key is not meant for signatures")
    if "key_ops" in jwk:
        ops = jwk["key_ops"]
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            raise EncodingError("JWK key_ops must be an array of strings")
        if "verify" not in ops:
            raise InvalidKey(f"JWK key_ops {ops!r} do not include 'verify'")
    return huren_jwk.public_key_from_jwk(jwk)


def x5t_s256(certificate_der: bytes) -> str:
    """The ``x5t#S256`` header member of a certificate (RFC 7515 clause 4.1.8): base64url SHA-256 of its DER."""
    return base64url.encode(hashlib.sha256(certificate_der).digest())


def _sign_raw(signer: Signer, alg: str, signing_input: bytes) -> bytes:
    """The JWS signature (RFC 7518 clause 3: ``r || s`` for ECDSA and SM2) by ``signer`` for ``alg``, after checking
    that ``alg`` fits the signer's key (family, and the curve for ECDSA)."""
    algorithm = check_algorithm(alg, signer.public_key)
    if signer.algorithm != algorithm:
        raise InvalidKey(f"signer uses {signer.algorithm.name}, not {alg}", code=Code.KEY_MISMATCH)
    try:
        return signer.sign(signing_input, encoding="raw")
    except TrustError:
        raise
    except (ValueError, TypeError) as exc:
        raise CryptoError(f"JWS signing failed ({alg}): {exc}") from None


def _verify_raw(key: PublicKey, algorithm: SignatureAlgorithm, signing_input: bytes, signature: bytes) -> str:
    """``""`` if ``signature`` verifies, else the reason it does not (a key that raises is a signature that fails)."""
    try:
        key.verify(signature, signing_input, algorithm, encoding="raw")
    except InvalidSignature:
        return "signature mismatch"
    except (TrustError, ValueError, TypeError) as exc:
        return str(exc)
    return ""


# --- compact serialization ------------------------------------------------------------------------------


def _signing_alg(signer: Signer, headers: Mapping[str, Any]) -> str:
    """The signer's JOSE ``alg``; refuses header members this module would refuse when verifying."""
    alg = signer.algorithm.jose
    if alg is None:
        raise UnsupportedAlgorithm(f"{signer.algorithm.name} has no JOSE name")
    if "alg" in headers and headers["alg"] != alg:
        raise InputError(f"header alg {headers['alg']!r} contradicts the signer's algorithm {alg}")
    refused = sorted(_FORBIDDEN_HEADERS.union({"crit"}).intersection(headers))
    if refused:
        raise InputError(f"refusing to sign a JWS header with {', '.join(refused)} (verification would refuse it)")
    return alg


def _header_cache_key(headers: Mapping[str, Any]) -> tuple[tuple[str, str | tuple[str, ...]], ...] | None:
    """The members of a protected header as a hashable key when every value is a string or an array of strings,
    else None. Only those are cached: they compare equal exactly when they serialize alike (``1 == True == 1.0``
    would let one header's encoding stand in for another's; a string never equals a tuple)."""
    items: list[tuple[str, str | tuple[str, ...]]] = []
    for name, value in headers.items():
        if type(value) is str:
            items.append((name, value))
        elif type(value) in (list, tuple) and all(type(item) is str for item in value):
            items.append((name, tuple(value)))
        else:
            return None
    return tuple(items)


def _encode_protected_header(alg: str, headers: Mapping[str, Any]) -> bytes:
    """The base64url protected header, serialized as PyJWT's ``jwt.encode`` and python-jose's ``jws.sign`` do
    (``typ`` ``JWT`` unless given, sorted members, no spaces, non-ASCII escaped)."""
    header = {"typ": "JWT", "alg": alg, **headers}
    return base64url.encode_bytes(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8"))


@functools.lru_cache(maxsize=256)
def _cached_protected_header(alg: str, members: tuple[tuple[str, str | tuple[str, ...]], ...]) -> bytes:
    header = {name: value if isinstance(value, str) else list(value) for name, value in members}
    return _encode_protected_header(alg, header)


def sign_compact(payload: bytes, signer: Signer, *, headers: Mapping[str, Any] | None = None) -> str:
    """``BASE64URL(header).BASE64URL(payload).BASE64URL(signature)`` with ``alg`` from the signer.

    The output is byte for byte what PyJWT's ``jwt.encode`` (and python-jose's ``jws.sign``) gives for the same
    key, payload and headers (``tests/trust/formats/test_jose.py`` compares them). An issuer's protected header
    (``typ``, ``kid`` and, where asked for, an ``x5c`` chain of about 2.5 KB) is the same for every token it signs,
    so its encoding is kept (by content, for the last 256 headers) instead of being serialized again per token.
    """
    extra = dict(headers or {})
    alg = _signing_alg(signer, extra)
    extra.pop("alg", None)
    members = _header_cache_key(extra)
    encoded_header = _encode_protected_header(alg, extra) if members is None else _cached_protected_header(alg, members)
    signing_input = encoded_header + b"." + base64url.encode_bytes(payload)
    signature = _sign_raw(signer, alg, signing_input)
    return (signing_input + b"." + base64url.encode_bytes(signature)).decode("ascii")


def check_header(header: Mapping[str, Any], allowed: Sequence[str]) -> str:
    """The header's ``alg`` after the RFC 8725 checks; raises on anything unsafe."""
    if isinstance(allowed, str):  # one name, not a sequence of characters
        allowed = (allowed,)
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise EncodingError("JWS header has no alg")
    if alg == "none" or alg.startswith("HS"):
        raise UnsupportedAlgorithm(f"JWS alg {alg!r} is never accepted")
    if alg not in allowed or alg not in ACCEPTED_ALGORITHMS:
        raise UnsupportedAlgorithm(f"JWS alg {alg!r} is not accepted here (allowed: {', '.join(sorted(allowed))})")
    embedded = _FORBIDDEN_HEADERS.intersection(header)
    if embedded:
        raise InputError(f"JWS header carries {', '.join(sorted(embedded))}: keys come from the trust list only")
    if "crit" in header:
        raise InputError(f"JWS header marks unknown extensions critical: {header['crit']!r}")
    return alg


@dataclass(frozen=True)
class Verified:
    header: dict[str, Any]
    payload: bytes
    key: PublicKey
    algorithm: SignatureAlgorithm


def parse_compact(token: str | bytes) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """``(header, payload, signing input, signature)`` without verifying anything."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise EncodingError("JWS is not ASCII") from None
    token = token.strip()
    if len(token) > MAX_TOKEN_BYTES:
        raise InputError(f"JWS of {len(token)} bytes exceeds {MAX_TOKEN_BYTES}", code=Code.INPUT_TOO_LARGE)
    parts = token.split(".")
    if len(parts) != 3:
        raise EncodingError(f"compact JWS needs 3 parts, found {len(parts)}")
    header = strict_json.load_object(base64url.decode(parts[0], "JWS header"), "JWS header")
    payload = base64url.decode(parts[1], "JWS payload")
    signature = base64url.decode(parts[2], "JWS signature")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def verify_compact(
    token: str | bytes, resolve_key: Callable[[dict[str, Any]], PublicKey], *, algorithms: Sequence[str]
) -> Verified:
    """Verify a compact JWS: header checks, key from ``resolve_key(header)``, then the signature."""
    header, payload, signing_input, signature = parse_compact(token)
    alg = check_header(header, algorithms)
    key = resolve_key(header)
    algorithm = check_algorithm(alg, key)
    reason = _verify_raw(key, algorithm, signing_input, signature)
    if reason:
        raise InvalidSignature(f"JWS signature does not verify ({alg}): {reason}")
    return Verified(header=header, payload=payload, key=key, algorithm=algorithm)


# --- JSON serialization (general) ------------------------------------------------------------------------


def sign_json(payload: bytes, signers: Sequence[tuple[Signer, Mapping[str, Any]]]) -> dict[str, Any]:
    """RFC 7515 clause 7.2.1 general JSON serialization with one signature per signer."""
    encoded_payload = base64url.encode(payload)
    signatures = []
    for signer, headers in signers:
        alg = _signing_alg(signer, headers)
        protected = base64url.encode(
            json.dumps({**headers, "alg": alg}, separators=(",", ":"), ensure_ascii=False).encode()
        )
        signing_input = f"{protected}.{encoded_payload}".encode("ascii")
        signature = _sign_raw(signer, alg, signing_input)
        signatures.append({"protected": protected, "signature": base64url.encode(signature)})
    return {"payload": encoded_payload, "signatures": signatures}


@dataclass(frozen=True)
class JsonSignature:
    header: dict[str, Any]
    signing_input: bytes
    signature: bytes


_FLATTENED_MEMBERS: Final = ("protected", "header", "signature")


def parse_json(document: Mapping[str, Any] | str | bytes) -> tuple[bytes, list[JsonSignature]]:
    """``(payload, signatures)`` of a JSON serialization (a parsed object, or its text), not verified.

    Both forms of RFC 7515 clause 7.2 are read: general (``signatures``) and flattened (``protected`` and
    ``signature`` at the top level; clause 7.2.2 forbids mixing the two). Every signature needs a protected
    header; unprotected header members are refused (nothing of them would be integrity-protected).
    """
    if isinstance(document, str | bytes):
        text = document.encode("utf-8") if isinstance(document, str) else document
        if len(text) > MAX_TOKEN_BYTES:
            raise InputError(f"JWS of {len(text)} bytes exceeds {MAX_TOKEN_BYTES}", code=Code.INPUT_TOO_LARGE)
        document = strict_json.load_object(text, "JWS JSON serialization")
    if not isinstance(document, Mapping) or not isinstance(document.get("payload"), str):
        raise EncodingError("JWS JSON serialization needs a payload member (detached payloads are not accepted)")
    if "signatures" in document:
        if any(member in document for member in _FLATTENED_MEMBERS):
            raise EncodingError("JWS JSON serialization mixes the general and the flattened form")
        raw_signatures = document["signatures"]
    elif "signature" in document:
        raw_signatures = [{m: document[m] for m in _FLATTENED_MEMBERS if m in document}]
    else:
        raise EncodingError("JWS JSON serialization has neither signatures nor signature")
    if not isinstance(raw_signatures, list) or not raw_signatures or len(raw_signatures) > 16:
        raise EncodingError("JWS JSON serialization needs 1..16 signatures")
    payload = base64url.decode(document["payload"], "JWS payload")
    result = []
    for entry in raw_signatures:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("protected"), str):
            raise EncodingError("each JWS signature needs a protected header")
        if "header" in entry:
            raise InputError("unprotected JWS header members are not accepted")
        if not isinstance(entry.get("signature"), str):
            raise EncodingError("each JWS signature needs a signature member (a base64url string)")
        header = strict_json.load_object(
            base64url.decode(entry["protected"], "JWS protected header"), "JWS protected header"
        )
        signature = base64url.decode(entry["signature"], "JWS signature")
        result.append(JsonSignature(header, f"{entry['protected']}.{document['payload']}".encode("ascii"), signature))
    return payload, result


def verify_json_signature(item: JsonSignature, key: PublicKey, *, algorithms: Sequence[str]) -> SignatureAlgorithm:
    """Verify one signature of a JSON serialization with ``key``; raises :class:`InvalidSignature`."""
    alg = check_header(item.header, algorithms)
    algorithm = check_algorithm(alg, key)
    if _verify_raw(key, algorithm, item.signing_input, item.signature):
        raise InvalidSignature(f"JWS signature does not verify ({alg})")
    return algorithm
