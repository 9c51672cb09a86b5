"""Property-based fuzzing of every parser that reads outside input (``tests/fuzz/targets.py`` names the targets, the
property and which mutated inputs may still be accepted; ``tests/fuzz/mutate.py`` the structure-aware mutations).

Each target draws a seed (a valid artefact Huren made, ``tests/fuzz/seeds.py``) and one to four mutations of it
from Hypothesis, and checks the property on the result. The budget is small in the suite — :data:`CI_BUDGET`
examples per unit of cost, derandomised, so a run is the same every time and the whole fuzz part takes about two
minutes on two cores — and large in long runs: ``pytest tests/fuzz --hypothesis-profile=long`` (20,000 examples per
target, random), ``HUREN_FUZZ_EXAMPLES=N`` (N per target), or ``bench/fuzz.py`` (atheris, coverage-guided, minutes
per target; crashing inputs go to ``tests/fuzz/regressions/<target>/``).
"""

from __future__ import annotations

import base64
import collections
import os
import random

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from tests.fuzz.mutate import mutate
from tests.fuzz.seeds import FuzzWorld
from tests.fuzz.targets import TARGETS, check

pytestmark = pytest.mark.slow

CI_BUDGET = 60
"""Examples per unit of a target's cost in the suite (a target of cost 2 runs 30)."""


def _long() -> bool:
    return settings.get_current_profile_name() == "long" or os.environ.get("HUREN_FUZZ") == "long"


def _settings(cost: int) -> settings:
    if "HUREN_FUZZ_EXAMPLES" in os.environ:
        return settings(
            max_examples=int(os.environ["HUREN_FUZZ_EXAMPLES"]),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    if _long():
        return settings(settings.get_profile("long"), suppress_health_check=list(HealthCheck))
    return settings(
        max_examples=max(10, CI_BUDGET // cost),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_take_the_happy_path(fuzz_world: FuzzWorld, name: str) -> None:
    """The baseline the oracle needs: every seed is answered, and where the target verifies, the seeds are accepted
    (so the "never accepted" half of the property can fail)."""
    target = TARGETS[name]
    outcomes = [check(target, fuzz_world, seed) for seed in fuzz_world.seeds[name]]
    if target.signed is not None or target.allowed is not None:
        assert "accepted" in outcomes, outcomes
        if name != "client-assertion":  # client assertions are single-use: a second use is refused (E1402)
            assert set(outcomes) == {"accepted"}, outcomes
    else:
        assert all(not o.startswith("refused") for o in outcomes) or name.startswith("http"), outcomes


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz(fuzz_world: FuzzWorld, name: str) -> None:
    target = TARGETS[name]
    seeds = fuzz_world.seeds[name]
    outcomes: collections.Counter[str] = collections.Counter()

    @_settings(target.cost)
    @given(seed=st.sampled_from(seeds), rng=st.randoms(use_true_random=False))
    def fuzz(seed: bytes, rng: random.Random) -> None:
        data = mutate(target.mutator, seed, rng)
        note(f"input ({len(data)} bytes, base64): {base64.b64encode(data[:100_000]).decode()}")
        outcomes[check(target, fuzz_world, data)] += 1

    fuzz()
    print(f"\nfuzz {name}: {sum(outcomes.values())} inputs, outcomes {dict(outcomes.most_common())}")
    # generation must not collapse: the mutants reach more than one outcome of the parser (client assertions answer
    # every refusal with one code, E1401, by design: an attacker learns nothing from the answer)
    assert len(outcomes) >= (1 if name == "client-assertion" else 2), outcomes
