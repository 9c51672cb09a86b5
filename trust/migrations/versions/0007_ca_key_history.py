"""CA re-keying: the certificates and keys a subordinate CA held before its current one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ca_key_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.id"), nullable=False),
        sa.Column("serial", sa.String(48), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("cert_der", sa.LargeBinary(), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crl_number", sa.Integer(), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=True),
        sa.UniqueConstraint("ca_id", "serial", name="uq_ca_key_history_ca_serial"),
    )
    op.create_index("ix_ca_key_history_ca_id", "ca_key_history", ["ca_id"])


def downgrade() -> None:
    op.drop_index("ix_ca_key_history_ca_id", "ca_key_history")
    op.drop_table("ca_key_history")
