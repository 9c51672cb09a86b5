"""The ``trust`` command: --help for every command, exit-code mapping, passphrase only from the environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from trust.cli import exits
from trust.cli.main import app, main
from trust.crypto.errors import Category, Code, TrustError


def _commands(typer_app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    group = typer.main.get_command(typer_app)
    found: list[tuple[str, ...]] = [prefix]

    def walk(command, path: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            found.append((*path, name))
            walk(sub, (*path, name))

    walk(group, prefix)
    return found


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands(app)
    assert ("keys", "generate") in commands and ("serve",) in commands and ("db", "upgrade") in commands
    for path in commands:
        code = main([*path, "--help"])
        out = capsys.readouterr().out
        assert code == 0, path
        assert "Usage" in out, path


def test_usage_errors_exit_3_not_clicks_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 3
    assert main(["keys", "generate", "--no-such-option"]) == 3
    assert "No such" in capsys.readouterr().err


def test_no_passphrase_option_exists() -> None:
    """The passphrase is never a command-line argument (it would show in ps and shell history); naming a file that
    holds one (``--password-file``) is fine."""
    root = typer.main.get_command(app)

    def walk(command) -> None:
        for param in command.params:
            names = " ".join([*param.opts, *param.secondary_opts, param.name or ""]).lower()
            if param.opts and all(opt.endswith("-file") for opt in param.opts):
                continue
            assert "pass" not in names and "secret" not in names and "pin" not in names.split("-"), names
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(root)


def test_missing_passphrase_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "list", "--home", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "E1200" in err and "TRUST_KEY_PASSPHRASE" in err


def test_keys_generate_list_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "a test passphrase of length")
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    assert main(["keys", "generate", "--type", "sm2", "--label", "demo", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    key_id = out.split("key id: ")[1].split()[0]
    assert "BEGIN PUBLIC KEY" in out and "PRIVATE" not in out
    assert main(["keys", "show", key_id, "--home", str(tmp_path)]) == 0
    assert key_id in capsys.readouterr().out
    assert main(["keys", "list", "--home", str(tmp_path)]) == 0
    assert key_id[:12] in capsys.readouterr().out
    assert main(["keys", "generate", "--type", "rsa-1024", "--home", str(tmp_path)]) == 3
    assert "E1000" in capsys.readouterr().err
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "the wrong passphrase")
    assert main(["keys", "list", "--home", str(tmp_path)]) == 3
    assert "E1201" in capsys.readouterr().err


def test_db_upgrade_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--home", str(tmp_path)]) == 0
    assert main(["db", "status", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    from alembic.script import ScriptDirectory

    from trust.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert f"revision: {head}" in out
    assert (tmp_path / "huren.db").exists()


def test_exit_code_mapping_covers_every_category() -> None:
    for code in Code:
        error = TrustError("x", code=code)
        expected = 4 if code.category in (Category.ENVIRONMENT, Category.INTERNAL) else 3
        assert exits.for_error(error) == expected
    assert [exits.for_indication(i) for i in ("TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE")] == [0, 1, 2]


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trust.cli.main", "version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "OpenSSL 3" in result.stdout
