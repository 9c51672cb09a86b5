"""A demo world (``trust demo``): building it once, its index of artefacts and its pinned root fingerprints."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def demo_index(home: Path) -> list[dict[str, Any]]:
    return list(json.loads((home / "out" / "index.json").read_text())["artefacts"])


def demo_pins(home: Path) -> list[str]:
    """``[SM2 root fingerprint, RSA root fingerprint]``."""
    return [line.split()[1] for line in (home / "out" / "roots.txt").read_text().splitlines()]


@dataclass(frozen=True)
class DemoBuild:
    """A demo world and what building it said: ``log`` (every log record of the build, JSON lines at DEBUG) and
    ``output`` (what ``trust demo`` printed)."""

    home: Path
    log: str
    output: str


def demo_environment() -> pytest.MonkeyPatch:
    """The environment ``trust demo`` documents its defaults for: no passphrase, public URL, host, port or database
    URL from outside, a cheap key KDF (tests). Undo the returned patch when done."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    for name in (
        "TRUST_KEY_PASSPHRASE",
        "TRUST_KEY_PASSPHRASE_FILE",
        "TRUST_PUBLIC_URL",
        "TRUST_HOST",
        "TRUST_PORT",
        "TRUST_DATABASE_URL",
    ):
        mp.delenv(name, raising=False)
    return mp


def build_demo(home: Path) -> DemoBuild:
    """``trust demo --home HOME`` twice (the second run must leave the world as it is), with no ``TRUST_PUBLIC_URL``,
    no passphrase and no database URL (the documented defaults), logging at DEBUG into the returned record. Built once
    a session (``tests/trust/service/conftest.py``): the demo tests read it, the privacy scan scans a copy of it and
    its log."""
    from trust.cli.main import main

    mp = demo_environment()
    mp.setenv("TRUST_LOG_LEVEL", "DEBUG")
    log, output = io.StringIO(), io.StringIO()
    try:
        with json_logs(log), contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            assert main(["demo", "--home", str(home)]) == 0, output.getvalue()[-3000:]
            assert main(["demo", "--home", str(home)]) == 0, output.getvalue()[-3000:]
    finally:
        mp.undo()
    return DemoBuild(home, log.getvalue(), output.getvalue())


def copy_demo(source: Path, home: Path) -> Path:
    """A copy of the demo world at ``source`` in ``home`` (which must not exist yet), for a test that changes its world
    (re-keys, serves requests): the session's world is built once (``tests/trust/service/conftest.py``) and stays as
    it was built. The copy is checked (:func:`copy_home`): the same files (database, key store, ``public/``, ``out/``)
    with the same bytes and modes, and no file of it names the original's folder (the settings derive every path from
    the home, so an instance opened on the copy reads and writes only the copy)."""
    return copy_home(source, home, ("huren.db", "keys", "public", "out", "out/index.json"))


def copy_home(source: Path, home: Path, parts: tuple[str, ...]) -> Path:
    """``shutil.copytree(source, home)``, checked: the same files with the same bytes and modes, each of ``parts``
    there, and no file of the copy (the SQLite database included) holding the original's folder path."""
    shutil.copytree(source, home)
    files = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    copied = {p.relative_to(home) for p in home.rglob("*") if p.is_file()}
    assert copied == files, sorted(map(str, files ^ copied))
    for part in parts:
        assert (home / part).exists(), part
    originals = {str(source).encode(), str(source.resolve()).encode()}
    for name in sorted(files):
        data = (home / name).read_bytes()
        assert data == (source / name).read_bytes(), name
        assert (home / name).stat().st_mode == (source / name).stat().st_mode, name
        assert not any(original in data for original in originals), f"{name} names the original's folder"
    return home


@contextlib.contextmanager
def json_logs(stream: io.StringIO) -> Iterator[None]:
    """Every log record as a JSON line into ``stream`` (``trust.logs``); the root logger's handlers and level put back
    afterwards."""
    from trust import logs

    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    try:
        logs.configure(default_format="json", stream=stream)
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)
