"""Fixtures for PDF sealing: a world of its own (the tests make, suspend and revoke seals), a dual seal, and
sample PDFs written with reportlab in Chinese (Noto Sans SC from :mod:`seal.fonts`, embedded as a subset).

Sample page layout (A4, points, origin bottom-left): a title at y=770, body text at y=730..., and on the
signature page the line ``甲方（盖章）：杭州示例科技有限公司`` at (:data:`ANCHOR_X`, :data:`ANCHOR_Y`); the area
inside :data:`SEAL_BOX` and everything below y=300 apart from that line is blank.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import pytest

from tests.support.server import free_port
from tests.support.world import ZJ_ORG_USCC, World, build_world

HOLDER: Final = "杭州示例科技有限公司"
SEAL_NAME: Final = "合同专用章"
ANCHOR_PREFIX: Final = "甲方（盖章）："
ANCHOR_X: Final = 250.0
ANCHOR_Y: Final = 220.0
SEAL_BOX: Final = (400.0, 60.0, 520.0, 180.0)  # blank on every sample page
A4: Final = (595.2755905511812, 841.8897637795277)
_FONT: Final = "HurenSampleSC"


def sample_pdf(pages: int = 1, *, signature_page: int | None = None, title: str = "互认测试合同") -> bytes:
    """A PDF of ``pages`` pages with Chinese text; the last page (or ``signature_page``) carries the anchor."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from seal.fonts import font_path

    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_FONT, str(font_path("regular"))))
    signature_page = signature_page or pages
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=1, initialFontName=_FONT, initialFontSize=11)
    page.setTitle(title)
    for number in range(1, pages + 1):
        page.setFont(_FONT, 16)
        page.drawString(72, 770, f"{title} 第{number}页")
        page.setFont(_FONT, 11)
        for index, line in enumerate(
            ["本合同由互认平台测试生成，用于验证电子印章。", "合同金额：人民币壹万元整（¥10,000.00）。"]
        ):
            page.drawString(72, 730 - 18 * index, line)
        if number == signature_page:
            page.setFont(_FONT, 12)
            page.drawString(ANCHOR_X, ANCHOR_Y, ANCHOR_PREFIX + HOLDER)
        page.showPage()
    page.save()
    return out.getvalue()


def anchor_text_box() -> tuple[float, float, float, float]:
    """Where :data:`HOLDER` is printed on the signature page, from the font's metrics (points)."""
    from reportlab.pdfbase import pdfmetrics

    sample_pdf(1)  # registers the font
    x0 = ANCHOR_X + pdfmetrics.stringWidth(ANCHOR_PREFIX, _FONT, 12)
    x1 = x0 + pdfmetrics.stringWidth(HOLDER, _FONT, 12)
    return x0, ANCHOR_Y, x1, ANCHOR_Y + 12


@dataclass
class SealingWorld:
    world: World
    es_id: str  # a dual seal (SM2 + RSA signer certificates) of 杭州示例科技有限公司
    seal_der: bytes

    @property
    def instance(self):
        return self.world.instance


@pytest.fixture(scope="module")
def sealing_world(tmp_path_factory: pytest.TempPathFactory) -> SealingWorld:
    from trust.service import seals

    world = build_world(tmp_path_factory.mktemp("sealing-world"), free_port())
    record = seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name=HOLDER,
        holder_code=ZJ_ORG_USCC,
        seal_name=SEAL_NAME,
        dual=True,
    )
    return SealingWorld(world, record.es_id, record.seal_der)


@pytest.fixture(scope="module")
def one_page() -> bytes:
    return sample_pdf(1)


@pytest.fixture(scope="module")
def two_pages() -> bytes:
    return sample_pdf(2, signature_page=2)
