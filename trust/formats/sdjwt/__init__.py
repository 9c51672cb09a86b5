"""SD-JWT: selectively disclosable JWTs (RFC 9901), on the project's JOSE layer (:mod:`trust.formats.jose`).

A licence token that lets its holder show only chosen fields: the issuer signs a JWT whose disclosable claims
are replaced by salted digests; the holder presents that JWT with the *Disclosures* of the claims it chooses
to reveal and, when the verifier asks for it, a Key Binding JWT signed with the holder key named in ``cnf``.

* :func:`issue` — RFC 9901 clause 4: ``<issuer JWT>~<Disclosure>~...~``; object properties (clause 4.2.1) and
  array elements (4.2.2) at any depth, recursively (4.2.6); ``_sd`` digests sorted (4.2.4.1); 128-bit salts
  (4.2.1, 9.3); optional decoy digests (4.2.5); ``_sd_alg`` ``sha-256`` (4.1.1); ``cnf.jwk`` for key binding
  (4.1.2); header ``typ`` ``dc+sd-jwt`` unless the caller sets another.
* :func:`present` — clause 4.3/5: a subset of the Disclosures (with every Disclosure needed to reach them),
  optionally a KB-JWT (``typ`` ``kb+jwt``; ``iat``, ``aud``, ``nonce``, ``sd_hash`` — clause 4.3.1); a claim that
  is not there is refused with the list of what :func:`disclosable` offers.
* :func:`verify` — clause 7: the issuer signature (7.1 step 2), Disclosures and digests processed recursively
  (7.1 step 3: no digest twice, every Disclosure referenced, no claim name clash, no ``_sd``/``...`` names, the
  right Disclosure shape for objects and arrays, ``_sd``/``_sd_alg`` and unreferenced decoys removed), ``exp``
  and ``nbf`` (7.1 step 4), and the KB-JWT (7.3: signature by ``cnf.jwk``, ``typ``, ``iat`` freshness,
  ``nonce``, ``aud``, ``sd_hash``).
* JSON serialization (clause 8): flattened and general forms are verified and presented; Disclosures and the
  KB-JWT travel in the unprotected header of the (first) signature, ``sd_hash`` is computed over the compact
  form built from the first signature (clause 8.1).

Only ``sha-256`` is implemented as ``_sd_alg`` (the one hash RFC 9901 requires); any other is refused with
:class:`UnsupportedDigestAlgorithm`. Signature algorithms are those of :mod:`trust.formats.jose` (``SM2``,
``RS*``, ``PS*``, ``ES*``): ``none``, HMAC and ``EdDSA`` are refused there.

The package is the format; its modules are its concerns: :mod:`~trust.formats.sdjwt.disclosures`,
:mod:`~trust.formats.sdjwt.serialization`, :mod:`~trust.formats.sdjwt.issuance`,
:mod:`~trust.formats.sdjwt.processing`, :mod:`~trust.formats.sdjwt.presentation`,
:mod:`~trust.formats.sdjwt.verification` and :mod:`~trust.formats.sdjwt.errors`. The names below are its API.
"""

from __future__ import annotations

from trust.formats.sdjwt.disclosures import (
    DEFAULT_LEEWAY,
    DEFAULT_MAX_KB_AGE,
    DEFAULT_TYP,
    KB_JWT_TYP,
    MAX_DEPTH,
    MAX_DISCLOSURES,
    MAX_PRESENTATION_BYTES,
    NEVER_DISCLOSABLE,
    SALT_BYTES,
    SD_ALG,
    ClaimPath,
    Disclosure,
    decode_disclosure,
    digest,
    new_salt,
)
from trust.formats.sdjwt.errors import (
    AudienceMismatch,
    ClaimConflict,
    DisclosureError,
    DuplicateDigest,
    DuplicateDisclosure,
    KeyBindingError,
    KeyBindingMissing,
    KeyBindingNotFresh,
    KeyBindingSignatureInvalid,
    MalformedSdJwt,
    NonceMismatch,
    SdHashMismatch,
    SdJwtError,
    SdJwtExpired,
    SdJwtSignatureInvalid,
    UnreferencedDisclosure,
    UnsupportedDigestAlgorithm,
)
from trust.formats.sdjwt.issuance import (
    issue,
)
from trust.formats.sdjwt.presentation import (
    disclosable,
    present,
)
from trust.formats.sdjwt.serialization import (
    to_json_serialization,
)
from trust.formats.sdjwt.verification import (
    VerifiedSdJwt,
    verify,
)

__all__ = [
    "DEFAULT_LEEWAY",
    "DEFAULT_MAX_KB_AGE",
    "DEFAULT_TYP",
    "KB_JWT_TYP",
    "MAX_DEPTH",
    "MAX_DISCLOSURES",
    "MAX_PRESENTATION_BYTES",
    "NEVER_DISCLOSABLE",
    "SALT_BYTES",
    "SD_ALG",
    "AudienceMismatch",
    "ClaimConflict",
    "ClaimPath",
    "Disclosure",
    "DisclosureError",
    "DuplicateDigest",
    "DuplicateDisclosure",
    "KeyBindingError",
    "KeyBindingMissing",
    "KeyBindingNotFresh",
    "KeyBindingSignatureInvalid",
    "MalformedSdJwt",
    "NonceMismatch",
    "SdHashMismatch",
    "SdJwtError",
    "SdJwtExpired",
    "SdJwtSignatureInvalid",
    "UnreferencedDisclosure",
    "UnsupportedDigestAlgorithm",
    "VerifiedSdJwt",
    "decode_disclosure",
    "digest",
    "disclosable",
    "issue",
    "new_salt",
    "present",
    "to_json_serialization",
    "verify",
]
