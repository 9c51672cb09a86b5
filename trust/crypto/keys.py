"""Public and private keys for SM2, RSA and ECDSA behind one interface, in and out of DER, PEM and PKCS#8.

* :class:`PublicKey` — ``verify()`` raises :class:`InvalidSignature` (never returns a bool); ``spki_der()``,
  ``pem()``, ``fingerprint()``, ``key_identifier()``; JWK in :mod:`trust.crypto.jwk`.
* :class:`PrivateKey` — ``sign()`` and ``signer()`` (the one :class:`~trust.crypto.signer.Signer` interface).
  A private key has **no** method that returns its unencrypted encoding: it leaves memory only through
  :func:`trust.crypto.pkcs8.encrypt_private_key` (PBES2), and its ``repr`` shows only the public part.

Accepted keys (see ``docs/CRYPTO.md``): SM2 on sm2p256v1 (GB/T 32918.2; private scalar in ``[1, n-2]``,
public point on the curve); RSA of 2048-4096 bits for keys the project holds, 2048-8192 bits for keys it only
verifies with, public exponent 65537 for generated keys; ECDSA on P-256 and P-384 (and P-521 for verification).
SM2 keys are ``id-ecPublicKey`` with the named curve 1.2.156.10197.1.301 (GB/T 20518 clause 5.2).
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Final

from asn1crypto import core
from asn1crypto import keys as asn1_keys
from cryptography import exceptions as pyca_exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from trust.crypto import oids, pem, sm2
from trust.crypto.algorithms import (
    ECDSA_SHA256,
    ECDSA_SHA384,
    ECDSA_SHA512,
    RSA_PKCS1_SHA256,
    SM2_SM3,
    KeyFamily,
    SignatureAlgorithm,
)
from trust.crypto.ecsig import SignatureEncoding, decode_signature, encode_signature
from trust.crypto.errors import Code as _Code
from trust.crypto.errors import (
    EncodingError,
    InputError,
    InvalidKey,
    InvalidSignature,
    UnsupportedAlgorithm,
    WeakKey,
)

if TYPE_CHECKING:
    from trust.crypto.signer import LocalSigner

oids.register()

DEFAULT_USER_ID: Final = sm2.DEFAULT_USER_ID
MAX_KEY_INPUT: Final = 64 * 1024
RSA_MIN_BITS: Final = 2048
RSA_MAX_BITS: Final = 4096
RSA_MAX_VERIFY_BITS: Final = 8192

# Group orders, for range checks of (r, s) before any point arithmetic (SEC 2, FIPS 186-4 D.1.2).
_EC_CURVES: Final[dict[str, tuple[type[ec.EllipticCurve], int, ec.EllipticCurve]]] = {
    "secp256r1": (ec.SECP256R1, 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551, ec.SECP256R1()),
    "secp384r1": (
        ec.SECP384R1,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
        ec.SECP384R1(),
    ),
    "secp521r1": (
        ec.SECP521R1,
        0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
        ec.SECP521R1(),
    ),
}
for _name, (_cls, _order, _curve) in _EC_CURVES.items():  # guard against a mistyped constant
    assert _order.bit_length() == _curve.key_size, _name
_GENERATABLE_CURVES: Final = ("secp256r1", "secp384r1")
_CURVE_ALIASES: Final = {"p256": "secp256r1", "p-256": "secp256r1", "p384": "secp384r1", "p-384": "secp384r1"}
_EC_DEFAULT_ALG: Final = {"secp256r1": ECDSA_SHA256, "secp384r1": ECDSA_SHA384, "secp521r1": ECDSA_SHA512}


def _too_large(data: bytes, what: str) -> None:
    if len(data) > MAX_KEY_INPUT:
        raise InputError(f"{what} of {len(data)} bytes exceeds {MAX_KEY_INPUT} bytes", code=_Code.INPUT_TOO_LARGE)


def _unarmor(data: bytes, what: str) -> tuple[str | None, bytes]:
    """``(PEM label or None, DER)`` of the key (:mod:`trust.crypto.pem`); a PEM key file holds exactly one key block
    (two keys in one file leave it open which one is meant). An ``EC PARAMETERS`` block beside it, as
    ``openssl ecparam -genkey`` writes, is skipped: the key names its curve itself."""
    _too_large(data, what)
    if not pem.is_pem(data):
        return None, data
    blocks = [block for block in pem.read_all(data, what, limit=8) if block[0] != "EC PARAMETERS"]
    if len(blocks) != 1:
        raise EncodingError(f"{what}: a PEM key must be the only block of its file, found {len(blocks)} key blocks")
    return blocks[0]


# --- public keys -----------------------------------------------------------------------------------------


class PublicKey(ABC):
    """A public key that verifies signatures."""

    family: ClassVar[KeyFamily]

    @abstractmethod
    def spki_der(self) -> bytes:
        """DER ``SubjectPublicKeyInfo``."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Key size in bits (modulus for RSA, field for EC and SM2)."""

    @property
    def curve(self) -> str | None:
        return None

    @abstractmethod
    def default_algorithm(self) -> SignatureAlgorithm: ...

    @abstractmethod
    def _verify(
        self, signature: bytes, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes
    ) -> None: ...

    def verify(
        self,
        signature: bytes,
        data: bytes,
        algorithm: SignatureAlgorithm | None = None,
        *,
        encoding: SignatureEncoding = "der",
        user_id: bytes = DEFAULT_USER_ID,
    ) -> None:
        """Raise :class:`InvalidSignature` unless ``signature`` over ``data`` verifies.

        ``encoding`` applies to SM2 and ECDSA (``der`` for X.509/CMS, ``raw`` for JOSE); ``user_id`` to SM2.
        """
        alg = algorithm or self.default_algorithm()
        self.check_algorithm(alg)
        self._verify(signature, data, alg, encoding, user_id)

    def check_algorithm(self, algorithm: SignatureAlgorithm) -> None:
        if algorithm.family is not self.family:
            raise InvalidKey(
                f"{algorithm.name} needs a {algorithm.family.value} key, this is {self.family.value}",
                code=_Code.KEY_MISMATCH,
            )

    @cached_property
    def spki(self) -> asn1_keys.PublicKeyInfo:
        return asn1_keys.PublicKeyInfo.load(self.spki_der())

    def pem(self) -> str:
        return pem.write("PUBLIC KEY", self.spki_der()).decode("ascii")

    def fingerprint(self) -> str:
        """SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex."""
        return hashlib.sha256(self.spki_der()).hexdigest()

    def key_identifier(self) -> bytes:
        """RFC 5280 clause 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value."""
        return hashlib.sha1(bytes(self.spki["public_key"].contents[1:]), usedforsecurity=False).digest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.spki_der() == other.spki_der()

    def __hash__(self) -> int:
        return hash(self.spki_der())

    def __repr__(self) -> str:
        return f"<{self.family.value} public key {self.size} bits {self.fingerprint()[:16]}>"


class SM2PublicKey(PublicKey):
    family = KeyFamily.SM2

    def __init__(self, key: sm2.SM2PublicKey):
        self.raw = key

    @cached_property
    def _spki(self) -> bytes:
        info = asn1_keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": "ec",
                    "parameters": asn1_keys.ECDomainParameters(name="named", value="sm2p256v1"),
                },
                "public_key": self.raw.point(),
            }
        )
        return bytes(info.dump())

    def spki_der(self) -> bytes:
        return self._spki

    @property
    def size(self) -> int:
        return 256

    @property
    def curve(self) -> str:
        return "sm2p256v1"

    def default_algorithm(self) -> SignatureAlgorithm:
        return SM2_SM3

    def point(self) -> bytes:
        return self.raw.point()

    def _verify(
        self, signature: bytes, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes
    ) -> None:
        self.raw.verify(signature, data, user_id=user_id, encoding=encoding)

    def verify_digest(self, signature: bytes, e: bytes, *, encoding: SignatureEncoding = "der") -> None:
        """Verify over ``e = SM3(Z || M)`` computed by the caller (evppkey vectors, streaming)."""
        self.raw.verify_digest(signature, e, encoding=encoding)

    def z(self, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        return self.raw.z(user_id)


class RSAPublicKey(PublicKey):
    family = KeyFamily.RSA

    def __init__(self, key: rsa.RSAPublicKey, *, max_bits: int = RSA_MAX_VERIFY_BITS):
        bits = key.key_size
        if bits < RSA_MIN_BITS:
            raise WeakKey(f"RSA key of {bits} bits refused; at least {RSA_MIN_BITS} bits are required")
        if bits > max_bits:
            raise InvalidKey(f"RSA key of {bits} bits refused; at most {max_bits} bits are accepted")
        self.raw = key

    @cached_property
    def _spki(self) -> bytes:
        return self.raw.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def spki_der(self) -> bytes:
        return self._spki

    @property
    def size(self) -> int:
        return int(self.raw.key_size)

    def default_algorithm(self) -> SignatureAlgorithm:
        return RSA_PKCS1_SHA256

    def _verify(
        self, signature: bytes, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes
    ) -> None:
        try:
            self.raw.verify(signature, data, _rsa_padding(algorithm), algorithm.hash_algorithm())
        except pyca_exceptions.InvalidSignature:
            raise InvalidSignature(f"RSA signature does not verify ({algorithm.name})") from None


class ECPublicKey(PublicKey):
    family = KeyFamily.EC

    def __init__(self, key: ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC_CURVES:
            raise UnsupportedAlgorithm(f"EC curve {key.curve.name} is not supported (P-256, P-384, P-521)")
        self.raw = key

    @cached_property
    def _spki(self) -> bytes:
        return self.raw.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def spki_der(self) -> bytes:
        return self._spki

    @property
    def size(self) -> int:
        return int(self.raw.curve.key_size)

    @property
    def curve(self) -> str:
        return str(self.raw.curve.name)

    @property
    def order(self) -> int:
        return _EC_CURVES[self.curve][1]

    def default_algorithm(self) -> SignatureAlgorithm:
        return _EC_DEFAULT_ALG[self.curve]

    def _verify(
        self, signature: bytes, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes
    ) -> None:
        r, s = decode_signature(signature, encoding, self.order)
        der = signature if encoding == "der" else encode_signature(r, s, "der", self.order)
        try:
            self.raw.verify(der, data, ec.ECDSA(algorithm.hash_algorithm()))
        except pyca_exceptions.InvalidSignature:
            raise InvalidSignature(f"ECDSA signature does not verify ({algorithm.name}, {self.curve})") from None


def _rsa_padding(algorithm: SignatureAlgorithm) -> padding.AsymmetricPadding:
    if algorithm.padding == "pss":
        assert algorithm.mgf_hash is not None and algorithm.salt_length is not None
        from trust.crypto.algorithms import hash_algorithm

        return padding.PSS(mgf=padding.MGF1(hash_algorithm(algorithm.mgf_hash)), salt_length=algorithm.salt_length)
    return padding.PKCS1v15()


def _wrap_pyca_public(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        return RSAPublicKey(key)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECPublicKey(key)
    raise UnsupportedAlgorithm(f"public key type {type(key).__name__} is not supported (SM2, RSA, ECDSA)")


_SPKI_CACHE: dict[bytes, PublicKey] = {}
_SPKI_CACHE_SIZE: Final = 4096
_SPKI_LOCK: Final = threading.Lock()


def public_key_from_spki(info: asn1_keys.PublicKeyInfo) -> PublicKey:
    """The key of a parsed SubjectPublicKeyInfo (e.g. from a certificate).

    Keys are immutable, so the same SPKI gives the same object (a small bounded cache): verifiers meet the same CA
    and responder keys again and again, and an SM2 key keeps its prepared OpenSSL key and its ``Z``."""
    # The encoding as read (a SEQUENCE of the same contents): dumping the parsed value would make asn1crypto parse the
    # children, which it cannot for the SM2 OID written as the key algorithm (no spec for it).
    der = core.Sequence(contents=info.contents).dump()
    cached = _SPKI_CACHE.get(der)
    if cached is not None:
        return cached
    key = _public_key_from_spki(info, der)
    with _SPKI_LOCK:
        if len(_SPKI_CACHE) >= _SPKI_CACHE_SIZE:
            _SPKI_CACHE.pop(next(iter(_SPKI_CACHE)))
        _SPKI_CACHE[der] = key
    return key


def _public_key_from_spki(info: asn1_keys.PublicKeyInfo, spki_der: bytes) -> PublicKey:
    try:
        # Read generically first: the two fields of AlgorithmIdentifier and the key bits, without asn1crypto's
        # algorithm-dependent specs.
        outer = core.load(spki_der)
        algorithm_fields = core.load(outer[0].dump())
        if algorithm_fields[0].dotted == oids.SM2_CURVE:
            # Tongsuo and GmSSL 2 write the SM2 OID as the key *algorithm* (GB/T 20518 uses id-ecPublicKey with the
            # sm2p256v1 named curve); OpenSSL 3 reads both, and the key is the same point.
            parameters = algorithm_fields[1].dump() if len(algorithm_fields) > 1 else b""
            if parameters not in (b"", core.Null().dump(), core.ObjectIdentifier(oids.SM2_CURVE).dump()):
                raise UnsupportedAlgorithm("SM2 key algorithm with unexpected parameters")
            bit_string = core.OctetBitString.load(outer[1].dump())
            return SM2PublicKey(sm2.SM2PublicKey.from_point(bytes(bit_string.native)))
        algorithm = info["algorithm"]["algorithm"].native
        if algorithm == "ec":
            params = info["algorithm"]["parameters"]
            if not isinstance(params, asn1_keys.ECDomainParameters) or params.name != "named":
                raise UnsupportedAlgorithm("EC keys with explicit or implicit curve parameters are not supported")
            curve = params.chosen.native
            if curve == "sm2p256v1":
                return SM2PublicKey(sm2.SM2PublicKey.from_point(bytes(info["public_key"].native)))
            if curve not in _EC_CURVES:
                raise UnsupportedAlgorithm(f"EC curve {curve} is not supported (sm2p256v1, P-256, P-384, P-521)")
        elif algorithm != "rsa":
            raise UnsupportedAlgorithm(f"public key algorithm {algorithm} is not supported (SM2, RSA, ECDSA)")
        der = info.dump()
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise EncodingError(f"malformed SubjectPublicKeyInfo: {exc}") from exc
    try:
        return _wrap_pyca_public(serialization.load_der_public_key(der))
    except ValueError as exc:
        raise InvalidKey(f"public key refused: {exc}") from exc


def load_public_key(data: bytes) -> PublicKey:
    """A public key from PEM (``PUBLIC KEY``) or DER SubjectPublicKeyInfo."""
    type_name, der = _unarmor(data, "public key")
    if type_name not in (None, "PUBLIC KEY"):
        raise EncodingError(f"expected a PUBLIC KEY PEM block, found {type_name!r}")
    try:
        info = asn1_keys.PublicKeyInfo.load(der, strict=True)
        info["algorithm"]
        info["public_key"]
    except (ValueError, TypeError) as exc:
        raise EncodingError(f"not a DER SubjectPublicKeyInfo: {exc}") from exc
    return public_key_from_spki(info)


# --- private keys ----------------------------------------------------------------------------------------


class PrivateKey(ABC):
    """A private key. No method returns its unencrypted encoding; see :mod:`trust.crypto.pkcs8`."""

    family: ClassVar[KeyFamily]

    @property
    @abstractmethod
    def public_key(self) -> PublicKey: ...

    @abstractmethod
    def _sign(
        self, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes
    ) -> bytes: ...

    @abstractmethod
    def _private_key_info(self) -> asn1_keys.PrivateKeyInfo:
        """Unencrypted PKCS#8 structure; only :mod:`trust.crypto.pkcs8` may call this, to encrypt it."""

    def sign(
        self,
        data: bytes,
        algorithm: SignatureAlgorithm | None = None,
        *,
        encoding: SignatureEncoding = "der",
        user_id: bytes = DEFAULT_USER_ID,
    ) -> bytes:
        alg = algorithm or self.public_key.default_algorithm()
        self.public_key.check_algorithm(alg)
        return self._sign(data, alg, encoding, user_id)

    def signer(self, algorithm: SignatureAlgorithm | None = None, *, user_id: bytes = DEFAULT_USER_ID) -> LocalSigner:
        from trust.crypto.signer import LocalSigner

        alg = algorithm or self.public_key.default_algorithm()
        self.public_key.check_algorithm(alg)
        return LocalSigner(self, alg, user_id=user_id)

    def __repr__(self) -> str:
        return f"<{self.family.value} private key for {self.public_key.fingerprint()[:16]}>"

    def __reduce__(self) -> str | tuple[Any, ...]:  # never pickle a private key into a file or a log by accident
        raise TypeError("private keys cannot be pickled; use trust.crypto.pkcs8.encrypt_private_key")


class SM2PrivateKey(PrivateKey):
    family = KeyFamily.SM2

    def __init__(self, key: sm2.SM2PrivateKey):
        self._key = key
        self._public = SM2PublicKey(key.public_key)

    @property
    def public_key(self) -> SM2PublicKey:
        return self._public

    def _sign(self, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes) -> bytes:
        return self._key.sign(data, user_id=user_id, encoding=encoding)

    def sign_digest(self, e: bytes, *, encoding: SignatureEncoding = "der") -> bytes:
        """Sign a precomputed ``e = SM3(Z || M)``."""
        return self._key.sign_digest(e, encoding=encoding)

    def _private_key_info(self) -> asn1_keys.PrivateKeyInfo:
        ec_key = asn1_keys.ECPrivateKey(
            {"version": "ecPrivkeyVer1", "private_key": self._key.private_scalar(), "public_key": self._public.point()}
        )
        ec_key["private_key"].set_encoded_width(32)
        return asn1_keys.PrivateKeyInfo(
            {
                "version": 0,
                "private_key_algorithm": {
                    "algorithm": "ec",
                    "parameters": asn1_keys.ECDomainParameters(name="named", value="sm2p256v1"),
                },
                "private_key": ec_key,
            }
        )


class RSAPrivateKey(PrivateKey):
    family = KeyFamily.RSA

    def __init__(self, key: rsa.RSAPrivateKey):
        self._key = key
        self._public = RSAPublicKey(key.public_key(), max_bits=RSA_MAX_BITS)

    @property
    def public_key(self) -> RSAPublicKey:
        return self._public

    def _sign(self, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes) -> bytes:
        return self._key.sign(data, _rsa_padding(algorithm), algorithm.hash_algorithm())

    def _private_key_info(self) -> asn1_keys.PrivateKeyInfo:
        der = self._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return asn1_keys.PrivateKeyInfo.load(der)


class ECPrivateKey(PrivateKey):
    family = KeyFamily.EC

    def __init__(self, key: ec.EllipticCurvePrivateKey):
        self._key = key
        self._public = ECPublicKey(key.public_key())

    @property
    def public_key(self) -> ECPublicKey:
        return self._public

    def _sign(self, data: bytes, algorithm: SignatureAlgorithm, encoding: SignatureEncoding, user_id: bytes) -> bytes:
        der = self._key.sign(data, ec.ECDSA(algorithm.hash_algorithm()))
        if encoding == "der":
            return der
        order = self._public.order
        return encode_signature(*decode_signature(der, "der", order), "raw", order)

    def _private_key_info(self) -> asn1_keys.PrivateKeyInfo:
        der = self._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return asn1_keys.PrivateKeyInfo.load(der)


KEY_SPECS: Final = ("sm2", "rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")


def generate_private_key(spec: str = "sm2") -> PrivateKey:
    """A new key: ``sm2``, ``rsa-2048``, ``rsa-3072``, ``rsa-4096``, ``ec-p256`` or ``ec-p384``."""
    name = spec.lower()
    if name == "sm2":
        return SM2PrivateKey(sm2.SM2PrivateKey.generate())
    if name.startswith("rsa-"):
        try:
            bits = int(name[4:])
        except ValueError:
            bits = 0
        if bits not in (2048, 3072, 4096):
            raise InputError(f"RSA key size must be 2048, 3072 or 4096 bits, not {name[4:]!r}")
        return RSAPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=bits))
    if name.startswith("ec-"):
        curve = _CURVE_ALIASES.get(name[3:], name[3:])
        if curve not in _GENERATABLE_CURVES:
            raise InputError(f"EC keys are generated on P-256 or P-384, not {name[3:]!r}")
        return ECPrivateKey(ec.generate_private_key(_EC_CURVES[curve][2]))
    raise InputError(f"unknown key type {spec!r}; choose one of {', '.join(KEY_SPECS)}")


def _sm2_from_ec_private_key(ec_key: asn1_keys.ECPrivateKey) -> SM2PrivateKey:
    d = int(ec_key["private_key"].native)
    public = ec_key["public_key"].native if ec_key["public_key"].native is not None else None
    return SM2PrivateKey(sm2.SM2PrivateKey.from_scalar(d, bytes(public) if public is not None else None))


def _wrap_pyca_private(key: object) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < RSA_MIN_BITS:
            raise WeakKey(f"RSA key of {key.key_size} bits refused; at least {RSA_MIN_BITS} bits are required")
        if key.key_size > RSA_MAX_BITS:
            raise InvalidKey(f"RSA private key of {key.key_size} bits refused; at most {RSA_MAX_BITS} bits")
        return RSAPrivateKey(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECPrivateKey(key)
    raise UnsupportedAlgorithm(f"private key type {type(key).__name__} is not supported (SM2, RSA, ECDSA)")


def private_key_from_info(info: asn1_keys.PrivateKeyInfo) -> PrivateKey:
    """The key of an unencrypted PKCS#8 PrivateKeyInfo (after decryption by :mod:`trust.crypto.pkcs8`)."""
    try:
        algorithm = info["private_key_algorithm"]["algorithm"].native
        if algorithm == "ec":
            params = info["private_key_algorithm"]["parameters"]
            if params.name != "named":
                raise UnsupportedAlgorithm("EC keys with explicit curve parameters are not supported")
            if params.chosen.native == "sm2p256v1":
                return _sm2_from_ec_private_key(info["private_key"].parsed)
        elif algorithm != "rsa":
            raise UnsupportedAlgorithm(f"private key algorithm {algorithm} is not supported (SM2, RSA, ECDSA)")
        der = info.dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise EncodingError(f"malformed PKCS#8 PrivateKeyInfo: {type(exc).__name__}") from None
    try:
        return _wrap_pyca_private(serialization.load_der_private_key(der, password=None))
    except (ValueError, TypeError, pyca_exceptions.UnsupportedAlgorithm) as exc:
        # Never echo the exception text: it might quote key material.
        raise InvalidKey(f"private key refused by the crypto library ({type(exc).__name__})") from None


def load_private_key(data: bytes, passphrase: bytes | None = None) -> PrivateKey:
    """A private key from PEM or DER: PKCS#8 (encrypted with PBES2, or plain for import), SEC 1
    ``EC PRIVATE KEY`` (also Tongsuo's ``SM2 PRIVATE KEY``) or PKCS#1 ``RSA PRIVATE KEY``."""
    from trust.crypto import pkcs8

    type_name, der = _unarmor(data, "private key")
    if type_name == "ENCRYPTED PRIVATE KEY" or (type_name is None and pkcs8.looks_encrypted(der)):
        if passphrase is None:
            raise InputError("the private key is encrypted and no passphrase was given")
        return private_key_from_info(pkcs8.decrypt(der, passphrase))
    if type_name in (None, "PRIVATE KEY"):
        try:
            info = asn1_keys.PrivateKeyInfo.load(der, strict=True)
            info["private_key_algorithm"]
            return private_key_from_info(info)
        except (ValueError, TypeError) as exc:
            if type_name is not None:
                raise EncodingError(f"not a DER PKCS#8 PrivateKeyInfo ({type(exc).__name__})") from None
        # Bare DER that is not PKCS#8: fall through to SEC 1 / PKCS#1.
    if type_name in (None, "EC PRIVATE KEY", "SM2 PRIVATE KEY"):
        try:
            ec_key = asn1_keys.ECPrivateKey.load(der, strict=True)
            params = ec_key["parameters"]
            curve = params.chosen.native if params.name == "named" else None
        except (ValueError, TypeError, KeyError) as exc:
            if type_name is not None:
                raise EncodingError(f"not a DER SEC 1 ECPrivateKey ({type(exc).__name__})") from None
            curve = "<unparsed>"
        if curve == "sm2p256v1":
            return _sm2_from_ec_private_key(ec_key)
        if curve != "<unparsed>":
            return _load_pyca_der(der, "traditional")
    if type_name in (None, "RSA PRIVATE KEY"):
        return _load_pyca_der(der, "traditional")
    raise EncodingError(f"unsupported private key PEM type {type_name!r}")


def _load_pyca_der(der: bytes, what: str) -> PrivateKey:
    try:
        return _wrap_pyca_private(serialization.load_der_private_key(der, password=None))
    except (ValueError, TypeError, pyca_exceptions.UnsupportedAlgorithm) as exc:
        raise EncodingError(f"not a supported private key encoding ({what}; {type(exc).__name__})") from None
