"""base64url without padding (RFC 4648 clause 5; RFC 7515 clause 2): the one encoder and the one strict decoder.

Every base64url text Huren reads — JWS parts, JWK members, SD-JWT Disclosures, status list ``lst`` — goes
through :func:`decode`, which accepts exactly the texts :func:`encode` can produce:

* only the alphabet ``A-Z a-z 0-9 - _``: no padding ``=``, no ``+``/``/`` of standard base64, no whitespace or
  line breaks, no other character (the standard library's decoder silently skips characters outside the alphabet);
* not a length of 1 modulo 4 (no byte can be encoded so);
* canonical: the unused low bits of the last character are zero (``AB`` is refused: ``AA`` encodes the same byte),
  so one value has one encoding and a token cannot be altered without changing its bytes.
"""

from __future__ import annotations

import base64
import re
from typing import Final

from trust.crypto.errors import EncodingError

_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TEXT: Final = re.compile(r"[A-Za-z0-9_-]*")
_VALUE: Final = {c: i for i, c in enumerate(_ALPHABET)}
_UNUSED_BITS: Final = {2: 0b1111, 3: 0b11}  # after 2 characters of a group 4 bits are unused, after 3 two


def encode(data: bytes) -> str:
    """Unpadded base64url of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_bytes(data: bytes) -> bytes:
    """:func:`encode` as ASCII bytes (for building a JWS signing input without a round trip through ``str``)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def decode(text: str, what: str = "value") -> bytes:
    """The bytes of unpadded, canonical base64url ``text`` (module docstring); an :class:`EncodingError` naming
    ``what`` for anything else."""
    if not isinstance(text, str) or not _TEXT.fullmatch(text) or len(text) % 4 == 1:
        raise EncodingError(f"{what} is not unpadded base64url")
    tail = len(text) % 4
    if tail and _VALUE[text[-1]] & _UNUSED_BITS[tail]:
        raise EncodingError(f"{what} is not canonical base64url (unused bits set)")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
