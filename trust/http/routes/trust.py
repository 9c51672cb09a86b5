"""Trust list, offline bundle, root pins, status changes and verification over HTTP.

``GET /trustlist``, ``GET /bundle`` and ``GET /roots`` are public and cacheable (:mod:`trust.http.caching`).
``POST /verify`` runs the same offline verifier as ``trust verify``: with no anchors in the request it uses this
instance's current bundle and root pins; it takes the JSON form, the file itself or a multipart form
(:mod:`trust.http.verify_body`). ``POST /trustlist/status`` (operators) withdraws, suspends or reinstates
an issuer or a service.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from trust.crypto.errors import Code, TrustError
from trust.http import caching, problems, verify_body
from trust.http.auth import Client, allow, anonymous_limit
from trust.http.bodies import StrictJsonRoute
from trust.http.fields import IsoDateTime
from trust.service import state, verification
from trust.service import trust as service
from trust.service.instance import Instance
from trust.service.policy import Action
from verifier.context import validation_time

_T = TypeVar("_T")
router = APIRouter(tags=["trust list and verification"], route_class=StrictJsonRoute)
verify_router = APIRouter(tags=["trust list and verification"], route_class=StrictJsonRoute)
"""``POST /verify`` alone, included before every other router (:func:`trust.http.app.create_app`): the busiest
public route is matched first instead of after walking the CA, client, OCSP and TSA routes. Only a request for
``/verify`` can match it, and a ``GET /verify`` (the verifier page) still reaches its own route, so no other
route's precedence changes."""
_AT_HELP = "validation time with its time zone, e.g. 2026-03-01T09:00:00+08:00 (default now)"
_PURPOSE = verify_body.PURPOSE_HELP
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
    return caching.cached(
        request,
        _bundle_bytes(request),
        "application/json",
        max_age=int(BUNDLE_CACHE_SECONDS),
        representations=_BUNDLE_REPRESENTATIONS,
    )


_BUNDLE_REPRESENTATIONS: Final = caching.Representations(
    compress=verification.bundle_gzip, digest=verification.bundle_digest
)
"""``GET /bundle``'s ETag and gzip form, once per signed bundle (tens of MB at national scale); the gzip form from the
service's store, compressed once per version for all workers (:func:`trust.service.verification.bundle_gzip`); both
ETags from the SHA-256 the store recorded and checked for those bytes, hashed here only when the store was bypassed
(:func:`trust.service.verification.bundle_digest`)."""


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
    key: str = Field(default="", description="The certificate's key: SM2, RSA 4096, ECDSA P-256")


class VerificationReport(BaseModel):
    """ETSI EN 319 102-1 validation report: bottom line first (``indication``, ``sub_indication``), then evidence.
    The JSON Schema of the report is ``verifier/report.schema.json`` (docs/VERIFIER.md, "Report")."""

    kind: str = Field(description="certificate, seal, signature, pdf, licence, …")
    indication: Literal["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]
    sub_indication: str | None = Field(description="ETSI sub-indication when not TOTAL_PASSED")
    validation_time: str
    subject: str = ""
    chain: list[ReportChainLink] = Field(default_factory=list)
    checks: list[ReportCheck] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    details: dict[str, Any] | None = Field(default=None, description="Facts of the kind (docs/VERIFIER.md)")
    reports: list[VerificationReport] | None = Field(default=None, description="Reports of contained objects")
    source: dict[str, Any] | None = Field(
        default=None, description="What was relied on: the bundle (dates, SHA-256) and trust list (number, dates)"
    )

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


@verify_router.post(
    "/verify",
    dependencies=[Depends(anonymous_limit)],
    summary="Verify a certificate, seal, GB/T 38540 signature, sealed PDF or OFD, licence or photo of a licence QR "
    "code; returns the ETSI EN 319 102-1 report",
    response_model=VerificationReport,
    responses=problems.responses(*problems.JSON_BODY, 413, 415, 429),
    openapi_extra={"requestBody": verify_body.openapi_body(), "parameters": verify_body.openapi_parameters()},
)
async def verify(request: Request) -> Response:
    """The body is the JSON form (the input base64, with anchors, CRLs and options), the file itself (PDF, token,
    certificate, PNG or JPEG photo of a licence QR code; options in the query string) or a multipart form with the
    file as ``input`` (:mod:`trust.http.verify_body`). The JSON form without a query string is answered by
    :class:`VerifyFastPath` before this route is reached; every other form comes here."""
    kind = verify_body.media_type(request)
    if not verify_body.accepts(kind):
        return problems.problem_response(request, Code.USAGE, verify_body.unsupported(kind), status=415)
    # the query options read in one step (verify_body.query_options), not as eight parameters FastAPI solves apart
    asked = await verify_body.read(request, verify_body.query_options(request))
    report = await run_in_threadpool(_verify, _instance(request), asked)
    return JSONResponse(report)


class VerifyFastPath:
    """ASGI middleware (issue 15 item 1): ``POST /verify`` with a JSON body and no query string — the form the
    platforms send — answered without FastAPI's routing, dependency solving, exception middleware and exit stacks,
    which cost the event loop more per request than the rest of the HTTP layer. Installed inside
    :class:`trust.http.app.RequestIds` (request ids, the client's ``X-Request-ID``, the log context) and the head and
    body limits, as the route is. It does what :func:`verify` and its dependency do, in the same order and with the
    same functions: the address's rate limit (:func:`~trust.http.auth.anonymous_limit`), the body read strictly
    (:func:`trust.http.verify_body.read_json`), the verification (:func:`_verify`) in the process's verifier thread
    (:func:`_in_verifier_thread`; the request's arrival noted first, :func:`trust.service.state.arriving`, so that
    requests queued there share a version read begun after they arrived), the report as JSON; an error is answered
    by the app's own renderers (:func:`trust.http.problems.for_trust_error`,
    :func:`~trust.http.problems.for_validation_error`), and an unexpected one goes up to the app's last-resort handler
    exactly as from the route. Anything else — another path or method, a query string, another media type, a
    ``Content-Type`` or ``Content-Length`` given twice, a body without a length — goes to the app unchanged."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["path"] == "/verify"
            and scope["method"] == "POST"
            and not scope.get("query_string")
            and not scope.get("root_path")
            and _plain_json(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        state.arriving()  # the version read may be shared with requests queued behind this one, never earlier ones
        request = Request(scope, receive)
        try:
            await anonymous_limit(request)
            asked = await verify_body.read_json(request)
            report = await _in_verifier_thread(_verify, _instance(request), asked)
        except TrustError as exc:
            response: Response = problems.for_trust_error(request, exc)
        except RequestValidationError as exc:
            response = problems.for_validation_error(request, exc)
        else:
            response = JSONResponse(report)
        await response(scope, receive, send)


_VERIFIER: dict[int, ThreadPoolExecutor] = {}
_VERIFIER_LOCK: Final = threading.Lock()


async def _in_verifier_thread(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` in this process's one verifier thread, with the caller's context variables (request id,
    actor: audit entries and log lines carry them). Verifications run one at a time per process anyway
    (:data:`trust.service.verification._verify_lock`); one thread that takes the next request as soon as it is done
    spends less than a pool of threads woken in turn and queued on that lock (issue 15 item 1), and asyncio's own
    executor hop less than anyio's (capacity limiter, cancel scope)."""
    pid = os.getpid()
    executor = _VERIFIER.get(pid)
    if executor is None:
        with _VERIFIER_LOCK:
            executor = _VERIFIER.get(pid)
            if executor is None:  # per process: a forked worker does not inherit the parent's thread
                executor = _VERIFIER[pid] = ThreadPoolExecutor(1, thread_name_prefix="huren-verify")
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(executor, partial(context.run, function, *args))


def _plain_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request's headers declare exactly one ``Content-Type`` of ``application/json`` (parameters aside) and
    exactly one ``Content-Length`` in digits: the requests :class:`VerifyFastPath` takes."""
    kinds = [value for name, value in headers if name == b"content-type"]
    lengths = [value for name, value in headers if name == b"content-length"]
    if len(kinds) != 1 or len(lengths) != 1 or not lengths[0].isdigit():
        return False
    return kinds[0].split(b";", 1)[0].strip().lower() == b"application/json"


def _verify(instance: Instance, asked: verify_body.VerifyInput) -> dict[str, Any]:
    options = asked.options
    ctx = verification.context_for(
        instance,
        at=validation_time(options.at, "at"),  # naive times refused, as in the CLI and the library
        purpose=options.purpose,
        revocation=options.revocation,
        strict=options.strict,
        max_depth=options.max_depth,
        anchors=asked.anchors,
        anchor_keys=asked.anchor_keys,
        untrusted=asked.untrusted,
        crls=list(asked.crls),
    )
    key_binding = verification.key_binding(options.kb_nonce, options.kb_audience)
    return verification.verify(
        asked.data,
        ctx,
        signed_data=asked.signed_data,
        key_binding=key_binding,
        log_proof=asked.log_proof,
        require_transparency=options.require_transparency,
    )


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
    from seal import ofd_render

    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ("application/ofd", "application/octet-stream"):
        return problems.problem_response(
            request, Code.USAGE, f"send the OFD as application/ofd, not {media_type or 'without a type'}", status=415
        )
    data = await request.body()
    png = await run_in_threadpool(ofd_render.render_page, data, page, dpi=dpi)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
