"""External tools and vendored data for tests, without fixtures (tests/conftest.py re-exports these).

External tools (OpenSSL CLI, gmssl's CLI, poppler, PostgreSQL) are reached through :func:`require_tool`: locally a
missing tool skips with its reason; with ``HUREN_REQUIRE_EXTERNAL=1`` (set by ``.ci/run``) a missing tool fails the
test, so CI can never pass by skipping. This module imports nothing of the service, so the tests on the golden
artefacts may use it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "tests" / "data" / "vendor"
"""Third-party test data vendored into the repository (``tests/data/vendor/README.md``): each folder keeps the
upstream file names, the upstream licence and a ``PROVENANCE`` file. Tests read nothing outside the repository."""
TESTDATA = VENDOR
STANDARDS = VENDOR / "ses-asn"


def external_required() -> bool:
    return os.environ.get("HUREN_REQUIRE_EXTERNAL") == "1"


def missing_external(reason: str) -> None:
    """Skip locally, fail in CI (``HUREN_REQUIRE_EXTERNAL=1``)."""
    if external_required():
        pytest.fail(f"required external dependency missing: {reason}")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """Absolute path of the command ``name``; skips (locally) or fails (CI) if it is not installed."""
    path = shutil.which(name)
    if path is None:
        missing_external(f"the {name!r} command is not installed")
    assert path is not None
    return path


def shared_file(*parts: str) -> Path:
    """A file (or folder) of the vendored third-party test data; its absence is a failure, never a skip."""
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"vendored test data missing: {path} (see tests/data/vendor/README.md)")
    return path


WORLD_FIXTURES = frozenset({"world", "world_server", "world_template"})
"""The fixtures of tests/conftest.py that build a Huren world through the service."""


def golden_modules() -> frozenset[str]:
    """The test modules of the import-linter contract "Tests on golden artefacts stand alone" (pyproject.toml):
    tests/conftest.py refuses a run in which one of them asks for a world fixture by name."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["name"].startswith("Tests on golden artefacts stand alone"):
            return frozenset(contract["source_modules"])
    raise pytest.UsageError("pyproject.toml has no import-linter contract 'Tests on golden artefacts stand alone'")
