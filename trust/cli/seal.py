"""``trust seal ...``: make seals, change their state, apply them to PDFs and document hashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from trust.cli.common import HomeOption, console, err_console, instance
from trust.crypto.errors import InputError

app = typer.Typer(
    help="Electronic seals (GB/T 38540): create, show, list, suspend, reinstate, revoke, sign, pdf.",
    no_args_is_help=True,
)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


@app.command()
def create(
    ca_id: Annotated[str, typer.Argument(help="The region's SM2 CA, e.g. region-330000-sm2")],
    holder_name: Annotated[str, typer.Option("--holder", help="Organisation or person name")],
    holder_code: Annotated[str, typer.Option("--code", help="USCC (organisation) or citizen ID (person)")],
    seal_name: Annotated[str, typer.Option("--name", help="Seal name, e.g. 公章, 合同专用章")] = "公章",
    person: Annotated[bool, typer.Option("--person", help="A personal seal (square)")] = False,
    dual: Annotated[bool, typer.Option(help="Also an RSA signer certificate (dual seals)")] = False,
    days: Annotated[int | None, typer.Option(help="Validity in days (default 3 years)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the SESeal (DER, .esl) here")] = None,
    home: HomeOption = None,
) -> None:
    """Make a seal: signer certificates, seal picture, SESeal signed by the region's seal maker."""
    from trust.service import seals

    record = seals.create(
        instance(home),
        ca_id=ca_id,
        holder_kind="person" if person else "organization",
        holder_name=holder_name,
        holder_code=holder_code,
        seal_name=seal_name,
        dual=dual,
        validity_days=days,
    )
    if out is not None:
        out.write_bytes(record.seal_der)
    console.print(
        f"seal {record.es_id} ({record.name}) for {record.holder_name}; SM2 certificate "
        f"{record.sm2_cert_serial}" + (f", RSA certificate {record.rsa_cert_serial}" if record.rsa_cert_serial else "")
    )


@app.command()
def show(
    es_id: Annotated[str, typer.Argument(help="Seal id (esID)")],
    out: Annotated[Path | None, typer.Option(help="Write the SESeal (DER) here")] = None,
    home: HomeOption = None,
) -> None:
    """Show a seal and its history."""
    from trust.service import seals

    inst = instance(home)
    record = seals.get(inst, es_id)
    if out is not None:
        out.write_bytes(record.seal_der)
    console.print(
        f"seal:     {record.es_id}\nname:     {record.name}\nholder:   {record.holder_name} "
        f"({record.holder_kind}, {record.holder_code})\nissuer:   {record.issuer_ca_id}\n"
        f"status:   {record.status}\nvalid:    {record.valid_start.isoformat()} .. {record.valid_end.isoformat()}"
    )
    for event in seals.history(inst, es_id):
        console.print(f"  {event.at.isoformat()} {event.status} {event.reason}")


@app.command("list")
def list_(
    ca_id: Annotated[str | None, typer.Option(help="Only seals made under this CA")] = None,
    holder_code: Annotated[str | None, typer.Option("--code", help="Only seals of this holder")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many seals")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (the next page)")] = 0,
    home: HomeOption = None,
) -> None:
    """List seals (JSON), oldest first; a full page says where the next one starts (on standard error)."""
    from trust.service import seals

    rows = [
        {
            "es_id": r.es_id,
            "name": r.name,
            "holder": r.holder_name,
            "code": r.holder_code,
            "status": r.status,
            "issuer": r.issuer_ca_id,
        }
        for r in seals.list_seals(instance(home), ca_id=ca_id, holder_code=holder_code, limit=limit, offset=offset)
    ]
    console.print_json(json.dumps(rows, ensure_ascii=False))
    if len(rows) == limit:
        err_console.print(f"{limit} seals shown; the next page: --offset {offset + limit}")


def _status(es_id: str, status: str, reason: str, home: Path | None) -> None:
    from trust.service import seals

    record = seals.set_status(instance(home), es_id, status, reason)
    console.print(f"seal {record.es_id} is {record.status}")


@app.command()
def suspend(
    es_id: Annotated[str, typer.Argument(help="Seal id")],
    reason: Annotated[str, typer.Option(help="Reason")] = "",
    home: HomeOption = None,
) -> None:
    """Suspend a seal (it cannot be applied until reinstated)."""
    _status(es_id, "suspended", reason, home)


@app.command()
def reinstate(
    es_id: Annotated[str, typer.Argument(help="Seal id")],
    reason: Annotated[str, typer.Option(help="Reason")] = "",
    home: HomeOption = None,
) -> None:
    """Reinstate a suspended seal."""
    _status(es_id, "active", reason, home)


@app.command()
def revoke(
    es_id: Annotated[str, typer.Argument(help="Seal id")],
    reason: Annotated[str, typer.Option(help="Reason")] = "",
    home: HomeOption = None,
) -> None:
    """Revoke a seal for good (its signer certificates are revoked too)."""
    _status(es_id, "revoked", reason, home)


@app.command()
def sign(
    es_id: Annotated[str, typer.Argument(help="Seal id (esID)")],
    out: Annotated[Path, typer.Option(help="Write the SES_Signature (DER) here")],
    data: Annotated[Path | None, typer.Option(help="The protected data (its SM3 digest is signed)")] = None,
    data_hash: Annotated[str | None, typer.Option("--hash", help="SM3 digest of the protected data (hex)")] = None,
    property_info: Annotated[str, typer.Option(help="What is protected, e.g. Doc_0/Signs/Sign_0/Signature.xml")] = "",
    timestamp: Annotated[bool, typer.Option(help="Add an RFC 3161 time-stamp over the signature")] = True,
    home: HomeOption = None,
) -> None:
    """Make a GB/T 38540 SES_Signature over a document hash (OFD and other formats)."""
    from trust.service.seals import signing

    if (data is None) == (data_hash is None):
        raise InputError("give --data or --hash")
    digest = signing.parse_data_hash(data_hash, "--hash") if data_hash is not None else None
    der = signing.sign_hash(
        instance(home),
        es_id=es_id,
        data=_read(data, "data") if data else None,
        data_hash=digest,
        property_info=property_info,
        timestamp=timestamp,
    )
    out.write_bytes(der)
    console.print(f"SES_Signature written to {out}")


@app.command()
def pdf(
    es_id: Annotated[str, typer.Argument(help="Seal id (esID)")],
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="The PDF to seal")],
    out: Annotated[Path, typer.Option(help="Write the sealed PDF here (never over INPUT)")],
    level: Annotated[str, typer.Option(help="B-B, B-T, B-LT or B-LTA")] = "B-B",
    family: Annotated[str, typer.Option(help="SM2, RSA or dual (SM2 then RSA, one visible seal)")] = "SM2",
    page: Annotated[int | None, typer.Option(help="Page from 1; -1 is the last page")] = None,
    box: Annotated[str | None, typer.Option(help="x0,y0,x1,y1 in points")] = None,
    anchor: Annotated[str | None, typer.Option(help="Centre the seal on this text")] = None,
    size: Annotated[float | None, typer.Option(help="Seal width in points (with --anchor)")] = None,
    occurrence: Annotated[int, typer.Option(help="Which occurrence of the anchor text")] = 1,
    field_name: Annotated[str | None, typer.Option(help="Signature field name (default SealN)")] = None,
    reason: Annotated[str | None, typer.Option(help="Reason recorded in the signature")] = None,
    log_proof: Annotated[
        bool,
        typer.Option("--log-proof", help="Put the signer certificates' transparency-log inclusion proofs into the DSS"),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Seal a PDF (PAdES). Without --page, --box or --anchor the seal is invisible."""
    from trust.service.seals import sealing

    if out.resolve() == input_file.resolve():
        raise InputError("--out must not be the input file: the original is kept")
    parsed_box = None if box is None else sealing.parse_box(box)
    sealed = sealing.seal_document(
        instance(home),
        _read(input_file, "PDF"),
        es_id=es_id,
        level=level,
        family=family,
        page=page,
        box=parsed_box,
        anchor=anchor,
        size=size,
        occurrence=occurrence,
        field_name=field_name,
        reason=reason,
        log_proof=log_proof,
    )
    temporary = out.with_name(out.name + ".part")
    temporary.write_bytes(sealed)
    temporary.replace(out)
    console.print(f"sealed PDF ({level}, {family}) written to {out}")


@app.command()
def ofd(
    es_id: Annotated[str, typer.Argument(help="Seal id (esID)")],
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="The OFD to seal")],
    out: Annotated[Path, typer.Option(help="Write the sealed OFD here (never over INPUT)")],
    position: Annotated[
        str | None, typer.Option(help="PAGE,X,Y: page from 1 and the stamp's centre in mm from the top-left")
    ] = None,
    anchor: Annotated[str | None, typer.Option(help="Centre the seal on this text")] = None,
    timestamp: Annotated[bool, typer.Option(help="Time-stamp the signature value (national SM2 TSA)")] = True,
    home: HomeOption = None,
) -> None:
    """Seal an OFD document (GB/T 33190 clause 18, GB/T 38540). Without --position or --anchor the seal goes to the
    bottom right of the last page."""
    from seal.ofd import placements
    from trust.service.seals import ofd as ofd_sealing

    if out.resolve() == input_file.resolve():
        raise InputError("--out must not be the input file: the original is kept")
    sealed = ofd_sealing.seal_document(
        instance(home),
        _read(input_file, "OFD"),
        es_id=es_id,
        placement=placements(position.split(",")) if position else None,
        anchor=anchor,
        timestamp=timestamp,
    )
    temporary = out.with_name(out.name + ".part")
    temporary.write_bytes(sealed)
    temporary.replace(out)
    console.print(f"sealed OFD written to {out}")
