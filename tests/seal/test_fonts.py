"""Font subset tags (``seal.fonts.tag_subsets``): six letters from the subset's font program, read back by pypdf."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader

from seal import fonts, picture


def _subset_names(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    names = []
    for page in reader.pages:
        resources: Any = page["/Resources"]  # pypdf types what it reads loosely (PdfObject)
        for font in resources["/Font"].values():
            names.append(str(font.get_object()["/BaseFont"]).lstrip("/"))
    return names


def test_each_subset_is_tagged_by_its_glyph_set() -> None:
    """Two seal pictures with different texts: reportlab calls both subsets ``AAAAAA+NotoSansSC-Bold``; tagged, they
    differ, the same picture gets the same tag twice (deterministic), and the descriptor's FontName follows."""
    first = picture.render_pdf(picture.SealDesign("杭州示例科技有限公司", "合同专用章", "91330106MA2CFA4X0F"))
    other = picture.render_pdf(picture.SealDesign("广州示例有限公司", "财务专用章", "91440101MA5CXXX00A"))
    again = picture.render_pdf(picture.SealDesign("杭州示例科技有限公司", "合同专用章", "91330106MA2CFA4X0F"))
    (a,), (b,), (c,) = _subset_names(first), _subset_names(other), _subset_names(again)
    assert re.fullmatch(r"[A-Z]{6}\+NotoSansSC-Bold", a) and re.fullmatch(r"[A-Z]{6}\+NotoSansSC-Bold", b)
    assert a != b and a == c
    assert not a.startswith("AAAAAA+")  # reportlab's own first tag would collide with every other reportlab PDF
    reader = PdfReader(io.BytesIO(first))
    resources: Any = reader.pages[0]["/Resources"]  # pypdf types what it reads loosely (PdfObject)
    font = next(iter(resources["/Font"].values())).get_object()
    assert str(font["/FontDescriptor"]["/FontName"]).lstrip("/") == a
    program = font["/FontDescriptor"]["/FontFile2"].get_data()
    assert a.split("+")[0] == fonts.subset_tag(program)


def test_tag_is_six_uppercase_letters_spread_over_the_alphabet() -> None:
    tags = {fonts.subset_tag(bytes([i, j])) for i in range(16) for j in range(16)}
    assert len(tags) == 256
    assert all(re.fullmatch(r"[A-Z]{6}", t) for t in tags)
    assert {t[0] for t in tags} == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_a_pdf_without_subsets_is_left_as_it_was() -> None:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.rect(10, 10, 50, 50, fill=1)
    page.showPage()
    page.save()
    tagged = fonts.tag_subsets(out.getvalue())
    assert PdfReader(io.BytesIO(tagged)).pages[0].mediabox == PdfReader(io.BytesIO(out.getvalue())).pages[0].mediabox
