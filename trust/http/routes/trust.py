"""Trust list, offline bundle, root pins, status changes and verification over HTTP.

``GET /trustlist``, ``GET /bundle`` and ``GET /roots`` are public and cacheable (ETag). ``POST /verify`` runs the
same offline verifier as ``trust verify``: with no anchors or bundle in the request it uses this instance's
current bundle and root pins. ``POST /trustlist/status`` (operators; authentication comes with the service
issue) withdraws, suspends or reinstates an issuer or a service.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from trust.crypto.errors import Code, InputError
from trust.http.auth import Client, allow, anonymous_limit
from trust.service import trust as service
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["trust list and verification"])
_bundle_cache: dict[int, tuple[str, bytes, float]] = {}
_bundle_lock = threading.Lock()
BUNDLE_CACHE_SECONDS = 60.0


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _cached_json(request: Request, body: bytes, max_age: int) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/trustlist",
    summary="The signed national trust list (JWS JSON serialization)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def trust_list(request: Request) -> Response:
    record = service.latest_trust_list(_instance(request))
    return _cached_json(request, record.document.encode(), 300)


@router.get(
    "/bundle",
    summary="The signed offline bundle (trust list and CRLs)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def bundle(request: Request) -> Response:
    import time

    instance = _instance(request)
    key = id(instance)
    with _bundle_lock:
        cached = _bundle_cache.get(key)
        if cached is None or time.monotonic() - cached[2] > BUNDLE_CACHE_SECONDS:
            data = json.dumps(service.build_bundle(instance), ensure_ascii=False, separators=(",", ":")).encode()
            cached = (hashlib.sha256(data).hexdigest(), data, time.monotonic())
            _bundle_cache[key] = cached
    return _cached_json(request, cached[1], int(BUNDLE_CACHE_SECONDS))


class Roots(BaseModel):
    fingerprints: dict[str, str] = Field(description="SHA-256 of each national root certificate, by family")


@router.get("/roots", summary="National root fingerprints (what verifiers pin)", response_model=Roots)
def roots(request: Request) -> Roots:
    return Roots(fingerprints=service.root_fingerprints(_instance(request)))


class StatusChange(BaseModel):
    subject: Literal["issuer", "service"] = "issuer"
    id: str = Field(examples=["region-440000"], max_length=96)
    status: Literal["granted", "suspended", "withdrawn"]
    effective: datetime | None = Field(default=None, description="Default now")
    reason: str = Field(default="", max_length=256)


class Published(BaseModel):
    sequence: int
    digest: str
    next_update: str


@router.post(
    "/trustlist/status", summary="Withdraw, suspend or reinstate an issuer or service", response_model=Published
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
    untrusted: list[str] = Field(default_factory=list, description="PEM intermediate certificates")
    crls: list[str] = Field(default_factory=list, description="CRLs, base64 DER")
    at: datetime | None = Field(default=None, description="Validation time (default now)")
    purpose: str = "any"
    revocation: Literal["available", "required"] = Field(
        default="available", description="Use the revocation data at hand, or demand it for every certificate"
    )
    data: str | None = Field(default=None, description="The signed document of a detached GB/T 38540 signature")
    kb_nonce: str | None = Field(default=None, max_length=256, description="Demand an SD-JWT key-binding proof")
    kb_audience: str | None = Field(default=None, max_length=256, description="Audience the proof must name")

    model_config = {"json_schema_extra": {"examples": [{"input": "MIIB...", "purpose": "seal"}]}}


@router.post(
    "/verify",
    dependencies=[Depends(anonymous_limit)],
    summary="Verify a certificate, seal, GB/T 38540 signature, sealed PDF or licence; returns the ETSI EN 319 102-1 "
    "report",
)
def verify(body: VerifyRequest, request: Request) -> dict[str, Any]:
    from verifier import api, context

    def b64(value: str, what: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise InputError(f"{what} is not base64", code=Code.MALFORMED_ENCODING) from None

    instance = _instance(request)
    bundle_data = None
    pins: list[str] = []
    if not body.anchors:
        bundle_data = json.dumps(service.build_bundle(instance)).encode()
        pins = list(service.root_fingerprints(instance).values())
    ctx = context.build(
        at=body.at,
        bundle=bundle_data,
        pins=pins,
        anchors=[a.encode() for a in body.anchors],
        untrusted=[u.encode() for u in body.untrusted],
        crls=[b64(c, "crl") for c in body.crls],
        purpose=body.purpose,
        revocation=body.revocation,
    )
    if (body.kb_nonce is None) != (body.kb_audience is None):
        raise InputError("kb_nonce and kb_audience go together")
    key_binding = None
    if body.kb_nonce is not None and body.kb_audience is not None:
        from verifier.license import KeyBindingRequest

        key_binding = KeyBindingRequest(nonce=body.kb_nonce, audience=body.kb_audience)
    signed_data = b64(body.data, "data") if body.data is not None else None
    return api.verify(b64(body.input, "input"), ctx, signed_data=signed_data, key_binding=key_binding).to_dict()
