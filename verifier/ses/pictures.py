"""The seal picture (GB/T 38540 ``SES_ESPictrueInfo``): present, sized, and decodable as its declared type (PNG chunks
and CRCs, JPEG markers, GIF and BMP headers, SVG root element).
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

from trust.formats import ses
from verifier.report import Check, Indication, SubIndication
from verifier.ses.checks import failed, passed, warning

PICTURE_TYPES: Final = ("PNG", "JPG", "GIF", "BMP", "SVG")


def _picture_problem(kind: str, data: bytes) -> str | None:
    """Why ``data`` is not a decodable picture of ``kind`` (``None``: it is)."""
    if kind == "PNG":
        return _png_problem(data)
    if kind in ("JPG", "JPEG"):
        if not data.startswith(b"\xff\xd8\xff"):
            return "no JPEG start-of-image marker"
        if b"\xff\xd9" not in data[-64:]:
            return "no JPEG end-of-image marker"
        return None
    if kind == "GIF":
        if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 14:
            return "no GIF87a/GIF89a header"
        width, height = struct.unpack("<HH", data[6:10])
        if not width or not height:
            return "GIF of zero size"
        return None if data.rstrip(b"\x00").endswith(b"\x3b") else "no GIF trailer"
    if kind == "BMP":
        if data[:2] != b"BM" or len(data) < 26:
            return "no BMP header"
        (size,) = struct.unpack("<I", data[2:6])
        width, height = struct.unpack("<ii", data[18:26])
        if size > len(data) or not width or not height:
            return "BMP header does not fit the data"
        return None
    if kind == "SVG":
        head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"<") or b"<svg" not in head:
            return "no <svg> root element"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "SVG is not UTF-8 text"
        return None
    return None


def _png_problem(data: bytes) -> str | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "no PNG signature"
    pos, names = 8, list[bytes]()
    while pos < len(data):
        if pos + 12 > len(data):
            return "truncated PNG chunk"
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return f"truncated PNG chunk {kind!r}"
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(kind + body) != crc:
            return f"PNG chunk {kind.decode('latin-1')} has a bad CRC"
        if not names and (kind != b"IHDR" or length != 13 or 0 in struct.unpack(">II", body[:8])):
            return "the first PNG chunk is not a valid IHDR"
        names.append(kind)
        pos = end
        if kind == b"IEND":
            break
    if b"IDAT" not in names:
        return "PNG without image data"
    if names[-1] != b"IEND":
        return "PNG without IEND"
    return None


def picture_check(name: str, picture: ses.Picture) -> Check:
    kind = picture.type.strip().upper()
    if not picture.data:
        return failed(name, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "the seal has no picture data")
    if picture.width_mm <= 0 or picture.height_mm <= 0:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"picture size {picture.width_mm}×{picture.height_mm} mm is not positive",
        )
    if kind not in (*PICTURE_TYPES, "JPEG"):
        return warning(
            name,
            f"picture type {picture.type!r} is not one this verifier decodes "
            f"({', '.join(PICTURE_TYPES)}); {len(picture.data)} bytes not checked",
        )
    problem = _picture_problem(kind, picture.data)
    if problem is not None:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"picture declared {picture.type} is not decodable: {problem}",
        )
    return passed(name, f"{kind} picture of {len(picture.data)} bytes, {picture.width_mm}×{picture.height_mm} mm")
