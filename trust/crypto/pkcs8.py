"""Encrypted private keys: PKCS#8 ``EncryptedPrivateKeyInfo`` (RFC 5958) with PBES2 (RFC 8018 clause 6.2).

Written: PBES2 with PBKDF2-HMAC-SHA256 (random 16-byte salt, ``iterations`` default
:data:`DEFAULT_ITERATIONS`) and AES-256-CBC (random IV) — the scheme OpenSSL 3 writes by default, so
``openssl pkcs8 -in key.pem -passin ...`` reads our files, including SM2 keys.

Read: PBES2 with PBKDF2 (HMAC-SHA-1/-224/-256/-384/-512) and AES-128/192/256-CBC. The iteration count is
bounded (:data:`MIN_ITERATIONS`..:data:`MAX_ITERATIONS`) so a hostile file cannot make us spin for hours.
A wrong passphrase raises :class:`PassphraseError` and never returns garbage.

This is the only module that sees an unencrypted ``PrivateKeyInfo``; it encrypts it at once.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

from asn1crypto import algos
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from trust.crypto import pem
from trust.crypto.errors import EncodingError, InputError, PassphraseError, UnsupportedAlgorithm

if TYPE_CHECKING:
    from trust.crypto.keys import PrivateKey

DEFAULT_ITERATIONS: Final = 210_000  # OWASP 2023 figure for PBKDF2-HMAC-SHA512 class work factors
MIN_ITERATIONS: Final = 1_000
MAX_ITERATIONS: Final = 10_000_000
_PRF: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CIPHERS: Final = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}


def _derive(passphrase: bytes, salt: bytes, iterations: int, prf: str, length: int) -> bytes:
    hash_cls: Any = _PRF[prf]
    return PBKDF2HMAC(algorithm=hash_cls(), length=length, salt=salt, iterations=iterations).derive(passphrase)


def encrypt_private_key(key: PrivateKey, passphrase: bytes, *, iterations: int = DEFAULT_ITERATIONS) -> bytes:
    """DER ``EncryptedPrivateKeyInfo`` of ``key`` under ``passphrase``."""
    if not passphrase:
        raise InputError("an empty passphrase cannot protect a private key")
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise InputError(f"PBKDF2 iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}")
    salt, iv = os.urandom(16), os.urandom(16)
    plain = key._private_key_info().dump()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    kek = _derive(passphrase, salt, iterations, "sha256", 32)
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": iterations,
                            "prf": {"algorithm": "sha256", "parameters": None},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": encrypted,
        }
    )
    return bytes(info.dump())


def encrypt_private_key_pem(key: PrivateKey, passphrase: bytes, *, iterations: int = DEFAULT_ITERATIONS) -> bytes:
    return bytes(pem.write("ENCRYPTED PRIVATE KEY", encrypt_private_key(key, passphrase, iterations=iterations)))


def looks_encrypted(der: bytes) -> bool:
    try:
        info = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        return bool(info["encryption_algorithm"]["algorithm"].native == "pbes2")
    except (ValueError, TypeError, KeyError):
        return False


def decrypt(der: bytes, passphrase: bytes) -> asn1_keys.PrivateKeyInfo:
    """The ``PrivateKeyInfo`` inside a PBES2 ``EncryptedPrivateKeyInfo``."""
    try:
        info = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        alg = info["encryption_algorithm"]
        if alg["algorithm"].native != "pbes2":
            raise UnsupportedAlgorithm(f"encrypted private key uses {alg['algorithm'].native}; only PBES2 is read")
        params = alg["parameters"]
        kdf = params["key_derivation_func"]
        if kdf["algorithm"].native != "pbkdf2":
            raise UnsupportedAlgorithm(f"PBES2 key derivation {kdf['algorithm'].native} is not supported")
        kdf_params = kdf["parameters"]
        salt = bytes(kdf_params["salt"].native)
        iterations = int(kdf_params["iteration_count"].native)
        prf = kdf_params["prf"]["algorithm"].native
        scheme = params["encryption_scheme"]
        cipher = scheme["algorithm"].native
        iv = bytes(scheme["parameters"].native)
        encrypted = bytes(info["encrypted_data"].native)
    except (ValueError, TypeError, KeyError) as exc:
        raise EncodingError(f"malformed EncryptedPrivateKeyInfo ({type(exc).__name__})") from None
    if prf not in _PRF:
        raise UnsupportedAlgorithm(f"PBKDF2 PRF {prf} is not supported")
    if cipher not in _CIPHERS:
        raise UnsupportedAlgorithm(f"PBES2 cipher {cipher} is not supported (AES-CBC)")
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise InputError(f"PBKDF2 iteration count {iterations} outside {MIN_ITERATIONS}..{MAX_ITERATIONS}")
    if len(salt) < 8 or len(iv) != 16 or not encrypted or len(encrypted) % 16:
        raise EncodingError("encrypted private key has a malformed salt, IV or ciphertext")
    kek = _derive(passphrase, salt, iterations, prf, _CIPHERS[cipher])
    decryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).decryptor()
    padded = decryptor.update(encrypted) + decryptor.finalize()
    try:
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        result = asn1_keys.PrivateKeyInfo.load(plain, strict=True)
        result["private_key_algorithm"]
        return result
    except (ValueError, TypeError):
        raise PassphraseError("wrong passphrase for the encrypted private key (or the file is corrupt)") from None
