"""Licences: issuers, status lists, licences and their history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "license_issuer",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.id"), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("cert_serial", sa.String(48), nullable=False),
        sa.Column("license_types", sa.Text(), nullable=False),
        sa.Column("seal_es_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_license_issuer_code", "license_issuer", ["code"])
    op.create_table(
        "license_authority",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("next_serial", sa.Integer(), nullable=False),
    )
    op.create_table(
        "status_list",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("issuer_id", sa.String(64), sa.ForeignKey("license_issuer.id"), nullable=False),
        sa.Column("uri", sa.String(256), nullable=False, unique=True),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_status_list_issuer_id", "status_list", ["issuer_id"])
    op.create_table(
        "license",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("identifier", sa.String(128), nullable=False, unique=True),
        sa.Column("type_code", sa.String(21), nullable=False),
        sa.Column("issuer_id", sa.String(64), sa.ForeignKey("license_issuer.id"), nullable=False),
        sa.Column("holder_kind", sa.String(16), nullable=False),
        sa.Column("holder_name", sa.String(128), nullable=False),
        sa.Column("holder_code", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_list_id", sa.Integer(), sa.ForeignKey("status_list.id"), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("sd_jwt", sa.Text(), nullable=False),
        sa.Column("qr_token", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("status_list_id", "status_index", name="uq_license_status_entry"),
    )
    op.create_index("ix_license_type_code", "license", ["type_code"])
    op.create_index("ix_license_issuer_id", "license", ["issuer_id"])
    op.create_index("ix_license_holder_code", "license", ["holder_code"])
    op.create_index("ix_license_status", "license", ["status"])
    op.create_table(
        "license_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("license_id", sa.Integer(), sa.ForeignKey("license.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_license_event_license_id", "license_event", ["license_id"])


def downgrade() -> None:
    op.drop_table("license_event")
    op.drop_table("license")
    op.drop_table("status_list")
    op.drop_table("license_authority")
    op.drop_table("license_issuer")
