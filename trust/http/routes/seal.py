"""Seal routes: make seals, read them, change their state, seal PDFs, OFD documents and document hashes."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from trust.crypto.errors import Code, InputError
from trust.http import pagination, problems
from trust.http.auth import Client, IdempotencyKey, allow, idempotency_for
from trust.http.bodies import StrictJsonRoute
from trust.service import seals as service
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["electronic seals"], route_class=StrictJsonRoute)


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


class SealCreate(BaseModel):
    ca_id: str = Field(examples=["region-330000-sm2"], description="The region's or department's SM2 CA")
    holder_kind: Literal["organization", "person"] = "organization"
    holder_name: str = Field(
        min_length=1,
        max_length=40,
        examples=["杭州示例科技有限公司"],
        description="Set along the seal's upper arc: 1..40 characters (a person's seal: 1..4)",
    )
    holder_code: str = Field(max_length=32, description="USCC or citizen ID", examples=["91330106MA2CFA4X0F"])
    seal_name: str = Field(default="公章", max_length=12, examples=["合同专用章"])
    dual: bool = Field(default=False, description="Also an RSA signer certificate (for dual PDF seals)")
    validity_days: int | None = Field(default=None, ge=1, le=1095)
    request_id: str | None = Field(default=None, max_length=128, description="Idempotency key")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "ca_id": "region-330000-sm2",
                    "holder_kind": "organization",
                    "holder_name": "杭州示例科技有限公司",
                    "holder_code": "91330106MA2CFA4X0F",
                    "seal_name": "合同专用章",
                    "validity_days": 365,
                }
            ]
        }
    }


class SealOut(BaseModel):
    es_id: str
    name: str
    holder_kind: str
    holder_name: str
    holder_code: str
    issuer_ca_id: str
    status: str
    valid_start: str
    valid_end: str
    sm2_cert_serial: str
    rsa_cert_serial: str | None
    seal_der: str = Field(description="The SESeal, base64 DER")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "es_id": "330000202611260001",
                    "name": "合同专用章",
                    "holder_kind": "organization",
                    "holder_name": "杭州示例科技有限公司",
                    "holder_code": "91330106MA2CFA4X0F",
                    "issuer_ca_id": "region-330000-sm2",
                    "status": "active",
                    "valid_start": "2026-03-01T00:00:00+00:00",
                    "valid_end": "2027-03-01T00:00:00+00:00",
                    "sm2_cert_serial": "5f3a9c1e7d2b4a6c8e0f1a2b3c4d5e6f7a8b9c0d",
                    "rsa_cert_serial": None,
                    "seal_der": "MIIDxzCCA3MWAkVTAgEEFgExMDgwM…",
                }
            ]
        }
    }


def _out(record: Any) -> SealOut:
    from ca.models import utc

    return SealOut(
        es_id=record.es_id,
        name=record.name,
        holder_kind=record.holder_kind,
        holder_name=record.holder_name,
        holder_code=record.holder_code,
        issuer_ca_id=record.issuer_ca_id,
        status=record.status,
        valid_start=utc(record.valid_start).isoformat(),
        valid_end=utc(record.valid_end).isoformat(),
        sm2_cert_serial=record.sm2_cert_serial,
        rsa_cert_serial=record.rsa_cert_serial,
        seal_der=base64.b64encode(record.seal_der).decode(),
    )


@router.post(
    "/seals",
    status_code=201,
    summary="Make a seal (GB/T 38540 SESeal)",
    response_model=SealOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def create(body: SealCreate, request: Request, principal: Client, idempotency_key: IdempotencyKey = None) -> SealOut:
    allow(request, principal, Action.SEAL_CREATE, ca_id=body.ca_id)
    request_id, fingerprint = idempotency_for(request, principal, idempotency_key, body)
    return _out(
        service.create(
            _instance(request),
            ca_id=body.ca_id,
            holder_kind=body.holder_kind,
            holder_name=body.holder_name,
            holder_code=body.holder_code,
            seal_name=body.seal_name,
            dual=body.dual,
            validity_days=body.validity_days,
            request_id=request_id,
            fingerprint=fingerprint,
        )
    )


@router.get(
    "/seals",
    summary="List seals (a region names its CA), oldest first",
    response_model=list[SealOut],
    responses={**pagination.page_doc("One page of seals"), **problems.responses(*problems.AUTHENTICATED, 404)},
)
def list_seals(
    request: Request,
    response: Response,
    principal: Client,
    ca_id: str | None = None,
    holder_code: str | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    offset: pagination.Offset = 0,
) -> list[SealOut]:
    allow(request, principal, Action.SEAL_READ, ca_id=ca_id)
    instance = _instance(request)
    rows = pagination.offset_page(
        lambda n, at: service.list_seals(instance, ca_id=ca_id, holder_code=holder_code, limit=n, offset=at),
        response,
        request,
        limit=limit,
        offset=offset,
    )
    return [_out(r) for r in rows]


@router.get(
    "/seals/{es_id}.esl",
    summary="The SESeal (DER)",
    response_class=Response,
    responses={
        200: {
            "description": "The GB/T 38540 SESeal, DER",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems.responses(*problems.AUTHENTICATED, 404),
    },
)
def seal_file(es_id: str, request: Request, principal: Client) -> Response:
    allow(request, principal, Action.SEAL_READ, es_id=es_id)
    return Response(service.get(_instance(request), es_id).seal_der, media_type="application/octet-stream")


@router.get(
    "/seals/{es_id}",
    summary="One seal",
    response_model=SealOut,
    responses=problems.responses(*problems.AUTHENTICATED, 404),
)
def get_seal(es_id: str, request: Request, principal: Client) -> SealOut:
    allow(request, principal, Action.SEAL_READ, es_id=es_id)
    return _out(service.get(_instance(request), es_id))


class SealStatus(BaseModel):
    status: Literal["active", "suspended", "revoked"]
    reason: str = Field(default="", max_length=256)

    model_config = {"json_schema_extra": {"examples": [{"status": "suspended", "reason": "印章遗失，挂失中"}]}}


@router.post(
    "/seals/{es_id}/status",
    summary="Suspend, reinstate or revoke a seal",
    response_model=SealOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def set_status(es_id: str, body: SealStatus, request: Request, principal: Client) -> SealOut:
    allow(request, principal, Action.SEAL_MANAGE, es_id=es_id)
    return _out(service.set_status(_instance(request), es_id, body.status, body.reason))


class SignRequest(BaseModel):
    data_hash: str | None = Field(default=None, description="SM3 digest of the protected data, hex (64 characters)")
    data: str | None = Field(default=None, description="The protected data, base64 (alternative to data_hash)")
    property_info: str = Field(
        min_length=1,
        max_length=1024,
        examples=["Doc_0/Signs/Sign_0/Signature.xml"],
        description="What is protected (ASCII), e.g. the OFD signature path",
    )
    timestamp: bool = Field(default=True, description="Add an RFC 3161 time-stamp over the signature value")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "data_hash": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
                    "property_info": "Doc_0/Signs/Sign_0/Signature.xml",
                    "timestamp": True,
                }
            ]
        }
    }


@router.post(
    "/seals/{es_id}/signatures",
    status_code=201,
    summary="Make a GB/T 38540 SES_Signature",
    response_class=Response,
    responses={
        201: {
            "description": "The SES_Signature, DER",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
    },
)
def sign(es_id: str, body: SignRequest, request: Request, principal: Client) -> Response:
    allow(request, principal, Action.SEAL_USE, es_id=es_id)
    from trust.service.seals import signing

    if body.data_hash is not None and body.data is not None:
        raise InputError("give data_hash or data, not both")
    if body.data_hash is None and body.data is None:
        raise InputError("give data_hash (SM3 hex) or data (base64)")
    digest = signing.parse_data_hash(body.data_hash, "data_hash") if body.data_hash is not None else None
    try:
        data = base64.b64decode(body.data, validate=True) if body.data is not None else None
    except ValueError:
        raise InputError("data must be base64") from None
    der = signing.sign_hash(
        _instance(request),
        es_id=es_id,
        data_hash=digest,
        data=data,
        property_info=body.property_info,
        timestamp=body.timestamp,
    )
    return Response(der, status_code=201, media_type="application/octet-stream")


_PDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The sealed PDF (an incremental update of the input)",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    },
    **problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409, 415),
}


@router.post(
    "/seals/{es_id}/pdf",
    summary="Seal a PDF (PAdES B-B, B-T, B-LT or B-LTA; SM2, RSA or both)",
    response_class=Response,
    responses=_PDF_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def seal_pdf(
    es_id: str,
    request: Request,
    principal: Client,
    level: Annotated[Literal["B-B", "B-T", "B-LT", "B-LTA"], Query()] = "B-B",
    family: Annotated[Literal["SM2", "RSA", "dual"], Query()] = "SM2",
    page: Annotated[
        int | None,
        Query(ge=-100_000, le=100_000, description="Page from 1; negative counts from the end (-1 is the last)"),
    ] = None,
    box: Annotated[
        str | None, Query(max_length=128, description="x0,y0,x1,y1 in points", examples=["400,60,520,180"])
    ] = None,
    anchor: Annotated[str | None, Query(max_length=128, description="Centre the seal on this text")] = None,
    size: Annotated[float | None, Query(gt=0, le=1000, description="Seal width in points (with anchor)")] = None,
    occurrence: Annotated[int, Query(ge=1, le=1000, description="Which occurrence of the anchor text")] = 1,
    field_name: Annotated[str | None, Query(max_length=64)] = None,
    reason: Annotated[str | None, Query(max_length=256)] = None,
    log_proof: Annotated[
        bool, Query(description="Put the signer certificates' transparency-log inclusion proofs into the DSS")
    ] = False,
) -> Response:
    """The body is the PDF (``Content-Type: application/pdf``); the answer is the sealed PDF. Without ``page``,
    ``box`` or ``anchor`` the seal is invisible."""
    from starlette.concurrency import run_in_threadpool

    from trust.service.seals import sealing

    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/pdf":
        return problems.problem_response(
            request, Code.USAGE, f"send the PDF as application/pdf, not {media_type or 'without a type'}", status=415
        )
    parsed_box = None if box is None else sealing.parse_box(box)
    await run_in_threadpool(allow, request, principal, Action.SEAL_USE, es_id=es_id)
    pdf = await request.body()
    sealed = await run_in_threadpool(
        sealing.seal_document,
        _instance(request),
        pdf,
        es_id=es_id,
        level=level,
        family=family,
        page=page,
        box=parsed_box,
        anchor=anchor,
        size=size,
        occurrence=occurrence,
        field_name=field_name,
        reason=reason,
        log_proof=log_proof,
    )
    return Response(
        sealed,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="sealed.pdf"', "Cache-Control": "no-store"},
    )


_OFD_TYPES: tuple[str, ...] = ("application/ofd", "application/octet-stream")


@router.post(
    "/seals/{es_id}/ofd",
    summary="Seal an OFD document (GB/T 33190 clause 18, GB/T 38540 SES_Signature)",
    response_class=Response,
    responses={
        200: {
            "description": "The sealed OFD (one more signature; existing files unchanged)",
            "content": {"application/ofd": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409, 415),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/ofd": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def seal_ofd(
    es_id: str,
    request: Request,
    principal: Client,
    page: Annotated[int | None, Query(ge=1, le=100_000, description="Page from 1 (with x and y)")] = None,
    x: Annotated[float | None, Query(ge=0, le=10_000, description="Centre of the stamp, mm from the left")] = None,
    y: Annotated[float | None, Query(ge=0, le=10_000, description="Centre of the stamp, mm from the top")] = None,
    anchor: Annotated[str | None, Query(max_length=128, description="Centre the seal on this text")] = None,
    timestamp: Annotated[bool, Query(description="Time-stamp the signature value (national SM2 TSA)")] = True,
) -> Response:
    """The body is the OFD (``Content-Type: application/ofd``); the answer is the sealed OFD. The stamp goes to
    ``page``/``x``/``y``, else centred on ``anchor``, else to the bottom right of the last page."""
    from starlette.concurrency import run_in_threadpool

    from seal.ofd import Placement
    from trust.service.seals import ofd as ofd_sealing

    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in _OFD_TYPES:
        return problems.problem_response(
            request, Code.USAGE, f"send the OFD as application/ofd, not {media_type or 'without a type'}", status=415
        )
    given = [v is not None for v in (page, x, y)]
    if any(given) and not all(given):
        raise InputError("page, x and y go together")
    placement = Placement(page, x, y) if page is not None and x is not None and y is not None else None
    await run_in_threadpool(allow, request, principal, Action.SEAL_USE, es_id=es_id)
    ofd = await request.body()
    sealed = await run_in_threadpool(
        ofd_sealing.seal_document,
        _instance(request),
        ofd,
        es_id=es_id,
        placement=placement,
        anchor=anchor,
        timestamp=timestamp,
    )
    return Response(
        sealed,
        media_type="application/ofd",
        headers={"Content-Disposition": 'attachment; filename="sealed.ofd"', "Cache-Control": "no-store"},
    )
