"""Signature algorithms: one descriptor each, with its X.509/CMS identifier and its JOSE name.

=======================  ==========  ===========================================  =======
name                     key         X.509 / CMS AlgorithmIdentifier              JOSE
=======================  ==========  ===========================================  =======
``sm2-sm3``              SM2         1.2.156.10197.1.501, parameters absent       ``SM2``
``rsa-pkcs1-sha256``     RSA         sha256WithRSAEncryption, NULL parameters     ``RS256``
``rsa-pkcs1-sha384``     RSA         sha384WithRSAEncryption, NULL parameters     ``RS384``
``rsa-pkcs1-sha512``     RSA         sha512WithRSAEncryption, NULL parameters     ``RS512``
``rsa-pss-sha256``       RSA         id-RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32  ``PS256``
``rsa-pss-sha384``       RSA         id-RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48  ``PS384``
``rsa-pss-sha512``       RSA         id-RSASSA-PSS, SHA-512, MGF1-SHA-512, salt 64  ``PS512``
``ecdsa-sha256``         EC          ecdsa-with-SHA256, parameters absent         ``ES256`` (P-256)
``ecdsa-sha384``         EC          ecdsa-with-SHA384                            ``ES384`` (P-384)
``ecdsa-sha512``         EC          ecdsa-with-SHA512                            ``ES512`` (P-521)
=======================  ==========  ===========================================  =======

GB/T 20518 requires the SM2 AlgorithmIdentifier with *absent* parameters (not NULL); RFC 5758 requires the
same for ECDSA. RSA PKCS#1 v1.5 (``sha*WithRSAEncryption``) carries an explicit ASN.1 NULL: RFC 4055 clause 5 and
RFC 8017 appendix A.2.4 say the parameters MUST be NULL, and pkilint (``itu.invalid_asn1_syntax``) and
pyca/cryptography's verifier refuse them absent. RSASSA-PSS is written with explicit parameters (RFC 4055 clause
3.1). The JOSE name ``SM2`` means SM2 with SM3 and the default user ID, signature raw ``r || s`` (64 bytes) — see
``docs/CRYPTO.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from asn1crypto import algos, core
from cryptography.hazmat.primitives import hashes

from trust.crypto import oids
from trust.crypto.errors import UnsupportedAlgorithm

oids.register()

HashName = Literal["sm3", "sha256", "sha384", "sha512"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sm3": hashes.SM3,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_HASH_SIZES = {"sm3": 32, "sha256": 32, "sha384": 48, "sha512": 64}
_PSS_HASHES: dict[str, HashName] = {"sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


class KeyFamily(StrEnum):
    SM2 = "SM2"
    RSA = "RSA"
    EC = "EC"


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The pyca/cryptography hash object for ``sm3``, ``sha256``, ``sha384`` or ``sha512``."""
    try:
        return _HASHES[name]()
    except KeyError:
        raise UnsupportedAlgorithm(f"hash algorithm {name!r} is not supported") from None


def digest(name: str, data: bytes) -> bytes:
    ctx = hashes.Hash(hash_algorithm(name))
    ctx.update(data)
    return ctx.finalize()


@dataclass(frozen=True)
class SignatureAlgorithm:
    """A signature algorithm with all its parameters."""

    name: str
    family: KeyFamily
    hash: HashName
    padding: Literal["pkcs1v15", "pss"] | None = None
    mgf_hash: HashName | None = None
    salt_length: int | None = None
    jose: str | None = None

    def __str__(self) -> str:
        return self.name

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return hash_algorithm(self.hash)

    def x509_identifier(self) -> algos.SignedDigestAlgorithm:
        """The AlgorithmIdentifier for certificates, CRLs, OCSP and CMS ``signatureAlgorithm``."""
        if self.family is KeyFamily.SM2:
            return algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3"})
        if self.family is KeyFamily.EC:
            return algos.SignedDigestAlgorithm({"algorithm": f"{self.hash}_ecdsa"})
        if self.padding == "pkcs1v15":
            # NULL, not absent (RFC 4055 clause 5): asn1crypto encodes ``None`` as absent.
            return algos.SignedDigestAlgorithm({"algorithm": f"{self.hash}_rsa", "parameters": core.Null()})
        assert self.mgf_hash is not None and self.salt_length is not None
        params = algos.RSASSAPSSParams(
            {
                "hash_algorithm": {"algorithm": self.hash},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": self.mgf_hash}},
                "salt_length": self.salt_length,
                "trailer_field": "trailer_field_bc",
            }
        )
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})

    @classmethod
    def from_x509(cls, identifier: algos.SignedDigestAlgorithm) -> SignatureAlgorithm:
        """The algorithm of an X.509/CMS AlgorithmIdentifier; refuses what the project does not support."""
        oid = identifier["algorithm"].dotted
        name = identifier["algorithm"].native
        params = identifier["parameters"]
        if name in oids.SM2_SIGNATURE_NAMES:  # SM2-with-SM3, or SM2-1 as GB/T 35275 SignerInfo writes it
            if params.native is not None:
                raise UnsupportedAlgorithm("SM2-with-SM3 AlgorithmIdentifier must have absent parameters (GB/T 20518)")
            return SM2_SM3
        if name in _BY_X509:
            return _BY_X509[name]
        if name == "rsassa_pss":
            try:
                hash_name = params["hash_algorithm"]["algorithm"].native
                mgf = params["mask_gen_algorithm"]
                mgf_hash = mgf["parameters"]["algorithm"].native
                salt = int(params["salt_length"].native)
                trailer = params["trailer_field"].native
            except (KeyError, TypeError, ValueError) as exc:
                raise UnsupportedAlgorithm(f"malformed RSASSA-PSS parameters: {exc}") from exc
            if mgf["algorithm"].native != "mgf1" or trailer != "trailer_field_bc":
                raise UnsupportedAlgorithm("RSASSA-PSS needs MGF1 and trailer field 1")
            if hash_name not in ("sha256", "sha384", "sha512") or mgf_hash not in ("sha256", "sha384", "sha512"):
                raise UnsupportedAlgorithm(f"RSASSA-PSS with {hash_name}/MGF1-{mgf_hash} is not supported")
            return rsa_pss(hash_name, mgf_hash=mgf_hash, salt_length=salt)
        raise UnsupportedAlgorithm(f"signature algorithm {name} ({oid}) is not supported")

    @classmethod
    def from_name(cls, name: str) -> SignatureAlgorithm:
        try:
            return _BY_NAME[name.lower()]
        except KeyError:
            raise UnsupportedAlgorithm(
                f"unknown signature algorithm {name!r}; known: {', '.join(sorted(_BY_NAME))}"
            ) from None

    @classmethod
    def from_jose(cls, alg: str) -> SignatureAlgorithm:
        """The algorithm of a JOSE ``alg``; ``none`` and HMAC algorithms are never accepted."""
        try:
            return _BY_JOSE[alg]
        except KeyError:
            raise UnsupportedAlgorithm(f"JOSE algorithm {alg!r} is not accepted") from None


def rsa_pss(hash_name: str, *, mgf_hash: str | None = None, salt_length: int | None = None) -> SignatureAlgorithm:
    pss_hash = _PSS_HASHES.get(hash_name)
    if pss_hash is None:
        raise UnsupportedAlgorithm(f"RSASSA-PSS with {hash_name} is not supported")
    mgf = _PSS_HASHES.get(mgf_hash or hash_name)
    if mgf is None:
        raise UnsupportedAlgorithm(f"RSASSA-PSS with MGF1-{mgf_hash} is not supported")
    salt = _HASH_SIZES[hash_name] if salt_length is None else salt_length
    standard = _BY_NAME.get(f"rsa-pss-{hash_name}")
    if standard is not None and standard.mgf_hash == mgf and standard.salt_length == salt:
        return standard
    return SignatureAlgorithm(
        name=f"rsa-pss-{hash_name}-mgf1-{mgf}-salt{salt}",
        family=KeyFamily.RSA,
        hash=pss_hash,
        padding="pss",
        mgf_hash=mgf,
        salt_length=salt,
    )


SM2_SM3 = SignatureAlgorithm("sm2-sm3", KeyFamily.SM2, "sm3", jose="SM2")
RSA_PKCS1_SHA256 = SignatureAlgorithm("rsa-pkcs1-sha256", KeyFamily.RSA, "sha256", "pkcs1v15", jose="RS256")
RSA_PKCS1_SHA384 = SignatureAlgorithm("rsa-pkcs1-sha384", KeyFamily.RSA, "sha384", "pkcs1v15", jose="RS384")
RSA_PKCS1_SHA512 = SignatureAlgorithm("rsa-pkcs1-sha512", KeyFamily.RSA, "sha512", "pkcs1v15", jose="RS512")
RSA_PSS_SHA256 = SignatureAlgorithm("rsa-pss-sha256", KeyFamily.RSA, "sha256", "pss", "sha256", 32, jose="PS256")
RSA_PSS_SHA384 = SignatureAlgorithm("rsa-pss-sha384", KeyFamily.RSA, "sha384", "pss", "sha384", 48, jose="PS384")
RSA_PSS_SHA512 = SignatureAlgorithm("rsa-pss-sha512", KeyFamily.RSA, "sha512", "pss", "sha512", 64, jose="PS512")
ECDSA_SHA256 = SignatureAlgorithm("ecdsa-sha256", KeyFamily.EC, "sha256", jose="ES256")
ECDSA_SHA384 = SignatureAlgorithm("ecdsa-sha384", KeyFamily.EC, "sha384", jose="ES384")
ECDSA_SHA512 = SignatureAlgorithm("ecdsa-sha512", KeyFamily.EC, "sha512", jose="ES512")

ALL: tuple[SignatureAlgorithm, ...] = (
    SM2_SM3,
    RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384,
    RSA_PKCS1_SHA512,
    RSA_PSS_SHA256,
    RSA_PSS_SHA384,
    RSA_PSS_SHA512,
    ECDSA_SHA256,
    ECDSA_SHA384,
    ECDSA_SHA512,
)
_BY_NAME = {alg.name: alg for alg in ALL}
_BY_JOSE = {alg.jose: alg for alg in ALL if alg.jose}
_BY_X509 = {
    "sha256_rsa": RSA_PKCS1_SHA256,
    "sha384_rsa": RSA_PKCS1_SHA384,
    "sha512_rsa": RSA_PKCS1_SHA512,
    "sha256_ecdsa": ECDSA_SHA256,
    "sha384_ecdsa": ECDSA_SHA384,
    "sha512_ecdsa": ECDSA_SHA512,
}
