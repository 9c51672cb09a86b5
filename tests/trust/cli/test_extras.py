"""The ``trust`` command where ``huren[service]`` is missing: service commands stop with E1006 and exit 4 before doing
anything; ``verify``, ``version``, ``util`` and every ``--help`` still run. The real verifier-only install is tested in
``tests/trust/service/test_verifier_install.py``; here the metadata lookup is made to miss one distribution."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from trust.cli import extras
from trust.cli.main import main


def test_the_development_install_has_the_service_extra() -> None:
    assert extras.missing() == []
    assert extras.missing("no-such-extra") == []


@pytest.fixture
def without_fastapi(monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.distribution

    def distribution(name: str) -> metadata.Distribution:
        if name == "fastapi":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", distribution)


@pytest.mark.usefixtures("without_fastapi")
def test_service_commands_name_the_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert extras.missing() == ["fastapi"]
    home = tmp_path / "home"
    for argv in (["ca", "list", "--home", str(home)], ["demo", "--home", str(home)], ["keys", "list"], ["serve"]):
        assert main(argv) == 4, argv
        err = capsys.readouterr().err
        assert f"E1006 unavailable: this command (trust {argv[0]}) needs huren[service]" in err, err
        assert "pip install 'huren[service]'" in err and "not installed: fastapi" in err, err
    assert not home.exists()


@pytest.mark.usefixtures("without_fastapi")
def test_base_commands_and_help_still_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert main(["util", "check-digit", "--uscc", "91330000MA27XL0E2"]) == 0
    assert main(["ca", "--help"]) == 0 and "Usage" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert main(["no-such-command"]) == 3  # an unknown command stays a usage error
    assert main(["verify", "/no/such/file"]) == 3  # verify runs (and reports the unreadable input)
    assert "cannot read input" in capsys.readouterr().err
