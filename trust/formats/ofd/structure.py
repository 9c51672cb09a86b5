"""The structure rules of an OFD package (GB/T 33190-2016 and its XML schema), checked file by file.

:func:`validate` returns every :class:`Violation` it finds — a rule name, the file and what is wrong — and an empty
tuple for a package that follows the rules. It does not raise for a package it can read: a reader decides what a
violation means (Huren's own packages must have none, ``tests/trust/formats/ofd/test_structure.py``; the verifier
reports them as a warning). The rules are those of the standard's schema (element names, order and cardinality,
required attributes, value types) as docs/OFD.md lists them, with two deliberate departures where every deployed
writer and GB/T 38540 differ from the 2016 schema: ``References/@CheckMethod`` may name SM3 or SHA-256 (by name or
OID), not only MD5/SHA1, and ``ID`` attributes typed ``xs:ID`` (signatures, stamps, attachments) may be numbers.

Rules (the ``rule`` of a violation):

* ``entry`` — ``OFD.xml``: root ``OFD`` with ``Version`` 1.0 or 1.1 and ``DocType="OFD"``; one or more ``DocBody``,
  each ``DocInfo``, ``DocRoot``, ``Versions``?, ``Signatures``? in that order; ``DocInfo`` starts with ``DocID``,
  its children in the schema's order, ``CreationDate``/``ModDate`` dates, every ``CustomData`` named.
* ``document`` — ``Document.xml``: ``CommonData`` (``MaxUnitID``, ``PageArea`` with ``PhysicalBox``, ``PublicRes``*,
  ``DocumentRes``*, ``TemplatePage``*, ``DefaultCS``?), ``Pages`` with one or more ``Page`` (``ID``, ``BaseLoc``),
  then ``Outlines``, ``Permissions``, ``Actions``, ``VPreferences``, ``Bookmarks``, ``Annotations``, ``CustomTags``,
  ``Attachments``, ``Extensions`` (each optional, in that order).
* ``location`` — every location (``DocRoot``, ``Signatures``, ``PublicRes``, ``DocumentRes``, pages, templates,
  ``FontFile``, ``MediaFile``, ``Attachments``, ``FileLoc``, signature files) names a file of the package.
* ``id`` — object IDs (``ST_ID``) are unsigned integers, unique in the document and not above ``MaxUnitID``;
  references (``Font``, ``ResourceID``, ``PageRef``) name an object that exists.
* ``box`` — ``PhysicalBox``, ``Boundary`` and the like are four numbers with a width and height not negative.
* ``resource`` — ``Res`` has ``BaseLoc``; ``Font`` has ``FontName``; ``MultiMedia`` has ``Type`` and ``MediaFile``.
* ``page`` — ``Page``: ``Template``*, ``PageRes``*, ``Area``?, ``Content``?, ``Actions``?; layers hold page objects;
  ``TextObject`` has ``Font``, ``Size`` and ``TextCode``; ``PathObject`` has ``AbbreviatedData``; ``ImageObject`` has
  ``ResourceID``; every page object has ``ID`` and ``Boundary``.
* ``attachments`` — ``Attachment`` with ``ID``, ``Name`` and ``FileLoc``; ``CreationDate`` a date-time, ``Size`` a
  number, ``Visible`` a boolean.
* ``signatures`` — ``Signatures``: ``MaxSignId``?, then ``Signature`` (``ID``, ``BaseLoc``, ``Type`` Seal or Sign);
  ``Signature.xml``: ``SignedInfo`` (``Provider`` with ``ProviderName``, ``SignatureMethod``?,
  ``SignatureDateTime``?, ``References`` with one or more ``Reference`` (``FileRef``, base64 ``CheckValue``),
  ``StampAnnot``* (``ID``, ``PageRef``, ``Boundary``), ``Seal``? with ``BaseLoc``), then ``SignedValue``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from trust.crypto.errors import TrustError
from trust.formats.ofd import xml
from trust.formats.ofd.package import Package, folder, resolve

VERSIONS: Final = frozenset({"1.0", "1.1"})
CHECK_METHODS: Final = frozenset(
    {"MD5", "SHA1", "SM3", "SHA256", "SHA-256", "1.2.156.10197.1.401", "2.16.840.1.101.3.4.2.1"}
)
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?$")
_DATE_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_BOOLEAN: Final = frozenset({"true", "false", "1", "0"})
_DOC_INFO: Final = (
    "DocID",
    "Title",
    "Author",
    "Subject",
    "Abstract",
    "CreationDate",
    "ModDate",
    "DocUsage",
    "Cover",
    "Keywords",
    "Creator",
    "CreatorVersion",
    "CustomDatas",
)
_DOCUMENT: Final = (
    "CommonData",
    "Pages",
    "Outlines",
    "Permissions",
    "Actions",
    "VPreferences",
    "Bookmarks",
    "Annotations",
    "CustomTags",
    "Attachments",
    "Extensions",
)
_COMMON: Final = ("MaxUnitID", "PageArea", "PublicRes", "DocumentRes", "TemplatePage", "DefaultCS")
_REPEATABLE: Final = frozenset(
    {
        "PublicRes",
        "DocumentRes",
        "TemplatePage",
        "DocBody",
        "Page",
        "Signature",
        "StampAnnot",
        "Attachment",
        "PageRes",
        "Template",
        "Reference",
    }
)
_PAGE: Final = ("Template", "PageRes", "Area", "Content", "Actions")
_OBJECTS: Final = frozenset({"TextObject", "PathObject", "ImageObject", "CompositeObject", "PageBlock"})
_SIGNED_INFO: Final = ("Provider", "SignatureMethod", "SignatureDateTime", "References", "StampAnnot", "Seal")


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name (module docstring), the file and what is wrong."""

    rule: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: /{self.path}: {self.message}"


@dataclass
class _State:
    pkg: Package
    found: list[Violation] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)  # object ID -> file, per document
    fonts: set[int] = field(default_factory=set)
    media: set[int] = field(default_factory=set)
    pages: set[int] = field(default_factory=set)

    def add(self, rule: str, path: str, message: str) -> None:
        self.found.append(Violation(rule, path, message))


def validate(pkg: Package) -> tuple[Violation, ...]:
    """Every violation of the structure rules in ``pkg`` (module docstring); empty when it follows them all."""
    state = _State(pkg)
    root = _parse(state, "OFD.xml", "OFD", "entry")
    if root is None:
        return tuple(state.found)
    _entry(state, root)
    for body in xml.children(root, "DocBody"):
        state.ids, state.fonts, state.media, state.pages = {}, set(), set(), set()
        doc_path = _location(state, "entry", "OFD.xml", xml.text(body, "DocRoot"), "", "DocRoot")
        if doc_path is not None:
            _document(state, doc_path)
        signatures = _location(state, "entry", "OFD.xml", xml.text(body, "Signatures"), "", "Signatures")
        if signatures is not None:
            _signatures(state, signatures)
    return tuple(state.found)


# --- helpers ---------------------------------------------------------------------------------------------------


def _parse(state: _State, path: str, name: str, rule: str) -> xml.Element | None:
    try:
        root = xml.parse(state.pkg.read(path), path)
    except TrustError as exc:
        state.add(rule, path, exc.message)
        return None
    if not xml.is_ofd(root, name):
        state.add(rule, path, f"the root element is {xml.local(root)!r}, not {name}")
        return None
    return root


def _location(state: _State, rule: str, path: str, value: str | None, base: str, what: str) -> str | None:
    """The package name of location ``value`` (from the folder ``base``); a violation when it names no file."""
    if value is None:
        return None
    try:
        name = resolve(value, base)
    except TrustError as exc:
        state.add("location", path, f"{what} {value[:100]!r}: {exc.message}")
        return None
    found = state.pkg.find(name)
    if found is None:
        state.add("location", path, f"{what} {value[:100]!r} names /{name}, which is not in the package")
    return found


def _order(state: _State, rule: str, path: str, parent: xml.Element, allowed: Sequence[str]) -> None:
    """Children of ``parent`` are among ``allowed``, in that order, each at most once unless repeatable."""
    position = -1
    seen: set[str] = set()
    for el in parent:
        name = xml.local(el)
        if not name:
            continue
        if name not in allowed:
            state.add(rule, path, f"{xml.local(parent)} has an unexpected element {name}")
            continue
        index = allowed.index(name)
        if index < position:
            state.add(rule, path, f"{xml.local(parent)}: {name} comes after {allowed[position]}")
        if name in seen and name not in _REPEATABLE:
            state.add(rule, path, f"{xml.local(parent)}: {name} appears more than once")
        seen.add(name)
        position = max(position, index)


def _required(state: _State, rule: str, path: str, el: xml.Element, *names: str) -> bool:
    missing = [n for n in names if not (el.get(n) or "").strip()]
    for name in missing:
        state.add(rule, path, f"{xml.local(el)} has no {name} attribute")
    return not missing


def _unsigned(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value.strip())
    return number if number < 2**32 else None


def _box(state: _State, path: str, value: str | None, what: str) -> None:
    if value is None:
        return
    parts = value.split()
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or numbers[2] < 0 or numbers[3] < 0:
        state.add("box", path, f"{what} {value[:60]!r} is not four numbers x y width height (width, height ≥ 0)")


def _object_id(state: _State, path: str, el: xml.Element) -> int | None:
    value = el.get("ID")
    number = _unsigned(value)
    if number is None:
        state.add("id", path, f"{xml.local(el)} ID {value!r} is not an unsigned integer")
        return None
    if number in state.ids:
        state.add("id", path, f"{xml.local(el)} ID {number} is used again (first in /{state.ids[number]})")
    state.ids.setdefault(number, path)
    return number


# --- files -----------------------------------------------------------------------------------------------------


def _entry(state: _State, root: xml.Element) -> None:
    path = "OFD.xml"
    if root.get("Version") not in VERSIONS:
        state.add("entry", path, f"OFD Version is {root.get('Version')!r}, not 1.0 (GB/T 33190-2016) or 1.1")
    if root.get("DocType") != "OFD":
        state.add("entry", path, f"OFD DocType is {root.get('DocType')!r}, not OFD")
    _order(state, "entry", path, root, ("DocBody",))
    bodies = list(xml.children(root, "DocBody"))
    if not bodies:
        state.add("entry", path, "OFD has no DocBody")
    for body in bodies:
        _order(state, "entry", path, body, ("DocInfo", "DocRoot", "Versions", "Signatures"))
        info = xml.child(body, "DocInfo")
        if info is None:
            state.add("entry", path, "DocBody has no DocInfo")
        else:
            _order(state, "entry", path, info, _DOC_INFO)
            first = next((xml.local(el) for el in info if xml.local(el)), None)
            if first != "DocID":
                state.add("entry", path, "DocInfo does not start with DocID")
            for name in ("CreationDate", "ModDate"):
                value = xml.text(info, name)
                if value is not None and not _DATE.match(value):
                    state.add("entry", path, f"DocInfo {name} {value!r} is not a date (YYYY-MM-DD)")
            custom = xml.child(info, "CustomDatas")
            for data in xml.children(custom, "CustomData") if custom is not None else ():
                _required(state, "entry", path, data, "Name")
        if xml.text(body, "DocRoot") is None:
            state.add("entry", path, "DocBody has no DocRoot")


def _document(state: _State, path: str) -> None:
    root = _parse(state, path, "Document", "document")
    if root is None:
        return
    base = folder(path)
    _order(state, "document", path, root, _DOCUMENT)
    common = xml.child(root, "CommonData")
    max_id = _common(state, path, common) if common is not None else None
    if common is None:
        state.add("document", path, "Document has no CommonData")
    pages_el = xml.child(root, "Pages")
    pages = list(xml.children(pages_el, "Page")) if pages_el is not None else []
    if not pages:
        state.add("document", path, "Document has no Pages with a Page")
    for page in pages:
        if _required(state, "document", path, page, "ID", "BaseLoc"):
            number = _object_id(state, path, page)
            if number is not None:
                state.pages.add(number)
            loc = _location(state, "document", path, page.get("BaseLoc"), base, "Page")
            if loc is not None:
                _page(state, loc)
    attachments = _location(state, "document", path, xml.text(root, "Attachments"), base, "Attachments")
    if attachments is not None:
        _attachments(state, attachments)
    for name in ("Annotations", "CustomTags", "Extensions"):
        _location(state, "document", path, xml.text(root, name), base, name)
    if max_id is not None:
        above = sorted(n for n in state.ids if n > max_id)
        if above:
            state.add("id", path, f"object ID(s) {', '.join(map(str, above[:5]))} exceed MaxUnitID {max_id}")
    _references(state)


def _common(state: _State, path: str, common: xml.Element) -> int | None:
    """``CommonData``: its order, ``MaxUnitID`` (returned), ``PageArea``, resources and templates."""
    base = folder(path)
    _order(state, "document", path, common, _COMMON)
    value = xml.text(common, "MaxUnitID")
    max_id = _unsigned(value)
    if value is None:
        state.add("document", path, "CommonData has no MaxUnitID")
    elif max_id is None:
        state.add("id", path, f"MaxUnitID {value!r} is not an unsigned integer")
    area = xml.child(common, "PageArea")
    if area is None or xml.text(area, "PhysicalBox") is None:
        state.add("document", path, "CommonData has no PageArea with a PhysicalBox")
    else:
        _box(state, path, xml.text(area, "PhysicalBox"), "PhysicalBox")
    for name in ("PublicRes", "DocumentRes"):
        for el in xml.children(common, name):
            res = _location(state, "document", path, xml.text(el), base, name)
            if res is not None:
                _resources(state, res)
    for template in xml.children(common, "TemplatePage"):
        if _required(state, "document", path, template, "ID", "BaseLoc"):
            _object_id(state, path, template)
            loc = _location(state, "document", path, template.get("BaseLoc"), base, "TemplatePage")
            if loc is not None:
                _page(state, loc)
    return max_id


def _resources(state: _State, path: str) -> None:
    root = _parse(state, path, "Res", "resource")
    if root is None:
        return
    if not _required(state, "resource", path, root, "BaseLoc"):
        return
    base = resolve(root.get("BaseLoc", ""), folder(path)) if root.get("BaseLoc") else folder(path)
    for group, name in (
        ("Fonts", "Font"),
        ("MultiMedias", "MultiMedia"),
        ("ColorSpaces", "ColorSpace"),
        ("DrawParams", "DrawParam"),
        ("CompositeGraphicUnits", "CompositeGraphicUnit"),
    ):
        for parent in xml.children(root, group):
            for el in xml.children(parent, name):
                number = _object_id(state, path, el)
                if name == "Font":
                    _required(state, "resource", path, el, "FontName")
                    if number is not None:
                        state.fonts.add(number)
                    _location(state, "resource", path, xml.text(el, "FontFile"), base, "FontFile")
                elif name == "MultiMedia":
                    _required(state, "resource", path, el, "Type")
                    if number is not None:
                        state.media.add(number)
                    if xml.text(el, "MediaFile") is None:
                        state.add("resource", path, "MultiMedia has no MediaFile")
                    _location(state, "resource", path, xml.text(el, "MediaFile"), base, "MediaFile")
                elif name == "CompositeGraphicUnit" and number is not None:
                    state.media.add(number)


def _page(state: _State, path: str) -> None:
    root = _parse(state, path, "Page", "page")
    if root is None:
        return
    _order(state, "page", path, root, _PAGE)
    for res in xml.children(root, "PageRes"):
        loc = _location(state, "page", path, xml.text(res), folder(path), "PageRes")
        if loc is not None:
            _resources(state, loc)
    area = xml.child(root, "Area")
    if area is not None:
        _box(state, path, xml.text(area, "PhysicalBox"), "PhysicalBox")
    content = xml.child(root, "Content")
    for layer in xml.children(content, "Layer") if content is not None else ():
        _object_id(state, path, layer)
        _objects(state, path, layer)


def _objects(state: _State, path: str, parent: xml.Element) -> None:
    for el in parent:
        name = xml.local(el)
        if name not in _OBJECTS:
            continue
        _object_id(state, path, el)
        if name != "PageBlock" and _required(state, "page", path, el, "Boundary"):
            _box(state, path, el.get("Boundary"), f"{name} Boundary")
        if name == "TextObject":
            _required(state, "page", path, el, "Font", "Size")
            if not any(True for _ in xml.children(el, "TextCode")):
                state.add("page", path, f"TextObject {el.get('ID')} has no TextCode")
        elif name == "PathObject":
            if xml.child(el, "AbbreviatedData") is None:
                state.add("page", path, f"PathObject {el.get('ID')} has no AbbreviatedData")
        elif name in ("ImageObject", "CompositeObject"):
            _required(state, "page", path, el, "ResourceID")
        elif name == "PageBlock":
            _objects(state, path, el)


def _references(state: _State) -> None:
    """``Font`` and ``ResourceID`` of the pages of the document just read name objects that exist."""
    for path in sorted(set(state.ids.values())):
        data = state.pkg.get(path)
        if data is None:
            continue
        try:
            root = xml.parse(data, path)
        except TrustError:
            continue
        if not xml.is_ofd(root, "Page"):
            continue
        for el in root.iter():
            name = xml.local(el)
            if name == "TextObject":
                ref = _unsigned(el.get("Font"))
                if ref is None or ref not in state.fonts:
                    state.add("id", path, f"TextObject {el.get('ID')} names the font {el.get('Font')!r}, not declared")
            elif name in ("ImageObject", "CompositeObject"):
                ref = _unsigned(el.get("ResourceID"))
                if ref is None or ref not in state.media:
                    state.add(
                        "id", path, f"{name} {el.get('ID')} names the resource {el.get('ResourceID')!r}, not declared"
                    )


def _attachments(state: _State, path: str) -> None:
    root = _parse(state, path, "Attachments", "attachments")
    if root is None:
        return
    _order(state, "attachments", path, root, ("Attachment",))
    for el in xml.children(root, "Attachment"):
        _required(state, "attachments", path, el, "ID", "Name")
        if xml.text(el, "FileLoc") is None:
            state.add("attachments", path, f"Attachment {el.get('Name')!r} has no FileLoc")
        _location(state, "attachments", path, xml.text(el, "FileLoc"), folder(path), "FileLoc")
        for name, pattern in (("CreationDate", _DATE_TIME), ("ModDate", _DATE_TIME)):
            value = el.get(name)
            if value is not None and not pattern.match(value):
                state.add("attachments", path, f"Attachment {name} {value!r} is not a date-time")
        size = el.get("Size")
        if size is not None:
            try:
                float(size)
            except ValueError:
                state.add("attachments", path, f"Attachment Size {size!r} is not a number")
        visible = el.get("Visible")
        if visible is not None and visible not in _BOOLEAN:
            state.add("attachments", path, f"Attachment Visible {visible!r} is not a boolean")


def _signatures(state: _State, path: str) -> None:
    root = _parse(state, path, "Signatures", "signatures")
    if root is None:
        return
    _order(state, "signatures", path, root, ("MaxSignId", "Signature"))
    seen: set[str] = set()
    for el in xml.children(root, "Signature"):
        if not _required(state, "signatures", path, el, "ID", "BaseLoc"):
            continue
        if el.get("ID") in seen:
            state.add("signatures", path, f"Signature ID {el.get('ID')!r} is used again")
        seen.add(el.get("ID", ""))
        if el.get("Type", "Seal") not in ("Seal", "Sign"):
            state.add("signatures", path, f"Signature Type {el.get('Type')!r} is not Seal or Sign")
        loc = _location(state, "signatures", path, el.get("BaseLoc"), folder(path), "Signature BaseLoc")
        if loc is not None:
            _signature(state, loc)


def _signature(state: _State, path: str) -> None:
    root = _parse(state, path, "Signature", "signatures")
    if root is None:
        return
    _order(state, "signatures", path, root, ("SignedInfo", "SignedValue"))
    info = xml.child(root, "SignedInfo")
    if info is None:
        state.add("signatures", path, "Signature has no SignedInfo")
        return
    _order(state, "signatures", path, info, _SIGNED_INFO)
    provider = xml.child(info, "Provider")
    if provider is None:
        state.add("signatures", path, "SignedInfo has no Provider")
    else:
        _required(state, "signatures", path, provider, "ProviderName")
    refs = xml.child(info, "References")
    items = list(xml.children(refs, "Reference")) if refs is not None else []
    if not items:
        state.add("signatures", path, "SignedInfo has no References with a Reference")
    if refs is not None and refs.get("CheckMethod", "MD5") not in CHECK_METHODS:
        state.add("signatures", path, f"References CheckMethod {refs.get('CheckMethod')!r} is not a known digest")
    for ref in items:
        _required(state, "signatures", path, ref, "FileRef")
        value = xml.text(ref, "CheckValue")
        if value is None or not _base64(value):
            state.add("signatures", path, f"Reference {ref.get('FileRef')!r}: CheckValue is not base64")
    for stamp in xml.children(info, "StampAnnot"):
        if _required(state, "signatures", path, stamp, "ID", "PageRef", "Boundary"):
            _box(state, path, stamp.get("Boundary"), "StampAnnot Boundary")
            if _unsigned(stamp.get("PageRef")) not in state.pages:
                state.add(
                    "id",
                    path,
                    f"StampAnnot {stamp.get('ID')} names the page {stamp.get('PageRef')!r}, not one of the document's",
                )
    seal = xml.child(info, "Seal")
    if seal is not None:
        if xml.text(seal, "BaseLoc") is None:
            state.add("signatures", path, "Seal has no BaseLoc")
        _location(state, "signatures", path, xml.text(seal, "BaseLoc"), folder(path), "Seal BaseLoc")
    value = xml.text(root, "SignedValue")
    if value is None:
        state.add("signatures", path, "Signature has no SignedValue")
    _location(state, "signatures", path, value, folder(path), "SignedValue")


def _base64(value: str) -> bool:
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def rules(violations: Iterable[Violation]) -> set[str]:
    """The names of the rules ``violations`` break."""
    return {v.rule for v in violations}
