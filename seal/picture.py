"""Seal pictures: the image of a real official seal, as PNG (for the SESeal) and as vector PDF (for appearances).

Layout of a round organisation seal (after GA 241-2000 and common practice; sizes scale with the diameter,
given here for 42 mm):

* a red ring: outer diameter 42 mm, line 1.2 mm;
* a five-pointed star in the centre, circumscribed diameter 14 mm;
* the organisation name along the upper arc, characters upright towards the rim, about 5.6 mm high, spread over
  an arc of 180°–270° depending on its length;
* the seal name (e.g. 合同专用章) horizontally below the star;
* the code (unified social credit code) along the lower arc in small type, readable left to right.

Colour: RGB (230, 0, 18). The PNG is rendered at 300 dpi or more (supersampled, then reduced for smooth edges)
with a transparent background; the PDF is one page the size of the seal, vector shapes and embedded subset text
(reportlab), used as the visible appearance of PDF seals and on licence faces.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from PIL import Image, ImageDraw, ImageFont

from seal import fonts
from trust.crypto.errors import InputError

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

RED: Final = (230, 0, 18)
MM_PER_INCH: Final = 25.4


@dataclass(frozen=True)
class SealDesign:
    """A round organisation seal. For a personal seal use :class:`PersonalSealDesign`."""

    organization: str
    seal_name: str = ""
    code: str = ""
    diameter_mm: float = 42.0

    def __post_init__(self) -> None:
        if not self.organization or len(self.organization) > 40:
            raise InputError("seal organisation name must be 1..40 characters")
        if len(self.seal_name) > 12:
            raise InputError("seal name must be at most 12 characters")
        if len(self.code) > 24:
            raise InputError("seal code must be at most 24 characters")
        if not 20.0 <= self.diameter_mm <= 60.0:
            raise InputError("seal diameter must be 20..60 mm")


@dataclass(frozen=True)
class _Geometry:
    """All lengths in millimetres, origin at the centre, y up."""

    radius: float
    ring: float
    star_radius: float
    name_size: float
    name_radius: float  # baseline radius of the organisation name
    name_span: float  # degrees
    title_size: float
    title_y: float
    code_size: float
    code_radius: float
    code_span: float

    @classmethod
    def of(cls, design: SealDesign) -> _Geometry:
        scale = design.diameter_mm / 42.0
        radius = design.diameter_mm / 2
        count = max(len(design.organization), 1)
        name_size = min(5.6 * scale, (2 * math.pi * (radius - 2.2 * scale) * 0.75) / count * 0.8)
        span = min(270.0, max(150.0, count * 22.0))
        return cls(
            radius=radius,
            ring=1.2 * scale,
            star_radius=7.0 * scale,
            name_size=name_size,
            name_radius=radius - 1.2 * scale - 1.1 * scale - name_size,
            name_span=span,
            title_size=min(4.6 * scale, 30.0 * scale / max(len(design.seal_name), 1)),
            title_y=-0.36 * radius,
            code_size=1.8 * scale,
            code_radius=radius - 1.2 * scale - 0.6 * scale,
            code_span=min(100.0, max(30.0, len(design.code) * 4.6)),
        )


def _star_points(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    inner = outer * math.sin(math.radians(18)) / math.sin(math.radians(126))
    points = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        angle = math.radians(90 + i * 36)
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _name_angles(count: int, span: float) -> list[float]:
    """Angles (degrees, 90 = top) of each character centre along the upper arc, left to right."""
    if count == 1:
        return [90.0]
    step = span / (count - 1) if count > 1 else 0
    return [90 + span / 2 - i * step for i in range(count)]


def _code_angles(count: int, span: float) -> list[float]:
    if count == 1:
        return [270.0]
    step = span / (count - 1)
    return [270 - span / 2 + i * step for i in range(count)]


def _png(image: Image.Image, dpi: int) -> bytes:
    """A 16-colour palette PNG with alpha: a seal is red on transparent, so the palette keeps every edge tone and
    the file (carried in every SESeal and every signature) shrinks about fourfold."""
    paletted = image.quantize(colors=16, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    paletted.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


# --- PNG --------------------------------------------------------------------------------------------------


def render_png(design: SealDesign, dpi: int = 300) -> bytes:
    """The seal as a transparent PNG at ``dpi`` (at least 300)."""
    if not 300 <= dpi <= 1200:
        raise InputError("seal pictures are rendered at 300..1200 dpi")
    geometry = _Geometry.of(design)
    supersample = 3
    px_per_mm = dpi / MM_PER_INCH * supersample
    size = round(design.diameter_mm * px_per_mm)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = size / 2

    def px(x_mm: float, y_mm: float) -> tuple[float, float]:
        return centre + x_mm * px_per_mm, centre - y_mm * px_per_mm

    colour = (*RED, 255)
    outer = geometry.radius * px_per_mm
    ring = geometry.ring * px_per_mm
    draw.ellipse(
        (centre - outer + ring / 2, centre - outer + ring / 2, centre + outer - ring / 2, centre + outer - ring / 2),
        outline=colour,
        width=max(1, round(ring)),
    )
    draw.polygon([px(x, y) for x, y in _star_points(0, 0, geometry.star_radius)], fill=colour)
    bold = fonts.font_path("bold")

    def char_image(ch: str, size_mm: float) -> Image.Image:
        font = ImageFont.truetype(str(bold), max(1, round(size_mm * px_per_mm)))
        left, top, right, bottom = font.getbbox(ch)
        w, h = max(1, int(right - left)), max(1, int(bottom - top))  # FreeType's box is whole pixels
        tile = Image.new("RGBA", (w + 4, h + 4), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((2 - left, 2 - top), ch, font=font, fill=colour)
        return tile

    def place(ch: str, size_mm: float, x_mm: float, y_mm: float, rotation: float) -> None:
        tile = char_image(ch, size_mm).rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
        cx, cy = px(x_mm, y_mm)
        image.alpha_composite(tile, (round(cx - tile.width / 2), round(cy - tile.height / 2)))

    r = geometry.name_radius + geometry.name_size / 2
    for ch, angle in zip(design.organization, _name_angles(len(design.organization), geometry.name_span), strict=True):
        a = math.radians(angle)
        place(ch, geometry.name_size, r * math.cos(a), r * math.sin(a), angle - 90)
    if design.seal_name:
        font = ImageFont.truetype(str(bold), max(1, round(geometry.title_size * px_per_mm)))
        x, y = px(0, geometry.title_y)
        draw.text((x, y), design.seal_name, font=font, fill=colour, anchor="mm")
    if design.code:
        rc = geometry.code_radius - geometry.code_size / 2 - 0.3
        for ch, angle in zip(design.code, _code_angles(len(design.code), geometry.code_span), strict=True):
            a = math.radians(angle)
            place(ch, geometry.code_size, rc * math.cos(a), rc * math.sin(a), angle + 90)
    return _png(image.resize((size // supersample, size // supersample), Image.Resampling.LANCZOS), dpi)


# --- vector (reportlab) -----------------------------------------------------------------------------------


def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = "HurenCJKBold"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(fonts.font_path("bold"))))
    return name


def draw(canvas: Canvas, design: SealDesign, centre_x: float, centre_y: float) -> None:
    """Draw the seal on a reportlab canvas, centred at (``centre_x``, ``centre_y``) in points."""
    from reportlab.lib.units import mm

    c = canvas
    geometry = _Geometry.of(design)
    font = _register_font()
    c.saveState()
    c.translate(centre_x, centre_y)
    c.setStrokeColorRGB(*(v / 255 for v in RED))
    c.setFillColorRGB(*(v / 255 for v in RED))
    c.setLineWidth(geometry.ring * mm)
    c.circle(0, 0, (geometry.radius - geometry.ring / 2) * mm, stroke=1, fill=0)
    path = c.beginPath()
    points = _star_points(0, 0, geometry.star_radius * mm)
    path.moveTo(*points[0])
    for point in points[1:]:
        path.lineTo(*point)
    path.close()
    c.drawPath(path, stroke=0, fill=1)
    for ch, angle in zip(design.organization, _name_angles(len(design.organization), geometry.name_span), strict=True):
        c.saveState()
        c.rotate(angle - 90)
        c.setFont(font, geometry.name_size * mm)
        c.drawCentredString(0, geometry.name_radius * mm, ch)
        c.restoreState()
    if design.seal_name:
        c.setFont(font, geometry.title_size * mm)
        c.drawCentredString(0, (geometry.title_y - geometry.title_size * 0.35) * mm, design.seal_name)
    if design.code:
        for ch, angle in zip(design.code, _code_angles(len(design.code), geometry.code_span), strict=True):
            c.saveState()
            c.rotate(angle + 90)
            c.setFont(font, geometry.code_size * mm)
            c.drawCentredString(0, -(geometry.code_radius - 0.3) * mm, ch)
            c.restoreState()
    c.restoreState()


def render_pdf(design: SealDesign) -> bytes:
    """A one-page PDF exactly the size of the seal (vector; subset font embedded, tagged by its glyph set)."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas

    size = design.diameter_mm * mm
    out = io.BytesIO()
    # types-reportlab types initialFontName as a float; reportlab takes a font name
    canvas = rl_canvas.Canvas(out, pagesize=(size, size), initialFontName=_register_font(), initialFontSize=10)  # type: ignore[arg-type]
    canvas.setTitle(f"{design.organization} {design.seal_name}".strip())
    draw(canvas, design, size / 2, size / 2)
    canvas.showPage()
    canvas.save()
    return fonts.tag_subsets(out.getvalue())  # its own subset tag, not reportlab's AAAAAA (seal.fonts)


@dataclass(frozen=True)
class PersonalSealDesign:
    """A square personal seal: the name and 之印 (or 印) in a grid inside a red frame, 20 mm by default."""

    name: str
    size_mm: float = 20.0

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= 4:
            raise InputError("a personal seal holds a name of 1..4 characters")
        if not 12.0 <= self.size_mm <= 40.0:
            raise InputError("personal seal size must be 12..40 mm")

    @property
    def characters(self) -> str:
        """Four characters in reading order (right column first, top to bottom, as seals are read)."""
        text = {1: self.name + "之印", 2: self.name + "之印", 3: self.name + "印", 4: self.name}[len(self.name)]
        return text if len(text) == 4 else text.ljust(4)

    def cells(self) -> list[tuple[str, int, int]]:
        """``(char, column from left, row from top)`` for a 2x2 grid read right column first."""
        text = self.characters
        return [(text[0], 1, 0), (text[1], 1, 1), (text[2], 0, 0), (text[3], 0, 1)]


def render_personal_png(design: PersonalSealDesign, dpi: int = 300) -> bytes:
    if not 300 <= dpi <= 1200:
        raise InputError("seal pictures are rendered at 300..1200 dpi")
    supersample = 3
    px_per_mm = dpi / MM_PER_INCH * supersample
    size = round(design.size_mm * px_per_mm)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw_ = ImageDraw.Draw(image)
    colour = (*RED, 255)
    frame = max(1, round(design.size_mm * 0.06 * px_per_mm))
    draw_.rectangle((frame // 2, frame // 2, size - frame // 2 - 1, size - frame // 2 - 1), outline=colour, width=frame)
    cell = (size - 2 * frame) / 2
    font = ImageFont.truetype(str(fonts.font_path("bold")), int(cell * 0.86))
    for ch, col, row in design.cells():
        x = frame + cell * col + cell / 2
        y = frame + cell * row + cell / 2
        draw_.text((x, y), ch, font=font, fill=colour, anchor="mm")
    return _png(image.resize((size // supersample, size // supersample), Image.Resampling.LANCZOS), dpi)


def draw_personal(canvas: Canvas, design: PersonalSealDesign, centre_x: float, centre_y: float) -> None:
    from reportlab.lib.units import mm

    c = canvas
    font = _register_font()
    size = design.size_mm * mm
    frame = design.size_mm * 0.06 * mm
    c.saveState()
    c.translate(centre_x - size / 2, centre_y - size / 2)
    c.setStrokeColorRGB(*(v / 255 for v in RED))
    c.setFillColorRGB(*(v / 255 for v in RED))
    c.setLineWidth(frame)
    c.rect(frame / 2, frame / 2, size - frame, size - frame, stroke=1, fill=0)
    cell = (size - 2 * frame) / 2
    c.setFont(font, cell * 0.86)
    for ch, col, row in design.cells():
        x = frame + cell * col + cell / 2
        y = size - frame - cell * row - cell / 2 - cell * 0.3
        c.drawCentredString(x, y, ch)
    c.restoreState()


def render_personal_pdf(design: PersonalSealDesign) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas

    size = design.size_mm * mm
    out = io.BytesIO()
    # types-reportlab types initialFontName as a float; reportlab takes a font name
    canvas = rl_canvas.Canvas(out, pagesize=(size, size), initialFontName=_register_font(), initialFontSize=10)  # type: ignore[arg-type]
    canvas.setTitle(design.name)
    draw_personal(canvas, design, size / 2, size / 2)
    canvas.showPage()
    canvas.save()
    return fonts.tag_subsets(out.getvalue())
