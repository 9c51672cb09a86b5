"""``POST /verify`` fields of issue 12: ``strict`` (the RFC 5280 CA profile) and ``max_depth`` (intermediate CAs),
and ``purpose`` ``auto`` by default."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from tests.support.chains import Factory, Node, leaf_extensions, name, replace
from trust.http.app import create_app


@pytest.fixture(scope="module")
def client(world) -> TestClient:
    return TestClient(create_app(world.instance), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def pki() -> tuple[Node, Node, Node, Node]:
    factory = Factory()
    root = factory.root()
    ca = factory.ca("Issuing CA", root)
    key = factory.key()
    no_aki = factory.make(
        name("no aki"),
        issuer=root,
        key=key,
        extensions=replace(leaf_extensions(key.public_key, root.key.public_key), drop=["authority_key_identifier"]),
    )
    return root, ca, factory.leaf("leaf", ca), no_aki


def _body(cert: Node, root: Node, *untrusted: Node, **fields: object) -> dict[str, object]:
    return {
        "input": base64.b64encode(cert.der).decode(),
        "anchors": [root.pem.decode()],
        "untrusted": [n.pem.decode() for n in untrusted],
        **fields,
    }


def test_strict_field(client: TestClient, pki: tuple[Node, Node, Node, Node]) -> None:
    root, _ca, _leaf, no_aki = pki
    assert client.post("/verify", json=_body(no_aki, root)).json()["indication"] == "TOTAL_PASSED"
    report = client.post("/verify", json=_body(no_aki, root, strict=True)).json()
    assert report["indication"] == "TOTAL_FAILED", report
    assert report["details"]["rule"] == "aki-missing"


def test_max_depth_field(client: TestClient, pki: tuple[Node, Node, Node, Node]) -> None:
    root, ca, leaf, _ = pki
    assert client.post("/verify", json=_body(leaf, root, ca, max_depth=1)).json()["indication"] == "TOTAL_PASSED"
    report = client.post("/verify", json=_body(leaf, root, ca, max_depth=0)).json()
    assert report["indication"] == "TOTAL_FAILED", report
    assert report["details"]["rule"] == "max-depth"


@pytest.mark.parametrize("value", [10, -1, 1000, "two", 1.5, True])
def test_max_depth_out_of_bounds_is_a_problem(
    client: TestClient, pki: tuple[Node, Node, Node, Node], value: object
) -> None:
    root, ca, leaf, _ = pki
    response = client.post("/verify", json=_body(leaf, root, ca, max_depth=value))
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "max_depth" in response.text or "maximum depth" in response.text


def test_strict_must_be_a_boolean(client: TestClient, pki: tuple[Node, Node, Node, Node]) -> None:
    root, ca, leaf, _ = pki
    response = client.post("/verify", json=_body(leaf, root, ca, strict="very"))
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
