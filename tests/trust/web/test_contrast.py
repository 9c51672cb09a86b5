"""The pages' colours meet WCAG 2.2 AA contrast (1.4.3: at least 4.5:1 for text), as the style sheet claims.

Reads ``trust/web/static/web.css`` itself: the custom properties and the rules that set a text colour on a
background, so a colour changed there is judged here. The luminance and ratio follow WCAG 2.2's definitions
("relative luminance", "contrast ratio")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import trust.web

CSS = (Path(trust.web.__file__).parent / "static" / "web.css").read_text(encoding="utf-8")
AA_TEXT = 4.5


def _variables() -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def _colour(value: str) -> str:
    value = value.strip()
    named = re.fullmatch(r"var\(--([a-z-]+)\)", value)
    value = _variables()[named.group(1)] if named else value
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):  # CSS's short form: #fff is #ffffff
        value = "#" + "".join(c * 2 for c in value[1:])
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", value), f"not a colour this test reads: {value!r}"
    return value


def _declarations(selector: str) -> dict[str, str]:
    """The declarations of the rule whose selector list is exactly ``selector``."""
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", CSS):
        if selectors.strip() == selector:
            return {k.strip(): v.strip() for k, v in re.findall(r"([a-z-]+)\s*:\s*([^;]+)", body)}
    raise AssertionError(f"no rule {selector!r} in web.css")


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_formula_gives_wcags_reference_values() -> None:
    assert ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the well-known grey just below AA
    assert ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # and the one just above


# (where, text colour, background): every pair of the style sheet that puts text on a colour
PAIRS = [
    ("body text", _declarations("body")["color"], _declarations("body")["background"]),
    ("links", _declarations("a")["color"], "#ffffff"),
    ("hints and footer", "var(--muted)", "#ffffff"),
    ("the top bar", _declarations("header.top")["color"], _declarations("header.top")["background"]),
    ("buttons", _declarations(".button")["color"], _declarations(".button")["background"].split()[0]),
    ("secondary buttons", _declarations(".button.secondary")["color"], "#ffffff"),
    ("table heads", "var(--ink)", _declarations("thead th")["background"]),
    ("passed verdict", _declarations(".verdict-total_passed .verdict-word")["color"],
     _declarations(".verdict-total_passed")["background"]),
    ("failed verdict", _declarations(".verdict-total_failed .verdict-word")["color"],
     _declarations(".verdict-total_failed")["background"]),
    ("indeterminate verdict", _declarations(".verdict-indeterminate .verdict-word")["color"],
     _declarations(".verdict-indeterminate")["background"]),
    ("a failed check's row", _declarations("tr.result-failed td:nth-child(2)")["color"],
     _declarations("tr.result-failed td")["background"]),
    ("a passed check", _declarations("tr.result-passed td:nth-child(2)")["color"], "#ffffff"),
    ("a problem", _declarations(".problem-inline")["color"], "#ffffff"),
    ("passed badge", _declarations(".badge")["color"], _declarations(".badge-total_passed")["background"]),
    ("failed badge", _declarations(".badge")["color"], _declarations(".badge-total_failed")["background"]),
    ("indeterminate badge", _declarations(".badge")["color"], _declarations(".badge-indeterminate")["background"]),
]  # fmt: skip


@pytest.mark.parametrize(("where", "foreground", "background"), PAIRS, ids=[p[0] for p in PAIRS])
def test_text_meets_aa_contrast(where: str, foreground: str, background: str) -> None:
    fg, bg = _colour(foreground), _colour(background)
    assert ratio(fg, bg) >= AA_TEXT, f"{where}: {fg} on {bg} is {ratio(fg, bg):.2f}:1"
