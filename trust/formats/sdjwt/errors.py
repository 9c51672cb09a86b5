"""The SD-JWT errors (RFC 9901): one class per way a presentation can be wrong, under :class:`SdJwtError`."""

from __future__ import annotations

from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    InvalidSignature,
    UnsupportedAlgorithm,
)


class SdJwtError(InputError):
    """Root of the SD-JWT errors: the presentation is not acceptable."""

    default_code = Code.INVALID_INPUT


class MalformedSdJwt(SdJwtError, EncodingError):
    """The serialization, a Disclosure, the payload or a KB-JWT is not what RFC 9901 prescribes."""

    default_code = Code.MALFORMED_ENCODING


class UnsupportedDigestAlgorithm(SdJwtError, UnsupportedAlgorithm):
    """``_sd_alg`` names a hash this implementation does not offer (only ``sha-256``)."""

    default_code = Code.UNSUPPORTED_ALGORITHM


class SdJwtSignatureInvalid(SdJwtError, InvalidSignature):
    """The issuer's signature over the SD-JWT does not verify."""

    default_code = Code.INVALID_SIGNATURE


class DisclosureError(SdJwtError):
    """The Disclosures do not fit the digests of the issuer-signed JWT (RFC 9901 clause 7.1 step 3)."""

    default_code = Code.DISCLOSURE_INVALID


class DuplicateDisclosure(DisclosureError):
    """The same Disclosure (the same digest) is presented twice."""


class UnreferencedDisclosure(DisclosureError):
    """A Disclosure whose digest appears nowhere in the issuer-signed JWT or in another Disclosure."""


class DuplicateDigest(DisclosureError):
    """A digest appears more than once in the payload and the Disclosures."""


class ClaimConflict(DisclosureError):
    """A disclosed claim clashes with an existing claim, or uses a reserved name (``_sd``, ``...``)."""


class SdJwtExpired(SdJwtError):
    """``exp`` has passed or ``nbf`` has not come yet."""


class KeyBindingError(SdJwtError):
    """The Key Binding JWT is missing or does not bind this presentation (RFC 9901 clause 7.3)."""

    default_code = Code.KEY_BINDING_FAILED


class KeyBindingMissing(KeyBindingError):
    """Key binding is required and the presentation has no KB-JWT."""


class NonceMismatch(KeyBindingError):
    """The KB-JWT's ``nonce`` is not the verifier's."""


class AudienceMismatch(KeyBindingError):
    """The KB-JWT's ``aud`` is not the verifier."""


class KeyBindingNotFresh(KeyBindingError):
    """The KB-JWT's ``iat`` is too old or in the future."""


class SdHashMismatch(KeyBindingError):
    """The KB-JWT's ``sd_hash`` is not the digest of the presented SD-JWT."""


class KeyBindingSignatureInvalid(KeyBindingError, InvalidSignature):
    """The KB-JWT is not signed by the holder key in ``cnf.jwk``."""

    default_code = Code.INVALID_SIGNATURE
