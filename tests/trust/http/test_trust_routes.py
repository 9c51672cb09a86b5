"""Trust list, bundle, pins, status changes and POST /verify over HTTP."""

from __future__ import annotations

import base64

import pytest

from tests.support.http import AuthClient
from tests.support.server import free_port
from tests.support.world import World, build_world
from trust.formats import bundle as bundle_format
from trust.formats import trustlist as tl
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as service


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("trust-routes"), free_port())


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, "national-ops")


def _pins(client: AuthClient) -> list[str]:
    return list(client.get("/roots").json()["fingerprints"].values())


def test_trust_list_and_bundle(client: AuthClient) -> None:
    response = client.get("/trustlist")
    assert response.status_code == 200 and response.headers["etag"]
    parsed, _ = tl.verify(response.content, _pins(client))
    assert {i.id for i in parsed.issuers} >= {"national", "region-330000", "region-440000"}
    assert client.get("/trustlist", headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    bundle = client.get("/bundle")
    verified = bundle_format.verify(bundle.content, _pins(client)[:1])
    assert verified.trust_list.sequence == parsed.sequence
    assert len(verified.bundle.crls) >= 8


def test_verify_route(client: AuthClient, world: World) -> None:
    cert = service.issue(
        world.instance,
        ca_id="region-440000-rsa",
        profile="seal",
        key_family="RSA",
        subject=DN(
            province="广东省",
            organization="广州示例有限公司",
            common_name="公章",
            serial_number=make_uscc("91440101MA5CXXX00"),
        ),
    ).certificate
    body = {"input": base64.b64encode(cert.dump()).decode(), "purpose": "seal"}
    report = client.post("/verify", json=body).json()
    assert report["indication"] == "TOTAL_PASSED", report
    assert report["chain"][-1]["source"] == "anchor"
    pem_body = {"input": base64.b64encode(cx.certificate_pem(cert)).decode(), "purpose": "tls-server"}
    failed = client.post("/verify", json=pem_body).json()
    assert failed["indication"] == "TOTAL_FAILED" and failed["sub_indication"] == "CHAIN_CONSTRAINTS_FAILURE"
    for bad, code in (
        ({"input": "!!!"}, "E1001"),
        ({"input": base64.b64encode(b"junk").decode()}, "E1001"),
        ({"input": base64.b64encode(cert.dump()).decode(), "purpose": "wizardry"}, "E1000"),
        ({}, "E1000"),
    ):
        response = client.post("/verify", json=bad)
        assert response.status_code in (400, 422) and response.json()["code"] == code, response.text


def test_verify_route_reuses_its_bundle_until_something_changes(client: AuthClient, world: World) -> None:
    from trust.service import trust as trust_service

    issued = service.issue(
        world.instance,
        ca_id="region-440000-sm2",
        profile="seal",
        key_family="SM2",
        subject=DN(
            province="广东省",
            organization="广州复用有限公司",
            common_name="公章",
            serial_number=make_uscc("91440101MA5CYYY00"),
        ),
    )
    body = {"input": base64.b64encode(issued.certificate.dump()).decode(), "purpose": "seal"}
    first = trust_service.current_bundle_bytes(world.instance)
    assert trust_service.current_bundle_bytes(world.instance) is first  # unchanged content: not signed again
    assert client.post("/verify", json=body).json()["indication"] == "TOTAL_PASSED"
    service.revoke(world.instance, serial=issued.record.serial, reason="key_compromise")
    second = trust_service.current_bundle_bytes(world.instance)
    assert second != first  # the new CRL is in it
    report = client.post("/verify", json=body).json()
    assert report["indication"] == "TOTAL_FAILED" and report["sub_indication"] == "REVOKED", report


def test_status_change_route(client: AuthClient) -> None:
    before = client.get("/trustlist").json()
    response = client.post("/trustlist/status", json={"id": "region-330000", "status": "suspended", "reason": "审计"})
    assert response.status_code == 200, response.text
    parsed, _ = tl.verify(client.get("/trustlist").content, _pins(client))
    zj = next(i for i in parsed.issuers if i.id == "region-330000")
    assert [e.status for e in zj.status_history][-1] == "suspended"
    assert (
        response.json()["sequence"]
        > tl.TrustList.from_json(__import__("json").loads(base64.urlsafe_b64decode(before["payload"] + "=="))).sequence
    )
    again = client.post("/trustlist/status", json={"id": "region-330000", "status": "suspended"})
    assert again.status_code == 409
    missing = client.post("/trustlist/status", json={"id": "region-123456", "status": "withdrawn"})
    assert missing.status_code == 404
    assert client.post("/trustlist/status", json={"id": "region-330000", "status": "granted"}).status_code == 200
