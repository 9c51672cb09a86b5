"""What the client raises: the service's RFC 9457 problems as :class:`ProblemError`, and an unreachable service as
:class:`ServiceUnreachable`. Both are :class:`~trust.crypto.errors.TrustError`, so the ``trust`` command maps them to
exit codes like any other error (``trust/cli/exits.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from trust.crypto.errors import Code, TrustError, UnavailableError

_BY_NUMBER = {code.number: code for code in Code}
MAX_DETAIL = 2000


class ProblemError(TrustError):
    """An error answer of the service (RFC 9457 ``application/problem+json``).

    ``code`` is the :class:`~trust.crypto.errors.Code` the service named (``E1403`` → ``Code.FORBIDDEN``); a code
    this client does not know yet becomes ``Code.INTERNAL`` (5xx) or ``Code.INVALID_INPUT`` (4xx) while
    ``problem_code`` keeps the service's label. ``status`` is the HTTP status, ``request_id`` the id to quote to the
    operator, ``retry_after`` the seconds a 429 or 503 asked to wait, ``problem`` the whole document."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: Code,
        problem_code: str,
        request_id: str | None = None,
        retry_after: int | None = None,
        evidence: Mapping[str, Any] | None = None,
        problem: Mapping[str, Any] | None = None,
    ):
        super().__init__(message, code=code, evidence=evidence)
        self.status = status
        self.problem_code = problem_code
        self.request_id = request_id
        self.retry_after = retry_after
        self.problem: dict[str, Any] = dict(problem or {})

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or self.code.title)

    @property
    def slug(self) -> str:
        """The service's slug (``urn:huren:error:<slug>``), or the code's when the problem had no such type."""
        kind = self.problem.get("type")
        prefix = "urn:huren:error:"
        return kind[len(prefix) :] if isinstance(kind, str) and kind.startswith(prefix) else self.code.slug

    def diagnostics(self) -> str:
        """``E1403 forbidden: <detail>``, the evidence, and the HTTP status and request id to quote."""
        lines = [f"{self.problem_code} {self.slug}: {self.message}"]
        lines.extend(f"  {key}: {value}" for key, value in self.evidence.items())
        lines.append(f"  (HTTP {self.status}" + (f", request id {self.request_id})" if self.request_id else ")"))
        return "\n".join(lines)

    @classmethod
    def from_response(cls, response: httpx.Response) -> ProblemError:
        """The problem in ``response`` (any error answer: a problem document, or whatever a proxy sent)."""
        body: dict[str, Any] = {}
        if "json" in response.headers.get("content-type", ""):
            try:
                parsed = json.loads(response.content)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                body = parsed
        label = body.get("code") if isinstance(body.get("code"), str) else None
        code = _code_for(label, response.status_code)
        detail = body.get("detail")
        if not isinstance(detail, str):
            detail = f"HTTP {response.status_code} {response.reason_phrase} from {response.request.url}"
        evidence = body.get("evidence") if isinstance(body.get("evidence"), dict) else None
        request_id = body.get("request_id") or response.headers.get("x-request-id")
        return cls(
            detail[:MAX_DETAIL],
            status=response.status_code,
            code=code,
            problem_code=label or code.label,
            request_id=str(request_id) if request_id else None,
            retry_after=retry_after(response),
            evidence=evidence,
            problem=body,
        )


def _code_for(label: str | None, status: int) -> Code:
    if label and label.startswith("E") and label[1:].isdigit() and int(label[1:]) in _BY_NUMBER:
        return _BY_NUMBER[int(label[1:])]
    return Code.INTERNAL if status >= 500 else Code.INVALID_INPUT


def retry_after(response: httpx.Response) -> int | None:
    """``Retry-After`` in seconds (RFC 9110 clause 10.2.3; the HTTP-date form is not used by the service)."""
    value = response.headers.get("retry-after", "").strip()
    return int(value) if value.isdigit() else None


class ServiceUnreachable(UnavailableError):
    """No answer from the service (connection refused, timeout, TLS failure) after the retries allowed."""


__all__ = ["ProblemError", "ServiceUnreachable", "retry_after"]
