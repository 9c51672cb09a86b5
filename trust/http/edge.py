"""The HTTP edge in front of the app: request heads over the limits are refused before anything parses them.

Issue 11: a request with a 15,800-character path kept the event loop busy for 96 s. Besides the log redaction
(:mod:`trust.logs`, now linear), the service refuses over-long request heads early, with explicit limits:

* ``TRUST_MAX_REQUEST_TARGET`` (default 8 KiB): the request target (path and query) — **414 URI Too Long**;
* ``TRUST_MAX_HEADER_BYTES`` (default 32 KiB): the header section (every header line and the blank line) —
  **431 Request Header Fields Too Large**.

Both answers are RFC 9457 problems with code ``E1002`` (input too large) and ``evidence`` naming the part and
the limit, and ``Connection: close``.

Three places apply them:

* :class:`LimitedHttpToolsProtocol`, the HTTP/1.1 protocol ``trust serve`` gives uvicorn by default
  (``TRUST_HTTP_PARSER=httptools``; issue 15 item 1: llhttp parses a request for less CPU than h11). llhttp has no
  head limit of its own, so every head is metered with the same :class:`HeadMeter` and refused with the same
  answers as below, also a pipelined head that begins after another request in the same read (its class says how).
* :class:`LimitedH11Protocol`, the same on h11 (``TRUST_HTTP_PARSER=h11``). It meters the bytes of each
  request head as they arrive (:class:`HeadMeter`) and answers as soon as a limit is passed, before h11 has
  parsed or buffered more: a 64 KiB or a 64 MiB path costs the same few microseconds. (uvicorn's own h11
  protocol answers a head over h11's ``max_incomplete_event_size`` — 16 KiB by default — with a plain-text 400
  and closes at once, which a client still sending sees as a reset; :class:`LimitedH11Protocol` stops reading
  into h11, sends the problem, half-closes, and discards what the client still sends for a moment, so the client
  reads the answer.) h11's own limit is set above the sum of ours
  (``Settings.h11_max_incomplete_event_size``), so it only ever bounds what the meter does not see (pipelined
  requests).
* :class:`HeadLimit`, an ASGI middleware in :func:`trust.http.app.create_app`, for every other way of serving the
  app (a test client, uvicorn started by hand): the same limits on the parsed request.

The reverse proxy in front should refuse at the same sizes (``docs/OPERATIONS.md`` has an nginx example).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from functools import cache
from typing import Any, Final, Literal

import h11
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trust.crypto.errors import Code
from trust.http import problems
from trust.settings import REQUEST_LINE_OVERHEAD, Settings

log = logging.getLogger("trust.http")

LINGER_SECONDS: Final = 2.0
"""After a refusal, how long the connection stays open for the client to read the answer."""
LINGER_BYTES: Final = 4 * 1024 * 1024
"""What a refused client may still send (and we discard) before the connection is closed at once."""

JOIN_AT_MOST: Final = 256 * 1024
"""A body piece up to this size is written with the response head in one ``send`` (:class:`HeadWithBody`)."""

REASONS: Final = {414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


def refusal(status: int, limit: int, request_id: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a 414 or 431 problem."""
    part, what = ("request-target", "request target") if status == 414 else ("header-section", "header section")
    body = json.dumps(
        problems.problem_body(
            Code.INPUT_TOO_LARGE,
            f"{what} exceeds {limit} bytes",
            status=status,
            request_id=request_id,
            evidence={"part": part, "limit": limit},
        )
    ).encode()
    headers = [
        (b"content-type", problems.PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        (b"connection", b"close"),
    ]
    return headers, body


def target_length(scope: Scope) -> int:
    """Bytes of the request target as sent: raw path, and ``?query`` when there is one."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode()
    query = scope.get("query_string") or b""
    return len(raw_path) + (1 + len(query) if query else 0)


def header_bytes(headers: list[tuple[bytes, bytes]]) -> int:
    """Bytes of the header section as sent: ``name: value`` CRLF per header, and the closing CRLF."""
    return sum(len(name) + len(value) + 4 for name, value in headers) + 2


class HeadLimit:
    """ASGI middleware: 414 for a request target over ``max_target`` bytes, 431 for a header section over
    ``max_headers`` bytes."""

    def __init__(self, app: ASGIApp, max_target: int, max_headers: int):
        self.app = app
        self.max_target = max_target
        self.max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            status, limit = 0, 0
            if target_length(scope) > self.max_target:
                status, limit = 414, self.max_target
            elif header_bytes(scope.get("headers") or []) > self.max_headers:
                status, limit = 431, self.max_headers
            if status:
                headers, body = refusal(status, limit, uuid.uuid4().hex)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class HeadMeter:
    """Meters one request head as its bytes arrive: the request line (kept, at most ``max_target`` plus
    ``REQUEST_LINE_OVERHEAD`` bytes, to measure its target) and the header section (only counted). :meth:`feed`
    answers the status to refuse with (414, 431) as soon as a limit is passed, else 0; :attr:`done` once the head
    is complete. Leading empty lines before the request line are ignored, as RFC 9112 clause 2.2 allows."""

    def __init__(self, max_target: int, max_headers: int):
        self.max_target = max_target
        self.max_headers = max_headers
        self.line = bytearray()
        self.line_done = False
        self.headers = 0
        self.tail = b""
        self.done = False

    def feed(self, data: bytes) -> int:
        if self.done:
            return 0
        position = 0
        while not self.line_done:
            newline = data.find(b"\n", position)
            piece = data[position:] if newline < 0 else data[position:newline]
            if len(self.line) + len(piece) > self.max_target + REQUEST_LINE_OVERHEAD:
                return 414
            self.line += piece
            if newline < 0:
                return 0
            position = newline + 1
            if not self.line.strip():  # an empty line before the request line
                self.line.clear()
                continue
            self.line_done = True
            parts = bytes(self.line).split()
            if len(parts) >= 2 and len(parts[1]) > self.max_target:
                return 414
            self.tail = b"\n"  # a blank line right after the request line ends a head without headers
        rest = data[position:]
        window = self.tail + rest
        ends = [i for i in (window.find(b"\n\r\n"), window.find(b"\n\n")) if i >= 0]
        if ends:
            end = min(ends)
            end += 3 if window.startswith(b"\n\r\n", end) else 2
            self.headers += end - len(self.tail)
            self.done = True
        else:
            self.headers += len(rest)
            self.tail = window[-2:]
        return 431 if self.headers > self.max_headers else 0


@cache
def _limits() -> tuple[int, int]:
    """``(max request target, max header bytes)`` of this process (``TRUST_*`` settings, read once)."""
    settings = Settings()
    return settings.max_request_target, settings.max_header_bytes


class _Refusals:
    """What both limited protocols share: the refusal of an over-limit head (written as soon as no earlier answer of
    the connection is still being written), then a moment for the client to read it while what it still sends is
    discarded."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: tuple[str, int] | None
    _meter: HeadMeter

    def _start_limits(self) -> None:
        self._meter = HeadMeter(*_limits())
        self._refused = False
        self._pending = 0  # a refusal waiting for the answer being written to finish (pipelined requests)
        self._discarded = 0

    def _discard(self, data: bytes) -> None:
        self._discarded += len(data)
        if self._discarded > LINGER_BYTES:
            self.transport.close()

    def _refuse(self, status: int, busy: bool = False) -> None:
        """Refuse with ``status``: at once, or (``busy``: an earlier request's answer is still being written) when
        that answer is complete (:meth:`_answered`). Nothing more the client sends is read either way."""
        self._refused = True
        if busy:
            self._pending = status
            return
        limit = self._meter.max_target if status == 414 else self._meter.max_headers
        request_id = uuid.uuid4().hex
        headers, body = refusal(status, limit, request_id)
        head = b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])
        head += b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
        self.transport.write(head + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer, sees the end, and closes
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        log.warning(
            "request head refused with %d: %s over %d bytes",
            status,
            "request target" if status == 414 else "header section",
            limit,
            extra={"client": client, "request_id": request_id},
        )

    def _answered(self) -> None:
        """An answer was completed: a refusal waiting for it is written now."""
        if self._pending and not self.transport.is_closing():
            status, self._pending = self._pending, 0
            self._refuse(status)


class LimitedH11Protocol(_Refusals, H11Protocol):
    """uvicorn's h11 protocol with the request-head limits applied to the bytes as they arrive (module docstring).

    Only :meth:`data_received` is extended: while h11 waits for a request head, each chunk is metered before h11
    sees it; a head over a limit is answered here and nothing of it reaches h11 or the app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start_limits()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._discard(data)
            return
        if self.conn.their_state is h11.IDLE:
            if self._meter.done:  # the previous request is over: meter the next head
                self._meter = HeadMeter(self._meter.max_target, self._meter.max_headers)
            status = self._meter.feed(data)
            if status:
                self._refuse(status)
                return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._meter.done = True  # h11 has the whole head (the authority on where it ends)


class LimitedHttpToolsProtocol(_Refusals, HttpToolsProtocol):
    """uvicorn's httptools (llhttp) protocol with the same request-head limits and answers as
    :class:`LimitedH11Protocol`. llhttp sets no limit of its own on a request head (uvicorn and httptools gather the
    target and each header in memory), so every head is metered:

    * a head that starts a chunk (the connection is between requests, or the head's earlier bytes were metered) is
      metered by a :class:`HeadMeter` from its first byte: 414 and 431 exactly as with h11;
    * a head that starts in the middle of a chunk after a request body (pipelining) is parsed up to that chunk's
      end, and from the next chunk on its remaining bytes are metered against the whole head's allowance (target,
      request-line overhead and header section): over it, 431.

    The parser tells where a head begins and ends (``on_message_begin``, ``on_headers_complete``). A refusal while
    an earlier request of the connection is still being answered waits for that answer to be complete."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start_limits()
        self._part: Literal["idle", "head", "body"] = "idle"  # where the parser is: between requests, in a head, …
        self._covered = 0  # heads that may still begin in this chunk and that the meter sees from their first byte

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._discard(data)
            return
        self._covered = 0
        if self._part == "idle":  # between requests: the next head is metered from its first byte
            if self._meter.done:
                self._meter = HeadMeter(self._meter.max_target, self._meter.max_headers)
            self._covered = 1
        elif self._part == "head" and self._meter.done:  # a head begun after a body in the previous chunk
            self._meter = _rest_of_head(self._meter.max_target, self._meter.max_headers)
        if self._part != "body":
            status = self._meter.feed(data)
            if status:
                self._refuse(status, busy=self.cycle is not None and not self.cycle.response_complete)
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._part = "head"
        if self._covered:
            self._covered -= 1
        else:  # begun after a body in this chunk: the meter has not seen it; the next chunk meters its rest
            self._meter.done = True

    def on_headers_complete(self) -> None:
        self._part = "body"
        self._meter.done = True  # the parser has the whole head (the authority on where it ends)
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.transport is self.transport:
            self.cycle.transport = HeadWithBody(self.transport)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._part = "idle"
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is None or self.cycle.response_complete:  # every request parsed so far is answered
            self._answered()


class HeadWithBody:
    """The transport as one request's answer sees it: the response head is written with the first piece of the body
    that follows it (up to :data:`JOIN_AT_MOST` bytes), in one ``write`` (one ``send`` system call) instead of two
    (issue 15 item 1: on loopback under load each ``send`` cost the server ~0.1-0.3 ms of kernel time, and uvicorn
    writes the head and the body apart).
    Only the final head is held (an interim ``100 Continue`` goes out at once: the client waits for it before it
    sends the body); anything else the answer does with the transport (close it, ask whether it is closing, …)
    writes a held head first, so nothing is lost or reordered."""

    def __init__(self, transport: asyncio.Transport):
        self._transport = transport
        self._held: bytes | None = None
        self._headed = False  # the final head was written (or is held)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._headed:
            start = bytes(data[:10])
            if start.startswith(b"HTTP/1.1 ") and not start.startswith(b"HTTP/1.1 1"):
                self._headed = True  # the final head (nothing of the body comes before it): held for the body
                self._held = bytes(data)
                return
        if self._held is not None:
            held, self._held = self._held, None
            if len(data) > JOIN_AT_MOST:  # a large body (GET /bundle: tens of MB) is not copied to save one send
                self._transport.write(held)
            else:
                data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self._transport, name)


def _rest_of_head(max_target: int, max_headers: int) -> HeadMeter:
    """A meter of a head's remaining bytes (its request line already parsed), against the whole head's allowance."""
    meter = HeadMeter(max_target, max_target + REQUEST_LINE_OVERHEAD + max_headers)
    meter.line_done = True
    return meter


__all__ = ["HeadLimit", "HeadMeter", "HeadWithBody", "LimitedH11Protocol", "LimitedHttpToolsProtocol", "refusal"]
