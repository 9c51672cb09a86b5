"""``trust client ...`` and ``trust audit ...``: platform clients (national operators' console) and the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trust.cli.common import HomeOption, console, instance
from trust.crypto.errors import InputError

if TYPE_CHECKING:
    from trust.service.instance import Instance

app = typer.Typer(
    help="Platform clients: add, certify, list, disable, enable, revoke-credential.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log: verify, show, head.", no_args_is_help=True)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


@app.command("add")
def add(
    client_id: Annotated[str, typer.Argument(help="Client id, e.g. zj-platform")],
    kind: Annotated[str, typer.Option(help="operator, region or department")],
    name: Annotated[str, typer.Option(help="The platform's name")],
    region: Annotated[str | None, typer.Option(help="GB/T 2260 region code (region, department)")] = None,
    license_issuer: Annotated[str | None, typer.Option(help="Licence issuer id (department)")] = None,
    csr: Annotated[Path | None, typer.Option(help="The platform's PKCS#10 request: certify its key now")] = None,
    family: Annotated[str, typer.Option(help="National CA to certify with: SM2 or RSA")] = "SM2",
    out: Annotated[Path | None, typer.Option(help="Write the credential certificate (PEM) here")] = None,
    home: HomeOption = None,
) -> None:
    """Register a platform client (and certify its key when --csr is given)."""
    from trust.service import clients

    inst = instance(home)
    clients.add_client(inst, client_id=client_id, kind=kind, name=name, region=region, license_issuer_id=license_issuer)
    console.print(f"client {client_id} ({kind}) registered")
    if csr is not None:
        _certify(inst, client_id, csr, family, out)


def _certify(inst: Instance, client_id: str, csr: Path, family: str, out: Path | None) -> None:
    from trust.formats import x509 as cx
    from trust.service import clients

    der = clients.issue_credential(inst, client_id=client_id, csr_der=_read(csr, "CSR"), family=family)
    cert = cx.load_certificate(der)
    pem = cx.certificate_pem(cert)
    if out is not None:
        out.write_bytes(pem)
        console.print(f"credential {format(cert.serial_number, 'x')} written to {out}")
    else:
        console.print(pem.decode(), markup=False, highlight=False)


@app.command("certify")
def certify(
    client_id: Annotated[str, typer.Argument(help="Client id")],
    csr: Annotated[Path, typer.Option(help="The platform's PKCS#10 request")],
    family: Annotated[str, typer.Option(help="National CA to certify with: SM2 or RSA")] = "SM2",
    out: Annotated[Path | None, typer.Option(help="Write the credential certificate (PEM) here")] = None,
    home: HomeOption = None,
) -> None:
    """Certify another key of a client (rotation): tls-client profile of the national operations CA."""
    _certify(instance(home), client_id, csr, family, out)


@app.command("list")
def list_(home: HomeOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List clients and their credentials."""
    from trust.service import clients

    rows = clients.list_clients(instance(home))
    if as_json:
        data = [
            {
                "id": c.id,
                "kind": c.kind,
                "name": c.name,
                "region": c.region,
                "license_issuer_id": c.license_issuer_id,
                "status": c.status,
                "credentials": [{"serial": x.serial, "status": x.status} for x in creds],
            }
            for c, creds in rows
        ]
        console.print_json(json.dumps(data, ensure_ascii=False))
        return
    for c, creds in rows:
        scope = c.license_issuer_id or c.region or "national"
        live = sum(1 for x in creds if x.status == "active")
        console.print(f"{c.id:24} {c.kind:10} {scope:32} {c.status:8} {live} active credential(s)  {c.name}")


@app.command("disable")
def disable(client_id: Annotated[str, typer.Argument()], home: HomeOption = None) -> None:
    """Disable a client: its access tokens stop working at once."""
    from trust.service import clients

    clients.set_client_status(instance(home), client_id, "disabled")
    console.print(f"client {client_id} disabled")


@app.command("enable")
def enable(client_id: Annotated[str, typer.Argument()], home: HomeOption = None) -> None:
    """Re-enable a disabled client."""
    from trust.service import clients

    clients.set_client_status(instance(home), client_id, "active")
    console.print(f"client {client_id} enabled")


@app.command("revoke-credential")
def revoke_credential(
    serial: Annotated[str, typer.Argument(help="The credential certificate's serial (hex)")],
    reason: Annotated[str, typer.Option(help="RFC 5280 reason")] = "key_compromise",
    home: HomeOption = None,
) -> None:
    """Revoke a platform credential: the platform is locked out at its next request."""
    from trust.service import clients

    clients.revoke_credential(instance(home), serial=serial, reason=reason)
    console.print(f"credential {serial} revoked ({reason})")


@audit_app.command("verify")
def audit_verify(
    home: HomeOption = None,
    trust_list: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust-list",
            help="A signed trust list kept elsewhere (a verifier's or a mirror's copy): the chain must contain the "
            "audit head it publishes (repeatable)",
        ),
    ] = None,
    pin: Annotated[
        list[str] | None,
        typer.Option(
            help="National root SHA-256 fingerprint the trust lists must be signed by (repeatable; default: "
            "the roots in the database)"
        ),
    ] = None,
) -> int:
    """Recompute the hash chain and compare it with the audit heads published in the signed trust lists (the latest
    in the database, the published trustlist.json and each --trust-list); exit 0 if intact, 1 naming the first
    edited, deleted, inserted or reordered entry or the trust list whose head the chain no longer contains."""
    from trust.service import audit

    inst = instance(home)
    copies = [(str(path), _read(path, "trust list")) for path in trust_list or []]
    report = audit.check(
        inst.engine,
        published_file=inst.settings.published_dir / "trustlist.json",
        copies=copies,
        pins=pin or None,
    )
    if report.ok:
        anchored = (
            f"; contains the head published in {report.published_in} (entry {report.published_seq})"
            if report.published_seq is not None
            else "; no published head to compare with"
        )
        console.print(f"audit chain intact: {report.entries} entries, head {report.head_seq}{anchored}", markup=False)
        return 0
    where = f"at entry {report.first_bad}" if report.first_bad is not None else "(published head)"
    console.print(f"audit chain BROKEN {where}: {report.problem}", markup=False)
    return 1


@audit_app.command("head")
def audit_head(home: HomeOption = None) -> None:
    """Print the chain head (sequence number and hash). Every signed trust list publishes it too; recording it
    elsewhere as well (the operations log, a ceremony record) anchors entries made since the last list."""
    from trust.service import audit

    seq, digest = audit.head(instance(home).engine)
    console.print(f"{seq} {digest}")


@audit_app.command("show")
def audit_show(
    home: HomeOption = None,
    after: Annotated[int, typer.Option(help="Entries after this sequence number")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    subject: Annotated[str | None, typer.Option(help="Only this subject, e.g. seal:330000...")] = None,
) -> None:
    """Show audit entries, oldest first."""
    from trust.service import audit

    for e in audit.entries(instance(home).engine, subject=subject, after=after, limit=limit):
        console.print(
            f"{e.seq:>7} {e.at} {e.actor:24} {e.action:28} {e.subject} {e.result} {e.request_id or ''}"
            + (f" (client's {e.client_request_id})" if e.client_request_id else ""),
            markup=False,
            highlight=False,
        )
