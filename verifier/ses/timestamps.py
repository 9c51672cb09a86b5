"""RFC 3161 time-stamps inside seals (version 5) and signatures: the token over the signature value
(:func:`trust.formats.tsp.verify_token`), its TSA chain and the trust list's TSA service at genTime, and the TSA's
path still standing at the validation time (issue sesltv).

A token's genTime is the TSA's own word: it proves a time only while the TSA's key is believed. So, as the PDF
verifier judges a signature time-stamp's TSA at the validation time (:mod:`verifier.pdf.verify`, check 6; ETSI EN 319
102-1: a time-stamp is a proof of existence only if its own validation succeeds at the validation time, or at an
earlier time that a later proof of existence of the token establishes), a certificate of the TSA's path that expired
before the validation time makes the token no proof (INDETERMINATE / OUT_OF_BOUNDS_NO_POE), and so does a TSA path
revoked by then, whatever the reason (INDETERMINATE / REVOKED_NO_POE). GB/T 38540 has no later proof for the token:
an ``SES_Signature`` and a ``SESeal`` carry one ``timeStamp`` and no archive time-stamp. Only a REVOKED verdict of
the validation at the validation time counts: revocation data gone stale since proves nothing either way (the
unstamped signer's rule, :func:`verifier.ses.certificates.certificate_at`).
"""

from __future__ import annotations

from asn1crypto import cms, x509

from trust.crypto.errors import (
    InvalidSignature,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.formats import tsp as tsa
from trust.formats.trustlist import TrustList
from verifier.certificate import may_be_revoked
from verifier.context import Memo, VerificationContext
from verifier.report import Check, Indication, Report, SubIndication
from verifier.ses.certificates import certificate_finding, certificate_report, subject_of, with_certificates
from verifier.ses.checks import MALFORMED, failed, passed


def time_stamp_check(
    name: str, token: bytes, message: bytes, ctx: VerificationContext, what: str
) -> tuple[Check, tsa.VerifiedTimeStamp | None]:
    """An RFC 3161 token over ``message``: CMS signature, imprint, TSA certificate; then its chain and trust-list
    TSA service at genTime, and its path unexpired and unrevoked at the validation time (module docstring). Returns
    the check and, when everything holds, the verified time-stamp (a proof of existence at its genTime)."""
    listed = [_service_cert(der, ctx.memo) for der in _listed_tsa_certificates(token, ctx)]
    candidates = tuple(cert for cert in listed if cert is not None)
    try:
        stamp = tsa.verify_token(token, message=message, certificates=candidates)
    except InvalidSignature as exc:
        sub = SubIndication.HASH_FAILURE if "imprint" in exc.evidence else SubIndication.SIG_CRYPTO_FAILURE
        return failed(name, Indication.TOTAL_FAILED, sub, f"time-stamp over {what}: {exc.message}"), None
    except UnsupportedAlgorithm as exc:
        return failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"time-stamp over {what}: {exc.message}",
        ), None
    except TrustError as exc:
        return failed(
            name, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"time-stamp over {what}: {exc.message}"
        ), None
    except MALFORMED as exc:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"time-stamp over {what}: malformed token ({type(exc).__name__})",
        ), None
    report = certificate_report(stamp.tsa_certificate, ctx, stamp.gen_time, "timestamping", "tsa", stamp.certificates)
    if not report.passed:
        check = certificate_finding(name, report, "TSA", stamp.gen_time)
        return check, None
    unbelieved = _not_believed_now(name, stamp, report, ctx, what)
    if unbelieved is not None:
        return unbelieved, None
    return passed(
        name,
        f"RFC 3161 time-stamp at {stamp.gen_time.isoformat()} by {subject_of(stamp.tsa_certificate)}"
        f" ({stamp.hash_algorithm} imprint of {what}); TSA chain and TSA service valid then, the TSA's path "
        f"unexpired and not revoked at the validation time {ctx.validation_time.isoformat()}",
    ), stamp


def _not_believed_now(
    name: str, stamp: tsa.VerifiedTimeStamp, report: Report, ctx: VerificationContext, what: str
) -> Check | None:
    """Why the token is no proof of existence although its TSA path was valid at genTime (module docstring), or
    ``None``: a certificate of the path expired before the validation time; the TSA's path revoked by then."""
    now = ctx.validation_time
    gen = stamp.gen_time.isoformat()
    expired = [link for link in report.chain if link.not_after is not None and link.not_after < now]
    if expired:
        return failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.OUT_OF_BOUNDS_NO_POE,
            f"time-stamp over {what} at {gen}: {expired[0].subject} (TSA path) expired on "
            f"{expired[0].not_after.isoformat() if expired[0].not_after else '?'}, before the validation time "
            f"{now.isoformat()}; genTime is the TSA's own word and nothing later proves the token existed while its "
            "key was valid (no archive time-stamp in GB/T 38540), so it proves no time",
        )
    extended = with_certificates(ctx, stamp.certificates)
    if may_be_revoked(stamp.tsa_certificate, extended):  # only a REVOKED verdict at the validation time matters
        later = certificate_report(stamp.tsa_certificate, ctx, now, "timestamping", "tsa", stamp.certificates)
        if later.sub_indication is SubIndication.REVOKED:
            return failed(
                name,
                Indication.INDETERMINATE,
                SubIndication.REVOKED_NO_POE,
                f"time-stamp over {what} at {gen}: the TSA's path was revoked after genTime, before the validation "
                f"time {now.isoformat()}; genTime is the TSA's own word and nothing proves the token predates the "
                f"revocation, so it proves no time: {'; '.join(later.errors) or 'revoked'}",
            )
    return None


def _listed_tsa_certificates(token: bytes, ctx: VerificationContext) -> list[bytes]:
    """The trust list's TSA service certificates that may be the token's signer, in list order: those whose issuer and
    serial number, or subject key identifier, the token's one ``sid`` names — found in an index made once per trust
    list and memo (issue 15 item 4: every TSA certificate was read for every time-stamp, and with more listed TSAs
    than the memo's certificate table holds, parsed again each time). What :func:`trust.formats.cms` picks from these
    is what it picked from all of them (the first that ``sid`` names); a token whose ``sid`` cannot be read here gets
    every listed certificate, as before."""
    trust_list = ctx.trust_list
    if trust_list is None:
        return []
    index, unread, everything = ctx.shared("tsa-sid-index", lambda: _tsa_index(trust_list), trust_list)
    try:
        signers = cms.ContentInfo.load(token)["content"]["signer_infos"]
        if len(signers) != 1:
            return list(everything)
        sid = signers[0]["sid"]
        if sid.name == "issuer_and_serial_number":
            key: tuple[object, ...] = (sid.chosen["serial_number"].native, sid.chosen["issuer"].hashable)
        else:
            key = ("ski", bytes(sid.chosen.native))
    except MALFORMED:
        return list(everything)
    return [everything[at] for at in sorted({*index.get(key, ()), *unread})]


def _tsa_index(trust_list: TrustList) -> tuple[dict[tuple[object, ...], list[int]], list[int], tuple[bytes, ...]]:
    """(issuer and serial number, or subject key identifier) → the positions of the listed TSA certificates; the
    positions of those whose fields cannot be read lazily (always candidates: the strict reading decides); every TSA
    certificate in list order."""
    index: dict[tuple[object, ...], list[int]] = {}
    unread: list[int] = []
    everything = tuple(service.certificate for _issuer, service in trust_list.services("TSA"))
    for at, der in enumerate(everything):
        try:
            cert = x509.Certificate.load(der)
            keys: list[tuple[object, ...]] = [(cert.serial_number, cert.issuer.hashable)]
            if cert.key_identifier is not None:
                keys.append(("ski", bytes(cert.key_identifier)))
        except MALFORMED:
            unread.append(at)
            continue
        for key in keys:
            index.setdefault(key, []).append(at)
    return index, unread, everything


def _service_cert(der: bytes, memo: Memo) -> x509.Certificate | None:
    try:
        return memo.certificate(der)
    except (TrustError, *MALFORMED):
        return None
