"""Status lists are numbered per issuer and looked up by (issuer, number) through a unique index (issue 15 item 2).

Before, finding list ``n`` of an issuer loaded every list row of the issuer and took the ``n``-th: the bundle's
freshness check, which looks at every list, was quadratic in the number of lists.

Revision ID: 0012_scale
Revises: 0011_identity
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_scale"
down_revision = "0011_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("status_list", sa.Column("number", sa.Integer(), nullable=False, server_default="0"))
    # The n-th list of an issuer (by id) is its list n: what its URI ends in and what the old lookup counted.
    op.execute(
        "UPDATE status_list SET number = (SELECT COUNT(*) FROM status_list AS earlier "
        "WHERE earlier.issuer_id = status_list.issuer_id AND earlier.id <= status_list.id)"
    )
    op.create_index("uq_status_list_issuer_number", "status_list", ["issuer_id", "number"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_status_list_issuer_number", table_name="status_list")
    with op.batch_alter_table("status_list") as batch:
        batch.drop_column("number")
