"""The national trust list and the offline bundle: register, change status, publish, export.

* Every CA operation that creates or changes an issuer or a service registers it here and publishes a new
  trust list in the same transaction (``trust init``, ``trust ca enrol``, status changes).
* :func:`publish` signs the list with both national roots (JWS JSON, ``trust.formats.trustlist``), stores it
  with the next sequence number and writes ``<home>/public/trustlist.json``.
* :func:`export_bundle` wraps the latest trust list and every CA's current CRL (for a re-keyed CA also the same
  CRL signed with each retired key still in use) and the status lists in
  one file signed by both roots (``trust.formats.bundle``) and writes ``<home>/public/bundle.json``.
* :func:`change_status` withdraws, suspends or reinstates an issuer or a service from a given moment;
  history is append-only, so credentials are judged by the status at their signing time.
* ``<home>/public/bundle.json`` follows every change of what it holds (issue 13 item 6): a transaction that publishes
  a trust list (:func:`publish`) or writes CRLs (:func:`trust.service.ca.publish_ca_files`) asks for a new bundle once
  it commits (:func:`export_after_commit`, a SQLAlchemy ``after_commit`` hook on that session, once per transaction);
  a licence status change does after its commit (:func:`republish_bundle`). A verifier that downloads the bundle
  after a change gets the change — not a bundle up to a schedule period old. An export that fails is logged, never
  turned into a failure of the committed change; the schedule (:mod:`trust.service.publishing`) exports again.
* **Coalesced, off the request path** (issue 15 item 3). Every such change already bumps the state version in its own
  transaction (:mod:`trust.service.state`); the file is *stale* when the version it was exported at (kept beside it,
  ``public/.bundle.json.version``) differs from the database's (:func:`bundle_stale`). :func:`export_if_stale` reads
  the version first, then exports, under a lock held across processes (``fcntl.flock`` on ``public/.bundle.lock``:
  the files are local to the host whose workers share the home), so one export covers every change committed before
  it started and two workers never write the files at once; a worker that waited for the lock finds the file
  current and exports nothing. In the service (:func:`start_background_exports`, from the app's lifespan) a change
  only wakes a background thread, which exports :data:`EXPORT_DELAY` later — one export for a burst; elsewhere (CLI,
  library) the export runs when the change commits, so a CLI command leaves the file current when it exits.
  ``POST /verify``, OCSP and ``GET /bundle`` never read the file: they answer from the database at the current state
  version (:mod:`trust.service.verification`), so a revocation counts for them at once either way.
* **The store** (branch ctxname): the signed bundle those answer with is signed once per state version (and
  :data:`VERIFY_BUNDLE_REUSE` period) for all the workers of a home — :func:`stored_bundle_digest` writes it
  under ``<home>/cache/bundles/`` (an ``flock`` the workers share; the newest :data:`STORE_KEPT` kept),
  :func:`stored_gzip_digest` its gzip form — and read by the other workers instead of being signed and compressed
  again in each. The folder is a cache, never a source of truth (branch storefix): the signer records each file's
  SHA-256 in the database (table ``bundle_store``, migration ``0019_bundle_store``) and a file is used only when its
  bytes have that digest.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import and_, bindparam, event, or_, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from ca import authority
from ca.models import CertificateAuthority, IssuedCertificate, now, utc
from trust import db
from trust.crypto.errors import Code, ConflictError, NotFoundError, TrustError
from trust.crypto.signer import Signer
from trust.formats import bundle as bundle_format
from trust.formats import jose
from trust.formats import trustlist as tl
from trust.formats.names import region
from trust.service import audit, registry
from trust.service.files import atomic_write
from trust.service.instance import Instance

OPERATOR = "国家政务服务平台"
TRUST_LIST_VALIDITY = timedelta(hours=24)
BUNDLE_VALIDITY = timedelta(hours=24)
ROOT_IDS = ("root-sm2", "root-rsa")
_EXPORT_PENDING = "huren.bundle-export-pending"
_EXPORT_LISTENING = "huren.bundle-export-listening"
_export_lock = threading.RLock()  # re-entrant: an export whose own session publishes the first trust list
_export_depth = threading.local()  # the cross-process file lock is taken once per thread (flock is per open file)
EXPORT_DELAY: Final = 0.25
"""Seconds the service's background exporter waits after a change before exporting: a burst shares one export."""
_VERSION_FILE: Final = ".bundle.json.version"
_LOCK_FILE: Final = ".bundle.lock"
_exports_made: dict[str, int] = {}  # published folder → exports of public/bundle.json by this process (tests, bench)
log = logging.getLogger(__name__)


def issuer_id_for(ca: CertificateAuthority) -> str:
    if ca.kind == "national":
        return "national"
    return f"{ca.kind}-{ca.code}"


def register_ca(session: Session, ca: CertificateAuthority) -> None:
    """Record a sub-CA (and its OCSP responder) as services of its issuer."""
    if ca.kind == "root":
        return
    issuer_id = issuer_id_for(ca)
    scope: dict[str, Any]
    if ca.kind == "national":
        name, scope = OPERATOR, {"national": True}
    elif ca.kind == "region":
        assert ca.code is not None
        r = region(ca.code)
        name, scope = r.name, {"region": ca.code}
    else:
        name, scope = ca.name, {"department": ca.code}
    # Granted from the CA certificate's notBefore: what it certifies is judged at the certificates' notBefore.
    since = not_before(ca.cert_der)
    registry.ensure_issuer(
        session, issuer_id=issuer_id, kind=ca.kind, code=ca.code, name=name, scope=scope, effective=since
    )
    registry.ensure_service(
        session,
        service_id=ca.id,
        issuer_id=issuer_id,
        type="CA",
        family=ca.family,
        cert_der=ca.cert_der,
        scope=scope,
        effective=since,
    )
    if ca.ocsp_cert_der is not None:
        registry.ensure_service(
            session,
            service_id=f"{ca.id}-ocsp",
            issuer_id=issuer_id,
            type="OCSP",
            family=ca.family,
            cert_der=ca.ocsp_cert_der,
            scope={"ca": ca.id},  # the designated responder of this CA service (trust.formats.trustlist)
            effective=not_before(ca.ocsp_cert_der),
        )


def not_before(cert_der: bytes) -> datetime:
    from asn1crypto import x509 as asn1_x509

    from trust.formats.x509 import utc_time

    return utc_time(asn1_x509.Certificate.load(cert_der)["tbs_certificate"]["validity"]["not_before"].native)


def register_service(
    session: Session,
    *,
    issuer_ca: CertificateAuthority,
    service_id: str,
    service_type: str,
    cert_der: bytes,
    scope: dict[str, Any] | None = None,
    family: str | None = None,
) -> bool:
    """Record another service (TSA, seal maker, licence issuer, identity provider) of a CA's issuer; returns
    whether the registry changed. ``family`` is the service key's (default: the CA's)."""
    register_ca(session, issuer_ca)
    return registry.ensure_service(
        session,
        service_id=service_id,
        issuer_id=issuer_id_for(issuer_ca),
        type=service_type,
        family=family or issuer_ca.family,
        cert_der=cert_der,
        scope=scope,
        effective=not_before(cert_der),
    )


_EVENT = registry.TrustEvent
# Both subjects' events in one query, columns only, in the order they were made; built once (every issuance asks:
# issue 15 item 5).
_STANDING: Final = (
    sa_select(
        col(_EVENT.subject), col(_EVENT.subject_id), col(_EVENT.status), col(_EVENT.effective_at), col(_EVENT.reason)
    )
    .where(
        or_(
            and_(col(_EVENT.subject) == "issuer", col(_EVENT.subject_id) == bindparam("issuer")),
            and_(col(_EVENT.subject) == "service", col(_EVENT.subject_id) == bindparam("service")),
        )
    )
    .order_by(col(_EVENT.id))
)


def check_standing(session: Session, ca: CertificateAuthority) -> None:
    """Refuse to sign for a CA whose issuer or CA service is not ``granted`` now (withdrawn, suspended)."""
    if ca.kind == "root":
        return
    moment = now()
    wanted = (("issuer", issuer_id_for(ca)), ("service", ca.id))
    session.flush()  # what the ORM's autoflush would do (a no-op when nothing is pending); then the connection's
    # execute: the ORM's own for a columns-only query was ~1.6 % of an issuance (issue 15 item 5)
    rows = session.connection().execute(_STANDING, {"issuer": wanted[0][1], "service": wanted[1][1]}).all()
    for subject, subject_id in wanted:
        events = [row for row in rows if row[0] == subject and row[1] == subject_id]
        if not events:
            continue  # not registered yet (being created in this transaction)
        entry = tl.status_at([tl.StatusEntry(e[2], utc(e[3]), e[4]) for e in events], moment)
        if entry is not None and entry.status != "granted":
            why = f" ({entry.reason})" if entry.reason else ""
            raise ConflictError(
                f"{subject} {subject_id} is {entry.status} since {tl.iso(entry.effective)}{why}; "
                "Huren does not sign for it"
            )


def _roots(session: Session) -> list[CertificateAuthority]:
    roots = [session.get(CertificateAuthority, rid) for rid in ROOT_IDS]
    if any(r is None for r in roots):
        raise NotFoundError("the national roots do not exist yet (run trust init)")
    return [r for r in roots if r is not None]


TRUST_LIST_SIGNER: Final = "trust-list-signer"
"""The profile of a root's delegated trust list signer certificate (an offline root's; docs/OPERATIONS.md)."""


def root_signers(
    session: Session, instance: Instance, roots: list[CertificateAuthority]
) -> list[tuple[Signer, tl.Chain]]:
    """Who signs the trust list and the bundle for each root: the root's own key when the service holds it, else the
    root's current delegated trust list signer (certified by the offline root in a ceremony, ``x5c`` = [signer,
    root]); a root with neither is :attr:`Code.ROOT_OFFLINE`."""
    keystore = instance.keystore
    signers: list[tuple[Signer, tl.Chain]] = []
    moment = now()
    for root in roots:
        algorithm = authority.algorithm_for(root.family)
        if root.key_id is not None:
            signers.append((keystore.signer(root.key_id, algorithm), root.cert_der))
            continue
        delegate = session.exec(
            select(IssuedCertificate)
            .where(
                IssuedCertificate.issuer_id == root.id,
                IssuedCertificate.profile == TRUST_LIST_SIGNER,
                IssuedCertificate.status == "valid",
                col(IssuedCertificate.not_before) <= moment,
                col(IssuedCertificate.not_after) > moment,
                col(IssuedCertificate.key_id).is_not(None),
            )
            .order_by(col(IssuedCertificate.not_before).desc(), col(IssuedCertificate.id).desc())
        ).first()
        if delegate is None or delegate.key_id is None:
            raise ConflictError(
                f"national root {root.id} is offline and has no valid trust list signer: run `trust root request "
                "signer`, sign the request on the offline machine and import the result",
                code=Code.ROOT_OFFLINE,
            )
        signers.append((keystore.signer(delegate.key_id, algorithm), [delegate.der, root.cert_der]))
    return signers


def publish(session: Session, instance: Instance) -> registry.TrustListRecord:
    """Build, sign (both roots) and store the next trust list; write it to the published directory."""
    from trust.service import tlog

    roots = _roots(session)
    sequence = registry.next_sequence(session)
    trust_list = registry.build(
        session,
        sequence=sequence,
        roots=[(r.family, r.cert_der) for r in roots],
        operator=OPERATOR,
        validity=TRUST_LIST_VALIDITY,
        audit_head=audit.head_of(session),  # anchors the audit chain (trust.service.audit, "Anchoring")
        log_checkpoint=tlog.latest_note(session),  # the transparency log's latest checkpoint (issue 19)
    )
    signers = root_signers(session, instance, roots)
    document = tl.sign(trust_list, signers)
    record = registry.store(session, trust_list, document)
    atomic_write(instance.settings.published_dir / "trustlist.json", record.document.encode())
    export_after_commit(instance, session)
    return record


def export_after_commit(instance: Instance, session: Session) -> None:
    """Export a new ``public/bundle.json`` once ``session``'s transaction commits (something the bundle holds changed
    in it: the trust list, a CRL); once per transaction, nothing if it rolls back (module docstring).

    SQLAlchemy also calls ``after_commit`` when a SAVEPOINT is released: the export waits for the outermost commit
    (exporting inside the open transaction would wait on its own write lock — SQLite's 30-second busy timeout)."""
    if session.info.get(_EXPORT_PENDING):
        return
    session.info[_EXPORT_PENDING] = True
    if session.info.get(_EXPORT_LISTENING):
        return
    session.info[_EXPORT_LISTENING] = True

    def committed(done: Session) -> None:
        if done.in_nested_transaction() or not done.info.get(_EXPORT_PENDING):
            return  # a savepoint released inside the transaction, or nothing changed since the last export
        done.info.pop(_EXPORT_PENDING, None)
        republish_bundle(instance)

    def rolled_back(done: Session) -> None:
        if not done.in_nested_transaction():
            done.info.pop(_EXPORT_PENDING, None)  # the change that asked for it is gone

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_rollback", rolled_back)


def republish_bundle(instance: Instance) -> Path | None:
    """A change the bundle holds has committed: wake the service's background exporter
    (:func:`start_background_exports`) or, where none runs (CLI, library), export ``public/bundle.json`` now if it is
    stale (:func:`export_if_stale`). ``None`` when nothing was written now (deferred, already current, or failed —
    logged: the change that asked for it has committed, and the schedule exports again)."""
    exporter = _exporters.get(instance)
    if exporter is not None and exporter.is_alive():
        exporter.wake()
        return None
    return export_if_stale(instance)


def bundle_stale(instance: Instance) -> bool:
    """Whether ``public/bundle.json`` was exported at another state version than the database's now (or is missing)."""
    from trust.service import state

    return _exported_version(instance) != state.database_version(instance.engine)


def export_if_stale(instance: Instance) -> Path | None:
    """Export ``public/bundle.json`` unless it is current (module docstring, "Coalesced"): the state version is read
    under the export lock, before the export, so every change committed before it is in it. ``None`` when the file
    was current or the export failed (logged)."""
    from trust.service import state

    try:
        with _export_guard(instance):
            version = state.database_version(instance.engine)
            if _exported_version(instance) == version:
                return None
            # Freshness of the trust data only: the audit head is logged by the schedule's and `trust log checkpoint`'s
            # checkpoints, not by every change (a change's own audit entries would otherwise be anchored at once).
            return export_bundle(instance, audit_head=False)
    except (TrustError, OSError, SQLAlchemyError) as exc:
        log.warning("public/bundle.json not re-exported after a change: %s", exc)
        return None


def exports_made(instance: Instance) -> int:
    """How many times this process wrote ``public/bundle.json`` of ``instance``'s home (tests and benches count)."""
    return _exports_made.get(str(instance.settings.published_dir), 0)


def _exported_version(instance: Instance) -> int | None:
    public = instance.settings.published_dir
    try:
        if not (public / "bundle.json").exists():
            return None
        return int((public / _VERSION_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


@contextmanager
def _export_guard(instance: Instance) -> Iterator[None]:
    """The export lock: this process's (re-entrant) and, once per thread, an exclusive ``flock`` on
    ``public/.bundle.lock`` that the other workers of the home take too."""
    with _export_lock:
        depth = getattr(_export_depth, "value", 0)
        if depth:
            _export_depth.value = depth + 1
            try:
                yield
            finally:
                _export_depth.value = depth
            return
        import fcntl  # POSIX only, as the service (the offline verifier does not import this module)

        public = instance.settings.published_dir
        public.mkdir(parents=True, exist_ok=True)
        with open(public / _LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            _export_depth.value = 1
            try:
                yield
            finally:
                _export_depth.value = 0
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _Exporter(threading.Thread):
    """The service's background exporter: woken by each committed change of this process, it waits its delay (more
    changes of the burst arrive meanwhile) and exports once if the file is stale; stopped, it first serves a pending
    wake-up (the service stops with the file current), and exports nothing when no change asked for it."""

    def __init__(self, instance: Instance, delay: float | None) -> None:
        super().__init__(name="huren-bundle-export", daemon=True)
        self.instance = instance
        self.delay = EXPORT_DELAY if delay is None else delay
        self.condition = threading.Condition()
        self.pending = False
        self.stopped = False

    def wake(self) -> None:
        with self.condition:
            self.pending = True
            self.condition.notify_all()

    def stop(self) -> None:
        with self.condition:
            self.stopped = True
            self.condition.notify_all()

    def run(self) -> None:
        while True:
            with self.condition:
                self.condition.wait_for(lambda: self.pending or self.stopped)
                if not self.pending:
                    return
                self.condition.wait_for(lambda: self.stopped, timeout=self.delay)  # the rest of the burst
                self.pending, last = False, self.stopped
            export_if_stale(self.instance)
            if last:
                return


_exporters: weakref.WeakKeyDictionary[Instance, _Exporter] = weakref.WeakKeyDictionary()


def start_background_exports(instance: Instance, *, delay: float | None = None) -> None:
    """Export ``public/bundle.json`` in a background thread ``delay`` seconds (:data:`EXPORT_DELAY`) after the changes
    this process commits (the service: off the request path)."""
    with _export_lock:
        current = _exporters.get(instance)
        if current is not None and current.is_alive():
            return
        exporter = _Exporter(instance, delay)
        _exporters[instance] = exporter
        exporter.start()


def stop_background_exports(instance: Instance, timeout: float = 60.0) -> None:
    """Stop the background exporter, once it has exported what it was woken for (the service stops with the file
    current); later changes export as they commit again."""
    with _export_lock:
        exporter = _exporters.pop(instance, None)
    if exporter is not None:
        exporter.stop()
        exporter.join(timeout)


def publish_if_due(
    instance: Instance, within: timedelta, *, audit_after: timedelta | None = None
) -> registry.TrustListRecord | None:
    """Publish the next trust list if the latest has less than ``within`` left — or, with ``audit_after``, if it is at
    least that old and the audit chain has grown past the head it publishes — else ``None``. The decision is taken
    under a row lock on the SM2 root (PostgreSQL ``SELECT … FOR UPDATE``), so that several workers running the
    schedule at once publish one list, not one each (or fail on the sequence number)."""
    with db.session_scope(instance.engine) as session:
        session.exec(
            select(CertificateAuthority).where(CertificateAuthority.id == ROOT_IDS[0]).with_for_update()
        ).first()
        latest = registry.latest(session)
        if latest is not None and utc(latest.next_update) - now() >= within:
            if audit_after is None or now() - utc(latest.issued_at) < audit_after:
                return None
            if not _audit_unpublished(session, latest):
                return None
        return publish(session, instance)


def _audit_unpublished(session: Session, latest: registry.TrustListRecord) -> bool:
    """Whether the audit chain holds entries the latest trust list does not anchor, besides the entry recording that
    list's own publication (which a list can never anchor: its entry follows it)."""
    payload, _signatures = jose.parse_json(json.loads(latest.document))
    published = tl.TrustList.from_json(json.loads(payload)).audit_head
    after = published.sequence if published is not None else 0
    newer = session.exec(
        select(audit.AuditEntry.seq)
        .where(col(audit.AuditEntry.seq) > after, col(audit.AuditEntry.subject) != f"trust-list:{latest.sequence}")
        .limit(1)
    ).first()
    return newer is not None


def publish_now(instance: Instance) -> registry.TrustListRecord:
    with db.session_scope(instance.engine) as session:
        return publish(session, instance)


def latest_trust_list(instance: Instance) -> registry.TrustListRecord:
    with db.session_scope(instance.engine, read_only=True) as session:
        record = registry.latest(session)
        if record is None:
            raise NotFoundError("no trust list has been published yet (run trust init)")
        return record


def change_status(
    instance: Instance, *, subject: str, subject_id: str, status: str, at: datetime | None = None, reason: str = ""
) -> registry.TrustListRecord:
    """Withdraw / suspend / reinstate (``granted``) an issuer or a service and publish a new trust list."""
    with db.session_scope(instance.engine) as session:
        registry.set_status(session, subject=subject, subject_id=subject_id, status=status, at=at, reason=reason)
        return publish(session, instance)


def _bundle_content(instance: Instance, session: Session) -> tuple[Any, list[Any]]:
    """The latest trust list, every CA's current CRL and every status list (unsigned), and the roots."""
    from trust.service import (
        licenses,  # composition: the bundle also carries the licence status lists
        tlog,  # and the transparency log's checkpoint (issue 19)
    )
    from trust.service.identity import anchor  # and the identity federation's statements (issue 16)

    latest = registry.latest(session)
    if latest is None:
        latest = publish(session, instance)
    status_lists = tuple(licenses.all_status_list_tokens(instance))
    crls: list[tuple[str, bytes]] = []
    for ca in session.exec(select(CertificateAuthority).order_by(col(CertificateAuthority.id))).all():
        # the main CRL (and its copies signed with retired keys of re-keyed CAs), then every partition's
        crls.extend((ca.id, der) for der in authority.current_crls(session, ca))
    moment = now()
    content = bundle_format.Bundle(
        created_at=moment,
        next_update=moment + BUNDLE_VALIDITY,
        trust_list_document=json.loads(latest.document),
        crls=tuple(crls),
        status_lists=status_lists,
        type_metadata=licenses.type_metadata_documents(instance),
        federation=anchor.bundle_section(instance),
        checkpoints=tlog.bundle_section(instance),  # the transparency log's latest checkpoint (issue 19)
    )
    return content, _roots(session)


def _sign_bundle(instance: Instance, content: Any, roots: list[Any], session: Session) -> dict[str, Any]:
    return bundle_format.sign(content, root_signers(session, instance, roots))


def build_bundle(instance: Instance) -> dict[str, Any]:
    """A signed offline bundle of the latest trust list, every CA's current CRL and every status list."""
    with db.session_scope(instance.engine) as session:
        content, roots = _bundle_content(instance, session)
        return _sign_bundle(instance, content, roots, session)


VERIFY_BUNDLE_REUSE = 600.0  # seconds a signed bundle with unchanged content serves POST /verify
_verify_bundles: weakref.WeakKeyDictionary[Instance, tuple[str, float, bytes]] = weakref.WeakKeyDictionary()
_verify_lock = threading.Lock()


def current_bundle_bytes(instance: Instance) -> bytes:
    """The signed bundle ``POST /verify`` checks against and ``GET /bundle`` serves, signed again only when its
    content changed (trust list, a CRL, a status list token) or after :data:`VERIFY_BUNDLE_REUSE` seconds (two root
    signatures, one of them RSA-4096). Called when the state version moved (:mod:`trust.service.verification`);
    what it holds is read from the database each time, so a revocation is seen
    by the next request. A read-only transaction, unless no trust list was ever published (then one is, first)."""
    with db.session_scope(instance.engine, read_only=True) as session:
        published = registry.latest(session) is not None
    if not published:
        publish_now(instance)
    with db.session_scope(instance.engine, read_only=True) as session:
        content, roots = _bundle_content(instance, session)
    digest = hashlib.sha256()
    digest.update(json.dumps(content.trust_list_document, sort_keys=True).encode())
    for ca_id, der in content.crls:
        digest.update(ca_id.encode() + b"\0" + hashlib.sha256(der).digest())
    for item in content.status_lists:
        digest.update(json.dumps(item, sort_keys=True).encode())
    digest.update(json.dumps(content.federation, sort_keys=True, default=str).encode())  # issue 16's section
    digest.update(json.dumps(content.checkpoints, sort_keys=True).encode())  # issue 19's
    key = digest.hexdigest()
    moment = time.monotonic()
    with _verify_lock:
        cached = _verify_bundles.get(instance)
    if cached is not None and cached[0] == key and moment - cached[1] < VERIFY_BUNDLE_REUSE:
        return cached[2]
    with db.session_scope(instance.engine, read_only=True) as session:
        signed = _sign_bundle(instance, content, roots, session)
    data = json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()
    with _verify_lock:
        _verify_bundles[instance] = (key, moment, data)
    return data


STORE_FOLDER: Final = "bundles"  # under <home>/cache/: the signed bundle per state version, shared by the workers
STORE_KEPT: Final = 3  # bundles (each with its gzip form) kept: the newest, and two a slower worker may still serve
STORE_GZIP_LEVEL: Final = 6  # trust.http.caching.GZIP_LEVEL, the level GET /bundle compresses at (it may not import it)
STORE_WAIT: Final = 30.0
"""Seconds a worker waits for the store's lock (another worker signing) before it signs the bundle itself."""
STORE_TEMP_AGE: Final = 60.0
"""Seconds after which a temporary file in the store (of a worker killed while writing) is pruned."""
_STORE_NAME: Final = re.compile(r"(\d{12,})-(\d+)\.([0-9a-f]{8})\.json(?:\.gz)?")
_STORE_KEY: Final = re.compile(r"(\d{12,})-(\d+)")
_store_lock = threading.Lock()
_stored: dict[str, int] = {}  # store folder -> bundles this process signed into it (tests, bench)
_gzipped: dict[str, int] = {}  # store folder -> gzip forms this process made into it


def _store_folder(instance: Instance) -> Path:
    return instance.settings.home / "cache" / STORE_FOLDER


def store_key(version: int, at: float | None = None) -> str:
    """The name under which the signed bundle of the database's state ``version`` is stored: the version and the
    :data:`VERIFY_BUNDLE_REUSE` period of the wall clock (a bundle is signed again at least that often, as
    :func:`current_bundle_bytes` does, so the status tokens and the bundle's dates stay fresh). Every worker of a home
    computes the same name."""
    moment = time.time() if at is None else at
    return f"{version:012d}-{int(moment // VERIFY_BUNDLE_REUSE)}"


def _parse_key(key: str) -> tuple[int, int]:
    found = _STORE_KEY.fullmatch(key)
    if found is None:
        raise ValueError(f"not a bundle store key: {key!r}")
    return int(found.group(1)), int(found.group(2))


def stored_bundle_digest(instance: Instance, key: str) -> tuple[bytes, str | None, str | None]:
    """The signed bundle stored under ``key`` (:func:`store_key`) and the name of its file (``<key>.<nonce>``),
    signed by the first worker of the home that needs it (:func:`current_bundle_bytes`, under a lock the workers
    share) and read by the others: one signature per state version for all workers, not one per worker (``GET
    /bundle`` after a change at 10^6 revoked: ~3–4 s of CPU each). Only the newest :data:`STORE_KEPT` are kept. The
    caller reads the version before it calls: what is stored holds every change up to it (perhaps later ones too,
    which only cause one more bundle later). The nonce tells a bundle signed again under a key whose file was pruned
    from the one pruned, so that a gzip form always belongs to the bytes it was made from (:func:`stored_gzip_digest`).

    **The database is the arbiter** (branch storefix): the worker that signs records the file's name and SHA-256 in
    the ``bundle_store`` table, and a file is used only when its bytes have the digest recorded for that key — a file
    put in the folder by anyone else (an older genuine bundle, say) is never taken for the current one.

    A store that cannot be used (a full disk, permissions, the table unreachable, another worker holding the lock
    longer than :data:`STORE_WAIT`) is logged and bypassed: the bundle is signed here, as before, and its name is
    ``None``.

    The third value is the SHA-256 (hex) of the returned bytes when it was computed here (recorded by the signer,
    checked by a reader: ``GET /bundle``'s ETag is derived from it, branch etag), else ``None``."""
    folder = _store_folder(instance)
    version, period = _parse_key(key)
    found = _find_stored(instance, folder, version, period)
    if found is not None:
        return found
    data: bytes | None = None
    try:
        with _store_guard(folder) as held:
            if not held:
                log.warning("the bundle store's lock was held over %.0f s: the bundle is signed here", STORE_WAIT)
            else:
                found = _find_stored(instance, folder, version, period)
                if found is not None:
                    return found
                data = current_bundle_bytes(instance)
                name = f"{key}.{secrets.token_hex(4)}"
                atomic_write(folder / f"{name}.json", data)
                digest = hashlib.sha256(data).hexdigest()
                _record_stored(instance, name, version, period, digest)
                _stored[str(folder)] = _stored.get(str(folder), 0) + 1
                try:
                    _prune_store(instance, folder, keep=(version, period))
                except (OSError, SQLAlchemyError) as exc:  # the bundle is stored: pruning waits for the next one
                    log.warning("the bundle store was not pruned (%s)", exc)
                return data, name, digest
    except (OSError, SQLAlchemyError) as exc:
        log.warning("the signed bundle is not stored for the other workers (%s): signed in this one", exc)
    return (data if data is not None else current_bundle_bytes(instance)), None, None


def stored_gzip_digest(instance: Instance, name: str, body: bytes) -> tuple[bytes, str | None]:
    """The gzip form of the bundle stored as ``name`` (``body``: its bytes, as :func:`stored_bundle_digest` returned
    them), compressed by the first worker that serves it gzip-encoded and read by the others — when its SHA-256 is
    the one that worker recorded. Compressed here (once) when the store cannot be used. The second value is the
    SHA-256 (hex) of the returned bytes when it was computed here (recorded or checked), else ``None``."""
    folder = _store_folder(instance)
    path = folder / f"{name}.json.gz"
    found = _find_gzip(instance, path, name)
    if found is not None:
        return found
    packed: bytes | None = None
    digest: str | None = None
    try:
        with _store_guard(folder) as held:
            if held:
                found = _find_gzip(instance, path, name)
                if found is not None:
                    return found
                packed = gzip.compress(body, compresslevel=STORE_GZIP_LEVEL, mtime=0)
                digest = hashlib.sha256(packed).hexdigest()
                # only for a bundle still recorded (not pruned meanwhile: it would never be pruned again)
                if _record_gzip(instance, name, digest):
                    atomic_write(path, packed)
                    _gzipped[str(folder)] = _gzipped.get(str(folder), 0) + 1
    except (OSError, SQLAlchemyError) as exc:
        log.warning("the bundle's gzip form is not stored for the other workers (%s)", exc)
    if packed is not None:
        return packed, digest
    return gzip.compress(body, compresslevel=STORE_GZIP_LEVEL, mtime=0), None


def bundles_stored(instance: Instance) -> dict[str, int]:
    """How many bundles this process signed into the home's store, and gzip forms it made there (tests, bench)."""
    folder = str(_store_folder(instance))
    return {"signed": _stored.get(folder, 0), "gzipped": _gzipped.get(folder, 0)}


_SELECT_STORED: Final = text(
    "SELECT name, sha256 FROM bundle_store WHERE version = :version AND period = :period ORDER BY name"
)
_SELECT_GZIP: Final = text("SELECT gzip_sha256 FROM bundle_store WHERE name = :name")
_INSERT_STORED: Final = text(
    "INSERT INTO bundle_store (name, version, period, sha256) VALUES (:name, :version, :period, :sha256)"
)
_UPDATE_GZIP: Final = text("UPDATE bundle_store SET gzip_sha256 = :sha256 WHERE name = :name")
_SELECT_KEYS: Final = text("SELECT name, version, period FROM bundle_store")
_DELETE_KEY: Final = text("DELETE FROM bundle_store WHERE version = :version AND period = :period")


def _read_rows(instance: Instance, statement: Any, values: dict[str, Any]) -> list[Any]:
    """One read-only statement outside any session (as :func:`trust.service.state.changes`)."""
    options: dict[str, Any] = (
        {db.READ_ONLY: True} if instance.engine.dialect.name == "sqlite" else {"isolation_level": "AUTOCOMMIT"}
    )
    with instance.engine.connect().execution_options(**options) as connection:
        rows = list(connection.execute(statement, values).all())
        connection.rollback()
    return rows


def _write_rows(instance: Instance, *steps: tuple[Any, dict[str, Any]]) -> int:
    """Run ``steps`` in one transaction; the rows the last one touched."""
    count = 0
    with instance.engine.begin() as connection:
        for statement, values in steps:
            count = connection.execute(statement, values).rowcount
    return count


def _find_stored(instance: Instance, folder: Path, version: int, period: int) -> tuple[bytes, str, str] | None:
    """The stored bundle of the key whose bytes have the digest its signer recorded, or ``None`` (none stored, the
    file pruned meanwhile or replaced, the table unreachable: the caller signs)."""
    try:
        rows = _read_rows(instance, _SELECT_STORED, {"version": version, "period": period})
    except SQLAlchemyError as exc:
        log.warning("the bundle store's records cannot be read (%s)", exc)
        return None
    for name, digest in rows:
        found = _read_stored(folder / f"{name}.json")
        if found is None:
            continue
        if hashlib.sha256(found).hexdigest() == digest:
            return found, str(name), str(digest)
        log.warning("%s in the bundle store is not the bundle recorded under its name: not used", name)
    return None


def _find_gzip(instance: Instance, path: Path, name: str) -> tuple[bytes, str] | None:
    try:
        rows = _read_rows(instance, _SELECT_GZIP, {"name": name})
    except SQLAlchemyError as exc:
        log.warning("the bundle store's records cannot be read (%s)", exc)
        return None
    if not rows or rows[0][0] is None:
        return None
    found = _read_stored(path)
    if found is None:
        return None
    if hashlib.sha256(found).hexdigest() == rows[0][0]:
        return found, str(rows[0][0])
    log.warning("%s in the bundle store is not the gzip form recorded for it: not used", path.name)
    return None


def _record_stored(instance: Instance, name: str, version: int, period: int, digest: str) -> None:
    _write_rows(instance, (_INSERT_STORED, {"name": name, "version": version, "period": period, "sha256": digest}))


def _record_gzip(instance: Instance, name: str, digest: str) -> bool:
    return _write_rows(instance, (_UPDATE_GZIP, {"name": name, "sha256": digest})) == 1


def _read_stored(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # pruned meanwhile, or unreadable: made again
        return None


def _prune_store(instance: Instance, folder: Path, *, keep: tuple[int, int]) -> None:
    """Keep the records of the newest :data:`STORE_KEPT` keys (by version, then period, as numbers) and of ``keep``
    (the key just stored: never deleted right after it was written, even when the database's version went backwards,
    a restored database), and only the files recorded for them; other files of the store's own names go, as do
    temporary files older than :data:`STORE_TEMP_AGE` (a worker killed while writing). Names the store never makes
    (``README.json``, the lock) are left alone."""
    rows = _read_rows(instance, _SELECT_KEYS, {})
    keys = sorted({(int(version), int(period)) for _name, version, period in rows})
    kept = set(keys[-STORE_KEPT:]) | {keep}
    gone = [key for key in keys if key not in kept]
    if gone:
        _write_rows(instance, *((_DELETE_KEY, {"version": v, "period": p}) for v, p in gone))
    names = {str(name) for name, version, period in rows if (int(version), int(period)) in kept}
    moment = time.time()
    for entry in folder.iterdir():
        if _STORE_NAME.fullmatch(entry.name):
            if entry.name.removesuffix(".gz").removesuffix(".json") not in names:
                entry.unlink(missing_ok=True)
        elif entry.name.startswith(".") and entry.name.endswith(".tmp"):
            try:
                if moment - entry.stat().st_mtime > STORE_TEMP_AGE:
                    entry.unlink(missing_ok=True)
            except FileNotFoundError:
                continue


def _store_folder_ready(folder: Path) -> None:
    """The store's folder, readable by the service's user only (0700)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_mode & 0o777 != 0o700:
        folder.chmod(0o700)


@contextmanager
def _store_guard(folder: Path) -> Iterator[bool]:
    """The store's lock: this process's, and an exclusive ``flock`` on ``<folder>/.lock`` the other workers take —
    waited for at most :data:`STORE_WAIT` seconds (a hung signer does not stall every worker): ``False`` then, and
    the caller does without the store."""
    import fcntl  # POSIX only, as the service

    deadline = time.monotonic() + STORE_WAIT
    if not _store_lock.acquire(timeout=STORE_WAIT):
        yield False
        return
    try:
        _store_folder_ready(folder)
        with open(folder / ".lock", "a+b") as handle:
            locked = False
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    locked = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)
            try:
                yield locked
            finally:
                if locked:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        _store_lock.release()


def export_bundle(instance: Instance, path: Path | None = None, *, audit_head: bool = True) -> Path:
    """Export the signed bundle to ``public/bundle.json`` (and to ``path`` when given), noting the state version it was
    built from (read first: a change committed during the export makes it stale again, never lost)."""
    with _export_guard(instance):
        return _export_bundle(instance, path, audit_head=audit_head)


def _export_bundle(instance: Instance, path: Path | None, *, audit_head: bool) -> Path:
    from trust.service import state, tlog

    version = state.database_version(instance.engine)
    try:
        # the bundle carries a checkpoint of the log as it stands (issue 19)
        tlog.checkpoint(instance, audit_head=audit_head)
    except ConflictError as exc:
        if exc.code is not Code.ROOT_OFFLINE:
            raise
        # Offline roots (issue 20) sign no checkpoints: the bundle goes out with the latest one there is (docs/NOTES.md)
        log.warning("bundle exported without a new log checkpoint: %s", exc.message)
    document = build_bundle(instance)
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    public = instance.settings.published_dir
    target = path or public / "bundle.json"
    atomic_write(target, data)
    if path is not None:
        atomic_write(public / "bundle.json", data)
    atomic_write(public / _VERSION_FILE, f"{version}\n".encode())  # under the export lock
    _exports_made[str(public)] = _exports_made.get(str(public), 0) + 1
    return target


def bundle_parts(instance: Instance) -> dict[str, bytes]:
    """The offline bundle cut into parts (``trust.formats.bundle``, "Parts and compression"): ``national`` (the national
    issuers and departments, the roots' and national CAs' CRLs, the SD-JWT VC type metadata) and one part per region
    (its issuers — CA, seal maker, licence issuers … — its CAs' CRLs and its licence issuers' status lists). Every part
    is a bundle signed by both roots whose trust list (the latest, same sequence) is also signed by both."""
    from licenses.models import LicenseIssuer

    with db.session_scope(instance.engine, read_only=True) as session:
        if registry.latest(session) is None:
            raise NotFoundError("no trust list has been published yet (run trust init)")
        content, roots = _bundle_content(instance, session)
        ca_parts = {ca.id: _part_of(ca.kind, ca.code) for ca in session.exec(select(CertificateAuthority)).all()}
        issuer_parts = {
            i.id: ca_parts.get(i.ca_id, bundle_format.NATIONAL) for i in session.exec(select(LicenseIssuer))
        }
    payload, _signatures = jose.parse_json(dict(content.trust_list_document))
    listed = tl.TrustList.from_json(json.loads(payload))
    names = {bundle_format.NATIONAL} | {_part_of(i.kind, i.code) for i in listed.issuers}
    with db.session_scope(instance.engine, read_only=True) as session:
        signers = root_signers(session, instance, roots)
    parts = {}
    for part in sorted(names):
        subset = dataclasses.replace(
            listed, issuers=tuple(i for i in listed.issuers if _part_of(i.kind, i.code) == part)
        )
        statuses = tuple(
            s for s in content.status_lists if issuer_parts.get(_status_issuer(s), bundle_format.NATIONAL) == part
        )
        piece = dataclasses.replace(
            content,
            part=part,
            trust_list_document=tl.sign(subset, signers),
            crls=tuple((ca, der) for ca, der in content.crls if ca_parts.get(ca, bundle_format.NATIONAL) == part),
            status_lists=statuses,
            type_metadata=content.type_metadata if part == bundle_format.NATIONAL else (),
            federation=content.federation if part == bundle_format.NATIONAL else None,
        )
        parts[part] = json.dumps(bundle_format.sign(piece, signers), ensure_ascii=False, separators=(",", ":")).encode()
    return parts


def _part_of(kind: str, code: str | None) -> str:
    return f"region:{code}" if kind == "region" and code else bundle_format.NATIONAL


def _status_issuer(item: Mapping[str, Any]) -> str:
    """The licence issuer a status list URI names (``…/statuslists/<issuer id>/<number>``)."""
    parts = str(item.get("uri", "")).rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 else ""


def export_bundle_parts(instance: Instance, folder: Path | None = None, *, gzip: bool = True) -> list[Path]:
    """Write :func:`bundle_parts` to ``folder`` (default ``<home>/public/bundle/``) as ``national.json[.gz]`` and
    ``region-<code>.json[.gz]``."""
    target = folder or instance.settings.published_dir / "bundle"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for part, data in bundle_parts(instance).items():
        name = part.replace(":", "-") + (".json.gz" if gzip else ".json")
        path = target / name
        atomic_write(path, bundle_format.compress(data) if gzip else data)
        written.append(path)
    return written


def root_fingerprints(instance: Instance) -> dict[str, str]:
    """``{family: SHA-256 fingerprint}`` of the national roots: what verifiers pin."""
    import hashlib

    with db.session_scope(instance.engine, read_only=True) as session:
        return {r.family: hashlib.sha256(r.cert_der).hexdigest() for r in _roots(session)}


def list_issuers(instance: Instance) -> list[dict[str, Any]]:
    record = latest_trust_list(instance)
    payload, _sigs = jose.parse_json(json.loads(record.document))
    parsed = tl.TrustList.from_json(json.loads(payload))
    moment = now()
    rows = []
    for issuer in parsed.issuers:
        status = tl.status_at(issuer.status_history, moment)
        rows.append(
            {
                "id": issuer.id,
                "kind": issuer.kind,
                "code": issuer.code,
                "name": issuer.name,
                "status": status.status if status else "pending",
                "services": [s.id for s in issuer.services],
            }
        )
    return rows
