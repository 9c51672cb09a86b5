"""Statements on the transaction's DB-API cursor, for the few that every issuance runs (issue 15 item 5).

SQLAlchemy's ``Connection.execute`` of a statement built once still costs ~25 µs of Python per statement (execution
context, result set-up, events) against ~1 µs for the driver's own ``cursor.execute``; an issuance runs a dozen such
statements. :class:`Raw` runs hand-written SQL on the DB-API connection under the caller's SQLAlchemy transaction (the
same connection, so the same transaction: its ``BEGIN``, commit and rollback stay SQLAlchemy's):

* the SQL is written once with ``:name`` parameters and turned into the driver's style once per dialect (SQLite's
  ``sqlite3`` takes ``:name`` itself, psycopg ``%(name)s``);
* timestamps are bound with the dialect's own processor for ``DateTime(timezone=True)`` — the text SQLAlchemy stores
  on SQLite, the ``datetime`` itself on PostgreSQL — so a row written here is the row the ORM would have written;
* a driver error is raised as SQLAlchemy's exception for it (``sqlalchemy.exc.DBAPIError.instance``: an
  ``OperationalError`` stays one, a unique violation is an ``IntegrityError``), as if SQLAlchemy had run it.

Statements run here do not pass through SQLAlchemy's ``before_cursor_execute`` events (the tests count them with the
driver's own trace). Only for SQLite and PostgreSQL (:func:`supported`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import DateTime
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

DIALECTS: Final = frozenset({"sqlite", "postgresql"})
_NAMED: Final = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_styles: dict[tuple[str, str], str] = {}
_KEPT: Final = 512
_timestamps: dict[str, Callable[[Any], Any] | None] = {}


def supported(connection: Connection) -> bool:
    return connection.dialect.name in DIALECTS


def _sql(dialect: str, text: str) -> str:
    key = (dialect, text)
    found = _styles.get(key)
    if found is None:
        found = text if dialect == "sqlite" else _NAMED.sub(r"%(\1)s", text.replace("%", "%%"))
        if len(_styles) >= _KEPT:  # statements written with values in them (integers: a log's node lookup) vary
            _styles.clear()
        _styles[key] = found
    return found


class Raw:
    """The DB-API cursor of ``connection`` (a SQLAlchemy connection inside a transaction)."""

    __slots__ = ("_cursor", "_dialect", "_timestamp")

    def __init__(self, connection: Connection):
        dialect = connection.dialect
        self._dialect = dialect.name
        self._cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if self._dialect not in _timestamps:
            _timestamps[self._dialect] = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
        self._timestamp = _timestamps[self._dialect]

    def timestamp(self, value: datetime | object) -> Any:
        """``value`` as the dialect binds a ``DateTime(timezone=True)`` column."""
        if value is None or self._timestamp is None:
            return value
        return self._timestamp(value)

    def execute(self, text: str, params: Mapping[str, Any]) -> Any:
        """Run one statement; the cursor (``fetchone``/``fetchall`` on it)."""
        sql = _sql(self._dialect, text)
        try:
            self._cursor.execute(sql, params)
        except Exception as exc:
            raise _wrapped(sql, params, exc) from exc
        return self._cursor

    def executemany(self, text: str, rows: Sequence[Mapping[str, Any]]) -> None:
        sql = _sql(self._dialect, text)
        try:
            self._cursor.executemany(sql, rows)
        except Exception as exc:
            raise _wrapped(sql, rows, exc) from exc

    def one(self, text: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a statement (``None``: none)."""
        row = self.execute(text, params).fetchone()
        return None if row is None else tuple(row)


def _wrapped(sql: str, params: Any, exc: Exception) -> Exception:
    """The SQLAlchemy exception for a driver's error (the driver's error itself when it is not one)."""
    module = type(exc).__module__.split(".")[0]
    if module not in ("sqlite3", "psycopg"):
        return exc
    error_base = __import__(module).Error
    if not isinstance(exc, error_base):
        return exc
    wrapped: Exception = DBAPIError.instance(sql, params, exc, error_base)
    return wrapped


__all__ = ["DIALECTS", "Raw", "supported"]
