"""The issuance transparency log (issue 19): leaves, perfect-subtree nodes, the head, checkpoints, witnesses.

Revision ID: 0017_tlog
Revises: 0016_sharing3
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_tlog"
down_revision = "0016_sharing3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tlog_leaf",
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ident", sa.String(256), nullable=False),
        sa.Column("region", sa.String(6), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tlog_leaf_digest", "tlog_leaf", ["digest"])
    op.create_index("ix_tlog_leaf_kind_ident", "tlog_leaf", ["kind", "ident"])
    op.create_index("ix_tlog_leaf_region_idx", "tlog_leaf", ["region", "idx"])
    op.create_table(
        "tlog_node",
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "tlog_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO tlog_head (id, size) VALUES (1, 0)")
    op.create_table(
        "tlog_checkpoint",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tlog_witness",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("tlog_witness", "tlog_checkpoint", "tlog_head", "tlog_node"):
        op.drop_table(table)
    for index in ("ix_tlog_leaf_region_idx", "ix_tlog_leaf_kind_ident", "ix_tlog_leaf_digest"):
        op.drop_index(index, "tlog_leaf")
    op.drop_table("tlog_leaf")
