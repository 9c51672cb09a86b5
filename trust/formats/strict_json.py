"""Strict JSON reading (RFC 8259, with the I-JSON rules of RFC 7493 clause 2): the one parser for JSON Huren did not
write itself — JWS headers and payloads, SD-JWT Disclosures, status list and licence token claims, holder proofs,
client assertions, trust lists and bundles, backup manifests, audit details, licence fields given to the CLI.

The standard library's :func:`json.loads` is lenient where a signature or a policy check would be misled by it;
:func:`loads` refuses, with an :class:`~trust.crypto.errors.EncodingError` naming the input:

* text that is not UTF-8 (``json.loads`` of bytes would also read UTF-16 and UTF-32), and a byte order mark;
* a member name twice in one object, at any depth (``json.loads`` keeps the last: two readers of one signed
  document could see two different values, RFC 7493 clause 2.3);
* ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON, and numbers too large for a double (``1e400``,
  which ``json.loads`` turns into infinity; RFC 7493 clause 2.2);
* a string or a name holding a lone surrogate (``"\\ud800"``: not a Unicode scalar value, RFC 7493 clause 2.1; such
  a string cannot be encoded as UTF-8 again);
* integers of more than 4300 digits and nesting deeper than the interpreter's stack (``ValueError`` and
  ``RecursionError`` inside ``json``; both become the same clear error here).

Sizes are the caller's to bound before parsing (each format has its own limit).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from trust.crypto.errors import EncodingError

_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def loads(data: bytes | str, what: str) -> Any:
    """The value of the JSON text ``data`` (module docstring for what is refused); ``what`` names it in errors."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError(f"{what} is not UTF-8 JSON: not UTF-8") from None
    elif isinstance(data, str):
        text = data
    else:
        raise EncodingError(f"{what} must be JSON text, not {type(data).__name__}")
    if text.startswith("\ufeff"):
        raise EncodingError(f"{what} is not JSON: it starts with a byte order mark")

    def unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise EncodingError(f"{what} has the member {key!r} twice")
            result[key] = value
        return result

    def no_constant(name: str) -> Any:
        raise EncodingError(f"{what} contains {name}, which is not JSON (RFC 8259)")

    def finite(number: str) -> float:
        value = float(number)
        if not math.isfinite(value):
            raise EncodingError(f"{what} contains the number {number[:40]}, too large for a double (RFC 7493)")
        return value

    try:
        value = json.loads(text, object_pairs_hook=unique_members, parse_constant=no_constant, parse_float=finite)
    except EncodingError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError; an integer of over 4300 digits; deep nesting
        raise EncodingError(f"{what} is not UTF-8 JSON: {_reason(exc)}") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise EncodingError(f"{what} holds a lone surrogate escape, which is not a Unicode character (RFC 7493)")
    return value


def load_object(data: bytes | str, what: str) -> dict[str, Any]:
    """:func:`loads` of a text that must hold one JSON object."""
    value = loads(data, what)
    if not isinstance(value, dict):
        raise EncodingError(f"{what} must be a JSON object")
    return value


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)[:200]


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in ``value`` holds a surrogate code point (a valid escaped pair has already become
    one character, so any surrogate left is a lone one). Iterative: the value may be deeply nested."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if any("\ud800" <= char <= "\udfff" for char in item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
