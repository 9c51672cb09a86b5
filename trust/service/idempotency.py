"""Idempotency keys name one request: a key reused for a different request is a conflict (409), never a replay.

Issue 11: an ``Idempotency-Key`` reused with a different body returned 201 and the first result — even a
certificate for another subject (the replay compared CA and profile only). Now the HTTP layer gives each keyed
request a :class:`Fingerprint` — method, path, the authenticated client, and the SHA-256 of the canonical JSON of
its body (sorted keys, no spaces, the ``request_id`` field left out since it is the key itself) — and the service
stores it in the ``idempotency_key`` table **in the same transaction** as the credential it makes:

* before issuing, a stored fingerprint for the key that differs from this request's is a :class:`ConflictError`
  (``E1004``) naming what the key was first used for;
* the same fingerprint goes on to the replay: the first result, whichever worker made it;
* two requests racing with one key: the loser's insert fails (primary key; :class:`KeyTaken`), its transaction
  rolls back, and it is judged against the winner's fingerprint like a later retry — or, for a certificate from a CSR
  (the lean issuance, :func:`claim`: ``INSERT … ON CONFLICT DO NOTHING``), judged in its own transaction, which then
  reads the winner's rows.

A request that failed (bad CSR, refused by the CA) stored nothing, so the key can be used again — with any body.
The canonical form means a client may re-serialise its JSON (key order, spacing) without breaking a retry, but any
change of a value, including an optional field now sent with another value, is another request. Keys of requests
made without a fingerprint (the command line, batch issuance, keys stored before this table existed) keep the
older comparison of the service functions (CA and profile; holder and seal name; issuer and type).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Column, DateTime
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from ca.authority.cursor import Raw
from trust import db
from trust.crypto.errors import ConflictError
from trust.service.instance import Instance


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_key"

    request_id: str = Field(primary_key=True, max_length=128)  # "<client id>/<key>"
    client_id: str = Field(max_length=64)
    method: str = Field(max_length=8)
    path: str = Field(max_length=256)
    body_sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


@dataclass(frozen=True)
class Fingerprint:
    """What makes two requests under one key the same request."""

    method: str
    path: str
    client_id: str
    body_sha256: str

    @classmethod
    def of(cls, method: str, path: str, client_id: str, body: Mapping[str, Any]) -> Fingerprint:
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return cls(method.upper(), path, client_id, hashlib.sha256(canonical.encode("utf-8")).hexdigest())


class KeyTaken(Exception):
    """Another transaction stored the key first (its request is judged against that one's fingerprint)."""


def check(instance: Instance, request_id: str, fingerprint: Fingerprint) -> None:
    """Raise ConflictError when ``request_id`` was stored for a request other than ``fingerprint``'s."""
    with db.session_scope(instance.engine, read_only=True) as session:
        check_in(session, request_id, fingerprint)


def check_in(session: Session, request_id: str, fingerprint: Fingerprint) -> None:
    """:func:`check` inside the caller's transaction (after a concurrent request under the same key committed)."""
    stored = session.get(IdempotencyRecord, request_id)
    if stored is None:
        return
    first = Fingerprint(stored.method, stored.path, stored.client_id, stored.body_sha256)
    if first != fingerprint:
        raise conflict(request_id, first, fingerprint)


def conflict(request_id: str, first: Fingerprint, fingerprint: Fingerprint) -> ConflictError:
    """The conflict of a request (``fingerprint``) under a key first used for another one (``first``)."""
    same_route = (first.method, first.path, first.client_id) == (
        fingerprint.method,
        fingerprint.path,
        fingerprint.client_id,
    )
    differs = "body" if same_route else f"{first.method} {first.path}"
    key = request_id.partition("/")[2] or request_id
    return ConflictError(
        f"Idempotency-Key {key!r} was first used for another request ({differs}); a key names one request, "
        "so send a new key for a new request",
        evidence={"idempotency_key": key, "first_request": f"{first.method} {first.path}"},
    )


def record(session: Session, request_id: str, fingerprint: Fingerprint) -> None:
    """Store the key and fingerprint in the caller's transaction; first, before anything else is written in it,
    so that a key another transaction holds fails here (:class:`KeyTaken`) and not after signing."""
    session.add(_row(request_id, fingerprint))
    try:
        session.flush()
    except IntegrityError:
        raise KeyTaken(request_id) from None


# The lean single issuance (``trust.service.ca.issue``, issuefast2) stores the key on the transaction's DB-API cursor
# (:mod:`ca.authority.cursor`): one statement, no ORM object, no flush. ``ON CONFLICT DO NOTHING`` instead of a
# caught unique violation: the transaction stays usable, so the request is judged against the winner's fingerprint
# in it (PostgreSQL's insert waits for a concurrent transaction holding the key and, once that one committed, skips).
_CLAIM_SQL: Final = (
    "INSERT INTO idempotency_key (request_id, client_id, method, path, body_sha256, created_at) "
    "VALUES (:request_id, :client_id, :method, :path, :body_sha256, :created_at) "
    "ON CONFLICT DO NOTHING RETURNING request_id"
)


def claim(raw: Raw, request_id: str, fingerprint: Fingerprint) -> None:
    """:func:`record` on the DB-API cursor ``raw`` of the caller's transaction (SQLite or PostgreSQL):
    :class:`KeyTaken` when another transaction stored the key first, and the transaction is still usable."""
    params = {
        "request_id": request_id,
        "client_id": fingerprint.client_id,
        "method": fingerprint.method,
        "path": fingerprint.path,
        "body_sha256": fingerprint.body_sha256,
        "created_at": raw.timestamp(datetime.now(UTC)),
    }
    if raw.one(_CLAIM_SQL, params) is None:
        raise KeyTaken(request_id)


def judge(request_id: str, first: Fingerprint | None, fingerprint: Fingerprint) -> None:
    """:func:`check_in` of a fingerprint already read (``first``: the stored one, ``None`` when there is none)."""
    if first is not None and first != fingerprint:
        raise conflict(request_id, first, fingerprint)


def stored(instance: Instance, request_ids: Collection[str]) -> dict[str, Fingerprint]:
    """The fingerprints stored for those of ``request_ids`` that have one (a batch's keys: one query per 500)."""
    keys = sorted(set(request_ids))
    found: dict[str, Fingerprint] = {}
    with db.session_scope(instance.engine, read_only=True) as session:
        for start in range(0, len(keys), 500):
            rows = session.exec(
                select(IdempotencyRecord).where(col(IdempotencyRecord.request_id).in_(keys[start : start + 500]))
            ).all()
            found.update(
                {row.request_id: Fingerprint(row.method, row.path, row.client_id, row.body_sha256) for row in rows}
            )
    return found


def _row(request_id: str, fingerprint: Fingerprint) -> IdempotencyRecord:
    return IdempotencyRecord(
        request_id=request_id,
        client_id=fingerprint.client_id,
        method=fingerprint.method,
        path=fingerprint.path,
        body_sha256=fingerprint.body_sha256,
        created_at=datetime.now(UTC),
    )


__all__ = [
    "Fingerprint",
    "IdempotencyRecord",
    "KeyTaken",
    "check",
    "check_in",
    "claim",
    "conflict",
    "judge",
    "record",
    "stored",
]
