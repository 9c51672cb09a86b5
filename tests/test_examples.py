"""docs/EXAMPLES.md runs as written: every block marked ``<!-- example: run -->`` in document order, in one empty
working folder, against a real ``trust serve`` (the block marked ``<!-- example: background -->``) of a fresh world.

The environment is the document's table ("Before you start") and nothing else of the developer's: ``TRUST_HOME``,
``TRUST_KEY_PASSPHRASE``, ``TRUST_PUBLIC_URL``, ``TRUST_PORT``, ``TRUST_SERVER_URL``, ``TRUST_CLIENT_KEY_PASSPHRASE``,
``TRUST_HOLDER_KEY_PASSPHRASE`` and ``HUREN_REPO``, plus ``PATH`` (this environment's ``trust`` and ``python`` first),
``TRUST_KEY_KDF_ITERATIONS`` (a cheap key store KDF, as every test world has) and no rate limits. Shell blocks run
with ``bash -euo pipefail``: a failing command fails the test, with the block's output. Afterwards the test checks
what the example claims: the verdicts, the disclosed fields, the files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, require_tool
from tests.support.server import free_port
from trust.formats import sdjwt

DOCUMENT = REPO / "docs" / "EXAMPLES.md"
BLOCK = re.compile(r"<!-- example: (run|background) -->\n```(sh|python)\n(.*?)\n```", re.DOTALL)
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Block:
    mode: str  # run | background
    language: str  # sh | python
    code: str
    line: int


def blocks(text: str) -> list[Block]:
    return [Block(m.group(1), m.group(2), m.group(3), text.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(text)]


def test_the_document_marks_its_blocks() -> None:
    """The convention is there to be found: a mark that no longer precedes a fenced block would silently skip it."""
    text = DOCUMENT.read_text(encoding="utf-8")
    found = blocks(text)
    assert text.count("<!-- example: run -->") + text.count("<!-- example: background -->") == len(found)
    assert [b.mode for b in found].count("background") == 1
    assert {b.language for b in found} == {"sh", "python"} and len(found) >= 10
    assert "licence-photo.jpg" in found[-1].code  # the verifier's QR photo step (issue 13 item 5) comes last


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUST_", "HUREN_"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "TRUST_HOME": str(tmp_path / "service"),
            "TRUST_KEY_PASSPHRASE": "example operator passphrase",
            "TRUST_PUBLIC_URL": url,
            "TRUST_HOST": "127.0.0.1",
            "TRUST_PORT": str(port),
            "TRUST_SERVER_URL": url,
            "TRUST_CLIENT_KEY_PASSPHRASE": "example platform passphrase",
            "TRUST_HOLDER_KEY_PASSPHRASE": "example holder passphrase",
            "HUREN_REPO": str(REPO),
            "TRUST_KEY_KDF_ITERATIONS": "2000",
            "TRUST_RATE_LIMIT": "0",
            "TRUST_ANONYMOUS_RATE_LIMIT": "0",
            "TRUST_LOG_LEVEL": "WARNING",
        }
    )
    return env


@dataclass
class Background:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM to the block's process group (``trust serve`` and the shell that started it), then SIGKILL."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _start(block: Block, work: Path, env: dict[str, str]) -> Background:
    log = work.parent / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as one, by its id
        )
    started = Background(process, log)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the service of line {block.line} exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{env['TRUST_SERVER_URL']}/readyz", timeout=2).status_code == 200:
                return started
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            started.stop()
            raise AssertionError(f"the service of line {block.line} was not ready:\n{log.read_text(errors='replace')}")
        time.sleep(0.3)


def _run(block: Block, work: Path, env: dict[str, str]) -> str:
    command = ["bash", "-euo", "pipefail", "-c", block.code] if block.language == "sh" else ["python", "-c", block.code]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, timeout=600, check=False)
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode == 0, (
        f"docs/EXAMPLES.md line {block.line} exited {done.returncode}:\n{block.code}\n---\n{output}"
    )
    return output


@pytest.fixture
def tools() -> Iterator[None]:
    require_tool("curl")
    require_tool("jq")
    require_tool("pdftoppm")  # the QR photo step scans the licence PDF
    yield


@pytest.mark.slow
@pytest.mark.external
def test_the_worked_example_runs_as_written(tools: None, environment: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outputs: list[str] = []
    service: Background | None = None
    try:
        for block in blocks(DOCUMENT.read_text(encoding="utf-8")):
            if block.mode == "background":
                service = _start(block, work, environment)
            else:
                outputs.append(_run(block, work, environment))
    finally:
        if service is not None:
            service.stop()

    # What the example says happened, happened.
    license = json.loads((work / "licence.json").read_text())
    assert license["status"] == "valid" and (work / "licence.id").read_text().strip() == license["identifier"]
    assert (work / "licence.jwt").read_text().strip() == license["token"]
    assert (work / "licence.jwt.sd-jwt").read_text().strip() == license["sd_jwt"]
    for pdf in ("contract-sealed.pdf", "contract-sealed-python.pdf", "licence.pdf"):
        assert (work / pdf).read_bytes().startswith(b"%PDF-"), pdf
    presentation = (work / "presentation.txt").read_text().strip()
    disclosed = [sdjwt.decode_disclosure(d).name or "" for d in presentation.split("~")[1:-1]]
    assert sorted(disclosed) == ["name", "uscc"] and not presentation.endswith("~")  # two fields, and a KB-JWT
    # The verifier's block verifies three things; under ``set -e`` each ``trust verify`` exited 0, which is
    # TOTAL_PASSED (trust/cli/exits.py) — the exit code is the contract, whatever the report's wording.
    run = [b for b in blocks(DOCUMENT.read_text(encoding="utf-8")) if b.mode == "run"]
    verifier, photo = run[-2], run[-1]
    assert [line.split()[2] for line in verifier.code.splitlines() if line.startswith("trust verify")] == [
        "presentation.txt",
        "licence.pdf",
        "contract-sealed.pdf",
    ]
    assert "--kb-nonce" in verifier.code and "FAILED" not in outputs[-2], outputs[-2]
    # The QR photo (issue 13 item 5): the scan verifies offline and over HTTP, as the licence it carries.
    assert (work / "licence-photo.jpg").read_bytes().startswith(b"\xff\xd8\xff")
    assert "trust verify licence-photo.jpg" in photo.code
    assert outputs[-1].startswith(f"TOTAL-PASSED  licence QR code: {license['identifier']}"), outputs[-1]
    answer = json.loads(outputs[-1][outputs[-1].index("{") :])
    assert (answer["indication"], answer["kind"]) == ("TOTAL_PASSED", "license-qr") and answer["trust_list"] >= 1
    assert "refused: E1003" in "".join(outputs)
