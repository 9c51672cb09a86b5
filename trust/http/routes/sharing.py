"""Licence sharing over HTTP (issue 21, docs/SHARING.md): thin over :mod:`trust.service.sharing.access`.

* **Requesting service** (a region's platform client, acting as a relying service of its own region —
  ``sharing.request`` in :mod:`trust.service.policy`): ``POST /sharing/lookup`` (the national directory: where the
  holder's licences of a type live, metadata only) and ``POST /sharing/licenses/{identifier}`` (the issuing
  region: the licence as an SD-JWT bound to the service, the consented fields only). The holder code travels in
  the body, never in a URL.
* **Citizen** (no platform client: the ID token of their federation login is the credential, per-address rate
  limit): ``POST /sharing/consents`` (grant; the token's audience must be the requesting service),
  ``POST /sharing/consents/{consent_id}/withdraw``, ``POST /sharing/citizen/consents`` and
  ``POST /sharing/citizen/history`` (who looked up or fetched their licences). Reads are POSTs so that the ID
  token never appears in a URL or an access log.
* **Offline regions**: a retrieval from a region's legacy system that cannot be reached answers 202 with a ticket;
  ``POST /sharing/tickets/{ticket}`` polls it (200 the licence, 202 still waiting, or the refusal).
* **A region's legacy licences**: ``POST /sharing/legacy-entries`` (``sharing.register``, a region's platform, for
  its own region's issuers only) registers a signed entry.
* **Operator**: ``POST /sharing/legal-bases`` (``sharing.manage``).

A refusal is a problem document with its code (E1600–E1605; quota 429) and discloses nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from trust.http import problems
from trust.http.auth import Client, allow, anonymous_limit
from trust.http.bodies import StrictJsonRoute
from trust.service.instance import Instance
from trust.service.policy import Action
from trust.service.sharing import access, legacy
from trust.service.sharing.models import AccessRecord, Consent

router = APIRouter(tags=["licence sharing"], route_class=StrictJsonRoute)
_TOKEN_MAX = 16384
_ENTITY_MAX = 512
_SERVICE = "https://trust.demo.huren.example/rp/gd-service"
_TYPE = "11100000000013338W104"
_IDENTIFIER_EXAMPLE = "11330000002482227N-11100000000013338W104-20261201-000001-X"
_TYPE_FIELD = Field(pattern=r"^[0-9A-Z]{21}$", description="GB/T 36903 licence type code", examples=[_TYPE])


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


class Authority(BaseModel):
    """Who asks, why, and under which consent or legal basis (exactly one)."""

    requester: str = Field(max_length=_ENTITY_MAX, description="The requesting relying service's entity id",
                           examples=[_SERVICE])  # fmt: skip
    purpose: str = Field(min_length=1, max_length=256, examples=["入学登记"])
    consent_id: str | None = Field(default=None, max_length=32, examples=["0f1e2d3c4b5a69788796a5b4c3d2e1f0"])
    legal_basis: str | None = Field(default=None, max_length=32, examples=["LB-EDU-01"])

    def request(self) -> access.Request:
        return access.Request(self.requester, self.purpose, consent_id=self.consent_id, legal_basis=self.legal_basis)


class LookupIn(Authority):
    holder_code: str = Field(min_length=1, max_length=64, description="The holder's citizen ID number or USCC",
                             examples=["330106199001010011"])  # fmt: skip
    type: str = _TYPE_FIELD


class LocatedOut(BaseModel):
    identifier: str = Field(examples=[_IDENTIFIER_EXAMPLE])
    type_code: str = Field(examples=[_TYPE])
    issuer_id: str = Field(examples=["zj-health-1a2b3c"])
    region: str = Field(examples=["330000"])
    status: str = Field(examples=["valid"])
    valid_from: str = Field(examples=["2026-12-01T00:00:00+00:00"])
    valid_until: str | None = Field(examples=[None])
    location: str = Field(
        description="Where to retrieve it (POST with the same authority)",
        examples=[f"https://trust.demo.huren.example/sharing/licenses/{_IDENTIFIER_EXAMPLE}"],
    )
    source: str = Field(default="issued", description="issued (by Huren) or legacy (a region's signed entry)",
                        examples=["issued"])  # fmt: skip
    signed_entry: str | None = Field(
        default=None, description="legacy: the region's signed entry (JWS), checkable against the trust list",
        examples=[None],
    )  # fmt: skip


@router.post(
    "/sharing/lookup",
    summary="The national directory: where the holder's licences of a type live (metadata only; consent needed)",
    response_model=list[LocatedOut],
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404, 429),
)
def lookup(body: LookupIn, request: Request, principal: Client) -> list[LocatedOut]:
    allow(request, principal, Action.SHARING_REQUEST, entity_id=body.requester)
    found = access.lookup(_instance(request), body.request(), holder_code=body.holder_code, type_code=body.type)
    return [LocatedOut.model_validate(entry.to_json()) for entry in found]


class SharedOut(BaseModel):
    identifier: str = Field(examples=[_IDENTIFIER_EXAMPLE])
    sd_jwt: str = Field(description="SD-JWT VC signed by the issuer, aud and cnf.jwk = the requesting service",
                        examples=["eyJhbGciOiJFUzI1NiJ9.eyJ…~WyJ…~"])  # fmt: skip
    disclosed: list[str] = Field(description="Names of the fields it discloses", examples=[["newborn_name", "sex"]])


@router.post(
    "/sharing/licenses/{identifier}",
    summary="The issuing region: the licence bound to the requesting service, the consented fields only",
    response_model=SharedOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404, 429),
)
def retrieve(
    body: Authority, request: Request, principal: Client, identifier: str = Path(max_length=128)
) -> SharedOut | JSONResponse:
    allow(request, principal, Action.SHARING_REQUEST, entity_id=body.requester)
    return _answer(access.retrieve(_instance(request), body.request(), identifier))


class QueuedOut(BaseModel):
    """The issuing region is offline: the request waits; poll the ticket."""

    ticket: str = Field(examples=["5e1d0c9b8a7f6e5d4c3b2a1908f7e6d5"])
    identifier: str = Field(examples=[_IDENTIFIER_EXAMPLE])
    status: str = Field(examples=["queued"])
    attempts: int = Field(examples=[1])
    created_at: str = Field(examples=["2026-12-07T10:00:00+00:00"])
    next_attempt_at: str = Field(examples=["2026-12-07T10:00:30+00:00"])
    reason: str = Field(examples=["the issuing region is unreachable (ConnectError)"])
    poll: str = Field(description="POST here with {requester} until the licence or a refusal comes back",
                      examples=["/sharing/tickets/5e1d0c9b8a7f6e5d4c3b2a1908f7e6d5"])  # fmt: skip


def _answer(result: access.Shared | access.Queued) -> SharedOut | JSONResponse:
    if isinstance(result, access.Queued):
        body = QueuedOut(**result.to_json(), poll=f"/sharing/tickets/{result.ticket}")
        return JSONResponse(body.model_dump(), status_code=202, headers={"Retry-After": "30"})
    return SharedOut(identifier=result.identifier, sd_jwt=result.sd_jwt, disclosed=result.disclosed)


class TicketIn(BaseModel):
    requester: str = Field(max_length=_ENTITY_MAX, description="The requesting service the ticket was given to",
                           examples=[_SERVICE])  # fmt: skip


@router.post(
    "/sharing/tickets/{ticket}",
    summary="Poll a retrieval queued for an offline region: the licence (200), still waiting (202), or the refusal",
    response_model=SharedOut,
    responses={202: {"model": QueuedOut}, **problems.responses(*problems.JSON_BODY, 401, 403, 404, 409, 429)},
)
def poll(
    body: TicketIn, request: Request, principal: Client, ticket: str = Path(max_length=32)
) -> SharedOut | JSONResponse:
    allow(request, principal, Action.SHARING_REQUEST, entity_id=body.requester)
    return _answer(access.poll(_instance(request), body.requester, ticket))


class LegacyEntryIn(BaseModel):
    signed_entry: str = Field(min_length=1, max_length=8192, description="Compact JWS (huren-directory-entry+jwt) "
                              "signed with the licence issuer's key listed in the trust list",
                              examples=["eyJhbGciOiJTTTIiLCJraWQiOiJ…"])  # fmt: skip
    holder_code: str = Field(min_length=1, max_length=64, description="The holder's citizen ID number or USCC",
                             examples=["330106199001010011"])  # fmt: skip
    salt: str = Field(min_length=22, max_length=128, description="base64url salt of the entry's holder commitment",
                      examples=["c2FsdHNhbHRzYWx0c2FsdA"])  # fmt: skip


@router.post(
    "/sharing/legacy-entries",
    status_code=201,
    summary="A region registers a licence of its own legacy system by the entry its issuer signed",
    response_model=LocatedOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404, 409),
)
def register_legacy(body: LegacyEntryIn, request: Request, principal: Client) -> LocatedOut:
    allow(request, principal, Action.SHARING_REGISTER, region=legacy.claimed_region(body.signed_entry))
    located = legacy.register(
        _instance(request), body.signed_entry, holder_code=body.holder_code, salt=body.salt, region=principal.region
    )
    return LocatedOut.model_validate(located.to_json())


class IdToken(BaseModel):
    id_token: str = Field(min_length=1, max_length=_TOKEN_MAX,
                          description="The citizen's ID token from a federation login (scope huren_citizen_id)",
                          examples=["eyJhbGciOiJTTTIiLCJraWQiOiJ…"])  # fmt: skip


class ConsentIn(IdToken):
    requester: str = Field(max_length=_ENTITY_MAX, description="The service consented to (= the token's aud)",
                           examples=[_SERVICE])  # fmt: skip
    license_types: list[str] = Field(min_length=1, max_length=32, examples=[[_TYPE]])
    fields: list[str] = Field(default=[], max_length=128, description="Field names disclosed ([]: every field)",
                              examples=[["newborn_name", "sex"]])  # fmt: skip
    purpose: str = Field(min_length=1, max_length=256, examples=["入学登记"])
    lifetime: int | None = Field(
        default=None, ge=60, le=30 * 24 * 3600, description="Seconds (default and most: the operator's settings)",
        examples=[900],
    )  # fmt: skip


class ConsentOut(BaseModel):
    id: str = Field(examples=["0f1e2d3c4b5a69788796a5b4c3d2e1f0"])
    requester: str = Field(examples=[_SERVICE])
    license_types: list[str] = Field(examples=[[_TYPE]])
    fields: list[str] = Field(examples=[["newborn_name", "sex"]])
    purpose: str = Field(examples=["入学登记"])
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


def _consent(row: Consent) -> ConsentOut:
    return ConsentOut(
        id=row.id,
        requester=row.requester,
        license_types=json.loads(row.license_types),
        fields=json.loads(row.fields),
        purpose=row.purpose,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


_CITIZEN = problems.responses(*problems.JSON_BODY, 403, 404, 429)


@router.post(
    "/sharing/consents",
    status_code=201,
    dependencies=[Depends(anonymous_limit)],
    summary="The citizen consents, with the ID token of their login at the requesting service",
    response_model=ConsentOut,
    responses=_CITIZEN,
)
def grant(body: ConsentIn, request: Request) -> ConsentOut:
    consent = access.grant(
        _instance(request),
        id_token=body.id_token,
        requester=body.requester,
        license_types=body.license_types,
        fields=body.fields,
        purpose=body.purpose,
        lifetime=body.lifetime,
    )
    return _consent(consent)


@router.post(
    "/sharing/consents/{consent_id}/withdraw",
    dependencies=[Depends(anonymous_limit)],
    summary="The citizen withdraws a consent (a fresh ID token of theirs, for any service)",
    response_model=ConsentOut,
    responses=_CITIZEN,
)
def withdraw(body: IdToken, request: Request, consent_id: str = Path(max_length=32)) -> ConsentOut:
    return _consent(access.withdraw(_instance(request), consent_id, id_token=body.id_token))


@router.post(
    "/sharing/citizen/consents",
    dependencies=[Depends(anonymous_limit)],
    summary="The citizen's consents",
    response_model=list[ConsentOut],
    responses=_CITIZEN,
)
def my_consents(body: IdToken, request: Request) -> list[ConsentOut]:
    return [_consent(row) for row in access.consents(_instance(request), id_token=body.id_token)]


class AccessOut(BaseModel):
    at: datetime
    end: str = Field(description="directory (a lookup) or issuer (a retrieval)", examples=["issuer"])
    action: str = Field(examples=["retrieve"])
    requester: str = Field(examples=[_SERVICE])
    purpose: str = Field(examples=["入学登记"])
    consent_id: str | None = Field(examples=["0f1e2d3c4b5a69788796a5b4c3d2e1f0"])
    legal_basis: str | None = Field(examples=[None])
    type_code: str = Field(examples=[_TYPE])
    identifier: str | None = Field(examples=[_IDENTIFIER_EXAMPLE])
    disclosed: list[str] = Field(examples=[["newborn_name", "sex"]])
    result: str = Field(description="listed, disclosed or refused", examples=["disclosed"])
    reason: str = Field(examples=[""])


def access_out(row: AccessRecord) -> dict[str, Any]:
    return {
        "at": row.at,
        "end": row.end,
        "action": row.action,
        "requester": row.requester,
        "purpose": row.purpose,
        "consent_id": row.consent_id,
        "legal_basis": row.legal_basis,
        "type_code": row.type_code,
        "identifier": row.identifier,
        "disclosed": json.loads(row.disclosed),
        "result": row.result,
        "reason": row.reason,
    }


@router.post(
    "/sharing/citizen/history",
    dependencies=[Depends(anonymous_limit)],
    summary="Who looked up or fetched the citizen's licences, when, why, under which consent (newest first)",
    response_model=list[AccessOut],
    responses=_CITIZEN,
)
def history(body: IdToken, request: Request) -> list[AccessOut]:
    return [AccessOut(**access_out(row)) for row in access.history_for(_instance(request), id_token=body.id_token)]


class LegalBasisIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", examples=["LB-EDU-01"])
    description: str = Field(min_length=1, max_length=256, examples=["《义务教育法》入学登记"])
    license_types: list[str] = Field(min_length=1, max_length=32, examples=[[_TYPE]])


class LegalBasisOut(BaseModel):
    code: str = Field(examples=["LB-EDU-01"])
    description: str = Field(examples=["《义务教育法》入学登记"])
    license_types: list[str] = Field(examples=[[_TYPE]])


@router.post(
    "/sharing/legal-bases",
    status_code=201,
    summary="Allow a legal basis that stands in for consent for the licence types it names (operator)",
    response_model=LegalBasisOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404),
)
def add_legal_basis(body: LegalBasisIn, request: Request, principal: Client) -> LegalBasisOut:
    allow(request, principal, Action.SHARING_MANAGE)
    row = access.add_legal_basis(_instance(request), body.code, body.description, body.license_types)
    return LegalBasisOut(code=row.code, description=row.description, license_types=json.loads(row.license_types))
