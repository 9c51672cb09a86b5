"""Seal routes: make seals, read them, change their state, seal PDFs and document hashes."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from trust.http.auth import Client, IdempotencyKey, allow, request_id_for
from trust.service import seals as service
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["electronic seals"])


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


class SealCreate(BaseModel):
    ca_id: str = Field(examples=["region-330000-sm2"], description="The region's or department's SM2 CA")
    holder_kind: Literal["organization", "person"] = "organization"
    holder_name: str = Field(max_length=64, examples=["杭州示例科技有限公司"])
    holder_code: str = Field(max_length=32, description="USCC or citizen ID", examples=["91330106MA2CFA4X0F"])
    seal_name: str = Field(default="公章", max_length=32, examples=["合同专用章"])
    dual: bool = Field(default=False, description="Also an RSA signer certificate (for dual PDF seals)")
    validity_days: int | None = Field(default=None, ge=1, le=1095)
    request_id: str | None = Field(default=None, max_length=128, description="Idempotency key")


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


@router.post("/seals", status_code=201, summary="Make a seal (GB/T 38540 SESeal)", response_model=SealOut)
def create(body: SealCreate, request: Request, principal: Client, idempotency_key: IdempotencyKey = None) -> SealOut:
    allow(request, principal, Action.SEAL_CREATE, ca_id=body.ca_id)
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
            request_id=request_id_for(principal, idempotency_key, body.request_id),
        )
    )


@router.get("/seals", summary="List seals", response_model=list[SealOut])
def list_seals(
    request: Request,
    principal: Client,
    ca_id: str | None = None,
    holder_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[SealOut]:
    allow(request, principal, Action.SEAL_READ, ca_id=ca_id)
    return [
        _out(r)
        for r in service.list_seals(
            _instance(request), ca_id=ca_id, holder_code=holder_code, limit=limit, offset=offset
        )
    ]


@router.get(
    "/seals/{es_id}.esl",
    summary="The SESeal (DER)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def seal_file(es_id: str, request: Request, principal: Client) -> Response:
    allow(request, principal, Action.SEAL_READ, es_id=es_id)
    return Response(service.get(_instance(request), es_id).seal_der, media_type="application/octet-stream")


@router.get("/seals/{es_id}", summary="One seal", response_model=SealOut)
def get_seal(es_id: str, request: Request, principal: Client) -> SealOut:
    allow(request, principal, Action.SEAL_READ, es_id=es_id)
    return _out(service.get(_instance(request), es_id))


class SealStatus(BaseModel):
    status: Literal["active", "suspended", "revoked"]
    reason: str = Field(default="", max_length=256)


@router.post("/seals/{es_id}/status", summary="Suspend, reinstate or revoke a seal", response_model=SealOut)
def set_status(es_id: str, body: SealStatus, request: Request, principal: Client) -> SealOut:
    allow(request, principal, Action.SEAL_MANAGE, es_id=es_id)
    return _out(service.set_status(_instance(request), es_id, body.status, body.reason))


class SignRequest(BaseModel):
    data_hash: str | None = Field(default=None, description="SM3 digest of the protected data, hex (64 characters)")
    data: str | None = Field(default=None, description="The protected data, base64 (alternative to data_hash)")
    property_info: str = Field(
        max_length=512,
        examples=["Doc_0/Signs/Sign_0/Signature.xml"],
        description="What is protected (ASCII), e.g. the OFD signature path",
    )
    timestamp: bool = Field(default=True, description="Add an RFC 3161 time-stamp over the signature value")


@router.post(
    "/seals/{es_id}/signatures",
    status_code=201,
    summary="Make a GB/T 38540 SES_Signature",
    response_class=Response,
    responses={201: {"content": {"application/octet-stream": {}}}},
)
def sign(es_id: str, body: SignRequest, request: Request, principal: Client) -> Response:
    allow(request, principal, Action.SEAL_USE, es_id=es_id)
    from trust.crypto.errors import InputError
    from trust.service import signing

    if (body.data_hash is None) == (body.data is None):
        raise InputError("give data_hash or data, not both")
    try:
        digest = bytes.fromhex(body.data_hash) if body.data_hash is not None else None
        data = base64.b64decode(body.data, validate=True) if body.data is not None else None
    except ValueError:
        raise InputError("data_hash must be hex and data base64") from None
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
    200: {"content": {"application/pdf": {}}, "description": "The sealed PDF (an incremental update of the input)"},
    415: {"description": "The body is not declared application/pdf"},
}


@router.post(
    "/seals/{es_id}/pdf",
    summary="Seal a PDF (PAdES B-B, B-T, B-LT or B-LTA; SM2, RSA or both)",
    response_class=Response,
    responses=_PDF_RESPONSES,
    openapi_extra={"requestBody": {"required": True, "content": {"application/pdf": {}}}},
)
async def seal_pdf(
    es_id: str,
    request: Request,
    principal: Client,
    level: Annotated[Literal["B-B", "B-T", "B-LT", "B-LTA"], Query()] = "B-B",
    family: Annotated[Literal["SM2", "RSA", "dual"], Query()] = "SM2",
    page: Annotated[int | None, Query(description="Page from 1; -1 is the last page")] = None,
    box: Annotated[
        str | None, Query(max_length=128, description="x0,y0,x1,y1 in points", examples=["400,60,520,180"])
    ] = None,
    anchor: Annotated[str | None, Query(max_length=128, description="Centre the seal on this text")] = None,
    size: Annotated[float | None, Query(gt=0, le=1000, description="Seal width in points (with anchor)")] = None,
    occurrence: Annotated[int, Query(ge=1, le=1000, description="Which occurrence of the anchor text")] = 1,
    field_name: Annotated[str | None, Query(max_length=64)] = None,
    reason: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """The body is the PDF (``Content-Type: application/pdf``); the answer is the sealed PDF. Without ``page``,
    ``box`` or ``anchor`` the seal is invisible."""
    from starlette.concurrency import run_in_threadpool

    from trust.crypto.errors import Code, InputError
    from trust.http import problems
    from trust.service import sealing

    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/pdf":
        return problems.problem_response(
            request, Code.USAGE, f"send the PDF as application/pdf, not {media_type or 'without a type'}", status=415
        )
    parsed_box = None
    if box is not None:
        try:
            x0, y0, x1, y1 = (float(v) for v in box.split(","))
        except ValueError:
            raise InputError("box must be four numbers x0,y0,x1,y1 (points)") from None
        parsed_box = (x0, y0, x1, y1)
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
    )
    return Response(
        sealed,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="sealed.pdf"', "Cache-Control": "no-store"},
    )
