"""``trust keys``: the service's key store (generate, list, show). Private keys never leave it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trust.cli.common import HomeOption, console, instance
from trust.crypto.keys import KEY_SPECS

app = typer.Typer(
    help="The key store (passphrase from TRUST_KEY_PASSPHRASE or TRUST_KEY_PASSPHRASE_FILE): generate, list, show.",
    no_args_is_help=True,
)


@app.command("generate")
def generate(
    key_type: Annotated[str, typer.Option("--type", help=f"Key type: {', '.join(KEY_SPECS)}")] = "sm2",
    label: Annotated[str, typer.Option(help="Free text label")] = "",
    home: HomeOption = None,
) -> None:
    """Generate a key inside the key store and print its id and public key."""
    info = instance(home).keystore.generate(key_type, label=label)
    console.print(f"key id: {info.key_id}")
    console.print(info.public_key.pem(), end="")


@app.command("list")
def list_keys(home: HomeOption = None) -> None:
    """List the keys in the key store (ids, types, fingerprints) and where each lives: file or PKCS#11 token."""
    table = Table("id", "family", "bits", "SHA-256 fingerprint (SPKI)", "label", "created", "where")
    for info in instance(home).keystore.list():
        table.add_row(
            info.key_id,
            info.family,
            str(info.public_key.size),
            info.public_key.fingerprint(),
            info.label,
            info.created_at.isoformat() if info.created_at.timestamp() > 0 else "(not recorded)",
            info.location,
        )
    console.print(table)


@app.command("show")
def show(key_id: Annotated[str, typer.Argument(help="Key id")], home: HomeOption = None) -> None:
    """Print a key's public key (PEM) and fingerprint."""
    info = instance(home).keystore.info(key_id)
    console.print(f"key id: {info.key_id}\nfamily: {info.family}\nfingerprint: {info.public_key.fingerprint()}")
    console.print(f"where: {info.location}")
    console.print(info.public_key.pem(), end="")


@app.command("move")
def move(
    key_id: Annotated[
        str, typer.Argument(help="Id of a file key (RSA or EC) a CA, TSA, OCSP responder, seal or issuer uses")
    ],
    remove_file: Annotated[
        bool, typer.Option("--remove-file", help="Delete the file copy after the move (default: keep it)")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Move a file key onto the configured PKCS#11 token (where the token allows import); its users follow at once."""
    from trust.service.keys import move_to_token

    moved = move_to_token(instance(home), key_id, remove_file=remove_file)
    console.print(f"{moved.old_key_id} -> {moved.new_key_id} ({moved.rows} row(s) re-pointed)")
    if moved.file_removed:
        console.print("file copy removed")
    else:
        console.print(f"file copy kept ({moved.old_key_id}.key.pem in the key store folder): delete it once every")
        console.print("worker has restarted, or move with --remove-file")


@app.command("rekey")
def rekey(
    kind: Annotated[str, typer.Argument(help="What to re-key: tsa, ocsp, seal or license-issuer")],
    subject_id: Annotated[
        str, typer.Argument(help="The TSA's family (SM2, RSA), an OCSP responder's CA id, a seal's esID, an issuer id")
    ],
    token: Annotated[
        str | None,
        typer.Option("--token", help="Make the new key on this PKCS#11 token (the configured one); default: files"),
    ] = None,
    home: HomeOption = None,
) -> None:
    """A new key and certificate for a TSA, OCSP responder, seal or licence issuer; the old one is retired, not revoked
    (what it signed keeps verifying; the trust list keeps it as history)."""
    from trust.service.keys_rekey import rekey as do_rekey

    done = do_rekey(instance(home), kind, subject_id, token=token)
    for (old_serial, old_key), (new_serial, new_key) in zip(done.old, done.new, strict=True):
        console.print(f"{done.kind} {done.subject_id}: certificate {old_serial} (key {old_key}) retired")
        console.print(f"  new certificate {new_serial}, key {new_key}")


@app.command("prune")
def prune(
    yes: Annotated[bool, typer.Option("--yes", help="Delete the keys listed (default: only list them)")] = False,
    home: HomeOption = None,
) -> None:
    """List the keys Huren made on the token that no row refers to (orphans); delete them with --yes. Run it while no
    issuance is under way: a key made by a transaction not yet committed has no row yet."""
    from trust.service.keys import prune_token, token_orphans

    inst = instance(home)
    orphans = token_orphans(inst)
    for orphan in orphans:
        console.print(f"{orphan.key_id}  {orphan.family}  {orphan.label}", markup=False)
    if not orphans:
        console.print("no orphaned token keys")
    elif yes:
        prune_token(inst, orphans)
        console.print(f"{len(orphans)} key(s) deleted from the token")
    else:
        console.print(f"{len(orphans)} orphaned key(s); pass --yes to delete them")
