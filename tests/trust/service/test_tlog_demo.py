"""The demo world's transparency log (issue 19): ``trust log prove`` for a certificate, a seal and a licence-issuer
entry of the demo world, the demo bundle's checkpoint, and ``trust verify --log-proof`` accepting the proof offline."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.trust.formats.test_tlog import rfc_verify_inclusion
from trust.cli.main import main


@pytest.fixture
def demo_env(demo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    for name in ("TRUST_KEY_PASSPHRASE", "TRUST_KEY_PASSPHRASE_FILE", "TRUST_PUBLIC_URL", "TRUST_HOST", "TRUST_PORT"):
        monkeypatch.delenv(name, raising=False)
    return demo


def _prove(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert main(["log", "prove", *args, "--home", str(home)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert rfc_verify_inclusion(
        document["leaf_index"],
        document["tree_size"],
        bytes.fromhex(document["leaf_hash"]),
        [bytes.fromhex(h) for h in document["inclusion"]],
        bytes.fromhex(document["root_hash"]),
    )
    return document


def test_demo_credentials_have_proofs_the_rfc_verifier_accepts(demo_env: Path, capsys, tmp_path: Path) -> None:
    out = demo_env / "out"
    cert = _prove(demo_env, capsys, str(out / "certs" / "330000-sm2-seal.pem"))
    assert json.loads(base64.b64decode(cert["entry"]))["kind"] == "certificate"
    seal = _prove(demo_env, capsys, str(out / "seals" / "330000-organization.esl"))
    assert json.loads(base64.b64decode(seal["entry"]))["kind"] == "seal"
    issuer = _prove(demo_env, capsys, "--kind", "license-issuer", "--id", "330000-11330000002482226F-sm2")
    assert json.loads(base64.b64decode(issuer["entry"]))["region"] == "330000"
    # the demo bundle carries the latest checkpoint
    bundle = json.loads((out / "bundle.json").read_text())
    payload = json.loads(base64.urlsafe_b64decode(bundle["payload"] + "=="))
    assert payload["checkpoints"] and payload["checkpoints"][0]["note"].startswith(payload["checkpoints"][0]["origin"])
    # and the offline verifier accepts the seal with its proof
    proof = tmp_path / "seal-proof.json"
    proof.write_text(json.dumps(seal))
    pins = [f"--pin={line.split()[1]}" for line in (out / "roots.txt").read_text().splitlines() if line.strip()]
    capsys.readouterr()
    args = ["verify", str(out / "seals" / "330000-organization.esl"), "--bundle", str(out / "bundle.json"), *pins]
    assert main([*args, "--log-proof", str(proof), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any(c["name"] == "transparency" and c["result"] == "passed" for c in report["checks"])
