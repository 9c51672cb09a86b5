"""The one DER length encoder and TLV slicer (``trust.crypto.x690``), checked against asn1crypto's encoder and
OpenSSL's reader of the same octets."""

from __future__ import annotations

import subprocess

import pytest
from asn1crypto import core

from tests.conftest import require_tool
from trust.crypto import x690
from trust.crypto.errors import EncodingError


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 383, 384, 65535, 65536, 1 << 24])
def test_lengths_are_minimal_and_equal_to_asn1cryptos(size: int) -> None:
    content = b"\x5a" * size
    assert x690.tlv(0x04, content) == core.OctetString(content).dump()
    octets = x690.length(size)
    if size < 0x80:
        assert octets == bytes([size])
    else:  # the long form: 0x80 | n, then n octets without a leading zero
        assert octets[0] == 0x80 | (len(octets) - 1) and octets[1] != 0
        assert int.from_bytes(octets[1:], "big") == size


def test_sequence_bit_string_and_slicing() -> None:
    inner = [x690.tlv(0x02, b"\x05"), x690.bit_string(b"\xff" * 200), x690.tlv(0x04, b"")]
    whole = x690.sequence(*inner)
    parsed = core.Sequence.load(whole)
    assert parsed.dump() == whole
    assert core.BitString.load(inner[1]).contents == b"\x00" + b"\xff" * 200
    assert x690.children(whole) == inner
    assert whole[:3] == b"\x30\x81\xd1" and x690.header(whole, 0) == (3, len(whole))  # 209 octets: 0x81 n


def test_openssl_reads_what_is_written(tmp_path: object) -> None:
    openssl = require_tool("openssl")
    der = x690.sequence(x690.tlv(0x02, b"\x01"), x690.tlv(0x04, b"x" * 300))
    shown = subprocess.run([openssl, "asn1parse", "-inform", "DER"], input=der, capture_output=True, check=True)
    assert b"l= 300 prim: OCTET STRING" in shown.stdout.replace(b"  ", b" ")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x30", "truncated"),
        (b"\x30\x80\x00\x00", "indefinite"),  # BER's indefinite form
        (b"\x30\x85\x00\x00\x00\x00\x01\x00", "oversized"),  # more than four length octets
        (b"\x30\x05\x02\x01", "truncated DER value"),
        (b"\x30\x03\x02\x01\x05\x00", "trailing bytes"),
        (b"\x1f\x01\x00", "unsupported"),  # a high tag number
        (b"\x30\x03\x02\x05\x05", "truncated DER value"),  # a child longer than its parent
    ],
)
def test_malformed_values_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(EncodingError, match=words):
        x690.children(data)


def test_negative_length_is_a_bug() -> None:
    with pytest.raises(ValueError):
        x690.length(-1)
