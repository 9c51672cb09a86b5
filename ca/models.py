"""Storage of the certificate authority (SQLModel tables; schema by Alembic migration 0002).

* ``ca`` — every CA (national roots, national operations CAs, regional and departmental CAs): its key
  reference in the key store (never the key), its certificate, status and CRL counter.
* ``certificate`` — every certificate issued, unique serial (database constraint, across the whole system),
  unique fingerprint, status and revocation data.
* ``crl`` — every CRL issued for the CA's main partition (``<ca id>.crl``), unique ``(ca_id, number)``.
* ``crl_shard`` (migration 0013_scale) — the current CRL of each further partition of a CA's certificates
  (``<ca id>/<shard>.crl``, issue 15 item 3) and its delta CRL, one row per partition and signing key, updated in
  place: a certificate is assigned a partition when it is issued (``certificate.crl_shard``, from the CA's
  ``cert_count``), names it in its CRL distribution point, and a revocation re-signs that partition only.
* ``ca_key_history`` (migration 0007) — the certificates (and key references) a subordinate CA held before a
  re-keying (:func:`ca.authority.rekey_sub_ca`), one row per retired certificate: what the CA issued under them
  keeps verifying, and the CRLs that cover those certificates are signed with the retired key while it lasts.

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
    cert_count: int = Field(default=0)  # end-entity certificates given a CRL partition so far (ca.authority.crls)
    ocsp_key_id: str | None = Field(default=None, max_length=64)
    ocsp_cert_der: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class CaKeyHistory(SQLModel, table=True):
    """A certificate (and key) a CA held before it was re-keyed; the CA row holds the current one."""

    __tablename__ = "ca_key_history"
    __table_args__ = (UniqueConstraint("ca_id", "serial", name="uq_ca_key_history_ca_serial"),)

    id: int | None = Field(default=None, primary_key=True)
    ca_id: str = Field(foreign_key="ca.id", max_length=64, index=True)
    serial: str = Field(max_length=48)  # of the retired CA certificate
    key_id: str | None = Field(default=None, max_length=64)  # None: the key was held by the region (CSR)
    cert_der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    not_after: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    retired_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
    crl_number: int = Field(default=0)  # the last number of the CRLs signed with this key (its own sequence)
    crl_der: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))  # its current CRL


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
    crl_shard: int | None = Field(default=None)  # its CRL partition (None: the CA's main CRL, <ca id>.crl)


class CrlRecord(SQLModel, table=True):
    __tablename__ = "crl"
    __table_args__ = (UniqueConstraint("ca_id", "number", name="uq_crl_ca_number"),)

    id: int | None = Field(default=None, primary_key=True)
    ca_id: str = Field(foreign_key="ca.id", max_length=64, index=True)
    number: int
    this_update: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_update: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CrlShard(SQLModel, table=True):
    """The current CRL of one partition of a CA's certificates (and its delta CRL), signed with one of its keys:
    ``signer`` is empty for the CA's current key, else the serial of the retired CA certificate whose key signed it
    (as :class:`CaKeyHistory` keeps for the main CRL). Complete and delta CRLs of a partition share its numbers."""

    __tablename__ = "crl_shard"

    ca_id: str = Field(foreign_key="ca.id", max_length=64, primary_key=True)
    shard: int = Field(primary_key=True)
    signer: str = Field(default="", max_length=48, primary_key=True)
    uri: str = Field(max_length=256)  # what the partition's certificates name (and its issuing distribution point)
    number: int  # of ``der``; the delta's is ``delta_number``
    this_update: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_update: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    delta_base: int | None = Field(default=None)  # the complete CRL the delta updates
    delta_number: int | None = Field(default=None)
    delta_der: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
