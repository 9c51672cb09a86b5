"""Re-keying the service's signing keys other than the CAs' (issue 20 item 3): ``trust keys rekey``.

``trust ca rekey`` gives a sub-CA a new key and certificate and keeps the old one as history; this does the same for
the four other kinds of key the service signs with:

* ``tsa SM2|RSA`` — the national time-stamping unit of a family;
* ``ocsp CA_ID`` — the delegated OCSP responder of a CA;
* ``seal ES_ID`` — a seal's signer key(s) (SM2, and RSA for a dual seal): new signer certificates, and the seal
  (``SESeal``, same esID, picture, name and validity window) made again by the region's seal maker so that it lists
  them;
* ``license-issuer ISSUER_ID`` — a licence-issuer key.

Each re-key makes a new key — on the configured PKCS#11 token when ``token`` names it (RSA and EC keys only: SM2 has
no standard PKCS#11 mechanism, ``E1214``), else in the encrypted file store — and a new certificate from the same CA
with the old certificate's subject and profile, and points the service at it, in one transaction with an explicit
audit entry (``key.rekey``). The old certificate is **retired, not revoked**: its row keeps its key reference and
status ``valid``, and the trust list keeps it in the service's ``previous_certificates`` (newest first), so what it
signed before — time-stamps, OCSP responses, sealed PDFs, licence tokens — keeps verifying. The old key stays in the
key store (its certificate's row names it); ``trust keys prune`` does not touch keys a row refers to.

The TSA's and the OCSP responder's caches in other workers pick the new key at their next refresh
(``trust.service.tsa.REFRESH_SECONDS``; the OCSP cache compares the responder key id on each refresh); the calling
process's caches are dropped at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import update
from sqlmodel import Session, col, select

from ca import authority
from ca.authority import Endpoints, Issued
from ca.models import CertificateAuthority, IssuedCertificate, now, utc
from ca.profiles import profile
from trust.crypto.algorithms import SM2_SM3
from trust.crypto.errors import Code, ConfigError, ConflictError, InputError, NotFoundError
from trust.crypto.keys import PrivateKey
from trust.crypto.keystore import KeyInfo, KeyStore
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats import x509 as cx
from trust.formats.csr import DN_FIELDS
from trust.formats.names import DN, name_attributes
from trust.service import audit
from trust.service.instance import Instance

KINDS: Final = ("tsa", "ocsp", "seal", "license-issuer")


@dataclass(frozen=True)
class Rekeyed:
    """One re-key: what was re-keyed, and the retired and new certificates (serial, key id) of each key."""

    kind: str
    subject_id: str
    old: tuple[tuple[str, str | None], ...]
    new: tuple[tuple[str, str], ...]


class _Target:
    """The instance's key store for everything (signers, discards), except that new keys are made in ``into``."""

    def __init__(self, store: KeyStore, into: KeyStore) -> None:
        self.store = store
        self.into = into

    def generate(self, spec: str, *, label: str = "") -> KeyInfo:
        return self.into.generate(spec, label=label)

    def import_key(self, key: PrivateKey, *, label: str = "") -> KeyInfo:
        return self.into.import_key(key, label=label)

    def info(self, key_id: str) -> KeyInfo:
        return self.store.info(key_id)

    def list(self) -> list[KeyInfo]:
        return self.store.list()

    def signer(self, key_id: str, algorithm: object = None, **kwargs: bytes) -> Signer:
        return self.store.signer(key_id, algorithm, **kwargs)  # type: ignore[arg-type]

    def discard(self, key_id: str) -> None:
        self.store.discard(key_id)


def target(instance: Instance, token: str | None, families: tuple[str, ...]) -> KeyStore:
    """Where the new keys of ``families`` are made: the token labelled ``token`` (it must be the configured one), or
    the encrypted file store when ``token`` is ``None``."""
    from trust.crypto.pkcs11 import TokenKeyStore

    store = instance.keystore
    if token is None:
        if isinstance(store, TokenKeyStore):
            if store.files is None:
                raise ConfigError("no encrypted file store beside the token: name the token with --token")
            return _Target(store, store.files)
        return store
    if not isinstance(store, TokenKeyStore):
        raise ConfigError(
            f"--token {token}: no PKCS#11 token is configured (TRUST_PKCS11_MODULE, TRUST_PKCS11_TOKEN)",
            code=Code.REKEY_TOKEN_MISMATCH,
        )
    if store.config.token_label != token:
        raise ConfigError(
            f"--token {token}: the configured token is {store.config.token_label!r}",
            code=Code.REKEY_TOKEN_MISMATCH,
        )
    if "SM2" in families:
        raise InputError(
            "SM2 keys cannot be made on a PKCS#11 token (no standard mechanism); re-key without --token",
            code=Code.REKEY_NOT_ON_TOKEN,
        )
    return store


def subject_of(name: asn1_x509.Name) -> DN:
    """The :class:`DN` of a certificate subject Huren issued (its attributes, in Huren's order)."""
    values: dict[str, str] = {}
    for attr, value in name_attributes(name):
        field = DN_FIELDS.get(attr)
        if field is None or field in values:
            raise InputError(f"subject attribute {attr} is not one Huren issues; this certificate cannot be re-keyed")
        values[field] = value
    return DN(
        country=values.get("country", "CN"),
        province=values.get("province"),
        locality=values.get("locality"),
        organization=values.get("organization"),
        unit=values.get("unit"),
        common_name=values.get("common_name"),
        serial_number=values.get("serial_number"),
    )


def _family(record: IssuedCertificate) -> str:
    return cx.public_key(cx.load_certificate(record.der)).family.value


def _renew(
    session: Session,
    keystore: KeyStore,
    ep: Endpoints,
    old: IssuedCertificate,
    *,
    validity: timedelta | None = None,
) -> Issued:
    """A new key and a certificate for it from ``old``'s CA, with ``old``'s subject and profile; ``old`` is left
    as it is (valid, its key kept): retired, not revoked."""
    if old.status != "valid":
        raise ConflictError(f"certificate {old.serial} is {old.status}; only a valid certificate is re-keyed")
    return authority.issue(
        session,
        keystore,
        ep,
        ca_id=old.issuer_id,
        profile=profile(old.profile),
        subject=subject_of(cx.load_certificate(old.der).subject),
        key_family=_family(old),
        validity=validity,
    )


def _audit(session: Session, done: Rekeyed, token: str | None) -> None:
    audit.append(
        session,
        [
            audit.entry(
                action="key.rekey",
                subject=f"{done.kind} {done.subject_id}",
                result="ok",
                details={
                    "retired": [{"serial": s, "key_id": k} for s, k in done.old],
                    "new": [{"serial": s, "key_id": k} for s, k in done.new],
                    "where": f"token {token}" if token else "file store",
                },
            )
        ],
    )


def rekey(instance: Instance, kind: str, subject_id: str, *, token: str | None = None) -> Rekeyed:
    """Re-key the TSA of a family, a CA's OCSP responder, a seal or a licence issuer (module docstring)."""
    from trust.service import ca as ca_service
    from trust.service import trust as trust_registry
    from trust.service import tsa as tsa_service

    if kind not in KINDS:
        raise InputError(f"what to re-key must be one of {', '.join(KINDS)}, not {kind!r}")
    instance.prepare_storage()
    ep = ca_service.endpoints(instance)
    with ca_service.transaction(instance) as (session, issued):
        if kind == "tsa":
            done = _rekey_tsa(session, instance, ep, subject_id.upper(), token, issued)
            ca_service.register_tsas(session)
        elif kind == "ocsp":
            done = _rekey_ocsp(session, instance, ep, subject_id, token, issued)
            trust_registry.register_ca(session, authority.get_ca(session, subject_id))
        elif kind == "seal":
            done = _rekey_seal(session, instance, ep, subject_id, token, issued)
        else:
            done = _rekey_license_issuer(session, instance, ep, subject_id, token, issued)
        _audit(session, done, token)
        trust_registry.publish(session, instance)
    if kind == "tsa":
        tsa_service.invalidate(instance)
    return done


def _rekey_tsa(
    session: Session, instance: Instance, ep: Endpoints, family: str, token: str | None, issued: list[Issued]
) -> Rekeyed:
    from trust.service import tsa as tsa_service

    if family not in tsa_service.FAMILIES:
        raise InputError(f"the TSA is named by its family: {' or '.join(tsa_service.FAMILIES)}, not {family!r}")
    old = tsa_service.current_record(session, family)
    if old is None:
        raise NotFoundError(f"this instance has no {family} TSA certificate (trust init issues one)")
    keystore = target(instance, token, (family,))
    made = _renew(session, keystore, ep, old)
    issued.append(made)
    assert made.record.key_id is not None
    tsa_service.set_current(session, family, made.record.serial)
    return Rekeyed("tsa", family, ((old.serial, old.key_id),), ((made.record.serial, made.record.key_id),))


def _rekey_ocsp(
    session: Session, instance: Instance, ep: Endpoints, ca_id: str, token: str | None, issued: list[Issued]
) -> Rekeyed:
    ca = authority.get_ca(session, ca_id)
    if ca.kind == "root":
        raise InputError(f"{ca_id} is a national root; roots answer revocation by CRL only")
    if ca.ocsp_cert_der is None:
        raise NotFoundError(f"CA {ca_id} has no OCSP responder yet")
    if ca.key_id is None:
        raise ConflictError(f"CA {ca_id} holds no key in this instance; its OCSP responder is certified elsewhere")
    old_serial = cx.serial_hex(cx.load_certificate(ca.ocsp_cert_der).serial_number)
    old_key = ca.ocsp_key_id
    keystore = target(instance, token, (ca.family,))
    ca.ocsp_key_id = None
    ca.ocsp_cert_der = None  # the old responder certificate stays valid: retired, not revoked
    session.add(ca)
    session.flush()
    authority.ensure_ocsp_responder(session, keystore, ep, ca_id)
    assert ca.ocsp_key_id is not None and ca.ocsp_cert_der is not None
    new_serial = cx.serial_hex(cx.load_certificate(ca.ocsp_cert_der).serial_number)
    # the new key is discarded if the transaction fails (ca.authority.keys.new_key's session hooks)
    return Rekeyed("ocsp", ca_id, ((old_serial, old_key),), ((new_serial, ca.ocsp_key_id),))


def _rekey_seal(
    session: Session, instance: Instance, ep: Endpoints, es_id: str, token: str | None, issued: list[Issued]
) -> Rekeyed:
    from seal import registry as seal_registry
    from trust.service import trust as trust_registry

    record = seal_registry.get_seal(session, es_id)
    seal_registry.is_usable(record)
    if record.status != "active":
        raise ConflictError(f"seal {es_id} is {record.status}")
    ca = authority.get_ca(session, record.issuer_ca_id)
    trust_registry.check_standing(session, ca)
    olds = [authority.find_certificate(session, s) for s in (record.sm2_cert_serial, record.rsa_cert_serial) if s]
    keystore = target(instance, token, tuple(_family(o) for o in olds))
    moment = now()
    remaining = utc(record.valid_end) - moment
    if remaining <= timedelta(hours=1):
        raise ConflictError(f"seal {es_id} ends at {utc(record.valid_end).isoformat()}: make a new seal instead")
    renewed = [_renew(session, keystore, ep, old, validity=remaining) for old in olds]
    issued.extend(renewed)
    maker, maker_issued = seal_registry.ensure_seal_maker(session, instance.keystore, ep, record.issuer_ca_id)
    if maker_issued is not None:
        issued.append(maker_issued)
    previous = ses.parse_seal(record.seal_der)
    info = ses.build_seal_info(
        vendor=previous.vendor,
        es_id=record.es_id,
        seal_type=previous.seal_type,
        name=previous.name,
        signer_certs=[r.record.der for r in renewed],
        create_date=moment,
        valid_start=utc(record.valid_start),
        valid_end=min(utc(record.valid_end), *(utc(r.record.not_after) for r in renewed)),
        picture=previous.picture,
    )
    maker_cert = authority.find_certificate(session, maker.cert_serial).der
    signature = instance.keystore.signer(maker.key_id, SM2_SM3).sign(info.dump())
    seal_der = ses.assemble_seal(info, maker_cert, signature)
    parsed = ses.parse_seal(seal_der)
    cx.public_key(cx.load_certificate(maker_cert)).verify(parsed.signed_value, parsed.signed_bytes, SM2_SM3)
    record.seal_der = seal_der
    record.sm2_cert_serial = renewed[0].record.serial
    record.rsa_cert_serial = renewed[1].record.serial if len(renewed) > 1 else None
    record.maker_cert_serial = maker.cert_serial
    session.add(record)
    session.flush()
    trust_registry.register_service(
        session,
        issuer_ca=ca,
        service_id=f"{record.issuer_ca_id}-seal-maker",
        service_type="SEAL_MAKER",
        cert_der=maker_cert,
    )
    return Rekeyed(
        "seal",
        es_id,
        tuple((o.serial, o.key_id) for o in olds),
        tuple((r.record.serial, r.record.key_id or "") for r in renewed),
    )


def _rekey_license_issuer(
    session: Session, instance: Instance, ep: Endpoints, issuer_id: str, token: str | None, issued: list[Issued]
) -> Rekeyed:
    from licenses import issuance
    from licenses.models import StatusListRecord
    from trust.service import trust as trust_registry

    issuer = issuance.get_issuer(session, issuer_id)
    ca = authority.get_ca(session, issuer.ca_id)
    trust_registry.check_standing(session, ca)
    old = issuance.issuer_certificate(session, issuer)
    keystore = target(instance, token, (_family(old),))
    made = _renew(session, keystore, ep, old)
    issued.append(made)
    assert made.record.key_id is not None
    old_key = issuer.key_id
    issuer.key_id = made.record.key_id
    issuer.cert_serial = made.record.serial
    session.add(issuer)
    # every worker's cached Status List Token of this issuer was signed by the retired key: a new version of each list
    # makes them sign it again with the new key (trust.service.licenses._token compares versions)
    session.execute(
        update(StatusListRecord)
        .where(col(StatusListRecord.issuer_id) == issuer.id)
        .values(version=StatusListRecord.version + 1)
    )
    session.flush()
    trust_registry.register_service(
        session,
        issuer_ca=ca,
        service_id=f"license-issuer-{issuer.id}",
        service_type="LICENSE_ISSUER",
        cert_der=made.record.der,
        family=_family(old),
        scope={
            "license_types": json.loads(issuer.license_types),
            "authority": issuer.code,
            "issuer_id": issuer.id,
            "name": issuer.name,
        },
    )
    return Rekeyed("license-issuer", issuer_id, ((old.serial, old_key),), ((made.record.serial, made.record.key_id),))


def current_key(session: Session, kind: str, subject_id: str) -> str | None:
    """The key id the service signs with now for ``kind`` ``subject_id`` (for tests and ``trust keys show``)."""
    from licenses.models import LicenseIssuer
    from seal.models import SealRecord
    from trust.service import tsa as tsa_service

    if kind == "tsa":
        record = tsa_service.current_record(session, subject_id.upper())
        return record.key_id if record is not None else None
    if kind == "ocsp":
        ca = session.get(CertificateAuthority, subject_id)
        return ca.ocsp_key_id if ca is not None else None
    if kind == "seal":
        seal = session.exec(select(SealRecord).where(SealRecord.es_id == subject_id)).first()
        if seal is None:
            return None
        return authority.find_certificate(session, seal.sm2_cert_serial).key_id
    issuer = session.get(LicenseIssuer, subject_id)
    return issuer.key_id if issuer is not None else None
