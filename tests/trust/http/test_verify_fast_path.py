"""``POST /verify``'s fast path (issue 15 item 1, :class:`trust.http.routes.trust.VerifyFastPath`): the JSON form
answered without FastAPI's routing and dependency solving must answer exactly as the route does — status, headers
and body — for good and bad requests alike, spend the same rate limit, and leave every other form to the route."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support.world import PASSPHRASE, World, copy_world_with_issuer
from trust.http import verify_body
from trust.http.app import create_app
from trust.service.instance import Instance

BUSINESS = "11100000000013338W101"
AT = "2030-01-01T09:00:00+08:00"
_VARYING = {"x-request-id", "date", "content-length"}  # the server's own id (and the length of bodies naming it)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> tuple[World, str]:
    return copy_world_with_issuer(world_template, tmp_path_factory.mktemp("verify-fast") / "home", BUSINESS)


@pytest.fixture(scope="module")
def world(site: tuple[World, str]) -> World:
    return site[0]


@pytest.fixture(scope="module")
def token(site: tuple[World, str]) -> str:
    from licenses import samples
    from trust.service import licenses

    world, issuer_id = site
    made = licenses.issue(world.instance, issuer_id=issuer_id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    return str(made.record.token)


def _clients(world: World, **limits: int) -> tuple[TestClient, TestClient]:
    """A client of the app with the fast path and one of the app without it: one instance (one signed bundle, so
    the reports name the same), each app its own rate limiter."""
    instance = Instance(world.instance.settings.model_copy(update=limits), passphrase=PASSPHRASE)

    def made(fast: bool) -> TestClient:
        return TestClient(create_app(instance, fast_verify=fast), raise_server_exceptions=False)

    return made(True), made(False)


def _same(fast: httpx.Response, slow: httpx.Response, what: str) -> None:
    assert fast.status_code == slow.status_code, (what, fast.text, slow.text)
    assert {k: v for k, v in fast.headers.items() if k not in _VARYING} == {
        k: v for k, v in slow.headers.items() if k not in _VARYING
    }, what
    fast_body, slow_body = fast.json(), slow.json()
    assert fast_body.pop("request_id", None) == fast.headers["x-request-id"] or fast.status_code == 200, what
    slow_body.pop("request_id", None)
    assert _at_now(fast_body) == _at_now(slow_body), what


def _at_now(report: dict[str, Any]) -> Any:
    """A report with its validation time (the moment of the request, when none was asked) named ``<now>``."""
    moment = report.get("validation_time")
    text = json.dumps(report, ensure_ascii=False)
    return json.loads(text.replace(moment, "<now>")) if isinstance(moment, str) and moment else report


def _bodies(token: str) -> list[tuple[str, bytes, dict[str, str]]]:
    encoded = base64.b64encode(token.encode()).decode()
    json_type = {"Content-Type": "application/json"}
    plain: list[tuple[str, Any]] = [
        ("the input alone", {"input": encoded}),
        ("at, purpose", {"input": encoded, "at": AT, "purpose": "auto"}),
        ("an unknown member (ignored)", {"input": encoded, "colour": "red"}),
        ("strict and a depth", {"input": encoded, "strict": True, "max_depth": 2, "at": AT}),
        ("not base64", {"input": "!!!"}),
        ("not a token", {"input": base64.b64encode(b"junk").decode()}),
        ("no input", {}),
        ("input not a string", {"input": 5}),
        ("a list", [encoded]),
        ("a naive time", {"input": encoded, "at": "2030-01-01T09:00:00"}),
        ("a bad purpose", {"input": encoded, "purpose": "wizardry"}),
        ("a depth too deep", {"input": encoded, "max_depth": 99}),
        ("strict as text", {"input": encoded, "strict": "true"}),
        ("a nonce without audience", {"input": encoded, "kb_nonce": "n"}),
        ("an empty input", {"input": ""}),
        ("anchors that are not PEM", {"input": encoded, "anchors": ["nope"]}),
        ("a bad CRL", {"input": encoded, "crls": ["!!"]}),
    ]
    cases = [(what, json.dumps(body).encode(), json_type) for what, body in plain]
    return [
        *cases,
        ("a member twice", b'{"input": "a", "input": "b"}', json_type),
        ("NaN", b'{"input": NaN}', json_type),
        ("not JSON", b"{", json_type),
        ("not UTF-8", b'{"input": "\xff"}', json_type),
        (
            "a charset parameter",
            json.dumps({"input": encoded}).encode(),
            {"Content-Type": "application/json; charset=utf-8"},
        ),
        ("upper case type", json.dumps({"input": encoded}).encode(), {"Content-Type": "Application/JSON"}),
        ("a client request id", json.dumps({"input": encoded}).encode(), {**json_type, "X-Request-ID": "mine-1"}),
        ("a bad client request id", json.dumps({"input": encoded}).encode(), {**json_type, "X-Request-ID": " x"}),
    ]


def test_the_fast_path_answers_as_the_route_does(world: World, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each body through both apps: the same status, headers and problem or report. And the fast app really takes
    the fast path: the route's query reading (which only the route calls) is never reached for these requests."""
    fast, slow = _clients(world, anonymous_rate_limit=0)
    routed: list[int] = []
    real = verify_body.query_options

    def counted(request: Any) -> dict[str, Any]:
        routed.append(1)
        return real(request)

    monkeypatch.setattr(verify_body, "query_options", counted)
    for what, body, headers in _bodies(token):
        _same(
            fast.post("/verify", content=body, headers=headers),
            slow.post("/verify", content=body, headers=headers),
            what,
        )
    assert len(routed) == len(_bodies(token)) - 1  # the slow app's: every request but the refused X-Request-ID
    assert fast.post("/verify", json={"input": base64.b64encode(token.encode()).decode()}).json()["indication"] == (
        "TOTAL_PASSED"
    )


def test_what_the_fast_path_does_not_take_goes_to_the_route(world: World, token: str) -> None:
    """A query string, another media type, two Content-Types, another method or path: answered by the route (and
    the same as without the fast path)."""
    fast, slow = _clients(world, anonymous_rate_limit=0)
    encoded = json.dumps({"input": base64.b64encode(token.encode()).decode()}).encode()
    for what, method, path, body, headers in (
        ("a query string", "POST", "/verify?purpose=seal", encoded, {"Content-Type": "application/json"}),
        ("the token itself", "POST", "/verify", token.encode(), {"Content-Type": "application/jwt"}),
        ("no type", "POST", "/verify", encoded, {}),
        ("text", "POST", "/verify", encoded, {"Content-Type": "text/json"}),
        ("a trailing slash", "POST", "/verify/", encoded, {"Content-Type": "application/json"}),
        ("PUT", "PUT", "/verify", encoded, {"Content-Type": "application/json"}),
    ):
        one = fast.request(method, path, content=body, headers=headers)
        other = slow.request(method, path, content=body, headers=headers)
        assert one.status_code == other.status_code, (what, one.text, other.text)
        assert one.headers.get("content-type") == other.headers.get("content-type"), what
    twice = [("Content-Type", "application/json"), ("Content-Type", "application/json")]
    one = fast.post("/verify", content=encoded, headers=httpx.Headers(twice))
    assert one.status_code == slow.post("/verify", content=encoded, headers=httpx.Headers(twice)).status_code


def test_the_fast_path_spends_the_anonymous_rate_limit(world: World, token: str) -> None:
    """Three requests a minute from one address: the fourth is a 429 with Retry-After on both apps, the same
    problem; a refused body counts too, as with the route's dependency (it runs before the body is read)."""
    fast, slow = _clients(world, anonymous_rate_limit=3, workers=1)
    good = {"input": base64.b64encode(token.encode()).decode()}
    for client in (fast, slow):
        assert client.post("/verify", json=good).status_code == 200
        assert client.post("/verify", json={"input": "!!!"}).status_code == 400
        assert client.post("/verify", json=good).status_code == 200
    refused = fast.post("/verify", json=good)
    _same(refused, slow.post("/verify", json=good), "over the limit")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
