"""Issuing licences over a database session and the key store (the licence authority's operations).

Issuer setup (:func:`ensure_issuer`): an issuing authority (发证机关, identified by its USCC) gets a
licence-issuer certificate (profile ``license-issuer``) from its region's or department's CA, with a key in the
key store — SM2 under an SM2 CA; RSA or ECDSA P-256 under an RSA CA — and a list of licence types it may issue
(published as the scope of its ``LICENSE_ISSUER`` service in the trust list by the service layer).

Issuance (:func:`issue`), in the caller's transaction: check the issuer may issue the type; validate the fields
against the catalogue; derive the holder and the validity window; take the next serial of the issuer and the
next index of its current status list (row locks, so concurrent workers never share one; unique constraints
back them up); build the GB/T 36904 identifier; sign the token (``kid`` and ``x5t#S256``; the ``x5c`` form on
request, ``token_form``), the QR token (``kid`` only; long free-text fields the catalogue marks
``x-huren-qr: false`` are replaced by a digest of the full field set) and the SD-JWT VC (every licence field
selectively disclosable); store the record and its first history entry.

Serial format (decision): the year of issue (in Beijing) and a 7-digit sequence per issuing authority (shared by
its SM2, RSA and EC issuer keys), ``2026`` + ``0000001``, like the
real identifiers (``20230000403``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ca import authority
from ca.authority import Endpoints, Issued
from ca.models import IssuedCertificate, now, utc
from ca.profiles import profile
from licenses.models import LicenseEvent, LicenseIssuer, LicenseRecord, StatusListRecord
from trust.crypto import jwk
from trust.crypto.algorithms import RSA_PKCS1_SHA256, SignatureAlgorithm
from trust.crypto.errors import Code, ConflictError, InputError, NotFoundError
from trust.crypto.keystore import KeyStore
from trust.crypto.signer import Signer
from trust.formats import identifiers, sdjwt, status_list
from trust.formats import license_catalogue as catalogue
from trust.formats import license_token as token
from trust.formats import x509 as cx
from trust.formats.names import DN, validate_uscc
from trust.formats.sdjwt import vc

STATUS_LIST_SIZE: Final = 1 << 17  # 131,072 licences per list: 32 KiB at 2 bits before compression
STATUS_VALUES: Final = {
    "valid": status_list.Status.VALID,
    "revoked": status_list.Status.INVALID,
    "suspended": status_list.Status.SUSPENDED,
}
CHINA: Final = 8  # licence dates are Beijing time (UTC+8)


@dataclass
class IssuerSetup:
    issuer: LicenseIssuer
    issued: Issued | None


def issuer_id_for(ca_id: str, code: str, family: str) -> str:
    scope = ca_id.split("-")[1] if ca_id.count("-") >= 2 else ca_id
    return f"{scope}-{code}-{family.lower()}"


def ensure_issuer(
    session: Session,
    keystore: KeyStore,
    endpoints: Endpoints,
    *,
    ca_id: str,
    name: str,
    code: str,
    license_types: list[str],
    family: str = "SM2",
) -> IssuerSetup:
    """Register (or update the licence types of) an issuing authority with a licence-issuer key."""
    code = validate_uscc(code)
    for type_code in license_types:
        catalogue.get(type_code)
    family = family.upper()
    ca = authority.get_ca(session, ca_id)
    if ca.kind not in ("region", "department"):
        raise InputError("licence issuers are certified by a regional or departmental CA")
    if (family == "SM2") != (ca.family == "SM2") or family not in ("SM2", "RSA", "EC"):
        raise InputError(f"a {family} licence-issuer key is certified by an SM2 CA for SM2, an RSA CA for RSA or EC")
    issuer_id = issuer_id_for(ca_id, code, family)
    existing = session.get(LicenseIssuer, issuer_id)
    if existing is not None:
        existing.license_types = json.dumps(sorted(set(license_types)))
        session.add(existing)
        session.flush()
        return IssuerSetup(existing, None)
    scope = authority.ca_scope(ca.kind, ca.code, _organization(ca))
    subject = DN(
        province=scope.province,
        locality=scope.locality,
        organization=scope.organization or name,
        unit=name if scope.organization else None,
        common_name=f"{name}证照签发",
    )
    issued = authority.issue(
        session, keystore, endpoints, ca_id=ca_id, profile=profile("license-issuer"), subject=subject, key_family=family
    )
    assert issued.record.key_id is not None
    record = LicenseIssuer(
        id=issuer_id,
        name=name,
        code=code,
        ca_id=ca_id,
        key_id=issued.record.key_id,
        cert_serial=issued.record.serial,
        license_types=json.dumps(sorted(set(license_types))),
    )
    session.add(record)
    session.flush()
    return IssuerSetup(record, issued)


def _organization(ca: Any) -> str:
    subject = cx.load_certificate(ca.cert_der).subject.native
    return str(subject.get("organization_name", ca.name))


def get_issuer(session: Session, issuer_id: str) -> LicenseIssuer:
    issuer = session.get(LicenseIssuer, issuer_id)
    if issuer is None:
        raise NotFoundError(f"no licence issuer {issuer_id!r}")
    return issuer


def issuer_certificate(session: Session, issuer: LicenseIssuer) -> IssuedCertificate:
    record = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == issuer.cert_serial)).first()
    if record is None:
        raise NotFoundError(f"licence issuer {issuer.id} has no certificate")
    return record


def algorithm_for(family: str) -> SignatureAlgorithm | None:
    """The JOSE algorithm of an issuer key: SM2 for SM2, RS256 for RSA, ES256 (the key default) for EC."""
    return RSA_PKCS1_SHA256 if family == "RSA" else None


def issuer_signer(keystore: KeyStore, issuer: LicenseIssuer, family: str) -> Signer:
    return keystore.signer(issuer.key_id, algorithm_for(family))


def _status_uri(base_url: str, issuer_id: str, number: int) -> str:
    return f"{base_url}/statuslists/{issuer_id}/{number}"


def _allocate_index(session: Session, issuer: LicenseIssuer, base_url: str) -> tuple[StatusListRecord, int]:
    """The next free index of the issuer's current status list; a full list opens the next one. The increment is
    one atomic ``UPDATE ... RETURNING`` (SQLite 3.35+, PostgreSQL), so concurrent workers never share an index; two
    workers opening the same next list meet on the unique ``(issuer_id, number)`` and the loser takes the winner's."""
    for _ in range(3):
        current = session.exec(
            select(StatusListRecord)
            .where(StatusListRecord.issuer_id == issuer.id)
            .order_by(col(StatusListRecord.number).desc())
        ).first()
        if current is not None:
            row = session.execute(
                text(
                    "UPDATE status_list SET next_index = next_index + 1 WHERE id = :id AND next_index < size "
                    "RETURNING next_index - 1"
                ),
                {"id": current.id},
            ).first()
            if row is not None:
                return current, int(row[0])
        number = (current.number if current is not None else 0) + 1
        try:
            with session.begin_nested():
                session.add(
                    StatusListRecord(
                        issuer_id=issuer.id,
                        number=number,
                        uri=_status_uri(base_url, issuer.id, number),
                        bits=2,
                        size=STATUS_LIST_SIZE,
                        next_index=0,
                    )
                )
                session.flush()
        except IntegrityError:
            continue  # another transaction opened list ``number`` first: take an index from it
    raise ConflictError(f"could not allocate a status list index for {issuer.id}")


def _next_serial(session: Session, issuer: LicenseIssuer, moment: datetime) -> str:
    """The next serial of the issuing authority (shared by all its issuer keys): one atomic increment."""
    session.execute(
        text("INSERT INTO license_authority (code, next_serial) VALUES (:code, 1) ON CONFLICT (code) DO NOTHING"),
        {"code": issuer.code},
    )
    row = session.execute(
        text("UPDATE license_authority SET next_serial = next_serial + 1 WHERE code = :code RETURNING next_serial - 1"),
        {"code": issuer.code},
    ).first()
    if row is None:
        raise NotFoundError(f"no licence authority {issuer.code!r}")
    sequence = int(row[0])
    if sequence > 9_999_999:
        raise ConflictError(f"licence issuer {issuer.id} has used all serial numbers")
    return f"{(moment.astimezone(UTC) + timedelta(hours=CHINA)).year}{sequence:07d}"  # the year in Beijing


def _china_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC) - timedelta(hours=CHINA)


def qr_fields(license_type: catalogue.LicenseType, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields carried by the QR token: all but those the catalogue marks ``x-huren-qr: false``; when any
    are left out, ``_digest`` (base64url SHA-256 of the canonical JSON of the full field set) binds the rest."""
    omitted = [
        name for name, spec in license_type.properties.items() if spec.get("x-huren-qr") is False and name in fields
    ]
    if not omitted:
        return dict(fields)
    kept = {k: v for k, v in fields.items() if k not in omitted}
    kept["_digest"] = token.fields_digest(fields)
    kept["_omitted"] = sorted(omitted)
    return kept


@dataclass(frozen=True)
class PreparedIssuer:
    """What issuing for one authority needs, looked up once (a batch reuses it for every record)."""

    issuer: LicenseIssuer
    license_types: frozenset[str]
    signer: Signer
    kid: str
    x5c: tuple[bytes, ...]


def prepare_issuer(session: Session, keystore: KeyStore, issuer_id: str) -> PreparedIssuer:
    issuer = get_issuer(session, issuer_id)
    cert_record = issuer_certificate(session, issuer)
    if cert_record.status != "valid":
        raise ConflictError(f"licence issuer {issuer.id}'s certificate is {cert_record.status}")
    ca = authority.get_ca(session, issuer.ca_id)
    signer = issuer_signer(keystore, issuer, cert_record.family)
    return PreparedIssuer(
        issuer=issuer,
        license_types=frozenset(json.loads(issuer.license_types)),
        signer=signer,
        kid=jwk.thumbprint(signer.public_key),
        x5c=(cert_record.der, ca.cert_der),
    )


def _vct(license_type: catalogue.LicenseType, base_url: str) -> tuple[str, str]:
    """The SD-JWT VC ``vct`` of a licence type and the integrity of its type metadata document (what
    ``GET /vct/<code>`` serves and the bundle carries; :mod:`trust.formats.sdjwt.vc`)."""
    vct = vc.vct_for(base_url, license_type.code)
    cached = _VCT_INTEGRITY.get(vct)
    if cached is None:
        cached = vc.integrity(vc.encode(vc.license_type_metadata(license_type, vct)))
        if len(_VCT_INTEGRITY) < 1024:
            _VCT_INTEGRITY[vct] = cached
    return vct, cached


_VCT_INTEGRITY: dict[str, str] = {}


@dataclass
class IssuedLicense:
    record: LicenseRecord
    qr_token: str


def issue(
    session: Session,
    keystore: KeyStore,
    *,
    base_url: str,
    issuer_id: str,
    type_code: str,
    fields: Mapping[str, Any],
    holder_code: str | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    prepared: PreparedIssuer | None = None,
    token_form: str = token.DEFAULT_TOKEN_FORM,
) -> IssuedLicense:
    form = token.check_form(token_form)
    prepared = prepared or prepare_issuer(session, keystore, issuer_id)
    issuer = prepared.issuer
    license_type = catalogue.get(type_code)
    if license_type.code not in prepared.license_types:
        raise InputError(
            f"issuer {issuer.name} ({issuer.id}) is not authorised for {license_type.name} ({license_type.code})",
            code=Code.INVALID_INPUT,
        )
    checked = catalogue.validate_fields(license_type, fields)
    holder_name = str(checked[license_type.holder_name_field])
    code = checked.get(license_type.holder_code_field) if license_type.holder_code_field else holder_code
    if code is None:
        raise InputError(f"{license_type.name} needs the holder's code (citizen ID or USCC) given separately")
    code = identifiers.validate_holder(str(code), license_type.holder_code_type)
    if holder_code is not None and license_type.holder_code_field and holder_code != code:
        raise InputError("holder code disagrees with the licence fields")
    moment = now()
    today = (moment + timedelta(hours=CHINA)).date()
    start, end = license_type.validity.window(valid_from or today, valid_until)
    serial = _next_serial(session, issuer, moment)
    identifier = identifiers.make(license_type.code, issuer.code, serial, 1)
    status_record, index = _allocate_index(session, issuer, base_url)
    not_before = _china_midnight(start)
    not_after = _china_midnight(end + timedelta(days=1)) if end else None
    body = token.claims(
        issuer_id=issuer.id,
        identifier=identifier,
        type_code=license_type.code,
        issuer_code=issuer.code,
        holder_kind=license_type.holder_kind,
        holder_name=holder_name,
        holder_code=code,
        holder_code_type=license_type.holder_code_type.value,
        fields=checked,
        issued_at=moment,
        valid_from=not_before,
        valid_until=not_after,
        status_uri=status_record.uri,
        status_index=index,
    )
    signer = prepared.signer
    chain = prepared.x5c if form == "x5c" else ()
    full = token.sign(body, signer, kid=prepared.kid, certificate=prepared.x5c[0], x5c=chain)
    qr_body = json.loads(json.dumps(body))
    qr_body["license"]["fields"] = qr_fields(license_type, checked)
    qr = token.sign(qr_body, signer, kid=prepared.kid)
    sd_claims = json.loads(json.dumps(body))
    sd_claims["vct"], sd_claims["vct#integrity"] = _vct(license_type, base_url)
    sd = sdjwt.issue(
        sd_claims,
        [("license", "fields", name) for name in checked],
        signer,
        headers={"typ": "dc+sd-jwt", "kid": prepared.kid},
        holder_jwk=holder_jwk,
    )
    record = LicenseRecord(
        identifier=identifier,
        type_code=license_type.code,
        issuer_id=issuer.id,
        holder_kind=license_type.holder_kind,
        holder_name=holder_name,
        holder_code=code,
        fields=json.dumps(checked, ensure_ascii=False),
        issued_at=moment,
        valid_from=not_before,
        valid_until=not_after,
        status="valid",
        status_list_id=status_record.id or 0,
        status_index=index,
        token=full,
        sd_jwt=sd,
        qr_token=qr,
        request_id=request_id,
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    session.add(LicenseEvent(license_id=record.id, status="valid", reason="issued"))
    return IssuedLicense(record, qr)


def get_license(session: Session, identifier: str) -> LicenseRecord:
    record = session.exec(select(LicenseRecord).where(LicenseRecord.identifier == identifier)).first()
    if record is None:
        raise NotFoundError(f"no licence {identifier!r}")
    return record


def set_status(session: Session, identifier: str, status: str, reason: str = "") -> LicenseRecord:
    """Revoke (for good), suspend, or reinstate (``valid``) a licence; its status list changes with it."""
    if status not in STATUS_VALUES:
        raise InputError(f"licence status must be one of {', '.join(STATUS_VALUES)}")
    record = get_license(session, identifier)
    if record.status == "revoked":
        raise ConflictError(f"licence {identifier} is revoked for good")
    if record.status == status:
        raise ConflictError(f"licence {identifier} is already {status}")
    record.status = status
    session.add(record)
    assert record.id is not None
    session.add(LicenseEvent(license_id=record.id, status=status, reason=reason))
    session.execute(text("UPDATE status_list SET version = version + 1 WHERE id = :id"), {"id": record.status_list_id})
    session.flush()
    return record


def status_list_token(
    session: Session, keystore: KeyStore, list_id: int, *, ttl: int = 3600, validity: timedelta = timedelta(hours=24)
) -> tuple[StatusListRecord, str]:
    """A freshly signed Status List Token for one list (2 bits per licence)."""
    row = session.get(StatusListRecord, list_id)
    if row is None:
        raise NotFoundError(f"no status list {list_id}")
    issuer = get_issuer(session, row.issuer_id)
    values = status_list.StatusList(bits=row.bits, size=row.size)
    for index, state in session.exec(
        select(LicenseRecord.status_index, LicenseRecord.status).where(
            LicenseRecord.status_list_id == list_id, LicenseRecord.status != "valid"
        )
    ).all():
        values.set(index, int(STATUS_VALUES[state]))
    family = issuer_certificate(session, issuer).family
    signer = issuer_signer(keystore, issuer, family)
    moment = now()
    text = status_list.make_token(
        values, row.uri, signer, iat=moment, exp=moment + validity, ttl=ttl, kid=jwk.thumbprint(signer.public_key)
    )
    return row, text


def find_status_list(session: Session, issuer_id: str, number: int) -> StatusListRecord:
    """List ``number`` of ``issuer_id``: one probe of the unique ``(issuer_id, number)`` index."""
    row = session.exec(
        select(StatusListRecord).where(StatusListRecord.issuer_id == issuer_id, StatusListRecord.number == number)
    ).first()
    if row is None:
        raise NotFoundError(f"no status list {number} of issuer {issuer_id}")
    return row


def utc_date(value: datetime) -> datetime:
    return utc(value)


def shared_sd_jwt(
    session: Session,
    keystore: KeyStore,
    record: LicenseRecord,
    *,
    base_url: str,
    audience: str,
    audience_jwk: Mapping[str, Any],
    fields: Sequence[str] | None,
) -> tuple[str, list[str]]:
    """The SD-JWT VC of an issued licence for licence sharing (issue 21): signed afresh by its issuer with the same
    claims (identifier, ``iat`` of issue, validity, status list entry), bound to the requesting service — ``aud`` its
    entity identifier and ``cnf.jwk`` its federation key — and carrying the disclosures of ``fields`` only (None:
    every field). Returns the SD-JWT and the names of the fields disclosed."""
    prepared = prepare_issuer(session, keystore, record.issuer_id)
    license_type = catalogue.get(record.type_code)
    stored = json.loads(record.fields)
    status_row = session.get(StatusListRecord, record.status_list_id)
    if status_row is None:
        raise NotFoundError(f"licence {record.identifier} has no status list")
    body = token.claims(
        issuer_id=record.issuer_id,
        identifier=record.identifier,
        type_code=record.type_code,
        issuer_code=prepared.issuer.code,
        holder_kind=record.holder_kind,
        holder_name=record.holder_name,
        holder_code=record.holder_code,
        holder_code_type=license_type.holder_code_type.value,
        fields=stored,
        issued_at=utc(record.issued_at),
        valid_from=utc(record.valid_from),
        valid_until=utc(record.valid_until) if record.valid_until else None,
        status_uri=status_row.uri,
        status_index=record.status_index,
    )
    sd_claims = json.loads(json.dumps(body))
    sd_claims["vct"], sd_claims["vct#integrity"] = _vct(license_type, base_url)
    sd_claims["aud"] = audience
    issued = sdjwt.issue(
        sd_claims,
        [("license", "fields", name) for name in stored],
        prepared.signer,
        headers={"typ": "dc+sd-jwt", "kid": prepared.kid},
        holder_jwk=audience_jwk,
    )
    chosen = sorted(stored) if fields is None else sorted(name for name in fields if name in stored)
    presented = sdjwt.present(issued, [("license", "fields", name) for name in chosen])
    return str(presented), chosen
