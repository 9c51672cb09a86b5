"""Issue 11 through the service's edges (HTTP and CLI): responder certificates only for operators (item 2), crafted
inputs end in a report or a clean input error (item 7)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from ca.models import IssuedCertificate
from tests.support.http import AuthClient
from tests.support.world import World, copy_world
from trust import db
from trust.crypto.algorithms import ECDSA_SHA256
from trust.crypto.keys import generate_private_key
from trust.formats import ocsp as ocsp_format
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.http.app import create_app
from trust.service import ca as service
from trust.service import ocsp as responder
from trust.service import trust as trust_service


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("scope-hardening") / "home")


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, None)


def _issued(world: World) -> int:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(IssuedCertificate)).one())


OCSP_REQUEST: dict[str, Any] = {
    "ca_id": "region-330000-sm2",
    "profile": "ocsp",
    "subject": {"province": "浙江省", "organization": "浙江省政务服务平台", "common_name": "自建OCSP"},
}


def test_a_region_cannot_obtain_a_responder_certificate(world: World, client: AuthClient) -> None:
    before = _issued(world)
    response = client.as_("zj-platform").post("/certificates", json=OCSP_REQUEST)
    assert response.status_code == 403, response.text
    assert "designated responder" in response.json()["detail"]
    assert _issued(world) == before
    # the same region may still issue what regions issue
    ok = dict(OCSP_REQUEST, profile="tls-client", subject=dict(OCSP_REQUEST["subject"], common_name="平台客户端"))
    assert client.as_("zj-platform").post("/certificates", json=ok).status_code == 201


def test_the_operator_may(world: World, client: AuthClient) -> None:
    body = dict(
        OCSP_REQUEST,
        ca_id="national-rsa",
        subject={"organization": "国家政务服务平台", "common_name": "国家OCSP备用"},
        key_family="RSA",
    )
    assert client.as_("national-ops").post("/certificates", json=body).status_code == 201


# --- item 7: crafted inputs ----------------------------------------------------------------------------------


def _ecdsa_under_rsa_ca(world: World, key=None) -> bytes:
    """An ECDSA-signed certificate naming an RSA region CA as its issuer (the crash input of issue 11, item 7)."""
    rsa_ca = cx.load_certificate(service.ca_certificate_der(world.instance, "region-330000-rsa"))
    key = key or generate_private_key("ec-p256")
    now = datetime.now(UTC)
    return (
        cx.CertificateBuilder()
        .subject(DN(province="浙江省", common_name="伪造").to_asn1())
        .issuer(rsa_ca.subject)
        .public_key(key.public_key)
        .serial_number(0x1234567890ABCDEF1234)
        .validity(now - timedelta(hours=1), now + timedelta(days=1))
        .add_extension(cx.authority_key_identifier(cx.public_key(rsa_ca)))
        .sign(key.signer(ECDSA_SHA256))
        .dump()
    )


def _token_with_forged_x5c(world: World) -> str:
    """A licence token signed by the forged certificate's key, the forged certificate in ``x5c``."""
    from trust.formats import license_token

    key = generate_private_key("ec-p256")
    forged = _ecdsa_under_rsa_ca(world, key)
    now = int(datetime.now(UTC).timestamp())
    body = {"iss": "forged", "iat": now, "nbf": now, "license": {"id": "x", "type": "x"}}
    return license_token.sign(body, key.signer(ECDSA_SHA256), kid="forged", x5c=[forged])


def _sm2_ocsp(world: World) -> tuple[bytes, bytes]:
    """A certificate of the SM2 region CA and Huren's own (SM2, delegated responder) OCSP response about it."""
    result = service.issue(
        world.instance,
        ca_id="region-330000-sm2",
        profile="tls-client",
        subject=DN(province="浙江省", organization="浙江省政务服务平台", common_name="OCSP对象"),
    )
    issuer = cx.load_certificate(service.ca_certificate_der(world.instance, "region-330000-sm2"))
    cert_id = ocsp_format.CertId.for_certificate(issuer, result.certificate.serial_number, "sha256")
    return result.certificate.dump(), responder.respond(world.instance, ocsp_format.build_request([cert_id]))


def test_crafted_inputs_through_the_library(world: World) -> None:
    from verifier import api, context

    bundle = trust_service.export_bundle(world.instance).read_bytes()
    root = cx.load_certificate(service.ca_certificate_der(world.instance, "root-rsa"))
    ctx = context.build(bundle=bundle, pins=[cx.fingerprint(root)])
    report = api.verify(_ecdsa_under_rsa_ca(world), ctx)
    assert report.indication.value == "TOTAL_FAILED", report.to_text()
    assert report.sub_indication is not None and report.sub_indication.value == "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    token = api.verify(_token_with_forged_x5c(world).encode(), ctx)
    assert token.indication.value in ("TOTAL_FAILED", "INDETERMINATE"), token.to_text()
    cert, response = _sm2_ocsp(world)
    for mode in ("available", "required"):
        ctx = context.build(bundle=bundle, pins=[cx.fingerprint(root)], ocsps=[response], revocation=mode)
        assert api.verify(cert, ctx).passed


def test_crafted_inputs_through_the_cli(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trust.cli.main import main

    bundle = trust_service.export_bundle(world.instance)
    pin = cx.fingerprint(cx.load_certificate(service.ca_certificate_der(world.instance, "root-sm2")))
    forged = tmp_path / "forged.der"
    forged.write_bytes(_ecdsa_under_rsa_ca(world))
    assert main(["verify", str(forged), "--bundle", str(bundle), "--pin", pin]) == 1
    assert "TOTAL-FAILED / CERTIFICATE_CHAIN_GENERAL_FAILURE" in capsys.readouterr().out
    cert, response = _sm2_ocsp(world)
    (tmp_path / "cert.der").write_bytes(cert)
    (tmp_path / "sm2.ocsp").write_bytes(response)
    args = [
        "verify",
        str(tmp_path / "cert.der"),
        "--bundle",
        str(bundle),
        "--pin",
        pin,
        "--ocsp",
        str(tmp_path / "sm2.ocsp"),
    ]
    assert main(args) == 0, capsys.readouterr()
    assert main([*args, "--revocation", "required"]) == 0
    (tmp_path / "token.jwt").write_text(_token_with_forged_x5c(world))
    assert main(["verify", str(tmp_path / "token.jwt"), "--bundle", str(bundle), "--pin", pin]) in (1, 2)
    assert "Traceback" not in capsys.readouterr().err
    # an OCSP response that says nothing usable ("unauthorized") is ignored, never a crash
    (tmp_path / "junk.ocsp").write_bytes(b"\x30\x03\x0a\x01\x06")
    assert main([*args[:-2], "--ocsp", str(tmp_path / "junk.ocsp")]) == 0


def test_crafted_inputs_through_http(world: World, client: AuthClient) -> None:
    forged = _ecdsa_under_rsa_ca(world)
    response = client.anonymous.post("/verify", json={"input": base64.b64encode(forged).decode()})
    assert response.status_code == 200, response.text
    assert response.json()["indication"] == "TOTAL_FAILED"
    token = _token_with_forged_x5c(world).encode()
    response = client.anonymous.post("/verify", json={"input": base64.b64encode(token).decode()})
    assert response.status_code == 200, response.text
    assert response.json()["indication"] in ("TOTAL_FAILED", "INDETERMINATE")
    # (POST /verify takes no OCSP responses: the SM2 response is shown through the library and the CLI)


def test_an_unexpected_exception_is_a_message_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last line of defence of the CLI: a bug ends in one line and exit 4, never a traceback or exit 1."""
    from trust.cli.main import main
    from verifier import api

    def broken(*args: object, **kwargs: object) -> None:
        raise AssertionError("an invariant that does not hold")

    monkeypatch.setattr(api, "verify", broken)
    monkeypatch.delenv("TRUST_DEBUG", raising=False)
    (tmp_path / "x.der").write_bytes(b"0")
    assert main(["verify", str(tmp_path / "x.der")]) == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("E1007 internal: unexpected AssertionError")
