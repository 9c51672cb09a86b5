"""Licence sharing (issue 21): the national directory, consents, legal bases, the access log.

Revision ID: 0015_sharing
Revises: 0014_scale
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_sharing"
down_revision = "0014_scale"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sharing_directory_key",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "sharing_directory",
        sa.Column("identifier", sa.String(128), primary_key=True),
        sa.Column("type_code", sa.String(21), nullable=False),
        sa.Column("issuer_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("holder_key", sa.String(64), nullable=False),
        _when("valid_from"),
        _when("valid_until", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("location", sa.String(256), nullable=False),
        _when("updated_at"),
    )
    op.create_index("ix_sharing_directory_holder_type", "sharing_directory", ["holder_key", "type_code"])
    op.create_table(
        "sharing_consent",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("holder_key", sa.String(64), nullable=False, index=True),
        sa.Column("requester", sa.String(512), nullable=False, index=True),
        sa.Column("license_types", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(256), nullable=False),
        sa.Column("op_id", sa.String(512), nullable=False),
        _when("granted_at"),
        _when("expires_at"),
        _when("revoked_at", nullable=True),
    )
    op.create_table(
        "sharing_legal_basis",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("license_types", sa.Text(), nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "sharing_access",
        sa.Column("id", sa.Integer(), primary_key=True),
        _when("at"),
        sa.Column("end", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("requester", sa.String(512), nullable=False),
        sa.Column("purpose", sa.String(256), nullable=False),
        sa.Column("consent_id", sa.String(32), nullable=True),
        sa.Column("legal_basis", sa.String(32), nullable=True),
        sa.Column("holder_key", sa.String(64), nullable=False, index=True),
        sa.Column("type_code", sa.String(21), nullable=False),
        sa.Column("identifier", sa.String(128), nullable=True),
        sa.Column("disclosed", sa.Text(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
    )
    op.create_index("ix_sharing_access_requester_at", "sharing_access", ["requester", "at"])


def downgrade() -> None:
    op.drop_index("ix_sharing_access_requester_at", "sharing_access")
    op.drop_index("ix_sharing_directory_holder_type", "sharing_directory")
    for table in ("sharing_access", "sharing_legal_basis", "sharing_consent", "sharing_directory"):
        op.drop_table(table)
    op.drop_table("sharing_directory_key")
