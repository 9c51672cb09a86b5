"""Partitioned CRLs (issue 15 item 3): each certificate a CA issues from now on belongs to a CRL partition
(``certificate.crl_shard``, assigned from ``ca.cert_count``), and ``crl_shard`` keeps the current CRL and delta CRL
of every partition. Certificates issued before keep the CA's main CRL (``crl_shard`` NULL).

Revision ID: 0013_scale
Revises: 0012_scale
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_scale"
down_revision = "0012_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ca", sa.Column("cert_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("certificate", sa.Column("crl_shard", sa.Integer(), nullable=True))
    # the rows a partition's CRL is rebuilt from: one CA's revoked certificates of one partition
    op.create_index("ix_certificate_crl_shard", "certificate", ["issuer_id", "crl_shard", "status"])
    op.create_table(
        "crl_shard",
        sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.id"), primary_key=True),
        sa.Column("shard", sa.Integer(), primary_key=True),
        sa.Column("signer", sa.String(48), primary_key=True),
        sa.Column("uri", sa.String(256), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("delta_base", sa.Integer(), nullable=True),
        sa.Column("delta_number", sa.Integer(), nullable=True),
        sa.Column("delta_der", sa.LargeBinary(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("crl_shard")
    op.drop_index("ix_certificate_crl_shard", table_name="certificate")
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("crl_shard")
    with op.batch_alter_table("ca") as batch:
        batch.drop_column("cert_count")
