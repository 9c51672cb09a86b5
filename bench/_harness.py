"""What every ``bench/*.py`` script shares: the rate loop, the ours/baseline pair and its JSON line, progress on
stderr. Importing it also takes ``bench/`` off ``sys.path``: run as a script, a benchmark's folder is
``sys.path[0]``, and ``bench/ca.py`` or ``bench/seal.py`` would shadow the project's ``ca`` and ``seal`` packages.
Import it before anything of the project."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock: Callable[[], float] = time.perf_counter


def set_clock(name: str) -> None:
    """``wall`` (default) or ``cpu`` (this process's CPU time: steadier on a shared machine)."""
    global _clock
    _clock = CLOCKS[name]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``operation`` run back to back for ``seconds`` of the clock (after one warm-up
    call)."""
    operation()
    count = 0
    start = _clock()
    deadline = start + seconds
    while True:
        operation()
        count += 1
        now = _clock()
        if now >= deadline:
            return count / (now - start)


@dataclass
class Bench:
    """One measurement: ``ours`` and ``baseline`` alternate for the rounds; the medians make the JSON line."""

    name: str
    ours: Callable[[], object]
    baseline_name: str
    baseline: Callable[[], object]
    unit: str = "ops/s"
    samples_ours: list[float] = field(default_factory=list)
    samples_baseline: list[float] = field(default_factory=list)

    def run(self, rounds: int, seconds: float) -> None:
        for index in range(rounds):
            self.samples_ours.append(rate(self.ours, seconds))
            self.samples_baseline.append(rate(self.baseline, seconds))
            log(
                f"  round {index + 1}/{rounds} {self.name}: ours {self.samples_ours[-1]:.2f}, "
                f"baseline {self.samples_baseline[-1]:.2f} {self.unit}"
            )

    def emit(self, **extra: Any) -> None:
        ours = statistics.median(self.samples_ours)
        baseline = statistics.median(self.samples_baseline)
        line = {
            "bench": self.name,
            "ours": round(ours, 2),
            "baseline": self.baseline_name,
            "baseline_value": round(baseline, 2),
            "ratio": round(ours / baseline, 3),
            "unit": self.unit,
            **extra,
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)


def timing_arguments(parser: argparse.ArgumentParser, seconds: float) -> None:
    """The options every benchmark takes: ``--seconds``, ``--rounds``, ``--quick``, ``--clock``."""
    parser.add_argument(
        "--seconds", type=float, default=seconds, help=f"seconds per operation and round (default {seconds:g})"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported (3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 second, 1 round")
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall time (default) or this process's CPU time (steadier on a shared machine)",
    )


def timing(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[float, int]:
    """Seconds per side and round, and rounds, from the parsed options; selects the clock."""
    set_clock(args.clock)
    seconds, rounds = (1.0, 1) if args.quick else (args.seconds, args.rounds)
    if seconds <= 0 or rounds < 1:
        parser.error("--seconds must be positive and --rounds at least 1")
    return seconds, rounds
