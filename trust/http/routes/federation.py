"""The identity federation's trust anchor over HTTP (OpenID Federation 1.0, clauses 8 and 9).

Public (no client): the anchor's entity configuration at ``/.well-known/openid-federation``, the configurations of
the entities hosted here (``/idp/<region>/.well-known/openid-federation``, ``/rp/<name>/...``), ``fetch`` (the
anchor's subordinate statement about a member), ``list``, ``resolve`` and the trust mark status. Writes are scoped
like every other write: ``POST /federation/entities`` (the operator, or a region's platform for its own region),
trust marks and withdrawal (the operator). Thin: every decision is :mod:`trust.service.identity.anchor`'s.
"""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from trust.crypto.errors import Code, InputError
from trust.http import problems
from trust.http.auth import Client, allow, anonymous_limit
from trust.service.identity import anchor
from trust.service.identity.models import FederationEntity
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["identity federation"])
STATEMENT = "application/entity-statement+jwt"
RESOLVE = "application/resolve-response+jwt"
MAX_AGE = 60
_ID_MAX = 300  # entity identifiers in a query: two of them percent-encoded stay under the 8 KiB request-target limit
_JWT_EXAMPLE = (
    "eyJhbGciOiJTTTIiLCJraWQiOiJ…IiwidHlwIjoiZW50aXR5LXN0YXRlbWVudCtqd3QifQ.eyJpc3MiOiJodHRwczovL…In0.MEUCIQ…"
)
_ENTITY = "https://trust.demo.huren.example/idp/330000"


def _jwt_response(media_type: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {media_type: {"example": _JWT_EXAMPLE}}}}


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _jwt(token: str, media_type: str) -> Response:
    return Response(token, media_type=media_type, headers={"Cache-Control": f"public, max-age={MAX_AGE}"})


@router.get(
    "/.well-known/openid-federation",
    summary="The trust anchor's entity configuration (OpenID Federation 1.0 clause 9)",
    response_class=Response,
    responses={**_jwt_response(STATEMENT), **problems.responses(404)},
)
def anchor_configuration(request: Request) -> Response:
    return _jwt(anchor.anchor_configuration(_instance(request)), STATEMENT)


@router.get(
    "/idp/{code}/.well-known/openid-federation",
    summary="The entity configuration of a regional identity provider hosted here",
    response_class=Response,
    responses={**_jwt_response(STATEMENT), **problems.responses(404)},
)
def op_configuration(code: str, request: Request) -> Response:
    instance = _instance(request)
    return _jwt(anchor.entity_configuration(instance, anchor.hosted_op_id(instance, code)), STATEMENT)


@router.get(
    "/rp/{name}/.well-known/openid-federation",
    summary="The entity configuration of a relying service hosted here",
    response_class=Response,
    responses={**_jwt_response(STATEMENT), **problems.responses(404)},
)
def rp_configuration(name: str, request: Request) -> Response:
    instance = _instance(request)
    return _jwt(anchor.entity_configuration(instance, anchor.hosted_rp_id(instance, name)), STATEMENT)


@router.get(
    "/federation/fetch",
    summary="The anchor's subordinate statement about a member (clause 8.1)",
    response_class=Response,
    responses={**_jwt_response(STATEMENT), **problems.responses(400, 404, 422)},
)
def fetch(request: Request, sub: str = Query(max_length=_ID_MAX)) -> Response:
    return _jwt(anchor.subordinate_statement(_instance(request), sub), STATEMENT)


@router.get(
    "/federation/list",
    summary="Entity identifiers of the active members (clause 8.2)",
    response_model=list[str],
    responses={200: {"content": {"application/json": {"example": [_ENTITY]}}}, **problems.responses(400, 422)},
)
def list_entities(
    request: Request, entity_type: Literal["openid_provider", "openid_relying_party"] | None = None
) -> list[str]:
    return anchor.list_ids(_instance(request), entity_type)


@router.get(
    "/federation/resolve",
    summary="A member's validated trust chain and resolved metadata, signed by the anchor (clause 8.3)",
    response_class=Response,
    responses={**_jwt_response(RESOLVE), **problems.responses(400, 404, 422)},
)
def resolve(
    request: Request,
    sub: str = Query(max_length=_ID_MAX),
    trust_anchor: str | None = Query(default=None, max_length=_ID_MAX),
) -> Response:
    return _jwt(anchor.resolve(_instance(request), sub, trust_anchor), RESOLVE)


class TrustMarkStatus(BaseModel):
    status: Literal["active", "revoked"] = Field(examples=["active"])


class TrustMarkQuery(BaseModel):
    trust_mark: str = Field(max_length=16384, description="The trust mark (a compact JWS) to ask about",
                            examples=[_JWT_EXAMPLE])  # fmt: skip


@router.post(
    "/federation/trust-mark-status",
    dependencies=[Depends(anonymous_limit)],
    summary="Whether a trust mark the anchor issued is active or revoked (clause 8.4)",
    response_model=TrustMarkStatus,
    responses=problems.responses(*problems.JSON_BODY, 404, 429),
)
def trust_mark_status(body: TrustMarkQuery, request: Request) -> TrustMarkStatus:
    status = anchor.trust_mark_status(_instance(request), body.trust_mark)
    return TrustMarkStatus(status="revoked" if status == "revoked" else "active")


class EntityIn(BaseModel):
    kind: Literal["openid_provider", "openid_relying_party"]
    region: str = Field(pattern=r"^\d{6}$", description="GB/T 2260 code of the member's region", examples=["330000"])
    name: str = Field(min_length=1, max_length=128, examples=["浙江省统一身份认证平台"])
    slug: str | None = Field(default=None, max_length=31, description="Name of a hosted relying service (/rp/<slug>)")
    entity_id: str | None = Field(default=None, max_length=512, description="An external member's entity identifier")
    levels: list[str] | None = Field(default=None, description="Assurance levels an OP may issue (acr values)")
    certificate: str | None = Field(default=None, description="External member: its key certificate, base64 DER")
    configuration: str | None = Field(default=None, description="External member: its signed entity configuration")


class EntityOut(BaseModel):
    entity_id: str = Field(examples=[_ENTITY])
    kind: str = Field(examples=["openid_provider"])
    region: str | None = Field(examples=["330000"])
    name: str = Field(examples=["浙江省统一身份认证平台"])
    status: str = Field(examples=["active"])
    trust_service_id: str | None = Field(default=None, examples=["idp-330000-1a2b3c4d"])


def _out(row: FederationEntity) -> EntityOut:
    return EntityOut(
        entity_id=row.id,
        kind=row.kind,
        region=row.region,
        name=row.name,
        status=row.status,
        trust_service_id=row.trust_service_id,
    )


@router.post(
    "/federation/entities",
    status_code=201,
    summary="Register an identity provider or a relying service (operator; a region for its own region)",
    response_model=EntityOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404, 409),
)
def register(body: EntityIn, request: Request, principal: Client) -> EntityOut:
    allow(request, principal, Action.FEDERATION_REGISTER, region=body.region)
    certificate = None
    if body.certificate is not None:
        try:
            certificate = base64.b64decode(body.certificate, validate=True)
        except ValueError:
            raise InputError("certificate is not base64 DER", code=Code.MALFORMED_ENCODING) from None
    row = anchor.register(
        _instance(request),
        kind=body.kind,
        region_code=body.region,
        name=body.name,
        entity_id=body.entity_id,
        slug=body.slug,
        levels=body.levels,
        certificate=certificate,
        configuration=body.configuration,
    )
    return _out(row)


@router.get(
    "/federation/entities",
    summary="Every member with its standing (active or withdrawn)",
    response_model=list[EntityOut],
    responses=problems.responses(),
)
def members(request: Request) -> list[EntityOut]:
    return [_out(row) for row in anchor.entities(_instance(request), active_only=False)]


class Withdrawal(BaseModel):
    entity_id: str = Field(max_length=512, examples=[_ENTITY])
    reason: str = Field(default="", max_length=256, examples=["region withdrawn from the trust list"])


@router.post(
    "/federation/entities/withdraw",
    summary="Withdraw a member (operator): fetch answers 404, an OP's trust-list service is withdrawn from now",
    response_model=EntityOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404),
)
def withdraw(body: Withdrawal, request: Request, principal: Client) -> EntityOut:
    allow(request, principal, Action.FEDERATION_MANAGE)
    return _out(anchor.withdraw(_instance(request), body.entity_id, body.reason))


class TrustMarkIn(BaseModel):
    entity_id: str = Field(max_length=512, examples=[_ENTITY])
    level: int = Field(ge=1, le=3, description="实名认证 level of the identity provider", examples=[2])


class TrustMarkOut(BaseModel):
    entity_id: str = Field(examples=[_ENTITY])
    trust_mark_type: str = Field(examples=["https://trust.demo.huren.example/trust-marks/real-name-idp-level-2"])
    trust_mark: str = Field(examples=[_JWT_EXAMPLE])
    revoked: bool = Field(examples=[False])


@router.post(
    "/federation/trust-marks",
    status_code=201,
    summary="Grant a trust mark (operator)",
    response_model=TrustMarkOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404, 409),
)
def grant(body: TrustMarkIn, request: Request, principal: Client) -> TrustMarkOut:
    allow(request, principal, Action.FEDERATION_MANAGE)
    record = anchor.grant_trust_mark(_instance(request), body.entity_id, body.level)
    return TrustMarkOut(
        entity_id=record.entity_id, trust_mark_type=record.trust_mark_type, trust_mark=record.token, revoked=False
    )


@router.post(
    "/federation/trust-marks/revoke",
    summary="Revoke a trust mark (operator)",
    response_model=TrustMarkOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404),
)
def revoke(body: TrustMarkIn, request: Request, principal: Client) -> TrustMarkOut:
    allow(request, principal, Action.FEDERATION_MANAGE)
    record = anchor.revoke_trust_mark(_instance(request), body.entity_id, body.level)
    return TrustMarkOut(
        entity_id=record.entity_id, trust_mark_type=record.trust_mark_type, trust_mark=record.token, revoked=True
    )
