"""Certificate authority: CAs, issued certificates, CRLs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ca",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("family", sa.String(8), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("parent_id", sa.String(64), sa.ForeignKey("ca.id"), nullable=True),
        sa.Column("serial", sa.String(48), nullable=False),
        sa.Column("cert_der", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("crl_number", sa.Integer(), nullable=False),
        sa.Column("ocsp_key_id", sa.String(64), nullable=True),
        sa.Column("ocsp_cert_der", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ca_code", "ca", ["code"])
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("serial", sa.String(48), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("issuer_id", sa.String(64), sa.ForeignKey("ca.id"), nullable=False),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("family", sa.String(8), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(32), nullable=True),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_certificate_issuer_id", "certificate", ["issuer_id"])
    op.create_index("ix_certificate_status", "certificate", ["status"])
    op.create_table(
        "crl",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("ca_id", "number", name="uq_crl_ca_number"),
    )
    op.create_index("ix_crl_ca_id", "crl", ["ca_id"])


def downgrade() -> None:
    op.drop_table("crl")
    op.drop_table("certificate")
    op.drop_index("ix_ca_code", "ca")
    op.drop_table("ca")
