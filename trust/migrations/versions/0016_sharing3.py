"""Licence sharing, the rest of issue 21: signed legacy directory entries and queued retrieval for offline regions.

Revision ID: 0016_sharing3
Revises: 0015_sharing
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_sharing3"
down_revision = "0015_sharing"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("sharing_directory", sa.Column("signed_entry", sa.Text(), nullable=True))
    op.create_table(
        "sharing_pending",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("requester", sa.String(512), nullable=False),
        sa.Column("purpose", sa.String(256), nullable=False),
        sa.Column("consent_id", sa.String(32), nullable=True),
        sa.Column("legal_basis", sa.String(32), nullable=True),
        sa.Column("identifier", sa.String(128), nullable=False),
        sa.Column("holder_key", sa.String(64), nullable=False),
        sa.Column("type_code", sa.String(21), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("next_attempt_at"),
        _when("answered_at", nullable=True),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("sealed_result", sa.Text(), nullable=True),
    )
    op.create_index("ix_sharing_pending_status_next", "sharing_pending", ["status", "next_attempt_at"])
    op.create_index("ix_sharing_pending_requester", "sharing_pending", ["requester"])


def downgrade() -> None:
    op.drop_index("ix_sharing_pending_requester", "sharing_pending")
    op.drop_index("ix_sharing_pending_status_next", "sharing_pending")
    op.drop_table("sharing_pending")
    op.drop_column("sharing_directory", "signed_entry")
