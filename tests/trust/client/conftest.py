from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sdk import Sdk, sdk_world
from tests.support.world import World


@pytest.fixture(scope="package")
def sdk(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[Sdk]:
    """One fresh world served over HTTP for the client tests (they change its state: licences, seals, tokens)."""
    with sdk_world(tmp_path_factory.mktemp("sdk") / "home", world_template) as made:
        yield made
