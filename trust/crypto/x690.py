"""DER type-length-value octets (ITU-T X.690 clauses 8.1.2-8.1.3 and 10.1): the one encoder of lengths and the one
slicer of values exactly as received.

Most structures are encoded by asn1crypto. These few functions serve the places that build or read octets
directly: an ECDSA/SM2 signature value, OCSP responses and RFC 3161 replies assembled from parts already encoded,
GB/T 38540 BIT STRINGs, and what a seal maker or a seal holder signed, which must be hashed as received, never
re-encoded.

* :func:`length` — the definite form, minimal: one octet below 128, else ``0x80 | n`` and ``n`` big-endian octets
  without leading zeros (X.690 clause 10.1: DER uses the fewest octets).
* :func:`tlv` / :func:`sequence` / :func:`bit_string` — one value around content already encoded (low tag numbers
  only).
* :func:`header` / :func:`children` — the bounds of a value and the values inside a constructed one, sliced from
  the input (definite lengths of at most four octets and low tag numbers; anything else is an
  :class:`~trust.crypto.errors.EncodingError`).
"""

from __future__ import annotations

from trust.crypto.errors import EncodingError


def length(size: int) -> bytes:
    """The DER length octets of ``size`` content octets."""
    if size < 0:
        raise ValueError("a length is not negative")
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, *parts: bytes) -> bytes:
    """One value: the identifier octet ``tag``, the length, and the concatenated ``parts`` as its content."""
    content = b"".join(parts)
    return bytes([tag]) + length(len(content)) + content


def sequence(*parts: bytes) -> bytes:
    """A ``SEQUENCE`` (``0x30``) around the concatenated ``parts``."""
    return tlv(0x30, *parts)


def bit_string(value: bytes) -> bytes:
    """A ``BIT STRING`` of whole octets (no unused bits): signature values, hashes, tokens."""
    return tlv(0x03, b"\x00", value)


def header(der: bytes, pos: int) -> tuple[int, int]:
    """``(content start, end)`` of the value at ``pos``; definite lengths and low tag numbers only."""
    if pos + 2 > len(der) or der[pos] & 0x1F == 0x1F:
        raise EncodingError("truncated or unsupported DER header")
    size, start = der[pos + 1], pos + 2
    if size & 0x80:
        count = size & 0x7F
        if count == 0 or count > 4 or start + count > len(der):
            raise EncodingError("indefinite, oversized or truncated DER length")
        size, start = int.from_bytes(der[start : start + count], "big"), start + count
    if start + size > len(der):
        raise EncodingError("truncated DER value")
    return start, start + size


def children(der: bytes) -> list[bytes]:
    """The values inside one constructed value (all of ``der``), exactly as received."""
    start, end = header(der, 0)
    if end != len(der):
        raise EncodingError("trailing bytes after the DER value")
    items, pos = [], start
    while pos < end:
        _, stop = header(der, pos)
        items.append(der[pos:stop])
        pos = stop
    return items
