"""bench/ofd.py (issue 18): OFD sealing and verification against PDF sealing and verification of the same document in
the same run, one JSON line per measure in the shape every bench/ script prints (docs/PERFORMANCE.md has the figures
of a full run). A smoke run: one page, a tenth of a second per side."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

KEYS = {"bench", "ours", "baseline", "baseline_value", "ratio", "unit"}


def test_bench_ofd_prints_one_line_per_measure():
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ofd.py"), "--pages", "1", "--seconds", "0.1", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert [line["bench"] for line in lines] == ["ofd-seal-1p", "ofd-verify-1p"]
    for line in lines:
        assert set(line) >= KEYS
        assert line["ours"] > 0 and line["baseline_value"] > 0
        assert abs(line["ratio"] - line["ours"] / line["baseline_value"]) < 0.01
        assert "PDF" in line["baseline"]
