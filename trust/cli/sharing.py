"""``trust sharing ...``: licence sharing (issue 21, docs/SHARING.md) on a local instance — look up the directory and
fetch a licence as a requesting service, record or withdraw a citizen's consent from the ID token of their login,
list a citizen's consents and access history, allow a legal basis, register a legacy system's licence by its signed
directory entry. Thin: every decision is
``trust.service.sharing.access``'s; the HTTP routes (``/sharing/...``) call the same functions.

ID tokens and holder codes (personal data) are read from a file (``-``: standard input), never from the command
line, where other users of the machine could read them (``ps``, the shell's history)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from trust.cli.common import HomeOption, console, instance
from trust.crypto.errors import InputError

app = typer.Typer(
    help="Licence sharing: lookup, fetch, consent, withdraw, consents, history, legal-basis, register-legacy.",
    no_args_is_help=True,
)

RequesterArg = Annotated[str, typer.Argument(help="Entity id of the requesting relying service")]
PurposeOption = Annotated[str, typer.Option("--purpose", help="Why the service asks (recorded)")]
ConsentOption = Annotated[str | None, typer.Option("--consent", help="The holder's consent id")]
BasisOption = Annotated[str | None, typer.Option("--legal-basis", help="A legal basis code the operator allows")]
TokenOption = Annotated[Path, typer.Option("--id-token", help="File holding the citizen's ID token ('-': stdin)")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON output")]


def _access() -> Any:
    from trust.service.sharing import access

    return access


def _read_token(path: Path) -> str:
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    token = text.strip()
    if not token:
        raise InputError("the ID token file is empty")
    return token


def _request(requester: str, purpose: str, consent: str | None, legal_basis: str | None) -> Any:
    return _access().Request(requester, purpose, consent_id=consent, legal_basis=legal_basis)


def _print(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


@app.command()
def lookup(
    requester: RequesterArg,
    type_code: Annotated[str, typer.Argument(help="GB/T 36903 licence type code")],
    purpose: PurposeOption,
    holder_code: Annotated[str, typer.Option(prompt=True, hide_input=True, help="The holder's code (asked if absent)")],
    consent: ConsentOption = None,
    legal_basis: BasisOption = None,
    home: HomeOption = None,
) -> None:
    """The directory: where the holder's licences of a type live (metadata only), as JSON."""
    found = _access().lookup(
        instance(home), _request(requester, purpose, consent, legal_basis), holder_code=holder_code, type_code=type_code
    )
    _print([entry.to_json() for entry in found])


@app.command()
def fetch(
    requester: RequesterArg,
    identifier: Annotated[str, typer.Argument(help="The licence's identifier (from lookup)")],
    purpose: PurposeOption,
    consent: ConsentOption = None,
    legal_basis: BasisOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the SD-JWT here (default: standard output)")] = None,
    home: HomeOption = None,
) -> None:
    """The issuing region: the licence as an SD-JWT bound to the requester, the consented fields only. When the
    region's system is offline the request is queued: its ticket (JSON) is printed and the exit code is 2."""
    _deliver(_access().retrieve(instance(home), _request(requester, purpose, consent, legal_basis), identifier), out)


@app.command()
def poll(
    requester: RequesterArg,
    ticket: Annotated[str, typer.Argument(help="The ticket of a queued retrieval")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the SD-JWT here (default: standard output)")] = None,
    home: HomeOption = None,
) -> None:
    """A retrieval queued for an offline region: the licence once it answered (exit 0), the ticket while it waits
    (exit 2), or the refusal."""
    _deliver(_access().poll(instance(home), requester, ticket), out)


def _deliver(shared: Any, out: Path | None) -> None:
    if not hasattr(shared, "sd_jwt"):
        _print(shared.to_json())
        typer.echo(f"queued: {shared.reason}; poll with: trust sharing poll REQUESTER {shared.ticket}", err=True)
        raise typer.Exit(2)
    if out is None:
        sys.stdout.write(shared.sd_jwt + "\n")
    else:
        out.write_text(shared.sd_jwt + "\n", encoding="utf-8")
    typer.echo(f"disclosed: {', '.join(shared.disclosed) or '(no field)'}", err=True)


def _consent_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "requester": row.requester,
        "license_types": json.loads(row.license_types),
        "fields": json.loads(row.fields),
        "purpose": row.purpose,
        "granted_at": row.granted_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
    }


@app.command("consent")
def grant(
    requester: RequesterArg,
    id_token: TokenOption,
    purpose: PurposeOption,
    license_type: Annotated[list[str], typer.Option("--type", help="A licence type consented to; repeat")],
    field: Annotated[list[str] | None, typer.Option("--field", help="A field disclosed; repeat (none: all)")] = None,
    lifetime: Annotated[int | None, typer.Option(help="Seconds the consent lasts (default: the setting)")] = None,
    home: HomeOption = None,
) -> None:
    """Record the citizen's consent (the ID token of their login at the requesting service)."""
    row = _access().grant(
        instance(home),
        id_token=_read_token(id_token),
        requester=requester,
        license_types=license_type,
        fields=field or [],
        purpose=purpose,
        lifetime=lifetime,
    )
    _print(_consent_json(row))


@app.command()
def withdraw(
    consent_id: Annotated[str, typer.Argument(help="The consent id")], id_token: TokenOption, home: HomeOption = None
) -> None:
    """The citizen withdraws a consent (a fresh ID token of theirs)."""
    row = _access().withdraw(instance(home), consent_id, id_token=_read_token(id_token))
    _print(_consent_json(row))


@app.command()
def consents(id_token: TokenOption, home: HomeOption = None) -> None:
    """The citizen's consents, as JSON."""
    _print([_consent_json(row) for row in _access().consents(instance(home), id_token=_read_token(id_token))])


@app.command()
def history(
    id_token: Annotated[Path | None, typer.Option("--id-token", help="The citizen's ID token file")] = None,
    holder_code: Annotated[bool, typer.Option("--holder-code", help="Operator: ask for the holder's code")] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Who looked up or fetched the citizen's licences, when, why, under which consent (newest first)."""
    if (id_token is None) == (not holder_code):
        raise InputError("give --id-token (the citizen) or --holder-code (the operator), one of them")
    if id_token is not None:
        rows = _access().history_for(instance(home), id_token=_read_token(id_token))
    else:
        code = typer.prompt("holder code", hide_input=True)
        rows = _access().history(instance(home), holder_code=code)
    data = [
        {
            "at": r.at,
            "end": r.end,
            "action": r.action,
            "requester": r.requester,
            "purpose": r.purpose,
            "consent_id": r.consent_id,
            "legal_basis": r.legal_basis,
            "type_code": r.type_code,
            "identifier": r.identifier,
            "disclosed": json.loads(r.disclosed),
            "result": r.result,
            "reason": r.reason,
        }
        for r in rows
    ]
    if as_json:
        _print(data)
        return
    for d in data:
        basis = f"consent {d['consent_id']}" if d["consent_id"] else f"legal basis {d['legal_basis']}"
        fields = ",".join(d["disclosed"]) or "-"
        console.print(
            f"{d['at']}  {d['action']:<8} {d['result']:<9} {d['requester']}  {d['identifier'] or d['type_code']}"
            f"  purpose={d['purpose']}  {basis}  fields={fields}  {d['reason']}",
            markup=False,
            soft_wrap=True,
        )


@app.command("legal-basis")
def legal_basis(
    code: Annotated[str, typer.Argument(help="The code requests cite")],
    description: Annotated[str, typer.Argument(help="The law or rule it stands for")],
    license_type: Annotated[list[str], typer.Option("--type", help="A licence type it covers; repeat")],
    home: HomeOption = None,
) -> None:
    """Allow a legal basis that stands in for consent for the licence types it names (operator)."""
    row = _access().add_legal_basis(instance(home), code, description, license_type)
    console.print(f"legal basis {row.code}: {', '.join(json.loads(row.license_types))}", markup=False)


SIGNED_ENTRY_MAX: Final = 8192  # as POST /sharing/legacy-entries
HOLDER_CODE_MAX: Final = 64
SALT_LENGTHS: Final = (22, 128)


def _read_small(path: Path, what: str, limit: int) -> str:
    """A file's stripped text ('-': standard input), refused when empty or longer than ``limit`` characters."""
    if str(path) == "-":
        text = sys.stdin.read(limit + 2)
    else:
        try:
            with path.open(encoding="utf-8") as handle:
                text = handle.read(limit + 2)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the {what} from {path}: {exc.__class__.__name__}") from None
    value = text.strip()
    if not value:
        raise InputError(f"the {what} file is empty")
    if len(value) > limit:
        raise InputError(f"the {what} is longer than {limit} characters")
    return value


@app.command("register-legacy")
def register_legacy(
    entry_file: Annotated[Path, typer.Argument(help="The signed directory entry (compact JWS); '-': stdin")],
    holder_code_file: Annotated[
        Path, typer.Option("--holder-code-file", help="File with the holder's citizen ID number or USCC ('-': stdin)")
    ],
    salt: Annotated[str, typer.Option("--salt", help="base64url salt of the entry's holder commitment")],
    region: Annotated[
        str | None, typer.Option("--region", help="Register as this region (its own issuers' licences only)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Index a licence of a region's legacy system by the directory entry its issuer signed (the checks of
    POST /sharing/legacy-entries: the signature against the trust list, the holder commitment, the region)."""
    from trust.formats.names import region as region_named
    from trust.service.sharing import legacy

    if str(entry_file) == "-" and str(holder_code_file) == "-":
        raise InputError("the entry and the holder code cannot both come from standard input")
    if not SALT_LENGTHS[0] <= len(salt) <= SALT_LENGTHS[1]:
        raise InputError(f"the salt is {SALT_LENGTHS[0]}..{SALT_LENGTHS[1]} base64url characters")
    if region is not None:
        region_named(region)  # a GB/T 2260 province code, or InputError
    signed = _read_small(entry_file, "signed entry", SIGNED_ENTRY_MAX)
    holder_code = _read_small(holder_code_file, "holder code", HOLDER_CODE_MAX)
    located = legacy.register(instance(home), signed, holder_code=holder_code, salt=salt, region=region)
    _print(located.to_json())
