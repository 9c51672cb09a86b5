"""``trust license ...``: licence issuers, issuance (single and batch), status changes, status lists, types."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from trust.cli.common import HomeOption, console, err_console, instance
from trust.crypto.errors import InputError

app = typer.Typer(
    help="Electronic licences: issuers, issue, issue-batch, revoke, suspend, reinstate, show, types.",
    no_args_is_help=True,
)


def _licenses():  # trust.service.licenses, imported when a command runs
    from trust.service import licenses

    return licenses


@app.command()
def types() -> None:
    """List the licence types of the catalogue."""
    from trust.formats import license_catalogue as catalogue

    for licence_type in catalogue.all_types():
        console.print(f"{licence_type.code}  {licence_type.name}  ({licence_type.holder_kind})")


@app.command("add-issuer")
def add_issuer(
    ca_id: Annotated[str, typer.Argument(help="The CA certifying the issuer's key, e.g. region-330000-sm2")],
    name: Annotated[str, typer.Option(help="Issuing authority name, e.g. 浙江省市场监督管理局")],
    code: Annotated[str, typer.Option(help="Issuing authority USCC")],
    license_types: Annotated[str, typer.Option("--types", help="Comma-separated licence type codes")],
    family: Annotated[str, typer.Option(help="SM2 (under an SM2 CA), RSA or EC (under an RSA CA)")] = "SM2",
    home: HomeOption = None,
) -> None:
    """Register an issuing authority: licence-issuer key and certificate, trust-list service with its types."""
    issuer = _licenses().register_issuer(
        instance(home),
        ca_id=ca_id,
        name=name,
        code=code,
        license_types=[t.strip() for t in license_types.split(",") if t.strip()],
        family=family,
    )
    console.print(f"licence issuer {issuer.id} ({issuer.name}) for {issuer.license_types}")


def _json_file(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} must hold a JSON object of licence fields")
    return value


@app.command()
def issue(
    issuer_id: Annotated[str, typer.Argument(help="Licence issuer id")],
    type_code: Annotated[str, typer.Argument(help="Licence type code (21 characters)")],
    fields: Annotated[Path, typer.Option(help="JSON file with the licence fields")],
    holder_code: Annotated[str | None, typer.Option(help="Holder code when the type has no code field")] = None,
    request_id: Annotated[str | None, typer.Option(help="Idempotency key")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the token here (SD-JWT to OUT.sd-jwt, QR to OUT.qr)")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Also write the sealed licence PDF (B-LT, SM2) here")] = None,
    token_form: Annotated[
        str,
        typer.Option(
            help="Licence token form: compact (kid + x5t#S256; the issuer certificate comes from the trust list) "
            "or x5c (the certificate chain in the header too)"
        ),
    ] = "compact",  # noqa: S107 (a token form, not a secret)
    home: HomeOption = None,
) -> None:
    """Issue one licence (token, SD-JWT and QR payload; optionally its sealed PDF)."""
    from trust.formats import license_token as token

    inst = instance(home)
    made = _licenses().issue(
        inst,
        issuer_id=issuer_id,
        type_code=type_code,
        fields=_json_file(fields),
        holder_code=holder_code,
        request_id=request_id,
        token_form=token_form,
    )
    if out is not None:
        out.write_text(made.record.token + "\n")
        out.with_suffix(out.suffix + ".sd-jwt").write_text(made.record.sd_jwt + "\n")
        if made.qr_token:
            out.with_suffix(out.suffix + ".qr").write_text(token.to_qr(made.qr_token) + "\n")
    console.print(f"licence {made.record.identifier} for {made.record.holder_name}")
    if pdf is not None:
        from trust.service import license_documents

        data = license_documents.issue_pdf(inst, made.record.identifier, qr_token=made.qr_token or None)
        _write(pdf, data)
        console.print(f"licence PDF written to {pdf}")


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    temporary.replace(path)


@app.command("pdf")
def pdf(
    identifier: Annotated[str, typer.Argument(help="Licence identifier")],
    out: Annotated[Path, typer.Option(help="Write the sealed licence PDF here")],
    level: Annotated[str, typer.Option(help="B-LT or B-LTA")] = "B-LT",
    family: Annotated[str, typer.Option(help="SM2, RSA or dual")] = "SM2",
    home: HomeOption = None,
) -> None:
    """The licence as a PDF: its face, QR code and token, sealed with the issuing authority's 证照专用章."""
    from trust.service import license_documents

    _write(out, license_documents.issue_pdf(instance(home), identifier, level=level, family=family))
    console.print(f"licence PDF ({level}, {family}) written to {out}")


@app.command("issue-batch")
def issue_batch(
    batch_file: Annotated[Path, typer.Argument(help="CSV or JSON Lines file (see docs/LICENSES.md)")],
    issuer_id: Annotated[str, typer.Option("--issuer", help="Licence issuer id")],
    report: Annotated[Path | None, typer.Option(help="Write per-record errors here (JSON Lines)")] = None,
    chunk: Annotated[int, typer.Option(help="Records per transaction")] = 200,
    token_form: Annotated[
        str,
        typer.Option(
            help="Licence token form: compact (kid + x5t#S256; the issuer certificate comes from the trust list) "
            "or x5c (the certificate chain in the header too)"
        ),
    ] = "compact",  # noqa: S107 (a token form, not a secret)
    home: HomeOption = None,
) -> None:
    """Issue licences in bulk: idempotent by request_id (rerun to resume), bad records reported, constant memory."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from licenses import batch

    if not 1 <= chunk <= 10_000:
        raise InputError("--chunk must be 1..10000")
    from trust.formats import license_token

    license_token.check_form(token_form)  # before anything is read or issued
    total = sum(1 for _ in open(batch_file, "rb")) if batch_file.exists() else 0  # noqa: SIM115
    inst = instance(home)
    licenses = _licenses()
    error_stream = open(report, "w", encoding="utf-8") if report else None  # noqa: SIM115
    try:
        records = (
            licenses.BatchRecord(
                line=item["line"],
                request_id=item["request_id"],
                type_code=item.get("type_code", ""),
                fields=item.get("fields"),
                holder_code=item.get("holder_code"),
                valid_from=item.get("valid_from"),
                valid_until=item.get("valid_until"),
                error=item["error"],
            )
            for item in batch.read(batch_file)
        )
        with Progress(
            TextColumn("issuing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=not sys.stderr.isatty(),
        ) as progress:
            task = progress.add_task("issue", total=total)

            def seen(result: object) -> None:
                progress.advance(task)
                if error_stream is not None and getattr(result, "outcome", "") == "error":
                    batch.write_errors(error_stream, result)

            summary = licenses.issue_batch(
                inst, records, issuer_id=issuer_id, chunk=chunk, on_result=seen, token_form=token_form
            )
    finally:
        if error_stream is not None:
            error_stream.close()
    console.print(
        f"issued {summary.issued}, already issued {summary.skipped}, errors {summary.errors}"
        + (f" (see {report})" if report and summary.errors else "")
    )
    if summary.errors and not summary.issued and not summary.skipped:
        raise typer.Exit(3)


def _status(identifier: str, status: str, reason: str, home: Path | None) -> None:
    record = _licenses().set_status(instance(home), identifier, status, reason)
    console.print(f"licence {record.identifier} is {record.status}")


@app.command()
def revoke(
    identifier: Annotated[str, typer.Argument(help="Licence identifier")],
    reason: Annotated[str, typer.Option(help="Reason")] = "",
    home: HomeOption = None,
) -> None:
    """Revoke a licence for good (its status list says revoked)."""
    _status(identifier, "revoked", reason, home)


@app.command()
def suspend(
    identifier: Annotated[str, typer.Argument(help="Licence identifier")],
    reason: Annotated[str, typer.Option(help="Reason")] = "",
    home: HomeOption = None,
) -> None:
    """Suspend a licence (reinstate later)."""
    _status(identifier, "suspended", reason, home)


@app.command()
def reinstate(
    identifier: Annotated[str, typer.Argument(help="Licence identifier")],
    reason: Annotated[str, typer.Option(help="Reason")] = "",
    home: HomeOption = None,
) -> None:
    """Reinstate a suspended licence."""
    _status(identifier, "valid", reason, home)


@app.command()
def show(
    identifier: Annotated[str, typer.Argument(help="Licence identifier")],
    token_only: Annotated[bool, typer.Option("--token", help="Print the token only")] = False,
    home: HomeOption = None,
) -> None:
    """Show a licence: holder, status, history; or just its token."""
    licenses = _licenses()
    inst = instance(home)
    record = licenses.get(inst, identifier)
    if token_only:
        console.print(record.token, soft_wrap=True)
        return
    console.print(
        f"licence:  {record.identifier}\ntype:     {record.type_code}\nholder:   {record.holder_name} "
        f"({record.holder_code})\nissuer:   {record.issuer_id}\nstatus:   {record.status} "
        f"(status list entry {record.status_index})"
    )
    for event in licenses.history(inst, identifier):
        console.print(f"  {event.at.isoformat()} {event.status} {event.reason}")
