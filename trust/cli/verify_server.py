"""``trust verify-server``: the verifier page served offline from a bundle on disk (:mod:`trust.web.server`).

``trust verify-server --bundle FILE [--bundle FILE]... --pin SHA256 [--host 127.0.0.1] [--port 8088] [--at ISO]``

Part of the verifier-only install: no database, no FastAPI, no network. ``--at`` fixes the default validation time
(an audit "as of" a date, or a demonstration on old artefacts); the page's own field overrides it per request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trust.cli.common import console
from trust.crypto.errors import InputError
from trust.formats import times


def verify_server(
    bundle: Annotated[
        list[Path], typer.Option(help="Signed offline bundle (repeat for the national part and regional parts)")
    ],
    pin: Annotated[
        list[str] | None,
        typer.Option(help="Pinned national root SHA-256 fingerprint (repeatable; default $TRUST_VERIFY_PINS)"),
    ] = None,
    host: Annotated[str, typer.Option(help="Listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port (0: any free port)")] = 8088,
    at: Annotated[str | None, typer.Option(help="Default validation time, ISO 8601 (default now)")] = None,
) -> None:
    """Serve the verifier page (/verify) offline from a bundle: no database, no network."""
    from trust.web import server

    pins = pin or server.default_pins()
    if not pins:
        raise InputError("give the national root's fingerprint: --pin SHA256 (or TRUST_VERIFY_PINS)")
    moment = times.parse_time(at, "--at") if at else None
    context = server.BundleContext(bundle, pins, at=moment)

    def ready(url: str) -> None:
        console.print(
            f"Huren verifier page on {url}/verify (bundle {', '.join(map(str, bundle))})", markup=False, highlight=False
        )

    server.serve(server.App(context), host, port, ready=ready)
