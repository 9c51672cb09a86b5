"""A change patches the verification context instead of rebuilding it (issue 15 item 1, branch ctxpatch): a
revocation or a licence status change is taken into each worker's context as the one changed CRL partition or Status
List Token (``trust.service.state.changes``, ``verifier.context.VerificationContext.patched``); a publication, an
unrecorded change or refused material rebuilds it from the whole signed bundle, as before."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl as asn1_crl
from sqlalchemy import text

from ca import authority
from ca.authority import crls
from ca.models import CrlShard
from licenses import samples
from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import World, copy_world_with_issuer, make_instance
from trust import db
from trust.crypto.errors import InputError, InvalidSignature
from trust.formats import crl as crl_mod
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import licenses, state, verification
from trust.service import trust as trust_service
from verifier import context

BUSINESS = "11100000000013338W101"
ZJ_SM2 = "region-330000-sm2"


def _seal(index: int) -> DN:
    return DN(
        province="浙江省",
        organization=f"杭州补丁测试{index}有限公司",
        common_name="合同专用章",
        serial_number=make_uscc(f"91330106MA2CFB{index:03d}"),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> tuple[World, str]:
    return copy_world_with_issuer(world_template, tmp_path_factory.mktemp("ctxpatch") / "home", BUSINESS)


def _verdict(report: dict[str, Any]) -> tuple[Any, Any]:
    return report["indication"], report.get("sub_indication")


def _service_verdicts(world: World, inputs: list[bytes]) -> list[tuple[Any, Any]]:
    ctx = verification.context_for(world.instance, at=None, purpose="auto", revocation="available")
    return [_verdict(verification.verify(data, ctx)) for data in inputs]


def _rebuilt_verdicts(world: World, inputs: list[bytes]) -> list[tuple[Any, Any]]:
    """The verdicts of a context built from the whole signed bundle now (what every change cost before)."""
    pins = list(trust_service.root_fingerprints(world.instance).values())
    ctx = context.build(bundle=trust_service.current_bundle_bytes(world.instance), pins=pins)
    return [_verdict(verification.verify(data, ctx)) for data in inputs]


def test_changes_are_recorded_by_what_they_touched(site: tuple[World, str]) -> None:
    """Each bump writes what it changed: a revocation its CRL partition, a licence status change its status list, a
    publication ``full``; issuance writes nothing; a bump made by raw SQL leaves a gap, read as "rebuild"."""
    world, issuer = site
    engine = world.instance.engine
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    start = state.database_version(engine)
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(1))
    assert state.database_version(engine) == start
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    assert cert.record.crl_shard is not None
    assert state.changes(engine, start, start + 1) == {("crl_shard", ZJ_SM2, cert.record.crl_shard, "")}
    licenses.set_status(world.instance, made.record.identifier, "suspended", "核查")
    assert state.changes(engine, start + 1, start + 2) == {("status_list", made.record.status_list_id)}
    assert state.changes(engine, start, start + 2) == {
        ("crl_shard", ZJ_SM2, cert.record.crl_shard, ""),
        ("status_list", made.record.status_list_id),
    }
    trust_service.publish_now(world.instance)
    assert state.changes(engine, start, start + 3) is None  # a new trust list: rebuild
    with db.session_scope(engine) as session:
        session.execute(text("UPDATE state_version SET version = version + 1 WHERE name = 'verification'"))
    assert state.changes(engine, start + 3, start + 4) is None  # no row for that version: rebuild
    assert state.changes(engine, start + 4, start + 4) == set()


def test_a_patched_context_gives_the_verdicts_of_a_rebuilt_one(site: tuple[World, str]) -> None:
    """A random sequence of revocations (one on hold first, then for good: its partition re-based), licence status
    changes and a publication: after each, the service's context — patched for a revocation or a status change,
    rebuilt for the publication — gives exactly the verdicts of a context built from the whole new bundle, on every
    certificate and licence."""
    world, issuer = site
    rng = random.Random(15)
    certs = [ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(10 + i)) for i in range(6)]
    made = [
        licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
        for _ in range(3)
    ]
    inputs = [c.certificate.dump() for c in certs] + [m.record.token.encode() for m in made]
    assert _service_verdicts(world, inputs) == _rebuilt_verdicts(world, inputs)  # the context exists: warm
    steps = [
        "revoke",
        "status",
        "publish",
        "hold",
        *rng.choices(["revoke", "status"], k=4),
    ]  # 2 of 3 licences stay open
    rng.shuffle(steps)
    unrevoked = list(range(len(certs)))
    held: list[int] = []
    for step in steps:
        before = verification.updates_made(world.instance)
        if step == "revoke" and (held or unrevoked):
            index = held.pop() if held else unrevoked.pop(rng.randrange(len(unrevoked)))
            ca_service.revoke(world.instance, serial=certs[index].record.serial, reason="key_compromise")
        elif step == "hold" and unrevoked:
            index = unrevoked.pop(rng.randrange(len(unrevoked)))
            ca_service.revoke(world.instance, serial=certs[index].record.serial, reason="certificate_hold")
            held.append(index)
        elif step == "status":
            statuses = {m.record.identifier: licenses.get(world.instance, m.record.identifier).status for m in made}
            open_ones = sorted(i for i, status in statuses.items() if status != "revoked")  # revoked is final
            identifier = rng.choice(open_ones)
            target = rng.choice([s for s in ("suspended", "valid", "revoked") if s != statuses[identifier]])
            licenses.set_status(world.instance, identifier, target, "核查")
        else:
            step = "publish"
            trust_service.publish_now(world.instance)
        patched = _service_verdicts(world, inputs)
        after = verification.updates_made(world.instance)
        moved = {key for key in ("patched", "rebuilt") if after.get(key, 0) != before.get(key, 0)}
        assert moved == ({"rebuilt"} if step == "publish" else {"patched"}), (step, before, after)
        assert patched == _rebuilt_verdicts(world, inputs), step
    assert ("TOTAL_FAILED", "REVOKED") in _service_verdicts(world, inputs)


def test_get_bundle_after_a_patch_carries_the_change(site: tuple[World, str]) -> None:
    """After a patch the served bundle is signed again when asked for (once per version), and lists the revocation."""
    world, _issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(30))
    _service_verdicts(world, [cert.certificate.dump()])
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    assert _service_verdicts(world, [cert.certificate.dump()]) == [("TOTAL_FAILED", "REVOKED")]
    assert verification.current(world.instance).bundle is None  # patched: not signed on the verification's path
    pins = list(trust_service.root_fingerprints(world.instance).values())
    served = context.build(bundle=verification.bundle_bytes(world.instance), pins=pins)
    listed = {
        entry["user_certificate"].native
        for der in served.crls
        for entry in crl_mod.load_crl(der)["tbs_cert_list"]["revoked_certificates"]
    }
    assert int(cert.record.serial, 16) in listed
    assert verification.bundle_bytes(world.instance) is verification.bundle_bytes(world.instance)


def _emptied(der: bytes) -> bytes:
    """``der`` with its entries taken out and its signature left as it was: a CRL its CA never signed."""
    tampered = asn1_crl.CertificateList.load(der)
    tampered["tbs_cert_list"]["revoked_certificates"] = asn1_crl.RevokedCertificates([])
    return bytes(tampered.dump(force=True))


def _partition(world: World, shard: int) -> bytes:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        row = session.get(CrlShard, (ZJ_SM2, shard, ""))
        assert row is not None
        return bytes(row.der)


def _other_partition_crl(world: World, shard: int) -> bytes:
    """A genuine CRL of the CA for a partition the context does not hold (made in a transaction rolled back)."""
    with db.session_scope(world.instance.engine) as session:
        ca = authority.get_ca(session, ZJ_SM2)
        uris = crls.open_partitions(session, world.instance.keystore, ca_service.endpoints(world.instance), ca, [shard])
        row = session.get(CrlShard, (ZJ_SM2, shard, ""))
        assert row is not None and uris[shard]
        der = bytes(row.der)
        session.rollback()
    return der


def test_a_forged_older_or_wrong_partition_crl_is_refused(site: tuple[World, str]) -> None:
    """The CRL a patch takes is checked as a CRL: signed by its CA (a CRL with the CA's name and partition signed by
    another key is refused), for a partition the context holds (a genuine CRL of another partition is refused), and
    not older than the one it replaces."""
    world, _issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(40))
    shard = cert.record.crl_shard
    assert shard is not None
    pins = list(trust_service.root_fingerprints(world.instance).values())
    base = context.build(bundle=trust_service.current_bundle_bytes(world.instance), pins=pins)
    current = _partition(world, shard)
    assert current in base.crls
    forged = _emptied(current)  # its entries dropped, the CA's signature kept: no longer what the CA signed
    with pytest.raises(InvalidSignature):
        base.patched(crls=[forged])
    with pytest.raises(InputError, match="matches no single CRL"):
        base.patched(crls=[_other_partition_crl(world, 977)])
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    newer = _partition(world, shard)
    patched = base.patched(crls=[newer])
    assert newer in patched.crls and current not in patched.crls and len(patched.crls) == len(base.crls)
    assert patched.revoked_serials is not None and cert.certificate["tbs_certificate"]["serial_number"].dump() in (
        patched.revoked_serials
    )
    with pytest.raises(InputError, match="older"):
        patched.patched(crls=[current])


def test_refused_material_in_the_change_path_rebuilds(site: tuple[World, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """If what the change record names cannot be applied (here: a forged CRL read for the changed partition), the
    service does not use it: it rebuilds the context from the signed bundle, and the verdict is the bundle's."""
    world, _issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(50))
    data = cert.certificate.dump()
    _service_verdicts(world, [data])
    real = verification._changed_material

    def forged(instance: Any, changed: set[tuple[Any, ...]]) -> tuple[list[bytes], list[dict[str, str]]]:
        found, tokens = real(instance, changed)
        return [_emptied(der) for der in found], tokens  # were it taken, the revoked certificate would pass

    monkeypatch.setattr(verification, "_changed_material", forged)
    before = verification.updates_made(world.instance)
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    assert _service_verdicts(world, [data]) == [("TOTAL_FAILED", "REVOKED")]
    after = verification.updates_made(world.instance)
    assert after.get("rebuilt", 0) == before.get("rebuilt", 0) + 1
    assert after.get("patched", 0) == before.get("patched", 0)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


@pytest.mark.postgres
def test_a_revocation_through_one_worker_patches_the_other_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    """Two workers on one PostgreSQL database (two instances, engines and contexts): a revocation committed through
    one is REVOKED in the other's next verification, by a patch of its context (the change row is shared through the
    database), and two revocations committed between its verifications are taken in one patch."""
    port = free_port()
    one = make_instance(tmp_path / "home", port, postgres_url)
    ca_service.init(one)
    ca_service.enrol(one, kind="region", code="330000", family="SM2")
    other = make_instance(tmp_path / "home", port, postgres_url)
    try:
        certs = [ca_service.issue(one, ca_id=ZJ_SM2, profile="seal", subject=_seal(60 + i)) for i in range(3)]
        inputs = [c.certificate.dump() for c in certs]

        def verdicts() -> list[tuple[Any, Any]]:
            ctx = verification.context_for(other, at=None, purpose="auto", revocation="available")
            return [_verdict(verification.verify(data, ctx)) for data in inputs]

        assert verdicts() == [("TOTAL_PASSED", None)] * 3
        before = verification.updates_made(other)
        ca_service.revoke(one, serial=certs[0].record.serial, reason="key_compromise")
        assert verdicts()[0] == ("TOTAL_FAILED", "REVOKED")
        ca_service.revoke(one, serial=certs[1].record.serial, reason="superseded")
        ca_service.revoke(one, serial=certs[2].record.serial, reason="key_compromise")
        assert verdicts() == [("TOTAL_FAILED", "REVOKED")] * 3
        after = verification.updates_made(other)
        assert after.get("patched", 0) == before.get("patched", 0) + 2
        assert after.get("rebuilt", 0) == before.get("rebuilt", 0)
    finally:
        other.engine.dispose()
        one.engine.dispose()
