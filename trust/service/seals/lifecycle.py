"""Seal operations of the national service: make, change state, read — each one transaction.

Seal makers are registered as ``SEAL_MAKER`` services of their issuer in the trust list (so a verifier
anywhere can tell that a seal was made by an authorised maker at its creation date).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from ca import authority
from seal import registry
from seal.models import SealEvent, SealMaker, SealRecord
from trust import db
from trust.crypto.errors import ConflictError
from trust.crypto.keystore import KeyStore
from trust.service import idempotency
from trust.service import registry as trust_list
from trust.service import trust as trust_registry
from trust.service.ca import endpoints, publish_crl_of, transaction
from trust.service.instance import Instance


def create(
    instance: Instance,
    *,
    ca_id: str,
    holder_kind: str,
    holder_name: str,
    holder_code: str,
    seal_name: str,
    dual: bool = False,
    validity_days: int | None = None,
    request_id: str | None = None,
    fingerprint: idempotency.Fingerprint | None = None,
) -> SealRecord:
    """Make a seal; idempotent by ``request_id`` (a ``fingerprint`` makes another request under it a conflict:
    :mod:`trust.service.idempotency`)."""
    keystore = instance.keystore
    request = (ca_id, holder_code, seal_name)
    if request_id is not None:
        if fingerprint is not None:
            idempotency.check(instance, request_id, fingerprint)
        existing = _replayed(instance, request_id, request)
        if existing is not None:
            return existing
    try:
        return _create(
            instance,
            keystore,
            ca_id=ca_id,
            holder_kind=holder_kind,
            holder_name=holder_name,
            holder_code=holder_code,
            seal_name=seal_name,
            dual=dual,
            validity_days=validity_days,
            request_id=request_id,
            fingerprint=fingerprint,
        )
    except (IntegrityError, idempotency.KeyTaken):
        # a concurrent request with the same idempotency key committed first: answer with its seal
        if request_id is not None and fingerprint is not None:
            idempotency.check(instance, request_id, fingerprint)
        existing = _replayed(instance, request_id, request) if request_id is not None else None
        if existing is None:
            raise
        return existing


def _replayed(instance: Instance, request_id: str, request: tuple[str, str, str]) -> SealRecord | None:
    """The seal already made for ``request_id``; the same key for a different seal is a conflict."""
    with db.session_scope(instance.engine, read_only=True) as session:
        existing = session.exec(select(SealRecord).where(SealRecord.request_id == request_id)).first()
    if existing is None:
        return None
    if (existing.issuer_ca_id, existing.holder_code, existing.name) != request:
        raise ConflictError(
            f"request id {request_id!r} was used for another seal",
            evidence={"request_id": request_id, "es_id": existing.es_id},
        )
    return existing


def _create(
    instance: Instance,
    keystore: KeyStore,
    *,
    ca_id: str,
    holder_kind: str,
    holder_name: str,
    holder_code: str,
    seal_name: str,
    dual: bool,
    validity_days: int | None,
    request_id: str | None,
    fingerprint: idempotency.Fingerprint | None = None,
) -> SealRecord:
    with transaction(instance) as (session, issued):
        if request_id is not None and fingerprint is not None:
            idempotency.record(session, request_id, fingerprint)
        ca = authority.get_ca(session, ca_id)
        trust_registry.check_standing(session, ca)
        rsa_ca_id = ca_id.removesuffix("-sm2") + "-rsa" if dual else None
        made = registry.create_seal(
            session,
            keystore,
            endpoints(instance),
            ca_id=ca_id,
            holder_kind=holder_kind,
            holder_name=holder_name,
            holder_code=holder_code,
            seal_name=seal_name,
            rsa_ca_id=rsa_ca_id,
            validity=timedelta(days=validity_days) if validity_days else registry.DEFAULT_VALIDITY,
            request_id=request_id,
        )
        issued.extend(made.issued)
        maker = session.get(SealMaker, ca_id)
        assert maker is not None
        maker_cert = registry._certificate(session, maker.cert_serial)
        changed = trust_registry.register_service(
            session, issuer_ca=ca, service_id=f"{ca_id}-seal-maker", service_type="SEAL_MAKER", cert_der=maker_cert.der
        )
        if changed or trust_list.latest(session) is None:
            trust_registry.publish(session, instance)  # a new seal maker (certificate) is listed at once
        return made.record


def set_status(instance: Instance, es_id: str, status: str, reason: str = "") -> SealRecord:
    """Suspend, reinstate or revoke a seal; the new CRLs of its signer certificates' CAs are published at once."""
    with transaction(instance) as (session, _issued):
        record = registry.set_status(session, instance.keystore, es_id, status, reason, endpoints=endpoints(instance))
        for serial in (record.sm2_cert_serial, record.rsa_cert_serial):
            if serial:
                publish_crl_of(instance, session, authority.find_certificate(session, serial))
        return record


def get(instance: Instance, es_id: str) -> SealRecord:
    with db.session_scope(instance.engine) as session:
        return registry.get_seal(session, es_id)


def history(instance: Instance, es_id: str) -> list[SealEvent]:
    with db.session_scope(instance.engine) as session:
        return registry.history(session, es_id)


def list_seals(
    instance: Instance, *, ca_id: str | None = None, holder_code: str | None = None, limit: int = 100, offset: int = 0
) -> list[SealRecord]:
    with db.session_scope(instance.engine, read_only=True) as session:
        return registry.list_seals(session, ca_id=ca_id, holder_code=holder_code, limit=limit, offset=offset)
