"""SM3 hash (GB/T 32905-2016) and HMAC-SM3 (RFC 2104 with SM3; GM/T 0042-2015 appendix D.3).

Both come from pyca/cryptography (OpenSSL's implementation); this module only names them for the places the
standards require SM3: ``Z``/``e`` of SM2 signatures, GB/T 38540 ``dataHash``, SM3 message imprints of
time-stamps, and HMAC-SM3 where a GM profile asks for a MAC.
"""

from __future__ import annotations

import hmac as _hmac
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _pyca_hmac

DIGEST_SIZE: Final = 32
BLOCK_SIZE: Final = 64


def sm3(data: bytes) -> bytes:
    """SM3 digest of ``data`` (32 bytes)."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


class SM3:
    """Incremental SM3, for streams (large PDFs, files)."""

    __slots__ = ("_ctx",)

    def __init__(self, data: bytes = b""):
        self._ctx = hashes.Hash(hashes.SM3())
        if data:
            self._ctx.update(data)

    def update(self, data: bytes) -> None:
        self._ctx.update(data)

    def digest(self) -> bytes:
        return self._ctx.copy().finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC-SM3 tag (32 bytes)."""
    mac = _pyca_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def hmac_sm3_verify(key: bytes, data: bytes, tag: bytes, *, min_tag_bytes: int = 16) -> bool:
    """Constant-time check of a (possibly truncated, at least ``min_tag_bytes``) HMAC-SM3 tag."""
    if not min_tag_bytes <= len(tag) <= DIGEST_SIZE:
        return False
    return _hmac.compare_digest(hmac_sm3(key, data)[: len(tag)], tag)
