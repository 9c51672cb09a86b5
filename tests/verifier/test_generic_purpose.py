"""Issue 12 item 5: foreign PAdES signers without keyUsage and extendedKeyUsage.

A PDF signed by a certificate with neither extension was TOTAL_FAILED under every ``--purpose`` (``any`` was read as
``seal``). Now ``generic`` judges a signature that carries no GB/T 38540 seal by what RFC 5280 permits
(:func:`verifier.certificate.generic_usage_problem`) and holds one that carries a seal to the seal profile, ``any``
waives the signer's purpose (the one rule of every kind, docs/VERIFIER.md "The signer's purpose"), and the default
stays the seal profile.

The foreign PKI is made with pyca/cryptography's builder and the PDF signed with pyHanko's ``SimpleSigner``: neither
is Huren code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support import golden
from verifier import api, context
from verifier.report import Indication, Report

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Foreign:
    root: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    leaf: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _foreign(extensions: list[x509.ExtensionType]) -> Foreign:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("Foreign Root CA"))
        .issuer_name(_name("Foreign Root CA"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=10))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("Erika Mustermann"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=isinstance(extension, x509.KeyUsage))
    return Foreign(root, key, builder.sign(root_key, hashes.SHA256()))


def _signed_pdf(foreign: Foreign, tmp_path: Path) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    key_file, cert_file = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_file.write_bytes(
        foreign.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_file.write_bytes(foreign.leaf.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner.load(str(key_file), str(cert_file))
    assert signer is not None
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(golden.read("pdf/base.pdf"))),
        signers.PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES),
        signer=signer,
    )
    return out.getvalue()


def _verify(pdf: bytes, foreign: Foreign, purpose: str | None) -> Report:
    root = foreign.root.public_bytes(serialization.Encoding.DER)
    kwargs = {"purpose": purpose} if purpose is not None else {}
    return api.verify(pdf, context.build(anchors=[root], **kwargs))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> tuple[Foreign, bytes]:
    foreign = _foreign([])
    return foreign, _signed_pdf(foreign, tmp_path_factory.mktemp("bare"))


def test_signer_without_key_usage_passes_under_purpose_any_and_generic(bare: tuple[Foreign, bytes]) -> None:
    foreign, pdf = bare
    assert not foreign.leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).critical
    with pytest.raises(x509.ExtensionNotFound):
        foreign.leaf.extensions.get_extension_for_class(x509.KeyUsage)
    for purpose in ("any", "generic"):
        report = _verify(pdf, foreign, purpose)
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
        signature = report.children[0]
        purpose_check = next(c for c in signature.checks if c.name == "signer-certificate")
        assert f"valid for {purpose} " in purpose_check.detail, signature.to_text()
        assert any("plain PAdES signature" in w for w in signature.warnings), signature.to_text()


def test_the_default_stays_the_seal_profile(bare: tuple[Foreign, bytes]) -> None:
    foreign, pdf = bare
    for purpose in (None, "auto", "seal"):
        report = _verify(pdf, foreign, purpose)
        assert report.indication is Indication.TOTAL_FAILED, report.to_text()
        assert "not usable for seal" in report.to_text()


@pytest.mark.parametrize(
    "extension",
    [
        x509.KeyUsage(False, False, True, False, False, False, False, False, False),  # keyEncipherment only
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
    ],
    ids=["key-encipherment-only", "server-auth-only"],
)
def test_generic_still_follows_the_extensions_a_signer_has(extension: x509.ExtensionType, tmp_path: Path) -> None:
    foreign = _foreign([extension])
    pdf = _signed_pdf(foreign, tmp_path)
    report = _verify(pdf, foreign, "generic")
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert "not usable for generic" in report.to_text()
    # ``any`` waives the purpose, as for OFD and GB/T 38540 signatures (before the one rule it was ``generic`` here)
    waived = _verify(pdf, foreign, "any")
    assert waived.indication is Indication.TOTAL_PASSED, waived.to_text()
    signer = next(c for c in waived.children[0].checks if c.name == "signer-certificate")
    assert "valid for any purpose (the purpose check waived)" in signer.detail, waived.to_text()


@pytest.mark.parametrize(
    "extensions",
    [
        [x509.KeyUsage(False, True, False, False, False, False, False, False, False)],  # nonRepudiation only
        [x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")])],  # RFC 9336 documentSigning
        [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH])],
    ],
    ids=["non-repudiation", "document-signing", "email-protection"],
)
def test_generic_accepts_what_rfc_5280_permits(extensions: list[x509.ExtensionType], tmp_path: Path) -> None:
    foreign = _foreign(extensions)
    report = _verify(_signed_pdf(foreign, tmp_path), foreign, "generic")
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()


def test_signer_purpose_is_one_rule_for_every_kind() -> None:
    """``auto``: the kind's own purpose; ``any``: waived; ``generic``: RFC 5280's document-signing policy, ``seal``
    for a sealed signature; anything else as asked — for PDF, OFD ``Sign`` and GB/T 38540 signatures alike."""
    from verifier.pdf.verify import signer_purpose
    from verifier.ses.certificates import signer_purpose as one_rule

    assert signer_purpose("auto", sealed=False) == "seal"
    assert signer_purpose("any", sealed=False) == "any"
    assert signer_purpose("generic", sealed=False) == "generic"
    assert signer_purpose("any", sealed=True) == "any"
    assert signer_purpose("generic", sealed=True) == "seal"
    assert signer_purpose("tls-client", sealed=True) == "tls-client"
    for own, sealed in (("seal", True), ("document-signing", False)):  # a GB/T 38540 signature, an OFD Sign one
        assert one_rule("auto", own=own, sealed=sealed) == own
        assert one_rule("any", own=own, sealed=sealed) == "any"
        assert one_rule("generic", own=own, sealed=sealed) == ("seal" if sealed else "generic")
        assert one_rule("tls-client", own=own, sealed=sealed) == "tls-client"


def test_cli_purpose_any_on_the_foreign_pdf(bare: tuple[Foreign, bytes], tmp_path: Path) -> None:
    import subprocess
    import sys

    foreign, pdf = bare
    (tmp_path / "doc.pdf").write_bytes(pdf)
    (tmp_path / "root.pem").write_bytes(foreign.root.public_bytes(serialization.Encoding.PEM))
    base = [
        sys.executable,
        "-m",
        "trust.cli.main",
        "verify",
        str(tmp_path / "doc.pdf"),
        "--anchor",
        str(tmp_path / "root.pem"),
    ]
    assert subprocess.run(base, capture_output=True, timeout=180).returncode == 1
    run = subprocess.run([*base, "--purpose", "any"], capture_output=True, timeout=180)
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
