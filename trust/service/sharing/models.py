"""Tables of licence sharing (证照共享, migration ``0015_sharing``).

* ``sharing_directory_key`` — which key of the key store derives the directory's holder-code key (one row).
* ``sharing_directory`` — the national directory: one row per licence, **metadata only** — identifier, type, issuer,
  region, the holder code as ``HMAC-SHA256(directory key, code)`` (never the code, never a plain hash: a plain hash
  of an 18-digit citizen ID number is brute-forced in hours), validity, status, where it lives. No licence field,
  no holder name (tests/trust/service/test_sharing.py scans these tables).
* ``sharing_consent`` — a citizen's authorisation, given after a federation login: the holder (keyed hash), the
  requesting service (its federation entity id: the audience), the licence types and fields it covers, its purpose,
  the OP that authenticated the citizen, granted / expires / withdrawn.
* ``sharing_legal_basis`` — the legal-basis codes the operator allows instead of consent (recorded apart).
* ``sharing_pending`` (migration ``0016_sharing3``) — retrievals whose issuing region was unreachable: queued,
  tried again, answered later; the requester polls the ticket. A region's answer waits there sealed (AES-GCM under a
  key derived from the directory key) until the requester collects it, and is erased then.
* ``sharing_access`` — every lookup and retrieval at either end (directory, issuing region): requester, purpose,
  consent id or legal basis, holder (keyed hash), licence, the field *names* disclosed, result and reason. The
  citizen's access history and the per-service rate limits and quotas read it. The hash-chained audit log gets an
  entry for each as well (``sharing.lookup`` / ``sharing.retrieve``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

from ca.models import now


class DirectoryKey(SQLModel, table=True):
    __tablename__ = "sharing_directory_key"

    id: int = Field(primary_key=True)  # always 1
    key_id: str = Field(max_length=64)  # an RSA key of the key store (see trust.service.sharing.directory)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class DirectoryEntry(SQLModel, table=True):
    __tablename__ = "sharing_directory"
    __table_args__ = (Index("ix_sharing_directory_holder_type", "holder_key", "type_code"),)

    identifier: str = Field(primary_key=True, max_length=128)  # GB/T 36904 (public: it names the issuer's USCC)
    type_code: str = Field(max_length=21)
    issuer_id: str = Field(max_length=64)
    region: str = Field(max_length=6)  # GB/T 2260 code of the issuing region (or the department's code)
    holder_key: str = Field(max_length=64)  # HMAC-SHA256 of the holder code under the directory key (hex)
    valid_from: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    status: str = Field(default="valid", max_length=16)
    source: str = Field(default="issued", max_length=16)  # issued (by Huren) | legacy (a signed entry)
    location: str = Field(max_length=256)  # where the licence is retrieved (the issuing region's service)
    # legacy entries: the region's signed entry (JWS, the holder as a salted commitment whose salt is not kept)
    signed_entry: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class Consent(SQLModel, table=True):
    __tablename__ = "sharing_consent"

    id: str = Field(primary_key=True, max_length=32)  # random, the consent id requests carry
    holder_key: str = Field(max_length=64, index=True)
    requester: str = Field(max_length=512, index=True)  # the audience: the requesting service's entity id
    license_types: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of type codes
    fields: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of field names ([]: every field)
    purpose: str = Field(max_length=256)
    op_id: str = Field(max_length=512)  # the OP that authenticated the citizen
    granted_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class LegalBasis(SQLModel, table=True):
    __tablename__ = "sharing_legal_basis"

    code: str = Field(primary_key=True, max_length=32)
    description: str = Field(max_length=256)
    license_types: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of type codes it covers
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class AccessRecord(SQLModel, table=True):
    __tablename__ = "sharing_access"
    __table_args__ = (Index("ix_sharing_access_requester_at", "requester", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
    end: str = Field(max_length=16)  # directory | issuer
    action: str = Field(max_length=16)  # lookup | retrieve
    requester: str = Field(max_length=512)
    purpose: str = Field(max_length=256)
    consent_id: str | None = Field(default=None, max_length=32)
    legal_basis: str | None = Field(default=None, max_length=32)
    holder_key: str = Field(max_length=64, index=True)
    type_code: str = Field(default="", max_length=21)
    identifier: str | None = Field(default=None, max_length=128)
    disclosed: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of field *names*
    result: str = Field(max_length=16)  # listed | disclosed | refused
    reason: str = Field(default="", max_length=256)


class Pending(SQLModel, table=True):
    """A retrieval queued because the issuing region's service was unreachable (the ticket the requester polls)."""

    __tablename__ = "sharing_pending"
    __table_args__ = (Index("ix_sharing_pending_status_next", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=32)  # the ticket (random)
    requester: str = Field(max_length=512, index=True)
    purpose: str = Field(max_length=256)
    consent_id: str | None = Field(default=None, max_length=32)
    legal_basis: str | None = Field(default=None, max_length=32)
    identifier: str = Field(max_length=128)
    holder_key: str = Field(max_length=64)
    type_code: str = Field(max_length=21)
    status: str = Field(max_length=16)  # queued | ready | delivered | refused | expired
    attempts: int = Field(default=0)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    answered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    reason: str = Field(default="", max_length=256)
    # the region's answer, AES-GCM sealed, erased on collection
    sealed_result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
