"""``trust ca issue-batch``: bulk certificate issuance from a JSON Lines file — good lines issued and written with
their chains, every bad line reported with its line number and code while the others go on, a rerun issuing nothing
twice, and a file that is not JSON Lines refused before anything is written."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from sqlmodel import func, select

from ca.models import IssuedCertificate
from tests.support.csr import make_csr
from tests.support.world import PASSPHRASE, World, copy_world
from trust import db
from trust.cli.main import main
from trust.crypto import pem as pem_codec
from trust.crypto.keys import generate_private_key
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import ca as service

CA_ID = "region-330000-sm2"
PERSON = "330106199001010018"


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """A copy of the session's world, and the environment the CLI opens it with."""
    copied = copy_world(world_template, tmp_path_factory.mktemp("ca-batch") / "home")
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", copied.base_url)
    return copied


def _count(world: World) -> int:
    with db.session_scope(world.instance.engine) as session:
        return int(session.exec(select(func.count()).select_from(IssuedCertificate)).one())


def _line(request_id: str, subject: dict[str, str], **extra: object) -> str:
    return json.dumps({"request_id": request_id, "profile": "person-identity", "subject": subject, **extra})


def test_issue_batch_issues_reports_and_resumes(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    person = {"province": "浙江省", "common_name": "张三", "serial_number": PERSON}
    name = DN(province="浙江省", common_name="张三", serial_number=PERSON)
    key = generate_private_key("sm2")
    pem_csr = make_csr(key, name)
    der_csr = base64.b64encode(pem_codec.read(pem_csr, "CSR", ("CERTIFICATE REQUEST",))[1]).decode()
    forged = make_csr(key, name, tamper=True)
    lines = [
        _line("b-1", person, csr=pem_csr.decode()),  # 1: PEM CSR
        _line("b-2", person, csr=der_csr),  # 2: base64 DER CSR
        "{not json",  # 3
        _line("b-4", person),  # 4: no CSR: Huren generates the key
        _line("b-5", {"province": "广东省", "common_name": "越界", "serial_number": PERSON}),  # 5: outside the CA
        _line("b-6", person, csr=forged.decode()),  # 6: the CSR's signature does not verify
        _line("b-7", person, colour="blue"),  # 7: unknown field
        json.dumps({"profile": "person-identity", "subject": person}),  # 8: no request id
        "x" * (300 * 1024),  # 9: a line over 256 KiB
        _line("b-1", person, csr=pem_csr.decode()),  # 10: the request id of line 1 again
        "",
        _line("b-12", person, csr="@@@ not base64"),  # 12: not a CSR
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, report = tmp_path / "out", tmp_path / "errors.jsonl"
    args = ["ca", "issue-batch", str(batch), CA_ID, "--out", str(out), "--report", str(report), "--chunk", "3"]
    before = _count(world)
    assert main([*args, "--home", str(world.home)]) == 0
    printed = capsys.readouterr().out
    assert "issued 3, already issued 1, errors 7" in printed, printed
    assert _count(world) == before + 3
    errors = {e["line"]: e for e in map(json.loads, report.read_text(encoding="utf-8").splitlines())}
    assert sorted(errors) == [3, 5, 6, 7, 8, 9, 12]
    assert errors[3]["code"] == "E1001" and errors[9]["code"] == "E1002"
    assert "outside the name constraints" in errors[5]["message"] and errors[5]["request_id"] == "b-5"
    assert "colour" in errors[7]["message"] and "request_id" in errors[8]["message"]
    assert errors[6]["code"] == "E1103" and "proof of possession" in errors[6]["message"]
    assert errors[12]["code"] == "E1000" and "neither PEM nor base64" in errors[12]["message"]
    index = [json.loads(line) for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["line"], e["request_id"], e["replayed"]) for e in index] == [
        (1, "b-1", False),
        (2, "b-2", False),
        (4, "b-4", False),
        (10, "b-1", True),
    ]
    assert index[0]["serial"] == index[3]["serial"]
    ca_cert = cx.load_certificate(service.ca_certificate_der(world.instance, CA_ID))
    for entry in index:
        written = (out / entry["file"]).read_bytes()
        assert written.count(b"-----BEGIN CERTIFICATE-----") == 3  # the certificate, its CA, the root
        cert = cx.load_certificate(written)
        cx.verify_signature(cert, cx.public_key(ca_cert))
        assert hashlib.sha256(cert.dump()).hexdigest() == entry["fingerprint"]
        assert f"{cert.serial_number:x}".lstrip("0") == entry["serial"].lstrip("0")
    # rerun: nothing issued twice, the same errors again
    assert main([*args, "--home", str(world.home)]) == 0
    assert "issued 0, already issued 4, errors 7" in capsys.readouterr().out
    assert _count(world) == before + 3


def test_issue_batch_refuses_a_file_that_is_not_json_lines(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_text("request_id,profile\n", encoding="utf-8")
    out = tmp_path / "out"
    before = _count(world)
    assert main(["ca", "issue-batch", str(batch), CA_ID, "--out", str(out), "--home", str(world.home)]) == 3
    assert "JSON Lines" in capsys.readouterr().err
    assert not out.exists() and _count(world) == before
    assert (
        main(
            ["ca", "issue-batch", str(tmp_path / "missing.jsonl"), CA_ID, "--out", str(out), "--home", str(world.home)]
        )
        == 3
    )
    assert not out.exists()
