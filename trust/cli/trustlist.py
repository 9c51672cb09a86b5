"""``trust trustlist ...`` and ``trust bundle ...``: publish the national trust list, change an issuer's or a
service's standing, export the offline bundle, print the root fingerprints verifiers pin."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from trust.cli.common import HomeOption, console, instance
from trust.crypto.errors import InputError
from trust.formats import times

app = typer.Typer(help="National trust list: publish, show, withdraw, suspend, reinstate.", no_args_is_help=True)
bundle_app = typer.Typer(help="Offline bundle for verifiers: export, pins.", no_args_is_help=True)


def _time(text: str | None) -> datetime | None:
    """``--at``: :func:`trust.formats.times.parse_time`, as the HTTP API reads ``effective`` (a naive time is UTC)."""
    return None if text is None else times.parse_time(text, "--at")


@app.command()
def publish(home: HomeOption = None) -> None:
    """Sign (both national roots) and publish a new trust list."""
    from trust.service import trust as service

    record = service.publish_now(instance(home))
    console.print(
        f"trust list {record.sequence} published ({record.digest[:16]}…), next update {record.next_update.isoformat()}"
    )


@app.command()
def show(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    home: HomeOption = None,
) -> None:
    """Show the issuers of the latest trust list with their current status and services."""
    from trust.service import trust as service

    rows = service.list_issuers(instance(home))
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        console.print(f"{row['id']:32} {row['status']:10} {row['name']}  services: {', '.join(row['services'])}")


def _change(status: str, subject_id: str, service_flag: bool, at: str | None, reason: str, home: Path | None) -> None:
    from trust.service import trust as service

    record = service.change_status(
        instance(home),
        subject="service" if service_flag else "issuer",
        subject_id=subject_id,
        status=status,
        at=_time(at),
        reason=reason,
    )
    console.print(
        f"{subject_id} {status} from {(_time(at) or datetime.now(UTC)).isoformat()}; "
        f"trust list {record.sequence} published"
    )


SubjectArg = Annotated[str, typer.Argument(help="Issuer id (e.g. region-440000) or, with --service, a service id")]
ServiceFlag = Annotated[bool, typer.Option("--service", help="The id names a service, not an issuer")]
AtOption = Annotated[str | None, typer.Option(help="Effective time, ISO 8601 (default now)")]
ReasonOption = Annotated[str, typer.Option(help="Reason recorded in the trust list")]


@app.command()
def withdraw(
    subject_id: SubjectArg,
    service_flag: ServiceFlag = False,
    at: AtOption = None,
    reason: ReasonOption = "",
    home: HomeOption = None,
) -> None:
    """Withdraw an issuer or a service: what it signed before stays verifiable, what it signs after fails."""
    _change("withdrawn", subject_id, service_flag, at, reason, home)


@app.command()
def suspend(
    subject_id: SubjectArg,
    service_flag: ServiceFlag = False,
    at: AtOption = None,
    reason: ReasonOption = "",
    home: HomeOption = None,
) -> None:
    """Suspend an issuer or a service."""
    _change("suspended", subject_id, service_flag, at, reason, home)


@app.command()
def reinstate(
    subject_id: SubjectArg,
    service_flag: ServiceFlag = False,
    at: AtOption = None,
    reason: ReasonOption = "",
    home: HomeOption = None,
) -> None:
    """Grant an issuer or a service again."""
    _change("granted", subject_id, service_flag, at, reason, home)


@bundle_app.command("export")
def export(
    out: Annotated[
        Path | None,
        typer.Option(help="Write the bundle here (also to <home>/public/bundle.json); with --parts: a folder"),
    ] = None,
    parts: Annotated[
        bool,
        typer.Option(
            "--parts",
            help="Cut it into the national part and one part per region (verifiers load "
            "the national part and the regions they need)",
        ),
    ] = False,
    gzip: Annotated[bool, typer.Option("--gzip", help="With --parts: gzip-compress every part")] = False,
    home: HomeOption = None,
) -> None:
    """Export the signed offline bundle (trust list, every CA's CRLs, status lists), whole or in parts."""
    from trust.service import trust as service

    if parts:
        for path in service.export_bundle_parts(instance(home), out, gzip=gzip):
            console.print(f"bundle part written to {path}")
        return
    if gzip:
        raise InputError("--gzip goes with --parts")
    path = service.export_bundle(instance(home), out)
    console.print(f"bundle written to {path}")


@bundle_app.command()
def pins(home: HomeOption = None) -> None:
    """Print the SHA-256 fingerprints of the national roots (what verifiers pin)."""
    from trust.service import trust as service

    for family, fingerprint in service.root_fingerprints(instance(home)).items():
        console.print(f"{family} {fingerprint}")
