"""The PDF to seal and where the seal goes: opening it (size, structure, encryption), pages and boxes, placement by
box or text anchor, the seal's appearance (the vector seal picture as a form XObject), and the errors of bad input.
"""

from __future__ import annotations

import binascii
import io
import math
import uuid
from dataclasses import dataclass, field
from typing import Final

from pyhanko.pdf_utils import content, layout
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import find_inherited_value_in_tree
from pyhanko.sign import fields
from pyhanko.stamp import StaticStampStyle

from seal import anchor as anchor_mod
from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    TrustError,
)

MAX_PDF_BYTES: Final = 64 * 1024 * 1024


MIN_BOX_POINTS: Final = 8.0


DEFAULT_MARGIN: Final = 56.0  # points (about 20 mm) from the right and bottom edges, for a seal placed by page only


class PdfFormatError(EncodingError):
    """The input is not a PDF, or its structure cannot be read (strictly: no hybrid cross-references)."""


class PdfEncryptedError(InputError):
    """Encrypted PDFs are not sealed (remove the encryption first)."""


class PageOutOfRange(InputError):
    """The page number is not a page of the document."""


class PlacementError(InputError):
    """The placement (box, page, anchor arguments) does not describe a place on the page."""


@dataclass(frozen=True)
class Placement:
    """Where the visible seal goes. ``page`` counts from 1 (negative: from the end, -1 = last page).

    * by box: ``page`` and ``box = (x0, y0, x1, y1)`` in points, PDF user space (origin bottom-left);
    * by page only: the bottom-right corner of the page, :data:`DEFAULT_MARGIN` points from both edges;
    * by anchor: ``anchor`` text (``page`` optional: the whole document is searched when it is ``None``); the
      seal is centred on the ``occurrence``-th match, ``size`` points wide (default: the picture's own size)."""

    page: int | None = None
    box: tuple[float, float, float, float] | None = None
    anchor: str | None = None
    size: float | None = None
    occurrence: int = 1

    def __post_init__(self) -> None:
        if self.box is not None and self.anchor is not None:
            raise PlacementError("place the seal by page and box, or by a text anchor, not both")
        if self.box is None and self.anchor is None and self.page is None:
            raise PlacementError("a placement needs a page (and a box), or a text anchor")
        if self.box is not None and self.page is None:
            raise PlacementError("a box needs a page number")
        if self.box is not None and not _finite_box(self.box):
            raise PlacementError("the box must be four finite numbers x0,y0,x1,y1 in points (no nan or inf)")
        if self.page == 0:
            raise PageOutOfRange("pages count from 1 (or from -1 at the end)")
        if self.size is not None and not MIN_BOX_POINTS <= self.size <= 1000:
            raise PlacementError(f"the seal size must be {MIN_BOX_POINTS}..1000 points")


def _finite_box(box: object) -> bool:
    return (
        isinstance(box, tuple | list)
        and len(box) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in box)
    )


def parse_box(text: str) -> tuple[float, float, float, float]:
    """The box ``x0,y0,x1,y1`` (points) of a placement given as text — the CLI's ``--box`` and the HTTP ``box``
    parameter both read it here, so they accept and refuse the same boxes: four finite numbers."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise PlacementError(f"the box must be four numbers x0,y0,x1,y1 in points, finite, got {text[:64]!r}")
    x0, y0, x1, y1 = values
    return x0, y0, x1, y1


@dataclass
class PdfDocument:
    """A PDF that :func:`open_pdf` accepted: its bytes, a strict reader, its page count and signature fields."""

    data: bytes
    reader: PdfFileReader
    page_count: int
    field_names: set[str] = field(default_factory=set)


def open_pdf(pdf: bytes | PdfDocument) -> PdfDocument:
    """Check that ``pdf`` is an unencrypted PDF that pyHanko reads strictly (no hybrid cross-references) with a
    page count; its signature field names. Pages are read when placed on. A :class:`PdfDocument` is returned
    as it is."""
    if isinstance(pdf, PdfDocument):
        return pdf
    if not isinstance(pdf, bytes | bytearray | memoryview):
        raise InputError("the PDF must be given as bytes")
    pdf = bytes(pdf)
    if len(pdf) > MAX_PDF_BYTES:
        raise InputError(f"PDF of {len(pdf)} bytes exceeds {MAX_PDF_BYTES}", code=Code.INPUT_TOO_LARGE)
    if b"%PDF-" not in pdf[:1024]:
        raise PdfFormatError("not a PDF: no %PDF- header in the first 1024 bytes")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=True)
        if reader.encrypted:
            raise PdfEncryptedError("the PDF is encrypted; remove the encryption before sealing")
        if reader.xrefs.hybrid_xrefs_present:
            raise PdfFormatError("the PDF has hybrid cross-reference sections (readers may disagree on it)")
        count = reader.root["/Pages"]["/Count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise PdfFormatError(f"the page tree's /Count must be a positive integer, not {count!r}")
        names = {name for name, _value, _ref in fields.enumerate_sig_fields(reader)}
    except TrustError:
        raise
    except (PdfError, KeyError, ValueError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise PdfFormatError(f"the PDF structure cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None
    return PdfDocument(pdf, reader, int(count), names)


def _page_index(document: PdfDocument, page: int) -> int:
    index = page - 1 if page > 0 else document.page_count + page
    if not 0 <= index < document.page_count:
        raise PageOutOfRange(
            f"page {page} is not in the document, which has {document.page_count} page(s)",
            evidence={"page": page, "pages": document.page_count},
        )
    return index


def _media_box(document: PdfDocument, index: int) -> tuple[float, float, float, float]:
    """The page's (possibly inherited) media box. Only the path to this page is read: pages are not walked up
    front (a 100-page document would cost more to walk than to seal)."""
    try:
        page_ref, _resources = document.reader.find_page_for_modification(index)
        box = find_inherited_value_in_tree(page_ref.get_object(), "/MediaBox", "/Parent")
        x0, y0, x1, y1 = (float(v) for v in box)
    except (PdfError, KeyError, ValueError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise PdfFormatError(f"page {index + 1} cannot be read from the page tree: {type(exc).__name__}") from None
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _appearance_size(appearance: bytes) -> tuple[float, float]:
    try:
        reader = PdfFileReader(io.BytesIO(appearance), strict=True)
        page_ref, _ = reader.find_page_for_modification(0)
        x0, y0, x1, y1 = (float(v) for v in find_inherited_value_in_tree(page_ref.get_object(), "/MediaBox", "/Parent"))
    except (PdfError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise InputError(f"the seal appearance is not a one-page PDF: {type(exc).__name__}") from None
    return abs(x1 - x0), abs(y1 - y0)


def _seal_size(placement: Placement, appearance: bytes | None) -> tuple[float, float]:
    if placement.size is not None:
        return placement.size, placement.size
    if appearance is not None:
        return _appearance_size(appearance)
    raise PlacementError("a seal placed without a box and without a picture needs a size")


def resolve_placement(
    document: PdfDocument, placement: Placement, appearance: bytes | None
) -> tuple[int, tuple[float, float, float, float]]:
    """``(page index, box)`` of the seal, checked to lie inside the page's media box."""
    if placement.anchor is not None:
        index = None if placement.page is None else _page_index(document, placement.page)
        match = anchor_mod.find_anchor(
            document.data, placement.anchor, page_index=index, occurrence=placement.occurrence
        )
        width, height = _seal_size(placement, appearance)
        cx, cy = match.centre
        index = match.page_index
        box = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
    elif placement.box is not None:
        assert placement.page is not None
        index = _page_index(document, placement.page)
        try:
            x0, y0, x1, y1 = (float(v) for v in placement.box)
        except (TypeError, ValueError):
            raise PlacementError("the box must be four numbers (x0, y0, x1, y1) in points") from None
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    else:
        assert placement.page is not None
        index = _page_index(document, placement.page)
        width, height = _seal_size(placement, appearance)
        mx0, my0, mx1, my1 = _media_box(document, index)
        box = (mx1 - DEFAULT_MARGIN - width, my0 + DEFAULT_MARGIN, mx1 - DEFAULT_MARGIN, my0 + DEFAULT_MARGIN + height)
    if box[2] - box[0] < MIN_BOX_POINTS or box[3] - box[1] < MIN_BOX_POINTS:
        raise PlacementError(
            f"the seal box must be at least {MIN_BOX_POINTS} points wide and high",
            evidence={"box": [round(v, 2) for v in box]},
        )
    mx0, my0, mx1, my1 = _media_box(document, index)
    tolerance = 0.01
    if box[0] < mx0 - tolerance or box[1] < my0 - tolerance or box[2] > mx1 + tolerance or box[3] > my1 + tolerance:
        raise PlacementError(
            f"the seal box lies (partly) outside page {index + 1}",
            evidence={"box": [round(v, 2) for v in box], "media_box": [mx0, my0, mx1, my1], "page": index + 1},
        )
    return index, box


class _ImportedPdfBytes(content.PdfContent):
    """The first page of an in-memory PDF as a form XObject (pyHanko's ``ImportedPdfPage`` reads files)."""

    def __init__(self, pdf: bytes):
        super().__init__()
        self._pdf = pdf

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobj = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self._pdf), strict=True), page_ix=0)
        name = b"/HurenSeal" + binascii.hexlify(uuid.uuid4().bytes)
        self.resources.xobject[name.decode("ascii")] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = layout.BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return name + b" Do"


def seal_style(appearance: bytes | None) -> StaticStampStyle:
    """The seal picture scaled to the widget (aspect kept, centred), no border; or an empty appearance."""
    return StaticStampStyle(
        background=_ImportedPdfBytes(appearance) if appearance is not None else None,
        border_width=0,
        background_opacity=1.0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
        ),
    )
