"""The verifier's library entry point: detect what the input is and verify it offline.

``verify(data, ctx, data_file=...)`` returns a :class:`~verifier.report.Report`; it raises :class:`TrustError`
only when the input cannot be read at all (the CLI's exit code 3). Detection by content, never by file name:

* ``%PDF-`` → sealed PDF (``verifier.pdf``): one child report per signature and a bottom line.
* PEM ``CERTIFICATE`` or a DER X.509 certificate → certificate report (``verifier.certificate``).
* a DER SESeal of version 1, 4 or 5 → seal report (``verifier.ses``).
* a DER SES_Signature → GB/T 38540 signature report (``verifier.ses``; ``data`` is the signed document).
* Later issues add JWS tokens, SD-JWT presentations and QR payloads.
"""

from __future__ import annotations

from typing import Final

from ca import x509 as cx
from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from verifier.certificate import verify_certificate
from verifier.context import VerificationContext
from verifier.report import Report

MAX_INPUT_BYTES: Final = 64 * 1024 * 1024


def detect(data: bytes) -> str:
    head = data.lstrip()[:64]
    if data[:1024].lstrip().startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"-----BEGIN CERTIFICATE") or head.startswith(b"-----BEGIN TRUSTED CERTIFICATE"):
        return "certificate"
    if data[:1] == b"\x30":
        try:
            cx.load_certificate(data)
            return "certificate"
        except TrustError:
            pass
        from seal import ses

        try:
            ses.parse_seal(data)
            return "seal"
        except TrustError:
            pass
        try:
            ses.parse_signature(data)
            return "ses-signature"
        except TrustError:
            pass
    raise EncodingError("unrecognised input: expected a PDF, an X.509 certificate, a GB/T 38540 seal or signature")


def verify(
    data: bytes, ctx: VerificationContext, *, purpose: str | None = None, signed_data: bytes | None = None
) -> Report:
    """Verify ``data``; ``signed_data`` is the protected document of a detached SES_Signature (``--data``)."""
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"input of {len(data)} bytes exceeds {MAX_INPUT_BYTES}", code=Code.INPUT_TOO_LARGE)
    kind = detect(data)
    if kind == "certificate":
        return verify_certificate(cx.load_certificate(data), ctx, purpose=purpose)
    if kind == "seal":
        from verifier import ses as ses_verifier

        return ses_verifier.verify_seal(data, ctx)
    if kind == "ses-signature":
        from verifier import ses as ses_verifier

        return ses_verifier.verify_ses_signature(data, ctx, signed_data=signed_data)
    if kind == "pdf":
        from verifier import pdf as pdf_verifier

        return pdf_verifier.verify_pdf(data, ctx)
    raise EncodingError(f"no verifier for {kind}")  # pragma: no cover - detect() only returns known kinds
