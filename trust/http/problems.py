"""The one mapping from errors to RFC 9457 problem details (``application/problem+json``).

Every error response of the HTTP app goes through :func:`problem_response`: ``type`` is
``urn:huren:error:<slug>``, ``title`` the code's title, ``status`` from the code (:data:`STATUS`), ``detail`` the
error message (for 5xx a generic text with the request id, never internals), plus the extension members
``code`` (``E1103``), ``request_id`` and, when the error has some, ``evidence``.

The OpenAPI side lives here too: :class:`Problem` is the documented body, and :func:`responses` gives a route the
error responses it can answer (``responses=problems.responses(401, 403, 404)``), each as
``application/problem+json`` with the headers that status carries (``WWW-Authenticate`` on 401, ``Retry-After``
on 429). Every route also documents ``5XX`` (a problem with no internals).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Final

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from trust.crypto.errors import Category, Code, TrustError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("trust.http")

_BY_CATEGORY: Final[dict[Category, int]] = {
    Category.INPUT: 400,
    Category.FAILED: 422,
    Category.INDETERMINATE: 422,
    Category.CONFIGURATION: 500,
    Category.ENVIRONMENT: 503,
    Category.INTERNAL: 500,
}
_BY_CODE: Final[dict[Code, int]] = {
    Code.INPUT_TOO_LARGE: 413,
    Code.NOT_FOUND: 404,
    Code.KEYSTORE_KEY_NOT_FOUND: 404,
    Code.CONFLICT: 409,
    Code.KEYSTORE_KEY_EXISTS: 409,
    Code.ROOT_OFFLINE: 409,
    Code.UNAUTHENTICATED: 401,
    Code.INVALID_CLIENT: 401,
    Code.ASSERTION_REPLAYED: 401,
    Code.FORBIDDEN: 403,
    Code.RATE_LIMITED: 429,
    Code.LOGIN_FAILED: 401,
    Code.CONSENT_MISSING: 403,
    Code.CONSENT_OUT_OF_SCOPE: 403,
    Code.CONSENT_EXPIRED: 403,
    Code.CONSENT_REVOKED: 403,
    Code.REQUESTER_WITHDRAWN: 403,
    Code.SHARING_QUOTA_EXCEEDED: 429,
    Code.LOG_ENTRY_NOT_FOUND: 404,
    Code.DIRECTORY_ENTRY_INVALID: 422,
    Code.DIRECTORY_ENTRY_FOREIGN: 403,
    Code.RETRIEVAL_EXPIRED: 409,
}
STATUS: Final[dict[Code, int]] = {code: _BY_CODE.get(code, _BY_CATEGORY[code.category]) for code in Code}
"""The HTTP status of every code: its category's, unless the code names a more specific one."""


def status_for(code: Code) -> int:
    return STATUS[code]


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
        body["evidence"] = json_safe(evidence)
    return body


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as strict JSON can carry it: non-finite floats and unknown objects become strings, containers are
    copied (bounded depth), so rendering a problem can never fail — a failing error handler would be a bare 500."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth < 8 and isinstance(value, dict):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, depth + 1) for v in value]
    return str(value)


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


def for_trust_error(request: Request, exc: TrustError) -> JSONResponse:
    """The answer to a :class:`TrustError` a route raised (the app's handler, and ``POST /verify``'s fast path):
    its problem, ``WWW-Authenticate`` on 401, ``Retry-After`` when the error names one; a 5xx is logged."""
    status = status_for(exc.code)
    if status >= 500:
        log.error("request %s failed: %s", getattr(request.state, "request_id", "-"), exc.diagnostics())
    response = from_error(request, exc)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="huren"'
    retry = (exc.evidence or {}).get("retry_after")
    if isinstance(retry, int):
        response.headers["Retry-After"] = str(retry)
    return response


def validation_message(error: Mapping[str, Any]) -> str:
    """One schema error for people; a body that is not (strict) JSON says why (``trust.http.bodies``)."""
    context = error.get("ctx")
    if error.get("type") == "json_invalid" and isinstance(context, Mapping) and context.get("error"):
        return f"{error.get('msg', 'JSON decode error')}: {str(context['error'])[:200]}"
    return str(error.get("msg", ""))


def for_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """The 422 problem of a request that does not match the API schema (at most 20 errors, each located)."""
    errors = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": validation_message(err)} for err in exc.errors()[:20]
    ]
    return problem_response(
        request,
        Code.INVALID_INPUT,
        "request does not match the API schema",
        status=422,
        evidence={"errors": errors},
    )


# --- OpenAPI -----------------------------------------------------------------------------------------------------


class Problem(BaseModel):
    """RFC 9457 problem details with Huren's extension members."""

    type: str = Field(description="urn:huren:error:<slug>: stable, one per error code")
    title: str = Field(description="The code's title (the same for every occurrence)")
    status: int = Field(ge=400, le=599, description="The HTTP status code")
    detail: str = Field(description="What was wrong with this request and what to do (5xx: the request id only)")
    code: str = Field(pattern=r"^E[0-9]{4}$", description="Stable error code; numbers are never reused")
    request_id: str | None = Field(default=None, description="Also in the X-Request-ID response header")
    evidence: dict[str, Any] | None = Field(default=None, description="Small public facts: expected vs. found")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "type": "urn:huren:error:forbidden",
                    "title": "Not allowed for this client",
                    "status": 403,
                    "detail": "gd-platform (region) may not ca.issue ca:region-330000-sm2: ca.issue only with the "
                    "client's own region CA",
                    "code": "E1403",
                    "request_id": "6f1d0c3a9b2e4c7d8e5f4a3b2c1d0e9f",
                    "evidence": {"action": "ca.issue", "client_id": "gd-platform"},
                }
            ]
        }
    }


PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
_DESCRIPTIONS: Final[dict[int | str, str]] = {
    400: "Bad input: malformed, or well-formed but not acceptable (the code says which)",
    401: "No valid client credentials (Authorization: Bearer <access token or client assertion>)",
    403: "The policy layer does not allow this client this action on this resource",
    404: "No such resource, or one this client may not see (the same answer)",
    409: "Conflicts with the current state (duplicate, already revoked, suspended, withdrawn …)",
    413: "Request body over the size limit",
    415: "Request body of the wrong media type",
    422: "Request does not match the schema, or a signature or proof in it does not verify",
    429: "Too many requests from this client or address",
    "5XX": "Server error; the detail names only the request id (internals are logged, never returned)",
}
_HEADERS: Final[dict[int | str, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": 'Bearer realm="huren"',
            "required": True,
            "schema": {"type": "string", "pattern": "^Bearer "},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds until the client may try again",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer, plus ``5XX``."""
    entries: dict[int | str, dict[str, Any]] = {}
    keys: tuple[int | str, ...] = (*sorted(set(statuses)), "5XX")
    for status in keys:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        entries[status] = entry
    return entries


# Statuses that come with a kind of route: splat them into :func:`responses` with the route's own.
AUTHENTICATED: Final = (401, 403, 422, 429)
"""Behind :func:`trust.http.auth.client`: credentials, policy, header and parameter validation, rate limit."""
JSON_BODY: Final = (400, 413, 422)
"""Reads a JSON body: bad input, body over the limit, schema mismatch."""
