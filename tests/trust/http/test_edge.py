"""Issue 11 item 1, "one long URL freezes the server": request heads over the limits are refused early with 414 or
431 (RFC 9457 problems), and a real ``trust serve`` answers a 64 KiB path at once while ``/healthz`` goes on
answering.

Before the fix, ``GET /x`` with 15,800 ``A``s took 96 s and blocked ``/healthz`` for 94 s: the access-log line was
redacted by a quadratic pattern in the event loop (8,000 characters: 21 s), and a 64 KiB request line got a plain
400 from uvicorn. The redaction itself is tested in ``tests/trust/test_logs.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from uvicorn.server import ServerState

from tests.support import multiworker as mw
from tests.support.server import free_port
from trust.http.app import create_app
from trust.http.edge import JOIN_AT_MOST, HeadMeter, HeadWithBody, LimitedHttpToolsProtocol
from trust.service.instance import Instance
from trust.settings import REQUEST_LINE_OVERHEAD, Settings

TARGET, HEADERS = 8192, 32768  # the defaults


# --- the meter ----------------------------------------------------------------------------------------------------


def _feed_in_pieces(head: bytes, size: int, max_target: int = 64, max_headers: int = 128) -> tuple[int, bool]:
    meter = HeadMeter(max_target, max_headers)
    for start in range(0, len(head), size):
        status = meter.feed(head[start : start + size])
        if status:
            return status, meter.done
    return 0, meter.done


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_the_meter_gives_the_same_verdict_however_the_bytes_arrive(size: int) -> None:
    ok = b"GET /" + b"a" * 63 + b" HTTP/1.1\r\nHost: x\r\n\r\nbody-or-next-request" * 3
    assert _feed_in_pieces(ok, size) == (0, True)
    assert _feed_in_pieces(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", size) == (0, True)  # empty lines before the line
    assert _feed_in_pieces(b"GET / HTTP/1.1\n\n", size) == (0, True)  # bare LF
    assert _feed_in_pieces(b"GET /" + b"a" * 64 + b" HTTP/1.1\r\n\r\n", size)[0] == 414  # target 65 > 64
    assert _feed_in_pieces(b"GET /" + b"a" * 500, size)[0] == 414  # no line end needed to know
    head = b"GET / HTTP/1.1\r\nX: " + b"v" * 200 + b"\r\n\r\n"
    assert _feed_in_pieces(head, size)[0] == 431
    assert _feed_in_pieces(b"GET / HTTP/1.1\r\nX: " + b"v" * 5000, size)[0] == 431  # no blank line needed either
    exact = b"GET / HTTP/1.1\r\n" + b"X: " + b"v" * (128 - 7) + b"\r\n\r\n"  # 3 + 121 + 2 + 2 = 128 bytes
    assert _feed_in_pieces(exact, size) == (0, True)
    assert _feed_in_pieces(exact.replace(b"X: ", b"XY: "), size)[0] == 431


def test_the_request_line_allowance_is_the_target_plus_overhead() -> None:
    meter = HeadMeter(64, 128)
    assert meter.feed(b"G" * (64 + REQUEST_LINE_OVERHEAD)) == 0
    assert meter.feed(b"G") == 414


# --- the app (any server) -----------------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    instance = Instance(Settings(home=tmp_path, max_request_target=1024, max_header_bytes=2048))
    instance.prepare_storage()
    return TestClient(create_app(instance), raise_server_exceptions=False)


def _problem(response: httpx.Response, status: int, part: str, limit: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["code"], body["evidence"]) == (status, "E1002", {"part": part, "limit": limit})
    assert body["request_id"] == response.headers["x-request-id"]


def test_the_app_refuses_long_targets_and_large_header_sections(client: TestClient) -> None:
    path = "/healthz?" + "q" * (1024 - len("/healthz?"))
    assert client.get(path).status_code == 200  # exactly at the limit
    _problem(client.get(path + "q"), 414, "request-target", 1024)
    _problem(client.get("/x" + "A" * 60_000), 414, "request-target", 1024)  # httpx refuses URLs over 64 KiB
    assert client.get("/healthz", headers={"x-big": "v" * 1500}).status_code == 200
    _problem(client.get("/healthz", headers={"x-big": "v" * 2100}), 431, "header-section", 2048)
    _problem(client.get("/healthz", headers={f"x-{i}": "v" * 100 for i in range(30)}), 431, "header-section", 2048)


# --- a real `trust serve` ------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def _raw(url: str, request: bytes, timeout: float = 30.0) -> Answer:
    """Send ``request`` on a new connection and read the whole answer (the server closes after it)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        headers = {k.lower(): v for k, v in headers.items()}
        while len(body) < int(headers.get("content-length", "0")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return Answer(int(lines[0].split()[1]), headers, body, time.monotonic() - started)


@dataclass
class Poller:
    """``GET /healthz`` over and over on its own connection, noting how long each took."""

    url: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    response = http.get("/healthz")
                    if response.status_code != 200:
                        self.failures.append(f"status {response.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.01)


@pytest.fixture(scope="module", params=["httptools", "h11"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[mw.Server]:
    """``trust serve`` on an empty instance (SQLite), with the default limits, on each HTTP parser
    (``TRUST_HTTP_PARSER``: ``trust.http.edge.LimitedHttpToolsProtocol`` or ``LimitedH11Protocol``)."""
    tmp = tmp_path_factory.mktemp(f"edge-{request.param}")
    with mw.serve(
        tmp / "home",
        free_port(),
        workers=1,
        database_url=None,
        log_path=tmp / "serve.log",
        extra_env={"TRUST_HTTP_PARSER": request.param},
    ) as server:
        yield server


def test_a_64_kib_path_is_answered_at_once_while_healthz_keeps_answering(served: mw.Server) -> None:
    """Concurrently: ``/healthz`` polled on its own connection, and request heads that froze the server before —
    a 64 KiB path (414), a 64 KiB header (431), and an 8,000-character path under the limit (an ordinary 404 whose
    access-log line took 21 s to redact). Each is answered in well under a second, and no poll of ``/healthz`` waits
    longer than that."""
    poller = Poller(served.url)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # the poller is under way
        long_path = _raw(served.url, b"GET /x" + b"A" * 64 * 1024 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        long_header = _raw(served.url, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"v" * 64 * 1024 + b"\r\n\r\n")
        under_limit = _raw(served.url, b"GET /x" + b"A" * 8000 + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)
    finally:
        poller.stop.set()
        thread.join(timeout=60)
    for answer, status in ((long_path, 414), (long_header, 431), (under_limit, 404)):
        assert answer.status == status, (status, answer)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.seconds < 1.0, (status, answer.seconds)
    body = json.loads(long_path.body)
    assert (body["code"], body["evidence"]) == ("E1002", {"part": "request-target", "limit": TARGET})
    assert json.loads(long_header.body)["evidence"] == {"part": "header-section", "limit": HEADERS}
    assert long_path.headers["connection"] == "close" and long_path.headers["x-request-id"] == body["request_id"]
    assert not poller.failures, poller.failures
    assert len(poller.latencies) >= 10, poller.latencies
    assert max(poller.latencies) < 1.0, max(poller.latencies)
    log = served.log(200_000)
    assert "request head refused with 414" in log and "request head refused with 431" in log
    access = [line for line in log.splitlines() if '"GET /xAAAA' in line]
    assert access and all(len(line) < 4096 for line in access)  # the 8,000-character path is logged cut


def test_a_request_under_the_limits_still_works_on_a_kept_alive_connection(served: mw.Server) -> None:
    """The meter starts again for each request of a connection: many requests near the limits, one connection."""
    with httpx.Client(base_url=served.url, timeout=30) as http:
        for _ in range(20):
            response = http.get("/healthz?" + "q" * (TARGET - len("/healthz?")), headers={"x-pad": "v" * 30000})
            assert response.status_code == 200, response.text
        refused = http.get("/healthz?" + "q" * (TARGET + 1 - len("/healthz?")))
        assert refused.status_code == 414


def _answers(sock: socket.socket, count: int) -> list[Answer]:
    """Read ``count`` answers (each with a Content-Length) one after another from ``sock``."""
    answers: list[Answer] = []
    received = b""
    started = time.monotonic()
    while len(answers) < count:
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, (answers, received[:300])
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if ": " in line)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, (answers, rest[:300])
            rest += chunk
        answers.append(Answer(int(lines[0].split()[1]), headers, rest[:length], time.monotonic() - started))
        received = rest[length:]
    return answers


@pytest.mark.parametrize("first", ["GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", "body"])
def test_a_pipelined_head_begun_after_a_request_is_metered_too(served: mw.Server, first: str) -> None:
    """A second request's head that begins in the middle of what the client sent (after a whole first request,
    with or without a body) and then grows without end is refused with 431 after the first is answered: the
    parser never gathers it whole (before the httptools protocol metered it, llhttp buffered such a head without
    limit and nothing answered). The first request gets its own answer first."""
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        if first == "body":  # the head alone, then the body and the next head's start together
            sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n")
            time.sleep(0.2)
            start = b"hello"
        else:
            start = first.encode()
        sock.sendall(start + b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        time.sleep(0.2)
        try:
            for _ in range(100):  # 100 KiB of header lines, never ending the head
                sock.sendall(b"X-Pad: " + b"v" * 1015 + b"\r\n")
        except OSError:
            pass  # the server refused and stops reading after a while: the answers are still there to read
        sock.shutdown(socket.SHUT_WR)
        answered, refused = _answers(sock, 2)
    assert answered.status == (405 if first == "body" else 200), answered
    assert refused.status == 431, refused
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert json.loads(refused.body)["code"] == "E1002"


def test_trust_serve_uses_the_limited_httptools_protocol_by_default(tmp_path: Path) -> None:
    """``trust serve`` gives uvicorn one of the two limited protocols, httptools unless ``TRUST_HTTP_PARSER=h11``."""
    from uvicorn.importer import import_from_string

    from trust.cli.main import PROTOCOLS
    from trust.http.edge import LimitedH11Protocol, LimitedHttpToolsProtocol

    assert import_from_string(PROTOCOLS[Settings(home=tmp_path).http_parser]) is LimitedHttpToolsProtocol
    assert import_from_string(PROTOCOLS[Settings(home=tmp_path, http_parser="h11").http_parser]) is LimitedH11Protocol


# --- one write per answer (issue 15 item 1) -------------------------------------------------------------------------


class _Transport(asyncio.Transport):
    """What the protocol writes, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


async def _written(request: bytes, count: int) -> list[bytes]:
    config = uvicorn.Config(_echo, http=LimitedHttpToolsProtocol, lifespan="off", log_config=None)
    config.load()
    protocol = LimitedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(200):
        if len(transport.writes) >= count:
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # nothing more comes
    protocol.connection_lost(None)
    return transport.writes


def test_an_answer_is_written_in_one_piece() -> None:
    """uvicorn writes a response's head and its body apart: two ``send`` calls per answer, each costing kernel time
    on the server under load. The httptools protocol writes them together (``HeadWithBody``)."""
    writes = asyncio.run(_written(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 1))
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\nhello")


def test_an_interim_100_continue_is_not_held() -> None:
    """``Expect: 100-continue``: the client waits for the interim answer before sending the body, so it goes out at
    once, on its own; the final answer still in one piece."""

    async def exchange() -> list[bytes]:
        config = uvicorn.Config(_echo, http=LimitedHttpToolsProtocol, lifespan="off", log_config=None)
        config.load()
        protocol = LimitedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
        transport = _Transport()
        protocol.connection_made(transport)
        protocol.data_received(b"POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        for _ in range(200):
            if transport.writes:
                break
            await asyncio.sleep(0.005)
        assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        protocol.data_received(b"hello")
        for _ in range(200):
            if len(transport.writes) > 1:
                break
            await asyncio.sleep(0.005)
        protocol.connection_lost(None)
        return transport.writes

    writes = asyncio.run(exchange())
    assert len(writes) == 2 and writes[1].startswith(b"HTTP/1.1 200 OK\r\n") and writes[1].endswith(b"hello")


def test_a_held_head_is_written_before_anything_else_is_done_with_the_transport() -> None:
    transport = _Transport()
    held = HeadWithBody(transport)
    held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n")
    assert transport.writes == []
    held.close()  # e.g. the app failed after starting its answer: the head is not lost, and comes first
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n"] and transport.closed


def test_a_large_body_is_not_copied_to_join_its_head() -> None:
    transport = _Transport()
    held = HeadWithBody(transport)
    body = b"b" * (JOIN_AT_MOST + 1)
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    held.write(body)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n", body]
