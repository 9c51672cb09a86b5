"""``trust log ...``: the issuance transparency log (issue 19, docs/TRANSPARENCY.md) — checkpoint, prove, consistency,
monitor, witness, witness-key, policy. Thin: the service (:mod:`trust.service.tlog`) and the formats
(:mod:`trust.formats.tlog`) decide.

Witness keys (Ed25519) belong to a region's platform, not to the national key store: ``witness-key`` writes one as an
encrypted PKCS#8 PEM (passphrase from ``TRUST_WITNESS_PASSPHRASE``), and ``witness`` keeps the witness's state (the
checkpoint it cosigned last) in a file of its own."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from trust.cli import exits
from trust.cli.common import HomeOption, console, err_console, instance
from trust.crypto.errors import ConfigError, InputError, TrustError

app = typer.Typer(
    help="Transparency log: checkpoint, prove, consistency, monitor, witness, witness-key, witness-add, policy.",
    no_args_is_help=True,
)

WITNESS_PASSPHRASE_ENV = "TRUST_WITNESS_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret


def _service() -> Any:
    from trust.service import tlog

    return tlog


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _read(path: Path, what: str, limit: int = 1 << 20) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(f"{what} {path} is too large")
    return data


@app.command()
def checkpoint(home: HomeOption = None) -> None:
    """Log the audit head, sign a checkpoint of the log now (both national roots) and publish it with the tiles."""
    record = _service().checkpoint(instance(home))
    sys.stdout.write(record.note)


@app.command()
def prove(
    file: Annotated[Path | None, typer.Argument(help="Certificate (PEM/DER), seal (.esl) or other logged file")] = None,
    kind: Annotated[str | None, typer.Option(help="Entry kind (certificate, seal, license-issuer, crl, ...)")] = None,
    ident: Annotated[
        str | None, typer.Option("--id", help="Entry id (serial, seal code, licence issuer id, ...)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof here (default: standard output)")] = None,
    home: HomeOption = None,
) -> None:
    """The inclusion proof of a logged credential, as JSON: hash, leaf_hash, leaf_index, tree_size, inclusion,
    root_hash, checkpoint (and the entry)."""
    tlog = _service()
    if file is None and ident is None:
        raise InputError("give a FILE or --id")
    digest = tlog.artefact_digest(_read(file, "file", 64 << 20)) if file is not None else None
    inst = instance(home)
    document = tlog.prove(inst, tlog.find(inst, digest=digest, kind=kind, ident=ident))
    text = json.dumps(document.to_json(), ensure_ascii=False, indent=2) + "\n"
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command()
def consistency(
    old_size: Annotated[int, typer.Argument(help="Size of the older tree")],
    new_size: Annotated[
        int | None, typer.Argument(help="Size of the newer tree (default: the latest checkpoint)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """The RFC 9162 consistency proof between two tree sizes, as JSON (hashes in hex)."""
    tlog = _service()
    inst = instance(home)
    if new_size is None:
        latest = tlog.latest_checkpoint(inst) or tlog.checkpoint(inst)
        new_size = latest.size
    proof = tlog.consistency(inst, old_size, new_size)
    _print({"old_size": old_size, "new_size": new_size, "consistency": [h.hex() for h in proof]})


@app.command()
def monitor(
    region: Annotated[str, typer.Option(help="GB/T 2260 code of the region (e.g. 330000)")],
    since: Annotated[
        Path | None,
        typer.Option("--since", help="The checkpoint seen last (signed note file): list what came after it"),
    ] = None,
    since_index: Annotated[int, typer.Option("--since-index", help="Or: list from this leaf index")] = 0,
    home: HomeOption = None,
) -> None:
    """Every credential logged in the region's name since a checkpoint, as JSON lines; a fork between that checkpoint
    and the log's latest (same size other root, a smaller later tree, a failing consistency proof) is reported with
    both checkpoints and exits 1."""
    tlog = _service()
    inst = instance(home)
    latest = tlog.checkpoint(inst, audit_head=False)
    start = since_index
    if since is not None:
        seen = _read(since, "checkpoint").decode("utf-8", errors="replace")
        fork = tlog.check_consistent(inst, seen, latest.note)
        if fork is not None:
            err_console.print("FORK: the transparency log is inconsistent with the checkpoint seen before", style=None)
            err_console.print(f"reason: {fork.reason}")
            err_console.print("checkpoint seen before:\n" + fork.first)
            err_console.print("checkpoint now:\n" + fork.second)
            _print({"fork": {"reason": fork.reason, "seen": fork.first, "now": fork.second}})
            raise typer.Exit(int(exits.Exit.FAILED))
        from trust.formats import tlog as formats

        start = formats.parse_checkpoint(formats.parse_note(seen).text).size
    for entry in tlog.entries_since(inst, region, start, latest.size):
        sys.stdout.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    err_console.print(f"checked up to leaf {latest.size} (checkpoint {latest.root[:16]}…)")


def _witness_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    passphrase = os.environ.get(WITNESS_PASSPHRASE_ENV)
    if not passphrase:
        raise ConfigError(f"set {WITNESS_PASSPHRASE_ENV}: witness keys are kept encrypted")
    try:
        key = serialization.load_pem_private_key(_read(path, "witness key"), passphrase.encode())
    except (ValueError, TypeError):
        raise InputError(f"{path} is not an encrypted witness key for this passphrase") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InputError(f"{path} is not an Ed25519 key")
    return key


@app.command("witness-key")
def witness_key(
    name: Annotated[str, typer.Option(help="Witness name (a schema-less URL, e.g. zj.gov.cn/witness)")],
    region: Annotated[str, typer.Option(help="GB/T 2260 code of the region the witness speaks for")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the encrypted key (must not exist)")],
    home: HomeOption = None,
    register: Annotated[
        bool,
        typer.Option(
            help="Register the public key with the log of --home (on the service); --no-register: a region's own "
            "platform makes its key and sends the printed vkey to the national operator (trust log witness-add)"
        ),
    ] = True,
) -> None:
    """Make a region's Ed25519 witness key (encrypted PEM), register its public key with the log, print its vkey."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    passphrase = os.environ.get(WITNESS_PASSPHRASE_ENV)
    if not passphrase:
        raise ConfigError(f"set {WITNESS_PASSPHRASE_ENV}: witness keys are kept encrypted")
    if out.exists():
        raise InputError(f"{out} exists; choose another file")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = key.public_key().public_bytes_raw()
    if register:
        _service().add_witness(instance(home), name=name, region=region, public=public)
    from trust.formats import tlog as formats

    console.print(formats.ed25519_verifier(name, public, cosignature=True).vkey())


@app.command("witness-add")
def witness_add(
    vkey: Annotated[str, typer.Option(help="The witness's verifier key (name+id+base64), as witness-key printed it")],
    region: Annotated[str, typer.Option(help="GB/T 2260 code of the region the witness speaks for")],
    home: HomeOption = None,
) -> None:
    """Register a region's witness key made on its own platform (national operator): its cosignatures, posted by
    that region's platform client (POST /log/cosignatures), are then accepted and the bundle names it."""
    from trust.formats import tlog as formats

    verifier = formats.parse_vkey(vkey)
    if verifier.kind != "cosignature":
        raise InputError("a witness key is a cosignature/v1 key (type 0x04), as trust log witness-key prints")
    row = _service().add_witness(instance(home), name=verifier.name, region=region, public=verifier.public)
    console.print(f"witness {row.name} registered for region {row.region} (key ID {row.key_id})")


@app.command()
def witness(
    name: Annotated[str, typer.Option(help="Witness name (as registered)")],
    key: Annotated[Path, typer.Option(help="The witness's encrypted Ed25519 key (witness-key)")],
    state: Annotated[Path, typer.Option(help="The witness's state file (the checkpoint it cosigned last)")],
    home: HomeOption = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="A remote Huren service: fetch GET /log/checkpoint and /log/proof/consistency there and post the "
            "cosignature to POST /log/cosignatures (with --client-key, --cert and --pin); else the local --home"
        ),
    ] = None,
    client_key: Annotated[
        str | None, typer.Option(help="With --url: the region platform's client key (file:PATH or pkcs11:...)")
    ] = None,
    cert: Annotated[Path | None, typer.Option(help="With --url: the platform's credential certificate")] = None,
    pin: Annotated[
        list[str] | None,
        typer.Option(help="With --url: SHA-256 fingerprint of a national root (repeat); the log's keys are theirs"),
    ] = None,
) -> None:
    """Cosign the log's latest checkpoint after checking it extends the one cosigned last; a fork exits 1 with both
    checkpoints and leaves the state as it was."""
    from trust.formats import tlog as formats

    previous = None
    if state.exists():
        previous = formats.WitnessState.from_json(json.loads(_read(state, "witness state")))
    try:
        if url is None:
            new_state, note = _service().run_witness(instance(home), name=name, key=_witness_key(key), state=previous)
        else:
            if client_key is None or cert is None or not pin:
                raise InputError("--url needs --client-key, --cert and at least one --pin")
            new_state, note = _remote_witness(url, client_key, cert, pin, name, _witness_key(key), previous)
    except TrustError as exc:
        if exc.code.slug == "log-inconsistent":
            err_console.print(f"FORK: {exc.message}")
            for label, value in exc.evidence.items():
                err_console.print(f"{label}:\n{value}")
            raise typer.Exit(int(exits.Exit.FAILED)) from None
        raise
    tmp = state.with_suffix(state.suffix + ".tmp")
    tmp.write_text(json.dumps(new_state.to_json()), encoding="utf-8")
    tmp.replace(state)
    sys.stdout.write(note)


def _remote_witness(
    url: str, client_key: str, cert: Path, pins: list[str], name: str, key: Any, previous: Any
) -> tuple[Any, str]:
    """One witness round against a remote service: the log's keys are the national roots of its signed bundle
    (verified against ``pins``, as ``trust verify`` does), and under offline roots their certified delegates (the
    bundle's checkpoint ``delegates``); the checkpoint and the consistency proof from the state's size come over
    HTTP; :func:`trust.formats.tlog.witness` decides (a fork raises, nothing is posted); the cosignature is posted
    with the region platform's client credentials."""
    import base64
    import time

    from trust.client import PlatformClient
    from trust.formats import bundle as bundle_format
    from trust.formats import tlog as formats
    from verifier import transparency

    with PlatformClient.from_files(url, key=client_key, certificate=cert) as huren:
        verified = bundle_format.verify(huren.bundle(), pins)
        sections = verified.bundle.checkpoints
        delegates = [base64.b64decode(d) for d in (sections[0].get("delegates") or [])] if sections else []
        note = huren.log_checkpoint()
        checkpoint = formats.parse_checkpoint(formats.parse_note(note).text)
        roots = [root.certificate for root in verified.trust_list.roots]
        keys = transparency.log_verifiers(checkpoint.origin, roots, delegates, transparency.checkpoint_time(note))
        proof: list[bytes] = []
        if previous is not None and 0 < previous.size < checkpoint.size:
            proof = huren.log_consistency(previous.size, checkpoint.size)
        new_state, signature = formats.witness(previous, note, proof, keys, name, key, int(time.time()))
        cosigned = formats.add_signatures(note, [signature])
        huren.post_cosignature(cosigned)
    return new_state, cosigned


@app.command()
def policy(
    region: Annotated[str, typer.Option(help="GB/T 2260 code of the region")],
    require: Annotated[str, typer.Option(help="off, indeterminate or required")],
    home: HomeOption = None,
) -> None:
    """The region's transparency setting in the trust list: what verifiers do with its unlogged credentials."""
    record = _service().set_policy(instance(home), region=region, policy=require)
    console.print(f"trust list {record.sequence}: region {region} transparency {require}")
