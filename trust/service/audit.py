"""The audit log: every state change, hash-chained, written in the same transaction as the change.

**Capture.** Nobody has to remember to audit: an SQLAlchemy ``after_flush`` listener sees every row that a
session inserts, updates or deletes in an audited table (:data:`AUDITED`) and notes *what* changed (entity, key,
operation, the changed fields that matter); ``before_commit`` turns the notes into :class:`AuditEntry` rows in
the same transaction, so a change and its audit entry commit or roll back together. *Who* and the request id
come from context variables set by the HTTP layer (the authenticated client), the CLI (``cli:<user>``) or the
background refresher (``system:refresh``) — :func:`acting`. Changes that are not facts of the trust service
(counters, access tokens, replay caches) are not audited; an update that only touches ignored fields writes
no entry. Refused requests of authenticated clients are recorded with result ``denied`` (:func:`record`).

**Chain.** Entry *n* stores ``hash = SHA-256(prev_hash || "\\n" || canonical JSON of the entry)`` and
``prev_hash`` = hash of entry *n − 1* (64 zeros for the first); the single ``audit_head`` row holds the last
sequence number and hash. Appending locks that row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers are
serialised by ``BEGIN IMMEDIATE``), so workers append one after another and sequence numbers have no gaps.
:func:`verify` recomputes the chain and names the first entry that was edited, deleted or reordered, and
detects entries removed from the end (the head disagrees). An operator who rewrites every later hash *and*
the head defeats a self-contained chain; publishing the head elsewhere (``trust audit head``, e.g. into the
operations log or a printed ceremony record) makes that detectable too.

**Privacy.** Entries carry identifiers, not content: long values (DER, tokens) appear as their SHA-256, and
holder codes (citizen ID numbers, USCCs of persons) are masked to their first 6 and last 4 characters.
"""

from __future__ import annotations

import contextvars
import getpass
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Column, String, Text, event, insert, inspect, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, col, select

from trust import db

GENESIS: Final = "0" * 64
MAX_VALUE_CHARS: Final = 200
_PENDING: Final = "huren_audit_pending"

actor_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("huren_actor", default=None)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("huren_request_id", default=None)
# The X-Request-ID a client sent (checked by the HTTP layer), kept apart from the server's own request id.
client_request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("huren_client_rid", default=None)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: str = Field(sa_column=Column(String(32), nullable=False))  # ISO 8601 UTC, exactly as hashed
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=256, index=True)
    request_id: str | None = Field(default=None, max_length=64)
    client_request_id: str | None = Field(default=None, max_length=128)  # hashed when present (canonical)
    result: str = Field(max_length=16)
    details: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON, exactly as hashed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(default=GENESIS, max_length=64)


@dataclass(frozen=True)
class Audited:
    """How one table is audited: the entity name in actions, the key column(s), the fields worth recording,
    and fields whose changes alone are not worth an entry."""

    entity: str
    key: tuple[str, ...]
    fields: tuple[str, ...]
    ignore: frozenset[str] = frozenset()
    masked: frozenset[str] = frozenset()


AUDITED: Final[dict[str, Audited]] = {
    "ca": Audited(
        "ca",
        ("id",),
        ("kind", "code", "name", "family", "parent_id", "serial", "status", "cert_der", "ocsp_cert_der"),
        ignore=frozenset({"crl_number"}),
    ),
    "certificate": Audited(
        "certificate",
        ("serial",),
        ("issuer_id", "profile", "subject", "family", "not_after", "status", "revocation_reason", "fingerprint"),
    ),
    "crl": Audited("crl", ("ca_id", "number"), ("this_update", "next_update", "der")),
    "ca_key_history": Audited(
        "ca-key-history", ("ca_id", "serial"), ("ca_id", "serial", "not_after", "retired_at", "cert_der", "crl_der")
    ),
    "issuer": Audited("issuer", ("id",), ("kind", "code", "name", "scope")),
    "trust_service": Audited("trust-service", ("id",), ("issuer_id", "type", "family", "scope", "cert_der")),
    "trust_event": Audited("trust-event", ("subject_id", "id"), ("subject", "status", "effective_at", "reason")),
    "trust_list": Audited("trust-list", ("sequence",), ("digest", "issued_at", "next_update")),
    "seal": Audited(
        "seal",
        ("es_id",),
        ("issuer_ca_id", "holder_kind", "holder_name", "holder_code", "name", "status", "valid_end", "seal_der"),
        masked=frozenset({"holder_code"}),
    ),
    "seal_event": Audited("seal-event", ("seal_id", "id"), ("status", "reason")),
    "seal_maker": Audited("seal-maker", ("ca_id",), ("cert_serial",)),
    "license_issuer": Audited(
        "license-issuer",
        ("id",),
        ("name", "code", "ca_id", "cert_serial", "license_types", "seal_es_id"),
    ),
    "status_list": Audited(
        "status-list",
        ("uri",),
        ("issuer_id", "bits", "size"),
        ignore=frozenset({"next_index", "version", "updated_at", "data"}),
    ),
    "license": Audited(
        "license",
        ("identifier",),
        ("type_code", "issuer_id", "holder_kind", "holder_code", "status", "status_index", "valid_until"),
        masked=frozenset({"holder_code"}),
    ),
    "license_event": Audited("license-event", ("license_id", "id"), ("status", "reason")),
    "platform_client": Audited("client", ("id",), ("kind", "region", "license_issuer_id", "name", "status")),
    "platform_credential": Audited("client-credential", ("serial",), ("client_id", "fingerprint", "status")),
}


# --- who is acting ----------------------------------------------------------------------------------------------


@contextmanager
def acting(actor: str, request_id: str | None = None) -> Iterator[None]:
    """Attribute every change made inside the block to ``actor`` (and ``request_id``)."""
    actor_token = actor_var.set(actor)
    request_token = request_id_var.set(request_id)
    try:
        yield
    finally:
        actor_var.reset(actor_token)
        request_id_var.reset(request_token)


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def _actor() -> str:
    return actor_var.get() or "system"


# --- capture ----------------------------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, datetime):
        return _iso(value)
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def mask(code: str | None) -> str | None:
    """``330106********0018``: enough to tell records apart, not enough to identify a person."""
    if code is None or len(code) <= 10:
        return code
    return code[:6] + "*" * (len(code) - 10) + code[-4:]


def _value(spec: Audited, name: str, value: Any) -> Any:
    if name in spec.masked and isinstance(value, str):
        return mask(value)
    return _text(value)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Note:
    obj: Any
    spec: Audited
    operation: str  # create | update | delete
    details: dict[str, Any]
    status: str | None


def _key(spec: Audited, obj: Any) -> str:
    return "/".join(str(getattr(obj, part, "")) for part in spec.key)


def _after_flush(session: OrmSession, _context: Any) -> None:
    notes: list[_Note] = session.info.setdefault(_PENDING, [])
    for obj in session.new:
        spec = AUDITED.get(getattr(obj, "__tablename__", ""))
        if spec is not None:
            details = {name: _value(spec, name, getattr(obj, name, None)) for name in spec.fields}
            notes.append(_Note(obj, spec, "create", details, getattr(obj, "status", None)))
    for obj in session.dirty:
        spec = AUDITED.get(getattr(obj, "__tablename__", ""))
        if spec is None:
            continue
        state = inspect(obj)
        changed: dict[str, Any] = {}
        for attr in state.mapper.column_attrs:
            history = state.attrs[attr.key].history
            if not history.has_changes() or attr.key in spec.ignore:
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if attr.key in spec.fields or attr.key == "status":
                changed[attr.key] = {"from": _value(spec, attr.key, before), "to": _value(spec, attr.key, after)}
            else:
                changed[attr.key] = "changed"
        if changed:
            status = changed.get("status", {}).get("to") if isinstance(changed.get("status"), dict) else None
            notes.append(_Note(obj, spec, "update", changed, status))
    for obj in session.deleted:
        spec = AUDITED.get(getattr(obj, "__tablename__", ""))
        if spec is not None:
            notes.append(_Note(obj, spec, "delete", {}, None))


def _before_commit(session: OrmSession) -> None:
    if not session.info.get(_PENDING) and not session.new and not session.dirty and not session.deleted:
        return
    session.flush()  # pending changes are flushed (and noted) before their entries are written
    notes: list[_Note] = session.info.pop(_PENDING, [])
    live = []
    for note in notes:
        state = inspect(note.obj)
        if note.operation == "delete" or state.persistent:  # rolled-back savepoints leave transient objects
            live.append(note)
    if not live:
        return
    actor, request_id = _actor(), request_id_var.get()
    at = _iso(datetime.now(UTC))
    rows = []
    for note in live:
        action = f"{note.spec.entity}.{note.operation}"
        if note.operation == "update" and note.status:
            action = f"{note.spec.entity}.{note.status}"
        rows.append(
            {
                "at": at,
                "actor": actor,
                "action": action[:64],
                "subject": f"{note.spec.entity}:{_key(note.spec, note.obj)}"[:256],
                "request_id": request_id,
                "client_request_id": client_request_id_var.get(),
                "result": "ok",
                "details": note.details,
            }
        )
    append(session, rows)


def _after_rollback(session: OrmSession) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def install() -> None:
    """Register the capture listeners on every SQLModel/SQLAlchemy session (idempotent)."""
    if not event.contains(OrmSession, "after_flush", _after_flush):
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "before_commit", _before_commit)
        event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))


# --- the chain --------------------------------------------------------------------------------------------------


def canonical(entry: Mapping[str, Any]) -> str:
    """The hashed form of an entry: sorted keys, no spaces, UTF-8 (``details`` nested as an object). A client's
    request id is hashed when there is one (entries without it hash as they always did)."""
    names = ["seq", "at", "actor", "action", "subject", "request_id", "result", "details"]
    if entry.get("client_request_id") is not None:
        names.append("client_request_id")
    return json.dumps(
        {k: entry[k] for k in names},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(entry).encode("utf-8")).hexdigest()


def append(session: Session | OrmSession, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` (without seq/hashes) to the chain inside the caller's transaction."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:  # pragma: no cover - the migration creates the head row
        raise RuntimeError("audit_head row missing: run the database migrations")
    seq, prev = int(head[0]), str(head[1])
    values = []
    for row in rows:
        seq += 1
        entry = {**row, "seq": seq}
        digest = chain_hash(prev, entry)
        values.append(
            {
                **entry,
                "details": json.dumps(row["details"], sort_keys=True, ensure_ascii=False, separators=(",", ":")),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    session.execute(insert(AuditEntry), values)
    session.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(seq=seq, hash=prev))


def record(engine: Engine, *, action: str, subject: str, result: str, details: Mapping[str, Any] | None = None) -> None:
    """A standalone entry in its own transaction (e.g. a refused request: result ``denied``)."""
    with db.session_scope(engine) as session:
        append(
            session,
            [
                {
                    "at": _iso(datetime.now(UTC)),
                    "actor": _actor(),
                    "action": action[:64],
                    "subject": subject[:256],
                    "request_id": request_id_var.get(),
                    "client_request_id": client_request_id_var.get(),
                    "result": result[:16],
                    "details": {k: _text(v) for k, v in (details or {}).items()},
                }
            ],
        )


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head_seq: int
    first_bad: int | None = None
    problem: str = ""


def verify(engine: Engine, *, batch: int = 5000) -> ChainReport:
    """Recompute the chain; the first edited, deleted or reordered entry is named."""
    expected_seq, prev, count = 1, GENESIS, 0
    with db.session_scope(engine, read_only=True) as session:
        head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
        head_seq, head_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS)
        last = 0
        while True:
            rows = session.exec(
                select(AuditEntry).where(col(AuditEntry.seq) > last).order_by(col(AuditEntry.seq)).limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                last = row.seq
                if row.seq != expected_seq:
                    return ChainReport(
                        False,
                        count,
                        head_seq,
                        expected_seq,
                        f"entry {expected_seq} is missing (deleted or renumbered); the next entry is {row.seq}",
                    )
                if row.prev_hash != prev:
                    return ChainReport(
                        False,
                        count,
                        head_seq,
                        row.seq,
                        f"entry {row.seq} does not follow entry {row.seq - 1} (an entry was deleted, inserted or "
                        "reordered)",
                    )
                try:
                    details = json.loads(row.details)
                except ValueError:
                    return ChainReport(False, count, head_seq, row.seq, f"entry {row.seq} has unreadable details")
                entry = {
                    "seq": row.seq,
                    "at": row.at,
                    "actor": row.actor,
                    "action": row.action,
                    "subject": row.subject,
                    "request_id": row.request_id,
                    "client_request_id": row.client_request_id,
                    "result": row.result,
                    "details": details,
                }
                if chain_hash(prev, entry) != row.hash:
                    return ChainReport(False, count, head_seq, row.seq, f"entry {row.seq} was edited (hash mismatch)")
                prev = row.hash
                expected_seq += 1
                count += 1
    if count != head_seq or prev != head_hash:
        return ChainReport(
            False,
            count,
            head_seq,
            count + 1,
            f"the head records {head_seq} entries but the chain ends at {count}: entries after {count} were removed"
            if head_seq > count
            else f"the chain ends at {count} but the head records {head_seq} (the head was edited)",
        )
    return ChainReport(True, count, head_seq)


def head(engine: Engine) -> tuple[int, str]:
    with db.session_scope(engine, read_only=True) as session:
        row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def entries(engine: Engine, *, subject: str | None = None, after: int = 0, limit: int = 100) -> list[AuditEntry]:
    with db.session_scope(engine, read_only=True) as session:
        query = select(AuditEntry).where(col(AuditEntry.seq) > after)
        if subject is not None:
            query = query.where(col(AuditEntry.subject) == subject)
        return list(session.exec(query.order_by(col(AuditEntry.seq)).limit(limit)).all())


install()

__all__ = [
    "AUDITED",
    "AuditEntry",
    "AuditHead",
    "ChainReport",
    "acting",
    "append",
    "cli_actor",
    "entries",
    "head",
    "install",
    "mask",
    "record",
    "verify",
]
