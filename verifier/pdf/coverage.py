"""What a PDF signature's ``/ByteRange`` covers (ISO 32000-2 clause 12.8.1; ETSI EN 319 142-1 clause 5.1.1).

A sound byte range is ``[0 a b c]`` where

1. the first range starts at the beginning of the file (offset 0);
2. the bytes between the two ranges, ``[a, b)``, are exactly the ``<hex>`` string of this signature's
   ``/Contents``: its value decodes to the ``/Contents`` the dictionary holds, the name ``/Contents`` precedes it,
   and it lies inside the signature dictionary's own object in the signed revision — nothing else may hide in the
   gap (signature wrapping moves signed bytes around and puts other bytes in an enlarged gap);
3. the second range ends where the revision that holds the signature dictionary ends (just after its
   ``startxref``/``%%EOF``; the end-of-line after ``%%EOF`` may be left out), so that the signed revision is
   covered entirely and nothing of it is left unsigned.

:func:`read_byte_range` refuses a malformed value (not four non-negative integers, ranges out of the file or out
of order) with :class:`CoverageFormatError` (``FORMAT_FAILURE``); :func:`check_coverage` reports every other
deviation as an anomaly with the uncovered bytes (``SIG_CONSTRAINTS_FAILURE``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from pyhanko.pdf_utils import generic

from verifier.pdf.document import Document, object_offset, revision_end

_HEX_STRING: Final = re.compile(rb"<([0-9A-Fa-f]*)>")
_WHITESPACE: Final = b"\x00\t\n\x0c\r "
_OBJECT_HEADER: Final = re.compile(rb"\d+[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+obj\b")


class CoverageFormatError(Exception):
    """The ``/ByteRange`` value is malformed (internal; becomes FORMAT_FAILURE)."""


def read_byte_range(signature: generic.DictionaryObject, size: int) -> tuple[int, int, int, int]:
    """The four integers of ``/ByteRange``, each range inside the file and in order."""
    if "/ByteRange" not in signature:
        raise CoverageFormatError(
            "the signature dictionary has no /ByteRange: nothing is signed (universal signature forgery)"
        )
    value = signature.raw_get("/ByteRange")
    if isinstance(value, generic.IndirectObject):
        raise CoverageFormatError("/ByteRange is an indirect object; it must be a direct array in the signed bytes")
    if not isinstance(value, generic.ArrayObject):
        raise CoverageFormatError(f"/ByteRange is a {type(value).__name__}, not an array")
    if len(value) != 4:
        raise CoverageFormatError(
            f"/ByteRange has {len(value)} numbers; a PDF signature has two ranges "
            "(four numbers)" + (": nothing is signed (universal signature forgery)" if not value else "")
        )
    numbers = []
    for item in value:
        if not isinstance(item, generic.NumberObject) or isinstance(item, bool):
            raise CoverageFormatError(f"/ByteRange holds {item!r}, not an integer")
        numbers.append(int(item))
    start1, length1, start2, length2 = numbers
    if min(numbers) < 0:
        raise CoverageFormatError(f"/ByteRange {numbers} has a negative number")
    if length1 == 0 and length2 == 0:
        raise CoverageFormatError("/ByteRange covers no bytes: nothing is signed (universal signature forgery)")
    if start1 + length1 > start2:
        raise CoverageFormatError(f"/ByteRange {numbers}: the ranges overlap or are out of order")
    if start2 + length2 > size:
        raise CoverageFormatError(f"/ByteRange {numbers} reaches beyond the end of the file ({size} bytes)")
    return start1, length1, start2, length2


@dataclass
class Coverage:
    """The result of :func:`check_coverage`."""

    byte_range: tuple[int, int, int, int]
    signed_revision: int
    revision_end: int | None
    covered: int
    uncovered: list[tuple[int, int]] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.anomalies


def check_coverage(
    document: Document,
    signature_ref: generic.Reference,
    contents: bytes,
    byte_range: tuple[int, int, int, int],
    signed_revision: int,
) -> Coverage:
    data = document.data
    start1, length1, start2, length2 = byte_range
    end = revision_end(document, signed_revision)
    result = Coverage(byte_range, signed_revision, end.end_eol if end else None, length1 + length2)
    # 1. From the first byte.
    if start1 != 0:
        result.anomalies.append(f"the signed ranges start at offset {start1}, not at the beginning of the file")
        result.uncovered.append((0, start1))
    # 2. The gap is exactly this signature's /Contents string, inside its dictionary.
    gap_start, gap_end = start1 + length1, start2
    gap = data[gap_start:gap_end]
    match = _HEX_STRING.fullmatch(gap)
    if match is None:
        inside = _HEX_STRING.search(gap)
        extra = len(gap) - (len(inside.group(0)) if inside else 0)
        result.anomalies.append(
            f"the {len(gap)} bytes between the signed ranges (offsets {gap_start}..{gap_end}) are not just the "
            f"/Contents hex string: {extra} bytes there are not signed (signature wrapping or a coverage gap)"
        )
        result.uncovered.append((gap_start, gap_end))
    else:
        hex_digits = match.group(1)
        if len(hex_digits) % 2:
            result.anomalies.append("the excluded /Contents string has an odd number of hex digits")
        elif bytes.fromhex(hex_digits.decode("ascii")) != contents:
            result.anomalies.append(
                "the bytes between the signed ranges are a different string than this "
                "signature's /Contents: the byte range points elsewhere (signature wrapping)"
            )
        if not data[max(0, gap_start - 256) : gap_start].rstrip(_WHITESPACE).endswith(b"/Contents"):
            result.anomalies.append("the string between the signed ranges is not the value of a /Contents entry")
        offset = object_offset(document, signature_ref, signed_revision)
        if offset is None:
            result.anomalies.append(
                "the signature dictionary sits in an object stream, so its /Contents cannot be "
                "the string excluded from the signed ranges"
            )
        elif not _inside_object(data, offset, gap_start, gap_end):
            result.anomalies.append(
                f"the string between the signed ranges (offset {gap_start}) is not inside the signature dictionary "
                f"(object at offset {offset} in revision {signed_revision + 1}): the byte range points elsewhere "
                "(signature wrapping)"
            )
    # 3. To the end of the signed revision.
    covered_end = start2 + length2
    if end is None:
        result.anomalies.append(
            f"revision {signed_revision + 1}, which holds the signature dictionary, has no "
            "startxref/%%EOF after its cross-reference section"
        )
    else:
        if not end.startxref_ok:
            result.anomalies.append(
                f"the startxref of revision {signed_revision + 1} does not point at its cross-reference section"
            )
        if covered_end < end.end:
            result.anomalies.append(
                f"{end.end_eol - covered_end} bytes at the end of revision {signed_revision + 1} (offsets "
                f"{covered_end}..{end.end_eol}) are not covered by the signature"
            )
            result.uncovered.append((covered_end, end.end_eol))
        elif covered_end > end.end_eol:
            result.anomalies.append(
                f"the signed ranges end at offset {covered_end}, beyond the end of revision {signed_revision + 1} "
                f"(offset {end.end_eol}): the signature dictionary was redefined after signing, or the byte range "
                "points elsewhere"
            )
        elif covered_end < end.end_eol:
            result.notes.append(
                f"the end-of-line marker after %%EOF ({end.end_eol - covered_end} bytes of whitespace) is not covered"
            )
    return result


def _inside_object(data: bytes, offset: int, gap_start: int, gap_end: int) -> bool:
    """Whether ``[gap_start, gap_end)`` lies inside the object that starts at ``offset`` (no ``endobj`` between the
    object's start and the gap; the next ``endobj`` after the gap comes before any other object header)."""
    if not offset < gap_start or data.find(b"endobj", offset, gap_start) != -1:
        return False
    end = data.find(b"endobj", gap_end)
    return end != -1 and _OBJECT_HEADER.search(data, gap_end, end) is None
