"""``trust demo`` says when each step happened and how long the whole build took (the long steps show)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trust.cli.main import main


def test_demo_lines_carry_their_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trust.service import demo

    def build(instance: object, say) -> Path:  # the real build takes a minute; its lines go through `say`
        say("creating the national roots [SM2]")
        say("made 4 seals")
        return tmp_path

    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "demo-progress-test")
    monkeypatch.setattr(demo, "build", build)
    assert main(["demo", "--home", str(tmp_path / "home")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[ *\d+\.\d s\] creating the national roots \[SM2\]", lines[0]), lines
    assert re.fullmatch(r"\[ *\d+\.\d s\] made 4 seals", lines[1]), lines
    assert re.fullmatch(r"\[ *\d+\.\d s\] demo world built in \d+\.\d s", lines[2]), lines
