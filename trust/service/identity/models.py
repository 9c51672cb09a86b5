"""Tables of the identity federation (migration ``0011_identity``).

* ``federation_entity`` — every member of the federation the anchor vouches for: the anchor itself (``kind``
  ``trust_anchor``), regional OpenID Providers and relying services; their federation keys (``jwks``, with the
  certificate of the key under their region's CA), the metadata policy the anchor imposes (``policy``), their own
  entity configuration when the anchor holds it (hosted entities sign theirs here; an external entity uploads its
  own), and their standing (``active`` or ``withdrawn``). Audited.
* ``trust_mark`` — trust marks the operator granted, with the moment one was revoked. Audited.
* ``oidc_citizen``, ``oidc_code``, ``oidc_session``, ``oidc_token``, ``oidc_otp`` — the regional OPs' working state:
  demo accounts (password hashes), single-use authorisation codes, SSO sessions, access tokens, one-time codes.
  Credentials and replay state, not facts of the trust service: not audited row by row (logins are audited as
  events, with the citizen ID number masked).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text
from sqlmodel import Field, SQLModel

from ca.models import now


class FederationEntity(SQLModel, table=True):
    __tablename__ = "federation_entity"

    id: str = Field(primary_key=True, max_length=512)  # the entity identifier (an https URL)
    kind: str = Field(max_length=32)  # trust_anchor | openid_provider | openid_relying_party
    region: str | None = Field(default=None, max_length=6)  # GB/T 2260 code of the region it serves
    issuer_id: str | None = Field(default=None, max_length=64)  # trust-list issuer (region-330000, department-...)
    name: str = Field(max_length=128)
    jwks: str = Field(sa_column=Column(Text, nullable=False))  # the federation keys the anchor certifies (JSON)
    entity_metadata: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    policy: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # metadata_policy the anchor imposes
    configuration: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # an external EC
    key_id: str | None = Field(default=None, max_length=64)  # key store id of a hosted entity's federation key
    signing_keys: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # hosted OP: {alg: key id}
    trust_service_id: str | None = Field(default=None, max_length=96)  # its IDENTITY_PROVIDER trust-list service
    status: str = Field(default="active", max_length=16)  # active | withdrawn
    reason: str = Field(default="", max_length=256)
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
    withdrawn_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class TrustMarkRecord(SQLModel, table=True):
    __tablename__ = "trust_mark"

    id: int | None = Field(default=None, primary_key=True)
    entity_id: str = Field(max_length=512, index=True)
    trust_mark_type: str = Field(max_length=512)
    digest: str = Field(max_length=64, index=True)  # SHA-256 of the token (hex)
    token: str = Field(sa_column=Column(Text, nullable=False))
    granted_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class Citizen(SQLModel, table=True):
    __tablename__ = "oidc_citizen"

    # SHA-256 of the citizen ID number: what sessions and one-time codes refer to, so the number itself is held in
    # this account register only (tests/trust/service/test_privacy.py).
    account: str = Field(primary_key=True, max_length=64)
    citizen_id: str = Field(max_length=18)  # GB 11643
    name: str = Field(max_length=64)
    password_hash: str = Field(max_length=256)  # scrypt, salted ("scrypt$n$r$p$salt$hash")
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class AuthorizationCode(SQLModel, table=True):
    __tablename__ = "oidc_code"

    code_hash: str = Field(primary_key=True, max_length=64)  # SHA-256 of the code: the code itself is not stored
    op_id: str = Field(max_length=512)
    client_id: str = Field(max_length=512)
    redirect_uri: str = Field(max_length=2048)
    scope: str = Field(max_length=512)
    nonce: str | None = Field(default=None, max_length=256)
    code_challenge: str | None = Field(default=None, max_length=128)
    code_challenge_method: str | None = Field(default=None, max_length=8)
    acr: str = Field(max_length=64)
    auth_time: int
    session_id: str = Field(max_length=64)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used: bool = Field(default=False)


class LoginSession(SQLModel, table=True):
    __tablename__ = "oidc_session"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie value
    op_id: str = Field(max_length=512, index=True)
    account: str = Field(max_length=64)  # oidc_citizen.account
    acr: str = Field(max_length=64)
    auth_time: int
    clients: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # RPs logged in through it
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class AccessToken(SQLModel, table=True):
    __tablename__ = "oidc_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    op_id: str = Field(max_length=512)
    client_id: str = Field(max_length=512)
    session_id: str = Field(max_length=64)
    scope: str = Field(max_length=512)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OneTimeCode(SQLModel, table=True):
    __tablename__ = "oidc_otp"

    id: str = Field(primary_key=True, max_length=64)  # random, carried by the login form
    op_id: str = Field(max_length=512)
    account: str = Field(max_length=64)  # oidc_citizen.account
    code_hash: str = Field(max_length=64)
    attempts: int = Field(default=0)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used: bool = Field(default=False)
