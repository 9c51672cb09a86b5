"""RFC 3161 time-stamps inside seals (version 5) and signatures: the token over the signature value
(:func:`trust.formats.tsp.verify_token`), its TSA chain and the trust list's TSA service at genTime.
"""

from __future__ import annotations

from asn1crypto import x509

from trust.crypto.errors import (
    InvalidSignature,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.formats import tsp as tsa
from verifier.context import Memo, VerificationContext
from verifier.report import Check, Indication, SubIndication
from verifier.ses.certificates import certificate_finding, certificate_report, subject_of
from verifier.ses.checks import MALFORMED, failed, passed


def time_stamp_check(
    name: str, token: bytes, message: bytes, ctx: VerificationContext, what: str
) -> tuple[Check, tsa.VerifiedTimeStamp | None]:
    """An RFC 3161 token over ``message``: CMS signature, imprint, TSA certificate; then its chain and trust-list
    TSA service at genTime. Returns the check and, when everything holds, the verified time-stamp."""
    listed = (
        [_service_cert(service.certificate, ctx.memo) for _issuer, service in ctx.trust_list.services("TSA")]
        if ctx.trust_list is not None
        else []
    )
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
    return passed(
        name,
        f"RFC 3161 time-stamp at {stamp.gen_time.isoformat()} by {subject_of(stamp.tsa_certificate)}"
        f" ({stamp.hash_algorithm} imprint of {what}); TSA chain and TSA service valid then",
    ), stamp


def _service_cert(der: bytes, memo: Memo) -> x509.Certificate | None:
    try:
        return memo.certificate(der)
    except (TrustError, *MALFORMED):
        return None
