"""``trust serve --workers 2`` on PostgreSQL under 50 concurrent platform clients that retry: no duplicate, no
lost record, every retry answered with the first result; a worker SIGKILLed mid-run loses nothing acknowledged;
the audit chain written by both workers verifies, and one edited entry is found and located.

The server is a real subprocess (``tests/support/multiworker.py``): the uvicorn supervisor and its worker
processes, each with its own engine and key store, on one fresh PostgreSQL database
(``tests/support/postgres.py``). The clients are threads in this process with their own access tokens
(``POST /oauth/token``); each logical request (a certificate, a seal or a licence) has its own
``Idempotency-Key`` and is sent once, twice in a row, twice at the same moment, or first with a client-side
timeout and then again. "Acknowledged" means a 2xx answer reached the client.

The tests share one world and one server and run in order: first the very first seals of a CA (its seal maker is
made on first use) asked for at once; then two waves of load, the second with a worker SIGKILLed; then the audit
chain. Evidence for a 5xx answer (the exception the server logged for its request id) is in the failure message.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support import multiworker as mw
from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import ZJ_ORG_USCC, World
from trust.formats.names import make_uscc
from trust.service import audit, seals

pytestmark = [pytest.mark.postgres]

WORKERS = 2
CLIENTS = 50
WAVE = 150  # logical requests per wave
KILL_AFTER = WAVE // 4  # wave 2: SIGKILL a worker once this many requests were acknowledged
PG_PORT_HEX = ":1538"  # 5432 in /proc/net/tcp's notation


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


@dataclass
class Site:
    world: World
    issuer_id: str  # 浙江省市场监督管理局, the licence issuer of client zj-amr
    server: mw.Server
    rsa_csr: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Site]:
    """The PostgreSQL world served by ``trust serve --workers 2``, for the tests of this module in order."""
    tmp = tmp_path_factory.mktemp("multiworker")
    port = free_port()
    world, issuer_id = mw.build_pg_world(tmp / "home", port, postgres_url)
    # 浙江 has made seals before (its seal maker exists); a CA's very first seals have their own test.
    seals.create(
        world.instance,
        ca_id=mw.SM2_CA,
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="公章",
    )
    try:
        with mw.serve(
            world.home, port, workers=WORKERS, database_url=postgres_url, log_path=tmp / "serve.log"
        ) as server:
            yield Site(world, issuer_id, server, mw.rsa_csr_pem())
    finally:
        world.instance.engine.dispose()


# --- database checks ----------------------------------------------------------------------------------------------


def rows(engine: Engine, statement: str, **params: object) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(statement), params).all()]


def counts(engine: Engine) -> dict[str, int]:
    """Row counts of what a wave creates."""
    return {
        "certificate_keyed": rows(engine, "SELECT count(*) FROM certificate WHERE request_id IS NOT NULL")[0][0],
        "certificate_unkeyed": rows(engine, "SELECT count(*) FROM certificate WHERE request_id IS NULL")[0][0],
        "seal_maker": rows(engine, "SELECT count(*) FROM certificate WHERE profile = 'seal-maker'")[0][0],
        "seal": rows(engine, "SELECT count(*) FROM seal")[0][0],
        "license": rows(engine, "SELECT count(*) FROM license")[0][0],
    }


def stored(engine: Engine, kind: str, request_ids: list[str]) -> dict[str, list[str]]:
    """request id -> the credentials stored under it (serial, ES id or licence identifier)."""
    table, column = {"certificate": ("certificate", "serial"), "seal": ("seal", "es_id")}.get(
        kind, ("license", "identifier")
    )
    found: dict[str, list[str]] = {}
    for request_id, value in rows(
        engine, f"SELECT request_id, {column} FROM {table} WHERE request_id = ANY(:ids)", ids=request_ids
    ):
        found.setdefault(request_id, []).append(value)
    return found


def open_transactions(engine: Engine) -> int:
    return rows(
        engine,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'",
    )[0][0]


def postgres_connections(pid: int) -> int:
    """TCP connections to port 5432 held by process ``pid`` (its socket inodes matched against /proc/net/tcp)."""
    inodes = set()
    for fd in (Path("/proc") / str(pid) / "fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("tcp", "tcp6"):
        path = Path("/proc") / str(pid) / "net" / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            if parts[2].endswith(PG_PORT_HEX) and parts[9] in inodes:
                held += 1
    return held


def evidence(server: mw.Server, failed: list[mw.Attempt]) -> str:
    """The failed attempts' keys, statuses and what the server logged about them (first three)."""
    lines = []
    for attempt in failed[:3]:
        try:
            request_id = json.loads(attempt.error).get("request_id", "")
        except ValueError:
            request_id = ""
        lines.append(f"{attempt.key}: {attempt.status} {attempt.error[:200]} -> {server.failure(request_id)}")
    return "\n".join(lines)


def check_wave(
    site: Site, requests: list[mw.Logical], outcome: mw.Outcome, before: dict[str, int], *, wave: str
) -> dict[str, object]:
    """Every logical request acknowledged once and for all, stored exactly once, as the clients were told."""
    engine = site.world.instance.engine
    results = outcome.results()
    statuses = outcome.statuses()
    server_errors = outcome.server_errors()
    refused = outcome.client_errors()
    assert not server_errors, f"{wave}: {len(server_errors)} 5xx answers:\n{evidence(site.server, server_errors)}"
    assert not refused, f"{wave}: {len(refused)} 4xx answers:\n{evidence(site.server, refused)}"
    unacknowledged = [r.key for r in requests if r.key not in results]
    assert not unacknowledged, f"{wave}: never acknowledged: {unacknowledged[:10]}"
    # Every retry got the first result: all 2xx answers for one key name one credential.
    split = {key: sorted(values) for key, values in results.items() if len(values) != 1}
    assert not split, f"{wave}: retries answered with different credentials: {split}"
    differing = outcome.differing_answers()
    kinds_of = {r.key: r.kind for r in requests}
    summary = Counter((kinds_of[key], tuple(names)) for key, names in differing.items())
    assert not differing, f"{wave}: retries answered with the same credential but not the first answer: {summary}"

    # The database holds exactly one credential per key, the one the client was told; nothing else was made.
    kinds = Counter(r.kind for r in requests)
    for kind in mw.KINDS:
        mine = [r for r in requests if r.kind == kind]
        found = stored(engine, kind, [r.request_id for r in mine])
        duplicates = {rid: values for rid, values in found.items() if len(values) > 1}
        assert not duplicates, f"{wave}: {kind} stored twice under one key: {duplicates}"
        lost = [r.key for r in mine if r.request_id not in found]
        assert not lost, f"{wave}: acknowledged {kind} not stored: {lost[:10]}"
        wrong = {r.key: (results[r.key], found[r.request_id]) for r in mine if found[r.request_id] != [*results[r.key]]}
        assert not wrong, f"{wave}: client told one {kind}, database holds another: {wrong}"
    after = counts(engine)
    new = {name: after[name] - before[name] for name in after}
    assert new["certificate_keyed"] == kinds["certificate"], (wave, new, kinds)
    assert new["seal"] == kinds["seal"], (wave, new, kinds)
    assert new["license"] == kinds["license"], (wave, new, kinds)
    # A seal makes one signer certificate (no request id of its own); the CA's seal maker exists already.
    assert new["seal_maker"] == 0, (wave, new)
    assert new["certificate_unkeyed"] == kinds["seal"], (wave, new, kinds)
    half = rows(engine, "SELECT count(*) FROM certificate WHERE length(der) = 0 OR fingerprint LIKE 'pending-%'")
    assert half[0][0] == 0, f"{wave}: half-written certificate rows"

    # The concurrent sends really raced: both answered 2xx while both were in flight.
    raced = 0
    for attempts in outcome.by_key().values():
        answered = sorted((a for a in attempts if a.result is not None), key=lambda a: a.started)
        raced += any(b.started < a.ended for a, b in itertools.pairwise(answered))
    assert raced > 0, f"{wave}: no two answers for one key overlapped"

    patterns = Counter(r.pattern for r in requests)
    return {
        "raced_keys": raced,
        "requests": len(requests),
        "kinds": dict(kinds),
        "patterns": dict(patterns),
        "attempts": len(outcome.attempts),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "transport_errors": len(outcome.transport_errors()),
        "own_timeouts": sum(1 for a in outcome.attempts if a.own_timeout),
    }


# --- the tests ----------------------------------------------------------------------------------------------------


def test_first_seals_of_a_ca_at_once(site: Site) -> None:
    """广东's SM2 CA has made no seal yet: its seal maker is made on first use. Twelve platforms asking for a seal
    at the same moment, through both workers, all get one; one seal maker is made."""
    engine = site.world.instance.engine
    ca_id = "region-440000-sm2"
    assert rows(engine, "SELECT count(*) FROM seal_maker WHERE ca_id = :ca", ca=ca_id)[0][0] == 0
    requests = [
        mw.Logical(
            "seal",
            f"gd-first-{i}",
            "gd-platform",
            "/seals",
            {
                "ca_id": ca_id,
                "holder_name": f"广州示例 {i} 有限公司",
                "holder_code": make_uscc(f"91440101MA5C{i:05d}"),
                "seal_name": "合同专用章",
            },
            "once",
        )
        for i in range(12)
    ]
    outcome = mw.Load(site.server.url, site.world, clients_count=len(requests)).run(requests)
    errors = outcome.server_errors() + outcome.client_errors()
    assert not errors, f"{len(errors)} of {len(requests)} first seals failed:\n{evidence(site.server, errors)}"
    results = outcome.results()
    assert sorted(results) == sorted(r.key for r in requests)
    assert rows(engine, "SELECT count(*) FROM seal_maker WHERE ca_id = :ca", ca=ca_id)[0][0] == 1
    makers = "SELECT count(*) FROM certificate WHERE issuer_id = :ca AND profile = 'seal-maker'"
    assert rows(engine, makers, ca=ca_id)[0][0] == 1
    assert rows(engine, "SELECT count(*) FROM seal WHERE issuer_ca_id = :ca", ca=ca_id)[0][0] == len(requests)


def test_two_workers_under_retrying_clients_and_a_killed_worker(  # noqa: PLR0915 (one end-to-end scenario)
    site: Site, record_property: Callable[[str, object], None]
) -> None:
    started = time.monotonic()
    world, server = site.world, site.server
    engine = world.instance.engine
    report: dict[str, object] = {}
    first_workers = server.worker_pids()
    assert len(first_workers) == WORKERS, first_workers

    # Wave 1: no fault.
    requests = mw.make_requests("w1", WAVE, issuer_id=site.issuer_id, rsa_csr=site.rsa_csr, seed=1)
    before = counts(engine)
    moment = time.monotonic()
    outcome = mw.Load(server.url, world, clients_count=CLIENTS).run(requests)
    report["wave1_s"] = round(time.monotonic() - moment, 1)
    report["wave1"] = check_wave(site, requests, outcome, before, wave="wave 1")
    # Both workers served: each holds connections to PostgreSQL.
    assert all(postgres_connections(pid) > 0 for pid in first_workers), server.log()

    # Wave 2: SIGKILL one worker once a quarter of the requests were acknowledged.
    victim = first_workers[0]
    killed_at: list[float] = []

    def kill(acknowledged: int) -> None:
        if acknowledged >= KILL_AFTER and not killed_at:
            killed_at.append(time.monotonic())
            server.kill_worker(victim)

    requests = mw.make_requests("w2", WAVE, issuer_id=site.issuer_id, rsa_csr=site.rsa_csr, seed=2)
    before = counts(engine)
    moment = time.monotonic()
    load = mw.Load(server.url, world, clients_count=CLIENTS)
    load.on_acknowledged = kill
    outcome = load.run(requests)
    report["wave2_s"] = round(time.monotonic() - moment, 1)
    assert killed_at, "the worker was never killed"
    assert not mw.alive(victim)
    # The kill hit requests in flight on that worker (their clients saw the connection drop)...
    hit = [a for a in outcome.transport_errors() if a.started <= killed_at[0] <= a.ended]
    assert hit, "no request was in flight on the killed worker"
    report["in_flight_at_kill"] = len(hit)
    # ... and yet: every request acknowledged, each stored once, every retry the first result.
    report["wave2"] = check_wave(site, requests, outcome, before, wave="wave 2 (worker killed)")

    # The killed worker's transactions were rolled back (PostgreSQL saw its sockets close).
    deadline = time.monotonic() + 10
    while open_transactions(engine) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_transactions(engine) == 0
    # uvicorn's supervisor replaced the worker: the server is whole again.
    deadline = time.monotonic() + 60
    while len(server.worker_pids()) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.2)
    now_workers = server.worker_pids()
    assert len(now_workers) == WORKERS and victim not in now_workers, (now_workers, server.log())
    report["workers"] = {"before": first_workers, "after": now_workers}

    # The audit chain written by both workers (and the killed one) verifies end to end.
    chain = audit.verify(engine)
    assert chain.ok, chain
    assert chain.entries == chain.head_seq
    created = 2 * WAVE + 2 * (WAVE // 5)  # every certificate, seal and licence; each seal also its certificate
    assert chain.entries >= created
    # One edited row is detected and located at its sequence number; undoing the edit makes the chain whole.
    target = chain.head_seq - WAVE // 2  # an entry written during wave 2
    ((actor,),) = rows(engine, "SELECT actor FROM audit_entry WHERE seq = :n", n=target)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_entry SET actor = 'client:forger' WHERE seq = :n"), {"n": target})
    edited = audit.verify(engine)
    assert not edited.ok
    assert edited.first_bad == target, edited
    assert "edited" in edited.problem
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_entry SET actor = :a WHERE seq = :n"), {"a": actor, "n": target})
    assert audit.verify(engine).ok

    report["audit_entries"] = chain.entries
    report["test_s"] = round(time.monotonic() - started, 1)
    for name, value in report.items():
        record_property(name, value)
    print(f"\nmultiworker: {report}")
