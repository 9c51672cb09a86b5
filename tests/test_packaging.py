"""The package metadata: the licence is an SPDX expression with its file (no setuptools deprecation warning for a
``project.license`` table), and the build requires a setuptools that understands it; the base install is the verifier
alone, the service an extra, and the lock (uv.lock, requirements-verifier.txt) is current. The install itself is
tested in ``tests/trust/service/test_verifier_install.py``."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata

from tests.conftest import REPO


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"
    for name in project["project"]["license-files"]:
        assert (REPO / name).is_file(), name
    assert "Apache License" in (REPO / "LICENSE").read_text(encoding="utf-8")[:200]
    setuptools = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    minimum = re.fullmatch(r"setuptools>=([0-9]+)(?:\.[0-9.]+)?", setuptools)
    assert minimum and int(minimum.group(1)) >= 77, setuptools  # SPDX license and license-files: setuptools 77


def test_installed_metadata_carries_the_expression() -> None:
    """What the editable install of ``./dev`` recorded (core metadata 2.4)."""
    assert metadata.metadata("huren")["License-Expression"] == "Apache-2.0"


# The verifier alone and the lock (issue 14 items 2 and 6): the base install is the verifier; the service is an extra.
# Pillow and zxing-cpp are the verifier's (a photo of a licence QR code, issue 13 item 5), no longer the service's.
SERVICE_ONLY = {"fastapi", "starlette", "uvicorn", "sqlmodel", "sqlalchemy", "alembic", "psycopg", "psycopg-binary",
                "limits", "redis", "reportlab", "fonttools", "pdfplumber", "httpx", "pydantic-settings",
                "swagger-ui-bundle-v2", "rfc8785", "justmytype-intl-cjk", "authlib", "itsdangerous",
                "python-multipart"}  # fmt: skip


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _uv() -> str:
    import uv

    return str(uv.find_uv_bin())


def test_the_base_install_is_the_verifier_and_the_service_an_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert not base & SERVICE_ONLY, base & SERVICE_ONLY
    assert {"sqlmodel", "alembic", "psycopg", "fastapi", "uvicorn", "reportlab", "limits"} <= {
        _name(r) for r in extras["service"]
    }
    assert "huren[service]" in extras["dev"]  # ./dev installs huren[dev]: the service and the test tools


def test_uv_lock_matches_pyproject() -> None:
    """The committed lock is current (checked offline: a current lock needs no index)."""
    result = subprocess.run(
        [_uv(), "lock", "--check", "--offline"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"uv.lock is stale: run ./dev lock\n{result.stderr}"


def test_requirements_verifier_is_the_base_of_the_lock() -> None:
    """``requirements-verifier.txt`` is what ``./dev lock`` exports from uv.lock for the base install, with hashes,
    and holds nothing of the service."""
    exported = subprocess.run(
        [_uv(), "export", "-q", "--frozen", "--no-header", "--no-emit-project", "--format", "requirements-txt"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    committed = (REPO / "requirements-verifier.txt").read_text(encoding="utf-8")
    body = "".join(line for line in committed.splitlines(keepends=True) if not line.startswith("# "))
    assert body == exported, "requirements-verifier.txt is stale: run ./dev lock"
    pinned = {_name(line) for line in exported.splitlines() if line[:1].isalnum()}
    assert {"cryptography", "pyhanko", "asn1crypto", "typer"} <= pinned
    assert not pinned & SERVICE_ONLY, pinned & SERVICE_ONLY
    assert all(line.strip().startswith(("--hash=sha256:", "#")) for line in exported.splitlines() if line[:1] == " ")
