"""Shared test fixtures.

External tools (OpenSSL CLI, gmssl's CLI, poppler, PostgreSQL) are reached through :func:`require_tool` and
the ``postgres_url`` fixture: locally a missing tool skips with its reason; with ``HUREN_REQUIRE_EXTERNAL=1``
(set by ``.ci/run``) a missing tool fails the test, so CI can never pass by skipping. The helpers live in
:mod:`tests.support.tools` (importable without the fixtures below, which build worlds) and are re-exported here.
"""

from __future__ import annotations

import pytest

from tests.support.tools import (
    REPO,
    STANDARDS,
    TESTDATA,
    VENDOR,
    WORLD_FIXTURES,
    external_required,
    golden_modules,
    missing_external,
    require_tool,
    shared_file,
)

__all__ = [  # what tests import from here (the fixtures below are found by pytest)
    "REPO",
    "STANDARDS",
    "TESTDATA",
    "VENDOR",
    "external_required",
    "missing_external",
    "require_tool",
    "shared_file",
]


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
def world_template(tmp_path_factory: pytest.TempPathFactory):
    """The same kind of world, built once per session to be copied, never used itself: a module that changes state
    takes ``tests.support.world.copy_world(world_template, home)`` instead of building a world of its own. The
    copies keep this world's port (their certificates name it), so at most one of them is served at a time."""
    from tests.support.server import free_port
    from tests.support.world import build_world

    template = build_world(tmp_path_factory.mktemp("world-template") / "home", free_port())
    template.instance.engine.dispose()
    return template


@pytest.fixture(scope="session")
def world_server(world):
    """The session world served over HTTP on the port its certificates name."""
    from tests.support.server import live_server

    with live_server(world.instance, world.port) as url:
        yield url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test on the golden artefacts that asks for a world by fixture name (which no import shows, so the
    import-linter contract cannot see it) stops the run before anything is built."""
    standalone = golden_modules()
    asking = [
        item.nodeid
        for item in items
        if getattr(getattr(item, "module", None), "__name__", None) in standalone
        and WORLD_FIXTURES & set(getattr(item, "fixturenames", ()))
    ]
    if asking:
        raise pytest.UsageError(f"tests on golden artefacts may not build a world: {', '.join(asking)}")


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
