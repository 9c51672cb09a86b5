"""Signature AlgorithmIdentifiers as written (``trust.crypto.algorithms``), read back with pyasn1-alt-modules' RFC 5280
and RFC 4055 modules (an ASN.1 reader independent of the asn1crypto that writes them)."""

from __future__ import annotations

import pytest
from asn1crypto import algos, core
from pyasn1.codec.der import decoder
from pyasn1.type import univ
from pyasn1_alt_modules import rfc4055, rfc5280

from trust.crypto import algorithms
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import UnsupportedAlgorithm

RSA_PKCS1 = (algorithms.RSA_PKCS1_SHA256, algorithms.RSA_PKCS1_SHA384, algorithms.RSA_PKCS1_SHA512)
NO_PARAMETERS = (algorithms.SM2_SM3, algorithms.ECDSA_SHA256, algorithms.ECDSA_SHA384, algorithms.ECDSA_SHA512)
PSS = (algorithms.RSA_PSS_SHA256, algorithms.RSA_PSS_SHA384, algorithms.RSA_PSS_SHA512)


def _decode(algorithm: SignatureAlgorithm) -> rfc5280.AlgorithmIdentifier:
    der = algorithm.x509_identifier().dump()
    decoded, rest = decoder.decode(der, asn1Spec=rfc5280.AlgorithmIdentifier())
    assert rest == b""
    return decoded


@pytest.mark.parametrize("algorithm", RSA_PKCS1, ids=str)
def test_rsa_pkcs1_parameters_are_null(algorithm: SignatureAlgorithm) -> None:
    """RFC 4055 clause 5 / RFC 8017 A.2.4: sha*WithRSAEncryption with parameters NULL (not absent): pkilint calls the
    absent form itu.invalid_asn1_syntax (FATAL) and pyca/cryptography's verifier refuses it."""
    decoded = _decode(algorithm)
    assert decoded["parameters"].isValue
    assert decoder.decode(decoded["parameters"], asn1Spec=univ.Null())[0] == univ.Null("")
    assert algorithm.x509_identifier().dump().endswith(b"\x05\x00")


@pytest.mark.parametrize("algorithm", NO_PARAMETERS, ids=str)
def test_sm2_and_ecdsa_parameters_are_absent(algorithm: SignatureAlgorithm) -> None:
    """GB/T 20518 (SM2-with-SM3) and RFC 5758 clause 3.2 (ECDSA): the parameters field is absent, not NULL."""
    assert not _decode(algorithm)["parameters"].isValue


@pytest.mark.parametrize("algorithm", PSS, ids=str)
def test_pss_parameters_are_explicit(algorithm: SignatureAlgorithm) -> None:
    decoded = _decode(algorithm)
    params, rest = decoder.decode(decoded["parameters"], asn1Spec=rfc4055.RSASSA_PSS_params())
    assert rest == b""
    assert int(params["saltLength"]) == algorithm.salt_length


@pytest.mark.parametrize("algorithm", RSA_PKCS1, ids=str)
def test_rsa_pkcs1_read_with_null_or_absent_parameters(algorithm: SignatureAlgorithm) -> None:
    """Artefacts written before the NULL was added (parameters absent) still read as the same algorithm."""
    name = algorithm.x509_identifier()["algorithm"].native
    absent = algos.SignedDigestAlgorithm({"algorithm": name})
    null = algos.SignedDigestAlgorithm({"algorithm": name, "parameters": core.Null()})
    assert SignatureAlgorithm.from_x509(absent) is algorithm
    assert SignatureAlgorithm.from_x509(null) is algorithm
    assert SignatureAlgorithm.from_x509(algorithm.x509_identifier()) is algorithm


@pytest.mark.parametrize(
    ("hash_name", "mgf_hash"), [("sha1", None), ("sm3", None), ("sha256", "md5"), ("sha256", "sm3")]
)
def test_rsa_pss_refuses_hashes_it_cannot_use(hash_name: str, mgf_hash: str | None) -> None:
    """The MGF1 hash is checked like the message hash (issue 14 item 8: mypy strict showed an unchecked MGF1 hash
    reaching ``SignatureAlgorithm.mgf_hash``, an algorithm that could never sign or verify)."""
    with pytest.raises(UnsupportedAlgorithm, match="RSASSA-PSS with"):
        algorithms.rsa_pss(hash_name, mgf_hash=mgf_hash)


def test_rsa_pss_with_a_supported_mgf_hash() -> None:
    alg = algorithms.rsa_pss("sha256", mgf_hash="sha512", salt_length=20)
    assert (alg.hash, alg.mgf_hash, alg.salt_length) == ("sha256", "sha512", 20)
    assert algorithms.rsa_pss("sha384") is algorithms.SignatureAlgorithm.from_name("rsa-pss-sha384")
