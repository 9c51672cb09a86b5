"""一地注册、各地互认: a verifier holding only the bundle and the root fingerprints judges any region's
certificates offline — including after a region is withdrawn (judged at signing time)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509

from ca import authority
from ca.models import now
from tests.support.server import free_port
from tests.support.world import World, build_world
from trust import db
from trust.crypto import base64url
from trust.crypto.errors import ConflictError, EncodingError, InputError, InvalidSignature
from trust.crypto.keys import generate_private_key
from trust.formats import bundle as bundle_format
from trust.formats import trustlist as tl
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.service import ca as service
from trust.service import trust
from verifier import api, context
from verifier.report import Indication, SubIndication

GD_USCC = make_uscc("91440101MA5CXXX00")


@pytest.fixture(scope="module")
def tl_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("trust-list-world"), free_port())


def _gd_seal(world: World, family: str = "SM2"):
    return service.issue(
        world.instance,
        ca_id=f"region-440000-{family.lower()}",
        profile="seal",
        subject=DN(province="广东省", organization="广州示例有限公司", common_name="公章", serial_number=GD_USCC),
        key_family=family,
    )


def _bundle(world: World) -> bytes:
    return trust.export_bundle(world.instance).read_bytes()


def _pins(world: World) -> dict[str, str]:
    return trust.root_fingerprints(world.instance)


# --- the trust list document --------------------------------------------------------------------------------


def test_trust_list_lists_issuers_services_and_history(tl_world: World) -> None:
    record = trust.latest_trust_list(tl_world.instance)
    parsed, checked = tl.verify(record.document.encode(), list(_pins(tl_world).values()))
    assert parsed.sequence == record.sequence and len(checked.signed_by) == 2
    ids = {i.id: i for i in parsed.issuers}
    assert {"national", "region-330000", "region-440000"} <= set(ids)
    zj = ids["region-330000"]
    assert zj.kind == "region" and zj.code == "330000" and zj.name == "浙江省" and zj.scope == {"region": "330000"}
    types = {s.id: s.type for s in zj.services}
    assert types == {
        "region-330000-sm2": "CA",
        "region-330000-rsa": "CA",
        "region-330000-sm2-ocsp": "OCSP",
        "region-330000-rsa-ocsp": "OCSP",
    }
    assert [e.status for e in zj.status_history] == ["granted"]
    assert parsed.next_update > parsed.issued_at
    assert {r.family for r in parsed.roots} == {"SM2", "RSA"}


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_either_root_alone_verifies_the_trust_list(tl_world: World, family: str) -> None:
    document = trust.latest_trust_list(tl_world.instance).document.encode()
    _parsed, checked = tl.verify(document, [_pins(tl_world)[family]])
    assert checked.signed_by == (_pins(tl_world)[family],)


def test_tampered_or_unpinned_trust_list_refused(tl_world: World) -> None:
    document = json.loads(trust.latest_trust_list(tl_world.instance).document)
    payload = json.loads(base64url.decode(document["payload"]))
    payload["issuers"][0]["name"] = "冒名"
    forged = {**document, "payload": base64url.encode(json.dumps(payload).encode())}
    with pytest.raises(InvalidSignature):
        tl.verify(json.dumps(forged).encode(), list(_pins(tl_world).values()))
    with pytest.raises(InvalidSignature, match="not signed by any pinned"):
        tl.verify(json.dumps(document).encode(), ["00" * 32])
    # A signature by some other key is ignored, not trusted.
    rogue = generate_private_key("sm2")
    rogue_cert = (
        cx.CertificateBuilder()
        .subject(DN(common_name="rogue").to_asn1())
        .issuer(DN(common_name="rogue").to_asn1())
        .public_key(rogue.public_key)
        .serial_number(7)
        .validity(now(), now() + timedelta(days=1))
        .sign(rogue.signer())
    )
    signed = tl.sign(tl.TrustList.from_json(payload), [(rogue.signer(), rogue_cert.dump())])
    with pytest.raises(InvalidSignature, match="not signed by any pinned"):
        tl.verify(json.dumps(signed).encode(), list(_pins(tl_world).values()))
    # A pin one hex digit away from the rogue's fingerprint (always a different digit) is no pin for it.
    rogue_pin = cx.fingerprint(rogue_cert)
    near_pin = rogue_pin[:-1] + ("1" if rogue_pin[-1] == "0" else "0")
    assert near_pin != rogue_pin
    with pytest.raises(InvalidSignature, match="not signed by any pinned"):
        tl.verify(json.dumps(signed).encode(), [near_pin])
    for garbage in (b"", b"[]", b"{", b'{"payload": "x"}', b'{"payload":"e30","signatures":[]}'):
        with pytest.raises((EncodingError, InputError)):
            tl.verify(garbage, list(_pins(tl_world).values()))


def test_sequence_increases_on_every_change(tl_world: World) -> None:
    before = trust.latest_trust_list(tl_world.instance).sequence
    service.enrol(tl_world.instance, kind="region", code="320000", family="SM2")
    after = trust.latest_trust_list(tl_world.instance)
    assert after.sequence == before + 1
    assert (tl_world.home / "public" / "trustlist.json").read_text() == after.document


# --- the bundle -----------------------------------------------------------------------------------------------


def test_bundle_verifies_and_carries_crls(tl_world: World) -> None:
    data = _bundle(tl_world)
    verified = bundle_format.verify(data, [_pins(tl_world)["RSA"]])
    cas = {ca for ca, _der in verified.bundle.crls}
    assert {"root-sm2", "root-rsa", "region-330000-sm2", "region-440000-rsa"} <= cas
    assert verified.trust_list.sequence == trust.latest_trust_list(tl_world.instance).sequence
    tampered = data.replace(b'"payload":"', b'"payload":"A', 1)
    with pytest.raises((InvalidSignature, EncodingError)):
        bundle_format.verify(tampered, [_pins(tl_world)["RSA"]])


def test_stale_bundle_is_a_warning_with_its_age(tl_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trust, "BUNDLE_VALIDITY", timedelta(hours=-5))
    stale = json.dumps(trust.build_bundle(tl_world.instance)).encode()
    cert = _gd_seal(tl_world).certificate
    ctx = context.build(bundle=stale, pins=[_pins(tl_world)["SM2"]])
    report = api.verify(cert.dump(), ctx)
    assert report.indication is Indication.TOTAL_PASSED
    assert any("bundle is stale" in w and "5h" in w for w in report.warnings), report.warnings


def test_bundle_needs_pins() -> None:
    with pytest.raises(InputError, match="pinned national root"):
        context.build(bundle=b"{}", environ={})


# --- cross-region verification and withdrawal ------------------------------------------------------------------


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_guangdong_certificate_verifies_in_another_region(tl_world: World, family: str) -> None:
    cert = _gd_seal(tl_world, family).certificate
    ctx = context.build(bundle=_bundle(tl_world), pins=[_pins(tl_world)["SM2"]], purpose="seal")
    report = api.verify(cert.dump(), ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert [c.name for c in report.checks] == ["parse", "path", "anchor", "names", "profile", "purpose", "trust-list"]
    # the trust list's own certificates (root, regional CA) are held to the RFC 5280 CA profile (issue 12 item 4)
    assert next(c for c in report.checks if c.name == "profile").detail == (
        "RFC 5280 CA profile (trust-list members): 2 certificate(s)"
    )
    assert report.chain[-1].source == "anchor" and report.chain[1].source == "trust-list"


def test_input_forms_detected_by_content(tl_world: World) -> None:
    """PEM after explanatory text (RFC 7468) verifies like DER, and so does a file with the chain after the
    certificate (the first block is the certificate, as for openssl x509); an oversized DER certificate is an input
    error with its specific code, not "unrecognised input"."""
    issued = _gd_seal(tl_world, "SM2")
    cert = issued.certificate
    ctx = context.build(bundle=_bundle(tl_world), pins=[_pins(tl_world)["SM2"]], purpose="seal")
    with_text = b"Certificate:\n    Data:\n        Version: 3 (0x2)\n" + cx.certificate_pem(cert)
    assert api.detect(with_text) == "certificate"
    assert api.verify(with_text, ctx).indication is Indication.TOTAL_PASSED
    chain_file = cx.certificate_pem(cert) + b"\n" + b"".join(cx.certificate_pem(c) for c in issued.chain)
    report = api.verify(chain_file, ctx)
    assert report.indication is Indication.TOTAL_PASSED and report.subject == api.verify(cert.dump(), ctx).subject
    padded = bytearray(cert.dump())
    huge = (
        b"\x30\x83"
        + (cx.MAX_CERT_BYTES + 10).to_bytes(3, "big")
        + bytes(padded)
        + bytes(cx.MAX_CERT_BYTES + 10 - len(padded))
    )
    with pytest.raises(InputError) as caught:
        api.verify(huge, ctx)
    assert caught.value.code.name == "INPUT_TOO_LARGE"


def test_revoked_certificate_fails_from_the_bundle_crl(tl_world: World) -> None:
    victim = _gd_seal(tl_world, "RSA")
    service.revoke(tl_world.instance, serial=victim.record.serial, reason="key_compromise")
    report = api.verify(
        victim.certificate.dump(), context.build(bundle=_bundle(tl_world), pins=[_pins(tl_world)["RSA"]])
    )
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)


def _issue_with_ca_key(world: World, ca_id: str, not_before: datetime) -> asn1_x509.Certificate:
    """What a region holding its own CA key could still sign after its withdrawal (Huren itself refuses)."""
    with db.session_scope(world.instance.engine) as session:
        ca = authority.get_ca(session, ca_id)
        assert ca.key_id is not None
        signer = world.instance.keystore.signer(ca.key_id, authority.algorithm_for(ca.family))
        issuer = authority.ca_certificate(ca)
    key = generate_private_key("sm2")
    return (
        cx.CertificateBuilder()
        .subject(
            DN(
                province="广东省", organization="广州示例有限公司", common_name="撤销后签发", serial_number=GD_USCC
            ).to_asn1()
        )
        .issuer(issuer.subject)
        .public_key(key.public_key)
        .serial_number(authority.new_serial())
        .validity(not_before, not_before + timedelta(days=30))
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage({"digital_signature"}))
        .add_extension(cx.authority_key_identifier(signer.public_key))
        # what the CA's certificates name (a CA's main CRL speaks only for the certificates that name it)
        .add_extension(cx.crl_distribution_point(service.endpoints(world.instance).crl(ca_id)))
        .sign(signer)
    )


def test_withdrawal_judged_at_signing_time(tmp_path: Path) -> None:
    world = build_world(tmp_path, free_port())
    before = _gd_seal(world).certificate
    withdrawn_at = now()
    trust.change_status(
        world.instance,
        subject="issuer",
        subject_id="region-440000",
        status="withdrawn",
        at=withdrawn_at,
        reason="演练：撤销广东",
    )
    after = _issue_with_ca_key(world, "region-440000-sm2", withdrawn_at + timedelta(minutes=1))
    bundle = _bundle(world)
    pins = [_pins(world)["SM2"]]

    old = api.verify(before.dump(), context.build(bundle=bundle, pins=pins))
    assert old.indication is Indication.TOTAL_PASSED, old.to_text()  # judged at its issue time
    issued_at = before["tbs_certificate"]["validity"]["not_before"].native
    at_issue = api.verify(before.dump(), context.build(bundle=bundle, pins=pins, at=issued_at + timedelta(minutes=1)))
    assert at_issue.indication is Indication.TOTAL_PASSED

    new = api.verify(after.dump(), context.build(bundle=bundle, pins=pins, at=withdrawn_at + timedelta(minutes=2)))
    assert new.indication is Indication.TOTAL_FAILED
    assert "region-440000 withdrawn since" in new.errors[0] and "演练" in new.errors[0]
    # Huren itself refuses to issue for a withdrawn issuer.
    with pytest.raises(ConflictError, match="withdrawn"):
        _gd_seal(world)
    # Reinstating restores issuance from then on; the withdrawal stays in the history.
    trust.change_status(world.instance, subject="issuer", subject_id="region-440000", status="granted")
    assert _gd_seal(world).record.status == "valid"
    history = next(
        i
        for i in tl.verify(trust.latest_trust_list(world.instance).document.encode(), pins)[0].issuers
        if i.id == "region-440000"
    ).status_history
    assert [e.status for e in history] == ["granted", "withdrawn", "granted"]


def test_status_change_errors(tl_world: World) -> None:
    from trust.crypto.errors import NotFoundError

    with pytest.raises(NotFoundError):
        trust.change_status(tl_world.instance, subject="issuer", subject_id="region-999999", status="withdrawn")
    with pytest.raises(ConflictError, match="already granted"):
        trust.change_status(tl_world.instance, subject="issuer", subject_id="region-330000", status="granted")
    with pytest.raises(InputError):
        trust.change_status(tl_world.instance, subject="planet", subject_id="x", status="withdrawn")


# --- the CLI contract, offline --------------------------------------------------------------------------------


def _run_verify(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "trust.cli.main", "verify", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
    )


def test_cli_contract(tl_world: World, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(_bundle(tl_world))
    good = tmp_path / "good.pem"
    good.write_bytes(cx.certificate_pem(_gd_seal(tl_world).certificate))
    pin = ["--bundle", str(bundle), "--pin", _pins(tl_world)["SM2"]]
    result = _run_verify([str(good), *pin, "--format", "json", "--purpose", "seal"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("kind", "indication", "sub_indication", "validation_time", "chain", "checks", "warnings", "errors"):
        assert key in report
    assert report["indication"] == "TOTAL_PASSED" and len(report["chain"]) == 3
    text = _run_verify([str(good), *pin])
    assert text.returncode == 0 and text.stdout.decode().startswith("TOTAL-PASSED")
    from_stdin = _run_verify(["-", *pin], stdin=good.read_bytes())
    assert from_stdin.returncode == 0
    # INDETERMINATE (2): no path to an anchor the verifier knows.
    stranger = generate_private_key("sm2")
    name = DN(common_name="不相关的根").to_asn1()
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_bytes(
        cx.certificate_pem(
            cx.CertificateBuilder()
            .subject(name)
            .issuer(name)
            .public_key(stranger.public_key)
            .serial_number(9)
            .validity(now(), now() + timedelta(days=1))
            .add_extension(cx.basic_constraints(True))
            .sign(stranger.signer())
        )
    )
    other = _run_verify([str(good), "--anchor", str(unrelated), "--format", "json"])
    assert other.returncode == 2, other.stdout
    assert json.loads(other.stdout)["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    # TOTAL_FAILED (1): wrong purpose.
    assert _run_verify([str(good), *pin, "--purpose", "tls-server"]).returncode == 1
    # 3: unreadable input, unknown option, bad time, missing file, bundle without pins.
    for args in (
        ["-"],
        [str(tmp_path / "missing")],
        [str(good), "--at", "yesterday"],
        [str(good), "--bogus"],
        [str(good), "--bundle", str(bundle)],
        [str(good), "--format", "xml"],
    ):
        result = _run_verify(args, stdin=b"not a certificate")
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        assert result.stderr


def test_verifier_imports_no_network_or_storage_library(tl_world: World, tmp_path: Path) -> None:
    """In a fresh interpreter: verify through the library and through the CLI entry, then list the modules."""
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(_bundle(tl_world))
    cert = tmp_path / "c.pem"
    cert.write_bytes(cx.certificate_pem(_gd_seal(tl_world).certificate))
    program = f"""
import sys
from verifier import api, context
ctx = context.build(bundle=open({str(bundle)!r}, 'rb').read(), pins=[{_pins(tl_world)["SM2"]!r}])
report = api.verify(open({str(cert)!r}, 'rb').read(), ctx)
assert report.indication.value == 'TOTAL_PASSED', report.to_text()
from trust.cli.main import main
assert main(['verify', {str(cert)!r}, '--bundle', {str(bundle)!r}, '--pin', {_pins(tl_world)["SM2"]!r}]) == 0
forbidden = ('fastapi', 'starlette', 'uvicorn', 'sqlmodel', 'sqlalchemy', 'alembic', 'psycopg', 'httpx',
             'requests', 'urllib3', 'aiohttp')
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set(forbidden))
print('LOADED', loaded)
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout


# --- bundle parts and compression (issue 15 item 4) -------------------------------------------------------------------


def _zj_seal(world: World):
    return service.issue(
        world.instance,
        ca_id="region-330000-sm2",
        profile="seal",
        subject=DN(province="浙江省", organization="杭州示例科技有限公司", common_name="公章", serial_number=GD_USCC),
    )


def test_a_verifier_loads_the_national_part_and_the_regions_it_needs(tl_world: World) -> None:
    """The bundle cut per region: each part signed (and its trust list signed) by both roots, holding only its
    issuers, CRLs and status lists. National + 浙江 verifies a 浙江 certificate as the whole bundle does; a 广东 one is
    not vouched for by those parts; the national part alone does not know 浙江's CA."""
    zj, gd = _zj_seal(tl_world).certificate, _gd_seal(tl_world).certificate
    parts = trust.bundle_parts(tl_world.instance)
    assert {"national", "region:330000", "region:440000"} <= set(parts)  # and any region other tests enrolled
    assert all(name == "national" or name.startswith("region:") for name in parts)
    pins = list(_pins(tl_world).values())
    for name, data in parts.items():
        checked = bundle_format.verify(data, pins)
        assert checked.bundle.part == name and len(checked.signed_by) == 2
        codes = {i.code for i in checked.trust_list.issuers if i.kind == "region"}
        assert codes == (set() if name == "national" else {name.removeprefix("region:")})
        assert {ca for ca, _der in checked.bundle.crls} <= (
            {"root-sm2", "root-rsa", "national-sm2", "national-rsa"}
            if name == "national"
            else {f"region-{name.removeprefix('region:')}-{f}" for f in ("sm2", "rsa")}
        )
    whole = api.verify(zj.dump(), context.build(bundle=_bundle(tl_world), pins=pins))
    assert whole.indication is Indication.TOTAL_PASSED
    needed = context.build(bundle=[parts["national"], parts["region:330000"]], pins=pins)
    assert api.verify(zj.dump(), needed).indication is Indication.TOTAL_PASSED
    assert api.verify(gd.dump(), needed).indication is not Indication.TOTAL_PASSED
    national_only = context.build(bundle=[parts["national"]], pins=pins)
    assert api.verify(zj.dump(), national_only).indication is not Indication.TOTAL_PASSED
    # compressed parts verify the same; the CLI takes --bundle once per part
    packed = [bundle_format.compress(parts["national"]), bundle_format.compress(parts["region:330000"])]
    assert sum(map(len, packed)) < 0.8 * (len(parts["national"]) + len(parts["region:330000"]))
    assert api.verify(zj.dump(), context.build(bundle=packed, pins=pins)).indication is Indication.TOTAL_PASSED


def test_bundle_parts_must_come_from_one_export(tl_world: World) -> None:
    """Parts are refused with a clear error when one is given twice, the national part is missing, a whole bundle is
    mixed with parts, or they were cut from different trust lists (a newer region part with an older national one)."""
    pins = list(_pins(tl_world).values())
    old = trust.bundle_parts(tl_world.instance)
    trust.publish_now(tl_world.instance)
    new = trust.bundle_parts(tl_world.instance)
    cases = {
        "given twice": [old["national"], old["region:330000"], old["region:330000"]],
        "need the national part": [old["region:330000"], old["region:440000"]],
        "whole bundle cannot be combined": [_bundle(tl_world), old["region:330000"]],
        "different trust lists": [old["national"], new["region:330000"]],
    }
    for message, files in cases.items():
        with pytest.raises(InputError, match=message):
            context.build(bundle=files, pins=pins)


def test_compressed_bundles_are_bounded(tl_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gzip bundle that inflates past the document limit stops at the limit (E1002), never allocating the rest; a
    truncated or trailing-garbage gzip is an encoding error."""
    import gzip

    from trust.crypto.errors import Code

    data = _bundle(tl_world)
    packed = bundle_format.compress(data)
    assert bundle_format.decompress(packed) == data and bundle_format.decompress(data) == data
    monkeypatch.setattr(tl, "MAX_DOCUMENT_BYTES", 1024 * 1024)
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))
    with pytest.raises(InputError) as too_large:
        bundle_format.decompress(bomb)
    assert too_large.value.code is Code.INPUT_TOO_LARGE
    for broken in (packed[:-20], packed + b"trailing"):
        with pytest.raises(EncodingError):
            bundle_format.decompress(broken)
