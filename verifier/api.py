"""The verifier's library entry point: detect what the input is and verify it offline.

``verify(data, ctx, data_file=...)`` returns a :class:`~verifier.report.Report`; it raises :class:`TrustError`
only when the input cannot be read at all (the CLI's exit code 3). Detection by content, never by file name:

* ``%PDF-`` with a ``license.jwt`` attachment → licence PDF (``verifier.license_pdf``): the seals, the issuing
  authority's seal, the attached token and the face checked against each other.
* any other ``%PDF-`` → sealed PDF (``verifier.pdf.verify``): one child report per signature and a bottom line.
* a ZIP container (``PK\\x03\\x04`` at offset 0) with a ``license.jwt`` attachment → licence OFD
  (``verifier.license_ofd``, the licence PDF's checks on the OFD); any other → OFD document (GB/T 33190,
  ``verifier.ofd.verify``): one child report per signature and a bottom line; a ZIP without ``OFD.xml`` is refused.
* PEM ``CERTIFICATE`` or a DER X.509 certificate → certificate report (``verifier.certificate``).
* a DER SESeal of version 1, 4 or 5 → seal report (``verifier.ses``).
* a DER SES_Signature → GB/T 38540 signature report (``verifier.ses``; ``data`` is the signed document).
* a compact JWS of ``typ`` ``entity-statement+jwt`` → an entity configuration or subordinate statement of the identity
  federation, its trust chain built from the bundle (``verifier.federation``).
* a licence token (compact JWS), an SD-JWT presentation or an ``HR1:`` QR payload → ``verifier.license``.
* a PNG or JPEG image → the licence QR code in it (:mod:`verifier.image`, zxing-cpp), verified as its payload; the
  report's first check, ``image``, says what was read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from asn1crypto import x509

from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from trust.formats import x509 as cx
from verifier import image
from verifier.certificate import verify_certificate
from verifier.context import VerificationContext
from verifier.license import KeyBindingRequest
from verifier.report import Check, Report, Result

MAX_INPUT_BYTES: Final = 64 * 1024 * 1024


def detect(data: bytes) -> str:
    """What ``data`` is: ``pdf``, ``ofd``, ``certificate``, ``seal``, ``ses-signature``, ``entity-statement``,
    ``license`` or ``image`` (a PNG or JPEG, read as the photo of a licence QR code)."""
    return "image" if image.looks_like_image(data) else _detect(data)[0]


def _detect(data: bytes) -> tuple[str, x509.Certificate | None]:
    """The kind of ``data`` and, for a certificate, the certificate already parsed (parsed once, not twice)."""
    from verifier.license import looks_like_token

    form = looks_like_token(data[: 1024 * 1024]) if len(data) <= 1024 * 1024 else None
    if form is not None:
        from verifier.federation import looks_like_entity_statement

        if form == "jws" and looks_like_entity_statement(data.decode("ascii")):
            return "entity-statement", None
        return "license", None
    if b"%PDF-" in data[:1024]:
        return "pdf", None
    if data[:4] == b"PK\x03\x04":
        return "ofd", None
    if data[:1] != b"\x30":
        # PEM, possibly after explanatory text (RFC 7468 clause 2), e.g. ``openssl x509 -text`` output
        marker = data.find(b"-----BEGIN ", 0, cx.MAX_CERT_BYTES)
        if marker >= 0 and data[marker:].startswith((b"-----BEGIN CERTIFICATE", b"-----BEGIN TRUSTED CERTIFICATE")):
            return "certificate", cx.load_certificate(data)
    if data[:1] == b"\x30":
        if len(data) <= cx.MAX_CERT_BYTES:
            try:
                return "certificate", cx.load_certificate(data)
            except TrustError:
                pass
        from trust.formats import ses

        try:
            ses.parse_seal(data)
            return "seal", None
        except TrustError:
            pass
        try:
            ses.parse_signature(data)
            return "ses-signature", None
        except TrustError:
            pass
        if len(data) > cx.MAX_CERT_BYTES:
            raise InputError(
                f"input of {len(data)} bytes is neither a GB/T 38540 seal nor a signature, and exceeds the "
                f"{cx.MAX_CERT_BYTES}-byte limit for a certificate",
                code=Code.INPUT_TOO_LARGE,
            )
    raise EncodingError(
        "unrecognised input: expected a PDF, an OFD document, an X.509 certificate, a GB/T 38540 seal or signature, "
        "an entity statement, a licence token, an SD-JWT or an HR1 QR payload"
    )


def verify(
    data: bytes,
    ctx: VerificationContext,
    *,
    purpose: str | None = None,
    signed_data: bytes | None = None,
    key_binding: KeyBindingRequest | None = None,
    log_proof: bytes | None = None,
    require_transparency: bool = False,
) -> Report:
    """Verify ``data``; ``signed_data`` is the protected document of a detached SES_Signature (``--data``);
    ``key_binding`` demands an SD-JWT holder proof with that nonce and audience. The report names what it relied on
    (``source``: the bundle and trust list). A photo or scan of a licence QR code (PNG, JPEG) is decoded first
    (:mod:`verifier.image`). Then the transparency policy (issue 19, :func:`verifier.transparency.enforce`):
    ``log_proof`` (an inclusion proof, ``trust log prove``), ``require_transparency`` and the per-region trust-list
    setting."""
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"input of {len(data)} bytes exceeds {MAX_INPUT_BYTES}", code=Code.INPUT_TOO_LARGE)
    photo = image.read_qr(data) if image.looks_like_image(data) else None
    report = _verify(
        photo.payload if photo else data, ctx, purpose=purpose, signed_data=signed_data, key_binding=key_binding
    )
    if photo is not None:
        report = replace(report, checks=(Check("image", Result.PASSED, photo.description), *report.checks))
    from verifier import transparency

    payload = photo.payload if photo else data
    carried = _carried_proofs(payload)
    report = transparency.enforce(report, payload, ctx, log_proof, require=require_transparency, carried=carried)
    return replace(report, source=ctx.source())


def _carried_proofs(data: bytes) -> list[bytes]:
    """The inclusion proofs a sealed PDF carries (issue 19: the embedded file
    :data:`trust.formats.tlog.PDF_ATTACHMENT`, a JSON array of proof documents; the file is opened again only when
    its media type's marker is in it at all)."""
    import json

    from trust.formats import strict_json
    from trust.formats.tlog import MAX_PDF_PROOFS, PDF_ATTACHMENT, PDF_MARKER

    if b"%PDF-" not in data[:1024] or PDF_MARKER not in data:
        return []
    from verifier import license_pdf
    from verifier.pdf.document import HOSTILE_ERRORS, open_document
    from verifier.transparency import MAX_PROOF_BYTES

    try:
        files = license_pdf.embedded_files(open_document(data).reader.root, PDF_ATTACHMENT, 16 * MAX_PROOF_BYTES)
    except (TrustError, *HOSTILE_ERRORS):
        return []
    proofs: list[bytes] = []
    for content in files:
        try:
            documents = strict_json.loads(content, "the embedded inclusion proofs")
        except TrustError:
            continue
        if isinstance(documents, list):
            proofs += [json.dumps(d).encode() for d in documents if isinstance(d, dict)]
    return proofs[:MAX_PDF_PROOFS]


def _verify(
    data: bytes,
    ctx: VerificationContext,
    *,
    purpose: str | None = None,
    signed_data: bytes | None = None,
    key_binding: KeyBindingRequest | None = None,
) -> Report:
    kind, certificate = _detect(data)
    if certificate is not None:
        return verify_certificate(certificate, ctx, purpose=purpose)
    if kind == "seal":
        from verifier.ses import seal as seal_verifier

        return seal_verifier.verify_seal(data, ctx)
    if kind == "ses-signature":
        from verifier.ses import signature as signature_verifier

        return signature_verifier.verify_ses_signature(data, ctx, signed_data=signed_data)
    if kind == "entity-statement":
        from verifier import federation

        return federation.verify_entity_statement(data, ctx)
    if kind == "license":
        from verifier import license as license_verifier

        return license_verifier.verify_license(data, ctx, key_binding=key_binding)
    if kind == "pdf":
        from verifier import license_pdf

        if license_pdf.is_license_pdf(data):
            return license_pdf.verify_license_pdf(data, ctx)
        from verifier.pdf import verify as pdf_verifier

        return pdf_verifier.verify_pdf(data, ctx)
    if kind == "ofd":
        from verifier import license_ofd

        if license_ofd.is_license_ofd(data):
            return license_ofd.verify_license_ofd(data, ctx)
        from verifier.ofd import verify as ofd_verifier

        return ofd_verifier.verify_ofd(data, ctx)
    raise EncodingError(f"no verifier for {kind}")  # pragma: no cover - detect() only returns known kinds
