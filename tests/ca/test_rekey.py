"""Re-keying a subordinate CA: a new key and certificate from the same root, the old certificate kept (not revoked).

What is proved here: the new certificate keeps subject, constraints, policies and endpoints with a new key, serial
and SKI; issuance afterwards uses the new key; certificates issued before the re-keying still verify offline (the
bundle's trust list lists the old CA certificate as a previous certificate of the CA service) and are reported
REVOKED after a revocation made after the re-keying; OpenSSL agrees for an RSA CA (with the CRL the retired key
signs); refused requests (a root, an unknown CA, a CSR of the wrong family or without proof of possession) change
nothing.
"""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from sqlmodel import func, select

from ca import authority
from ca.models import CaKeyHistory, CertificateAuthority, CrlRecord, IssuedCertificate
from tests.conftest import require_tool
from tests.support.csr import make_csr
from tests.support.world import ZJ_ORG_USCC, World, copy_world, make_instance
from trust import db
from trust.crypto.errors import Code, ConflictError, InputError, InvalidSignature, NotFoundError, TrustError
from trust.crypto.keys import generate_private_key
from trust.formats import crl as crl_format
from trust.formats import jose
from trust.formats import trustlist as tl
from trust.formats import x509 as cx
from trust.formats.crl import load_crl
from trust.formats.names import DN
from trust.service import audit, registry, trust
from trust.service import ca as service
from verifier import api, context
from verifier.report import Indication, SubIndication

SEAL_SUBJECT = DN(
    province="浙江省", organization="杭州示例科技有限公司", common_name="合同专用章", serial_number=ZJ_ORG_USCC
)
COPIED = authority.REKEY_COPIED_EXTENSIONS


@pytest.fixture(scope="module")
def rekey_world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    """A world this module changes (re-keys region-330000-sm2 and region-330000-rsa)."""
    return copy_world(world_template, tmp_path_factory.mktemp("rekey-world") / "home")


def _seal(world: World, ca_id: str, family: str) -> service.IssueResult:
    return service.issue(world.instance, ca_id=ca_id, profile="seal", subject=SEAL_SUBJECT, key_family=family)


def _extensions(cert: asn1_x509.Certificate) -> dict[str, bytes]:
    return {ext["extn_id"].native: ext.dump() for ext in cert["tbs_certificate"]["extensions"]}


def _state(world: World) -> tuple[object, ...]:
    """Everything a refused re-keying must leave as it was."""
    with db.session_scope(world.instance.engine, read_only=True) as session:
        counts = tuple(
            session.exec(select(func.count()).select_from(table)).one()
            for table in (IssuedCertificate, CrlRecord, CaKeyHistory, registry.TrustListRecord)
        )
        cas = tuple((ca.id, ca.key_id, ca.serial, ca.cert_der) for ca in session.exec(select(CertificateAuthority)))
    keys = len(list((world.home / "keys").glob("*.key.pem")))
    return counts, cas, keys, audit.head(world.instance.engine)


def _context(world: World, *, at: datetime | None = None) -> context.VerificationContext:
    """What `trust verify --bundle bundle.json --pin <SM2 root>` builds: the exported bundle and the root pins."""
    bundle = trust.export_bundle(world.instance).read_bytes()
    pins = list(trust.root_fingerprints(world.instance).values())
    return context.build(bundle=bundle, pins=pins, at=at)


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_rekey_keeps_subject_and_constraints_with_a_new_key(rekey_world: World, family: str) -> None:
    ca_id = f"region-330000-{family.lower()}"
    inst = rekey_world.instance
    before = _seal(rekey_world, ca_id, family)  # issued under the old key
    old_cert = before.chain[0]
    with db.session_scope(inst.engine, read_only=True) as session:
        old_row = authority.get_ca(session, ca_id)
        old_key_id, old_serial = old_row.key_id, old_row.serial
    root = cx.load_certificate(service.ca_certificate_der(inst, f"root-{family.lower()}"))
    sequence = trust.latest_trust_list(inst).sequence

    rekeyed = service.rekey(inst, ca_id)

    new_cert = cx.load_certificate(rekeyed.cert_der)
    assert new_cert.subject == old_cert.subject and new_cert.issuer == root.subject
    assert new_cert.serial_number != old_cert.serial_number and rekeyed.serial != old_serial
    assert cx.public_key(new_cert) != cx.public_key(old_cert)
    assert new_cert.key_identifier != old_cert.key_identifier
    assert new_cert.key_identifier == cx.public_key(new_cert).key_identifier()
    assert new_cert.authority_key_identifier == root.key_identifier
    cx.verify_signature(new_cert, cx.public_key(root))
    old_ext, new_ext = _extensions(old_cert), _extensions(new_cert)
    for name in COPIED:  # path length, key usage, policies, CRL DP, AIA, name constraints: byte for byte
        assert new_ext[name] == old_ext[name], name
    assert "name_constraints" in new_ext and new_cert.basic_constraints_value["path_len_constraint"].native == 0
    assert set(new_ext) == set(old_ext)
    # the row: new key (in the key store, matching the certificate), the old certificate in the history
    assert rekeyed.key_id is not None and rekeyed.key_id != old_key_id
    assert inst.keystore.signer(rekeyed.key_id, authority.algorithm_for(family)).public_key == cx.public_key(new_cert)
    history = service.key_history(inst, ca_id)
    assert [(h.serial, h.key_id, h.cert_der) for h in history] == [(old_serial, old_key_id, old_cert.dump())]
    # the old CA certificate is not revoked; the new one is recorded like every certificate the root issues
    old_record = service.get_certificate(inst, old_serial)
    new_record = service.get_certificate(inst, rekeyed.serial)
    assert old_record.status == "valid" and new_record.status == "valid"
    assert new_record.issuer_id == f"root-{family.lower()}" and new_record.profile == old_record.profile == "ca-region"
    # published: the CA file, and a trust list whose CA service carries the new certificate and the old one
    assert (rekey_world.home / "public" / "ca" / f"{ca_id}.cer").read_bytes() == rekeyed.cert_der
    latest = trust.latest_trust_list(inst)
    assert latest.sequence > sequence
    published = json.loads((rekey_world.home / "public" / "trustlist.json").read_bytes())
    assert published == json.loads(latest.document)
    parsed = tl.TrustList.from_json(json.loads(jose.parse_json(published)[0]))
    services = {s.id: s for _issuer, s in parsed.services()}
    assert services[ca_id].certificate == rekeyed.cert_der
    assert services[ca_id].previous_certificates == (old_cert.dump(),)
    # the OCSP responder was certified again, by the new key
    ocsp = services[f"{ca_id}-ocsp"]
    cx.verify_signature(cx.load_certificate(ocsp.certificate), cx.public_key(new_cert))
    assert ocsp.previous_certificates  # the old responder stays listed
    # audited: the CA row's change and the history row, in an intact chain
    actions = {e.action for e in audit.entries(inst.engine, subject=f"ca:{ca_id}", limit=1000)}
    assert "ca.update" in actions, actions
    assert any(e.action == "ca-key-history.create" for e in audit.entries(inst.engine, after=0, limit=100_000))
    assert audit.verify(inst.engine).ok


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_issuance_after_rekey_uses_the_new_key(rekey_world: World, family: str) -> None:
    ca_id = f"region-330000-{family.lower()}"
    if not service.key_history(rekey_world.instance, ca_id):
        service.rekey(rekey_world.instance, ca_id)
    current = cx.load_certificate(service.ca_certificate_der(rekey_world.instance, ca_id))
    after = _seal(rekey_world, ca_id, family)
    assert after.chain[0].dump() == current.dump()
    cx.verify_signature(after.certificate, cx.public_key(current))
    assert after.certificate.authority_key_identifier == current.key_identifier
    cx.verify_signature(current, cx.public_key(after.chain[1]))  # and the new CA certificate chains to the root
    assert after.chain[1].self_signed in ("maybe", "yes")


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_old_and_new_certificates_verify_offline_and_revocation_covers_the_old(rekey_world: World, family: str) -> None:
    ca_id = f"region-440000-{family.lower()}"
    inst = rekey_world.instance
    subject = DN(province="广东省", organization="广州示例有限公司", common_name="公章", serial_number=ZJ_ORG_USCC)
    old = service.issue(inst, ca_id=ca_id, profile="seal", subject=subject, key_family=family)
    kept = service.issue(inst, ca_id=ca_id, profile="seal", subject=subject, key_family=family)
    service.rekey(inst, ca_id)
    new = service.issue(inst, ca_id=ca_id, profile="seal", subject=subject, key_family=family)
    ctx = _context(rekey_world)
    for result in (old, kept, new):
        report = api.verify(result.certificate.dump(), ctx)
        assert report.indication is Indication.TOTAL_PASSED, (report.errors, report.checks)
    # the old certificate chains through the previous CA certificate, the new one through the current one
    assert old.chain[0].dump() != new.chain[0].dump()

    record, crl = service.revoke(inst, serial=old.record.serial, reason="key_compromise")
    assert record.issuer_id == ca_id
    ctx = _context(rekey_world)
    report = api.verify(old.certificate.dump(), ctx)
    assert report.indication is Indication.TOTAL_FAILED and report.sub_indication is SubIndication.REVOKED, report
    for result in (kept, new):
        assert api.verify(result.certificate.dump(), ctx).indication is Indication.TOTAL_PASSED
    # the bundle carries the CRL of the old certificate's partition twice: signed by the new key and by the retired
    # one, same number and entries (and the CA's main CRL, twice as well)
    with db.session_scope(inst.engine) as session:
        row = session.get(IssuedCertificate, old.record.id)
        assert row is not None and row.crl_shard is not None
        shard = row.crl_shard
    uri = f"{rekey_world.base_url}/crl/{ca_id}/{shard}.crl"
    bundle = json.loads((rekey_world.home / "public" / "bundle.json").read_bytes())
    payload = json.loads(jose.parse_json(bundle)[0])
    ours = [load_crl(base64.b64decode(c["der"])) for c in payload["crls"] if c["ca"] == ca_id]
    partitions = {crl_format.idp_uri(c) for c in ours} - {f"{rekey_world.base_url}/crl/{ca_id}.crl"}
    assert len(ours) == 2 * (1 + len(partitions))  # the main CRL and each partition's (those in use and the next)
    mine = [c for c in ours if crl_format.idp_uri(c) == uri]
    assert len(mine) == 2
    assert {c.crl_number_value.native for c in mine} == {crl.number}
    keys = {c.authority_key_identifier for c in mine}
    history = service.key_history(inst, ca_id)
    assert keys == {new.chain[0].key_identifier, cx.load_certificate(history[0].cert_der).key_identifier}
    for c in mine:
        assert int(old.record.serial, 16) in {
            e["user_certificate"].native for e in c["tbs_cert_list"]["revoked_certificates"]
        }
    # the retired key's CRLs are also published under <home>/public and served by name
    retired_name = service.retired_crl_name(ca_id, history[0].serial)
    published = (rekey_world.home / "public" / "crl" / retired_name / f"{shard}.crl").read_bytes()
    assert published == service.partition_crl_der(inst, retired_name, shard)
    assert load_crl(published).authority_key_identifier == old.chain[0].key_identifier
    main = (rekey_world.home / "public" / "crl" / f"{retired_name}.crl").read_bytes()
    assert main == service.current_crl_der(inst, retired_name)
    assert load_crl(main).authority_key_identifier == old.chain[0].key_identifier
    with pytest.raises(NotFoundError):
        service.current_crl_der(inst, f"{ca_id}.00")
    with pytest.raises(NotFoundError):
        service.partition_crl_der(inst, f"{ca_id}.00", shard)


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("openssl"), *args], capture_output=True, text=True, check=False)


@pytest.mark.external
def test_openssl_agrees_for_an_rsa_ca(tmp_path: Path) -> None:
    """OpenSSL verifies certificates of both keys with the CRLs; the revoked old one is revoked. OpenSSL (without
    -extended_crl) takes a CRL only from the key that issued the certificate: the retired key's CRL is needed."""
    inst = make_instance(tmp_path / "home")
    service.init(inst)
    ca_id = "region-330000-rsa"
    service.enrol(inst, kind="region", code="330000", family="RSA")
    old = service.issue(inst, ca_id=ca_id, profile="seal", subject=SEAL_SUBJECT, key_family="RSA")
    kept = service.issue(inst, ca_id=ca_id, profile="seal", subject=SEAL_SUBJECT, key_family="RSA")
    service.rekey(inst, ca_id)
    new = service.issue(inst, ca_id=ca_id, profile="seal", subject=SEAL_SUBJECT, key_family="RSA")
    service.revoke(inst, serial=old.record.serial, reason="key_compromise")
    retired = service.key_history(inst, ca_id)[0]

    def pem(name: str, *certs: asn1_x509.Certificate) -> str:
        path = tmp_path / name
        path.write_bytes(b"".join(cx.certificate_pem(c) for c in certs))
        return str(path)

    root = pem("root.pem", new.chain[-1])
    untrusted = pem("untrusted.pem", old.chain[0], new.chain[0])
    with db.session_scope(inst.engine) as session:
        rows = [session.get(IssuedCertificate, r.record.id) for r in (old, kept, new)]
    shards = {row.crl_shard for row in rows if row is not None}
    (shard,) = shards  # one partition: the CRL all three name
    assert shard is not None
    current_crl = service.partition_crl_der(inst, ca_id, shard)
    retired_crl = service.partition_crl_der(inst, service.retired_crl_name(ca_id, retired.serial), shard)
    root_crl = service.crl_text(service.current_crl_der(inst, "root-rsa"))
    both = tmp_path / "crls.pem"
    both.write_bytes(service.crl_text(current_crl) + service.crl_text(retired_crl) + root_crl)
    only_new = tmp_path / "new-crl.pem"
    only_new.write_bytes(service.crl_text(current_crl) + root_crl)

    def verify(cert: asn1_x509.Certificate, crls: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return _openssl(
            "verify", "-x509_strict", "-crl_check_all", *extra, "-CRLfile", str(crls), "-CAfile", root,
            "-untrusted", untrusted, "-purpose", "any", pem("target.pem", cert),
        )  # fmt: skip

    for cert in (kept.certificate, new.certificate):
        out = verify(cert, both)
        assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr
    revoked = verify(old.certificate, both)
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr
    # the experiment behind the design: the new key's CRL alone does not cover the old certificates for OpenSSL
    alone = verify(kept.certificate, only_new)
    assert alone.returncode != 0 and "unable to get certificate CRL" in alone.stdout + alone.stderr
    extended = verify(old.certificate, only_new, "-extended_crl")
    assert extended.returncode != 0 and "certificate revoked" in extended.stdout + extended.stderr


def test_refused_rekeys_change_nothing(rekey_world: World) -> None:
    before = _state(rekey_world)
    with pytest.raises(InputError, match="national root; roots are not re-keyed"):
        service.rekey(rekey_world.instance, "root-sm2")
    with pytest.raises(NotFoundError, match="no CA 'region-999999-sm2'"):
        service.rekey(rekey_world.instance, "region-999999-sm2")
    with db.session_scope(rekey_world.instance.engine) as session, pytest.raises(InputError, match="national root"):
        authority.rekey_sub_ca(session, rekey_world.instance.keystore, ca_id="root-rsa")
    assert _state(rekey_world) == before


CSR_SUBJECT = DN(province="浙江省", organization="浙江省政务服务平台", common_name="浙江CA 新密钥")


@pytest.mark.parametrize(
    ("case", "error", "code"),
    [
        ("rsa key for an SM2 CA", InputError, Code.KEY_MISMATCH),
        ("tampered signature", InvalidSignature, None),
        ("truncated", TrustError, None),
        ("weak RSA", InputError, Code.WEAK_KEY),
    ],
)
def test_bad_csrs_are_refused_and_change_nothing(
    rekey_world: World, case: str, error: type[TrustError], code: Code | None
) -> None:
    ca_id = "region-330000-rsa" if case == "weak RSA" else "region-330000-sm2"
    if case in {"rsa key for an SM2 CA", "weak RSA"}:
        data = make_csr(generate_private_key("rsa-2048"), CSR_SUBJECT)
    elif case == "tampered signature":
        data = make_csr(generate_private_key("sm2"), CSR_SUBJECT, tamper=True)
    else:
        data = make_csr(generate_private_key("sm2"), CSR_SUBJECT, pem=False)[:60]
    before = _state(rekey_world)
    with pytest.raises(error) as caught:
        service.rekey(rekey_world.instance, ca_id, data)
    if code is not None:
        assert caught.value.code is code
    if case == "tampered signature":
        assert "proof of possession" in caught.value.message
    assert _state(rekey_world) == before


def test_rekey_from_a_csr_keeps_the_key_with_the_region(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "home")
    service.init(inst)
    ca_id = "region-330000-sm2"
    service.enrol(inst, kind="region", code="330000", family="SM2")
    old = service.issue(inst, ca_id=ca_id, profile="seal", subject=SEAL_SUBJECT)
    key = generate_private_key("sm2")
    rekeyed = service.rekey(inst, ca_id, make_csr(key, CSR_SUBJECT))
    cert = cx.load_certificate(rekeyed.cert_der)
    assert rekeyed.key_id is None and cx.public_key(cert) == key.public_key
    assert cert.subject == old.chain[0].subject  # the CA's subject, not the CSR's
    with pytest.raises(ConflictError, match="held before"):  # the same key twice is not a re-keying
        service.rekey(inst, ca_id, make_csr(key, CSR_SUBJECT))
    with pytest.raises(ConflictError, match="holds its own key"):  # Huren cannot sign for it any more
        service.issue(inst, ca_id=ca_id, profile="seal", subject=SEAL_SUBJECT)
    # what the old key issued still verifies offline, through the previous CA certificate in the trust list
    bundle = trust.export_bundle(inst).read_bytes()
    ctx = context.build(bundle=bundle, pins=[trust.root_fingerprints(inst)["SM2"]], at=datetime.now(UTC))
    assert api.verify(old.certificate.dump(), ctx).indication is Indication.TOTAL_PASSED


def test_cli_and_http_rekey(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastapi.testclient import TestClient

    from trust.cli.main import main
    from trust.http.app import create_app

    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "cli test passphrase")
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    home = tmp_path / "home"
    h = ["--home", str(home)]
    assert main(["init", *h]) == 0
    assert main(["ca", "enrol", "region", "330000", "--family", "SM2", *h]) == 0
    capsys.readouterr()
    out = tmp_path / "new-ca.pem"
    assert main(["ca", "rekey", "region-330000-sm2", "--out", str(out), *h]) == 0
    printed = capsys.readouterr().out
    assert "re-keyed region-330000-sm2" in printed and "stays valid" in printed
    assert out.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert main(["ca", "rekey", "root-sm2", *h]) == 3
    assert "roots are not re-keyed" in capsys.readouterr().err
    csr = tmp_path / "rsa.csr"
    csr.write_bytes(make_csr(generate_private_key("rsa-2048"), CSR_SUBJECT))
    assert main(["ca", "rekey", "region-330000-sm2", "--csr", str(csr), *h]) == 3
    # HTTP without credentials: 401 before anything happens (the operator-only matrix is in test_authz)
    from trust.service.instance import Instance
    from trust.settings import Settings

    app = create_app(Instance(Settings(home=home, key_kdf_iterations=2000)))
    with TestClient(app) as client:
        response = client.post("/ca/region-330000-sm2/rekey", json={})
        assert response.status_code == 401


def test_national_ca_rekey_keeps_tsa_and_replay_chains_right(rekey_world: World) -> None:
    """Certificates the old key issued are handed out with the old CA certificate: the TSA's chain in tokens, and
    an idempotent replay of an issuance made before the re-keying."""
    from trust.service import tsa

    inst = rekey_world.instance
    before = service.issue(
        inst, ca_id="region-440000-sm2", profile="seal", request_id="rekey-replay-1",
        subject=DN(province="广东省", organization="广州示例有限公司", common_name="公章", serial_number=ZJ_ORG_USCC),
    )  # fmt: skip
    if not service.key_history(inst, "region-440000-sm2"):
        service.rekey(inst, "region-440000-sm2")
    replay = service.issue(
        inst, ca_id="region-440000-sm2", profile="seal", request_id="rekey-replay-1",
        subject=DN(province="广东省", organization="广州示例有限公司", common_name="公章", serial_number=ZJ_ORG_USCC),
    )  # fmt: skip
    assert replay.record.serial == before.record.serial
    assert replay.chain[0].dump() == before.chain[0].dump()
    cx.verify_signature(replay.certificate, cx.public_key(replay.chain[0]))

    old_national = cx.load_certificate(service.ca_certificate_der(inst, "national-rsa"))
    service.rekey(inst, "national-rsa")
    authority_ = tsa._load(inst, "RSA")
    assert authority_.chain[0].dump() == old_national.dump()  # the TSA certificate was issued by the old key
    cx.verify_signature(authority_.certificate, cx.public_key(authority_.chain[0]))
