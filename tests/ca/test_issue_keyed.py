"""The lean single issuance with an idempotency fingerprint (issuefast2, issue 15 item 5): ``POST /certificates`` with
an ``Idempotency-Key`` and a CSR judges its key, replays or stores its fingerprint and issues in **one** transaction —
no read transaction before it, the fingerprint stored on the transaction's cursor with the certificate row.

The semantics are those of issue 11 (``tests/trust/http/test_idempotency_keys.py``): the same request again gets the
first certificate, another request under the key a 409 and nothing made, and requests racing with one key — on two
engines (two workers), SQLite and PostgreSQL — make one certificate, which the requests like the winner's get.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from ca.models import IssuedCertificate
from tests.support import world as world_support
from tests.support.http import AuthClient
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.errors import ConflictError
from trust.crypto.keys import generate_private_key
from trust.formats import csr
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as service
from trust.service import idempotency
from trust.service.idempotency import IdempotencyRecord
from trust.service.instance import Instance

ZJ = "region-330000-sm2"
SUBJECT = {"province": "浙江省", "organization": "杭州示例科技有限公司", "common_name": "合同专用章"}
SEAL_DN = DN(
    province=SUBJECT["province"],
    organization=SUBJECT["organization"],
    common_name=SUBJECT["common_name"],
    serial_number=ZJ_ORG_USCC,
)


def _seal_csr() -> str:
    return csr.build(generate_private_key("sm2"), SEAL_DN, pem=True).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("issue-keyed") / "home")


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, "zj-platform")


def _transactions(world: World, call: Callable[[], Any]) -> tuple[Any, list[list[str]]]:
    """``call()`` and the SQLite transactions it ran (the driver's own trace: the issuance's statements go to the
    DB-API cursor, past SQLAlchemy's events), each a list of statements from its ``BEGIN`` to its end."""
    engine = world.instance.engine
    assert engine.dialect.name == "sqlite"
    statements: list[str] = []
    lock = threading.Lock()

    def seen(statement: str) -> None:
        with lock:
            statements.append(" ".join(statement.split()))

    def traced(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.set_trace_callback(seen)

    def untraced(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    event.listen(engine, "checkout", traced)
    event.listen(engine, "checkin", untraced)
    try:
        result = call()
    finally:
        event.remove(engine, "checkout", traced)
        event.remove(engine, "checkin", untraced)
    spans: list[list[str]] = []
    for statement in statements:
        if statement.startswith("BEGIN"):
            spans.append([])
        if spans:
            spans[-1].append(statement)
    return result, spans


def _touching(spans: list[list[str]], table: str) -> list[list[str]]:
    """The transactions that name ``table`` (the client's authentication reads certificates too)."""
    return [span for span in spans if any(f" {table} " in f" {s} " for s in span)]


_AUTHENTICATION: Final = ("client_assertion_jti", "access_token")
"""Tables the client authentication writes: an assertion's id kept against replay, and now and then the expired ids
and tokens swept (``DELETE … WHERE expires_at < …``, by time: which request does it is chance)."""


def _writes(spans: list[list[str]]) -> list[str]:
    """The writes of ``spans`` but the client authentication's (:data:`_AUTHENTICATION`)."""
    return [
        s[:80]
        for span in spans
        for s in span
        if s.startswith(("INSERT", "UPDATE", "DELETE"))
        and not any(s.startswith((f"INSERT INTO {t} ", f"DELETE FROM {t} ")) for t in _AUTHENTICATION)
    ]


def _count(world: World, model: Any) -> int:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_a_keyed_issuance_is_one_transaction_and_a_replay_or_conflict_writes_nothing(
    client: AuthClient, world: World
) -> None:
    """Before issuefast2 the key was first read in a read transaction of its own (``BEGIN`` … ``SELECT … FROM
    idempotency_key`` … ``COMMIT``), then judged again, stored through the ORM and the certificate issued in a
    second one."""
    body = {"ca_id": ZJ, "profile": "seal", "subject": {**SUBJECT, "serial_number": ZJ_ORG_USCC}, "csr": _seal_csr()}
    key = {"Idempotency-Key": "keyed-one-tx-1"}
    # the CA's snapshot is made once per state version: the transactions counted are the steady state's
    assert client.post("/certificates", json=body, headers={"Idempotency-Key": "keyed-warm-up"}).status_code == 201

    made, spans = _transactions(world, lambda: client.post("/certificates", json=body, headers=key))
    assert made.status_code == 201, made.text
    keyed = _touching(spans, "idempotency_key")
    assert len(keyed) == 1, "\n\n".join("\n".join(span) for span in keyed)
    (one,) = keyed
    assert one[0] == "BEGIN IMMEDIATE" and one[-1] == "COMMIT", one
    inserts = [s.split(" (")[0] for s in one if s.startswith("INSERT INTO ")]
    assert inserts.index("INSERT INTO idempotency_key") < inserts.index("INSERT INTO certificate"), inserts
    with db.session_scope(world.instance.engine, read_only=True) as session:
        stored = session.get(IdempotencyRecord, "zj-platform/keyed-one-tx-1")
    assert stored is not None and (stored.method, stored.path, stored.client_id) == (
        "POST",
        "/certificates",
        "zj-platform",
    )

    certificates = _count(world, IssuedCertificate)
    again, spans = _transactions(world, lambda: client.post("/certificates", json=body, headers=key))
    assert again.status_code == 201 and again.json()["serial"] == made.json()["serial"]
    assert again.json()["certificate_pem"] == made.json()["certificate_pem"]
    assert len(_touching(spans, "idempotency_key")) == 1
    assert not _writes(spans), _writes(spans)

    other = {**body, "validity_days": 30}
    refused, spans = _transactions(world, lambda: client.post("/certificates", json=other, headers=key))
    assert refused.status_code == 409 and refused.json()["code"] == "E1004", refused.text
    assert refused.json()["evidence"] == {"idempotency_key": "keyed-one-tx-1", "first_request": "POST /certificates"}
    assert len(_touching(spans, "idempotency_key")) == 1
    assert not _writes(spans), _writes(spans)
    assert _count(world, IssuedCertificate) == certificates


def test_a_key_first_used_without_a_fingerprint_replays_and_stores_none(client: AuthClient, world: World) -> None:
    """A certificate issued under a request id without a fingerprint (the command line, or before issue 11) is
    replayed to the HTTP request under that key — compared by CA and profile, as before — and no fingerprint is
    stored for it by the replay."""
    first = service.issue(
        world.instance,
        ca_id=ZJ,
        profile="seal",
        subject=SEAL_DN,
        csr_data=_seal_csr().encode(),
        request_id="zj-platform/keyed-cli-1",
    )
    body = {"ca_id": ZJ, "profile": "seal", "subject": {**SUBJECT, "serial_number": ZJ_ORG_USCC}, "csr": _seal_csr()}
    again = client.post("/certificates", json=body, headers={"Idempotency-Key": "keyed-cli-1"})
    assert again.status_code == 201 and again.json()["serial"] == first.record.serial, again.text
    with db.session_scope(world.instance.engine, read_only=True) as session:
        assert session.get(IdempotencyRecord, "zj-platform/keyed-cli-1") is None
    seal_profile = client.post(
        "/certificates",
        json={**body, "profile": "organization-identity"},
        headers={"Idempotency-Key": "keyed-cli-1"},
    )
    assert seal_profile.status_code == 409, seal_profile.text


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_workers(
    request: pytest.FixtureRequest, tmp_path: Path, world_template: World
) -> Iterator[tuple[Instance, Instance]]:
    """Two engines (two workers' pools) on one database and key store."""
    yield from world_support.two_workers(request.param, world_template, tmp_path / "home")


def _race(workers: tuple[Instance, Instance], key: str, requests: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """Eight ``service.issue`` calls at once under ``key``, four of each of the two ``requests``, alternately on
    the two workers: ``(request name, serial or "conflict")`` each."""
    start = threading.Barrier(8)
    outcomes: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def make(instance: Instance, name: str) -> None:
        start.wait()
        try:
            outcome = service.issue(instance, ca_id=ZJ, profile="seal", request_id=key, **requests[name]).record.serial
        except ConflictError as exc:
            outcome = "conflict" if "first used for another request" in str(exc) else f"other: {exc}"
        except BaseException as exc:
            errors.append(exc)
            return
        with lock:
            outcomes.append((name, outcome))

    names = sorted(requests)
    threads = [threading.Thread(target=make, args=(workers[i % 2], names[(i // 2) % 2])) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return outcomes


def test_racing_keyed_requests_from_csrs_on_two_workers(
    two_workers: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight requests at once under one key, four with each of two bodies, on two engines: one certificate; the
    requests like the winner's get it, the others a conflict — on PostgreSQL the losers' key insert waits for the
    winner's commit and they are judged in their own transaction (SQLite's writers queue at ``BEGIN IMMEDIATE``)."""
    taken: list[str] = []
    claim = idempotency.claim

    def counted(raw: Any, request_id: str, fingerprint: idempotency.Fingerprint) -> None:
        try:
            claim(raw, request_id, fingerprint)
        except idempotency.KeyTaken:
            taken.append(request_id)
            raise

    monkeypatch.setattr(idempotency, "claim", counted)
    requests: dict[str, dict[str, Any]] = {}
    for name, org, code in (("a", "甲公司", "91330106MA2C00002"), ("b", "乙公司", "91330106MA2C00003")):
        dn = DN(province="浙江省", organization=org, common_name="章", serial_number=make_uscc(code))
        requests[name] = {
            "subject": dn,
            "csr_data": csr.build(generate_private_key("sm2"), dn),
            "fingerprint": idempotency.Fingerprint.of("POST", "/certificates", "zj-platform", {"subject": name}),
        }
    for round_ in range(3):
        key = f"zj-platform/race-lean-{round_}"
        outcomes = _race(two_workers, key, requests)
        serials = {serial for _name, serial in outcomes if serial != "conflict"}
        assert len(serials) == 1 and len(outcomes) == 8, outcomes
        winners = {name for name, serial in outcomes if serial != "conflict"}
        assert len(winners) == 1, outcomes
        assert all((serial == "conflict") == (name not in winners) for name, serial in outcomes), outcomes
        with db.session_scope(two_workers[0].engine, read_only=True) as session:
            stored = session.exec(
                select(func.count()).select_from(IssuedCertificate).where(IssuedCertificate.request_id == key)
            ).one()
            record = session.get(IdempotencyRecord, key)
        assert stored == 1
        assert record is not None and record.body_sha256 == requests[winners.pop()]["fingerprint"].body_sha256
    if two_workers[0].engine.dialect.name == "postgresql":
        assert taken, "no request lost the key's insert: the race was not run"
