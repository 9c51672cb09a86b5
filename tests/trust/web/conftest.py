"""The verifier page's browser tests share one ``trust verify-server`` per module (the golden bundle from disk, the
network blocked in its process) and one chromium per module (Debian's ``/usr/bin/chromium`` driven by Playwright)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing_external
from tests.support import golden
from tests.support.server import free_port

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[3]


@dataclasses.dataclass
class Served:
    url: str
    attempts: Path
    process: subprocess.Popen[bytes]


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"verify-server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("verify-server did not start")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("verify-server")
    attempts = folder / "network-attempts.txt"
    port = free_port()
    command = [
        sys.executable, "-m", "tests.support.offline_server", str(attempts), "verify-server",
        "--bundle", str(golden.path("trust/bundle.json")), "--pin", golden.pins()[0],
        "--port", str(port), "--at", golden.validation_time().isoformat(),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process)
        yield Served(url, attempts, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert attempts.read_text(encoding="utf-8") == "", "verify-server used the network or the service's packages"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing_external("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
