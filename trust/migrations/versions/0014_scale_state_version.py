"""The version of what verification depends on (issue 15 item 1): one row, bumped by every transaction that changes a
CRL, a trust list, a status list or a licence's status (``trust.service.state``), read by every ``POST /verify``.

Revision ID: 0014_scale
Revises: 0013_scale
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_scale"
down_revision = "0013_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "state_version",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"name": "verification", "version": 0}])


def downgrade() -> None:
    op.drop_table("state_version")
