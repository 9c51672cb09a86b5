"""A real HTTP server (uvicorn on loopback, in a thread) for tests that talk to Huren like a peer does:
``openssl ocsp -url``, pyHanko's time-stamp client, certificate validators fetching CRLs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from trust.http.app import create_app
from trust.service.instance import Instance


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
