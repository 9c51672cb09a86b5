"""The databases a backup copies: SQLite snapshots (online backup API), ``pg_dump`` / ``pg_restore``, the Alembic
revision, the key ids the rows name, and copying rows from SQLite into an empty PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import quote

from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.types import DateTime

from trust import db
from trust.crypto.errors import (
    ConfigError,
    NotFoundError,
    UnavailableError,
)
from trust.service.backup.archive import DATABASE_MEMBERS

_LIBPQ_KEYS: Final = frozenset(
    {"sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "connect_timeout", "application_name", "options"}
)


def database_url_of(text_url: str) -> URL:
    try:
        return make_url(text_url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from None


def database_kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend in DATABASE_MEMBERS:
        return backend
    raise ConfigError(f"backups support SQLite and PostgreSQL databases, not {backend}")


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UnavailableError(
            f"{name} is not installed; install the PostgreSQL client tools (version >= the server's)"
        )
    return path


def _conninfo_value(value: str) -> str:
    """A libpq connection-string value: single-quoted, backslash and quote escaped."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment carrying it (never in argv)."""
    params: dict[str, str] = {}
    for key, part in (("dbname", url.database), ("host", url.host), ("port", url.port), ("user", url.username)):
        if part is not None:
            params[key] = str(part)
    for key, value in url.query.items():
        if key in _LIBPQ_KEYS or key == "host":
            params[key] = str(value[0] if isinstance(value, tuple) else value)
    conninfo = " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def run(argv: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - fixed tool, no shell
    except OSError as exc:
        raise UnavailableError(f"{what} could not run: {exc.strerror}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UnavailableError(f"{what} failed: {' / '.join(detail[-3:]) or f'exit {done.returncode}'}")
    return done.stdout.decode("utf-8", "replace")


def sqlite_snapshot(source: Path, target: Path) -> None:
    """One consistent copy with SQLite's online backup API (readers and writers of WAL mode go on)."""
    if not source.is_file():
        raise NotFoundError(f"no SQLite database at {source}")
    try:
        src = sqlite3.connect(f"file:{quote(str(source.resolve()))}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise UnavailableError(f"cannot open the SQLite database {source}: {exc}") from None
    try:
        db.create_private(target)  # the copy holds everything the database does: 0600 from the start
        dst = sqlite3.connect(target)
        try:
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(dst)  # pages=-1: the whole database in one step, under one read transaction
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
            check = dst.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise UnavailableError(f"the SQLite database {source} fails its integrity check: {check}")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise UnavailableError(f"SQLite backup of {source} failed: {exc}") from None
    finally:
        src.close()


def pg_dump(url: URL, target: Path) -> None:
    conninfo, env = libpq(url)
    run(
        [
            tool("pg_dump"),
            "--format=custom",
            "--compress=0",
            "--no-password",
            f"--file={target}",
            f"--dbname={conninfo}",
        ],
        env,
        "pg_dump",
    )


def pgdump_revision(dump: Path) -> str | None:
    """The Alembic revision recorded in a custom-format dump (its ``alembic_version`` data)."""
    out = run(
        [tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(dump)],
        dict(os.environ),
        "pg_restore (reading the dump)",
    )
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line:
            value = lines[i + 1].strip() if i + 1 < len(lines) else "\\."
            return None if value == "\\." else value
    return None


def key_references(engine: Engine) -> set[str]:
    """Every key id the database names: columns ``key_id`` and ``*_key_id`` of every table."""
    found: set[str] = set()
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise UnavailableError(f"database unavailable: {exc.orig}") from None
    with connection:
        inspector = inspect(connection)
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                name = column["name"]
                if name == "key_id" or name.endswith("_key_id"):
                    q = connection.dialect.identifier_preparer.quote
                    rows = connection.exec_driver_sql(
                        f"SELECT DISTINCT {q(name)} FROM {q(table)} WHERE {q(name)} IS NOT NULL"  # noqa: S608 - reflected names
                    )
                    found.update(str(row[0]) for row in rows)
    return found


def alembic_revision(engine: Engine) -> str | None:
    try:
        return db.current_revision(engine)
    except OperationalError as exc:
        raise UnavailableError(f"database unavailable: {exc.orig}") from None


_USER_RELATIONS = (
    "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
)


def pg_relations(engine: Engine) -> list[tuple[str, str, str]]:
    try:
        with engine.connect() as connection:
            return [(str(a), str(b), str(c)) for a, b, c in connection.execute(text(_USER_RELATIONS))]
    except OperationalError as exc:
        raise UnavailableError(f"target database unavailable: {exc.orig}") from None


def pg_clear(engine: Engine) -> None:
    """Undo a failed restore into a database that was verified empty before: drop what it now holds."""
    with contextlib.suppress(OperationalError), engine.begin() as connection:
        q = connection.dialect.identifier_preparer.quote
        for schema, name, relkind in connection.execute(text(_USER_RELATIONS)).all():
            what = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(
                relkind, "SEQUENCE"
            )
            connection.exec_driver_sql(f"DROP {what} IF EXISTS {q(schema)}.{q(name)} CASCADE")


def upgrade_on(connection: Connection) -> None:
    """Alembic upgrade to head on ``connection``, inside its transaction (as :func:`trust.db.upgrade`)."""
    from alembic import command

    config = db.alembic_config(connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def copy_rows(source: Engine, connection: Connection) -> None:
    """Every row of the (upgraded) SQLite database into the (upgraded, empty) PostgreSQL schema, in one
    transaction; then the serial sequences past the copied ids, then a row count check per table."""
    metadata = MetaData()
    metadata.reflect(connection)
    q = connection.dialect.identifier_preparer.quote
    tables = [table for table in metadata.sorted_tables if table.name != "alembic_version"]
    for table in reversed(tables):  # rows the migrations seeded (e.g. the audit head): the source has its own
        connection.execute(table.delete())
    with source.connect() as src:
        for table in tables:
            aware = [c.name for c in table.columns if isinstance(c.type, DateTime) and c.type.timezone]
            result = src.execution_options(stream_results=True).execute(select(table))
            copied = 0
            while rows := result.mappings().fetchmany(1000):
                batch = []
                for row in rows:
                    values = dict(row)
                    for name in aware:  # SQLite keeps UTC wall time without an offset
                        value = values.get(name)
                        if isinstance(value, datetime) and value.tzinfo is None:
                            values[name] = value.replace(tzinfo=UTC)
                    batch.append(values)
                connection.execute(table.insert(), batch)
                copied += len(batch)
            for column in table.primary_key.columns:
                sequence = connection.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": q(table.name), "c": column.name}
                ).scalar()
                if sequence:
                    connection.execute(
                        text(
                            f"SELECT setval(:s, COALESCE((SELECT MAX({q(column.name)}) FROM {q(table.name)}), 1), "  # noqa: S608
                            f"(SELECT MAX({q(column.name)}) FROM {q(table.name)}) IS NOT NULL)"
                        ),
                        {"s": sequence},
                    )
            target_count = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {q(table.name)}").scalar()  # noqa: S608
            if target_count != copied:  # pragma: no cover - an invariant of the copy
                raise UnavailableError(f"copy of table {table.name}: {copied} rows read, {target_count} in the target")
