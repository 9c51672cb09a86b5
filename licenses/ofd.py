"""The licence face as an OFD electronic licence file (GB/T 36905-2018 on GB/T 33190-2016), ready to be sealed.

The face is the licence PDF's, drawn by the same function (:func:`licenses.document.draw_face`) on
:class:`OfdCanvas`, which records what reportlab's canvas would draw and writes it as OFD page content: text objects
(``TextObject`` with ``TextCode`` and every glyph's advance in ``DeltaX``, so positions do not depend on the reader's
metrics), rectangles and lines (``PathObject``), and the QR code as one filled path. Coordinates are converted from
points with the origin at the bottom left to millimetres with the origin at the top left (GB/T 33190 clause 8.1).

The package (:func:`render`):

* ``OFD.xml`` — ``DocInfo`` with ``DocID`` (the licence identifier), title, author (the issuing authority), creation
  date, and the licence metadata of GB/T 36903 as ``CustomDatas`` (:func:`metadata`): identifier, type name and
  code, holder and holder code, issuing authority, date of issue, validity;
* ``Doc_0/Document.xml`` — A4 ``PageArea``, ``PublicRes``, the pages, ``Attachments``;
* ``Doc_0/PublicRes.xml`` — the two fonts (Noto Sans SC regular and bold), each embedded as a TrueType subset of the
  characters the face uses (``Doc_0/Res/font_<weight>.ttf``, fontTools' subsetter);
* ``Doc_0/Pages/Page_N/Content.xml`` — the face;
* ``Doc_0/Attachs/Attachments.xml`` and ``Doc_0/Attachs/license.jwt`` — the licence token as issued (the file the PDF
  embeds as ``license.jwt``), so the seal's signature covers it.

The same input gives the same bytes (no clock is read; times come from the token). Sealing is
:func:`seal.ofd.seal_ofd`, centred on the authority's line (:func:`trust.formats.license_face.authority_anchor`).
"""

from __future__ import annotations

import functools
import io
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from licenses import document as face_document
from trust.crypto.errors import InputError
from trust.formats import license_catalogue as catalogue
from trust.formats.license_face import ATTACHMENT_NAME, Face, authority_anchor, china_date
from trust.formats.ofd import package as ofd_package
from trust.formats.ofd import xml

VERSION: Final = "1.0"  # GB/T 33190-2016 (its schema fixes OFD/@Version to 1.0)
LAYOUT_TABLES: Final = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF")  # not embedded: OFD positions every glyph
PT: Final = 25.4 / 72  # millimetres per point
PAGE_W: Final = 210.0
PAGE_H: Final = 297.0
FONT_IDS: Final = {face_document.FONT_REGULAR: "2", face_document.FONT_BOLD: "3"}
FONT_FILES: Final = {face_document.FONT_REGULAR: "regular", face_document.FONT_BOLD: "bold"}
ASCENT: Final = 0.88  # of the font size: the baseline below the top of a text object


def _mm(value: float) -> float:
    return round(value * PT, 3)


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


@dataclass
class _Text:
    x: float
    y: float  # baseline, mm from the top
    text: str
    font: str
    size: float  # mm
    advances: tuple[float, ...]
    color: tuple[int, int, int]


@dataclass
class _Path:
    data: str
    fill: tuple[int, int, int] | None
    stroke: tuple[int, int, int] | None
    width: float


@dataclass
class _State:
    fill: tuple[int, int, int] = (0, 0, 0)
    stroke: tuple[int, int, int] = (0, 0, 0)
    width: float = 1.0  # points
    font: str = face_document.FONT_REGULAR
    size: float = 10.0  # points


class _PathBuilder:
    def __init__(self) -> None:
        self.rects: list[tuple[float, float, float, float]] = []

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        self.rects.append((x, y, w, h))


@dataclass
class OfdCanvas:
    """The drawing methods of reportlab's canvas that the licence face uses, recorded for OFD (module docstring)."""

    pages: list[list[_Text | _Path]] = field(default_factory=lambda: [[]])
    state: _State = field(default_factory=_State)
    saved: list[_State] = field(default_factory=list)

    # --- state
    def saveState(self) -> None:  # noqa: N802 - reportlab's name
        self.saved.append(_State(**vars(self.state)))

    def restoreState(self) -> None:  # noqa: N802
        self.state = self.saved.pop()

    def setFillColorRGB(self, r: float, g: float, b: float) -> None:  # noqa: N802
        self.state.fill = (round(r * 255), round(g * 255), round(b * 255))

    def setStrokeColorRGB(self, r: float, g: float, b: float) -> None:  # noqa: N802
        self.state.stroke = (round(r * 255), round(g * 255), round(b * 255))

    def setLineWidth(self, width: float) -> None:  # noqa: N802
        self.state.width = width

    def setFont(self, name: str, size: float) -> None:  # noqa: N802
        if name not in FONT_IDS:
            raise InputError(f"the OFD face knows the fonts {', '.join(FONT_IDS)}, not {name}")
        self.state.font, self.state.size = name, size

    # --- drawing
    def _box(self, x: float, y: float, w: float, h: float) -> str:
        left, top = _mm(x), PAGE_H - _mm(y + h)
        right, bottom = left + _mm(w), PAGE_H - _mm(y)
        corners = ((left, top), (right, top), (right, bottom), (left, bottom))
        return "M " + " L ".join(f"{_num(cx)} {_num(cy)}" for cx, cy in corners) + " C"

    def rect(self, x: float, y: float, w: float, h: float, stroke: int = 1, fill: int = 0) -> None:
        self.pages[-1].append(
            _Path(
                self._box(x, y, w, h),
                self.state.fill if fill else None,
                self.state.stroke if stroke else None,
                _mm(self.state.width),
            )
        )

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        data = f"M {_num(_mm(x1))} {_num(PAGE_H - _mm(y1))} L {_num(_mm(x2))} {_num(PAGE_H - _mm(y2))}"
        self.pages[-1].append(_Path(data, None, self.state.stroke, _mm(self.state.width)))

    def beginPath(self) -> _PathBuilder:  # noqa: N802
        return _PathBuilder()

    def drawPath(self, path: _PathBuilder, stroke: int = 1, fill: int = 0) -> None:  # noqa: N802
        data = " ".join(self._box(*r) for r in path.rects)
        self.pages[-1].append(
            _Path(
                data,
                self.state.fill if fill else None,
                self.state.stroke if stroke else None,
                _mm(self.state.width),
            )
        )

    def _advances(self, text: str) -> tuple[float, ...]:
        from reportlab.pdfbase import pdfmetrics

        return tuple(_mm(pdfmetrics.stringWidth(ch, self.state.font, self.state.size)) for ch in text)

    def drawString(self, x: float, y: float, text: str) -> None:  # noqa: N802
        if not text:
            return
        self.pages[-1].append(
            _Text(
                _mm(x),
                PAGE_H - _mm(y),
                text,
                self.state.font,
                _mm(self.state.size),
                self._advances(text),
                self.state.fill,
            )
        )

    def drawCentredString(self, x: float, y: float, text: str) -> None:  # noqa: N802
        from reportlab.pdfbase import pdfmetrics

        self.drawString(x - pdfmetrics.stringWidth(text, self.state.font, self.state.size) / 2, y, text)

    def showPage(self) -> None:  # noqa: N802
        self.pages.append([])
        self.state = _State()

    def finished_pages(self) -> list[list[_Text | _Path]]:
        return [page for page in self.pages if page]


def _color(parent: xml.Element, name: str, rgb: tuple[int, int, int]) -> None:
    xml.sub(parent, name, {"Value": f"{rgb[0]} {rgb[1]} {rgb[2]}"})


def _page_xml(objects: Sequence[_Text | _Path], first_id: int) -> tuple[bytes, int]:
    root = xml.element("Page")
    content = xml.sub(root, "Content")
    layer = xml.sub(content, "Layer", {"ID": str(first_id)})
    next_id = first_id + 1
    for obj in objects:
        if isinstance(obj, _Text):
            width = sum(obj.advances)
            top = obj.y - obj.size * ASCENT
            node = xml.sub(
                layer,
                "TextObject",
                {
                    "ID": str(next_id),
                    "Boundary": " ".join(_num(v) for v in (obj.x, top, max(width, 0.1), obj.size * 1.2)),
                    "Font": FONT_IDS[obj.font],
                    "Size": _num(obj.size),
                },
            )
            _color(node, "FillColor", obj.color)
            code = xml.sub(
                node,
                "TextCode",
                {"X": "0", "Y": _num(obj.size * ASCENT), "DeltaX": " ".join(_num(a) for a in obj.advances[:-1])},
                obj.text,
            )
            if len(obj.text) < 2:
                del code.attrib["DeltaX"]
        else:
            attributes = {
                "ID": str(next_id),
                "Boundary": f"0 0 {_num(PAGE_W)} {_num(PAGE_H)}",
                "LineWidth": _num(obj.width),
                "Stroke": "true" if obj.stroke else "false",
                "Fill": "true" if obj.fill else "false",
            }
            node = xml.sub(layer, "PathObject", attributes)
            if obj.stroke:
                _color(node, "StrokeColor", obj.stroke)
            if obj.fill:
                _color(node, "FillColor", obj.fill)
            xml.sub(node, "AbbreviatedData", text_value=obj.data)
        next_id += 1
    return xml.serialise(root), next_id


@functools.lru_cache(maxsize=64)
def _subset(weight: str, text: str) -> bytes:
    """Noto Sans SC ``weight``, subset to the characters of ``text`` (TrueType, cmap kept). The OpenType layout
    tables are dropped before they are read: OFD places every glyph itself (``DeltaX``), and decompiling the CJK
    font's GSUB/GPOS was most of a licence's rendering time. The same text gives the same bytes, so results are kept
    (a licence drawn again, the service's re-issues)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from seal import fonts

    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.layout_features = []
    options.drop_tables = [*options.drop_tables, *LAYOUT_TABLES]
    font = TTFont(str(fonts.font_path(weight)), recalcTimestamp=False)  # deterministic output
    for tag in LAYOUT_TABLES:  # removed unread (the subsetter would decompile them first)
        if tag in font:
            del font[tag]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def metadata(
    content: Face,
    license_type: catalogue.LicenseType,
    *,
    issued_at: datetime,
    valid_from: date,
    valid_until: date | None,
    holder_name: str,
    holder_code: str,
    issuer_name: str,
) -> list[tuple[str, str]]:
    """The licence metadata of GB/T 36903 written in ``OFD.xml``'s ``CustomDatas`` (name, value)."""
    return [
        ("证照标识", content.identifier),
        ("证照类型名称", license_type.name),
        ("证照类型代码", license_type.code),
        ("持证主体", holder_name),
        ("持证主体代码", holder_code),
        ("证照颁发机构", issuer_name),
        ("证照颁发日期", china_date(issued_at).isoformat()),
        ("有效期起始日期", valid_from.isoformat()),
        ("有效期截止日期", valid_until.isoformat() if valid_until else "长期"),
    ]


def _ofd_xml(content: Face, custom: Sequence[tuple[str, str]], issuer_name: str, issued_at: datetime) -> bytes:
    root = xml.element("OFD", {"Version": VERSION, "DocType": "OFD"})
    body = xml.sub(root, "DocBody")
    info = xml.sub(body, "DocInfo")
    xml.sub(info, "DocID", text_value=content.identifier)
    xml.sub(info, "Title", text_value=f"{content.title} {content.identifier}")
    xml.sub(info, "Author", text_value=issuer_name)
    xml.sub(info, "CreationDate", text_value=china_date(issued_at).isoformat())
    xml.sub(info, "Creator", text_value="Huren 互认")
    datas = xml.sub(info, "CustomDatas")
    for name, value in custom:
        xml.sub(datas, "CustomData", {"Name": name}, value)
    xml.sub(body, "DocRoot", text_value="Doc_0/Document.xml")
    return xml.serialise(root)


def _document_xml(pages: int, next_id: int) -> bytes:
    """``Document.xml``; the pages take the IDs after the pages' objects (``next_id`` on), so every ID is unique
    and ``MaxUnitID`` is the largest (GB/T 33190 clause 7.5)."""
    root = xml.element("Document")
    common = xml.sub(root, "CommonData")
    xml.sub(common, "MaxUnitID", text_value=str(next_id + pages - 1))
    area = xml.sub(common, "PageArea")
    xml.sub(area, "PhysicalBox", text_value=f"0 0 {_num(PAGE_W)} {_num(PAGE_H)}")
    xml.sub(common, "PublicRes", text_value="PublicRes.xml")
    pages_el = xml.sub(root, "Pages")
    for index in range(pages):
        xml.sub(pages_el, "Page", {"ID": str(next_id + index), "BaseLoc": f"Pages/Page_{index}/Content.xml"})
    xml.sub(root, "Attachments", text_value="Attachs/Attachments.xml")
    return xml.serialise(root)


def _public_res() -> bytes:
    root = xml.element("Res", {"BaseLoc": "Res"})
    fonts_el = xml.sub(root, "Fonts")
    for name, font_id in FONT_IDS.items():
        weight = FONT_FILES[name]
        font = xml.sub(
            fonts_el,
            "Font",
            {"ID": font_id, "FontName": f"NotoSansSC-{weight.title()}", "FamilyName": "Noto Sans SC"},
        )
        if weight == "bold":
            font.set("Bold", "true")
        xml.sub(font, "FontFile", text_value=f"font_{weight}.ttf")
    return xml.serialise(root)


def _attachments(issued_at: datetime, size: int) -> bytes:
    root = xml.element("Attachments")
    item = xml.sub(
        root,
        "Attachment",
        {
            "ID": "1",
            "Name": ATTACHMENT_NAME,
            "Format": "jwt",
            "CreationDate": issued_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "Size": _num(size / 1024),
            "Visible": "false",
        },
    )
    xml.sub(item, "FileLoc", text_value=ATTACHMENT_NAME)
    return xml.serialise(root)


def render(
    license_type: catalogue.LicenseType,
    fields: Mapping[str, Any],
    *,
    identifier: str,
    issuer_name: str,
    issued_at: datetime,
    valid_from: date,
    valid_until: date | None,
    holder_name: str,
    holder_code: str,
    qr_payload: str,
    token: str,
) -> bytes:
    """The licence as an OFD package (module docstring), after the checks of :func:`licenses.document.render`."""
    content, modules = face_document.prepare(
        license_type,
        fields,
        identifier=identifier,
        issuer_name=issuer_name,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        holder_name=holder_name,
        holder_code=holder_code,
        qr_payload=qr_payload,
        token=token,
    )
    canvas = OfdCanvas()
    face_document.draw_face(canvas, content, modules)
    pages = canvas.finished_pages()
    files: dict[str, bytes] = {}
    next_id = 10
    for index, objects in enumerate(pages):
        files[f"Doc_0/Pages/Page_{index}/Content.xml"], next_id = _page_xml(objects, next_id)
    used = {
        font: "".join(o.text for page in pages for o in page if isinstance(o, _Text) and o.font == font)
        for font in FONT_IDS
    }
    custom = metadata(
        content,
        license_type,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        holder_name=holder_name,
        holder_code=holder_code,
        issuer_name=issuer_name,
    )
    token_bytes = token.encode("ascii")
    result = {
        "OFD.xml": _ofd_xml(content, custom, issuer_name, issued_at),
        "Doc_0/Document.xml": _document_xml(len(pages), next_id),
        "Doc_0/PublicRes.xml": _public_res(),
        **files,
        **{f"Doc_0/Res/font_{FONT_FILES[f]}.ttf": _subset(FONT_FILES[f], used[f] or " ") for f in FONT_IDS},
        "Doc_0/Attachs/Attachments.xml": _attachments(issued_at, len(token_bytes)),
        f"Doc_0/Attachs/{ATTACHMENT_NAME}": token_bytes,
    }
    return ofd_package.write(result)


def document_package(canvas: OfdCanvas, *, title: str) -> bytes:
    """Any document drawn on an :class:`OfdCanvas` (with the face's two fonts) as an OFD package: ``OFD.xml``,
    ``Document.xml``, the fonts embedded as subsets, the pages; no metadata, no attachment (the benchmarks' documents,
    drawn exactly as their PDF twins)."""
    pages = canvas.finished_pages()
    files: dict[str, bytes] = {}
    next_id = 10
    for index, objects in enumerate(pages):
        files[f"Doc_0/Pages/Page_{index}/Content.xml"], next_id = _page_xml(objects, next_id)
    texts = [o for page in pages for o in page if isinstance(o, _Text)]
    root = xml.element("OFD", {"Version": VERSION, "DocType": "OFD"})
    body = xml.sub(root, "DocBody")
    info = xml.sub(body, "DocInfo")
    xml.sub(info, "DocID", text_value=uuid.uuid5(uuid.NAMESPACE_URL, "huren:ofd:" + title).hex)  # deterministic
    xml.sub(info, "Title", text_value=title)
    xml.sub(info, "Creator", text_value="Huren 互认")
    xml.sub(body, "DocRoot", text_value="Doc_0/Document.xml")
    document_xml = xml.element("Document")
    common = xml.sub(document_xml, "CommonData")
    xml.sub(common, "MaxUnitID", text_value=str(next_id + len(pages) - 1))
    area = xml.sub(common, "PageArea")
    xml.sub(area, "PhysicalBox", text_value=f"0 0 {_num(PAGE_W)} {_num(PAGE_H)}")
    xml.sub(common, "PublicRes", text_value="PublicRes.xml")
    pages_el = xml.sub(document_xml, "Pages")
    for index in range(len(pages)):
        xml.sub(pages_el, "Page", {"ID": str(next_id + index), "BaseLoc": f"Pages/Page_{index}/Content.xml"})
    return ofd_package.write(
        {
            "OFD.xml": xml.serialise(root),
            "Doc_0/Document.xml": xml.serialise(document_xml),
            "Doc_0/PublicRes.xml": _public_res(),
            **files,
            **{
                f"Doc_0/Res/font_{FONT_FILES[f]}.ttf": _subset(
                    FONT_FILES[f], "".join(o.text for o in texts if o.font == f) or " "
                )
                for f in FONT_IDS
            },
        }
    )


def render_token(token: str, *, qr_payload: str, issuer_name: str) -> bytes:
    """:func:`render` with everything the face shows taken from the licence token's claims."""
    return render(**face_document.token_arguments(token, qr_payload=qr_payload, issuer_name=issuer_name))


def anchor_text(issuer_name: str) -> str:
    """The text the issuing authority's seal is centred on (as on the PDF)."""
    return authority_anchor(issuer_name)


__all__ = ["OfdCanvas", "anchor_text", "document_package", "metadata", "render", "render_token"]
