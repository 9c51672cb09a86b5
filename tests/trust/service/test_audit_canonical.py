"""The audit chain's canonical JSON (:func:`trust.service.audit.canonical_json`) is RFC 8785 byte for byte: its direct
path for flat objects is compared with the general encoder (``rfc8785.dumps``) on many random objects — control
characters, quotes and backslashes, DEL, U+2028, non-BMP and CJK text, lone surrogates, integers at and beyond
±(2^53 − 1), floats, nested values, non-ASCII keys — answers and errors alike (issue 15 item 5)."""

from __future__ import annotations

import random
from typing import Any

import pytest
import rfc8785

from trust.service import audit

SAFE = 2**53 - 1
ALPHABET = (
    [chr(c) for c in range(0x20)]
    + list('"\\/ aZ09~\x7f')
    + ["\u00e9", "\u2028", "\u2029", "\ufeff", "\ufffd", "\ue000", "浙", "江", "\U0001f600", "\U00010000", "\ud800"]
)


def _text(rng: random.Random, *, ascii_only: bool = False) -> str:
    alphabet = [c for c in ALPHABET if c.isascii() and c != "\ud800"] if ascii_only else ALPHABET
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12)
    if choice < 5:
        return _text(rng)
    if choice == 5:
        return None
    if choice == 6:
        return rng.choice([True, False])
    if choice == 7:
        return rng.choice([0, -1, 1, SAFE, -SAFE, SAFE + 1, -SAFE - 1, 2**63, rng.randrange(-(10**6), 10**6)])
    if choice == 8:
        return rng.choice([0.0, -0.0, 1.5, 1e21, 1e-7, 3.0, float("nan")])
    if choice == 9 and depth < 2:
        return {_text(rng, ascii_only=True): _value(rng, depth + 1) for _ in range(rng.randrange(3))}
    if choice == 10 and depth < 2:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return _text(rng, ascii_only=True)


def _object(rng: random.Random) -> dict[str, Any]:
    keys = [_text(rng, ascii_only=rng.random() < 0.9) for _ in range(rng.randrange(0, 9))]
    return {key: _value(rng) for key in keys}


def _outcome(encode: Any, value: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", encode(value)
    except Exception as exc:  # the same error type is the expected answer for inputs outside RFC 8785
        return "error", type(exc)


def test_canonical_json_equals_rfc8785_on_many_random_objects() -> None:
    rng = random.Random(20261207)
    direct = 0
    for _ in range(20_000):
        value = _object(rng)
        assert _outcome(audit.canonical_json, value) == _outcome(rfc8785.dumps, value), value
        flat = all(k.isascii() for k in value) and all(
            v is None or type(v) in (str, bool) or (type(v) is int and -SAFE <= v <= SAFE) for v in value.values()
        )
        direct += flat
    assert direct > 2_000  # the direct path was taken for a good share of them, not only the fallback


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": '\x00\x08\t\n\x0b\x0c\r\x1f\x7f"\\/'},
        {"b": 1, "a": 2, "B": 3, "_": 4, "~": 5, "": 6},
        {"at": "2026-12-07T19:40:00.000000Z", "seq": SAFE, "request_id": None, "result": "ok"},
        {"subject": "CN=基准测试 个人,SERIALNUMBER=330106********0018", "emoji": "\U0001f600\u2028"},
    ],
)
def test_canonical_json_of_known_shapes(value: dict[str, Any]) -> None:
    assert audit.canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value", [{"a": "\ud800"}, {"a": SAFE + 1}, {"a": float("inf")}, {"é": 1, "\U0001f600": 2, "\ue000": 3}]
)
def test_values_outside_the_direct_path_get_the_general_encoders_answer(value: dict[str, Any]) -> None:
    assert _outcome(audit.canonical_json, value) == _outcome(rfc8785.dumps, value)
