"""A patched verification context says what it knows (branch ctxname): its reports name the state version it was
brought to, when the service read that version and the CRLs and status lists patched in since the bundle
(``source.state``), and "newer than the bundle" is judged from that moment on — so a verification right after a patch
gives what a context rebuilt from the whole bundle at the same moment gives. The offline verifier (``trust verify``
with a bundle file) is unchanged."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ca.models import CrlShard
from licenses import samples
from tests.support.world import World, copy_world_with_issuer
from tests.verifier.test_report_schema import VALIDATOR
from trust import db
from trust.crypto.keys import generate_private_key
from trust.formats import jose
from trust.formats import license_token as token
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import licenses, state, verification
from trust.service import trust as trust_service
from verifier import api, context

BUSINESS = "11100000000013338W101"
ZJ_SM2 = "region-330000-sm2"


def _seal(index: int) -> DN:
    return DN(
        province="浙江省",
        organization=f"杭州状态测试{index}有限公司",
        common_name="合同专用章",
        serial_number=make_uscc(f"91330106MA2CFC{index:03d}"),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> tuple[World, str]:
    return copy_world_with_issuer(world_template, tmp_path_factory.mktemp("ctxname") / "home", BUSINESS)


def _verdict(report: dict[str, Any]) -> tuple[Any, Any]:
    return report["indication"], report.get("sub_indication")


def _service_reports(world: World, inputs: list[bytes]) -> list[dict[str, Any]]:
    ctx = verification.context_for(world.instance, at=None, purpose="auto", revocation="available")
    return [verification.verify(data, ctx) for data in inputs]


def _rebuilt_verdicts(world: World, inputs: list[bytes]) -> list[tuple[Any, Any]]:
    """The verdicts of a context built from the whole signed bundle now."""
    pins = list(trust_service.root_fingerprints(world.instance).values())
    ctx = context.build(bundle=trust_service.current_bundle_bytes(world.instance), pins=pins)
    return [_verdict(verification.verify(data, ctx)) for data in inputs]


def _unlisted_token(made: Any) -> bytes:
    """``made``'s licence token issued again now under a key the trust list does not hold (kid unknown): "not listed",
    which is INDETERMINATE/TRY_LATER only while the token is newer than what the verifier knows."""
    header, body = token.parse_unverified(made.record.token)
    header = {**header, "kid": "unlisted-" + header.get("kid", "key")}
    body["iat"] = int(time.time())
    return jose.sign_compact(token.encode_claims(body), generate_private_key("sm2").signer(), headers=header).encode()


def test_a_verification_right_after_a_patch_equals_a_full_rebuild(site: tuple[World, str]) -> None:
    """revoke → patch → verify: the same indication and sub-indication as a context rebuilt from the whole bundle at
    the same moment, for the revoked certificate (REVOKED) and for a token of a key no trust list lists, made after the
    context was built. Before: the patched context kept the bundle's time, so that token stayed "newer than the
    bundle" (INDETERMINATE/TRY_LATER) for up to REBUILD_AFTER, where a rebuild says NO_SIGNING_CERTIFICATE_FOUND."""
    world, issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(1))
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    _service_reports(world, [cert.certificate.dump()])  # the service's context is current, made before the token
    unlisted = _unlisted_token(made)
    inputs = [cert.certificate.dump(), unlisted]
    early = [_verdict(r) for r in _service_reports(world, inputs)]
    assert early[1] == ("INDETERMINATE", "TRY_LATER")  # newer than anything the context knows: perhaps listed later
    time.sleep(1.1)  # the token's iat (whole seconds) now lies before any later bundle or read
    before = verification.updates_made(world.instance)
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    patched = [_verdict(r) for r in _service_reports(world, inputs)]
    after = verification.updates_made(world.instance)
    assert after.get("patched", 0) == before.get("patched", 0) + 1  # taken in by a patch, not a rebuild
    assert after.get("rebuilt", 0) == before.get("rebuilt", 0)
    rebuilt = _rebuilt_verdicts(world, inputs)
    assert rebuilt == [("TOTAL_FAILED", "REVOKED"), ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND")]
    assert patched == rebuilt


def test_the_report_of_a_patched_context_names_the_patched_state(site: tuple[World, str]) -> None:
    """``source.state``: the state version the context was brought to, when it was read, and the CRL partition and the
    status list patched in since the bundle (each by its SHA-256); ``source.bundle`` still names the bundle it started
    from. The report fits the published schema."""
    world, issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(2))
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    trust_service.publish_now(world.instance)  # the next verification rebuilds: no patch before this test's
    first = _service_reports(world, [cert.certificate.dump()])[0]["source"]
    assert first["state"]["patched_crls"] == [] and first["state"]["patched_status_lists"] == []
    assert first["state"]["version"] == state.database_version(world.instance.engine)
    started = datetime.now(UTC)
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    licenses.set_status(world.instance, made.record.identifier, "suspended", "核查")
    report = _service_reports(world, [cert.certificate.dump()])[0]
    assert [error.message for error in VALIDATOR.iter_errors(report)] == []
    source = report["source"]
    assert source["bundle"] == first["bundle"]  # the bundle it was built from
    assert source["state"]["version"] == state.database_version(world.instance.engine)
    assert datetime.fromisoformat(source["state"]["known_current_at"]) >= started
    assert cert.record.crl_shard is not None
    with db.session_scope(world.instance.engine, read_only=True) as session:
        shard = session.get(CrlShard, (ZJ_SM2, cert.record.crl_shard, ""))
        assert shard is not None
        der = bytes(shard.der)
    assert [entry["sha256"] for entry in source["state"]["patched_crls"]] == [hashlib.sha256(der).hexdigest()]
    assert source["state"]["patched_crls"][0]["issuer"]
    record = licenses.get(world.instance, made.record.identifier)
    tokens = {item["uri"]: item["token"] for item in licenses.all_status_list_tokens(world.instance)}
    listed = source["state"]["patched_status_lists"]
    assert len(listed) == 1 and listed[0]["uri"] in tokens and record.status == "suspended"
    assert listed[0]["sha256"] == hashlib.sha256(tokens[listed[0]["uri"]].encode()).hexdigest()


def test_the_offline_verifier_is_unchanged(
    site: tuple[World, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trust verify`` with a bundle file: the report's ``source`` names the bundle and its trust list only (no
    ``state``), and "newer than the bundle" starts at the bundle's ``created_at``."""
    from trust.cli.main import main

    world, _issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(3))
    data = trust_service.current_bundle_bytes(world.instance)
    pins = list(trust_service.root_fingerprints(world.instance).values())
    ctx = context.build(bundle=data, pins=pins)
    assert ctx.state is None and ctx.bundle is not None and ctx.known_current_at == ctx.bundle.created_at
    (tmp_path / "bundle.json").write_bytes(data)
    (tmp_path / "cert.der").write_bytes(cert.certificate.dump())
    capsys.readouterr()
    bundle, certificate = str(tmp_path / "bundle.json"), str(tmp_path / "cert.der")
    code = main(["verify", certificate, "--bundle", bundle, "--pin", pins[0], "--format", "json"])
    assert code == 0
    source = json.loads(capsys.readouterr().out)["source"]
    assert set(source) == {"bundle", "trust_list", "anchors", "crls", "ocsp_responses", "status_lists"}
    assert source["bundle"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert source == api.verify(cert.certificate.dump(), ctx).to_dict()["source"]


def test_a_patched_context_is_not_taken_for_the_bundle_signed_after_it(site: tuple[World, str]) -> None:
    """revoke → patch → ``GET /bundle`` (the patched entry gets its signed bundle) → a change that leaves the bundle's
    content the same (``state.bump``): the context is rebuilt from that bundle, so the report names the bundle that
    holds the revocation (its SHA-256 is what ``GET /bundle`` serves, and it lists the serial). Before (branch
    storefix): the "same bundle" shortcut kept the patched context and stamped it with empty patch lists, so the report
    named the pre-patch bundle with nothing patched in, though its context held the newer CRL."""
    world, _issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(4))
    trust_service.publish_now(world.instance)
    first = _service_reports(world, [cert.certificate.dump()])[0]
    assert first["indication"] == "TOTAL_PASSED"
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    patched = _service_reports(world, [cert.certificate.dump()])[0]
    assert _verdict(patched) == ("TOTAL_FAILED", "REVOKED") and patched["source"]["state"]["patched_crls"]
    verification.bundle_bytes(world.instance)  # GET /bundle
    with db.session_scope(world.instance.engine) as session:
        state.bump(session)
    after = _service_reports(world, [cert.certificate.dump()])[0]
    assert _verdict(after) == ("TOTAL_FAILED", "REVOKED")
    served = verification.bundle_bytes(world.instance)
    named = after["source"]["bundle"]["sha256"]
    if not after["source"]["state"]["patched_crls"]:  # nothing patched in: the bundle it names holds everything
        assert named == hashlib.sha256(served).hexdigest() != first["source"]["bundle"]["sha256"]
        pins = list(trust_service.root_fingerprints(world.instance).values())
        offline = verification.verify(cert.certificate.dump(), context.build(bundle=served, pins=pins))
        assert _verdict(offline) == ("TOTAL_FAILED", "REVOKED")
