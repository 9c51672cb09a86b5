"""Text that people read: what may go into a name, a licence field or a seal, and how a report shows what it did not
write itself (issue 11, item 5: terminal and display spoofing).

A licence field holding ``\\x1b[32m`` and a newline printed a green "TOTAL-PASSED" over a revoked licence's report.
Unicode has more such characters than ANSI escapes: C0 and C1 controls (NUL, ESC, CR, CSI …), the bidirectional
controls (U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates, U+200E/U+200F marks, U+061C), the line and
paragraph separators U+2028/U+2029, the byte order mark / zero-width no-break space U+FEFF, and the other format
characters (general category ``Cf``: zero-width joiners and spaces, soft hyphen, …), surrogates and unassigned code
points. :func:`unsafe` names them by category — ``Cc``, ``Cf``, ``Cs``, ``Cn``, ``Zl``, ``Zp`` — so nothing of that
kind is missed by a hand-made list.

* Issuance refuses them (:func:`check`: an :class:`~trust.crypto.errors.InputError` naming the field and the code
  point): distinguished names (``trust.formats.names``), licence fields and holders, seal names, licence issuers.
* Reports escape them (:func:`escape`): a control character becomes ``\\u{1b}``, a backslash ``\\\\``, so what a
  report prints from its input can never move the cursor, recolour, reorder or add a line, and a reader can still
  tell what the input held. JSON output needs nothing more (the encoder escapes controls; bidi characters stay, as
  JSON consumers render them as data, not as terminal text).
"""

from __future__ import annotations

import unicodedata
from typing import Final

from trust.crypto.errors import InputError

UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})


def unsafe(char: str) -> bool:
    """Whether ``char`` controls or reorders a display rather than showing something (module docstring)."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def first_unsafe(text: str) -> str | None:
    """The first unsafe character of ``text``, or None."""
    for char in text:
        if unsafe(char):
            return char
    return None


def describe(char: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def check(text: str, what: str) -> str:
    """``text`` unchanged, or :class:`InputError` if it holds a control, format or separator character."""
    char = first_unsafe(text)
    if char is not None:
        raise InputError(
            f"{what} contains the control or formatting character {describe(char)}; such characters are refused "
            "(they can change how the text is displayed)",
            evidence={"field": what, "character": f"U+{ord(char):04X}"},
        )
    return text


def escape(text: str) -> str:
    """``text`` with every unsafe character shown as ``\\u{hex}`` and every backslash doubled (module docstring)."""
    if "\\" not in text and first_unsafe(text) is None:
        return text
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif unsafe(char):
            out.append(f"\\u{{{ord(char):x}}}")
        else:
            out.append(char)
    return "".join(out)


__all__ = ["UNSAFE_CATEGORIES", "check", "describe", "escape", "first_unsafe", "unsafe"]
