"""The tests need nothing outside the repository: third-party data is vendored with its licence and provenance.

``.ci/run`` proves the whole claim by running the suite in a clone with nothing beside it; these checks catch the
usual ways back: a data root outside the repository, a test that names the old ``../shared`` location, a vendored
folder without its licence or provenance.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests import conftest
from tests.conftest import REPO, STANDARDS, TESTDATA, VENDOR

_OUTSIDE = re.compile(r"shared/testdata|shared/standards/ses\.asn|HUREN_SHARED_DIR|_find_shared")


def test_data_roots_are_inside_the_repository() -> None:
    for root in (TESTDATA, STANDARDS, VENDOR):
        assert root.resolve().is_relative_to(REPO), root
        assert root.is_dir(), root
    assert (STANDARDS / "ses.asn").is_file()
    assert conftest.shared_file("wycheproof", "testvectors_v1").resolve().is_relative_to(REPO)


def test_no_test_names_data_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_vendored_folder_has_license_and_provenance() -> None:
    folders = sorted(path for path in VENDOR.iterdir() if path.is_dir())
    assert {path.name for path in folders} >= {
        "wycheproof",
        "jose-cookbook",
        "sd-jwt",
        "token-status-list",
        "nist-pkits",
        "sm2",
        "qpdf-malformed",
        "ofd",
        "ses-asn",
    }
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    for folder in folders:
        provenance = folder / "PROVENANCE"
        assert provenance.is_file(), f"{folder.name}: no PROVENANCE"
        text = provenance.read_text(encoding="utf-8")
        assert "Upstream" in text or "upstream" in text.lower(), folder.name
        licenses = [path for path in folder.rglob("*") if path.name.upper().startswith("LICENSE")]
        assert licenses or "public domain" in text or "no licence" in text, f"{folder.name}: no licence file"
        assert f"`{folder.name}/`" in readme, f"{folder.name} is not described in tests/data/vendor/README.md"
