"""Licence OFD files (GB/T 36905, :mod:`licenses.ofd`) verified offline: the OFD's seals, the issuing authority's seal,
the licence token attached, and the face against it — the checks of a licence PDF (:mod:`verifier.license_pdf`) on
the OFD's parts.

:func:`verify_license_ofd` returns one report of kind ``license-ofd`` with two children — the OFD's signatures
(:func:`verifier.ofd.verify.verify_ofd`, kind ``ofd``) and the token (:func:`verifier.license.verify_license`) — and
these checks, in order:

1. **attachment** — ``Attachments.xml`` of the document lists exactly one ``license.jwt``, at most 1 MiB, ASCII, a
   licence token (``FORMAT_FAILURE`` otherwise);
2. **ofd-seal** — the OFD report's bottom line (every signature, modifications after signing);
3. **sealed-by-issuer** — a seal signature whose signer certificate names the token's issuing authority (subject
   ``serialNumber`` = ``license.issuer``) and, with a trust list, was certified by a CA of the trust-list entry that
   holds the licence issuer's ``LICENSE_ISSUER`` service (as for PDF: ``SIG_CONSTRAINTS_FAILURE``);
4. **sealed-attachment** — that signature's references cover ``license.jwt`` and ``Attachments.xml`` (their digests
   are checked by the OFD report): a token the authority did not seal fails (``SIG_CONSTRAINTS_FAILURE``);
5. **license-token** — the token report's bottom line;
6. **face** — :func:`verifier.license_pdf.check_face` on the text of the document's pages (every ``TextCode``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from trust.crypto.errors import TrustError
from trust.formats import license_face as face_mod
from trust.formats import license_token as token_mod
from trust.formats import ses
from trust.formats import x509 as cx
from trust.formats.names import name_text
from trust.formats.ofd import document as ofd_document
from trust.formats.ofd import package as ofd_package
from trust.formats.ofd import signatures as ofd_signatures
from verifier.context import VerificationContext
from verifier.license import verify_license
from verifier.license_pdf import _issued_by, _issuer_cas, _issuer_cas_label, _issuer_name, _State, check_face
from verifier.ofd.verify import verify_ofd
from verifier.report import Indication, Report, SubIndication

ATTACHMENT_NAME: Final = face_mod.ATTACHMENT_NAME
MAX_ATTACHMENT_BYTES: Final = 1024 * 1024


def _attachment(pkg: ofd_package.Package) -> tuple[ofd_document.Document, list[str]]:
    body = ofd_document.entry(pkg)[0]
    doc = ofd_document.document(pkg, body.doc_root)
    found = [a.path for a in ofd_document.attachments(pkg, doc) if a.name == ATTACHMENT_NAME]
    return doc, found


def is_license_ofd(data: bytes) -> bool:
    """An OFD package whose first document attaches ``license.jwt`` (unreadable packages: False)."""
    try:
        _doc, found = _attachment(ofd_package.read(data))
    except TrustError:
        return False
    return bool(found)


def _authority_signatures(pkg: ofd_package.Package, authority: str) -> list[tuple[ofd_signatures.SignatureFile, Any]]:
    """The seal signatures whose signer certificate names ``authority`` (subject serialNumber), with the certificate."""
    body = ofd_document.entry(pkg)[0]
    if body.signatures is None or body.signatures not in pkg:
        return []
    found = []
    for entry in ofd_signatures.parse_list(pkg, body.signatures).entries:
        try:
            signature = ofd_signatures.parse_signature(pkg, entry.path)
            record = ses.parse_signature(pkg.read(signature.signed_value))
            cert = cx.load_certificate(record.signer_cert)
        except TrustError:
            continue
        subject = cert.subject.native
        code = subject.get("serial_number") if isinstance(subject, Mapping) else None
        if code and str(code) == authority:
            found.append((signature, cert))
    return found


ORDER: Final = ("attachment", "ofd-seal", "sealed-by-issuer", "sealed-attachment", "license-token", "face")
"""The checks of a licence OFD, from the most fundamental down (the bottom line's ranking)."""


def _verify_parts(data: bytes, ctx: VerificationContext, state: _State) -> str:
    ofd_report = verify_ofd(data, ctx)  # unreadable packages raise here (input error)
    pkg = ofd_package.read(data)
    doc, found = _attachment(pkg)
    fmt = Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
    if len(found) != 1:
        state.fail("attachment", *fmt, f"the document attaches {len(found)} {ATTACHMENT_NAME} files, not one")
        state.child_check("ofd-seal", ofd_report, "the OFD's signatures")
        state.not_run(ORDER, "there is no readable licence token in the OFD")
        return "licence OFD"
    raw = pkg.get(found[0])
    try:
        if raw is None:
            raise TrustError(f"/{found[0]} is not in the package")
        if len(raw) > MAX_ATTACHMENT_BYTES:
            raise TrustError(f"{len(raw)} bytes, more than {MAX_ATTACHMENT_BYTES}")
        text = raw.decode("ascii").strip()
        _header, claims = token_mod.parse_unverified(text)
    except (UnicodeDecodeError, TrustError) as exc:
        reason = exc.message if isinstance(exc, TrustError) else "not ASCII"
        state.fail("attachment", *fmt, f"{ATTACHMENT_NAME}: {reason}")
        state.child_check("ofd-seal", ofd_report, "the OFD's signatures")
        state.not_run(ORDER, "there is no readable licence token in the OFD")
        return "licence OFD"
    state.ok("attachment", f"{ATTACHMENT_NAME}: a compact JWS of {len(raw)} bytes")
    state.child_check("ofd-seal", ofd_report, "the OFD's signatures")
    raw_license = claims.get("license")
    entry: Mapping[str, Any] = raw_license if isinstance(raw_license, Mapping) else {}
    authority = str(entry.get("issuer", ""))
    named = _authority_signatures(pkg, authority)
    issuer_cas = _issuer_cas(ctx, claims)
    by_issuer = [(s, c) for s, c in named if issuer_cas is None or _issued_by(c, issuer_cas)]
    if not by_issuer:
        why = (
            f"no seal of the issuing authority {authority or '?'} on the licence"
            if not named
            else f"the seal naming the issuing authority {authority} was not certified by a CA of the licence "
            f"issuer's region in the trust list ({_issuer_cas_label(issuer_cas)})"
        )
        state.fail("sealed-by-issuer", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, why)
        state.not_run(["sealed-attachment"], "no seal of the issuing authority to compare the attachment with")
    else:
        signature, cert = by_issuer[0]
        state.ok("sealed-by-issuer", f"sealed by {name_text(cert.subject)} (/{signature.path})")
        covered = {r.path for r in signature.references}
        wanted = [found[0], *([doc.attachments] if doc.attachments else [])]
        missing = [n for n in wanted if n not in covered]
        if missing:
            state.fail(
                "sealed-attachment",
                Indication.TOTAL_FAILED,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                "the authority's seal does not cover " + ", ".join(f"/{n}" for n in missing),
            )
        else:
            state.ok("sealed-attachment", f"/{found[0]} is covered by the authority's seal (digest in the OFD report)")
    token_report = verify_license(text, ctx)
    state.child_check("license-token", token_report, "the licence token")
    issuer_name = _issuer_name(ctx, claims)
    try:
        content = face_mod.face_from_claims(claims, issuer_name)
        expected = content.expected()
    except TrustError as exc:
        state.warnings.append(f"the face cannot be compared with the token: {exc.message}")
        state.skip("face", f"the face cannot be compared with the token: {exc.message}")
    else:
        if issuer_name is None:
            state.warnings.append("the issuing authority's name was not checked on the face (no trust list entry)")
        page_text = face_mod.normalise("".join(ofd_document.page(pkg, p).text() for p in doc.pages))
        check_face(page_text, content, expected, issuer_name, state)
    details = dict(token_report.details)
    leading = {"identifier": entry.get("id"), **({"type": details["type"]} if "type" in details else {})}
    state.details = {**leading, **state.details}
    return token_report.subject or str(entry.get("id", "licence OFD"))


def verify_license_ofd(data: bytes, ctx: VerificationContext) -> Report:
    """Verify a licence OFD offline (module docstring): its report is built like a licence PDF's
    (:class:`verifier.report.ReportBuilder`; the bottom line is :func:`verifier.report.bottom_line` in
    :data:`ORDER`)."""
    state = _State(ctx, "license-ofd", ORDER)
    state.subject = _verify_parts(data, ctx, state)
    return state.build(warnings=ctx.warnings)


__all__ = ["ATTACHMENT_NAME", "is_license_ofd", "verify_license_ofd"]
