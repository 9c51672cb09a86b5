"""Images given to the verifier (issue 13 item 5): every way a PNG or JPEG can fail to be a licence QR photo is an input
error with a stable code and a sentence saying which — never a traceback, a stall or a verdict. Genuine photos of
genuine (and forged) licences: ``test_license_verify.py`` (``test_a_photo_of_the_qr_code_verifies``)."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from tests.support.photos import photo
from trust.crypto.errors import Code, TrustError
from verifier import api, context, image

CTX = context.build(at="2026-03-01T00:00Z", clock=lambda: pytest.fail("the clock was read"))


def _png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` pixels and whose data is one tiny zlib stream."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return image.PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def _plain(size: tuple[int, int] = (400, 300), image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 230).save(buffer, format=image_format)
    return buffer.getvalue()


def _refused(data: bytes) -> TrustError:
    started = time.monotonic()
    with pytest.raises(TrustError) as caught:
        api.verify(data, CTX)
    assert time.monotonic() - started < 10
    return caught.value


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    """A PNG declaring 100 000 × 100 000 pixels: refused before a pixel is allocated (Pillow reads the size only)."""
    error = _refused(_png_with_size(100_000, 100_000))
    assert error.code is Code.INPUT_TOO_LARGE and "50000000 pixels" in error.message
    error = _refused(_png_with_size(10_000, 8_000))  # below Pillow's own bound, above the verifier's
    assert error.code is Code.INPUT_TOO_LARGE and "10000 × 8000 pixels exceeds 50000000 pixels" in error.message
    error = _refused(_png_with_size(65_327, 169))  # a strip, as a qpdf fuzz file's JPEG declares: no photo
    assert error.code is Code.INPUT_TOO_LARGE and "12000 pixels a side" in error.message


def test_an_oversized_file_is_refused() -> None:
    error = _refused(image.PNG_MAGIC + b"\0" * (image.MAX_IMAGE_BYTES + 1))
    assert error.code is Code.INPUT_TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [
        image.PNG_MAGIC + b"garbage after the signature",
        _plain()[:60],  # truncated in the middle of the pixel data
        image.JPEG_MAGIC + b"\xe0\x00\x10JFIF\x00" + b"\x00" * 40,
        _png_with_size(0, 0),
    ],
    ids=["png-garbage", "png-truncated", "jpeg-garbage", "png-zero-size"],
)
def test_an_image_that_does_not_decode_is_a_malformed_input(data: bytes) -> None:
    error = _refused(data)
    assert error.code is Code.MALFORMED_ENCODING and "the image cannot be decoded" in error.message


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_an_image_without_a_qr_code_says_so(image_format: str) -> None:
    error = _refused(_plain(image_format=image_format))
    assert error.code is Code.INVALID_INPUT and "no QR code found in the image" in error.message


def test_a_qr_code_that_is_not_a_licence_says_what_it_reads() -> None:
    error = _refused(photo("https://example.com/not-a-licence"))
    assert error.code is Code.INVALID_INPUT
    assert "not a licence" in error.message and "https://example.com/not-a" in error.message


def test_two_different_licences_in_one_photo_are_refused() -> None:
    error = _refused(photo("HR1:first-licence", "HR1:second-licence", angle=0))
    assert error.code is Code.INVALID_INPUT and "2 different licence QR codes" in error.message


def test_a_photo_is_detected_by_content_and_loads_nothing_until_then() -> None:
    assert image.looks_like_image(photo("HR1:x")) and image.looks_like_image(_plain())
    assert not image.looks_like_image(b"HR1:x") and not image.looks_like_image(b"%PDF-1.7")


@pytest.mark.parametrize(("image_format", "side"), [("PNG", 5000), ("JPEG", 7000)])
def test_the_largest_photo_accepted_stays_within_the_verifiers_bounds(image_format: str, side: int) -> None:
    """A noisy photo near the limits (a 7000 × 7000 JPEG: 49 of the 50 megapixels; a 5000 × 5000 PNG, 25 of the
    32 MiB, noise being incompressible) with no QR code in it: searched at most at
    :data:`verifier.image.DECODE_SIDE` pixels a side, within the CPU, wall time and memory bounds of every hostile
    input (``test_hostile.bounded``); then refused for what it is."""
    from tests.verifier.test_hostile import bounded

    noise = Image.effect_noise((side, side), 64)
    buffer = io.BytesIO()
    noise.save(buffer, format=image_format, **({"quality": 80} if image_format == "JPEG" else {}))
    outcome = bounded(lambda: api.verify(buffer.getvalue(), CTX))
    assert isinstance(outcome, TrustError) and outcome.code is Code.INVALID_INPUT, outcome
    assert "no QR code found" in outcome.message
