"""Object identifiers of the Chinese commercial cryptography standards, registered with asn1crypto once.

This is the only module that teaches asn1crypto (and so pyHanko and pyhanko-certvalidator, which parse
with it) about SM2, SM3 and GB/T 35275. :func:`register` runs when :mod:`trust.crypto` is imported and is
idempotent. Sources: GM/T 0006-2012 (cryptographic application identifiers), GB/T 33560-2017, GB/T 20518-2018
(SM2 in X.509), GB/T 35275-2017 (SM2 cryptographic message syntax); see ``../shared/standards/README.md``.

Names registered (asn1crypto style, lower case with underscores):

========================  ===============================  =======================================
OID                       name                             registry
========================  ===============================  =======================================
1.2.156.10197.1.301       ``sm2p256v1``                    ``keys.NamedCurve`` (32-byte keys)
1.2.156.10197.1.301.1     ``sm2_sign`` (SM2-1)             ``algos.SignedDigestAlgorithmId``
1.2.156.10197.1.301.3     ``sm2_encrypt`` (SM2-3)          ``algos.EncryptionAlgorithmId``
1.2.156.10197.1.401       ``sm3``                          ``algos.DigestAlgorithmId``
1.2.156.10197.1.501       ``sm2_sm3`` (SM2 with SM3)       ``algos.SignedDigestAlgorithmId``
1.2.156.10197.1.104       ``sm4``                          (constant only)
1.2.156.10197.6.1.4.2.1   ``gm_data``                      ``cms.ContentType``
1.2.156.10197.6.1.4.2.2   ``gm_signed_data``               ``cms.ContentType`` (parsed as SignedData)
1.2.156.10197.6.1.4.2.3   ``gm_enveloped_data``            ``cms.ContentType``
1.2.156.10197.6.1.4.2.4   ``gm_signed_and_enveloped_data`` ``cms.ContentType``
1.2.156.10197.6.1.4.2.5   ``gm_encrypted_data``            ``cms.ContentType``
1.2.156.10197.6.1.4.2.6   ``gm_key_agreement_info``        ``cms.ContentType``
1.3.6.1.4.1.32473.1.2.1   ``huren_seseal``                 ``cms.CMSAttributeType`` (SET OF OCTET STRING)
========================  ===============================  =======================================

The Huren arc (:data:`ARC`, ``docs/OIDS.md``) is defined here too: the certificate policies (:data:`POLICY`) and
the extended key usages that issuance (``ca.profiles``) writes and the verifier checks.

``SignedDigestAlgorithm.signature_algo`` answers ``"sm2"`` for ``sm2_sm3`` and ``sm2_sign``, and ``hash_algo``
answers ``"sm3"``, so code that dispatches on those properties (pyHanko's CMS code, the certificate
validator) reaches the project's SM2 verifier instead of failing with "unknown algorithm".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final

from asn1crypto import algos, cms, core, keys

from trust.crypto import asn1fix

SM2_CURVE: Final = "1.2.156.10197.1.301"
SM2_SIGN: Final = "1.2.156.10197.1.301.1"
SM2_ENCRYPT: Final = "1.2.156.10197.1.301.3"
SM3: Final = "1.2.156.10197.1.401"
SM2_WITH_SM3: Final = "1.2.156.10197.1.501"
SM4: Final = "1.2.156.10197.1.104"
GM_DATA: Final = "1.2.156.10197.6.1.4.2.1"
GM_SIGNED_DATA: Final = "1.2.156.10197.6.1.4.2.2"
GM_ENVELOPED_DATA: Final = "1.2.156.10197.6.1.4.2.3"
GM_SIGNED_AND_ENVELOPED_DATA: Final = "1.2.156.10197.6.1.4.2.4"
GM_ENCRYPTED_DATA: Final = "1.2.156.10197.6.1.4.2.5"
GM_KEY_AGREEMENT_INFO: Final = "1.2.156.10197.6.1.4.2.6"

# --- the Huren arc (docs/OIDS.md) -------------------------------------------------------------------------------
# 32473 is the private enterprise number that RFC 5612 reserves for documentation. An operator deploying Huren
# replaces ARC by the arc it is assigned; nothing else changes.
ARC: Final = "1.3.6.1.4.1.32473.1"
POLICY_ARC: Final = f"{ARC}.1"
ATTRIBUTE_ARC: Final = f"{ARC}.2"
EKU_ARC: Final = f"{ARC}.3"

POLICY: Final[Mapping[str, str]] = {
    "seal": f"{POLICY_ARC}.1",
    "seal-maker": f"{POLICY_ARC}.2",
    "person-identity": f"{POLICY_ARC}.3",
    "organization-identity": f"{POLICY_ARC}.4",
    "license-issuer": f"{POLICY_ARC}.5",
    "timestamping": f"{POLICY_ARC}.6",
    "ocsp": f"{POLICY_ARC}.7",
    "tls-server": f"{POLICY_ARC}.8",
    "tls-client": f"{POLICY_ARC}.9",
    "identity-provider": f"{POLICY_ARC}.10",
}
EKU_LICENSE_SIGNING: Final = f"{EKU_ARC}.1"
EKU_TRUST_LIST_SIGNING: Final = f"{EKU_ARC}.2"  # a national root's delegated trust list and bundle signer
EKU_DOCUMENT_SIGNING: Final = "1.3.6.1.5.5.7.3.36"  # RFC 9336 id-kp-documentSigning
HUREN_SESEAL_ATTRIBUTE: Final = f"{ATTRIBUTE_ARC}.1"  # the SESeal bound to a PDF seal signature
ID_EC_PUBLIC_KEY: Final = "1.2.840.10045.2.1"

SM2_SIGNATURE_NAMES: Final = frozenset({"sm2_sm3", "sm2_sign"})

_lock = threading.Lock()
_done = False


def _add(registry: type[core.ObjectIdentifier], oid: str, name: str) -> None:
    existing = registry._map.get(oid)
    if existing is not None and existing != name:
        raise RuntimeError(f"{registry.__name__} already maps {oid} to {existing!r}, not {name!r}")
    registry._map[oid] = name
    if registry._reverse_map is not None:
        registry._reverse_map[name] = oid


def register() -> None:
    """Teach asn1crypto the SM2/SM3/GB/T 35275 identifiers. Safe to call more than once."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        if SM2_CURVE not in keys.NamedCurve._map:
            keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)
        _add(algos.SignedDigestAlgorithmId, SM2_WITH_SM3, "sm2_sm3")
        _add(algos.SignedDigestAlgorithmId, SM2_SIGN, "sm2_sign")
        _add(algos.DigestAlgorithmId, SM3, "sm3")
        _add(algos.EncryptionAlgorithmId, SM2_ENCRYPT, "sm2_encrypt")
        for oid, name in (
            (GM_DATA, "gm_data"),
            (GM_SIGNED_DATA, "gm_signed_data"),
            (GM_ENVELOPED_DATA, "gm_enveloped_data"),
            (GM_SIGNED_AND_ENVELOPED_DATA, "gm_signed_and_enveloped_data"),
            (GM_ENCRYPTED_DATA, "gm_encrypted_data"),
            (GM_KEY_AGREEMENT_INFO, "gm_key_agreement_info"),
        ):
            _add(cms.ContentType, oid, name)
        _add(cms.CMSAttributeType, HUREN_SESEAL_ATTRIBUTE, "huren_seseal")
        cms.CMSAttribute._oid_specs["huren_seseal"] = cms.SetOfOctetString
        cms.ContentInfo._oid_specs["gm_data"] = core.OctetString
        cms.ContentInfo._oid_specs["gm_signed_data"] = cms.SignedData
        cms.EncapsulatedContentInfo._oid_specs["gm_data"] = core.OctetString
        _patch_signed_digest_algorithm()
        asn1fix.apply()
        _done = True


def _patch_signed_digest_algorithm() -> None:
    cls = algos.SignedDigestAlgorithm
    original_signature_algo: Any = cls.signature_algo
    original_hash_algo: Any = cls.hash_algo

    def signature_algo(self: algos.SignedDigestAlgorithm) -> str:
        if self["algorithm"].native in SM2_SIGNATURE_NAMES:
            return "sm2"
        return str(original_signature_algo.fget(self))

    def hash_algo(self: algos.SignedDigestAlgorithm) -> str:
        if self["algorithm"].native in SM2_SIGNATURE_NAMES:
            return "sm3"
        return str(original_hash_algo.fget(self))

    cls.signature_algo = property(signature_algo, doc=original_signature_algo.__doc__)
    cls.hash_algo = property(hash_algo, doc=original_hash_algo.__doc__)
