"""Migration 0008: audit entries written before it keep verifying (with their old hash and the new strictness), a
cut-over entry in the new format follows them, and moving the cut-over is detected. SQLite and PostgreSQL.

The two legacy entries and their hashes are test vectors computed with the code before migration 0008 (``main`` at
0f458f1, ``trust.service.audit.chain_hash``), so the legacy check is shown to accept what that code wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support import postgres
from trust import db
from trust.service import audit

LEGACY: list[dict[str, Any]] = [
    {
        "seq": 1,
        "at": "2026-11-26T01:02:03.000000Z",
        "actor": "cli:root",
        "action": "seal.create",
        "subject": "seal:330000202611260001",
        "request_id": "cli-0123456789abcdef",
        "result": "ok",
        "details": '{"holder_code":"330106********0018","holder_name":"张三","n":7,"none":null,'
        '"seal_der":"sha256:abababababababababababababababababababababababababababababababab","status":"active"}',
        "prev_hash": "0" * 64,
        "hash": "6b52ff642f25281ced6a513a221d5c512f2a07cb7be065c1de96cb914c818063",
    },
    {
        "seq": 2,
        "at": "2026-11-26T01:02:04.000000Z",
        "actor": "client:zj-platform",
        "action": "seal.suspended",
        "subject": "seal:330000202611260001",
        "request_id": None,
        "result": "ok",
        "details": '{"reason":"审计 \\"quoted\\"\\n","status":{"from":"active","to":"suspended"}}',
        "prev_hash": "6b52ff642f25281ced6a513a221d5c512f2a07cb7be065c1de96cb914c818063",
        "hash": "93354d958c08f069b11a6af4e0b6139292112ee9b424a361c0e489bf5bda576d",
    },
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'huren.db'}"
    else:
        yield from postgres.fresh_database()


def _at_revision(url: str, revision: str) -> Engine:
    engine = db.make_engine(url)
    config = db.alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


@pytest.fixture
def legacy(database_url: str) -> Iterator[Engine]:
    """A database at revision 0007 holding the two legacy entries, then upgraded to the newest revision."""
    engine = _at_revision(database_url, "0007")
    with engine.begin() as connection:
        for row in LEGACY:
            connection.execute(
                text(
                    "INSERT INTO audit_entry (seq, at, actor, action, subject, request_id, result, details, prev_hash, "
                    "hash) VALUES (:seq, :at, :actor, :action, :subject, :request_id, :result, :details, :prev_hash, "
                    ":hash)"
                ),
                row,
            )
        connection.execute(text("UPDATE audit_head SET seq = 2, hash = :h WHERE id = 1"), {"h": LEGACY[-1]["hash"]})
    db.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def test_the_vectors_are_the_old_hash() -> None:
    prev = audit.GENESIS
    for row in LEGACY:
        assert audit.legacy_entry_hash(prev, row, json.loads(row["details"])) == row["hash"]
        prev = row["hash"]


def test_legacy_entries_verify_and_a_cut_over_entry_follows(legacy: Engine) -> None:
    report = audit.verify(legacy)
    assert report.ok and report.entries == 3, report
    cut_over = audit.entries(legacy, after=2)[0]
    assert (cut_over.seq, cut_over.actor, cut_over.action) == (3, "system:migration", "audit.format")
    assert cut_over.details == '{"format":2,"legacy_until":2}' and cut_over.prev_hash == LEGACY[-1]["hash"]
    with legacy.connect() as connection:
        assert connection.execute(text("SELECT legacy_until FROM audit_head")).scalar_one() == 2
    # new entries are in the new format, after the cut-over
    audit.record(legacy, action="test.after", subject="note:1", result="ok", details={"note": "浙江"})
    new = audit.entries(legacy, after=3)[0]
    assert new.details == '{"note":"浙江"}'
    header = {k: getattr(new, k) for k in audit.HEADER}
    assert new.hash == audit.entry_hash(cut_over.hash, header, new.details)
    assert audit.verify(legacy).ok


@pytest.mark.parametrize(
    ("seq", "before", "after", "words"),
    [
        (1, '"n":7,', '"n": 7,', "not in canonical form"),  # whitespace
        (1, "张三", "\\u5f20三", "not in canonical form"),  # \u escape
        (2, '{"reason"', '{"status":"revoked","reason"', "member 'status' twice"),
        (2, '"active"', '"\\u0061ctive"', "not in canonical form"),
    ],
)
def test_legacy_entries_get_the_new_strictness(legacy: Engine, seq: int, before: str, after: str, words: str) -> None:
    details = LEGACY[seq - 1]["details"]
    assert before in details
    _sql(legacy, "UPDATE audit_entry SET details = :d WHERE seq = :n", d=details.replace(before, after, 1), n=seq)
    report = audit.verify(legacy)
    assert not report.ok and report.first_bad == seq and words in report.problem, report


@pytest.mark.parametrize(("moved", "first_bad"), [(0, 1), (1, 2), (3, 3), (9, 3)])
def test_moving_the_cut_over_is_detected(legacy: Engine, moved: int, first_bad: int) -> None:
    audit.record(legacy, action="test.after", subject="note:1", result="ok", details={})
    _sql(legacy, "UPDATE audit_head SET legacy_until = :n WHERE id = 1", n=moved)
    report = audit.verify(legacy)
    assert not report.ok and report.first_bad == first_bad, report


def test_an_empty_database_gets_no_cut_over(database_url: str) -> None:
    engine = _at_revision(database_url, "0007")
    try:
        db.upgrade(engine)
        assert audit.head(engine) == (0, audit.GENESIS)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT legacy_until FROM audit_head")).scalar_one() == 0
        audit.record(engine, action="test.first", subject="note:1", result="ok", details={})
        assert audit.verify(engine).ok and audit.head(engine)[0] == 1
    finally:
        engine.dispose()


def test_an_older_schema_is_a_clear_error(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trust audit verify`` before ``trust db upgrade``: exit 3 with the remedy, not a traceback."""
    from trust.cli.main import main

    _at_revision(database_url, "0007").dispose()
    monkeypatch.setenv("TRUST_DATABASE_URL", database_url)
    assert main(["audit", "verify", "--home", str(tmp_path / "home")]) == 3
    assert "run trust db upgrade" in capsys.readouterr().err
