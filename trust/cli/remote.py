"""What the commands that act as a platform or a holder share (``trust client token|keygen``, ``trust license
keygen|fetch|present``): the server option, the key source option, new key files, and output files.

These commands never open an instance folder: they talk to a Huren service over HTTP (:mod:`trust.client`) or work
offline on files the holder has."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from trust.crypto.errors import Code, InputError

ServerOption = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="TRUST_SERVER_URL",
        help="The Huren service's base URL, e.g. https://trust.example.gov.cn (default $TRUST_SERVER_URL)",
    ),
]


def write_new(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write a new file; an existing file is never overwritten (a key must not be lost by a repeated command).
    ``private`` files are created with mode 0600 from the start."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        descriptor = os.open(path, flags, 0o600 if private else 0o644)
    except FileExistsError:
        message = f"{path} exists; choose another name (a key file is never overwritten)"
        raise InputError(message, code=Code.USAGE) from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def write_output(path: Path, data: bytes) -> None:
    """Write (or replace) an output file atomically: a partial file never has the final name."""
    temporary = path.with_name(path.name + ".part")
    try:
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def read_text(path: str, what: str, limit: int = 4 * 1024 * 1024) -> str:
    """A text file (``-``: standard input), at most ``limit`` bytes, UTF-8."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(f"{what} {path} is larger than {limit} bytes", code=Code.INPUT_TOO_LARGE)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8 text") from None


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def print_line(text: str) -> None:
    """One line on standard output, exactly (no wrapping or markup: tokens are copied by scripts)."""
    sys.stdout.write(text + "\n")
