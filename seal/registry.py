"""Making seals (GB/T 38540 version 4) and keeping the seal registry, over a database session and key store.

A region creates a seal for an organisation (unified social credit code) or a person (citizen ID):

1. the seal certificates — an SM2 one under the region's SM2 CA and, for dual seals, an RSA one under its RSA CA —
   with keys generated in the key store (profile ``seal``);
2. the seal picture (round organisation seal, or square personal seal; PNG at 300 dpi);
3. ``SES_SealInfo`` (header ``ES``/4/``HUREN``, a unique esID, property with certListType 1 listing the permitted
   signer certificates, createDate/validStart/validEnd, picture, extension data) signed by the region's seal
   maker (制章者) with SM2/SM3;
4. the registry row and its first history entry (``active``).

All in the caller's transaction. esID format (decision; GB/T 38540 leaves it to the maker): the six-digit
region code, the creation date ``YYYYMMDD`` and 8 random upper-case hex digits — unique by database constraint.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session, col, select

from ca import authority
from ca.authority import Endpoints, Issued
from ca.models import CertificateAuthority, IssuedCertificate, now, utc
from ca.profiles import profile
from seal import picture
from seal.models import SealEvent, SealMaker, SealRecord
from trust.crypto.algorithms import SM2_SM3
from trust.crypto.errors import ConflictError, InputError, NotFoundError
from trust.crypto.keystore import KeyStore
from trust.formats import ses, text
from trust.formats import x509 as cx
from trust.formats.names import DN, region, validate_citizen_id, validate_uscc

VENDOR: Final = "HUREN"
SEAL_STATES: Final = ("active", "suspended", "revoked")
DEFAULT_VALIDITY: Final = timedelta(days=3 * 365)


@dataclass
class MadeSeal:
    record: SealRecord
    issued: list[Issued]  # certificates issued for it (their keys are cleaned up if the transaction fails)


def _scope(ca: CertificateAuthority) -> DN:
    return authority.ca_scope(ca.kind, ca.code, _org_of(ca))


def _org_of(ca: CertificateAuthority) -> str:
    for attr, value in cx.load_certificate(ca.cert_der).subject.native.items():
        if attr == "organization_name":
            return str(value)
    return ca.name


def ensure_seal_maker(
    session: Session, keystore: KeyStore, endpoints: Endpoints, ca_id: str
) -> tuple[SealMaker, Issued | None]:
    """The seal maker certificate (profile ``seal-maker``, SM2) of a region's SM2 CA; issued on first use."""
    maker = session.get(SealMaker, ca_id)
    if maker is not None and _maker_usable(session, maker):
        return maker, None
    # First use or renewal: serialise on the CA's row, so that concurrent transactions (other workers) make one
    # seal maker; the loser of the lock re-reads the maker the winner committed.
    session.exec(select(CertificateAuthority).where(CertificateAuthority.id == ca_id).with_for_update()).first()
    maker = session.exec(
        select(SealMaker).where(SealMaker.ca_id == ca_id).execution_options(populate_existing=True)
    ).first()
    if maker is not None and _maker_usable(session, maker):
        return maker, None
    ca = authority.get_ca(session, ca_id)
    if ca.family != "SM2":
        raise InputError(f"seal makers sign with SM2; {ca_id} is an {ca.family} CA")
    scope = _scope(ca)
    place = region(ca.code).name if ca.kind == "region" and ca.code else _org_of(ca)
    subject = DN(
        province=scope.province,
        locality=scope.locality,
        organization=scope.organization or f"{place}电子印章制作中心",
        unit="电子印章制作中心" if scope.organization else None,
        common_name=f"{place}制章者",
    )
    issued = authority.issue(
        session, keystore, endpoints, ca_id=ca_id, profile=profile("seal-maker"), subject=subject, key_family="SM2"
    )
    assert issued.record.key_id is not None
    if maker is None:
        maker = SealMaker(ca_id=ca_id, cert_serial=issued.record.serial, key_id=issued.record.key_id)
    else:
        maker.cert_serial, maker.key_id = issued.record.serial, issued.record.key_id
    session.add(maker)
    session.flush()
    return maker, issued


def _maker_usable(session: Session, maker: SealMaker) -> bool:
    record = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == maker.cert_serial)).one()
    return record.status == "valid" and utc(record.not_after) > now() + timedelta(days=30)


def _certificate(session: Session, serial: str) -> IssuedCertificate:
    record = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == serial)).first()
    if record is None:
        raise NotFoundError(f"no certificate {serial}")
    return record


def holder_division(uscc: str) -> str:
    """The GB/T 2260 division of an organisation's registration authority: characters 3–8 of its unified social
    credit code (GB 32100-2015 clause 4: registration authority, organisation category, then the administrative
    division code of the registering authority)."""
    return uscc[2:8]


def check_holder_scope(ca: CertificateAuthority, uscc: str) -> None:
    """An organisation's seal is made only by the platform its organisation belongs to (issue 11, item 3).

    * A **region** CA makes seals for organisations registered in that region: the USCC's division (characters 3–8)
      lies in the region — same province for a province (``33xxxx`` for 330000), same prefecture for a prefecture
      (``3301xx`` for 330100), the same county for a county.
    * Organisations registered at the national level (division ``100000``, e.g. State Council departments and
      national associations) belong to no province: no region makes their seals; their own department CA does.
    * A **department** CA makes seals for the department itself only (holder USCC = the department's USCC).
    Personal seals are not checked this way: the address code of a citizen ID is where it was first issued, not
    where the person lives (the region vouches for its residents)."""
    if ca.kind == "department":
        if uscc != ca.code:
            raise InputError(
                f"a department CA makes seals for its own department ({ca.code}) only, not for {uscc}",
                evidence={"holder_code": uscc, "department": ca.code},
            )
        return
    if ca.kind != "region" or ca.code is None:
        return
    division = holder_division(uscc)
    code = ca.code
    prefix = code[:2] if code.endswith("0000") else code[:4] if code.endswith("00") else code
    if not division.startswith(prefix):
        where = "registered at the national level" if division == "100000" else f"registered in division {division}"
        raise InputError(
            f"the holder {uscc} is {where}, not in region {code} ({region(code).name}): a region makes seals only "
            "for organisations registered in it",
            evidence={"holder_code": uscc, "holder_division": division, "region": code},
        )


def create_seal(
    session: Session,
    keystore: KeyStore,
    endpoints: Endpoints,
    *,
    ca_id: str,
    holder_kind: str,
    holder_name: str,
    holder_code: str,
    seal_name: str,
    seal_type: int | None = None,
    rsa_ca_id: str | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
    request_id: str | None = None,
) -> MadeSeal:
    """Make a seal (see the module docstring). ``rsa_ca_id`` adds an RSA signer certificate (dual seals)."""
    ca = authority.get_ca(session, ca_id)
    if ca.kind not in ("region", "department") or ca.family != "SM2":
        raise InputError("seals are made under a regional or departmental SM2 CA")
    text.check(holder_name, "seal holder name")
    text.check(seal_name, "seal name")
    if holder_kind == "organization":
        holder_code = validate_uscc(holder_code)
        check_holder_scope(ca, holder_code)
        design_png = picture.render_png(picture.SealDesign(holder_name, seal_name, holder_code))
        width = height = 42
    elif holder_kind == "person":
        holder_code = validate_citizen_id(holder_code)
        design_png = picture.render_personal_png(picture.PersonalSealDesign(holder_name))
        width = height = 20
    else:
        raise InputError("holder kind must be organization or person")
    if not seal_name or len(seal_name) > 32:
        raise InputError("seal name must be 1..32 characters")
    if not timedelta(days=1) <= validity <= timedelta(days=3 * 365):
        raise InputError("seal validity must be between 1 day and 3 years")
    scope = _scope(ca)
    subject = DN(
        province=scope.province,
        locality=scope.locality,
        organization=holder_name if holder_kind == "organization" else scope.organization,
        common_name=f"{holder_name}{seal_name}" if holder_kind == "organization" else holder_name,
        serial_number=holder_code,
    )
    if holder_kind == "person" and scope.organization is None:
        subject = DN(
            province=scope.province, locality=scope.locality, common_name=holder_name, serial_number=holder_code
        )
    maker, maker_issued = ensure_seal_maker(session, keystore, endpoints, ca_id)
    issued: list[Issued] = [maker_issued] if maker_issued else []
    sm2 = authority.issue(
        session,
        keystore,
        endpoints,
        ca_id=ca_id,
        profile=profile("seal"),
        subject=subject,
        key_family="SM2",
        validity=validity,
    )
    issued.append(sm2)
    certs = [sm2.record.der]
    rsa_serial = None
    if rsa_ca_id is not None:
        rsa_ca = authority.get_ca(session, rsa_ca_id)
        if rsa_ca.family != "RSA" or (rsa_ca.kind, rsa_ca.code) != (ca.kind, ca.code):
            raise InputError(f"{rsa_ca_id} is not the RSA CA of the same issuer as {ca_id}")
        rsa = authority.issue(
            session,
            keystore,
            endpoints,
            ca_id=rsa_ca_id,
            profile=profile("seal"),
            subject=subject,
            key_family="RSA",
            validity=validity,
        )
        issued.append(rsa)
        certs.append(rsa.record.der)
        rsa_serial = rsa.record.serial
    moment = now()
    start = utc(sm2.record.not_before)
    end = min(utc(sm2.record.not_after), start + validity)
    es_id = f"{(ca.code or '000000')[:6]}{moment:%Y%m%d}{secrets.token_hex(4).upper()}"
    info = ses.build_seal_info(
        vendor=VENDOR,
        es_id=es_id,
        seal_type=seal_type or (1 if holder_kind == "organization" else 2),
        name=seal_name,
        signer_certs=certs,
        create_date=moment,
        valid_start=start,
        valid_end=end,
        picture=ses.Picture("PNG", design_png, width, height),
    )
    maker_cert = _certificate(session, maker.cert_serial).der
    signature = keystore.signer(maker.key_id, SM2_SM3).sign(info.dump())
    seal_der = ses.assemble_seal(info, maker_cert, signature)
    parsed = ses.parse_seal(seal_der)
    cx.public_key(cx.load_certificate(maker_cert)).verify(parsed.signed_value, parsed.signed_bytes, SM2_SM3)
    record = SealRecord(
        es_id=es_id,
        issuer_ca_id=ca_id,
        holder_kind=holder_kind,
        holder_name=holder_name,
        holder_code=holder_code,
        name=seal_name,
        seal_type=parsed.seal_type,
        status="active",
        sm2_cert_serial=sm2.record.serial,
        rsa_cert_serial=rsa_serial,
        maker_cert_serial=maker.cert_serial,
        valid_start=start,
        valid_end=end,
        seal_der=seal_der,
        request_id=request_id,
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    session.add(SealEvent(seal_id=record.id, status="active", reason="made"))
    session.flush()
    return MadeSeal(record, issued)


def get_seal(session: Session, es_id: str) -> SealRecord:
    record = session.exec(select(SealRecord).where(SealRecord.es_id == es_id)).first()
    if record is None:
        raise NotFoundError(f"no seal {es_id!r}")
    return record


def set_status(
    session: Session, keystore: KeyStore, es_id: str, status: str, reason: str = "", *, endpoints: Endpoints
) -> SealRecord:
    """Suspend, reinstate (active) or revoke a seal, and its signer certificates with it, so that verifiers see the
    state offline in the CRL: suspending puts them on hold (``certificateHold``), reinstating takes them off hold,
    revoking revokes them for good (``cessationOfOperation``)."""
    if status not in SEAL_STATES:
        raise InputError(f"seal status must be one of {', '.join(SEAL_STATES)}")
    record = get_seal(session, es_id)
    if record.status == status:
        raise ConflictError(f"seal {es_id} is already {status}")
    if record.status == "revoked":
        raise ConflictError(f"seal {es_id} is revoked for good")
    record.status = status
    session.add(record)
    assert record.id is not None
    session.add(SealEvent(seal_id=record.id, status=status, reason=reason))
    for serial in (record.sm2_cert_serial, record.rsa_cert_serial):
        if not serial:
            continue
        cert = _certificate(session, serial)
        on_hold = cert.status == "revoked" and cert.revocation_reason == "certificate_hold"
        if status == "suspended" and cert.status == "valid":
            authority.revoke(session, keystore, serial=serial, reason="certificate_hold", endpoints=endpoints)
        elif status == "active" and on_hold:
            authority.release_hold(session, keystore, serial=serial, endpoints=endpoints)
        elif status == "revoked" and (cert.status == "valid" or on_hold):
            authority.revoke(session, keystore, serial=serial, reason="cessation_of_operation", endpoints=endpoints)
    session.flush()
    return record


def history(session: Session, es_id: str) -> list[SealEvent]:
    record = get_seal(session, es_id)
    return list(session.exec(select(SealEvent).where(SealEvent.seal_id == record.id).order_by(col(SealEvent.id))).all())


def list_seals(
    session: Session, *, ca_id: str | None = None, holder_code: str | None = None, limit: int = 100, offset: int = 0
) -> list[SealRecord]:
    query = select(SealRecord).order_by(col(SealRecord.id))
    if ca_id:
        query = query.where(SealRecord.issuer_ca_id == ca_id)
    if holder_code:
        query = query.where(SealRecord.holder_code == holder_code)
    return list(session.exec(query.offset(offset).limit(min(limit, 1000))).all())


def signer_key_ids(session: Session, record: SealRecord) -> dict[str, tuple[str, bytes]]:
    """``{family: (key id, certificate DER)}`` of the seal's signer certificates whose keys Huren holds."""
    result = {}
    for family, serial in (("SM2", record.sm2_cert_serial), ("RSA", record.rsa_cert_serial)):
        if serial:
            cert = _certificate(session, serial)
            if cert.key_id:
                result[family] = (cert.key_id, cert.der)
    return result


def is_usable(record: SealRecord, moment: datetime | None = None) -> None:
    """Raise unless the seal may be applied now (active and inside its validity window)."""
    moment = moment or now()
    if record.status != "active":
        raise ConflictError(f"seal {record.es_id} is {record.status}")
    if not utc(record.valid_start) <= moment <= utc(record.valid_end):
        raise ConflictError(f"seal {record.es_id} is outside its validity window")
