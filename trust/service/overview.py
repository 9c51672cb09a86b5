"""The operator's overview (issue 17 item 3): what the federation looks like now, read only.

One read-only transaction gathers the CAs of the national root, the regions and the departments with their trust-list
status; what each has issued (certificates, seals, licences) and revoked or suspended; the latest trust list and the
bundle's; and the audit chain's state (:func:`trust.service.audit.verify`: every entry walked, the head compared with
the one the latest trust list publishes). The page (``GET /operator``) only shows it.

The audit chain's walk is linear in its length, so its result is cached per audit head (sequence number and hash,
one indexed read): a load after nothing was audited reuses it, the next append walks again. The cached result is
also dropped after :data:`AUDIT_CACHE_SECONDS`, so an edit of old entries that leaves the head as it was (which only
a full walk sees) shows within that time; ``trust audit verify`` walks the chain on demand.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func
from sqlmodel import select

from trust import db
from trust.service.instance import Instance

AUDIT_CACHE_SECONDS: Final = 300.0
_audit_lock = threading.Lock()
_audit_cache: dict[int, tuple[tuple[int, str], float, Any]] = {}  # id(engine) -> (head, when, ChainReport)


def audit_chain(instance: Instance) -> Any:
    """:func:`trust.service.audit.verify` of the instance's chain, cached per audit head (module docstring)."""
    from trust.service import audit

    head = audit.head(instance.engine)
    key = id(instance.engine)
    now = time.monotonic()
    with _audit_lock:
        cached = _audit_cache.get(key)
    if cached is not None and cached[0] == head and now - cached[1] < AUDIT_CACHE_SECONDS:
        return cached[2]
    report = audit.verify(instance.engine)
    with _audit_lock:
        _audit_cache[key] = (head, now, report)
    return report


@dataclass
class CaRow:
    id: str
    name: str
    kind: str
    code: str
    family: str
    status: str
    certificates: int = 0
    revoked_certificates: int = 0
    seals: int = 0
    revoked_seals: int = 0
    licenses: int = 0
    revoked_licenses: int = 0
    suspended_licenses: int = 0


@dataclass
class Overview:
    cas: list[CaRow]
    trust_list: dict[str, Any] | None
    issuers: list[dict[str, Any]]
    audit: dict[str, Any]
    totals: dict[str, int] = field(default_factory=dict)


def _counts(session: Any, model: Any, key: Any, status: Any) -> dict[tuple[str, str], int]:
    rows = session.exec(select(key, status, func.count()).select_from(model).group_by(key, status)).all()
    return {(str(k), str(s)): int(n) for k, s, n in rows}


def gather(instance: Instance) -> Overview:
    from ca.models import CertificateAuthority, IssuedCertificate
    from licenses.models import LicenseIssuer, LicenseRecord
    from seal.models import SealRecord
    from trust.service import registry

    with db.session_scope(instance.engine, read_only=True) as session:
        cas = {
            row.id: CaRow(row.id, row.name, row.kind, row.code or "", row.family, row.status)
            for row in session.exec(select(CertificateAuthority)).all()
        }
        for (ca_id, status), n in _counts(
            session, IssuedCertificate, IssuedCertificate.issuer_id, IssuedCertificate.status
        ).items():
            if ca_id in cas:
                cas[ca_id].certificates += n
                cas[ca_id].revoked_certificates += n if status == "revoked" else 0
        for (ca_id, status), n in _counts(session, SealRecord, SealRecord.issuer_ca_id, SealRecord.status).items():
            if ca_id in cas:
                cas[ca_id].seals += n
                cas[ca_id].revoked_seals += n if status == "revoked" else 0
        issuer_ca = {row.id: row.ca_id for row in session.exec(select(LicenseIssuer)).all()}
        for (issuer_id, status), n in _counts(
            session, LicenseRecord, LicenseRecord.issuer_id, LicenseRecord.status
        ).items():
            row = cas.get(issuer_ca.get(issuer_id, ""))
            if row is not None:
                row.licenses += n
                row.revoked_licenses += n if status == "revoked" else 0
                row.suspended_licenses += n if status == "suspended" else 0
        latest = session.exec(
            select(registry.TrustListRecord).order_by(registry.TrustListRecord.sequence.desc())  # type: ignore[attr-defined]
        ).first()
    trust_list = None
    if latest is not None:
        trust_list = {
            "sequence": latest.sequence,
            "issued_at": _iso(latest.issued_at),
            "next_update": _iso(latest.next_update),
            "digest": latest.digest,
        }
    from trust.service import trust as trust_service

    chain = audit_chain(instance)
    rows = sorted(cas.values(), key=lambda r: ({"root": 0, "national": 1, "region": 2}.get(r.kind, 3), r.code, r.id))
    totals = {
        name: sum(getattr(r, name) for r in rows)
        for name in (
            "certificates",
            "revoked_certificates",
            "seals",
            "revoked_seals",
            "licenses",
            "revoked_licenses",
            "suspended_licenses",
        )
    }
    return Overview(
        cas=rows,
        trust_list=trust_list,
        issuers=trust_service.list_issuers(instance) if latest is not None else [],
        audit={
            "ok": chain.ok,
            "entries": chain.entries,
            "head_seq": chain.head_seq,
            "problem": chain.problem,
            "first_bad": chain.first_bad,
            "published_seq": chain.published_seq,
        },
        totals=totals,
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat()
