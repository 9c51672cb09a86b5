"""The licence face (证照版式) rendered: a licence printed as an A4 PDF, ready to be sealed by its issuing authority.

What the face says — title, identifier, holder, face fields, validity, authority, date of issue — is
:class:`trust.formats.license_face.Face` (the same texts the verifier looks for, so renderer and verifier cannot drift
apart). This module lays it out and draws it:

* the licence type's name as the title, large and bold, and the GB/T 36904 identifier (``证照编号：…``);
* the holder rows and face fields, label in the left column, value wrapped in the right column — long free text
  (经营范围) wraps over as many lines as it needs, and a face that does not fit one page at the smallest type size
  continues on further pages;
* at the bottom of the last page: the QR code (``HR1:`` payload, :mod:`trust.formats.license_token`) on the left; on
  the right the validity, the issuing authority (the text the authority's seal is centred on) and the date of issue.

Decisions:

* **QR code**: error correction M, quiet zone 4 modules, version at most :data:`MAX_QR_VERSION` (25; a larger
  payload is refused with :class:`InputError` — an SM2 licence of a seeded type needs 22 or 23), drawn as vector
  squares (one filled path, so rasterisers leave no seams between modules), modules at least
  :data:`QR_MODULE_MM` (0.5 mm) and the symbol at least :data:`QR_MIN_MM` (30 mm) wide: 54.5 mm for version 23
  (62.5 mm with the quiet zone at version 25, inside the bottom block), about 2 pixels per module at 100 dpi — the
  smallest at which zbar reads it as well as zxing (0.42 mm, 1.65 pixels, was read by zxing only). The payload is
  encoded in the alphanumeric mode (Base45 is exactly the QR alphanumeric alphabet).
* **Fonts**: Noto Sans SC (:mod:`seal.fonts`), regular and bold, embedded as subsets with ``ToUnicode`` maps (the
  canvas starts in the CJK font, so no unembedded base-14 font is ever referenced); text extraction gives back the
  Unicode text. Each subset is tagged from its glyph set (:func:`seal.fonts.tag_subsets`), so the face's bold subset
  and the seal picture's differ in name as they do in content.
* **Token attachment**: the licence token as issued (compact by default) is embedded as the file ``license.jwt``
  (``/EmbeddedFiles`` name tree, ISO 32000-2 clause 7.11.4; MIME type ``application/jwt``, RFC 7519), written before
  the document is sealed so that the seal's signature covers it; :func:`render` checks that the token, the QR
  payload and the face describe the same licence.
* Labels are printed without a colon, so ``发证机关：<authority>`` occurs once on the face; a face value containing
  that text is refused (the seal would not know where to go).

No storage, no network. reportlab, qrcode and pyHanko's writer are imported only when rendering.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from trust.crypto.errors import Code, InputError, TrustError
from trust.formats import license_catalogue as catalogue
from trust.formats import license_token as token_mod
from trust.formats.license_face import (
    ATTACHMENT_MIME,
    ATTACHMENT_NAME,
    AUTHORITY_LABEL,
    IDENTIFIER_LABEL,
    ISSUED_LABEL,
    QR_CAPTION,
    VALIDITY_LABEL,
    Face,
    authority_anchor,
    dates_from_claims,
    face,
    normalise,
)

MAX_QR_VERSION: Final = 25
QR_BORDER: Final = 4
QR_MODULE_MM: Final = 0.5
QR_MIN_MM: Final = 30.0

FONT_REGULAR: Final = "HurenCJK"
FONT_BOLD: Final = "HurenCJKBold"  # the name seal.picture registers the same font under

# Page geometry (millimetres, origin bottom-left): A4, content between x 22 and 188.
_PAGE_W: Final = 210.0
_PAGE_H: Final = 297.0
_LEFT: Final = 24.0
_RIGHT: Final = 188.0
_LABEL_W: Final = 40.0
_VALUE_X: Final = 68.0
_TOP_FIRST: Final = 62.0  # from the top edge: where the fields start on page 1 (below title and identifier)
_TOP_NEXT: Final = 25.0  # on continuation pages
_BOTTOM: Final = 20.0  # lowest text line on a page without the bottom block
_BLOCK_TOP: Final = 92.0  # from the bottom edge: the bottom block (QR, authority) lies below this
_SIZES: Final = (12.0, 11.0, 10.0, 9.0, 8.0, 7.5)
_NO_LINE_START: Final = frozenset("，。；、：）》」』】”’,.;:)!?！？%")


# --- the QR code --------------------------------------------------------------------------------------------


def qr_symbol(payload: str) -> tuple[int, list[list[bool]]]:
    """``(version, modules)`` of the QR code of ``payload`` at level M with a 4-module quiet zone (included in
    ``modules``). Raises :class:`InputError` above version :data:`MAX_QR_VERSION`."""
    import qrcode
    from qrcode import constants, exceptions, util

    qr = qrcode.QRCode(error_correction=constants.ERROR_CORRECT_M, border=QR_BORDER)
    alphanumeric = all(c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" for c in payload)
    if alphanumeric:
        # types-qrcode declares MODE_ALPHA_NUM a plain int while QRData's overloads want Literal[1, 2, 4]
        qr.add_data(util.QRData(payload, mode=util.MODE_ALPHA_NUM))  # type: ignore[call-overload]
    else:
        qr.add_data(payload)
    try:
        qr.make(fit=True)
    except exceptions.DataOverflowError:
        raise InputError("the QR payload does not fit any QR code", code=Code.INPUT_TOO_LARGE) from None
    version = int(qr.version)
    if version > MAX_QR_VERSION:
        raise InputError(
            f"the QR payload needs QR version {version}; a licence face prints at most version {MAX_QR_VERSION}",
            code=Code.INPUT_TOO_LARGE,
            evidence={"version": version, "max_version": MAX_QR_VERSION, "chars": len(payload)},
        )
    return version, [[bool(cell) for cell in row] for row in qr.get_matrix()]


def _draw_qr(canvas: Any, modules: list[list[bool]], x: float, y: float, module: float) -> None:
    """Dark modules as one filled path of horizontal runs over a white square (quiet zone included)."""
    size = len(modules) * module
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    path = canvas.beginPath()
    for r, row in enumerate(modules):
        top = y + size - (r + 1) * module
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            path.rect(x + start * module, top, (c - start) * module, module)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


# --- layout -------------------------------------------------------------------------------------------------


def _register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from seal import fonts

    registered = pdfmetrics.getRegisteredFontNames()
    for name, weight in ((FONT_REGULAR, "regular"), (FONT_BOLD, "bold")):
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(fonts.font_path(weight))))


def _width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase import pdfmetrics

    return float(pdfmetrics.stringWidth(text, font, size))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy line breaking by character (CJK breaks anywhere); closing punctuation never starts a line (it hangs
    at the end of the previous one); existing line breaks are kept."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for ch in paragraph:
            candidate = current + ch
            if current and _width(candidate, font, size) > width and ch not in _NO_LINE_START:
                lines.append(current)
                current = ch
            else:
                current = candidate
        lines.append(current)
    return lines


@dataclass(frozen=True)
class _Slot:
    label: str | None
    value: str | None
    row_start: bool


def _slots(rows: Sequence[tuple[str, str]], size: float) -> list[_Slot]:
    """One slot per printed line. A label that wraps and a value that wraps share only the label's last line, so
    the value's lines stay consecutive in reading order (extracted text keeps every value in one piece)."""
    from reportlab.lib.units import mm

    slots: list[_Slot] = []
    for label, value in rows:
        labels = wrap(label, FONT_BOLD, size, _LABEL_W * mm - 4)
        values = wrap(value, FONT_REGULAR, size, (_RIGHT - _VALUE_X) * mm)
        start = len(labels) - 1 if len(values) > 1 else 0
        height = max(len(labels), start + len(values))
        for index in range(height):
            slots.append(
                _Slot(
                    labels[index] if index < len(labels) else None,
                    values[index - start] if 0 <= index - start < len(values) else None,
                    index == 0,
                )
            )
    return slots


def _line_height(size: float) -> float:
    return size * 1.45


def _row_gap(size: float) -> float:
    return size * 0.5


def _slots_height(slots: Sequence[_Slot], size: float) -> float:
    rows = sum(1 for s in slots if s.row_start)
    return len(slots) * _line_height(size) + max(0, rows - 1) * _row_gap(size)


def _fit_size(rows: Sequence[tuple[str, str]]) -> tuple[float, list[_Slot]]:
    """The largest type size at which the face fits one page; else the smallest, on several pages."""
    from reportlab.lib.units import mm

    room = (_PAGE_H - _TOP_FIRST - _BLOCK_TOP) * mm
    slots: list[_Slot] = []
    for size in _SIZES:
        slots = _slots(rows, size)
        if _slots_height(slots, size) <= room:
            return size, slots
    return _SIZES[-1], slots


def _fitting_size(text: str, font: str, size: float, width: float, smallest: float = 7.0) -> float:
    while size > smallest and _width(text, font, size) > width:
        size -= 0.5
    return size


def _draw_frame(canvas: Any) -> None:
    from reportlab.lib.units import mm

    canvas.saveState()
    canvas.setStrokeColorRGB(0.72, 0.56, 0.25)
    canvas.setLineWidth(1.6)
    canvas.rect(10 * mm, 10 * mm, (_PAGE_W - 20) * mm, (_PAGE_H - 20) * mm, stroke=1, fill=0)
    canvas.setLineWidth(0.5)
    canvas.rect(12 * mm, 12 * mm, (_PAGE_W - 24) * mm, (_PAGE_H - 24) * mm, stroke=1, fill=0)
    canvas.restoreState()


def _draw_header(canvas: Any, content: Face) -> None:
    from reportlab.lib.units import mm

    centre = _PAGE_W / 2 * mm
    width = (_RIGHT - _LEFT) * mm
    size = _fitting_size(content.title, FONT_BOLD, 30, width, smallest=12)
    canvas.setFillColorRGB(0.1, 0.1, 0.1)
    canvas.setFont(FONT_BOLD, size)
    canvas.drawCentredString(centre, (_PAGE_H - 40) * mm, content.title)
    line = IDENTIFIER_LABEL + content.identifier
    canvas.setFont(FONT_REGULAR, _fitting_size(line, FONT_REGULAR, 10, width))
    canvas.drawCentredString(centre, (_PAGE_H - 50) * mm, line)
    canvas.setStrokeColorRGB(0.72, 0.56, 0.25)
    canvas.setLineWidth(0.6)
    canvas.line(_LEFT * mm, (_PAGE_H - 55) * mm, _RIGHT * mm, (_PAGE_H - 55) * mm)


def _draw_block(canvas: Any, content: Face, modules: list[list[bool]]) -> None:
    """The QR code (left) and validity, authority and date of issue (right) at the bottom of the last page."""
    from reportlab.lib.units import mm

    symbol = len(modules) - 2 * QR_BORDER
    module = max(QR_MODULE_MM, QR_MIN_MM / symbol) * mm
    qr_x, qr_y = _LEFT * mm - QR_BORDER * module, 24 * mm
    _draw_qr(canvas, modules, qr_x, qr_y, module)
    canvas.setFillColorRGB(0.25, 0.25, 0.25)
    canvas.setFont(FONT_REGULAR, 8)
    canvas.drawCentredString(qr_x + len(modules) * module / 2, 19 * mm, QR_CAPTION)
    centre = 142 * mm
    width = (_RIGHT - 96) * mm
    canvas.setFillColorRGB(0.1, 0.1, 0.1)
    for text, y, size in (
        (VALIDITY_LABEL + content.validity, 84, 10.5),
        (AUTHORITY_LABEL + (content.issuer_name or "").strip(), 56, 12),  # the anchor is its first 64 characters
        (ISSUED_LABEL + content.issued, 47, 10.5),
    ):
        canvas.setFont(FONT_REGULAR, _fitting_size(text, FONT_REGULAR, size, width, smallest=6))
        canvas.drawCentredString(centre, y * mm, text)


def _draw_slot(canvas: Any, slot: _Slot, y: float, size: float) -> None:
    from reportlab.lib.units import mm

    if slot.label:
        canvas.setFillColorRGB(0.3, 0.3, 0.3)
        canvas.setFont(FONT_BOLD, size)
        canvas.drawString(_LEFT * mm, y, slot.label)
    if slot.value:
        canvas.setFillColorRGB(0.05, 0.05, 0.05)
        canvas.setFont(FONT_REGULAR, size)
        canvas.drawString(_VALUE_X * mm, y, slot.value)


def _face_pdf(content: Face, modules: list[list[bool]], *, author: str, subject: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas as rl_canvas

    _register_fonts()
    out = io.BytesIO()
    # types-reportlab types initialFontName as a float; reportlab takes a font name
    canvas = rl_canvas.Canvas(out, pagesize=A4, initialFontName=FONT_REGULAR, initialFontSize=10, pageCompression=1)  # type: ignore[arg-type]
    canvas.setTitle(f"{content.title} {content.identifier}")
    canvas.setAuthor(author)
    canvas.setSubject(subject)
    canvas.setCreator("Huren 互认")
    draw_face(canvas, content, modules)
    canvas.save()
    return out.getvalue()


def draw_face(canvas: Any, content: Face, modules: list[list[bool]]) -> None:
    """Draw the face on ``canvas`` — reportlab's, or any object with the same drawing methods (points, origin at
    the bottom left): the licence PDF and the licence OFD (:mod:`licenses.ofd`) are drawn by this one function, so
    their layouts cannot drift apart. Ends with ``showPage``."""
    from reportlab.lib.units import mm

    _register_fonts()
    size, slots = _fit_size(content.rows)
    line, gap = _line_height(size), _row_gap(size)
    _draw_frame(canvas)
    _draw_header(canvas, content)
    y = (_PAGE_H - _TOP_FIRST) * mm - size
    for index, slot in enumerate(slots):
        if slot.row_start and index:
            y -= gap
        if y < _BOTTOM * mm:
            canvas.showPage()
            _draw_frame(canvas)
            y = (_PAGE_H - _TOP_NEXT) * mm - size
        _draw_slot(canvas, slot, y, size)
        y -= line
    if slots and y + line - 0.3 * size < _BLOCK_TOP * mm:  # the last line reaches into the bottom block: new page
        canvas.showPage()
        _draw_frame(canvas)
    _draw_block(canvas, content, modules)
    canvas.showPage()


def _attach(pdf: bytes, token: str, issued_at: datetime) -> bytes:
    """The PDF rewritten as one revision with ``token`` embedded as ``license.jwt`` (compressed) and its font
    subsets tagged by their glyph sets."""
    from pyhanko.pdf_utils import embed, writer
    from pyhanko.pdf_utils.reader import PdfFileReader

    from seal import fonts

    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    target = writer.copy_into_new_writer(reader)  # keeps the document information dictionary
    fonts.retag_subsets(target)  # subset tags from the glyph sets, distinct from the seal picture's (seal.fonts)
    data = token.encode("ascii")
    stream = embed.EmbeddedFileObject.from_file_data(
        target,
        data,
        compress=True,
        params=embed.EmbeddedFileParams(creation_date=issued_at, modification_date=issued_at),
        mime_type=ATTACHMENT_MIME,
    )
    spec = embed.FileSpec(
        file_spec_string=ATTACHMENT_NAME,
        file_name=ATTACHMENT_NAME,
        embedded_data=stream,
        description="电子证照令牌（JWS，RFC 7515）",
    )
    embed.embed_file(target, spec)
    out = io.BytesIO()
    target.write(out)
    return out.getvalue()


# --- rendering ----------------------------------------------------------------------------------------------


def _check_token(
    token: str,
    qr_payload: str,
    license_type: catalogue.LicenseType,
    fields: Mapping[str, Any],
    identifier: str,
    holder_name: str,
    holder_code: str,
) -> None:
    """The token and the QR payload must be of the licence the face shows."""
    try:
        _header, claims = token_mod.parse_unverified(token)
        _qr_header, qr_claims = token_mod.parse_unverified(token_mod.from_qr(qr_payload))
    except TrustError as exc:
        raise InputError(f"the licence token or QR payload cannot be read: {exc.message}") from None
    license = claims.get("license") or {}
    holder = license.get("holder") or {}
    problems = []
    if claims.get("jti") != identifier or license.get("id") != identifier:
        problems.append("identifier")
    if license.get("type") != license_type.code:
        problems.append("licence type")
    if holder.get("name") != holder_name or holder.get("code") != holder_code:
        problems.append("holder")
    if license.get("fields") != dict(fields):
        problems.append("fields")
    if (qr_claims.get("license") or {}).get("id") != identifier or qr_claims.get("iss") != claims.get("iss"):
        problems.append("QR payload")
    if problems:
        raise InputError(
            "the licence token does not describe the licence on the face: " + ", ".join(problems) + " differ",
            evidence={"differ": problems},
        )


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
    """The licence face as an A4 PDF (one page unless the fields need more) with ``token`` attached as
    ``license.jwt``. ``valid_until`` is the last valid day (``None``: no end). Raises :class:`InputError` when the
    fields do not fit the type, the token or QR payload is of another licence, or the QR code would exceed
    version 25."""
    content, modules = prepare(
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
    pdf = _face_pdf(content, modules, author=issuer_name, subject=f"{holder_name} {identifier}")
    return _attach(pdf, token, issued_at)


def prepare(
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
) -> tuple[Face, list[list[bool]]]:
    """The face and the QR modules of a licence, after every check :func:`render` makes (fields, token, QR payload,
    the authority's text not in a field): what the OFD writer draws (:mod:`licenses.ofd`)."""
    if not issuer_name or not issuer_name.strip():
        raise InputError("the issuing authority's name is needed on the face")
    if len(token) > 1024 * 1024:
        raise InputError("licence token too large to attach", code=Code.INPUT_TOO_LARGE)
    checked = catalogue.validate_fields(license_type, fields)
    content = face(
        license_type,
        checked,
        identifier=identifier,
        holder_name=holder_name,
        holder_code=holder_code,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        issuer_name=issuer_name,
    )
    _check_token(token, qr_payload, license_type, checked, identifier, holder_name, holder_code)
    anchor = normalise(authority_anchor(issuer_name))
    for label, value in content.rows:
        if anchor in normalise(value):
            raise InputError(
                f"face field {label} contains {authority_anchor(issuer_name)!r}, where the seal is placed",
                evidence={"field": label},
            )
    _version, modules = qr_symbol(qr_payload)
    return content, modules


def token_arguments(token: str, *, qr_payload: str, issuer_name: str) -> dict[str, Any]:
    """The arguments of :func:`render` (and :func:`prepare`) with everything the face shows taken from the token."""
    try:
        _header, claims = token_mod.parse_unverified(token)
    except TrustError as exc:
        raise InputError(f"the licence token cannot be read: {exc.message}") from None
    license = claims.get("license")
    if not isinstance(license, Mapping) or not isinstance(license.get("holder"), Mapping):
        raise InputError("the licence token has no license claim with a holder")
    issued_at, valid_from, valid_until = dates_from_claims(claims)
    holder = license["holder"]
    return {
        "license_type": catalogue.get(str(license.get("type"))),
        "fields": license.get("fields") or {},
        "identifier": str(license.get("id")),
        "issuer_name": issuer_name,
        "issued_at": issued_at,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "holder_name": str(holder.get("name")),
        "holder_code": str(holder.get("code")),
        "qr_payload": qr_payload,
        "token": token,
    }


def render_token(token: str, *, qr_payload: str, issuer_name: str) -> bytes:
    """:func:`render` with everything the face shows taken from the licence token's claims."""
    return render(**token_arguments(token, qr_payload=qr_payload, issuer_name=issuer_name))


__all__ = [
    "MAX_QR_VERSION",
    "draw_face",
    "prepare",
    "qr_symbol",
    "render",
    "render_token",
    "token_arguments",
]
