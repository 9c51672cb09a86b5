"""``./dev`` talks: each long setup step says what it does and how long it took, setup ends by saying how to reach
the ``trust`` command, and ``./dev trust …`` runs it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO


def _dev(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "dev"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_setup_reports_the_font_step_and_how_to_reach_trust(tmp_path: Path) -> None:
    cache = tmp_path / "fonts"
    first = _dev("setup", env={"TRUST_FONT_CACHE": str(cache)})
    assert first.returncode == 0, first.stderr
    assert "dev: making the CJK font instances" in first.stderr
    took = r"\((?:\d+ min )?\d+ s\)$"  # "(23 s)" or "(1 min 2 s)"
    assert re.search(rf"^dev: done: making the CJK font instances .*{took}", first.stderr, re.MULTILINE)
    assert re.search(rf"^dev: setup done {took}", first.stderr, re.MULTILINE)
    assert "./dev trust --help" in first.stderr and "source .venv/bin/activate" in first.stderr
    assert len(list(cache.glob("*.ttf"))) == 2
    again = _dev("setup", env={"TRUST_FONT_CACHE": str(cache)})  # nothing to do: no step runs
    assert again.returncode == 0, again.stderr
    assert "making the CJK font" not in again.stderr and "installing" not in again.stderr
    assert len(list(cache.glob("*.ttf"))) == 2


def test_dev_trust_passes_its_arguments_to_the_trust_command() -> None:
    result = _dev("trust", "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("huren ")
    assert _dev("trust", "no-such-command").returncode == 3  # trust's own exit code comes back
