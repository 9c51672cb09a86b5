"""The offline national root (issue 20 item 2): its machine, its ceremonies, and the service's half of each.

Two machines, two instance folders:

* **The offline machine** (``trust init --offline-root``): makes the SM2 and RSA root keys (in its key store: files,
  or a token with ``TRUST_PKCS11_*``), self-signs the root certificates, signs their first CRLs and writes only
  those certificates and CRLs to a folder. It signs nothing else except ceremony requests (``trust root sign``), after
  checking each item against :func:`check_item` and showing every field (``trust.formats.ceremony.describe``); it
  records what it signed (certificate rows, CRL numbers) in its own database.
* **The service** (``trust init --root-certificates FOLDER``): takes the root certificates and CRLs (no keys: the root
  rows have no ``key_id``), makes the national operations CA keys and one **trust list signer** key per root, and
  exports a request for their certificates. Later requests: a regional or departmental CA (``trust root request
  enrol``), the roots' CRLs (``trust root request crl``), new trust list signers (``trust root request signer``).
  ``trust root import RESPONSE`` checks each signed object against what was asked (byte for byte) and the root's
  key, then completes the operation: the CA rows, their CRLs and OCSP responders, the TSAs, the trust list.

What the service asked for and still waits for is kept under ``<home>/ceremony/pending/<id>.json`` (the request's
SHA-256 and, per item, what to do with the signed result); an imported request moves to ``ceremony/done``.

Trust lists and bundles change with every enrolment, status change and hourly audit anchor, so with an offline root
they are signed by the root's delegated trust list signer (``x5c`` = [signer, root]; a verifier pinning the root
accepts it through ``trust.formats.trustlist.check_delegate``); see ``docs/OPERATIONS.md`` ("Offline national root").
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from sqlmodel import Session, col, select

from ca import authority
from ca.authority.crls import revoked_entries
from ca.authority.keys import ca_signer, key_spec
from ca.authority.records import BACKDATE, SUB_CA_VALIDITY, ca_certificate, new_serial
from ca.models import CertificateAuthority, CrlRecord, IssuedCertificate, now, utc
from trust.crypto.algorithms import KeyFamily, SignatureAlgorithm
from trust.crypto.ecsig import SignatureEncoding
from trust.crypto.errors import Code, ConflictError, InputError, InvalidSignature, TrustError
from trust.crypto.keys import PublicKey, public_key_from_spki
from trust.crypto.oids import EKU_TRUST_LIST_SIGNING
from trust.crypto.sm2 import DEFAULT_USER_ID
from trust.formats import ceremony as fmt
from trust.formats import crl as crl_mod
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.formats.trustlist import iso
from trust.service import ca as ca_service
from trust.service import trust as trust_registry
from trust.service import tsa
from trust.service.files import atomic_write
from trust.service.instance import Instance

ROOT_CRL_VALIDITY: Final = timedelta(days=30)
"""A root CRL's validity: its renewal is a ceremony, at least monthly."""
SIGNER_VALIDITY: Final = timedelta(days=397)
"""A trust list signer certificate's validity (renewed by a ceremony, yearly)."""
REQUEST_MAX_AGE: Final = timedelta(days=30)
"""How old a request's certificates may start (``notBefore``) when the offline machine signs them."""
SIGNER_KEY: Final = {"SM2": "sm2", "RSA": "rsa-3072"}


def _refuse(message: str) -> InputError:
    return InputError(message, code=Code.CEREMONY_REQUEST_INVALID)


def _response_error(message: str) -> InputError:
    return InputError(message, code=Code.CEREMONY_RESPONSE_INVALID)


def _roots(session: Session) -> dict[str, CertificateAuthority]:
    """The national roots of this instance by the SHA-256 of their certificates."""
    rows = session.exec(select(CertificateAuthority).where(CertificateAuthority.kind == "root")).all()
    return {cx.fingerprint(ca_certificate(r)): r for r in rows}


# --- the offline machine ----------------------------------------------------------------------------------------


def init_offline_root(instance: Instance, out: Path) -> list[Path]:
    """On the offline machine: the SM2 and RSA roots (keys in this machine's key store) and their first CRLs; writes
    ``root-sm2.cer``, ``root-rsa.cer``, ``root-sm2.crl``, ``root-rsa.crl`` (DER) to ``out`` and nothing else."""
    instance.prepare_storage()
    keystore = instance.keystore
    ep = ca_service.endpoints(instance)
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    with ca_service.transaction(instance) as (session, _issued):
        if session.exec(select(CertificateAuthority.id).where(CertificateAuthority.kind == "root")).first():
            raise ConflictError("this instance already has its national roots (trust init ran before)")
        for family, ca_id in ca_service.ROOTS.items():
            root = authority.create_root(
                session, keystore, ca_id=ca_id, family=family, name=ca_service.ROOT_NAMES[family]
            )
            crl = authority.generate_crl(session, keystore, root.id, endpoints=ep, validity=ROOT_CRL_VALIDITY)
            for suffix, der in ((".cer", root.cert_der), (".crl", crl.der)):
                path = out / f"{ca_id}{suffix}"
                atomic_write(path, der)
                written.append(path)
    return written


@dataclass(frozen=True)
class Checked:
    item: fmt.Item
    root: CertificateAuthority
    lines: list[str]


def _extensions(tbs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ext in tbs["extensions"] if tbs["extensions"].native else []:
        name = ext["extn_id"].native
        if name in found:
            raise _refuse(f"extension {name} appears twice")
        found[name] = ext
    return found


def check_item(session: Session, item: fmt.Item, roots: dict[str, CertificateAuthority], moment: datetime) -> Checked:
    """The offline root's policy for one item; :attr:`Code.CEREMONY_REQUEST_INVALID` with the reason otherwise."""
    root = roots.get(item.root)
    if root is None or root.key_id is None:
        raise _refuse(f"item ({item.purpose}) names root {item.root[:16]}…, which this machine does not hold")
    what = f"item ({item.purpose}) for root {root.id}"
    lines = [f"{root.id} ({root.family}) signs:", *fmt.describe(item)]
    if item.is_crl:
        _check_crl(session, item, root, moment, what)
    else:
        _check_certificate(session, item, root, moment, what)
    return Checked(item, root, lines)


def _check_crl(session: Session, item: fmt.Item, root: CertificateAuthority, moment: datetime, what: str) -> None:
    root_cert = ca_certificate(root)
    algorithm = authority.algorithm_for(root.family)
    crl = item.crl()
    if crl["issuer"].dump() != root_cert.subject.dump():
        raise _refuse(f"{what}: the CRL's issuer is not this root")
    if crl["signature"].dump() != algorithm.x509_identifier().dump():
        raise _refuse(f"{what}: the CRL's signature algorithm is not the root's")
    extensions = {e["extn_id"].native: e for e in crl["crl_extensions"]} if crl["crl_extensions"].native else {}
    if set(extensions) != {"authority_key_identifier", "crl_number"}:
        raise _refuse(f"{what}: a root CRL carries exactly an authority key identifier and a CRL number")
    if bytes(extensions["authority_key_identifier"]["extn_value"].parsed["key_identifier"].native or b"") != (
        cx.public_key(root_cert).key_identifier()
    ):
        raise _refuse(f"{what}: the authority key identifier is not this root's")
    number = int(extensions["crl_number"]["extn_value"].parsed.native)
    if number <= root.crl_number:
        raise _refuse(f"{what}: CRL number {number} is not above {root.crl_number}, the last this root signed")
    this_update, next_update = utc(crl["this_update"].native), utc(crl["next_update"].native)
    if not moment - REQUEST_MAX_AGE <= this_update <= moment + timedelta(days=1):
        raise _refuse(f"{what}: thisUpdate {this_update.isoformat()} is not around now")
    if not this_update < next_update <= this_update + timedelta(days=93):
        raise _refuse(f"{what}: nextUpdate must follow thisUpdate by at most 93 days")
    for entry in crl["revoked_certificates"] if crl["revoked_certificates"].native else []:
        serial = cx.serial_hex(entry["user_certificate"].native)
        known = session.exec(
            select(IssuedCertificate.id).where(
                IssuedCertificate.serial == serial, IssuedCertificate.issuer_id == root.id
            )
        ).first()
        if known is None:
            raise _refuse(f"{what}: revokes serial {serial}, which this root never signed")


def _check_certificate(
    session: Session, item: fmt.Item, root: CertificateAuthority, moment: datetime, what: str
) -> None:
    root_cert = ca_certificate(root)
    algorithm = authority.algorithm_for(root.family)
    tbs = item.certificate()
    if tbs["version"].native != "v3":
        raise _refuse(f"{what}: not an X.509 v3 certificate")
    if tbs["issuer"].dump() != root_cert.subject.dump():
        raise _refuse(f"{what}: the issuer is not this root")
    if tbs["signature"].dump() != algorithm.x509_identifier().dump():
        raise _refuse(f"{what}: the signature algorithm is not the root's")
    public = public_key_from_spki(tbs["subject_public_key_info"])
    if public.family.value != root.family:
        raise _refuse(f"{what}: a {public.family.value} key under the {root.family} root")
    if public.family is KeyFamily.RSA and public.size < 3072:
        raise _refuse(f"{what}: RSA keys under a root have at least 3072 bits")
    serial = cx.serial_hex(tbs["serial_number"].native)
    if session.exec(select(IssuedCertificate.id).where(IssuedCertificate.serial == serial)).first() is not None:
        raise _refuse(f"{what}: serial {serial} was signed before (a request is signed once)")
    start, end = utc(tbs["validity"]["not_before"].native), utc(tbs["validity"]["not_after"].native)
    if not moment - REQUEST_MAX_AGE <= start <= moment + timedelta(days=1):
        raise _refuse(f"{what}: notBefore {start.isoformat()} is not around now")
    longest = SIGNER_VALIDITY if item.purpose == "trust-list-signer" else SUB_CA_VALIDITY
    if end > utc(root_cert["tbs_certificate"]["validity"]["not_after"].native) or end - start > longest:
        raise _refuse(f"{what}: validity beyond the root's or longer than {longest.days} days")
    _check_extensions(item, _extensions(tbs), root_cert, what)


def _check_extensions(item: fmt.Item, extensions: dict[str, Any], root_cert: asn1_x509.Certificate, what: str) -> None:
    for name, ext in extensions.items():
        if ext["critical"].native and name not in ("basic_constraints", "key_usage", "name_constraints"):
            raise _refuse(f"{what}: critical extension {name} is not one a root signs")
    aki = extensions.get("authority_key_identifier")
    if aki is None or bytes(aki["extn_value"].parsed["key_identifier"].native or b"") != (
        cx.public_key(root_cert).key_identifier()
    ):
        raise _refuse(f"{what}: the authority key identifier is not this root's")
    constraints = extensions.get("basic_constraints")
    usage = extensions.get("key_usage")
    if constraints is None or usage is None or not constraints["critical"].native:
        raise _refuse(f"{what}: basic constraints (critical) and key usage are required")
    bc = constraints["extn_value"].parsed
    if item.purpose in fmt.CA_PURPOSES:
        if not bc["ca"].native or bc["path_len_constraint"].native != 0:
            raise _refuse(f"{what}: a subordinate CA is a CA with path length 0")
        if set(usage["extn_value"].parsed.native) != {"key_cert_sign", "crl_sign"}:
            raise _refuse(f"{what}: a subordinate CA's key usage is keyCertSign and cRLSign")
        if "certificate_policies" not in extensions:
            raise _refuse(f"{what}: a subordinate CA names its certificate policies")
        if item.purpose != "national-ca" and "name_constraints" not in extensions:
            raise _refuse(f"{what}: a regional or departmental CA is name-constrained")
        if "extended_key_usage" in extensions:
            raise _refuse(f"{what}: a subordinate CA certificate carries no extended key usage")
    else:
        if bc["ca"].native:
            raise _refuse(f"{what}: a trust list signer is not a CA")
        if set(usage["extn_value"].parsed.native) != {"digital_signature"}:
            raise _refuse(f"{what}: a trust list signer's key usage is digitalSignature only")
        eku = extensions.get("extended_key_usage")
        if eku is None or [p.dotted for p in eku["extn_value"].parsed] != [EKU_TRUST_LIST_SIGNING]:
            raise _refuse(f"{what}: a trust list signer's extended key usage is trust list signing only")
        if "name_constraints" in extensions:
            raise _refuse(f"{what}: a trust list signer carries no name constraints")


def review(instance: Instance, data: bytes) -> tuple[fmt.Request, list[Checked]]:
    """Parse a request and check every item against the offline root's policy (nothing is signed)."""
    request = fmt.parse_request(data)
    moment = now()
    with ca_service.transaction(instance) as (session, _issued):
        roots = _roots(session)
        checked = [check_item(session, item, roots, moment) for item in request.items]
        for crl_root in {c.root.id for c in checked if c.item.is_crl}:
            if sum(1 for c in checked if c.item.is_crl and c.root.id == crl_root) > 1:
                raise _refuse(f"more than one CRL of root {crl_root} in one request")
        session.expunge_all()
    return request, checked


def sign_request(instance: Instance, data: bytes, *, confirm: Callable[[list[str]], bool]) -> bytes:
    """On the offline machine: check a request (:func:`review`), show every item to ``confirm`` (the operator), sign
    each with its root's key and record it; returns the response file's bytes."""
    request, checked = review(instance, data)
    lines = [f"ceremony request {request.id} of {iso(request.created_at)}, {len(checked)} item(s):"]
    for entry in checked:
        lines.extend(entry.lines)
    if not confirm(lines):
        raise InputError("not signed: the operator declined", code=Code.CEREMONY_REQUEST_INVALID)
    keystore = instance.keystore
    moment = now()
    signed: list[bytes] = []
    with ca_service.transaction(instance) as (session, _issued):
        roots = _roots(session)
        for entry in checked:
            root = check_item(session, entry.item, roots, moment).root  # again, under this transaction
            signer = ca_signer(keystore, root)
            root_key = cx.public_key(ca_certificate(root))
            signature = signer.sign(entry.item.tbs)
            if entry.item.is_crl:
                tbs_crl = entry.item.crl()
                crl = asn1_crl.CertificateList(
                    {"tbs_cert_list": tbs_crl, "signature_algorithm": tbs_crl["signature"], "signature": signature}
                )
                crl = asn1_crl.CertificateList.load(crl.dump())
                crl_mod.verify_crl_signature(crl, root_key)
                number = int(crl.crl_number_value.native)
                root.crl_number = number
                session.add(root)
                session.add(
                    CrlRecord(
                        ca_id=root.id,
                        number=number,
                        this_update=utc(tbs_crl["this_update"].native),
                        next_update=utc(tbs_crl["next_update"].native),
                        der=crl.dump(),
                    )
                )
                signed.append(crl.dump())
            else:
                tbs = entry.item.certificate()
                cert = asn1_x509.Certificate(
                    {"tbs_certificate": tbs, "signature_algorithm": tbs["signature"], "signature_value": signature}
                )
                cert = asn1_x509.Certificate.load(cert.dump())
                cx.verify_signature(cert, root_key)
                authority.adopt_certificate(session, root, cert, profile_name=entry.item.purpose, key_id=None)
                signed.append(cert.dump())
            session.flush()
    return fmt.Response(request.id, fmt.digest(data), tuple(signed)).dumps()


# --- the service ------------------------------------------------------------------------------------------------


class _Captured(Exception):
    def __init__(self, data: bytes):
        self.data = data


class _CaptureSigner:
    """A Signer that stops the builder at the bytes it would sign: the to-be-signed structure, exactly."""

    def __init__(self, algorithm: SignatureAlgorithm, public_key: PublicKey):
        self.algorithm = algorithm
        self.public_key = public_key
        self.user_id = DEFAULT_USER_ID

    def sign(self, data: bytes, *, encoding: SignatureEncoding = "der") -> bytes:
        raise _Captured(data)


def _ceremony_dir(instance: Instance, state: str) -> Path:
    folder = instance.settings.home / "ceremony" / state
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


@dataclass(frozen=True)
class PendingRequest:
    id: str
    path: Path
    """Where the request file was written (``<home>/ceremony/requests/<id>.json``): carry it to the offline machine."""
    items: tuple[str, ...]


def _write_request(instance: Instance, items: Sequence[tuple[fmt.Item, dict[str, Any]]]) -> PendingRequest:
    request = fmt.Request(secrets.token_hex(16), now(), tuple(item for item, _context in items))
    data = request.dumps()
    path = _ceremony_dir(instance, "requests") / f"{request.id}.json"
    atomic_write(path, data)
    pending = {"request": fmt.digest(data), "items": [context for _item, context in items]}
    atomic_write(_ceremony_dir(instance, "pending") / f"{request.id}.json", json.dumps(pending, indent=1).encode())
    return PendingRequest(request.id, path, tuple(item.purpose for item in request.items))


def _offline_root(session: Session, family: str) -> CertificateAuthority:
    root = authority.get_ca(session, ca_service.ROOTS[family])
    if root.key_id is not None:
        raise ConflictError(f"national root {root.id} is held by this service; no ceremony is needed")
    return root


def _certificate_item(root: CertificateAuthority, builder: cx.CertificateBuilder, purpose: str) -> fmt.Item:
    tbs = builder.serial_number(new_serial()).tbs(authority.algorithm_for(root.family)).dump()
    return fmt.Item(cx.fingerprint(ca_certificate(root)), purpose, tbs)


def _signer_item(instance: Instance, root: CertificateAuthority) -> tuple[fmt.Item, dict[str, Any]]:
    key = instance.keystore.generate(SIGNER_KEY[root.family], label=f"trust list signer ({root.family})")
    root_cert = ca_certificate(root)
    start = now() - BACKDATE
    builder = (
        cx.CertificateBuilder()
        .subject(
            DN(organization=ca_service.NATIONAL_ORG, common_name=f"互认国家信任列表签名 ({root.family})").to_asn1()
        )
        .issuer(root_cert.subject)
        .public_key(key.public_key)
        .validity(start, min(start + SIGNER_VALIDITY - timedelta(days=1), _not_after(root_cert)))
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage({"digital_signature"}))
        .add_extension(cx.extended_key_usage([EKU_TRUST_LIST_SIGNING]))
        .add_extension(cx.subject_key_identifier(key.public_key))
        .add_extension(cx.authority_key_identifier(cx.public_key(root_cert)))
    )
    return _certificate_item(root, builder, "trust-list-signer"), {"key_id": key.key_id}


def _not_after(cert: asn1_x509.Certificate) -> datetime:
    return utc(cert["tbs_certificate"]["validity"]["not_after"].native)


def _ca_item(
    instance: Instance,
    session: Session,
    root: CertificateAuthority,
    *,
    ca_id: str,
    kind: str,
    code: str | None,
    name: str,
    organization: str,
    public_key: PublicKey | None,
    dns_namespace: str | None = None,
) -> tuple[fmt.Item, dict[str, Any]]:
    if session.get(CertificateAuthority, ca_id) is not None:
        raise ConflictError(f"CA {ca_id} already exists")
    key_id = None
    if public_key is None:
        info = instance.keystore.generate(key_spec(root.family, ca=True), label=f"{kind} CA {ca_id}")
        key_id, public_key = info.key_id, info.public_key
    builder, _subject = authority.sub_ca_builder(
        session,
        ca_service.endpoints(instance),
        parent=root,
        kind=kind,
        code=code,
        name=name,
        organization=organization,
        public_key=public_key,
        dns_namespace=dns_namespace,
    )
    context = {"ca_id": ca_id, "kind": kind, "code": code, "name": name, "key_id": key_id}
    return _certificate_item(root, builder, f"{kind}-ca"), context


def _load_der(folder: Path, name: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {folder / name}: {exc.strerror}") from None


def init_service(instance: Instance, roots_folder: Path) -> PendingRequest:
    """On the service: take the offline roots' certificates and CRLs from ``roots_folder`` (what ``trust init
    --offline-root`` wrote), make the national operations CA keys and the trust list signer keys, and export the
    request for their certificates. The national CAs exist once the signed response is imported."""
    instance.prepare_storage()
    loaded = []
    for family, ca_id in ca_service.ROOTS.items():
        cert = cx.load_certificate(_load_der(roots_folder, f"{ca_id}.cer"))
        key = cx.public_key(cert)
        try:
            cx.verify_signature(cert, key)
        except TrustError:
            raise InputError(f"{ca_id}.cer is not self-signed") from None
        if key.family.value != family or not cert.ca or cert.subject.dump() != cert.issuer.dump():
            raise InputError(f"{ca_id}.cer is not a self-signed {family} CA certificate")
        crl = crl_mod.load_crl(_load_der(roots_folder, f"{ca_id}.crl"))
        crl_mod.verify_crl_signature(crl, key)
        loaded.append((family, ca_id, cert, crl))
    with ca_service.transaction(instance) as (session, _issued):
        if session.exec(select(CertificateAuthority.id).where(CertificateAuthority.kind == "root")).first():
            raise ConflictError("this instance already has its national roots (trust init ran before)")
        roots = []
        for family, ca_id, cert, crl in loaded:
            tbs = crl["tbs_cert_list"]
            root = CertificateAuthority(
                id=ca_id,
                kind="root",
                code=None,
                name=ca_service.ROOT_NAMES[family],
                family=family,
                key_id=None,
                parent_id=None,
                serial=cx.serial_hex(cert.serial_number),
                cert_der=cert.dump(),
                crl_number=int(crl.crl_number_value.native),
            )
            session.add(root)
            session.add(
                CrlRecord(
                    ca_id=ca_id,
                    number=root.crl_number,
                    this_update=utc(tbs["this_update"].native),
                    next_update=utc(tbs["next_update"].native),
                    der=crl.dump(),
                )
            )
            roots.append(root)
        session.flush()
        items = []
        for root in roots:
            items.append(_signer_item(instance, root))
            items.append(
                _ca_item(
                    instance,
                    session,
                    root,
                    ca_id=ca_service.NATIONAL[root.family],
                    kind="national",
                    code=None,
                    name=f"互认国家运营CA ({root.family})",
                    organization=ca_service.NATIONAL_ORG,
                    public_key=None,
                )
            )
        items[-1][1]["then"] = "init"
        ca_service.publish_ca_files(instance, session, [r.id for r in roots])
        return _write_request(instance, items)


def request_enrol(
    instance: Instance,
    *,
    kind: str,
    code: str,
    family: str,
    csr_data: bytes | None = None,
    name: str | None = None,
    organization: str | None = None,
    dns_namespace: str | None = None,
) -> PendingRequest:
    """The request for a regional or departmental CA under an offline root (``trust ca enrol``'s ceremony form)."""
    family, code, name, organization = ca_service.enrol_names(kind, code, family, name, organization)
    public_key = ca_service.enrol_key(csr_data, family)
    with ca_service.transaction(instance) as (session, _issued):
        root = _offline_root(session, family)
        item = _ca_item(
            instance,
            session,
            root,
            ca_id=ca_service.ca_id_for(kind, code, family),
            kind=kind,
            code=code,
            name=name,
            organization=organization,
            public_key=public_key,
            dns_namespace=dns_namespace,
        )
        return _write_request(instance, [item])


def request_rekey(instance: Instance, ca_id: str, csr_data: bytes | None = None) -> PendingRequest:
    """The request for a new certificate of a sub-CA under an offline root (``trust ca rekey``'s ceremony form): a new
    key (made here, or the region's from ``csr_data``); on import the old certificate retires as with ``trust ca
    rekey`` (its key keeps signing the CRL for what it issued), the CRLs are re-signed and a new OCSP responder made."""
    with ca_service.transaction(instance) as (session, _issued):
        ca = authority.get_ca(session, ca_id)
        root = authority.get_ca(session, ca.parent_id or "") if ca.parent_id else None
        if root is None or root.kind != "root" or root.key_id is not None:
            raise ConflictError(f"CA {ca_id} is not under an offline root: use trust ca rekey")
        trust_registry.check_standing(session, ca)
        public_key = ca_service.enrol_key(csr_data, ca.family)
        key_id = None
        if public_key is None:
            info = instance.keystore.generate(key_spec(ca.family, ca=True), label=f"{ca.kind} CA {ca.id} (re-keyed)")
            key_id, public_key = info.key_id, info.public_key
        builder, parent = authority.rekey_builder(session, ca, public_key)
        item = _certificate_item(parent, builder, f"{ca.kind}-ca")
        return _write_request(instance, [(item, {"rekey": ca.id, "key_id": key_id})])


def request_root_crls(instance: Instance) -> PendingRequest:
    """The request for the next CRL of each offline root: the revocations the service recorded, numbered after the
    last CRL it holds, valid :data:`ROOT_CRL_VALIDITY`."""
    moment = now()
    items: list[tuple[fmt.Item, dict[str, Any]]] = []
    with ca_service.transaction(instance) as (session, _issued):
        for family in ca_service.ROOTS:
            root = _offline_root(session, family)
            cert = ca_certificate(root)
            key = cx.public_key(cert)
            try:
                crl_mod.build_crl(
                    issuer=cert.subject,
                    issuer_key=key,
                    signer=_CaptureSigner(authority.algorithm_for(root.family), key),
                    number=root.crl_number + 1,
                    this_update=moment,
                    next_update=moment + ROOT_CRL_VALIDITY,
                    entries=revoked_entries(session, root.id, None, moment),
                )
            except _Captured as captured:
                items.append((fmt.Item(cx.fingerprint(cert), "root-crl", captured.data), {}))
        return _write_request(instance, items)


def request_signers(instance: Instance) -> PendingRequest:
    """The request for new trust list signer certificates (one per offline root): yearly, or after a compromise."""
    with ca_service.transaction(instance) as (session, _issued):
        items = [_signer_item(instance, _offline_root(session, family)) for family in ca_service.ROOTS]
        return _write_request(instance, items)


def _signed_object(
    number: int, item: fmt.Item, der: bytes, root: CertificateAuthority
) -> asn1_crl.CertificateList | asn1_x509.Certificate:
    """The signed certificate or CRL of item ``number``: exactly the structure requested, signed by ``root``."""
    root_key = cx.public_key(ca_certificate(root))
    signed: asn1_crl.CertificateList | asn1_x509.Certificate
    try:
        if item.is_crl:
            signed = asn1_crl.CertificateList.load(der, strict=True)
            same = signed["tbs_cert_list"].dump() == item.tbs
            if same:
                crl_mod.verify_crl_signature(signed, root_key)
        else:
            signed = asn1_x509.Certificate.load(der, strict=True)
            same = signed["tbs_certificate"].dump() == item.tbs
            if same:
                cx.verify_signature(signed, root_key)
    except (ValueError, TypeError, KeyError) as exc:
        kind = "CRL" if item.is_crl else "certificate"
        raise _response_error(f"item {number}: not a DER {kind}: {type(exc).__name__}") from None
    except InvalidSignature:
        raise _response_error(f"item {number}: the root's signature does not verify") from None
    if not same:
        raise _response_error(f"item {number}: the signed object is not the one requested")
    return signed


def _record_crl(session: Session, root: CertificateAuthority, crl: asn1_crl.CertificateList) -> str:
    tbs_crl = crl["tbs_cert_list"]
    crl_number = int(crl.crl_number_value.native)
    root.crl_number = max(root.crl_number, crl_number)
    session.add(root)
    session.add(
        CrlRecord(
            ca_id=root.id,
            number=crl_number,
            this_update=utc(tbs_crl["this_update"].native),
            next_update=utc(tbs_crl["next_update"].native),
            der=crl.dump(),
        )
    )
    return f"CRL {crl_number} of {root.id}"


def _adopt(
    session: Session, root: CertificateAuthority, item: fmt.Item, cert: asn1_x509.Certificate, context: dict[str, Any]
) -> tuple[str, CertificateAuthority | None]:
    if "rekey" in context:
        ca = authority.adopt_rekey(session, context["rekey"], cert, context["key_id"])
        return f"CA {ca.id} re-keyed: {cx.fingerprint(cert)}", ca
    if item.purpose == "trust-list-signer":
        authority.adopt_certificate(
            session, root, cert, profile_name=trust_registry.TRUST_LIST_SIGNER, key_id=context["key_id"]
        )
        return f"trust list signer of {root.id}: {cx.fingerprint(cert)}", None
    ca = authority.adopt_sub_ca(
        session,
        cert,
        ca_id=context["ca_id"],
        parent_id=root.id,
        kind=context["kind"],
        code=context["code"],
        name=context["name"],
        key_id=context["key_id"],
    )
    return f"CA {ca.id}: {cx.fingerprint(cert)}", ca


def import_response(instance: Instance, data: bytes) -> list[str]:
    """Complete a ceremony: check the response against the pending request and the roots' keys, then record what was
    signed and finish each operation in one transaction. Returns one line per item done."""
    response = fmt.parse_response(data)
    pending_path = _ceremony_dir(instance, "pending") / f"{response.id}.json"
    try:
        pending = json.loads(pending_path.read_text())
    except FileNotFoundError:
        raise _response_error(
            f"no pending ceremony request {response.id} (imported already, or not this service's)"
        ) from None
    if pending["request"] != response.request:
        raise _response_error("the response answers another request than the one this service exported")
    request_path = _ceremony_dir(instance, "requests") / f"{response.id}.json"
    request = fmt.parse_request(request_path.read_bytes())
    if len(response.signed) != len(request.items):
        raise _response_error(f"{len(response.signed)} signed object(s) for {len(request.items)} requested")
    keystore = instance.keystore
    ep = ca_service.endpoints(instance)
    done: list[str] = []
    with ca_service.transaction(instance) as (session, issued):
        roots = _roots(session)
        new_cas: list[CertificateAuthority] = []
        then = None
        for number, (item, der, context) in enumerate(
            zip(request.items, response.signed, pending["items"], strict=True), 1
        ):
            root = roots.get(item.root)
            if root is None:
                raise _response_error(f"item {number}: its root is not one of this service's roots")
            signed = _signed_object(number, item, der, root)
            then = context.get("then", then)
            if isinstance(signed, asn1_crl.CertificateList):
                done.append(_record_crl(session, root, signed))
                continue
            line, ca = _adopt(session, root, item, signed, context)
            done.append(line)
            if ca is not None:
                new_cas.append(ca)
            session.flush()
        for ca in new_cas:
            if ca.key_id is not None:
                authority.generate_crl(session, keystore, ca.id, endpoints=ep)
                authority.refresh_partitions(session, keystore, ca)  # a re-keyed CA's: signed with the new key
                authority.ensure_ocsp_responder(session, keystore, ep, ca.id)
        if then == "init":
            issued.extend(tsa.ensure_tsa_certificates(session, keystore, ep))
        for ca in new_cas:
            trust_registry.register_ca(session, session.get(CertificateAuthority, ca.id) or ca)
        if then == "init":
            ca_service.register_tsas(session)
        ca_service.publish_ca_files(instance, session)
        if new_cas or any(not item.is_crl for item in request.items):
            trust_registry.publish(session, instance)
    os.replace(pending_path, _ceremony_dir(instance, "done") / pending_path.name)
    tsa.invalidate(instance)  # a TSA under a re-keyed national CA hands out the new chain
    return done


def offline_roots(instance: Instance) -> list[str]:
    """The ids of this service's national roots whose keys it does not hold."""
    from trust import db

    with db.session_scope(instance.engine, read_only=True) as session:
        return list(
            session.exec(
                select(CertificateAuthority.id).where(
                    CertificateAuthority.kind == "root", col(CertificateAuthority.key_id).is_(None)
                )
            ).all()
        )
