"""The verifier installs alone (issue 14 item 2): a wheel of Huren, installed without extras into a fresh virtual
environment, holds none of the service's packages and verifies every artefact of the demo world with ``trust verify``.

The base packages come from ``uv.lock`` (``uv sync`` without extras, hashes checked, from uv's cache that ``./dev``
filled); the wheel goes in with ``--no-deps`` and ``uv pip check`` then proves that the wheel's own dependencies are
all among them, so ``pip install huren`` asks for nothing more. Nothing runs from the source tree: every command in the
new environment starts in an empty folder. The test lives beside the session's demo world (``conftest.py``), which is
built with the development environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, missing_external
from tests.support.demo import demo_index, demo_pins

pytestmark = [pytest.mark.slow, pytest.mark.external]

SERVICE_MODULES = (
    "fastapi", "starlette", "uvicorn", "sqlmodel", "sqlalchemy", "alembic", "psycopg", "limits", "redis",
    "reportlab", "fontTools", "pdfplumber", "pydantic_settings", "swagger_ui_bundle", "rfc8785", "httpx",
    "authlib", "itsdangerous", "python_multipart",
    "justmytype",
)  # fmt: skip
"""Import names of what ``huren[service]`` brings (and httpx, which the service's clients use)."""
NOT_LOADED = ("aiohttp", "httpx", "requests", "urllib3", "fastapi", "sqlalchemy", "reportlab", "PIL", "zxingcpp")
EXIT = {"TOTAL_PASSED": 0, "TOTAL_FAILED": 1, "INDETERMINATE": 2}
VERIFIABLE = {
    "certificate", "seal", "ses-signature", "pdf", "license-token", "license-sd-jwt", "license-qr", "license-pdf",
}  # fmt: skip
"""Kinds of artefact ``trust verify`` takes (the others, CRLs, OCSP responses, time-stamps, the trust list and the
bundle, are inputs of a verification, not subjects of one)."""


def _uv() -> str:
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        missing_external("uv (installed by ./dev from the dev extra) is not available")
        raise AssertionError("unreachable") from None


def _env(**extra: str) -> dict[str, str]:
    """The environment without anything that points at the development environment or the source tree."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT", "CONDA_PREFIX"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TRUST_")}
    return {**env, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1", **extra}


def _run(args: list[str], cwd: Path, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding the wheel of this tree and the base packages of uv.lock, nothing else."""
    uv = _uv()
    work = tmp_path_factory.mktemp("verifier-install")
    source = work / "source"  # a copy, so that building writes nothing into the repository (build/, *.egg-info)
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "uv.lock"):
        shutil.copy2(REPO / name, source / name)
    for package in ("trust", "ca", "seal", "licenses", "verifier"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    _run([uv, "build", "--wheel", "--out-dir", str(work / "dist"), str(source)], cwd=work)
    (wheel,) = (work / "dist").glob("huren-*.whl")

    env = work / "venv"
    _run([uv, "venv", "--python", sys.executable, str(env)], cwd=work)
    # The base packages exactly as uv.lock pins them (no extras; hashes checked), then the wheel alone.
    _run([uv, "sync", "--locked", "--no-install-project", "--project", str(source)], cwd=work,
         UV_PROJECT_ENVIRONMENT=str(env))  # fmt: skip
    python = str(env / "bin" / "python")
    _run([uv, "pip", "install", "--python", python, "--no-deps", str(wheel)], cwd=work)
    _run([uv, "pip", "check", "--python", python], cwd=work)  # the wheel's own requirements are all there
    return env


def _python(venv: Path, program: str, *args: str, timeout: float = 180) -> Any:
    """Run ``program`` with the environment's interpreter in an empty folder; it prints one JSON document."""
    empty = venv.parent / "empty"
    empty.mkdir(exist_ok=True)
    result = _run([str(venv / "bin" / "python"), "-c", program, *args], cwd=empty, timeout=timeout)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_service_package_is_installed(venv: Path) -> None:
    found = _python(
        venv,
        "import importlib.util, json, sys\n"
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))",
        *SERVICE_MODULES,
    )
    assert found == dict.fromkeys(SERVICE_MODULES, False)
    facts = _python(
        venv,
        "import json, trust, verifier\n"
        "from trust.cli import extras\n"
        "from importlib import metadata\n"
        "service = [r.split(';')[0].split('[')[0].split('>')[0].strip() for r in metadata.requires('huren')\n"
        "           if 'extra == \"service\"' in r]\n"
        "files = [trust.__file__, verifier.__file__]\n"
        "print(json.dumps({'missing': extras.missing(), 'service': service, 'files': files}))",
    )
    # Every requirement of the extra is absent but pydantic, which typer (the CLI, a base dependency) needs too.
    assert facts["missing"] and set(facts["service"]) - set(facts["missing"]) <= {"pydantic"}, facts
    assert all(Path(f).is_relative_to(venv) for f in facts["files"]), facts["files"]  # the wheel, not the tree


def test_importing_the_verifier_loads_no_network_client_or_service_module(venv: Path) -> None:
    loaded = _python(
        venv,
        "import json, sys\n"
        "watch = set(sys.argv[1:])\n"
        "def now(): return sorted({m.split('.')[0] for m in sys.modules} & watch)\n"
        "import verifier\n"
        "package = now()\n"
        "import verifier.api, verifier.context, verifier.certificate, verifier.license, verifier.report, verifier.ses\n"
        "import trust.cli.main, trust.cli.verify\n"
        "entry = now()\n"
        "import verifier.pdf.verify, verifier.license_pdf\n"
        "print(json.dumps({'package': package, 'entry': entry, 'pdf': now(),\n"
        "                  'via_pyhanko': 'pyhanko.sign.timestamps.aiohttp_client' in sys.modules}))",
        *NOT_LOADED,
    )
    assert loaded["package"] == [] and loaded["entry"] == [], loaded
    # pyHanko 0.38 imports aiohttp in pyhanko.sign's package __init__ (its HTTP time-stamp client), which every
    # pyhanko.sign.* module runs first; docs/NOTES.md. Nothing else of the list, and nothing fetches (the demo test).
    assert set(loaded["pdf"]) <= {"aiohttp"}, loaded
    assert loaded["via_pyhanko"] or not loaded["pdf"], loaded


def _jobs(demo: Path) -> list[dict[str, Any]]:
    out = demo / "out"
    common = ["--bundle", str(out / "bundle.json"), "--pin", demo_pins(demo)[0]]
    jobs = []
    for entry in demo_index(demo):
        if entry["kind"] not in VERIFIABLE:
            continue
        data = ["--data", str(out / entry["data"])] if entry.get("data") else []
        argv = ["verify", str(out / entry["path"]), *common, *data]
        jobs.append({"id": entry["id"], "kind": entry["kind"], "argv": argv, "exit": EXIT[entry["expect"]]})
    return jobs


VERIFY_ALL = """
import contextlib, io, json, socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[1:]))
    raise OSError("network blocked")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from trust.cli.main import main  # what the trust console script runs
spec = json.load(open(sys.argv[1]))
codes, texts, before_pdf = {}, {}, None
for job in spec["jobs"]:  # PDFs last: what the other kinds load is recorded before the first PDF
    if job["kind"] in ("pdf", "license-pdf") and before_pdf is None:
        before_pdf = sorted({m.split(".")[0] for m in sys.modules} & set(spec["watch"]))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        codes[job["id"]] = main(job["argv"])
    if codes[job["id"]] != job["exit"]:
        texts[job["id"]] = out.getvalue()[-2000:] + err.getvalue()[-2000:]
print(json.dumps({"codes": codes, "texts": texts, "attempts": attempts, "before_pdf": before_pdf}))
"""


def test_trust_verify_gives_every_demo_artefact_its_expected_exit_code(venv: Path, demo: Path) -> None:
    """Every artefact ``trust verify`` takes, with the bundle and the pinned SM2 root, in one interpreter of the new
    environment through the console script's entry function, sockets refused (one process: 76 interpreter starts
    would take minutes on two cores); then the installed ``trust`` script itself on one artefact of each kind."""
    jobs = _jobs(demo)
    assert len(jobs) >= 70 and {j["kind"] for j in jobs} == VERIFIABLE
    assert {j["exit"] for j in jobs} == {0, 1}  # the demo has revoked, suspended and tampered artefacts
    jobs.sort(key=lambda j: j["kind"] in ("pdf", "license-pdf"))
    spec = venv.parent / "jobs.json"
    spec.write_text(json.dumps({"jobs": jobs, "watch": NOT_LOADED}))
    result = _python(venv, VERIFY_ALL, str(spec), timeout=240)
    wrong = {j["id"]: (result["codes"][j["id"]], j["exit"]) for j in jobs if result["codes"][j["id"]] != j["exit"]}
    assert not wrong, (wrong, result["texts"])
    assert result["attempts"] == []
    assert result["before_pdf"] == []  # certificates, seals, the signature and tokens loaded none of NOT_LOADED

    trust = str(venv / "bin" / "trust")
    empty = venv.parent / "empty"
    empty.mkdir(exist_ok=True)
    for kind in sorted(VERIFIABLE):
        job = next(j for j in jobs if j["kind"] == kind)
        run = subprocess.run([trust, *job["argv"]], cwd=empty, env=_env(), capture_output=True, text=True, timeout=120)
        assert run.returncode == job["exit"], (job["id"], run.stdout[-2000:], run.stderr[-2000:])


def test_other_commands_name_the_service_extra(venv: Path) -> None:
    trust = str(venv / "bin" / "trust")
    empty = venv.parent / "empty"
    empty.mkdir(exist_ok=True)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([trust, *args], cwd=empty, env=_env(), capture_output=True, text=True, timeout=120)

    for args in (
        ["ca", "list"],
        ["demo", "--home", str(empty / "home")],
        ["serve"],
        ["keys", "list"],
        ["db", "status"],
    ):
        result = run(*args)
        assert result.returncode == 4, (args, result.stdout, result.stderr)
        assert "E1006 unavailable" in result.stderr and "pip install 'huren[service]'" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "fastapi" in result.stderr, result.stderr
    assert not (empty / "home").exists()  # stopped before doing anything
    helped = run("--help")
    assert helped.returncode == 0 and "verify" in helped.stdout and "seal" in helped.stdout, helped.stderr
    assert run("ca", "--help").returncode == 0
    assert run("version").stdout.startswith("huren ")
    assert run("util", "check-digit", "--uscc", "91330000MA27XL0E2").returncode == 0
    assert run("no-such-command").returncode == 3
