"""OCSP over HTTP (RFC 6960 appendix A): ``POST /ocsp`` with a DER body, ``GET /ocsp/{base64 DER}``.

Thin: read the request, call :mod:`trust.service.ocsp`, label the answer. Decisions:

* **HTTP 200 for every OCSP answer**, error statuses included (``malformedRequest``, ``unauthorized``,
  ``tryLater``, ``internalError``), as OpenSSL's own responder does: the OCSPResponseStatus is the protocol's
  error channel, and clients such as OpenSSL's ``OCSP_sendreq`` discard the body of any non-200 answer, so
  they would never see the status. Never a 5xx and never a problem document from these routes (methods
  other than GET and POST still get the app's 405 problem).
* **Body limit 64 KiB** (:data:`trust.formats.ocsp.MAX_REQUEST_BYTES`), by ``Content-Length`` before reading and while
  streaming; a larger body is answered ``malformedRequest``.
* **The media type is not enforced**: the body is parsed strictly as DER anyway, so a wrong
  ``Content-Type`` label adds no risk, and some clients send ``application/octet-stream``.
* **Caching** (RFC 5019 clause 6.2): a successful GET answer to a request without a nonce is
  ``Cache-Control: public, max-age=<seconds until nextUpdate>, no-transform, must-revalidate`` with
  ``Last-Modified`` (producedAt), ``Expires`` (nextUpdate) and an ``ETag``; every other answer (errors,
  nonce-bearing requests, POST) is ``no-store``.
* GET paths may contain ``/`` (base64) and, after percent-decoding by the server, any character at all: the
  ``{request_b64:ocsp_get}`` converter takes everything after ``/ocsp/`` (``path`` would stop at a newline and
  turn a garbage request into a 404 instead of ``malformedRequest``).
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from trust.formats.ocsp import MAX_REQUEST_BYTES, MEDIA_TYPE_REQUEST, MEDIA_TYPE_RESPONSE
from trust.http import caching, problems
from trust.http.auth import anonymous_limit
from trust.http.bodies import StrictJsonRoute
from trust.service import ocsp as service
from trust.service.instance import Instance

router = APIRouter(tags=["ocsp"], route_class=StrictJsonRoute)


class _Anything(Convertor[str]):
    """Like Starlette's ``path`` converter, but across control characters too."""

    regex = "[\\s\\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("ocsp_get", _Anything())

_OK: dict[str, Any] = {
    "content": {MEDIA_TYPE_RESPONSE: {"schema": {"type": "string", "format": "binary"}}},
    "description": "A DER OCSPResponse; error statuses (malformedRequest, unauthorized, tryLater, "
    "internalError) are answered with HTTP 200 too.",
}


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _render(answer: service.Answer, *, cache: bool) -> Response:
    headers = {"Cache-Control": "no-store"}
    if cache and answer.cacheable:
        assert answer.produced_at is not None and answer.next_update is not None
        max_age = max(0, int((answer.next_update - answer.produced_at).total_seconds()))
        headers = {
            "Cache-Control": f"public, max-age={max_age}, no-transform, must-revalidate",
            "Last-Modified": format_datetime(answer.produced_at, usegmt=True),
            "Expires": format_datetime(answer.next_update, usegmt=True),
            "ETag": caching.etag_for(answer.der),
        }
    return Response(answer.der, media_type=MEDIA_TYPE_RESPONSE, headers=headers)


async def _body(request: Request) -> bytes | None:
    """The request body, or ``None`` when it exceeds the OCSP limit (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_REQUEST_BYTES):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ocsp",
    dependencies=[Depends(anonymous_limit)],
    summary="OCSP request (RFC 6960, DER body)",
    response_class=Response,
    responses={200: _OK, **problems.responses(413, 429)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MEDIA_TYPE_REQUEST: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def ocsp_post(request: Request) -> Response:
    body = await _body(request)
    if body is None:
        return _render(service.error_answer("malformed_request"), cache=False)
    answer = await run_in_threadpool(service.answer, _instance(request), body)
    return _render(answer, cache=False)  # only GET answers are meant for HTTP caches


@router.get(
    "/ocsp/{request_b64:ocsp_get}",
    summary="OCSP request (RFC 6960 appendix A.1, URL-encoded base64 of the DER request)",
    response_class=Response,
    responses={200: _OK, **problems.responses(422)},
)
async def ocsp_get(request_b64: str, request: Request) -> Response:
    answer = await run_in_threadpool(service.answer_get, _instance(request), request_b64)
    return _render(answer, cache=True)
