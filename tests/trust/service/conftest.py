"""The demo world, built once per session through the CLI (``trust demo``) and shared by the demo tests and the
privacy scan (which scans a copy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.demo import DemoBuild, build_demo


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """A demo world built with no ``TRUST_PUBLIC_URL`` and no passphrase (the documented defaults), run twice, and its
    log and output (:func:`tests.support.demo.build_demo`). Read it only: a test that changes it copies the home."""
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo(demo_build: DemoBuild) -> Path:
    """The home of the session's demo world (read only)."""
    return demo_build.home
