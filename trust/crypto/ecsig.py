"""Encodings of ``(r, s)`` signature values shared by SM2 and ECDSA.

* DER ``SEQUENCE { r INTEGER, s INTEGER }`` — RFC 3279 clause 2.2.3 (ECDSA), GB/T 35276 clause 7.2 (SM2);
  used in X.509, CMS and GB/T 38540. Only the one canonical DER form is accepted (X.690 clause 10).
* raw ``r || s``, each left-padded to the byte length of the group order — IEEE P1363, RFC 7518 clause 3.4
  (JOSE ``ES256``) and this project's JOSE ``SM2``.

Both decoders reject ``r`` or ``s`` outside ``[1, n-1]`` before any point arithmetic happens.
"""

from __future__ import annotations

from typing import Literal

from trust.crypto import x690
from trust.crypto.errors import InputError, MalformedSignature

SignatureEncoding = Literal["der", "raw"]


def decode_signature(signature: bytes, encoding: SignatureEncoding, n: int) -> tuple[int, int]:
    """``(r, s)`` from a DER or raw ``r || s`` signature; rejects non-canonical DER and ``r, s`` outside [1, n-1]."""
    size = (n.bit_length() + 7) // 8
    if encoding == "raw":
        if len(signature) != 2 * size:
            raise MalformedSignature(f"raw signature must be {2 * size} bytes (r || s), got {len(signature)}")
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
    elif encoding == "der":
        r, s = _strict_der_pair(signature, size)
    else:
        raise InputError(f"unknown signature encoding {encoding!r}")
    if not (1 <= r < n and 1 <= s < n):
        raise MalformedSignature("signature r or s outside [1, n-1]")
    return r, s


def _der_integer(data: bytes, offset: int, size: int) -> tuple[int, int]:
    """One DER INTEGER at ``offset``: ``(value, next offset)``; minimal, non-negative, at most ``size + 1`` bytes."""
    if offset + 2 > len(data) or data[offset] != 0x02:
        raise MalformedSignature("signature is not DER SEQUENCE {r, s}: INTEGER expected")
    length = data[offset + 1]
    start = offset + 2
    if length == 0 or length > size + 1 or start + length > len(data):
        raise MalformedSignature("signature is not DER SEQUENCE {r, s}: bad INTEGER length")
    body = data[start : start + length]
    if body[0] & 0x80:
        raise MalformedSignature("signature DER has a negative INTEGER")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise MalformedSignature("signature DER is not canonical (INTEGER with a superfluous leading zero)")
    return int.from_bytes(body, "big"), start + length


def _strict_der_pair(signature: bytes, size: int) -> tuple[int, int]:
    """Parse ``SEQUENCE { r INTEGER, s INTEGER }`` accepting only its one DER form (X.690 clause 10).

    Hand-written on purpose: it sits on the verify hot path, where asn1crypto's generic parser plus a
    re-encoding check costs about 4% of an SM2 verification. Wycheproof's ECDSA DER vectors exercise it.
    """
    if len(signature) < 8 or signature[0] != 0x30:
        raise MalformedSignature("signature is not DER SEQUENCE {r, s}")
    if signature[1] < 0x80:
        length, header = signature[1], 2
    elif signature[1] == 0x81 and signature[2] >= 0x80:  # P-521 signatures need the long form
        length, header = signature[2], 3
    else:
        raise MalformedSignature("signature DER length is not in its minimal form")
    if length != len(signature) - header:
        raise MalformedSignature("signature DER length does not match its content (truncated or trailing data)")
    r, offset = _der_integer(signature, header, size)
    s, offset = _der_integer(signature, offset, size)
    if offset != len(signature):
        raise MalformedSignature("signature DER has trailing data inside the SEQUENCE")
    return r, s


def encode_signature(r: int, s: int, encoding: SignatureEncoding, n: int) -> bytes:
    size = (n.bit_length() + 7) // 8
    if encoding == "der":
        return x690.sequence(_der_int(r), _der_int(s))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _der_int(value: int) -> bytes:
    """A non-negative DER INTEGER: one extra leading bit keeps the sign bit clear, and no more."""
    return x690.tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))
