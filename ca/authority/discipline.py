"""The issuance discipline (after Boulder): persist a row with a fresh random serial (the unique constraints are the
arbiter across processes), sign once with the CA's signer, complete the row; all in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from ca.authority.keys import ca_signer
from ca.authority.records import Issued, ca_certificate, new_serial
from ca.models import CertificateAuthority, IssuedCertificate, utc
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


def reserve_serial(session: Session, make: Callable[[int], IssuedCertificate]) -> IssuedCertificate:
    """Insert a row with a fresh serial; retry on the (astronomically rare) serial collision.

    A unique violation on ``request_id`` is not a collision: a concurrent request with the same idempotency
    key won the race, and :class:`DuplicateRequest` tells the caller to return that one."""
    for _ in range(5):
        record = make(new_serial())
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
            return record
        except IntegrityError:
            if (
                record.request_id is not None
                and session.exec(
                    select(IssuedCertificate.id).where(IssuedCertificate.request_id == record.request_id)
                ).first()
                is not None
            ):
                raise DuplicateRequest(record.request_id) from None
            continue
    raise ConflictError("could not allocate a unique serial number", code=Code.CONFLICT)


def clamp_to_issuer(issuer_cert: asn1_x509.Certificate, start: datetime, end: datetime) -> datetime:
    issuer_end = utc(issuer_cert["tbs_certificate"]["validity"]["not_after"].native)
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
) -> Issued:
    signer = ca_signer(keystore, ca)
    # Checked before a row is reserved (an assert vanishes under python -O, and a row without validity then failed
    # its NOT NULL columns on every try, reported as "could not allocate a unique serial number").
    not_before, not_after = builder.not_before, builder.not_after
    if not_before is None or not_after is None:
        raise InputError("certificate is missing: validity")

    def make(serial: int) -> IssuedCertificate:
        return IssuedCertificate(
            serial=cx.serial_hex(serial),
            fingerprint=f"pending-{serial:x}"[:64],
            issuer_id=ca.id,
            profile=profile_name,
            subject=name_text(subject)[:512],
            family=public_key.family.value,
            key_id=key_id,
            not_before=not_before,
            not_after=not_after,
            der=b"",
            request_id=request_id,
            crl_shard=crl_shard,
        )

    record = reserve_serial(session, make)
    cert = builder.serial_number(int(record.serial, 16)).sign(signer, issuer_key=cx.public_key(ca_certificate(ca)))
    der = cert.dump()
    completed = {"der": der, "fingerprint": hashlib.sha256(der).hexdigest()}
    # Completed with one UPDATE on the transaction's connection, the row object given the same values as committed
    # state: the ORM's unit of work for this one row cost ~1 ms per certificate (issue 15 item 5). The audit entry
    # of a row created in the transaction is written with the values it is committed with (trust.service.audit).
    session.connection().execute(
        update(IssuedCertificate).where(col(IssuedCertificate.id) == record.id).values(**completed)
    )
    for name, value in completed.items():
        set_committed_value(record, name, value)
    return Issued(record=record, certificate=cert)
