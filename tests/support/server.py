"""A real HTTP server (uvicorn on loopback, in a thread) for tests that talk to Huren like a peer does:
``openssl ocsp -url``, pyHanko's time-stamp client, certificate validators fetching CRLs."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from trust.http.app import create_app
from trust.service.instance import Instance

_GIVEN: set[int] = set()


def free_port() -> int:
    """A loopback port that is free now, outside Linux's ephemeral range (32768-60999), and not handed out before
    in this process. The port is bound only later (often after certificates naming it are made): a port from the
    ephemeral range could meanwhile be taken by an outgoing connection, and port 0 can give the same port twice."""
    for _ in range(1000):
        port = random.randrange(20000, 32000)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError("no free loopback port in 20000-31999")


@contextmanager
def live_server(instance: Instance, port: int | None = None) -> Iterator[str]:
    """Serve ``instance`` on ``127.0.0.1:port``; yields the base URL."""
    port = port or free_port()
    config = uvicorn.Config(create_app(instance), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
