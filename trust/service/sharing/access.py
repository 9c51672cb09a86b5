"""Consent, lookup, retrieval and the citizen's access history (issue 21 items 2-4).

**Consent** (:func:`grant`): the citizen logs in at the requesting service through their home region's OpenID
Provider with the scope ``huren_citizen_id``; the service hands the ID token over with the request to authorise it.
The directory validates that ID token as any relying party would — the OP's trust chain to the national anchor, the
token's signature by a key of that chain, ``iss``, ``aud`` = the requesting service (so the consent's audience is
exactly the service the citizen logged in to), expiry, the region claim — and records a consent for the holder
(keyed hash of the citizen ID number), that service, the licence types and fields named, a purpose, short-lived
(:data:`DEFAULT_LIFETIME`, at most :data:`MAX_LIFETIME`). The citizen withdraws it (:func:`withdraw`) with a fresh ID
token of their own. A **legal basis** code the operator registered (:func:`add_legal_basis`) stands in for consent
for the types it covers; requests under one are recorded with the code, apart from consented ones.

**Lookup** (:func:`lookup`, the directory's end) and **retrieval** (:func:`retrieve`, the issuing region's end) check,
in order: the requesting service is an active member of the federation (a withdrawn service is refused at once), the
rate limit and daily quota of that service, the consent (exists, same holder, audience = requester, type covered,
not expired, not withdrawn) or the legal basis; retrieval then checks the issuing region still stands in the trust
list. A refusal raises :class:`~trust.crypto.errors.SharingRefused` with its reason and discloses nothing; every
request — served or refused — is written to ``sharing_access`` and to the audit log (``sharing.lookup``,
``sharing.retrieve``) with requester, purpose, consent id or legal basis and result.

**Retrieval** returns the licence's SD-JWT VC signed afresh by its issuer, bound to the requester (``aud`` and
``cnf.jwk`` = its federation key) and disclosing only the consented fields
(:func:`licenses.issuance.shared_sd_jwt`); the requester verifies it offline with its bundle
(:func:`trust.rp.sharing.verify_shared`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func
from sqlmodel import Session, col, select

from ca import authority
from licenses import issuance
from trust import db
from trust.crypto.errors import Code, InputError, NotFoundError, SharingRefused, TrustError
from trust.formats import jose, oidc
from trust.formats import license_catalogue as catalogue
from trust.service import audit
from trust.service import trust as trust_registry
from trust.service.identity import anchor
from trust.service.identity.models import FederationEntity
from trust.service.instance import Instance
from trust.service.sharing import directory, remote
from trust.service.sharing.models import AccessRecord, Consent, DirectoryEntry, LegalBasis, Pending

DEFAULT_LIFETIME: Final = 900  # a consent lasts 15 minutes unless the citizen chooses (TRUST_SHARING_CONSENT_SECONDS)
MAX_LIFETIME: Final = 7 * 24 * 3600  # TRUST_SHARING_CONSENT_MAX_SECONDS
RATE_PER_MINUTE: Final = 600  # directory requests of one service per minute (TRUST_SHARING_RATE_LIMIT)
QUOTA_PER_DAY: Final = 20_000  # directory requests of one service per day (TRUST_SHARING_DAILY_QUOTA)


@dataclass(frozen=True)
class Limits:
    """Requests per minute and per day of one requesting service (0: no limit)."""

    per_minute: int = RATE_PER_MINUTE
    per_day: int = QUOTA_PER_DAY


def limits_of(instance: Instance) -> Limits:
    """The operator's limits: ``TRUST_SHARING_RATE_LIMIT`` and ``TRUST_SHARING_DAILY_QUOTA``."""
    return Limits(instance.settings.sharing_rate_limit, instance.settings.sharing_daily_quota)


def set_limits(instance: Instance, limits: Limits) -> None:
    """Change the limits of a running instance (its settings; tests and the operator's console)."""
    instance.settings = instance.settings.model_copy(
        update={"sharing_rate_limit": limits.per_minute, "sharing_daily_quota": limits.per_day}
    )


# --- consent ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Citizen:
    """A citizen authenticated by an ID token: their OP, the audience of the token, their citizen ID number."""

    op_id: str
    audience: str
    citizen_id: str


def authenticate(instance: Instance, id_token: str, *, audience: str | None = None) -> Citizen:
    """Validate an ID token of a federation OP (chain, signature, iss, aud, times, region) and return the citizen;
    the token must carry ``huren_citizen_id`` (scope ``huren_citizen_id``)."""
    try:
        _header, payload, _input, _sig = jose.parse_compact(id_token)
        unverified = json.loads(payload)
    except (TrustError, ValueError) as exc:
        raise TrustError("not an ID token (compact JWS)", code=Code.ID_TOKEN_INVALID) from exc
    issuer = unverified.get("iss") if isinstance(unverified, dict) else None
    aud = unverified.get("aud") if isinstance(unverified, dict) else None
    client_id = audience if audience is not None else (aud if isinstance(aud, str) else None)
    if not isinstance(issuer, str) or client_id is None:
        raise TrustError("the ID token names no issuer or no single audience", code=Code.ID_TOKEN_INVALID)
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.get(FederationEntity, issuer)
        if row is None or row.kind != anchor.KIND_OP:
            raise TrustError(f"{issuer} is not an identity provider of the federation", code=Code.ID_TOKEN_INVALID)
        if row.status != "active":
            raise TrustError(f"identity provider {issuer} is withdrawn", code=Code.ENTITY_WITHDRAWN)
    chain = anchor.resolve_chain(instance, issuer)
    metadata = chain.entity_metadata("openid_provider")
    token = oidc.validate_id_token(
        id_token,
        issuer=issuer,
        client_id=client_id,
        jwks=metadata["jwks"],
        now=int(time.time()),
        nonce=None,
        allowed_regions=metadata.get(oidc.CLAIM_REGIONS_SUPPORTED),
    )
    citizen_id = token.claims.get(oidc.CLAIM_CITIZEN_ID)
    if not isinstance(citizen_id, str) or not citizen_id:
        raise TrustError(
            "the ID token carries no citizen ID number: log in with the scope huren_citizen_id",
            code=Code.ID_TOKEN_INVALID,
        )
    return Citizen(issuer, client_id, citizen_id)


def _requester(session: Session, requester: str) -> FederationEntity:
    row = session.get(FederationEntity, requester)
    if row is None or row.kind != anchor.KIND_RP:
        raise NotFoundError(f"{requester} is not a relying service of the federation")
    if row.status != "active":
        raise SharingRefused(
            f"the requesting service {requester} is withdrawn", code=Code.REQUESTER_WITHDRAWN, evidence={"at": "now"}
        )
    return row


def grant(
    instance: Instance,
    *,
    id_token: str,
    requester: str,
    license_types: Sequence[str],
    fields: Sequence[str] = (),
    purpose: str,
    lifetime: int | None = None,
) -> Consent:
    """The citizen's consent for ``requester`` (the audience of ``id_token``) to obtain their licences of
    ``license_types``, disclosing ``fields`` (empty: every field), for ``lifetime`` seconds (default
    ``TRUST_SHARING_CONSENT_SECONDS``, at most ``TRUST_SHARING_CONSENT_MAX_SECONDS``)."""
    if not license_types:
        raise InputError("a consent names at least one licence type")
    settings = instance.settings
    lifetime = settings.sharing_consent_seconds if lifetime is None else lifetime
    if not 60 <= lifetime <= settings.sharing_consent_max_seconds:
        raise InputError(f"consent lifetime must be 60..{settings.sharing_consent_max_seconds} seconds")
    if not purpose.strip() or len(purpose) > 256:
        raise InputError("a consent states its purpose (1..256 characters)")
    known: set[str] = set()
    for code in license_types:
        properties = catalogue.get(code).fields.get("properties") or {}
        known.update(properties)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InputError(f"fields not in the licence types: {', '.join(unknown)}")
    citizen = authenticate(instance, id_token, audience=requester)
    key = directory.directory_key(instance)
    with db.session_scope(instance.engine) as session:
        _requester(session, requester)
        consent = Consent(
            id=secrets.token_hex(16),
            holder_key=directory.holder_key(key, citizen.citizen_id),
            requester=requester,
            license_types=json.dumps(sorted(set(license_types))),
            fields=json.dumps(sorted(set(fields))),
            purpose=purpose.strip(),
            op_id=citizen.op_id,
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
        )
        session.add(consent)
        session.flush()
        session.expunge(consent)
    audit.record(
        instance.engine,
        action="sharing.consent",
        subject=consent.id,
        result="granted",
        details={"requester": requester, "types": consent.license_types, "fields": consent.fields},
    )
    return consent


def withdraw(instance: Instance, consent_id: str, *, id_token: str) -> Consent:
    """The citizen withdraws a consent (proved by a fresh ID token of theirs, for any service)."""
    citizen = authenticate(instance, id_token)
    return withdraw_of(instance, consent_id, holder_code=citizen.citizen_id)


def withdraw_of(instance: Instance, consent_id: str, *, holder_code: str) -> Consent:
    """Withdraw the consent ``consent_id`` of the holder ``holder_code`` (already authenticated by the caller: the
    citizen page's session); someone else's consent is not found."""
    key = directory.directory_key(instance)
    with db.session_scope(instance.engine) as session:
        consent = session.get(Consent, consent_id)
        if consent is None or consent.holder_key != directory.holder_key(key, holder_code):
            raise NotFoundError(f"no consent {consent_id!r}")
        if consent.revoked_at is None:
            consent.revoked_at = datetime.now(UTC)
            session.add(consent)
        session.flush()
        session.expunge(consent)
    audit.record(instance.engine, action="sharing.consent", subject=consent_id, result="withdrawn")
    return consent


def consents(instance: Instance, *, id_token: str) -> list[Consent]:
    """The citizen's consents (for their page)."""
    citizen = authenticate(instance, id_token)
    return consents_of(instance, holder_code=citizen.citizen_id)


def consents_of(instance: Instance, *, holder_code: str) -> list[Consent]:
    """The consents of the holder ``holder_code`` (authenticated by the caller), oldest first."""
    holder = directory.holder_key(directory.directory_key(instance), holder_code)
    with db.session_scope(instance.engine, read_only=True) as session:
        return list(session.exec(select(Consent).where(Consent.holder_key == holder).order_by(col(Consent.granted_at))))


def add_legal_basis(instance: Instance, code: str, description: str, license_types: Sequence[str]) -> LegalBasis:
    for type_code in license_types:
        catalogue.get(type_code)
    with db.session_scope(instance.engine) as session:
        row = LegalBasis(code=code, description=description, license_types=json.dumps(sorted(set(license_types))))
        session.merge(row)
    audit.record(instance.engine, action="sharing.legal-basis", subject=code, result="added")
    return row


# --- requests -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What a requesting service sends with a lookup or retrieval: who, why, and under which consent or legal
    basis (exactly one)."""

    requester: str
    purpose: str
    consent_id: str | None = None
    legal_basis: str | None = None


@dataclass(frozen=True)
class _Authority:
    fields: list[str] | None  # None: every field
    holder_key: str | None  # the consent's holder (None under a legal basis)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _check_limits(session: Session, instance: Instance, requester: str) -> None:
    limits = limits_of(instance)
    moment = datetime.now(UTC)
    for window, most, what in ((60, limits.per_minute, "per minute"), (86400, limits.per_day, "per day")):
        if most == 0:  # off
            continue
        count = session.exec(
            select(func.count())
            .select_from(AccessRecord)
            .where(
                AccessRecord.requester == requester,
                col(AccessRecord.at) >= moment - timedelta(seconds=window),
                AccessRecord.end == "directory",
            )
        ).one()
        if count >= most:
            raise SharingRefused(
                f"{requester} made {count} directory requests in the last {window} s (limit {most} {what})",
                code=Code.SHARING_QUOTA_EXCEEDED,
            )


def _authorise(session: Session, request: Request, holder: str | None, type_code: str) -> _Authority:
    if (request.consent_id is None) == (request.legal_basis is None):
        raise SharingRefused("a request carries the holder's consent id or a legal basis code (one of them)")
    if request.legal_basis is not None:
        basis = session.get(LegalBasis, request.legal_basis)
        if basis is None:
            raise SharingRefused(f"no legal basis {request.legal_basis!r} is allowed by the operator")
        if type_code not in json.loads(basis.license_types):
            raise SharingRefused(
                f"legal basis {basis.code} does not cover licence type {type_code}", code=Code.CONSENT_OUT_OF_SCOPE
            )
        return _Authority(None, None)
    consent = session.get(Consent, request.consent_id)
    if consent is None or (holder is not None and consent.holder_key != holder):
        raise SharingRefused("no consent of this holder with that id")
    if consent.requester != request.requester:
        raise SharingRefused(
            "the consent was given to another service", code=Code.CONSENT_OUT_OF_SCOPE, evidence={"audience": "other"}
        )
    if type_code not in json.loads(consent.license_types):
        raise SharingRefused(f"the consent does not cover licence type {type_code}", code=Code.CONSENT_OUT_OF_SCOPE)
    if consent.revoked_at is not None:
        raise SharingRefused("the holder withdrew this consent", code=Code.CONSENT_REVOKED)
    if _utc(consent.expires_at) <= datetime.now(UTC):
        raise SharingRefused("the consent has expired", code=Code.CONSENT_EXPIRED)
    fields = json.loads(consent.fields)
    return _Authority(fields or None, consent.holder_key)


def _log(
    instance: Instance,
    *,
    end: str,
    action: str,
    request: Request,
    holder: str,
    type_code: str,
    identifier: str | None,
    result: str,
    reason: str = "",
    disclosed: Sequence[str] = (),
    ends: Sequence[str] = (),
) -> None:
    """The access row and the audit entry of a request, at ``end`` (and each of ``ends``), in one transaction."""
    rows: list[AccessRecord] = []
    entries: list[dict[str, Any]] = []
    for at_end in (end, *ends):
        rows.append(
            AccessRecord(
                end=at_end,
                action=action,
                requester=request.requester[:512],
                purpose=request.purpose[:256],
                consent_id=(request.consent_id or "")[:32] or None,
                legal_basis=(request.legal_basis or "")[:32] or None,
                holder_key=holder,
                type_code=type_code[:21],
                identifier=identifier,
                disclosed=json.dumps(list(disclosed)),
                result=result,
                reason=reason[:256],
            )
        )
        entries.append(
            audit.entry(
                action=f"sharing.{action}",
                subject=identifier or f"holder:{holder[:16]}",
                result=result,
                details={
                    "end": at_end,
                    "requester": request.requester,
                    "purpose": request.purpose,
                    "consent_id": request.consent_id,
                    "legal_basis": request.legal_basis,
                    "type": type_code,
                    "disclosed": ",".join(disclosed),
                    "reason": reason,
                },
            )
        )
    with db.session_scope(instance.engine) as session:
        session.add_all(rows)
        session.flush()
        audit.append(session, entries)


def lookup(instance: Instance, request: Request, *, holder_code: str, type_code: str) -> list[directory.Located]:
    """The directory's answer to "the holder's licences of type T": where each lives (metadata only)."""
    catalogue.get(type_code)
    holder = directory.holder_key(directory.directory_key(instance), holder_code)
    try:
        with db.session_scope(instance.engine, read_only=True) as session:
            _requester(session, request.requester)
            _check_limits(session, instance, request.requester)
            _authorise(session, request, holder, type_code)
            found = directory.find(session, holder, type_code)
    except SharingRefused as exc:
        _log(
            instance,
            end="directory",
            action="lookup",
            request=request,
            holder=holder,
            type_code=type_code,
            identifier=None,
            result="refused",
            reason=f"{exc.code.label} {exc.message}",
        )
        raise
    _log(
        instance,
        end="directory",
        action="lookup",
        request=request,
        holder=holder,
        type_code=type_code,
        identifier=None,
        result="listed",
        reason=f"{len(found)} found",
    )
    return found


@dataclass(frozen=True)
class Shared:
    """A retrieved licence: the SD-JWT bound to the requester, and the names of the fields it discloses."""

    identifier: str
    sd_jwt: str
    disclosed: list[str]


def _entity_key(row: FederationEntity) -> dict[str, Any]:
    keys = json.loads(row.jwks).get("keys") or []
    if not keys:
        raise NotFoundError(f"{row.id} has no federation key to bind a licence to")
    return {k: v for k, v in keys[0].items() if k in ("kty", "crv", "x", "y", "n", "e")}


@dataclass(frozen=True)
class Queued:
    """A retrieval waiting for an offline region: the ticket the requester polls, and where it stands."""

    ticket: str
    identifier: str
    status: str  # queued
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "identifier": self.identifier,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "reason": self.reason,
        }


def _queued(row: Pending) -> Queued:
    return Queued(
        row.id, row.identifier, row.status, row.attempts, _utc(row.created_at), _utc(row.next_attempt_at), row.reason
    )


def retrieve(instance: Instance, request: Request, identifier: str) -> Shared | Queued:
    """The issuing region's answer: the licence as an SD-JWT limited to the consented fields, bound to the
    requester. A licence the directory does not list, or of another holder than the consent's, is refused the
    same way as a missing consent (nothing tells the requester whether it exists). A licence of a region's legacy
    system is fetched from that system (:mod:`trust.service.sharing.remote`); when it is offline the request is
    queued and a :class:`Queued` ticket comes back instead."""
    keystore = instance.keystore
    holder = ""
    type_code = ""
    remote_entry: DirectoryEntry | None = None
    try:
        with db.session_scope(instance.engine, read_only=True) as session:
            entry = session.get(DirectoryEntry, identifier)
            holder = entry.holder_key if entry is not None else ""
            type_code = entry.type_code if entry is not None else ""
            requester = _requester(session, request.requester)
            _check_limits(session, instance, request.requester)
            if entry is None:
                raise SharingRefused("no consent of this holder with that id")
            granted = _authorise(session, request, entry.holder_key, entry.type_code)
            issuer = issuance.get_issuer(session, entry.issuer_id)
            trust_registry.check_standing(session, authority.get_ca(session, issuer.ca_id))
            requester_jwk = _entity_key(requester)
            if entry.source == "legacy":
                session.expunge(entry)
                remote_entry = entry
            else:
                record = issuance.get_license(session, identifier)
                sd_jwt, disclosed = issuance.shared_sd_jwt(
                    session,
                    keystore,
                    record,
                    base_url=instance.settings.effective_public_url,
                    audience=requester.id,
                    audience_jwk=requester_jwk,
                    fields=granted.fields,
                )
        if remote_entry is not None:
            try:
                answer = remote.fetch(
                    instance, remote_entry, requester=request.requester, requester_jwk=requester_jwk,
                    fields=granted.fields,
                )  # fmt: skip
            except remote.Unreachable as exc:
                return _queue(instance, request, remote_entry, f"the issuing region is unreachable ({exc})")
            sd_jwt, disclosed = answer.sd_jwt, answer.disclosed
    except TrustError as exc:
        _refuse_log(instance, request, holder, type_code, identifier[:128], exc)
        if isinstance(exc, SharingRefused):
            raise
        raise SharingRefused(
            exc.message, code=exc.code if exc.code != Code.NOT_FOUND else Code.CONSENT_MISSING
        ) from None
    _served(instance, request, holder, type_code, identifier, disclosed)
    return Shared(identifier, sd_jwt, disclosed)


def _refuse_log(
    instance: Instance, request: Request, holder: str, type_code: str, identifier: str, exc: TrustError
) -> None:
    _log(
        instance,
        end="issuer",
        action="retrieve",
        request=request,
        holder=holder,
        type_code=type_code,
        identifier=identifier,
        result="refused",
        reason=f"{exc.code.label} {exc.message}",
    )


def _served(
    instance: Instance, request: Request, holder: str, type_code: str, identifier: str, disclosed: Sequence[str]
) -> None:
    _log(
        instance,
        end="issuer",
        ends=("directory",),
        action="retrieve",
        request=request,
        holder=holder,
        type_code=type_code,
        identifier=identifier,
        result="disclosed",
        disclosed=disclosed,
    )


def _queue(instance: Instance, request: Request, entry: DirectoryEntry, reason: str) -> Queued:
    moment = datetime.now(UTC)
    row = Pending(
        id=secrets.token_hex(16),
        requester=request.requester,
        purpose=request.purpose[:256],
        consent_id=request.consent_id,
        legal_basis=request.legal_basis,
        identifier=entry.identifier,
        holder_key=entry.holder_key,
        type_code=entry.type_code,
        status="queued",
        attempts=1,
        created_at=moment,
        next_attempt_at=moment + remote.next_delay(instance, 0),
        reason=reason[:256],
    )
    with db.session_scope(instance.engine) as session:
        session.add(row)
        session.flush()
        session.expunge(row)
    _log(
        instance,
        end="directory",
        action="retrieve",
        request=request,
        holder=entry.holder_key,
        type_code=entry.type_code,
        identifier=entry.identifier,
        result="queued",
        reason=f"ticket {row.id}: {reason}",
    )
    return _queued(row)


def _request_of(row: Pending) -> Request:
    return Request(row.requester, row.purpose, consent_id=row.consent_id, legal_basis=row.legal_basis)


def _settle(instance: Instance, ticket: str, **values: Any) -> None:
    with db.session_scope(instance.engine) as session:
        row = session.get(Pending, ticket)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


def attempt(instance: Instance, ticket: str) -> str:
    """Try a queued retrieval again (the schedule, or the requester's poll): the consent and the requesting
    service are checked again first; returns the ticket's status afterwards."""
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.get(Pending, ticket)
        if row is None or row.status != "queued":
            return row.status if row is not None else "missing"
        session.expunge(row)
        entry = session.get(DirectoryEntry, row.identifier)
        if entry is not None:
            session.expunge(entry)
    request = _request_of(row)
    try:
        if entry is None:
            raise SharingRefused("no consent of this holder with that id")
        if remote.expired(instance, row.created_at):
            raise SharingRefused(
                f"the issuing region did not answer within {instance.settings.sharing_queue_hours} h",
                code=Code.RETRIEVAL_EXPIRED,
            )
        with db.session_scope(instance.engine, read_only=True) as session:
            requester = _requester(session, row.requester)
            granted = _authorise(session, request, row.holder_key, row.type_code)
            requester_jwk = _entity_key(requester)
        try:
            answer = remote.fetch(
                instance, entry, requester=row.requester, requester_jwk=requester_jwk, fields=granted.fields
            )
        except remote.Unreachable as exc:
            _settle(
                instance,
                ticket,
                attempts=row.attempts + 1,
                next_attempt_at=datetime.now(UTC) + remote.next_delay(instance, row.attempts),
                reason=f"the issuing region is unreachable ({exc})"[:256],
            )
            return "queued"
    except TrustError as exc:
        status = "expired" if exc.code is Code.RETRIEVAL_EXPIRED else "refused"
        reason = f"{exc.code.label} {exc.message}"
        _settle(instance, ticket, status=status, answered_at=datetime.now(UTC), reason=reason[:256])
        _refuse_log(instance, request, row.holder_key, row.type_code, row.identifier, exc)
        return status
    _settle(
        instance,
        ticket,
        status="ready",
        answered_at=datetime.now(UTC),
        reason="",
        sealed_result=remote.seal(instance, ticket, answer),
    )
    return "ready"


def deliver_due(instance: Instance, *, limit: int = 100) -> int:
    """Try the queued retrievals that are due (the service's schedule); returns how many were tried."""
    with db.session_scope(instance.engine, read_only=True) as session:
        tickets = list(
            session.exec(
                select(Pending.id)
                .where(Pending.status == "queued", col(Pending.next_attempt_at) <= datetime.now(UTC))
                .order_by(col(Pending.next_attempt_at))
                .limit(limit)
            )
        )
    for ticket in tickets:
        attempt(instance, ticket)
    return len(tickets)


def poll(instance: Instance, requester: str, ticket: str) -> Shared | Queued:
    """The requester's poll of a ticket: the licence once the region answered (consent checked again, the answer
    then erased), the ticket while it waits, or the refusal (``E1600``–``E1604``, ``E1608`` when it expired)."""
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.get(Pending, ticket)
        if row is None or row.requester != requester:
            raise NotFoundError(f"no retrieval ticket {ticket!r} of {requester}")
        due = row.status == "queued" and _utc(row.next_attempt_at) <= datetime.now(UTC)
    if due:
        attempt(instance, ticket)
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.get(Pending, ticket)
        assert row is not None
        session.expunge(row)
    request = _request_of(row)
    if row.status == "queued":
        return _queued(row)
    if row.status in ("refused", "expired"):
        raise SharingRefused(row.reason.split(" ", 1)[-1], code=remote.refusal_code(row.reason))
    if row.status != "ready" or row.sealed_result is None:
        raise NotFoundError(f"retrieval ticket {ticket!r} was collected already")
    try:
        with db.session_scope(instance.engine, read_only=True) as session:
            _requester(session, row.requester)
            _authorise(session, request, row.holder_key, row.type_code)
    except TrustError as exc:
        reason = f"{exc.code.label} {exc.message}"
        _settle(instance, ticket, status="refused", sealed_result=None, reason=reason[:256])
        _refuse_log(instance, request, row.holder_key, row.type_code, row.identifier, exc)
        raise
    answer = remote.unseal(instance, ticket, row.sealed_result)
    _settle(instance, ticket, status="delivered", sealed_result=None)
    _served(instance, request, row.holder_key, row.type_code, row.identifier, answer.disclosed)
    return Shared(row.identifier, answer.sd_jwt, answer.disclosed)


# --- the citizen's history ----------------------------------------------------------------------------------------


def history(instance: Instance, *, holder_code: str, limit: int = 200) -> list[AccessRecord]:
    """Who looked up or fetched the holder's licences, when, why, under which consent, and with what result
    (the issuing end's records of retrievals and the directory's of lookups)."""
    holder = directory.holder_key(directory.directory_key(instance), holder_code)
    with db.session_scope(instance.engine, read_only=True) as session:
        rows = session.exec(
            select(AccessRecord)
            .where(AccessRecord.holder_key == holder)
            .where(
                (col(AccessRecord.action) == "lookup")
                | (col(AccessRecord.end) == "issuer")
                | (col(AccessRecord.result) == "queued")
            )
            .order_by(col(AccessRecord.id).desc())
            .limit(limit)
        ).all()
        return list(rows)


def history_for(instance: Instance, *, id_token: str, limit: int = 200) -> list[AccessRecord]:
    """The access history of the citizen who logged in (``id_token`` of any service of the federation)."""
    citizen = authenticate(instance, id_token)
    return history(instance, holder_code=citizen.citizen_id, limit=limit)
