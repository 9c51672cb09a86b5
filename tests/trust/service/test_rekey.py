"""``trust keys rekey`` on the file store (issue 20 item 3): the demo world's RSA and SM2 TSAs, the RSA regional CA's
OCSP responder, a dual seal and the RS256 licence issuer get new keys and certificates; what they signed before the
re-key — time-stamps, OCSP responses, sealed PDFs, SES signatures, licence tokens — still verifies with ``trust verify``
against the bundle exported after it, and with OpenSSL, pyHanko and PyJWT; the trust list shows the old certificate
of each service as history; every re-key is audited; new signatures are made with the new keys.

The token variant is ``test_rekey_token.py``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from sqlalchemy import create_engine
from sqlmodel import Session, select

from ca.models import IssuedCertificate
from licenses.models import LicenseIssuer
from tests.support.demo import copy_demo, demo_environment, demo_index, demo_pins
from tests.trust.service import test_demo_peers as peers
from trust.cli.main import main
from trust.formats import ocsp as ocsp_mod
from trust.formats import tsp
from trust.service import audit, keys_rekey
from trust.service import registry as trust_registry
from trust.service.instance import Instance

pytestmark = [pytest.mark.slow]
OCSP_CA = "region-330000-rsa"


@dataclass
class World:
    home: Path
    instance: Instance
    bundle: Path
    subjects: dict[str, tuple[str, str]]  # name -> (kind, id)
    before: dict[str, tuple[str | None, bytes]]  # name -> (key id, certificate DER) before the re-key
    mp: pytest.MonkeyPatch
    original: Path  # the session's demo world, copied


def _current(instance: Instance, kind: str, subject_id: str) -> tuple[str | None, bytes]:
    with Session(instance.engine) as session:
        key_id = keys_rekey.current_key(session, kind, subject_id)
        record = session.exec(select(IssuedCertificate).where(IssuedCertificate.key_id == key_id)).one()
        return key_id, record.der


@pytest.fixture(scope="module")
def world(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A copy of the session's demo world (``conftest.py``; checked complete by :func:`copy_demo`), re-keyed through
    the CLI: the re-keys change only the copy."""
    from trust.cli.common import instance as cli_instance
    from trust.service import trust

    home = copy_demo(demo, tmp_path_factory.mktemp("rekey-demo") / "home")
    mp = demo_environment()
    instance = cli_instance(home)
    assert instance.settings.effective_database_url == f"sqlite:///{(home / 'huren.db').resolve()}"
    rs256 = next(e for e in demo_index(home) if e["id"] == "license-w101-rs256-token")
    signed = next(e for e in demo_index(home) if e["kind"] == "ses-signature")  # its seal also seals the contracts
    subjects = {
        "tsa-rsa": ("tsa", "RSA"),
        "tsa-sm2": ("tsa", "SM2"),
        "ocsp": ("ocsp", OCSP_CA),
        "seal": ("seal", signed["es_id"]),
        "issuer": ("license-issuer", rs256["issuer"]),
    }
    before = {name: _current(instance, kind, sid) for name, (kind, sid) in subjects.items()}
    for kind, sid in subjects.values():
        assert main(["keys", "rekey", kind, sid, "--home", str(home)]) == 0, (kind, sid)
    bundle = home / "bundle-after-rekey.json"
    trust.export_bundle(instance, bundle)
    try:
        yield World(home, instance, bundle, subjects, before, mp, demo)
    finally:
        instance.engine.dispose()
        mp.undo()


def test_the_session_world_was_left_as_it_was(world: World) -> None:
    """The re-keys changed the copy only: the session's world still has every old key as the current one."""
    engine = create_engine(f"sqlite:///file:{world.original / 'huren.db'}?mode=ro&uri=true")
    try:
        for name, (kind, sid) in world.subjects.items():
            with Session(engine) as session:
                assert keys_rekey.current_key(session, kind, sid) == world.before[name][0], name
                assert not session.exec(select(audit.AuditEntry).where(audit.AuditEntry.action == "key.rekey")).all()
    finally:
        engine.dispose()
    assert not (world.original / "bundle-after-rekey.json").exists()


def test_each_key_and_certificate_is_new_and_the_old_one_retired_not_revoked(world: World) -> None:
    for name, (kind, sid) in world.subjects.items():
        old_key, old_der = world.before[name]
        new_key, new_der = _current(world.instance, kind, sid)
        assert new_key != old_key and new_der != old_der and new_key is not None, name
        assert not new_key.startswith("p11:")  # no --token: the file store
        with Session(world.instance.engine) as session:
            old = session.exec(select(IssuedCertificate).where(IssuedCertificate.der == old_der)).one()
        assert old.status == "valid" and old.key_id == old_key, name  # retired, not revoked; its key kept


def test_the_trust_list_shows_the_old_certificates_as_history(world: World) -> None:
    services = {"tsa-rsa": "national-rsa-tsa", "tsa-sm2": "national-sm2-tsa", "ocsp": f"{OCSP_CA}-ocsp"}
    services["issuer"] = f"license-issuer-{world.subjects['issuer'][1]}"
    now_current = {name: _current(world.instance, *world.subjects[name])[1] for name in services}
    with Session(world.instance.engine) as session:
        latest = trust_registry.latest(session)
        assert latest is not None
        for name, service_id in services.items():
            record = session.get(trust_registry.ServiceRecord, service_id)
            assert record is not None, service_id
            assert record.cert_der == now_current[name], name
            assert base64.b64encode(world.before[name][1]).decode() in json.loads(record.previous_certs), name
    payload = json.loads(latest.document)["payload"]
    listed = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    for name in services:  # in the signed, published list: the new certificate and the retired one
        assert base64.b64encode(world.before[name][1]).decode() in listed, name
        assert base64.b64encode(now_current[name]).decode() in listed, name


def test_every_rekey_is_audited(world: World) -> None:
    with Session(world.instance.engine) as session:
        entries = session.exec(select(audit.AuditEntry).where(audit.AuditEntry.action == "key.rekey")).all()
    subjects = {e.subject for e in entries}
    assert subjects == {f"{kind} {sid}" for kind, sid in world.subjects.values()}
    for entry in entries:
        details = audit.parse_details(entry.details)
        assert details["retired"] and details["new"] and details["where"] == "file store"
    assert audit.verify(world.instance.engine).ok


def test_trust_verify_passes_what_was_signed_before_the_rekey(world: World) -> None:
    """Every demo artefact (sealed PDFs with their time-stamps and OCSP responses, SES signatures, licence tokens,
    QR payloads, certificates) gets its expected verdict against the bundle exported after the re-key."""
    out = world.home / "out"
    pin = demo_pins(world.home)[0]
    exits = {"TOTAL_PASSED": 0, "TOTAL_FAILED": 1}
    counted: dict[str, int] = {}
    for entry in demo_index(world.home):
        if entry["kind"] in ("crl", "ocsp-response", "timestamp", "trust-list", "bundle", "entity-configuration"):
            continue
        args = ["verify", str(out / entry["path"]), "--bundle", str(world.bundle), "--pin", pin]
        if entry.get("data"):
            args += ["--data", str(out / entry["data"])]
        assert main(args) == exits[entry["expect"]], entry["id"]
        counted[entry["kind"]] = counted.get(entry["kind"], 0) + 1
    assert counted["license-pdf"] >= 6 and counted["license-qr"] >= 5, counted


def test_peers_verify_what_was_signed_before_the_rekey(world: World, tmp_path: Path) -> None:
    """OpenSSL (the RSA time-stamps and OCSP responses), pyHanko (the RSA-sealed PDFs) and PyJWT (the RS256 token,
    with the retired certificate's key)."""
    from cryptography import x509

    from tests.trust.service.test_demo_token import _pyjwt_verify

    peers.test_openssl_verifies_every_rsa_certificate_crl_ocsp_response_and_timestamp(world.home, tmp_path)
    peers.test_pyhanko_validates_the_rsa_pdf_signatures_from_the_dss_alone(world.home)
    entry = next(e for e in demo_index(world.home) if e["id"] == "license-w101-rs256-token")
    jws = (world.home / "out" / entry["path"]).read_text().strip()
    key = x509.load_der_x509_certificate(world.before["issuer"][1]).public_key()
    assert _pyjwt_verify(jws, "RS256", key)["iss"]


def test_new_signatures_are_made_with_the_new_keys(world: World, tmp_path: Path) -> None:
    from licenses import samples
    from trust.service import licenses, ocsp
    from trust.service import tsa as tsa_service
    from trust.service.seals import signing
    from verifier import api, context

    instance = world.instance
    # the time-stamp (the TSA cache of this process was dropped by the re-key)
    request = tsp.build_request(hash_algorithm="sha256", message_digest=bytes(32), nonce=7)
    verified = tsp.verify_response(tsa_service.timestamp(instance, request, "RSA"), message_digest=bytes(32), nonce=7)
    assert verified.tsa_certificate.dump() == _current(instance, "tsa", "RSA")[1]
    # the OCSP responder answers with its new certificate
    old_response = [e for e in demo_index(world.home) if e["kind"] == "ocsp-response" and e.get("issuer") == OCSP_CA]
    assert old_response, "the demo has an OCSP response of the RSA regional CA"
    cert_ids = ocsp_mod.response_cert_ids((world.home / "out" / old_response[0]["path"]).read_bytes())
    answer = ocsp.respond(instance, ocsp_mod.build_request(cert_ids))
    basic = asn1_ocsp.OCSPResponse.load(answer)["response_bytes"]["response"].parsed
    assert basic["certs"][0].dump() == _current(instance, "ocsp", OCSP_CA)[1]
    # a licence token and an SES signature verify against the bundle
    ctx = context.build(bundle=world.bundle.read_bytes(), pins=demo_pins(world.home)[:1])
    issuer_id = world.subjects["issuer"][1]
    with Session(instance.engine) as session:
        issuer = session.get(LicenseIssuer, issuer_id)
        assert issuer is not None
        type_code = json.loads(issuer.license_types)[0]
    made = licenses.issue(instance, issuer_id=issuer_id, type_code=type_code, fields=samples.sample(type_code))
    assert api.verify(made.record.token.encode(), ctx).indication.value == "TOTAL_PASSED"
    data = b"a contract signed after the re-key"
    signature = signing.sign_hash(instance, es_id=world.subjects["seal"][1], data=data, property_info="rekey.txt")
    report = api.verify(signature, ctx, signed_data=data)
    assert report.indication.value == "TOTAL_PASSED", report


def test_refusals(world: World) -> None:
    from trust.crypto.errors import Code, TrustError

    cases = [
        (("tsa", "EC"), Code.INVALID_INPUT),
        (("nothing", "x"), Code.INVALID_INPUT),
        (("license-issuer", "no-such-issuer"), Code.NOT_FOUND),
        (("tsa", "RSA", "huren-none"), Code.REKEY_TOKEN_MISMATCH),  # no token configured
    ]
    for args, code in cases:
        with pytest.raises(TrustError) as caught:
            keys_rekey.rekey(world.instance, args[0], args[1], token=args[2] if len(args) > 2 else None)
        assert caught.value.code is code, args
