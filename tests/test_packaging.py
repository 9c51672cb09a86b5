"""The package metadata: the licence is an SPDX expression with its file (no setuptools deprecation warning for a
``project.license`` table), and the build requires a setuptools that understands it."""

from __future__ import annotations

import re
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
