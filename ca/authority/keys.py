"""The keys of the CA's operations: the signer of a CA (from the key store), new keys for subjects made inside the
key store (on the token when one is configured), and their discard when the transaction that needed them fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from ca.authority.records import Issued
from ca.models import CertificateAuthority
from trust.crypto.algorithms import RSA_PKCS1_SHA256, SM2_SM3, KeyFamily, SignatureAlgorithm
from trust.crypto.errors import Code, ConflictError, InputError
from trust.crypto.keys import PublicKey
from trust.crypto.keystore import KeyStore
from trust.crypto.signer import Signer

log = logging.getLogger(__name__)


def algorithm_for(family: str) -> SignatureAlgorithm:
    if family == KeyFamily.SM2.value:
        return SM2_SM3
    if family == KeyFamily.RSA.value:
        return RSA_PKCS1_SHA256
    raise InputError(f"CAs sign with SM2 or RSA keys, not {family}")


def ca_signer(keystore: KeyStore, ca: CertificateAuthority) -> Signer:
    if ca.key_id is None and ca.kind == "root":
        raise ConflictError(
            f"national root {ca.id} is offline: what it signs is a ceremony (`trust root request …`, then `trust root "
            "sign` on the offline machine and `trust root import`; docs/OPERATIONS.md)",
            code=Code.ROOT_OFFLINE,
        )
    if ca.key_id is None:
        raise ConflictError(f"CA {ca.id} holds its own key (enrolled from a CSR); Huren cannot sign for it")
    return keystore.signer(ca.key_id, algorithm_for(ca.family))


@dataclass(frozen=True)
class NewKey:
    """A key the key store made for a CA or a subject: its id and public half (the private half never leaves the
    store; with a PKCS#11 token configured it never leaves the token)."""

    key_id: str
    public_key: PublicKey


def key_spec(family: str, *, ca: bool) -> str:
    if family == KeyFamily.SM2.value:
        return "sm2"
    if family == KeyFamily.RSA.value:
        return "rsa-4096" if ca else "rsa-2048"
    if family == KeyFamily.EC.value:
        return "ec-p256"
    raise InputError(f"unknown key family {family!r}; SM2, RSA or EC")


def new_key(session: Session, keystore: KeyStore, family: str, *, ca: bool, label: str) -> NewKey:
    """Make a key inside the key store (``keystore.generate``: on the token for RSA/EC when one is configured).

    The key is discarded again if the database transaction (or savepoint) it was made in rolls back, so a failed
    issuance leaves no key behind, whatever failed between the key's creation and the commit."""
    info = keystore.generate(key_spec(family, ca=ca), label=label)
    _pending(session).append(_Pending(_chain(session), keystore, info.key_id))
    return NewKey(info.key_id, info.public_key)


def store_key(keystore: KeyStore, key: NewKey, issued: Issued | None = None) -> str:
    """The key's id, with its discard registered on ``issued`` for callers that compensate by ``Issued.cleanups``."""
    if issued is not None:
        issued.cleanups.append(lambda: discard_quietly(keystore, key.key_id))
    return key.key_id


def discard_quietly(keystore: KeyStore, key_id: str) -> None:
    """Compensation must not hide the error that caused it (a token logged out fails the discard too)."""
    try:
        keystore.discard(key_id)
    except Exception as exc:  # noqa: BLE001 — logged, the original error propagates
        log.warning("could not discard key %s after a failed transaction: %s", key_id, type(exc).__name__)


# --- discard on rollback ---------------------------------------------------------------------------------------

_PENDING = "huren.ca.pending_keys"


@dataclass
class _Pending:
    chain: list[SessionTransaction]
    """The transaction the key was made in and its parents: a rollback of any of them drops the key's rows."""
    keystore: KeyStore
    key_id: str
    done: bool = field(default=False)


def _chain(session: Session) -> list[SessionTransaction]:
    current = session.get_nested_transaction() or session.get_transaction()
    if current is None:
        session.connection()  # begins the session's transaction, so the key belongs to one
        current = session.get_transaction()
    chain = []
    while current is not None:
        chain.append(current)
        current = current.parent
    return chain


def _pending(session: Session) -> list[_Pending]:
    pending: list[_Pending] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_soft_rollback", _rolled_back)
        event.listen(session, "after_commit", _committed)
    return pending


def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending: list[_Pending] = session.info.get(_PENDING, [])
    for entry in pending:
        if not entry.done and any(t is previous for t in entry.chain):
            entry.done = True
            discard_quietly(entry.keystore, entry.key_id)
    pending[:] = [entry for entry in pending if not entry.done]


def _committed(session: Session) -> None:
    # a savepoint's release also fires after_commit; only the outermost commit makes the keys' rows durable
    pending: list[_Pending] = session.info.get(_PENDING, [])
    if pending and not pending[0].chain[-1].is_active:
        pending.clear()
