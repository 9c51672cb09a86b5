"""HTTP skeleton: health, readiness, and RFC 9457 problem details on every error path."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trust.crypto.errors import Code, InvalidSignature, TrustError
from trust.http.app import create_app
from trust.http.problems import PROBLEM_JSON, STATUS
from trust.service.instance import Instance
from trust.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    instance = Instance(Settings(home=tmp_path, max_request_bytes=2048))
    instance.prepare_storage()
    app = create_app(instance)

    @app.get("/boom/trust")
    def boom_trust() -> None:
        raise InvalidSignature("signature does not verify", evidence={"expected": "a", "found": "b"})

    @app.get("/boom/bug")
    def boom_bug() -> None:
        raise RuntimeError("secret internal detail")

    @app.post("/echo")
    def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    return TestClient(app, raise_server_exceptions=False)


def _is_problem(response, status: int, code: Code) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["type"] == code.type_uri
    assert body["code"] == code.label
    assert body["title"] and body["detail"]
    return body


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/healthz").headers["X-Request-ID"]


def test_trust_error_becomes_problem(client: TestClient) -> None:
    body = _is_problem(client.get("/boom/trust"), 422, Code.INVALID_SIGNATURE)
    assert body["evidence"] == {"expected": "a", "found": "b"}
    assert body["detail"] == "signature does not verify"


def test_unexpected_error_hides_internals(client: TestClient) -> None:
    response = client.get("/boom/bug", headers={"X-Request-ID": "abc-123"})
    body = _is_problem(response, 500, Code.INTERNAL)
    assert "secret" not in response.text
    assert body["request_id"] == "abc-123"


def test_unknown_route_and_method(client: TestClient) -> None:
    _is_problem(client.get("/nope"), 404, Code.NOT_FOUND)
    _is_problem(client.delete("/healthz"), 405, Code.USAGE)


def test_validation_error(client: TestClient) -> None:
    body = _is_problem(client.post("/echo", json={"a": "not an int"}), 422, Code.INVALID_INPUT)
    assert body["evidence"]["errors"]
    _is_problem(
        client.post("/echo", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        Code.INVALID_INPUT,
    )


def test_body_limit(client: TestClient) -> None:
    _is_problem(
        client.post("/echo", content=b"x" * 5000, headers={"content-type": "application/json"}),
        413,
        Code.INPUT_TOO_LARGE,
    )

    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    _is_problem(
        client.post("/echo", content=chunks(), headers={"content-type": "application/json"}), 413, Code.INPUT_TOO_LARGE
    )


def test_every_category_has_a_status() -> None:
    for code in Code:
        assert STATUS[code.category] >= 400
        assert isinstance(TrustError("x", code=code).code.type_uri, str)


def test_codes_are_unique_and_stable() -> None:
    numbers = [c.number for c in Code]
    slugs = [c.slug for c in Code]
    assert len(set(numbers)) == len(numbers)
    assert len(set(slugs)) == len(slugs)
    # Pinned: these numbers are public and must never change.
    assert Code.INVALID_SIGNATURE.number == 1103
    assert Code.KEYSTORE_WRONG_PASSPHRASE.number == 1201
