"""Signature values and certificates inside seals and signatures: the signature over the bytes as received, the
certificate's chain at a claimed time (:func:`verifier.certificate.verify_certificate`) and, when it may be revoked,
at the proof of existence (ETSI EN 319 102-1 clause 5.2.6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Final

from asn1crypto import algos, x509

from trust.crypto.algorithms import KeyFamily, SignatureAlgorithm
from trust.crypto.errors import (
    EncodingError,
    InvalidKey,
    InvalidSignature,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.crypto.keys import PublicKey
from trust.formats import x509 as cx
from trust.formats.names import name_text
from verifier.certificate import may_be_revoked, verify_certificate
from verifier.context import Memo, VerificationContext
from verifier.report import ChainLink, Check, Indication, Report, SubIndication
from verifier.ses.checks import MALFORMED, Proof, failed, passed

RSA_MIN_BITS: Final = 2048


MAX_TOKEN_CERTS: Final = 10


def _algorithm(oid: str) -> SignatureAlgorithm:
    """The algorithm a bare signature OID names (SESeal signAlgID, SES_Signature signatureAlgID)."""
    try:
        identifier = algos.SignedDigestAlgorithm({"algorithm": oid})
    except (ValueError, TypeError) as exc:
        raise UnsupportedAlgorithm(f"signature algorithm {oid} is not supported: {exc}") from None
    return SignatureAlgorithm.from_x509(identifier)


def load_cert(der: bytes, memo: Memo | None = None) -> x509.Certificate:
    """A DER certificate inside a seal or signature, parsed strictly (once per context when ``memo`` is given)."""
    if der.lstrip()[:5] == b"-----":
        raise EncodingError("a certificate inside a seal or signature is DER, not PEM")
    return memo.certificate(der, _strict_certificate) if memo is not None else _strict_certificate(der)


def _strict_certificate(der: bytes) -> x509.Certificate:
    try:
        return cx.load_certificate(der)
    except (
        MALFORMED
    ) as exc:  # what trust.formats.x509 does not catch itself (asn1crypto raises AttributeError on some input)
        raise EncodingError(f"not a DER X.509 certificate: {type(exc).__name__}") from None


def subject_of(cert: x509.Certificate) -> str:
    try:
        return name_text(cert.subject) or cert.subject.human_friendly
    except MALFORMED:
        return "(unreadable subject)"


def check_signature(
    name: str, who: str, cert: x509.Certificate, oid: str, value: bytes, data: bytes, what: str
) -> Check:
    try:
        algorithm = _algorithm(oid)
    except UnsupportedAlgorithm as exc:
        return failed(name, Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, exc.message)
    try:
        key: PublicKey = cx.public_key(cert)
    except (TrustError, *MALFORMED) as exc:
        message = exc.message if isinstance(exc, TrustError) else type(exc).__name__
        return failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"the {who} certificate's public key is not usable: {message}",
        )
    if key.family is KeyFamily.RSA and key.size < RSA_MIN_BITS:
        return failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"the {who}'s RSA key has {key.size} bits; at least {RSA_MIN_BITS} are required",
        )
    try:
        key.verify(value, data, algorithm)
    except InvalidKey as exc:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"{algorithm.name} does not fit the {who}'s key: {exc.message}",
        )
    except InvalidSignature as exc:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"the {who}'s {algorithm.name} signature over {what} does not verify ({exc.message})",
        )
    return passed(
        name, f"{algorithm.name} signature over {what} verifies with the {who} certificate {subject_of(cert)}"
    )


def certificate_finding(name: str, report: Report, who: str, moment: datetime) -> Check:
    if report.passed:
        return passed(
            name,
            f"{who} certificate valid at {moment.isoformat()}: "
            f"{len(report.chain)} certificates to {report.chain[-1].subject if report.chain else '-'}",
        )
    assert report.indication is not Indication.TOTAL_PASSED
    reason = "; ".join(report.errors) or (report.sub_indication.value if report.sub_indication else "")
    return failed(
        name,
        report.indication,
        report.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
        f"{who} certificate at {moment.isoformat()}: {reason}",
    )


def signer_purpose(requested: str, *, own: str, sealed: bool) -> str:
    """The purpose a document signer's certificate is validated for — one rule for PDF, OFD and GB/T 38540 signatures
    (docs/VERIFIER.md, "The signer's purpose").

    ``auto`` (or nothing) is the kind's ``own`` purpose (``seal`` for PDF and GB/T 38540 signatures,
    ``document-signing`` for OFD ``Sign`` signatures); ``any`` waives the purpose check for every kind (the relying
    party's explicit choice, named in the report; a seal's own checks still bind its signers); ``generic`` is the RFC
    5280 document-signature policy (:func:`verifier.certificate.generic_usage_problem`) for a signature without a
    GB/T 38540 seal and ``seal`` for one with it; any other purpose is taken as asked."""
    if requested in ("auto", ""):
        return own
    if requested == "generic" and sealed:
        return "seal"
    return requested


def certificate_report(
    cert: x509.Certificate,
    ctx: VerificationContext,
    moment: datetime,
    purpose: str,
    kind: str,
    extra: Sequence[x509.Certificate] = (),
) -> Report:
    at_time = replace(ctx, validation_time=moment, intermediates=_merge(ctx.intermediates, extra, ctx.memo))
    try:
        return verify_certificate(cert, at_time, purpose=purpose, kind=kind)
    except (TrustError, *MALFORMED) as exc:
        message = exc.message if isinstance(exc, TrustError) else f"{type(exc).__name__}: {exc}"
        return Report(
            kind,
            Indication.INDETERMINATE,
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            moment,
            subject_of(cert),
            errors=(message,),
        )


def with_certificates(ctx: VerificationContext, extra: Sequence[x509.Certificate]) -> VerificationContext:
    """``ctx`` with ``extra`` (a token's or a seal's certificates, at most :data:`MAX_TOKEN_CERTS`) as intermediates,
    as :func:`certificate_report` validates with them."""
    return replace(ctx, intermediates=_merge(ctx.intermediates, extra, ctx.memo))


def _merge(
    base: tuple[x509.Certificate, ...], extra: Sequence[x509.Certificate], memo: Memo
) -> tuple[x509.Certificate, ...]:
    if not extra:
        return base
    seen = {memo.fingerprint(c) for c in base}
    added = []
    for cert in list(extra)[:MAX_TOKEN_CERTS]:
        fingerprint = memo.fingerprint(cert)
        if fingerprint not in seen:
            seen.add(fingerprint)
            added.append(cert)
    return (*base, *added)


def purpose_phrase(purpose: str) -> str:
    """How a passed check names the purpose it was judged for: ``any`` is said as a waiver."""
    return "for any purpose (the purpose check waived) " if purpose == "any" else f"for {purpose} "


def certificate_at(
    name: str,
    cert: x509.Certificate,
    ctx: VerificationContext,
    claimed: datetime,
    proof: Proof,
    *,
    who: str,
    claim: str,
    purpose: str,
    expiry_needs_proof: bool = False,
) -> tuple[Check, tuple[ChainLink, ...]]:
    """A certificate valid at the ``claimed`` time (timeInfo, createDate), and not revoked before the proof of
    existence: revoked before the claim fails (REVOKED); revoked after the claim but before the proof is
    INDETERMINATE / REVOKED_NO_POE (ETSI EN 319 102-1 clause 5.2.6); revoked after the proof passes.

    With ``expiry_needs_proof`` (a signer's certificate: the claim is the signer's own), a certificate of the path
    that expired before the proof of existence is INDETERMINATE / OUT_OF_BOUNDS_NO_POE: a claimed time proves
    nothing, so the signature is not believed to predate the expiry (as :mod:`verifier.pdf.verify` does for a
    PAdES B-B signature). The seal maker's certificate (``createDate``) is judged at its claim only."""
    report = certificate_report(cert, ctx, claimed, purpose, who)
    if not report.passed:
        return certificate_finding(name, report, who, claimed), report.chain
    expired = [
        link
        for link in report.chain
        if expiry_needs_proof and proof.time > claimed and link.not_after is not None and link.not_after < proof.time
    ]
    if expired:
        ended = expired[0].not_after.isoformat() if expired[0].not_after else "?"
        return failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.OUT_OF_BOUNDS_NO_POE,
            f"{expired[0].subject} expired on {ended}, before {proof.what} {proof.time.isoformat()}; the {who}'s "
            f"{claim} {claimed.isoformat()} is claimed, not proven: nothing proves the signature was made while the "
            "certificate was valid (a time-stamp over the signature would)",
        ), report.chain
    if proof.time > claimed and may_be_revoked(cert, ctx):  # only a REVOKED verdict at the proof time matters
        later = certificate_report(cert, ctx, proof.time, purpose, who)
        if later.sub_indication is SubIndication.REVOKED:
            return failed(
                name,
                Indication.INDETERMINATE,
                SubIndication.REVOKED_NO_POE,
                f"the {who} certificate was revoked after {claim} {claimed.isoformat()} but before {proof.what} "
                f"{proof.time.isoformat()}, and nothing proves existence before the revocation: "
                f"{'; '.join(later.errors)}",
            ), report.chain
    detail = (
        f"{who} certificate valid {purpose_phrase(purpose)}at {claim} {claimed.isoformat()}: "
        f"{len(report.chain)} certificates to "
        f"{report.chain[-1].subject if report.chain else '-'}; not revoked up to {proof.what} {proof.time.isoformat()}"
    )
    return passed(name, detail), report.chain
