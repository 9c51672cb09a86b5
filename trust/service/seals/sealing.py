"""Sealing PDFs with a registered seal: PAdES B-B, B-T, B-LT, B-LTA in SM2, RSA, or both (dual).

**Stable API**: :func:`seal_document` (the HTTP route and the CLI call it; the PDF verifier's tests use it to
make sealed files). The PDF work is :func:`seal.pdf.seal_pdf`; this module supplies what it needs from the
instance:

1. the seal (:mod:`seal.registry`): it must exist (``NotFoundError``), be ``active`` and inside its validity
   window (:class:`SealNotUsable`), and its issuing CA must stand ``granted`` in the trust list;
2. the signer keys of the seal's certificates (SM2; RSA for ``family="RSA"`` and ``"dual"``, which need a seal
   made with ``dual=True``), each with its chain up to the national root (``ca.authority.chain`` of the
   certificate's ``issuer_id``); a signer certificate that is not ``valid`` refuses the seal. The chain of the
   seal maker's certificate goes into the SM2 signatures' CMS too (``seal_chain``), so the SESeal can be checked
   from the file and the roots alone (an RSA CMS carries RSA certificates only);
3. the seal picture as a vector PDF (:mod:`seal.picture`, the same design as the SESeal's PNG; cached);
4. B-T and above: the instance's own TSA in-process (:func:`trust.service.tsa.timestamp`) — the SM2 TSA with SM3
   imprints for SM2 signatures, the RSA TSA with SHA-256 for RSA signatures;
5. B-LT and above: the current CRL of every CA on the chains of the signers, of the SESeal's maker (a verifier
   checks the seal's own signature too) and of the TSAs, roots included; an OCSP response
   (:func:`trust.service.ocsp.respond`) for every RSA signer and TSA certificate (not for SM2 ones: see
   :data:`OCSP_FAMILIES`); both national roots as trust anchors. At B-LTA the TSA data of both families is
   included, so a later seal can extend a time-stamp chain begun by a seal of the other family.

Nothing is stored: sealing reads the registry and the key store, and time-stamps and OCSP responses are not
recorded (``trust.service.tsa``). Bad input raises before any key, OCSP responder or TSA is used: the PDF is
checked first, then the seal, then the placement.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

from asn1crypto import x509
from sqlmodel import Session, col, select

from ca import authority
from ca.models import CertificateAuthority, IssuedCertificate
from seal import pdf as seal_pdf
from seal import picture, registry
from seal.models import SealRecord
from trust import db
from trust.crypto.errors import ConflictError, InputError, UnavailableError
from trust.formats import ocsp as ocsp_mod
from trust.formats import x509 as cx
from trust.service import ocsp as ocsp_service
from trust.service import trust as trust_registry
from trust.service import tsa as tsa_service
from trust.service.instance import Instance

Family = Literal["SM2", "RSA", "dual"]
FAMILIES: Final[tuple[str, ...]] = get_args(Family)
LEVELS: Final = seal_pdf.LEVELS
parse_box = seal_pdf.parse_box
"""``x0,y0,x1,y1`` as text -> the box :func:`seal_document` takes; the CLI and the HTTP route both parse with it."""
ROOT_IDS: Final = ("root-sm2", "root-rsa")
# OCSP responses go into the DSS for RSA chains only. pyhanko-certvalidator (0.33) checks a delegated OCSP
# responder's certificate in a validation context of its own that drops the caller's signature validator, so
# an SM2 responder certificate fails with "Curve 1.2.156.10197.1.301 is not supported" — in our signing-time
# check and in every pyHanko-based verifier. SM2 chains carry CRLs (complete for B-LT: every CA on the chain).
OCSP_FAMILIES: Final = frozenset({"RSA"})


class SealNotUsable(ConflictError):
    """The seal is suspended, revoked, outside its validity window, or cannot sign in the family asked for."""


@dataclass(frozen=True)
class _Identity:
    family: str
    key_id: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    ca_ids: tuple[str, ...]  # issuing CA first, root last


def _ca_ids(session: Session, ca_id: str) -> tuple[str, ...]:
    ids: list[str] = []
    current: CertificateAuthority | None = authority.get_ca(session, ca_id)
    while current is not None:
        ids.append(current.id)
        current = session.get(CertificateAuthority, current.parent_id) if current.parent_id else None
    return tuple(ids)


def _partition_crls(session: Session, certificates: Sequence[x509.Certificate]) -> tuple[bytes, ...]:
    """The CRLs of the partitions the given certificates belong to (``ca.authority.crls``; each CA's main CRL is
    added apart)."""
    serials = {cx.serial_hex(c.serial_number) for c in certificates}
    rows = session.exec(
        select(IssuedCertificate).where(
            col(IssuedCertificate.serial).in_(sorted(serials)), col(IssuedCertificate.crl_shard).is_not(None)
        )
    ).all()
    return tuple(dict.fromkeys(authority.covering_crl(session, row) for row in rows))


def _load_seal(
    instance: Instance, es_id: str, family: str, *, long_term: bool
) -> tuple[SealRecord, list[_Identity], list[x509.Certificate]]:
    """The usable seal, its signer identities, its maker's chain (identity ``maker``) and, for B-LT/B-LTA, the
    national roots."""
    wanted = ["SM2", "RSA"] if family == "dual" else [family]
    with db.session_scope(instance.engine) as session:
        record = registry.get_seal(session, es_id)
        try:
            registry.is_usable(record)
        except ConflictError as exc:
            raise SealNotUsable(exc.message, evidence={"es_id": es_id, "status": record.status}) from exc
        trust_registry.check_standing(session, authority.get_ca(session, record.issuer_ca_id))
        keys = registry.signer_key_ids(session, record)
        serials = {"SM2": record.sm2_cert_serial, "RSA": record.rsa_cert_serial}
        identities = []
        for fam in wanted:
            if fam not in keys:
                raise SealNotUsable(
                    f"seal {es_id} has no {fam} signer certificate"
                    + (" (it was made without dual=True)" if fam == "RSA" else ""),
                    evidence={"es_id": es_id, "family": fam},
                )
            row = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == serials[fam])).one()
            if row.status != "valid":
                raise SealNotUsable(
                    f"the {fam} signer certificate of seal {es_id} is {row.status}",
                    evidence={"es_id": es_id, "serial": row.serial},
                )
            key_id, der = keys[fam]
            chain = authority.chain(session, row.issuer_id)
            identities.append(
                _Identity(fam, key_id, x509.Certificate.load(der), tuple(chain), _ca_ids(session, row.issuer_id))
            )
        maker = session.exec(
            select(IssuedCertificate).where(IssuedCertificate.serial == record.maker_cert_serial)
        ).one()
        identities.append(  # the SESeal maker's chain: a verifier checks the seal's own signature too
            _Identity(
                "maker",
                "",
                x509.Certificate.load(maker.der),
                tuple(authority.chain(session, maker.issuer_id)),
                _ca_ids(session, maker.issuer_id),
            )
        )
        roots = [authority.ca_certificate(authority.get_ca(session, rid)) for rid in ROOT_IDS] if long_term else []
        session.expunge(record)
    return record, identities, roots


# --- seal pictures ---------------------------------------------------------------------------------------------

_PICTURES: OrderedDict[tuple[str, str, str, str], bytes] = OrderedDict()
_PICTURES_LOCK = threading.Lock()
_PICTURES_MAX: Final = 64


def appearance_for(record: SealRecord) -> bytes:
    """The seal picture as a one-page vector PDF (the design of the SESeal's PNG), cached per design."""
    key = (record.holder_kind, record.holder_name, record.name, record.holder_code)
    with _PICTURES_LOCK:
        cached = _PICTURES.get(key)
        if cached is not None:
            _PICTURES.move_to_end(key)
            return cached
    if record.holder_kind == "organization":
        rendered = picture.render_pdf(picture.SealDesign(record.holder_name, record.name, record.holder_code))
    else:
        rendered = picture.render_personal_pdf(picture.PersonalSealDesign(record.holder_name))
    with _PICTURES_LOCK:
        _PICTURES[key] = rendered
        while len(_PICTURES) > _PICTURES_MAX:
            _PICTURES.popitem(last=False)
    return rendered


# --- time-stamps and revocation data ---------------------------------------------------------------------------


def timestamper(instance: Instance, family: str) -> seal_pdf.CallableTimeStamper:
    """A pyHanko time-stamper over this instance's ``family`` TSA, in-process."""

    def respond(request_der: bytes) -> bytes:
        return tsa_service.timestamp(instance, request_der, family)

    return seal_pdf.CallableTimeStamper(respond, name=f"{family} TSA")


def _ocsp_response(instance: Instance, certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    request = ocsp_mod.build_request([ocsp_mod.CertId.for_certificate(issuer, certificate.serial_number)])
    response = ocsp_service.respond(instance, request)
    status = ocsp_mod.response_status(response)
    if status != "successful":
        raise UnavailableError(f"the OCSP responder answered {status} for {certificate.subject.human_friendly}")
    return response


def revocation_data(
    instance: Instance, identities: Sequence[_Identity], tsa_families: Sequence[str], roots: Sequence[x509.Certificate]
) -> seal_pdf.RevocationData:
    """Current CRLs of every CA on the chains of the signers, the SESeal's maker and the TSAs; OCSP responses for
    the RSA signer and TSA certificates (:data:`OCSP_FAMILIES`); those chains' certificates; both national roots
    as anchors."""
    ca_ids: dict[str, None] = {}
    ocsps: list[bytes] = []
    certificates: list[x509.Certificate] = []
    for identity in identities:
        ca_ids.update(dict.fromkeys(identity.ca_ids))
        certificates.extend(identity.chain)
        if identity.family in OCSP_FAMILIES:
            ocsps.append(_ocsp_response(instance, identity.certificate, identity.chain[0]))
    tsa_certs: list[tuple[str, x509.Certificate, x509.Certificate]] = []
    with db.session_scope(instance.engine) as session:  # read everything, then ask the OCSP responder
        for family in tsa_families:
            record = tsa_service.current_record(session, family)
            if record is None:
                raise UnavailableError(f"this instance has no {family} TSA certificate (trust init issues one)")
            ca_ids.update(dict.fromkeys(_ca_ids(session, record.issuer_id)))
            tsa_chain = authority.chain(session, record.issuer_id)
            tsa_cert = x509.Certificate.load(record.der)
            certificates.extend([tsa_cert, *tsa_chain])
            tsa_certs.append((family, tsa_cert, tsa_chain[0]))
        crls = tuple(authority.current_crl(session, ca_id).der for ca_id in ca_ids) + _partition_crls(
            session, [*certificates, *(identity.certificate for identity in identities)]
        )
    for family, tsa_cert, issuer in tsa_certs:
        if family in OCSP_FAMILIES:
            ocsps.append(_ocsp_response(instance, tsa_cert, issuer))
    return seal_pdf.RevocationData(
        crls=crls, ocsps=tuple(ocsps), certificates=tuple(certificates), trust_roots=tuple(roots)
    )


# --- the operation ---------------------------------------------------------------------------------------------


def seal_document(
    instance: Instance,
    pdf_bytes: bytes,
    *,
    es_id: str,
    level: str = "B-B",
    family: str = "SM2",
    page: int | None = None,
    box: tuple[float, float, float, float] | None = None,
    anchor: str | None = None,
    size: float | None = None,
    occurrence: int = 1,
    field_name: str | None = None,
    reason: str | None = None,
    log_proof: bool = False,
) -> bytes:
    """Seal ``pdf_bytes`` with seal ``es_id`` and return the sealed PDF.

    ``level``: ``B-B`` | ``B-T`` | ``B-LT`` | ``B-LTA``. ``family``: ``SM2`` | ``RSA`` | ``dual`` (SM2 then RSA,
    one visible seal; see :mod:`seal.pdf`). Placement: ``page`` (from 1; -1 = last) and ``box`` (points,
    ``x0, y0, x1, y1``), or ``anchor`` text (optionally on ``page``; the seal is centred on it, ``size`` points
    wide, default the picture's 42 mm), or ``page`` alone (bottom-right corner, 56 pt from the edges); with
    none of them the seal is invisible. ``field_name`` defaults to ``SealN``. ``log_proof``: the DSS carries each
    signer certificate's inclusion proof in the transparency log (issue 19; a checkpoint is signed first when the
    latest does not cover them), which the verifier checks."""
    known_level = next((known for known in LEVELS if known == level), None)
    if known_level is None:
        raise InputError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if family not in FAMILIES:
        raise InputError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    placement = None
    if box is not None or anchor is not None or page is not None:
        placement = seal_pdf.Placement(page=page, box=box, anchor=anchor, size=size, occurrence=occurrence)
    elif size is not None:
        raise seal_pdf.PlacementError("a size without a page, box or anchor places nothing")
    document = seal_pdf.open_pdf(pdf_bytes)  # fail fast on a bad file, before keys, OCSP and the TSA are used
    long_term = level in ("B-LT", "B-LTA")
    record, loaded, roots = _load_seal(instance, es_id, family, long_term=long_term)
    identities = [i for i in loaded if i.family != "maker"]
    (maker,) = [i for i in loaded if i.family == "maker"]
    appearance = appearance_for(record) if placement is not None else None
    if placement is not None:  # resolved (anchor searched, box checked) before any key, OCSP or TSA is used
        index, box = seal_pdf.resolve_placement(document, placement, appearance)
        placement = seal_pdf.Placement(page=index + 1, box=box)
    keystore = instance.keystore
    timestamped = level != "B-B"
    signers = [
        seal_pdf.SealSigner(
            signer=keystore.signer(i.key_id, authority.algorithm_for(i.family)),
            certificate=i.certificate,
            chain=i.chain,
            timestamper=timestamper(instance, i.family) if timestamped else None,
        )
        for i in identities
    ]
    revocation = None
    if long_term:
        tsa_families = ["SM2", "RSA"] if level == "B-LTA" else [i.family for i in identities]
        revocation = revocation_data(instance, loaded, tsa_families, roots)
    proofs = _log_proofs(instance, [i.certificate for i in identities]) if log_proof else []
    return seal_pdf.seal_pdf(
        document,
        signers,
        log_proofs=proofs,
        seal_der=record.seal_der,
        seal_chain=maker.chain,
        appearance=appearance,
        placement=placement,
        level=known_level,
        revocation=revocation,
        field_name=field_name,
        reason=reason,
    )


def _log_proofs(instance: Instance, certificates: Sequence[x509.Certificate]) -> list[bytes]:
    """The inclusion proofs (``trust log prove`` JSON) of ``certificates`` to the latest checkpoint, signing one now
    if the latest does not cover them all; a certificate the log does not hold is E1804."""
    import hashlib
    import json

    from trust.service import tlog

    leaves = [tlog.find(instance, digest=hashlib.sha256(c.dump()).hexdigest()) for c in certificates]
    record = tlog.latest_checkpoint(instance)
    if record is None or any(leaf.idx >= record.size for leaf in leaves):
        record = tlog.checkpoint(instance)
    return [json.dumps(tlog.prove(instance, leaf, record).to_json(), separators=(",", ":")).encode() for leaf in leaves]


__all__ = ["FAMILIES", "LEVELS", "SealNotUsable", "appearance_for", "revocation_data", "seal_document", "timestamper"]
