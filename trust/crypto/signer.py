"""The one signer interface of the project.

Everything that signs — certificates, CRLs, OCSP responses, time-stamps, CMS for PDFs, GB/T 38540 seals,
JWS tokens, the trust list — takes a :class:`Signer`. A signer knows its algorithm, its public key and
(for SM2) the user ID, and signs bytes; it does not expose the private key. Keys held in software are
:class:`LocalSigner`; a PKCS#11 or HSM back end provides another class with the same three members, and no
caller changes (``docs/ARCHITECTURE.md``, "Key store").

Verification is the other half: :meth:`trust.crypto.keys.PublicKey.verify`, which raises
:class:`~trust.crypto.errors.InvalidSignature` and never returns a bool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.ecsig import SignatureEncoding
from trust.crypto.sm2 import DEFAULT_USER_ID

if TYPE_CHECKING:
    from trust.crypto.keys import PrivateKey, PublicKey


@runtime_checkable
class Signer(Protocol):
    """Signs bytes with one key and one algorithm."""

    @property
    def algorithm(self) -> SignatureAlgorithm: ...

    @property
    def public_key(self) -> PublicKey: ...

    @property
    def user_id(self) -> bytes:
        """SM2 signer ID used for ``Z`` (GB/T 35276); ignored by other algorithms."""
        ...

    def sign(self, data: bytes, *, encoding: SignatureEncoding = "der") -> bytes:
        """Signature over ``data`` (the hash is part of the algorithm). SM2 and ECDSA signatures are DER by
        default (X.509, CMS, GB/T 38540) or ``raw`` ``r || s`` (JOSE); RSA signatures have one encoding."""
        ...


class LocalSigner:
    """A :class:`Signer` over a private key held in this process."""

    __slots__ = ("_algorithm", "_key", "_user_id")

    def __init__(self, key: PrivateKey, algorithm: SignatureAlgorithm, *, user_id: bytes = DEFAULT_USER_ID):
        key.public_key.check_algorithm(algorithm)
        self._key = key
        self._algorithm = algorithm
        self._user_id = user_id

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def public_key(self) -> PublicKey:
        return self._key.public_key

    @property
    def user_id(self) -> bytes:
        return self._user_id

    def sign(self, data: bytes, *, encoding: SignatureEncoding = "der") -> bytes:
        return self._key.sign(data, self._algorithm, encoding=encoding, user_id=self._user_id)

    def __repr__(self) -> str:
        return f"<LocalSigner {self._algorithm.name} {self._key.public_key.fingerprint()[:16]}>"
