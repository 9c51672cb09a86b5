"""The one table of certificate digest algorithms of a seal's certList (``trust.formats.ses.CERT_DIGESTS``) and the
one test of "is this certificate a permitted signer" (``listed_as``), used by seal signing, PDF sealing, and the SES
and PDF verifiers. Before, each had its own: the PDF sealer and the PDF verifier did not read an OID as ``type``
(the SES verifier did), and the signer judged every entry by the *last* entry's algorithm."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import core, x509

from seal import signature as ses_signature
from seal.pdf.sealing import SealBindingError, check_seal_binding
from trust.crypto.algorithms import digest
from trust.crypto.errors import UnsupportedAlgorithm
from trust.formats import ses

CERT_A = b"\x30\x03\x02\x01\x01"  # stand-ins: the list compares octets and their digests only
CERT_B = b"\x30\x03\x02\x01\x02"


def _certificate() -> x509.Certificate:
    """A real certificate (pyca/cryptography) for the functions that take a parsed one."""
    from cryptography import x509 as pyca_x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, "seal signer")])
    now = datetime.now(UTC)
    made = (
        pyca_x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(9)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return x509.Certificate.load(made.public_bytes(serialization.Encoding.DER))


def _seal(entries: list[tuple[str, bytes]]) -> bytes:
    """A version-4 seal whose certList (certListType 2) holds ``(type, digest)`` entries; not signed (parsing and
    the certList test read no signature)."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    info = ses.build_seal_info(
        vendor="TEST",
        es_id="T-1",
        seal_type=1,
        name="测试章",
        signer_certs=[CERT_A],
        create_date=now,
        valid_start=now,
        valid_end=now + timedelta(days=365),
        picture=ses.Picture("PNG", b"\x89PNG", 40, 40),
    )
    info["property"]["cert_list_type"] = core.Integer(2)
    info["property"]["cert_list"] = ses.CertList(
        [ses.CertListItem(name="digest", value={"type": kind, "value": value}) for kind, value in entries]
    )
    return ses.assemble_seal(info, maker_cert=CERT_A, signature=b"\x01" * 64)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("SM3", "sm3"),
        ("sm3", "sm3"),
        ("1.2.156.10197.1.401", "sm3"),
        ("SHA-256", "sha256"),
        ("sha384", "sha384"),
        ("SHA-512", "sha512"),
        ("MD5", None),
        ("SHA1", None),
        ("", None),
        (None, None),
    ],
)
def test_the_table(kind: str | None, name: str | None) -> None:
    assert ses.cert_digest_name(kind) == name


def test_each_entry_is_judged_by_its_own_algorithm() -> None:
    seal = ses.parse_seal(_seal([("SHA-256", hashlib.sha256(CERT_A).digest()), ("SM3", digest("sm3", CERT_B))]))
    assert seal.cert_digest_types == ("SHA-256", "SM3")
    assert ses.listed_as(seal, CERT_A) == "SHA-256" and ses.listed_as(seal, CERT_B) == "SM3"
    assert ses.listed_as(seal, b"\x30\x00") is None
    # the signer's check: the old copy took the last entry's algorithm (SM3) for every entry and missed CERT_A
    assert ses_signature.cert_listed(seal, CERT_A) and ses_signature.cert_listed(seal, CERT_B)


def test_an_oid_type_is_read_by_the_sealer_and_the_pdf_verifier_too() -> None:
    """``type`` = the SM3 OID: the SES verifier read it, the PDF sealer refused it as unsupported and the PDF
    verifier's binding check said "not listed"."""
    certificate = _certificate()
    data = _seal([("1.2.156.10197.1.401", digest("sm3", certificate.dump()))])
    assert check_seal_binding(data, certificate).es_id == "T-1"
    assert ses.lists_certificate(ses.parse_seal(data), certificate.dump())  # what verifier.pdf.seal asks


def test_unknown_algorithms_never_match() -> None:
    certificate = _certificate()
    data = _seal([("MD5", hashlib.md5(certificate.dump()).digest())])
    seal = ses.parse_seal(data)
    assert ses.listed_as(seal, certificate.dump()) is None
    with pytest.raises(UnsupportedAlgorithm):
        ses_signature.cert_listed(seal, certificate.dump())
    with pytest.raises(SealBindingError, match="not supported"):
        check_seal_binding(data, certificate)
