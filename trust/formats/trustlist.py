"""The national trust list: every issuer, its services, scope and status history, signed by both roots.

Shape (JSON, modelled on ETSI TS 119 612 trusted lists and TS 119 602 lists of trusted entities; field names
are this project's)::

    {
      "type": "huren-trust-list", "version": 1,
      "sequence": 7, "issued_at": "2026-11-26T01:00:00Z", "next_update": "2026-11-27T01:00:00Z",
      "operator": "国家政务服务平台",
      "roots": [{"family": "SM2", "fingerprint": "<sha256 hex>", "certificate": "<base64 DER>"}, ...],
      "issuers": [
        {"id": "region-330000", "kind": "region", "code": "330000", "name": "浙江省",
         "scope": {"region": "330000", "license_types": ["..."]},
         "status_history": [{"status": "granted", "effective": "..."}, {"status": "withdrawn", ...}],
         "services": [
            {"id": "region-330000-sm2", "type": "CA", "family": "SM2",
             "certificate": "<base64 DER>", "fingerprint": "<sha256 hex>",
             "scope": {...}, "status_history": [...]}, ...]}]
    }

Since the audit chain is anchored in it, a list also carries ``"audit_head": {"sequence": 41, "hash": "<sha256
hex>"}``: the service's audit chain head when the list was built (:class:`AuditHead`, ``trust.service.audit``).
The member is optional and the version stays 1: lists without it stay readable, and readers that do not know it
ignore it (they read only the members they know).

Likewise ``"log_checkpoint"``: the transparency log's latest checkpoint (a C2SP signed note, with the cosignatures it
had) when the list was built (issue 19, ``trust.formats.tlog``); optional, version 1.

Service types: ``CA``, ``OCSP``, ``TSA``, ``SEAL_MAKER``, ``LICENSE_ISSUER``, ``IDENTITY_PROVIDER``.

An ``OCSP`` service is the **designated responder** of one CA service of the same issuer: its scope names that CA
service (``"scope": {"ca": "region-330000-sm2"}``, written since issue 11). Lists written before carry no ``ca`` in
the scope; for them the responder ``<ca service id>-ocsp`` is the CA's (the only way Huren ever named them), so
older lists stay readable with the same meaning (:meth:`TrustList.designated_responders`). A verifier accepts an
OCSP response only from the CA itself or from a designated responder of that CA (``docs/VERIFIER.md``).
Statuses: ``granted``, ``suspended``, ``withdrawn``; each entry says from when it holds. A service is usable
at time *t* when both it and its issuer are ``granted`` at *t* (:meth:`TrustList.status_at`) — so what an
issuer signed before a withdrawal stays verifiable, judged at signing time, and what it signs after fails.

The signed form is a JWS JSON serialization (RFC 7515 clause 7.2.1) of the document with one signature per
national root (``alg`` ``SM2`` and ``RS256``; ``x5c`` = the root certificate); a verifier that pins either
root's fingerprint can check it (:func:`verify`). Pure format code: no storage, no network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Final

from asn1crypto import x509

from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import Code, EncodingError, InputError, InvalidSignature, TrustError
from trust.crypto.keys import public_key_from_spki
from trust.crypto.oids import EKU_TRUST_LIST_SIGNING
from trust.crypto.signer import Signer
from trust.formats import jose, strict_json, times

TYPE: Final = "huren-trust-list"
VERSION: Final = 1
SERVICE_TYPES: Final = frozenset({"CA", "OCSP", "TSA", "SEAL_MAKER", "LICENSE_ISSUER", "IDENTITY_PROVIDER"})
STATUSES: Final = frozenset({"granted", "suspended", "withdrawn"})
MAX_DOCUMENT_BYTES: Final = 64 * 1024 * 1024


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: Any, what: str) -> datetime:
    """A time of a trust list or bundle (:func:`trust.formats.times.parse_time`; it must carry its zone)."""
    return times.parse_time(text, what, naive="refuse", error=EncodingError)


@dataclass(frozen=True)
class StatusEntry:
    status: str
    effective: datetime
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        data = {"status": self.status, "effective": iso(self.effective)}
        if self.reason:
            data["reason"] = self.reason
        return data

    @classmethod
    def from_json(cls, data: Any) -> StatusEntry:
        if not isinstance(data, Mapping) or data.get("status") not in STATUSES:
            raise EncodingError(f"trust list status entry must have a status in {sorted(STATUSES)}")
        return cls(
            str(data["status"]), parse_time(data.get("effective"), "status effective time"), str(data.get("reason", ""))
        )


def status_at(history: Sequence[StatusEntry], moment: datetime) -> StatusEntry | None:
    """The entry in force at ``moment`` (the latest with ``effective <= moment``), or None before the first."""
    current = None
    for entry in sorted(history, key=lambda e: e.effective):
        if entry.effective <= moment:
            current = entry
    return current


@dataclass(frozen=True)
class Service:
    id: str
    type: str
    family: str
    certificate: bytes
    status_history: tuple[StatusEntry, ...]
    scope: Mapping[str, Any] = field(default_factory=dict)
    # Certificates the service held before its current one (renewals), newest first: what it signed with them
    # stays attributable to the service (the "service history" of ETSI TS 119 612 trusted lists).
    previous_certificates: tuple[bytes, ...] = ()

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.certificate).hexdigest()

    @cached_property
    def fingerprints(self) -> tuple[str, ...]:
        """The current and every previous certificate's SHA-256 (computed once per service)."""
        return (self.fingerprint, *(hashlib.sha256(c).hexdigest() for c in self.previous_certificates))

    def cert(self) -> x509.Certificate:
        return x509.Certificate.load(self.certificate)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "family": self.family,
            "certificate": base64.b64encode(self.certificate).decode(),
            "fingerprint": self.fingerprint,
            "scope": dict(self.scope),
            "status_history": [s.to_json() for s in self.status_history],
            **(
                {"previous_certificates": [base64.b64encode(c).decode() for c in self.previous_certificates]}
                if self.previous_certificates
                else {}
            ),
        }

    @classmethod
    def from_json(cls, data: Any) -> Service:
        if not isinstance(data, Mapping):
            raise EncodingError("trust list service must be an object")
        if data.get("type") not in SERVICE_TYPES:
            raise EncodingError(f"unknown trust list service type {data.get('type')!r}")
        try:
            der = base64.b64decode(str(data["certificate"]), validate=True)
        except (KeyError, ValueError):
            raise EncodingError("trust list service certificate must be base64 DER") from None
        try:
            previous = tuple(
                base64.b64decode(str(c), validate=True)
                for c in _list(data.get("previous_certificates", []), "previous_certificates")
            )
        except ValueError:
            raise EncodingError("trust list service previous_certificates must be base64 DER") from None
        service = cls(
            id=str(data.get("id", "")),
            type=str(data["type"]),
            family=str(data.get("family", "")),
            certificate=der,
            status_history=tuple(StatusEntry.from_json(s) for s in _list(data.get("status_history"), "status_history")),
            scope=dict(data.get("scope") or {}),
            previous_certificates=previous,
        )
        if data.get("fingerprint") not in (None, service.fingerprint):
            raise EncodingError(f"trust list service {service.id}: fingerprint does not match its certificate")
        return service


@dataclass(frozen=True)
class Issuer:
    id: str
    kind: str
    code: str | None
    name: str
    status_history: tuple[StatusEntry, ...]
    services: tuple[Service, ...]
    scope: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "code": self.code,
            "name": self.name,
            "scope": dict(self.scope),
            "status_history": [s.to_json() for s in self.status_history],
            "services": [s.to_json() for s in self.services],
        }

    @classmethod
    def from_json(cls, data: Any) -> Issuer:
        if not isinstance(data, Mapping):
            raise EncodingError("trust list issuer must be an object")
        return cls(
            id=str(data.get("id", "")),
            kind=str(data.get("kind", "")),
            code=None if data.get("code") is None else str(data["code"]),
            name=str(data.get("name", "")),
            status_history=tuple(StatusEntry.from_json(s) for s in _list(data.get("status_history"), "status_history")),
            services=tuple(Service.from_json(s) for s in _list(data.get("services"), "services")),
            scope=dict(data.get("scope") or {}),
        )


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise EncodingError(f"trust list {what} must be a list")
    return value


@dataclass(frozen=True)
class Root:
    family: str
    certificate: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.certificate).hexdigest()


@dataclass(frozen=True)
class ServiceStanding:
    """Whether a service may be relied on at a moment, and why not."""

    usable: bool
    reason: str
    issuer: Issuer | None = None
    service: Service | None = None


@dataclass(frozen=True)
class AuditHead:
    """The audit chain head a trust list publishes: the last entry's sequence number and hash when the list was
    built (0 and 64 zeros before the first entry)."""

    sequence: int
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "hash": self.hash}

    @classmethod
    def from_json(cls, data: Any) -> AuditHead:
        if not isinstance(data, Mapping):
            raise EncodingError("trust list audit_head must be an object")
        sequence, digest = data.get("sequence"), data.get("hash")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise EncodingError("trust list audit_head sequence must be a non-negative integer")
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise EncodingError("trust list audit_head hash must be 64 lowercase hexadecimal digits")
        return cls(sequence, digest)


@dataclass(frozen=True)
class TrustList:
    sequence: int
    issued_at: datetime
    next_update: datetime
    operator: str
    roots: tuple[Root, ...]
    issuers: tuple[Issuer, ...]
    audit_head: AuditHead | None = None
    log_checkpoint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": TYPE,
            "version": VERSION,
            "sequence": self.sequence,
            "issued_at": iso(self.issued_at),
            "next_update": iso(self.next_update),
            "operator": self.operator,
            "roots": [
                {
                    "family": r.family,
                    "fingerprint": r.fingerprint,
                    "certificate": base64.b64encode(r.certificate).decode(),
                }
                for r in self.roots
            ],
            "issuers": [i.to_json() for i in self.issuers],
            **({"audit_head": self.audit_head.to_json()} if self.audit_head is not None else {}),
            **({"log_checkpoint": self.log_checkpoint} if self.log_checkpoint is not None else {}),
        }

    def canonical(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: Any) -> TrustList:
        if not isinstance(data, Mapping) or data.get("type") != TYPE:
            raise EncodingError("not a Huren trust list")
        if data.get("version") != VERSION:
            raise EncodingError(f"trust list version {data.get('version')!r} is not supported (expected {VERSION})")
        sequence = data.get("sequence")
        if not isinstance(sequence, int) or sequence < 1:
            raise EncodingError("trust list sequence must be a positive integer")
        roots = []
        for entry in _list(data.get("roots"), "roots"):
            try:
                der = base64.b64decode(str(entry["certificate"]), validate=True)
            except (KeyError, ValueError, TypeError):
                raise EncodingError("trust list root certificate must be base64 DER") from None
            roots.append(Root(str(entry.get("family", "")), der))
        return cls(
            sequence=sequence,
            issued_at=parse_time(data.get("issued_at"), "issued_at"),
            next_update=parse_time(data.get("next_update"), "next_update"),
            operator=str(data.get("operator", "")),
            roots=tuple(roots),
            issuers=tuple(Issuer.from_json(i) for i in _list(data.get("issuers"), "issuers")),
            audit_head=AuditHead.from_json(data["audit_head"]) if data.get("audit_head") is not None else None,
            log_checkpoint=_log_checkpoint(data.get("log_checkpoint")),
        )

    # -- queries -----------------------------------------------------------------------------------------
    # A national list holds ~10^4 services (issue 15 item 4): every lookup goes through an index built once per list
    # object, on first use, from what the list already says (SHA-256 of the certificates, types, scopes); no
    # certificate is parsed to build it.

    def services(self, service_type: str | None = None) -> Iterable[tuple[Issuer, Service]]:
        if service_type is None:
            return [(issuer, service) for issuer in self.issuers for service in issuer.services]
        return self._by_type.get(service_type, ())

    @cached_property
    def _by_type(self) -> dict[str, tuple[tuple[Issuer, Service], ...]]:
        grouped: dict[str, list[tuple[Issuer, Service]]] = {}
        for issuer in self.issuers:
            for service in issuer.services:
                grouped.setdefault(service.type, []).append((issuer, service))
        return {kind: tuple(entries) for kind, entries in grouped.items()}

    @cached_property
    def _by_fingerprint(self) -> dict[str, tuple[tuple[Issuer, Service], ...]]:
        """SHA-256 of every current and previous service certificate → the services holding it, in list order."""
        index: dict[str, list[tuple[Issuer, Service]]] = {}
        for issuer in self.issuers:
            for service in issuer.services:
                for fingerprint in dict.fromkeys(service.fingerprints):
                    index.setdefault(fingerprint, []).append((issuer, service))
        return {fingerprint: tuple(entries) for fingerprint, entries in index.items()}

    @cached_property
    def _by_scope_issuer(self) -> dict[str, tuple[tuple[Issuer, Service], ...]]:
        """``LICENSE_ISSUER`` services by the ``issuer_id`` of their scope (what a licence's ``iss`` names)."""
        grouped: dict[str, list[tuple[Issuer, Service]]] = {}
        for issuer, service in self._by_type.get("LICENSE_ISSUER", ()):
            named = (service.scope or {}).get("issuer_id")
            if isinstance(named, str):
                grouped.setdefault(named, []).append((issuer, service))
        return {name: tuple(entries) for name, entries in grouped.items()}

    @cached_property
    def _by_id(self) -> dict[str, Issuer]:
        index: dict[str, Issuer] = {}
        for issuer in self.issuers:
            index.setdefault(issuer.id, issuer)
        return index

    def find_by_certificate(self, der: bytes) -> tuple[Issuer, Service] | None:
        return self.find_by_fingerprint(hashlib.sha256(der).hexdigest())

    def find_by_fingerprint(self, fingerprint: str, service_type: str | None = None) -> tuple[Issuer, Service] | None:
        """The first service (of ``service_type``) holding, now or before a renewal, the certificate of this SHA-256
        (hex), or ``None`` — what a scan of :meth:`services` in list order finds."""
        for issuer, service in self._by_fingerprint.get(fingerprint.lower(), ()):
            if service_type is None or service.type == service_type:
                return issuer, service
        return None

    def holders(self, fingerprint: str) -> tuple[tuple[Issuer, Service], ...]:
        """Every service holding, now or before a renewal, the certificate of this SHA-256 (hex), in list order."""
        return self._by_fingerprint.get(fingerprint.lower(), ())

    def license_issuers(self, issuer_id: str) -> tuple[tuple[Issuer, Service], ...]:
        """The ``LICENSE_ISSUER`` services whose scope names ``issuer_id`` (a licence's ``iss``)."""
        return self._by_scope_issuer.get(issuer_id, ())

    def issuer(self, issuer_id: str) -> Issuer | None:
        return self._by_id.get(issuer_id)

    def designated_responders(self, ca_der: bytes) -> list[tuple[Issuer, Service]]:
        """The ``OCSP`` services designated for the CA service holding certificate ``ca_der`` (current or previous):
        services of the same issuer whose scope names the CA service (``{"ca": id}``), or — in lists written before
        the scope named it — whose id is the CA service's id followed by ``-ocsp``."""
        found = self.find_by_certificate(ca_der)
        if found is None or found[1].type != "CA":
            return []
        issuer, ca_service = found
        responders = []
        for service in issuer.services:
            if service.type != "OCSP":
                continue
            named = (service.scope or {}).get("ca")
            if named == ca_service.id or (named is None and service.id == f"{ca_service.id}-ocsp"):
                responders.append((issuer, service))
        return responders

    def standing(self, der: bytes, moment: datetime, service_type: str | None = None) -> ServiceStanding:
        """Whether the service holding certificate ``der`` was usable at ``moment``."""
        found = self.find_by_certificate(der)
        if found is None:
            return ServiceStanding(False, "certificate is not a service of the trust list")
        issuer, service = found
        if service_type is not None and service.type != service_type:
            return ServiceStanding(
                False, f"service {service.id} is a {service.type}, not a {service_type}", issuer, service
            )
        for subject, history in (
            (f"issuer {issuer.id}", issuer.status_history),
            (f"service {service.id}", service.status_history),
        ):
            entry = status_at(history, moment)
            if entry is None:
                return ServiceStanding(False, f"{subject} was not yet listed at {iso(moment)}", issuer, service)
            if entry.status != "granted":
                why = f" ({entry.reason})" if entry.reason else ""
                return ServiceStanding(
                    False,
                    f"{subject} {entry.status} since {iso(entry.effective)}{why}; judged at {iso(moment)}",
                    issuer,
                    service,
                )
        return ServiceStanding(True, f"{issuer.id}/{service.id} granted at {iso(moment)}", issuer, service)


# --- signing and verification -------------------------------------------------------------------------------


Chain = bytes | Sequence[bytes]
"""What a signature's ``x5c`` carries: a root certificate, or a delegated signer's certificate and its root's."""


def x5c(chain: Chain) -> list[str]:
    """The ``x5c`` header member (standard base64 DER, signer first) of a root or a delegated signer chain."""
    certs = [chain] if isinstance(chain, bytes) else list(chain)
    return [base64.b64encode(cert).decode() for cert in certs]


def sign(trust_list: TrustList, signers: Sequence[tuple[Signer, Chain]]) -> dict[str, Any]:
    """JWS JSON serialization signed by each ``(signer, root certificate DER)`` — or, when the roots are offline,
    ``(signer, [trust list signer certificate, root certificate])`` (:func:`check_delegate`)."""
    return jose.sign_json(
        trust_list.canonical(),
        [(signer, {"typ": "huren-trust-list+json", "x5c": x5c(chain)}) for signer, chain in signers],
    )


def check_delegate(delegate: x509.Certificate, root: x509.Certificate, moment: datetime, *, what: str) -> None:
    """A national root's delegated trust list signer (issue 20: an offline root certifies, in a ceremony, the key
    the service signs trust lists and bundles with): issued and signed by ``root``, not a CA, key usage
    digitalSignature, extended key usage ``EKU_TRUST_LIST_SIGNING`` only, valid at ``moment`` (the document's own
    issue time). Raises :class:`InvalidSignature` otherwise."""

    def refuse(reason: str) -> InvalidSignature:
        return InvalidSignature(f"{what} signer certificate refused: {reason}", code=Code.INVALID_SIGNATURE)

    tbs = delegate["tbs_certificate"]
    if tbs["issuer"].dump() != root["tbs_certificate"]["subject"].dump():
        raise refuse("not issued by the pinned root")
    try:
        algorithm = SignatureAlgorithm.from_x509(delegate["signature_algorithm"])
        if delegate["signature_algorithm"].dump() != tbs["signature"].dump():
            raise refuse("signatureAlgorithm differs from tbsCertificate.signature")
        root_key = public_key_from_spki(root["tbs_certificate"]["subject_public_key_info"])
        root_key.verify(bytes(delegate["signature_value"].native), tbs.dump(), algorithm)
    except TrustError as exc:
        if isinstance(exc, InvalidSignature) and exc.message.startswith(f"{what} signer"):
            raise
        raise refuse(f"the root's signature does not verify ({exc.message})") from None
    constraints = delegate.basic_constraints_value
    if constraints is not None and constraints["ca"].native:
        raise refuse("it is a CA certificate")
    usage = delegate.key_usage_value
    if usage is None or "digital_signature" not in usage.native:
        raise refuse("key usage lacks digitalSignature")
    purposes = delegate.extended_key_usage_value
    if purposes is None or [p.dotted for p in purposes] != [EKU_TRUST_LIST_SIGNING]:
        raise refuse(f"extended key usage is not exactly trust list signing ({EKU_TRUST_LIST_SIGNING})")
    validity = tbs["validity"]
    start, end = validity["not_before"].native, validity["not_after"].native
    if not start <= moment <= end:
        raise refuse(f"not valid at the document's time {iso(moment)} (valid {iso(start)} to {iso(end)})")


def _document_time(payload: bytes, what: str) -> datetime:
    body = strict_json.load_object(payload, f"{what} payload")
    for member in ("issued_at", "created_at"):
        if member in body:
            return parse_time(body[member], f"{what} {member}")
    raise EncodingError(f"{what} payload names no issue time (issued_at or created_at)")


@dataclass(frozen=True)
class VerifiedDocument:
    payload: bytes
    signed_by: tuple[str, ...]  # fingerprints of the pinned roots whose signatures verified


def verify_signed(document: Mapping[str, Any], pinned: Iterable[str], *, what: str) -> VerifiedDocument:
    """Check a root-signed JWS JSON document: at least one signature by a pinned root verifies, and no
    signature that claims a pinned root fails. Signatures by unpinned keys are ignored."""
    pins = {p.lower().replace(":", "") for p in pinned}
    if not pins:
        raise InputError(f"no pinned national root fingerprints to check the {what} against")
    payload, signatures = jose.parse_json(document)
    verified: list[str] = []
    for item in signatures:
        chain = item.header.get("x5c")
        if not isinstance(chain, list) or not chain or len(chain) > 2 or not all(isinstance(c, str) for c in chain):
            raise EncodingError(f"{what} signature lacks x5c with the signing root certificate (or its delegate's)")
        try:
            ders = [base64.b64decode(c, validate=True) for c in chain]
            certs = [x509.Certificate.load(der, strict=True) for der in ders]
            key = public_key_from_spki(certs[0]["tbs_certificate"]["subject_public_key_info"])
        except (ValueError, TypeError):
            raise EncodingError(f"{what} signature carries a malformed x5c certificate") from None
        fingerprints = [hashlib.sha256(der).hexdigest() for der in ders]
        if fingerprints[0] in pins:
            fingerprint = fingerprints[0]
        elif len(certs) == 2 and fingerprints[1] in pins:
            # a delegated signer: the pinned root certified it (offline root, docs/OPERATIONS.md "Offline root")
            fingerprint = fingerprints[1]
            check_delegate(certs[0], certs[1], _document_time(payload, what), what=what)
        else:
            continue
        try:
            jose.verify_json_signature(item, key, algorithms=sorted(jose.ACCEPTED_ALGORITHMS))
        except TrustError as exc:
            raise InvalidSignature(
                f"{what} signature by pinned root {fingerprint[:16]}… does not verify: {exc.message}"
            ) from None
        verified.append(fingerprint)
    if not verified:
        raise InvalidSignature(f"{what} is not signed by any pinned national root", code=Code.INVALID_SIGNATURE)
    return VerifiedDocument(payload, tuple(verified))


def load_document(data: bytes, what: str, *, limit: int | None = None) -> dict[str, Any]:
    """A signed document's JSON, its size checked first: at most ``limit`` bytes (default :data:`MAX_DOCUMENT_BYTES`;
    the offline bundle has its own, :data:`trust.formats.bundle.MAX_BUNDLE_BYTES`)."""
    most = MAX_DOCUMENT_BYTES if limit is None else limit
    if len(data) > most:
        raise InputError(f"{what} of {len(data)} bytes exceeds {most}", code=Code.INPUT_TOO_LARGE)
    return strict_json.load_object(data, what)


def verify(data: bytes, pinned: Iterable[str]) -> tuple[TrustList, VerifiedDocument]:
    """Parse and verify a signed trust list file."""
    checked = verify_signed(load_document(data, "trust list"), pinned, what="trust list")
    return TrustList.from_json(strict_json.load_object(checked.payload, "trust list payload")), checked


MAX_LOG_CHECKPOINT_CHARS: Final = 65536


def _log_checkpoint(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_LOG_CHECKPOINT_CHARS:
        raise EncodingError("trust list log_checkpoint must be a signed note (text of at most 64 KiB)")
    return value
