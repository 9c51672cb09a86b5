"""OFD signatures (GB/T 33190-2016 clause 18; GB/T 38540-2020 clause 8 for the seal signature value): the list
``Signatures.xml``, each signature's ``Signature.xml``, its references and their digests.

``Signatures.xml`` (clause 18.1) lists every signature of a document: ``MaxSignId`` and one ``Signature`` per
signature with ``ID``, ``Type`` (``Seal``, the default, an electronic seal signature; ``Sign``, a plain digital
signature) and ``BaseLoc`` (its ``Signature.xml``).

``Signature.xml`` (clause 18.2): ``SignedInfo`` — ``Provider``, ``SignatureMethod``, ``SignatureDateTime``,
``References`` (``CheckMethod``, then one ``Reference`` per protected file: ``FileRef`` and the base64
``CheckValue``, the digest of the file's bytes), ``StampAnnot`` (the seal's appearance: ``PageRef``, ``Boundary``,
``Clip``) and ``Seal`` (``BaseLoc`` of the seal file) — and ``SignedValue`` (the location of ``SignedValue.dat``).
What is signed is the file ``Signature.xml`` itself, byte for byte: for ``Type="Seal"`` ``SignedValue.dat`` is a
GB/T 38540 ``SES_Signature`` whose ``dataHash`` is SM3 of ``Signature.xml``; for ``Type="Sign"`` it is a
signature over ``Signature.xml`` (raw SM2 ``SEQUENCE {r, s}`` in ofdrw's writer, or a GM/T 0010 / RFC 5652
SignedData).

Digests (``CheckMethod``): SM3 (``1.2.156.10197.1.401`` or the name ``SM3``) and SHA-256; the standard's default when
the attribute is absent is MD5, which — like SHA-1 — is reported as not acceptable (:func:`check_method`).

Building (:func:`build_signature`, :func:`add_to_list`) writes what Huren's sealing code needs; the digests are
always SM3 and ``CheckMethod`` its OID.

Pure format code: no storage, no network.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from trust.crypto.algorithms import digest
from trust.crypto.errors import Code, EncodingError
from trust.formats.ofd import xml
from trust.formats.ofd.document import Box, parse_box
from trust.formats.ofd.package import Package, folder, resolve

SM3_OID: Final = "1.2.156.10197.1.401"
SM2_SM3_OID: Final = "1.2.156.10197.1.501"
MAX_SIGNATURES: Final = 64
MAX_REFERENCES: Final = 10_000
CHECK_METHODS: Final = {
    SM3_OID: "sm3",
    "sm3": "sm3",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "sha256": "sha256",
    "sha-256": "sha256",
}
"""The ``CheckMethod`` values whose digests are compared (case-insensitive), by the digest they name."""
WEAK_CHECK_METHODS: Final = {"md5", "1.2.840.113549.2.5", "sha1", "sha-1", "1.3.14.3.2.26"}


def _invalid(message: str, **evidence: object) -> EncodingError:
    return EncodingError(message, code=Code.OFD_PACKAGE_INVALID, evidence=evidence)


@dataclass(frozen=True)
class SignatureEntry:
    """One ``Signature`` of ``Signatures.xml``."""

    id: str
    type: str  # "Seal" or "Sign"
    location: str  # the BaseLoc as written
    path: str  # the package name of its Signature.xml


@dataclass(frozen=True)
class SignatureList:
    path: str
    max_sign_id: str | None
    entries: tuple[SignatureEntry, ...]


@dataclass(frozen=True)
class Reference:
    file_ref: str  # as written
    path: str | None  # the package name, None when the location is unsafe
    check_value: bytes | None  # None when not base64
    problem: str = ""


@dataclass(frozen=True)
class StampAnnot:
    id: str | None
    page_ref: str | None
    boundary: Box | None
    clip: Box | None


@dataclass(frozen=True)
class SignatureFile:
    """A parsed ``Signature.xml``."""

    path: str
    provider: tuple[str | None, str | None, str | None]  # ProviderName, Company, Version
    method: str | None
    date_time: str | None
    check_method: str | None
    references: tuple[Reference, ...]
    stamps: tuple[StampAnnot, ...]
    seal: str | None  # package name of the seal file (Seal.esl), if named
    signed_value: str  # package name of SignedValue.dat
    raw: bytes


def check_method(value: str | None) -> tuple[str | None, str]:
    """``(digest name, "")`` for an acceptable ``CheckMethod``; ``(None, reason)`` otherwise."""
    if value is None:
        return None, "no CheckMethod: the standard's default is MD5, which is not acceptable"
    key = value.strip().lower()
    if key in CHECK_METHODS:
        return CHECK_METHODS[key], ""
    if key in WEAK_CHECK_METHODS:
        return None, f"CheckMethod {value!r} is a broken digest (MD5, SHA-1)"
    return None, f"CheckMethod {value!r} is not a digest this verifier knows (SM3, SHA-256)"


def parse_list(package: Package, path: str) -> SignatureList:
    """The ``Signatures.xml`` at ``path``."""
    name = package.find(path) or path
    root = xml.parse(package.read(name, "Signatures.xml"), name)
    if not xml.is_ofd(root, "Signatures"):
        raise _invalid(f"{name}: the root element is {xml.local(root)!r}, not ofd:Signatures")
    entries = []
    for index, item in enumerate(xml.children(root, "Signature")):
        if index >= MAX_SIGNATURES:
            raise _invalid(f"{name}: more than {MAX_SIGNATURES} signatures")
        location = item.get("BaseLoc") or ""
        if not location:
            raise _invalid(f"{name}: signature {index + 1} has no BaseLoc")
        entries.append(
            SignatureEntry(
                item.get("ID") or "",
                item.get("Type") or "Seal",
                location,
                resolve(location, folder(name)),
            )
        )
    return SignatureList(name, xml.text(root, "MaxSignId"), tuple(entries))


def _reference(element: xml.Element, base: str) -> Reference:
    file_ref = element.get("FileRef") or ""
    value = xml.text(element, "CheckValue")
    try:
        path: str | None = resolve(file_ref, base)
        problem = ""
    except EncodingError as exc:
        path, problem = None, exc.message
    checked: bytes | None = None
    if value is not None:
        try:
            checked = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            problem = problem or f"CheckValue of {file_ref[:200]!r} is not base64"
    else:
        problem = problem or f"reference {file_ref[:200]!r} has no CheckValue"
    return Reference(file_ref, path, checked, problem)


def parse_signature(package: Package, path: str) -> SignatureFile:
    """The ``Signature.xml`` at ``path`` (its bytes are kept: they are what was signed)."""
    name = package.find(path) or path
    raw = package.read(name, "Signature.xml")
    root = xml.parse(raw, name)
    if not xml.is_ofd(root, "Signature"):
        raise _invalid(f"{name}: the root element is {xml.local(root)!r}, not ofd:Signature")
    base = folder(name)
    info = xml.child(root, "SignedInfo")
    if info is None:
        raise _invalid(f"{name}: no SignedInfo")
    signed_value = xml.text(root, "SignedValue")
    if signed_value is None:
        raise _invalid(f"{name}: no SignedValue")
    provider = xml.child(info, "Provider")
    refs_el = xml.child(info, "References")
    references = []
    for index, item in enumerate(xml.children(refs_el, "Reference") if refs_el is not None else ()):
        if index >= MAX_REFERENCES:
            raise _invalid(f"{name}: more than {MAX_REFERENCES} references")
        references.append(_reference(item, base))
    stamps = tuple(
        StampAnnot(
            s.get("ID"),
            s.get("PageRef"),
            parse_box(s.get("Boundary"), f"{name} StampAnnot"),
            parse_box(s.get("Clip"), f"{name} StampAnnot Clip"),
        )
        for s in xml.children(info, "StampAnnot")
    )
    seal_el = xml.child(info, "Seal")
    seal_loc = xml.text(seal_el, "BaseLoc") if seal_el is not None else None
    return SignatureFile(
        path=name,
        provider=(
            provider.get("ProviderName") if provider is not None else None,
            provider.get("Company") if provider is not None else None,
            provider.get("Version") if provider is not None else None,
        ),
        method=xml.text(info, "SignatureMethod"),
        date_time=xml.text(info, "SignatureDateTime"),
        check_method=refs_el.get("CheckMethod") if refs_el is not None else None,
        references=tuple(references),
        stamps=stamps,
        seal=resolve(seal_loc, base) if seal_loc else None,
        signed_value=resolve(signed_value, base),
        raw=raw,
    )


_DATE_FORMATS: Final = (
    "%Y%m%d%H%M%SZ",
    "%Y%m%d%H%M%S.%fZ",
    "%Y%m%d%H%M%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
)


def signature_time(value: str | None) -> datetime | None:
    """``SignatureDateTime`` as an aware time: forms ending in ``Z`` are UTC; the others carry no zone and are read as
    Beijing time (UTC+8), as the Chinese writers that produce them mean it. None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            moment = datetime.strptime(text, fmt)  # the zone is decided below
        except ValueError:
            continue
        if text.endswith("Z"):
            return moment.replace(tzinfo=UTC)
        return (moment - timedelta(hours=8)).replace(tzinfo=UTC)
    return None


@dataclass(frozen=True)
class ReferenceResult:
    path: str
    status: str  # "ok", "changed", "missing", "invalid"
    expected: bytes | None
    computed: bytes | None
    detail: str = ""


def check_references(package: Package, signature: SignatureFile, algorithm: str) -> tuple[ReferenceResult, ...]:
    """Each reference's file digested with ``algorithm`` and compared with its ``CheckValue`` (exact names only: a
    file found only under another case is missing, as for a reader that does not fold case)."""
    results = []
    for ref in signature.references:
        if ref.path is None or ref.check_value is None:
            results.append(ReferenceResult(ref.path or ref.file_ref, "invalid", ref.check_value, None, ref.problem))
            continue
        data = package.get(ref.path)
        if data is None:
            results.append(ReferenceResult(ref.path, "missing", ref.check_value, None, "not in the package"))
            continue
        computed = digest(algorithm, data)
        status = "ok" if computed == ref.check_value else "changed"
        results.append(ReferenceResult(ref.path, status, ref.check_value, computed))
    return tuple(results)


# --- building ---------------------------------------------------------------------------------------------


def _box(box: Box) -> str:
    return " ".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in box)


def build_signature(
    *,
    references: Sequence[tuple[str, bytes]],
    signed_value: str,
    date_time: datetime,
    provider: tuple[str, str, str],
    stamps: Sequence[StampAnnot] = (),
    seal: str | None = None,
) -> bytes:
    """A ``Signature.xml``: ``references`` are (package name, SM3 digest) pairs, written as absolute ``FileRef``;
    ``signed_value`` and ``seal`` are package names; ``date_time`` is written in UTC (``YYYYMMDDhhmmssZ``)."""
    root = xml.element("Signature")
    info = xml.sub(root, "SignedInfo")
    name, company, version = provider
    xml.sub(info, "Provider", {"ProviderName": name, "Company": company, "Version": version})
    xml.sub(info, "SignatureMethod", text_value=SM2_SM3_OID)
    xml.sub(info, "SignatureDateTime", text_value=date_time.astimezone(UTC).strftime("%Y%m%d%H%M%SZ"))
    refs = xml.sub(info, "References", {"CheckMethod": SM3_OID})
    for path, value in references:
        ref = xml.sub(refs, "Reference", {"FileRef": "/" + path})
        xml.sub(ref, "CheckValue", text_value=base64.b64encode(value).decode("ascii"))
    for stamp in stamps:
        attributes = {"ID": stamp.id or "", "PageRef": stamp.page_ref or ""}
        if stamp.boundary is not None:
            attributes["Boundary"] = _box(stamp.boundary)
        if stamp.clip is not None:
            attributes["Clip"] = _box(stamp.clip)
        xml.sub(info, "StampAnnot", attributes)
    if seal is not None:
        seal_el = xml.sub(info, "Seal")
        xml.sub(seal_el, "BaseLoc", text_value="/" + seal)
    xml.sub(root, "SignedValue", text_value="/" + signed_value)
    return xml.serialise(root)


_NUMBER: Final = re.compile(r"(\d+)$")


def next_id(existing: Sequence[str]) -> str:
    """A signature ID after every numbered one (``"1"``, ``"s001"`` … → one more than the largest number)."""
    numbers = [int(m.group(1)) for value in existing if (m := _NUMBER.search(value))]
    return str(max(numbers, default=0) + 1)


def add_to_list(current: bytes | None, *, entry_id: str, kind: str, location: str) -> bytes:
    """``Signatures.xml`` with one more ``Signature`` (``location`` a package name): the existing entries are kept
    as they are, ``MaxSignId`` is set to the new ID."""
    if current is None:
        root = xml.element("Signatures")
        xml.sub(root, "MaxSignId", text_value=entry_id)
    else:
        root = xml.parse(current, "Signatures.xml")
        max_el = xml.child(root, "MaxSignId")
        if max_el is None:
            max_el = xml.element("MaxSignId")
            root.insert(0, max_el)
        max_el.text = entry_id
    xml.sub(root, "Signature", {"ID": entry_id, "Type": kind, "BaseLoc": "/" + location})
    return xml.serialise(root)


def set_signatures_location(ofd_xml: bytes, doc_index: int, location: str) -> bytes:
    """``OFD.xml`` whose ``doc_index``-th ``DocBody`` names ``location`` as its ``Signatures`` (added after
    ``DocRoot`` when absent)."""
    root = xml.parse(ofd_xml, "OFD.xml")
    bodies = list(xml.children(root, "DocBody"))
    if doc_index >= len(bodies):
        raise _invalid(f"OFD.xml has no document {doc_index}")
    body = bodies[doc_index]
    element = xml.child(body, "Signatures")
    if element is None:
        element = xml.element("Signatures")
        doc_root = xml.child(body, "DocRoot")
        position = list(body).index(doc_root) + 1 if doc_root is not None else len(body)
        body.insert(position, element)
    element.text = location
    return xml.serialise(root)
