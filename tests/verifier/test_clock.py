"""One clock (issue 14 item 4): the validation time is read once — given, or the context's clock — and reaches every
check as an argument; a time without a time zone means the same nowhere, so the library, ``trust verify --at`` and
``POST /verify`` all refuse it (``tests/trust/http/test_trust_routes.py`` for the route) with the same code.

Status lists and the bundle's freshness judged at the validation time: ``test_license_verify.py``
(``test_status_lists_are_judged_at_the_validation_time``); the SM2 chain vectors at a fixed time with a clock that
fails when read: ``tests/conformance/test_sm2_chains.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.conftest import REPO, shared_file
from trust.crypto.errors import Code, InputError
from verifier import api, context
from verifier.report import Indication

ROOT = shared_file(
    "sm2", "tongsuo", "test", "certs", "sm2-root-cert.pem"
)  # Tongsuo's SM2 root, valid 2023-04-25..2050-09-10
FIXED = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def _no_clock() -> datetime:
    raise AssertionError("the wall clock was read although the validation time was given")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T01:00:00Z", FIXED),
        ("2025-01-01T01:00Z", FIXED),
        ("2025-01-01T09:00:00+08:00", FIXED),
        ("2025-01-01T01:00:00.000+00:00", FIXED),
        (datetime(2025, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=8))), FIXED),
    ],
)
def test_times_with_a_zone_are_read_as_utc(text: str | datetime, expected: datetime) -> None:
    moment = context.validation_time(text)
    assert moment == expected and moment is not None and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2025-01-01T09:00:00", "no time zone"),
        ("2025-01-01", "no time zone"),
        (datetime(2025, 1, 1, 9, 0), "no time zone"),  # the naive time under test
        ("yesterday", "ISO 8601"),
        ("0001-01-01T00:00Z", "between 1900-01-01 and 2999-12-31"),
        ("9999-12-31T23:59:59Z", "between 1900-01-01 and 2999-12-31"),
    ],
)
def test_times_without_a_zone_or_out_of_range_are_refused(value: str | datetime, words: str) -> None:
    with pytest.raises(InputError) as caught:
        context.validation_time(value)
    assert words in caught.value.message and caught.value.code is Code.INVALID_INPUT
    with pytest.raises(InputError):
        context.build(at=value)  # the library reads it the same way


def test_the_clock_is_read_once_and_only_without_a_time() -> None:
    reads: list[datetime] = []

    def clock() -> datetime:
        reads.append(FIXED)
        return FIXED

    ctx = context.build(anchors=[ROOT.read_bytes()], clock=clock)
    assert ctx.validation_time == FIXED and len(reads) == 1
    report = api.verify(ROOT.read_bytes(), ctx)
    assert report.indication is Indication.TOTAL_PASSED and report.validation_time == FIXED and len(reads) == 1
    given = context.build(anchors=[ROOT.read_bytes()], at="2025-01-01T09:00+08:00", clock=_no_clock)
    assert api.verify(ROOT.read_bytes(), given).validation_time == FIXED


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    return subprocess.run(
        [sys.executable, "-m", "trust.cli.main", "verify", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_command_line_reads_times_as_the_library_does() -> None:
    common = [str(ROOT), "--anchor", str(ROOT), "--format", "json"]
    beijing = _cli(*common, "--at", "2025-01-01T09:00+08:00")
    assert beijing.returncode == 0, beijing.stderr
    assert json.loads(beijing.stdout)["validation_time"] == "2025-01-01T01:00:00+00:00"
    naive = _cli(*common, "--at", "2025-01-01T09:00")
    assert naive.returncode == 3, naive.stdout
    assert "E1000" in naive.stderr and "no time zone" in naive.stderr and "+08:00" in naive.stderr
