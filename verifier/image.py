"""Photos and scans of a licence QR code (issue 13 item 5): a PNG or JPEG image is read with Pillow and its QR code
decoded with zxing-cpp; the payload (``HR1:…``, or a token) is then verified like a scanned one
(:func:`verifier.license.verify_license`).

Bounds, checked before any pixel is decoded: the file at most :data:`MAX_IMAGE_BYTES`, the image at most
:data:`MAX_PIXELS` pixels and :data:`MAX_SIDE` pixels a side (Pillow reads the size from the header; a "decompression
bomb" that declares a billion pixels is refused without allocating them); a larger photo is reduced to
:data:`DECODE_SIDE` pixels on its long side before the search (zxing-cpp also tries smaller scales itself). Errors
are input errors with stable codes: an image that does not decode (``E1001 malformed-encoding``), one too large
(``E1002 input-too-large``), one without a QR code, with a QR code that is not a licence, or with two different
licences (``E1000 invalid-input``, saying which).

Pillow and zxing-cpp are imported only when an image is verified (``import verifier`` loads neither). Both install
from wheels; they are in the verifier's base install because a hotel or a bank checks photos of QR codes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from trust.crypto.errors import Code, EncodingError, InputError

PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC: Final = b"\xff\xd8\xff"
MAX_IMAGE_BYTES: Final = 32 * 1024 * 1024
MAX_PIXELS: Final = 50_000_000
"""A 50-megapixel photo (8660 × 5773); a phone camera gives 12-48."""
MAX_SIDE: Final = 12_000
"""The longest side accepted: a 50-megapixel photo at 2:1 is 10 000 pixels long. A strip of 65 327 × 169 pixels (a
qpdf fuzz file) is no photo of a QR code, and decoding its broken stream took seconds."""
DECODE_SIDE: Final = 4096
"""The long side a larger photo is reduced to before the QR code is searched (the code stays several pixels a
module: a licence QR of version 25 is 117 modules across)."""


def looks_like_image(data: bytes) -> bool:
    """Whether ``data`` starts like a PNG or a JPEG file (the content decides, never a file name)."""
    return data.startswith((PNG_MAGIC, JPEG_MAGIC))


@dataclass(frozen=True)
class QrImage:
    """What was read from an image: the QR payload and how (for the report)."""

    payload: bytes
    description: str


def read_qr(data: bytes) -> QrImage:
    """The licence QR code in a PNG or JPEG image: its payload and a description of the image."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"image of {len(data)} bytes exceeds {MAX_IMAGE_BYTES}", code=Code.INPUT_TOO_LARGE)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as image:
            image_format, (width, height) = image.format or "image", image.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise InputError(
                    f"{image_format} image of {width} × {height} pixels exceeds {MAX_PIXELS} pixels or "
                    f"{MAX_SIDE} pixels a side",
                    code=Code.INPUT_TOO_LARGE,
                )
            if max(width, height) > DECODE_SIDE:
                image.draft("L", (DECODE_SIDE, DECODE_SIDE))  # JPEG: decode at a reduced scale
            gray = image.convert("L")
    except InputError:
        raise
    except Image.DecompressionBombError:  # Pillow's own bound (above ours), met while reading the header
        raise InputError(f"the image declares more than {MAX_PIXELS} pixels", code=Code.INPUT_TOO_LARGE) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise EncodingError(f"the image cannot be decoded: {type(exc).__name__}: {str(exc)[:200]}") from None
    if max(gray.size) > DECODE_SIDE:
        gray.thumbnail((DECODE_SIDE, DECODE_SIDE))
    return QrImage(_payload(gray), f"{image_format} image of {width} × {height} pixels, QR code read by zxing-cpp")


def _payload(gray: object) -> bytes:
    import zxingcpp

    from verifier.license import looks_like_token

    codes = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    texts = list(dict.fromkeys(code.text for code in codes if code.valid and code.text))
    licences = [text for text in texts if looks_like_token(text.encode("utf-8", "replace")) is not None]
    if len(licences) == 1:
        return licences[0].encode("ascii", "replace")
    if len(licences) > 1:
        raise InputError(f"the image shows {len(licences)} different licence QR codes: photograph one at a time")
    if texts:
        shown = texts[0][:40].encode("ascii", "backslashreplace").decode()
        raise InputError(f"the QR code in the image is not a licence: it reads “{shown}…”")
    raise InputError(
        "no QR code found in the image: photograph the licence's QR code square-on, in focus and filling a good part "
        "of the picture"
    )


def read_qr_payload(data: bytes) -> bytes:
    """The payload of the licence QR code in a PNG or JPEG image (:func:`read_qr`)."""
    return read_qr(data).payload


__all__ = ["MAX_IMAGE_BYTES", "MAX_PIXELS", "MAX_SIDE", "QrImage", "looks_like_image", "read_qr", "read_qr_payload"]
