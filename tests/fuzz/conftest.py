"""The fuzzing world, built once per session (about 30 s: a Huren world and its seeds, ``tests/fuzz/seeds.py``)."""

from __future__ import annotations

import pytest

from tests.fuzz import seeds
from tests.fuzz.seeds import FuzzWorld


@pytest.fixture(scope="session")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> FuzzWorld:
    return seeds.build(tmp_path_factory.mktemp("fuzz-world"))
