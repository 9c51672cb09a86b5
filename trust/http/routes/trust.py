"""Trust list, offline bundle, root pins, status changes and verification over HTTP.

``GET /trustlist``, ``GET /bundle`` and ``GET /roots`` are public and cacheable (:mod:`trust.http.caching`).
``POST /verify`` runs the same offline verifier as ``trust verify``: with no anchors in the request it uses this
instance's current bundle and root pins. ``POST /trustlist/status`` (operators) withdraws, suspends or reinstates
an issuer or a service.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from trust.crypto.errors import Code, InputError
from trust.http import caching, problems
from trust.http.auth import Client, allow, anonymous_limit
from trust.http.bodies import StrictJsonRoute
from trust.http.fields import IsoDateTime
from trust.service import trust as service
from trust.service import verification
from trust.service.instance import Instance
from trust.service.policy import Action
from verifier.limits import MAX_DEPTH

router = APIRouter(tags=["trust list and verification"], route_class=StrictJsonRoute)
BUNDLE_CACHE_SECONDS = 60.0
TRUST_LIST_MAX_AGE = 300
ROOTS_MAX_AGE = 3600


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _bundle_bytes(request: Request) -> bytes:
    """The signed bundle at the instance's current state version (:func:`trust.service.verification.bundle_bytes`):
    a revocation or status change is in the next answer."""
    return verification.bundle_bytes(_instance(request))


class JwsSignature(BaseModel):
    protected: str = Field(description="base64url JWS protected header (alg, x5c, …)")
    signature: str = Field(description="base64url signature value")
    header: dict[str, Any] | None = None


class SignedDocument(BaseModel):
    """A JWS in the general JSON serialization (RFC 7515 clause 7.2.1), signed by both national roots."""

    payload: str = Field(description="base64url of the signed JSON document")
    signatures: list[JwsSignature] = Field(min_length=1)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "payload": "eyJzZXF1ZW5jZSI6MSwiaXNzdWVkX2F0IjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJpc3N1ZXJzIjpbXX0",
                    "signatures": [
                        {"protected": "eyJhbGciOiJTTTIiLCJ4NWMiOlsiTUlJQi4uLiJdfQ", "signature": "MEUCIQD…"},
                        {"protected": "eyJhbGciOiJQUzI1NiIsIng1YyI6WyJNSUlDLi4uIl19", "signature": "pX3k…"},
                    ],
                }
            ]
        }
    }


@router.get(
    "/trustlist",
    summary="The signed national trust list (JWS JSON serialization)",
    response_model=SignedDocument,
    responses={**caching.responses("The latest trust list"), **problems.responses(404)},
    openapi_extra=caching.OPENAPI_EXTRA,
)
def trust_list(request: Request) -> Response:
    record = service.latest_trust_list(_instance(request))
    return caching.cached(request, record.document.encode(), "application/json", max_age=TRUST_LIST_MAX_AGE)


@router.get(
    "/bundle",
    summary="The signed offline bundle (trust list, CRLs and status lists)",
    response_model=SignedDocument,
    responses={
        **caching.responses("The offline bundle at the current state (signed again when it changes)"),
        **problems.responses(),
    },
    openapi_extra=caching.OPENAPI_EXTRA,
)
def bundle(request: Request) -> Response:
    return caching.cached(request, _bundle_bytes(request), "application/json", max_age=int(BUNDLE_CACHE_SECONDS))


class Roots(BaseModel):
    fingerprints: dict[str, str] = Field(description="SHA-256 of each national root certificate, by family")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "fingerprints": {
                        "SM2": "4c1d9e0f2a3b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d",
                        "RSA": "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1",
                    }
                }
            ]
        }
    }


@router.get(
    "/roots",
    summary="National root fingerprints (what verifiers pin)",
    response_model=Roots,
    responses={**caching.responses("The national roots' SHA-256 fingerprints"), **problems.responses()},
    openapi_extra=caching.OPENAPI_EXTRA,
)
def roots(request: Request) -> Response:
    body = Roots(fingerprints=service.root_fingerprints(_instance(request))).model_dump_json().encode()
    return caching.cached(request, body, "application/json", max_age=ROOTS_MAX_AGE)


class StatusChange(BaseModel):
    subject: Literal["issuer", "service"] = "issuer"
    id: str = Field(examples=["region-440000"], max_length=96)
    status: Literal["granted", "suspended", "withdrawn"]
    effective: IsoDateTime | None = Field(default=None, description="Default now")
    reason: str = Field(default="", max_length=256)

    model_config = {
        "json_schema_extra": {
            "examples": [{"subject": "issuer", "id": "region-440000", "status": "suspended", "reason": "audit"}]
        }
    }


class Published(BaseModel):
    sequence: int
    digest: str
    next_update: str

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "sequence": 12,
                    "digest": "7d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e",
                    "next_update": "2026-03-02T08:00:00+00:00",
                }
            ]
        }
    }


@router.post(
    "/trustlist/status",
    summary="Withdraw, suspend or reinstate an issuer or service (operators)",
    response_model=Published,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def change_status(body: StatusChange, request: Request, principal: Client) -> Published:
    allow(request, principal, Action.TRUSTLIST_MANAGE)
    record = service.change_status(
        _instance(request),
        subject=body.subject,
        subject_id=body.id,
        status=body.status,
        at=body.effective,
        reason=body.reason,
    )
    return Published(sequence=record.sequence, digest=record.digest, next_update=record.next_update.isoformat())


class VerifyRequest(BaseModel):
    input: str = Field(description="The object to verify, base64 (DER or PEM bytes)")
    anchors: list[str] = Field(default_factory=list, description="PEM trust anchors; none: this instance's roots")
    anchor_keys: list[str] = Field(
        default_factory=list,
        description="PEM certificates trusted for their name and public key only (RFC 5280 clause 6.1.1 (d): their "
        "extensions are neither checked nor applied); like anchors, they replace this instance's roots",
    )
    untrusted: list[str] = Field(default_factory=list, description="PEM intermediate certificates")
    crls: list[str] = Field(default_factory=list, description="CRLs, base64 DER")
    at: IsoDateTime | None = Field(default=None, description="Validation time (default now)")
    purpose: str = Field(
        default="auto",
        description="auto (each input's own: seal for PDF signatures), any (PDF signatures: the generic RFC 5280 "
        "policy), generic, ca, seal, document-signing, seal-maker, identity, license-issuer, timestamping, ocsp, "
        "tls-server, tls-client",
    )
    strict: StrictBool = Field(
        default=False, description="Check the RFC 5280 CA profile rules on every certificate of a path"
    )
    max_depth: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_DEPTH,
        description=f"At most this many intermediate CA certificates (0-{MAX_DEPTH}; self-issued ones not counted)",
    )
    revocation: Literal["available", "required"] = Field(
        default="available", description="Use the revocation data at hand, or demand it for every certificate"
    )
    data: str | None = Field(default=None, description="The signed document of a detached GB/T 38540 signature")
    kb_nonce: str | None = Field(default=None, max_length=256, description="Demand an SD-JWT key-binding proof")
    kb_audience: str | None = Field(default=None, max_length=256, description="Audience the proof must name")

    model_config = {
        "json_schema_extra": {
            "examples": [{"input": "MIIB8jCCAZigAwIBAgIUX3qcHn0rSmyODxorPE1ebzqLnA0=", "purpose": "seal"}]
        }
    }


class ReportCheck(BaseModel):
    name: str
    result: Literal["passed", "failed", "warning", "skipped"]
    detail: str = ""


class ReportChainLink(BaseModel):
    subject: str
    fingerprint: str
    not_before: str | None = None
    not_after: str | None = None
    source: str = ""


class VerificationReport(BaseModel):
    """ETSI EN 319 102-1 validation report: bottom line first (``indication``, ``sub_indication``), then evidence."""

    kind: str = Field(description="certificate, seal, signature, pdf, licence, …")
    indication: Literal["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]
    sub_indication: str | None = Field(description="ETSI sub-indication when not TOTAL_PASSED")
    validation_time: str
    subject: str = ""
    chain: list[ReportChainLink] = Field(default_factory=list)
    checks: list[ReportCheck] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    details: dict[str, Any] | None = None
    reports: list[VerificationReport] | None = Field(default=None, description="Reports of contained objects")

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "kind": "certificate",
                    "indication": "TOTAL_PASSED",
                    "sub_indication": None,
                    "validation_time": "2026-03-01T08:00:00+00:00",
                    "subject": "C=CN, O=杭州示例科技有限公司, CN=合同专用章",
                    "chain": [],
                    "checks": [{"name": "signature", "result": "passed", "detail": ""}],
                    "warnings": [],
                    "errors": [],
                }
            ]
        },
    )


@router.post(
    "/verify",
    dependencies=[Depends(anonymous_limit)],
    summary="Verify a certificate, seal, GB/T 38540 signature, sealed PDF or OFD, or licence; returns the ETSI "
    "EN 319 102-1 report",
    response_model=VerificationReport,
    responses=problems.responses(*problems.JSON_BODY, 429),
)
def verify(body: VerifyRequest, request: Request) -> Response:
    def b64(value: str, what: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise InputError(f"{what} is not base64", code=Code.MALFORMED_ENCODING) from None

    ctx = verification.context_for(
        _instance(request),
        at=body.at,
        purpose=body.purpose,
        revocation=body.revocation,
        strict=body.strict,
        max_depth=body.max_depth,
        anchors=body.anchors,
        anchor_keys=body.anchor_keys,
        untrusted=body.untrusted,
        crls=[b64(c, "crl") for c in body.crls],
    )
    key_binding = verification.key_binding(body.kb_nonce, body.kb_audience)
    signed_data = b64(body.data, "data") if body.data is not None else None
    report = verification.verify(b64(body.input, "input"), ctx, signed_data=signed_data, key_binding=key_binding)
    return JSONResponse(report)


@router.post(
    "/ofd/render",
    dependencies=[Depends(anonymous_limit)],
    summary="Draw a page of an OFD document as a PNG picture (with its seals' appearance)",
    response_class=Response,
    responses={
        200: {
            "description": "The page as PNG",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems.responses(*problems.JSON_BODY, 415, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/ofd": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def render_ofd(
    request: Request,
    page: Annotated[int, Query(ge=1, le=10_000, description="Page from 1")] = 1,
    dpi: Annotated[int, Query(ge=10, le=200, description="Resolution")] = 100,
) -> Response:
    """Anonymous, rate-limited like ``POST /verify``; the body (``Content-Type: application/ofd``) is bounded by the
    service's body limit, the package by the OFD reader's limits (files, sizes, zip bombs) and the picture by its
    pixels (:mod:`seal.ofd_render`). Nothing is verified: ``POST /verify`` says whether the seals hold."""
    from starlette.concurrency import run_in_threadpool

    from seal import ofd_render

    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ("application/ofd", "application/octet-stream"):
        return problems.problem_response(
            request, Code.USAGE, f"send the OFD as application/ofd, not {media_type or 'without a type'}", status=415
        )
    data = await request.body()
    png = await run_in_threadpool(ofd_render.render_page, data, page, dpi=dpi)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
