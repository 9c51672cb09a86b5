"""The identity federation (issue 16): federation entities, trust marks and the regional OPs' working state.

Revision ID: 0011_identity
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_identity"
down_revision = "0010"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "federation_entity",
        sa.Column("id", sa.String(512), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("region", sa.String(6), nullable=True),
        sa.Column("issuer_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=False),
        sa.Column("entity_metadata", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("configuration", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("signing_keys", sa.Text(), nullable=False),
        sa.Column("trust_service_id", sa.String(96), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        _when("created_at"),
        _when("withdrawn_at", nullable=True),
    )
    op.create_table(
        "trust_mark",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_id", sa.String(512), nullable=False, index=True),
        sa.Column("trust_mark_type", sa.String(512), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, index=True),
        sa.Column("token", sa.Text(), nullable=False),
        _when("granted_at"),
        _when("revoked_at", nullable=True),
    )
    op.create_table(
        "oidc_citizen",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("citizen_id", sa.String(18), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "oidc_code",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("op_id", sa.String(512), nullable=False),
        sa.Column("client_id", sa.String(512), nullable=False),
        sa.Column("redirect_uri", sa.String(2048), nullable=False),
        sa.Column("scope", sa.String(512), nullable=False),
        sa.Column("nonce", sa.String(256), nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(8), nullable=True),
        sa.Column("acr", sa.String(64), nullable=False),
        sa.Column("auth_time", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        _when("expires_at"),
        sa.Column("used", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "oidc_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("op_id", sa.String(512), nullable=False, index=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("acr", sa.String(64), nullable=False),
        sa.Column("auth_time", sa.Integer(), nullable=False),
        sa.Column("clients", sa.Text(), nullable=False),
        _when("expires_at"),
        _when("ended_at", nullable=True),
    )
    op.create_table(
        "oidc_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("op_id", sa.String(512), nullable=False),
        sa.Column("client_id", sa.String(512), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(512), nullable=False),
        _when("expires_at"),
    )
    op.create_table(
        "oidc_otp",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("op_id", sa.String(512), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("expires_at"),
        sa.Column("used", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    for table in ("oidc_otp", "oidc_token", "oidc_session", "oidc_code", "oidc_citizen", "trust_mark"):
        op.drop_table(table)
    op.drop_table("federation_entity")
