"""Licence storage (migration 0005): licence issuers, licences, status lists.

* ``license_issuer`` — an issuing authority (发证机关): its unified social credit code, the region or department
  CA that certified its licence-issuer key, the key in the key store, the licence types it may issue (also
  published as the scope of its ``LICENSE_ISSUER`` service in the trust list).
* ``license`` — every licence issued: GB/T 36904 identifier (unique), type, holder, face fields, validity,
  status (valid / suspended / revoked), its status list entry (unique per list), the signed token and SD-JWT,
  and the idempotency key of the request that created it.
* ``status_list`` — the Token Status Lists of an issuer (2 bits per licence), numbered from 1 per issuer, with the next
  free index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ca.models import now


class LicenseIssuer(SQLModel, table=True):
    __tablename__ = "license_issuer"

    id: str = Field(primary_key=True, max_length=64)  # e.g. "330000-11330000002482226Y-sm2"
    name: str = Field(max_length=128)
    code: str = Field(max_length=32, index=True)  # the authority's USCC
    ca_id: str = Field(foreign_key="ca.id", max_length=64)
    key_id: str = Field(max_length=64)
    cert_serial: str = Field(max_length=48)
    license_types: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of type codes
    seal_es_id: str | None = Field(default=None, max_length=64)  # the authority's 证照专用章 (licence PDFs)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class LicenseAuthority(SQLModel, table=True):
    """The serial counter of an issuing authority (its USCC): identifiers are unique per authority, whichever of
    its issuer keys (SM2, RSA, ECDSA) signs."""

    __tablename__ = "license_authority"

    code: str = Field(primary_key=True, max_length=32)
    next_serial: int = Field(default=1)


class StatusListRecord(SQLModel, table=True):
    __tablename__ = "status_list"
    # (issuer, number) is how a list is named (``…/statuslists/<issuer>/<number>``) and looked up: one index probe,
    # whatever the number of lists (migration 0012_scale; issue 15 item 2).
    __table_args__ = (UniqueConstraint("issuer_id", "number", name="uq_status_list_issuer_number"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: str = Field(foreign_key="license_issuer.id", max_length=64, index=True)
    number: int = Field(default=0)  # the issuer's list number, from 1 (the last segment of ``uri``)
    uri: str = Field(max_length=256, unique=True)
    bits: int = Field(default=2)
    size: int
    next_index: int = Field(default=0)
    version: int = Field(default=0)  # bumped by every status change: signed tokens are cached per version
    updated_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class LicenseRecord(SQLModel, table=True):
    __tablename__ = "license"
    __table_args__ = (UniqueConstraint("status_list_id", "status_index", name="uq_license_status_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(max_length=128, unique=True)
    type_code: str = Field(max_length=21, index=True)
    issuer_id: str = Field(foreign_key="license_issuer.id", max_length=64, index=True)
    holder_kind: str = Field(max_length=16)
    holder_name: str = Field(max_length=128)
    holder_code: str = Field(max_length=32, index=True)
    fields: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_from: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    status: str = Field(default="valid", max_length=16, index=True)
    status_list_id: int = Field(foreign_key="status_list.id")
    status_index: int
    token: str = Field(sa_column=Column(Text, nullable=False))
    sd_jwt: str = Field(sa_column=Column(Text, nullable=False))
    qr_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # the compact JWS of the QR form
    request_id: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class LicenseEvent(SQLModel, table=True):
    __tablename__ = "license_event"

    id: int | None = Field(default=None, primary_key=True)
    license_id: int = Field(foreign_key="license.id", index=True)
    status: str = Field(max_length=16)
    reason: str = Field(default="", max_length=256)
    at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
