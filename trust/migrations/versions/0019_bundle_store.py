"""The signed bundles the workers share through ``<home>/cache/bundles/`` (branch storefix): one row per stored file,
written by the worker that signed it — its name (``<key>.<nonce>``), the state version and the reuse period of its key,
and the SHA-256 of the file (and of its gzip form, once made). A worker uses a file of the store only if its digest is
the one recorded here, so a file planted in the folder (an older genuine bundle, say) is never taken for the current
one (``trust.service.trust.stored_bundle``). Rows of all but the newest ``STORE_KEPT`` keys are pruned as new ones
come.

Revision ID: 0019_bundle_store
Revises: 0018_state_change
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_bundle_store"
down_revision = "0018_state_change"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundle_store",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("gzip_sha256", sa.String(64), nullable=True),
    )
    op.create_index("ix_bundle_store_key", "bundle_store", ["version", "period"])


def downgrade() -> None:
    op.drop_index("ix_bundle_store_key", table_name="bundle_store")
    op.drop_table("bundle_store")
