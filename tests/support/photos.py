"""Photos of QR codes for the verifier's image input (issue 13 item 5): a QR code drawn by the ``qrcode`` package (an
independent encoder), put on a grey sheet, turned, blurred, speckled and saved as a JPEG of ordinary quality — what a
phone gives, not a clean render."""

from __future__ import annotations

import io
import random

import qrcode
from PIL import Image, ImageFilter


def qr_image(payload: str, *, box: int = 6) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box, border=4)
    code.add_data(payload)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def photo(*payloads: str, angle: float = 7.0, image_format: str = "JPEG", seed: int = 13) -> bytes:
    """A photo-like image of one QR code per payload, side by side on a sheet."""
    codes = [qr_image(p) for p in payloads]
    width = sum(c.width for c in codes) + 160 * (len(codes) + 1)
    height = max(c.height for c in codes) + 420
    sheet = Image.new("L", (width, height), 214)
    x = 160
    for code in codes:
        sheet.paste(code, (x, 210))
        x += code.width + 160
    sheet = sheet.rotate(angle, expand=True, fillcolor=96, resample=Image.Resampling.BICUBIC)
    sheet = sheet.filter(ImageFilter.GaussianBlur(0.8))
    rng = random.Random(seed)
    pixels = sheet.load()
    assert pixels is not None
    for _ in range(sheet.width * sheet.height // 40):  # sensor speckle
        px, py = rng.randrange(sheet.width), rng.randrange(sheet.height)
        value = pixels[px, py]
        assert isinstance(value, int)
        pixels[px, py] = max(0, min(255, value + rng.randint(-60, 60)))
    buffer = io.BytesIO()
    sheet.convert("RGB").save(buffer, format=image_format, **({"quality": 72} if image_format == "JPEG" else {}))
    return buffer.getvalue()


__all__ = ["photo", "qr_image"]
