"""The structure of an OFD document (GB/T 33190-2016 clauses 7.3-7.5, 8, 11-13, 20): entry file, documents, pages,
resources, annotations, attachments, and the text a page shows.

* ``OFD.xml`` (clause 7.3): one or more ``DocBody`` — ``DocInfo`` (with ``CustomDatas``, where GB/T 36905 puts the
  licence metadata), ``DocRoot`` (the document's ``Document.xml``) and ``Signatures`` (its ``Signatures.xml``).
* ``Document.xml`` (clause 7.5): ``CommonData`` (``PageArea``, ``PublicRes``, ``DocumentRes``, ``TemplatePage``),
  ``Pages`` (each ``Page`` with ``ID`` and ``BaseLoc``), ``Annotations``, ``Attachments``, ``CustomTags``.
* a page's ``Content.xml`` (clauses 7.7, 11-13): ``Area`` and layers of text, path and image objects.

Locations are resolved with :func:`trust.formats.ofd.package.resolve` (relative to the file that holds them); a page
that a ``Document.xml`` names under another case than the package's entry (``TPLS/`` for ``Tpls/``, as in ofdrw's
samples) is found by :meth:`Package.find`. Everything is parsed with :func:`trust.formats.ofd.xml.parse`.

Pure format code: no storage, no network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from trust.crypto.errors import Code, EncodingError
from trust.formats.ofd import xml
from trust.formats.ofd.package import ENTRY_FILE, Package, folder, resolve

MAX_PAGES: Final = 10_000
MAX_OBJECTS_PER_PAGE: Final = 200_000


def _invalid(message: str, **evidence: object) -> EncodingError:
    return EncodingError(message, code=Code.OFD_PACKAGE_INVALID, evidence=evidence)


Box = tuple[float, float, float, float]


def parse_box(value: str | None, what: str) -> Box | None:
    """An ``ST_Box`` (``x y width height``, millimetres), or None when absent. Negative extents occur in real
    documents (a text object with a negative height) and are kept as written."""
    if value is None:
        return None
    parts = value.replace(",", " ").split()
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise _invalid(f"{what}: {value[:80]!r} is not a box of four numbers") from None
    if len(numbers) != 4 or any(not math.isfinite(n) or abs(n) > 1e6 for n in numbers):
        raise _invalid(f"{what}: {value[:80]!r} is not a box (x y width height, each at most 10^6 mm)")
    return numbers[0], numbers[1], numbers[2], numbers[3]


@dataclass(frozen=True)
class DocBody:
    doc_root: str
    signatures: str | None
    doc_id: str | None
    custom_data: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PageRef:
    id: str
    path: str
    index: int  # 0-based position in Document.xml


@dataclass(frozen=True)
class Document:
    path: str
    page_area: Box | None
    pages: tuple[PageRef, ...]
    templates: tuple[tuple[str, str], ...]
    public_res: tuple[str, ...]
    document_res: tuple[str, ...]
    annotations: str | None
    attachments: str | None
    custom_tags: str | None

    def page_by_id(self, page_id: str) -> PageRef | None:
        return next((p for p in self.pages if p.id == page_id), None)


@dataclass(frozen=True)
class TextCode:
    x: float
    y: float
    text: str
    delta_x: tuple[float, ...] = ()


@dataclass(frozen=True)
class TextObject:
    boundary: Box
    font: str
    size: float
    codes: tuple[TextCode, ...]
    fill: tuple[int, int, int] | None = None
    weight: int | None = None


@dataclass(frozen=True)
class PathObject:
    boundary: Box
    data: str
    fill: tuple[int, int, int] | None
    stroke: tuple[int, int, int] | None
    line_width: float
    filled: bool
    stroked: bool


@dataclass(frozen=True)
class ImageObject:
    boundary: Box
    resource: str
    ctm: tuple[float, ...] | None


@dataclass(frozen=True)
class Page:
    path: str
    area: Box | None
    objects: tuple[TextObject | PathObject | ImageObject, ...] = field(default=())

    def text(self) -> str:
        """Every ``TextCode`` of the page, in content order, joined without separators."""
        return "".join(code.text for obj in self.objects if isinstance(obj, TextObject) for code in obj.codes)


@dataclass(frozen=True)
class Font:
    id: str
    name: str
    family: str | None
    file: str | None  # package name of the embedded font program


@dataclass(frozen=True)
class Resources:
    fonts: dict[str, Font]
    media: dict[str, str]  # MultiMedia ID -> package name of the file


@dataclass(frozen=True)
class Attachment:
    id: str | None
    name: str
    format: str | None
    path: str


def entry(package: Package) -> tuple[DocBody, ...]:
    """The ``DocBody`` elements of ``OFD.xml``."""
    root = xml.parse(package.read(ENTRY_FILE), ENTRY_FILE)
    if not xml.is_ofd(root, "OFD"):
        raise _invalid(f"{ENTRY_FILE}: the root element is {xml.local(root)!r}, not ofd:OFD")
    bodies = []
    for body in xml.children(root, "DocBody"):
        doc_root = xml.text(body, "DocRoot")
        if doc_root is None:
            raise _invalid(f"{ENTRY_FILE}: a DocBody without DocRoot")
        signatures = xml.text(body, "Signatures")
        info = xml.child(body, "DocInfo")
        custom: list[tuple[str, str]] = []
        doc_id = None
        if info is not None:
            doc_id = xml.text(info, "DocID")
            datas = xml.child(info, "CustomDatas")
            for item in xml.children(datas, "CustomData") if datas is not None else ():
                custom.append((item.get("Name") or "", "".join(item.itertext())))
        bodies.append(
            DocBody(
                resolve(doc_root),
                resolve(signatures) if signatures else None,
                doc_id,
                tuple(custom),
            )
        )
    if not bodies:
        raise _invalid(f"{ENTRY_FILE}: no DocBody")
    return tuple(bodies)


def _locations(parent: xml.Element | None, name: str, base: str) -> tuple[str, ...]:
    if parent is None:
        return ()
    return tuple(resolve(value, base) for el in xml.children(parent, name) if (value := xml.text(el)))


def document(package: Package, path: str) -> Document:
    """The ``Document.xml`` at ``path``."""
    root = xml.parse(package.read(path, "Document.xml"), path)
    if not xml.is_ofd(root, "Document"):
        raise _invalid(f"{path}: the root element is {xml.local(root)!r}, not ofd:Document")
    base = folder(path)
    common = xml.child(root, "CommonData")
    area = xml.child(common, "PageArea") if common is not None else None
    pages_el = xml.child(root, "Pages")
    pages: list[PageRef] = []
    for index, page in enumerate(xml.children(pages_el, "Page") if pages_el is not None else ()):
        if index >= MAX_PAGES:
            raise _invalid(f"{path}: more than {MAX_PAGES} pages")
        page_id, loc = page.get("ID"), page.get("BaseLoc")
        if not page_id or not loc:
            raise _invalid(f"{path}: page {index + 1} has no ID or BaseLoc")
        pages.append(PageRef(page_id, resolve(loc, base), index))
    templates = tuple(
        (t.get("ID") or "", resolve(t.get("BaseLoc") or "", base))
        for t in (xml.children(common, "TemplatePage") if common is not None else ())
        if t.get("BaseLoc")
    )

    def single(name: str) -> str | None:
        value = xml.text(root, name)
        return resolve(value, base) if value else None

    return Document(
        path=path,
        page_area=parse_box(xml.text(area, "PhysicalBox"), f"{path} PageArea") if area is not None else None,
        pages=tuple(pages),
        templates=templates,
        public_res=_locations(common, "PublicRes", base),
        document_res=_locations(common, "DocumentRes", base),
        annotations=single("Annotations"),
        attachments=single("Attachments"),
        custom_tags=single("CustomTags"),
    )


def _color(element: xml.Element | None) -> tuple[int, int, int] | None:
    if element is None:
        return None
    value = (element.get("Value") or "").split()
    try:
        rgb = [max(0, min(255, int(float(v)))) for v in value[:3]]
    except ValueError:
        return None
    return (rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else None


def _deltas(value: str | None) -> tuple[float, ...]:
    """``DeltaX`` with the ``g n d`` abbreviation (n times d) expanded (GB/T 33190 clause 11.3)."""
    if not value:
        return ()
    out: list[float] = []
    parts = value.split()
    i = 0
    while i < len(parts):
        if parts[i] == "g" and i + 2 < len(parts):
            count = int(float(parts[i + 1]))
            out.extend([float(parts[i + 2])] * max(0, min(count, 100_000)))
            i += 3
        else:
            out.append(float(parts[i]))
            i += 1
    return tuple(out)


def page(package: Package, ref: PageRef | str) -> Page:
    """A page's ``Content.xml``: area and the text, path and image objects of its layers (in order)."""
    path = ref.path if isinstance(ref, PageRef) else ref
    name = package.find(path) or path
    root = xml.parse(package.read(name, "page"), name)
    area_el = xml.child(root, "Area")
    area = parse_box(xml.text(area_el, "PhysicalBox"), f"{name} Area") if area_el is not None else None
    objects: list[TextObject | PathObject | ImageObject] = []
    content = xml.child(root, "Content")
    for node in content.iter() if content is not None else ():
        if len(objects) > MAX_OBJECTS_PER_PAGE:
            raise _invalid(f"{name}: more than {MAX_OBJECTS_PER_PAGE} objects on one page")
        kind = xml.local(node)
        if kind not in ("TextObject", "PathObject", "ImageObject"):
            continue
        boundary = parse_box(node.get("Boundary"), f"{name} {kind}") or (0.0, 0.0, 0.0, 0.0)
        try:
            if kind == "TextObject":
                codes = tuple(
                    TextCode(
                        float(code.get("X") or 0),
                        float(code.get("Y") or 0),
                        "".join(code.itertext()),
                        _deltas(code.get("DeltaX")),
                    )
                    for code in xml.children(node, "TextCode")
                )
                objects.append(
                    TextObject(
                        boundary,
                        node.get("Font") or "",
                        float(node.get("Size") or 0),
                        codes,
                        _color(xml.child(node, "FillColor")),
                        int(node.get("Weight")) if node.get("Weight") else None,
                    )
                )
            elif kind == "PathObject":
                objects.append(
                    PathObject(
                        boundary,
                        xml.text(node, "AbbreviatedData") or "",
                        _color(xml.child(node, "FillColor")),
                        _color(xml.child(node, "StrokeColor")),
                        float(node.get("LineWidth") or 0.353),
                        (node.get("Fill") or "false") == "true",
                        (node.get("Stroke") or "true") == "true",
                    )
                )
            else:
                ctm = node.get("CTM")
                matrix = tuple(float(v) for v in ctm.split()) if ctm else None
                objects.append(ImageObject(boundary, node.get("ResourceID") or "", matrix))
        except (ValueError, OverflowError) as exc:
            raise _invalid(f"{name}: a {kind} with an unreadable number ({str(exc)[:80]})") from None
    return Page(name, area, tuple(objects))


def resources(package: Package, doc: Document) -> Resources:
    """Fonts and multimedia of the document's ``PublicRes`` and ``DocumentRes`` files."""
    fonts: dict[str, Font] = {}
    media: dict[str, str] = {}
    for path in (*doc.public_res, *doc.document_res):
        name = package.find(path)
        if name is None:
            continue
        root = xml.parse(package.read(name), name)
        loc = root.get("BaseLoc")
        base = resolve(loc, folder(name)) if loc not in (None, "", ".") else folder(name)
        for group in xml.children(root, "Fonts"):
            for font in xml.children(group, "Font"):
                file_loc = xml.text(font, "FontFile")
                fonts[font.get("ID") or ""] = Font(
                    font.get("ID") or "",
                    font.get("FontName") or "",
                    font.get("FamilyName"),
                    resolve(file_loc, base) if file_loc else None,
                )
        for group in xml.children(root, "MultiMedias"):
            for item in xml.children(group, "MultiMedia"):
                file_loc = xml.text(item, "MediaFile")
                if file_loc:
                    media[item.get("ID") or ""] = resolve(file_loc, base)
    return Resources(fonts, media)


def attachments(package: Package, doc: Document) -> tuple[Attachment, ...]:
    """The attachments listed in the document's ``Attachments.xml`` (clause 20)."""
    if doc.attachments is None or package.find(doc.attachments) is None:
        return ()
    name = package.find(doc.attachments) or doc.attachments
    root = xml.parse(package.read(name), name)
    found = []
    for item in xml.children(root, "Attachment"):
        loc = xml.text(item, "FileLoc")
        if loc:
            path = resolve(loc, folder(name))
            found.append(Attachment(item.get("ID"), item.get("Name") or "", item.get("Format"), path))
    return tuple(found)
