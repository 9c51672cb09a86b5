"""The font cache holds one copy per font version, not one per virtual environment (``seal/fonts.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from seal import fonts


def test_two_installations_of_one_font_share_the_cached_instance(tmp_path: Path) -> None:
    """A new ``.venv`` installs the same font file with new timestamps: the cache name must not change."""
    source = fonts._source()
    other = tmp_path / "other-venv" / source.name
    other.parent.mkdir()
    shutil.copyfile(source, other)
    os.utime(other, ns=(source.stat().st_atime_ns + 10**12, source.stat().st_mtime_ns + 10**12))
    for weight in fonts.WEIGHTS:
        assert fonts.instance_name(other, weight) == fonts.instance_name(source, weight)
    assert fonts.instance_name(source, "regular") != fonts.instance_name(source, "bold")
    assert "-2.004-" in fonts.instance_name(source, "bold")  # the font's own version (name ID 5) is in the name


def test_another_font_version_gets_its_own_instance(tmp_path: Path) -> None:
    from fontTools.ttLib import TTFont

    source = fonts._source()
    font = TTFont(str(source), lazy=True)
    name = font["name"]
    for record in name.names:
        if record.nameID == 5:
            record.string = "Version 9.999;test"
    changed = tmp_path / source.name
    font.save(str(changed))
    assert "-9.999-" in fonts.instance_name(changed, "bold")
    assert fonts.instance_name(changed, "bold") != fonts.instance_name(source, "bold")


def test_the_cache_is_per_user_and_check_reports_a_missing_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUST_FONT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert fonts.cache_dir() == tmp_path / "cache" / "huren" / "fonts"
    monkeypatch.setenv("TRUST_FONT_CACHE", str(tmp_path / "empty"))
    assert fonts._main(["--check"]) == 1
