"""Linear-time readers for PDF string objects, in place of pyHanko's byte-at-a-time ones (pyHanko 0.38).

pyHanko reads a hex string (``<…>``, ISO 32000-2 clause 7.3.4.3) one token at a time through
``misc.read_non_whitespace`` and a literal string (``(…)``, clause 7.3.4.2) one byte at a time: about 2 µs per
byte. A signature's ``/Contents`` is a hex string — a Huren seal's is some 350 000 hex digits, because the CMS
carries the SESeal and its picture — so reading it was most of the time a verification took, and a hostile PDF
of 64 MiB with one huge string could hold the verifier for minutes.

:func:`read_hex_string_from_stream` and :func:`read_string_literal_bytes` return exactly what pyHanko's
``generic.read_hex_string_from_stream`` and ``generic._read_string_literal_bytes`` return (the same objects, the
same errors, the stream left at the same position — a property test compares them on random input), but scan
with ``bytes.find``/regular expressions over 64 KiB chunks. A hex string with a comment inside (``%`` — legal, and
handled by pyHanko's token reader) falls back to pyHanko's own code.

:func:`apply` installs them in ``pyhanko.pdf_utils.generic`` (idempotent); :mod:`verifier.pdf.document` applies it
on import. They are scoped to Huren's own reading (issue 14 item 6): they read only from a :class:`LinearStream`,
the in-memory stream the verifier opens PDFs with; for any other stream — every other user of pyHanko in the
process — they call pyHanko's own readers, so nothing changes for them
(``tests/trust/test_library_coexistence.py``).
"""

from __future__ import annotations

import binascii
import io
import os
import re
from collections.abc import Callable
from typing import Any, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE, PdfReadError, PdfStreamError

CHUNK: Final = 64 * 1024
_MARK: Final = "_huren_linear_reader"
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
_SPECIAL: Final = re.compile(rb"[()\\]")
_ESCAPED_AS_IS: Final = b"() /%<>[]#_&$\\"
_CONTROLS: Final = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}

_original_hex: Callable[[Any], Any] = generic.read_hex_string_from_stream
_original_literal: Callable[[Any], bytes] = generic._read_string_literal_bytes


class LinearStream(io.BytesIO):
    """A PDF in memory that the linear readers read (any other stream is read by pyHanko's own readers)."""


def read_hex_string_from_stream(stream: Any) -> Any:
    """``<hex digits and whitespace>`` → a PDF string object (an odd last digit is followed by 0)."""
    if not isinstance(stream, LinearStream):
        return _original_hex(stream)
    start = stream.tell()
    stream.read(1)
    parts: list[bytes] = []
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            raise PdfStreamError("Stream ended prematurely")
        end = chunk.find(b">")
        piece = chunk if end < 0 else chunk[:end]
        if b"%" in piece:  # a comment inside the string: pyHanko's token reader knows how to skip it
            stream.seek(start)
            return _original_hex(stream)
        parts.append(piece)
        if end >= 0:
            stream.seek(end + 1 - len(chunk), os.SEEK_CUR)
            break
    digits = b"".join(parts).translate(None, PDF_WHITESPACE)
    unexpected = digits.translate(None, _HEX_DIGITS)
    if unexpected:
        raise PdfStreamError("Unexpected token in hex string: " + repr(unexpected[:1]))
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def read_string_literal_bytes(stream: Any) -> bytes:
    """``(…)`` with balanced parentheses and backslash escapes → its bytes (pyHanko's rules, see its source)."""
    if not isinstance(stream, LinearStream):
        return _original_literal(stream)
    return _read_literal(stream)


def _read_literal(stream: Any) -> bytes:  # noqa: C901 (a state machine mirroring pyHanko's reader)
    stream.read(1)
    origin = stream.tell()
    data = bytearray()
    out = bytearray()
    position = 0
    depth = 1

    def more() -> bool:
        chunk = stream.read(CHUNK)
        data.extend(chunk)
        return bool(chunk)

    while True:
        match = _SPECIAL.search(data, position)
        if match is None:
            out += data[position:]
            position = len(data)
            if not more():
                raise PdfStreamError("Stream has ended unexpectedly")
            continue
        at = match.start()
        out += data[position:at]
        byte = data[at]
        if byte == 0x28:  # (
            depth += 1
            out.append(byte)
            position = at + 1
            continue
        if byte == 0x29:  # )
            depth -= 1
            position = at + 1
            if depth == 0:
                break
            out.append(byte)
            continue
        # a backslash: make sure the longest escape (\ddd) is in the buffer
        while len(data) < at + 4 and more():
            pass
        if at + 1 >= len(data):
            raise PdfStreamError("Stream has ended unexpectedly")
        escaped = data[at + 1]
        position = at + 2
        if escaped in _ESCAPED_AS_IS:
            out.append(escaped)
        elif escaped in _CONTROLS:
            out += _CONTROLS[escaped]
        elif 0x30 <= escaped <= 0x39:  # up to three digits, read as octal (8 and 9 make int() fail, as in pyHanko)
            digits = bytes([escaped])
            while len(digits) < 3 and position < len(data) and 0x30 <= data[position] <= 0x39:
                digits += bytes([data[position]])
                position += 1
            out.append(int(digits, base=8))
        elif escaped in b"\n\r":  # an escaped end of line: nothing, and a following \n or \r is eaten too
            if position < len(data) and data[position] in b"\n\r":
                position += 1
        else:
            raise PdfReadError("Unexpected escaped string: " + repr(bytes([escaped])))
    stream.seek(origin + position)
    return bytes(out)


def apply() -> None:
    if not getattr(generic.read_hex_string_from_stream, _MARK, False):
        setattr(read_hex_string_from_stream, _MARK, True)
        generic.read_hex_string_from_stream = read_hex_string_from_stream
    if not getattr(generic._read_string_literal_bytes, _MARK, False):
        setattr(read_string_literal_bytes, _MARK, True)
        generic._read_string_literal_bytes = read_string_literal_bytes


def applied() -> bool:
    return bool(
        getattr(generic.read_hex_string_from_stream, _MARK, False)
        and getattr(generic._read_string_literal_bytes, _MARK, False)
    )


def originals() -> tuple[Callable[[Any], Any], Callable[[Any], bytes]]:
    """pyHanko's own readers (for the equivalence test)."""
    return _original_hex, _original_literal
