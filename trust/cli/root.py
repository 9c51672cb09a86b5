"""``trust root``: ceremonies of an offline national root (docs/OPERATIONS.md, "Offline national root").

On the service: ``trust root request enrol|crl|signer`` exports a request, ``trust root import RESPONSE`` completes it.
On the offline machine: ``trust root show REQUEST`` prints what would be signed, ``trust root sign REQUEST --out
RESPONSE`` shows it, asks, signs and records it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trust.cli.common import HomeOption, console, instance
from trust.crypto.errors import InputError

app = typer.Typer(help="Ceremonies of an offline national root: request, show, sign, import.", no_args_is_help=True)
request_app = typer.Typer(
    help="On the service, export a request for the offline root to sign: enrol, rekey, crl, signer.",
    no_args_is_help=True,
)
app.add_typer(request_app, name="request")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _done(pending: object) -> None:
    from trust.service.ceremony import PendingRequest

    assert isinstance(pending, PendingRequest)
    console.print(f"ceremony request {pending.id} ({', '.join(pending.items)}) written to {pending.path}")
    console.print("carry it to the offline machine: trust root sign REQUEST --out RESPONSE; then trust root import")


@request_app.command("enrol")
def request_enrol(
    kind: Annotated[str, typer.Argument(help="region or department")],
    code: Annotated[str, typer.Argument(help="GB/T 2260 region code or department USCC")],
    family: Annotated[str, typer.Option(help="SM2 or RSA (which national root)")] = "SM2",
    csr: Annotated[Path | None, typer.Option(help="PKCS#10 request file; omitted: Huren generates the key")] = None,
    organization: Annotated[str | None, typer.Option(help="Organisation name (required for departments)")] = None,
    name: Annotated[str | None, typer.Option(help="CA common name")] = None,
    dns_namespace: Annotated[str | None, typer.Option(help="DNS namespace the CA may certify")] = None,
    home: HomeOption = None,
) -> None:
    """A regional or departmental CA under an offline root (what `trust ca enrol` does with a root it holds)."""
    from trust.service import ceremony

    _done(
        ceremony.request_enrol(
            instance(home),
            kind=kind,
            code=code,
            family=family,
            csr_data=_read(csr) if csr is not None else None,
            name=name,
            organization=organization,
            dns_namespace=dns_namespace,
        )
    )


@request_app.command("rekey")
def request_rekey(
    ca_id: Annotated[str, typer.Argument(help="Regional, departmental or national operations CA id")],
    csr: Annotated[
        Path | None, typer.Option(help="PKCS#10 request with the CA's new key; omitted: Huren makes it")
    ] = None,
    home: HomeOption = None,
) -> None:
    """A new key and certificate for a CA under an offline root (what `trust ca rekey` does with a root it holds)."""
    from trust.service import ceremony

    _done(ceremony.request_rekey(instance(home), ca_id, _read(csr) if csr is not None else None))


@request_app.command("crl")
def request_crl(home: HomeOption = None) -> None:
    """The next CRL of each offline root (the revocations recorded here)."""
    from trust.service import ceremony

    _done(ceremony.request_root_crls(instance(home)))


@request_app.command("signer")
def request_signer(home: HomeOption = None) -> None:
    """New trust list signer certificates (one per root; new keys)."""
    from trust.service import ceremony

    _done(ceremony.request_signers(instance(home)))


@app.command("import")
def import_response(
    response: Annotated[Path, typer.Argument(help="The response file the offline machine wrote")],
    home: HomeOption = None,
) -> None:
    """On the service: check a signed response against its request and the roots, and complete the operation."""
    from trust.service import ceremony

    for line in ceremony.import_response(instance(home), _read(response)):
        console.print(line)


@app.command("show")
def show(request: Annotated[Path, typer.Argument(help="Ceremony request file")], home: HomeOption = None) -> None:
    """On the offline machine: check a request and print every field of what would be signed (signs nothing)."""
    from trust.service import ceremony

    parsed, checked = ceremony.review(instance(home), _read(request))
    console.print(f"ceremony request {parsed.id}: {len(checked)} item(s), all within this root's policy")
    for entry in checked:
        for line in entry.lines:
            console.print(line)


@app.command("sign")
def sign(
    request: Annotated[Path, typer.Argument(help="Ceremony request file")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed response")],
    yes: Annotated[bool, typer.Option("--yes", help="Sign without asking (after printing every item)")] = False,
    home: HomeOption = None,
) -> None:
    """On the offline machine: check the request, print every item, ask, sign with the root keys, write RESPONSE."""
    from trust.service import ceremony

    def confirm(lines: list[str]) -> bool:
        for line in lines:
            console.print(line)
        return yes or typer.confirm("Sign these with the national root keys?", default=False)

    data = ceremony.sign_request(instance(home), _read(request), confirm=confirm)
    from trust.service.files import atomic_write

    atomic_write(out, data)
    console.print(f"signed response written to {out}")
