"""Seals: seal registry, seal history, seal makers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seal",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("es_id", sa.String(64), nullable=False, unique=True),
        sa.Column("issuer_ca_id", sa.String(64), sa.ForeignKey("ca.id"), nullable=False),
        sa.Column("holder_kind", sa.String(16), nullable=False),
        sa.Column("holder_name", sa.String(128), nullable=False),
        sa.Column("holder_code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("seal_type", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sm2_cert_serial", sa.String(48), nullable=False),
        sa.Column("rsa_cert_serial", sa.String(48), nullable=True),
        sa.Column("maker_cert_serial", sa.String(48), nullable=False),
        sa.Column("valid_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seal_der", sa.LargeBinary(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seal_issuer_ca_id", "seal", ["issuer_ca_id"])
    op.create_index("ix_seal_holder_code", "seal", ["holder_code"])
    op.create_index("ix_seal_status", "seal", ["status"])
    op.create_table(
        "seal_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("seal_id", sa.Integer(), sa.ForeignKey("seal.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seal_event_seal_id", "seal_event", ["seal_id"])
    op.create_table(
        "seal_maker",
        sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.id"), primary_key=True),
        sa.Column("cert_serial", sa.String(48), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("seal_maker")
    op.drop_table("seal_event")
    op.drop_table("seal")
