"""The offline national root (issue 20 item 2): two instance folders stand for the two machines.

The offline machine makes the roots and writes only certificates; the service holds the national operations and
regional CA keys and never a root key; every root signature is a ceremony (request → ``trust root sign`` → import).
The request is hostile input on the offline machine: malformed or out-of-policy items are refused with
``E1211``; a response that does not answer the service's request is refused with ``E1212``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from sqlmodel import select

from ca.models import CertificateAuthority
from tests.support.world import PASSPHRASE, make_instance
from trust import db
from trust.cli.main import main
from trust.crypto.errors import Code, InvalidSignature, TrustError
from trust.formats import bundle as bundle_format
from trust.formats import ceremony as fmt
from trust.formats import trustlist as tl
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import ca as ca_service
from trust.service import ceremony
from trust.service import trust as trust_registry
from trust.service.instance import Instance


def _yes(lines: list[str]) -> bool:
    return True


def _pins(folder: Path) -> list[str]:
    return [hashlib.sha256((folder / f"root-{f}.cer").read_bytes()).hexdigest() for f in ("sm2", "rsa")]


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, Instance, Path]:
    """The offline machine and the service after the first ceremony (national CAs and trust list signers)."""
    base = tmp_path_factory.mktemp("offline-root")
    offline = make_instance(base / "offline")
    service = make_instance(base / "service")
    roots = base / "roots"
    written = ceremony.init_offline_root(offline, roots)
    assert sorted(p.name for p in written) == ["root-rsa.cer", "root-rsa.crl", "root-sm2.cer", "root-sm2.crl"]
    pending = ceremony.init_service(service, roots)
    response = ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes)
    done = ceremony.import_response(service, response)
    assert len(done) == 4
    return offline, service, roots


def _cas(instance: Instance) -> dict[str, CertificateAuthority]:
    with db.session_scope(instance.engine, read_only=True) as session:
        return {r.id: r for r in session.exec(select(CertificateAuthority)).all()}


def test_the_offline_machine_writes_only_certificates_and_the_service_holds_no_root_key(machines) -> None:
    offline, service, roots = machines
    assert sorted(p.name for p in roots.iterdir()) == ["root-rsa.cer", "root-rsa.crl", "root-sm2.cer", "root-sm2.crl"]
    on_service = _cas(service)
    assert on_service["root-sm2"].key_id is None and on_service["root-rsa"].key_id is None
    assert on_service["national-sm2"].key_id is not None and on_service["national-rsa"].key_id is not None
    assert on_service["root-sm2"].cert_der == (roots / "root-sm2.cer").read_bytes()
    # the root keys are in the offline machine's key store and nowhere in the service's
    root_keys = {_cas(offline)[r].key_id for r in ("root-sm2", "root-rsa")}
    service_keys = {info.key_id for info in service.keystore.list()}
    assert root_keys and not root_keys & service_keys
    root_publics = {offline.keystore.info(k).public_key.fingerprint() for k in root_keys if k}
    assert not root_publics & {info.public_key.fingerprint() for info in service.keystore.list()}
    assert sorted(ceremony.offline_roots(service)) == ["root-rsa", "root-sm2"]


def test_a_regional_ca_round_trip_and_offline_verification(machines, tmp_path) -> None:
    offline, service, roots = machines
    with pytest.raises(TrustError) as refused:  # the ordinary enrolment needs the root key
        ca_service.enrol(service, kind="region", code="440000", family="SM2")
    assert refused.value.code is Code.ROOT_OFFLINE
    assert "440000" not in str(_cas(service))  # nothing half-made
    pending = ceremony.request_enrol(service, kind="region", code="330000", family="SM2")
    assert pending.items == ("region-ca",)
    response = ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes)
    assert ceremony.import_response(service, response)[0].startswith("CA region-330000-sm2")
    cas = _cas(service)
    region = cas["region-330000-sm2"]
    cert = cx.load_certificate(region.cert_der)
    cx.verify_signature(cert, cx.public_key(cx.load_certificate((roots / "root-sm2.cer").read_bytes())))
    assert region.key_id is not None and cas["region-330000-sm2"].ocsp_cert_der is not None
    # an end-entity certificate from the regional CA verifies offline against the bundle, pinning the offline roots
    from tests.support.world import ZJ_ORG_USCC

    issued = ca_service.issue(
        service,
        ca_id="region-330000-sm2",
        profile="organization-identity",
        subject=DN(province="浙江省", organization="测试公司", common_name="测试公司", serial_number=ZJ_ORG_USCC),
    )
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(cx.certificate_pem(issued.certificate))
    bundle = trust_registry.export_bundle(service, tmp_path / "bundle.json")
    pins = _pins(roots)
    checked = bundle_format.verify(bundle.read_bytes(), pins)
    assert set(checked.signed_by) == set(pins)
    assert main(["verify", str(leaf), "--bundle", str(bundle), "--pin", pins[0]]) == 0
    # the trust list's signatures are the delegated signers' under the pinned roots (x5c = [signer, root])
    document = json.loads(trust_registry.latest_trust_list(service).document)
    for signature in document["signatures"]:
        x5c = json.loads(base64.urlsafe_b64decode(signature["protected"] + "=="))["x5c"]
        assert len(x5c) == 2 and hashlib.sha256(base64.b64decode(x5c[1])).hexdigest() in pins


def test_rekey_ceremony_keeps_what_the_old_key_issued_valid(machines, tmp_path) -> None:
    """``trust ca rekey`` under an offline root is refused (E1210, nothing changed); its ceremony form re-keys the
    regional CA: new certificate from the root, the old one in the key history, what the old key issued still
    verifies offline and the new key issues."""
    from ca.authority import key_history
    from tests.support.world import ZJ_ORG_USCC

    offline, service, roots = machines
    before = _cas(service)["region-330000-sm2"]
    old_leaf = tmp_path / "old.pem"
    subject = DN(province="浙江省", organization="测试公司", common_name="测试公司", serial_number=ZJ_ORG_USCC)
    old = ca_service.issue(service, ca_id="region-330000-sm2", profile="organization-identity", subject=subject)
    old_leaf.write_bytes(cx.certificate_pem(old.certificate))
    with pytest.raises(TrustError) as refused:
        ca_service.rekey(service, "region-330000-sm2")
    assert refused.value.code is Code.ROOT_OFFLINE
    assert _cas(service)["region-330000-sm2"].cert_der == before.cert_der
    pending = ceremony.request_rekey(service, "region-330000-sm2")
    response = ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes)
    assert ceremony.import_response(service, response)[0].startswith("CA region-330000-sm2 re-keyed")
    after = _cas(service)["region-330000-sm2"]
    assert after.cert_der != before.cert_der and after.key_id != before.key_id
    with db.session_scope(service.engine, read_only=True) as session:
        assert [h.serial for h in key_history(session, "region-330000-sm2")] == [before.serial]
    new = ca_service.issue(service, ca_id="region-330000-sm2", profile="organization-identity", subject=subject)
    new_leaf = tmp_path / "new.pem"
    new_leaf.write_bytes(cx.certificate_pem(new.certificate))
    bundle = trust_registry.export_bundle(service, tmp_path / "bundle.json")
    pin = _pins(roots)[0]
    assert main(["verify", str(old_leaf), "--bundle", str(bundle), "--pin", pin]) == 0
    assert main(["verify", str(new_leaf), "--bundle", str(bundle), "--pin", pin]) == 0


def test_root_crl_ceremony_and_replays(machines) -> None:
    offline, service, _roots = machines
    before = _cas(service)["root-sm2"].crl_number
    pending = ceremony.request_root_crls(service)
    data = pending.path.read_bytes()
    response = ceremony.sign_request(offline, data, confirm=_yes)
    assert ceremony.import_response(service, response) == [
        f"CRL {before + 1} of root-sm2",
        f"CRL {before + 1} of root-rsa",
    ]
    published = service.settings.published_dir / "crl" / "root-sm2.crl"
    from trust.formats.crl import load_crl

    assert int(load_crl(published.read_bytes()).crl_number_value.native) == before + 1
    with pytest.raises(TrustError) as again:  # the offline machine never signs the same CRL number twice
        ceremony.sign_request(offline, data, confirm=_yes)
    assert again.value.code is Code.CEREMONY_REQUEST_INVALID and "CRL number" in again.value.message
    with pytest.raises(TrustError) as twice:  # nor does the service import one response twice
        ceremony.import_response(service, response)
    assert twice.value.code is Code.CEREMONY_RESPONSE_INVALID


def test_revoking_a_ca_certificate_under_an_offline_root(machines, tmp_path) -> None:
    """The revocation is recorded at once and carried by the root's next CRL (a ceremony); then the retired regional
    CA certificate is revoked for verifiers, and what its key issued stops verifying."""
    from ca.authority import key_history
    from tests.support.world import ZJ_ORG_USCC
    from trust.formats.crl import load_crl

    offline, service, roots = machines
    with db.session_scope(service.engine, read_only=True) as session:
        history = key_history(session, "region-330000-sm2")
    if not history:  # the re-key test did not run first (-k): re-key now
        pending = ceremony.request_rekey(service, "region-330000-sm2")
        ceremony.import_response(service, ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes))
        with db.session_scope(service.engine, read_only=True) as session:
            history = key_history(session, "region-330000-sm2")
    retired = history[-1]
    leaf = tmp_path / "leaf.pem"
    subject = DN(province="浙江省", organization="测试公司", common_name="测试公司", serial_number=ZJ_ORG_USCC)
    with db.session_scope(service.engine, read_only=True) as session:
        from sqlmodel import col

        from ca.models import IssuedCertificate

        old = session.exec(
            select(IssuedCertificate).where(
                IssuedCertificate.issuer_id == "region-330000-sm2",
                col(IssuedCertificate.created_at) <= retired.retired_at,
            )
        ).first()
    assert old is not None, subject
    leaf.write_bytes(old.der)
    ca_service.revoke(service, serial=retired.serial, reason="superseded")
    pending = ceremony.request_root_crls(service)
    ceremony.import_response(service, ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes))
    crl = load_crl((service.settings.published_dir / "crl" / "root-sm2.crl").read_bytes())
    assert int(retired.serial, 16) in {
        entry["user_certificate"].native for entry in crl["tbs_cert_list"]["revoked_certificates"]
    }
    bundle = trust_registry.export_bundle(service, tmp_path / "bundle.json")
    assert main(["verify", str(leaf), "--bundle", str(bundle), "--pin", _pins(roots)[0]]) != 0


def test_the_operator_sees_every_item_and_may_decline(machines) -> None:
    offline, service, _roots = machines
    pending = ceremony.request_enrol(service, kind="region", code="440000", family="RSA")
    seen: list[str] = []

    def decline(lines: list[str]) -> bool:
        seen.extend(lines)
        return False

    with pytest.raises(TrustError) as declined:
        ceremony.sign_request(offline, pending.path.read_bytes(), confirm=decline)
    assert declined.value.code is Code.CEREMONY_REQUEST_INVALID
    text = "\n".join(seen)
    for expected in ("root-rsa (RSA) signs:", "certificate (region-ca)", "CN=广东省互认CA (RSA)", "path length=0",
                     "name_constraints (critical)", "gd.gov.cn", "RSA 4096 bits", "serial:"):  # fmt: skip
        assert expected in text
    # declined: nothing recorded offline, the request can still be signed
    response = ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes)
    ceremony.import_response(service, response)


def _request(items: list[dict[str, str]], **extra: object) -> bytes:
    body = {
        "type": fmt.REQUEST_TYPE,
        "version": 1,
        "id": "0" * 32,
        "created_at": "2026-12-07T00:00:00Z",
        "items": items,
    }
    body.update(extra)
    return json.dumps(body).encode()


def _tamper(data: bytes, change) -> bytes:
    """The request ``data`` with its first item's TBSCertificate changed by ``change`` (re-encoded as DER)."""
    document = json.loads(data)
    tbs = asn1_x509.TbsCertificate.load(base64.b64decode(document["items"][0]["tbs"]))
    change(tbs)
    document["items"][0]["tbs"] = base64.b64encode(tbs.dump(force=True)).decode()
    return json.dumps(document).encode()


def test_hostile_requests_are_refused_with_the_reason(machines) -> None:
    offline, service, roots = machines
    sm2 = _pins(roots)[0]
    pending = ceremony.request_signers(service)
    good = pending.path.read_bytes()

    def refused(data: bytes, reason: str) -> None:
        with pytest.raises(TrustError) as caught:
            ceremony.sign_request(offline, data, confirm=_yes)
        assert caught.value.code in (Code.CEREMONY_REQUEST_INVALID, Code.INPUT_TOO_LARGE), caught.value
        assert reason in caught.value.message, caught.value.message

    refused(b"not json", "")
    refused(b"{" + b" " * (fmt.MAX_BYTES + 1) + b"}", "exceeds")
    refused(_request([], extra_member=1), "unknown member")
    refused(_request([]), "items must be a list of 1")
    refused(_request([{"root": sm2, "purpose": "root-ca", "tbs": "AA=="}]), "purpose must be one of")
    refused(_request([{"root": sm2, "purpose": "region-ca", "tbs": "not base64!"}]), "not base64")
    refused(_request([{"root": sm2, "purpose": "region-ca", "tbs": "MAA="}]), "not a DER TBSCertificate")
    tbs = base64.b64decode(json.loads(good)["items"][0]["tbs"])
    trailing = base64.b64encode(tbs + b"\x00").decode()
    refused(_request([{"root": sm2, "purpose": "trust-list-signer", "tbs": trailing}]), "not a DER TBSCertificate")
    refused(_request([{"root": "ab" * 32, "purpose": "trust-list-signer", "tbs": base64.b64encode(tbs).decode()}]),
            "which this machine does not hold")  # fmt: skip
    # a signer item relabelled as a CA, and the converse checks on the certificate itself
    relabelled = json.loads(good)
    relabelled["items"][0]["purpose"] = "region-ca"
    refused(json.dumps(relabelled).encode(), "a subordinate CA is a CA with path length 0")

    def make_ca(tbs: asn1_x509.TbsCertificate) -> None:
        for ext in tbs["extensions"]:
            if ext["extn_id"].native == "basic_constraints":
                ext["extn_value"] = {"ca": True}

    refused(_tamper(good, make_ca), "a trust list signer is not a CA")

    def other_issuer(tbs: asn1_x509.TbsCertificate) -> None:
        tbs["issuer"] = DN(organization="某机构", common_name="伪根").to_asn1()

    refused(_tamper(good, other_issuer), "the issuer is not this root")

    def long_lived(tbs: asn1_x509.TbsCertificate) -> None:
        validity = tbs["validity"]
        tbs["validity"] = {
            "not_before": validity["not_before"],
            "not_after": cx.x509_time(validity["not_before"].native.replace(year=2045)),
        }

    refused(_tamper(good, long_lived), "validity beyond the root's or longer than")

    def extra_eku(tbs: asn1_x509.TbsCertificate) -> None:
        for ext in tbs["extensions"]:
            if ext["extn_id"].native == "extended_key_usage":
                ext["extn_value"] = ["1.3.6.1.4.1.32473.1.3.2", "code_signing"]

    refused(_tamper(good, extra_eku), "trust list signing only")
    # nothing of the refused requests was signed: the untouched one still is
    ceremony.import_response(service, ceremony.sign_request(offline, good, confirm=_yes))


def test_responses_that_do_not_answer_the_request_are_refused(machines) -> None:
    offline, service, _roots = machines
    first = ceremony.request_signers(service)
    second = ceremony.request_signers(service)
    answer = json.loads(ceremony.sign_request(offline, first.path.read_bytes(), confirm=_yes))

    def refused(document: dict, reason: str) -> None:
        with pytest.raises(TrustError) as caught:
            ceremony.import_response(service, json.dumps(document).encode())
        assert caught.value.code is Code.CEREMONY_RESPONSE_INVALID, caught.value
        assert reason in caught.value.message, caught.value.message

    refused({**answer, "id": second.id}, "answers another request")
    swapped = {**answer, "signed": list(reversed(answer["signed"]))}
    refused(swapped, "not the one requested")
    forged = bytearray(base64.b64decode(answer["signed"][0]))
    forged[-5] ^= 0x01  # a bit of the root's signature
    refused({**answer, "signed": [base64.b64encode(bytes(forged)).decode(), answer["signed"][1]]}, "")
    refused({**answer, "signed": answer["signed"][:1]}, "1 signed object(s) for 2 requested")
    assert ceremony.import_response(service, json.dumps(answer).encode())[0].startswith("trust list signer")


def test_a_delegated_signer_must_be_the_roots(machines) -> None:
    """The verifier's side: a signature whose x5c names a pinned root but whose signer the root did not certify (or
    certified for something else) is refused, not ignored."""
    from trust.crypto.keys import generate_private_key

    _offline, service, roots = machines
    pins = _pins(roots)
    root_cert = cx.load_certificate((roots / "root-sm2.cer").read_bytes())
    impostor = generate_private_key("sm2")
    start = cx.utc_time(root_cert["tbs_certificate"]["validity"]["not_before"].native)
    fake = (
        cx.CertificateBuilder()
        .subject(DN(common_name="伪签名者").to_asn1())
        .issuer(root_cert.subject)
        .public_key(impostor.public_key)
        .serial_number(7)
        .validity(start, start.replace(year=start.year + 1))
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage({"digital_signature"}))
        .add_extension(cx.extended_key_usage(["1.3.6.1.4.1.32473.1.3.2"]))
        .sign(impostor.signer())  # self-made: not the root's signature
    )
    payload, _ = __import__("trust.formats.jose", fromlist=["parse_json"]).parse_json(
        json.loads(trust_registry.latest_trust_list(service).document)
    )
    listed = tl.TrustList.from_json(json.loads(payload))
    forged = tl.sign(listed, [(impostor.signer(), [fake.dump(), root_cert.dump()])])
    with pytest.raises(InvalidSignature, match="signer certificate refused: the root's signature does not verify"):
        tl.verify_signed(forged, pins, what="trust list")


def test_cli_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The commands of docs/OPERATIONS.md, as an operator types them on the two machines."""
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    offline, service, roots = tmp_path / "offline", tmp_path / "service", tmp_path / "roots"
    assert main(["init", "--offline-root", "--out", str(roots), "--home", str(offline)]) == 0
    assert main(["init", "--root-certificates", str(roots), "--home", str(service)]) == 0
    request = next((service / "ceremony" / "requests").iterdir())
    assert main(["root", "show", str(request), "--home", str(offline)]) == 0
    assert "certificate (national-ca)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))  # the operator answers no
    assert main(["root", "sign", str(request), "--out", str(tmp_path / "r.json"), "--home", str(offline)]) == 3
    assert not (tmp_path / "r.json").exists()
    assert main(["root", "sign", str(request), "--yes", "--out", str(tmp_path / "r.json"), "--home", str(offline)]) == 0
    assert main(["root", "import", str(tmp_path / "r.json"), "--home", str(service)]) == 0
    assert main(["ca", "enrol", "region", "330000", "--home", str(service)]) == 3
    assert "E1210 root-offline" in capsys.readouterr().err
    assert main(["root", "request", "enrol", "region", "330000", "--home", str(service)]) == 0
    assert main(["init", "--offline-root", "--root-certificates", str(roots), "--home", str(tmp_path / "x")]) == 3


@pytest.mark.external
@pytest.mark.slow
def test_the_offline_roots_keys_on_a_token(softhsm, tmp_path: Path) -> None:
    """ "File or token": the offline machine with SoftHSM2 configured makes the RSA root's key on the token (the SM2
    root's in its file store: no standard SM2 mechanism) and signs the first ceremony with it."""
    from trust.settings import Settings

    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_PKCS11_PIN", softhsm.pin)
    try:
        offline = Instance(
            Settings(home=tmp_path / "offline", key_kdf_iterations=2000, pkcs11_module=softhsm.module,
                     pkcs11_token="huren-root"),
            passphrase=PASSPHRASE,
        )  # fmt: skip
        ceremony.init_offline_root(offline, tmp_path / "roots")
    finally:
        mp.undo()
    roots = _cas(offline)
    assert roots["root-rsa"].key_id is not None and roots["root-rsa"].key_id.startswith("p11:huren-root/")
    assert roots["root-sm2"].key_id is not None and not roots["root-sm2"].key_id.startswith("p11:")
    where = {info.key_id: info.location for info in offline.keystore.list()}
    assert where[roots["root-rsa"].key_id] == "pkcs11 token huren-root"
    service = make_instance(tmp_path / "service")
    pending = ceremony.init_service(service, tmp_path / "roots")
    ceremony.import_response(service, ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes))
    national = cx.load_certificate(_cas(service)["national-rsa"].cert_der)
    cx.verify_signature(
        national, cx.public_key(cx.load_certificate((tmp_path / "roots" / "root-rsa.cer").read_bytes()))
    )
