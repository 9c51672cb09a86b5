"""The whole demo world with a PKCS#11 token configured (SoftHSM2, issue 20): every RSA and EC key of the service —
national roots and CAs, OCSP responders, TSAs, seal makers, licence issuers, TLS and identity keys — is made on the
token by ``C_GenerateKeyPair`` (never in the process, never in a file); SM2 keys stay in the encrypted file store.

The artefacts pass the same independent peers as the file-key world (``test_demo_peers``): OpenSSL's CLI
(certificates against CRLs, CRLs, OCSP responses, the RSA time-stamp), pyHanko (RSA-sealed PDFs from their DSS,
document time-stamps), PyJWT (RS256 and ES256 licence tokens), and ``trust verify``. Then a scan: no private key of
a token key in the home folder or the database, and every token key is sensitive, non-extractable and was made on
the token (``CKA_LOCAL``, ``CKA_NEVER_EXTRACTABLE``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.demo import demo_index, demo_pins
from tests.support.softhsm import SoftHsm
from tests.trust.service import test_demo_peers as peers
from trust.cli.main import main
from trust.formats import license_token as token
from trust.formats.names import make_uscc
from trust.service.instance import Instance
from trust.settings import Settings

pytestmark = [pytest.mark.external, pytest.mark.slow]
PASSPHRASE = "a demo passphrase on a token world"
TOKEN = "huren-demo"  # a token of its own: the scan below counts every key on it


@pytest.fixture(scope="module")
def token_demo(softhsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo-token")
    mp = pytest.MonkeyPatch()
    for name in ("TRUST_KEY_PASSPHRASE_FILE", "TRUST_PUBLIC_URL", "TRUST_HOST", "TRUST_PORT", "TRUST_PKCS11_PIN_FILE"):
        mp.delenv(name, raising=False)
    mp.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    mp.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE)
    mp.setenv("TRUST_PKCS11_MODULE", softhsm.module)
    mp.setenv("TRUST_PKCS11_TOKEN", TOKEN)
    mp.setenv("TRUST_PKCS11_PIN", softhsm.pin)
    try:
        assert main(["demo", "--home", str(home)]) == 0
    finally:
        mp.undo()
    return home


@pytest.fixture(scope="module")
def token_instance(token_demo: Path, softhsm: SoftHsm) -> Instance:
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_PKCS11_PIN", softhsm.pin)
    try:
        instance = Instance(
            Settings(home=token_demo, pkcs11_module=softhsm.module, pkcs11_token=TOKEN, key_kdf_iterations=2000),
            passphrase=PASSPHRASE.encode(),
        )
        instance.keystore.list()  # opens (and logs in to) the token while the PIN is set
    finally:
        mp.undo()
    return instance


def test_rsa_and_ec_keys_of_the_world_live_on_the_token(token_instance: Instance) -> None:
    from sqlmodel import Session, select

    from ca.models import CertificateAuthority, IssuedCertificate

    with Session(token_instance.engine) as session:
        cas = session.exec(select(CertificateAuthority)).all()
        issued = session.exec(select(IssuedCertificate).where(IssuedCertificate.key_id.is_not(None))).all()  # type: ignore[union-attr]
    keys = {info.key_id: info for info in token_instance.keystore.list()}
    used = [(ca.family, ca.key_id) for ca in cas] + [(ca.family, ca.ocsp_key_id) for ca in cas if ca.ocsp_key_id]
    used += [(keys[r.key_id].family, r.key_id) for r in issued if r.key_id in keys]
    families: dict[str, int] = {}
    for family, key_id in used:
        assert key_id is not None
        on_token = key_id.startswith(f"p11:{TOKEN}/")
        assert on_token == (family != "SM2"), (family, key_id)
        assert keys[key_id].location == (f"pkcs11 token {TOKEN}" if on_token else "file")
        families[family] = families.get(family, 0) + 1
    assert families.get("RSA", 0) >= 8 and families.get("EC", 0) >= 1 and families.get("SM2", 0) >= 8, families


def test_openssl_verifies_the_rsa_certificates_crls_ocsp_and_timestamp(token_demo: Path, tmp_path: Path) -> None:
    peers.test_openssl_verifies_every_rsa_certificate_crl_ocsp_response_and_timestamp(token_demo, tmp_path)


def test_pyhanko_validates_the_rsa_sealed_pdfs(token_demo: Path) -> None:
    peers.test_pyhanko_validates_the_rsa_pdf_signatures_from_the_dss_alone(token_demo)


def test_trust_verify_gives_every_artefact_its_verdict(token_demo: Path) -> None:
    """As ``test_demo_peers``; the federation's entity configurations are left out: ``trust verify`` does not read
    entity statements (it refuses their ``typ`` with the file-key world too; docs/NOTES.md, hsm2)."""
    out = token_demo / "out"
    pin = demo_pins(token_demo)[0]
    exits = {"TOTAL_PASSED": 0, "TOTAL_FAILED": 1}
    counted: dict[str, int] = {}
    for entry in demo_index(token_demo):
        if entry["kind"] in ("crl", "ocsp-response", "timestamp", "trust-list", "bundle", "entity-configuration"):
            continue
        args = ["verify", str(out / entry["path"]), "--bundle", str(out / "bundle.json"), "--pin", pin]
        if entry.get("data"):
            args += ["--data", str(out / entry["data"])]
        assert main(args) == exits[entry["expect"]], entry["id"]
        counted[entry["kind"]] = counted.get(entry["kind"], 0) + 1
    assert counted["certificate"] >= 39 and counted["license-pdf"] >= 6 and counted["license-qr"] >= 5, counted


def _issuer_key(instance: Instance, issuer_id: str) -> object:
    """The licence issuer's public key as a verifier reads it: from its certificate (pyca/cryptography)."""
    from cryptography import x509
    from sqlmodel import Session, select

    from ca.models import IssuedCertificate
    from licenses.models import LicenseIssuer

    with Session(instance.engine) as session:
        issuer = session.get(LicenseIssuer, issuer_id)
        assert issuer is not None and issuer.key_id.startswith(f"p11:{TOKEN}/"), issuer
        record = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == issuer.cert_serial)).one()
    return x509.load_der_x509_certificate(record.der).public_key()


def _pyjwt_verify(jws: str, alg: str, key: object) -> dict[str, object]:
    import jwt

    header, _claims = token.parse_unverified(jws)
    assert header["alg"] == alg
    claims: dict[str, object] = jwt.decode(jws, key, algorithms=[alg], options={"verify_aud": False})  # type: ignore[arg-type]
    head, body, sig = jws.split(".")
    forged = f"{head}.{body}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    with pytest.raises(jwt.InvalidSignatureError):  # and the check is real
        jwt.decode(forged, key, algorithms=[alg], options={"verify_aud": False})  # type: ignore[arg-type]
    return claims


def test_pyjwt_verifies_rs256_and_es256_licence_tokens(token_demo: Path, token_instance: Instance) -> None:
    from licenses import samples
    from trust.formats import license_catalogue as catalogue
    from trust.service import licenses

    rs256 = [e for e in demo_index(token_demo) if e["id"] == "license-w101-rs256-token"]
    assert len(rs256) == 1
    jws = (token_demo / "out" / rs256[0]["path"]).read_text().strip()
    assert _pyjwt_verify(jws, "RS256", _issuer_key(token_instance, rs256[0]["issuer"]))["iss"]
    # An ES256 licence issuer (EC P-256 key made on the token) certified by the RSA region CA.
    business = catalogue.all_types()[0].code
    issuer = licenses.register_issuer(
        token_instance, ca_id="region-330000-rsa", name="浙江省市场监督管理局 (ES256)",
        code=make_uscc("11330000002482226"), license_types=[business], family="EC",
    )  # fmt: skip
    made = licenses.issue(token_instance, issuer_id=issuer.id, type_code=business, fields=samples.sample(business))
    assert _pyjwt_verify(made.record.token, "ES256", _issuer_key(token_instance, issuer.id))["iss"]


PRIVATE_PEM = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
PKCS8_DER = (
    bytes.fromhex("020100300d06092a864886f70d010101050004"),  # PrivateKeyInfo v0, rsaEncryption, OCTET STRING
    bytes.fromhex("020100301306072a8648ce3d020106082a8648ce3d03010704"),  # v0, id-ecPublicKey P-256, OCTET STRING
    bytes.fromhex("020100301006072a8648ce3d020106052b8104002204"),  # v0, id-ecPublicKey P-384, OCTET STRING
)


def test_no_private_key_of_a_token_key_on_disk_or_in_the_database(token_demo: Path, token_instance: Instance) -> None:
    """The only private keys under the home folder are the file store's encrypted SM2 keys (and none of them is a
    token key); the database holds no private key; every token key was made on the token and cannot leave it."""
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    from trust.crypto.pkcs11 import TokenKeyStore

    store = token_instance.keystore
    assert isinstance(store, TokenKeyStore) and store.files is not None
    infos = store.list()
    token_keys = [i for i in infos if i.key_id.startswith("p11:")]
    assert len(token_keys) >= 10
    file_keys = {i.key_id: i for i in infos if not i.key_id.startswith("p11:")}
    assert {i.family for i in file_keys.values()} == {"SM2"}, "an RSA or EC key of the service is in a file"
    found: list[Path] = []
    for path in token_demo.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for prefix in PKCS8_DER:  # no unencrypted RSA or EC private key in DER anywhere (the database included)
            assert prefix not in data, path
        if PRIVATE_PEM.search(data):
            found.append(path)
    # Private keys in files: exactly the file store's keys, all SM2, all encrypted.
    assert {p.name.removesuffix(".key.pem") for p in found} == set(file_keys), found
    for path in found:
        assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes(), path
    for info in token_keys:
        ckaid = bytes.fromhex(info.key_id.rsplit("/", 1)[1])
        with store.pool.session("inspecting") as session:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=ckaid)
            assert key[Attribute.SENSITIVE] is True and key[Attribute.EXTRACTABLE] is False
            assert key[Attribute.LOCAL] is True and key[Attribute.NEVER_EXTRACTABLE] is True, info  # made there
            with pytest.raises((pkcs11.exceptions.AttributeSensitive, pkcs11.exceptions.AttributeTypeInvalid)):
                key[Attribute.PRIVATE_EXPONENT if info.family == "RSA" else Attribute.VALUE]
