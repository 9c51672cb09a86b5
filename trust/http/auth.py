"""Who is calling: client authentication, rate limits and idempotency keys for the HTTP routes.

``client`` (a FastAPI dependency) authenticates ``Authorization: Bearer <access token | client assertion>``
(:mod:`trust.service.clients`), applies the per-client rate limit, and makes the client the actor of every change
the request makes (:mod:`trust.service.audit`). Routes then ask the policy layer (:mod:`trust.service.policy`)
whether this client may act on this resource — through :func:`allow`, so the decision is made in one place.

Rate limits are token buckets kept per worker process: each of ``N`` workers allows ``limit / N`` requests per
minute per client (bursts up to a tenth of a minute's allowance), so the whole service allows about ``limit``.
Exceeding it answers 429 with ``Retry-After``. Public POSTs (``/verify``, ``/ocsp``, ``/tsa``, ``/oauth/token``)
are limited per remote address the same way (``TRUST_ANONYMOUS_RATE_LIMIT``).
"""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Annotated, Final

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from trust.crypto.errors import AuthenticationError, InputError, RateLimitedError
from trust.service import audit, clients, policy
from trust.service.clients import Principal
from trust.service.instance import Instance

IDEMPOTENCY_KEY: Final = re.compile(r"^[A-Za-z0-9._:~-]{1,60}$")
MAX_BUCKETS: Final = 100_000


class RateLimiter:
    """Token buckets keyed by client id or address; thread-safe; bounded in memory."""

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 10.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        moment = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, moment))
            tokens = min(self.capacity, tokens + (moment - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, moment)
                retry = math.ceil((1.0 - tokens) / self.rate)
                raise RateLimitedError(
                    f"rate limit exceeded for {key}; retry in {retry} s", evidence={"retry_after": retry}
                )
            if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
                self._buckets.clear()  # a flood of distinct keys: start over rather than grow without bound
            self._buckets[key] = (tokens - 1.0, moment)


def limiters(request: Request) -> tuple[RateLimiter, RateLimiter]:
    state = request.app.state
    if not hasattr(state, "rate_limiters"):
        settings = _instance(request).settings
        workers = max(1, settings.workers)
        state.rate_limiters = (
            RateLimiter(settings.rate_limit / workers),
            RateLimiter(settings.anonymous_rate_limit / workers),
        )
    limiter_pair: tuple[RateLimiter, RateLimiter] = state.rate_limiters
    return limiter_pair


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
    bearer = clients.load_bearer_header(header)
    assert bearer is not None
    principal = await run_in_threadpool(clients.authenticate, _instance(request), bearer)
    limiters(request)[0].check(f"client:{principal.client_id}")
    audit.actor_var.set(principal.actor)  # set in the request's task: the route's thread sees it
    request.state.principal = principal
    return principal


async def anonymous_limit(request: Request) -> None:
    """Per-address rate limit for the public POST routes."""
    address = request.client.host if request.client else "unknown"
    limiters(request)[1].check(f"address:{address}")


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


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retrying with the same key returns the first result, never a second credential",
        max_length=60,
    ),
]

__all__ = [
    "Client",
    "IdempotencyKey",
    "RateLimiter",
    "allow",
    "anonymous_limit",
    "client",
    "request_id_for",
]
