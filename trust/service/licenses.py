"""Licence operations of the national service: issuers, issuance, status changes, status lists.

* :func:`register_issuer` — an issuing authority gets its licence-issuer key and certificate and becomes a
  ``LICENSE_ISSUER`` service of its region/department in the trust list, with the licence types it may issue as
  the service's scope (so verifiers anywhere judge "issuer authorised for the type at issue time").
* :func:`issue` — one licence (token, QR token, SD-JWT), idempotent by ``request_id``.
* :func:`set_status` — revoke, suspend, reinstate; the issuer's Status List Token changes with it.
* :func:`status_list_token` — the signed Status List Token of a list (cached until the list changes).
"""

from __future__ import annotations

import json
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from sqlmodel import Session, col, select

from ca import authority
from licenses import issuance
from licenses.models import LicenseEvent, LicenseIssuer, LicenseRecord, StatusListRecord
from trust import db
from trust.crypto.errors import Code, ConflictError, InputError, TrustError
from trust.formats import license_catalogue as catalogue
from trust.formats.sdjwt import vc
from trust.service import idempotency
from trust.service import trust as trust_registry
from trust.service.ca import endpoints, transaction
from trust.service.files import atomic_write
from trust.service.instance import Instance
from trust.service.sharing import directory


@dataclass
class BatchRecord:
    """One record of a batch: ``error`` is set when the record could not even be read (``(code, message)``)."""

    line: int
    request_id: str
    type_code: str = ""
    fields: Mapping[str, Any] | None = None
    holder_code: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    error: tuple[str, str] | None = None


@dataclass
class BatchResult:
    line: int
    request_id: str
    outcome: str  # issued | skipped | error
    identifier: str | None = None
    code: str | None = None
    message: str = ""


@dataclass
class BatchSummary:
    issued: int = 0
    skipped: int = 0
    errors: int = 0

    def count(self, result: BatchResult) -> None:
        if result.outcome == "issued":
            self.issued += 1
        elif result.outcome == "skipped":
            self.skipped += 1
        else:
            self.errors += 1


# instance -> status list id -> (list version, signed at (monotonic seconds), token). One entry per list: a new
# version replaces the old one. Keyed by the instance object held weakly (not ``id(instance)``: a later instance
# can get a dead one's id, and with it that instance's tokens, signed by other keys for the same list ids). A token
# is signed again after STATUS_TOKEN_REFRESH seconds even when the list did not change, so the public route and the
# offline bundle never serve a token near its ``exp`` (24 h).
_token_cache: weakref.WeakKeyDictionary[Instance, dict[int, tuple[int, float, str]]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()
STATUS_TOKEN_REFRESH = 3600.0  # the token's ttl: a relying party re-fetches after an hour
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)  # a licence's end is computed (+ months, + 1 day): leave headroom below date.max


def _check_dates(valid_from: date | None, valid_until: date | None) -> None:
    """Validity dates within :data:`EARLIEST_DATE`..:data:`LATEST_DATE` (InputError, before anything is reserved).
    Dates near ``date.max`` overflowed the validity arithmetic into a 500 (found by the HTTP fuzz test)."""
    for name, value in (("valid_from", valid_from), ("valid_until", valid_until)):
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise InputError(
                f"{name} {value.isoformat()} is outside {EARLIEST_DATE.isoformat()}..{LATEST_DATE.isoformat()}",
                evidence={"field": name},
            )


def register_issuer(
    instance: Instance, *, ca_id: str, name: str, code: str, license_types: list[str], family: str = "SM2"
) -> LicenseIssuer:
    keystore = instance.keystore
    with transaction(instance) as (session, issued):
        ca = authority.get_ca(session, ca_id)
        trust_registry.check_standing(session, ca)
        setup = issuance.ensure_issuer(
            session,
            keystore,
            endpoints(instance),
            ca_id=ca_id,
            name=name,
            code=code,
            license_types=license_types,
            family=family,
        )
        if setup.issued is not None:
            issued.append(setup.issued)
        cert = issuance.issuer_certificate(session, setup.issuer)
        changed = trust_registry.register_service(
            session,
            issuer_ca=ca,
            service_id=f"license-issuer-{setup.issuer.id}",
            service_type="LICENSE_ISSUER",
            cert_der=cert.der,
            family=family,
            scope={
                "license_types": json.loads(setup.issuer.license_types),
                "authority": setup.issuer.code,
                "issuer_id": setup.issuer.id,
                "name": name,
            },
        )
        if changed:
            trust_registry.publish(session, instance)
        return setup.issuer


def issue(
    instance: Instance,
    *,
    issuer_id: str,
    type_code: str,
    fields: Mapping[str, Any],
    holder_code: str | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    fingerprint: idempotency.Fingerprint | None = None,
    token_form: str = "compact",  # noqa: S107 (a token form, not a secret)
) -> issuance.IssuedLicense:
    _check_dates(valid_from, valid_until)
    if request_id is not None:
        if fingerprint is not None:
            idempotency.check(instance, request_id, fingerprint)
        with db.session_scope(instance.engine) as session:
            existing = session.exec(select(LicenseRecord).where(LicenseRecord.request_id == request_id)).first()
            if existing is not None:
                return _replayed(existing, type_code, issuer_id)
    keystore = instance.keystore
    directory_key = directory.directory_key(instance)
    try:
        with transaction(instance) as (session, _issued):
            if request_id is not None and fingerprint is not None:
                idempotency.record(session, request_id, fingerprint)
            issuer = issuance.get_issuer(session, issuer_id)
            trust_registry.check_standing(session, authority.get_ca(session, issuer.ca_id))
            made = issuance.issue(
                session,
                keystore,
                base_url=instance.settings.effective_public_url,
                issuer_id=issuer_id,
                type_code=type_code,
                fields=fields,
                holder_code=holder_code,
                valid_from=valid_from,
                valid_until=valid_until,
                holder_jwk=holder_jwk,
                request_id=request_id,
                token_form=token_form,
            )
            directory.index(session, directory_key, made.record, instance.settings.effective_public_url)
            return made
    except Exception:
        if request_id is None:
            raise
        if fingerprint is not None:
            idempotency.check(instance, request_id, fingerprint)
        with db.session_scope(instance.engine) as session:  # a concurrent request with the same key won
            existing = session.exec(select(LicenseRecord).where(LicenseRecord.request_id == request_id)).first()
        if existing is None:
            raise
        return _replayed(existing, type_code, issuer_id)


def _replayed(existing: LicenseRecord, type_code: str, issuer_id: str) -> issuance.IssuedLicense:
    from trust.crypto.errors import ConflictError

    if existing.type_code != type_code or existing.issuer_id != issuer_id:
        raise ConflictError(
            f"request id {existing.request_id!r} was used for another licence",
            evidence={"identifier": existing.identifier},
        )
    return issuance.IssuedLicense(existing, qr_token=existing.qr_token or "")


def set_status(instance: Instance, identifier: str, status: str, reason: str = "") -> LicenseRecord:
    directory_key = directory.directory_key(instance)
    with transaction(instance) as (session, _issued):
        record = issuance.set_status(session, identifier, status, reason)
        directory.index(session, directory_key, record, instance.settings.effective_public_url)
    publish_status_lists(instance, record.issuer_id)  # after the commit: the files show what the database holds
    trust_registry.republish_bundle(instance)  # the bundle carries the status lists
    return record


def get(instance: Instance, identifier: str) -> LicenseRecord:
    with db.session_scope(instance.engine, read_only=True) as session:
        return issuance.get_license(session, identifier)


def history(instance: Instance, identifier: str) -> list[LicenseEvent]:
    with db.session_scope(instance.engine, read_only=True) as session:
        record = issuance.get_license(session, identifier)
        return list(session.exec(select(LicenseEvent).where(LicenseEvent.license_id == record.id)).all())


def status_list_token(instance: Instance, issuer_id: str, number: int) -> str:
    """The signed Status List Token of list ``number`` of ``issuer_id``; re-signed when the list changed."""
    with db.session_scope(instance.engine, read_only=True) as session:
        row = issuance.find_status_list(session, issuer_id, number)
        return _token(instance, session, row.id or 0, row.version)


def _token(instance: Instance, session: Session, list_id: int, version: int) -> str:
    """The cached token of a list at ``version`` (:data:`_token_cache`), or a newly signed one."""
    moment = time.monotonic()
    with _cache_lock:
        cached = _token_cache.get(instance, {}).get(list_id)
    if cached is not None and cached[0] == version and moment - cached[1] < STATUS_TOKEN_REFRESH:
        return cached[2]
    row, text = issuance.status_list_token(session, instance.keystore, list_id)
    with _cache_lock:
        _token_cache.setdefault(instance, {})[list_id] = (row.version, moment, text)
    return text


def _numbered_status_lists(instance: Instance, issuer_id: str | None = None) -> list[tuple[str, int, str]]:
    """``(issuer id, number, uri)`` of every status list (of ``issuer_id``), in one query."""
    with db.session_scope(instance.engine, read_only=True) as session:
        query = select(StatusListRecord.issuer_id, StatusListRecord.number, StatusListRecord.uri)
        if issuer_id is not None:
            query = query.where(StatusListRecord.issuer_id == issuer_id)
        rows = session.exec(query.order_by(col(StatusListRecord.issuer_id), col(StatusListRecord.number))).all()
    return [(issuer, number, uri) for issuer, number, uri in rows]


def all_status_list_tokens(instance: Instance) -> list[dict[str, str]]:
    """``[{"uri", "token"}]`` for every status list (what the offline bundle carries): one query for the lists and
    their versions, then each token from the cache unless its list changed or it is due (issue 15 item 2)."""
    with db.session_scope(instance.engine, read_only=True) as session:
        rows = session.exec(
            select(StatusListRecord.id, StatusListRecord.uri, StatusListRecord.version).order_by(
                col(StatusListRecord.issuer_id), col(StatusListRecord.number)
            )
        ).all()
        return [{"uri": uri, "token": _token(instance, session, list_id or 0, v)} for list_id, uri, v in rows]


_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def publish_status_lists(instance: Instance, issuer_id: str | None = None) -> list[Path]:
    """Write the Status List Tokens (of ``issuer_id``, or of every issuer) to ``<home>/public/statuslists/<issuer
    id>/<number>`` — the path of their ``uri`` (``…/statuslists/<issuer id>/<number>``), so a plain web server
    serves the same URLs as the service. Atomic writes; a token is signed again only when its list changed or
    it is due (:func:`status_list_token`)."""
    public = instance.settings.published_dir / "statuslists"
    written = []
    for issuer, number, uri in _numbered_status_lists(instance, issuer_id):
        segments = uri.rstrip("/").split("/")[-2:]
        if not (_SAFE_SEGMENT.fullmatch(segments[0]) and segments[1].isdigit()):
            raise ConflictError(f"status list URI {uri!r} does not end in a safe <issuer>/<number> path")
        target = public / segments[0] / segments[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, status_list_token(instance, issuer, number).encode())
        written.append(target)
    return written


def list_issuers(instance: Instance) -> list[LicenseIssuer]:
    with db.session_scope(instance.engine, read_only=True) as session:
        return list(session.exec(select(LicenseIssuer)).all())


# --- bulk issuance ----------------------------------------------------------------------------------------------


def issue_batch(
    instance: Instance,
    records: Iterable[BatchRecord],
    *,
    issuer_id: str,
    chunk: int = 200,
    on_result: Callable[[BatchResult], None] | None = None,
    token_form: str = "compact",  # noqa: S107 (a token form, not a secret)
) -> BatchSummary:
    """Issue licences from a stream of records, ``chunk`` per transaction, each record in its own savepoint.

    Idempotent by ``request_id`` (a record whose id was issued before is reported ``skipped``), so an interrupted
    batch is resumed by running it again; a bad record is reported ``error`` with its code and message and does not
    stop the others; memory stays constant (records are consumed as they come)."""
    summary = BatchSummary()
    keystore = instance.keystore
    base_url = instance.settings.effective_public_url
    directory_key = directory.directory_key(instance)
    pending: list[BatchRecord] = []

    def flush() -> None:
        if not pending:
            return
        ids = [r.request_id for r in pending]
        results: list[BatchResult] = []
        with transaction(instance) as (session, _issued):
            prepared = issuance.prepare_issuer(session, keystore, issuer_id)
            trust_registry.check_standing(session, authority.get_ca(session, prepared.issuer.ca_id))
            done = {
                row.request_id: row
                for row in session.exec(select(LicenseRecord).where(col(LicenseRecord.request_id).in_(ids)))
            }
            seen: dict[str, str | None] = {}  # request id earlier in this chunk -> its identifier (None: failed)
            for record in pending:
                earlier = done.get(record.request_id)
                if earlier is not None:
                    if earlier.type_code != record.type_code or earlier.issuer_id != issuer_id:
                        results.append(
                            BatchResult(
                                record.line,
                                record.request_id,
                                "error",
                                code=Code.CONFLICT.label,
                                message=f"request id already used for another licence ({earlier.identifier})",
                            )
                        )
                    else:
                        results.append(
                            BatchResult(
                                record.line,
                                record.request_id,
                                "skipped",
                                identifier=earlier.identifier,
                                message="already issued",
                            )
                        )
                    continue
                if record.request_id in seen:
                    identifier = seen[record.request_id]
                    results.append(
                        BatchResult(
                            record.line,
                            record.request_id,
                            "skipped",
                            identifier=identifier,
                            message="already issued earlier in this batch",
                        )
                        if identifier is not None
                        else BatchResult(
                            record.line,
                            record.request_id,
                            "error",
                            code=Code.CONFLICT.label,
                            message="request id repeats a record of this batch that failed",
                        )
                    )
                    continue
                seen[record.request_id] = None
                if record.error is not None:
                    results.append(
                        BatchResult(
                            record.line, record.request_id, "error", code=record.error[0], message=record.error[1]
                        )
                    )
                    continue
                if record.fields is None:  # a record made in code rather than read by licenses.batch
                    message = "the record has no licence fields"
                    results.append(
                        BatchResult(
                            record.line, record.request_id, "error", code=Code.INVALID_INPUT.label, message=message
                        )
                    )
                    continue
                try:
                    _check_dates(record.valid_from, record.valid_until)
                    with session.begin_nested():
                        made = issuance.issue(
                            session,
                            keystore,
                            base_url=base_url,
                            issuer_id=issuer_id,
                            type_code=record.type_code,
                            fields=record.fields,
                            holder_code=record.holder_code,
                            valid_from=record.valid_from,
                            valid_until=record.valid_until,
                            request_id=record.request_id,
                            prepared=prepared,
                            token_form=token_form,
                        )
                        directory.index(session, directory_key, made.record, base_url)
                    seen[record.request_id] = made.record.identifier
                    results.append(
                        BatchResult(record.line, record.request_id, "issued", identifier=made.record.identifier)
                    )
                except TrustError as exc:
                    results.append(
                        BatchResult(record.line, record.request_id, "error", code=exc.code.label, message=exc.message)
                    )
        for result in results:  # reported only after the chunk committed
            summary.count(result)
            if on_result is not None:
                on_result(result)
        pending.clear()

    for record in records:
        pending.append(record)
        if len(pending) >= chunk:
            flush()
    flush()
    return summary


def type_metadata_documents(instance: Instance) -> tuple[dict[str, Any], ...]:
    """``{"vct", "document"}`` of every licence type of the catalogue: the SD-JWT VC type metadata the offline bundle
    carries (:mod:`trust.formats.sdjwt.vc`)."""
    base_url = instance.settings.effective_public_url
    documents = []
    for license_type in catalogue.all_types():
        vct = vc.vct_for(base_url, license_type.code)
        documents.append({"vct": vct, "document": vc.license_type_metadata(license_type, vct)})
    return tuple(documents)


def type_metadata(instance: Instance, type_code: str) -> bytes:
    """The bytes of a licence type's SD-JWT VC type metadata document, as ``vct#integrity`` hashes them (404 for a
    type the catalogue does not have)."""
    license_type = catalogue.get(type_code)  # InputError for a malformed code, NotFoundError for an unknown one
    vct = vc.vct_for(instance.settings.effective_public_url, license_type.code)
    return vc.encode(vc.license_type_metadata(license_type, vct))


JWKS_SETS: Final = ("standard", "sm2")


def jwks(instance: Instance, key_set: str = "standard") -> dict[str, list[dict[str, str]]]:
    """The public keys of the licence issuers whose certificates are valid, as a JWK Set (RFC 7517): ``kid`` = RFC
    7638 thumbprint, with ``alg`` and ``use``.

    Two sets (decision, issue 12 item 8): ``standard`` holds only keys of registered JOSE algorithms (RSA ``RS256``,
    EC ``ES256``) -- what PyJWT, joserfc and panva/jose read at their default settings, served at the usual
    ``/.well-known/jwks.json``; ``sm2`` holds the SM2 keys (``{"kty": "EC", "crv": "SM2"}``, ``alg`` ``SM2``,
    docs/CRYPTO.md), served apart at ``/.well-known/jwks-sm2.json``, because a standard library that meets an
    unknown curve in a set rejects the whole set (joserfc) or drops keys silently (PyJWT)."""
    from trust.crypto import jwk as jwk_mod
    from trust.formats import x509 as cx

    if key_set not in JWKS_SETS:
        raise InputError(f"unknown JWK Set {key_set!r} (one of: {', '.join(JWKS_SETS)})")
    want_sm2 = key_set == "sm2"
    keys = []
    with db.session_scope(instance.engine, read_only=True) as session:
        for issuer in session.exec(select(LicenseIssuer).order_by(col(LicenseIssuer.id))).all():
            cert = issuance.issuer_certificate(session, issuer)
            if cert.status != "valid" or (cert.family == "SM2") != want_sm2:
                continue
            key = cx.public_key(cx.load_certificate(cert.der))
            alg = {"SM2": "SM2", "RSA": "RS256", "EC": "ES256"}[cert.family]
            keys.append({**jwk_mod.public_jwk(key), "kid": jwk_mod.thumbprint(key), "alg": alg, "use": "sig"})
    return {"keys": keys}
