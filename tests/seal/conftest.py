"""Fixtures for PDF sealing: a world of its own (the tests make, suspend and revoke seals), a dual seal, and
sample PDFs written with reportlab in Chinese (Noto Sans SC from :mod:`seal.fonts`, embedded as a subset).

Sample page layout (A4, points, origin bottom-left): a title at y=770, body text at y=730..., and on the
signature page the line ``甲方（盖章）：杭州示例科技有限公司`` at (:data:`ANCHOR_X`, :data:`ANCHOR_Y`); the area
inside :data:`SEAL_BOX` and everything below y=300 apart from that line is blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pytest

from seal import samples
from tests.support.world import ZJ_ORG_USCC, World, copy_world

HOLDER: Final = "杭州示例科技有限公司"
SEAL_NAME: Final = "合同专用章"
ANCHOR_PREFIX: Final = "甲方（盖章）："
ANCHOR_X: Final = samples.SIGNATURE_X
ANCHOR_Y: Final = samples.SIGNATURE_Y
SEAL_BOX: Final = samples.SEAL_BOX  # blank on every sample page
A4: Final = samples.A4
_FONT: Final = samples.FONT


def sample_pdf(pages: int = 1, *, signature_page: int | None = None, title: str = "互认测试合同") -> bytes:
    """A PDF of ``pages`` pages with Chinese text; the last page (or ``signature_page``) carries the anchor."""
    return samples.contract_pdf(
        pages, title=title, signature_line=ANCHOR_PREFIX + HOLDER, signature_page=signature_page
    )


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
def sealing_world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> SealingWorld:
    from trust.service import seals

    world = copy_world(world_template, tmp_path_factory.mktemp("sealing-world") / "home")
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
