"""The trust registry behind the trust list: issuers, their services, status history, published lists.

Tables (migration 0003): ``issuer``, ``trust_service``, ``trust_event`` (append-only status history of
issuers and services) and ``trust_list`` (every published, signed trust list, by sequence number).

Operations here run inside the caller's transaction; :mod:`trust.service.trust` composes them with the key
store (the national roots sign) and the published directory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, LargeBinary, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from ca.models import now, utc
from trust.crypto.errors import ConflictError, InputError, NotFoundError
from trust.formats import trustlist as tl


class IssuerRecord(SQLModel, table=True):
    __tablename__ = "issuer"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)  # national | region | department
    code: str | None = Field(default=None, max_length=32)
    name: str = Field(max_length=128)
    scope: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class ServiceRecord(SQLModel, table=True):
    __tablename__ = "trust_service"

    id: str = Field(primary_key=True, max_length=96)
    issuer_id: str = Field(foreign_key="issuer.id", max_length=64, index=True)
    type: str = Field(max_length=24)
    family: str = Field(max_length=8)
    cert_der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    scope: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    previous_certs: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON base64 DER, newest first
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class TrustEvent(SQLModel, table=True):
    __tablename__ = "trust_event"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=8)  # issuer | service
    subject_id: str = Field(max_length=96, index=True)
    status: str = Field(max_length=16)
    effective_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    reason: str = Field(default="", max_length=256)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class TrustListRecord(SQLModel, table=True):
    __tablename__ = "trust_list"

    sequence: int = Field(primary_key=True)
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_update: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    digest: str = Field(max_length=64)


def _event(session: Session, subject: str, subject_id: str, status: str, at: datetime, reason: str = "") -> TrustEvent:
    if status not in tl.STATUSES:
        raise InputError(f"status must be one of {', '.join(sorted(tl.STATUSES))}")
    event = TrustEvent(subject=subject, subject_id=subject_id, status=status, effective_at=at, reason=reason)
    session.add(event)
    return event


def ensure_issuer(
    session: Session,
    *,
    issuer_id: str,
    kind: str,
    code: str | None,
    name: str,
    scope: dict[str, Any] | None = None,
    effective: datetime | None = None,
) -> IssuerRecord:
    """Register an issuer, granted from ``effective`` (default now)."""
    record = session.get(IssuerRecord, issuer_id)
    if record is None:
        record = IssuerRecord(id=issuer_id, kind=kind, code=code, name=name, scope=json.dumps(scope or {}))
        session.add(record)
        session.flush()
        _event(session, "issuer", issuer_id, "granted", effective or now())
        session.flush()
    return record


def ensure_service(
    session: Session,
    *,
    service_id: str,
    issuer_id: str,
    type: str,
    family: str,
    cert_der: bytes,
    scope: dict[str, Any] | None = None,
    effective: datetime | None = None,
) -> bool:
    """Register a service (granted from ``effective``, default now), or point an existing one at a renewed
    certificate."""
    if type not in tl.SERVICE_TYPES:
        raise InputError(f"service type must be one of {', '.join(sorted(tl.SERVICE_TYPES))}")
    record = session.get(ServiceRecord, service_id)
    if record is None:
        record = ServiceRecord(
            id=service_id,
            issuer_id=issuer_id,
            type=type,
            family=family,
            cert_der=cert_der,
            scope=json.dumps(scope or {}),
        )
        session.add(record)
        session.flush()
        _event(session, "service", service_id, "granted", effective or now())
        session.flush()
        return True
    changed = record.cert_der != cert_der or (scope is not None and json.loads(record.scope) != scope)
    if changed:
        if record.cert_der != cert_der:
            # a renewed certificate: the old one stays listed as history, so what the service signed with it (seals
            # made by a seal maker, time-stamps, OCSP responses) keeps verifying
            previous = json.loads(record.previous_certs or "[]")
            old = base64.b64encode(record.cert_der).decode()
            record.previous_certs = json.dumps([old, *[p for p in previous if p != old]])
        record.cert_der = cert_der
        if scope is not None:
            record.scope = json.dumps(scope)
        session.add(record)
        session.flush()
    return changed


def set_status(
    session: Session, *, subject: str, subject_id: str, status: str, at: datetime | None = None, reason: str = ""
) -> TrustEvent:
    """Append a status change for an issuer or a service (history is never rewritten)."""
    table = IssuerRecord if subject == "issuer" else ServiceRecord if subject == "service" else None
    if table is None:
        raise InputError("subject must be issuer or service")
    if session.get(table, subject_id) is None:
        raise NotFoundError(f"no {subject} {subject_id!r} in the trust registry")
    moment = utc(at) if at is not None else now()
    history = session.exec(
        select(TrustEvent).where(TrustEvent.subject == subject, TrustEvent.subject_id == subject_id)
    ).all()
    current = tl.status_at([tl.StatusEntry(e.status, utc(e.effective_at)) for e in history], moment)
    if current is not None and current.status == status and utc(current.effective) <= moment:
        raise ConflictError(f"{subject} {subject_id} is already {status} at that time")
    event = _event(session, subject, subject_id, status, moment, reason)
    session.flush()
    return event


def _history(events: Sequence[TrustEvent], subject: str, subject_id: str) -> tuple[tl.StatusEntry, ...]:
    return tuple(
        tl.StatusEntry(e.status, utc(e.effective_at), e.reason)
        for e in sorted(events, key=lambda e: (utc(e.effective_at), e.id or 0))
        if e.subject == subject and e.subject_id == subject_id
    )


def build(
    session: Session,
    *,
    sequence: int,
    roots: Sequence[tuple[str, bytes]],
    operator: str,
    validity: timedelta,
    audit_head: tl.AuditHead | None = None,
    log_checkpoint: str | None = None,
) -> tl.TrustList:
    events = session.exec(select(TrustEvent)).all()
    issuers = []
    for issuer in session.exec(select(IssuerRecord).order_by(col(IssuerRecord.id))).all():
        services = [
            tl.Service(
                id=s.id,
                type=s.type,
                family=s.family,
                certificate=s.cert_der,
                status_history=_history(events, "service", s.id),
                scope=json.loads(s.scope),
                previous_certificates=tuple(base64.b64decode(c) for c in json.loads(s.previous_certs or "[]")),
            )
            for s in session.exec(
                select(ServiceRecord).where(ServiceRecord.issuer_id == issuer.id).order_by(col(ServiceRecord.id))
            ).all()
        ]
        issuers.append(
            tl.Issuer(
                id=issuer.id,
                kind=issuer.kind,
                code=issuer.code,
                name=issuer.name,
                status_history=_history(events, "issuer", issuer.id),
                services=tuple(services),
                scope=json.loads(issuer.scope),
            )
        )
    moment = now()
    return tl.TrustList(
        sequence=sequence,
        issued_at=moment,
        next_update=moment + validity,
        operator=operator,
        roots=tuple(tl.Root(family, der) for family, der in roots),
        issuers=tuple(issuers),
        audit_head=audit_head,
        log_checkpoint=log_checkpoint,
    )


def next_sequence(session: Session) -> int:
    latest = session.exec(select(TrustListRecord.sequence).order_by(col(TrustListRecord.sequence).desc())).first()
    return (latest or 0) + 1


def store(session: Session, trust_list: tl.TrustList, document: dict[str, Any]) -> TrustListRecord:
    import hashlib

    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    record = TrustListRecord(
        sequence=trust_list.sequence,
        issued_at=trust_list.issued_at,
        next_update=trust_list.next_update,
        document=text,
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        raise ConflictError(f"trust list {trust_list.sequence} was published concurrently; retry") from None
    return record


def latest(session: Session) -> TrustListRecord | None:
    return session.exec(select(TrustListRecord).order_by(col(TrustListRecord.sequence).desc())).first()


def issuers(session: Session) -> list[IssuerRecord]:
    return list(session.exec(select(IssuerRecord).order_by(col(IssuerRecord.id))).all())


__all__ = ["IssuerRecord", "LargeBinary", "ServiceRecord", "TrustEvent", "TrustListRecord"]
