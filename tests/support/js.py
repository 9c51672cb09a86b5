"""JavaScript peers (panva/jose, @sd-jwt/sd-jwt-vc) run by Node.js from ``tests/js/``.

The packages are pinned in ``tests/js/package.json`` and ``package-lock.json``; :func:`js_peers` installs them with
``npm ci`` when ``tests/js/node_modules`` is missing (or older than the lock file). A missing ``node`` or ``npm`` skips
locally and fails in CI (``require_tool``), like every other external peer.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool

JS = Path(__file__).resolve().parent.parent / "js"


def _installed() -> bool:
    marker = JS / "node_modules" / ".package-lock.json"  # written by npm ci / npm install
    return marker.exists() and marker.stat().st_mtime >= (JS / "package-lock.json").stat().st_mtime


def ensure_installed() -> str:
    """The path of ``node``, with the pinned packages installed."""
    node = require_tool("node")
    if not _installed():
        npm = require_tool("npm")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci in {JS} failed:\n{done.stdout}\n{done.stderr}")
    return node


def run(node: str, script: str, data: Any) -> list[dict[str, Any]]:
    """Run ``tests/js/<script>`` with ``data`` (as a JSON file) and return the JSON lines it prints."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
        json.dump(data, handle, ensure_ascii=False)
    try:
        done = subprocess.run(
            [node, str(JS / script), handle.name], cwd=JS, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        Path(handle.name).unlink()
    if done.returncode != 0:
        pytest.fail(f"node {script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def js_peers() -> str:
    """``node``, with tests/js's packages installed (fails in CI when Node.js or npm is missing)."""
    return ensure_installed()
