"""The regional OP on PostgreSQL (issue 16; the service runs several workers on PostgreSQL): migration 0011_identity
applies, a login completes, and of two concurrent redemptions of one authorisation code exactly one gets tokens
(the code is consumed by one ``UPDATE … WHERE used = false``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import build_world
from tests.trust.service.test_identity_op import PASSWORD, ZJ_CITIZEN, Login, code_from, login, redeem
from trust.http.app import create_app
from trust.service.identity import anchor, op

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


def test_a_code_is_redeemed_once_even_concurrently_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    world = build_world(tmp_path, free_port(), postgres_url)
    anchor.init(world.instance)
    anchor.register(world.instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="330000", name="浙江政务服务", slug="zj-service")
    op.add_citizen(world.instance, ZJ_CITIZEN, "张三", PASSWORD)
    with TestClient(create_app(world.instance), base_url=world.base_url, follow_redirects=False) as browser:
        flow = Login(world, "zj-service")
        code = code_from(browser, flow, login(browser, flow))
        answers: list[Any] = []
        start = threading.Barrier(4)

        def redeem_once() -> None:
            start.wait()
            answers.append(redeem(browser, flow, code))

        threads = [threading.Thread(target=redeem_once) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400, 400, 400], [a.text for a in answers]
