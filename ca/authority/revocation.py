"""Revocation: finding a certificate, revoking it or releasing a hold, and the CA's CRLs (current, and those of retired
signing keys).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from asn1crypto import x509 as asn1_x509
from sqlmodel import Session, col, select

from ca.authority.hierarchy import key_history
from ca.authority.keys import algorithm_for, ca_signer
from ca.authority.records import CRL_VALIDITY, ca_certificate, get_ca
from ca.models import CaKeyHistory, CertificateAuthority, CrlRecord, IssuedCertificate, now, utc
from trust.crypto.errors import ConflictError, InputError, NotFoundError
from trust.crypto.keystore import KeyStore
from trust.formats import crl as crl_mod
from trust.formats import x509 as cx


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
    session: Session, keystore: KeyStore, *, serial: str, reason: str, at: datetime | None = None
) -> tuple[IssuedCertificate, CrlRecord]:
    """Revoke a certificate (RFC 5280 reason) and publish a new CRL of its issuer in the same transaction."""
    reason = crl_mod.check_reason(reason)
    record = find_certificate(session, serial)
    if record.status == "revoked" and not (
        record.revocation_reason == "certificate_hold" and reason != "certificate_hold"
    ):  # a certificate on hold may still be revoked for good
        raise ConflictError(f"certificate {record.serial} is already revoked ({record.revocation_reason})")
    record.status = "revoked"
    record.revoked_at = (at or now()).replace(microsecond=0)
    record.revocation_reason = reason
    session.add(record)
    session.flush()
    new_crl = generate_crl(session, keystore, record.issuer_id)
    return record, new_crl


def release_hold(session: Session, keystore: KeyStore, *, serial: str) -> tuple[IssuedCertificate, CrlRecord]:
    """Take a certificate off hold (RFC 5280 ``certificateHold``): valid again, and absent from the new CRL."""
    record = find_certificate(session, serial)
    if record.status != "revoked" or record.revocation_reason != "certificate_hold":
        raise ConflictError(f"certificate {record.serial} is not on hold", evidence={"status": record.status})
    record.status = "valid"
    record.revoked_at = None
    record.revocation_reason = None
    session.add(record)
    session.flush()
    return record, generate_crl(session, keystore, record.issuer_id)


def generate_crl(session: Session, keystore: KeyStore, ca_id: str, *, validity: timedelta = CRL_VALIDITY) -> CrlRecord:
    """A new CRL for ``ca_id`` with the next CRL number (serialised by a row lock on the CA)."""
    ca = session.exec(select(CertificateAuthority).where(CertificateAuthority.id == ca_id).with_for_update()).first()
    if ca is None:
        raise NotFoundError(f"no CA {ca_id!r}")
    signer = ca_signer(keystore, ca)
    cert = ca_certificate(ca)
    moment = now()
    rows = session.exec(
        select(IssuedCertificate).where(
            IssuedCertificate.issuer_id == ca_id,
            IssuedCertificate.status == "revoked",
            col(IssuedCertificate.not_after) > moment,
        )
    ).all()
    revoked = [
        crl_mod.Revoked(int(r.serial, 16), utc(r.revoked_at or moment), r.revocation_reason or "unspecified")
        for r in rows
    ]
    number = ca.crl_number + 1
    built = crl_mod.build_crl(
        issuer=cert.subject,
        issuer_key=cx.public_key(cert),
        signer=signer,
        number=number,
        this_update=moment,
        next_update=moment + validity,
        revoked=revoked,
    )
    ca.crl_number = number
    session.add(ca)
    record = CrlRecord(ca_id=ca_id, number=number, this_update=moment, next_update=moment + validity, der=built.dump())
    session.add(record)
    for retired in retired_signing_keys(session, ca, moment):
        # The same CRL (number, times, entries) signed with a retired key: its AKI names the key that issued the
        # older certificates, which OpenSSL requires of a CRL (without -extended_crl); pyhanko takes either.
        old_cert = asn1_x509.Certificate.load(retired.cert_der)
        assert retired.key_id is not None
        retired.crl_der = crl_mod.build_crl(
            issuer=old_cert.subject,
            issuer_key=cx.public_key(old_cert),
            signer=keystore.signer(retired.key_id, algorithm_for(ca.family)),
            number=number,
            this_update=moment,
            next_update=moment + validity,
            revoked=revoked,
        ).dump()
        retired.crl_number = number
        session.add(retired)
    session.flush()
    return record


def retired_signing_keys(session: Session, ca: CertificateAuthority, moment: datetime) -> list[CaKeyHistory]:
    """The retired keys of ``ca`` that still sign its CRLs: Huren holds the key, the retired CA certificate has not
    expired, and a certificate issued before that key was retired (by it) has not expired either."""
    result = []
    for retired in key_history(session, ca.id):
        if retired.key_id is None or utc(retired.not_after) <= moment:
            continue
        still_valid = session.exec(
            select(IssuedCertificate.id).where(
                IssuedCertificate.issuer_id == ca.id,
                col(IssuedCertificate.created_at) <= retired.retired_at,
                col(IssuedCertificate.not_after) > moment,
            )
        ).first()
        if still_valid is not None:
            result.append(retired)
    return result


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
