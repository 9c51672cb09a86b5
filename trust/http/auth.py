"""Who is calling: client authentication, rate limits and idempotency keys for the HTTP routes.

``client`` (a FastAPI dependency) authenticates ``Authorization: Bearer <access token | client assertion>``
(:mod:`trust.service.clients`), applies the per-client rate limit, and makes the client the actor of every change
the request makes (:mod:`trust.service.audit`). Routes then ask the policy layer (:mod:`trust.service.policy`)
whether this client may act on this resource — through :func:`allow`, so the decision is made in one place.

Rate limits (:mod:`trust.http.ratelimit`): every authenticated request spends its client's budget
(``TRUST_RATE_LIMIT``); public POSTs (``/verify``, ``/ocsp``, ``/tsa``, ``/oauth/token``) spend their address's
(``TRUST_ANONYMOUS_RATE_LIMIT``); and failed authentications spend the address's and the claimed client's failure
budgets, which once spent refuse further attempts before any credential is checked. Over a budget: 429 with
``Retry-After``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from trust.crypto.errors import AuthenticationError, InputError
from trust.http.ratelimit import Limiter
from trust.service import audit, clients, idempotency, policy
from trust.service.clients import Principal
from trust.service.instance import Instance

IDEMPOTENCY_KEY: Final = re.compile(r"^[A-Za-z0-9._:~-]{1,60}$")


_LIMITER_LOCK: Final = threading.Lock()


def limiter(request: Request) -> Limiter:
    """The app's :class:`~trust.http.ratelimit.Limiter`, made on first use from the instance's settings."""
    state = request.app.state
    found: Limiter | None = getattr(state, "limiter", None)
    if found is None:
        with _LIMITER_LOCK:
            found = getattr(state, "limiter", None)
            if found is None:
                found = state.limiter = Limiter(_instance(request).settings)
    return found


def client_address(request: Request) -> str:
    """The client's address: the peer, or the client a trusted proxy names (module docstring of
    :mod:`trust.http.ratelimit`)."""
    return request.client.host if request.client else "unknown"


def guarded_authentication(
    limits: Limiter, address: str, claimed: str | None, authenticate: Callable[[], Principal]
) -> Principal:
    """``authenticate()`` within the failure budgets: refused (429) when ``address`` or the ``claimed`` client id
    has spent its budget, and a failure (401) spends both. Blocking: call it in a worker thread."""
    limits.before_authentication(address, claimed)
    try:
        return authenticate()
    except AuthenticationError:
        limits.failed_authentication(address, claimed)
        raise


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


BEARER: Final = HTTPBearer(
    auto_error=False,
    scheme_name="platformClient",
    bearerFormat="RFC 7523 client assertion (JWS) or hrt_ access token",
    description="A fresh RFC 7523 client assertion signed with the platform's certified key, or an access token "
    "from POST /oauth/token",
)


async def client(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> Principal:
    """The authenticated client of this request (401 without valid credentials, 429 over its limit).

    ``_documented`` only puts the bearer scheme into the OpenAPI document; the header is read and judged here."""
    header = request.headers.get("authorization")
    if header is None:
        raise AuthenticationError(
            "this route needs an authenticated client: Authorization: Bearer <access token or client assertion>"
        )
    instance, limits, address = _instance(request), limiter(request), client_address(request)

    def authenticate() -> Principal:
        bearer = clients.load_bearer_header(header)
        assert bearer is not None
        return clients.authenticate(instance, bearer)

    def limited() -> Principal:
        claimed = clients.claimed_client_id(header)
        principal = guarded_authentication(limits, address, claimed, authenticate)
        limits.client_request(principal.client_id)
        return principal

    principal = await run_in_threadpool(limited)
    audit.actor_var.set(principal.actor)  # set in the request's task: the route's thread sees it
    request.state.principal = principal
    return principal


async def anonymous_limit(request: Request) -> None:
    """Per-address rate limit for the public POST routes."""
    limits, address = limiter(request), client_address(request)
    if limits.shared:
        await run_in_threadpool(limits.anonymous_request, address)
    else:
        limits.anonymous_request(address)


Client = Annotated[Principal, Depends(client)]


def allow(request: Request, principal: Principal, action: policy.Action, **resource: str | None) -> None:
    """Ask the policy layer; raises ForbiddenError (403) when the client may not."""
    policy.authorize(_instance(request), principal, action, policy.Resource(**resource))


def request_id_for(principal: Principal, idempotency_key: str | None, body_request_id: str | None = None) -> str | None:
    """The service-level request id of an issuing request: the client's ``Idempotency-Key`` header (or the
    body's ``request_id``), namespaced by client so two clients never share a key."""
    if idempotency_key is not None and body_request_id is not None and idempotency_key != body_request_id:
        raise InputError("Idempotency-Key and request_id differ; send one of them")
    key = idempotency_key if idempotency_key is not None else body_request_id
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise InputError("Idempotency-Key: 1-60 characters of A-Z a-z 0-9 . _ : ~ -")
    return f"{principal.client_id}/{key}"


def idempotency_for(
    request: Request, principal: Principal, idempotency_key: str | None, body: BaseModel
) -> tuple[str | None, idempotency.Fingerprint | None]:
    """The request id (:func:`request_id_for`) of an issuing request and, when it has one, the request's
    fingerprint: a later request under the same key must be this one (:mod:`trust.service.idempotency`)."""
    request_id = request_id_for(principal, idempotency_key, getattr(body, "request_id", None))
    if request_id is None:
        return None, None
    content = body.model_dump(mode="json", exclude={"request_id"})
    return request_id, idempotency.Fingerprint.of(request.method, request.url.path, principal.client_id, content)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retrying with the same key returns the first result, never a second credential; the same key "
        "with another request (method, path, client or body) is a 409",
        max_length=60,
    ),
]

__all__ = [
    "Client",
    "IdempotencyKey",
    "allow",
    "anonymous_limit",
    "client",
    "client_address",
    "guarded_authentication",
    "idempotency_for",
    "limiter",
    "request_id_for",
]
