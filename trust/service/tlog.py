"""The issuance transparency log (issue 19): storage, sequencing, checkpoints, tiles, proofs and monitoring.

**What is logged.** Nobody has to remember to log: like the audit chain (:mod:`trust.service.audit`), an
``after_flush`` listener notes every issuance row a session writes — a certificate (every profile), a CA certificate
(enrolment, re-key), a CRL (main and partition), a seal (SESeal), a licence-issuer entry, an identity-provider (or any
federation) entity and its key set, a trust list version, a status-list publication (a new list or a new version of
one) — and ``before_commit`` appends one leaf per event **in the same transaction**, so a record and its leaf commit
or roll back together: a crash (SIGKILL) leaves neither a leaf without its record nor a record without its leaf. The
audit chain's head is logged by :func:`log_audit_head` (each checkpoint logs it first).

**Entries.** A leaf's data is the RFC 8785 JSON of ``{"v": 1, "kind", "id", "issuer", "region", "sha256", "at"}``
(plus ``profile`` for certificates): identifiers and the SHA-256 of the artefact's DER, never its content (a citizen's
certificate subject is not published). ``region`` is the GB/T 2260 code of the region in whose name the artefact was
issued (from its issuing CA), so a region's monitor finds everything issued in its name.

**Sequencing.** Appending locks the single ``tlog_head`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite writers
are serialised by ``BEGIN IMMEDIATE``), takes the next indexes and stores each leaf hash and every perfect subtree it
completes (``tlog_node``: amortised two rows per leaf), so indexes run 0..N−1 without gaps across workers, and an
inclusion or consistency proof, a root or a tile reads O(log N) rows. The audit head row is locked first (the audit
listener runs before this one), the log head second, in every transaction: no lock-order deadlock.

**Checkpoints** (:func:`checkpoint`): the root at the current size in the C2SP checkpoint format, signed with both
national roots (the SM2 and RSA superset of c2sp.org/signed-note, :mod:`trust.formats.tlog`), stored, written to
``public/log/checkpoint`` with the tiles (c2sp.org/tlog-tiles) under ``public/log/tile/``; witnesses add
cosignatures (:func:`cosign`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import rfc8785
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    String,
    Text,
    bindparam,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel

from ca.authority.cursor import Raw, supported
from trust import db
from trust.crypto.errors import Code, InputError, NotFoundError
from trust.formats import tlog
from trust.service.audit import canonical_json
from trust.service.files import atomic_write

if TYPE_CHECKING:
    from trust.service.instance import Instance

HASH: Final = "sha256"
_PENDING: Final = "huren_tlog_pending"
_EXTRA: Final = "huren_tlog_extra"
ENTRY_VERSION: Final = 1


class LogLeaf(SQLModel, table=True):
    __tablename__ = "tlog_leaf"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=32)
    ident: str = Field(max_length=256)
    region: str | None = Field(default=None, max_length=6)
    digest: str = Field(max_length=64)
    entry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LogNode(SQLModel, table=True):
    __tablename__ = "tlog_node"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogHead(SQLModel, table=True):
    __tablename__ = "tlog_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    size: int = Field(sa_column=Column(BigInteger, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    __tablename__ = "tlog_checkpoint"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: str = Field(max_length=64)
    note: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LogWitness(SQLModel, table=True):
    __tablename__ = "tlog_witness"

    name: str = Field(sa_column=Column(String(128), primary_key=True))
    region: str = Field(max_length=6)
    key_id: str = Field(max_length=64)
    public: str = Field(max_length=64)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


_LEAF = LogLeaf.__table__  # type: ignore[attr-defined]
_NODE = LogNode.__table__  # type: ignore[attr-defined]
_HEAD = LogHead.__table__  # type: ignore[attr-defined]
_CHECKPOINT = LogCheckpoint.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Entry:
    kind: str
    ident: str
    issuer: str | None
    region: str | None
    digest: str
    at: datetime
    extra: tuple[tuple[str, str], ...] = ()

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "v": ENTRY_VERSION,
            "kind": self.kind,
            "id": self.ident,
            "issuer": self.issuer,
            "region": self.region,
            "sha256": self.digest,
            "at": self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        body.update(dict(self.extra))
        # RFC 8785 of a flat object: audit.canonical_json writes it directly (byte for byte rfc8785's, which it falls
        # back to for any other shape; ~2 µs against ~11 µs, every issuance logs one; issuefast2)
        return canonical_json(body)


def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- capture (same transaction as the record) ---------------------------------------------------------------------

CAPTURED: Final = frozenset(
    {
        "certificate",
        "ca",
        "crl",
        "crl_shard",
        "seal",
        "license_issuer",
        "federation_entity",
        "trust_list",
        "status_list",
    }
)
CHANGES: Final = {
    "ca": "cert_der",
    "crl_shard": "der",
    "status_list": "version",
    "federation_entity": "jwks",
}
"""Updates that are issuance events (a re-keyed CA's new certificate, a partition's new CRL, a new status-list
version, a federation entity's new keys): the table and the column whose change counts."""


def _after_flush(session: OrmSession, _context: Any) -> None:
    pending: list[Any] | None = None
    for obj in session.new:
        if getattr(obj, "__tablename__", "") in CAPTURED:
            pending = pending if pending is not None else session.info.setdefault(_PENDING, [])
            pending.append(obj)
    for obj in session.dirty:
        column = CHANGES.get(getattr(obj, "__tablename__", ""))
        if column is not None and inspect(obj).attrs[column].history.has_changes():
            pending = pending if pending is not None else session.info.setdefault(_PENDING, [])
            pending.append(obj)


def _before_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    pending: list[Any] = session.info.pop(_PENDING, [])
    extra: list[Entry] = session.info.pop(_EXTRA, [])
    if not pending and not extra:
        return
    entries: list[Entry] = []
    seen: set[int] = set()
    for obj in pending:
        state = inspect(obj)
        if not state.persistent:  # a rolled-back savepoint's row, or deleted again
            continue
        key = (id(obj), _version_of(obj))
        if hash(key) in seen:
            continue
        seen.add(hash(key))
        entry = describe(session, obj)
        if entry is not None:
            entries.append(entry)
    entries.extend(extra)
    if entries:
        append(session.connection(), entries)


def _version_of(obj: Any) -> Any:
    column = CHANGES.get(getattr(obj, "__tablename__", ""))
    return getattr(obj, column) if column else None


def _after_rollback(session: OrmSession) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)
        session.info.pop(_EXTRA, None)


def note_created(session: OrmSession, obj: Any) -> None:
    """Note a row written without the ORM's flush (a certificate, ``ca.authority.discipline.reserve_serial``) as
    :func:`_after_flush` notes a new row: its leaf is appended at the commit."""
    if getattr(obj, "__tablename__", "") in CAPTURED:
        session.info.setdefault(_PENDING, []).append(obj)


def install() -> None:
    """Register the listeners on every session (idempotent; after the audit chain's, see "Sequencing"), and
    :func:`note_created` for the certificate rows the CA writes with a Core statement."""
    from ca.authority import discipline

    discipline.on_created(note_created)
    if not event.contains(OrmSession, "after_flush", _after_flush):
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "before_commit", _before_commit)
        event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))


def queue(session: OrmSession, entry: Entry) -> None:
    """Append ``entry`` when ``session`` commits (events no row shows, such as the audit head)."""
    session.info.setdefault(_EXTRA, []).append(entry)


def _region_of(session: OrmSession, ca_id: str | None) -> str | None:
    from ca.models import CertificateAuthority

    seen = 0
    while ca_id is not None and seen < 8:
        ca = session.get(CertificateAuthority, ca_id)
        if ca is None:
            return None
        if ca.kind == "region":
            return ca.code
        ca_id = ca.parent_id if ca.kind not in ("root", "national") else None
        seen += 1
    return None


def region_of(session: OrmSession, ca_id: str) -> str | None:
    """The region (GB/T 2260 code) a CA's log entries name: its own or its region-CA ancestor's (``None``: national)."""
    return _region_of(session, ca_id)


def certificate_entry(record: Any, region: str | None, at: datetime | None = None) -> Entry:
    """The log entry of an issued certificate's row (``region``: :func:`region_of` its issuer)."""
    return Entry(
        "certificate",
        record.serial,
        record.issuer_id,
        region,
        _sha256(record.der),
        at or _now(),
        (("profile", record.profile),),
    )


def describe(session: OrmSession, obj: Any) -> Entry | None:
    """The log entry of one issuance row."""
    table = obj.__tablename__
    at = _now()
    if table == "certificate":
        return certificate_entry(obj, _region_of(session, obj.issuer_id), at)
    if table == "ca":
        region = obj.code if obj.kind == "region" else _region_of(session, obj.parent_id)
        return Entry(
            "ca-certificate", obj.id, obj.parent_id, region, _sha256(obj.cert_der), at, (("serial", obj.serial),)
        )
    if table == "crl":
        return Entry(
            "crl", f"{obj.ca_id}#{obj.number}", obj.ca_id, _region_of(session, obj.ca_id), _sha256(obj.der), at
        )
    if table == "crl_shard":
        ident = f"{obj.ca_id}/{obj.shard}{'@' + obj.signer if obj.signer else ''}#{obj.number}"
        return Entry("crl", ident, obj.ca_id, _region_of(session, obj.ca_id), _sha256(obj.der), at)
    if table == "seal":
        region = _region_of(session, obj.issuer_ca_id)
        return Entry("seal", obj.es_id, obj.issuer_ca_id, region, _sha256(obj.seal_der), at)
    if table == "license_issuer":
        from ca.models import IssuedCertificate

        table = IssuedCertificate.__table__  # type: ignore[attr-defined]
        cert = session.execute(select(table.c.der).where(table.c.serial == obj.cert_serial)).scalar_one_or_none()
        digest = _sha256(cert) if cert is not None else _sha256(obj.cert_serial)
        return Entry("license-issuer", obj.id, obj.ca_id, _region_of(session, obj.ca_id), digest, at)
    if table == "federation_entity":
        kind = "identity-provider" if obj.kind == "openid_provider" else "federation-entity"
        return Entry(kind, obj.id, obj.issuer_id, obj.region, _sha256(obj.jwks), at)
    if table == "trust_list":
        return Entry("trust-list", str(obj.sequence), "root", None, _sha256(obj.document), at)
    if table == "status_list":
        from licenses.models import LicenseIssuer

        issuer = session.get(LicenseIssuer, obj.issuer_id)
        region = _region_of(session, issuer.ca_id) if issuer is not None else None
        body = rfc8785.dumps({"uri": obj.uri, "version": obj.version, "size": obj.size, "bits": obj.bits})
        return Entry("status-list", f"{obj.uri}#{obj.version}", obj.issuer_id, region, _sha256(body), at)
    return None


# --- the tree -----------------------------------------------------------------------------------------------------


def append(connection: Connection, entries: Sequence[Entry]) -> list[int]:
    """Append ``entries`` in this transaction under the head's row lock; returns their indexes.

    Four statements whatever the tree's size: the head moved on by ``len(entries)`` (``UPDATE … RETURNING`` takes the
    row lock on PostgreSQL; SQLite writers are already serialised), the left siblings the new leaves need (the old
    tree's right frontier, one query), the leaves, the new nodes."""
    if not entries:
        return []
    count = len(entries)
    # on the DB-API cursor (ca.authority.cursor): every issuance appends here, and SQLAlchemy's execution of a
    # statement was ~25 µs of Python (issue 15 item 5); other databases the Core statements
    raw = Raw(connection) if supported(connection) else None
    if raw is not None:
        grown = raw.one(_GROW_SQL, {"count": count})
        if grown is None:  # pragma: no cover - the migration creates the head row
            raise NotFoundError("the log has no head row: run the database migrations")
        size = int(grown[0]) - count
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL
        size = int(connection.execute(_GROW, {"count": count}).scalar_one()) - count
    # which stored nodes the new right spine hashes with
    needed: set[tuple[int, int]] = set()
    produced: set[tuple[int, int]] = set()
    for index in range(size, size + count):
        level, i = 0, index
        produced.add((0, i))
        while i & 1:
            if (level, i - 1) not in produced:
                needed.add((level, i - 1))
            level, i = level + 1, i >> 1
            produced.add((level, i))
    reader = NodeReader(connection)
    if raw is not None:
        reader.prefetch_raw(raw, needed)
    else:  # pragma: no cover
        reader.prefetch(needed)
    fresh: dict[tuple[int, int], bytes] = {}

    def node(level: int, index: int) -> bytes:
        return fresh.get((level, index)) or reader(level, index)

    leaves: list[dict[str, Any]] = []
    indexes: list[int] = []
    for offset, entry in enumerate(entries):
        data = entry.encode()
        index = size + offset
        h = tlog.leaf_hash(data, HASH)
        fresh[(0, index)] = h
        level, i = 0, index
        while i & 1:
            h = tlog.node_hash(node(level, i - 1), h, HASH)
            level, i = level + 1, i >> 1
            fresh[(level, i)] = h
        leaves.append(
            {
                "idx": index,
                "kind": entry.kind,
                "ident": entry.ident[:256],
                "region": entry.region,
                "digest": entry.digest,
                "entry": data,
                "at": entry.at if raw is None else raw.timestamp(entry.at),
            }
        )
        indexes.append(index)
    nodes = [{"level": lv, "idx": ix, "hash": h} for (lv, ix), h in fresh.items()]
    if raw is not None:
        raw.executemany(_INSERT_LEAF_SQL, leaves)
        raw.executemany(_INSERT_NODE_SQL, nodes)
        return indexes
    connection.execute(_INSERT_LEAF, leaves)  # pragma: no cover
    connection.execute(_INSERT_NODE, nodes)  # pragma: no cover
    return indexes  # pragma: no cover


# Built once: a statement built per append was compiled and cache-keyed each time (issue 15 item 5).
_GROW: Final = (
    update(_HEAD).where(_HEAD.c.id == 1).values(size=_HEAD.c.size + bindparam("count")).returning(_HEAD.c.size)
)
_INSERT_LEAF: Final = insert(_LEAF)
_INSERT_NODE: Final = insert(_NODE)
_GROW_SQL: Final = "UPDATE tlog_head SET size = size + :count WHERE id = 1 RETURNING size"
_INSERT_LEAF_SQL: Final = (
    "INSERT INTO tlog_leaf (idx, kind, ident, region, digest, entry, at) "
    "VALUES (:idx, :kind, :ident, :region, :digest, :entry, :at)"
)
_INSERT_NODE_SQL: Final = "INSERT INTO tlog_node (level, idx, hash) VALUES (:level, :idx, :hash)"


class NodeReader:
    """A :data:`trust.formats.tlog.NodeSource` over ``tlog_node`` (cached per reader). :meth:`prefetch` reads many
    nodes in one query; :func:`needed` says which a proof will ask for."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.cache: dict[tuple[int, int], bytes] = {}

    def prefetch(self, keys: Iterable[tuple[int, int]]) -> None:
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            if (level, index) not in self.cache:
                by_level.setdefault(level, []).append(index)
        if not by_level:
            return
        # one level's indexes per clause: both SQLite and PostgreSQL probe the primary key for each (a row-value IN
        # list is a full scan on SQLite). The values are integers this process computed, written into the text: an
        # expression tree of a few dozen clauses costs more to build than the query takes to run.
        clause = " OR ".join(
            f"(level = {int(level)} AND idx IN ({', '.join(str(int(i)) for i in idxs)}))"
            for level, idxs in sorted(by_level.items())
        )
        for level, index, value in self.connection.exec_driver_sql(
            f"SELECT level, idx, hash FROM tlog_node WHERE {clause}"  # noqa: S608 - integers only (above)
        ):
            self.cache[(int(level), int(index))] = bytes(value)

    def prefetch_raw(self, raw: Raw, keys: Iterable[tuple[int, int]]) -> None:
        """:meth:`prefetch` on the DB-API cursor (:func:`append`)."""
        clause = self._clause(keys)
        if clause:
            query = f"SELECT level, idx, hash FROM tlog_node WHERE {clause}"  # noqa: S608 - integers only
            for level, index, value in raw.execute(query, {}):
                self.cache[(int(level), int(index))] = bytes(value)

    def _clause(self, keys: Iterable[tuple[int, int]]) -> str:
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            if (level, index) not in self.cache:
                by_level.setdefault(level, []).append(index)
        return " OR ".join(  # integers this process computed (see prefetch)
            f"(level = {int(level)} AND idx IN ({', '.join(str(int(i)) for i in idxs)}))"
            for level, idxs in sorted(by_level.items())
        )

    def __call__(self, level: int, index: int) -> bytes:
        key = (level, index)
        found = self.cache.get(key)
        if found is None:
            value = self.connection.execute(
                select(_NODE.c.hash).where(_NODE.c.level == level, _NODE.c.idx == index)
            ).scalar_one_or_none()
            if value is None:
                raise NotFoundError(f"the log has no node ({level}, {index})", code=Code.LOG_ENTRY_NOT_FOUND)
            found = self.cache[key] = bytes(value)
        return found


def needed(proof: Callable[[tlog.NodeSource], object]) -> set[tuple[int, int]]:
    """The nodes ``proof`` (a function of a node source) reads: which nodes a proof needs does not depend on their
    values, so a dry run with placeholder hashes names them all, and one query fetches them."""
    keys: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        keys.add((level, index))
        return bytes(tlog.HASH_SIZE)

    proof(record)
    return keys


def size_of(connection: Connection) -> int:
    return int(connection.execute(select(_HEAD.c.size).where(_HEAD.c.id == 1)).scalar_one())


def root_at(connection: Connection, size: int) -> bytes:
    reader = NodeReader(connection)
    reader.prefetch(needed(lambda source: tlog.subtree_root(source, 0, size, HASH)))
    return tlog.subtree_root(reader, 0, size, HASH)


# --- checkpoints --------------------------------------------------------------------------------------------------


def origin(instance: Instance) -> str:
    """The log's name: the public URL's host and path, ``/log`` (a schema-less URL, as C2SP recommends)."""
    parts = urlsplit(instance.settings.effective_public_url)
    return f"{parts.netloc}{parts.path.rstrip('/')}/log"


def audit_head_entry(session: Session | OrmSession) -> Entry:
    from trust.service import audit

    head = audit.head_of(session)
    return Entry("audit-head", str(head.sequence), None, None, head.hash, _now())


def log_audit_head(instance: Instance) -> int | None:
    """Append the audit chain's head (unless it is the one logged last); returns the leaf index or None."""
    with db.session_scope(instance.engine) as session:
        entry = audit_head_entry(session)
        last = session.execute(
            select(_LEAF.c.ident).where(_LEAF.c.kind == "audit-head").order_by(_LEAF.c.idx.desc()).limit(1)
        ).scalar_one_or_none()
        if last == entry.ident:
            return None
        return append(session.connection(), [entry])[0]


def _root_cas(session: Session) -> list[Any]:
    from ca.models import CertificateAuthority
    from trust.service.trust import ROOT_IDS

    roots = [session.get(CertificateAuthority, rid) for rid in ROOT_IDS]
    if any(r is None for r in roots):
        raise NotFoundError("the national roots do not exist yet (run trust init)")
    return [r for r in roots if r is not None]


def delegate_certificates(session: Session) -> list[bytes]:
    """The offline roots' delegated trust-list signer certificates (issue 20) that are not revoked: under an offline
    root they sign the checkpoints (:func:`checkpoint`), and the bundle names them so verifiers can check those
    signatures (:func:`verifier.transparency.log_verifiers`, the rules of ``check_delegate``)."""
    from ca.models import IssuedCertificate
    from trust.service.trust import TRUST_LIST_SIGNER

    offline = [r.id for r in _root_cas(session) if r.key_id is None]
    if not offline:
        return []
    rows = session.execute(
        select(IssuedCertificate.der)  # type: ignore[call-overload]
        .where(
            IssuedCertificate.issuer_id.in_(offline),  # type: ignore[attr-defined]
            IssuedCertificate.profile == TRUST_LIST_SIGNER,
            IssuedCertificate.status == "valid",
        )
        .order_by(IssuedCertificate.id)
    ).scalars()
    return [bytes(der) for der in rows]


def log_keys(instance: Instance, session: Session) -> list[tlog.NoteVerifier]:
    """The verifiers of the log's own signatures: the national roots' keys (SM2 and RSA superset types), and under
    offline roots their delegated trust-list signers' keys (the same types)."""
    from ca import authority
    from trust.formats import x509 as cx

    name = origin(instance)
    keys = [
        tlog.national_verifier(name, cx.public_key(cx.load_certificate(r.cert_der)), authority.algorithm_for(r.family))
        for r in _root_cas(session)
    ]
    for der in delegate_certificates(session):
        public = cx.public_key(cx.load_certificate(der))
        keys.append(tlog.national_verifier(name, public, public.default_algorithm()))
    return keys


def checkpoint(instance: Instance, *, audit_head: bool = True, publish: bool = True) -> LogCheckpoint:
    """Log the audit head (``audit_head``), then sign and store a checkpoint at the current size (the latest one if
    nothing was appended since) and write it, with the tiles, to the published folder."""

    if audit_head:
        log_audit_head(instance)
    with db.session_scope(instance.engine) as session:
        connection = session.connection()
        size = size_of(connection)
        existing = session.get(LogCheckpoint, size)
        if existing is not None:
            record = existing
        else:
            root = root_at(connection, size)
            at = _now()
            body = tlog.Checkpoint(
                origin(instance), size, root, (f"huren-time {at.strftime('%Y-%m-%dT%H:%M:%SZ')}",)
            ).body()
            # Each root's key when held here, else its delegated trust-list signer (an offline root, issue 20: the
            # signer the root certified in a ceremony; checkpoints are not a ceremony). Neither: E1210 root-offline.
            from trust.service.trust import root_signers

            signatures = [
                tlog.sign_national(body, origin(instance), signer)
                for signer, _chain in root_signers(session, instance, _root_cas(session))
            ]
            note = tlog.Note(body, tuple(signatures)).encode()
            record = LogCheckpoint(size=size, root=root.hex(), note=note, at=at)
            session.add(record)
            session.flush()
        session.expunge(record)
    if publish:
        write_published(instance, record)
    return record


def latest_note(session: Session | OrmSession) -> str | None:
    """The latest checkpoint's signed note as this transaction sees it (None before the first)."""
    note = session.execute(select(_CHECKPOINT.c.note).order_by(_CHECKPOINT.c.size.desc()).limit(1)).scalar_one_or_none()
    return str(note) if note is not None else None


def latest_checkpoint(instance: Instance) -> LogCheckpoint | None:
    with db.session_scope(instance.engine, read_only=True) as session:
        found = session.execute(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)).scalar_one_or_none()  # type: ignore[attr-defined]
        if found is not None:
            session.expunge(found)
        return found


def write_published(instance: Instance, record: LogCheckpoint, old_size: int | None = None) -> list[Path]:
    """``public/log/checkpoint`` and the tiles (c2sp.org/tlog-tiles) that changed since ``old_size`` (the size of
    the tiles written before, read from ``public/log/.tiles``)."""
    folder = instance.settings.published_dir / "log"
    marker = folder / ".tiles"
    if old_size is None:
        try:
            old_size = int(marker.read_text().strip())
        except (OSError, ValueError):
            old_size = 0
    old_size = min(old_size, record.size)
    written: list[Path] = []
    with db.session_scope(instance.engine, read_only=True) as session:
        connection = session.connection()
        for level, index, width in tlog.tiles_for(record.size, old_size):
            bottom = level * tlog.TILE_HEIGHT
            first = index * tlog.TILE_WIDTH
            rows = connection.execute(
                select(_NODE.c.idx, _NODE.c.hash)
                .where(_NODE.c.level == bottom, _NODE.c.idx >= first, _NODE.c.idx < first + width)
                .order_by(_NODE.c.idx)
            ).all()
            data = b"".join(bytes(h) for _i, h in rows)
            path = folder / tlog.tile_path(level, index, width)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
            written.append(path)
            if level == 0:
                entries = connection.execute(
                    select(_LEAF.c.entry).where(_LEAF.c.idx >= first, _LEAF.c.idx < first + width).order_by(_LEAF.c.idx)
                ).scalars()
                path = folder / tlog.entries_path(index, width)
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, tlog.entry_bundle([bytes(e) for e in entries]))
                written.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "checkpoint", record.note.encode())
    atomic_write(marker, str(record.size).encode())
    written.append(folder / "checkpoint")
    return written


# --- proofs -------------------------------------------------------------------------------------------------------


def artefact_digest(data: bytes) -> str:
    """The SHA-256 an entry names for a file: of the DER inside a PEM, else of the bytes as given."""
    from trust.crypto import pem

    _label, der = pem.read(data, "file")
    return _sha256(der)


def find(
    instance: Instance, *, digest: str | None = None, kind: str | None = None, ident: str | None = None
) -> LogLeaf:
    with db.session_scope(instance.engine, read_only=True) as session:
        query = select(LogLeaf)
        if digest is not None:
            query = query.where(LogLeaf.digest == digest)  # type: ignore[arg-type]
        if kind is not None:
            query = query.where(LogLeaf.kind == kind)  # type: ignore[arg-type]
        if ident is not None:
            query = query.where(LogLeaf.ident == ident)  # type: ignore[arg-type]
        found: LogLeaf | None = session.execute(query.order_by(_LEAF.c.idx).limit(1)).scalar_one_or_none()
        if found is None:
            what = digest or ident or kind
            raise NotFoundError(f"{what} is not in the transparency log", code=Code.LOG_ENTRY_NOT_FOUND)
        session.expunge(found)
        return found


def prove(instance: Instance, leaf: LogLeaf, record: LogCheckpoint | None = None) -> tlog.InclusionDocument:
    """An inclusion proof of ``leaf`` to ``record`` (default: the latest checkpoint, made now if it does not cover
    the leaf)."""
    if record is None:
        record = latest_checkpoint(instance)
        if record is None or record.size <= leaf.idx:
            record = checkpoint(instance)
    with db.session_scope(instance.engine, read_only=True) as session:
        reader = NodeReader(session.connection())
        size = record.size
        reader.prefetch({(0, leaf.idx)} | needed(lambda source: tlog.inclusion_proof(source, leaf.idx, size, HASH)))
        path = tlog.inclusion_proof(reader, leaf.idx, size, HASH)
        leaf_hash = reader(0, leaf.idx)
    return tlog.InclusionDocument(
        HASH, leaf_hash, leaf.idx, record.size, tuple(path), bytes.fromhex(record.root), record.note, bytes(leaf.entry)
    )


def consistency(instance: Instance, old_size: int, new_size: int) -> list[bytes]:
    with db.session_scope(instance.engine, read_only=True) as session:
        reader = NodeReader(session.connection())
        reader.prefetch(needed(lambda source: tlog.consistency_proof(source, old_size, new_size, HASH)))
        return tlog.consistency_proof(reader, old_size, new_size, HASH)


# --- monitoring ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fork:
    """Two checkpoints that cannot both be true: the evidence."""

    reason: str
    first: str
    second: str


def check_consistent(
    instance: Instance, old_note: str, new_note: str, keys: Sequence[tlog.NoteVerifier] | None = None
) -> Fork | None:
    """Verify both checkpoints' signatures and that the newer extends the older (a consistency proof from the log);
    a fork — same size and different roots, a smaller later tree, or a failing proof — is returned with both."""
    if keys is None:
        with db.session_scope(instance.engine, read_only=True) as session:
            keys = log_keys(instance, session)
    old = tlog.verify_checkpoint(old_note, keys).checkpoint
    new = tlog.verify_checkpoint(new_note, keys).checkpoint
    try:
        proof = consistency(instance, old.size, new.size) if 0 < old.size < new.size else []
        tlog.verify_consistency(old.size, new.size, old.root, new.root, proof, HASH)
    except (tlog.LogError, NotFoundError) as exc:
        return Fork(str(getattr(exc, "message", exc)), old_note, new_note)
    return None


def entries_since(
    instance: Instance, region: str, since: int = 0, until: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every entry logged in ``region``'s name at index ``since`` or later (and below ``until``)."""
    with db.session_scope(instance.engine, read_only=True) as session:
        query = select(_LEAF.c.idx, _LEAF.c.entry).where(_LEAF.c.region == region, _LEAF.c.idx >= since)
        if until is not None:
            query = query.where(_LEAF.c.idx < until)
        for index, data in session.connection().execute(query.order_by(_LEAF.c.idx)):
            yield {"leaf_index": int(index), **json.loads(bytes(data))}


def audit_anchors(engine: Engine) -> list[tuple[int, str, str]]:
    """The audit heads the log holds, ``(sequence, hash, where)`` in log order: :func:`trust.service.audit.check`
    compares the chain with each, so truncating the audit tail and rewriting its head is detected against the log
    (whose own history a witness's checkpoint fixes). A database from before the log has none."""
    with db.session_scope(engine, read_only=True) as session:
        rows = session.connection().execute(
            select(_LEAF.c.idx, _LEAF.c.ident, _LEAF.c.digest).where(_LEAF.c.kind == "audit-head").order_by(_LEAF.c.idx)
        )
        return [(int(seq), digest, f"transparency log leaf {idx}") for idx, seq, digest in rows]


def leaves(instance: Instance) -> Iterable[tuple[int, bytes]]:
    with db.session_scope(instance.engine, read_only=True) as session:
        yield from (
            (int(i), bytes(e))
            for i, e in session.connection().execute(select(_LEAF.c.idx, _LEAF.c.entry).order_by(_LEAF.c.idx))
        )


# --- witnesses and the bundle -------------------------------------------------------------------------------------


def add_witness(instance: Instance, *, name: str, region: str, public: bytes) -> LogWitness:
    """Register a region's witness key (Ed25519, ``cosignature/v1``): its cosignatures are then accepted and the
    bundle names it, so verifiers can require them."""
    verifier = tlog.ed25519_verifier(name, public, cosignature=True)
    with db.session_scope(instance.engine) as session:
        row = session.get(LogWitness, name)
        if row is None:
            row = LogWitness(
                name=name,
                region=region,
                key_id=verifier.key_id.hex(),
                public=public.hex(),
                size=0,
                root=tlog.empty_root(HASH).hex(),
                at=_now(),
            )
        else:
            row.region, row.key_id, row.public = region, verifier.key_id.hex(), public.hex()
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def witness_keys(instance: Instance) -> list[tlog.NoteVerifier]:
    with db.session_scope(instance.engine, read_only=True) as session:
        rows = session.execute(select(LogWitness).order_by(LogWitness.name)).scalars().all()
        return [tlog.ed25519_verifier(r.name, bytes.fromhex(r.public), cosignature=True) for r in rows]


def add_cosignatures(instance: Instance, note: str) -> LogCheckpoint:
    """Merge the cosignatures of registered witnesses in ``note`` into the stored checkpoint of the same text (each
    verified; an unknown signer or another text is refused) and republish it if it is the latest."""
    parsed = tlog.parse_note(note)
    checkpoint_text = tlog.parse_checkpoint(parsed.text)
    known = {(v.name, v.key_id): v for v in witness_keys(instance)}
    with db.session_scope(instance.engine) as session:
        record = session.get(LogCheckpoint, checkpoint_text.size)
        if record is None or tlog.parse_note(record.note).text != parsed.text:
            raise NotFoundError(
                f"the log signed no checkpoint with this text (size {checkpoint_text.size})",
                code=Code.LOG_ENTRY_NOT_FOUND,
            )
        added = []
        for sig in parsed.signatures:
            verifier = known.get((sig.name, sig.key_id))
            if verifier is None:
                continue
            when = verifier.verify(parsed.text, sig.signature)
            added.append(sig)
            row = session.get(LogWitness, sig.name)
            if row is not None and (when or 0) >= 0 and checkpoint_text.size >= row.size:
                row.size, row.root, row.at = checkpoint_text.size, checkpoint_text.root.hex(), _now()
        record.note = tlog.add_signatures(record.note, added)
        session.flush()
        session.expunge(record)
    latest = latest_checkpoint(instance)
    if latest is not None and latest.size == record.size:
        folder = instance.settings.published_dir / "log"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "checkpoint", record.note.encode())
    return record


def new_cosigners(instance: Instance, note: str) -> dict[str, str]:
    """The registered witnesses (name → region) whose cosignatures ``note`` carries and the log's stored copy of the
    same checkpoint does not yet: who a ``POST /log/cosignatures`` speaks for (the policy decides whether it may)."""
    parsed = tlog.parse_note(note)
    size = tlog.parse_checkpoint(parsed.text).size
    with db.session_scope(instance.engine, read_only=True) as session:
        rows = {(r.name, bytes.fromhex(r.key_id)): r.region for r in session.execute(select(LogWitness)).scalars()}
        record = session.get(LogCheckpoint, size)
        stored = {(s.name, s.key_id) for s in tlog.parse_note(record.note).signatures} if record is not None else set()
    return {
        sig.name: rows[(sig.name, sig.key_id)]
        for sig in parsed.signatures
        if (sig.name, sig.key_id) in rows and (sig.name, sig.key_id) not in stored
    }


def accept_cosignatures(instance: Instance, note: str, *, witnesses: Iterable[str]) -> LogCheckpoint:
    """A witness's cosigned checkpoint posted over HTTP: the cosignatures of ``witnesses`` (the ones the caller may
    speak for) verified and merged into the log's copy of the same checkpoint text (:func:`add_cosignatures`: a
    checkpoint the log never signed is E1804, a forged cosignature E1803). None of them on the note: E1807."""
    allowed = set(witnesses)
    parsed = tlog.parse_note(note)
    mine = tuple(s for s in parsed.signatures if s.name in allowed)
    if not mine:
        raise InputError(
            "the checkpoint carries no new cosignature of a registered witness of this region",
            code=Code.LOG_COSIGNATURE_MISSING,
        )
    known = {(v.name, v.key_id): v for v in witness_keys(instance)}
    for sig in mine:
        known[(sig.name, sig.key_id)].verify(parsed.text, sig.signature)  # a forged one raises E1803, nothing merged
    return add_cosignatures(instance, tlog.Note(parsed.text, mine).encode())


def run_witness(
    instance: Instance,
    *,
    name: str,
    key: Any,
    state: tlog.WitnessState | None,
    note: str | None = None,
) -> tuple[tlog.WitnessState, str]:
    """One witness round against this instance's log (the demo's and a region's on-site witness): the latest checkpoint
    (or ``note``), the consistency proof from ``state``, :func:`trust.formats.tlog.witness`, then the cosignature
    merged into the log's copy. Returns the new state and the cosigned note."""
    if note is None:
        latest = latest_checkpoint(instance) or checkpoint(instance)
        note = latest.note
    with db.session_scope(instance.engine, read_only=True) as session:
        keys = log_keys(instance, session)
    new_size = tlog.parse_checkpoint(tlog.parse_note(note).text).size
    proof: list[bytes] = []
    if state is not None and 0 < state.size < new_size:
        proof = consistency(instance, state.size, new_size)
    import time

    new_state, signature = tlog.witness(state, note, proof, keys, name, key, int(time.time()))
    cosigned = tlog.add_signatures(note, [signature])
    add_cosignatures(instance, cosigned)
    return new_state, cosigned


def bundle_section(instance: Instance) -> tuple[dict[str, Any], ...]:
    """The bundle's ``checkpoints``: the latest checkpoint (with its cosignatures), the log's origin and hash, and the
    witnesses' verifier keys with their regions. Empty before the first checkpoint."""
    latest = latest_checkpoint(instance)
    if latest is None:
        return ()
    with db.session_scope(instance.engine, read_only=True) as session:
        rows = session.execute(select(LogWitness).order_by(LogWitness.name)).scalars().all()
        witnesses = [
            {
                "region": r.region,
                "vkey": tlog.ed25519_verifier(r.name, bytes.fromhex(r.public), cosignature=True).vkey(),
            }
            for r in rows
        ]
        delegates = [base64.b64encode(der).decode() for der in delegate_certificates(session)]
    section: dict[str, Any] = {"origin": origin(instance), "hash": HASH, "note": latest.note, "witnesses": witnesses}
    if delegates:
        section["delegates"] = delegates  # offline roots: the certified signers of the checkpoints (base64 DER)
    return (section,)


def set_policy(instance: Instance, *, region: str, policy: str) -> Any:
    """Set ``scope.transparency`` of the region's trust-list issuer (``off``, ``indeterminate``, ``required``) and
    publish the next trust list; verifiers apply it to credentials whose chain runs through the region's CAs."""
    from trust.crypto.errors import InputError
    from trust.service import registry, trust

    if policy not in ("off", "indeterminate", "required"):
        raise InputError("the transparency policy is off, indeterminate or required")
    with db.session_scope(instance.engine) as session:
        issuer = session.get(registry.IssuerRecord, f"region-{region}")
        if issuer is None:
            raise NotFoundError(f"region {region} is not in the trust list")
        scope = json.loads(issuer.scope or "{}")
        if policy == "off":
            scope.pop("transparency", None)
        else:
            scope["transparency"] = policy
        issuer.scope = json.dumps(scope)
        session.add(issuer)
    return trust.publish_now(instance)
