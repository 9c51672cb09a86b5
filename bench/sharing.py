#!/usr/bin/env python3
"""Licence sharing (issue 21): national directory lookups with many licences indexed.

    .venv/bin/python bench/sharing.py [--seconds S] [--rounds R] [--quick] [--clock cpu] [--size N]

Prints one JSON object per line on stdout::

    {"bench": "directory-lookup-1000000", "ours": X, "baseline": "the same with 10^3 indexed",
     "baseline_value": Y, "ratio": X / Y, "unit": "lookups/s"}

``directory-lookup-N``: :func:`trust.service.sharing.directory.find` (one indexed query on the keyed holder hash and
the type, on SQLite) for a random holder among N indexed licences (``--size``, default 10^6; ``--quick`` 10^5),
against the same lookup with 10^3 indexed. Flat cost (ratio near 1.0) is the claim: the lookup is a B-tree
probe, O(log N). The HMAC of the holder code is computed per lookup on both sides. Not measured here: end-to-end
retrievals per second on 2 workers (docs/NOTES.md).

Progress and every per-round sample go to stderr. Method: bench/README.md; figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bench._harness import Bench, log, timing, timing_arguments
from trust import db
from trust.service.sharing import directory
from trust.service.sharing.models import DirectoryEntry

TYPE = "11100000000013338W104"
KEY = b"bench directory key, 32 bytes.."


def build(path: Path, size: int) -> tuple[Engine, list[str]]:
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    moment = datetime.now(UTC)
    batch = 20_000
    for start in range(0, size, batch):
        rows = [
            {
                "identifier": f"{TYPE}-{n:010d}",
                "type_code": TYPE,
                "issuer_id": "330000-bench-sm2",
                "region": "330000",
                "holder_key": directory.holder_key(KEY, f"H{n:017d}"),
                "valid_from": moment,
                "valid_until": None,
                "status": "valid",
                "source": "issued",
                "location": f"https://huren.example/sharing/licenses/{n}",
                "updated_at": moment,
            }
            for n in range(start, min(size, start + batch))
        ]
        with db.session_scope(engine) as session:
            session.execute(insert(DirectoryEntry), rows)
        log(f"  indexed {min(size, start + batch)}/{size}")
    return engine, [f"H{n:017d}" for n in random.Random(7).sample(range(size), 1000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    timing_arguments(parser, 3.0)
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    seconds, rounds = timing(parser, args)
    size = 100_000 if args.quick and args.size == 1_000_000 else args.size
    with tempfile.TemporaryDirectory() as tmp:
        big, big_codes = build(Path(tmp) / "big.db", size)
        small, small_codes = build(Path(tmp) / "small.db", 1000)

        def lookup(engine: Engine, codes: list[str]) -> Callable[[], object]:
            state = {"i": 0}

            def run() -> object:
                state["i"] = (state["i"] + 1) % len(codes)
                with db.session_scope(engine, read_only=True) as session:
                    found = directory.find(session, directory.holder_key(KEY, codes[state["i"]]), TYPE)
                assert len(found) == 1
                return found

            return run

        bench = Bench(
            f"directory-lookup-{size}",
            lookup(big, big_codes),
            "the same with 10^3 indexed",
            lookup(small, small_codes),
            unit="lookups/s",
        )
        bench.run(rounds, seconds)
        bench.emit(indexed=size)


if __name__ == "__main__":
    main()
