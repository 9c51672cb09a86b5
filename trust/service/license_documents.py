"""Licence PDFs: the printable licence face (:mod:`licenses.document`), sealed by the issuing authority.

* :func:`issue_pdf` — loads a licence, renders its face (fields, validity, authority, the QR code with the
  ``HR1:`` payload, the full token attached as ``license.jwt``) and seals it with the issuing authority's seal,
  centred on ``发证机关：<authority>``, at PAdES B-LT or B-LTA (long-term: the time-stamp, the certificates, CRLs
  and OCSP responses a verifier needs are in the file, so it verifies offline for as long as the algorithms hold).
* :func:`ensure_authority_seal` — the authority's seal ``证照专用章`` (organisation seal: holder = the
  authority's name and unified social credit code, made under the SM2 CA of the issuer's region or department,
  with an RSA signer certificate too when that region has an RSA CA, so ``family="RSA"`` and ``"dual"`` work).
  One seal per authority (its USCC), shared by its SM2, RSA and ECDSA issuer keys; a new one is made when the
  last one is revoked, suspended or expired (request id ``license-authority-seal:<USCC>:<n>``, so two first calls
  at once make one seal).

Decisions:

* **The QR token.** Issuance returns and stores it (``license.qr_token``). :func:`issue_pdf` prints the QR token it
  is given (checked: the issuer's signature, the licence's claims, each field it carries equal to the licence's)
  or the stored one, when it fits a QR code
  of version 25 at level M; otherwise it signs one again with the issuer's key — same claims, the fields
  :func:`licenses.issuance.qr_fields` keeps — and only while the key that signed the licence is still the issuer's,
  its certificate valid and its CA in good standing (``ConflictError`` otherwise).
* **RS256 licences**: a 256-byte signature makes the QR code of the seeded types version 26 or 27. The QR token of
  the face then leaves out further fields, longest first and never the holder's, bound by ``_digest`` exactly as
  issuance leaves out long free text (a scanned code verifies and lists the omitted fields; the face and the
  attached token show them all). SM2 and ES256 licences need no more than issuance does (versions 22–23).
* **The authority's seal** is the one recorded on its issuers (``license_issuer.seal_es_id``) while it is
  usable; otherwise one found by the authority's code and name (:func:`trust.service.seals.list_seals`) or a new
  one, which is then recorded on every issuer of that authority.
* No PDF is issued for a revoked or suspended licence (``ConflictError``), and none below B-LT: a licence outlives
  the certificates of its seal, so the validation data must be in the file.

Nothing is stored by :func:`issue_pdf` except, the first time, the authority's seal. :func:`issue_ofd` is the same
licence as an OFD file (GB/T 36905), sealed with a GB/T 38540 signature (GB/T 33190 clause 18).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from sqlmodel import select

from ca import authority
from ca.models import CertificateAuthority
from licenses import document, issuance
from licenses.models import LicenseIssuer
from seal import registry
from seal.models import SealRecord
from trust import db
from trust.crypto.errors import Code, ConflictError, InputError, TrustError
from trust.crypto.keys import PublicKey
from trust.formats import jose, license_face
from trust.formats import license_catalogue as catalogue
from trust.formats import license_token as token
from trust.formats import x509 as cx
from trust.service import seals
from trust.service import trust as trust_registry
from trust.service.ca import ca_id_for
from trust.service.instance import Instance
from trust.service.seals import sealing

AUTHORITY_SEAL_NAME: Final = "证照专用章"
LEVELS: Final = ("B-LT", "B-LTA")
SEAL_REASON: Final = "电子证照签发"


def _usable(record: SealRecord, dual: bool) -> bool:
    try:
        registry.is_usable(record)
    except TrustError:
        return False
    return not dual or record.rsa_cert_serial is not None


def ensure_authority_seal(instance: Instance, issuer_id: str) -> str:
    """The esID of the issuing authority's usable licence seal, made now if it has none."""
    with db.session_scope(instance.engine, read_only=True) as session:
        issuer = issuance.get_issuer(session, issuer_id)
        ca = authority.get_ca(session, issuer.ca_id)
        if ca.kind not in ("region", "department") or not ca.code:
            raise InputError(f"licence issuer {issuer_id} is not certified by a regional or departmental CA")
        sm2_ca_id = ca_id_for(ca.kind, ca.code, "SM2")
        if session.get(CertificateAuthority, sm2_ca_id) is None:
            raise ConflictError(
                f"{ca.kind} {ca.code} has no SM2 CA: seals are made under an SM2 CA (enrol {sm2_ca_id} first)",
                evidence={"ca_id": sm2_ca_id},
            )
        dual = session.get(CertificateAuthority, ca_id_for(ca.kind, ca.code, "RSA")) is not None
        name, code = issuer.name, issuer.code
        stored = issuer.seal_es_id
    candidates = seals.list_seals(instance, ca_id=sm2_ca_id, holder_code=code, limit=1000)
    if stored:
        preferred = [r for r in candidates if r.es_id == stored]
        candidates = preferred + [r for r in candidates if r.es_id != stored]
    else:
        candidates = list(reversed(candidates))  # newest first
    ours = [
        r
        for r in candidates
        if r.name == AUTHORITY_SEAL_NAME and r.holder_kind == "organization" and r.holder_name == name
    ]
    for record in ours:
        if _usable(record, dual):
            _remember(instance, code, record.es_id)
            return record.es_id
    made = seals.create(
        instance,
        ca_id=sm2_ca_id,
        holder_kind="organization",
        holder_name=name,
        holder_code=code,
        seal_name=AUTHORITY_SEAL_NAME,
        dual=dual,
        request_id=f"license-authority-seal:{code}:{len(ours) + 1}",  # two concurrent first calls make one seal
    )
    _remember(instance, code, made.es_id)
    return made.es_id


def _remember(instance: Instance, code: str, es_id: str) -> None:
    """Record the authority's seal on all its issuers (SM2, RSA, EC keys), in one transaction."""
    with db.session_scope(instance.engine) as session:
        for issuer in session.exec(select(LicenseIssuer).where(LicenseIssuer.code == code)).all():
            if issuer.seal_es_id != es_id:
                issuer.seal_es_id = es_id
                session.add(issuer)


def _fitting_qr_token(
    body: dict[str, Any],
    license_type: catalogue.LicenseType,
    fields: dict[str, Any],
    sign: Callable[[dict[str, Any]], str],
) -> str:
    """The QR token of the face: the fields :func:`licenses.issuance.qr_fields` keeps; when its ``HR1:`` form needs
    a QR code above version 25 (RS256: a 256-byte signature), the longest further fields are left out too — never
    the holder's — and bound by ``_digest`` as at issuance, until it fits."""
    holder = {license_type.holder_name_field, license_type.holder_code_field}
    kept = issuance.qr_fields(license_type, fields)
    omitted = list(kept.get("_omitted", []))
    candidates = sorted(
        (name for name in fields if name not in omitted and name not in holder),
        key=lambda name: len(json.dumps(fields[name], ensure_ascii=False).encode()),
        reverse=True,
    )
    while True:
        qr_body = json.loads(json.dumps(body))
        qr_body["license"]["fields"] = kept
        qr = sign(qr_body)
        if token.qr_version(token.to_qr(qr)) <= document.MAX_QR_VERSION:
            return qr
        if not candidates:
            raise InputError(
                f"the QR code of this licence needs more than version {document.MAX_QR_VERSION}, even with only the "
                "holder's fields",
                code=Code.INPUT_TOO_LARGE,
            )
        omitted.append(candidates.pop(0))
        kept = {name: value for name, value in fields.items() if name not in omitted}
        kept["_digest"] = token.fields_digest(fields)
        kept["_omitted"] = sorted(omitted)


def _check_qr_token(qr: str, full: str, key: PublicKey) -> None:
    """A QR token handed in must be the issuer's QR form of this very licence: signed by the issuer key, the same
    claims as the full token, each field it carries equal to the licence's, and any ``_digest`` the digest of the
    licence's fields."""
    _header, body = token.parse_unverified(full)
    try:
        verified = jose.verify_compact(qr, lambda _h: key, algorithms=tuple(jose.ACCEPTED_ALGORITHMS))
        claims = json.loads(verified.payload)
    except (TrustError, ValueError) as exc:
        raise InputError(f"the QR token does not verify with the licence issuer's key: {exc}") from None
    license = claims.get("license") if isinstance(claims, dict) else None
    if not isinstance(license, dict) or not isinstance(license.get("fields"), dict):
        raise InputError("the QR token is not the QR form of this licence")
    fields = body["license"]["fields"]
    carried = dict(license["fields"])
    digest = carried.pop("_digest", None)
    carried.pop("_omitted", None)
    same_claims = {**claims, "license": {**license, "fields": None}} == {
        **body,
        "license": {**body["license"], "fields": None},
    }
    fields_agree = all(fields.get(name) == value for name, value in carried.items()) and (
        digest == token.fields_digest(fields) if digest is not None else carried == fields
    )
    if not same_claims or not fields_agree:
        raise InputError("the QR token is not the QR form of this licence")


def _qr_token(instance: Instance, identifier: str, given: str | None) -> tuple[str, str, str, str]:
    """``(token, QR token, issuer id, authority name)`` of a valid licence. The QR token is ``given`` (checked) or the
    stored one when it fits the face, else signed again (:func:`_fitting_qr_token`)."""
    with db.session_scope(instance.engine, read_only=True) as session:
        record = issuance.get_license(session, identifier)
        if record.status != "valid":
            raise ConflictError(
                f"licence {identifier} is {record.status}: no licence PDF is issued for it",
                evidence={"status": record.status},
            )
        issuer = issuance.get_issuer(session, record.issuer_id)
        cert = issuance.issuer_certificate(session, issuer)
        if given:
            _check_qr_token(given, record.token, cx.public_key(cx.load_certificate(cert.der)))
        candidate = given or record.qr_token
        if candidate and token.qr_version(token.to_qr(candidate)) <= document.MAX_QR_VERSION:
            return record.token, candidate, issuer.id, issuer.name
        trust_registry.check_standing(session, authority.get_ca(session, issuer.ca_id))
        prepared = issuance.prepare_issuer(session, instance.keystore, issuer.id)
        header, body = token.parse_unverified(record.token)
        if header.get("kid") != prepared.kid:
            raise ConflictError(
                f"licence issuer {issuer.id} has another key than the one that signed licence {identifier}; its QR "
                "code cannot be made again",
                evidence={"kid": header.get("kid"), "current_kid": prepared.kid},
            )
        qr = _fitting_qr_token(
            body,
            catalogue.get(record.type_code),
            json.loads(record.fields),
            lambda claims: token.sign(claims, prepared.signer, kid=prepared.kid),
        )
        return record.token, qr, issuer.id, issuer.name


def issue_pdf(
    instance: Instance, identifier: str, *, level: str = "B-LT", family: str = "SM2", qr_token: str | None = None
) -> bytes:
    """The sealed licence PDF of licence ``identifier``.

    ``level``: ``B-LT`` or ``B-LTA``; ``family``: ``SM2``, ``RSA`` or ``dual`` (the seal's signature, independent of
    the token's algorithm); ``qr_token``: the QR token issuance returned (``IssuedLicense.qr_token``), printed as it
    is when it fits a QR code of version 25 (otherwise, or when not given, the QR token is signed again). Raises
    ``NotFoundError`` for an unknown licence, ``ConflictError`` for a revoked or suspended one or an issuer that can
    no longer sign, ``InputError`` for a bad level or family, a QR token of another licence, or a face that cannot
    be printed."""
    if level not in LEVELS:
        raise InputError(f"licence PDFs are sealed at {' or '.join(LEVELS)} (long-term), not {level!r}")
    if family not in sealing.FAMILIES:
        raise InputError(f"family must be one of {', '.join(sealing.FAMILIES)}, not {family!r}")
    full, qr, issuer_id, authority_name = _qr_token(instance, identifier, qr_token)
    pdf = document.render_token(full, qr_payload=token.to_qr(qr), issuer_name=authority_name)
    es_id = ensure_authority_seal(instance, issuer_id)
    return sealing.seal_document(
        instance,
        pdf,
        es_id=es_id,
        level=level,
        family=family,
        anchor=license_face.authority_anchor(authority_name),
        reason=SEAL_REASON,
    )


def issue_ofd(instance: Instance, identifier: str, *, qr_token: str | None = None, timestamp: bool = True) -> bytes:
    """The licence ``identifier`` as an OFD electronic licence file (GB/T 36905, :mod:`licenses.ofd`): the face of the
    licence PDF, the metadata and the token attached, sealed by the issuing authority's seal centred on
    ``发证机关：<authority>`` (:func:`trust.service.seals.ofd.seal_document`, GB/T 38540 SES_Signature, time-stamped by
    the national SM2 TSA unless ``timestamp`` is false). The same refusals as :func:`issue_pdf`."""
    from licenses import ofd as licence_ofd
    from trust.service.seals import ofd as ofd_sealing

    full, qr, issuer_id, authority_name = _qr_token(instance, identifier, qr_token)
    ofd = licence_ofd.render_token(full, qr_payload=token.to_qr(qr), issuer_name=authority_name)
    es_id = ensure_authority_seal(instance, issuer_id)
    return ofd_sealing.seal_document(
        instance, ofd, es_id=es_id, anchor=license_face.authority_anchor(authority_name), timestamp=timestamp
    )


__all__ = ["AUTHORITY_SEAL_NAME", "ensure_authority_seal", "issue_ofd", "issue_pdf"]
