"""Rate limits of the HTTP service, counted by the `limits` library in process memory or in Redis.

Budgets, each "at most N in any 60 seconds" (a moving window, exact):

=====================================  ======================================  ==================================
budget                                 counted per                             setting (default)
=====================================  ======================================  ==================================
requests of an authenticated client    client id                               ``TRUST_RATE_LIMIT`` (1200)
(an entry of a certificate batch
counts as a request)
public POSTs (verify, OCSP, TSA,       client address                          ``TRUST_ANONYMOUS_RATE_LIMIT`` (600)
token)
failed authentications                 client address                          ``TRUST_AUTH_FAILURE_LIMIT`` (30)
failed authentications                 client id an assertion claims           ``TRUST_AUTH_FAILURE_CLIENT_LIMIT``
                                                                               (120)
=====================================  ======================================  ==================================

Over a budget the answer is 429 (``E1404``) with ``Retry-After``. A spent failure budget refuses every
authentication attempt from that address, or naming that client, **before** its credentials are checked (no
signature is verified for it) until the window lets it through again; a success never spends it. ``0`` turns a
budget off.

**Where they count** (``TRUST_RATE_LIMIT_STORAGE``): ``memory://`` (the default, for one process) keeps the counts
in each worker, which then allows ``N / TRUST_WORKERS``; ``redis://host:port/db`` keeps them in Redis under
``TRUST_RATE_LIMIT_KEY_PREFIX``, shared by every worker on every host, each allowing the whole ``N`` together.
A storage that does not answer (Redis down, 0.5 s timeout) lets the request through and is logged at most once a
minute per worker: the limits protect the service, they must not take it down.

**The client address** is the connection's peer; ``X-Forwarded-For`` replaces it only when the peer is a proxy
named in ``TRUST_FORWARDED_ALLOW_IPS`` (uvicorn's proxy-headers middleware, configured by ``trust serve``; empty
by default, so no client can choose its own address). ``Forwarded`` (RFC 7239) is not read at all.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from trust.crypto.errors import RateLimitedError
from trust.settings import Settings

log = logging.getLogger("trust.http.ratelimit")

STORAGE_TIMEOUT: Final = 0.5
"""Seconds a Redis call may take before the request goes through unlimited."""
WARN_EVERY: Final = 60.0


class Limiter:
    """The budgets of one process (module docstring); thread-safe. Methods raise :class:`RateLimitedError`."""

    def __init__(self, settings: Settings):
        uri = settings.rate_limit_storage
        self.shared = not uri.startswith("memory:")
        self.where = _display(uri)
        share = 1 if self.shared else max(1, settings.workers)
        options: dict[str, float | str | bool] = {"wrap_exceptions": True}
        if self.shared:
            options |= {
                "key_prefix": settings.rate_limit_key_prefix,
                "socket_timeout": STORAGE_TIMEOUT,
                "socket_connect_timeout": STORAGE_TIMEOUT,
            }
        self.storage = storage_from_string(uri, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.requests = _per_minute(settings.rate_limit, share, "client")
        self.anonymous = _per_minute(settings.anonymous_rate_limit, share, "address")
        self.failures = _per_minute(settings.auth_failure_limit, share, "auth-failure-address")
        self.client_failures = _per_minute(settings.auth_failure_client_limit, share, "auth-failure-client")
        self.logins = _per_minute(settings.login_rate_limit, share, "idp-login")
        self._warned = -math.inf
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Limiter({self.where})"

    # -- the budgets -----------------------------------------------------------------------------------------

    def client_request(self, client_id: str) -> None:
        """One request of an authenticated client."""
        self._hit(self.requests, client_id, f"rate limit exceeded for client {client_id}")

    def client_entries(self, client_id: str, entries: int) -> None:
        """``entries`` more requests of an authenticated client, at once: a batch route counts every entry of its
        body as a request (the request itself was counted by :meth:`client_request`)."""
        if entries > 0:
            self._hit(self.requests, client_id, f"rate limit exceeded for client {client_id}", cost=entries)

    @property
    def client_budget(self) -> int | None:
        """Requests one client may make in a window on this worker (None: no limit); a batch larger than this
        could never be let through."""
        return None if self.requests is None else self.requests.amount

    def anonymous_request(self, address: str) -> None:
        """One public POST from ``address``."""
        self._hit(self.anonymous, address, f"rate limit exceeded for address {address}")

    def before_authentication(self, address: str, claimed: str | None) -> None:
        """Refuse the attempt when ``address``, or the client id it claims, has spent its failure budget."""
        self._test(self.failures, address, f"too many failed authentications from address {address}")
        if claimed is not None:
            self._test(self.client_failures, claimed, f"too many failed authentications naming client {claimed}")

    def failed_authentication(self, address: str, claimed: str | None) -> None:
        """Count a failed attempt against ``address`` and the client id it claimed."""
        for item, key in ((self.failures, address), (self.client_failures, claimed)):
            if item is not None and key is not None:
                self._call(partial(self.strategy.hit, item, key))

    def login_attempt(self, address: str, account: str | None) -> None:
        """One login attempt at a regional OP (issue 16): counted per address and per citizen ID number tried, so
        neither guessing many passwords for one citizen nor one password for many citizens goes fast."""
        self._hit(self.logins, f"address:{address}", f"too many login attempts from address {address}")
        if account:
            self._hit(self.logins, f"account:{account}", "too many login attempts for this citizen ID number")

    # -- mechanics -------------------------------------------------------------------------------------------

    def _hit(self, item: RateLimitItem | None, key: str, message: str, *, cost: int = 1) -> None:
        if item is not None and self._call(lambda: self.strategy.hit(item, key, cost=cost)) is False:
            self._refuse(item, key, message)

    def _test(self, item: RateLimitItem | None, key: str, message: str) -> None:
        if item is not None and self._call(lambda: self.strategy.test(item, key)) is False:
            self._refuse(item, key, message)

    def _refuse(self, item: RateLimitItem, key: str, message: str) -> None:
        reset = self._call(lambda: self.strategy.get_window_stats(item, key).reset_time)
        retry = max(1, math.ceil(reset - time.time())) if isinstance(reset, float | int) else item.get_expiry()
        raise RateLimitedError(f"{message}; retry in {retry} s", evidence={"retry_after": retry})

    def _call(self, operation: Callable[[], Any]) -> Any:
        """``operation()``, or None (allowed) when the storage fails."""
        try:
            return operation()
        except StorageError as exc:
            with self._lock:
                moment = time.monotonic()
                if moment - self._warned >= WARN_EVERY:
                    self._warned = moment
                    log.error(
                        "rate limit storage %s failed (%s); requests pass unlimited until it answers",
                        self.where,
                        type(exc.storage_error).__name__,
                    )
            return None


def _per_minute(limit: int, share: int, namespace: str) -> RateLimitItem | None:
    """``limit / share`` per minute (at least 1), or None when the budget is off."""
    if limit <= 0:
        return None
    return RateLimitItemPerMinute(max(1, limit // share), namespace=namespace)


def _display(uri: str) -> str:
    """The storage URL without its user and password (for logs)."""
    if uri.startswith("memory:"):
        return uri
    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


__all__ = ["Limiter"]
