"""Issue 11 item 10: a client-chosen ``X-Request-ID`` never becomes the request id of the audit log. The server
gives every request its own id (``X-Request-ID`` of the answer, ``request_id`` of audit entries, log lines and
problem documents); the client's value is checked (1-128 printable ASCII characters), recorded apart
(``client_request_id``, hashed into the audit chain) and echoed as ``X-Client-Request-ID``.

Before the fix the client's value was the audit request id, so a platform could give its changes the request id of
another's request (or of nobody's) and tie the record to the wrong request.
"""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.support.http import AuthClient
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db, logs
from trust.http.app import create_app
from trust.service import audit
from trust.settings import Settings

SEAL = {
    "ca_id": "region-330000-sm2",
    "holder_name": "杭州示例科技有限公司",
    "holder_code": ZJ_ORG_USCC,
    "seal_name": "财务专用章",
}
SERVER_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("request-ids") / "home")


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, "zj-platform")


def _entries_after(world: World, seq: int) -> list[audit.AuditEntry]:
    return audit.entries(world.instance.engine, after=seq, limit=1000)


def test_the_audit_records_the_servers_id_and_the_clients_apart(client: AuthClient, world: World) -> None:
    before = audit.head(world.instance.engine)[0]
    made = client.post("/seals", json=SEAL, headers={"X-Request-ID": "zj-batch-0042"})
    assert made.status_code == 201, made.text
    server_id = made.headers["X-Request-ID"]
    assert SERVER_ID.fullmatch(server_id) and made.headers["X-Client-Request-ID"] == "zj-batch-0042"
    entries = _entries_after(world, before)
    assert entries and {(e.request_id, e.client_request_id) for e in entries} == {(server_id, "zj-batch-0042")}
    assert audit.verify(world.instance.engine).ok


def test_a_client_cannot_borrow_another_requests_id(client: AuthClient, world: World) -> None:
    """The id of somebody else's request, sent as X-Request-ID, is only ever recorded as the client's claim."""
    first = client.post("/seals", json={**SEAL, "seal_name": "合同专用章"})
    victim_id = first.headers["X-Request-ID"]
    assert "X-Client-Request-ID" not in first.headers
    before = audit.head(world.instance.engine)[0]
    second = client.post("/seals", json={**SEAL, "seal_name": "发票专用章"}, headers={"X-Request-ID": victim_id})
    assert second.status_code == 201 and second.headers["X-Request-ID"] != victim_id
    entries = _entries_after(world, before)
    assert entries and all(e.request_id == second.headers["X-Request-ID"] for e in entries)
    assert all(e.client_request_id == victim_id for e in entries)
    with db.session_scope(world.instance.engine) as session:
        owners = session.exec(select(audit.AuditEntry.seq).where(audit.AuditEntry.request_id == victim_id)).all()
    assert owners and max(owners) <= before  # the victim's id names only the victim's entries


@pytest.mark.parametrize(
    "value",
    [b"a" * 129, b"tab\tinside", b"esc\x1b[31m", "中文".encode(), b" padded", b"\x7f"],
    ids=["too-long", "tab", "escape", "non-ascii", "leading-space", "delete"],
)
def test_bad_client_request_ids_are_refused_and_change_nothing(client: AuthClient, world: World, value: bytes) -> None:
    before = audit.head(world.instance.engine)[0]
    response = client.post("/seals", json={**SEAL, "seal_name": "人事专用章"}, headers={"X-Request-ID": value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "E1000" and "X-Request-ID" in body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"] and SERVER_ID.fullmatch(body["request_id"])
    assert audit.head(world.instance.engine)[0] == before


def test_limits_of_a_good_client_request_id(client: AuthClient) -> None:
    longest = "x" * 128
    assert client.get("/healthz", headers={"X-Request-ID": longest}).headers["X-Client-Request-ID"] == longest
    odd = "req id: 7/8 (retry) ~ok"
    assert client.get("/healthz", headers={"X-Request-ID": odd}).headers["X-Client-Request-ID"] == odd
    plain = TestClient(client.app)  # (AuthClient merges headers into a dict)
    twice = plain.get("/healthz", headers=[("X-Request-ID", "a"), ("X-Request-ID", "b")])
    assert twice.status_code == 400 and "appears 2 times" in twice.json()["detail"]


def test_log_lines_carry_both_ids() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure(Settings(), default_format="json", stream=stream)
        logs.request_id_var.set("0123456789abcdef0123456789abcdef")
        logs.client_request_id_var.set("zj-batch-0042")
        logging.getLogger("trust.test.ids").warning("something happened")
    finally:
        logs.request_id_var.set(None)
        logs.client_request_id_var.set(None)
        for handler in [h for h in root.handlers if h.get_name() == "huren"]:
            root.removeHandler(handler)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert (entry["request_id"], entry["client_request_id"]) == ("0123456789abcdef0123456789abcdef", "zj-batch-0042")
