"""Trust list, bundle, pins, status changes and POST /verify over HTTP."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conftest import REPO
from tests.support.http import AuthClient
from tests.support.world import World, copy_world
from trust.formats import bundle as bundle_format
from trust.formats import trustlist as tl
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as service


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("trust-routes") / "home")


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


def test_the_bundle_is_gzip_compressed_for_clients_that_accept_it(
    client: AuthClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /bundle (tens of MB at national scale, issue 15): a client whose Accept-Encoding admits gzip gets the gzip
    representation, with its own strong ETag and Vary on both; the ETag and the gzip form are made once per bundle,
    not per request."""
    from trust.http import caching

    plain = client.get("/bundle", headers={"Accept-Encoding": "identity"})
    packed = client.get("/bundle", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # decoded by the client
    assert packed.num_bytes_downloaded < len(plain.content) * 0.8  # base64 of DER: about a half to a third
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    assert plain.headers["etag"] == caching.etag_for(plain.content) != packed.headers["etag"]
    again = {"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]}
    assert client.get("/bundle", headers=again).status_code == 304
    other = {"Accept-Encoding": "identity", "If-None-Match": packed.headers["etag"]}
    assert client.get("/bundle", headers=other).status_code == 200
    for value in ("gzip;q=0", "br", "*;q=0", "gzip;q=abc", "gzip;q=2", "identity", "br, *;q=0"):
        assert "content-encoding" not in client.get("/bundle", headers={"Accept-Encoding": value}).headers, value
    for value in ("GZIP", "x-gzip", "*", "br;q=1, gzip;q=0.1", "deflate, gzip ; q=0.5"):
        assert client.get("/bundle", headers={"Accept-Encoding": value}).headers["content-encoding"] == "gzip", value
    hashed: list[int] = []
    real = caching.etag_for

    def counted(body: bytes) -> str:
        hashed.append(len(body))
        return real(body)

    monkeypatch.setattr(caching, "etag_for", counted)
    for value in ("identity", "gzip", "identity", "gzip"):
        assert client.get("/bundle", headers={"Accept-Encoding": value}).status_code == 200
    assert hashed == []  # the same bundle: its validators and gzip form were kept


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


# --- POST /verify: the file itself, multipart, the JSON form (issue 13 item 5) -------------------------------------

BUSINESS = "11100000000013338W101"


@pytest.fixture(scope="module")
def licence(world: World) -> Any:
    from licenses import samples
    from trust.service import licenses

    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省市场监督管理局",
        code=make_uscc("11330000002482226"),
        license_types=[BUSINESS],
    )
    return licenses.issue(world.instance, issuer_id=issuer.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))


def _post(client: AuthClient, body: bytes, media: str, **query: str) -> Any:
    return client.anonymous.post("/verify", content=body, headers={"Content-Type": media}, params=query)


def test_verify_takes_the_file_itself(client: AuthClient, licence: Any) -> None:
    """A token as application/jwt, a photo of its QR code as image/jpeg and image/png, a PDF as application/pdf, a
    certificate as application/pkix-cert — the options in the query string; the report names the bundle and trust
    list it used."""
    from tests.support import photos
    from tests.verifier.test_report_schema import VALIDATOR
    from trust.formats import license_token as token

    report = _post(client, licence.record.token.encode(), "application/jwt").json()
    assert (report["kind"], report["indication"]) == ("license-token", "TOTAL_PASSED"), report
    assert VALIDATOR.is_valid(report), next(VALIDATOR.iter_errors(report)).message
    sequence = tl.verify(client.get("/trustlist").content, _pins(client))[0].sequence
    assert report["source"]["trust_list"]["sequence"] == sequence
    assert len(report["source"]["bundle"]["sha256"]) == 64 and report["source"]["status_lists"] >= 1
    qr = token.to_qr(licence.qr_token)
    for media, image_format in (("image/jpeg", "JPEG"), ("image/png", "PNG")):
        photo = photos.photo(qr, image_format=image_format)
        report = _post(client, photo, media, at="2030-01-01T09:00:00+08:00").json()
        assert report["kind"] == "license-qr" and report["checks"][0]["name"] == "image", report
        assert report["validation_time"] == "2030-01-01T01:00:00+00:00"
    report = _post(client, photos.photo(qr), "image/jpeg").json()
    assert report["indication"] == "TOTAL_PASSED", report
    contract = (REPO / "docs" / "examples" / "contract.pdf").read_bytes()
    unsigned = _post(client, contract, "application/pdf").json()
    assert VALIDATOR.is_valid(unsigned) and VALIDATOR.is_valid(report)
    assert (unsigned["kind"], unsigned["indication"], unsigned["sub_indication"]) == (
        "pdf",
        "TOTAL_FAILED",
        "FORMAT_FAILURE",
    )


def test_verify_takes_a_multipart_form(client: AuthClient, licence: Any) -> None:
    from tests.support import photos
    from trust.formats import license_token as token

    photo = photos.photo(token.to_qr(licence.qr_token))
    files = {"input": ("licence-qr.jpg", photo, "image/jpeg")}
    answer = client.anonymous.post("/verify", files=files, data={"revocation": "available"})
    assert answer.status_code == 200 and answer.json()["indication"] == "TOTAL_PASSED", answer.text
    assert client.anonymous.post("/verify", files=files, params={"purpose": "auto"}).status_code == 200
    for files_, data, query, words in (
        (files, {"purpose": "auto"}, {"purpose": "seal"}, "both in the form and in the query string"),
        ({"other": ("x.jpg", photo, "image/jpeg")}, {}, {}, "'other' is not expected"),
        (files, {"colour": "blue"}, {}, "'colour' is unknown"),
        ({"data": ("d.bin", b"x", "application/octet-stream")}, {}, {}, "no file part named 'input'"),
    ):
        refused = client.anonymous.post("/verify", files=files_, data=data, params=query)
        assert refused.status_code == 400 and words in refused.json()["detail"], refused.text


def test_verify_refuses_what_it_does_not_take(client: AuthClient, licence: Any) -> None:
    """Another media type is 415; a body over its type's limit 413; an empty one, options in the query string of a
    JSON body and a validation time without a time zone (JSON or query) 400 — with the same codes as the CLI."""
    wrong = _post(client, b"<licence/>", "application/xml")
    assert wrong.status_code == 415 and wrong.json()["code"] == "E1008" and "image/png" in wrong.json()["detail"]
    big = _post(client, b"e" * (1024 * 1024 + 1), "application/jwt")
    assert big.status_code == 413 and big.json()["code"] == "E1002", big.text
    empty = _post(client, b"  \n", "application/jwt")
    assert empty.status_code == 400 and "the input is empty" in empty.json()["detail"]
    naive = _post(client, licence.record.token.encode(), "application/jwt", at="2030-01-01T09:00:00")
    assert naive.status_code == 400 and naive.json()["code"] == "E1000" and "no time zone" in naive.json()["detail"]
    body = {"input": base64.b64encode(licence.record.token.encode()).decode(), "at": "2030-01-01T09:00:00"}
    naive_json = client.anonymous.post("/verify", json=body)
    assert naive_json.status_code == 400 and "no time zone" in naive_json.json()["detail"], naive_json.text
    both = client.anonymous.post("/verify", json={"input": body["input"]}, params={"purpose": "seal"})
    assert both.status_code == 400 and "the options go in the body" in both.json()["detail"]


def test_the_openapi_document_lists_every_body_of_verify(client: AuthClient) -> None:
    body = client.get("/openapi.json").json()["paths"]["/verify"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "application/pdf", "application/jwt", "image/png"} <= set(body)
    assert "input" in body["application/json"]["schema"]["properties"]


def test_the_query_options_of_verify_are_read_as_query_parameters(client: AuthClient, licence: Any) -> None:
    """The options of a raw body in the query string (read in one step since issue 15 item 1, as FastAPI read the
    eight parameters before): ``true``/``1`` and numbers from text, the last of a repeated option, unknown
    parameters ignored, a bad value a 422 problem naming ``query`` and the option; the OpenAPI document lists them."""
    data = licence.record.token.encode()
    strict = _post(client, data, "application/jwt", strict="true", max_depth="1", unknown="x")
    assert strict.json()["indication"] == "TOTAL_PASSED", strict.text
    for name, value in (("max_depth", "10"), ("max_depth", "one"), ("strict", "maybe"), ("revocation", "never")):
        bad = _post(client, data, "application/jwt", **{name: value})
        assert bad.status_code == 422 and bad.json()["code"] == "E1000", bad.text
        assert bad.json()["evidence"]["errors"][0]["loc"] == ["query", name], bad.text
    long = _post(client, data, "application/jwt", purpose="p" * 33)
    assert long.status_code == 422 and long.json()["evidence"]["errors"][0]["loc"] == ["query", "purpose"]
    repeated = client.anonymous.post(
        "/verify",
        content=data,
        headers={"Content-Type": "application/jwt"},
        params=[("at", "2030-01-01T09:00:00"), ("at", "2030-01-01T09:00:00+08:00")],
    )
    assert repeated.json()["validation_time"] == "2030-01-01T01:00:00+00:00", repeated.text
    parameters = client.get("/openapi.json").json()["paths"]["/verify"]["post"]["parameters"]
    assert [p["name"] for p in parameters] == [
        "at",
        "purpose",
        "strict",
        "max_depth",
        "revocation",
        "kb_nonce",
        "kb_audience",
        "require_transparency",
    ]
    assert all(p["in"] == "query" and not p["required"] and p["description"] for p in parameters)
