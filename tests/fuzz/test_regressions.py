"""Every input a fuzzer found that broke the property, replayed (``tests/fuzz/regressions/<target>/``; README.md
there lists them with what was wrong and where it was fixed). A case recorded with its world material
(``<case>.world.json``: bundle, pins, time, seeds) is replayed against that material, so an input that needs the
signatures of the world it was found in still reaches the code that failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.seeds import FuzzWorld
from tests.fuzz.targets import regression_cases, replay

CASES = regression_cases()


@pytest.mark.parametrize(("name", "path"), CASES, ids=[f"{n}/{p.stem}" for n, p in CASES])
def test_regression(fuzz_world: FuzzWorld, name: str, path: Path) -> None:
    replay(fuzz_world, name, path)


def test_every_case_says_what_it_found() -> None:
    assert CASES, "no regression cases"
    for _name, path in CASES:
        assert path.with_suffix(".txt").read_text().strip(), path
