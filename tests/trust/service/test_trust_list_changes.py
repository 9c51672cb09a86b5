"""The trust list and bundle as the service keeps them: the sequence grows with every change, a stale bundle is
reported with its age, a withdrawal is judged at signing time and stops issuance, bad status changes are refused.
End-to-end (a world per module); what a verifier makes of the published documents is tests/verifier/test_trust_list.py,
on the golden artefacts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509

from ca import authority
from ca.models import now
from tests.support.world import World, copy_world
from trust import db
from trust.crypto.errors import Code, ConflictError, EncodingError, InputError
from trust.crypto.keys import generate_private_key
from trust.formats import bundle as bundle_format
from trust.formats import trustlist as tl
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.service import ca as service
from trust.service import trust
from verifier import api, context
from verifier.report import Indication

GD_USCC = make_uscc("91440101MA5CXXX00")


@pytest.fixture(scope="module")
def tl_world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("trust-list-world") / "home")


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


def test_sequence_increases_on_every_change(tl_world: World) -> None:
    before = trust.latest_trust_list(tl_world.instance).sequence
    service.enrol(tl_world.instance, kind="region", code="320000", family="SM2")
    after = trust.latest_trust_list(tl_world.instance)
    assert after.sequence == before + 1
    assert (tl_world.home / "public" / "trustlist.json").read_text() == after.document


def test_stale_bundle_is_a_warning_with_its_age(tl_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trust, "BUNDLE_VALIDITY", timedelta(hours=-5))
    stale = json.dumps(trust.build_bundle(tl_world.instance)).encode()
    cert = _gd_seal(tl_world).certificate
    ctx = context.build(bundle=stale, pins=[_pins(tl_world)["SM2"]])
    report = api.verify(cert.dump(), ctx)
    assert report.indication is Indication.TOTAL_PASSED
    assert any("bundle is stale" in w and "5h" in w for w in report.warnings), report.warnings


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


def test_withdrawal_judged_at_signing_time(tmp_path: Path, world_template: World) -> None:
    world = copy_world(world_template, tmp_path / "home")
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

    data = _bundle(tl_world)
    packed = bundle_format.compress(data)
    assert bundle_format.decompress(packed) == data and bundle_format.decompress(data) == data
    monkeypatch.setattr(bundle_format, "MAX_BUNDLE_BYTES", 1024 * 1024)
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))
    with pytest.raises(InputError) as too_large:
        bundle_format.decompress(bomb)
    assert too_large.value.code is Code.INPUT_TOO_LARGE
    for broken in (packed[:-20], packed + b"trailing"):
        with pytest.raises(EncodingError):
            bundle_format.decompress(broken)
