"""SM2 digital signatures — GB/T 32918.2-2016 (GM/T 0003.2), with the user ID of GB/T 35276-2017.

Signing ``M`` with user ID ``ID`` (GB/T 32918.2 clause 6.1, GB/T 35276 clause 5.4):

1. ``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)``, ``ENTL`` = bit length of ``ID`` in 2 bytes;
   the default ID is the 16 bytes ``1234567812345678`` (GB/T 35276 clause 10).
2. ``e = SM3(Z || M)``.
3. ``(r, s)`` from ``e`` with a fresh random ``k`` (clause 6.1 A3-A7), done by OpenSSL
   (:mod:`trust.crypto._openssl`); ``Z`` is cached per public key and ID.

Verification (clause 7.1) checks ``r, s`` in ``[1, n-1]`` (B1, B2) before the point arithmetic, and the DER
encoding must be canonical: a signature that re-encodes differently is rejected, so each signature has one
valid byte string. Public keys are checked on import: coordinates in ``[0, p-1]``, the point on the curve,
not the point at infinity (the cofactor is 1, so that is also the subgroup check). Private scalars must lie
in ``[1, n-2]`` (clause 6.1: ``d`` in ``[1, n-2]`` so that ``1 + d`` is invertible).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Final

from cryptography.hazmat.primitives import hashes

from trust.crypto import _openssl
from trust.crypto.ecsig import SignatureEncoding, decode_signature, encode_signature
from trust.crypto.errors import InputError, InvalidKey, InvalidSignature

DEFAULT_USER_ID: Final = b"1234567812345678"
_MAX_USER_ID_BYTES: Final = 8191  # ENTL is 16 bits of *bits*


@dataclass(frozen=True)
class Curve:
    """Short Weierstrass curve ``y^2 = x^3 + ax + b`` over GF(p) with base point ``G`` of order ``n``."""

    name: str
    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8

    def in_field(self, x: int, y: int) -> bool:
        return 0 <= x < self.p and 0 <= y < self.p

    def contains(self, x: int, y: int) -> bool:
        return self.in_field(x, y) and (y * y - (x * x * x + self.a * x + self.b)) % self.p == 0


SM2P256V1: Final = Curve(
    name="sm2p256v1",
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


def sm3(*parts: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    for part in parts:
        digest.update(part)
    return digest.finalize()


def compute_z(x: int, y: int, user_id: bytes = DEFAULT_USER_ID, curve: Curve = SM2P256V1) -> bytes:
    """``Z_A`` of GB/T 32918.2 clause 5.5 for public key ``(x, y)`` and ``user_id``."""
    if len(user_id) > _MAX_USER_ID_BYTES:
        raise InputError(f"SM2 user ID is {len(user_id)} bytes; at most {_MAX_USER_ID_BYTES} fit ENTL")
    size = curve.size
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return sm3(
        entl,
        user_id,
        curve.a.to_bytes(size, "big"),
        curve.b.to_bytes(size, "big"),
        curve.gx.to_bytes(size, "big"),
        curve.gy.to_bytes(size, "big"),
        x.to_bytes(size, "big"),
        y.to_bytes(size, "big"),
    )


def _decompress(prefix: int, x: int, curve: Curve) -> int:
    # p = 3 (mod 4) for sm2p256v1, so a square root is a single exponentiation.
    rhs = (x * x * x + curve.a * x + curve.b) % curve.p
    y = pow(rhs, (curve.p + 1) // 4, curve.p)
    if (y * y) % curve.p != rhs:
        raise InvalidKey("compressed SM2 point has no y on the curve")
    if (y & 1) != (prefix & 1):
        y = curve.p - y
    return y


def parse_point(point: bytes, curve: Curve = SM2P256V1) -> tuple[int, int]:
    """``(x, y)`` from an SEC 1 point (uncompressed ``04``, or compressed ``02``/``03``), fully validated."""
    size = curve.size
    if not point:
        raise InvalidKey("empty SM2 public point")
    prefix = point[0]
    if prefix == 0x04 and len(point) == 1 + 2 * size:
        x = int.from_bytes(point[1 : 1 + size], "big")
        y = int.from_bytes(point[1 + size :], "big")
    elif prefix in (0x02, 0x03) and len(point) == 1 + size:
        x = int.from_bytes(point[1:], "big")
        if x >= curve.p:
            raise InvalidKey("SM2 public point x coordinate not below p")
        y = _decompress(prefix, x, curve)
    elif prefix == 0x00:
        raise InvalidKey("SM2 public point is the point at infinity")
    else:
        raise InvalidKey(f"SM2 public point has an invalid encoding (prefix {prefix:#04x}, {len(point)} bytes)")
    if not curve.in_field(x, y):
        raise InvalidKey("SM2 public point coordinate not in [0, p-1]")
    if not curve.contains(x, y):
        raise InvalidKey("SM2 public point is not on the curve sm2p256v1")
    return x, y


class SM2PublicKey:
    """A validated SM2 public key on sm2p256v1."""

    __slots__ = ("__dict__", "x", "y")

    def __init__(self, x: int, y: int):
        if not SM2P256V1.in_field(x, y):
            raise InvalidKey("SM2 public point coordinate not in [0, p-1]")
        if not SM2P256V1.contains(x, y):
            raise InvalidKey("SM2 public point is not on the curve sm2p256v1")
        self.x = x
        self.y = y

    @classmethod
    def from_point(cls, point: bytes) -> SM2PublicKey:
        return cls(*parse_point(point))

    def point(self) -> bytes:
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self) -> int:
        return hash((self.x, self.y))

    def __repr__(self) -> str:
        return f"SM2PublicKey(x={self.x:064x})"

    @cached_property
    def _backend(self) -> _openssl.Key:
        return _openssl.load(self.point())

    @cached_property
    def _default_z(self) -> bytes:
        return compute_z(self.x, self.y, DEFAULT_USER_ID)

    def z(self, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        return self._default_z if user_id == DEFAULT_USER_ID else compute_z(self.x, self.y, user_id)

    def digest(self, data: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """``e = SM3(Z || M)``."""
        return sm3(self.z(user_id), data)

    def verify(
        self,
        signature: bytes,
        data: bytes,
        *,
        user_id: bytes = DEFAULT_USER_ID,
        encoding: SignatureEncoding = "der",
    ) -> None:
        """Raise :class:`InvalidSignature` unless ``signature`` is a valid SM2 signature of ``data``."""
        self.verify_digest(signature, self.digest(data, user_id), encoding=encoding)

    def verify_digest(self, signature: bytes, e: bytes, *, encoding: SignatureEncoding = "der") -> None:
        """Verify over a precomputed ``e = SM3(Z || M)``."""
        r, s = decode_signature(signature, encoding, SM2P256V1.n)
        if (r + s) % SM2P256V1.n == 0:  # clause 7.1 B5: t = 0 fails
            raise InvalidSignature("SM2 signature has r + s = n")
        der = signature if encoding == "der" else encode_signature(r, s, "der", SM2P256V1.n)
        if not _openssl.verify_digest(self._backend, e, der):
            raise InvalidSignature("SM2 signature does not verify (wrong key, user ID or data)")


class SM2PrivateKey:
    """An SM2 private key. Its scalar lives inside OpenSSL and leaves only through the key serialiser."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: _openssl.Key, public_key: SM2PublicKey):
        self._key = key
        self.public_key = public_key

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        key = _openssl.generate()
        return cls(key, SM2PublicKey.from_point(key.public_point()))

    @classmethod
    def from_scalar(cls, d: int, public_point: bytes | None = None) -> SM2PrivateKey:
        """Import ``d``; the public point, if given, must be ``d·G``."""
        if not 1 <= d <= SM2P256V1.n - 2:
            raise InvalidKey("SM2 private key outside [1, n-2] (GB/T 32918.2 clause 6.1)")
        derived = _openssl.derive_public_point(d)
        if public_point is not None and SM2PublicKey.from_point(public_point).point() != derived:
            raise InvalidKey("SM2 public key does not match the private key")
        public = SM2PublicKey.from_point(derived)
        return cls(_openssl.load(derived, d), public)

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public x={self.public_key.x:064x})"

    def private_scalar(self) -> int:
        """For :mod:`trust.crypto.keys` only: the scalar, to be encrypted at once."""
        return self._key.private_scalar()

    def sign(self, data: bytes, *, user_id: bytes = DEFAULT_USER_ID, encoding: SignatureEncoding = "der") -> bytes:
        return self.sign_digest(self.public_key.digest(data, user_id), encoding=encoding)

    def sign_digest(self, e: bytes, *, encoding: SignatureEncoding = "der") -> bytes:
        der = _openssl.sign_digest(self._key, e)
        if encoding == "der":
            return der
        return encode_signature(*decode_signature(der, "der", SM2P256V1.n), "raw", SM2P256V1.n)
