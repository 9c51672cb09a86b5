"""The one PEM-or-DER reader (``trust.crypto.pem``), and the loaders that had a copy of their own: keys, certificates,
CRLs, requests, certificate bundles (the verifier's) and the platform client's certificate file.

The copies used asn1crypto's ``pem.unarmor``, which skips characters outside the base64 alphabet, accepts any END
label and RFC 1421 headers; the regressions below were all accepted by it."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import pem as asn1_pem
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from trust.crypto import pem
from trust.crypto.errors import Code, EncodingError, InputError
from trust.crypto.keys import generate_private_key, load_public_key
from trust.formats import x509 as cx


@pytest.fixture(scope="module")
def cert_der() -> bytes:
    """A certificate made by pyca/cryptography (an independent maker)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, "pem test")])
    now = datetime.now(UTC)
    cert = (
        pyca_x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_write_is_what_asn1crypto_and_openssl_write(cert_der: bytes) -> None:
    written = pem.write("CERTIFICATE", cert_der)
    assert written == asn1_pem.armor("CERTIFICATE", cert_der)
    assert all(len(line) <= 64 for line in written.splitlines())
    openssl = subprocess.run(
        ["openssl", "x509", "-outform", "PEM"], input=written, capture_output=True, check=True
    ).stdout
    assert openssl == written


def test_read_der_and_pem(cert_der: bytes) -> None:
    assert pem.read(cert_der, "certificate") == (None, cert_der)
    block = pem.write("CERTIFICATE", cert_der)
    assert pem.read(block, "certificate") == ("CERTIFICATE", cert_der)
    assert pem.read(block.replace(b"\n", b"\r\n"), "certificate") == ("CERTIFICATE", cert_der)  # CRLF line ends
    text = b"Certificate:\n    Data: ...\n" + block + pem.write("CERTIFICATE", b"\x30\x00")  # text before, chain after
    assert pem.read(text, "certificate", cx.CERTIFICATE_LABELS) == ("CERTIFICATE", cert_der)
    one_line = base64.b64encode(cert_der)
    assert pem.read(b"-----BEGIN CERTIFICATE-----\n" + one_line + b"\n-----END CERTIFICATE-----", "c")[1] == cert_der


def _spoiled_bodies(block: bytes) -> dict[str, bytes]:
    head, body, tail = block.partition(b"\n")[0], block.split(b"\n")[1:-2], block.split(b"\n")[-2]
    joined = b"\n".join(body)
    return {
        "a character outside the alphabet": head + b"\n" + joined[:10] + b"!" + joined[10:] + b"\n" + tail,
        "a different END label": head + b"\n" + joined + b"\n-----END X509 CRL-----",
        "no END line": head + b"\n" + joined + b"\n",
        "RFC 1421 headers": head + b"\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n" + joined + b"\n" + tail,
        "an empty body": head + b"\n" + tail,
        "no line break after BEGIN": head + joined + b"\n" + tail,
        "padding in the middle": head + b"\n" + joined[:8] + b"AA==" + joined[8:] + b"\n" + tail,
    }


@pytest.mark.parametrize(
    "spoil",
    [
        "a character outside the alphabet",
        "a different END label",
        "no END line",
        "RFC 1421 headers",
        "an empty body",
        "no line break after BEGIN",
        "padding in the middle",
    ],
)
def test_malformed_pem_is_refused(cert_der: bytes, spoil: str) -> None:
    data = _spoiled_bodies(pem.write("CERTIFICATE", cert_der))[spoil]
    with pytest.raises(EncodingError, match="certificate: "):
        pem.read(data, "certificate")
    with pytest.raises(EncodingError):
        cx.load_certificate(data)


def test_asn1crypto_read_what_is_refused_now(cert_der: bytes) -> None:
    """The regressions: the old copies (asn1crypto's unarmor) took these as the certificate."""
    spoiled = _spoiled_bodies(pem.write("CERTIFICATE", cert_der))
    for name in ("a character outside the alphabet", "a different END label"):
        (_label, _headers, der) = asn1_pem.unarmor(spoiled[name])
        assert der == cert_der, name
        with pytest.raises(EncodingError):
            cx.load_certificate(spoiled[name])


def test_non_canonical_base64_is_refused() -> None:
    der = b"\x30\x03\x02\x01\x05"  # 5 bytes: ``MAMCAQU=``; ``MAMCAQV=`` sets an unused bit
    assert pem.read(pem.write("X", der), "x")[1] == der
    with pytest.raises(EncodingError, match="canonical"):
        pem.read(b"-----BEGIN X-----\nMAMCAQV=\n-----END X-----\n", "x")


def test_the_label_is_checked(cert_der: bytes) -> None:
    with pytest.raises(EncodingError, match="expected a CERTIFICATE PEM block, found 'X509 CRL'"):
        cx.load_certificate(pem.write("X509 CRL", cert_der))
    public = generate_private_key("sm2").public_key
    assert load_public_key(public.pem().encode()).spki_der() == public.spki_der()
    assert load_public_key(b"explanatory text\n" + public.pem().encode()).spki_der() == public.spki_der()
    with pytest.raises(EncodingError, match="expected a PUBLIC KEY PEM block"):
        load_public_key(pem.write("CERTIFICATE", public.spki_der()))


def test_read_all(cert_der: bytes) -> None:
    bundle = b"# roots\n" + pem.write("CERTIFICATE", cert_der) + b"between\n" + pem.write("X509 CRL", b"\x30\x00")
    assert pem.read_all(bundle, "bundle", limit=2) == [("CERTIFICATE", cert_der), ("X509 CRL", b"\x30\x00")]
    with pytest.raises(InputError) as caught:
        pem.read_all(bundle, "bundle", limit=1)
    assert caught.value.code is Code.INPUT_TOO_LARGE
    with pytest.raises(EncodingError, match="no PEM block"):
        pem.read_all(b"-----BEGIN CERTIFICATE-----", "bundle", limit=2)
    with pytest.raises(EncodingError, match="not base64"):
        pem.read_all(bundle + b"-----BEGIN X-----\n!!!!\n-----END X-----\n", "bundle", limit=3)


def test_verifier_bundles_and_the_client_file_use_it(cert_der: bytes, tmp_path: Path) -> None:
    from trust.client.platform import load_certificates as client_certificates
    from verifier.context import load_certificates as verifier_certificates

    good = pem.write("CERTIFICATE", cert_der) * 2
    assert [c.dump() for c in verifier_certificates(good, "anchor")] == [cert_der, cert_der]
    path = tmp_path / "chain.pem"
    path.write_bytes(good)
    assert client_certificates(path) == [cert_der, cert_der]
    spoiled = _spoiled_bodies(pem.write("CERTIFICATE", cert_der))["a character outside the alphabet"]
    with pytest.raises(EncodingError, match="anchor: malformed PEM"):
        verifier_certificates(spoiled, "anchor")
    path.write_bytes(spoiled)
    with pytest.raises(EncodingError, match="malformed PEM"):
        client_certificates(path)


def test_a_key_file_holds_one_block() -> None:
    """docs/CRYPTO.md: a PEM key must contain exactly one block (asn1crypto's reader took the first of several)."""
    from trust.crypto.keys import load_private_key

    first, second = generate_private_key("sm2").public_key, generate_private_key("sm2").public_key
    with pytest.raises(EncodingError, match="only block"):
        load_public_key(first.pem().encode() + second.pem().encode())
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    pyca = ec.generate_private_key(ec.SECP256R1())  # a key written by pyca/cryptography, plain PKCS#8 for import
    text = pyca.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public = pyca.public_key().public_bytes(Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_private_key(text).public_key.spki_der() == public
    with pytest.raises(EncodingError, match="only block"):
        load_private_key(text + text)


def test_openssl_ecparam_genkey_output_is_read(tmp_path: Path) -> None:
    """``openssl ecparam -genkey`` writes an EC PARAMETERS block before the key: skipped, the key is read."""
    from tests.conftest import require_tool
    from trust.crypto.keys import load_private_key

    openssl = require_tool("openssl")
    text = subprocess.run(
        [openssl, "ecparam", "-name", "prime256v1", "-genkey"], capture_output=True, check=True
    ).stdout
    assert text.count(b"-----BEGIN ") == 2 and b"EC PARAMETERS" in text
    key = load_private_key(text)
    assert (
        key.public_key.spki_der()
        == load_private_key(text.split(b"-----END EC PARAMETERS-----")[1]).public_key.spki_der()
    )
