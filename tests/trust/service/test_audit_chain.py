"""Attacks on the audit chain (issue 11, item 8), on SQLite and on PostgreSQL.

Each test tampers with the stored rows the way someone with write access to the database could, then checks that
``trust audit verify`` (or :func:`trust.service.audit.verify`) names the tampering. The ones that edit a row without
breaking its re-serialised hash (duplicate keys, whitespace, ``\\u`` escapes), insert a row numbered 0 or below,
or truncate the tail and rewrite the head verified as intact before the chain hashed the stored bytes, checked the
sequence from its lowest number and compared itself with the head published in the signed trust list.

One small world per database (roots, one region CA, a published trust list, a few entries after it); every test
restores the audit and trust-list tables and the published trust list file afterwards.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import World, make_instance
from trust import db
from trust.cli.main import main
from trust.service import audit, trust
from trust.service import ca as ca_service
from trust.service.instance import Instance

TABLES = ("audit_entry", "audit_head", "trust_list")


@dataclass
class Site:
    instance: Instance
    home: Path
    database_url: str | None
    published_seq: int  # the audit head the latest trust list publishes
    list_sequence: int  # that trust list's sequence number
    world: World  # for an operator's requests (national-ops)

    @property
    def engine(self) -> Engine:
        return self.instance.engine

    @property
    def published_file(self) -> Path:
        return self.instance.settings.published_dir / "trustlist.json"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    databases = postgres.fresh_database() if request.param == "postgresql" else None
    url = next(databases) if databases is not None else None
    home = tmp_path_factory.mktemp(f"audit-{request.param}")
    port = free_port()
    instance = make_instance(home, port, database_url=url)
    try:
        with audit.acting("cli:tester", "cli-setup"):
            ca_service.init(instance)
            ca_service.enrol(instance, kind="region", code="330000", family="SM2")
            world = World(instance=instance, home=home, base_url=f"http://127.0.0.1:{port}", port=port)
            world.add_platform("national-ops", "operator")
            published_seq = audit.head(instance.engine)[0]
            record = trust.publish_now(instance)  # anchors the chain at published_seq
        for n in range(4):  # entries after the published head
            audit.record(instance.engine, action="test.note", subject=f"note:{n}", result="ok", details={"n": n})
        yield Site(instance, home, url, published_seq, record.sequence, world)
    finally:
        instance.engine.dispose()
        if databases is not None:
            databases.close()


@pytest.fixture
def chain(site: Site) -> Iterator[Site]:
    """The site, with the audit and trust-list tables and the published trust list restored after the test."""
    saved: dict[str, list[dict[str, Any]]] = {}
    with site.engine.connect() as connection:
        for table in TABLES:
            saved[table] = [dict(r) for r in connection.execute(text(f"SELECT * FROM {table}")).mappings()]
    published = site.published_file.read_bytes()
    assert audit.verify(site.engine).ok
    try:
        yield site
    finally:
        with site.engine.begin() as connection:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
                for row in saved[table]:
                    names = ", ".join(row)
                    values = ", ".join(f":{name}" for name in row)
                    connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({values})"), row)
        site.published_file.write_bytes(published)
        assert audit.verify(site.engine).ok


def _sql(site: Site, statement: str, **params: Any) -> None:
    with site.engine.begin() as connection:
        connection.execute(text(statement), params)


def _one(site: Site, query: str, **params: Any) -> Any:
    with site.engine.connect() as connection:
        row = connection.execute(text(query), params).first()
        assert row is not None, query
        return row


def _entry_with(site: Site, fragment: str) -> tuple[int, str]:
    """The first entry whose stored details contain ``fragment``."""
    seq, details = _one(
        site, "SELECT seq, details FROM audit_entry WHERE details LIKE :f ORDER BY seq LIMIT 1", f=f"%{fragment}%"
    )
    return int(seq), str(details)


def _cli_verify(
    site: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    if site.database_url:
        monkeypatch.setenv("TRUST_DATABASE_URL", site.database_url)
    else:
        monkeypatch.delenv("TRUST_DATABASE_URL", raising=False)
    capsys.readouterr()
    code = main(["audit", "verify", "--home", str(site.home), *extra])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def _truncate(site: Site, keep: int) -> None:
    """Delete every entry after ``keep`` and point the head at entry ``keep``: a self-consistent shorter chain."""
    (digest,) = _one(site, "SELECT hash FROM audit_entry WHERE seq = :n", n=keep)
    _sql(site, "DELETE FROM audit_entry WHERE seq > :n", n=keep)
    _sql(site, "UPDATE audit_head SET seq = :n, hash = :h WHERE id = 1", n=keep, h=digest)


# --- edits that a re-serialising check does not see -------------------------------------------------------------


def test_duplicate_keys_are_refused(chain: Site) -> None:
    """A second ``status`` key in front: SQL (SQLite's json_extract) reads the forged first value, while parsing and
    re-serialising keeps the last one — so the old hash still matched."""
    seq, details = _entry_with(chain, '"status":"valid"')
    _sql(chain, "UPDATE audit_entry SET details = :d WHERE seq = :n", d='{"status":"revoked",' + details[1:], n=seq)
    if chain.engine.dialect.name == "sqlite":
        (seen,) = _one(chain, "SELECT json_extract(details, '$.status') FROM audit_entry WHERE seq = :n", n=seq)
        assert seen == "revoked"  # what a query of the audit log would report
    report = audit.verify(chain.engine)
    assert not report.ok and report.first_bad == seq, report
    assert "member 'status' twice" in report.problem


@pytest.mark.parametrize(
    ("label", "edit"),
    [
        ("space after a separator", lambda d: d.replace(",", ", ", 1)),
        ("space before the end", lambda d: d[:-1] + " }"),
        ("newline", lambda d: d.replace(":", ":\n", 1)),
    ],
)
def test_whitespace_edits_are_refused(chain: Site, label: str, edit: Any) -> None:
    seq, details = _entry_with(chain, '"status":"valid"')
    _sql(chain, "UPDATE audit_entry SET details = :d WHERE seq = :n", d=edit(details), n=seq)
    report = audit.verify(chain.engine)
    assert not report.ok and report.first_bad == seq, (label, report)
    assert "not in canonical form" in report.problem


@pytest.mark.parametrize(
    ("label", "before", "after"),
    [
        ("ASCII letter", '"status":"valid"', '"status":"v\\u0061lid"'),
        ("CJK character", "浙江", "\\u6d59江"),
        ("escaped colon", "sha256:", "sha256\\u003a"),
    ],
)
def test_unicode_escape_edits_are_refused(chain: Site, label: str, before: str, after: str) -> None:
    seq, details = _entry_with(chain, before)
    assert json.loads(details.replace(before, after, 1)) == json.loads(details)  # the same JSON value
    _sql(chain, "UPDATE audit_entry SET details = :d WHERE seq = :n", d=details.replace(before, after, 1), n=seq)
    report = audit.verify(chain.engine)
    assert not report.ok and report.first_bad == seq, (label, report)
    assert "not in canonical form" in report.problem


# --- the sequence is exactly 1..N --------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [0, -1, -100])
def test_a_row_numbered_zero_or_below_is_refused(chain: Site, number: int) -> None:
    """A row below 1 (a forged "earlier" entry, a copy of entry 1) was never read by the old walk, which started
    after 0."""
    _sql(
        chain,
        "INSERT INTO audit_entry (seq, at, actor, action, subject, request_id, result, details, prev_hash, hash) "
        "SELECT :n, at, 'client:forger', action, subject, request_id, result, details, prev_hash, hash "
        "FROM audit_entry WHERE seq = 1",
        n=number,
    )
    report = audit.verify(chain.engine)
    assert not report.ok and report.first_bad == number, report
    assert "outside the sequence" in report.problem


def test_a_gap_is_refused(chain: Site) -> None:
    """(Also detected before: pinned here with the other sequence checks.)"""
    _sql(chain, "DELETE FROM audit_entry WHERE seq = 3")
    report = audit.verify(chain.engine)
    assert not report.ok and report.first_bad == 3 and "missing" in report.problem, report


def test_a_row_after_the_head_is_refused(chain: Site) -> None:
    head_seq, head_hash = audit.head(chain.engine)
    _sql(
        chain,
        "INSERT INTO audit_entry (seq, at, actor, action, subject, request_id, result, details, prev_hash, hash) "
        "SELECT :n, at, actor, action, subject, request_id, result, details, :prev, hash "
        "FROM audit_entry WHERE seq = 1",
        n=head_seq + 1,
        prev=head_hash,
    )
    report = audit.verify(chain.engine)
    assert not report.ok and report.first_bad == head_seq + 1, report


# --- truncation and a rewritten head: only the published head can tell -------------------------------------------


def test_tail_truncation_is_caught_by_the_published_head(
    chain: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = chain.published_seq - 2
    _truncate(chain, keep)
    code, out = _cli_verify(chain, monkeypatch, capsys)
    assert code == 1, out
    assert f"trust list {chain.list_sequence} (database) published the audit head at entry {chain.published_seq}" in out
    assert f"ends at entry {keep}" in out


def test_truncation_with_the_lists_deleted_is_caught_by_the_published_file(
    chain: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attacker also deletes the trust lists that publish the lost entries from the database; the published
    ``trustlist.json`` (what verifiers download) still names the head."""
    _truncate(chain, chain.published_seq - 2)
    _sql(chain, "DELETE FROM trust_list WHERE sequence >= :s", s=chain.list_sequence)
    code, out = _cli_verify(chain, monkeypatch, capsys)
    assert code == 1, out
    assert f"trust list {chain.list_sequence} ({chain.published_file})" in out


def test_truncation_hidden_everywhere_at_home_is_caught_by_a_kept_copy(
    chain: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Trust lists deleted and the published file replaced with an older list: a copy kept by a verifier or a mirror
    (``--trust-list``) still shows the lost head."""
    copy = tmp_path / "kept-trustlist.json"
    copy.write_bytes(chain.published_file.read_bytes())
    older = _one(chain, "SELECT document FROM trust_list WHERE sequence = :s", s=chain.list_sequence - 1)[0]
    _truncate(chain, chain.published_seq - 2)
    _sql(chain, "DELETE FROM trust_list WHERE sequence >= :s", s=chain.list_sequence)
    chain.published_file.write_text(older)
    code, out = _cli_verify(chain, monkeypatch, capsys)
    assert code == 0, out  # nothing at home contradicts the shorter chain any more
    code, out = _cli_verify(chain, monkeypatch, capsys, "--trust-list", str(copy))
    assert code == 1 and f"trust list {chain.list_sequence} ({copy})" in out, out


def test_head_rewritten_after_truncation_is_caught_by_the_published_head(
    chain: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Truncate below the published head, then append forged entries with the service's own code (valid hashes,
    a head that matches): the chain is self-consistent and longer than before, but its entry at the published
    sequence number is not the one the trust list anchored."""
    keep = chain.published_seq - 2
    _truncate(chain, keep)
    forged = [
        {
            "at": "2026-12-01T00:00:00.000000Z",
            "actor": "client:forger",
            "action": "test.forged",
            "subject": f"forged:{n}",
            "request_id": None,
            "result": "ok",
            "details": {"n": n},
        }
        for n in range(10)
    ]
    with db.session_scope(chain.engine) as session:
        audit.append(session, forged)
    assert audit.verify(chain.engine).ok  # self-consistent: only an outside anchor can tell
    code, out = _cli_verify(chain, monkeypatch, capsys)
    assert code == 1, out
    assert f"entry {chain.published_seq} has hash" in out
    assert f"trust list {chain.list_sequence} (database) published" in out


def test_an_intact_chain_reports_the_published_head(
    chain: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _cli_verify(chain, monkeypatch, capsys)
    assert code == 0, out
    published = f"trust list {chain.list_sequence} (database) (entry {chain.published_seq})"
    assert f"contains the head published in {published}" in out
    report = audit.check(chain.engine, published_file=chain.published_file)
    assert report.ok and report.published_seq == chain.published_seq


def _with_head(document: str, seq: int, digest: str) -> str:
    """The signed trust list ``document`` with another audit head in its payload (signatures left as they were)."""
    signed = json.loads(document)
    payload = json.loads(base64.urlsafe_b64decode(signed["payload"] + "=" * (-len(signed["payload"]) % 4)))
    payload["audit_head"] = {"sequence": seq, "hash": digest}
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    signed["payload"] = base64.urlsafe_b64encode(encoded).decode().rstrip("=")
    return json.dumps(signed)


def test_a_tampered_trust_list_in_the_database_fails_the_check(chain: Site) -> None:
    """Moving the published head back inside a stored trust list (to hide a truncation) breaks its root signatures:
    the check says so."""
    (document,) = _one(chain, "SELECT document FROM trust_list WHERE sequence = :s", s=chain.list_sequence)
    keep = chain.published_seq - 2
    (digest,) = _one(chain, "SELECT hash FROM audit_entry WHERE seq = :n", n=keep)
    _truncate(chain, keep)
    _sql(
        chain,
        "UPDATE trust_list SET document = :d WHERE sequence = :s",
        d=_with_head(document, keep, digest),
        s=chain.list_sequence,
    )
    chain.published_file.unlink()
    report = audit.check(chain.engine, published_file=chain.published_file)
    assert not report.ok and "the trust list in database does not verify" in report.problem, report


def test_a_copy_that_does_not_verify_is_an_input_error(
    chain: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.json"
    copy.write_text(_with_head(chain.published_file.read_text(), 1, "0" * 64))
    code, out = _cli_verify(chain, monkeypatch, capsys, "--trust-list", str(copy))
    assert code == 3 and "cannot be used to check the audit chain" in out, out
    code, out = _cli_verify(chain, monkeypatch, capsys, "--trust-list", str(chain.published_file), "--pin", "ab" * 32)
    assert code == 3 and "not signed by any pinned national root" in out, out


# --- what the trust list publishes ------------------------------------------------------------------------------


def test_the_trust_list_publishes_the_head_and_its_own_entry_follows(chain: Site) -> None:
    from trust.formats import trustlist as tl

    parsed, _checked = tl.verify(chain.published_file.read_bytes(), audit.root_pins(chain.engine))
    assert parsed.sequence == chain.list_sequence
    assert parsed.audit_head is not None and parsed.audit_head.sequence == chain.published_seq
    (digest,) = _one(chain, "SELECT hash FROM audit_entry WHERE seq = :n", n=chain.published_seq)
    assert parsed.audit_head.hash == digest
    (subject,) = _one(chain, "SELECT subject FROM audit_entry WHERE seq = :n", n=chain.published_seq + 1)
    assert subject == f"trust-list:{chain.list_sequence}"  # the publication itself is the next entry


def test_stored_details_are_rfc8785(chain: Site) -> None:
    import rfc8785

    with chain.engine.connect() as connection:
        rows = connection.execute(text("SELECT details FROM audit_entry ORDER BY seq")).all()
    assert rows
    for (details,) in rows:
        assert rfc8785.dumps(json.loads(details)).decode() == details


def test_get_audit_verify_compares_with_the_published_head(chain: Site) -> None:
    from fastapi.testclient import TestClient

    from trust.http.app import create_app

    client = TestClient(create_app(chain.instance))
    intact = client.get("/audit/verify", headers=chain.world.auth("national-ops"))
    assert intact.status_code == 200, intact.text
    body = intact.json()
    assert body["ok"] and body["published_seq"] == chain.published_seq
    assert body["published_in"] == f"trust list {chain.list_sequence} (database)"
    _truncate(chain, chain.published_seq - 2)
    broken = client.get("/audit/verify", headers=chain.world.auth("national-ops")).json()
    assert not broken["ok"] and f"trust list {chain.list_sequence} (database) published" in broken["problem"], broken


# --- publishing on the schedule ------------------------------------------------------------------------------------


def test_the_schedule_publishes_the_head_when_the_chain_grew(chain: Site) -> None:
    from datetime import timedelta

    from trust.formats import trustlist as tl
    from trust.service import publishing

    grown = audit.head(chain.engine)
    assert grown[0] > chain.published_seq  # entries after the published head (the fixture's notes)
    assert not publishing.refresh_published(chain.instance)["trustlist"]  # the list is younger than an hour
    assert not publishing.refresh_published(chain.instance, audit_after=None)["trustlist"]
    written = publishing.refresh_published(chain.instance, audit_after=timedelta(0))
    assert written["trustlist"] == [chain.published_file]
    parsed, _checked = tl.verify(chain.published_file.read_bytes(), audit.root_pins(chain.engine))
    assert parsed.sequence == chain.list_sequence + 1
    assert parsed.audit_head == tl.AuditHead(*grown)
    # the chain grew by that publication's own entry only: nothing new to anchor
    assert not publishing.refresh_published(chain.instance, audit_after=timedelta(0))["trustlist"]
    audit.record(chain.engine, action="test.note", subject="note:late", result="ok", details={})
    assert publishing.refresh_published(chain.instance, audit_after=timedelta(0))["trustlist"]
