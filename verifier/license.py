"""Offline verification of licence tokens, SD-JWT presentations and QR payloads.

Checks, in order (each becomes a :class:`~verifier.report.Check`):

1. **parse** — a compact JWS (``typ`` ``huren-license+jwt``), an ``HR1:`` QR payload (rebuilt into the exact JWS),
   or an SD-JWT (``~``-separated, ``typ`` ``dc+sd-jwt``).
2. **issuer key** — from ``x5c`` (its chain validated at the token's ``iat`` with purpose ``license-issuer``) or,
   without ``x5c`` (the compact form, the default, and QR codes), from the trust list: the ``LICENSE_ISSUER``
   service certificate whose key has the RFC 7638 thumbprint ``kid`` and, when the header has ``x5t#S256``, whose
   SHA-256 it is; ``jwk``/``jku``/``x5u`` headers, ``none``, HMAC and unknown ``crit`` are refused.
3. **signature** — through the JOSE layer (``alg`` must fit the key).
4. **issuer authorised** — the issuer is a ``LICENSE_ISSUER`` service granted at ``iat`` whose scope lists the
   licence type, and the token's ``iss``/issuer code are that service's (trust list); an issuer certificate
   revoked for key compromise fails whenever it was revoked.
5. **claims** — the GB/T 36904 identifier is valid and agrees with the type and issuer; the holder code is valid
   for its code type; the fields fit the catalogue's schema of the type (QR tokens may omit long fields and carry
   their digest instead).
6. **validity** — ``nbf`` ≤ validation time < ``exp``.
7. **status** — the issuer's Status List Token for the token's ``status.status_list.uri``, from the bundle,
   signed by the same issuer key (or by the current key of the same ``LICENSE_ISSUER`` service: a re-keyed issuer
   signs its lists with its new key) and unexpired at the validation time: 0 valid, 1 revoked, 2 suspended (3 is not
   valid); a list issued after the validation time that shows the licence revoked or suspended is INDETERMINATE /
   REVOKED_NO_POE (:func:`_status`).
8. **disclosures / key binding** (SD-JWT) — RFC 9901 processing; a KB-JWT's nonce and audience when required.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from asn1crypto import x509

from trust.crypto import base64url, jwk
from trust.crypto.errors import EncodingError, InputError, TrustError
from trust.crypto.keys import PublicKey, public_key_from_spki
from trust.formats import identifiers, jose, sdjwt, status_list
from trust.formats import license_catalogue as catalogue
from trust.formats import license_token as token
from trust.formats import x509 as cx
from trust.formats.crl import load_crl
from trust.formats.sdjwt import vc
from trust.formats.x509 import utc_time
from verifier.certificate import verify_certificate
from verifier.context import VerificationContext
from verifier.report import Check, Indication, Report, ReportBuilder, Result, SubIndication

ALGORITHMS: Final = ("SM2", "RS256", "PS256", "ES256")
TOKEN_TYP: Final = token.TYP
STATUS_LIST_LEEWAY: Final = 60
"""Seconds by which a status list may be issued after the validation time and still count as issued then (clocks)."""


@dataclass(frozen=True)
class KeyBindingRequest:
    nonce: str
    audience: str


AUTHENTICATION: Final = ("parse", "issuer-key", "signature")
"""The checks that establish who signed the token (steps 1-3); SD-JWT adds :data:`SD_JWT_AUTHENTICATION`."""
SD_JWT_AUTHENTICATION: Final = ("disclosures", "key-binding")
CONTENT: Final = ("issuer-authorised", "claims", "validity", "status")
"""The checks of what an authenticated token says (steps 4-7; an SD-JWT VC adds ``type`` first): each runs and is
reported whatever the others found."""


class _State(ReportBuilder):
    """The report of a token in the making; its bottom line is :func:`verifier.report.bottom_line` in the order the
    checks ran (authentication first, then the content in the order of :data:`CONTENT`)."""

    issuer_since: datetime | None = None  # the x5c certificate's notBefore (how new the issuer may be)

    def ok(self, name: str, detail: str) -> None:
        self.passed(name, detail)

    def record(self, failure: _Fail) -> None:
        self.failed(failure.check, failure.indication, failure.sub, failure.message)


class _Fail(Exception):
    """A check that failed: its name, indication, sub-indication and reason (internal). ``key``: the key the token
    names in ``x5c`` when the issuer-key check failed after reading it (its signature can still be checked)."""

    def __init__(self, indication: Indication, sub: SubIndication, check: str, message: str):
        super().__init__(message)
        self.indication, self.sub, self.check, self.message = indication, sub, check, message
        self.key: PublicKey | None = None


class _Unauthenticated(Exception):
    """The token's issuer could not be established (its failures are recorded already); the argument names the
    check that failed first (internal)."""


def looks_like_token(data: bytes) -> str | None:
    """``jws``, ``sd-jwt`` or ``qr`` if ``data`` looks like one of them (ASCII, no binary)."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if text.startswith(token.QR_PREFIX):
        return "qr"
    if "~" in text and text.count(".") >= 2:
        return "sd-jwt"
    if text.count(".") == 2 and text.startswith("ey"):
        return "jws"
    return None


def verify_license(
    data: bytes | str,
    ctx: VerificationContext,
    *,
    key_binding: KeyBindingRequest | None = None,
    full_fields: Mapping[str, Any] | None = None,
) -> Report:
    """Verify a licence token, SD-JWT presentation or ``HR1:`` QR payload offline (module docstring). Every check is
    reported: when the token cannot be authenticated (steps 1-3, and for an SD-JWT its disclosures and key binding),
    the checks of its content are reported as not run (an unauthenticated claim proves nothing); once it is, every
    content check runs, whatever the others found."""
    text = data.decode("ascii", errors="strict").strip() if isinstance(data, bytes) else data.strip()
    form = looks_like_token(text.encode())
    if form is None:
        raise EncodingError("not a licence token, SD-JWT or HR1 QR payload")
    kind = {"jws": "license-token", "qr": "license-qr", "sd-jwt": "license-sd-jwt"}[form]
    state = _State(kind, ctx.validation_time)
    if form == "qr":
        text = token.from_qr(text)
        state.ok("parse", "HR1 QR payload rebuilt into a compact JWS")
    content = ("type", *CONTENT) if form == "sd-jwt" else CONTENT
    authentication = (*AUTHENTICATION, *SD_JWT_AUTHENTICATION) if form == "sd-jwt" else AUTHENTICATION
    try:
        if form == "sd-jwt":
            state.ok("parse", "SD-JWT presentation")
            claims, _header, key, issuer_entry = _verify_sd_jwt(text, ctx, state, key_binding)
        else:
            claims, key, issuer_entry = _verify_jws(text, form, ctx, state)
    except (_Fail, _Unauthenticated) as stop:
        if isinstance(stop, _Fail):
            state.record(stop)
        first = stop.check if isinstance(stop, _Fail) else str(stop)
        state.not_run(authentication, f"the {first} check failed")
        state.not_run(content, "the token is not authenticated: what it claims proves nothing")
        return state.build(warnings=ctx.warnings)
    raw = claims.get("license")
    license: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    state.subject = f"{license.get('id', '?')} ({(license.get('holder') or {}).get('name', '?')})"
    steps: list[Callable[[], None]] = [
        lambda: _authorised(claims, issuer_entry, ctx, state),
        lambda: _claims(claims, state, full_fields, selective=form == "sd-jwt"),
        lambda: _validity(claims, ctx, state),
        lambda: _status(claims, _status_keys(key, issuer_entry, ctx), ctx, state),
    ]
    if form == "sd-jwt":
        steps.insert(0, lambda: _credential_type(claims, ctx, state))
    for step in steps:
        try:
            step()
        except _Fail as failure:
            state.record(failure)
    return state.build(warnings=ctx.warnings)


def _verify_jws(text: str, form: str, ctx: VerificationContext, state: _State) -> tuple[dict[str, Any], PublicKey, Any]:
    """Steps 1-3 of a compact JWS (or the JWS a QR payload rebuilds): its claims, the issuer key and trust-list
    entry."""
    header, body = token.parse_unverified(text)
    if form != "qr":
        state.ok("parse", "compact JWS")
    if header.get("typ") != TOKEN_TYP:
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            "parse",
            f"token typ is {header.get('typ')!r}, expected {TOKEN_TYP!r}",
        )
    try:
        key, issuer_entry = _issuer_key(header, body, ctx, state)
    except _Fail as failure:
        if failure.key is None:
            raise
        # The issuer is not established, but the token names its key (x5c): a signature that does not verify with
        # it is a forgery whatever the trust list says (TOTAL_FAILED), one that does is still unauthenticated.
        state.record(failure)
        _signature(text, failure.key, header, state, trusted=False)
        raise _Unauthenticated(failure.check) from None
    _signature(text, key, header, state, trusted=True)
    return body, key, issuer_entry


def _signature(text: str, key: PublicKey, header: Mapping[str, Any], state: _State, *, trusted: bool) -> None:
    try:
        jose.verify_compact(text, lambda _h: key, algorithms=ALGORITHMS)
    except TrustError as exc:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, "signature", exc.message) from None
    whose = f"the issuer key {header.get('kid', '')}" if trusted else "the x5c key (its issuer is not established)"
    state.ok("signature", f"{header.get('alg')} signature verifies with {whose}")


# --- key resolution ----------------------------------------------------------------------------------------


def _issued_at(body: Mapping[str, Any]) -> datetime:
    iat = body.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "claims", "token has no numeric iat")
    return datetime.fromtimestamp(iat, UTC)


def _certificate_kid(der: bytes, ctx: VerificationContext) -> str | None:
    """The RFC 7638 thumbprint of a certificate's key (what a token's ``kid`` names), ``None`` if the certificate
    or its key cannot be read; once per DER and memo (a failure is worked out again next time, never kept)."""
    key = ("license-kid", ctx.memo.digest(der))
    kid = ctx.memo.facts.get(key)
    if kid is None:
        try:
            kid = jwk.thumbprint(cx.public_key(ctx.memo.certificate(der)))
        except TrustError:
            return None
        ctx.memo.facts.put(key, kid)
    return str(kid)


def _issuer_key(
    header: Mapping[str, Any], body: Mapping[str, Any], ctx: VerificationContext, state: _State
) -> tuple[PublicKey, Any]:
    try:
        jose.check_header(header, ALGORITHMS)
    except TrustError as exc:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "header", exc.message) from None
    issued_at = _issued_at(body)
    kid = header.get("kid")
    x5t = header.get("x5t#S256")
    if x5t is not None and not isinstance(x5t, str):
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "header", "x5t#S256 must be a string")
    entry = _find_service_by_kid(ctx, kid, x5t) if isinstance(kid, str) else None
    x5c = header.get("x5c")
    if x5c is not None:
        if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c) or len(x5c) > 8:
            raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "issuer-key", "x5c is malformed")
        try:
            certs = [ctx.memo.certificate(base64.b64decode(c, validate=True)) for c in x5c]
        except (ValueError, TrustError) as exc:
            raise _Fail(
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "issuer-key",
                f"x5c certificate unreadable: {exc}",
            ) from None
        key = cx.public_key(certs[0])
        try:
            return _x5c_issuer(certs, key, kid, x5t, entry, issued_at, ctx, state)
        except _Fail as failure:
            failure.key = key
            raise
    if entry is None:
        named = f"kid {kid!r}" if x5t is None else f"kid {kid!r} and x5t#S256 {x5t!r}"
        if ctx.newer_than_bundle(issued_at, certificate=False):  # an issuer listed after the bundle was made, perhaps
            raise _Fail(
                Indication.INDETERMINATE,
                SubIndication.TRY_LATER,
                "issuer-key",
                f"no x5c, and no licence issuer certificate with {named} in the trust list: "
                + ctx.newer_bundle("the token (iat)", issued_at),
            )
        raise _Fail(
            Indication.INDETERMINATE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "issuer-key",
            f"no x5c, and no licence issuer certificate with {named} in the trust list",
        )
    _issuer, service = entry
    cert = ctx.memo.certificate(_kid_certificate(service, kid, ctx, x5t))
    report = verify_certificate(cert, _at(ctx, issued_at), purpose="license-issuer")
    if not report.passed:
        raise _Fail(
            report.indication,
            report.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            "issuer-key",
            f"issuer certificate from the trust list at iat: {report.errors[0] if report.errors else ''}",
        )
    _key_compromise(cert, ctx)
    state.ok("issuer-key", f"kid found in the trust list: service {service.id}, certificate valid at iat")
    return cx.public_key(cert), entry


def _x5c_issuer(
    certs: list[x509.Certificate],
    key: PublicKey,
    kid: Any,
    x5t: str | None,
    entry: Any,
    issued_at: datetime,
    ctx: VerificationContext,
    state: _State,
) -> tuple[PublicKey, Any]:
    """The issuer-key check of a token with ``x5c``: the header names that certificate, valid at ``iat``."""
    if x5t is not None and x5t != jose.x5t_s256(certs[0].dump()):
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            "issuer-key",
            "x5t#S256 does not name the x5c certificate",
        )
    if isinstance(kid, str) and kid != jwk.thumbprint(key):
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            "issuer-key",
            "kid does not name the x5c certificate's key",
        )
    chain_ctx = _at(ctx, issued_at, extra=certs[1:])
    report = verify_certificate(certs[0], chain_ctx, purpose="license-issuer")
    if not report.passed:
        raise _Fail(
            report.indication,
            report.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            "issuer-key",
            f"issuer certificate (x5c) at iat: {report.errors[0] if report.errors else ''}",
        )
    _key_compromise(certs[0], ctx)
    state.ok("issuer-key", f"x5c certificate {report.subject} valid at iat {issued_at.isoformat()}")
    state.issuer_since = utc_time(certs[0]["tbs_certificate"]["validity"]["not_before"].native)
    return key, entry if entry is not None else _find_service_by_cert(ctx, certs[0].dump())


def _find_service_by_kid(ctx: VerificationContext, kid: str | None, x5t: str | None = None) -> Any:
    """The first ``LICENSE_ISSUER`` service of the trust list holding a certificate whose key ``kid`` names (and, with
    ``x5t``, whose SHA-256 that is). With ``x5t#S256`` the certificate is found by its fingerprint in the list's index;
    with ``kid`` alone through an index of the services' key thumbprints, made once per trust list (and memo): the
    cost of a verification does not grow with the number of issuers (issue 15 item 4)."""
    if ctx.trust_list is None or not kid:
        return None
    if x5t is not None:
        try:
            digest = base64url.decode(x5t, "x5t#S256")
        except TrustError:
            return None
        found = ctx.trust_list.find_by_fingerprint(digest.hex(), "LICENSE_ISSUER")
        if found is not None and _kid_certificate(found[1], kid, ctx, x5t) is not None:
            return found
        return None
    for issuer, service in _kid_index(ctx).get(kid, ()):
        if _kid_certificate(service, kid, ctx) is not None:
            return issuer, service
    return None


def _kid_index(ctx: VerificationContext) -> dict[str, tuple[tuple[Any, Any], ...]]:
    """``kid`` → the ``LICENSE_ISSUER`` services (in list order) holding a certificate of that key, for tokens that
    carry no ``x5t#S256``; once per trust list object and memo (every listed certificate parsed once)."""
    trust_list = ctx.trust_list

    def compute() -> dict[str, tuple[tuple[Any, Any], ...]]:
        grouped: dict[str, list[tuple[Any, Any]]] = {}
        for issuer, service in trust_list.services("LICENSE_ISSUER") if trust_list is not None else ():
            ders = (service.certificate, *service.previous_certificates)
            for der, fingerprint in zip(ders, service.fingerprints, strict=True):
                named = _listed_kid(der, fingerprint, ctx)
                entries = grouped.setdefault(named, []) if named is not None else None
                if entries is not None and (not entries or entries[-1][1] is not service):
                    entries.append((issuer, service))
        return {named: tuple(entries) for named, entries in grouped.items()}

    return cast(dict[str, tuple[tuple[Any, Any], ...]], ctx.shared("license-kid-index", compute, trust_list))


def _listed_kid(der: bytes, fingerprint: str, ctx: VerificationContext) -> str | None:
    """The ``kid`` of a listed certificate's key (``fingerprint``: its SHA-256) for :func:`_kid_index`: only its
    SubjectPublicKeyInfo is read (lazily, not the whole certificate strictly: ~0.15 ms instead of ~1.3 ms, times 10^4
    licence issuers), and the answer is kept in the memo's own ``listed_kids`` table (not ``facts`` or
    ``certificates``: 10^4 entries would push out what verifications use), so the index of the next bundle's list —
    a new list object after every revocation — costs a lookup per certificate. The index is only a hint: a service it
    names is taken only once :func:`_kid_certificate` has read the certificate strictly (:func:`_certificate_kid`); a
    certificate this cannot read is read strictly here, so the index misses nothing the strict reading would find."""
    kid = ctx.memo.listed_kids.get(fingerprint)
    if kid is not None:
        return str(kid)
    try:
        info = x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"]
        kid = jwk.thumbprint(public_key_from_spki(info))
    except (TrustError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
        return _certificate_kid(der, ctx)
    ctx.memo.listed_kids.put(fingerprint, kid)
    return str(kid)


def _kid_certificate(service: Any, kid: str | None, ctx: VerificationContext, x5t: str | None = None) -> Any:
    """The service's certificate — its current one or one it held before a renewal — whose key ``kid`` names (and,
    with ``x5t``, whose SHA-256 is the token's ``x5t#S256``: a key certified twice has two certificates)."""
    for der in (service.certificate, *service.previous_certificates):
        if _certificate_kid(der, ctx) == kid and (x5t is None or jose.x5t_s256(der) == x5t):
            return der
    return None


def _find_service_by_cert(ctx: VerificationContext, der: bytes) -> Any:
    if ctx.trust_list is None:
        return None
    return ctx.trust_list.find_by_fingerprint(hashlib.sha256(der).hexdigest(), "LICENSE_ISSUER")


def _at(ctx: VerificationContext, moment: datetime, extra: list[x509.Certificate] | None = None) -> VerificationContext:
    from dataclasses import replace

    return replace(ctx, validation_time=moment, intermediates=(*ctx.intermediates, *(extra or [])), warnings=())


def _key_compromise(cert: x509.Certificate, ctx: VerificationContext) -> None:
    """A key-compromise revocation of the issuer certificate fails tokens whatever their claimed iat."""
    serial = cert.serial_number
    issuer = cert.issuer.dump()
    for der in ctx.crls:
        compromised = _key_compromised_serials(der, ctx)
        if compromised is None or compromised[0] != issuer:
            continue
        if serial in compromised[1]:
            raise _Fail(
                Indication.TOTAL_FAILED,
                SubIndication.REVOKED,
                "issuer-key",
                "the issuer certificate is revoked for key compromise: no token it signed can be trusted",
            )


def _key_compromised_serials(der: bytes, ctx: VerificationContext) -> tuple[bytes, frozenset[int]] | None:
    """A CRL's issuer (DER name) and the serial numbers it revokes for key compromise, ``None`` if it cannot be
    read (``trust.formats.crl.load_crl``: every field decoded); once per CRL and memo (a failure is not kept)."""
    key = ("license-key-compromise", ctx.memo.digest(der))
    value = ctx.memo.facts.get(key)
    if value is None:
        try:
            crl = load_crl(der)
        except TrustError:
            return None
        serials = frozenset(
            entry["user_certificate"].native
            for entry in crl["tbs_cert_list"]["revoked_certificates"]
            if entry.crl_reason_value is not None and entry.crl_reason_value.native == "key_compromise"
        )
        value = (bytes(crl["tbs_cert_list"]["issuer"].dump()), serials)
        ctx.memo.facts.put(key, value)
    return cast(tuple[bytes, frozenset[int]], value)


# --- SD-JWT ------------------------------------------------------------------------------------------------


def _verify_sd_jwt(
    text: str, ctx: VerificationContext, state: _State, key_binding: KeyBindingRequest | None
) -> tuple[dict[str, Any], dict[str, Any], PublicKey, Any]:
    resolved: dict[str, Any] = {}

    def resolve(header: dict[str, Any]) -> PublicKey:
        issuer_jwt = text.split("~", 1)[0]
        _h, body = token.parse_unverified(issuer_jwt)
        try:
            key, entry = _issuer_key(header, body, ctx, state)
        except _Fail as failure:
            if failure.key is None:
                raise
            resolved["untrusted"] = failure  # the x5c key still checks the signature (as in _verify_jws)
            return failure.key
        resolved["entry"] = entry
        resolved["key"] = key
        return key

    def untrusted() -> None:
        if "untrusted" in resolved:
            state.record(resolved["untrusted"])

    try:
        verified = sdjwt.verify(
            text,
            resolve,
            algorithms=ALGORITHMS,
            expected_nonce=key_binding.nonce if key_binding else None,
            expected_audience=key_binding.audience if key_binding else None,
            require_key_binding=key_binding is not None,
            now=ctx.validation_time,
            expected_typ="dc+sd-jwt",
        )
    except _Fail:
        raise
    except sdjwt.SdJwtSignatureInvalid as exc:
        untrusted()
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, "signature", exc.message) from None
    except TrustError as exc:
        if "untrusted" in resolved:  # the issuer is not established: the rest of the SD-JWT is not judged
            untrusted()
            raise _Unauthenticated(resolved["untrusted"].check) from None
        if isinstance(exc, sdjwt.KeyBindingError):
            raise _Fail(
                Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, "key-binding", exc.message
            ) from None
        if isinstance(exc, sdjwt.SdJwtExpired):
            raise _Fail(Indication.TOTAL_FAILED, SubIndication.EXPIRED, "validity", exc.message) from None
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "disclosures", exc.message) from None
    if "untrusted" in resolved:
        untrusted()
        state.ok(
            "signature",
            f"{verified.algorithm.jose} signature verifies with the x5c key (its issuer is not established)",
        )
        raise _Unauthenticated(resolved["untrusted"].check)
    state.ok("signature", f"{verified.algorithm.jose} issuer signature verifies")
    disclosed = [d.name for d in verified.disclosed if d.name]
    state.ok("disclosures", f"{len(verified.disclosed)} disclosures, each referenced once: {', '.join(disclosed)}")
    if verified.key_binding is not None:
        state.ok("key-binding", "KB-JWT verified (holder key, nonce, audience, sd_hash)")
    elif key_binding is None:
        state.checks.append(Check("key-binding", Result.SKIPPED, "no key binding requested"))
    state.details["disclosed"] = disclosed
    return verified.payload, verified.header, resolved["key"], resolved.get("entry")


def _credential_type(claims: Mapping[str, Any], ctx: VerificationContext, state: _State) -> None:
    """SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): ``vct`` names the licence type of the ``license`` claim, and its type
    metadata, resolved offline from the bundle, matches ``vct#integrity`` (:mod:`trust.formats.sdjwt.vc`)."""
    vct = claims.get("vct")
    license_type = (claims.get("license") or {}).get("type") if isinstance(claims.get("license"), Mapping) else None
    if not isinstance(vct, str) or not vct:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "type", "SD-JWT VC without a vct claim")
    if vc.type_code_of(vct) != license_type:
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            "type",
            f"vct {vct!r} does not name the licence type {license_type!r}",
        )
    document = next((t["document"] for t in ctx.type_metadata if t.get("vct") == vct), None)
    if document is None:
        state.checks.append(Check("type", Result.SKIPPED, f"vct {vct}: no type metadata in the bundle"))
        return
    if document.get("vct") != vct:
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            "type",
            "the bundle's type metadata names another vct",
        )
    claimed = claims.get("vct#integrity")
    if claimed is not None:
        try:
            matches = vc.integrity_matches(vc.encode(document), claimed)
        except TrustError as exc:
            raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "type", exc.message) from None
        if not matches:
            raise _Fail(
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "type",
                f"vct#integrity does not match the type metadata of {vct} in the bundle",
            )
    state.ok("type", f"vct {vct}: type metadata from the bundle{' (integrity checked)' if claimed else ''}")


# --- claims, authorisation, validity, status ---------------------------------------------------------------


def _authorised(claims: Mapping[str, Any], entry: Any, ctx: VerificationContext, state: _State) -> None:
    license = claims.get("license")
    if not isinstance(license, Mapping):
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "claims", "token has no license claim")
    if ctx.trust_list is None:
        state.checks.append(Check("issuer-authorised", Result.SKIPPED, "no trust list: anchors only"))
        state.warnings.append("issuer authorisation not checked (no bundle)")
        return
    if entry is None:
        since = state.issuer_since or _issued_at(claims)
        newer = ctx.newer_than_bundle(since, certificate=state.issuer_since is not None)
        if newer:  # a licence issuer listed after the bundle was made, perhaps
            raise _Fail(
                Indication.INDETERMINATE,
                SubIndication.TRY_LATER,
                "issuer-authorised",
                "the signing key is not a licence issuer of the trust list: "
                + ctx.newer_bundle("its certificate" if state.issuer_since else "the token (iat)", since),
            )
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            "issuer-authorised",
            "the signing key is not a licence issuer of the trust list",
        )
    _issuer, service = entry
    issued_at = _issued_at(claims)
    standing = ctx.trust_list.standing(service.certificate, issued_at, "LICENSE_ISSUER")
    if not standing.usable:
        raise _Fail(
            Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, "issuer-authorised", standing.reason
        )
    scope = service.scope or {}
    if license.get("type") not in (scope.get("license_types") or []):
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            "issuer-authorised",
            f"issuer {scope.get('name', service.id)} is not authorised for licence type {license.get('type')}",
        )
    if claims.get("iss") != scope.get("issuer_id") or license.get("issuer") != scope.get("authority"):
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            "issuer-authorised",
            "the token's iss or issuer code is not the licence issuer that signed it",
        )
    state.ok(
        "issuer-authorised",
        f"{scope.get('name', service.id)} authorised for {license.get('type')} at iat ({standing.reason})",
    )


def _claims(
    claims: Mapping[str, Any], state: _State, full_fields: Mapping[str, Any] | None, *, selective: bool = False
) -> None:
    license = claims.get("license")
    if not isinstance(license, Mapping):
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "claims", "token has no license claim")
    try:
        parsed = identifiers.parse(license.get("id"))
    except TrustError as exc:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "claims", exc.message) from None
    if (
        claims.get("jti") != license.get("id")
        or parsed.type_code != license.get("type")
        or parsed.issuer_code != license.get("issuer")
    ):
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            "claims",
            "identifier disagrees with the token's type, issuer or jti",
        )
    holder = license.get("holder") or {}
    try:
        identifiers.validate_holder(str(holder.get("code")), str(holder.get("code_type")))
    except TrustError as exc:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "claims", exc.message) from None
    fields = dict(license.get("fields") or {})
    omitted = fields.pop("_omitted", None)
    digest = fields.pop("_digest", None)
    complete = digest is None and not selective  # an SD-JWT presentation shows only what its holder disclosed
    if digest is not None and full_fields is not None:
        if token.fields_digest(full_fields) != digest:
            raise _Fail(
                Indication.TOTAL_FAILED,
                SubIndication.HASH_FAILURE,
                "claims",
                "the full fields do not match the digest in the QR token",
            )
        fields, complete = dict(full_fields), True
    elif digest is not None:
        state.details["omitted_fields"] = omitted
    try:
        license_type = catalogue.get(str(license.get("type")))
    except TrustError:
        state.warnings.append(f"licence type {license.get('type')} is not in this verifier's catalogue")
        state.ok("claims", f"identifier {license.get('id')} valid")
        return
    try:
        if complete:
            catalogue.validate_fields(license_type, fields)
        else:
            _validate_present(license_type, fields)
    except TrustError as exc:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "claims", exc.message) from None
    state.details["type"] = f"{license_type.name} ({license_type.code})"
    state.details["fields"] = {license_type.label(k): v for k, v in fields.items() if k != "_sd"}
    scope = "all fields" if complete else "the fields present"
    state.ok("claims", f"identifier {license.get('id')} valid; holder code valid; {scope} fit {license_type.name}")


def _validate_present(license_type: catalogue.LicenseType, fields: Mapping[str, Any]) -> None:
    """Selective disclosure or a QR token: each field present must fit its schema; none may be unknown."""
    from jsonschema import Draft202012Validator

    for name, value in fields.items():
        if name == "_sd":
            continue
        spec = license_type.properties.get(name)
        if spec is None:
            raise InputError(f"field {name!r} is not a field of {license_type.name}")
        errors = list(Draft202012Validator(spec, format_checker=catalogue.FORMAT_CHECKER).iter_errors(value))
        if errors:
            raise InputError(f"field {license_type.label(name)} does not fit its schema: {errors[0].message}")


def _validity(claims: Mapping[str, Any], ctx: VerificationContext, state: _State) -> None:
    moment = ctx.validation_time.timestamp()
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if isinstance(nbf, int) and moment < nbf:
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.NOT_YET_VALID,
            "validity",
            f"licence valid from {datetime.fromtimestamp(nbf, UTC).isoformat()}",
        )
    if isinstance(exp, int) and moment >= exp:
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.EXPIRED,
            "validity",
            f"licence expired at {datetime.fromtimestamp(exp, UTC).isoformat()}",
        )
    until = datetime.fromtimestamp(exp, UTC).isoformat() if isinstance(exp, int) else "no end"
    state.ok("validity", f"valid at {ctx.validation_time.isoformat()} (until {until})")


def _status_keys(key: PublicKey, entry: Any, ctx: VerificationContext) -> dict[str | None, PublicKey]:
    """The keys that may sign the licence's status list, by ``kid``: the key that signed the licence, and the current
    key of its ``LICENSE_ISSUER`` service. A re-keyed issuer (``trust keys rekey license-issuer``) signs every status
    list with its new key, also the lists of licences its retired key signed; without the current key those licences
    would lose their status check (issue 20 item 3)."""
    keys: dict[str | None, PublicKey] = {None: key}
    if entry is not None:
        current = entry[1].certificate
        named = _certificate_kid(current, ctx)
        if named is not None:
            keys[named] = cx.public_key(ctx.memo.certificate(current))
    return keys


def _by_kid(keys: Mapping[str | None, PublicKey], header: Mapping[str, Any]) -> PublicKey:
    kid = header.get("kid")
    return keys.get(kid if isinstance(kid, str) else None, keys[None])


def _status(
    claims: Mapping[str, Any], keys: Mapping[str | None, PublicKey], ctx: VerificationContext, state: _State
) -> None:
    """Step 7, judged at the validation time: the status list must not have expired by then. A list issued after it
    (a current bundle, an earlier ``--at``) is later evidence: "valid" there means not revoked by then either, but a
    licence it shows revoked or suspended may still have been valid at the validation time, and nothing says when
    its status changed (INDETERMINATE / REVOKED_NO_POE, as for a certificate revoked after a claimed signing time)."""
    try:
        uri, index = status_list.parse_status_claim(claims)
    except TrustError as exc:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "status", exc.message) from None
    tokens = {entry.get("uri"): entry.get("token") for entry in getattr(ctx, "status_lists", ())}
    text = tokens.get(uri)
    if not isinstance(text, str):
        raise _Fail(
            Indication.INDETERMINATE,
            SubIndication.TRY_LATER,
            "status",
            f"no status list {uri} available offline (give a current bundle)",
        )
    moment = int(ctx.validation_time.timestamp())
    try:
        issued = token.parse_unverified(text)[1].get("iat")  # only to judge a list issued after the moment
        judged = max(moment, issued) if isinstance(issued, int) and not isinstance(issued, bool) else moment
        verified = status_list.verify_token_claims(
            text, lambda h: _by_kid(keys, h), expected_uri=uri, now=judged, algorithms=ALGORITHMS
        )
        value = verified.status(index)
    except TrustError as exc:
        raise _Fail(
            Indication.INDETERMINATE,
            SubIndication.TRY_LATER,
            "status",
            f"status list {uri} unusable at {ctx.validation_time.isoformat()}: {exc.message} (give a bundle current "
            "at the validation time)",
        ) from None
    later = verified.iat > moment + STATUS_LIST_LEEWAY
    issued_at = datetime.fromtimestamp(verified.iat, UTC).isoformat()
    if value == status_list.Status.VALID:
        note = f", issued {issued_at}, after the validation time" if later else ""
        state.ok("status", f"valid in status list {uri} at index {index}{note}")
        return
    named: dict[int, str] = {status_list.Status.INVALID: "revoked", status_list.Status.SUSPENDED: "suspended"}
    what = named.get(value)
    if later:
        raise _Fail(
            Indication.INDETERMINATE,
            SubIndication.REVOKED_NO_POE,
            "status",
            f"licence {what or f'status {value}'} in status list {uri} issued {issued_at}, after the validation time "
            f"{ctx.validation_time.isoformat()}: nothing shows whether it was already so then",
        )
    if value == status_list.Status.INVALID:
        raise _Fail(Indication.TOTAL_FAILED, SubIndication.REVOKED, "status", f"licence revoked (status list {uri})")
    if value == status_list.Status.SUSPENDED:
        raise _Fail(
            Indication.TOTAL_FAILED,
            SubIndication.REVOKED,
            "status",
            f"licence suspended (status list {uri}); it may be reinstated",
        )
    raise _Fail(Indication.TOTAL_FAILED, SubIndication.REVOKED, "status", f"licence has status {value}: not valid")


__all__ = ["KeyBindingRequest", "looks_like_token", "verify_license"]
