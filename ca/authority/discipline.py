"""The issuance discipline (after Boulder, in one transaction): sign once with the CA's signer, with a fresh random
serial (the certificate checked against the CA's key), then insert its complete row — the unique constraints are the
arbiter across processes (a taken serial is signed again with another; nothing leaves before the commit).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import DateTime, bindparam, delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Session, select

from ca.authority.cursor import Raw, supported
from ca.authority.keys import ca_signer
from ca.authority.records import Issued, ca_certificate, new_serial
from ca.models import CertificateAuthority, IssuedCertificate, now, utc
from trust.crypto.errors import Code, ConflictError, InputError
from trust.crypto.keys import PublicKey
from trust.crypto.keystore import KeyStore
from trust.formats import x509 as cx
from trust.formats.names import name_text


class DuplicateRequest(ConflictError):
    """Another transaction committed a certificate for the same idempotency key first."""

    def __init__(self, request_id: str):
        super().__init__(f"request {request_id!r} was already issued", evidence={"request_id": request_id})
        self.request_id = request_id


CreatedHook = Callable[[Session, IssuedCertificate], None]
_CREATED_HOOKS: list[CreatedHook] = []


def on_created(hook: CreatedHook) -> None:
    """Call ``hook(session, record)`` for every certificate row :func:`reserve_serial` writes (idempotent).

    The row is written with a Core ``INSERT`` that the ORM's flush listeners do not see; the service's audit chain and
    transparency log register here what they would have noted from the flush (``ca`` may not import them)."""
    if hook not in _CREATED_HOOKS:
        _CREATED_HOOKS.append(hook)


_TABLE: Final = IssuedCertificate.__table__  # type: ignore[attr-defined]
_COLUMNS: Final = tuple(column.key for column in _TABLE.columns if column.key != "id")
_REQUEST_TAKEN: Final = select(IssuedCertificate.id).where(IssuedCertificate.request_id == bindparam("request_id"))


def _insert_unless_taken(session: Session, values: dict[str, object]) -> int | None:
    """Insert one row; its id, or None when a unique column (serial, fingerprint, request id) is taken.

    SQLite and PostgreSQL skip a conflicting row (``ON CONFLICT DO NOTHING``): no savepoint is needed to go on in the
    transaction; the statement runs on the DB-API cursor (:mod:`ca.authority.cursor`). Other databases: an ``INSERT``
    in a savepoint, the unique violation caught."""
    connection = session.connection()
    if supported(connection):
        raw = Raw(connection)
        params = {name: raw.timestamp(value) if name in _TIMESTAMPS else value for name, value in values.items()}
        row = raw.one(_INSERT_RAW, params)
        return None if row is None else int(row[0])
    try:  # pragma: no cover - the project runs on SQLite and PostgreSQL
        with connection.begin_nested():
            return int(connection.execute(insert(_TABLE).returning(_TABLE.c.id), values).scalar_one())
    except IntegrityError:  # pragma: no cover
        return None


def _request_taken(session: Session, request_id: str) -> bool:
    """Whether a row names ``request_id`` (on the DB-API cursor where :func:`_insert_unless_taken` wrote)."""
    connection = session.connection()
    if supported(connection):
        return Raw(connection).one(_REQUEST_TAKEN_RAW, {"request_id": request_id}) is not None
    return session.execute(_REQUEST_TAKEN, {"request_id": request_id}).first() is not None  # pragma: no cover


# Written once: the row's values are its parameters, timestamps bound as the dialect binds them.
_TIMESTAMPS: Final = frozenset(
    column.key for column in _TABLE.columns if isinstance(column.type, DateTime) and column.key != "id"
)
_INSERT_RAW: Final = (
    f"INSERT INTO certificate ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + name for name in _COLUMNS)}) "  # noqa: S608 - the model's column names
    "ON CONFLICT DO NOTHING RETURNING id"
)
_REQUEST_TAKEN_RAW: Final = "SELECT id FROM certificate WHERE request_id = :request_id"


def reserve_serial(
    session: Session, make: Callable[[int], tuple[IssuedCertificate, asn1_x509.Certificate]]
) -> tuple[IssuedCertificate, asn1_x509.Certificate]:
    """Insert the complete row of a certificate signed with a fresh serial; on the (astronomically rare) serial
    collision, sign again with another serial. ``make(serial)`` signs and returns the row and the certificate.

    A taken ``request_id`` is not a collision: a concurrent request with the same idempotency key won the race, and
    :class:`DuplicateRequest` tells the caller to return that one. The row is written with one Core statement (the
    ORM's savepoint, unit of work and flush were ~17 % of an issuance, issue 15 item 5) and the object is then
    attached to the session as the persistent row it is; :func:`on_created` hooks are told."""
    for _ in range(5):
        record, cert = make(new_serial())
        row_id = _insert_unless_taken(session, {name: getattr(record, name) for name in _COLUMNS})
        if row_id is None:
            if record.request_id is not None and _request_taken(session, record.request_id):
                raise DuplicateRequest(record.request_id) from None
            continue  # the serial (or the fingerprint) is taken: that certificate never leaves this function
        record.id = row_id
        make_transient_to_detached(record)
        session.add(record)
        for hook in _CREATED_HOOKS:
            hook(session, record)
        return record, cert
    raise ConflictError("could not allocate a unique serial number", code=Code.CONFLICT)


def clamp_to_issuer(issuer_cert: asn1_x509.Certificate, start: datetime, end: datetime) -> datetime:
    """``end`` cut to the issuer's notAfter (RFC 5280 clause 6.1: nothing outlives its issuer). An issuer whose
    certificate has expired issues nothing: refused here, not a certificate that is expired when made (``start`` is
    backdated, so an issuer expired less than :data:`BACKDATE` ago would otherwise sign one)."""
    issuer_end = utc(issuer_cert["tbs_certificate"]["validity"]["not_after"].native)
    if issuer_end <= now():
        raise ConflictError(
            f"the issuing CA's certificate expired at {issuer_end.isoformat()}: it issues no more certificates"
        )
    return min(end, issuer_end)


def issue_signed(
    session: Session,
    keystore: KeyStore,
    ca: CertificateAuthority,
    builder: cx.CertificateBuilder,
    *,
    profile_name: str,
    subject: asn1_x509.Name,
    public_key: PublicKey,
    key_id: str | None,
    request_id: str | None = None,
    crl_shard: int | None = None,
    subject_text: str | None = None,
) -> Issued:
    """Sign with a fresh random serial (the certificate verified against the CA's key before use), then insert its
    complete row (:func:`reserve_serial`: the unique constraints arbitrate; a taken serial is signed again with
    another). All in the caller's transaction: nothing is visible, and nothing leaves, before the commit.
    ``subject_text`` is ``name_text(subject)`` when the caller has it."""
    signer = ca_signer(keystore, ca)
    issuer_key = cx.public_key(ca_certificate(ca))
    # Checked before anything is signed (an assert vanishes under python -O, and a row without validity then failed
    # its NOT NULL columns on every try, reported as "could not allocate a unique serial number").
    not_before, not_after = builder.not_before, builder.not_after
    if not_before is None or not_after is None:
        raise InputError("certificate is missing: validity")
    text = (name_text(subject) if subject_text is None else subject_text)[:512]

    def make(serial: int) -> tuple[IssuedCertificate, asn1_x509.Certificate]:
        # One INSERT of the complete row after the signature (issue 15 item 5: the row reserved empty and completed
        # by an UPDATE after signing was one statement more per certificate, and a batch's completions more code).
        cert = builder.serial_number(serial).sign(signer, issuer_key=issuer_key)
        der = cert.dump()
        record = IssuedCertificate(
            serial=cx.serial_hex(serial),
            fingerprint=hashlib.sha256(der).hexdigest(),
            issuer_id=ca.id,
            profile=profile_name,
            subject=text,
            family=public_key.family.value,
            key_id=key_id,
            not_before=not_before,
            not_after=not_after,
            der=der,
            request_id=request_id,
            crl_shard=crl_shard,
        )
        return record, cert

    record, cert = reserve_serial(session, make)
    return Issued(record=record, certificate=cert)


def insert_signed(
    session: Session,
    keystore: KeyStore,
    ca: CertificateAuthority,
    builder: cx.CertificateBuilder,
    *,
    profile_name: str,
    public_key: PublicKey,
    request_id: str | None,
    crl_shard: int | None,
    subject_text: str,
) -> Issued:
    """:func:`issue_signed` for the lean single issuance (``trust.service.ca.issue``, issue 15 item 5): the same
    signature, check and one ``INSERT`` of the complete row (a taken serial signed again, a taken request id
    :class:`DuplicateRequest`), but the row object is never attached to the session and no :func:`on_created` hook is
    told — the caller records the audit entry and the log leaf itself, in the same transaction. A failure after the
    ``INSERT`` must roll the transaction back (there is no :func:`forgotten_on_error` here). The returned record is
    detached, as a committed row's is once its session closes."""
    signer = ca_signer(keystore, ca)
    issuer_key = cx.public_key(ca_certificate(ca))
    not_before, not_after = builder.not_before, builder.not_after
    if not_before is None or not_after is None:
        raise InputError("certificate is missing: validity")
    text = subject_text[:512]
    family = public_key.family.value
    for _ in range(5):
        serial = new_serial()
        cert = builder.serial_number(serial).sign(signer, issuer_key=issuer_key)
        der = cert.dump()
        values: dict[str, object] = {  # every column: the row as inserted, and as the returned record holds it
            "serial": cx.serial_hex(serial),
            "fingerprint": hashlib.sha256(der).hexdigest(),
            "issuer_id": ca.id,
            "profile": profile_name,
            "subject": text,
            "family": family,
            "key_id": None,
            "not_before": not_before,
            "not_after": not_after,
            "status": "valid",
            "revoked_at": None,
            "revocation_reason": None,
            "der": der,
            "request_id": request_id,
            "created_at": now(),
            "crl_shard": crl_shard,
        }
        row_id = _insert_unless_taken(session, values)
        if row_id is None:
            if request_id is not None and _request_taken(session, request_id):
                raise DuplicateRequest(request_id) from None
            continue  # the serial (or the fingerprint) is taken: that certificate never leaves this function
        return Issued(record=detached_row(row_id, values), certificate=cert)
    raise ConflictError("could not allocate a unique serial number", code=Code.CONFLICT)


_MANAGER: Final = manager_of_class(IssuedCertificate)


def detached_row(row_id: int, values: dict[str, object]) -> IssuedCertificate:
    """The certificate row ``row_id`` with ``values`` (every other column), as the ORM makes an object for a row it
    loads — the mapper's ``new_instance`` (SQLModel's ``__new__``: pydantic's private attributes, no validation),
    the columns put straight into its ``__dict__`` — then detached with its identity, as a committed row's object is
    once its session closes (issuefast2: ``IssuedCertificate(**values)`` ran the model's construction, per column
    ``setattr`` through SQLAlchemy's and pydantic's hooks, ~40 µs of a ~2.8 ms issuance). Equal column for column to
    the row read back (tested)."""
    if not _MANAGER.mapper.configured:  # the first ORM use of the process configures the mappers
        configure_mappers()
    record: IssuedCertificate = _MANAGER.new_instance()
    record.__dict__.update(values)
    record.__dict__["id"] = row_id
    make_transient_to_detached(record)
    return record


_FORGET: Final = delete(_TABLE).where(_TABLE.c.id == bindparam("row_id"))


@contextmanager
def forgotten_on_error(session: Session, record: IssuedCertificate) -> Iterator[None]:
    """On an error, delete the inserted row and take ``record`` out of the session: it was attached as a persistent
    row (:func:`reserve_serial`), and neither a savepoint's rollback nor a batch going on without one (a request from
    a CSR, ``trust.service.ca.issue_batch``) detaches such an object, so the audit chain and the transparency log
    would otherwise record, at the commit of a batch, a row that no longer exists. When the database refuses the
    delete (a transaction it has aborted), the caller's rollback undoes the row anyway."""
    try:
        yield
    except BaseException:
        if record in session:
            session.expunge(record)
        if record.id is not None:
            # the original error is the one to report; if the delete fails, the transaction will not commit
            with contextlib.suppress(SQLAlchemyError):
                session.connection().execute(_FORGET, {"row_id": record.id})
        raise
