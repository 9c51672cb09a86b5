"""``trust verify``: the verifier's command line — the contract other tools rely on.

``trust verify INPUT [--bundle FILE] [--pin SHA256]... [--anchor CERT]... [--anchor-key CERT]...
[--untrusted CERT]... [--crl FILE]... [--ocsp FILE]... [--at ISO-8601] [--purpose NAME] [--strict] [--max-depth N]
[--format text|json] [--verbose]``

INPUT is a file or ``-`` for standard input; its kind is detected from the content (a PNG or JPEG photo of a licence QR
code included). Exit codes
(``trust.cli.exits``): 0 TOTAL_PASSED, 1 TOTAL_FAILED, 2 INDETERMINATE, 3 usage or unreadable input.
Everything is local: the verifier opens no socket.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from trust.cli import exits
from trust.cli.common import console
from trust.crypto.errors import InputError

MAX_READ = 64 * 1024 * 1024 + 1


def _read(path: Path | str, what: str, most: int = MAX_READ - 1) -> bytes:
    """At most ``most`` bytes of a file (64 MiB; a bundle file: ``trust.formats.bundle.MAX_BUNDLE_BYTES``)."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(most + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(most + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > most:
        from trust.crypto.errors import Code

        raise InputError(f"{what} {path} is larger than {most} bytes", code=Code.INPUT_TOO_LARGE)
    return data


def verify(
    input_file: Annotated[str, typer.Argument(metavar="INPUT", help="File to verify, or - for standard input")],
    bundle: Annotated[
        list[Path] | None,
        typer.Option(
            help="Signed offline bundle (trust list, CRLs, status lists; gzip accepted); repeat it to give the "
            "national part and the regional parts needed"
        ),
    ] = None,
    pin: Annotated[list[str] | None, typer.Option(help="Pinned national root SHA-256 fingerprint (repeatable)")] = None,
    anchor: Annotated[list[Path] | None, typer.Option(help="Trust anchor certificate (repeatable)")] = None,
    anchor_key: Annotated[
        list[Path] | None,
        typer.Option(
            help="Certificate trusted for its name and public key only (RFC 5280 clause 6.1.1 (d)): its extensions "
            "are neither checked nor applied, e.g. a test root outside the CA profile (repeatable)"
        ),
    ] = None,
    untrusted: Annotated[list[Path] | None, typer.Option(help="Extra intermediate certificates (repeatable)")] = None,
    crl: Annotated[list[Path] | None, typer.Option(help="CRL file (repeatable)")] = None,
    ocsp: Annotated[list[Path] | None, typer.Option(help="OCSP response file (repeatable)")] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Validation time, ISO 8601 with its time zone, e.g. 2026-03-01T09:00+08:00 (default now)"),
    ] = None,
    purpose: Annotated[
        str,
        typer.Option(
            help="auto (the input's own: seal for PDF signatures), any (PDF signatures: the generic RFC 5280 policy), "
            "generic, ca, seal, document-signing, seal-maker, identity, license-issuer, timestamping, ocsp, "
            "tls-server, tls-client"
        ),
    ] = "auto",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Check the RFC 5280 CA profile rules on every certificate of the path (always checked on "
            "the trust list's own certificates)",
        ),
    ] = False,
    max_depth: Annotated[
        int | None,
        typer.Option(
            "--max-depth",
            help="At most N intermediate CA certificates between the anchor and the certificate (0-9; self-issued ones "
            "not counted)",
        ),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Text: every check, chain link and detail (default: short)")
    ] = False,
    data: Annotated[Path | None, typer.Option(help="The signed document of a detached GB/T 38540 signature")] = None,
    revocation: Annotated[
        str,
        typer.Option(
            help="available: use the revocation data at hand (bundle CRLs, --crl, --ocsp; a certificate whose issuer's"
            " CRLs are present but do not cover it is indeterminate); required: demand it for every certificate"
        ),
    ] = "available",
    kb_nonce: Annotated[
        str | None, typer.Option(help="Demand an SD-JWT key-binding proof with this nonce (needs --kb-audience)")
    ] = None,
    kb_audience: Annotated[str | None, typer.Option(help="Audience the SD-JWT key-binding proof must name")] = None,
    log_proof: Annotated[
        Path | None,
        typer.Option("--log-proof", help="Inclusion proof of the credential in the transparency log (trust log prove)"),
    ] = None,
    require_transparency: Annotated[
        bool,
        typer.Option(
            "--require-transparency",
            help="An unlogged credential is INDETERMINATE (a region's trust-list setting may make it FAILED)",
        ),
    ] = False,
) -> int:
    """Verify a certificate, a GB/T 38540 seal or signature, a sealed PDF or OFD, or a licence (token, SD-JWT, QR)
    offline."""
    from trust.formats import bundle as bundle_format
    from verifier import api, context

    if output_format not in ("text", "json"):
        raise InputError("--format must be text or json")
    payload = _read(input_file, "input")
    ctx = context.build(
        at=context.validation_time(at, "--at time"),
        bundle=[_read(part, "bundle", bundle_format.MAX_BUNDLE_BYTES) for part in bundle] if bundle else None,
        pins=pin or [],
        anchors=[_read(p, "anchor") for p in anchor or []],
        key_anchors=[_read(p, "key anchor") for p in anchor_key or []],
        untrusted=[_read(p, "untrusted certificate") for p in untrusted or []],
        crls=[_read(p, "CRL") for p in crl or []],
        ocsps=[_read(p, "OCSP response") for p in ocsp or []],
        purpose=purpose,
        revocation=revocation,
        strict=strict,
        max_depth=max_depth,
    )
    if (kb_nonce is None) != (kb_audience is None):
        raise InputError("--kb-nonce and --kb-audience go together")
    key_binding = None
    if kb_nonce is not None and kb_audience is not None:
        from verifier.license import KeyBindingRequest

        key_binding = KeyBindingRequest(nonce=kb_nonce, audience=kb_audience)
    report = api.verify(
        payload,
        ctx,
        signed_data=_read(data, "signed data") if data else None,
        key_binding=key_binding,
        log_proof=_read(log_proof, "inclusion proof") if log_proof is not None else None,
        require_transparency=require_transparency,
    )
    if output_format == "json":
        sys.stdout.write(report.to_json() + "\n")
    else:
        console.print(report.to_text(verbose=verbose), markup=False, highlight=False)
    return int(exits.for_indication(report.indication.value))
