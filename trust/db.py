"""Database wiring: one engine per URL, sessions, and Alembic migrations.

SQLite (the default, one process) gets WAL journaling, foreign keys and a busy timeout; PostgreSQL (several
workers) gets pre-ping and a bounded pool. Tables are SQLModel classes in the packages that own them
(``ca.models``, ...); the schema is created and upgraded only by Alembic (``trust/migrations``), never by
``create_all``, so SQLite and PostgreSQL always run the same migrations.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from trust.crypto.errors import ConfigError, UnavailableError

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
READ_ONLY = "huren_read_only"  # execution option: this connection only reads
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("trust.db")


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 (never wider, whatever the umask) unless it exists; True if created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def private_sqlite_file(path: Path) -> None:
    """The SQLite database file, created 0600 before SQLite opens it.

    SQLite would create it with 0644 less the umask (group- and world-readable under the usual 022), and gives
    its ``-wal`` and ``-shm`` files the database file's mode — so creating the database file 0600 first makes
    all three private, with no moment in which any was readable by others (issue 11). Files an older version
    left readable by others are tightened, with a warning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    create_private(path)
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        try:
            mode = candidate.stat().st_mode
            if mode & 0o077:
                candidate.chmod(0o600)
                log.warning("%s was readable or writable by others (mode %o); now 0600", candidate, mode & 0o777)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s is readable or writable by others and not ours to chmod 600", candidate)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from None
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_file(Path(database))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINT (a RELEASE outside its implicit BEGIN
            # commits); let SQLAlchemy emit BEGIN itself (SQLAlchemy docs, "Serializable isolation /
            # Savepoints / Transactional DDL" for pysqlite).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two writers never deadlock on a lock upgrade
            # (SQLITE_BUSY that busy_timeout cannot resolve); WAL keeps readers unblocked. Connections marked
            # read-only (execution option ``huren_read_only``) start a plain deferred transaction instead.
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception.

    ``read_only`` sessions start a deferred transaction on SQLite (no write lock), so they never wait behind a
    writer, and can run while another session of the same thread holds the write lock."""
    session = Session(engine, expire_on_commit=False)
    if read_only:
        session.connection(execution_options={READ_ONLY: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise UnavailableError(f"database unavailable: {exc.orig}") from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return str(row[0]) if row else None


def ping(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        raise UnavailableError(f"database unavailable: {exc.orig}") from None
