"""CA routes over HTTP: downloads with caching, enrolment, issuance, revocation, and problem details for
every bad input (nothing persisted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from ca.models import IssuedCertificate
from tests.support.csr import make_csr
from tests.support.http import AuthClient
from tests.support.world import ZJ_ORG_USCC, World, build_world
from trust import db
from trust.crypto.keys import generate_private_key
from trust.formats import crl as crl_format
from trust.formats import x509 as cx
from trust.formats.crl import load_crl
from trust.formats.names import DN
from trust.http.app import create_app
from trust.http.problems import PROBLEM_JSON


@pytest.fixture(scope="module")
def http_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("http-world"), 8000)


@pytest.fixture(scope="module")
def client(http_world: World) -> AuthClient:
    return AuthClient(create_app(http_world.instance), http_world, "zj-platform")


def _rows(world: World) -> int:
    with db.session_scope(world.instance.engine) as session:
        return int(session.exec(select(func.count()).select_from(IssuedCertificate)).one())


SEAL: dict[str, Any] = {
    "ca_id": "region-330000-sm2",
    "profile": "seal",
    "subject": {
        "province": "浙江省",
        "organization": "杭州示例科技有限公司",
        "common_name": "合同专用章",
        "serial_number": ZJ_ORG_USCC,
    },
}


def test_list_and_download(client: AuthClient) -> None:
    cas = client.get("/ca").json()
    assert {c["id"] for c in cas} >= {"root-sm2", "root-rsa", "region-330000-sm2", "region-440000-rsa"}
    der = client.get("/ca/root-sm2.cer")
    assert der.status_code == 200 and der.headers["content-type"] == "application/pkix-cert"
    cert = cx.load_certificate(der.content)
    assert cx.fingerprint(cert) == next(c for c in cas if c["id"] == "root-sm2")["fingerprint"]
    again = client.get("/ca/root-sm2.cer", headers={"If-None-Match": der.headers["etag"]})
    assert again.status_code == 304
    pem = client.get("/ca/root-sm2.pem")
    assert pem.text.startswith("-----BEGIN CERTIFICATE-----")
    crl = client.get("/crl/region-330000-sm2.crl")
    assert crl.headers["content-type"] == "application/pkix-crl"
    assert "max-age" in crl.headers["cache-control"]
    load_crl(crl.content)


def test_issue_show_revoke(client: AuthClient, http_world: World) -> None:
    created = client.post("/certificates", json=SEAL)
    assert created.status_code == 201, created.text
    body = created.json()
    cert = cx.load_certificate(body["certificate_pem"].encode())
    assert body["key_id"] and body["status"] == "valid" and len(body["chain_pem"]) == 2
    assert client.get(f"/certificates/{body['serial']}").json()["fingerprint"] == cx.fingerprint(cert)
    listed = client.get("/certificates", params={"ca_id": "region-330000-sm2", "limit": 1000}).json()
    assert body["serial"] in {c["serial"] for c in listed}
    revoked = client.post(f"/certificates/{body['serial']}/revoke", json={"reason": "key_compromise"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    (point,) = cert.crl_distribution_points_value[0]["distribution_point"].native  # its partition's CRL
    assert point.startswith(f"{http_world.base_url}/crl/region-330000-sm2/") and point.endswith(".crl")
    served = client.get(point.removeprefix(http_world.base_url))
    assert served.status_code == 200 and served.headers["content-type"] == "application/pkix-crl"
    crl = load_crl(served.content)
    assert crl.crl_number_value.native == revoked.json()["crl_number"]
    assert crl_format.idp_uri(crl) == point
    delta = client.get(point.removeprefix(http_world.base_url).removesuffix(".crl") + ".delta.crl")
    assert delta.status_code == 200 and load_crl(delta.content).delta_crl_indicator_value is not None
    assert client.get("/crl/region-330000-sm2/999.crl").status_code == 404
    assert client.get("/crl/region-330000-sm2/0.crl").status_code == 422
    assert int(body["serial"], 16) in {
        e["user_certificate"].native for e in crl["tbs_cert_list"]["revoked_certificates"]
    }
    again = client.post(f"/certificates/{body['serial']}/revoke", json={"reason": "key_compromise"})
    assert again.status_code == 409 and again.headers["content-type"].startswith(PROBLEM_JSON)


def test_idempotent_issue(client: AuthClient, http_world: World) -> None:
    request = {**SEAL, "request_id": "req-0001"}
    first = client.post("/certificates", json=request).json()
    before = _rows(http_world)
    second = client.post("/certificates", json=request).json()
    assert second["serial"] == first["serial"] and _rows(http_world) == before


def test_issue_from_csr(client: AuthClient) -> None:
    key = generate_private_key("sm2")
    csr = make_csr(key, DN(province="浙江省", organization="杭州示例科技有限公司", common_name="x")).decode()
    body = client.post("/certificates", json={**SEAL, "csr": csr}).json()
    assert body["key_id"] is None
    assert cx.public_key(cx.load_certificate(body["certificate_pem"].encode())) == key.public_key


def test_enrol_from_csr(client: AuthClient) -> None:
    key = generate_private_key("rsa-3072")
    csr = make_csr(key, DN(province="江苏省", common_name="江苏")).decode()
    response = client.as_("national-ops").post(
        "/ca/enrol", json={"kind": "region", "code": "320000", "family": "RSA", "csr": csr}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ca"]["id"] == "region-320000-rsa" and body["ca"]["key_held_by_huren"] is False
    assert cx.public_key(cx.load_certificate(body["certificate_pem"].encode())) == key.public_key


BAD = {
    "unknown profile": ("/certificates", {**SEAL, "profile": "wizard"}, 400, "E1000", "zj-platform"),
    "unknown CA": ("/certificates", {**SEAL, "ca_id": "region-999999-sm2"}, 404, "E1003", "national-ops"),
    "outside constraints": (
        "/certificates",
        {**SEAL, "subject": {**SEAL["subject"], "province": "广东省"}},
        400,
        "E1000",
        "zj-platform",
    ),
    "bad USCC": (
        "/certificates",
        {**SEAL, "subject": {**SEAL["subject"], "serial_number": "123"}},
        400,
        "E1000",
        "zj-platform",
    ),
    "garbage CSR": (
        "/certificates",
        {**SEAL, "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"},
        400,
        "E1001",
        "zj-platform",
    ),
    "bad PoP": (
        "/certificates",
        {**SEAL, "csr": make_csr(generate_private_key("sm2"), DN(common_name="x"), tamper=True).decode()},
        422,
        "E1103",
        "zj-platform",
    ),
    "schema violation": ("/certificates", {"ca_id": 5}, 422, "E1000", "zj-platform"),
    "validity out of range": ("/certificates", {**SEAL, "validity_days": 0}, 422, "E1000", "zj-platform"),
    "root issues EE": ("/certificates", {**SEAL, "ca_id": "root-sm2"}, 400, "E1000", "national-ops"),
    "enrol bad region": ("/ca/enrol", {"kind": "region", "code": "12345"}, 400, "E1000", "national-ops"),
    "enrol bad kind": ("/ca/enrol", {"kind": "planet", "code": "330000"}, 422, "E1000", "national-ops"),
    "enrol existing": (
        "/ca/enrol",
        {"kind": "region", "code": "330000", "family": "SM2"},
        409,
        "E1004",
        "national-ops",
    ),
    "revoke unknown": ("/certificates/abcdef/revoke", {"reason": "superseded"}, 404, "E1003", "national-ops"),
    "revoke bad reason": ("/certificates/abcdef/revoke", {"reason": "whim"}, 400, "E1000", "national-ops"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_are_problems_and_change_nothing(client: AuthClient, http_world: World, case: str) -> None:
    path, payload, status, code, actor = BAD[case]
    before = _rows(http_world)
    response = client.as_(actor).post(path, json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["code"] == code and body["detail"]
    assert _rows(http_world) == before


def test_unknown_downloads(client: AuthClient) -> None:
    for path in ("/ca/nope.cer", "/crl/nope.crl"):
        response = client.anonymous.get(path)
        assert response.status_code == 404 and response.json()["code"] == "E1003"
    assert client.as_("national-ops").get("/certificates/00ff").status_code == 404
    # a region cannot probe which serials exist: unknown and foreign certificates look the same (404)
    assert client.get("/certificates/00ff").status_code == 404


def test_openapi_lists_routes(client: AuthClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/ca",
        "/ca/{ca_id}.cer",
        "/crl/{ca_id}.crl",
        "/ca/enrol",
        "/certificates",
        "/certificates/{serial}/revoke",
    ):
        assert path in paths


def test_published_directory(http_world: World) -> None:
    public: Path = http_world.home / "public"
    assert (public / "ca" / "root-sm2.cer").exists()
    assert (public / "crl" / "region-330000-rsa.crl").exists()


def test_certificate_list_pages_follow_link_headers(client: AuthClient, http_world: World) -> None:
    """Every page but the last names the next one in an RFC 8288 Link; following them visits every row once."""
    import re

    from trust.service import ca as ca_service

    for n in range(4):
        ca_service.issue(
            http_world.instance,
            ca_id="region-330000-sm2",
            profile="seal",
            key_family="SM2",
            subject=DN(
                province="浙江省", organization=f"分页测试{n}有限公司", common_name="公章", serial_number=ZJ_ORG_USCC
            ),
        )
    everything = client.get("/certificates", params={"ca_id": "region-330000-sm2", "limit": 1000})
    assert everything.status_code == 200 and "link" not in everything.headers
    expected = [c["serial"] for c in everything.json()]
    assert len(expected) >= 3
    seen: list[str] = []
    url: str | None = "/certificates?ca_id=region-330000-sm2&limit=2"
    while url is not None:
        page = client.get(url)
        assert page.status_code == 200, page.text
        seen.extend(c["serial"] for c in page.json())
        link = page.headers.get("link")
        if link is None:
            url = None
        else:
            match = re.fullmatch(r'<(/certificates\?[^>]*)>; rel="next"', link)
            assert match, link
            assert "ca_id=region-330000-sm2" in match.group(1)  # the other query parameters are kept
            url = match.group(1)
    assert seen == expected
