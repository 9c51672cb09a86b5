"""The verifier's library entry point: detect what the input is and verify it offline.

``verify(data, ctx, data_file=...)`` returns a :class:`~verifier.report.Report`; it raises :class:`TrustError`
only when the input cannot be read at all (the CLI's exit code 3). Detection by content, never by file name:

* ``%PDF-`` → sealed PDF (``verifier.pdf``): one child report per signature and a bottom line.
* PEM ``CERTIFICATE`` or a DER X.509 certificate → certificate report (``verifier.certificate``).
* a DER SESeal of version 1, 4 or 5 → seal report (``verifier.ses``).
* a DER SES_Signature → GB/T 38540 signature report (``verifier.ses``; ``data`` is the signed document).
* a licence token (compact JWS), an SD-JWT presentation or an ``HR1:`` QR payload → ``verifier.license``.
"""

from __future__ import annotations

from typing import Final

from ca import x509 as cx
from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from verifier.certificate import verify_certificate
from verifier.context import VerificationContext
from verifier.license import KeyBindingRequest
from verifier.report import Report

MAX_INPUT_BYTES: Final = 64 * 1024 * 1024


def detect(data: bytes) -> str:
    from verifier.license import looks_like_token

    head = data.lstrip()[:64]
    token_form = looks_like_token(data[: 1024 * 1024]) if len(data) <= 1024 * 1024 else None
    if token_form is not None:
        return "license"
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
    raise EncodingError(
        "unrecognised input: expected a PDF, an X.509 certificate, a GB/T 38540 seal or signature, "
        "a licence token, an SD-JWT or an HR1 QR payload"
    )


def verify(
    data: bytes,
    ctx: VerificationContext,
    *,
    purpose: str | None = None,
    signed_data: bytes | None = None,
    key_binding: KeyBindingRequest | None = None,
) -> Report:
    """Verify ``data``; ``signed_data`` is the protected document of a detached SES_Signature (``--data``);
    ``key_binding`` demands an SD-JWT holder proof with that nonce and audience."""
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
    if kind == "license":
        from verifier import license as license_verifier

        return license_verifier.verify_license(data, ctx, key_binding=key_binding)
    if kind == "pdf":
        from verifier import pdf as pdf_verifier

        return pdf_verifier.verify_pdf(data, ctx)
    raise EncodingError(f"no verifier for {kind}")  # pragma: no cover - detect() only returns known kinds
