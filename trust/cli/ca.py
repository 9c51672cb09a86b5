"""``trust init`` and ``trust ca ...``: the national root's CA operations from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trust.cli.common import HomeOption, console, instance
from trust.crypto.errors import InputError
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.formats.x509 import utc_time as utc

app = typer.Typer(
    help="Certificate authority: enrol, rekey, issue, revoke, crl, refresh, list, show.", no_args_is_help=True
)


def init(
    offline_root: Annotated[
        bool, typer.Option("--offline-root", help="On the offline machine: only the roots; writes their certificates")
    ] = False,
    root_certificates: Annotated[
        Path | None,
        typer.Option(help="On the service: the folder `trust init --offline-root` wrote (the roots stay offline)"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="With --offline-root: where to write the certificates")] = None,
    home: HomeOption = None,
) -> None:
    """Create the SM2 and RSA national roots (and the national operations CAs under them); or, with an offline root,
    the roots alone (`--offline-root`, on the offline machine) or the service under them (`--root-certificates`)."""
    from trust.service import ca as service
    from trust.service import ceremony

    if offline_root and root_certificates is not None:
        raise InputError(
            "--offline-root (the offline machine) and --root-certificates (the service) exclude each other"
        )
    if offline_root:
        if out is None:
            raise InputError("--offline-root needs --out FOLDER for the root certificates and CRLs")
        for path in ceremony.init_offline_root(instance(home), out):
            console.print(f"wrote {path}")
        return
    if root_certificates is not None:
        pending = ceremony.init_service(instance(home), root_certificates)
        console.print(f"national roots taken from {root_certificates} (offline; this service holds no root key)")
        console.print(f"ceremony request {pending.id} ({', '.join(pending.items)}) written to {pending.path}")
        return
    result = service.init(instance(home))
    for ca in [*result.roots, *result.national]:
        cert = cx.load_certificate(ca.cert_der)
        console.print(f"{ca.id:16} {ca.family:4} {cx.fingerprint(cert)}  {ca.name}")


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


@app.command()
def enrol(
    kind: Annotated[str, typer.Argument(help="region or department")],
    code: Annotated[str, typer.Argument(help="GB/T 2260 region code or department USCC")],
    family: Annotated[str, typer.Option(help="SM2 or RSA (which national root)")] = "SM2",
    csr: Annotated[Path | None, typer.Option(help="PKCS#10 request file; omitted: Huren generates the key")] = None,
    organization: Annotated[str | None, typer.Option(help="Organisation name (required for departments)")] = None,
    name: Annotated[str | None, typer.Option(help="CA common name")] = None,
    dns_namespace: Annotated[
        str | None,
        typer.Option(
            help="DNS namespace the CA may certify (DNS names and URI hosts at or below it); default: a region's "
            "<GB/T 2260 letters>.gov.cn (zj.gov.cn), none for a department"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the CA certificate (PEM) here")] = None,
    home: HomeOption = None,
) -> None:
    """Enrol a regional or departmental CA under a national root."""
    from trust.service import ca as service

    created = service.enrol(
        instance(home),
        kind=kind,
        code=code,
        family=family,
        csr_data=_read(csr),
        name=name,
        organization=organization,
        dns_namespace=dns_namespace,
    )
    cert = cx.load_certificate(created.cert_der)
    if out is not None:
        out.write_bytes(cx.certificate_pem(cert))
    console.print(f"enrolled {created.id}  {cx.fingerprint(cert)}")


@app.command()
def rekey(
    ca_id: Annotated[str, typer.Argument(help="Subordinate CA id, e.g. region-330000-sm2")],
    csr: Annotated[
        Path | None, typer.Option(help="PKCS#10 request with the CA's new key; omitted: Huren generates it")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the new CA certificate (PEM) here")] = None,
    home: HomeOption = None,
) -> None:
    """Give a CA a new key and certificate from its root; the old certificate stays valid (not revoked)."""
    from trust.service import ca as service

    inst = instance(home)
    rekeyed = service.rekey(inst, ca_id, _read(csr))
    cert = cx.load_certificate(rekeyed.cert_der)
    if out is not None:
        out.write_bytes(cx.certificate_pem(cert))
    retired = service.key_history(inst, ca_id)
    console.print(
        f"re-keyed {rekeyed.id}  serial {rekeyed.serial}  {cx.fingerprint(cert)}; "
        f"previous certificate {retired[0].serial} stays valid"
    )


@app.command()
def issue(
    ca_id: Annotated[str, typer.Argument(help="Issuing CA id, e.g. region-330000-sm2")],
    profile: Annotated[
        str,
        typer.Argument(
            help="seal, seal-maker, person-identity, organization-identity, "
            "license-issuer, timestamping, ocsp, tls-server, tls-client"
        ),
    ],
    common_name: Annotated[str, typer.Option("--cn", help="Subject common name")],
    organization: Annotated[str | None, typer.Option("--org", help="Subject organisation")] = None,
    province: Annotated[str | None, typer.Option(help="Subject province (ST)")] = None,
    locality: Annotated[str | None, typer.Option(help="Subject locality (L)")] = None,
    serial_number: Annotated[str | None, typer.Option("--id", help="USCC or citizen ID (subject serialNumber)")] = None,
    csr: Annotated[
        Path | None, typer.Option(help="PKCS#10 request; omitted: Huren generates and keeps the key")
    ] = None,
    key_family: Annotated[str, typer.Option(help="SM2, RSA or EC for a generated key")] = "SM2",
    days: Annotated[int | None, typer.Option(help="Validity in days (profile default otherwise)")] = None,
    dns: Annotated[list[str] | None, typer.Option(help="DNS name (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the certificate (PEM, with chain) here")] = None,
    home: HomeOption = None,
) -> None:
    """Issue an end-entity certificate."""
    from trust.service import ca as service

    subject = DN(
        province=province,
        locality=locality,
        organization=organization,
        common_name=common_name,
        serial_number=serial_number,
    )
    result = service.issue(
        instance(home),
        ca_id=ca_id,
        profile=profile,
        subject=subject,
        csr_data=_read(csr),
        key_family=key_family,
        validity_days=days,
        dns_names=dns or [],
    )
    if out is not None:
        out.write_bytes(_pem_with_chain(result))
    console.print(f"serial {result.record.serial}  {result.record.fingerprint}")
    if result.record.key_id:
        console.print(f"key id {result.record.key_id} (in the key store)")


def _pem_with_chain(result: Any) -> bytes:
    """An issued certificate (``trust.service.ca.IssueResult``) in PEM, followed by its chain up to the root."""
    return cx.certificate_pem(result.certificate) + b"".join(cx.certificate_pem(c) for c in result.chain)


@app.command("issue-batch")
def issue_batch(
    batch_file: Annotated[Path, typer.Argument(help="JSON Lines file, one request per line (docs/CA.md)")],
    ca_id: Annotated[str, typer.Argument(help="Issuing CA id, e.g. region-330000-sm2")],
    out: Annotated[Path, typer.Option(help="Folder for the certificates (SERIAL.pem with chain) and index.jsonl")],
    report: Annotated[Path | None, typer.Option(help="Write per-line errors here (JSON Lines)")] = None,
    chunk: Annotated[int, typer.Option(help="Certificates per transaction")] = 100,
    home: HomeOption = None,
) -> None:
    """Issue certificates in bulk: idempotent by request_id (rerun to resume), bad lines reported, constant memory."""
    import sys

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ca import batch
    from trust.cli.common import err_console
    from trust.service import ca as service

    if not 1 <= chunk <= 1_000:
        raise InputError("--chunk must be 1..1000")
    entries = batch.read(batch_file)  # a file that is not JSON Lines is refused before anything is written
    inst = instance(home)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"issued": 0, "replayed": 0, "errors": 0}
    lines: dict[int, tuple[int, str | None]] = {}  # outcome index -> (line, request id), dropped once answered
    errors = open(report, "w", encoding="utf-8") if report else None  # noqa: SIM115 - closed below

    def error(line: int, request_id: str | None, code: str, message: str) -> None:
        counts["errors"] += 1
        if errors is not None:
            record = {"line": line, "request_id": request_id, "code": code, "message": message}
            errors.write(json.dumps(record, ensure_ascii=False) + "\n")

    def requests() -> Iterator[service.BatchRequest]:
        index = 0
        for entry in entries:
            if entry.error is not None:
                error(entry.line, entry.request_id or None, *entry.error)
                continue
            assert entry.subject is not None
            lines[index] = (entry.line, entry.request_id)
            index += 1
            yield service.BatchRequest(
                entry.profile,
                entry.subject,
                csr_data=entry.csr,
                key_family=entry.key_family,
                validity_days=entry.validity_days,
                request_id=entry.request_id,
            )

    try:
        with (
            open(out / "index.jsonl", "a", encoding="utf-8") as index_file,
            Progress(
                TextColumn("issuing"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err_console,
                transient=not sys.stderr.isatty(),
            ) as progress,
        ):
            task = progress.add_task("issue", total=None)
            for outcome in service.issue_batch(inst, ca_id, requests(), chunk=chunk):
                line, request_id = lines.pop(outcome.index)
                progress.advance(task)
                if outcome.result is None:
                    assert outcome.error is not None
                    error(line, request_id, outcome.error.code.label, outcome.error.message)
                    continue
                counts["replayed" if outcome.replayed else "issued"] += 1
                result = outcome.result
                name = f"{result.record.serial}.pem"
                (out / name).write_bytes(_pem_with_chain(result))
                entry = {
                    "line": line,
                    "request_id": request_id,
                    "serial": result.record.serial,
                    "fingerprint": result.record.fingerprint,
                    "file": name,
                    "replayed": outcome.replayed,
                }
                index_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
    finally:
        if errors is not None:
            errors.close()
    console.print(
        f"issued {counts['issued']}, already issued {counts['replayed']}, errors {counts['errors']}"
        + (f" (see {report})" if report and counts["errors"] else "")
    )
    if counts["errors"] and not counts["issued"] and not counts["replayed"]:
        raise typer.Exit(3)


@app.command()
def revoke(
    serial: Annotated[str, typer.Argument(help="Serial number (hex)")],
    reason: Annotated[str, typer.Option(help="RFC 5280 reason, e.g. key_compromise")] = "unspecified",
    home: HomeOption = None,
) -> None:
    """Revoke a certificate and publish a new CRL of its issuer."""
    from trust.service import ca as service

    record, crl = service.revoke(instance(home), serial=serial, reason=reason)
    where = record.issuer_id if record.crl_shard is None else f"{record.issuer_id} partition {record.crl_shard}"
    console.print(f"revoked {record.serial} ({record.revocation_reason}); CRL {crl.number} of {where}")


@app.command()
def crl(
    ca_id: Annotated[str, typer.Argument(help="CA id")],
    regenerate: Annotated[bool, typer.Option(help="Issue a new CRL now (and re-base every partition)")] = False,
    partition: Annotated[
        int | None, typer.Option(min=1, help="The CRL of this partition (what its certificates name), not the main one")
    ] = None,
    delta: Annotated[bool, typer.Option(help="With --partition: its delta CRL")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the CRL (DER) here")] = None,
    home: HomeOption = None,
) -> None:
    """Print (or regenerate) a CA's current main CRL, or the CRL of one of its partitions (docs/CA.md)."""
    from trust.service import ca as service

    inst = instance(home)
    if delta and partition is None:
        raise InputError("--delta needs --partition")
    if regenerate:
        service.regenerate_crl(inst, ca_id)
    if partition is not None:
        der = service.partition_crl_der(inst, ca_id, partition, delta=delta)
    else:
        der = service.current_crl_der(inst, ca_id)
    if out is not None:
        out.write_bytes(der)
        console.print(f"wrote {out}")
    else:
        console.print(service.crl_text(der).decode(), end="")


@app.command()
def refresh(home: HomeOption = None) -> None:
    """Re-issue CRLs that are due, renew expiring OCSP responder certificates, and rewrite the published Status List
    Tokens and offline bundle (what the schedule runs)."""
    from trust.service import ca as service
    from trust.service import publishing

    inst = instance(home)
    renewed = service.refresh(inst)
    written = publishing.refresh_published(inst)
    console.print(
        f"CRLs re-issued: {', '.join(renewed['crl']) or 'none'}; "
        f"OCSP responders renewed: {', '.join(renewed['ocsp']) or 'none'}; "
        f"published: {len(written['statuslists'])} status lists, bundle",
        markup=False,
    )


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="cas or certificates")] = "cas",
    ca_id: Annotated[str | None, typer.Option(help="Only certificates of this CA")] = None,
    status: Annotated[str | None, typer.Option(help="valid or revoked")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    home: HomeOption = None,
) -> None:
    """List CAs or certificates."""
    from trust.service import ca as service

    inst = instance(home)
    if what == "cas":
        rows = [
            {
                "id": c.id,
                "kind": c.kind,
                "code": c.code,
                "family": c.family,
                "status": c.status,
                "parent": c.parent_id,
                "name": c.name,
            }
            for c in service.list_cas(inst)
        ]
    elif what == "certificates":
        rows = [
            {
                "serial": r.serial,
                "issuer": r.issuer_id,
                "profile": r.profile,
                "status": r.status,
                "not_after": utc(r.not_after).isoformat(),
                "subject": r.subject,
            }
            for r in service.list_certificates(inst, ca_id=ca_id, status=status, limit=limit)
        ]
    else:
        raise InputError("list what? cas or certificates")
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        console.print("(none)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*[str(v) if v is not None else "" for v in row.values()])
    console.print(table)


@app.command()
def show(
    serial: Annotated[str, typer.Argument(help="Serial number (hex) of a certificate")],
    pem: Annotated[bool, typer.Option(help="Print the PEM certificate only")] = False,
    home: HomeOption = None,
) -> None:
    """Show one certificate."""
    from trust.service import ca as service

    record = service.get_certificate(instance(home), serial)
    cert = cx.load_certificate(record.der)
    if pem:
        console.print(cx.certificate_pem(cert).decode(), end="")
        return
    console.print(
        f"serial:      {record.serial}\nissuer:      {record.issuer_id}\nprofile:     {record.profile}\n"
        f"subject:     {record.subject}\nstatus:      {record.status}"
        + (f" ({record.revocation_reason})" if record.revocation_reason else "")
        + f"\nnot before:  {utc(record.not_before).isoformat()}\nnot after:   {utc(record.not_after).isoformat()}"
        + f"\nfingerprint: {record.fingerprint}"
        + (f"\nkey id:      {record.key_id}" if record.key_id else "")
    )
