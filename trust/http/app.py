"""HTTP app factory. Routes are thin: parse, call a service function, render; errors become RFC 9457 problems.

``create_app()`` wires: request ids (the server's own in ``X-Request-ID``; a client's ``X-Request-ID`` is kept
apart, checked, recorded and echoed as ``X-Client-Request-ID``), request head limits (414/431,
:mod:`trust.http.edge`), a request body size limit, the problem-details
handlers for every error path (our errors, validation errors, unknown routes, methods, and unexpected
exceptions), and the routers. ``/healthz`` answers while the process lives; ``/readyz`` when the database
answers.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import trust
from trust import logs
from trust.crypto.errors import Code, InputError, TrustError
from trust.http import problems
from trust.http.bodies import StrictJsonRoute
from trust.http.edge import HeadLimit
from trust.service import audit
from trust.service.instance import Instance

log = logging.getLogger("trust.http")

_HTTP_CODES = {404: Code.NOT_FOUND, 405: Code.USAGE, 413: Code.INPUT_TOO_LARGE, 415: Code.USAGE}


MAX_CLIENT_REQUEST_ID = 128
_PRINTABLE = frozenset(range(0x20, 0x7F))


def new_request_id() -> str:
    """The server's own id of a request: what logs, audit entries and problem documents name (never the client's
    choice, so a client cannot make its requests look like another's — issue 11)."""
    return uuid.uuid4().hex


def client_request_id(value: bytes | None) -> str | None:
    """A client's ``X-Request-ID``: None when absent; InputError unless 1-128 printable ASCII characters (no
    control characters, nothing outside ASCII), so that what is recorded and echoed is exactly what was sent."""
    if value is None:
        return None
    if not 0 < len(value) <= MAX_CLIENT_REQUEST_ID or not set(value) <= _PRINTABLE or value.strip() != value:
        raise InputError(
            f"X-Request-ID must be 1-{MAX_CLIENT_REQUEST_ID} printable ASCII characters (no control characters, "
            "no leading or trailing spaces)",
            evidence={"header": "X-Request-ID", "length": len(value)},
        )
    return value.decode("ascii")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._reject(scope, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server enforces Content-Length framing
            return
        # Chunked body without a declared length: buffer up to the limit, then replay it to the app.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._reject(scope, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        await self.app(scope, replayed, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        from trust.http.routes import pages

        if pages.wants_page(scope):  # the verifier page's form post: a page in the user's language, still 413
            response = pages.refusal(scope, Code.INPUT_TOO_LARGE, limit=self.limit)
            response.headers["Connection"] = "close"
            await response(scope, _nothing, send)
            return
        rid = new_request_id()
        body = problems.problem_body(Code.INPUT_TOO_LARGE, f"request body exceeds {self.limit} bytes", request_id=rid)
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", problems.PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", rid.encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _single_header(request: Request, name: bytes) -> bytes | None:
    """The raw value of a header that may appear once; two or more are refused like a bad value."""
    values = [value for key, value in request.scope.get("headers") or [] if key == name]
    if len(values) > 1:
        raise InputError(f"{name.decode()} appears {len(values)} times")
    return values[0] if values else None


def _refresher(instance: Instance, stop: threading.Event) -> None:
    """Background schedule: CRLs before their nextUpdate, OCSP responder certificates before they expire, and the
    published Status List Tokens and offline bundle (:mod:`trust.service.publishing`)."""
    from trust.service import ca as ca_service
    from trust.service import publishing
    from trust.service.sharing import access as sharing_access

    while not stop.wait(instance.settings.refresh_seconds):
        try:
            with audit.acting("system:refresh"):
                ca_service.refresh(instance)
                publishing.refresh_published(instance)
                sharing_access.deliver_due(instance)  # retrievals queued for offline regions (issue 21)
        except Exception:
            log.exception("scheduled refresh failed")


class Health(BaseModel):
    status: Literal["ok"]
    version: str

    model_config = {"json_schema_extra": {"examples": [{"status": "ok", "version": "0.1.0"}]}}


class Ready(BaseModel):
    status: Literal["ready"]

    model_config = {"json_schema_extra": {"examples": [{"status": "ready"}]}}


def create_app(instance: Instance | None = None, *, fast_verify: bool = True) -> FastAPI:
    """The app of ``instance`` (module docstring). ``fast_verify=False`` leaves out ``POST /verify``'s fast path
    (:class:`trust.http.routes.trust.VerifyFastPath`): every request then takes the route (the tests compare both)."""
    instance = instance or Instance()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from trust.service import trust as trust_registry

        stop = threading.Event()
        worker = None
        if instance.settings.refresh_seconds > 0:
            worker = threading.Thread(target=_refresher, args=(instance, stop), name="huren-refresh", daemon=True)
            worker.start()
        trust_registry.start_background_exports(instance)  # public/bundle.json off the request path (issue 15)
        yield
        stop.set()
        if worker is not None:
            worker.join(timeout=5)
        trust_registry.stop_background_exports(instance)

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # /docs is trust.http.docs: Swagger UI from a package, not from a CDN
        redoc_url=None,
        title="Huren national trust service",
        version=trust.__version__,
        description="National trust root, certificate authority, electronic seals and licences, and offline "
        "verification for the integrated online government service platform. Errors are RFC 9457 problem "
        "details with stable codes.",
    )
    app.state.instance = instance
    app.router.route_class = StrictJsonRoute  # JSON bodies read strictly (trust.http.bodies), here and in every router

    if fast_verify:  # inside the request ids (added after it, so outside): POST /verify's JSON form (its class)
        from trust.http.routes.trust import VerifyFastPath

        app.add_middleware(VerifyFastPath)
    _install_request_ids(app)
    _install_error_handlers(app)

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness",
        response_model=Health,
        responses=problems.responses(),
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": trust.__version__}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: the database answers",
        response_model=Ready,
        responses=problems.responses(),
    )
    def readyz() -> dict[str, str]:
        from trust import db

        db.ping(instance.engine)
        return {"status": "ready"}

    from trust.http.routes import (
        ca,
        citizen,
        clients,
        federation,
        idp,
        license,
        ocsp,
        operator,
        pages,
        rp,
        seal,
        sharing,
        tsa,
    )
    from trust.http.routes import log as log_routes
    from trust.http.routes import trust as trust_routes

    app.include_router(trust_routes.verify_router)  # POST /verify matched first (its module says why)
    for module in (
        clients,
        ca,
        ocsp,
        tsa,
        trust_routes,
        seal,
        license,
        federation,
        idp,
        rp,
        sharing,
        log_routes,
        pages,
        citizen,
        operator,
    ):
        app.include_router(module.router)

    from trust.http import docs

    docs.install(app)
    app.add_middleware(BodyLimit, limit=instance.settings.max_request_bytes)
    app.add_middleware(
        HeadLimit,
        max_target=instance.settings.max_request_target,
        max_headers=instance.settings.max_header_bytes,
    )
    # replacing the method is FastAPI's documented way to customise the schema; mypy refuses assigning to a method
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _install_request_ids(app: FastAPI) -> None:
    """The server's own request id on every answer, audit entry and log line; a client's X-Request-ID kept apart."""
    app.add_middleware(RequestIds)


class RequestIds:
    """ASGI middleware (plain ASGI, issue 15 item 1: Starlette's ``@app.middleware("http")`` ran every request through
    a second task and a response stream, ~0.3 ms each): gives the request its id (``request.state.request_id``; the
    context variables audit entries and log lines read, set in the task the route runs in), checks the client's
    ``X-Request-ID`` and names both on the answer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        audit.request_id_var.set(rid)  # copied into the route's thread: audit entries carry it
        logs.request_id_var.set(rid)  # and log lines written while serving it
        audit.actor_var.set(None)
        request = Request(scope)
        try:
            theirs = client_request_id(_single_header(request, b"x-request-id"))
        except InputError as bad:
            response = problems.from_error(request, bad)
            response.headers["X-Request-ID"] = rid
            await response(scope, receive, send)
            return
        state["client_request_id"] = theirs
        audit.client_request_id_var.set(theirs)
        logs.client_request_id_var.set(theirs)
        extra = [(b"x-request-id", rid.encode("ascii"))]
        if theirs is not None:
            extra.append((b"x-client-request-id", theirs.encode("ascii")))
        replaced = {name for name, _value in extra}

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":  # ours replace any the route set, as before
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in replaced]
                message = {**message, "headers": [*headers, *extra]}
            await send(message)

        await self.app(scope, receive, named)


def _install_error_handlers(app: FastAPI) -> None:
    """Every failure answered as an RFC 9457 problem (:mod:`trust.http.problems` is the only mapping)."""

    @app.exception_handler(TrustError)
    async def _trust_error(request: Request, exc: TrustError) -> Any:
        return problems.for_trust_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Any:
        return problems.for_validation_error(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        code = _HTTP_CODES.get(exc.status_code, Code.INVALID_INPUT if exc.status_code < 500 else Code.INTERNAL)
        return problems.problem_response(
            request, code, str(exc.detail), status=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        log.exception("request %s: unexpected error", getattr(request.state, "request_id", "-"))
        response = problems.problem_response(request, Code.INTERNAL, "internal error")
        # Answered outside the request-id middleware (the exception went past it): its headers, set here.
        response.headers["X-Request-ID"] = getattr(request.state, "request_id", None) or new_request_id()
        theirs = getattr(request.state, "client_request_id", None)
        if theirs is not None:
            response.headers["X-Client-Request-ID"] = theirs
        return response


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the shared :class:`~trust.http.problems.Problem` schema the error responses name."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        app.openapi_schema = document
    return app.openapi_schema
