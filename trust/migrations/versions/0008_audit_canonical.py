"""Audit chain format 2: ``details`` stored as RFC 8785 JSON and hashed byte for byte; older entries kept as they are.

Entries written before this revision were hashed over a re-serialisation of their parsed ``details``, so an edit
that survives parsing (duplicate keys, whitespace, ``\\u`` escapes) did not change their hash. They are not
rewritten here: rewriting would invalidate every head an operator recorded outside the database. Instead
``audit_head.legacy_until`` records the last of them (``trust.service.audit`` checks entries up to it with the old
hash and the same strict parsing and canonical-form check), and one cut-over entry in the new format is appended:
``audit.format`` by ``system:migration`` with details ``{"format": 2, "legacy_until": N}``. A database without
entries gets no cut-over entry and ``legacy_until`` 0.

The new format is written out here rather than imported so that this revision keeps producing what it produced
when it was written: ``hash = SHA-256(prev_hash || "\\n" || JCS(header) || "\\n" || details)`` with ``header`` =
``{seq, at, actor, action, subject, request_id, result}``.

Downgrading drops the column; entries written in format 2 then no longer verify with the old code.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import rfc8785
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_head", sa.Column("legacy_until", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    head = bind.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    if head is None or int(head[0]) == 0:
        return
    legacy_until, prev = int(head[0]), str(head[1])
    header: dict[str, int | str | None] = {
        "seq": legacy_until + 1,
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": "system:migration",
        "action": "audit.format",
        "subject": "audit:chain",
        "request_id": None,
        "result": "ok",
    }
    details = rfc8785.dumps({"format": 2, "legacy_until": legacy_until}).decode("utf-8")
    digest = hashlib.sha256(
        prev.encode("ascii") + b"\n" + rfc8785.dumps(header) + b"\n" + details.encode("utf-8")
    ).hexdigest()
    bind.execute(
        sa.text(
            "INSERT INTO audit_entry (seq, at, actor, action, subject, request_id, result, details, prev_hash, hash) "
            "VALUES (:seq, :at, :actor, :action, :subject, :request_id, :result, :details, :prev_hash, :hash)"
        ),
        {**header, "details": details, "prev_hash": prev, "hash": digest},
    )
    bind.execute(
        sa.text("UPDATE audit_head SET seq = :seq, hash = :hash, legacy_until = :legacy WHERE id = 1"),
        {"seq": legacy_until + 1, "hash": digest, "legacy": legacy_until},
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("legacy_until")
