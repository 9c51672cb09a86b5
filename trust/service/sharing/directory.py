"""The national licence directory (issue 21 item 1): metadata only, the holder code as a keyed hash.

**The holder key.** The directory refers to a holder by ``HMAC-SHA256(K, holder code)``, never by the code and never
by a plain hash (the space of GB 11643 citizen ID numbers is small enough to hash exhaustively). ``K`` comes from the
key store without ever being stored outside it: the directory owns an RSA key there (``sharing_directory_key``), and
``K = HKDF-SHA256(RSASSA-PKCS1-v1_5-SHA256 signature of a fixed label)`` — PKCS#1 v1.5 signatures are deterministic,
so the same key gives the same ``K`` on every worker and after a restart, and a key store that keeps its keys in an
HSM (signing only) works unchanged. Someone with the database and not the key store cannot test a guessed code.

**Updates.** :func:`index` runs inside the transaction of every issuance (single and batch) and status change
(:mod:`trust.service.licenses`), so the directory and the licences commit together.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from licenses.models import LicenseRecord
from trust import db
from trust.crypto.algorithms import RSA_PKCS1_SHA256
from trust.service.instance import Instance
from trust.service.sharing.models import DirectoryEntry, DirectoryKey

LABEL = b"huren sharing directory: holder-code key, version 1"
_keys: weakref.WeakKeyDictionary[Instance, bytes] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _derive(instance: Instance, key_id: str) -> bytes:
    signature = instance.keystore.signer(key_id, RSA_PKCS1_SHA256).sign(LABEL)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"huren-sharing-holder-key").derive(signature)


def directory_key(instance: Instance) -> bytes:
    """The HMAC key of the directory (made on first use, cached per instance; never written anywhere)."""
    with _lock:
        cached = _keys.get(instance)
    if cached is not None:
        return cached
    with db.session_scope(instance.engine) as session:
        row = session.get(DirectoryKey, 1)
        if row is None:
            info = instance.keystore.generate("rsa-2048", label="sharing-directory")
            try:
                with session.begin_nested():
                    session.add(DirectoryKey(id=1, key_id=info.key_id))
                row = session.get(DirectoryKey, 1)
            except IntegrityError:  # another worker made it first: use theirs
                instance.keystore.discard(info.key_id)
                session.expire_all()
                row = session.get(DirectoryKey, 1)
        assert row is not None
        key_id = row.key_id
    key = _derive(instance, key_id)
    with _lock:
        _keys[instance] = key
    return key


def holder_key(key: bytes, code: str) -> str:
    """The directory's name for a holder: HMAC-SHA256 of the code (upper case, as GB 11643 / GB 32100 write it)."""
    return hmac.new(key, code.strip().upper().encode("ascii", "replace"), hashlib.sha256).hexdigest()


def region_of(issuer_id: str) -> str:
    """The issuing region (or department code) of a licence issuer id (``330000-<USCC>-sm2``)."""
    return issuer_id.split("-", 1)[0][:6]


def location_for(base_url: str, identifier: str) -> str:
    return f"{base_url.rstrip('/')}/sharing/licenses/{identifier}"


def index(session: Session, key: bytes, record: LicenseRecord, base_url: str) -> DirectoryEntry:
    """Add or update the directory entry of ``record`` (in the caller's transaction): metadata only."""
    entry = session.get(DirectoryEntry, record.identifier)
    if entry is None:
        entry = DirectoryEntry(
            identifier=record.identifier,
            type_code=record.type_code,
            issuer_id=record.issuer_id,
            region=region_of(record.issuer_id),
            holder_key=holder_key(key, record.holder_code),
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            status=record.status,
            location=location_for(base_url, record.identifier),
        )
    else:
        entry.status = record.status
        entry.valid_until = record.valid_until
        entry.updated_at = datetime.now(entry.valid_from.tzinfo)
    session.add(entry)
    return entry


@dataclass(frozen=True)
class Located:
    """One licence the directory knows of: what a lookup returns (no field, no holder data)."""

    identifier: str
    type_code: str
    issuer_id: str
    region: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    location: str
    source: str = "issued"  # issued (by Huren) | legacy (a region's signed entry)
    signed_entry: str | None = None  # legacy: the region's signed entry, for the requester to check

    def to_json(self) -> dict[str, str | None]:
        return {
            "identifier": self.identifier,
            "type_code": self.type_code,
            "issuer_id": self.issuer_id,
            "region": self.region,
            "status": self.status,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "location": self.location,
            "source": self.source,
            "signed_entry": self.signed_entry,
        }


def located(r: DirectoryEntry) -> Located:
    return Located(
        r.identifier,
        r.type_code,
        r.issuer_id,
        r.region,
        r.status,
        r.valid_from,
        r.valid_until,
        r.location,
        r.source,
        r.signed_entry,
    )


def find(session: Session, holder: str, type_code: str) -> list[Located]:
    """The directory entries of a holder (keyed hash) of one type: one indexed query."""
    rows = session.exec(
        select(DirectoryEntry)
        .where(DirectoryEntry.holder_key == holder, DirectoryEntry.type_code == type_code)
        .order_by(col(DirectoryEntry.identifier))
    ).all()
    return [located(r) for r in rows]


def reindex(instance: Instance, *, batch: int = 1000) -> int:
    """Index every licence of this instance (licences issued before the directory existed); returns how many."""
    key = directory_key(instance)
    base_url = instance.settings.effective_public_url
    done = 0
    last = 0
    while True:
        with db.session_scope(instance.engine) as session:
            rows = session.exec(
                select(LicenseRecord).where(col(LicenseRecord.id) > last).order_by(col(LicenseRecord.id)).limit(batch)
            ).all()
            for record in rows:
                index(session, key, record, base_url)
            if not rows:
                return done
            last = rows[-1].id or 0
            done += len(rows)
