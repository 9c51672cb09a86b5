"""The audit log: every state change, hash-chained, written in the same transaction as the change.

**Capture.** Nobody has to remember to audit: an SQLAlchemy ``after_flush`` listener sees every row that a
session inserts, updates or deletes in an audited table (:data:`AUDITED`) and notes *what* changed (entity, key,
operation, the changed fields that matter); ``before_commit`` turns the notes into :class:`AuditEntry` rows in
the same transaction, so a change and its audit entry commit or roll back together. *Who* and the request id
come from context variables set by the HTTP layer (the authenticated client), the CLI (``cli:<user>``) or the
background refresher (``system:refresh``) — :func:`acting`. Changes that are not facts of the trust service
(counters, access tokens, replay caches) are not audited; an update that only touches ignored fields writes
no entry. Certificate rows, which ``ca.authority.discipline`` writes with a Core statement (no flush), are noted
through its ``on_created`` hook (:func:`note_created`). Refused requests of authenticated clients are recorded
with result ``denied`` (:func:`record`).

**Chain.** ``details`` is stored in one canonical form, RFC 8785 (JSON Canonicalization Scheme, via the
``rfc8785`` library), and entry *n* stores::

    hash = SHA-256(prev_hash || "\\n" || JCS(header) || "\\n" || details)

where ``header`` is ``{seq, at, actor, action, subject, request_id, result}`` (plus ``client_request_id`` when the
client sent an ``X-Request-ID``) and ``details`` is the stored text,
byte for byte (UTF-8); ``prev_hash`` is the hash of entry *n − 1* (64 zeros for the first). JCS escapes every
control character, so the first newline after the header separates it from ``details`` unambiguously. The
single ``audit_head`` row holds the last sequence number and hash. Appending locks that row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite writers are serialised by ``BEGIN IMMEDIATE``), so workers append one after
another and sequence numbers run 1..N without gaps.

:func:`verify` recomputes the chain and names the first entry that was edited, deleted, inserted or reordered: the
sequence numbers must be exactly 1..N (a row numbered 0 or below, a gap or a row past the head fails); ``details``
must parse without duplicate keys and be byte-identical to its canonical form (a whitespace, ``\\u``-escape or
key-order edit fails even where a re-serialising check would not); the hash is over the stored bytes.

**Legacy entries.** Databases created before migration 0008 hold entries hashed the old way (``SHA-256(prev ||
"\\n" || sorted-keys JSON of the entry with details parsed)``). Migration 0008 keeps them as they are (an
externally recorded head stays valid), records the last of them in ``audit_head.legacy_until`` and appends an
``audit.format`` entry (the cut-over, details ``{"format": 2, "legacy_until": N}``) in the new form. Entries up to
``legacy_until`` are checked with the old hash but the same strictness: their ``details`` must parse without
duplicate keys and equal the old canonical serialisation byte for byte. Moving ``legacy_until`` is detected: the
entry after it must be that cut-over entry, and entries hashed one way do not verify the other way.

**Anchoring.** A self-contained chain cannot detect an operator who truncates the tail and rewrites the head (or
rewrites every later hash). Every signed trust list therefore carries the head as it stood when the list was built
(``audit_head``: sequence number and hash; :mod:`trust.service.trust`, schedule in
:mod:`trust.service.publishing`), and :func:`check` compares the chain with the heads published in the latest
trust list in the database, the published ``trustlist.json`` and any copies given (a verifier's, a mirror's):
a chain shorter than a published head, or whose entry at that sequence number has another hash, fails and names
the trust list. A list whose signature does not verify against the pinned roots is itself reported.

**Privacy.** Entries carry identifiers, not content: long values (DER, tokens) appear as their SHA-256 (after
masking); holder codes (citizen ID numbers, USCCs) are masked to their first 6 and last 4 characters; subject
names (certificate DNs) have every citizen ID number and USCC in them masked; every other text value and the
request id have citizen ID numbers masked (:mod:`trust.formats.idcodes`). Entity keys (seal codes, licence
identifiers, serial numbers) are kept: they are the entries' subjects. The USCC of a licence-issuing authority
appears in its issuer id and in GB/T 36904 licence identifiers, which are public and in the signed trust list.
"""

from __future__ import annotations

import contextvars
import getpass
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import rfc8785
from sqlalchemy import Column, String, Text, bindparam, event, insert, inspect, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, col, select

from ca.authority.cursor import Raw, supported
from trust import db
from trust.crypto.errors import ConfigError, EncodingError, InputError, TrustError, UnavailableError
from trust.formats import idcodes, strict_json
from trust.formats import trustlist as tl

GENESIS: Final = "0" * 64
MAX_VALUE_CHARS: Final = 200
FORMAT: Final = 2  # the hash format of entries after legacy_until (see the module docstring)
FORMAT_ACTION: Final = "audit.format"
HEADER: Final = ("seq", "at", "actor", "action", "subject", "request_id", "result")
OPTIONAL_HEADER: Final = "client_request_id"  # in the hashed header only when present
_PENDING: Final = "huren_audit_pending"
_SAFE_INTEGER: Final = 2**53 - 1  # RFC 8785 numbers are IEEE 754 doubles; larger integers are recorded as text

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
    details: str = Field(sa_column=Column(Text, nullable=False))  # RFC 8785 JSON, exactly as hashed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(default=GENESIS, max_length=64)
    legacy_until: int = Field(default=0)  # the last entry hashed the pre-0008 way (0: none)


@dataclass(frozen=True)
class Audited:
    """How one table is audited: the entity name in actions, the key column(s), the fields worth recording,
    fields whose changes alone are not worth an entry, and how personal identifiers in values are masked:
    ``masked`` fields are holder codes (masked whole), ``names`` hold subject names (every citizen ID number and
    USCC in them masked), ``ids`` hold other records' keys (kept as they are); every other text value has its
    citizen ID numbers masked."""

    entity: str
    key: tuple[str, ...]
    fields: tuple[str, ...]
    ignore: frozenset[str] = frozenset()
    masked: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()


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
        names=frozenset({"subject"}),
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
        ids=frozenset({"seal_es_id"}),
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
    "federation_entity": Audited(
        "federation-entity",
        ("id",),
        ("kind", "region", "issuer_id", "name", "status", "reason", "jwks", "policy", "trust_service_id"),
        ids=frozenset({"issuer_id", "trust_service_id"}),
        ignore=frozenset({"configuration"}),
    ),
    "trust_mark": Audited("trust-mark", ("entity_id", "id"), ("trust_mark_type", "digest", "revoked_at")),
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


def _request_id() -> str | None:
    """The request id, citizen ID numbers masked (defence in depth: the server makes its own)."""
    value = request_id_var.get()
    return None if value is None else idcodes.mask_identifiers(_utf8(value), uscc_codes=False)


def _client_request_id() -> str | None:
    """The client's ``X-Request-ID`` (the client chose it), citizen ID numbers masked."""
    value = client_request_id_var.get()
    return None if value is None else idcodes.mask_identifiers(_utf8(value), uscc_codes=False)


# --- capture ----------------------------------------------------------------------------------------------------


def _utf8(text: str) -> str:
    """``text`` as valid Unicode (a lone surrogate, which JSON in UTF-8 cannot carry, becomes ``?``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest() if len(text) > MAX_VALUE_CHARS else text


def _text(value: Any) -> Any:
    """A JSON value RFC 8785 can represent: long values as their SHA-256, integers beyond 2^53 and non-finite
    floats as text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INTEGER <= value <= _SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, datetime):
        return _iso(value)
    return _utf8(str(value))


def mask(code: str | None) -> str | None:
    """``330106********0018``: enough to tell records apart, not enough to identify a person."""
    return None if code is None else idcodes.mask(code)


def _value(spec: Audited, name: str, value: Any) -> Any:
    if name in spec.masked and isinstance(value, str):
        return _digest(idcodes.mask(_utf8(value)))
    value = _text(value)
    if isinstance(value, str) and not value.startswith("sha256:"):
        if name in spec.names:
            value = idcodes.mask_identifiers(value)
        elif name not in spec.ids:
            value = idcodes.mask_identifiers(value, uscc_codes=False)
        value = _digest(value)  # masked first: a hash of a text with an identifier in it could be brute-forced
    return value


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
    written: bool = False  # a row written with a Core statement and never attached to the session (note_written)


def _key(spec: Audited, obj: Any) -> str:
    return "/".join(str(getattr(obj, part, "")) for part in spec.key)


def _after_flush(session: OrmSession, _context: Any) -> None:
    notes: list[_Note] = session.info.setdefault(_PENDING, [])
    for obj in session.new:
        spec = AUDITED.get(getattr(obj, "__tablename__", ""))
        if spec is not None:  # its details are taken at the commit, with the values it is committed with
            notes.append(_Note(obj, spec, "create", {}, getattr(obj, "status", None)))
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
    if session.in_nested_transaction():
        return  # a savepoint: its changes are written with the transaction's (one append per transaction)
    if not session.info.get(_PENDING) and not session.new and not session.dirty and not session.deleted:
        return
    session.flush()  # pending changes are flushed (and noted) before their entries are written
    notes: list[_Note] = session.info.pop(_PENDING, [])
    live = []
    created: dict[int, _Note] = {}
    for note in notes:
        if not note.written:
            state = inspect(note.obj)
            if not (note.operation == "delete" or state.persistent):  # rolled-back savepoints leave transient objects
                continue
        earlier = created.get(id(note.obj))
        if earlier is not None and earlier.obj is note.obj and note.operation == "update":
            continue  # created and changed in one transaction: one "create" entry (below)
        if note.operation == "create":
            created[id(note.obj)] = note
        live.append(note)
    for note in created.values():
        # A row created in this transaction is recorded once, with the values it is committed with (a certificate
        # is persisted, signed and completed in one transaction — its completion an UPDATE the ORM does not see,
        # ca.authority.discipline; issue 15 item 5).
        note.details = {name: _value(note.spec, name, getattr(note.obj, name, None)) for name in note.spec.fields}
        note.status = getattr(note.obj, "status", note.status)
    if not live:
        return
    actor, request_id = _actor(), _request_id()
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
                "client_request_id": _client_request_id(),
                "result": "ok",
                "details": note.details,
            }
        )
    append(session, rows)


def _after_rollback(session: OrmSession) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def note_created(session: OrmSession, obj: Any) -> None:
    """Note a row written without the ORM's flush (a certificate, ``ca.authority.discipline.reserve_serial``) as the
    flush listener notes a new row: one ``create`` entry at the commit, with the values it is committed with. A
    savepoint rolled back after it leaves the object transient again, and the commit skips it (as for a flushed row)."""
    spec = AUDITED.get(getattr(obj, "__tablename__", ""))
    if spec is not None:
        session.info.setdefault(_PENDING, []).append(_Note(obj, spec, "create", {}, getattr(obj, "status", None)))


def note_written(session: OrmSession, obj: Any) -> None:
    """Note a row that was inserted with a Core statement and is not in the session (the lean single issuance,
    ``ca.authority.discipline.insert_signed``): one ``create`` entry at the commit, exactly as :func:`note_created`
    records it (same details, same place among the transaction's entries). Nothing can undo such a row short of the
    transaction's rollback, which drops the note too."""
    spec = AUDITED.get(getattr(obj, "__tablename__", ""))
    if spec is not None:
        notes = session.info.setdefault(_PENDING, [])
        notes.append(_Note(obj, spec, "create", {}, getattr(obj, "status", None), written=True))


def install() -> None:
    """Register the capture listeners on every SQLModel/SQLAlchemy session (idempotent), and :func:`note_created` for
    the certificate rows the CA writes with a Core statement."""
    from ca.authority import discipline

    discipline.on_created(note_created)
    if not event.contains(OrmSession, "after_flush", _after_flush):
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "before_commit", _before_commit)
        event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))


# --- the chain --------------------------------------------------------------------------------------------------


class DetailsError(ValueError):
    """Stored ``details`` that are not one JSON object with unique keys."""


def canonical_details(details: Mapping[str, Any]) -> str:
    """The stored (and hashed) form of ``details``: RFC 8785 JSON."""
    return canonical_json(details).decode("utf-8")


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """RFC 8785 JSON of one object: ``rfc8785.dumps``, computed directly for the shape of every header and of most
    details — a flat object with ASCII keys whose values are text, ``true``/``false``/``null`` or integers within
    ±(2^53 − 1). Any other object (non-ASCII keys, floats, nested values, text that is not UTF-8) goes to ``rfc8785``,
    errors included. Equal byte for byte (``tests/trust/service/test_audit_canonical.py`` compares the two on many
    inputs): the keys of such an object sort the same by UTF-16 code units as by code points, and ``json``'s string
    encoder (without ``ensure_ascii``) escapes exactly what RFC 8785 clause 3.2.2.2 escapes, the same way — the short
    escapes for backspace, tab, line feed, form feed, carriage return, quotation mark and reverse solidus, every other
    control character as a lower-case ``u00xx`` escape, nothing else. The general encoder was ~2 % of an issuance."""
    if not all(type(key) is str and key.isascii() for key in value):
        return rfc8785.dumps(dict(value))
    parts: list[str] = []
    for key in sorted(value):
        item = value[key]
        kind = type(item)
        if kind is str:
            text = _json_string(item)
        elif item is None:
            text = "null"
        elif kind is bool:
            text = "true" if item else "false"
        elif kind is int and -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
            text = str(item)
        else:
            return rfc8785.dumps(dict(value))
        parts.append(f"{_json_string(key)}:{text}")
    try:
        return ("{" + ",".join(parts) + "}").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: rfc8785's own error
        return rfc8785.dumps(dict(value))


_json_string: Final = json.encoder.encode_basestring
"""A JSON string literal with only the escapes RFC 8785 asks for (not ``ensure_ascii``)."""


def parse_details(text: str) -> dict[str, Any]:
    """Stored ``details`` read strictly (:mod:`trust.formats.strict_json`): one JSON object, no duplicate key at any
    depth, no NaN/Infinity."""
    try:
        return strict_json.load_object(text, "the details JSON")
    except EncodingError as exc:
        raise DetailsError(exc.message) from None


def _header(entry: Mapping[str, Any]) -> bytes:
    """The hashed header: ``HEADER``, and the client's request id when there is one (entries without it hash as
    they did before the column existed)."""
    names = (*HEADER, OPTIONAL_HEADER) if entry.get(OPTIONAL_HEADER) is not None else HEADER
    return canonical_json({k: entry[k] for k in names})


def entry_hash(prev_hash: str, entry: Mapping[str, Any], details: str) -> str:
    """``SHA-256(prev_hash || "\\n" || JCS(header) || "\\n" || details)`` over the stored ``details`` text."""
    return hashlib.sha256(
        prev_hash.encode("ascii") + b"\n" + _header(entry) + b"\n" + details.encode("utf-8")
    ).hexdigest()


def _legacy_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def legacy_entry_hash(prev_hash: str, entry: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """The pre-0008 hash: over sorted-keys JSON of the entry with ``details`` as a parsed object."""
    canonical = _legacy_json({**{k: entry[k] for k in HEADER}, "details": details})
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical.encode("utf-8")).hexdigest()


_HEAD: Final = select(AuditHead.seq, AuditHead.hash, AuditHead.legacy_until).where(AuditHead.id == 1)
_HEAD_LOCKED: Final = _HEAD.with_for_update()


def _head_row(session: Session | OrmSession, *, lock: bool = False) -> tuple[int, str, int]:
    query = _HEAD
    if lock:  # appending, inside the caller's transaction: its errors are the caller's
        row = session.connection().execute(_HEAD_LOCKED).first()
    else:
        try:
            row = session.execute(query).first()
        except ProgrammingError as exc:  # PostgreSQL: an undefined table or column
            raise ConfigError(f"cannot read the audit head ({exc.orig}); run trust db upgrade") from None
        except OperationalError as exc:
            if "no such" in str(exc.orig):  # SQLite: no such table / column
                raise ConfigError(f"cannot read the audit head ({exc.orig}); run trust db upgrade") from None
            raise UnavailableError(f"database unavailable: {exc.orig}") from None
    if row is None:  # pragma: no cover - the migration creates the head row
        raise RuntimeError("audit_head row missing: run the database migrations")
    return int(row[0]), str(row[1]), int(row[2])


def append(session: Session | OrmSession, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` (without seq/hashes) to the chain inside the caller's transaction."""
    connection = session.connection()
    raw = Raw(connection) if supported(connection) else None
    if raw is not None:  # the DB-API cursor (ca.authority.cursor): every change of the service appends here
        head = raw.one(_HEAD_LOCKED_SQL if connection.dialect.name == "postgresql" else _HEAD_SQL, {})
        if head is None:  # pragma: no cover - the migration creates the head row
            raise RuntimeError("audit_head row missing: run the database migrations")
        seq, prev = int(head[0]), str(head[1])
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL
        seq, prev, _legacy = _head_row(session, lock=True)
    values = []
    for row in rows:
        seq += 1
        entry = {
            **{k: _utf8(v) if isinstance(v, str) else v for k, v in row.items() if k in HEADER or k == OPTIONAL_HEADER},
            "seq": seq,
        }
        details = canonical_details(row["details"])
        digest = entry_hash(prev, entry, details)
        values.append({**entry, "details": details, "prev_hash": prev, "hash": digest})
        prev = digest
    # Statements on the transaction's connection: the ORM's bulk-insert machinery cost ~1 ms per append and there is
    # nothing for it to track here; on the DB-API cursor, SQLAlchemy's execution was ~25 µs a statement (issue 15
    # item 5). Every column of the entry is text or an integer: bound as they are.
    if raw is not None:
        raw.executemany(_INSERT_ENTRY_SQL, [{**_NO_CLIENT_RID, **value} for value in values])
        raw.execute(_MOVE_HEAD_SQL, {"new_seq": seq, "new_hash": prev})
        return
    connection.execute(_INSERT_ENTRY, values)  # pragma: no cover
    connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})  # pragma: no cover


# Built once (a statement built per append was compiled and cache-keyed each time; issue 15 item 5).
_ENTRY_COLUMNS: Final = (*HEADER, OPTIONAL_HEADER, "details", "prev_hash", "hash")
_NO_CLIENT_RID: Final = {OPTIONAL_HEADER: None}
_HEAD_SQL: Final = "SELECT seq, hash, legacy_until FROM audit_head WHERE id = 1"
_HEAD_LOCKED_SQL: Final = _HEAD_SQL + " FOR UPDATE"
_INSERT_ENTRY_SQL: Final = (
    f"INSERT INTO audit_entry ({', '.join(_ENTRY_COLUMNS)}) "  # noqa: S608 - column names of this module
    f"VALUES ({', '.join(':' + c for c in _ENTRY_COLUMNS)})"
)
_MOVE_HEAD_SQL: Final = "UPDATE audit_head SET seq = :new_seq, hash = :new_hash WHERE id = 1"
_INSERT_ENTRY: Final = insert(AuditEntry)
_MOVE_HEAD: Final = (
    update(AuditHead).where(col(AuditHead.id) == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def record(engine: Engine, *, action: str, subject: str, result: str, details: Mapping[str, Any] | None = None) -> None:
    """A standalone entry in its own transaction (e.g. a refused request: result ``denied``). The subject names
    what a client asked for, so citizen ID numbers in it are masked like every text value."""
    with db.session_scope(engine) as session:
        append(session, [entry(action=action, subject=subject, result=result, details=details)])


def entry(*, action: str, subject: str, result: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One standalone entry as :func:`record` writes it, for :func:`append` in the caller's transaction (several
    entries of one operation in one transaction: licence sharing)."""
    plain = Audited("record", (), ())
    return {
        "at": _iso(datetime.now(UTC)),
        "actor": _actor(),
        "action": action[:64],
        "subject": idcodes.mask_identifiers(_utf8(subject), uscc_codes=False)[:256],
        "request_id": _request_id(),
        "client_request_id": _client_request_id(),
        "result": result[:16],
        "details": {k: _value(plain, k, v) for k, v in (details or {}).items()},
    }


@dataclass(frozen=True)
class Anchor:
    """An audit head published outside the chain: entry ``seq`` had ``hash``, says ``source``."""

    seq: int
    hash: str
    source: str


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head_seq: int
    first_bad: int | None = None
    problem: str = ""
    published_seq: int | None = None  # the latest published head the chain was compared with
    published_in: str = ""


def _check_entry(row: AuditEntry, expected: int, prev: str, legacy_until: int, head_seq: int) -> tuple[int, str] | None:
    """The first thing wrong with ``row`` as entry ``expected`` after hash ``prev`` (None: nothing)."""
    if row.seq < 1:
        return row.seq, (
            f"entry {row.seq} is outside the sequence 1..{head_seq} (a row numbered 0 or below was inserted)"
        )
    if row.seq != expected:
        return expected, f"entry {expected} is missing (deleted or renumbered); the next entry is {row.seq}"
    if row.prev_hash != prev:
        return row.seq, (
            f"entry {row.seq} does not follow entry {row.seq - 1} (an entry was deleted, inserted or reordered)"
        )
    try:
        details = parse_details(row.details)
        legacy = row.seq <= legacy_until
        canonical = _legacy_json(details) if legacy else canonical_details(details)
    except DetailsError as exc:
        return row.seq, f"entry {row.seq}: {exc} (edited)"
    except rfc8785.CanonicalizationError:
        return row.seq, f"entry {row.seq} has details with a value outside canonical JSON (edited)"
    if canonical != row.details:
        return row.seq, (
            f"entry {row.seq} has details that are not in canonical form (edited: whitespace, escapes or key order)"
        )
    entry = {k: getattr(row, k) for k in (*HEADER, OPTIONAL_HEADER)}
    try:
        digest = legacy_entry_hash(prev, entry, details) if legacy else entry_hash(prev, entry, row.details)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return row.seq, f"entry {row.seq} has a field outside canonical JSON (edited)"
    if digest != row.hash:
        return row.seq, f"entry {row.seq} was edited (hash mismatch)"
    cut_over = {"format": FORMAT, "legacy_until": legacy_until}
    if legacy_until and row.seq == legacy_until + 1 and (row.action != FORMAT_ACTION or details != cut_over):
        return row.seq, (
            f"entry {row.seq} is not the cut-over entry that must follow the last legacy entry {legacy_until} "
            "(audit_head.legacy_until was edited)"
        )
    return None


def verify(engine: Engine, *, anchors: Iterable[Anchor] = (), batch: int = 5000) -> ChainReport:
    """Recompute the chain; the first edited, deleted, inserted or reordered entry is named. Each of ``anchors``
    (heads published elsewhere) must be an entry of the chain with the same hash."""
    published = sorted((a for a in anchors if a.seq > 0), key=lambda a: a.seq)
    wanted = {a.seq for a in published}
    seen: dict[int, str] = {}
    expected, prev, count = 1, GENESIS, 0
    with db.session_scope(engine, read_only=True) as session:
        head_seq, head_hash, legacy_until = _head_row(session)
        last: int | None = None
        while True:
            query = select(AuditEntry)
            if last is not None:
                query = query.where(col(AuditEntry.seq) > last)
            rows = session.exec(query.order_by(col(AuditEntry.seq)).limit(batch)).all()
            if not rows:
                break
            for row in rows:
                last = row.seq
                bad = _check_entry(row, expected, prev, legacy_until, head_seq)
                if bad is not None:
                    return ChainReport(False, count, head_seq, bad[0], bad[1])
                if row.seq in wanted:
                    seen[row.seq] = row.hash
                prev = row.hash
                expected += 1
                count += 1
    if count != head_seq or prev != head_hash:
        if head_seq > count:
            problem = (
                f"the head records {head_seq} entries but the chain ends at {count}: entries after {count} were removed"
            )
        elif head_seq < count:
            problem = f"the chain ends at {count} but the head records {head_seq} (the head was edited)"
        else:
            problem = f"the head's hash is not entry {count}'s (the head was edited)"
        return ChainReport(False, count, head_seq, min(count, head_seq) + 1, problem)
    if legacy_until and count <= legacy_until:
        return ChainReport(
            False,
            count,
            head_seq,
            count + 1,
            f"the cut-over entry after legacy entry {legacy_until} is missing (audit_head.legacy_until was edited)",
        )
    for anchor in published:
        if anchor.seq > count:
            return ChainReport(
                False,
                count,
                head_seq,
                count + 1,
                f"{anchor.source} published the audit head at entry {anchor.seq} ({anchor.hash[:16]}…) but the chain "
                f"ends at entry {count}: entries {count + 1}..{anchor.seq} were removed and the head rewritten",
                anchor.seq,
                anchor.source,
            )
        if seen[anchor.seq] != anchor.hash:
            return ChainReport(
                False,
                count,
                head_seq,
                anchor.seq,
                f"entry {anchor.seq} has hash {seen[anchor.seq][:16]}… but {anchor.source} published "
                f"{anchor.hash[:16]}… for it: the chain was rewritten at or before entry {anchor.seq}",
                anchor.seq,
                anchor.source,
            )
    latest = max(published, key=lambda a: a.seq) if published else None  # the first source naming the latest head
    return ChainReport(True, count, head_seq, None, "", latest.seq if latest else None, latest.source if latest else "")


# --- published heads --------------------------------------------------------------------------------------------


def head_of(session: Session | OrmSession) -> tl.AuditHead:
    """The committed head as this transaction sees it: what a trust list built now publishes."""
    seq, digest, _legacy = _head_row(session)
    return tl.AuditHead(seq, digest)


def trust_list_anchor(data: bytes, pins: Iterable[str], *, where: str) -> Anchor | None:
    """The audit head a signed trust list publishes (None for lists from before heads were published). Raises
    :class:`TrustError` when the list does not verify against ``pins``."""
    parsed, _checked = tl.verify(data, pins)
    if parsed.audit_head is None:
        return None
    return Anchor(parsed.audit_head.sequence, parsed.audit_head.hash, f"trust list {parsed.sequence} ({where})")


def root_pins(engine: Engine) -> list[str]:
    """SHA-256 fingerprints of the national roots recorded in the database."""
    from ca.models import CertificateAuthority

    with db.session_scope(engine, read_only=True) as session:
        rows = session.exec(select(CertificateAuthority).where(col(CertificateAuthority.kind) == "root")).all()
        return [hashlib.sha256(r.cert_der).hexdigest() for r in rows]


def check(
    engine: Engine,
    *,
    published_file: Path | None = None,
    copies: Sequence[tuple[str, bytes]] = (),
    pins: Sequence[str] | None = None,
) -> ChainReport:
    """:func:`verify` against every published head at hand: the latest trust list in the database, the published
    ``published_file`` and ``copies`` (``(name, bytes)`` of trust lists kept elsewhere). Lists are checked against
    ``pins`` (default: the roots in the database). A list in the database or the published folder that does not
    verify fails the check; a copy that does not verify is an input error (:class:`InputError`)."""
    from trust.service import registry

    head(engine)  # a database without the audit tables (or an older schema) is a clear error, not a traceback
    pins = list(pins) if pins else root_pins(engine)
    anchors: list[Anchor] = []
    problems: list[str] = []
    found: list[tuple[str, bytes]] = []
    with db.session_scope(engine, read_only=True) as session:
        latest = registry.latest(session)
        if latest is not None:
            found.append(("database", latest.document.encode("utf-8")))
    if published_file is not None and published_file.is_file():
        found.append((str(published_file), published_file.read_bytes()))
    if pins:
        for where, data in found:
            try:
                anchor = trust_list_anchor(data, pins, where=where)
            except TrustError as exc:
                problems.append(f"the trust list in {where} does not verify: {exc.message}")
                continue
            if anchor is not None:
                anchors.append(anchor)
    for name, data in copies:
        try:
            anchor = trust_list_anchor(data, pins, where=name)
        except TrustError as exc:
            raise InputError(f"trust list {name} cannot be used to check the audit chain: {exc.message}") from None
        if anchor is None:
            raise InputError(f"trust list {name} publishes no audit head (it predates audit anchoring)")
        anchors.append(anchor)
    from trust.service import tlog  # the heads the transparency log holds anchor the chain too (issue 19)

    anchors.extend(Anchor(seq, digest, where) for seq, digest, where in tlog.audit_anchors(engine))
    report = verify(engine, anchors=anchors)
    if report.ok and problems:
        return ChainReport(False, report.entries, report.head_seq, None, problems[0])
    return report


def head(engine: Engine) -> tuple[int, str]:
    with db.session_scope(engine, read_only=True) as session:
        seq, digest, _legacy = _head_row(session)
        return seq, digest


def entries(engine: Engine, *, subject: str | None = None, after: int = 0, limit: int = 100) -> list[AuditEntry]:
    with db.session_scope(engine, read_only=True) as session:
        query = select(AuditEntry).where(col(AuditEntry.seq) > after)
        if subject is not None:
            query = query.where(col(AuditEntry.subject) == subject)
        return list(session.exec(query.order_by(col(AuditEntry.seq)).limit(limit)).all())


install()

__all__ = [
    "AUDITED",
    "Anchor",
    "AuditEntry",
    "AuditHead",
    "ChainReport",
    "acting",
    "append",
    "canonical_details",
    "check",
    "cli_actor",
    "entries",
    "entry_hash",
    "head",
    "head_of",
    "install",
    "mask",
    "note_written",
    "parse_details",
    "record",
    "verify",
]
