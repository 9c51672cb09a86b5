"""RFC 3161 time-stamping over HTTP (clause 3.4): a DER ``TimeStampReq`` posted as
``application/timestamp-query`` gets a DER ``TimeStampResp`` as ``application/timestamp-reply``.

* ``POST /tsa`` — the RSA TSA (the default: generic clients such as Adobe, pyHanko or ``openssl ts`` with curl
  expect RSA); ``POST /tsa/rsa`` and ``POST /tsa/sm2`` name the family.
* Every query that reaches the TSA is answered **HTTP 200 with a TimeStampResp**: granted, or ``rejection``
  with its failInfo — also for garbage, truncated DER and bodies over 64 KiB (``badRequest``). RFC 3161 carries
  the refusal in the protocol's own terms, and clients (pyHanko, OpenSSL) show statusString and failInfo;
  an HTTP error would hide them. Service failures are ``rejection`` / ``systemFailure``, never a 5xx.
* A body that is not declared ``application/timestamp-query`` is not a time-stamp query: 415 problem details.
  Bodies above the app's global limit are refused earlier by the body-limit middleware (413 problem).

Thin: read the body (bounded), call :func:`trust.service.tsa.timestamp` in the thread pool, send the bytes.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from trust.crypto.errors import Code
from trust.formats.tsp import MAX_REQUEST_BYTES
from trust.http import problems
from trust.http.auth import anonymous_limit
from trust.http.bodies import StrictJsonRoute
from trust.service import tsa as service
from trust.service.instance import Instance

router = APIRouter(tags=["time-stamping"], route_class=StrictJsonRoute)

QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {REPLY: {"schema": {"type": "string", "format": "binary"}}},
        "description": "A DER TimeStampResp (granted, or rejection with failInfo — also for bad or oversized queries)",
    },
    **problems.responses(413, 415, 429),
}
_QUERY_BODY: dict[str, object] = {
    "requestBody": {"required": True, "content": {QUERY: {"schema": {"type": "string", "format": "binary"}}}}
}


async def _body(request: Request, limit: int) -> tuple[bytes | None, int | None]:
    """``(body, None)``, or ``(None, size)`` when it exceeds ``limit`` (size ``None`` when not declared)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None, int(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None, None
        chunks.append(chunk)
    return b"".join(chunks), None


async def _answer(request: Request, family: str) -> Response:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != QUERY:
        return problems.problem_response(
            request,
            Code.USAGE,
            f"a time-stamp query is sent as {QUERY} (RFC 3161 clause 3.4), not {media_type or 'without a type'}",
            status=415,
        )
    instance: Instance = request.app.state.instance
    body, size = await _body(request, MAX_REQUEST_BYTES)
    if body is None:
        der = service.oversized(size)
    else:
        der = await run_in_threadpool(service.timestamp, instance, body, family)
    return Response(der, media_type=REPLY, headers={"Cache-Control": "no-store"})


@router.post(
    "/tsa",
    dependencies=[Depends(anonymous_limit)],
    summary="Time-stamp (RFC 3161), RSA TSA",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_QUERY_BODY,
)
async def timestamp_default(request: Request) -> Response:
    return await _answer(request, "RSA")


@router.post(
    "/tsa/rsa",
    dependencies=[Depends(anonymous_limit)],
    summary="Time-stamp (RFC 3161), RSA TSA",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_QUERY_BODY,
)
async def timestamp_rsa(request: Request) -> Response:
    return await _answer(request, "RSA")


@router.post(
    "/tsa/sm2",
    dependencies=[Depends(anonymous_limit)],
    summary="Time-stamp (RFC 3161), SM2 TSA",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_QUERY_BODY,
)
async def timestamp_sm2(request: Request) -> Response:
    return await _answer(request, "SM2")
