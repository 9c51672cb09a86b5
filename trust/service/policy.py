"""The policy layer: the one place that decides whether an authenticated client may perform an action.

Routes name the action and the resource they act on (:func:`authorize`); this module looks up who owns the
resource and applies the rules below. A refusal raises :class:`ForbiddenError` (HTTP 403) and is written to the
audit log with result ``denied``.

**Existence is not disclosed** (issue 11). Certificates (by serial), seals (by ES id) and licences (by identifier)
are not public: a client that may not see one gets exactly the answer it would get if it did not exist — 404,
``E1003``, ``detail`` "no seal <id>" (the id it sent), no evidence — and the refusal is audited as ``denied`` with
the real reason. Only operators, who may read every such resource, get 403 for an action they may not take on an
existing one. CAs and licence issuers are public (``/ca``, the trust list): for them a missing one is 404 and
another region's is 403, for everyone.

============================  ==============================================================================
action                        allowed for
============================  ==============================================================================
``client.manage``             operator
``ca.enrol``                  operator (regions, national services)
``ca.rekey``                  operator (a new key and certificate for a subordinate CA)
``ca.issue``                  region: its own region CAs; operator: national CAs (service certificates);
                              profile ``ocsp``: operator only (issue 11: a region's own responder could
                              overrule a national revocation; responders are the CAs' designated ones)
``certificate.revoke``        region: certificates of its own CAs; operator: any (emergency revocation)
``certificate.read``          region: certificates of its own CAs; operator: any
``ca.refresh``                operator
``trustlist.manage``          operator (publish, withdraw, suspend, reinstate)
``license-issuer.register``   operator (granting licence types is a trust-list decision)
``seal.create``               region: with its own region CA
``seal.manage``               region: its own seals (status changes)
``seal.use``                  region: its own seals (GB/T 38540 signatures, sealed PDFs)
``seal.read``                 region: its own seals; operator: any
``license.issue``             department: its own issuer, a type the trust list grants it now;
                              region: issuers of its region, same type rule
``license.manage``            department: licences of its issuer; region: licences of its region's issuers
``license.read``              as ``license.manage``; operator: any
``federation.register``       operator: any region; region: an identity provider or relying service of its
                              own region (issue 16)
``federation.manage``         operator (trust marks granted and revoked, federation members withdrawn)
``sharing.request``           region: as a relying service of its own region (licence-sharing lookup and
                              retrieval, issue 21); the service refuses a withdrawn one (E1604)
``sharing.manage``            operator (the legal bases that stand in for consent)
``log.cosign``                region: as the registered transparency-log witness of its own region (issue 19)
============================  ==============================================================================

Operators do not create seals or issue licences: national operators enrol and withdraw, regions and
departments act for themselves (separation of duties). Public routes (trust list, bundle, roots, CRLs, CA
certificates, OCSP, TSA, status lists, JWKS, verification, the token endpoint) need no client at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session, select

from ca.models import CertificateAuthority, IssuedCertificate, now, utc
from licenses.models import LicenseIssuer, LicenseRecord
from seal.models import SealRecord
from trust import db
from trust.crypto.errors import ForbiddenError, NotFoundError
from trust.formats import trustlist as tl
from trust.service import audit, registry
from trust.service.clients import Principal
from trust.service.identity.models import FederationEntity
from trust.service.instance import Instance


class Action(StrEnum):
    CLIENT_MANAGE = "client.manage"
    CA_ENROL = "ca.enrol"
    CA_REKEY = "ca.rekey"
    CA_ISSUE = "ca.issue"
    CA_REFRESH = "ca.refresh"
    CERTIFICATE_REVOKE = "certificate.revoke"
    CERTIFICATE_READ = "certificate.read"
    TRUSTLIST_MANAGE = "trustlist.manage"
    LICENSE_ISSUER_REGISTER = "license-issuer.register"
    SEAL_CREATE = "seal.create"
    SEAL_MANAGE = "seal.manage"
    SEAL_USE = "seal.use"
    SEAL_READ = "seal.read"
    LICENSE_ISSUE = "license.issue"
    LICENSE_MANAGE = "license.manage"
    LICENSE_READ = "license.read"
    FEDERATION_REGISTER = "federation.register"
    FEDERATION_MANAGE = "federation.manage"
    SHARING_REQUEST = "sharing.request"
    SHARING_MANAGE = "sharing.manage"
    SHARING_REGISTER = "sharing.register"
    LOG_COSIGN = "log.cosign"


OPERATOR_ONLY = frozenset(
    {
        Action.CLIENT_MANAGE,
        Action.CA_ENROL,
        Action.CA_REKEY,
        Action.CA_REFRESH,
        Action.TRUSTLIST_MANAGE,
        Action.LICENSE_ISSUER_REGISTER,
        Action.FEDERATION_MANAGE,
        Action.SHARING_MANAGE,
    }
)
OPERATOR_PROFILES = frozenset({"ocsp"})  # certificate profiles only national operators may obtain
OPERATOR_ANY = frozenset({Action.CERTIFICATE_REVOKE, Action.CERTIFICATE_READ, Action.SEAL_READ, Action.LICENSE_READ})


@dataclass(frozen=True)
class Resource:
    """What an action is about; routes fill in what they know."""

    ca_id: str | None = None
    serial: str | None = None
    es_id: str | None = None
    license_issuer_id: str | None = None
    license_id: str | None = None
    type_code: str | None = None
    profile: str | None = None
    region: str | None = None
    entity_id: str | None = None  # a federation member (the requesting service of a sharing request)

    def label(self) -> str:
        for name in ("es_id", "license_id", "serial", "license_issuer_id", "ca_id", "region", "entity_id"):
            value = getattr(self, name)
            if value is not None:
                return f"{name.removesuffix('_id')}:{value}"
        return "-"


class _Deny(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class _Hidden(Exception):
    """The resource is missing, or the client may not see it: both answered as missing (module docstring)."""

    def __init__(self, reason: str):
        self.reason = reason


def _hidden_message(resource: Resource) -> str:
    """The 404 detail for a resource that is missing or hidden: built from the request alone."""
    for name, noun in (("es_id", "seal"), ("license_id", "licence"), ("serial", "certificate")):
        value = getattr(resource, name)
        if value is not None:
            return f"no {noun} {value}"
    return "not found"  # pragma: no cover - hidden resources always carry their id


def _region_of_ca(session: Session, ca_id: str) -> str | None:
    ca = session.get(CertificateAuthority, ca_id)
    if ca is None:
        raise NotFoundError(f"no CA {ca_id}")
    return ca.code if ca.kind == "region" else None


def _granted_types(session: Session, issuer_id: str) -> list[str]:
    """The licence types the trust list grants ``issuer_id`` now (empty when the service is not granted)."""
    service_id = f"license-issuer-{issuer_id}"
    service = session.get(registry.ServiceRecord, service_id)
    if service is None:
        return []
    events = session.exec(
        select(registry.TrustEvent).where(
            registry.TrustEvent.subject == "service", registry.TrustEvent.subject_id == service_id
        )
    ).all()
    moment = now()
    entry = tl.status_at([tl.StatusEntry(e.status, utc(e.effective_at), e.reason) for e in events], moment)
    if entry is None or entry.status != "granted":
        return []
    types = json.loads(service.scope).get("license_types", [])
    return [t for t in types if isinstance(t, str)]


def _issuer(session: Session, issuer_id: str) -> LicenseIssuer:
    issuer = session.get(LicenseIssuer, issuer_id)
    if issuer is None:
        raise NotFoundError(f"no licence issuer {issuer_id}")
    return issuer


def _decide(session: Session, principal: Principal, action: Action, resource: Resource) -> None:  # noqa: C901, PLR0912, PLR0915 (the policy table, one branch per action)
    kind = principal.kind
    if action in OPERATOR_ONLY:
        if kind != "operator":
            raise _Deny(f"{action} is for national operators")
        return
    if action is Action.FEDERATION_REGISTER:
        if kind == "operator" or (kind == "region" and resource.region == principal.region):
            return
        raise _Deny("a region registers identity providers and relying services of its own region only")
    if action is Action.LOG_COSIGN:
        # resource.region: the region of the registered witness whose cosignature the client posts (issue 19)
        if kind == "region" and resource.region is not None and resource.region == principal.region:
            return
        raise _Deny("a region's platform cosigns the log's checkpoints only as its own region's witness")
    if action is Action.SHARING_REGISTER:
        # resource.region: the region of the issuer the entry names; the service checks it again once verified (E1607)
        if kind == "region" and resource.region is not None and resource.region == principal.region:
            return
        raise _Deny("a region's platform registers the licences of its own region's legacy systems only")
    if action is Action.SHARING_REQUEST:
        # Federation members are public (/federation/list): a missing one is 404 for everyone.
        member = session.get(FederationEntity, resource.entity_id) if resource.entity_id is not None else None
        if member is None or member.kind != "openid_relying_party":
            raise NotFoundError(f"{resource.entity_id} is not a relying service of the federation")
        if kind != "region" or member.region != principal.region:
            raise _Deny("a region's platform requests licences only as a relying service of its own region")
        return
    if kind == "operator":
        if action in OPERATOR_ANY:
            return
        if action is Action.CA_ISSUE and resource.ca_id is not None:
            if _region_of_ca(session, resource.ca_id) is None:
                return
            raise _Deny("operators issue from national CAs only; a region issues from its own CA")
        raise _Deny(f"{action} is done by regions and departments, not by national operators")
    if action is Action.CA_ISSUE and resource.profile in OPERATOR_PROFILES:
        raise _Deny(
            f"{resource.profile} certificates are issued only by national operators: an OCSP responder speaks for its "
            "CA, and only the CA's designated responder (listed in the trust list) may"
        )
    if action in (Action.CA_ISSUE, Action.SEAL_CREATE):
        if kind != "region" or resource.ca_id is None or _region_of_ca(session, resource.ca_id) != principal.region:
            raise _Deny(f"{action} only with the client's own region CA")
        return
    if action is Action.CERTIFICATE_READ and resource.serial is None:
        if kind != "region" or resource.ca_id is None or _region_of_ca(session, resource.ca_id) != principal.region:
            raise _Deny("a region lists the certificates of its own CAs (name the CA)")
        return
    if action in (Action.CERTIFICATE_REVOKE, Action.CERTIFICATE_READ):
        record = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == resource.serial)).first()
        if record is None:
            raise _Hidden("no such certificate")
        if kind != "region" or _region_of_ca(session, record.issuer_id) != principal.region:
            raise _Hidden("a certificate of another region's CA")
        return
    if action is Action.SEAL_READ and resource.es_id is None:
        if kind != "region" or resource.ca_id is None or _region_of_ca(session, resource.ca_id) != principal.region:
            raise _Deny("a region lists the seals of its own CA (name the CA)")
        return
    if action in (Action.SEAL_MANAGE, Action.SEAL_USE, Action.SEAL_READ):
        seal = session.exec(select(SealRecord).where(SealRecord.es_id == resource.es_id)).first()
        if seal is None:
            raise _Hidden("no such seal")
        if kind != "region" or _region_of_ca(session, seal.issuer_ca_id) != principal.region:
            raise _Hidden("a seal of another region")
        return
    if action is Action.LICENSE_ISSUE:
        if resource.license_issuer_id is None or resource.type_code is None:
            raise _Deny("licence issuance names an issuer and a type")
        issuer = _issuer(session, resource.license_issuer_id)
        if kind == "department" and principal.license_issuer_id != issuer.id:
            raise _Deny("a department issues only as its own licence issuer")
        if kind == "region" and _region_of_ca(session, issuer.ca_id) != principal.region:
            raise _Deny("a region issues only through its own region's licence issuers")
        if kind not in ("department", "region"):
            raise _Deny("licences are issued by departments and regions")
        if resource.type_code not in _granted_types(session, issuer.id):
            raise _Deny(f"the trust list does not grant {issuer.id} licence type {resource.type_code} now")
        return
    if action in (Action.LICENSE_MANAGE, Action.LICENSE_READ):
        hidden = resource.license_id is not None
        if hidden:
            found = session.exec(select(LicenseRecord).where(LicenseRecord.identifier == resource.license_id)).first()
            if found is None:
                raise _Hidden("no such licence")
            issuer = _issuer(session, found.issuer_id)
        elif resource.license_issuer_id is not None:
            issuer = _issuer(session, resource.license_issuer_id)
        else:
            raise _Deny("licence actions name a licence or an issuer")
        if kind == "department" and principal.license_issuer_id == issuer.id:
            return
        if kind == "region" and _region_of_ca(session, issuer.ca_id) == principal.region:
            return
        if hidden:
            raise _Hidden("a licence of another issuer or region")
        raise _Deny("only licences of the client's own issuer or region")
    raise _Deny(f"{action} is not allowed for {kind} clients")  # pragma: no cover - every action is handled


def authorize(instance: Instance, principal: Principal, action: Action, resource: Resource | None = None) -> None:
    """Allow, or raise ForbiddenError (403) or NotFoundError (404), audited as ``denied`` (module docstring)."""
    resource = resource or Resource()
    try:
        with db.session_scope(instance.engine, read_only=True) as session:
            _decide(session, principal, action, resource)
    except _Deny as denied:
        _denied(instance, principal, action, resource, denied.reason)
        raise ForbiddenError(
            f"{principal.client_id} ({principal.kind}) may not {action} {resource.label()}: {denied.reason}",
            evidence={"action": str(action), "client_id": principal.client_id},
        ) from None
    except _Hidden as hidden:
        # Missing, or not the client's: one answer for both, so that a region cannot learn whether another
        # region's certificate, seal or licence exists. The audit entry keeps the real reason.
        _denied(instance, principal, action, resource, hidden.reason)
        raise NotFoundError(_hidden_message(resource)) from None
    except NotFoundError as missing:  # a public resource (CA, licence issuer) that does not exist
        if principal.kind != "operator":
            _denied(instance, principal, action, resource, missing.message)
        raise


def _denied(instance: Instance, principal: Principal, action: Action, resource: Resource, reason: str) -> None:
    details: dict[str, Any] = {"reason": reason, "kind": principal.kind}
    audit.record(instance.engine, action=str(action), subject=resource.label(), result="denied", details=details)


__all__ = ["OPERATOR_ONLY", "OPERATOR_PROFILES", "Action", "Resource", "authorize"]
