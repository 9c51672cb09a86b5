"""Seal registry over HTTP and the CLI: make, read, suspend, reinstate, revoke; bad input changes nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlmodel import func, select

from seal.models import SealRecord
from tests.support.http import AuthClient
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.cli.main import main
from trust.formats import ses
from trust.http.app import create_app

PERSON = "330106199001010018"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("seal-routes") / "home")


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, "zj-platform")


def _count(world: World) -> int:
    with db.session_scope(world.instance.engine) as session:
        return int(session.exec(select(func.count()).select_from(SealRecord)).one())


ORG: dict[str, Any] = {
    "ca_id": "region-330000-sm2",
    "holder_name": "杭州示例科技有限公司",
    "holder_code": ZJ_ORG_USCC,
    "seal_name": "合同专用章",
}


def test_make_read_and_lifecycle(client: AuthClient) -> None:
    made = client.post("/seals", json={**ORG, "dual": True})
    assert made.status_code == 201, made.text
    body = made.json()
    parsed = ses.parse_seal(base64.b64decode(body["seal_der"]))
    assert parsed.version == 4 and parsed.es_id == body["es_id"] and parsed.name == "合同专用章"
    assert len(parsed.cert_list) == 2 and body["rsa_cert_serial"]
    assert client.get(f"/seals/{body['es_id']}.esl").content == base64.b64decode(body["seal_der"])
    assert client.get(f"/seals/{body['es_id']}").json()["status"] == "active"
    assert body["es_id"] in {
        s["es_id"]
        for s in client.get("/seals", params={"holder_code": ZJ_ORG_USCC, "ca_id": "region-330000-sm2"}).json()
    }
    for status in ("suspended", "active", "revoked"):
        response = client.post(f"/seals/{body['es_id']}/status", json={"status": status, "reason": "测试"})
        assert response.status_code == 200 and response.json()["status"] == status
    again = client.post(f"/seals/{body['es_id']}/status", json={"status": "active"})
    assert again.status_code == 409 and "revoked for good" in again.json()["detail"]
    person = client.post(
        "/seals",
        json={
            "ca_id": "region-330000-sm2",
            "holder_kind": "person",
            "holder_name": "张三",
            "holder_code": PERSON,
            "seal_name": "个人签章",
        },
    )
    assert person.status_code == 201, person.text
    assert ses.parse_seal(base64.b64decode(person.json()["seal_der"])).picture.width_mm == 20


def test_idempotent_make(client: AuthClient, world: World) -> None:
    first = client.post("/seals", json={**ORG, "request_id": "seal-req-1"}).json()
    before = _count(world)
    second = client.post("/seals", json={**ORG, "request_id": "seal-req-1"}).json()
    assert first["es_id"] == second["es_id"] and _count(world) == before


BAD = {
    "bad USCC": ({**ORG, "holder_code": "123"}, 400),
    "bad citizen ID": ({**ORG, "holder_kind": "person", "holder_code": "330106199001010011"}, 400),
    "RSA CA": ({**ORG, "ca_id": "region-330000-rsa"}, 400),
    "national CA": ({**ORG, "ca_id": "national-sm2"}, 403),  # policy: only the client's own region CA
    "unknown CA": ({**ORG, "ca_id": "region-999999-sm2"}, 404),  # CAs are public (GET /ca): no secret to keep
    "empty seal name": ({**ORG, "seal_name": ""}, 400),
    "name too long for the picture (schema)": ({**ORG, "holder_name": "很" * 41}, 422),
    "person's name too long for the picture": (
        {**ORG, "holder_kind": "person", "holder_code": PERSON, "holder_name": "欧阳小明天"},
        400,
    ),
    "schema": ({"ca_id": 1}, 422),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests(client: AuthClient, world: World, case: str) -> None:
    payload, status = BAD[case]
    before = _count(world)
    keys_before = len(list((world.home / "keys").glob("*.key.pem")))
    response = client.post("/seals", json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _count(world) == before
    assert len(list((world.home / "keys").glob("*.key.pem"))) == keys_before
    assert client.get("/seals/nope").status_code == 404  # as for another region's seal: it cannot probe
    assert client.as_("national-ops").get("/seals/nope").status_code == 404


def test_cli(world: World, tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.world import PASSPHRASE

    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    h = ["--home", str(world.home)]
    out_file = tmp_path / "seal.esl"
    assert (
        main(
            [
                "seal",
                "create",
                "region-440000-sm2",
                "--holder",
                "广州示例有限公司",
                "--code",
                ses_code(),
                "--name",
                "公章",
                "--out",
                str(out_file),
                *h,
            ]
        )
        == 0
    )
    es_id = capsys.readouterr().out.split()[1]
    assert ses.parse_seal(out_file.read_bytes()).es_id == es_id
    assert main(["seal", "suspend", es_id, "--reason", "x", *h]) == 0
    assert main(["seal", "show", es_id, *h]) == 0
    assert "suspended" in capsys.readouterr().out
    assert main(["seal", "create", "region-440000-sm2", "--holder", "x", "--code", "bad", *h]) == 3


def ses_code() -> str:
    from trust.formats.names import make_uscc

    return make_uscc("91440101MA5CXXX00")


def test_sign_hash_route_and_cli(
    client: AuthClient, world: World, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    from trust.crypto.sm3 import sm3
    from trust.formats import ses as ses_format

    made = client.post("/seals", json=ORG).json()
    document = "互认文件".encode() * 10
    response = client.post(
        f"/seals/{made['es_id']}/signatures",
        json={"data_hash": sm3(document).hex(), "property_info": "Doc_0/Signs/Sign_0/Signature.xml"},
    )
    assert response.status_code == 201, response.text
    record = ses_format.parse_signature(response.content)
    assert record.data_hash == sm3(document) and record.time_stamp is not None
    assert record.seal.es_id == made["es_id"]
    for bad in (
        {"property_info": "x"},
        {"data_hash": "zz", "property_info": "x"},
        {"data_hash": " " + sm3(document).hex(), "property_info": "x"},  # bytes.fromhex took the space
        {"data_hash": sm3(document).hex(), "data": "AA==", "property_info": "x"},
    ):
        assert client.post(f"/seals/{made['es_id']}/signatures", json=bad).status_code == 400
    assert client.post("/seals/nope/signatures", json={"data_hash": "00" * 32, "property_info": "x"}).status_code == 404
    from tests.support.world import PASSPHRASE

    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    data = tmp_path / "doc.bin"
    data.write_bytes(document)
    out = tmp_path / "sig.der"
    assert (
        main(
            [
                "seal",
                "sign",
                made["es_id"],
                "--data",
                str(data),
                "--out",
                str(out),
                "--property-info",
                "doc",
                "--home",
                str(world.home),
            ]
        )
        == 0
    )
    assert ses_format.parse_signature(out.read_bytes()).data_hash == sm3(document)
    assert hashlib.sha256(out.read_bytes()).hexdigest()


def _verify_pdf(world: World, pdf: bytes):
    import json

    from trust.service import trust
    from verifier import api, context

    bundle = json.dumps(trust.build_bundle(world.instance)).encode()
    return api.verify(pdf, context.build(bundle=bundle, pins=[trust.root_fingerprints(world.instance)["SM2"]]))


def test_seal_pdf_route(client: AuthClient, world: World) -> None:
    from tests.seal.conftest import sample_pdf
    from verifier.report import Indication

    es_id = client.post("/seals", json={**ORG, "dual": True}).json()["es_id"]
    original = sample_pdf(2)
    pdf_type = {"content-type": "application/pdf"}
    invisible = client.post(f"/seals/{es_id}/pdf", content=original, headers=pdf_type)
    assert invisible.status_code == 200, invisible.text
    assert invisible.headers["content-type"] == "application/pdf"
    assert invisible.content.startswith(original)  # an incremental update: the original bytes are kept
    report = _verify_pdf(world, invisible.content)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    visible = client.post(
        f"/seals/{es_id}/pdf",
        content=original,
        headers=pdf_type,
        params={"level": "B-LT", "family": "dual", "page": 1, "box": "400,60,520,180", "reason": "测试"},
    )
    assert visible.status_code == 200, visible.text
    report = _verify_pdf(world, visible.content)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert len(report.children) == 2
    # bad requests: specific problems, nothing sealed
    wrong_type = client.post(f"/seals/{es_id}/pdf", content=original, headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.headers["content-type"].startswith("application/problem+json")
    for params, status, words in (
        ({"box": "1,2,3"}, 400, "four numbers"),
        ({"box": "nan,60,520,180"}, 400, "finite"),  # the same parser as the CLI's --box (seal.pdf.parse_box)
        ({"level": "B-X"}, 422, ""),
        ({"anchor": "不存在的文字"}, 400, "不存在的文字"),
    ):
        response = client.post(f"/seals/{es_id}/pdf", content=original, headers=pdf_type, params=params)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"], response.text
    broken = client.post(f"/seals/{es_id}/pdf", content=original[: len(original) // 2], headers=pdf_type)
    assert broken.status_code == 400 and broken.json()["code"], broken.text
    assert client.post("/seals/nope/pdf", content=original, headers=pdf_type).status_code == 404


def test_seal_pdf_cli(world: World, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.seal.conftest import sample_pdf
    from tests.support.world import PASSPHRASE
    from verifier.report import Indication

    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    from trust.service import seals

    es_id = seals.create(world.instance, holder_kind="organization", **ORG).es_id
    source = tmp_path / "contract.pdf"
    source.write_bytes(sample_pdf(1))
    out = tmp_path / "contract-sealed.pdf"
    h = ["--home", str(world.home)]
    assert main(["seal", "pdf", es_id, str(source), "--out", str(out), "--page", "1", *h]) == 0
    assert _verify_pdf(world, out.read_bytes()).indication is Indication.TOTAL_PASSED
    assert main(["seal", "pdf", es_id, str(source), "--out", str(source), *h]) == 3
    assert main(["seal", "pdf", es_id, str(source), "--out", str(out), "--box", "a,b", *h]) == 3
    assert main(["seal", "pdf", es_id, str(source), "--out", str(out), "--level", "B-Q", *h]) == 3
