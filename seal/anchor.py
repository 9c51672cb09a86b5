"""Text anchors: where a given text (e.g. the issuing authority's name) is printed on a PDF page.

A seal is placed "on" the authority's name the way a clerk stamps a paper document: centred on the text. This
module finds the text and returns its bounding box in PDF user space (points, origin bottom-left, y up) — the
coordinate system of widget rectangles (ISO 32000-2 clause 8.3.2.3).

Text extraction uses pdfplumber (pdfminer.six), which maps glyphs to Unicode through the fonts' ``ToUnicode``
CMaps, so Chinese text written by reportlab, LibreOffice or Word is found. Matching ignores white space between
characters (extractors insert spaces between widely spaced CJK glyphs) and is case-sensitive. Pages with a
``/Rotate`` other than 0 are refused for anchors (their displayed and user-space axes differ); place the seal
by page and box there.

Pure: no storage, no network.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from trust.crypto.errors import Code, InputError, UnavailableError

if TYPE_CHECKING:
    from pdfplumber.page import Page

MAX_ANCHOR_CHARS: Final = 64


class AnchorNotFound(InputError):
    """The anchor text does not occur on the page(s) searched."""


@dataclass(frozen=True)
class AnchorMatch:
    """One occurrence of the anchor: its page (0-based index) and box ``(x0, y0, x1, y1)`` in user space."""

    page_index: int
    box: tuple[float, float, float, float]

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


def _pattern(text: str) -> re.Pattern[str]:
    chars = [c for c in text if not c.isspace()]
    return re.compile(r"\s*".join(re.escape(c) for c in chars))


def check_anchor_text(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise InputError("the anchor text is empty")
    if len(stripped) > MAX_ANCHOR_CHARS:
        raise InputError(f"the anchor text is longer than {MAX_ANCHOR_CHARS} characters")
    return stripped


def find_anchor(pdf: bytes, text: str, *, page_index: int | None = None, occurrence: int = 1) -> AnchorMatch:
    """The ``occurrence``-th match of ``text`` on page ``page_index`` (0-based), or on the whole document when
    ``page_index`` is ``None`` (pages in order). Raises :class:`AnchorNotFound` when there is none."""
    text = check_anchor_text(text)
    if occurrence < 1:
        raise InputError("the anchor occurrence counts from 1")
    try:
        import pdfplumber
    except ImportError:  # pragma: no cover - a declared dependency
        raise UnavailableError("text anchors need pdfplumber (pip install -e .)") from None
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    pattern = _pattern(text)
    seen = 0
    try:
        with pdfplumber.open(io.BytesIO(pdf)) as document:
            indexes = range(len(document.pages)) if page_index is None else [page_index]
            for index in indexes:
                page = document.pages[index]
                matches = page.search(pattern, regex=True, return_chars=True, return_groups=False)
                if not matches:
                    continue
                if (page.rotation or 0) % 360:
                    raise InputError(
                        f"page {index + 1} is rotated ({page.rotation}°); place the seal by page and box there",
                        evidence={"page": index + 1, "rotate": page.rotation},
                    )
                if seen + len(matches) < occurrence:
                    seen += len(matches)
                    continue
                match = matches[occurrence - seen - 1]
                return AnchorMatch(index, _user_space_box(page, match))
    except (PSException, PdfminerException, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the PDF text could not be read for the anchor: {type(exc).__name__}") from None
    where = "the document" if page_index is None else f"page {page_index + 1}"
    raise AnchorNotFound(
        f"the anchor text {text!r} does not occur on {where}"
        + (f" {occurrence} times (found {seen})" if occurrence > 1 else ""),
        code=Code.INVALID_INPUT,
        evidence={"anchor": text, "page": None if page_index is None else page_index + 1, "found": seen},
    )


def _user_space_box(page: Page, match: dict[str, Any]) -> tuple[float, float, float, float]:
    """pdfplumber gives ``x0, x1`` in user space and ``top, bottom`` as the page height minus the user-space y
    (the media box origin included; pinned by a test with an offset media box); turn them into ``(x0, y0, x1,
    y1)``, y up."""
    height = float(page.height)
    x0 = float(match["x0"])
    x1 = float(match["x1"])
    y0 = height - float(match["bottom"])
    y1 = height - float(match["top"])
    return x0, y0, x1, y1
