"""The Redis server for the shared rate limiter's tests, and a key prefix of their own.

The server is named by ``HUREN_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``; ``.ci/run`` starts one when
none answers). A server that does not answer skips the test locally and fails it in CI
(:func:`tests.conftest.missing_external`); a URL that is set explicitly but unreachable is a failure.

The server is shared (other test runs, other engineers): every test gets a random key prefix
(``huren-test-<hex>``), and every key under it is deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator
from dataclasses import dataclass

import pytest

from tests.conftest import missing_external

ENV = "HUREN_TEST_REDIS_URL"
DEFAULT_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class RedisSpace:
    url: str
    prefix: str

    def stored_keys(self) -> list[str]:
        import redis

        with redis.Redis.from_url(self.url, socket_timeout=5) as connection:
            return sorted(k.decode() for k in connection.scan_iter(match=f"{self.prefix}*", count=1000))


def space() -> Generator[RedisSpace, None, None]:
    """Yield the server URL and a fresh key prefix; delete the prefix's keys afterwards."""
    import redis

    explicit = os.environ.get(ENV)
    url = explicit or DEFAULT_URL
    try:
        with redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5) as connection:
            connection.ping()
    except redis.RedisError as exc:
        reason = f"Redis server {url} does not answer ({type(exc).__name__}: {exc})"
        if explicit:
            pytest.fail(f"{ENV} is set but {reason}")
        missing_external(f"{reason}; set {ENV} to a Redis server the tests may write to")
    prefix = f"huren-test-{secrets.token_hex(8)}"
    try:
        yield RedisSpace(url, prefix)
    finally:
        with redis.Redis.from_url(url, socket_timeout=5) as connection:
            found = list(connection.scan_iter(match=f"{prefix}*", count=1000))
            if found:
                connection.delete(*found)
