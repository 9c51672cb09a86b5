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


def test_verify_ofd_with_a_key_anchor(client: TestClient) -> None:
    """``anchor_keys``: ofdrw's root trusted as name and key; as ``anchors`` it fails the RFC 5937 anchor rule."""
    from trust.crypto import pem
    from trust.formats import ses
    from trust.formats.ofd import package

    signed = package.read(shared_file("ofd", "ofdrw-converter-V4RideRight.ofd").read_bytes())
    user = ses.parse_signature(signed.read("Doc_0/Signs/Sign_0/SignedValue.dat")).signer_cert
    root = shared_file("ofd", "ofdrw-root.pem").read_text()
    body = {
        "input": base64.b64encode(shared_file("ofd", "ofdrw-sign-DigitalSign.ofd").read_bytes()).decode(),
        "untrusted": [pem.write("CERTIFICATE", user).decode()],
        "at": "2021-06-01T00:00:00Z",
    }
    report = client.post("/verify", json=body | {"anchor_keys": [root]}).json()
    assert report["indication"] == "TOTAL_PASSED", report
    report = client.post("/verify", json=body | {"anchors": [root]}).json()
    assert report["indication"] == "TOTAL_FAILED", report
    assert report["sub_indication"] == "CHAIN_CONSTRAINTS_FAILURE"


def test_unsafe_ofd_is_a_problem(client: TestClient) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("OFD.xml", b"<x/>")
        archive.writestr("../escape.xml", b"<x/>")
    response = client.post("/verify", json={"input": base64.b64encode(out.getvalue()).decode()})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "E1700"


def test_render_page_anonymously(client: TestClient) -> None:
    ofd = shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()
    response = client.post("/ofd/render", content=ofd, headers={"content-type": "application/ofd"}, params={"dpi": 50})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    wrong_type = client.post("/ofd/render", content=ofd, headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    no_page = client.post("/ofd/render", content=ofd, headers={"content-type": "application/ofd"}, params={"page": 2})
    assert no_page.status_code == 400 and "page" in no_page.json()["detail"]
    too_fine = client.post("/ofd/render", content=ofd, headers={"content-type": "application/ofd"}, params={"dpi": 999})
    assert too_fine.status_code in (400, 422)


def test_render_is_rate_limited_like_verify() -> None:
    from fastapi.routing import APIRoute

    from trust.http.auth import anonymous_limit
    from trust.http.routes import trust as trust_routes

    both = [*trust_routes.router.routes, *trust_routes.verify_router.routes]
    routes = {r.path: r for r in both if isinstance(r, APIRoute)}
    for path in ("/verify", "/ofd/render"):
        calls = [d.call for d in routes[path].dependant.dependencies]
        assert anonymous_limit in calls, path
