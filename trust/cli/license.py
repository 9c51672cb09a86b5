"""``trust license ...``: licence issuers, issuance (single and batch), status changes, status lists, types; and the
holder's commands (keygen, fetch over HTTP, present offline)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from trust.cli.common import HomeOption, console, err_console, instance
from trust.cli.remote import ServerOption
from trust.crypto.errors import Code, InputError
from trust.formats import strict_json

app = typer.Typer(
    help="Electronic licences — issuing authorities issue and manage them, holders fetch and present theirs: "
    "types, add-issuer, issue, pdf, issue-batch, revoke, suspend, reinstate, show, keygen, fetch, present.",
    no_args_is_help=True,
)


@app.command()
def types(
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            metavar="TYPE",
            help="Print a JSON template of TYPE's fields (every field, with valid example values) to edit and pass "
            "to `trust license issue --fields`; which fields are required goes to standard error",
        ),
    ] = None,
) -> None:
    """List the licence types of the catalogue, or (--fields TYPE) print one type's fields as a JSON template."""
    from licenses import samples
    from trust.formats import license_catalogue as catalogue

    if fields is None:
        for license_type in catalogue.all_types():
            console.print(f"{license_type.code}  {license_type.name}  ({license_type.holder_kind})")
        return
    license_type = catalogue.get(fields.strip())
    sys.stdout.write(json.dumps(samples.template(license_type), ensure_ascii=False, indent=2) + "\n")
    required = set(license_type.fields.get("required", []))
    listed: dict[bool, list[str]] = {True: [], False: []}
    for name in license_type.properties:
        listed[name in required].append(f"{name} ({license_type.label(name)})")
    err_console.print(
        f"{license_type.code} {license_type.name}: required {', '.join(listed[True])}; "
        f"optional {', '.join(listed[False]) or 'none'}"
        + (
            ""
            if license_type.holder_code_field
            else f"; the holder's code ({license_type.holder_code_type.value}) goes in --holder-code"
        ),
        markup=False,
        highlight=False,
    )


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
    from trust.service import licenses

    issuer = licenses.register_issuer(
        instance(home),
        ca_id=ca_id,
        name=name,
        code=code,
        license_types=[t.strip() for t in license_types.split(",") if t.strip()],
        family=family,
    )
    console.print(f"licence issuer {issuer.id} ({issuer.name}) for {issuer.license_types}")


def _json_file(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return strict_json.load_object(data, f"licence fields file {path}")


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
    from trust.service import licenses

    inst = instance(home)
    made = licenses.issue(
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


@app.command("ofd")
def ofd(
    identifier: Annotated[str, typer.Argument(help="Licence identifier")],
    out: Annotated[Path, typer.Option(help="Write the sealed licence OFD here")],
    home: HomeOption = None,
) -> None:
    """The licence as an OFD file (GB/T 36905): face, metadata and token, sealed with the 证照专用章 (GB/T 38540)."""
    from trust.service import license_documents

    _write(out, license_documents.issue_ofd(instance(home), identifier))
    console.print(f"licence OFD written to {out}")


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
    from trust.service import licenses

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
    from trust.service import licenses

    record = licenses.set_status(instance(home), identifier, status, reason)
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
    from trust.service import licenses

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


# --- the holder's side: a key, fetching one's licence over HTTP, presenting it offline ----------------------------

HolderKeyOption = Annotated[
    str,
    typer.Option(
        "--holder-key",
        help="The holder key: file:PATH (encrypted PKCS#8, passphrase in $TRUST_HOLDER_KEY_PASSPHRASE or "
        "$TRUST_HOLDER_KEY_PASSPHRASE_FILE; or a plain PEM key); or "
        "pkcs11:token=LABEL;object=NAME, a key on a token (PIN in $TRUST_PKCS11_PIN or $TRUST_PKCS11_PIN_FILE)",
    ),
]


@app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option(help="Write the new holder key here (encrypted PKCS#8, mode 0600)")],
    key_type: Annotated[str, typer.Option("--type", help="ec-p256, ec-p384 or sm2")] = "ec-p256",
) -> None:
    """Make a holder key and print its public JWK: give the JWK to the issuing platform (holder_jwk) so that the
    licence is bound to the key, which then fetches it (`trust license fetch`) and signs presentations.

    The key is encrypted with the passphrase in $TRUST_HOLDER_KEY_PASSPHRASE (or the file named by
    $TRUST_HOLDER_KEY_PASSPHRASE_FILE); an existing file is never overwritten."""
    from trust.cli.remote import print_json, write_new
    from trust.client.keys import HOLDER_PASSPHRASE_ENV, new_passphrase
    from trust.crypto import jwk, pkcs8
    from trust.crypto.keys import generate_private_key

    if key_type not in ("ec-p256", "ec-p384", "sm2"):
        raise InputError("a holder key is ec-p256, ec-p384 or sm2 (what KB-JWT verifiers read)")
    secret = new_passphrase(HOLDER_PASSPHRASE_ENV)
    key = generate_private_key(key_type)
    write_new(out, pkcs8.encrypt_private_key_pem(key, secret), private=True)
    print_json(jwk.public_jwk(key.public_key))
    err_console.print(f"holder key written to {out}; its public JWK is above", markup=False, highlight=False)


@app.command("fetch")
def fetch(
    identifier: Annotated[str, typer.Argument(help="Licence identifier")],
    holder_key: HolderKeyOption,
    server: ServerOption,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the token here, the SD-JWT to OUT.sd-jwt and the QR payload to OUT.qr"),
    ] = None,
    pdf: Annotated[Path | None, typer.Option(help="Also fetch the sealed licence PDF and write it here")] = None,
    audience: Annotated[str | None, typer.Option(help="The service's public URL if it differs from --server")] = None,
) -> None:
    """Fetch your own licence (token, SD-JWT, QR payload; optionally the sealed PDF) from the service, proving with
    the holder key that it is yours. Only licences issued with your key's JWK can be fetched this way.

    Without --out the licence is printed as JSON (identifier, status, token, sd_jwt, qr)."""
    from trust.cli.remote import print_json, write_output
    from trust.client import HolderClient

    with HolderClient.from_file(server, key=holder_key, audience=audience) as holder:
        got = holder.license(identifier)
        document = holder.license_pdf(identifier) if pdf is not None else None
    if out is not None:
        write_output(out, (got.token + "\n").encode())
        write_output(out.with_name(out.name + ".sd-jwt"), (got.sd_jwt + "\n").encode())
        if got.qr:
            write_output(out.with_name(out.name + ".qr"), (got.qr + "\n").encode())
        err_console.print(
            f"licence {got.identifier} ({got.status}): token {out}, SD-JWT {out}.sd-jwt", markup=False, highlight=False
        )
    else:
        print_json(got.model_dump(include={"identifier", "type", "status", "holder_name", "token", "sd_jwt", "qr"}))
    if pdf is not None and document is not None:
        write_output(pdf, document)
        err_console.print(f"licence PDF written to {pdf}", markup=False, highlight=False)


@app.command("present")
def present(
    token_file: Annotated[str, typer.Argument(metavar="TOKEN_FILE", help="The licence's SD-JWT (a file, or -)")],
    disclose: Annotated[
        str | None, typer.Option(help="Comma-separated fields to disclose, e.g. name,uscc (the rest stay hidden)")
    ] = None,
    holder_key: Annotated[
        str | None,
        typer.Option(
            "--holder-key",
            help="The holder key (file:PATH, as for fetch): adds the key-binding JWT the verifier asks for",
        ),
    ] = None,
    audience: Annotated[str | None, typer.Option(help="The verifier's audience value (key binding)")] = None,
    nonce: Annotated[str | None, typer.Option(help="The verifier's nonce (key binding)")] = None,
    list_fields: Annotated[bool, typer.Option("--list", help="Only list the fields this licence can disclose")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the presentation here instead of standard output")] = None,
) -> None:
    """Make a selective-disclosure presentation (SD-JWT, RFC 9901) of your licence: only the --disclose fields are
    revealed; with --holder-key, --audience and --nonce it ends with a key-binding JWT. Offline: nothing is sent.

    A field the licence does not have is refused with the list of those it has."""
    from trust.cli.remote import print_line, read_text, write_output
    from trust.client.holder import disclosable_fields, present_license
    from trust.client.keys import HOLDER_PASSPHRASE_ENV, load_signer

    sd_jwt = read_text(token_file, "SD-JWT")
    if "~" not in sd_jwt:
        raise InputError(
            f"{token_file} holds a compact JWS, not an SD-JWT: present from the SD-JWT (`trust license fetch --out "
            "FILE` writes it to FILE.sd-jwt)"
        )
    if list_fields:
        for name in disclosable_fields(sd_jwt):
            print_line(name)
        return
    if disclose is None:
        raise InputError("name the fields to disclose: --disclose name,uscc (or --list to see them)", code=Code.USAGE)
    if holder_key is None and (audience is not None or nonce is not None):
        raise InputError("--audience and --nonce go into the key-binding JWT: give --holder-key too", code=Code.USAGE)
    if holder_key is not None and (audience is None or nonce is None):
        raise InputError("key binding needs the verifier's --audience and --nonce", code=Code.USAGE)
    signer = load_signer(holder_key, passphrase_env=HOLDER_PASSPHRASE_ENV) if holder_key is not None else None
    names = [name.strip() for name in disclose.split(",") if name.strip()]
    presentation = present_license(sd_jwt, names, holder=signer, audience=audience, nonce=nonce)
    if out is not None:
        write_output(out, (presentation + "\n").encode())
    else:
        print_line(presentation)
