"""The versioned verification context (issue 15 item 1): ``POST /verify`` and ``GET /bundle`` answer from a context
built once per state version, read-only; a revocation, a status change or a publication bumps the version (in the
database, and in Redis when configured) in its own transaction, so it counts for the next request in every worker."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from licenses import samples
from tests.support import redis as redis_support
from tests.support.world import PASSPHRASE, World, copy_world_with_issuer, make_instance
from trust.crypto.errors import ConflictError
from trust.formats import bundle as bundle_format
from trust.formats import crl as crl_mod
from trust.formats import jose
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import licenses, state, verification
from trust.service import trust as trust_service
from trust.service.instance import Instance
from verifier.report import Indication, SubIndication

BUSINESS = "11100000000013338W101"
ZJ_SM2 = "region-330000-sm2"
SEAL = DN(
    province="浙江省",
    organization="杭州示例科技有限公司",
    common_name="合同专用章",
    serial_number=make_uscc("91330106MA2CFA4X0"),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> tuple[World, str]:
    return copy_world_with_issuer(world_template, tmp_path_factory.mktemp("state") / "home", BUSINESS)


def _version(world: World) -> int:
    return state.database_version(world.instance.engine)


def _verify(world: World, data: bytes, **options: Any) -> dict[str, Any]:
    ctx = verification.context_for(world.instance, at=None, purpose="auto", revocation="available", **options)
    return verification.verify(data, ctx)


def _statements(world: World, action: Callable[[], object]) -> list[str]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = world.instance.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return seen


def test_changes_bump_the_version_and_issuance_does_not(site: tuple[World, str]) -> None:
    """Every change a verifier is given bumps the version once, in its own transaction; issuing does not (a new
    certificate or licence changes no CRL entry and no status bit); a refused change bumps nothing."""
    world, issuer = site
    before = _version(world)
    licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    assert _version(world) == before + 1  # the issuer's first licence opened its first status list: a change
    start = _version(world)
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=SEAL)
    assert _version(world) == start
    licenses.set_status(world.instance, made.record.identifier, "suspended", "核查")
    assert _version(world) == start + 1
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    assert _version(world) == start + 2
    with pytest.raises(ConflictError):
        ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    assert _version(world) == start + 2
    trust_service.publish_now(world.instance)
    assert _version(world) == start + 3


def test_verify_uses_one_context_per_version_and_a_revocation_counts_at_once(site: tuple[World, str]) -> None:
    """The context is built once and reused while the version stands (only a one-row read-only lookup per request:
    no write lock, no read of the bundle's content); a revocation or a licence status change is in the very next
    answer, from ``POST /verify`` and from ``GET /bundle``."""
    world, issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=SEAL)
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    token = made.record.token.encode()
    assert _verify(world, cert.certificate.dump())["indication"] == "TOTAL_PASSED"
    assert _verify(world, token)["indication"] == "TOTAL_PASSED"
    first = verification.current(world.instance)
    statements = _statements(world, lambda: _verify(world, cert.certificate.dump()))
    assert verification.current(world.instance) is first and first.context is not None
    assert statements == ["BEGIN", "SELECT version FROM state_version WHERE name = ?"], statements  # deferred: no lock

    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    report = _verify(world, cert.certificate.dump())
    assert report["indication"] == Indication.TOTAL_FAILED.value, report
    assert report["sub_indication"] == SubIndication.REVOKED.value
    carried = bundle_format.Bundle.from_json(
        json.loads(jose.parse_json(json.loads(verification.bundle_bytes(world.instance)))[0])
    )
    listed = {
        entry["user_certificate"].native
        for _ca, der in carried.crls
        for entry in crl_mod.load_crl(der)["tbs_cert_list"]["revoked_certificates"]
    }
    assert int(cert.record.serial, 16) in listed  # GET /bundle serves it at once (it was cached 60 s before)

    licenses.set_status(world.instance, made.record.identifier, "revoked", "注销")
    report = _verify(world, token)
    assert report["indication"] == Indication.TOTAL_FAILED.value and "revoked" in json.dumps(report), report


def test_a_second_worker_sees_the_change_at_once(site: tuple[World, str], tmp_path: Path) -> None:
    """Two instances on one database (two workers): a revocation made through one counts in the other's next
    verification, without any message between them."""
    world, _issuer = site
    other = make_instance(world.home, world.port)
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=SEAL)
    data = cert.certificate.dump()

    def verdict(instance: Any) -> str:
        ctx = verification.context_for(instance, at=None, purpose="auto", revocation="available")
        return str(verification.verify(data, ctx)["indication"])

    assert verdict(other) == "TOTAL_PASSED"
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="superseded")
    assert verdict(other) == "TOTAL_FAILED"
    other.engine.dispose()


@pytest.fixture
def redis_space() -> Iterator[redis_support.RedisSpace]:
    yield from redis_support.space()


def test_redis_carries_the_version_and_a_silent_redis_falls_back(
    site: tuple[World, str], redis_space: redis_support.RedisSpace
) -> None:
    """With ``TRUST_STATE_REDIS_URL`` every committed change increments a counter in Redis, which workers read instead
    of the database; a worker whose Redis does not answer reads the database instead, and still sees every change."""
    import redis

    world, _issuer = site
    workers = []
    for url in (redis_space.url, "redis://127.0.0.1:1/0"):  # the second answers nothing
        settings = make_instance(world.home, world.port).settings.model_copy(
            update={"state_redis_url": url, "rate_limit_key_prefix": redis_space.prefix}
        )
        workers.append(Instance(settings, passphrase=PASSPHRASE))
    healthy, silent = workers
    before = state.current(healthy.engine), state.current(silent.engine)
    cert = ca_service.issue(healthy, ca_id=ZJ_SM2, profile="seal", subject=SEAL)
    ca_service.revoke(healthy, serial=cert.record.serial, reason="key_compromise")
    with redis.Redis.from_url(redis_space.url) as connection:
        counter = int(connection.get(f"{redis_space.prefix}:{state.REDIS_KEY}"))
    assert counter == 1  # one committed change, one increment (issuance changed nothing a verifier is given)
    after = state.current(healthy.engine), state.current(silent.engine)
    assert after[0] != before[0] and after[1] != before[1]
    assert isinstance(after[0], tuple) and after[0][0] == counter
    assert after[1] == ("database", state.database_version(silent.engine))
    data = cert.certificate.dump()
    for instance in (healthy, silent):
        ctx = verification.context_for(instance, at=None, purpose="auto", revocation="available")
        assert verification.verify(data, ctx)["indication"] == "TOTAL_FAILED"
        instance.engine.dispose()


def test_verify_route_answers_from_the_cached_context(site: tuple[World, str]) -> None:
    """``POST /verify`` over HTTP: the same answers, and a revocation made meanwhile is in the next one."""
    from fastapi.testclient import TestClient

    from trust.http.app import create_app

    world, _issuer = site
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=SEAL)
    body = {"input": base64.b64encode(cert.certificate.dump()).decode()}
    with TestClient(create_app(world.instance)) as client:
        assert client.post("/verify", json=body).json()["indication"] == "TOTAL_PASSED"
        ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
        assert client.post("/verify", json=body).json()["indication"] == "TOTAL_FAILED"
        served = client.get("/bundle")
        assert served.status_code == 200 and served.content == verification.bundle_bytes(world.instance)
