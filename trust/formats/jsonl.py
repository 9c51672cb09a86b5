"""JSON Lines read for bulk input (licence and certificate batch files): streamed, one object per line, every line
that cannot be read reported with its number and the reading going on (constant memory, never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from trust.crypto.errors import EncodingError


def objects(handle: IO[str], max_line: int) -> Iterator[tuple[int, dict[str, Any] | None, tuple[str, str] | None]]:
    """``(line number, object, None)`` for each JSON object line, ``(line number, None, (code, message))`` for a line
    that is too long (E1002; the rest of it skipped), not JSON (E1001) or not an object (E1001). Blank lines are
    skipped; duplicate keys, NaN and the like are refused as :func:`trust.formats.strict_json.loads` refuses them."""
    from trust.formats import strict_json

    for number, text in enumerate(iter(lambda: handle.readline(max_line + 1), ""), start=1):
        if len(text) > max_line:
            yield number, None, ("E1002", f"line longer than {max_line} bytes")
            rest = text
            while rest and not rest.endswith("\n"):  # skip the rest of the oversized line
                rest = handle.readline(max_line + 1)
            continue
        if not text.strip():
            continue
        try:
            raw = strict_json.loads(text, f"line {number}")
        except EncodingError as exc:
            yield number, None, ("E1001", exc.message)
            continue
        if not isinstance(raw, dict):
            yield number, None, ("E1001", "each line must be a JSON object")
            continue
        yield number, raw, None
