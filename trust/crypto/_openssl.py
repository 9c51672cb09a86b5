"""Hazardous layer: SM2 through the system's OpenSSL 3 ``libcrypto``, bound with :mod:`ctypes`.

Why this exists (see ``docs/adr/0001-sm2-backend.md``): pyca/cryptography does not offer SM2 and does not
plan to; the pure-Python ``gmssl`` reaches 3% of OpenSSL's rate. OpenSSL 3's SM2 is maintained, patched by
the distribution, and uses a constant-time Montgomery ladder for scalar multiplication and Fermat inversion
modulo the order; calling it directly costs a few microseconds per operation over ``openssl speed sm2``.

Only this module touches ``libcrypto``. It exposes four operations on the recommended curve sm2p256v1 and
nothing more: generate a key pair, load a key pair or a public key from numbers, sign a 32-byte digest
``e`` (GB/T 32918.2 steps A3-A7, ``e`` already ``SM3(Z || M)``), and verify a DER signature over ``e``.
Callers (``trust.crypto.sm2``) validate every input before it reaches this module; this module still checks
every return value and never lets an OpenSSL error pass silently.

Memory: each key is an ``EVP_PKEY`` owned by a :class:`Key` object and freed by a ``weakref.finalize``;
contexts are created per operation (a few microseconds), so one key can be used from many threads at once.
ctypes releases the GIL during the calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import weakref
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_ulong, c_void_p
from typing import Final

from trust.crypto.errors import BackendUnavailable, CryptoError, InvalidKey

_EVP_PKEY_KEYPAIR: Final = 0x87  # OSSL_KEYMGMT_SELECT_ALL_PARAMETERS | PRIVATE | PUBLIC
_EVP_PKEY_PUBLIC_KEY: Final = 0x86  # OSSL_KEYMGMT_SELECT_ALL_PARAMETERS | PUBLIC
_NID_SM2: Final = 1172

_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()
_load_error: str | None = None


def _candidates() -> list[str]:
    found = ctypes.util.find_library("crypto")
    names = ["libcrypto.so.3", "libcrypto.3.dylib"]
    if found:
        names.append(found)
    return names


def _bind(lib: ctypes.CDLL) -> None:
    def fn(name: str, restype: type | None, *argtypes: type) -> None:
        func = getattr(lib, name)
        func.restype = restype
        func.argtypes = list(argtypes)

    fn("OpenSSL_version_num", c_ulong)
    fn("OpenSSL_version", c_char_p, c_int)
    fn("ERR_get_error", c_ulong)
    fn("ERR_clear_error", None)
    fn("ERR_error_string_n", None, c_ulong, c_char_p, c_size_t)
    fn("EVP_PKEY_CTX_new_from_name", c_void_p, c_void_p, c_char_p, c_char_p)
    fn("EVP_PKEY_CTX_new", c_void_p, c_void_p, c_void_p)
    fn("EVP_PKEY_CTX_free", None, c_void_p)
    fn("EVP_PKEY_free", None, c_void_p)
    fn("EVP_PKEY_keygen_init", c_int, c_void_p)
    fn("EVP_PKEY_generate", c_int, c_void_p, POINTER(c_void_p))
    fn("EVP_PKEY_fromdata_init", c_int, c_void_p)
    fn("EVP_PKEY_fromdata", c_int, c_void_p, POINTER(c_void_p), c_int, c_void_p)
    fn("EVP_PKEY_is_a", c_int, c_void_p, c_char_p)
    fn("EVP_PKEY_get_bn_param", c_int, c_void_p, c_char_p, POINTER(c_void_p))
    fn("EVP_PKEY_get_octet_string_param", c_int, c_void_p, c_char_p, c_char_p, c_size_t, POINTER(c_size_t))
    fn("EVP_PKEY_public_check", c_int, c_void_p)
    fn("EVP_PKEY_sign_init", c_int, c_void_p)
    fn("EVP_PKEY_sign", c_int, c_void_p, c_char_p, POINTER(c_size_t), c_char_p, c_size_t)
    fn("EVP_PKEY_verify_init", c_int, c_void_p)
    fn("EVP_PKEY_verify", c_int, c_void_p, c_char_p, c_size_t, c_char_p, c_size_t)
    fn("OSSL_PARAM_BLD_new", c_void_p)
    fn("OSSL_PARAM_BLD_free", None, c_void_p)
    fn("OSSL_PARAM_BLD_push_utf8_string", c_int, c_void_p, c_char_p, c_char_p, c_size_t)
    fn("OSSL_PARAM_BLD_push_octet_string", c_int, c_void_p, c_char_p, c_char_p, c_size_t)
    fn("OSSL_PARAM_BLD_push_BN", c_int, c_void_p, c_char_p, c_void_p)
    fn("OSSL_PARAM_BLD_to_param", c_void_p, c_void_p)
    fn("OSSL_PARAM_free", None, c_void_p)
    fn("BN_bin2bn", c_void_p, c_char_p, c_int, c_void_p)
    fn("BN_bn2binpad", c_int, c_void_p, c_char_p, c_int)
    fn("BN_clear_free", None, c_void_p)
    fn("BN_set_flags", None, c_void_p, c_int)
    # Public-point derivation for imported private scalars (deprecated in 3.0 but present and supported).
    fn("EC_GROUP_new_by_curve_name", c_void_p, c_int)
    fn("EC_GROUP_free", None, c_void_p)
    fn("EC_POINT_new", c_void_p, c_void_p)
    fn("EC_POINT_free", None, c_void_p)
    fn("EC_POINT_mul", c_int, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p)
    fn("EC_POINT_point2oct", c_size_t, c_void_p, c_void_p, c_int, c_char_p, c_size_t, c_void_p)


def lib() -> ctypes.CDLL:
    """The bound ``libcrypto``; raises :class:`BackendUnavailable` with the remedy if it cannot be used."""
    global _lib, _load_error
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        if _load_error is not None:
            raise BackendUnavailable(_load_error)
        errors = []
        for name in _candidates():
            try:
                candidate = ctypes.CDLL(name)
                _bind(candidate)
            except (OSError, AttributeError) as exc:
                errors.append(f"{name}: {exc}")
                continue
            if candidate.OpenSSL_version_num() < 0x30000000:
                errors.append(f"{name}: OpenSSL older than 3.0")
                continue
            probe = candidate.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
            if not probe:
                errors.append(f"{name}: this OpenSSL build has SM2 disabled")
                continue
            candidate.EVP_PKEY_CTX_free(probe)
            _lib = candidate
            return _lib
        _load_error = "SM2 needs OpenSSL 3 libcrypto with SM2 enabled (Debian/Ubuntu package libssl3); " + "; ".join(
            errors or ["libcrypto not found"]
        )
        raise BackendUnavailable(_load_error)


def version() -> str:
    text = lib().OpenSSL_version(0)
    return text.decode() if text else "unknown"


def _drain_errors() -> str:
    """Pop the whole OpenSSL error queue of this thread and return it as text."""
    libc = lib()
    messages = []
    while True:
        code = libc.ERR_get_error()
        if not code:
            break
        buf = ctypes.create_string_buffer(256)
        libc.ERR_error_string_n(code, buf, len(buf))
        messages.append(buf.value.decode(errors="replace"))
    return "; ".join(messages) or "no detail"


def _check(ok: int, what: str) -> None:
    if ok != 1:
        raise CryptoError(f"OpenSSL {what} failed: {_drain_errors()}")


class Key:
    """An owned ``EVP_PKEY`` of type SM2. ``has_private`` tells whether it can sign."""

    __slots__ = ("__weakref__", "_finalizer", "has_private", "ptr")

    def __init__(self, ptr: int, has_private: bool):
        libc = lib()
        if not ptr:
            raise CryptoError("OpenSSL returned no key")
        self.ptr = ptr
        self.has_private = has_private
        self._finalizer = weakref.finalize(self, libc.EVP_PKEY_free, ptr)
        if libc.EVP_PKEY_is_a(ptr, b"SM2") != 1:  # never let an ECDSA key through the SM2 path
            self._finalizer()
            raise CryptoError("OpenSSL key is not an SM2 key")

    def __repr__(self) -> str:
        return f"<openssl SM2 key private={self.has_private}>"

    def public_point(self) -> bytes:
        """The uncompressed public point ``04 || x || y`` (65 bytes)."""
        buf = ctypes.create_string_buffer(65)
        size = c_size_t(0)
        _check(lib().EVP_PKEY_get_octet_string_param(self.ptr, b"pub", buf, 65, byref(size)), "get public point")
        if size.value != 65:
            raise CryptoError("OpenSSL returned a public point of unexpected length")
        return buf.raw

    def private_scalar(self) -> int:
        """The private scalar ``d``. Only the key serialiser calls this, to encrypt it at once."""
        if not self.has_private:
            raise CryptoError("public key has no private scalar")
        libc = lib()
        bn = c_void_p()
        _check(libc.EVP_PKEY_get_bn_param(self.ptr, b"priv", byref(bn)), "get private scalar")
        try:
            buf = ctypes.create_string_buffer(32)
            if libc.BN_bn2binpad(bn, buf, 32) != 32:
                raise CryptoError("private scalar does not fit 32 bytes")
            value = int.from_bytes(buf.raw, "big")
            ctypes.memset(buf, 0, 32)
            return value
        finally:
            libc.BN_clear_free(bn)


def generate() -> Key:
    libc = lib()
    ctx = libc.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    if not ctx:
        raise CryptoError(f"OpenSSL SM2 context: {_drain_errors()}")
    try:
        _check(libc.EVP_PKEY_keygen_init(ctx), "SM2 keygen init")
        pkey = c_void_p()
        _check(libc.EVP_PKEY_generate(ctx, byref(pkey)), "SM2 key generation")
        return Key(pkey.value or 0, has_private=True)
    finally:
        libc.EVP_PKEY_CTX_free(ctx)


def derive_public_point(d: int) -> bytes:
    """``d·G`` on sm2p256v1 as an uncompressed point. The caller has checked ``1 <= d <= n-2``."""
    libc = lib()
    group = libc.EC_GROUP_new_by_curve_name(_NID_SM2)
    if not group:
        raise CryptoError(f"OpenSSL SM2 group: {_drain_errors()}")
    point = bn = None
    try:
        point = libc.EC_POINT_new(group)
        bn = _bn_from_int(d)
        _check(libc.EC_POINT_mul(group, point, bn, None, None, None), "scalar multiplication")
        buf = ctypes.create_string_buffer(65)
        size = libc.EC_POINT_point2oct(group, point, 4, buf, 65, None)  # 4 = POINT_CONVERSION_UNCOMPRESSED
        if size != 65:
            raise CryptoError(f"OpenSSL point encoding: {_drain_errors()}")
        return buf.raw
    finally:
        if bn:
            libc.BN_clear_free(bn)
        if point:
            libc.EC_POINT_free(point)
        libc.EC_GROUP_free(group)


def _bn_from_int(value: int) -> int:
    libc = lib()
    raw = value.to_bytes(32, "big")
    bn = libc.BN_bin2bn(raw, 32, None)
    if not bn:
        raise CryptoError(f"OpenSSL BIGNUM: {_drain_errors()}")
    libc.BN_set_flags(bn, 0x04)  # BN_FLG_CONSTTIME
    return int(bn)


def load(public_point: bytes, d: int | None = None) -> Key:
    """Build an SM2 ``EVP_PKEY`` from an uncompressed point and, optionally, the private scalar.

    The caller has validated both (point on the curve, ``d`` in range and matching); OpenSSL checks again.
    """
    libc = lib()
    bld = libc.OSSL_PARAM_BLD_new()
    if not bld:
        raise CryptoError(f"OpenSSL param builder: {_drain_errors()}")
    bn = params = ctx = None
    try:
        _check(libc.OSSL_PARAM_BLD_push_utf8_string(bld, b"group", b"SM2", 0), "set group")
        _check(libc.OSSL_PARAM_BLD_push_octet_string(bld, b"pub", public_point, len(public_point)), "set point")
        if d is not None:
            bn = _bn_from_int(d)
            _check(libc.OSSL_PARAM_BLD_push_BN(bld, b"priv", bn), "set scalar")
        params = libc.OSSL_PARAM_BLD_to_param(bld)
        if not params:
            raise CryptoError(f"OpenSSL params: {_drain_errors()}")
        ctx = libc.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not ctx:
            raise CryptoError(f"OpenSSL SM2 context: {_drain_errors()}")
        _check(libc.EVP_PKEY_fromdata_init(ctx), "fromdata init")
        pkey = c_void_p()
        selection = _EVP_PKEY_KEYPAIR if d is not None else _EVP_PKEY_PUBLIC_KEY
        if libc.EVP_PKEY_fromdata(ctx, byref(pkey), selection, params) != 1:
            raise InvalidKey(f"OpenSSL refused the SM2 key: {_drain_errors()}")
        key = Key(pkey.value or 0, has_private=d is not None)
        check_ctx = libc.EVP_PKEY_CTX_new(key.ptr, None)
        try:
            if libc.EVP_PKEY_public_check(check_ctx) != 1:
                raise InvalidKey(f"SM2 public key fails OpenSSL's check: {_drain_errors()}")
        finally:
            libc.EVP_PKEY_CTX_free(check_ctx)
        return key
    finally:
        if params:
            libc.OSSL_PARAM_free(params)
        if bn:
            libc.BN_clear_free(bn)
        if ctx:
            libc.EVP_PKEY_CTX_free(ctx)
        libc.OSSL_PARAM_BLD_free(bld)


def sign_digest(key: Key, e: bytes) -> bytes:
    """DER ``SEQUENCE {r, s}`` over the 32-byte digest ``e`` with a fresh random ``k``."""
    if len(e) != 32:
        raise CryptoError("SM2 digest must be 32 bytes")
    if not key.has_private:
        raise CryptoError("cannot sign with a public key")
    libc = lib()
    ctx = libc.EVP_PKEY_CTX_new(key.ptr, None)
    if not ctx:
        raise CryptoError(f"OpenSSL sign context: {_drain_errors()}")
    try:
        _check(libc.EVP_PKEY_sign_init(ctx), "SM2 sign init")
        buf = ctypes.create_string_buffer(80)
        size = c_size_t(len(buf))
        _check(libc.EVP_PKEY_sign(ctx, buf, byref(size), e, 32), "SM2 sign")
        return buf.raw[: size.value]
    finally:
        libc.EVP_PKEY_CTX_free(ctx)


def verify_digest(key: Key, e: bytes, der_signature: bytes) -> bool:
    """True when ``der_signature`` verifies over ``e``; False when it does not (any reason)."""
    libc = lib()
    ctx = libc.EVP_PKEY_CTX_new(key.ptr, None)
    if not ctx:
        raise CryptoError(f"OpenSSL verify context: {_drain_errors()}")
    try:
        _check(libc.EVP_PKEY_verify_init(ctx), "SM2 verify init")
        ok = libc.EVP_PKEY_verify(ctx, der_signature, len(der_signature), e, len(e))
        if ok != 1:
            libc.ERR_clear_error()
        return bool(ok == 1)
    finally:
        libc.EVP_PKEY_CTX_free(ctx)
