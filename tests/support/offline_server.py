"""Run a ``trust`` command (``verify-server``) with the network blocked, as ``tests.support.offline`` blocks it in
process: every connection attempt or name lookup is refused and recorded, one line each, in the file named by the
first argument (the test reads it afterwards). Listening on loopback and answering stays possible.

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


def main() -> None:
    record = Path(sys.argv[1])
    record.write_text("", encoding="utf-8")
    block(record)
    from trust.cli.main import main as trust_main

    sys.exit(trust_main(sys.argv[2:]))


if __name__ == "__main__":
    main()
