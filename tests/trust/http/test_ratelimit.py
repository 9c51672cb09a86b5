"""Issue 11 item 6, rate limits: ``X-Forwarded-For`` counts only from configured proxies, failed authentications
are limited per address and per claimed client id, and with Redis one budget is shared by every worker and host.

* In process (the session world, memory storage): the failure budgets, on the authenticated routes and the token
  endpoint — once spent, attempts are refused before their credentials are checked.
* ``trust serve`` (one worker, SQLite, memory storage, default settings): a client on 127.0.0.1 that sends a new
  ``X-Forwarded-For`` with every request stays on one budget (uvicorn's default trusted 127.0.0.1 as a proxy).
* ``trust serve --workers 2`` on PostgreSQL with Redis storage (``external``: Redis at ``HUREN_TEST_REDIS_URL``,
  a fresh key prefix per test run): a connection held by one worker spends the client's whole budget and the
  other worker — and a second ``trust serve`` process, as another host would — refuses at once; a spoofed
  ``X-Forwarded-For`` from a non-proxy address (127.0.0.2) creates no new budget while the configured proxy's
  (127.0.0.1) does; failed authentications get 429 after the limit on both workers.
"""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support import multiworker as mw
from tests.support import postgres
from tests.support import redis as redis_support
from tests.support.server import free_port
from tests.support.world import PASSPHRASE, World
from trust.http.app import create_app
from trust.service import clients
from trust.service.instance import Instance

SEALS = "/seals?ca_id=region-330000-sm2"


def _tampered(assertion: str) -> str:
    """The same assertion (same claims, same x5c) with a signature that does not verify."""
    head, payload, signature = assertion.split(".")
    return f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"


def _limited_app(world: World, **limits: int) -> object:
    settings = world.instance.settings.model_copy(update=limits)
    return create_app(Instance(settings, passphrase=PASSPHRASE))


def _client(app: object, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000), raise_server_exceptions=False)  # type: ignore[arg-type]


def _is_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "E1404"
    assert int(response.headers["retry-after"]) >= 1


# --- in process ---------------------------------------------------------------------------------------------------


def test_failed_authentications_are_limited_per_address(world: World) -> None:
    app = _limited_app(world, auth_failure_limit=3, auth_failure_client_limit=0)
    attacker, other = _client(app, "198.51.100.7"), _client(app, "198.51.100.8")
    bad = {"Authorization": "Bearer hrt_" + "x" * 43}
    for _ in range(3):
        assert attacker.get(SEALS, headers=bad).status_code == 401
    _is_429(attacker.get(SEALS, headers=bad))
    # Refused before anything is checked, so a valid credential from there waits too (and no jti is recorded).
    _is_429(attacker.get(SEALS, headers=world.auth("zj-platform")))
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": clients.ASSERTION_TYPE,
        "client_assertion": world.assertion("zj-platform", audience=clients.audiences(world.instance)[0]),
    }
    _is_429(attacker.post("/oauth/token", data=form))
    assert other.get(SEALS, headers=bad).status_code == 401  # another address has its own budget


def test_failed_authentications_are_limited_per_claimed_client(world: World) -> None:
    """Forged assertions naming zj-platform, each from a new address: after the limit, attempts naming zj-platform
    are refused from anywhere, at the token endpoint too; other clients are not."""
    app = _limited_app(world, auth_failure_limit=0, auth_failure_client_limit=4)
    forged = _tampered(world.assertion("zj-platform"))
    assert clients.claimed_client_id(forged) == "zj-platform"
    for i in range(4):
        response = _client(app, f"203.0.113.{i}").get(SEALS, headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, response.text
    fresh = _client(app, "203.0.113.200")
    _is_429(fresh.get(SEALS, headers={"Authorization": f"Bearer {forged}"}))
    token_form = {
        "grant_type": "client_credentials",
        "client_assertion_type": clients.ASSERTION_TYPE,
        "client_assertion": _tampered(world.assertion("zj-platform", audience=clients.audiences(world.instance)[0])),
    }
    _is_429(fresh.post("/oauth/token", data=token_form))
    other = _tampered(world.assertion("gd-platform"))
    assert fresh.get(SEALS, headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_claimed_client_ids_are_read_only_from_shapes_that_can_be_one() -> None:
    assert clients.claimed_client_id("hrt_abc") is None
    assert clients.claimed_client_id("Bearer x.y.z") is None
    assert clients.claimed_client_id("a.b") is None
    payload = urllib.parse.quote("x")  # anything that is not base64url JSON
    assert clients.claimed_client_id(f"eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln") is None


# --- trust serve, memory storage: X-Forwarded-For from a client is not believed ------------------------------------


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mw.Server]:
    tmp = tmp_path_factory.mktemp("ratelimit-plain")
    env = {"TRUST_ANONYMOUS_RATE_LIMIT": "3"}
    with mw.serve(
        tmp / "home", free_port(), workers=1, database_url=None, log_path=tmp / "serve.log", extra_env=env
    ) as server:
        yield server


def _junk_token_request(http_client: httpx.Client, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return http_client.post("/oauth/token", data={"grant_type": "password"}, headers=headers).status_code


def test_a_spoofed_forwarded_for_from_localhost_gets_no_new_budget(plain_server: mw.Server) -> None:
    """By default no proxy is trusted, not even 127.0.0.1 (uvicorn's default), so a new X-Forwarded-For per request
    does not reset the per-address budget of public POSTs."""
    with httpx.Client(base_url=plain_server.url, timeout=30) as http_client:
        statuses = [_junk_token_request(http_client, f"192.0.2.{i}") for i in range(6)]
    assert statuses == [400, 400, 400, 429, 429, 429], statuses


# --- trust serve --workers 2, Redis storage -------------------------------------------------------------------------

LIMIT, ANONYMOUS, FAILURES, CLIENT_FAILURES = 10, 6, 4, 6


@pytest.fixture(scope="module")
def redis_space() -> Iterator[redis_support.RedisSpace]:
    yield from redis_support.space()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


@dataclass
class Site:
    world: World
    server: mw.Server
    other_host: mw.Server
    tokens: dict[str, str]
    redis: redis_support.RedisSpace


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_space: redis_support.RedisSpace
) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ratelimit-redis")
    port = free_port()
    world, _issuer = mw.build_pg_world(tmp / "home", port, postgres_url)
    env = {
        "TRUST_RATE_LIMIT": str(LIMIT),
        "TRUST_ANONYMOUS_RATE_LIMIT": str(ANONYMOUS),
        "TRUST_AUTH_FAILURE_LIMIT": str(FAILURES),
        "TRUST_AUTH_FAILURE_CLIENT_LIMIT": str(CLIENT_FAILURES),
        "TRUST_RATE_LIMIT_STORAGE": redis_space.url,
        "TRUST_RATE_LIMIT_KEY_PREFIX": redis_space.prefix,
        "TRUST_FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    try:
        with (
            mw.serve(
                world.home, port, workers=2, database_url=postgres_url, log_path=tmp / "serve.log", extra_env=env
            ) as server,
            mw.serve(
                world.home, free_port(), workers=2, database_url=postgres_url, log_path=tmp / "other.log", extra_env=env
            ) as other,
        ):
            with httpx.Client(base_url=server.url, timeout=60) as http_client:
                tokens = {c: mw.access_token(http_client, world, c) for c in ("zj-platform", "gd-platform")}
            yield Site(world, server, other, tokens, redis_space)
    finally:
        world.instance.engine.dispose()


def _get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    return response.status, {"retry": response.getheader("retry-after"), "body": body}


def _post_form(connection: http.client.HTTPConnection, path: str, form: dict[str, str], headers: dict[str, str]) -> int:
    body = urllib.parse.urlencode(form)
    connection.request(
        "POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded", **headers}
    )
    response = connection.getresponse()
    response.read()
    return response.status


@pytest.mark.external
@pytest.mark.postgres
def test_two_workers_and_another_host_share_one_client_budget(site: Site) -> None:
    first, second = site.server.connection_per_worker()
    bearer = {"Authorization": f"Bearer {site.tokens['zj-platform']}"}
    statuses = [_get(first, SEALS, bearer)[0] for _ in range(LIMIT)]
    assert statuses == [200] * LIMIT  # the whole budget on one worker: not LIMIT / workers
    refused, extra = _get(first, SEALS, bearer)
    assert refused == 429 and int(extra["retry"]) >= 1
    assert _get(second, SEALS, bearer)[0] == 429  # the other worker counts the same budget
    with httpx.Client(base_url=site.other_host.url, timeout=60) as elsewhere:
        assert elsewhere.get(SEALS, headers=bearer).status_code == 429  # and so does another process
    gd = {"Authorization": f"Bearer {site.tokens['gd-platform']}"}
    assert _get(second, "/seals?ca_id=region-440000-sm2", gd)[0] == 200  # each client its own budget
    assert any(key.startswith(site.redis.prefix) for key in site.redis.stored_keys())


@pytest.mark.external
@pytest.mark.postgres
def test_forwarded_for_counts_only_from_the_configured_proxy(site: Site) -> None:
    junk = {"grant_type": "password"}
    spoofer = site.server.connection_per_worker(source="127.0.0.2")  # not a configured proxy
    statuses = [
        _post_form(spoofer[i % 2], "/oauth/token", junk, {"X-Forwarded-For": f"192.0.2.{i}"})
        for i in range(ANONYMOUS + 3)
    ]
    assert statuses == [400] * ANONYMOUS + [429] * 3, statuses  # one budget, whatever it claims
    proxy = site.server.connection_per_worker()  # 127.0.0.1 is the configured proxy: its clients count apart
    for i in range(2 * ANONYMOUS):
        assert _post_form(proxy[i % 2], "/oauth/token", junk, {"X-Forwarded-For": f"198.51.100.{i}"}) == 400


@pytest.mark.external
@pytest.mark.postgres
def test_failed_authentications_get_429_after_the_limit_on_every_worker(site: Site) -> None:
    first, second = site.server.connection_per_worker()
    attacker = {"X-Forwarded-For": "203.0.113.9"}  # a client behind the proxy
    bad = {"Authorization": "Bearer hrt_" + "y" * 43, **attacker}
    assert [_get((first, second)[i % 2], SEALS, bad)[0] for i in range(FAILURES)] == [401] * FAILURES
    assert _get(first, SEALS, bad)[0] == 429 and _get(second, SEALS, bad)[0] == 429
    gd_token = {"Authorization": f"Bearer {site.tokens['gd-platform']}"}
    assert _get(second, "/seals?ca_id=region-440000-sm2", {**gd_token, **attacker})[0] == 429  # the address waits
    assert _get(second, "/seals?ca_id=region-440000-sm2", {**gd_token, "X-Forwarded-For": "203.0.113.10"})[0] == 200
    # Forged assertions naming gd-platform, each from a new address: the claimed client's budget.
    forged = _tampered(site.world.assertion("gd-platform"))
    for i in range(CLIENT_FAILURES):
        headers = {"Authorization": f"Bearer {forged}", "X-Forwarded-For": f"203.0.113.{100 + i}"}
        assert _get((first, second)[i % 2], SEALS, headers)[0] == 401
    headers = {"Authorization": f"Bearer {forged}", "X-Forwarded-For": "203.0.113.250"}
    assert _get(first, SEALS, headers)[0] == 429
    # An access token names no client before it is checked: gd-platform's own token still works.
    assert _get(first, "/seals?ca_id=region-440000-sm2", {**gd_token, "X-Forwarded-For": "203.0.113.251"})[0] == 200


@pytest.mark.external
def test_the_key_prefix_of_a_test_is_removed_afterwards() -> None:
    generator = redis_support.space()
    space = next(generator)
    import redis

    with redis.Redis.from_url(space.url) as connection:
        connection.set(f"{space.prefix}:probe", "1")
    assert space.stored_keys() == [f"{space.prefix}:probe"]
    generator.close()
    assert space.stored_keys() == []
