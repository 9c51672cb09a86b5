"""The state version on PostgreSQL (issue 15 item 1): read in autocommit mode, one statement and no transaction
left open, it still shows every committed change at once — a revocation made through one worker counts in another
worker's next verification — and never a change that is not committed yet."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import make_instance
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import state, verification

pytestmark = [pytest.mark.postgres]

SEAL = DN(
    province="浙江省",
    organization="杭州示例科技有限公司",
    common_name="合同专用章",
    serial_number=make_uscc("91330106MA2CFA4X0"),
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


def test_the_version_read_sees_commits_at_once_and_nothing_uncommitted(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()
    one = make_instance(tmp_path / "home", port, postgres_url)
    ca_service.init(one)
    ca_service.enrol(one, kind="region", code="330000", family="SM2")
    other = make_instance(tmp_path / "home", port, postgres_url)  # a second worker: its own engine and context
    try:
        cert = ca_service.issue(one, ca_id="region-330000-sm2", profile="seal", subject=SEAL)
        data = cert.certificate.dump()

        def verdict() -> str:
            ctx = verification.context_for(other, at=None, purpose="auto", revocation="available")
            return str(verification.verify(data, ctx)["indication"])

        assert verdict() == "TOTAL_PASSED"
        sent: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            sent.append(" ".join(statement.split()))

        event.listen(other.engine, "before_cursor_execute", seen)
        try:
            before = state.database_version(other.engine)
        finally:
            event.remove(other.engine, "before_cursor_execute", seen)
        assert sent == ["SELECT version FROM state_version WHERE name = %(name)s"]

        # A change not yet committed is not seen (and the read does not wait for it); once committed it is.
        with one.engine.connect() as writer:
            writer.execute(text("UPDATE state_version SET version = version + 1 WHERE name = 'verification'"))
            assert state.database_version(other.engine) == before
            writer.commit()
        assert state.database_version(other.engine) == before + 1

        ca_service.revoke(one, serial=cert.record.serial, reason="superseded")
        assert verdict() == "TOTAL_FAILED"  # the next verification in the other worker

        # No connection of the reader is left inside a transaction.
        with one.engine.connect() as probe:
            states = probe.execute(
                text(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
            assert "idle in transaction" not in list(states)
    finally:
        other.engine.dispose()
        one.engine.dispose()


def test_the_version_read_keeps_its_connection_and_survives_losing_it(tmp_path: Path, postgres_url: str) -> None:
    """Each read used to check a connection out of the pool, which pings the server first: two round trips per
    ``POST /verify``. The read keeps one connection instead (no checkout, no ping after the first); when the server
    cuts that connection the read still answers (pooled path) and the next one opens a new connection."""
    instance = make_instance(tmp_path / "home", free_port(), postgres_url)
    ca_service.init(instance)
    engine = instance.engine
    engine.dispose()  # init may have read the version already (a bundle export): start with no kept connection
    checkouts: list[int] = []
    event.listen(engine.pool, "checkout", lambda *_args: checkouts.append(1))
    try:
        first = state.database_version(engine)
        for _ in range(20):
            assert state.database_version(engine) == first
        assert len(checkouts) == 1  # before: 21

        with engine.connect() as admin:
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            admin.execute(text("UPDATE state_version SET version = version + 1 WHERE name = 'verification'"))
            admin.commit()
        assert state.database_version(engine) == first + 1  # the kept connection was cut: read on a pooled one
        assert state.database_version(engine) == first + 1  # and a new kept connection
    finally:
        engine.dispose()
    with engine.connect() as probe:  # dispose closed the kept connection too (a fresh pool opens this one)
        left = probe.execute(
            text(
                "SELECT count(*), string_agg(state || ':' || query, '|') FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).one()
    engine.dispose()
    assert left[0] == 0, left


def test_requests_share_a_version_read_begun_after_they_arrived(tmp_path: Path, postgres_url: str) -> None:
    """Requests queued for a worker's verifier thread (``POST /verify``'s fast path notes each arrival:
    ``state.arriving``) share one read of the version when it began after they arrived — it sees every commit made
    before them — and never a read begun before: a change committed before a request arrived counts for it. Without
    a noted arrival every call reads."""
    instance = make_instance(tmp_path / "home", free_port(), postgres_url)
    ca_service.init(instance)
    engine = instance.engine
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("SELECT version FROM state_version"):
            sent.append(statement)

    def arrived() -> contextvars.Context:
        context = contextvars.copy_context()
        context.run(state.arriving)
        return context

    event.listen(engine, "before_cursor_execute", seen)
    try:
        first, second = arrived(), arrived()
        version = int(first.run(state.current, engine))  # type: ignore[call-overload]  # an int without Redis
        assert second.run(state.current, engine) == version
        assert len(sent) == 1  # the second request took the first one's read (before: two reads)

        with engine.connect() as writer:
            writer.execute(text("UPDATE state_version SET version = version + 1 WHERE name = 'verification'"))
            writer.commit()
        third = arrived()  # after the commit: the last read began before it arrived, so it reads again
        assert third.run(state.current, engine) == version + 1
        assert second.run(state.current, engine) == version + 1  # a read begun after it arrived: shared
        assert len(sent) == 2
        assert state.current(engine) == version + 1 and len(sent) == 3  # no arrival noted: a read of its own
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        engine.dispose()
