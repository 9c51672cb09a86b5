"""Every verifier test runs with the network blocked (``tests.support.offline``)."""

import pytest

from tests.support.offline import no_network  # noqa: F401 - fixture


@pytest.fixture(autouse=True)
def _offline(no_network: list[str]) -> None:  # noqa: F811
    return None
