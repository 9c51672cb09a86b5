"""Long fuzzing runs: every target of ``tests/fuzz/targets.py`` for a given number of minutes, crashing inputs kept
as regression cases in ``tests/fuzz/regressions/<target>/`` (replayed by ``tests/fuzz/test_regressions.py``).

    .venv/bin/python bench/fuzz.py --minutes 5                       # every target, 5 min each, atheris if installed
    .venv/bin/python bench/fuzz.py --targets pdf,seal --minutes 30   # some targets
    .venv/bin/python bench/fuzz.py --engine mutate --minutes 2       # no atheris: the structure-aware mutations alone
    .venv/bin/python bench/fuzz.py --out /tmp/finds                  # keep crashing inputs elsewhere

Engines:

* ``atheris`` (``pip install atheris``; the ``fuzz`` extra): coverage-guided (libFuzzer) over the instrumented
  project and its parsers (asn1crypto, pyHanko, python-jose, …). One child process per target; the seeds are its
  starting corpus and the structure-aware mutators of ``tests/fuzz/mutate.py`` its custom mutator (mixed with
  libFuzzer's own byte mutations). A child that libFuzzer stops (an input over the time or memory limit) is
  restarted until the target's minutes are spent.
* ``mutate``: the same mutators driven by a seeded :class:`random.Random`, no coverage feedback (what the suite's
  Hypothesis tests do, without their example budget).

Every input is checked with the suite's property (``tests.fuzz.targets.check``). A violation is recorded once per
distinct failure (its exception type, message shape and the innermost project frame) and the run goes on. One
JSON line per target on stdout: ``{"bench": "fuzz", "target", "engine", "seconds", "executions", "crashes",
"distinct", "outcomes"}``; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import log
else:  # run as a script, bench/ is sys.path[0]
    from _harness import log  # before any project import: takes bench/ off sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _signature(exc: BaseException) -> str:
    """What makes two failures the same: the message without numbers and hex, and the innermost project frame."""
    cause = exc.__cause__ or exc
    if cause is exc:  # a property of the result (a forgery accepted, a bound exceeded): its message says which
        return re.sub(r"[0-9.]+", "N", str(exc))[:120]
    frames = traceback.extract_tb(cause.__traceback__)
    ours = [
        f
        for f in frames
        if f.filename.startswith(str(REPO))
        and "/tests/" not in f.filename
        and "asn1fix" not in f.filename
        and "/.venv/" not in f.filename
    ]
    where = f"{Path(ours[-1].filename).relative_to(REPO)}:{ours[-1].lineno}" if ours else "-"
    innermost = f"{Path(frames[-1].filename).name}:{frames[-1].name}" if frames else "-"
    return f"{type(cause).__name__} {where} {innermost}"


class Run:
    def __init__(self, name: str, out: Path) -> None:
        from tests.fuzz.targets import TARGETS

        self.target = TARGETS[name]
        self.out = out
        self.executions = 0
        self.crashes = 0
        self.seen: set[str] = set()
        self.outcomes: Counter[str] = Counter()

    def one(self, fw: Any, data: bytes) -> None:
        from tests.fuzz.targets import PropertyViolation, check, record

        self.executions += 1
        try:
            self.outcomes[check(self.target, fw, data)] += 1
        except PropertyViolation as exc:
            self.crashes += 1
            key = _signature(exc)
            if key not in self.seen:
                self.seen.add(key)
                detail = "".join(traceback.format_exception(exc.__cause__ or exc))[-4000:]
                path = record(self.target, fw, data, f"{exc}\n\n{detail}", folder=self.out)
                shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                log(f"fuzz {self.target.name}: NEW failure kept as {shown}: {exc}")

    def line(self, engine: str, seconds: float) -> dict[str, Any]:
        return {
            "bench": "fuzz",
            "target": self.target.name,
            "engine": engine,
            "seconds": round(seconds, 1),
            "executions": self.executions,
            "crashes": self.crashes,
            "distinct": len(self.seen),
            "outcomes": dict(self.outcomes.most_common(12)),
        }


def _world() -> Any:
    from tests.fuzz import seeds

    log("fuzz: building the fuzzing world (about 30 s) ...")
    return seeds.build(Path(tempfile.mkdtemp(prefix="huren-fuzz-")))


def run_mutate(names: list[str], minutes: float, out: Path, seed: int) -> None:
    from tests.fuzz.mutate import mutate

    fw = _world()
    rng = random.Random(seed)
    for name in names:
        run = Run(name, out)
        seeds = fw.seeds[name]
        start = time.monotonic()
        deadline = start + minutes * 60
        for data in seeds:
            run.one(fw, data)
        while time.monotonic() < deadline:
            run.one(fw, mutate(run.target.mutator, rng.choice(seeds), rng))
            if run.executions % 500 == 0:
                log(f"fuzz {name}: {run.executions} inputs, {run.crashes} failing ({len(run.seen)} distinct)")
        print(json.dumps(run.line("mutate", time.monotonic() - start)), flush=True)


def run_atheris_child(name: str, seconds: float, out: Path, report: Path) -> None:
    """One target under atheris, in this (child) process; writes its JSON line to ``report`` when time is up."""
    import atheris

    from tests.fuzz.mutate import mutate

    fw = _world()
    run = Run(name, out)
    corpus = Path(tempfile.mkdtemp(prefix=f"huren-fuzz-{name}-"))
    for index, data in enumerate(fw.seeds[name]):
        (corpus / f"seed-{index}").write_bytes(data)
    start = time.monotonic()
    max_len = max(len(s) for s in fw.seeds[name]) * 2 + 4096
    kind = run.target.mutator

    def test_one_input(data: bytes) -> None:
        run.one(fw, data)
        if run.executions % 500 == 0:
            log(f"fuzz {name}: {run.executions} inputs, {run.crashes} failing ({len(run.seen)} distinct)")
            report.write_text(json.dumps(run.line("atheris", time.monotonic() - start)))

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if not data or rng.randrange(4) == 0:
            return bytes(atheris.Mutate(data, max_size))
        return mutate(kind, data, rng)[:max_size]

    import atexit

    atexit.register(lambda: report.write_text(json.dumps(run.line("atheris", time.monotonic() - start))))
    atheris.instrument_all()
    atheris.Setup(
        [
            sys.argv[0],
            str(corpus),
            f"-max_total_time={int(seconds)}",
            f"-max_len={max_len}",
            "-timeout=120",
            "-rss_limit_mb=4096",
            "-print_final_stats=1",
            f"-artifact_prefix={corpus}/",
        ],
        test_one_input,
        custom_mutator=custom_mutator,
    )
    atheris.Fuzz()


def run_atheris(names: list[str], minutes: float, out: Path) -> None:
    for name in names:
        start = time.monotonic()
        deadline = start + minutes * 60
        totals: Counter[str] = Counter()
        merged: dict[str, Any] = {}
        while (left := deadline - time.monotonic()) > 45:  # a child spends ~30 s building its world
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
                report = Path(handle.name)
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--atheris-child",
                    name,
                    "--seconds",
                    str(int(left)),
                    "--out",
                    str(out),
                    "--report",
                    str(report),
                ],
                check=False,
            )
            text = report.read_text() if report.exists() else ""
            report.unlink(missing_ok=True)
            if not text:
                log(f"fuzz {name}: the atheris child ended without a report (libFuzzer stopped it); restarting")
                continue
            part = json.loads(text)
            for key in ("executions", "crashes", "distinct"):
                totals[key] += part[key]
            merged.setdefault("outcomes", Counter()).update(part["outcomes"])
        line = {
            "bench": "fuzz",
            "target": name,
            "engine": "atheris",
            "seconds": round(time.monotonic() - start, 1),
            **totals,
            "outcomes": dict(merged.get("outcomes", Counter()).most_common(12)),
        }
        print(json.dumps(line), flush=True)


def main() -> None:
    from tests.fuzz.targets import REGRESSIONS, TARGETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated (default: all)")
    parser.add_argument("--minutes", type=float, default=5.0, help="per target")
    parser.add_argument("--engine", choices=("atheris", "mutate", "auto"), default="auto")
    parser.add_argument("--out", type=Path, default=REGRESSIONS, help="where crashing inputs go")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="of the mutate engine")
    parser.add_argument("--atheris-child", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args, _libfuzzer = parser.parse_known_args()
    if args.atheris_child:
        run_atheris_child(args.atheris_child, args.seconds, args.out, args.report)
        return
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "mutate"
    log(f"fuzz: {len(names)} targets x {args.minutes} min, engine {engine}, failures to {args.out}")
    os.environ.setdefault("HUREN_FUZZ", "long")
    if engine == "atheris":
        run_atheris(names, args.minutes, args.out)
    else:
        run_mutate(names, args.minutes, args.out, args.seed)


if __name__ == "__main__":
    main()
