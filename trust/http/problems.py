"""The one mapping from errors to RFC 9457 problem details (``application/problem+json``).

Every error response of the HTTP app goes through :func:`problem_response`: ``type`` is
``urn:huren:error:<slug>``, ``title`` the code's title, ``status`` from the code's category, ``detail`` the
error message (for 5xx a generic text with the request id, never internals), plus the extension members
``code`` (``E1103``), ``request_id`` and, when the error has some, ``evidence``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from trust.crypto.errors import Category, Code, TrustError

PROBLEM_JSON = "application/problem+json"

STATUS: dict[Category, int] = {
    Category.INPUT: 400,
    Category.NOT_FOUND: 404,
    Category.CONFLICT: 409,
    Category.UNAUTHENTICATED: 401,
    Category.FORBIDDEN: 403,
    Category.VERIFICATION: 422,
    Category.UNSUPPORTED: 422,
    Category.LIMIT: 413,
    Category.RATE_LIMITED: 429,
    Category.CONFIG: 500,
    Category.UNAVAILABLE: 503,
    Category.INTERNAL: 500,
}


def status_for(code: Code) -> int:
    return STATUS[code.category]


def problem_body(
    code: Code,
    detail: str,
    *,
    status: int | None = None,
    request_id: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status = status or status_for(code)
    body: dict[str, Any] = {
        "type": code.type_uri,
        "title": code.title,
        "status": status,
        "detail": detail,
        "code": code.label,
    }
    if request_id:
        body["request_id"] = request_id
    if evidence:
        body["evidence"] = evidence
    return body


def problem_response(
    request: Request,
    code: Code,
    detail: str,
    *,
    status: int | None = None,
    evidence: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    status = status or status_for(code)
    if status >= 500:
        detail = f"{code.title}; quote request id {request_id} to the operator"
        evidence = None
    body = problem_body(code, detail, status=status, request_id=request_id, evidence=evidence)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def from_error(request: Request, error: TrustError) -> JSONResponse:
    return problem_response(request, error.code, error.message, evidence=error.evidence or None)
