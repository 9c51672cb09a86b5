"""Revocation: finding a certificate, revoking it or releasing a hold (the CRL that covers it re-signed in the same
transaction, :mod:`ca.authority.crls`), and the CA's current main CRLs (and those of retired signing keys).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from ca.authority import crls
from ca.authority.crls import generate_crl, main_crl
from ca.authority.hierarchy import key_history
from ca.authority.records import Endpoints, get_ca
from ca.models import CaKeyHistory, CertificateAuthority, CrlRecord, CrlShard, IssuedCertificate, now
from trust.crypto.errors import ConflictError, InputError, NotFoundError
from trust.crypto.keystore import KeyStore
from trust.formats import crl as crl_mod


def find_certificate(session: Session, serial: str) -> IssuedCertificate:
    normalised = serial.lower().removeprefix("0x").lstrip("0") or "0"
    try:
        int(normalised, 16)
    except ValueError:
        raise InputError(f"serial number {serial!r} is not hexadecimal") from None
    record = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == normalised)).first()
    if record is None:
        record = session.exec(
            select(IssuedCertificate).where(IssuedCertificate.serial == normalised.rjust(2, "0"))
        ).first()
    if record is None:
        raise NotFoundError(f"no certificate with serial {serial}")
    return record


def revoke(
    session: Session,
    keystore: KeyStore,
    *,
    serial: str,
    reason: str,
    endpoints: Endpoints,
    at: datetime | None = None,
) -> tuple[IssuedCertificate, CrlRecord | CrlShard]:
    """Revoke a certificate (RFC 5280 reason) and, in the same transaction, re-sign the CRL that covers it: its
    partition's (:mod:`ca.authority.crls`), or the CA's main CRL."""
    reason = crl_mod.check_reason(reason)
    record = find_certificate(session, serial)
    issuer = session.get(CertificateAuthority, record.issuer_id)
    offline_root = issuer is not None and issuer.kind == "root" and issuer.key_id is None
    listed = record.status == "revoked"  # on hold: its entry changes, the partition is rebuilt
    if listed and not (
        record.revocation_reason == "certificate_hold" and reason != "certificate_hold"
    ):  # a certificate on hold may still be revoked for good
        raise ConflictError(f"certificate {record.serial} is already revoked ({record.revocation_reason})")
    record.status = "revoked"
    record.revoked_at = (at or now()).replace(microsecond=0)
    record.revocation_reason = reason
    session.add(record)
    session.flush()
    if offline_root:  # recorded now; the root's next CRL (a ceremony: trust root request crl) carries it
        return record, main_crl(session, record.issuer_id)
    return record, _resign(session, keystore, record, endpoints=endpoints, appended=not listed)


def release_hold(
    session: Session, keystore: KeyStore, *, serial: str, endpoints: Endpoints
) -> tuple[IssuedCertificate, CrlRecord | CrlShard]:
    """Take a certificate off hold (RFC 5280 ``certificateHold``): valid again, and absent from the new CRL."""
    record = find_certificate(session, serial)
    if record.status != "revoked" or record.revocation_reason != "certificate_hold":
        raise ConflictError(f"certificate {record.serial} is not on hold", evidence={"status": record.status})
    record.status = "valid"
    record.revoked_at = None
    record.revocation_reason = None
    session.add(record)
    session.flush()
    return record, _resign(session, keystore, record, endpoints=endpoints, appended=False)


def _resign(
    session: Session, keystore: KeyStore, record: IssuedCertificate, *, endpoints: Endpoints, appended: bool
) -> CrlRecord | CrlShard:
    if record.crl_shard is None:
        return generate_crl(session, keystore, record.issuer_id, endpoints=endpoints)
    if appended:
        return crls.add_to_partition(session, keystore, record)
    return crls.rebuild_partition(session, keystore, get_ca(session, record.issuer_id), record.crl_shard)


def retired_crls(session: Session, ca: CertificateAuthority) -> list[tuple[CaKeyHistory, bytes]]:
    """The current CRLs signed with retired keys of ``ca`` (those signed together with its latest CRL)."""
    return [
        (h, h.crl_der)
        for h in key_history(session, ca.id)
        if h.crl_der is not None and h.crl_number == ca.crl_number and ca.crl_number > 0
    ]


def current_crl(session: Session, ca_id: str) -> CrlRecord:
    get_ca(session, ca_id)
    record = session.exec(
        select(CrlRecord).where(CrlRecord.ca_id == ca_id).order_by(col(CrlRecord.number).desc())
    ).first()
    if record is None:
        raise NotFoundError(f"CA {ca_id} has not published a CRL yet")
    return record
