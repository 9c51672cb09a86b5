"""Run a ``trust`` command (``verify-server``) with the network blocked, as ``tests.support.offline`` blocks it in
process: every connection attempt or name lookup is refused and recorded, one line each, in the file named by the
first argument (the test reads it afterwards). Listening on loopback and answering stays possible. The service's
packages cannot be imported either (recorded the same way): what the verifier-only install lacks is not used.

    python -m tests.support.offline_server ATTEMPTS_FILE verify-server --bundle ... --pin ...
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path


def block(record: Path) -> None:
    def refuse(what: str):
        def blocked(*args: object, **kwargs: object) -> None:
            with record.open("a", encoding="utf-8") as out:
                out.write(f"{what} {args[1:] if what.startswith('socket.') else args}\n")
            raise OSError(f"network blocked ({what})")

        return blocked

    socket.socket.connect = refuse("socket.connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse("socket.connect_ex")  # type: ignore[method-assign]
    socket.socket.sendto = refuse("socket.sendto")  # type: ignore[method-assign]
    socket.create_connection = refuse("create_connection")
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.gethostbyname = refuse("gethostbyname")
    socket.gethostbyaddr = refuse("gethostbyaddr")
    socket.getfqdn = refuse("getfqdn")


SERVICE_ONLY = ("fastapi", "starlette", "uvicorn", "sqlmodel", "sqlalchemy", "alembic", "psycopg", "reportlab",
                "httpx", "limits", "trust.service", "trust.http", "trust.db", "ca", "seal", "licenses")  # fmt: skip


class _Refuse:
    """A meta path finder that refuses the service's packages (and records the attempt)."""

    def __init__(self, record: Path) -> None:
        self.record = record

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if any(name == top or name.startswith(top + ".") for top in SERVICE_ONLY):
            with self.record.open("a", encoding="utf-8") as out:
                out.write(f"import {name}\n")
            raise ImportError(f"{name} is not part of the verifier-only install")


def main() -> None:
    record = Path(sys.argv[1])
    record.write_text("", encoding="utf-8")
    block(record)
    sys.meta_path.insert(0, _Refuse(record))
    from trust.cli.main import main as trust_main

    sys.exit(trust_main(sys.argv[2:]))


if __name__ == "__main__":
    main()
