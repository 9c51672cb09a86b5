"""SM2 for pyhanko-certvalidator (and so for pyHanko): one :class:`SignatureValidator` subclass.

pyhanko-certvalidator delegates every signature check to a ``SignatureValidator`` (its extension point,
``pyhanko_certvalidator/sig_validate.py``). :class:`HurenSignatureValidator` answers SM2 signatures —
recognised because :mod:`trust.crypto.oids` makes ``SignedDigestAlgorithm.signature_algo`` return ``"sm2"`` for
SM2-with-SM3 and SM2-1 — with the project's SM2 (SM3, default user ID per GB/T 35276; strict DER), and hands
every other algorithm to pyhanko's default validator. Failures raise ``cryptography.exceptions.InvalidSignature``, as
pyhanko expects.

**Signature algorithm against key type.** pyhanko's default validator asserts (``assert isinstance(pub_key, …)``)
that the key fits the signature algorithm, so an ECDSA-signed certificate naming an RSA CA as its issuer raised
``AssertionError`` out of path validation (issue 11, item 7), and pyca raises ``UnsupportedAlgorithm`` for keys it
does not know (an SM2 key under an ECDSA algorithm). :func:`key_fits` decides the pairing first: a signature whose
algorithm cannot be made by the key is an invalid signature (``InvalidSignature``), never an exception of another
kind; an algorithm or key pyca cannot use at all is ``AlgorithmNotSupported``.
"""

from __future__ import annotations

from typing import Final

from asn1crypto import algos
from asn1crypto.keys import PublicKeyInfo
from cryptography.exceptions import InvalidSignature as PycaInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
    SignatureValidator,
)

from trust.crypto import oids
from trust.crypto.algorithms import SM2_SM3, KeyFamily
from trust.crypto.errors import TrustError
from trust.crypto.keys import public_key_from_spki

oids.register()

# signature algorithm (asn1crypto's ``SignedDigestAlgorithm.signature_algo``) -> key algorithms that can make it
_KEYS_FOR_SIGNATURE: Final = {
    "rsassa_pkcs1v15": frozenset({"rsa"}),
    "rsassa_pss": frozenset({"rsa", "rsassa_pss"}),
    "ecdsa": frozenset({"ec"}),
    "dsa": frozenset({"dsa"}),
    "ed25519": frozenset({"ed25519"}),
    "ed448": frozenset({"ed448"}),
}


def key_fits(public_key_info: PublicKeyInfo, signature_algorithm: algos.SignedDigestAlgorithm) -> None:
    """Raise ``InvalidSignature`` when ``signature_algorithm`` cannot be made with a key like ``public_key_info``
    (an ECDSA signature and an RSA key, …); ``AlgorithmNotSupported`` when either cannot be read."""
    try:
        signature = signature_algorithm.signature_algo
        key = public_key_info.algorithm
    except (ValueError, KeyError, TypeError) as exc:
        raise AlgorithmNotSupported(f"signature cannot be checked: {type(exc).__name__}: {exc}") from None
    allowed = _KEYS_FOR_SIGNATURE.get(signature)
    if allowed is not None and key not in allowed:
        raise PycaInvalidSignature(f"a {signature} signature cannot be made with an {key} key")


class HurenSignatureValidator(SignatureValidator):
    """pyHanko's signature validator with SM2 added."""

    def __init__(self) -> None:
        self._default = DefaultSignatureValidator()

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        if signature_algorithm["algorithm"].native not in oids.SM2_SIGNATURE_NAMES:
            key_fits(public_key_info, signature_algorithm)
            try:
                self._default.validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)
            except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
                # e.g. an ECDSA signature algorithm over an SM2 key: pyca's exception would escape pyHanko's
                # validation; it is a signature that cannot be checked
                raise AlgorithmNotSupported(f"signature cannot be checked: {type(exc).__name__}: {exc}") from None
            return
        if context.prehashed:
            raise AlgorithmNotSupported("SM2 signs SM3(Z || M); a pre-hashed message cannot be verified")
        name = signature_algorithm["algorithm"].native
        if name == "sm2_sm3" and signature_algorithm["parameters"].native is not None:
            raise PycaInvalidSignature("SM2-with-SM3 AlgorithmIdentifier must have absent parameters (GB/T 20518)")
        try:
            key = public_key_from_spki(public_key_info)
        except TrustError as exc:
            raise PycaInvalidSignature(f"signer key unusable for SM2: {exc.message}") from None
        if key.family is not KeyFamily.SM2:
            raise PycaInvalidSignature(f"an SM2 signature needs an SM2 key, the key is {key.family.value}")
        try:
            key.verify(signature, signed_data, SM2_SM3)
        except TrustError as exc:
            raise PycaInvalidSignature(exc.message) from None


SIGNATURE_VALIDATOR = HurenSignatureValidator()
