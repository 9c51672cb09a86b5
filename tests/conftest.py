"""Shared test fixtures.

External tools (OpenSSL CLI, gmssl's CLI, poppler, PostgreSQL) are reached through :func:`require_tool` and
the ``postgres_url`` fixture: locally a missing tool skips with its reason; with ``HUREN_REQUIRE_EXTERNAL=1``
(set by ``.ci/run``) a missing tool fails the test, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
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


@pytest.fixture
def openssl() -> str:
    return require_tool("openssl")


@pytest.fixture(autouse=True)
def _no_real_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's key store passphrase."""
    monkeypatch.delenv("TRUST_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("TRUST_KEY_PASSPHRASE_FILE", raising=False)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory):
    """Roots, national CAs and the regions 330000/440000 (SM2 and RSA), built once per session.

    Tests must not change its state; build a fresh instance for that (``tests.support.world.build_world``)."""
    from tests.support.server import free_port
    from tests.support.world import build_world

    return build_world(tmp_path_factory.mktemp("world"), free_port())


@pytest.fixture(scope="session")
def world_server(world):
    """The session world served over HTTP on the port its certificates name."""
    from tests.support.server import live_server

    with live_server(world.instance, world.port) as url:
        yield url


# Hypothesis profiles. ``default`` (Hypothesis's own) serves the suite; ``long`` is for long fuzzing runs
# (``pytest tests/fuzz --hypothesis-profile=long``, or ``HUREN_FUZZ=long``): many more examples, random rather than
# derandomised, failures kept in Hypothesis's example database. tests/fuzz/README.md tells more.
from hypothesis import HealthCheck as _HealthCheck  # noqa: E402
from hypothesis import settings as _settings  # noqa: E402

_settings.register_profile(
    "long",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[_HealthCheck.too_slow, _HealthCheck.data_too_large, _HealthCheck.filter_too_much],
)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory):
    """SoftHSM2 with the tokens of ``tests.support.softhsm.TOKENS`` (user PIN ``USER_PIN``), once per session."""
    from tests.support.softhsm import start

    return start(tmp_path_factory.mktemp("softhsm"))
