"""The national root's CA operations: each one transaction over the instance's database and key store.

The CLI (``trust init``, ``trust ca ...``) and the HTTP routes call these functions and nothing else.
Published artefacts (CA certificates and CRLs) are also written under ``<home>/public`` so any web server
can serve them.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ca import authority
from ca.authority import Endpoints, Issued, crls, cursor
from ca.models import CaKeyHistory, CertificateAuthority, CrlRecord, CrlShard, IssuedCertificate
from ca.profiles import Profile
from ca.profiles import profile as get_profile
from trust import db
from trust.crypto.errors import ConflictError, InputError, NotFoundError, TrustError
from trust.crypto.keys import PublicKey
from trust.formats import csr
from trust.formats import x509 as cx
from trust.formats.crl import crl_pem, load_crl
from trust.formats.names import DN, region, validate_uscc
from trust.service import audit, idempotency, state, tlog, tsa
from trust.service import trust as trust_registry
from trust.service.files import atomic_write
from trust.service.instance import Instance

ROOTS = {"SM2": "root-sm2", "RSA": "root-rsa"}
NATIONAL = {"SM2": "national-sm2", "RSA": "national-rsa"}
ROOT_NAMES = {"SM2": "互认国家根CA (SM2)", "RSA": "互认国家根CA (RSA)"}
NATIONAL_ORG = "国家政务服务平台"


def endpoints(instance: Instance) -> Endpoints:
    return Endpoints(instance.settings.effective_public_url)


@contextmanager
def transaction(instance: Instance) -> Iterator[tuple[Session, list[Issued]]]:
    """One database transaction; keys stored for issuances in it are discarded if it fails."""
    issued: list[Issued] = []
    try:
        with db.session_scope(instance.engine) as session:
            yield session, issued
    except BaseException:
        for item in issued:
            for cleanup in item.cleanups:
                cleanup()
        raise


def publish_ca_files(
    instance: Instance, session: Session, ca_ids: Sequence[str] | None = None, *, partitions: bool = True
) -> None:
    """Write CA certificates and current CRLs under ``<home>/public`` (atomic replace): the main CRL
    (``crl/<ca id>.crl``) and, unless ``partitions`` is false, every partition CRL and delta CRL
    (``crl/<ca id>/<n>.crl``, ``crl/<ca id>/<n>.delta.crl``; :func:`publish_partition`); and the bundle once the
    transaction commits."""
    public = instance.settings.published_dir
    (public / "ca").mkdir(parents=True, exist_ok=True)
    (public / "crl").mkdir(parents=True, exist_ok=True)
    query = select(CertificateAuthority)
    if ca_ids is not None:
        query = query.where(col(CertificateAuthority.id).in_(list(ca_ids)))
    for ca in session.exec(query).all():
        atomic_write(public / "ca" / f"{ca.id}.cer", ca.cert_der)
        latest = session.exec(
            select(CrlRecord).where(CrlRecord.ca_id == ca.id).order_by(col(CrlRecord.number).desc())
        ).first()
        if latest is not None:
            atomic_write(public / "crl" / f"{ca.id}.crl", latest.der)
        for retired, der in authority.retired_crls(session, ca):
            atomic_write(public / "crl" / f"{retired_crl_name(ca.id, retired.serial)}.crl", der)
        if partitions:
            for row in authority.partitions(session, ca.id, signer=None):
                _write_partition(instance, row)
    trust_registry.export_after_commit(instance, session)  # the bundle carries the CRLs


def publish_partition(instance: Instance, session: Session, ca_id: str, shard: int) -> None:
    """Write one partition's CRL and delta CRL (with every key that signs them) under ``<home>/public``, and the
    bundle once the transaction commits."""
    for row in session.exec(select(CrlShard).where(CrlShard.ca_id == ca_id, CrlShard.shard == shard)).all():
        _write_partition(instance, row)
    trust_registry.export_after_commit(instance, session)  # the bundle carries the partitions' CRLs


def _write_partition(instance: Instance, row: CrlShard) -> None:
    name = retired_crl_name(row.ca_id, row.signer) if row.signer else row.ca_id
    folder = instance.settings.published_dir / "crl" / name
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / f"{row.shard}.crl", row.der)
    if row.delta_der is not None:
        atomic_write(folder / f"{row.shard}.delta.crl", row.delta_der)


def retired_crl_name(ca_id: str, serial: str) -> str:
    """``<ca id>.<serial of the retired CA certificate>``: where the CRL signed with a retired key is published (its
    partitions' under ``<ca id>.<serial>/``)."""
    return f"{ca_id}.{serial}"


# --- national roots -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitResult:
    roots: list[CertificateAuthority]
    national: list[CertificateAuthority]


def init(instance: Instance) -> InitResult:
    """Create the SM2 and RSA national roots and, under each, the national operations CA (TSA, OCSP, platforms)."""
    instance.prepare_storage()
    keystore = instance.keystore
    ep = endpoints(instance)
    with transaction(instance) as (session, issued):
        if session.get(CertificateAuthority, ROOTS["SM2"]) is not None:
            raise ConflictError("this instance already has its national roots (trust init ran before)")
        roots, national = [], []
        for family in ("SM2", "RSA"):
            root = authority.create_root(session, keystore, ca_id=ROOTS[family], family=family, name=ROOT_NAMES[family])
            roots.append(root)
            authority.generate_crl(session, keystore, root.id, endpoints=ep, validity=timedelta(days=30))
            ops, done = authority.create_sub_ca(
                session,
                keystore,
                ep,
                ca_id=NATIONAL[family],
                parent_id=root.id,
                kind="national",
                code=None,
                name=f"互认国家运营CA ({family})",
                organization=NATIONAL_ORG,
                family=family,
            )
            issued.append(done)
            authority.generate_crl(session, keystore, ops.id, endpoints=ep)
            authority.ensure_ocsp_responder(session, keystore, ep, ops.id)
            national.append(ops)
        issued.extend(tsa.ensure_tsa_certificates(session, keystore, ep))
        for ops in national:
            trust_registry.register_ca(session, session.get(CertificateAuthority, ops.id) or ops)
        register_tsas(session)
        publish_ca_files(instance, session)
        trust_registry.publish(session, instance)
    return InitResult(roots, national)


# --- subordinate CAs ----------------------------------------------------------------------------------------


def ca_id_for(kind: str, code: str, family: str) -> str:
    return f"{kind}-{code}-{family.lower()}"


def enrol_names(
    kind: str, code: str, family: str, name: str | None, organization: str | None
) -> tuple[str, str, str, str]:
    """``(family, code, name, organization)`` of a region's or department's CA, checked, with their defaults."""
    family = family.upper()
    if family not in ROOTS:
        raise InputError("family must be SM2 or RSA")
    if kind == "region":
        r = region(code)
        organization = organization or f"{r.province if r.is_province else r.name}政务服务平台"
        name = name or f"{r.name}互认CA ({family})"
    elif kind == "department":
        code = validate_uscc(code)
        if not organization:
            raise InputError("a department needs its name (organization)")
        name = name or f"{organization}互认CA ({family})"
    else:
        raise InputError("kind must be region or department")
    return family, code, name, organization


def enrol_key(csr_data: bytes | None, family: str) -> PublicKey | None:
    """The public key of a verified CSR of ``family`` (the region keeps its key), or ``None`` (Huren makes one)."""
    if csr_data is None:
        return None
    public_key = csr.parse_and_verify(csr_data).public_key
    if public_key.family.value != family:
        raise InputError(f"the CSR carries a {public_key.family.value} key; enrolling under the {family} root")
    return public_key


def enrol(
    instance: Instance,
    *,
    kind: str,
    code: str,
    family: str,
    csr_data: bytes | None = None,
    name: str | None = None,
    organization: str | None = None,
    dns_namespace: str | None = None,
) -> CertificateAuthority:
    """Enrol a region (GB/T 2260 code) or a department (USCC) CA under the national root of ``family``.

    ``dns_namespace``: the DNS namespace the CA may certify (``ca.authority.hierarchy.ca_namespace``; default a
    region's ``<letters>.gov.cn``, none for a department), written into its name constraints.

    With ``csr_data`` the region keeps its key (proof of possession is verified); without it Huren generates
    the key and keeps it in its key store."""
    family, code, name, organization = enrol_names(kind, code, family, name, organization)
    public_key = enrol_key(csr_data, family)
    instance.prepare_storage()
    keystore = instance.keystore
    ep = endpoints(instance)
    ca_id = ca_id_for(kind, code, family)
    with transaction(instance) as (session, issued):
        ca, done = authority.create_sub_ca(
            session,
            keystore,
            ep,
            ca_id=ca_id,
            parent_id=ROOTS[family],
            kind=kind,
            code=code,
            name=name,
            organization=organization,
            public_key=public_key,
            family=family,
            dns_namespace=dns_namespace,
        )
        issued.append(done)
        if ca.key_id is not None:
            authority.generate_crl(session, keystore, ca.id, endpoints=ep)
            authority.ensure_ocsp_responder(session, keystore, ep, ca.id)
        trust_registry.register_ca(session, ca)
        publish_ca_files(instance, session, [ca.id])
        trust_registry.publish(session, instance)
    return ca


def rekey(instance: Instance, ca_id: str, csr_der: bytes | None = None) -> CertificateAuthority:
    """Give a regional, departmental or national operations CA a new key and certificate (same subject,
    constraints and endpoints) from its root, in one transaction; see :func:`ca.authority.rekey_sub_ca`.

    With ``csr_der`` the CA keeps its own new key (proof of possession verified, same family as the CA);
    without it Huren generates the key in its key store. Then the CRL is re-issued (signed with the new key, and
    with the retired key while what it issued is unexpired), a new OCSP responder is certified by the new key,
    the trust list's CA service gets the new certificate (the old one in ``previous_certificates``) and is
    republished, and the CA files are written. The old certificate is not revoked."""
    public_key: PublicKey | None = None
    if csr_der is not None:
        public_key = csr.parse_and_verify(csr_der).public_key
    instance.prepare_storage()
    keystore = instance.keystore
    ep = endpoints(instance)
    with transaction(instance) as (session, issued):
        current = authority.get_ca(session, ca_id)
        if current.kind == "root":
            raise InputError(f"{ca_id} is a national root; roots are not re-keyed (a root rollover is a new ceremony)")
        trust_registry.check_standing(session, current)
        ca, done = authority.rekey_sub_ca(session, keystore, ca_id=ca_id, public_key=public_key)
        issued.append(done)
        if ca.key_id is not None:
            authority.generate_crl(session, keystore, ca.id, endpoints=ep)
            authority.refresh_partitions(session, keystore, ca)  # the new key signs every partition, deltas re-based
            authority.ensure_ocsp_responder(session, keystore, ep, ca.id)
        trust_registry.register_ca(session, ca)
        publish_ca_files(instance, session, [ca.id])
        trust_registry.publish(session, instance)
    tsa.invalidate(instance)  # a TSA of a re-keyed national CA hands out the chain of the key that certified it
    return ca


# --- end entities -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueResult:
    record: IssuedCertificate
    certificate: asn1_x509.Certificate
    chain: list[asn1_x509.Certificate]


def issue(
    instance: Instance,
    *,
    ca_id: str,
    profile: str,
    subject: DN,
    csr_data: bytes | None = None,
    key_family: str = "SM2",
    validity_days: int | None = None,
    dns_names: Sequence[str] = (),
    uris: Sequence[str] = (),
    request_id: str | None = None,
    fingerprint: idempotency.Fingerprint | None = None,
) -> IssueResult:
    """Issue one certificate. With ``request_id`` the call is idempotent: a retry returns the first certificate; with
    a ``fingerprint`` too (HTTP), a different request under the same key is a conflict (:mod:`.idempotency`)."""
    prof = get_profile(profile)
    public_key = csr.parse_and_verify(csr_data).public_key if csr_data is not None else None
    validity = timedelta(days=validity_days) if validity_days is not None else None
    keystore = instance.keystore
    ep = endpoints(instance)
    try:
        # One transaction: the key judged and stored, the replay, the certificate, its audit entry and log leaf.
        with transaction(instance) as (session, issued):
            if public_key is not None and not prof.ocsp_no_check:
                return _issue_lean(
                    instance,
                    session,
                    ca_id=ca_id,
                    profile=prof,
                    subject=subject,
                    public_key=public_key,
                    validity=validity,
                    dns_names=dns_names,
                    uris=uris,
                    request_id=request_id,
                    fingerprint=fingerprint,
                )
            if request_id is not None:
                if fingerprint is not None:
                    idempotency.check_in(session, request_id, fingerprint)
                existing = _replay_in(session, request_id, ca_id=ca_id, profile=profile)
                if existing is not None:
                    return existing
                if fingerprint is not None:
                    idempotency.record(session, request_id, fingerprint)
            # Held for the whole transaction: the session's identity map keeps only what is referenced, and the
            # issuance and the chain below read this row again (issue 15 item 5: one SELECT instead of three).
            ca = authority.load_ca(session, ca_id)
            trust_registry.check_standing(session, ca)
            done = authority.issue(
                session,
                keystore,
                ep,
                ca_id=ca_id,
                profile=prof,
                subject=subject,
                public_key=public_key,
                key_family=key_family.upper(),
                validity=validity,
                dns_names=dns_names,
                uris=uris,
                request_id=request_id,
            )
            issued.append(done)
            result = IssueResult(done.record, done.certificate, authority.chain(session, ca.id))
    except (authority.DuplicateRequest, idempotency.KeyTaken):
        assert request_id is not None
        if fingerprint is not None:
            idempotency.check(instance, request_id, fingerprint)
        replayed = _replay(instance, request_id, ca_id=ca_id, profile=profile, subject=subject)
        if replayed is None:  # pragma: no cover - the winner's row vanished: only a concurrent restore could do it
            raise
        return replayed
    return result


@dataclass(frozen=True)
class _Snapshot:
    """What a single issuance needs of its CA that only a change of the CA rows can change (every such change bumps
    the state version, :mod:`trust.service.state`): a copy of the CA's row (never attached to a session), its chain
    and the region its log leaves name."""

    version: int
    ca: CertificateAuthority
    chain: tuple[asn1_x509.Certificate, ...]
    region: str | None


# engine -> CA id -> snapshot, per process; replaced whenever the state version moved (issuance itself bumps none)
_snapshots: weakref.WeakKeyDictionary[Engine, dict[str, _Snapshot]] = weakref.WeakKeyDictionary()
_VERSION_SQL: Final = "SELECT version FROM state_version WHERE name = :name"
_VERSION: Final = text(_VERSION_SQL).bindparams(name=state.NAME)
_CA_COLUMNS: Final = tuple(column.key for column in CertificateAuthority.__table__.columns)  # type: ignore[attr-defined]


def _engine_of(session: Session) -> Engine:
    """The engine ``session`` is bound to (its snapshots' key)."""
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _snapshot(session: Session, ca_id: str, version: int | None = None) -> _Snapshot:
    """The CA's snapshot at the state version this transaction reads (one primary-key row; ``version`` when the
    caller read it already, :func:`_keyed`), made again on a miss."""
    if version is None:
        connection = session.connection()
        if cursor.supported(connection):
            row = cursor.Raw(connection).one(_VERSION_SQL, {"name": state.NAME})
        else:  # pragma: no cover - the project runs on SQLite and PostgreSQL
            row = connection.execute(_VERSION).first()
        version = int(row[0]) if row is not None and row[0] is not None else -1
    engine = _engine_of(session)
    held = _snapshots.get(engine)
    found = held.get(ca_id) if held is not None else None
    if found is not None and found.version == version >= 0:
        return found
    loaded = authority.load_ca(session, ca_id)
    made = _Snapshot(
        version,
        CertificateAuthority(**{name: getattr(loaded, name) for name in _CA_COLUMNS}),
        tuple(authority.chain(session, ca_id)),
        tlog.region_of(session, ca_id),
    )
    if version >= 0:
        _snapshots.setdefault(engine, {})[ca_id] = made
    return made


def _issue_lean(
    instance: Instance,
    session: Session,
    *,
    ca_id: str,
    profile: Profile,
    subject: DN,
    public_key: PublicKey,
    validity: timedelta | None,
    dns_names: Sequence[str],
    uris: Sequence[str],
    request_id: str | None,
    fingerprint: idempotency.Fingerprint | None = None,
) -> IssueResult:
    """A certificate for a CSR's key in the caller's transaction, lean (issue 15 item 5): the request's key judged,
    replayed or stored first (:func:`_keyed`), the CA, its chain and its region from the snapshot of the state
    version (:func:`_snapshot`), the CA's standing read now (its trust-list events take effect at a time, not at a
    version), the row checked again under the place counter's lock (:func:`ca.authority.issue_from_csr`), the row
    inserted with Core and its audit entry and log leaf noted for the commit as :mod:`.audit` and :mod:`.tlog` note
    any certificate row (same entry, same leaf)."""
    version: int | None = None
    if request_id is not None:
        existing, version = _keyed(session, request_id, fingerprint, ca_id=ca_id, profile=profile.name)
        if existing is not None:
            return existing
    snap = _snapshot(session, ca_id, version)
    trust_registry.check_standing(session, snap.ca)
    keystore, ep = instance.keystore, endpoints(instance)
    try:
        done = authority.issue_from_csr(
            session,
            keystore,
            ep,
            ca=snap.ca,
            profile=profile,
            subject=subject,
            public_key=public_key,
            validity=validity,
            dns_names=dns_names,
            uris=uris,
            request_id=request_id,
        )
    except authority.StaleSnapshot as stale:  # re-keyed since the snapshot: the row as it stands now, the ORM path
        ca = authority.load_ca(session, ca_id)
        trust_registry.check_standing(session, ca)
        place = crls.places_from(session, keystore, ep, ca, stale.place, 1)[0]
        done = authority.issue(
            session,
            keystore,
            ep,
            ca_id=ca_id,
            profile=profile,
            subject=subject,
            public_key=public_key,
            validity=validity,
            dns_names=dns_names,
            uris=uris,
            request_id=request_id,
            partition=place,
        )
        return IssueResult(done.record, done.certificate, authority.chain(session, ca_id))
    audit.note_written(session, done.record)
    tlog.queue(session, tlog.certificate_entry(done.record, snap.region))
    return IssueResult(done.record, done.certificate, list(snap.chain))


# The request id's stored fingerprint (if any), the certificate it names (if any) and the state version the CA's
# snapshot is checked against (:func:`_snapshot`), in one statement.
_KEYED_SQL: Final = (
    "SELECT k.method, k.path, k.client_id, k.body_sha256, "
    "(SELECT id FROM certificate WHERE request_id = :request_id), "
    "(SELECT version FROM state_version WHERE name = :name) "
    "FROM (SELECT 1 AS one) AS q LEFT JOIN idempotency_key AS k ON k.request_id = :request_id"
)


def _keyed(
    session: Session,
    request_id: str,
    fingerprint: idempotency.Fingerprint | None,
    *,
    ca_id: str,
    profile: str,
) -> tuple[IssueResult | None, int | None]:
    """The lean issuance's idempotency, first in its transaction (issuefast2): the certificate already issued for
    ``request_id`` (a replay), a :class:`ConflictError` for a key first used for another request, or ``None`` — and
    then, with a ``fingerprint`` (HTTP), the key is stored before anything else is written, as
    :func:`idempotency.record` would (:func:`idempotency.claim`, on the DB-API cursor). A key another transaction
    stored meanwhile (PostgreSQL: the insert waited for it to commit) is judged again in this same transaction, which
    now reads the winner's rows: the same request gets the winner's certificate, another one the conflict. With the
    answer, the state version read by the same statement (``None``: not read)."""
    connection = session.connection()
    if not cursor.supported(connection):  # pragma: no cover - the project runs on SQLite and PostgreSQL
        if fingerprint is not None:
            idempotency.check_in(session, request_id, fingerprint)
        existing = _replay_in(session, request_id, ca_id=ca_id, profile=profile)
        if existing is None and fingerprint is not None:
            idempotency.record(session, request_id, fingerprint)
        return existing, None
    raw = cursor.Raw(connection)
    for judged_again in (False, True):
        row = raw.one(_KEYED_SQL, {"request_id": request_id, "name": state.NAME})
        assert row is not None  # one row, whatever the tables hold
        version = -1 if row[5] is None else int(row[5])
        if fingerprint is not None:
            first = None if row[0] is None else idempotency.Fingerprint(row[0], row[1], row[2], row[3])
            idempotency.judge(request_id, first, fingerprint)
        if row[4] is not None:
            existing = _replay_in(session, request_id, ca_id=ca_id, profile=profile)
            if existing is not None:
                return existing, version
        if fingerprint is None:
            return None, version
        if judged_again:  # the key is stored for this very request, and no certificate names it: never committed so
            raise authority.DuplicateRequest(request_id)  # pragma: no cover
        try:
            idempotency.claim(raw, request_id, fingerprint)
        except idempotency.KeyTaken:
            continue
        return None, version
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class BatchRequest:
    """One certificate of a batch: profile, subject and (from a CSR) its key, or a key Huren generates."""

    profile: str
    subject: DN
    csr_data: bytes | None = None
    key_family: str = "SM2"
    validity_days: int | None = None
    request_id: str | None = None
    dns_names: Sequence[str] = ()
    uris: Sequence[str] = ()
    # With ``request_id``: the request's fingerprint (HTTP), stored with its certificate in the chunk's transaction;
    # a key first used for another request is a conflict (:mod:`.idempotency`), as for :func:`issue`.
    fingerprint: idempotency.Fingerprint | None = None


@dataclass(frozen=True)
class BatchOutcome:
    index: int
    request_id: str | None
    result: IssueResult | None = None  # issued now or before (replayed)
    error: TrustError | None = None
    replayed: bool = False  # the certificate was issued before for this request id


def issue_batch(
    instance: Instance, ca_id: str, requests: Iterable[BatchRequest], *, chunk: int = 100
) -> Iterator[BatchOutcome]:
    """Issue many certificates of one CA: ``chunk`` per transaction, each in a savepoint of its own (a bad request
    is reported and leaves nothing behind; the others go on), with what every issuance of the chunk shares done
    once — the CA's standing, its chain, the audit append (one per chunk). Idempotent by ``request_id`` like
    :func:`issue`. Outcomes are yielded in order, after the chunk they belong to committed."""
    keystore = instance.keystore
    ep = endpoints(instance)
    pending: list[tuple[int, BatchRequest]] = []

    def flush() -> list[BatchOutcome]:
        outcomes: list[BatchOutcome] = []
        with transaction(instance) as (session, issued):
            # Held for the whole chunk (the identity map is weak: each issuance loaded the row again, twice).
            ca = authority.load_ca(session, ca_id)
            trust_registry.check_standing(session, ca)
            chain = authority.chain(session, ca.id)
            # One query for the chunk's idempotency keys already used, and the CRL partition places of the rest
            # reserved at once (issue 15 item 5: two statements per certificate were a fifth of its cost).
            asked = [request.request_id for _index, request in pending if request.request_id is not None]
            taken = _requests_taken(session, asked) if asked else set()
            places = iter(
                crls.assign_partitions(
                    session, keystore, ep, ca, sum(1 for _i, r in pending if r.request_id not in taken)
                )
            )
            for index, request in pending:
                try:
                    fingerprint = request.fingerprint if request.request_id is not None else None
                    if request.request_id is not None and request.request_id in taken:
                        if fingerprint is not None:
                            idempotency.check_in(session, request.request_id, fingerprint)
                        existing = _replay_in(session, request.request_id, ca_id=ca_id, profile=request.profile)
                        if existing is not None:
                            outcomes.append(BatchOutcome(index, request.request_id, existing, replayed=True))
                            continue
                    place = next(places, None)
                    public_key = csr.parse_and_verify(request.csr_data).public_key if request.csr_data else None
                    validity = timedelta(days=request.validity_days) if request.validity_days is not None else None
                    # A request whose key Huren generates writes key rows before its certificate: it runs in a
                    # savepoint. One from a CSR writes only its certificate row, which a failure after the row was
                    # reserved deletes again (ca.authority.discipline.forgotten_on_error): a savepoint per
                    # certificate cost ~0.25 ms, an eighth of a batch certificate (issue 15 item 5).
                    # A request with a fingerprint stores it first (KeyTaken when another transaction holds the
                    # key), in the same savepoint as its certificate: both are kept or neither.
                    nested = public_key is None or fingerprint is not None
                    with session.begin_nested() if nested else contextlib.nullcontext():
                        if fingerprint is not None:
                            assert request.request_id is not None
                            idempotency.record(session, request.request_id, fingerprint)
                        done = authority.issue(
                            session,
                            keystore,
                            ep,
                            ca_id=ca_id,
                            profile=get_profile(request.profile),
                            subject=request.subject,
                            public_key=public_key,
                            key_family=request.key_family.upper(),
                            validity=validity,
                            dns_names=request.dns_names,
                            uris=request.uris,
                            request_id=request.request_id,
                            partition=place,
                        )
                    issued.append(done)
                    outcomes.append(
                        BatchOutcome(index, request.request_id, IssueResult(done.record, done.certificate, chain))
                    )
                except (authority.DuplicateRequest, idempotency.KeyTaken) as exc:
                    # the key was used by an earlier request of this chunk, or by a transaction that committed
                    # meanwhile: the certificate issued for it is the answer (idempotency), unless the key was first
                    # used for another request
                    assert request.request_id is not None
                    try:
                        if fingerprint is not None:
                            idempotency.check_in(session, request.request_id, fingerprint)
                        existing = _replay_in(session, request.request_id, ca_id=ca_id, profile=request.profile)
                    except TrustError as conflict:
                        outcomes.append(BatchOutcome(index, request.request_id, error=conflict))
                        continue
                    outcomes.append(
                        BatchOutcome(
                            index,
                            request.request_id,
                            existing,
                            None if existing else _as_error(exc, request.request_id),
                            replayed=existing is not None,
                        )
                    )
                except TrustError as exc:
                    outcomes.append(BatchOutcome(index, request.request_id, error=exc))
        pending.clear()
        return outcomes

    for index, request in enumerate(requests):
        pending.append((index, request))
        if len(pending) >= chunk:
            yield from flush()
    if pending:
        yield from flush()


def _as_error(exc: Exception, request_id: str) -> TrustError:
    """A batch entry's outcome for a key taken but not (yet) naming a certificate: the conflict it is."""
    return exc if isinstance(exc, TrustError) else authority.DuplicateRequest(request_id)


def _replay(instance: Instance, request_id: str, *, ca_id: str, profile: str, subject: DN) -> IssueResult | None:
    """The certificate already issued for ``request_id``, if any (:func:`_replay_in`, in a read-only transaction)."""
    with db.session_scope(instance.engine, read_only=True) as session:
        return _replay_in(session, request_id, ca_id=ca_id, profile=profile)


def _requests_taken(session: Session, request_ids: Sequence[str]) -> set[str]:
    """Which of ``request_ids`` already name a certificate (one query per 500 keys)."""
    found: set[str] = set()
    for start in range(0, len(request_ids), 500):
        part = list(request_ids[start : start + 500])
        found.update(
            session.execute(
                select(IssuedCertificate.request_id).where(col(IssuedCertificate.request_id).in_(part))
            ).scalars()
        )
    return found


_REQUEST_TAKEN: Final = select(IssuedCertificate.id).where(IssuedCertificate.request_id == bindparam("request_id"))
_REQUEST_TAKEN_SQL: Final = "SELECT id FROM certificate WHERE request_id = :request_id"


def _replay_in(session: Session, request_id: str, *, ca_id: str, profile: str) -> IssueResult | None:
    """The certificate already issued for ``request_id``, if any; a different request under the same key is a
    conflict (an idempotency key names one request, RFC-style "Idempotency-Key" semantics)."""
    # The usual answer is "none": asked with the id column alone, the row is loaded only when there is one.
    # (on the transaction's connection: certificate rows are written with Core statements, nothing to autoflush)
    connection = session.connection()
    if cursor.supported(connection):  # the DB-API cursor (ca.authority.cursor): every keyed issuance asks it first
        if cursor.Raw(connection).one(_REQUEST_TAKEN_SQL, {"request_id": request_id}) is None:
            return None
    elif connection.execute(_REQUEST_TAKEN, {"request_id": request_id}).first() is None:  # pragma: no cover
        return None
    existing = session.exec(select(IssuedCertificate).where(IssuedCertificate.request_id == request_id)).first()
    if existing is None:  # pragma: no cover - deleted in between: only a concurrent restore could do it
        return None
    if existing.issuer_id != ca_id or existing.profile != profile:
        raise ConflictError(
            f"request id {request_id!r} was used for a different request ({existing.profile} by {existing.issuer_id})",
            evidence={"request_id": request_id, "serial": existing.serial},
        )
    cert = asn1_x509.Certificate.load(existing.der)
    return IssueResult(existing, cert, authority.chain_for_certificate(session, cert, ca_id))


def revoke(instance: Instance, *, serial: str, reason: str) -> tuple[IssuedCertificate, CrlRecord | CrlShard]:
    """Revoke a certificate; the CRL that covers it (its partition's, or the CA's main CRL) is re-signed and written
    to the published folder in the same transaction — only that CRL (and its delta)."""
    keystore = instance.keystore
    with transaction(instance) as (session, _issued):
        record, new_crl = authority.revoke(
            session, keystore, serial=serial, reason=reason, endpoints=endpoints(instance)
        )
        publish_crl_of(instance, session, record)
    tsa.invalidate(instance)  # a revoked TSA certificate stops signing at once, not at the next cache refresh
    return record, new_crl


def publish_crl_of(instance: Instance, session: Session, record: IssuedCertificate) -> None:
    """Write the CRL that covers ``record`` (after a revocation or a released hold) to the published folder."""
    if record.crl_shard is None:
        publish_ca_files(instance, session, [record.issuer_id], partitions=False)
    else:
        publish_partition(instance, session, record.issuer_id, record.crl_shard)


def register_tsas(session: Session) -> None:
    """The current TSA certificate of each family as a TSA service of the national issuer."""
    for family in ("SM2", "RSA"):
        record = tsa.current_record(session, family)
        if record is None:
            continue
        ops = session.get(CertificateAuthority, NATIONAL[family])
        if ops is not None:
            trust_registry.register_service(
                session, issuer_ca=ops, service_id=f"{ops.id}-tsa", service_type="TSA", cert_der=record.der
            )


def regenerate_crl(instance: Instance, ca_id: str) -> CrlRecord:
    """A new main CRL of ``ca_id`` now, and every partition CRL re-based (rebuilt, its delta emptied)."""
    keystore = instance.keystore
    with transaction(instance) as (session, _issued):
        record = authority.generate_crl(session, keystore, ca_id, endpoints=endpoints(instance))
        authority.refresh_partitions(session, keystore, authority.get_ca(session, ca_id))
        publish_ca_files(instance, session, [ca_id])
    return record


def refresh(instance: Instance, *, crl_within: timedelta = timedelta(days=2)) -> dict[str, list[str]]:
    """The schedule's job: re-issue every CRL (main or partition) whose nextUpdate is closer than ``crl_within`` and
    renew every delegated OCSP responder certificate that expires within 7 days. Safe to run from several workers:
    CRL numbers are serialised by row locks and each step re-checks whether it is still due."""
    from ca.models import now, utc

    keystore = instance.keystore
    ep = endpoints(instance)
    renewed: dict[str, list[str]] = {"crl": [], "ocsp": [], "tsa": []}
    with transaction(instance) as (session, issued):
        for ca in session.exec(select(CertificateAuthority)).all():
            if ca.key_id is None:
                continue
            latest = session.exec(
                select(CrlRecord).where(CrlRecord.ca_id == ca.id).order_by(col(CrlRecord.number).desc())
            ).first()
            if latest is None or utc(latest.next_update) - now() < crl_within:
                authority.generate_crl(session, keystore, ca.id, endpoints=ep)
                renewed["crl"].append(ca.id)
            for shard in authority.refresh_partitions(session, keystore, ca, within=crl_within):
                renewed["crl"].append(f"{ca.id}/{shard}")
            if ca.kind != "root":
                before = ca.ocsp_cert_der
                updated = authority.ensure_ocsp_responder(session, keystore, ep, ca.id)
                if updated.ocsp_cert_der != before:
                    trust_registry.register_ca(session, updated)
                    renewed["ocsp"].append(ca.id)
        new_tsas = tsa.ensure_tsa_certificates(session, keystore, ep)
        issued.extend(new_tsas)  # their keys are discarded if this transaction fails
        renewed["tsa"] = [done.record.serial for done in new_tsas]
        if renewed["tsa"]:
            register_tsas(session)
        publish_ca_files(instance, session)
        if renewed["ocsp"] or renewed["tsa"]:
            trust_registry.publish(session, instance)
    if renewed["tsa"]:
        tsa.invalidate(instance)
    return renewed


def current_crl_der(instance: Instance, ca_id: str) -> bytes:
    """The CA's current main CRL; for ``<ca id>.<serial>`` (:func:`retired_crl_name`) the same CRL signed with the
    key of the CA's retired certificate of that serial. Stored bytes, never parsed again."""
    with db.session_scope(instance.engine, read_only=True) as session:
        if session.get(CertificateAuthority, ca_id) is None and "." in ca_id:
            base, _, serial = ca_id.partition(".")
            ca = session.get(CertificateAuthority, base)
            if ca is not None:
                for retired, der in authority.retired_crls(session, ca):
                    if retired.serial == serial.lower():
                        return der
            raise NotFoundError(f"no current CRL {ca_id!r}")
        return authority.current_crl(session, ca_id).der


def partitions(instance: Instance, ca_id: str) -> list[int]:
    """The partitions of ``ca_id`` that have a CRL signed with its current key, in order."""
    with db.session_scope(instance.engine, read_only=True) as session:
        rows = session.exec(
            select(CrlShard.shard).where(CrlShard.ca_id == ca_id, CrlShard.signer == "").order_by(col(CrlShard.shard))
        ).all()
    return [int(row) for row in rows]


def partition_crl_der(instance: Instance, ca_id: str, shard: int, *, delta: bool = False) -> bytes:
    """The current CRL (or delta CRL) of partition ``shard`` of ``ca_id`` — ``<ca id>.<serial>`` for the one signed
    with a retired key — as stored."""
    signer = ""
    if "." in ca_id:
        ca_id, _, signer = ca_id.partition(".")
        signer = signer.lower()
    column = col(CrlShard.delta_der) if delta else col(CrlShard.der)
    with db.session_scope(instance.engine, read_only=True) as session:
        der = session.exec(
            select(column).where(CrlShard.ca_id == ca_id, CrlShard.shard == shard, CrlShard.signer == signer)
        ).first()
    if der is None:
        raise NotFoundError(f"no CRL partition {shard} of {ca_id!r}")
    return der


def crl_for_certificate(instance: Instance, serial: str) -> bytes:
    """The current CRL that covers the certificate of ``serial`` (its partition's, or its CA's main CRL)."""
    with db.session_scope(instance.engine, read_only=True) as session:
        return authority.covering_crl(session, authority.find_certificate(session, serial))


def current_crls(instance: Instance, ca_id: str) -> list[bytes]:
    """Every current CRL of ``ca_id``: its main CRL (and copies signed with retired keys), then every partition's."""
    with db.session_scope(instance.engine, read_only=True) as session:
        return authority.current_crls(session, authority.get_ca(session, ca_id))


def key_history(instance: Instance, ca_id: str) -> list[CaKeyHistory]:
    """The certificates a CA held before its current one, newest first."""
    with db.session_scope(instance.engine, read_only=True) as session:
        authority.get_ca(session, ca_id)
        return authority.key_history(session, ca_id)


def ca_certificate_der(instance: Instance, ca_id: str) -> bytes:
    with db.session_scope(instance.engine, read_only=True) as session:
        return authority.get_ca(session, ca_id).cert_der


def list_cas(instance: Instance) -> list[CertificateAuthority]:
    with db.session_scope(instance.engine, read_only=True) as session:
        return list(session.exec(select(CertificateAuthority).order_by(col(CertificateAuthority.id))).all())


def list_certificates(
    instance: Instance, *, ca_id: str | None = None, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[IssuedCertificate]:
    with db.session_scope(instance.engine, read_only=True) as session:
        return list(authority.list_certificates(session, ca_id=ca_id, status=status, limit=limit, offset=offset))


def get_certificate(instance: Instance, serial: str) -> IssuedCertificate:
    with db.session_scope(instance.engine, read_only=True) as session:
        return authority.find_certificate(session, serial)


def chain_for(instance: Instance, ca_id: str) -> list[asn1_x509.Certificate]:
    with db.session_scope(instance.engine, read_only=True) as session:
        return authority.chain(session, ca_id)


def crl_text(der: bytes) -> bytes:
    return crl_pem(load_crl(der))


__all__ = [
    "BatchOutcome",
    "BatchRequest",
    "InitResult",
    "IssueResult",
    "ca_certificate_der",
    "chain_for",
    "crl_for_certificate",
    "current_crls",
    "cx",
    "enrol",
    "get_certificate",
    "init",
    "issue",
    "issue_batch",
    "key_history",
    "list_cas",
    "list_certificates",
    "partition_crl_der",
    "publish_crl_of",
    "publish_partition",
    "refresh",
    "regenerate_crl",
    "rekey",
    "revoke",
]
