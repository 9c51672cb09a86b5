"""The pages' strings: one catalogue per language (``strings/<lang>.json``), Chinese by default.

A page is rendered in one language, chosen by the ``lang`` query parameter (``zh`` or ``en``; anything else is
Chinese). Every catalogue holds the same keys (a test checks it); a key missing at run time shows as the key itself,
never as an error page.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Final

LANGUAGES: Final = ("zh", "en")
DEFAULT: Final = "zh"


@cache
def catalogue(lang: str) -> dict[str, str]:
    text = resources.files("trust.web").joinpath("strings", f"{lang}.json").read_text(encoding="utf-8")
    loaded = json.loads(text)
    return {str(key): str(value) for key, value in loaded.items()}


def pick(value: str | None) -> str:
    """The language of a request: ``value`` if it names one, else Chinese."""
    return value if value in LANGUAGES else DEFAULT


class Strings:
    """``t("key", name=value)``: the catalogue's text with ``{name}`` filled in (values are escaped by the template)."""

    def __init__(self, lang: str) -> None:
        self.lang = pick(lang)
        self._table = catalogue(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self._table.get(key, key)
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self._table
