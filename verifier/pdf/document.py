"""Reading a PDF that is hostile until proven otherwise: the file, its revisions, its signature fields, its DSS.

* :func:`open_document` — pyHanko's ``PdfFileReader`` in strict mode with its decode limits for untrusted input
  (pyHanko 0.38 ``DecodeLimits``); an empty user password is tried on encrypted files; anything that does not read
  is an :class:`~trust.crypto.errors.EncodingError` with the reason (the CLI's exit code 3).
* :func:`signature_fields` — every signature field of the AcroForm that has a value (ISO 32000-2 clause 12.7.5.5),
  in document order, *whatever* its ``/SubFilter``: pyHanko's own enumeration skips unknown sub-filters, a verifier
  must report them. A field whose value cannot be read is still listed, with the reason.
* :func:`revision_end` — where a revision ends: after the ``startxref`` / ``%%EOF`` that follow its cross-reference
  section (ISO 32000-2 clause 7.5.5), with the end-of-line marker after ``%%EOF`` as an optional extra.
* :func:`revocation_material` — certificates, CRLs and OCSP responses of the Document Security Store (ETSI EN 319
  142-1 clause 5.4.2; ISO 32000-2 clause 12.8.4.3), bounded in number and size.

Every count and size is bounded here (:data:`MAX_SIGNATURES`, :data:`MAX_DSS_ITEMS`, ...); every error of the PDF
layer that hostile input can provoke is in :data:`HOSTILE_ERRORS`, which callers turn into a report or an input
error, never a crash.
"""

from __future__ import annotations

import binascii
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from asn1crypto import x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.crypt.api import AuthStatus
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader

from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from verifier import limits
from verifier.context import Memo
from verifier.pdf import strings as pdf_strings

pdf_strings.apply()  # linear-time string readers for pyHanko before any PDF is read

MAX_SIGNATURES: Final = 64
"""Signature fields verified in one PDF; more is refused as hostile (a real document has a handful)."""
MAX_REVISIONS: Final = 512
"""Revisions (cross-reference sections) of one PDF: every signature's change analysis walks all later ones."""
MAX_FIELDS: Final = 4096
"""Form fields walked while looking for signature fields."""
MAX_FIELD_DEPTH: Final = 32
"""Nesting of form fields (``/Kids``)."""
MAX_DSS_ITEMS: Final = 512
"""Certificates, CRLs and OCSP responses read from the DSS, each."""
MAX_DSS_BYTES: Final = 16 * 1024 * 1024
"""All DSS objects together, after decoding."""

HOSTILE_ERRORS: Final = (
    misc.PdfError,
    TrustError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,  # OverflowError, ZeroDivisionError, decimal.InvalidOperation (a number like "1.2.3")
    RecursionError,
    NotImplementedError,
    UnicodeError,
    EOFError,
    AssertionError,
    struct.error,
    zlib.error,
    binascii.Error,
)
"""What reading a hostile PDF can raise from pyHanko, asn1crypto and the standard library (never a bug of ours
to hide: MemoryError, KeyboardInterrupt and SystemExit pass)."""

_EOF_MARKER: Final = re.compile(rb"startxref[\x00\t\n\x0c\r ]+(\d{1,20})[\x00\t\n\x0c\r ]*%%EOF")


def describe(exc: BaseException) -> str:
    """A short, specific reason for people (type and the first line of the message)."""
    if isinstance(exc, TrustError):
        return exc.message
    if isinstance(exc, RecursionError):
        return "objects nested too deeply"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


@dataclass
class Document:
    """A PDF opened for verification: the bytes and pyHanko's strict reader over them."""

    data: bytes
    reader: PdfFileReader
    revisions: int
    hybrid_xrefs: bool
    encrypted: bool


def open_document(data: bytes) -> Document:
    """Open ``data`` with pyHanko's strict reader; :class:`EncodingError` if it is not a readable PDF."""
    try:
        reader = PdfFileReader(pdf_strings.LinearStream(data), strict=True)
        encrypted = bool(reader.encrypted)
        if encrypted:
            result = reader.decrypt(b"")
            if result.status == AuthStatus.FAILED:
                raise EncodingError("the PDF is encrypted with a password; it cannot be verified without it")
        revisions = int(reader.xrefs.total_revisions)
        if revisions > MAX_REVISIONS:
            raise InputError(
                f"the PDF has {revisions} revisions; at most {MAX_REVISIONS} are verified", code=Code.INPUT_TOO_LARGE
            )
        hybrid = bool(reader.xrefs.hybrid_xrefs_present)
        reader.root  # noqa: B018 - the catalog must resolve
    except TrustError:
        raise
    except HOSTILE_ERRORS as exc:
        raise EncodingError(f"not a readable PDF: {describe(exc)}") from None
    return Document(data=data, reader=reader, revisions=revisions, hybrid_xrefs=hybrid, encrypted=encrypted)


@dataclass
class SignatureField:
    """A signature field with a value: its name, the value's reference and what went wrong reading it."""

    name: str
    field: Any = None
    value_ref: generic.Reference | None = None
    value: Any = None
    problem: str | None = None


def signature_fields(document: Document) -> list[SignatureField]:
    """Every filled signature field of the AcroForm, in document order (see the module docstring)."""
    try:
        root = document.reader.root
        acroform = root.get("/AcroForm")
        if acroform is None:
            return []
        acroform = acroform.get_object()
        if not isinstance(acroform, generic.DictionaryObject) or "/Fields" not in acroform:
            return []
        fields = acroform["/Fields"]
    except HOSTILE_ERRORS as exc:
        raise EncodingError(f"the PDF's form (AcroForm) cannot be read: {describe(exc)}") from None
    if not isinstance(fields, generic.ArrayObject):
        raise EncodingError("the PDF's AcroForm /Fields is not an array")
    found: list[SignatureField] = []
    try:
        _walk(fields, "", None, 0, set(), found, [0])
    except TrustError:
        raise
    except HOSTILE_ERRORS as exc:
        raise EncodingError(f"the PDF's form fields cannot be read: {describe(exc)}") from None
    return found


def _walk(
    kids: Any,
    parent: str,
    inherited_type: Any,
    depth: int,
    seen: set[tuple[int, int]],
    found: list[SignatureField],
    walked: list[int],
) -> None:
    if depth > MAX_FIELD_DEPTH:
        raise EncodingError(f"form fields nested deeper than {MAX_FIELD_DEPTH} levels")
    for entry in kids:
        walked[0] += 1
        if walked[0] > MAX_FIELDS:
            raise EncodingError(f"more than {MAX_FIELDS} form fields")
        if isinstance(entry, generic.IndirectObject):
            key = (entry.idnum, entry.generation)
            if key in seen:
                raise EncodingError("the form field tree has a cycle")
            seen.add(key)
        try:
            node = entry.get_object()
        except HOSTILE_ERRORS as exc:
            found.append(
                SignatureField(name=f"{parent}.?" if parent else "?", problem=f"unreadable field: {describe(exc)}")
            )
            continue
        if not isinstance(node, generic.DictionaryObject):
            continue
        title = node.get("/T")
        name = str(title) if title is not None else ""
        qualified = f"{parent}.{name}" if parent and name else (name or parent)
        field_type = node.get("/FT", inherited_type)
        if field_type == "/Sig" and "/V" in node:
            found.append(_signature_field(qualified or "(unnamed)", node))
            if len(found) > MAX_SIGNATURES:
                raise EncodingError(f"more than {MAX_SIGNATURES} signatures in one PDF")
        kids_value = node.get("/Kids")
        if isinstance(kids_value, generic.ArrayObject):
            _walk(kids_value, qualified, field_type, depth + 1, seen, found, walked)


def _signature_field(name: str, node: generic.DictionaryObject) -> SignatureField:
    raw = node.raw_get("/V")
    if isinstance(raw, generic.NullObject):
        return SignatureField(name=name, field=node, problem="the signature field's value is null")
    if not isinstance(raw, generic.IndirectObject):
        return SignatureField(
            name=name,
            field=node,
            problem="the signature dictionary is not an indirect object (ISO 32000-2 clause 12.7.5.5)",
        )
    try:
        value = raw.get_object()
    except HOSTILE_ERRORS as exc:
        return SignatureField(
            name=name,
            field=node,
            value_ref=raw.reference,
            problem=f"the signature dictionary cannot be read: {describe(exc)}",
        )
    if not isinstance(value, generic.DictionaryObject):
        return SignatureField(
            name=name,
            field=node,
            value_ref=raw.reference,
            problem=f"the signature value is a {type(value).__name__}, not a dictionary",
        )
    return SignatureField(name=name, field=node, value_ref=raw.reference, value=value)


@dataclass(frozen=True)
class RevisionEnd:
    """Where revision ``revision`` ends: ``end`` just after ``%%EOF``; ``end_eol`` after its end-of-line marker."""

    revision: int
    end: int
    end_eol: int
    startxref_ok: bool


def revision_end(document: Document, revision: int) -> RevisionEnd | None:
    meta = document.reader.xrefs.get_xref_container_info(revision)
    data = document.data
    match = _EOF_MARKER.search(data, meta.end_location)
    if match is None:
        return None
    end = match.end()
    end_eol = end + (2 if data[end : end + 2] == b"\r\n" else 1 if data[end : end + 1] in (b"\n", b"\r") else 0)
    return RevisionEnd(revision, end, end_eol, int(match.group(1)) == meta.declared_startxref)


def object_offset(document: Document, ref: generic.Reference, revision: int) -> int | None:
    """File offset of the definition of ``ref`` valid in ``revision``; ``None`` if it sits in an object stream."""
    location = document.reader.xrefs.get_historical_ref(ref, revision)
    return location if isinstance(location, int) else None


@dataclass
class RevocationMaterial:
    """Validation data found in the document (DSS) for the signatures' certificate paths."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    ocsps: list[bytes] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.certificates)} certificates, {len(self.crls)} CRLs, {len(self.ocsps)} OCSP responses"


def revocation_material(document: Document, memo: Memo | None = None) -> RevocationMaterial:
    """The DSS of the current revision (bounded); unreadable entries are skipped and named in ``problems``.

    With ``memo`` (the verification context's), a certificate or CRL already parsed and checked is not again."""
    memo = memo or Memo()
    material = RevocationMaterial()
    try:
        dss = document.reader.root.get("/DSS")
        if dss is None:
            return material
        dss = dss.get_object()
        if not isinstance(dss, generic.DictionaryObject):
            material.problems.append("the /DSS entry is not a dictionary")
            return material
    except HOSTILE_ERRORS as exc:
        material.problems.append(f"the DSS cannot be read: {describe(exc)}")
        return material
    budget = [MAX_DSS_BYTES]
    for der in _dss_streams(dss, "/Certs", DecodePurpose.CERTIFICATE, material, budget):
        try:
            material.certificates.append(memo.certificate(der))
        except HOSTILE_ERRORS as exc:
            material.problems.append(f"DSS certificate skipped: {describe(exc)}")
    for der in _dss_streams(dss, "/CRLs", DecodePurpose.CRL, material, budget):
        try:
            material.crls.append(memo.checked_crl(der))
        except HOSTILE_ERRORS as exc:
            material.problems.append(f"DSS CRL skipped: {describe(exc)}")
    for der in _dss_streams(dss, "/OCSPs", DecodePurpose.OCSP_RESPONSE, material, budget):
        if len(der) > limits.MAX_OCSP_BYTES:
            material.problems.append("DSS OCSP response skipped: too large")
            continue
        material.ocsps.append(der)
    return material


def _dss_streams(
    dss: generic.DictionaryObject, key: str, purpose: DecodePurpose, material: RevocationMaterial, budget: list[int]
) -> Iterator[bytes]:
    try:
        entries = dss.get(key)
        if entries is None:
            return
        entries = entries.get_object()
        if not isinstance(entries, generic.ArrayObject):
            material.problems.append(f"DSS {key} is not an array")
            return
    except HOSTILE_ERRORS as exc:
        material.problems.append(f"DSS {key} cannot be read: {describe(exc)}")
        return
    if len(entries) > MAX_DSS_ITEMS:
        material.problems.append(f"DSS {key}: only the first {MAX_DSS_ITEMS} of {len(entries)} entries are read")
    for entry in list(entries)[:MAX_DSS_ITEMS]:
        try:
            stream = entry.get_object()
            if not isinstance(stream, generic.StreamObject):
                material.problems.append(f"DSS {key} entry is not a stream")
                continue
            data = bytes(stream.read_data(purpose))
        except HOSTILE_ERRORS as exc:
            material.problems.append(f"DSS {key} entry cannot be read: {describe(exc)}")
            continue
        budget[0] -= len(data)
        if budget[0] < 0:
            material.problems.append(f"DSS data beyond {MAX_DSS_BYTES} bytes ignored")
            return
        yield data
