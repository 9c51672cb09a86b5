"""Issue 12 item 6: the maximum chain depth is an option (``--max-depth``, HTTP ``max_depth``), bounded by the hard
limit of :mod:`verifier.limits`; it counts intermediate CA certificates, self-issued ones not (RFC 5280 path length,
x509-limbo ``max_chain_depth``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.chains import Factory, Node, ca_extensions, name
from trust.crypto.errors import InputError
from verifier import context, limits
from verifier.certificate import verify_certificate
from verifier.report import Indication, Report


@pytest.fixture(scope="module")
def pki() -> dict[str, Node]:
    factory = Factory()
    root = factory.root()
    first = factory.ca("First CA", root)
    second = factory.ca("Second CA", first)
    key = factory.key()
    # a self-issued rollover certificate of the second CA (same name, new key, signed by the old key)
    rollover = factory.make(
        name("Second CA"), issuer=second, key=key, extensions=ca_extensions(key.public_key, second.key.public_key)
    )
    return {
        "root": root,
        "first": first,
        "second": second,
        "rollover": rollover,
        "direct": factory.leaf("direct", root),
        "one": factory.leaf("one", first),
        "two": factory.leaf("two", second),
        "rolled": factory.leaf("rolled", rollover),
    }


def verify(pki: dict[str, Node], leaf: str, max_depth: int | None) -> Report:
    ctx = context.build(
        anchors=[pki["root"].der],
        untrusted=[pki[n].der for n in ("first", "second", "rollover")],
        max_depth=max_depth,
    )
    return verify_certificate(pki[leaf].der, ctx)


@pytest.mark.parametrize(
    ("leaf", "depth", "passes"),
    [
        ("direct", 0, True),
        ("one", 0, False),
        ("one", 1, True),
        ("two", 1, False),
        ("two", 2, True),
        ("rolled", 2, True),  # first, second and its self-issued rollover: two logical intermediates
        ("rolled", 1, False),
        ("two", None, True),
        ("two", limits.MAX_DEPTH, True),
    ],
)
def test_max_depth(pki: dict[str, Node], leaf: str, depth: int | None, passes: bool) -> None:
    report = verify(pki, leaf, depth)
    if passes:
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    else:
        assert report.indication is Indication.TOTAL_FAILED, report.to_text()
        assert dict(report.details)["rule"] == "max-depth"
        assert f"more than the maximum depth {depth}" in report.errors[0]


@pytest.mark.parametrize("value", [-1, limits.MAX_DEPTH + 1, 10**6, True, 1.0, "2"])
def test_max_depth_is_bounded_by_the_hard_limit(value: object) -> None:
    with pytest.raises(InputError, match="maximum depth must be an integer from 0 to 9"):
        context.build(max_depth=value)  # type: ignore[arg-type]


def test_cli_max_depth(pki: dict[str, Node], tmp_path: Path) -> None:
    for key in ("root", "first", "second", "two"):
        (tmp_path / f"{key}.pem").write_bytes(pki[key].pem)
    base = [sys.executable, "-m", "trust.cli.main", "verify", str(tmp_path / "two.pem")]
    base += ["--anchor", str(tmp_path / "root.pem")]
    base += ["--untrusted", str(tmp_path / "first.pem"), "--untrusted", str(tmp_path / "second.pem")]
    assert subprocess.run([*base, "--max-depth", "2"], capture_output=True, timeout=120).returncode == 0
    assert subprocess.run([*base, "--max-depth", "1"], capture_output=True, timeout=120).returncode == 1
    bad = subprocess.run([*base, "--max-depth", "10"], capture_output=True, timeout=120)
    assert bad.returncode == 3, bad.stdout.decode() + bad.stderr.decode()
    assert b"maximum depth must be an integer from 0 to 9" in bad.stdout + bad.stderr
    assert b"Traceback" not in bad.stderr
