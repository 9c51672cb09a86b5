"""Idempotency keys: concurrent and later retries of one request return its first result and never make a
second credential; the same key for a different request is a conflict. (PostgreSQL with several worker
processes: tests/trust/service/test_multiworker_pg.py.)"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from ca.models import IssuedCertificate
from licenses import samples
from licenses.models import LicenseRecord
from seal.models import SealRecord
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.errors import ConflictError
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import licenses, seals

BUSINESS = "11100000000013338W101"
SUBJECT = DN(
    province="浙江省", organization="杭州示例科技有限公司", common_name="合同专用章", serial_number=ZJ_ORG_USCC
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("idempotency") / "home")


def _count(world: World, model: Any, request_id: str) -> int:
    with db.session_scope(world.instance.engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(model.request_id == request_id)).one())


def _race(make: Callable[[], Any], key: Callable[[Any], str], threads: int = 6) -> set[str]:
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _i: make(), range(threads)))
    return {key(r) for r in results}


def test_certificates(world: World) -> None:
    def make() -> Any:
        return ca_service.issue(
            world.instance, ca_id="region-330000-sm2", profile="seal", subject=SUBJECT, request_id="zj/cert-1"
        )

    assert len(_race(make, lambda r: r.record.serial)) == 1
    assert _count(world, IssuedCertificate, "zj/cert-1") == 1
    with pytest.raises(ConflictError):
        ca_service.issue(
            world.instance, ca_id="region-330000-sm2", profile="seal-maker", subject=SUBJECT, request_id="zj/cert-1"
        )


def test_seals(world: World) -> None:
    def make(name: str = "合同专用章") -> Any:
        return seals.create(
            world.instance,
            ca_id="region-330000-sm2",
            holder_kind="organization",
            holder_name="杭州示例科技有限公司",
            holder_code=ZJ_ORG_USCC,
            seal_name=name,
            request_id="zj/seal-1",
        )

    assert len(_race(make, lambda r: r.es_id)) == 1
    assert _count(world, SealRecord, "zj/seal-1") == 1
    with pytest.raises(ConflictError):
        make("财务专用章")


def test_licenses(world: World, tmp_path: Path) -> None:
    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省市场监督管理局",
        code=make_uscc("11330000002482226"),
        license_types=[BUSINESS, "11100000000013338W102"],
    )

    def make(type_code: str = BUSINESS) -> Any:
        return licenses.issue(
            world.instance,
            issuer_id=issuer.id,
            type_code=type_code,
            fields=samples.sample(type_code),
            request_id="zj/licence-1",
        )

    first = make()
    assert _race(make, lambda r: r.record.identifier) == {first.record.identifier}
    assert _count(world, LicenseRecord, "zj/licence-1") == 1
    with pytest.raises(ConflictError):
        make("11100000000013338W102")
