"""Fault injection between the client and a real server: an httpx transport that forwards every request to the
server except those its plan names, which fail the way networks and proxies fail."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx


@dataclass
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Faulty(httpx.BaseTransport):
    """``plan[(METHOD, path prefix)]`` is a list of faults used up in order, one per matching request:
    ``refuse`` (connection refused: nothing reached the server), ``lose-answer`` (the server handled the request, the
    answer is lost: a read timeout), ``503`` / ``500`` (a proxy's error: nothing reached the server), ``429:N`` (too
    many requests, ``Retry-After: N``). Requests without a fault go to the real server."""

    plan: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    real: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)

    def to(self, method: str, prefix: str) -> list[Sent]:
        return [s for s in self.sent if s.method == method and s.path.startswith(prefix)]

    def _fault(self, request: httpx.Request) -> str | None:
        for (method, prefix), faults in self.plan.items():
            if request.method == method and request.url.path.startswith(prefix) and faults:
                return faults.pop(0)
        return None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.sent.append(Sent(request.method, request.url.path, dict(request.headers), body))
        fault = self._fault(request)
        if fault is None:
            return self.real.handle_request(request)
        if fault == "refuse":
            raise httpx.ConnectError("injected: connection refused", request=request)
        if fault == "lose-answer":
            answer = self.real.handle_request(request)
            answer.read()
            answer.close()
            raise httpx.ReadTimeout("injected: the answer was lost", request=request)
        status, _, wait = fault.partition(":")
        headers = {"Retry-After": wait} if wait else {}
        code = {"429": "E1404", "500": "E1007", "503": "E1006"}.get(status, "E1000")
        problem = {
            "type": "urn:huren:error:injected",
            "status": int(status),
            "detail": f"injected {fault}",
            "code": code,
        }
        return httpx.Response(
            int(status),
            headers={**headers, "Content-Type": "application/problem+json"},
            content=json.dumps(problem).encode(),
            request=request,
        )

    def close(self) -> None:
        self.real.close()
