"""The demo world, built once per session through the CLI (``trust demo``) and shared by the demo tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from trust.cli.main import main


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home of a demo world built with no ``TRUST_PUBLIC_URL`` and no passphrase (the documented defaults)."""
    home = tmp_path_factory.mktemp("demo")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    for name in ("TRUST_KEY_PASSPHRASE", "TRUST_KEY_PASSPHRASE_FILE", "TRUST_PUBLIC_URL", "TRUST_HOST", "TRUST_PORT"):
        mp.delenv(name, raising=False)
    try:
        assert main(["demo", "--home", str(home)]) == 0
        assert main(["demo", "--home", str(home)]) == 0  # a second run leaves the world as it is
    finally:
        mp.undo()
    return home
