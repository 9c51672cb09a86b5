"""``trust util ...``: helpers for making test data."""

from __future__ import annotations

from typing import Annotated

import typer

from trust.cli.common import console
from trust.crypto.errors import InputError

app = typer.Typer(help="Helpers for test data: check-digit.", no_args_is_help=True)


@app.command("check-digit")
def check_digit(
    uscc: Annotated[
        str | None,
        typer.Option("--uscc", metavar="17CHARS", help="First 17 characters of a unified social credit code"),
    ] = None,
    citizen_id: Annotated[
        str | None,
        typer.Option("--citizen-id", metavar="17DIGITS", help="First 17 digits of a citizen identity number"),
    ] = None,
) -> None:
    """Complete a unified social credit code (GB 32100) or a citizen identity number (GB 11643) with its check
    character and print the whole code (for made-up test data)."""
    from licenses import samples

    if (uscc is None) == (citizen_id is None):
        raise InputError("give exactly one of --uscc 17CHARS or --citizen-id 17DIGITS")
    console.print(samples.uscc(uscc) if uscc is not None else samples.citizen_id(citizen_id or ""))
