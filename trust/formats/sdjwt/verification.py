"""Verifying an SD-JWT presentation (RFC 9901 clause 7): the issuer signature, the Disclosures, ``exp`` and ``nbf``, and
the Key Binding JWT (clause 7.3).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import (
    Code,
    InputError,
    InvalidKey,
    InvalidSignature,
    NotFoundError,
)
from trust.crypto.keys import PublicKey
from trust.formats import jose
from trust.formats.sdjwt.disclosures import (
    DEFAULT_LEEWAY,
    DEFAULT_MAX_KB_AGE,
    KB_JWT_TYP,
    ClaimPath,
    Disclosure,
    digest,
    strict_loads,
)
from trust.formats.sdjwt.errors import (
    AudienceMismatch,
    KeyBindingError,
    KeyBindingMissing,
    KeyBindingNotFresh,
    KeyBindingSignatureInvalid,
    MalformedSdJwt,
    NonceMismatch,
    SdHashMismatch,
    SdJwtExpired,
    SdJwtSignatureInvalid,
)
from trust.formats.sdjwt.processing import decode_all, find_holder_key, payload_of, process, sd_alg_of
from trust.formats.sdjwt.serialization import Parsed, parse


@dataclass(frozen=True)
class VerifiedSdJwt:
    """A verified SD-JWT: the processed claims and the evidence behind them."""

    payload: dict[str, Any]  # the claims with the disclosed ones in place, _sd/_sd_alg and decoys removed
    disclosed: tuple[Disclosure, ...]  # in presentation order
    header: dict[str, Any]  # the issuer JWT's protected header
    issuer_key: PublicKey
    algorithm: SignatureAlgorithm
    holder_key: PublicKey | None  # cnf.jwk, if the SD-JWT is bound to a holder key
    key_binding: dict[str, Any] | None  # the verified KB-JWT payload, if one was presented
    paths: Mapping[str, ClaimPath]  # digest of each disclosed Disclosure -> where its claim sits

    def path_of(self, disclosure: Disclosure) -> ClaimPath:
        """Where ``disclosure`` put its claim (array indexes count the elements as issued)."""
        return self.paths[disclosure.digest]


def _timestamp(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise InputError("now must be an aware datetime (or seconds since the epoch)")
        return now.timestamp()
    return float(now)


def _numeric(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedSdJwt(f"{name} must be a NumericDate (seconds since the epoch)")
    return float(value)


def _verify_issuer(
    parsed: Parsed, resolve_issuer_key: Callable[[dict[str, Any]], PublicKey], algorithms: Sequence[str]
) -> tuple[dict[str, Any], PublicKey, SignatureAlgorithm]:
    """RFC 9901 clause 7.1 step 2: the issuer signature (for the general form, see :func:`verify`)."""
    try:
        if parsed.form == "compact":
            verified = jose.verify_compact(parsed.issuer_jws, resolve_issuer_key, algorithms=algorithms)
            header = verified.header
            if header.get("typ") == KB_JWT_TYP:
                raise MalformedSdJwt("the issuer-signed JWT is typed kb+jwt")
            return header, verified.key, verified.algorithm
        assert parsed.document is not None
        entries = parsed.document["signatures"] if parsed.form == "general" else [parsed.document]
        stripped = {
            "payload": parsed.payload,
            "signatures": [{"protected": e["protected"], "signature": e["signature"]} for e in entries],
        }
        _payload, signatures = jose.parse_json(stripped)
        found: tuple[dict[str, Any], PublicKey, SignatureAlgorithm] | None = None
        for entry, item in zip(entries, signatures, strict=True):
            hint = entry.get("header", {}).get("kid")
            lookup = dict(item.header)
            if "kid" in lookup and hint is not None:
                raise MalformedSdJwt("kid is both in the protected and in the unprotected header")
            if hint is not None:
                lookup["kid"] = hint  # a lookup hint only: the key found must still verify the signature
            try:
                key = resolve_issuer_key(lookup)
            except NotFoundError:
                if parsed.form == "flattened":
                    raise
                continue  # a signature by a key this verifier does not know
            algorithm = jose.verify_json_signature(item, key, algorithms=algorithms)
            if item.header.get("typ") == KB_JWT_TYP:
                raise MalformedSdJwt("the issuer-signed JWT is typed kb+jwt")
            if found is None:
                found = (item.header, key, algorithm)
        if found is None:
            raise NotFoundError("none of the SD-JWT's signatures is by a key this verifier knows")
        return found
    except InvalidSignature as exc:
        raise SdJwtSignatureInvalid(f"the issuer signature of the SD-JWT does not verify: {exc.message}") from None


def verify(
    presentation: str | bytes | Mapping[str, Any],
    resolve_issuer_key: Callable[[dict[str, Any]], PublicKey],
    *,
    algorithms: Sequence[str],
    expected_nonce: str | None = None,
    expected_audience: str | None = None,
    require_key_binding: bool = False,
    now: float | datetime | None = None,
    max_kb_age: float = DEFAULT_MAX_KB_AGE,
    leeway: float = DEFAULT_LEEWAY,
    expected_typ: str | None = None,
    kb_algorithms: Sequence[str] | None = None,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB (compact, or JSON flattened/general) per RFC 9901 clause 7.

    ``resolve_issuer_key(header)`` returns the issuer's key for the protected header (raise
    :class:`~trust.crypto.errors.NotFoundError` for an unknown issuer). In the general JSON form every
    signature whose key resolves must verify and at least one must; an unprotected ``kid`` is passed to the
    resolver as a lookup hint. ``algorithms`` (and ``kb_algorithms``, default the same) are the allowed JWS
    ``alg`` values. With ``require_key_binding`` a KB-JWT must be present and ``expected_nonce`` and
    ``expected_audience`` are required; a KB-JWT that is present is always verified. ``expected_typ``, if
    given, must equal the issuer JWT's ``typ``. ``now`` (seconds or aware datetime) is the time of
    verification, for ``exp``/``nbf`` and the KB-JWT's ``iat`` (at most ``max_kb_age`` seconds old).

    Raises a :class:`~trust.crypto.errors.TrustError`: :class:`SdJwtError` subclasses for SD-JWT failures,
    the JOSE layer's errors for refused headers, algorithms and keys.
    """
    if require_key_binding and (expected_nonce is None or expected_audience is None):
        raise InputError(
            "require_key_binding needs expected_nonce and expected_audience to check the KB-JWT against",
            code=Code.USAGE,
        )
    at = _timestamp(now)
    parsed = parse(presentation)
    # Step 2: the issuer signature.
    header, issuer_key, algorithm = _verify_issuer(parsed, resolve_issuer_key, algorithms)
    if expected_typ is not None and header.get("typ") != expected_typ:
        raise MalformedSdJwt(
            f"the issuer JWT is typed {header.get('typ')!r}, expected {expected_typ!r}",
            evidence={"expected": expected_typ, "found": str(header.get("typ"))},
        )
    payload = payload_of(parsed)
    sd_alg = sd_alg_of(payload)
    # Step 3: the Disclosures and the digests.
    disclosures = decode_all(parsed.disclosures, sd_alg)
    processed = process(payload, disclosures)
    claims = processed.claims
    # Step 4: validity.
    if "exp" in claims and at >= _numeric(claims["exp"], "exp") + leeway:
        raise SdJwtExpired(f"the SD-JWT expired at {claims['exp']}", evidence={"exp": claims["exp"], "now": int(at)})
    if "nbf" in claims and at + leeway < _numeric(claims["nbf"], "nbf"):
        raise SdJwtExpired(
            f"the SD-JWT is not valid before {claims['nbf']}", evidence={"nbf": claims["nbf"], "now": int(at)}
        )
    holder_key = find_holder_key(claims, required=parsed.kb_jwt is not None or require_key_binding)
    # Clause 7.3: key binding.
    key_binding = None
    if parsed.kb_jwt is None:
        if require_key_binding:
            raise KeyBindingMissing("key binding is required and the presentation has no KB-JWT")
    else:
        if holder_key is None:
            raise KeyBindingError("a KB-JWT is presented but the SD-JWT has no cnf.jwk to check it with")
        key_binding = _verify_key_binding(
            parsed,
            holder_key,
            sd_alg,
            kb_algorithms if kb_algorithms is not None else algorithms,
            expected_nonce,
            expected_audience,
            at,
            max_kb_age,
            leeway,
        )
    result = VerifiedSdJwt(
        payload=claims,
        disclosed=tuple(disclosures),
        header=header,
        issuer_key=issuer_key,
        algorithm=algorithm,
        holder_key=holder_key,
        key_binding=key_binding,
        paths=dict(processed.paths),
    )
    return result


def _verify_key_binding(
    parsed: Parsed,
    holder_key: PublicKey,
    sd_alg: str,
    algorithms: Sequence[str],
    nonce: str | None,
    audience: str | None,
    at: float,
    max_age: float,
    leeway: float,
) -> dict[str, Any]:
    assert parsed.kb_jwt is not None
    try:
        verified = jose.verify_compact(parsed.kb_jwt, lambda _header: holder_key, algorithms=algorithms)
    except InvalidSignature as exc:
        raise KeyBindingSignatureInvalid(f"the KB-JWT is not signed by the holder key: {exc.message}") from None
    except InvalidKey as exc:
        if exc.code is not Code.KEY_MISMATCH:
            raise
        raise KeyBindingSignatureInvalid(f"the KB-JWT's alg does not fit the holder key: {exc.message}") from None
    if verified.header.get("typ") != KB_JWT_TYP:
        raise KeyBindingError(
            f"the KB-JWT must be typed kb+jwt, found {verified.header.get('typ')!r}",
            evidence={"expected": KB_JWT_TYP, "found": str(verified.header.get("typ"))},
        )
    body = strict_loads(verified.payload, "KB-JWT payload")
    if not isinstance(body, dict):
        raise MalformedSdJwt("the KB-JWT payload must be a JSON object")
    for name in ("nonce", "aud", "sd_hash"):
        if not isinstance(body.get(name), str):
            raise KeyBindingError(f"the KB-JWT lacks {name} (a string)")
    if "iat" not in body:
        raise KeyBindingError("the KB-JWT lacks iat")
    issued = _numeric(body["iat"], "KB-JWT iat")
    if nonce is not None and not hmac.compare_digest(body["nonce"].encode(), nonce.encode()):
        raise NonceMismatch("the KB-JWT nonce is not the one this verifier issued", evidence={"expected": nonce})
    if audience is not None and body["aud"] != audience:
        raise AudienceMismatch(
            f"the KB-JWT is for {body['aud']!r}, not for {audience!r}",
            evidence={"expected": audience, "found": body["aud"]},
        )
    if issued > at + leeway:
        raise KeyBindingNotFresh(
            f"the KB-JWT was issued in the future (iat {body['iat']})", evidence={"iat": body["iat"], "now": int(at)}
        )
    if issued < at - max_age - leeway:
        raise KeyBindingNotFresh(
            f"the KB-JWT is {int(at - issued)} s old; at most {int(max_age)} s are accepted",
            evidence={"iat": body["iat"], "now": int(at)},
        )
    expected_hash = digest(parsed.hash_input(), sd_alg)
    if not hmac.compare_digest(body["sd_hash"].encode(), expected_hash.encode()):
        raise SdHashMismatch(
            "the KB-JWT's sd_hash does not match the presented SD-JWT (other Disclosures or another token)",
            evidence={"expected": expected_hash, "found": body["sd_hash"]},
        )
    return body
