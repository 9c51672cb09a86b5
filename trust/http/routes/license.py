"""Licence routes: issuers, issuance, status changes, the public Status List Tokens, and holder retrieval (a holder
fetches their own licence with a proof of the holder key, :mod:`trust.service.holder`)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from trust.http import caching, pagination, problems
from trust.http.auth import Client, IdempotencyKey, allow, anonymous_limit, idempotency_for
from trust.http.bodies import StrictJsonRoute
from trust.http.fields import IsoDate
from trust.service import licenses as service
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["electronic licences"], route_class=StrictJsonRoute)


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


class IssuerCreate(BaseModel):
    ca_id: str = Field(examples=["region-330000-sm2"])
    name: str = Field(max_length=128, examples=["浙江省市场监督管理局"])
    code: str = Field(max_length=32, description="The authority's USCC")
    license_types: list[str] = Field(min_length=1, max_length=200, examples=[["11100000000013338W101"]])
    family: Literal["SM2", "RSA", "EC"] = "SM2"

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "ca_id": "region-330000-sm2",
                    "name": "浙江省市场监督管理局",
                    "code": "11330000002482226F",
                    "license_types": ["11100000000013338W101"],
                    "family": "SM2",
                }
            ]
        }
    }


class IssuerOut(BaseModel):
    id: str
    name: str
    code: str
    ca_id: str
    license_types: list[str]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "330000-11330000002482226F-sm2",
                    "name": "浙江省市场监督管理局",
                    "code": "11330000002482226F",
                    "ca_id": "region-330000-sm2",
                    "license_types": ["11100000000013338W101"],
                }
            ]
        }
    }


@router.post(
    "/license-issuers",
    status_code=201,
    summary="Register a licence issuing authority (operators)",
    response_model=IssuerOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
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
    valid_from: IsoDate | None = None
    valid_until: IsoDate | None = None
    holder_jwk: dict[str, Any] | None = Field(default=None, description="Holder public JWK for SD-JWT key binding")
    token_form: Literal["compact", "x5c"] = Field(
        default="compact",
        description="compact: header kid + x5t#S256, the issuer certificate found in the trust list (the default); "
        "x5c: the issuer's certificate chain in the header as well (about 2.5 KB more)",
    )
    request_id: str | None = Field(default=None, max_length=128, description="Idempotency key")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "issuer_id": "330000-11330000002482226F-sm2",
                    "type": "11100000000013338W101",
                    "fields": {
                        "name": "杭州示例科技有限公司",
                        "uscc": "91330106MA2CFA4X0F",
                        "entity_type": "有限责任公司（自然人投资或控股）",
                        "legal_representative": "张三",
                        "business_scope": "技术服务、技术开发、技术咨询",
                        "registered_capital": "壹仟万元整",
                        "established_on": "2020-05-20",
                        "business_term_start": "2020-05-20",
                        "domicile": "浙江省杭州市西湖区文三路100号8幢801室",
                        "registration_authority": "杭州市西湖区市场监督管理局",
                        "registered_on": "2026-01-08",
                    },
                }
            ]
        }
    }


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

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "identifier": "11100000000013338W1013300002026000001X",
                    "type": "11100000000013338W101",
                    "issuer_id": "330000-11330000002482226F-sm2",
                    "holder_name": "杭州示例科技有限公司",
                    "holder_code": "91330106MA2CFA4X0F",
                    "status": "valid",
                    "token": "eyJhbGciOiJTTTIiLCJ0eXAiOiJsaWNlbnNlK2p3dCJ9.eyJ…",
                    "sd_jwt": "eyJhbGciOiJTTTIiLCJ0eXAiOiJ2YytzZC1qd3QifQ.eyJ…~WyJ…~",
                    "qr": "HR1:…",
                }
            ]
        }
    }


def _out(record: Any, qr_token: str = "") -> LicenseOut:
    from trust.formats import license_token as token

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
    "/licenses",
    status_code=201,
    summary="Issue a licence (token, SD-JWT, QR payload)",
    response_model=LicenseOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def issue(
    body: LicenseCreate, request: Request, principal: Client, idempotency_key: IdempotencyKey = None
) -> LicenseOut:
    allow(request, principal, Action.LICENSE_ISSUE, license_issuer_id=body.issuer_id, type_code=body.type)
    request_id, fingerprint = idempotency_for(request, principal, idempotency_key, body)
    made = service.issue(
        _instance(request),
        issuer_id=body.issuer_id,
        type_code=body.type,
        fields=body.fields,
        holder_code=body.holder_code,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        holder_jwk=body.holder_jwk,
        request_id=request_id,
        fingerprint=fingerprint,
        token_form=body.token_form,
    )
    return _out(made.record, made.qr_token)


@router.get(
    "/licenses/{identifier}",
    summary="One licence",
    response_model=LicenseOut,
    responses=problems.responses(*problems.AUTHENTICATED, 404),
)
def get_license(identifier: str, request: Request, principal: Client) -> LicenseOut:
    allow(request, principal, Action.LICENSE_READ, license_id=identifier)
    return _out(service.get(_instance(request), identifier))


@router.post(
    "/licenses/{identifier}/pdf",
    summary="The licence as a sealed PDF (face, QR code carrying the token, the issuing authority's seal)",
    response_class=Response,
    responses={
        200: {
            "description": "The licence PDF, sealed by the issuing authority (PAdES B-LT or B-LTA)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems.responses(*problems.AUTHENTICATED, 404, 409, 422),
    },
)
async def license_pdf(
    identifier: str,
    request: Request,
    principal: Client,
    level: Annotated[Literal["B-LT", "B-LTA"], Query(description="PAdES level (long-term at least)")] = "B-LT",
    family: Annotated[
        Literal["SM2", "RSA", "dual"], Query(description="The seal's signature: SM2, RSA, or one of each")
    ] = "SM2",
) -> Response:
    """Renders and seals the licence's printout. A POST, not a GET: every call makes a new seal signature (and the
    first one may create the authority's seal), which is audited. Only the licence's issuer or its region may ask
    (like a status change); a revoked or suspended licence gets 409."""
    from starlette.concurrency import run_in_threadpool

    from trust.service import license_documents

    await run_in_threadpool(allow, request, principal, Action.LICENSE_MANAGE, license_id=identifier)
    pdf = await run_in_threadpool(
        license_documents.issue_pdf, _instance(request), identifier, level=level, family=family
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{identifier}.pdf"', "Cache-Control": "no-store"},
    )


@router.post(
    "/licenses/{identifier}/ofd",
    summary="The licence as a sealed OFD file (GB/T 36905: the face, metadata, token; the issuing authority's seal)",
    response_class=Response,
    responses={
        200: {
            "description": "The licence OFD, sealed by the issuing authority (GB/T 38540 SES_Signature, time-stamped)",
            "content": {"application/ofd": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems.responses(*problems.AUTHENTICATED, 404, 409, 422),
    },
)
async def license_ofd(identifier: str, request: Request, principal: Client) -> Response:
    """Like ``POST /licenses/{identifier}/pdf``, as an OFD electronic licence file (GB/T 33190, GB/T 36905)."""
    from starlette.concurrency import run_in_threadpool

    from trust.service import license_documents

    await run_in_threadpool(allow, request, principal, Action.LICENSE_MANAGE, license_id=identifier)
    ofd = await run_in_threadpool(license_documents.issue_ofd, _instance(request), identifier)
    return Response(
        ofd,
        media_type="application/ofd",
        headers={"Content-Disposition": f'attachment; filename="{identifier}.ofd"', "Cache-Control": "no-store"},
    )


class LicenseStatus(BaseModel):
    status: Literal["valid", "suspended", "revoked"]
    reason: str = Field(default="", max_length=256)

    model_config = {"json_schema_extra": {"examples": [{"status": "suspended", "reason": "年报未按期公示"}]}}


@router.post(
    "/licenses/{identifier}/status",
    summary="Revoke, suspend or reinstate a licence",
    response_model=LicenseOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def set_status(identifier: str, body: LicenseStatus, request: Request, principal: Client) -> LicenseOut:
    allow(request, principal, Action.LICENSE_MANAGE, license_id=identifier)
    return _out(service.set_status(_instance(request), identifier, body.status, body.reason))


STATUS_LIST = "application/statuslist+jwt"
STATUS_LIST_MAX_AGE = 300
JWKS_MAX_AGE = 300


@router.get(
    "/statuslists/{issuer_id}/{number}",
    summary="Status List Token (statuslist+jwt)",
    response_class=Response,
    responses={
        **caching.responses(
            "The signed Status List Token",
            STATUS_LIST,
            {"type": "string", "example": "eyJhbGciOiJTTTIiLCJ0eXAiOiJzdGF0dXNsaXN0K2p3dCJ9.eyJzdWIiOi…"},
        ),
        **problems.responses(404, 422),
    },
    openapi_extra=caching.OPENAPI_EXTRA,
)
def status_list(
    issuer_id: str,
    number: Annotated[int, Path(ge=1, le=pagination.MAX_OFFSET, description="List number, from 1")],
    request: Request,
) -> Response:
    text = service.status_list_token(_instance(request), issuer_id, number)
    return caching.cached(request, text.encode(), STATUS_LIST, max_age=STATUS_LIST_MAX_AGE)


class Jwks(BaseModel):
    """RFC 7517 JWK Set: the public keys of the licence issuers whose certificates are valid."""

    keys: list[dict[str, str]]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "keys": [
                        {
                            "kty": "EC",
                            "crv": "P-256",
                            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                            "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                            "alg": "ES256",
                            "use": "sig",
                        }
                    ]
                }
            ]
        }
    }


@router.get(
    "/vct/{type_code}",
    summary="SD-JWT VC type metadata of a licence type (the document a licence SD-JWT's vct names)",
    response_class=Response,
    description="The exact bytes the vct#integrity claim of a licence SD-JWT hashes (SHA-256, W3C SRI). The offline "
    "bundle carries the same documents (type_metadata).",
    responses={
        **caching.responses(
            "The type metadata document",
            "application/json",
            {
                "type": "object",
                "example": {
                    "vct": "https://huren.example/vct/11100000000013338W101",
                    "name": "营业执照",
                    "display": [{"locale": "zh-CN", "name": "营业执照"}],
                    "claims": [
                        {"path": ["license", "fields", "name"], "display": [{"locale": "zh-CN", "label": "名称"}]}
                    ],
                },
            },
        ),
        **problems.responses(400, 404, 422),
    },
    openapi_extra=caching.OPENAPI_EXTRA,
)
def type_metadata(
    type_code: Annotated[str, Path(pattern="^[0-9A-Z]{21}$", description="Licence type code (21 characters)")],
    request: Request,
) -> Response:
    body = service.type_metadata(_instance(request), type_code)
    return caching.cached(request, body, "application/json", max_age=JWKS_MAX_AGE)


JWK_SET: Final = "application/jwk-set+json"  # RFC 7517 clause 8.5.1


@router.get(
    "/.well-known/jwks.json",
    summary="JWK Set of the licence issuers' RS256/ES256 keys (kid = RFC 7638 thumbprint)",
    response_class=Response,
    description="Only keys of registered JOSE algorithms, so that standard JOSE libraries read the whole set at their "
    "default settings. The SM2 keys are in /.well-known/jwks-sm2.json.",
    responses={**caching.responses("The JWK Set", JWK_SET, Jwks.model_json_schema()), **problems.responses()},
    openapi_extra=caching.OPENAPI_EXTRA,
)
def jwks(request: Request) -> Response:
    body = json.dumps(service.jwks(_instance(request), "standard"), separators=(",", ":")).encode()
    return caching.cached(request, body, JWK_SET, max_age=JWKS_MAX_AGE)


@router.get(
    "/.well-known/jwks-sm2.json",
    summary="JWK Set of the licence issuers' SM2 keys (kty EC, crv SM2, alg SM2; docs/CRYPTO.md)",
    response_class=Response,
    responses={
        **caching.responses("The JWK Set of SM2 keys", JWK_SET, Jwks.model_json_schema()),
        **problems.responses(),
    },
    openapi_extra=caching.OPENAPI_EXTRA,
)
def jwks_sm2(request: Request) -> Response:
    body = json.dumps(service.jwks(_instance(request), "sm2"), separators=(",", ":")).encode()
    return caching.cached(request, body, JWK_SET, max_age=JWKS_MAX_AGE)


# --- holder retrieval (no platform client: the holder proves possession of the licence's holder key) -----------


class HolderProofIn(BaseModel):
    proof: str = Field(
        min_length=1,
        max_length=16 * 1024,
        description="A holder proof: compact JWS, typ huren-holder-proof+jwt, signed by the key bound at issuance "
        "(cnf.jwk); claims sub = the licence identifier, aud = the service's public URL, iat, exp (≤ 300 s), jti "
        "(single use), cnf.jwk = the holder's public key (docs/SECURITY.md, Holder retrieval)",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"proof": "eyJhbGciOiJFUzI1NiIsInR5cCI6Imh1cmVuLWhvbGRlci1wcm9vZitqd3QifQ.eyJzdWIiOi…"}]
        }
    }


_HOLDER_ERRORS = (400, 401, 403, 413, 422, 429)


@router.post(
    "/holder/licenses/{identifier}",
    summary="A holder fetches their licence (token, SD-JWT, QR payload) with a proof of the holder key",
    response_model=LicenseOut,
    dependencies=[Depends(anonymous_limit)],
    responses=problems.responses(*_HOLDER_ERRORS),
)
def holder_license(identifier: str, body: HolderProofIn, request: Request, response: Response) -> LicenseOut:
    """Only for licences issued with a ``holder_jwk``; the others are fetched by their issuing platform
    (``GET /licenses/{identifier}``). An unknown licence, a licence without a holder key and a licence bound to
    another key get the same 403. Each proof is accepted once."""
    from trust.service import holder

    found = holder.retrieve(_instance(request), identifier, body.proof)
    response.headers["Cache-Control"] = "no-store"
    return _out(found.record, found.record.qr_token or "")


@router.post(
    "/holder/licenses/{identifier}/pdf",
    summary="A holder fetches their licence as a sealed PDF, with a proof of the holder key",
    response_class=Response,
    dependencies=[Depends(anonymous_limit)],
    responses={
        200: {
            "description": "The licence PDF, sealed by the issuing authority (PAdES B-LT or B-LTA)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems.responses(*_HOLDER_ERRORS, 409),
    },
)
async def holder_license_pdf(
    identifier: str,
    body: HolderProofIn,
    request: Request,
    level: Annotated[Literal["B-LT", "B-LTA"], Query(description="PAdES level (long-term at least)")] = "B-LT",
    family: Annotated[
        Literal["SM2", "RSA", "dual"], Query(description="The seal's signature: SM2, RSA, or one of each")
    ] = "SM2",
) -> Response:
    """Like ``POST /licenses/{identifier}/pdf`` (a new seal signature each time; 409 for a suspended or revoked
    licence), for the holder of a licence issued with a ``holder_jwk``."""
    from starlette.concurrency import run_in_threadpool

    from trust.service import holder

    record, pdf = await run_in_threadpool(
        holder.retrieve_pdf, _instance(request), identifier, body.proof, level=level, family=family
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{record.identifier}.pdf"',
            "Cache-Control": "no-store",
        },
    )
