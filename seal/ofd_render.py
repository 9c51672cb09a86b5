"""An OFD page drawn as a PNG picture (Pillow), for people who want to look: Huren's own OFDs exactly, others roughly.

No maintained Python OFD renderer fits (easyofd draws through PyMuPDF, an AGPL dependency, and draws every text in one
system font), so this is the small renderer of what Huren's writers produce (:mod:`licenses.ofd`, :mod:`seal.ofd`),
which also reads the common parts of other producers' pages:

* ``PathObject`` with ``AbbreviatedData`` ``M``/``L``/``C`` (lines and closed polygons; ``B``/``Q``/``A`` segments are
  drawn as straight lines to their end points), filled and/or stroked in ``FillColor``/``StrokeColor``;
* ``TextObject``: each ``TextCode`` glyph at its ``X``/``Y`` plus ``DeltaX`` advances, in the font embedded in the
  package (``FontFile``), else Noto Sans SC; ``FillColor``;
* ``ImageObject``: the PNG/JPEG/BMP multimedia resource stretched over its ``Boundary``;
* the appearance of every signature on the page: the seal's picture (PNG, JPEG, GIF, BMP) from its ``SES_Signature``
  at the ``StampAnnot`` boundary; a picture in another format (OFD, SVG) is drawn as a red outline.

Coordinates are millimetres from the page's top-left (GB/T 33190 clause 8.1). The page's size comes from its
``Area`` or the document's ``PageArea``. Bounded: at most :data:`MAX_DPI` and :data:`MAX_PIXELS` pixels, the package
limits of :mod:`trust.formats.ofd.package` and at most :data:`trust.formats.ofd.document.MAX_OBJECTS_PER_PAGE` objects.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from typing import Any, Final

from trust.crypto.errors import Code, InputError, TrustError
from trust.formats import ses
from trust.formats.ofd import document as ofd_document
from trust.formats.ofd import package as ofd_package
from trust.formats.ofd import signatures as ofd_signatures

MAX_DPI: Final = 300
MAX_PIXELS: Final = 40_000_000
MAX_MM: Final = 10_000.0
"""Coordinates and extents beyond this (ten metres) are not drawn."""
_TOKEN: Final = re.compile(r"[MLCBQAS]|-?\d*\.?\d+(?:[eE][-+]?\d+)?")


def _sane(value: float, low: float, high: float) -> bool:
    return math.isfinite(value) and low <= value <= high


def _font(data: bytes | None, size_px: float, cache: dict[Any, Any]) -> Any:
    from PIL import ImageFont

    key = (id(data), round(size_px, 1))
    if key not in cache:
        try:
            if data is not None:
                cache[key] = ImageFont.truetype(io.BytesIO(data), max(1, round(size_px)))
            else:
                raise OSError
        except OSError:
            from seal import fonts

            cache[key] = ImageFont.truetype(str(fonts.font_path("regular")), max(1, round(size_px)))
    return cache[key]


def _polylines(data: str, scale: float, ox: float, oy: float) -> list[tuple[list[tuple[float, float]], bool]]:
    """Subpaths of ``AbbreviatedData`` as point lists (pixels) and whether each is closed."""
    tokens = _TOKEN.findall(data)
    paths: list[tuple[list[tuple[float, float]], bool]] = []
    current: list[tuple[float, float]] = []
    i = 0
    arity = {"M": 2, "L": 2, "S": 2, "B": 6, "Q": 4, "A": 7}
    while i < len(tokens):
        op = tokens[i]
        i += 1
        if op == "C":
            if current:
                paths.append((current, True))
            current = []
            continue
        count = arity.get(op)
        if count is None or i + count > len(tokens):
            break
        try:
            numbers = [float(t) for t in tokens[i : i + count]]
        except ValueError:  # an operator where a number belongs: the rest of the path is not drawn
            break
        i += count
        x, y = numbers[-2], numbers[-1]
        if not (_sane(x, -MAX_MM, MAX_MM) and _sane(y, -MAX_MM, MAX_MM)):
            continue
        point = ((ox + x) * scale, (oy + y) * scale)
        if op in ("M", "S"):
            if current:
                paths.append((current, False))
            current = [point]
        else:
            current.append(point)
    if current:
        paths.append((current, False))
    return paths


def _rgb(color: tuple[int, int, int] | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    return color if color is not None else default


def render_page(ofd: bytes, page: int = 1, *, dpi: int = 100, doc_index: int = 0) -> bytes:
    """Page ``page`` (from 1) of document ``doc_index`` of the OFD package ``ofd`` as PNG bytes (module docstring)."""
    from PIL import Image

    if not 10 <= dpi <= MAX_DPI:
        raise InputError(f"dpi must be between 10 and {MAX_DPI}")
    pkg = ofd_package.read(ofd)
    bodies = ofd_document.entry(pkg)
    if not 0 <= doc_index < len(bodies):
        raise InputError(f"the package has {len(bodies)} document(s)")
    body = bodies[doc_index]
    doc = ofd_document.document(pkg, body.doc_root)
    if not 1 <= page <= len(doc.pages):
        raise InputError(f"the document has {len(doc.pages)} page(s), not a page {page}")
    ref = doc.pages[page - 1]
    content = ofd_document.page(pkg, ref)
    area = content.area or doc.page_area or (0.0, 0.0, 210.0, 297.0)
    scale = dpi / 25.4
    width, height = max(1, round(area[2] * scale)), max(1, round(area[3] * scale))
    if width * height > MAX_PIXELS:
        raise InputError(
            f"a page of {area[2]:g}×{area[3]:g} mm at {dpi} dpi is larger than {MAX_PIXELS} pixels",
            code=Code.INPUT_TOO_LARGE,
        )
    image = Image.new("RGB", (width, height), "white")
    resources = ofd_document.resources(pkg, doc)
    _draw_objects(image, pkg, content, resources, scale)
    _stamps(image, pkg, body, ref, scale)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _draw_objects(
    image: Any, pkg: ofd_package.Package, content: ofd_document.Page, resources: ofd_document.Resources, scale: float
) -> None:
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    font_data = {fid: pkg.get(f.file) if f.file else None for fid, f in resources.fonts.items()}
    cache: dict[Any, Any] = {}
    for obj in content.objects:
        box = obj.boundary
        if not all(_sane(v, -MAX_MM, MAX_MM) for v in box):
            continue
        if isinstance(obj, ofd_document.PathObject):
            for points, closed in _polylines(obj.data, scale, box[0], box[1]):
                if closed and obj.filled and len(points) > 2:
                    draw.polygon(points, fill=_rgb(obj.fill, (0, 0, 0)))
                if obj.stroked and len(points) > 1:
                    line = [*points, points[0]] if closed else points
                    width_px = round(obj.line_width * scale) if _sane(obj.line_width, 0, 50) else 1
                    draw.line(line, fill=_rgb(obj.stroke, (0, 0, 0)), width=max(1, width_px))
        elif isinstance(obj, ofd_document.TextObject):
            if not _sane(obj.size, 0.1, 200):
                continue
            font = _font(font_data.get(obj.font), obj.size * scale, cache)
            color = _rgb(obj.fill, (0, 0, 0))
            for code in obj.codes:
                if not (_sane(code.x, -MAX_MM, MAX_MM) and _sane(code.y, -MAX_MM, MAX_MM)):
                    continue
                x = box[0] + code.x
                for index, char in enumerate(code.text):
                    with contextlib.suppress(OSError, ValueError):  # a broken embedded font: the glyph is left out
                        draw.text((x * scale, (box[1] + code.y) * scale), char, font=font, fill=color, anchor="ls")
                    step = code.delta_x[index] if index < len(code.delta_x) else obj.size
                    x += step if _sane(step, -MAX_MM, MAX_MM) else obj.size
        elif isinstance(obj, ofd_document.ImageObject):
            path = resources.media.get(obj.resource)
            data = pkg.get(path) if path else None
            if data is not None:
                _paste(image, data, box, scale)


def _paste(image: Any, data: bytes, box: ofd_document.Box, scale: float) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(data))
        if opened.width * opened.height > MAX_PIXELS:
            return False
        rgba = opened.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return False
    size = (max(1, round(abs(box[2]) * scale)), max(1, round(abs(box[3]) * scale)))
    picture = rgba.resize(size)
    image.paste(picture, (round(box[0] * scale), round(box[1] * scale)), picture)
    return True


def _stamps(
    image: Any, pkg: ofd_package.Package, body: ofd_document.DocBody, ref: ofd_document.PageRef, scale: float
) -> None:
    from PIL import ImageDraw

    if body.signatures is None or body.signatures not in pkg:
        return
    try:
        listing = ofd_signatures.parse_list(pkg, body.signatures)
    except TrustError:
        return
    for entry in listing.entries:
        try:
            signature = ofd_signatures.parse_signature(pkg, entry.path)
            picture = ses.parse_signature(pkg.read(signature.signed_value)).seal.picture
        except TrustError:
            continue
        for stamp in signature.stamps:
            if stamp.page_ref != ref.id or stamp.boundary is None:
                continue
            if picture.type.upper() in ("PNG", "JPG", "JPEG", "GIF", "BMP") and _paste(
                image, picture.data, stamp.boundary, scale
            ):
                continue
            x, y, w, h = (v * scale for v in stamp.boundary)
            ImageDraw.Draw(image).ellipse((x, y, x + w, y + h), outline=(230, 0, 18), width=max(1, round(scale / 2)))
