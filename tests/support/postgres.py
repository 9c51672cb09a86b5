"""A fresh PostgreSQL database per test.

The server is named by ``HUREN_TEST_POSTGRES_URL`` (any SQLAlchemy URL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Without it the default below is tried; if that
server does not answer, the test is skipped locally and fails in CI (:func:`tests.conftest.missing_external`).
A URL that is set explicitly but unreachable is a failure: somebody meant it to work.

For each test :func:`fresh_database` connects to the server's maintenance database ``postgres`` (autocommit),
creates ``huren_test_<random>``, yields its SQLAlchemy URL, and afterwards terminates whatever is still
connected to it and drops it. Test modules wrap it in a fixture::

    @pytest.fixture
    def postgres_url() -> Iterator[str]:
        yield from postgres.fresh_database()
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator
from typing import Any

import pytest
from sqlalchemy.engine import URL, make_url

from tests.conftest import missing_external

ENV = "HUREN_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MAINTENANCE_DB = "postgres"
PREFIX = "huren_test_"


def server_url() -> tuple[URL, bool]:
    """The configured server URL and whether it was set explicitly."""
    explicit = os.environ.get(ENV)
    url = make_url(explicit or DEFAULT_URL)
    if url.get_backend_name() != "postgresql":
        pytest.fail(f"{ENV} must be a PostgreSQL URL, got {url.render_as_string(hide_password=True)}")
    return url.set(drivername="postgresql+psycopg"), explicit is not None


def _connect_args(url: URL, database: str) -> dict[str, Any]:
    args: dict[str, Any] = {"dbname": database, "autocommit": True, "connect_timeout": 5}
    for key, value in (("host", url.host), ("port", url.port), ("user", url.username), ("password", url.password)):
        if value is not None:
            args[key] = value
    return args


def _maintenance_connection(url: URL, explicit: bool) -> Any:
    import psycopg

    errors = []
    for database in dict.fromkeys((MAINTENANCE_DB, url.database or MAINTENANCE_DB)):
        try:
            return psycopg.connect(**_connect_args(url, database))
        except psycopg.OperationalError as exc:
            errors.append(f"{database}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}")
    where = url.render_as_string(hide_password=True)
    reason = f"PostgreSQL server {where} does not answer ({'; '.join(errors)})"
    if explicit:
        pytest.fail(f"{ENV} is set but {reason}")
    missing_external(f"{reason}; set {ENV} to a server where the user may CREATE DATABASE")
    raise AssertionError("unreachable")  # missing_external skips or fails


def drop_database(connection: Any, name: str) -> None:
    """Terminate every session on ``name`` and drop it."""
    from psycopg import sql

    connection.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    # WITH (FORCE) (PostgreSQL 13+): sessions the termination above has not yet ended do not fail the drop.
    connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fresh_database() -> Generator[str, None, None]:
    """Create an empty database, yield its SQLAlchemy URL (password included), drop it afterwards."""
    from psycopg import sql

    url, explicit = server_url()
    connection = _maintenance_connection(url, explicit)
    name = f"{PREFIX}{secrets.token_hex(6)}"
    try:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            drop_database(connection, name)
    finally:
        connection.close()
