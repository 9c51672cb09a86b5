"""Licence PDFs verified offline: the issuing authority's seal, the licence token inside, and the face against it.

A licence PDF (:mod:`licenses.document`) is a sealed PDF whose face prints a licence and which carries the full
licence token as the file attachment ``license.jwt``. :func:`verify_license_pdf` returns one report of kind
``license-pdf`` with two child reports — the PDF's seals (:func:`verifier.pdf.verify.verify_pdf`, kind ``pdf``) and the
token (:func:`verifier.license.verify_license`, kind ``license-token``) — and these checks, in order:

1. **attachment** — exactly one embedded file ``license.jwt`` (``/EmbeddedFiles`` name tree, ISO 32000-2
   clause 7.11.4; a name tree of at most :data:`MAX_NAME_TREE_NODES` nodes, the file at most
   :data:`MAX_ATTACHMENT_BYTES` decoded), ASCII (``FORMAT_FAILURE`` otherwise).
2. **pdf-seal** — the PDF report's bottom line (every seal and document time-stamp, modifications after sealing).
3. **sealed-by-issuer** — a seal signature whose signer certificate names the token's issuing authority
   (subject ``serialNumber`` = the token's ``license.issuer`` USCC, as Huren's seal certificates do) **and**, with a
   trust list, was certified by a CA of the trust-list entry (region or department) that holds the licence issuer's
   ``LICENSE_ISSUER`` service — issuer name and signature checked with that CA's current or previous key: a Zhejiang
   seal naming a Guangdong authority is not the Guangdong authority's seal (issue 11, item 3). A licence face sealed
   by anybody else is not the authority's document (``SIG_CONSTRAINTS_FAILURE``). A licence issuer the trust list
   does not hold at all, on a licence newer than the list, is ``INDETERMINATE`` / ``TRY_LATER``: the bundle may simply
   be older than the issuer (issue 13 item 6).
4. **sealed-attachment** — the ``license.jwt`` of the revision that seal signed is the file's current one: an
   attachment added or replaced after sealing fails (``SIG_CONSTRAINTS_FAILURE``) whatever else it says.
5. **license-token** — the token report's bottom line (issuer key and authorisation in the trust list,
   signature, claims, validity, status: a revoked licence is ``TOTAL_FAILED`` / ``REVOKED``).
6. **face** — every text the token puts on the face (:meth:`trust.formats.license_face.Face.expected`: the type's name,
   the identifier, each face field's label and value as :func:`trust.formats.license_catalogue.face_items` prints it,
   the holder where the fields lack it, the validity, the date of issue and ``发证机关：<name>`` with the name the
   trust list gives the issuer) appears in the text of the pages (pypdf, of the file's last revision — what viewers
   show; white space ignored). A value the face does not show fails (``SIG_CONSTRAINTS_FAILURE``) and names the field.
   And the face shows nothing else: every run of text that is not one of the texts the renderer draws
   (:meth:`trust.formats.license_face.Face.printed`, each covering one occurrence) fails the check (issue 11, item 3:
   an extra line added to a genuine face and re-sealed).

The bottom line is the first ``TOTAL_FAILED`` in that order, else the first ``INDETERMINATE``, else
``TOTAL_PASSED`` (:func:`verifier.report.bottom_line`); a check that cannot run (no readable token: nothing to
compare the seals and the face with) is reported as skipped, "not run". The QR code is not decoded here (no
rendering in the verifier): it carries the same licence in the ``HR1:`` form, which
:func:`verifier.license.verify_license` checks when scanned (or photographed: :mod:`verifier.image`); the tests decode
it from the rendered page. Offline and storage-free like the rest of :mod:`verifier`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from trust.formats import license_face as face_mod
from trust.formats import license_token as token_mod
from trust.formats import x509 as cx
from trust.formats.names import name_text
from verifier.context import VerificationContext
from verifier.license import verify_license
from verifier.pdf.document import HOSTILE_ERRORS, Document, describe, open_document, signature_fields
from verifier.pdf.verify import MAX_PDF_BYTES, verify_pdf
from verifier.report import Indication, Report, ReportBuilder, SubIndication

ATTACHMENT_NAME: Final = face_mod.ATTACHMENT_NAME
MAX_ATTACHMENT_BYTES: Final = 1024 * 1024
"""The embedded token, decoded (``trust.formats.jose.MAX_TOKEN_BYTES``)."""
MAX_NAME_TREE_NODES: Final = 256
"""Nodes of the ``/EmbeddedFiles`` name tree walked (a licence PDF has one)."""
MAX_NAME_TREE_DEPTH: Final = 8
MAX_FACE_PAGES: Final = 20
"""Pages whose text is read for the face check (a licence face has one or two)."""
MAX_FACE_CHARS: Final = 200_000
_ORDER: Final = (
    "attachment",
    "pdf-seal",
    "ofd-seal",
    "sealed-by-issuer",
    "sealed-attachment",
    "license-token",
    "face",
)


class AttachmentError(Exception):
    """The ``license.jwt`` attachment is missing, ambiguous or unreadable (internal)."""


# --- the attachment ------------------------------------------------------------------------------------------


def _names(node: Any, depth: int, budget: list[int], found: list[tuple[str, Any]]) -> None:
    """Collect ``(key, value)`` pairs of a name tree (ISO 32000-2 clause 7.9.6), bounded."""
    if depth > MAX_NAME_TREE_DEPTH:
        raise AttachmentError(f"the embedded-files name tree is nested deeper than {MAX_NAME_TREE_DEPTH} levels")
    budget[0] -= 1
    if budget[0] < 0:
        raise AttachmentError(f"the embedded-files name tree has more than {MAX_NAME_TREE_NODES} nodes")
    node = node.get_object()
    if not isinstance(node, generic.DictionaryObject):
        raise AttachmentError("an embedded-files name tree node is not a dictionary")
    pairs = node.get("/Names")
    if pairs is not None:
        pairs = pairs.get_object()
        if not isinstance(pairs, generic.ArrayObject) or len(pairs) % 2:
            raise AttachmentError("an embedded-files /Names entry is not an array of key/value pairs")
        if len(pairs) // 2 > MAX_NAME_TREE_NODES:
            raise AttachmentError(f"more than {MAX_NAME_TREE_NODES} embedded files")
        for index in range(0, len(pairs), 2):
            key = pairs[index]
            if isinstance(key, generic.TextStringObject | generic.ByteStringObject):
                found.append((str(key), pairs.raw_get(index + 1)))
    kids = node.get("/Kids")
    if kids is not None:
        kids = kids.get_object()
        if not isinstance(kids, generic.ArrayObject):
            raise AttachmentError("an embedded-files /Kids entry is not an array")
        for kid in kids:
            _names(kid, depth + 1, budget, found)


def _file_name(spec: generic.DictionaryObject) -> set[str]:
    names = set()
    for key in ("/UF", "/F"):
        value = spec.get(key)
        if isinstance(value, generic.TextStringObject | generic.ByteStringObject):
            names.add(str(value))
    return names


def _embedded_streams(root: Any, name: str) -> list[generic.StreamObject]:
    """The embedded-file streams named ``name`` of the document catalog ``root`` (bounded walk of the name tree)."""
    names = root.get("/Names")
    if names is None:
        return []
    names = names.get_object()
    tree = names.get("/EmbeddedFiles") if isinstance(names, generic.DictionaryObject) else None
    if tree is None:
        return []
    pairs: list[tuple[str, Any]] = []
    _names(tree, 0, [MAX_NAME_TREE_NODES], pairs)
    streams = []
    for key, value in pairs:
        spec = value.get_object()
        if not isinstance(spec, generic.DictionaryObject):
            continue
        if key != name and name not in _file_name(spec):
            continue
        embedded = spec.get("/EF")
        embedded = embedded.get_object() if embedded is not None else None
        if not isinstance(embedded, generic.DictionaryObject):
            raise AttachmentError(f"the file specification of {name} embeds no file (/EF)")
        stream = embedded.get("/UF") or embedded.get("/F")
        stream = stream.get_object() if stream is not None else None
        if not isinstance(stream, generic.StreamObject):
            raise AttachmentError(f"the embedded {name} is not a stream")
        streams.append(stream)
    return streams


def read_attachment(root: Any) -> bytes | None:
    """The decoded ``license.jwt`` of the document catalog ``root`` (any revision's), ``None`` if there is none.
    Raises :class:`AttachmentError` when there are several or it cannot be read."""
    try:
        streams = _embedded_streams(root, ATTACHMENT_NAME)
        if not streams:
            return None
        if len(streams) > 1:
            raise AttachmentError(f"the PDF embeds {len(streams)} files named {ATTACHMENT_NAME}: which one is meant?")
        data = bytes(streams[0].read_data(DecodePurpose.GENERIC, expected_size=MAX_ATTACHMENT_BYTES))
    except AttachmentError:
        raise
    except HOSTILE_ERRORS as exc:
        raise AttachmentError(f"the embedded {ATTACHMENT_NAME} cannot be read: {describe(exc)}") from None
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentError(f"the embedded {ATTACHMENT_NAME} exceeds {MAX_ATTACHMENT_BYTES} bytes")
    return data


def embedded_files(root: Any, name: str, limit: int) -> list[bytes]:
    """Every embedded file named ``name`` (decoded, each at most ``limit`` bytes; larger or unreadable ones are
    left out), e.g. a sealed PDF's transparency-log proofs (:data:`trust.formats.tlog.PDF_ATTACHMENT`)."""
    try:
        streams = _embedded_streams(root, name)
    except (AttachmentError, *HOSTILE_ERRORS):
        return []
    out = []
    for stream in streams:
        try:
            data = bytes(stream.read_data(DecodePurpose.GENERIC, expected_size=limit))
        except HOSTILE_ERRORS:
            continue
        if len(data) <= limit:
            out.append(data)
    return out


def is_license_pdf(data: bytes) -> bool:
    """Whether ``data`` is a readable PDF carrying a ``license.jwt`` attachment (for the verifier's dispatch; never
    raises: a PDF that cannot be read goes to :func:`verifier.pdf.verify.verify_pdf`, which says why)."""
    if len(data) > MAX_PDF_BYTES or b"%PDF-" not in data[:1024]:
        return False
    try:
        document = open_document(data)
        return read_attachment(document.reader.root) is not None
    except (AttachmentError, TrustError, *HOSTILE_ERRORS):
        return False


# --- the report ----------------------------------------------------------------------------------------------


class _State(ReportBuilder):
    """The report of a licence PDF in the making: the checks of :data:`_ORDER`, judged by
    :func:`verifier.report.bottom_line` in that order."""

    def __init__(self, ctx: VerificationContext, kind: str = "license-pdf", order: Sequence[str] = ()) -> None:
        super().__init__(kind, ctx.validation_time, order=order or _ORDER)  # a licence OFD: its own kind and order

    def ok(self, name: str, detail: str) -> None:
        self.passed(name, detail)

    def fail(self, name: str, indication: Indication, sub: SubIndication, message: str) -> None:
        self.failed(name, indication, sub, message)

    def skip(self, name: str, detail: str) -> None:
        self.skipped(name, detail)


@dataclass(frozen=True)
class _Seal:
    field: str
    revision: int
    holder_code: str | None
    subject: str
    certificate: Any = None  # the signer's asn1crypto certificate


def _issuer_cas(ctx: VerificationContext, claims: Mapping[str, Any]) -> dict[str, list[Any]] | None:
    """The CA certificates (current and previous, parsed) of the trust-list entry that holds the licence issuer's
    ``LICENSE_ISSUER`` service — the region (or department) whose CA must have certified the authority's seal
    (issue 11, item 3); ``None`` without a trust list. An issuer the list does not know has no CA: ``{}``."""
    if ctx.trust_list is None:
        return None
    cas: dict[str, list[Any]] = {}
    iss = claims.get("iss")
    for entry, _service in ctx.trust_list.license_issuers(iss) if isinstance(iss, str) else ():
        for ca in entry.services:
            if ca.type == "CA":
                certs = cas.setdefault(ca.id, [])
                for der in (ca.certificate, *ca.previous_certificates):
                    try:
                        certs.append(ctx.memo.certificate(der))
                    except TrustError:
                        continue
    return cas


def _issuer_cas_label(cas: dict[str, list[Any]] | None) -> str:
    return ", ".join(sorted(cas or {})) or "no CA"


def _issued_by(cert: Any, cas: dict[str, list[Any]]) -> bool:
    """Whether one of ``cas`` issued ``cert`` (issuer name and signature with its key)."""
    if cert is None:
        return False
    for certs in cas.values():
        for ca in certs:
            if ca.subject != cert.issuer:
                continue
            try:
                cx.verify_signature(cert, cx.public_key(ca))
            except (TrustError, ValueError, TypeError):
                continue
            return True
    return False


def _seals(document: Document) -> list[_Seal]:
    """Every ``/Sig`` signature with its signer's subject and the revision it signed (unreadable ones skipped: the
    PDF report says what is wrong with them)."""
    found = []
    for item in signature_fields(document):
        if item.value is None or item.value_ref is None or item.value.get("/Type", "/Sig") != "/Sig":
            continue
        try:
            embedded = EmbeddedPdfSignature(document.reader, item.field, item.name)
            signer = embedded.signer_cert
            subject = signer.subject.native
            revision = document.reader.xrefs.get_last_change(item.value_ref)
        except HOSTILE_ERRORS:
            continue
        code = subject.get("serial_number") if isinstance(subject, Mapping) else None
        found.append(_Seal(item.name, revision, str(code) if code else None, name_text(signer.subject), signer))
    return found


def _issuer_name(ctx: VerificationContext, claims: Mapping[str, Any]) -> str | None:
    """The issuing authority's name in the trust list (scope of the ``LICENSE_ISSUER`` service named by ``iss``)."""
    if ctx.trust_list is None:
        return None
    iss = claims.get("iss")
    for _issuer, service in ctx.trust_list.license_issuers(iss) if isinstance(iss, str) else ():
        scope = service.scope or {}
        if isinstance(scope.get("name"), str):
            return str(scope["name"])
    return None


def page_text(pdf: bytes) -> str:
    """The text of every page (pypdf, in content order, through the fonts' ``ToUnicode`` maps), normalised
    (:func:`trust.formats.license_face.normalise`). pypdf rather than pdfplumber: a licence face's QR code is thousands
    of path operators, which pdfminer turns into layout objects (about four times slower for the same text)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    parts = []
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=False)
        if len(reader.pages) > MAX_FACE_PAGES:
            raise InputError(
                f"the licence PDF has {len(reader.pages)} pages; faces of at most {MAX_FACE_PAGES} are read",
                code=Code.INPUT_TOO_LARGE,
            )
        total = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            total += len(text)
            if total > MAX_FACE_CHARS:
                raise InputError(f"the licence face has more than {MAX_FACE_CHARS} characters of text")
            parts.append(text)
    except TrustError:
        raise
    except (PyPdfError, *HOSTILE_ERRORS) as exc:
        raise EncodingError(f"the text of the face cannot be read: {describe(exc)}") from None
    return face_mod.normalise("\n".join(parts))


def _face(pdf: bytes, claims: Mapping[str, Any], ctx: VerificationContext, state: _State) -> None:
    issuer_name = _issuer_name(ctx, claims)
    try:
        content = face_mod.face_from_claims(claims, issuer_name)
        expected = content.expected()
    except TrustError as exc:
        warning = f"the face cannot be compared with the token: {exc.message}"
        state.warnings.append(warning)
        state.skip("face", warning)
        return
    if issuer_name is None:
        state.warnings.append("the issuing authority's name was not checked on the face (no trust list entry)")
    try:
        text = page_text(pdf)
    except TrustError as exc:
        state.fail("face", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, exc.message)
        return
    check_face(text, content, expected, issuer_name, state)


def check_face(
    text: str, content: face_mod.Face, expected: list[tuple[str, str]], issuer_name: str | None, state: _State
) -> None:
    """The face check (module docstring, step 6) on the normalised text of the pages: also the licence OFD's
    (:mod:`verifier.license_ofd`)."""
    missing = [(what, value) for what, value in expected if face_mod.normalise(value) not in text]
    if missing:
        shown = "; ".join(f"{what} {value[:100]!r}" for what, value in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        state.fail(
            "face",
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"the face does not show what the token says: {shown}{more} not on the face",
        )
        state.details["face_missing"] = [what for what, _v in missing]
        return
    extra = face_mod.unaccounted(text, content.printed(), open_after=None if issuer_name else face_mod.AUTHORITY_LABEL)
    if extra:
        shown = "; ".join(repr(run[:60]) for run in extra[:4])
        state.fail(
            "face",
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"the face shows text that is not part of the licence: {shown}"
            + (f" and {len(extra) - 4} more" if len(extra) > 4 else ""),
        )
        state.details["face_extra"] = extra[:8]
        return
    state.ok(
        "face",
        f"the face shows all {len(expected)} texts of the token (title, identifier, fields, validity, "
        "date of issue" + (", issuing authority)" if issuer_name else ")") + " and nothing else",
    )


def _sealed_by_issuer(
    document: Document, claims: Mapping[str, Any], authority: str, ctx: VerificationContext, state: _State
) -> _Seal | None:
    """The check ``sealed-by-issuer`` (module docstring); the authority's first seal, or None."""
    seals = _seals(document)
    named = [s for s in seals if s.holder_code and s.holder_code == authority]
    issuer_cas = _issuer_cas(ctx, claims)
    by_issuer = [s for s in named if issuer_cas is None or _issued_by(s.certificate, issuer_cas)]
    if not by_issuer:
        others = ", ".join(s.subject for s in seals) or "none"
        why = (
            f"no seal of the issuing authority {authority or '?'} on the licence (seals: {others})"
            if not named
            else f"the seal naming the issuing authority {authority} was not certified by a CA of the licence "
            f"issuer's region in the trust list ({_issuer_cas_label(issuer_cas)}): seals: {others}"
        )
        issued = _token_time(claims)
        if named and issuer_cas == {} and issued is not None and ctx.newer_than_bundle(issued, certificate=False):
            # the licence issuer is not in the bundle's trust list at all, and the licence is newer than the list
            why = f"the licence issuer {claims.get('iss')} is not in the trust list: " + ctx.newer_bundle(
                "the licence (iat)", issued
            )
            state.fail("sealed-by-issuer", Indication.INDETERMINATE, SubIndication.TRY_LATER, why)
            return None
        state.fail("sealed-by-issuer", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, why)
        return None
    first = min(by_issuer, key=lambda s: s.revision)
    if issuer_cas is None:
        where = " (the trust list was not given: which CA certified the seal was not checked)"
        state.warnings.append("the seal's CA was not matched to the licence issuer's region (no trust list)")
    else:
        where = f", certified by {_issuer_cas_label(issuer_cas)} of the issuer's trust-list entry"
    state.ok("sealed-by-issuer", f"sealed by {first.subject} (field {first.field}){where}")
    state.details["authority_seal"] = first.field
    return first


def _token_time(claims: Mapping[str, Any]) -> datetime | None:
    """The token's ``iat`` (unverified: the token check judges it), ``None`` if it is not a usable NumericDate."""
    iat = claims.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        return None
    try:
        return datetime.fromtimestamp(iat, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _sealed_attachment(document: Document, first: _Seal, current: bytes, state: _State) -> None:
    """The check ``sealed-attachment``: the token the authority's seal covers is the file's current one."""
    try:
        sealed = read_attachment(document.reader.get_historical_resolver(first.revision).root)
    except AttachmentError as exc:
        state.fail("sealed-attachment", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, str(exc))
        return
    except HOSTILE_ERRORS as exc:
        message = f"the revision the authority sealed cannot be read: {describe(exc)}"
        state.fail("sealed-attachment", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message)
        return
    if sealed is None:
        state.fail(
            "sealed-attachment",
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"{ATTACHMENT_NAME} was added after the authority's seal {first.field}: the seal does not cover it",
        )
    elif sealed != current:
        state.fail(
            "sealed-attachment",
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"{ATTACHMENT_NAME} was replaced after the authority's seal {first.field}: the token in the "
            "file is not the one the authority sealed",
        )
    else:
        state.ok("sealed-attachment", f"{ATTACHMENT_NAME} is the one sealed by {first.field}")


def _verify_parts(pdf: bytes, ctx: VerificationContext, state: _State) -> str:
    """Runs the checks in order (a check that cannot run without the token is reported as not run); returns the
    report's subject."""
    pdf_report = verify_pdf(pdf, ctx)  # unreadable PDFs raise EncodingError here (input error)
    document = open_document(pdf)
    try:
        current = read_attachment(document.reader.root)
        if current is None:
            raise AttachmentError(f"the PDF carries no {ATTACHMENT_NAME} attachment: it is not a Huren licence PDF")
        text = current.decode("ascii").strip()
        _header, claims = token_mod.parse_unverified(text)
    except (AttachmentError, UnicodeDecodeError, TrustError) as exc:
        reason = (
            str(exc)
            if isinstance(exc, AttachmentError)
            else f"{ATTACHMENT_NAME}: {exc.message if isinstance(exc, TrustError) else 'not ASCII'}"
        )
        state.fail("attachment", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, reason)
        state.child_check("pdf-seal", pdf_report, "the PDF's seals")
        state.not_run(_ORDER, "there is no readable licence token in the PDF")
        return "licence PDF"
    state.ok("attachment", f"{ATTACHMENT_NAME}: a compact JWS of {len(current)} bytes")
    state.child_check("pdf-seal", pdf_report, "the PDF's seals")
    raw_license = claims.get("license")
    entry: Mapping[str, Any] = raw_license if isinstance(raw_license, Mapping) else {}
    authority = str(entry.get("issuer", ""))
    first = _sealed_by_issuer(document, claims, authority, ctx, state)
    if first is not None:
        _sealed_attachment(document, first, current, state)
    else:
        state.not_run(["sealed-attachment"], "no seal of the issuing authority to compare the attachment with")
    token_report = verify_license(text, ctx)
    state.child_check("license-token", token_report, "the licence token")
    _face(pdf, claims, ctx, state)
    details = dict(token_report.details)
    leading = {"identifier": entry.get("id"), **({"type": details["type"]} if "type" in details else {})}
    state.details = {**leading, **state.details}
    return token_report.subject or str(entry.get("id", "licence PDF"))


def verify_license_pdf(pdf: bytes, ctx: VerificationContext) -> Report:
    """Verify a licence PDF offline (see the module docstring). Raises :class:`~trust.crypto.errors.TrustError`
    only for input that is not a readable PDF at all."""
    if len(pdf) > MAX_PDF_BYTES:
        raise InputError(f"PDF of {len(pdf)} bytes exceeds {MAX_PDF_BYTES}", code=Code.INPUT_TOO_LARGE)
    state = _State(ctx)
    state.subject = _verify_parts(pdf, ctx, state)
    return state.build(warnings=ctx.warnings)


__all__ = ["ATTACHMENT_NAME", "is_license_pdf", "page_text", "read_attachment", "verify_license_pdf"]
