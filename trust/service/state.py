"""The version of what verification depends on (issue 15 item 1): one number that every change bumps.

``POST /verify`` and ``GET /bundle`` answer from an immutable in-memory verification context (and signed bundle) per
process (:mod:`trust.service.verification`). What that context holds comes from the database: the latest trust list,
every CRL (main and partition), every Status List Token. Instead of reading all of it for every request to see whether
it changed, a request reads one number, :func:`current`, and rebuilds the context only when it differs from the one the
context was built at.

* **Bumped in the same transaction** as the change (``state_version`` row ``verification``, migration
  ``0014_scale``): a session listener notes every flushed change to a CRL, a CRL partition, a trust list, a CA, a
  retired CA key's CRL, a status list, a licence's status or the identity federation (entities, trust marks), and
  the transaction's ``before_commit`` increments the version once. A committed change is therefore visible to the
  next request in every worker, and a rolled-back one bumps nothing.
* **Redis, when configured** (``TRUST_STATE_REDIS_URL``): after the commit a change counter in Redis is incremented,
  and workers compare that counter (and the database version, read at most once per :data:`DATABASE_RECHECK`)
  instead of reading the database per request. A Redis that does not answer (0.5 s) sends readers back to the
  database; an increment that could not reach Redis is made good by the database re-check.
* Reads use a read-only transaction (SQLite: a deferred ``BEGIN``, no write lock), one primary-key row.
* **What changed** (branch ctxpatch, migration ``0018_state_change``): the same ``before_commit`` writes one
  ``state_change`` row for the new version, naming what the transaction changed — the CRL partitions (``crl_shard``
  rows: CA, partition, signing key) and the status lists (``status_list`` rows, and the lists of licences whose status
  changed) — or ``full`` for anything else (a trust list, a CA, a main CRL, the federation, :func:`bump`, a deleted
  row). :func:`changes` gives a worker what moved between two versions, so that it patches its verification context
  with just that material (:mod:`trust.service.verification`); a missing row (a bump made by raw SQL, a pruned one)
  reads as ``full``. Rows older than :data:`CHANGES_KEPT` versions are deleted as new ones are written. Issuing a
  certificate writes none of these rows and bumps nothing.

Installed by :class:`trust.service.instance.Instance` (idempotent, like :mod:`trust.service.audit`).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Hashable
from typing import Any, Final

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

log = logging.getLogger("trust.service.state")

NAME: Final = "verification"
TRACKED: Final = frozenset(
    {"crl", "crl_shard", "trust_list", "ca", "ca_key_history", "status_list", "federation_entity", "trust_mark"}
)
"""Tables any change of which changes what a verifier is given (every row kind the offline bundle is made of)."""
TRACKED_COLUMNS: Final = {"license": frozenset({"status"})}
"""Tables of which only these columns count (a new licence changes no status list: its entry reads ``valid``)."""
REDIS_KEY: Final = "state:verification"
REDIS_TIMEOUT: Final = 0.5
WAIT_FOR_READ: Final = 1.0
"""Seconds a request with a noted arrival waits for another thread's read of the version before reading elsewhere."""
DATABASE_RECHECK: Final = 1.0
"""With Redis, readers still read the database at least this often (seconds)."""

CHANGES_KEPT: Final = 4096
"""``state_change`` rows kept (the newest versions); a worker further behind than this rebuilds its context."""
FULL: Final = "full"
"""A change :func:`changes` cannot name piece by piece: the context is rebuilt from the whole bundle."""
CrlSlot = tuple[str, str, int, str]  # ("crl_shard", CA id, partition, signer: "" for the current key)
StatusSlot = tuple[str, int]  # ("status_list", its id)

_PENDING: Final = "huren_state_changed"
_CHANGES: Final = "huren_state_changes"
_COMMITTED: Final = "huren_state_version"
_redis: weakref.WeakKeyDictionary[Engine, _Redis] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_ticks: Final = itertools.count(1)
"""Moments in this process, in order: a request's arrival (:func:`arriving`) and the start of each kept-connection
read take the next one (``next`` on a count is atomic under the GIL)."""
_arrival: contextvars.ContextVar[int | None] = contextvars.ContextVar("huren_state_arrival", default=None)


class _Redis:
    """The Redis client of one engine's instance, and the database version it last read (:data:`DATABASE_RECHECK`).

    Redis holds a counter every committed change increments (``INCR``, after the commit): readers compare the counter,
    never its value with the database's, so a counter left by another database (a restore, a shared prefix) or a lost
    increment only costs a rebuild or a delay of at most :data:`DATABASE_RECHECK`, never a missed change."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        self.key = f"{prefix}:{REDIS_KEY}"
        self.checked = -DATABASE_RECHECK
        self.database = -1
        self.failed_at = -60.0

    def publish(self) -> None:
        try:
            self.client.incr(self.key)
        except Exception as exc:  # noqa: BLE001 - Redis down: readers fall back to the database (DATABASE_RECHECK)
            self._failed("written to", exc)

    def read(self) -> int | None:
        try:
            value: Any = self.client.get(self.key)  # bytes or None (a synchronous client)
        except Exception as exc:  # noqa: BLE001 - Redis down: the caller reads the database
            self._failed("read from", exc)
            return None
        return int(value) if value is not None else None

    def _failed(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self.failed_at > 60:
            log.warning("the state version could not be %s Redis (%s): the database is used", what, type(exc).__name__)
        self.failed_at = now


def configure(engine: Engine, redis_url: str | None, prefix: str = "huren") -> None:
    """Use Redis at ``redis_url`` for the version of ``engine``'s database (``None``/empty: the database only)."""
    with _lock:
        if redis_url:
            _redis[engine] = _Redis(redis_url, prefix)
        else:
            _redis.pop(engine, None)


def current(engine: Engine) -> Hashable:
    """The version now, a value to compare for equality only: one row of the database in a read-only transaction; with
    Redis, its change counter and the database version read at most :data:`DATABASE_RECHECK` ago (the database
    again at once when Redis does not answer or holds no counter)."""
    notifier = _redis.get(engine)
    if notifier is None:
        return _read(engine, since=_arrival.get())
    now = time.monotonic()
    if now - notifier.checked >= DATABASE_RECHECK:
        notifier.checked, notifier.database = now, _read(engine)
    counter = notifier.read()
    if counter is None:
        notifier.checked, notifier.database = now, _read(engine)
        return ("database", notifier.database)
    return (counter, notifier.database)


def arriving() -> None:
    """Note that a request arrives now (in its context: the HTTP layer calls it, the verification thread inherits it).
    A read of the version that *began* after this moment sees every change committed before the request arrived, so
    :func:`current` may answer that request with such a read made for another one instead of reading again (issue 15
    item 1: requests queued for a worker's verifier thread share one round trip). Without a noted arrival every call
    reads. A read begun before the arrival is never reused: a revocation committed before a request still counts
    for it."""
    _arrival.set(next(_ticks))


def database_version(engine: Engine) -> int:
    """The version the database holds (what :func:`current` reads when no Redis is configured)."""
    return _read(engine)


_SELECT: Final = text("SELECT version FROM state_version WHERE name = :name")


class _Held:
    """One connection per engine and process kept checked out for the version read on a server database (issue 15
    item 1): a pool checkout pings the server first (``pool_pre_ping``), a second round trip per ``POST /verify``
    that cost more CPU than the read itself. Used by one thread at a time; a thread that finds it busy, or a read
    that fails on it (the server restarted, the connection was cut), takes the pooled path, and a failed connection
    is dropped and replaced on the next read. Closed with :meth:`Engine.dispose`; it takes one of the pool's places."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: Any = None
        self.cursor: Any = None
        self.pid = os.getpid()
        self.latest: tuple[int, int] | None = None  # (the moment the last read began, what it read)

    def read(self, engine: Engine, since: int | None = None) -> int | None:
        """The version, read on the kept connection — or, for a request that arrived at the moment ``since``, the
        value of a read that began after it (:func:`arriving`). None: busy or failed (the caller reads elsewhere)."""
        latest = self.latest
        if since is not None and latest is not None and latest[0] > since:
            return latest[1]
        # a request waits (a moment at most) for the read under way, then shares it or reads; others never wait
        if not (self.lock.acquire(timeout=WAIT_FOR_READ) if since is not None else self.lock.acquire(blocking=False)):
            return None
        try:
            latest = self.latest
            if since is not None and latest is not None and latest[0] > since:
                return latest[1]  # begun after this request arrived, done while it waited
            began = next(_ticks)
            if self.pid != os.getpid():  # inherited through fork: the parent's socket is not ours to use
                self.connection, self.cursor, self.latest, self.pid = None, None, None, os.getpid()
            if self.connection is None:
                self.connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self.cursor = _Statement(engine, self.connection)
            row = self.cursor.first()
            value = int(row[0]) if row is not None else 0
            self.latest = (began, value)
        except Exception:  # noqa: BLE001 - the pooled path (with its ping) reads it, or raises the real error
            self.close()
            return None
        finally:
            self.lock.release()
        return value

    def close(self) -> None:
        connection, self.connection, self.cursor, self.latest = self.connection, None, None, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closed for real, not handed back (to a pool maybe disposed of)
                connection.invalidate()
                connection.close()


class _Statement:
    """:data:`_SELECT` on a kept connection's DB-API cursor (issue 15 item 1): compiled once for the engine's dialect,
    then one ``execute`` and ``fetchone`` per read — SQLAlchemy's per-statement work (execution context, result
    object, events) cost more CPU than the round trip. The same SQL, parameters and autocommit as the pooled path;
    ``before_cursor_execute`` listeners see it (:meth:`first` fires the engine's event as SQLAlchemy would)."""

    def __init__(self, engine: Engine, connection: Any) -> None:
        compiled = _SELECT.compile(dialect=engine.dialect)
        params = compiled.construct_params({"name": NAME})
        self.sql = str(compiled)
        self.params: Any = tuple(params[key] for key in compiled.positiontup or ()) if compiled.positional else params
        self.connection = connection
        self.cursor = connection.connection.dbapi_connection.cursor()

    def first(self) -> Any:
        if self.connection._has_events or self.connection.engine._has_events:
            self.connection.dispatch.before_cursor_execute(
                self.connection, self.cursor, self.sql, self.params, None, False
            )
        self.cursor.execute(self.sql, self.params)
        return self.cursor.fetchone()


_held: weakref.WeakKeyDictionary[Engine, _Held] = weakref.WeakKeyDictionary()


def _held_for(engine: Engine) -> _Held:
    held = _held.get(engine)
    if held is None:
        with _lock:
            held = _held.get(engine)
            if held is None:
                made = _held[engine] = _Held()
                event.listen(engine, "engine_disposed", lambda _engine: made.close())
                held = made
    return held


def _read(engine: Engine, since: int | None = None) -> int:
    """One row on a plain connection (an ORM session costs three times as much): on SQLite in a read-only (deferred)
    transaction; on a server database the one statement in autocommit mode — one round trip instead of three
    (``BEGIN``, the ``SELECT``, ``ROLLBACK``), the same committed value (issue 15 item 1: every ``POST /verify``
    reads it) — on the connection :class:`_Held` keeps, so no checkout ping either."""
    from trust.db import READ_ONLY

    if engine.dialect.name == "sqlite":
        options: dict[str, Any] = {READ_ONLY: True}
    else:
        version = _held_for(engine).read(engine, since)
        if version is not None:
            return version
        options = {"isolation_level": "AUTOCOMMIT"}
    with engine.connect().execution_options(**options) as connection:
        row = connection.execute(_SELECT, {"name": NAME}).first()
        connection.rollback()  # SQLite: end the read transaction (in autocommit mode nothing is sent)
    return int(row[0]) if row is not None else 0


def bump(session: OrmSession) -> None:
    """Count a change that no tracked row shows (e.g. one made by raw SQL) in this transaction."""
    session.info[_PENDING] = True
    session.info[_CHANGES] = FULL


def _note(session: OrmSession, change: tuple[Any, ...] | None) -> None:
    """A tracked change: named (``change``) or not (``None``: the whole context is rebuilt for it)."""
    session.info[_PENDING] = True
    noted = session.info.get(_CHANGES)
    if noted == FULL:
        return
    if change is None:
        session.info[_CHANGES] = FULL
        return
    if noted is None:
        noted = session.info[_CHANGES] = set()
    noted.add(change)


def _named(table: str, obj: Any) -> tuple[Any, ...] | None:
    """The change a new or changed row of a tracked table names, or ``None`` (anything else: a full rebuild)."""
    if table == "crl_shard":
        return ("crl_shard", str(obj.ca_id), int(obj.shard), str(obj.signer))
    if table == "status_list" and obj.id is not None:
        return ("status_list", int(obj.id))
    return None


def _after_flush(session: OrmSession, _context: Any) -> None:
    if session.info.get(_CHANGES) == FULL:
        return
    for obj in session.deleted:
        if getattr(obj, "__tablename__", "") in TRACKED:
            _note(session, None)
            return
    dirty = list(session.dirty)
    for obj in session.new:
        table = getattr(obj, "__tablename__", "")
        if table in TRACKED:
            _note(session, _named(table, obj))
            if session.info.get(_CHANGES) == FULL:
                return
    for obj in dirty:
        table = getattr(obj, "__tablename__", "")
        if table in TRACKED:
            _note(session, _named(table, obj))
            if session.info.get(_CHANGES) == FULL:
                return
            continue
        columns = TRACKED_COLUMNS.get(table)
        if columns and any(inspect(obj).attrs[name].history.has_changes() for name in columns):
            list_id = getattr(obj, "status_list_id", None)  # a licence's status: its status list's token
            _note(session, ("status_list", int(list_id)) if isinstance(list_id, int) else None)


def _before_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: counted with its transaction
    if session.new or session.dirty or session.deleted:
        session.flush()
    if not session.info.pop(_PENDING, False):
        session.info.pop(_CHANGES, None)
        return
    row = session.execute(
        text("UPDATE state_version SET version = version + 1 WHERE name = :name RETURNING version"), {"name": NAME}
    ).first()
    if row is None:
        session.info.pop(_CHANGES, None)
        return
    version = int(row[0])
    session.info[_COMMITTED] = version
    noted = session.info.pop(_CHANGES, None)
    named = FULL if noted is None or noted == FULL else json.dumps(sorted(noted, key=repr), separators=(",", ":"))
    session.execute(_INSERT_CHANGE, {"version": version, "changes": named})
    if version % 64 == 0:  # pruned now and then: one range delete on the primary key
        session.execute(_PRUNE_CHANGES, {"below": version - CHANGES_KEPT})


_INSERT_CHANGE: Final = text("INSERT INTO state_change (version, changes) VALUES (:version, :changes)")
_PRUNE_CHANGES: Final = text("DELETE FROM state_change WHERE version <= :below")
_SELECT_CHANGES: Final = text(
    "SELECT version, changes FROM state_change WHERE version > :since AND version <= :until ORDER BY version"
)


def changes(engine: Engine, since: int, until: int) -> set[tuple[Any, ...]] | None:
    """What the versions after ``since`` up to ``until`` changed, as named changes (:data:`CrlSlot`,
    :data:`StatusSlot`), or ``None`` when one of them cannot be named (:data:`FULL`) or has no row (a bump by raw
    SQL, a pruned row, a version going backwards): then the caller rebuilds. One read-only range read."""
    from trust.db import READ_ONLY

    if until < since or until - since > CHANGES_KEPT:
        return None
    if until == since:
        return set()
    sqlite = engine.dialect.name == "sqlite"
    options: dict[str, Any] = {READ_ONLY: True} if sqlite else {"isolation_level": "AUTOCOMMIT"}
    with engine.connect().execution_options(**options) as connection:
        rows = connection.execute(_SELECT_CHANGES, {"since": since, "until": until}).all()
        connection.rollback()
    if len(rows) != until - since:
        return None
    found: set[tuple[Any, ...]] = set()
    for _version, text_value in rows:
        if text_value == FULL:
            return None
        try:
            items = json.loads(text_value)
        except ValueError:
            return None
        for item in items:
            if isinstance(item, list) and len(item) == 4 and item[0] == "crl_shard":
                found.add(("crl_shard", str(item[1]), int(item[2]), str(item[3])))
            elif isinstance(item, list) and len(item) == 2 and item[0] == "status_list":
                found.add(("status_list", int(item[1])))
            else:
                return None
    return found


def _after_commit(session: OrmSession) -> None:
    version = session.info.pop(_COMMITTED, None)
    if version is None:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    notifier = _redis.get(engine) if engine is not None else None
    if notifier is not None:
        notifier.publish()


def _after_rollback(session: OrmSession) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)
        session.info.pop(_CHANGES, None)
        session.info.pop(_COMMITTED, None)


def install() -> None:
    """Register the listeners on every session (idempotent)."""
    if not event.contains(OrmSession, "after_flush", _after_flush):
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "before_commit", _before_commit)
        event.listen(OrmSession, "after_commit", _after_commit)
        event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))
