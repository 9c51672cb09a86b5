"""Seal registry storage (migration 0004): seals, their status history, and each region's seal maker.

* ``seal`` — one row per GB/T 38540 seal: its esID, holder, the SESeal bytes, the signer certificates it permits
  (serials of the SM2 and, optionally, RSA seal certificates whose keys Huren holds), and its current state.
* ``seal_event`` — append-only history of states (active, suspended, revoked) with reasons.
* ``seal_maker`` — the seal maker (制章者) certificate of each regional/departmental SM2 CA.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, LargeBinary
from sqlmodel import Field, SQLModel

from ca.models import now


class SealRecord(SQLModel, table=True):
    __tablename__ = "seal"

    id: int | None = Field(default=None, primary_key=True)
    es_id: str = Field(max_length=64, unique=True)
    issuer_ca_id: str = Field(foreign_key="ca.id", max_length=64, index=True)  # the SM2 CA of the region
    holder_kind: str = Field(max_length=16)  # organization | person
    holder_name: str = Field(max_length=128)
    holder_code: str = Field(max_length=32, index=True)  # USCC or citizen ID
    name: str = Field(max_length=64)  # 合同专用章, 公章, ...
    seal_type: int
    status: str = Field(default="active", max_length=16, index=True)
    sm2_cert_serial: str = Field(max_length=48)
    rsa_cert_serial: str | None = Field(default=None, max_length=48)
    maker_cert_serial: str = Field(max_length=48)
    valid_start: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_end: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    seal_der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    request_id: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class SealEvent(SQLModel, table=True):
    __tablename__ = "seal_event"

    id: int | None = Field(default=None, primary_key=True)
    seal_id: int = Field(foreign_key="seal.id", index=True)
    status: str = Field(max_length=16)
    reason: str = Field(default="", max_length=256)
    at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class SealMaker(SQLModel, table=True):
    __tablename__ = "seal_maker"

    ca_id: str = Field(primary_key=True, foreign_key="ca.id", max_length=64)
    cert_serial: str = Field(max_length=48)
    key_id: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
