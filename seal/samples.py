"""Sample documents to seal: A4 PDFs with Chinese text (reportlab, Noto Sans SC from :mod:`seal.fonts` embedded
as a subset). Used by the demo world, the tests and the benchmarks, so they all seal the same kind of file.

Layout (points, origin bottom-left): a title ``"{title} 第N页"`` at y=770, body lines from y=730 down in steps of
18 pt, and on the signature page (default: the last) the line ``signature_line`` at (:data:`SIGNATURE_X`,
:data:`SIGNATURE_Y`), 12 pt. The area inside :data:`SEAL_BOX` stays blank on every page, as does everything
below y=300 apart from the signature line, as long as the body has at most 23 lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

A4: Final = (595.2755905511812, 841.8897637795277)
SIGNATURE_X: Final = 250.0
SIGNATURE_Y: Final = 220.0
SEAL_BOX: Final = (400.0, 60.0, 520.0, 180.0)
FONT: Final = "HurenSampleSC"
DEFAULT_BODY: Final = ("本合同由互认平台测试生成，用于验证电子印章。", "合同金额：人民币壹万元整（¥10,000.00）。")


def register_font() -> str:
    """Register the sample font with reportlab (once); returns its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from seal.fonts import font_path

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(font_path("regular"))))
    return FONT


def contract_pdf(
    pages: int = 1,
    *,
    title: str = "互认测试合同",
    body: Sequence[str] = DEFAULT_BODY,
    signature_line: str | None = None,
    signature_page: int | None = None,
) -> bytes:
    """A PDF of ``pages`` pages; ``signature_line`` (e.g. ``甲方（盖章）：杭州示例科技有限公司``) is printed on
    ``signature_page`` (default the last) for anchor placement. Deterministic output (reportlab invariant mode)."""
    from reportlab.pdfgen import canvas

    font = register_font()
    signature_page = signature_page or pages
    out = io.BytesIO()
    # types-reportlab types initialFontName as a float; reportlab takes a font name
    page = canvas.Canvas(out, pagesize=A4, invariant=1, initialFontName=font, initialFontSize=11)  # type: ignore[arg-type]
    page.setTitle(title)
    for number in range(1, pages + 1):
        page.setFont(font, 16)
        page.drawString(72, 770, f"{title} 第{number}页")
        page.setFont(font, 11)
        for index, line in enumerate(body):
            page.drawString(72, 730 - 18 * index, line)
        if signature_line is not None and number == signature_page:
            page.setFont(font, 12)
            page.drawString(SIGNATURE_X, SIGNATURE_Y, signature_line)
        page.showPage()
    page.save()
    return out.getvalue()
