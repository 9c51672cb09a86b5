"""The verifier's library entry point: detect what the input is and verify it offline.

``verify(data, ctx)`` returns a :class:`~verifier.report.Report`; it raises :class:`TrustError` only when the
input cannot be read at all (the CLI's exit code 3). Detection by content, never by file name:

* PEM ``CERTIFICATE`` or a DER SEQUENCE that parses as an X.509 certificate → certificate report.
* Later issues add seals (GB/T 38540), PDFs, SES_Signatures, JWS tokens, SD-JWT presentations, QR payloads.
"""

from __future__ import annotations

from typing import Final

from ca import x509 as cx
from trust.crypto.errors import Code, EncodingError, InputError
from verifier.certificate import verify_certificate
from verifier.context import VerificationContext
from verifier.report import Report

MAX_INPUT_BYTES: Final = 64 * 1024 * 1024


def detect(data: bytes) -> str:
    head = data.lstrip()[:64]
    if head.startswith(b"-----BEGIN CERTIFICATE") or head.startswith(b"-----BEGIN TRUSTED CERTIFICATE"):
        return "certificate"
    if data[:1] == b"\x30":
        try:
            cx.load_certificate(data)
            return "certificate"
        except InputError:
            pass
    raise EncodingError("unrecognised input: expected a PEM or DER X.509 certificate")


def verify(data: bytes, ctx: VerificationContext, *, purpose: str | None = None) -> Report:
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"input of {len(data)} bytes exceeds {MAX_INPUT_BYTES}", code=Code.INPUT_TOO_LARGE)
    kind = detect(data)
    if kind == "certificate":
        return verify_certificate(cx.load_certificate(data), ctx, purpose=purpose)
    raise EncodingError(f"no verifier for {kind}")  # pragma: no cover - detect() only returns known kinds
