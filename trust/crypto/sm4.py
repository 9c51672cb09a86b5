"""SM4 block cipher (GB/T 32907-2016) in the modes the project needs: GCM, CCM and CBC.

* GCM (NIST SP 800-38D; RFC 8998 for SM4) and CBC come from pyca/cryptography.
* CCM (NIST SP 800-38C, RFC 3610; RFC 8998 for SM4) is built here on SM4's block function from
  pyca/cryptography, which offers CCM only for AES. It follows SP 800-38C appendix A: formatting of B0 and the
  associated data, CBC-MAC, counter blocks with ``flags = q - 1``, tag ``T = MSB_t(CBC-MAC) XOR S0``.

Decryption never returns plaintext whose tag does not verify; tag checks are constant time.
Refused parameters (documented in ``docs/CRYPTO.md``): GCM IVs shorter than 64 bits or longer than 1024 bits
(SP 800-38D recommends 96 bits; short IVs make collisions likely), GCM tags shorter than 96 bits, CCM nonces
outside 7..13 bytes and tags that are not one of 4, 6, ..., 16 bytes.
"""

from __future__ import annotations

import hmac
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from trust.crypto.errors import DecryptionFailed, InputError

KEY_SIZE: Final = 16
BLOCK: Final = 16
GCM_MIN_TAG: Final = 12
GCM_IV_BYTES: Final = (8, 128)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise InputError(f"SM4 key must be {KEY_SIZE} bytes, got {len(key)}")


def _check_gcm(iv: bytes, tag_length: int) -> None:
    if not GCM_IV_BYTES[0] <= len(iv) <= GCM_IV_BYTES[1]:
        raise InputError(f"SM4-GCM IV must be {GCM_IV_BYTES[0]}..{GCM_IV_BYTES[1]} bytes, got {len(iv)}")
    if not GCM_MIN_TAG <= tag_length <= 16:
        raise InputError(f"SM4-GCM tag must be {GCM_MIN_TAG}..16 bytes, got {tag_length}")


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes = b"", tag_length: int = 16) -> bytes:
    """``ciphertext || tag``."""
    _check_key(key)
    _check_gcm(iv, tag_length)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(aad)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext + encryptor.tag[:tag_length]


def gcm_decrypt(key: bytes, iv: bytes, data: bytes, aad: bytes = b"", tag_length: int = 16) -> bytes:
    """Plaintext of ``ciphertext || tag``; raises :class:`DecryptionFailed` if the tag does not verify."""
    _check_key(key)
    _check_gcm(iv, tag_length)
    if len(data) < tag_length:
        raise DecryptionFailed("SM4-GCM input shorter than its tag")
    ciphertext, tag = data[:-tag_length], data[-tag_length:]
    try:
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(iv, tag, min_tag_length=tag_length)).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag as exc:
        raise DecryptionFailed("SM4-GCM authentication failed") from exc


def cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC with PKCS#7 padding. CBC has no integrity: use it only where a standard requires it."""
    _check_key(key)
    if len(iv) != BLOCK:
        raise InputError(f"SM4-CBC IV must be {BLOCK} bytes, got {len(iv)}")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    _check_key(key)
    if len(iv) != BLOCK:
        raise InputError(f"SM4-CBC IV must be {BLOCK} bytes, got {len(iv)}")
    if not ciphertext or len(ciphertext) % BLOCK:
        raise DecryptionFailed("SM4-CBC ciphertext is not a non-empty multiple of 16 bytes")
    decryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    try:
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise DecryptionFailed("SM4-CBC padding invalid (wrong key or corrupted data)") from exc


# --- CCM (SP 800-38C) ------------------------------------------------------------------------------------


def _ccm_check(nonce: bytes, tag_length: int, length: int) -> int:
    if not 7 <= len(nonce) <= 13:
        raise InputError(f"SM4-CCM nonce must be 7..13 bytes, got {len(nonce)}")
    if tag_length not in (4, 6, 8, 10, 12, 14, 16):
        raise InputError(f"SM4-CCM tag must be 4, 6, ..., 16 bytes, got {tag_length}")
    q = 15 - len(nonce)
    if length >= 1 << (8 * q):
        raise InputError(f"SM4-CCM message too long for a {len(nonce)}-byte nonce")
    return q


def _ccm_mac_and_stream(key: bytes, nonce: bytes, aad: bytes, payload: bytes, tag_length: int) -> tuple[bytes, bytes]:
    """``(T0, keystream)``: the unmasked CBC-MAC over the formatted blocks, and S0 || S1 || ...."""
    q = _ccm_check(nonce, tag_length, len(payload))
    ecb = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - CCM counter blocks (SP 800-38C)
    flags = (0x40 if aad else 0) | (((tag_length - 2) // 2) << 3) | (q - 1)
    blocks = bytes([flags]) + nonce + len(payload).to_bytes(q, "big")
    if aad:
        if len(aad) < 0xFF00:
            encoded = len(aad).to_bytes(2, "big")
        elif len(aad) < 1 << 32:
            encoded = b"\xff\xfe" + len(aad).to_bytes(4, "big")
        else:
            encoded = b"\xff\xff" + len(aad).to_bytes(8, "big")
        header = encoded + aad
        blocks += header + b"\x00" * (-len(header) % BLOCK)
    blocks += payload + b"\x00" * (-len(payload) % BLOCK)
    # CBC-MAC = last block of CBC encryption with a zero IV.
    cbc = Cipher(algorithms.SM4(key), modes.CBC(b"\x00" * BLOCK)).encryptor()
    mac = (cbc.update(blocks) + cbc.finalize())[-BLOCK:]
    counters = b"".join(
        bytes([q - 1]) + nonce + i.to_bytes(q, "big") for i in range(0, (len(payload) + BLOCK - 1) // BLOCK + 1)
    )
    stream = ecb.update(counters) + ecb.finalize()
    return mac, stream


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b[: len(a)], "big")).to_bytes(len(a), "big")


def ccm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"", tag_length: int = 16) -> bytes:
    """``ciphertext || tag``."""
    _check_key(key)
    mac, stream = _ccm_mac_and_stream(key, nonce, aad, plaintext, tag_length)
    ciphertext = _xor(plaintext, stream[BLOCK:]) if plaintext else b""
    return ciphertext + _xor(mac[:tag_length], stream[:BLOCK])


def ccm_decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes = b"", tag_length: int = 16) -> bytes:
    _check_key(key)
    _ccm_check(nonce, tag_length, max(0, len(data) - tag_length))
    if len(data) < tag_length:
        raise DecryptionFailed("SM4-CCM input shorter than its tag")
    ciphertext, tag = data[:-tag_length], data[-tag_length:]
    # The keystream does not depend on the payload, so decrypt first, then MAC the recovered plaintext.
    _, stream = _ccm_mac_and_stream(key, nonce, aad, b"\x00" * len(ciphertext), tag_length)
    plaintext = _xor(ciphertext, stream[BLOCK:]) if ciphertext else b""
    mac, _ = _ccm_mac_and_stream(key, nonce, aad, plaintext, tag_length)
    expected = _xor(mac[:tag_length], stream[:BLOCK])
    if not hmac.compare_digest(expected, tag):
        raise DecryptionFailed("SM4-CCM authentication failed")
    return plaintext
