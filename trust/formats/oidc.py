"""OpenID Connect Core 1.0 pieces that are pure format: ID tokens (clause 2, validated per clause 3.1.3.7), PKCE
S256 (RFC 7636 clause 4.2), pairwise subject identifiers (clause 8.1), Huren's assurance levels (``acr``) and the
claims a region's OpenID Provider releases.

**Assurance levels** (``acr``, clause 2): Huren names three levels of real-name authentication (实名认证),
ordered: ``urn:huren:loa:1`` (citizen ID number and password), ``urn:huren:loa:2`` (plus a one-time code sent to
the citizen) and ``urn:huren:loa:3`` (an identity certificate or an in-person check; not offered by the demo login).
A relying service states the lowest level it accepts; a higher level satisfies a lower one.

**Region claim**: every ID token of a Huren OP carries ``huren_region``, the GB/T 2260 code of the citizen's home
region (province level, ``330000``). A relying party accepts it only if the OP's trust chain allows that region
(``huren_regions_supported`` in the OP's metadata, bounded by the anchor's policy), so an OP cannot assert citizens
of another region. The citizen ID number is released only with the ``huren_citizen_id`` scope (claim of the same
name); its first two digits must then agree with ``huren_region``.

:func:`validate_id_token` is the relying party's check, strict in the sense of RFC 8725: ``alg`` from the OP's
declared list and never ``none`` or HMAC, the key named by ``kid`` in the OP's keys from its validated trust chain,
``iss`` exactly the OP, ``aud`` containing the client (and ``azp`` the client when there are several audiences),
``exp``/``iat`` against the caller's clock, ``nonce`` equal to the one the RP session holds, ``acr`` at least the
required level, ``huren_region`` allowed. Failures raise :class:`~trust.crypto.errors.IdTokenError` with
``id-token-invalid`` or ``acr-insufficient`` and the evidence (expected vs. found). Pure code: no clock, no network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from trust.crypto import base64url, jwk, sm3
from trust.crypto.errors import Code, IdTokenError, TrustError
from trust.crypto.keys import PublicKey
from trust.crypto.signer import Signer
from trust.formats import federation, jose, strict_json

LOA_1: Final = "urn:huren:loa:1"
LOA_2: Final = "urn:huren:loa:2"
LOA_3: Final = "urn:huren:loa:3"
ACR_LEVELS: Final = {LOA_1: 1, LOA_2: 2, LOA_3: 3}
SCOPE_CITIZEN_ID: Final = "huren_citizen_id"
CLAIM_REGION: Final = "huren_region"
CLAIM_CITIZEN_ID: Final = "huren_citizen_id"
CLAIM_REGIONS_SUPPORTED: Final = "huren_regions_supported"
CLOCK_SKEW: Final = 60
ID_TOKEN_ALGORITHMS: Final = ("RS256", "ES256", "SM2")
"""What a Huren OP signs ID tokens with: RS256 (the OpenID Connect default), ES256 and SM2."""
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_REGION: Final = re.compile(r"\d{6}")


def acr_level(acr: Any) -> int:
    """The level of an ``acr`` value (0 for a value Huren does not know, which satisfies no requirement)."""
    return ACR_LEVELS.get(acr, 0) if isinstance(acr, str) else 0


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 clause 4.2 ``S256``: ``BASE64URL(SHA256(ASCII(code_verifier)))``; the verifier must be 43-128
    unreserved characters (clause 4.1)."""
    if not isinstance(verifier, str) or not _VERIFIER.fullmatch(verifier):
        raise IdTokenError(
            "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 clause 4.1)",
            code=Code.OIDC_INVALID_REQUEST,
        )
    return base64url.encode(hashlib.sha256(verifier.encode("ascii")).digest())


def pkce_matches(verifier: str | None, challenge: str, method: str) -> bool:
    """Whether ``verifier`` answers ``challenge``; only ``S256`` is accepted (``plain`` would let a stolen
    authorisation request reveal the verifier)."""
    if method != "S256" or not isinstance(verifier, str):
        return False
    try:
        computed = pkce_challenge(verifier)
    except TrustError:
        return False
    return hmac.compare_digest(computed, challenge)


def pairwise_subject(sector_identifier: str, local_subject: str, salt: bytes) -> str:
    """Clause 8.1: a subject identifier per relying-party sector, ``SHA-256(sector || local id || salt)``, so two
    sectors cannot join their records on ``sub``; base64url, no padding."""
    digest = hashlib.sha256(sector_identifier.encode() + b"\x00" + local_subject.encode() + b"\x00" + salt).digest()
    return base64url.encode(digest)


def sector_of(redirect_uris: Sequence[str], sector_identifier_uri: str | None = None) -> str:
    """The sector of a client: the host of its ``sector_identifier_uri`` or of its (single-host) redirect URIs."""
    if sector_identifier_uri:
        return urlsplit(sector_identifier_uri).netloc
    hosts = {urlsplit(uri).netloc for uri in redirect_uris}
    if len(hosts) != 1:
        raise IdTokenError(
            "a client with redirect URIs on several hosts needs a sector_identifier_uri", code=Code.OIDC_INVALID_REQUEST
        )
    return hosts.pop()


def sign_id_token(claims: Mapping[str, Any], signer: Signer) -> str:
    """A compact ID token; ``kid`` is the RFC 7638 thumbprint of the signer's key (as in the OP's JWKS)."""
    payload = json.dumps(dict(claims), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return jose.sign_compact(payload, signer, headers={"typ": "JWT", "kid": jwk.thumbprint(signer.public_key)})


def at_hash(access_token: str, alg: str) -> str:
    """Clause 3.1.3.6: the left half of the hash of the access token (SHA-256 for RS256/ES256, SM3 for SM2)."""
    if alg == "SM2":
        digest = sm3.sm3(access_token.encode("ascii"))
    else:
        digest = hashlib.new(
            {"256": "sha256", "384": "sha384", "512": "sha512"}[alg[-3:]], access_token.encode()
        ).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class IdToken:
    """A validated ID token: its claims, the algorithm and the level of its ``acr``."""

    token: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def issuer(self) -> str:
        return str(self.claims["iss"])

    @property
    def acr(self) -> str | None:
        value = self.claims.get("acr")
        return value if isinstance(value, str) else None

    @property
    def level(self) -> int:
        return acr_level(self.claims.get("acr"))

    @property
    def region(self) -> str | None:
        value = self.claims.get(CLAIM_REGION)
        return value if isinstance(value, str) else None

    @property
    def issued_at(self) -> int:
        return int(self.claims["iat"])


def _refuse(message: str, code: Code = Code.ID_TOKEN_INVALID, **evidence: Any) -> IdTokenError:
    return IdTokenError(message, code=code, evidence=evidence)


def _check_times(claims: Mapping[str, Any], now: int) -> None:
    for name in ("exp", "iat"):
        if not isinstance(claims.get(name), int) or isinstance(claims.get(name), bool):
            raise _refuse(f"ID token {name} must be a NumericDate")
    if claims["exp"] <= now - CLOCK_SKEW:
        raise _refuse("ID token expired", exp=claims["exp"], now=now)
    if claims["iat"] > now + CLOCK_SKEW:
        raise _refuse("ID token issued in the future", iat=claims["iat"], now=now)


def _check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise _refuse("ID token is for another audience", expected=client_id, found=aud)
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise _refuse("ID token with several audiences must name this client in azp", expected=client_id)


def check_region(claims: Mapping[str, Any], allowed_regions: Collection[str]) -> None:
    """The citizen's region (and citizen ID, where released) is one the OP's trust chain allows it to assert."""
    region = claims.get(CLAIM_REGION)
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise _refuse("ID token has no huren_region (GB/T 2260 code)", found=region)
    if region not in allowed_regions:
        raise _refuse(
            f"the OP may not assert citizens of region {region} (its trust chain allows {sorted(allowed_regions)})",
            code=Code.METADATA_POLICY_VIOLATION,
            expected=sorted(allowed_regions),
            found=region,
        )
    citizen_id = claims.get(CLAIM_CITIZEN_ID)
    if citizen_id is not None and (not isinstance(citizen_id, str) or citizen_id[:2] != region[:2]):
        raise _refuse("huren_citizen_id is not of the asserted region", code=Code.METADATA_POLICY_VIOLATION)


def validate_id_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    jwks: Mapping[str, Any],
    now: int,
    nonce: str | None,
    algorithms: Sequence[str] = ID_TOKEN_ALGORITHMS,
    min_acr: str | None = None,
    allowed_regions: Collection[str] | None = None,
    keys: Callable[[str, str], PublicKey] | None = None,
) -> IdToken:
    """Validate an ID token as a relying party must (clause 3.1.3.7), against the OP's keys ``jwks`` taken from its
    validated trust chain; see the module docstring for every check. ``keys`` (``(kid, alg) -> key``) may stand in
    for ``jwks``: a relying party that caches the keys of a chain it validated once."""
    try:
        header, payload, signing_input, signature = jose.parse_compact(token)
    except TrustError as exc:
        raise _refuse(f"ID token is not a compact JWS: {exc.message}") from None
    alg = header.get("alg")
    if alg == "none" or (isinstance(alg, str) and alg.startswith("HS")) or alg not in algorithms:
        raise _refuse(
            f"ID token alg {alg!r} is not accepted", code=Code.UNSUPPORTED_ALGORITHM, allowed=list(algorithms)
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not isinstance(alg, str):
        raise _refuse("ID token header has no kid")
    try:
        jose.check_header(header, algorithms)
        key = keys(kid, alg) if keys is not None else federation.key_for(jwks, kid, alg)
        algorithm = jose.check_algorithm(alg, key)
        reason = jose._verify_raw(key, algorithm, signing_input, signature)
        if reason:
            raise _refuse(f"ID token signature does not verify ({alg}): {reason}", kid=kid)
        claims = strict_json.load_object(payload, "ID token")
    except IdTokenError:
        raise
    except TrustError as exc:
        raise _refuse(f"ID token signature: {exc.message}", kid=kid) from None
    if claims.get("iss") != issuer:
        raise _refuse("ID token is from another issuer", expected=issuer, found=claims.get("iss"))
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _refuse("ID token has no sub")
    _check_audience(claims, client_id)
    _check_times(claims, now)
    if nonce is not None and not (isinstance(claims.get("nonce"), str) and hmac.compare_digest(claims["nonce"], nonce)):
        raise _refuse("ID token nonce does not match the login's", found=claims.get("nonce"))
    if min_acr is not None and acr_level(claims.get("acr")) < acr_level(min_acr):
        raise _refuse(
            f"authentication level {claims.get('acr')} is below the required {min_acr}",
            code=Code.ACR_INSUFFICIENT,
            expected=min_acr,
            found=claims.get("acr"),
        )
    if allowed_regions is not None:
        check_region(claims, allowed_regions)
    return IdToken(token=token, header=header, claims=claims)
