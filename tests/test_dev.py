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


@pytest.mark.slow
def test_a_stale_lock_stops_setup_in_locked_mode(tmp_path: Path) -> None:
    """With HUREN_LOCKED=1 (set by .ci/run) a pyproject.toml that uv.lock does not match is an error naming
    ``./dev lock``, and nothing is installed; the lock is left as it was."""
    import shutil
    import sys

    for name in ("dev", "uv.lock"):
        shutil.copy2(REPO / name, tmp_path / name)
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert pyproject.count("\ndependencies = [\n") == 1
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace("\ndependencies = [\n", '\ndependencies = [\n    "six",\n')
    )
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)  # an existing environment: no venv to make
    result = subprocess.run(
        [str(tmp_path / "dev"), "setup"],
        capture_output=True,
        text=True,
        env={**os.environ, "HUREN_LOCKED": "1"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert "uv.lock does not match pyproject.toml: run ./dev lock" in result.stderr
    assert not (tmp_path / ".venv" / ".huren-installed").exists()
    assert (tmp_path / "uv.lock").read_bytes() == (REPO / "uv.lock").read_bytes()
