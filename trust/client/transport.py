"""One HTTP exchange with the service, with the retry rules of the client (httpx underneath).

**What is retried.** A request is sent again only when sending it twice cannot do anything twice:

* ``429 Too Many Requests`` — for every request: the service refused it before doing anything (the rate limit is
  checked before the route runs). The wait is the answer's ``Retry-After`` (at most :attr:`RetryPolicy.max_wait`;
  a longer one is raised at once as the :class:`~trust.client.errors.ProblemError`).
* a lost connection, a timeout, ``500``, ``502``, ``503``, ``504`` — only for **idempotent** requests: ``GET``, and
  ``POST`` requests that carry an ``Idempotency-Key`` (the service answers a retry with the first result and never
  makes a second certificate, seal or licence — docs/SECURITY.md "Idempotency"). Sealing a PDF, a GB/T 38540
  signature, a status change or a licence PDF are *not* retried: each call makes a new signature or changes state,
  and the caller decides.
* ``401`` with ``E1400`` (the access token is unknown or expired, e.g. after the service restarted with a fresh
  token table) — once, with a new token (:class:`~trust.client.platform.PlatformClient` gives the hook): the
  request was refused before it was read.

Waits between attempts grow exponentially from :attr:`RetryPolicy.backoff` with full jitter, at most
:attr:`RetryPolicy.max_wait`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx

import trust
from trust.client.errors import ProblemError, ServiceUnreachable
from trust.crypto.errors import Code, InputError

RETRY_STATUSES: Final = frozenset({500, 502, 503, 504})
USER_AGENT: Final = f"huren-client/{trust.__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all (1 = never retry); waits from ``backoff`` seconds, doubling, jittered, at most
    ``max_wait``."""

    attempts: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1): full jitter."""
        ceiling = min(self.max_wait, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


class Transport:
    """The base URL, an ``httpx.Client`` and the retry policy; :meth:`send` is the only way out."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise InputError(f"the service URL must start with http:// or https://, not {base_url!r}", code=Code.USAGE)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._own = http is None
        self.http = http or httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False)
        self._sleep = sleep

    def close(self) -> None:
        if self._own:
            self.http.close()

    def pause(self, seconds: float) -> None:
        """Wait between attempts (tests give the transport a ``sleep`` that does not wait)."""
        self._sleep(seconds)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        authorization: Callable[[bool], str] | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send ``method path`` under the retry rules (module docstring) and return a 2xx or 3xx answer; an error
        answer raises :class:`ProblemError`, no answer :class:`ServiceUnreachable`.

        ``authorization(renew)`` gives the ``Authorization`` value for each attempt (``renew`` True after a 401
        for an unknown or expired token)."""
        attempt, renewed = 0, False
        while True:
            attempt += 1
            sent = dict(headers or {})
            if authorization is not None:
                sent["Authorization"] = authorization(renewed)
            try:
                response = self.http.request(method, self.url(path), headers=sent, **kwargs)
            except httpx.TransportError as exc:
                if idempotent and attempt < self.retry.attempts:
                    self.pause(self.retry.wait(attempt))
                    continue
                raise ServiceUnreachable(
                    f"no answer from {self.url(path)} after {attempt} attempt(s): {type(exc).__name__}: {exc}"
                ) from None
            if response.status_code < 400:
                return response
            problem = ProblemError.from_response(response)
            if self._renew(problem, authorization, renewed):
                renewed = True
                attempt -= 1  # the refused attempt was not processed: it does not count
                continue
            if attempt < self.retry.attempts and self._retryable(problem, idempotent):
                pause = problem.retry_after if problem.retry_after is not None else self.retry.wait(attempt)
                if pause <= self.retry.max_wait:
                    self.pause(pause)
                    continue
            raise problem

    @staticmethod
    def _renew(problem: ProblemError, authorization: Callable[[bool], str] | None, renewed: bool) -> bool:
        return (
            authorization is not None and not renewed and problem.status == 401 and problem.code is Code.UNAUTHENTICATED
        )

    @staticmethod
    def _retryable(problem: ProblemError, idempotent: bool) -> bool:
        return problem.status == 429 or (idempotent and problem.status in RETRY_STATUSES)


def segment(value: str) -> str:
    """``value`` as one path segment (percent-encoded); refused when empty, ``.`` or ``..``."""
    if not value or value in (".", ".."):
        raise InputError(f"{value!r} is not a valid identifier")
    return quote(value, safe="")


def _decoded(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise InputError(f"the service answered {response.request.url.path} with something that is not JSON") from None


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 2xx answer (anything else is an error naming the route)."""
    body = _decoded(response)
    if not isinstance(body, dict):
        raise InputError(f"the service answered {response.request.url.path} with JSON that is not an object")
    return body


def json_list(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON array of objects of a 2xx answer."""
    body = _decoded(response)
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise InputError(f"the service answered {response.request.url.path} with JSON that is not a list of objects")
    return body


__all__ = ["RETRY_STATUSES", "USER_AGENT", "RetryPolicy", "Transport", "json_list", "json_object", "segment"]
