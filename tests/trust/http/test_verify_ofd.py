"""``POST /verify`` recognises an OFD by its content (issue 18) and refuses an unsafe package with a problem."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest
from fastapi.testclient import TestClient

from tests.conftest import shared_file
from trust.http.app import create_app


@pytest.fixture(scope="module")
def client(world) -> TestClient:
    return TestClient(create_app(world.instance), raise_server_exceptions=False)


def test_verify_ofd(client: TestClient) -> None:
    ofd = shared_file("ofd", "ofdrw-sign-v4signed.ofd").read_bytes()
    body = {
        "input": base64.b64encode(ofd).decode(),
        "anchors": [shared_file("ofd", "ofdrw-root.pem").read_text()],
        "at": "2021-06-01T00:00:00Z",
    }
    report = client.post("/verify", json=body).json()
    assert report["kind"] == "ofd", report
    assert report["indication"] == "INDETERMINATE"  # the tax bureau's CA is not given
    signature = report["reports"][0]
    assert signature["kind"] == "ofd-signature"
    assert {c["name"]: c["result"] for c in signature["checks"]}["references"] == "passed"


def test_unsafe_ofd_is_a_problem(client: TestClient) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("OFD.xml", b"<x/>")
        archive.writestr("../escape.xml", b"<x/>")
    response = client.post("/verify", json={"input": base64.b64encode(out.getvalue()).decode()})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "E1600"
