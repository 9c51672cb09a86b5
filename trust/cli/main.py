"""The ``trust`` command. Every command is a thin layer over a service function; errors map to exit codes
in :mod:`trust.cli.exits` and are printed as ``E<code> <slug>: <message>`` on standard error.

The command modules import only the base install (typer, rich, the crypto and format layers) at the top; what a
command needs of the service is imported when it runs. In a verifier-only install (``pip install huren``) every
command but ``verify``, ``version`` and ``util`` stops before running with ``E1006 unavailable`` and exit 4, naming
``huren[service]`` (:mod:`trust.cli.extras`); ``--help`` works for all of them."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
import typer.exceptions

import trust
from trust.cli import (
    backup,
    ca,
    client,
    exits,
    extras,
    federation,
    idp,
    keys,
    license,
    root,
    seal,
    sharing,
    tlog,
    trustlist,
    util,
    verify,
    verify_server,
)
from trust.cli.common import HomeOption, console, err_console, instance
from trust.crypto.errors import Code, TrustError
from trust.formats import text

app = typer.Typer(
    name="trust",
    help="Huren (互认): national trust root, CA, seals, licences and offline verification.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(ca.app, name="ca")
app.add_typer(trustlist.app, name="trustlist")
app.add_typer(seal.app, name="seal")
app.add_typer(license.app, name="license")
app.add_typer(trustlist.bundle_app, name="bundle")
app.add_typer(client.app, name="client")
app.add_typer(client.audit_app, name="audit")
app.add_typer(backup.app, name="backup")
app.add_typer(util.app, name="util")
app.add_typer(federation.app, name="federation")
app.add_typer(idp.app, name="idp")
app.add_typer(sharing.app, name="sharing")
app.add_typer(tlog.app, name="log")
app.add_typer(root.app, name="root")
app.command("init")(ca.init)
app.command("verify")(verify.verify)
app.command("verify-server")(verify_server.verify_server)

db_app = typer.Typer(help="Database schema (Alembic migrations): upgrade, status.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def version() -> None:
    """Print the versions of Huren and of its SM2 back end."""
    from trust.crypto import _openssl

    console.print(f"huren {trust.__version__}")
    console.print(f"SM2 back end: {_openssl.version()}")


@db_app.command("upgrade")
def db_upgrade(home: HomeOption = None) -> None:
    """Create or upgrade the database schema to the newest migration."""
    inst = instance(home)
    inst.prepare_storage()
    from trust import db

    console.print(f"database at revision {db.current_revision(inst.engine)}")


@db_app.command("status")
def db_status(home: HomeOption = None) -> None:
    """Print the database URL (without password) and its schema revision."""
    inst = instance(home)
    from trust import db

    console.print(f"url: {inst.engine.url.render_as_string(hide_password=True)}")
    console.print(f"revision: {db.current_revision(inst.engine) or 'none (run trust db upgrade)'}")


@app.command()
def demo(home: HomeOption = None) -> None:
    """Build the demo world (roots, regions 330000/440000, every profile, CRLs, OCSP, time-stamps) under --home.

    Certificates, tokens and status lists name $TRUST_PUBLIC_URL, or https://trust.demo.huren.example when it is not
    set. A folder that already holds a demo world is left as it is (so `./dev run` can be repeated)."""
    import time

    from trust.service import demo as demo_service

    inst = instance(home)
    index = inst.settings.home / "out" / "index.json"
    if index.exists():
        console.print(f"{inst.settings.home} already holds a demo world ({index}); leaving it as it is")
        return
    start = time.monotonic()

    def say(message: str) -> None:  # each line says when it happened: the slow steps show
        console.print(f"[{time.monotonic() - start:5.1f} s] {message}", markup=False, highlight=False)

    settings = demo_service.demo_settings(inst.settings)  # the documented demo URL unless TRUST_PUBLIC_URL is set
    passphrase = demo_service.ensure_passphrase(inst.settings.home, say)
    if passphrase is not None or settings is not inst.settings:
        inst = type(inst)(settings, passphrase=passphrase)
    demo_service.build(inst, say)
    say(f"demo world built in {_duration(time.monotonic() - start)}")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


PROTOCOLS = {"httptools": "trust.http.edge:LimitedHttpToolsProtocol", "h11": "trust.http.edge:LimitedH11Protocol"}
"""uvicorn's HTTP protocol for each ``TRUST_HTTP_PARSER`` (named, not imported: the CLI does not import trust.http)."""


@app.command()
def serve(
    home: HomeOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default $TRUST_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default $TRUST_PORT or 8000)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (PostgreSQL only for more than one)")] = None,
) -> None:
    """Run the HTTP service on an instance folder (the schema is upgraded first)."""
    import uvicorn

    from trust import logs

    inst = instance(home)
    updates = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    settings = inst.settings.model_copy(update=updates)
    inst = type(inst)(settings)
    logs.configure(settings, default_format="json")  # uvicorn's own loggers propagate to this handler too
    inst.prepare_storage()
    inst.keystore  # noqa: B018 - open it now: a wrong or missing passphrase fails here, not on the first request
    # Worker processes import trust.http.asgi, which reads TRUST_* variables: hand the resolved settings on.
    os.environ["TRUST_HOME"] = str(settings.home.resolve())
    os.environ["TRUST_HOST"] = settings.host
    os.environ["TRUST_PORT"] = str(settings.port)
    os.environ["TRUST_WORKERS"] = str(settings.workers)  # each worker takes its share of the rate limits
    if settings.database_url:
        os.environ["TRUST_DATABASE_URL"] = settings.database_url
    console.print(
        f"Huren serving {settings.home} on http://{settings.host}:{settings.port} "
        f"(database {inst.engine.url.render_as_string(hide_password=True)})"
    )
    uvicorn.run(
        "trust.http.asgi:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep Huren's handler (JSON, redacted); workers install it in trust.http.asgi
        env_file=None,
        # Request heads over TRUST_MAX_REQUEST_TARGET / TRUST_MAX_HEADER_BYTES are refused (414/431) as their bytes
        # arrive, by either parser's protocol; h11's own buffer limit sits above both (trust.http.edge).
        http=PROTOCOLS[settings.http_parser],
        h11_max_incomplete_event_size=settings.h11_max_incomplete_event_size,
        # X-Forwarded-For counts only from the proxies named in TRUST_FORWARDED_ALLOW_IPS (none by default), not
        # from uvicorn's default 127.0.0.1: otherwise any local client could choose its address for the limits.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


def command() -> typer.core.TyperGroup:
    """The click command tree of :data:`app`, with flags shown without a value type in ``--help``.

    Typer's rich help prints the type of every option, so a flag (which takes no value), ``--help`` included,
    appeared as ``--help <bool>``. An empty ``metavar`` is Typer's way to print no type; the help option is made by
    ``get_help_option`` (once per command, then reused), so it is fetched here and given one too."""
    root = typer.main.get_command(app)

    def tidy(cmd: typer.core.TyperCommand | typer.core.TyperGroup, name: str) -> None:
        helper = cmd.get_help_option(typer.Context(cmd, info_name=name))
        for param in [*cmd.params, *([helper] if helper is not None else [])]:
            if isinstance(param, typer.core.TyperOption) and param.is_flag and param.metavar is None:
                param.metavar = ""
        for sub_name, sub in getattr(cmd, "commands", {}).items():
            tidy(sub, sub_name)

    assert isinstance(root, typer.core.TyperGroup)
    tidy(root, "trust")
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trust`` console script; returns the process exit code."""
    try:
        root = command()
        _check_installed(root, sys.argv[1:] if argv is None else argv)
        result = root.main(args=argv, standalone_mode=False, prog_name="trust")
    except TrustError as error:
        # messages may quote the input: escape what could drive the terminal, keep the lines the error made
        shown = "\n".join(text.escape(line) for line in error.diagnostics().split("\n"))
        err_console.print(shown, markup=False, highlight=False)
        return int(exits.for_error(error))
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return int(exits.Exit.USAGE)
    except typer.exceptions.TyperException as usage:  # click's usage errors: exit 3, never click's 2
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(str(usage))
        return int(exits.Exit.USAGE)
    except Exception as bug:
        if os.environ.get("TRUST_DEBUG"):
            raise
        fault = TrustError(f"unexpected {type(bug).__name__}; set TRUST_DEBUG=1 for the traceback", code=Code.INTERNAL)
        err_console.print(fault.diagnostics(), markup=False, highlight=False)
        return int(exits.Exit.ENVIRONMENT)
    return int(result) if isinstance(result, int) else 0


def _check_installed(root: typer.core.TyperGroup, args: list[str]) -> None:
    """Before a command that needs ``huren[service]`` runs where only the verifier is installed: say so (exit 4).

    The root command has no options but ``--help``, so its first argument that is not an option names the command.
    Help is always shown, and an unknown name is left to click's usage error (exit 3)."""
    name = next((arg for arg in args if not arg.startswith("-")), None)
    if name is None or name in extras.BASE_COMMANDS or name not in root.commands or "--help" in args:
        return
    extras.require_service(name)


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script wrapper: exits with :func:`main`'s code."""
    sys.exit(main())
