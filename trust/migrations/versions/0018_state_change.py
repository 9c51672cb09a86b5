"""What each state version changed (issue 15 item 1, branch ctxpatch): one row per bump of the ``verification``
state version (``trust.service.state``), naming the CRL partitions and status lists the transaction changed, or
``full`` when it changed anything else. Workers read the rows between the version their verification context was made
at and the current one to patch it instead of rebuilding it; rows older than ``trust.service.state.CHANGES_KEPT``
versions are pruned as new ones come.

Revision ID: 0018_state_change
Revises: 0017_tlog
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_state_change"
down_revision = "0017_tlog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "state_change",
        sa.Column("version", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("changes", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("state_change")
