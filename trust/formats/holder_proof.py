"""Holder proofs: a short-lived JWT by which the holder of a licence proves possession of the key bound to it at
issuance (the SD-JWT's ``cnf.jwk``, RFC 7800) to fetch their own licence (``trust license fetch``,
``POST /holder/licenses/{identifier}``). docs/SECURITY.md ("Holder retrieval") gives the threat model.

Modelled on a DPoP proof (RFC 9449 clause 4.2) and on an RFC 7523 assertion:

* header: ``alg`` (the holder key's: ``SM2``, ``ES256``…, ``RS256``…, ``PS256``…; never ``none`` or HMAC) and
  ``typ`` :data:`TYP`;
* claims: ``sub`` = the licence identifier, ``aud`` = the service (its public URL), ``iat``, ``exp`` (at most
  :data:`MAX_LIFETIME` seconds after ``iat``), ``jti`` (16-128 characters, fresh: the service accepts each once) and
  ``cnf`` = ``{"jwk": <the holder's public JWK>}``.

The key travels in the claims (not in the header, where the JOSE layer refuses embedded keys): the signature is
checked with it, and the service then compares it with the licence's ``cnf.jwk`` — a proof is worth nothing for a
licence bound to another key. Checking the signature before looking the licence up makes a refusal cost the same
whether the licence exists or not.

Pure format code: :func:`build` for holders, :func:`verify` for the service (replay and the licence's key are the
service's business).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from trust.crypto import jwk as jwk_mod
from trust.crypto.errors import AuthenticationError, EncodingError, TrustError
from trust.crypto.keys import PublicKey
from trust.crypto.signer import Signer
from trust.formats import jose, strict_json

TYP: Final = "huren-holder-proof+jwt"
MAX_LIFETIME: Final = 300
DEFAULT_LIFETIME: Final = 60
SKEW: Final = 60
MAX_PROOF_CHARS: Final = 16 * 1024
JTI_CHARS: Final = (16, 128)


class HolderProofError(AuthenticationError):
    """A holder proof that is not one, or not for this service, licence or moment (``E1400``, HTTP 401)."""


@dataclass(frozen=True)
class HolderProof:
    """A proof whose signature verified with the key it names."""

    key: PublicKey
    identifier: str
    jti: str
    expires_at: int
    thumbprint: str  # RFC 7638 of ``key``


def build(
    signer: Signer,
    *,
    identifier: str,
    audience: str,
    lifetime: int = DEFAULT_LIFETIME,
    jti: str | None = None,
    issued_at: int | None = None,
) -> str:
    """A holder proof for licence ``identifier`` signed by ``signer`` (the holder key), naming its public key."""
    iat = int(time.time()) if issued_at is None else issued_at
    claims = {
        "sub": identifier,
        "aud": audience,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": jti or secrets.token_urlsafe(24),
        "cnf": {"jwk": jwk_mod.public_jwk(signer.public_key)},
    }
    payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    return jose.sign_compact(payload, signer, headers={"typ": TYP})


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        return strict_json.load_object(payload, "holder proof payload")
    except EncodingError as exc:
        raise HolderProofError(exc.message) from None


def _integer(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise HolderProofError(f"holder proof claim {name} must be a NumericDate (integer seconds)")
    return value


def verify(token: str, *, audience: str, identifier: str, now: int | None = None) -> HolderProof:
    """Check a holder proof for licence ``identifier`` at the service ``audience``; raises :class:`HolderProofError`.

    Steps: size; parse (strict base64url and JSON); ``typ``; the claims' ``cnf.jwk`` as a public signature key;
    the signature with that key (``alg`` matching it, RFC 8725 rules of :mod:`trust.formats.jose`); ``sub``, ``aud``;
    ``iat``/``exp`` (lifetime, expiry, not issued in the future, :data:`SKEW` seconds of clock skew); ``jti``."""
    if not isinstance(token, str) or len(token) > MAX_PROOF_CHARS:
        raise HolderProofError(f"a holder proof is a compact JWS of at most {MAX_PROOF_CHARS} characters")
    try:
        header, payload, _input, _signature = jose.parse_compact(token)
    except TrustError as exc:
        raise HolderProofError(f"holder proof is not a compact JWS: {exc.message}") from None
    if header.get("typ") != TYP:
        raise HolderProofError(f"holder proof header typ must be {TYP}")
    claims = _claims(payload)
    cnf = claims.get("cnf")
    if not isinstance(cnf, Mapping) or not isinstance(cnf.get("jwk"), Mapping):
        raise HolderProofError("holder proof needs cnf.jwk: the holder's public key")
    try:
        key = jose.public_key_for_verification(cnf["jwk"])
        jose.verify_compact(token, lambda _h: key, algorithms=sorted(jose.ACCEPTED_ALGORITHMS))
    except TrustError as exc:
        raise HolderProofError(f"holder proof refused: {exc.message}") from None
    if claims.get("sub") != identifier:
        raise HolderProofError("holder proof sub must be the identifier of the licence asked for")
    named = claims.get("aud")
    audiences = [named] if isinstance(named, str) else named if isinstance(named, list) else []
    if audience not in audiences:
        raise HolderProofError(f"holder proof is not for this service (aud must be {audience})")
    moment = int(time.time()) if now is None else now
    iat, exp = _integer(claims, "iat"), _integer(claims, "exp")
    if exp - iat > MAX_LIFETIME or exp - moment > MAX_LIFETIME + SKEW:
        raise HolderProofError(f"holder proof lifetime exceeds {MAX_LIFETIME} s")
    if exp <= moment - SKEW:
        raise HolderProofError("holder proof expired")
    if iat > moment + SKEW:
        raise HolderProofError("holder proof is not valid yet (iat in the future)")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not JTI_CHARS[0] <= len(jti) <= JTI_CHARS[1]:
        raise HolderProofError(f"holder proof needs a fresh jti of {JTI_CHARS[0]}-{JTI_CHARS[1]} characters")
    return HolderProof(key=key, identifier=identifier, jti=jti, expires_at=exp, thumbprint=jwk_mod.thumbprint(key))


__all__ = ["DEFAULT_LIFETIME", "MAX_LIFETIME", "SKEW", "TYP", "HolderProof", "HolderProofError", "build", "verify"]
