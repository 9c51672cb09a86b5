"""``trust client ...`` and ``trust audit ...``: platform clients (national operators' console; and, for a platform, its
key and access token over HTTP) and the audit log."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trust.cli.common import HomeOption, console, instance
from trust.cli.remote import ServerOption
from trust.crypto.errors import Code, InputError

if TYPE_CHECKING:
    from trust.service.instance import Instance

app = typer.Typer(
    help="Platform clients — operators register and manage them, a platform makes its key and gets access tokens: "
    "add, certify, list, disable, enable, revoke-credential, keygen, token.",
    no_args_is_help=True,
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


# --- the platform's side: its key and its access token (talks to a service over HTTP; no instance folder) --------


@app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option(help="Write the new private key here (encrypted PKCS#8, mode 0600)")],
    csr: Annotated[Path, typer.Option(help="Write the PKCS#10 request (PEM) for the operator here")],
    client_id: Annotated[str, typer.Option(help="The platform's client id, e.g. zj-platform (the request's CN)")],
    key_type: Annotated[str, typer.Option("--type", help="sm2, ec-p256, ec-p384, rsa-2048, rsa-3072")] = "sm2",
) -> None:
    """Make the platform's key pair and certificate request (the operator certifies it: `trust client add --csr`).

    The key is encrypted with the passphrase in $TRUST_CLIENT_KEY_PASSPHRASE (or the file named by
    $TRUST_CLIENT_KEY_PASSPHRASE_FILE); existing files are never overwritten. Huren never sees the private key."""
    from trust.cli.remote import write_new
    from trust.client.keys import PLATFORM_PASSPHRASE_ENV, new_passphrase
    from trust.crypto import pkcs8
    from trust.crypto.keys import generate_private_key
    from trust.formats import csr as csr_format
    from trust.formats.names import DN

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{2,63}", client_id):
        raise InputError("client ids are 3-64 characters of a-z 0-9 - (starting with a letter or digit)")
    secret = new_passphrase(PLATFORM_PASSPHRASE_ENV)
    if csr.exists():
        raise InputError(f"{csr} exists; choose another name", code=Code.USAGE)
    key = generate_private_key(key_type)
    write_new(out, pkcs8.encrypt_private_key_pem(key, secret), private=True)
    write_new(csr, csr_format.build(key, DN(common_name=client_id), pem=True))
    console.print(f"key {out} ({key.public_key.family.value}, SPKI SHA-256 {key.public_key.fingerprint()})")
    console.print(f"certificate request {csr}: send it to the national operator")


@app.command("token")
def token(
    key: Annotated[
        str,
        typer.Option(
            help="The platform's key: file:PATH (encrypted PKCS#8, passphrase in $TRUST_CLIENT_KEY_PASSPHRASE or "
            "$TRUST_CLIENT_KEY_PASSPHRASE_FILE; or a plain PEM key); or "
            "pkcs11:token=LABEL;object=NAME, a key on a token (PIN in $TRUST_PKCS11_PIN or $TRUST_PKCS11_PIN_FILE)"
        ),
    ],
    cert: Annotated[Path, typer.Option(help="The platform's credential certificate (PEM or DER; its CA may follow)")],
    server: ServerOption,
    client_id: Annotated[str | None, typer.Option(help="Client id (default: the certificate's CN)")] = None,
    audience: Annotated[str | None, typer.Option(help="Assertion audience (default SERVER/oauth/token)")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {access_token, token_type, expires_in, expires_at} as JSON")
    ] = False,
) -> None:
    """Get an access token: an RFC 7523 client assertion signed with the platform's key (certificate in x5c)
    exchanged at SERVER/oauth/token. Prints the token alone (for Authorization: Bearer), or JSON with its expiry."""
    from trust.cli.remote import print_json, print_line
    from trust.client import PlatformClient

    with PlatformClient.from_files(server, key=key, certificate=cert, client_id=client_id, audience=audience) as huren:
        got = huren.fetch_token()
    if as_json:
        print_json(
            {
                "access_token": got.access_token,
                "token_type": got.token_type,
                "expires_in": got.expires_in,
                "expires_at": got.expires_at.isoformat(timespec="seconds"),
            }
        )
    else:
        print_line(got.access_token)
