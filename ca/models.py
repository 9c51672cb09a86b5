"""Storage of the certificate authority (SQLModel tables; schema by Alembic migration 0002).

* ``ca`` — every CA (national roots, national operations CAs, regional and departmental CAs): its key
  reference in the key store (never the key), its certificate, status and CRL counter.
* ``certificate`` — every certificate issued, unique serial (database constraint, across the whole system),
  unique fingerprint, status and revocation data.
* ``crl`` — every CRL issued, unique ``(ca_id, number)``.

Times are stored timezone-aware (UTC); SQLite returns naive values, which :func:`utc` repairs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class CertificateAuthority(SQLModel, table=True):
    __tablename__ = "ca"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)  # root | national | region | department
    code: str | None = Field(default=None, max_length=32, index=True)  # GB/T 2260 code or USCC
    name: str = Field(max_length=128)
    family: str = Field(max_length=8)  # SM2 | RSA | EC
    key_id: str | None = Field(default=None, max_length=64)  # None: key held by the region (enrolled from CSR)
    parent_id: str | None = Field(default=None, foreign_key="ca.id", max_length=64)
    serial: str = Field(max_length=48)
    cert_der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="active", max_length=16)  # active | suspended | withdrawn
    crl_number: int = Field(default=0)
    ocsp_key_id: str | None = Field(default=None, max_length=64)
    ocsp_cert_der: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class IssuedCertificate(SQLModel, table=True):
    __tablename__ = "certificate"

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(max_length=48, unique=True)
    fingerprint: str = Field(max_length=64, unique=True)
    issuer_id: str = Field(foreign_key="ca.id", max_length=64, index=True)
    profile: str = Field(max_length=32)
    subject: str = Field(max_length=512)
    family: str = Field(max_length=8)
    key_id: str | None = Field(default=None, max_length=64)
    not_before: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    not_after: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(default="valid", max_length=16, index=True)  # valid | revoked
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    revocation_reason: str | None = Field(default=None, max_length=32)
    der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    request_id: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class CrlRecord(SQLModel, table=True):
    __tablename__ = "crl"
    __table_args__ = (UniqueConstraint("ca_id", "number", name="uq_crl_ca_number"),)

    id: int | None = Field(default=None, primary_key=True)
    ca_id: str = Field(foreign_key="ca.id", max_length=64, index=True)
    number: int
    this_update: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_update: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
