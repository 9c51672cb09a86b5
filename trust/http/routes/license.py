"""Licence routes: issuers, issuance, status changes, and the public Status List Tokens."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from trust.http.auth import Client, IdempotencyKey, allow, request_id_for
from trust.service import licenses as service
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["electronic licences"])


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


class IssuerCreate(BaseModel):
    ca_id: str = Field(examples=["region-330000-sm2"])
    name: str = Field(max_length=128, examples=["浙江省市场监督管理局"])
    code: str = Field(max_length=32, description="The authority's USCC")
    license_types: list[str] = Field(min_length=1, max_length=200, examples=[["11100000000013338W101"]])
    family: Literal["SM2", "RSA", "EC"] = "SM2"


class IssuerOut(BaseModel):
    id: str
    name: str
    code: str
    ca_id: str
    license_types: list[str]


@router.post(
    "/license-issuers", status_code=201, summary="Register a licence issuing authority", response_model=IssuerOut
)
def add_issuer(body: IssuerCreate, request: Request, principal: Client) -> IssuerOut:
    allow(request, principal, Action.LICENSE_ISSUER_REGISTER)
    issuer = service.register_issuer(
        _instance(request),
        ca_id=body.ca_id,
        name=body.name,
        code=body.code,
        license_types=body.license_types,
        family=body.family,
    )
    return IssuerOut(
        id=issuer.id,
        name=issuer.name,
        code=issuer.code,
        ca_id=issuer.ca_id,
        license_types=json.loads(issuer.license_types),
    )


class LicenseCreate(BaseModel):
    issuer_id: str = Field(examples=["330000-11330000002482226F-sm2"])
    type: str = Field(min_length=21, max_length=21, examples=["11100000000013338W101"])
    fields: dict[str, Any]
    holder_code: str | None = Field(default=None, max_length=32)
    valid_from: date | None = None
    valid_until: date | None = None
    holder_jwk: dict[str, Any] | None = Field(default=None, description="Holder public JWK for SD-JWT key binding")
    request_id: str | None = Field(default=None, max_length=128, description="Idempotency key")


class LicenseOut(BaseModel):
    identifier: str
    type: str
    issuer_id: str
    holder_name: str
    holder_code: str
    status: str
    token: str
    sd_jwt: str
    qr: str | None = Field(default=None, description="HR1 QR payload (only in the answer to the issuing request)")


def _out(record: Any, qr_token: str = "") -> LicenseOut:
    from licenses import token

    return LicenseOut(
        identifier=record.identifier,
        type=record.type_code,
        issuer_id=record.issuer_id,
        holder_name=record.holder_name,
        holder_code=record.holder_code,
        status=record.status,
        token=record.token,
        sd_jwt=record.sd_jwt,
        qr=token.to_qr(qr_token) if qr_token else None,
    )


@router.post(
    "/licenses", status_code=201, summary="Issue a licence (token, SD-JWT, QR payload)", response_model=LicenseOut
)
def issue(
    body: LicenseCreate, request: Request, principal: Client, idempotency_key: IdempotencyKey = None
) -> LicenseOut:
    allow(request, principal, Action.LICENSE_ISSUE, license_issuer_id=body.issuer_id, type_code=body.type)
    made = service.issue(
        _instance(request),
        issuer_id=body.issuer_id,
        type_code=body.type,
        fields=body.fields,
        holder_code=body.holder_code,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        holder_jwk=body.holder_jwk,
        request_id=request_id_for(principal, idempotency_key, body.request_id),
    )
    return _out(made.record, made.qr_token)


@router.get("/licenses/{identifier}", summary="One licence", response_model=LicenseOut)
def get_license(identifier: str, request: Request, principal: Client) -> LicenseOut:
    allow(request, principal, Action.LICENSE_READ, license_id=identifier)
    return _out(service.get(_instance(request), identifier))


class LicenseStatus(BaseModel):
    status: Literal["valid", "suspended", "revoked"]
    reason: str = Field(default="", max_length=256)


@router.post(
    "/licenses/{identifier}/status", summary="Revoke, suspend or reinstate a licence", response_model=LicenseOut
)
def set_status(identifier: str, body: LicenseStatus, request: Request, principal: Client) -> LicenseOut:
    allow(request, principal, Action.LICENSE_MANAGE, license_id=identifier)
    return _out(service.set_status(_instance(request), identifier, body.status, body.reason))


@router.get(
    "/statuslists/{issuer_id}/{number}",
    summary="Status List Token (statuslist+jwt)",
    response_class=Response,
    responses={200: {"content": {"application/statuslist+jwt": {}}}},
)
def status_list(issuer_id: str, number: int, request: Request) -> Response:
    text = service.status_list_token(_instance(request), issuer_id, number)
    return Response(text, media_type="application/statuslist+jwt", headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/jwks.json", summary="JWK Set of the licence issuers (kid = RFC 7638 thumbprint)")
def jwks(request: Request) -> dict[str, list[dict[str, str]]]:
    return service.jwks(_instance(request))
