"""The transparency log over HTTP (issue 19): ``POST /verify`` applies the transparency policy (a proof in the
request, ``require_transparency``, a region's trust-list setting), ``POST /log/cosignatures`` takes a region's
witness cosignature with its platform client (forged, another region's witness, a checkpoint the log never signed:
refused), and ``trust log witness --url`` witnesses a remote service (a fork refused loudly, nothing posted)."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.support.http import AuthClient
from tests.support.server import live_server
from tests.support.world import World, copy_world
from tests.trust.service._issue_worker import subject
from trust.cli.main import main
from trust.crypto import pkcs8
from trust.formats import tlog as ft
from trust.http.app import create_app
from trust.service import ca as service
from trust.service import tlog
from trust.service import trust as trust_service

SM2_CA = "region-330000-sm2"
WITNESS = "zj.example/witness"
PASSPHRASE = "witness passphrase"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[World]:
    world = copy_world(world_template, tmp_path_factory.mktemp("logroutes") / "home")
    yield world
    world.instance.engine.dispose()


@pytest.fixture(scope="module")
def issued(world: World):
    profile, name = subject("tlog-http", 1)
    record = service.issue(world.instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2").record
    tlog.checkpoint(world.instance)
    trust_service.publish_now(world.instance)  # the bundle the service verifies with carries the checkpoint
    return record


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, None)


def _verify_json(client: AuthClient, der: bytes, **options):
    body = {"input": base64.b64encode(der).decode(), **options}
    response = client.anonymous.post("/verify", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _transparency(report: Any) -> Any:
    found = [c for c in report["checks"] if c["name"] == "transparency"]
    return found[0] if found else None


def test_post_verify_checks_a_proof_and_requires_one_on_demand(world, issued, client):
    instance = world.instance
    proof: dict[str, Any] = tlog.prove(instance, tlog.find(instance, digest=issued.fingerprint)).to_json()
    plain = _verify_json(client, issued.der)
    assert plain["indication"] == "TOTAL_PASSED" and _transparency(plain) is None
    proven = _verify_json(client, issued.der, log_proof=proof)
    assert proven["indication"] == "TOTAL_PASSED" and _transparency(proven)["result"] == "passed"
    # required, no proof: INDETERMINATE with the reason (JSON body, then a raw body with the option in the query)
    missing = _verify_json(client, issued.der, require_transparency=True)
    assert (missing["indication"], missing["sub_indication"]) == ("INDETERMINATE", "NO_POE")
    assert any("E1805" in e for e in missing["errors"])
    raw = client.anonymous.post(
        "/verify",
        content=issued.der,
        headers={"Content-Type": "application/pkix-cert"},
        params={"require_transparency": "true"},
    )
    assert raw.status_code == 200 and raw.json()["sub_indication"] == "NO_POE"
    # a forged proof: TOTAL_FAILED whatever the policy
    forged = _verify_json(client, issued.der, log_proof=dict(proof, leaf_index=proof["leaf_index"] ^ 1))
    assert forged["indication"] == "TOTAL_FAILED" and _transparency(forged)["result"] == "failed"
    # multipart: the proof as a file part
    parts = client.anonymous.post(
        "/verify",
        files={"input": ("c.der", issued.der), "log_proof": ("proof.json", json.dumps(proof).encode())},
    )
    assert parts.status_code == 200 and _transparency(parts.json())["result"] == "passed"


def test_post_verify_applies_the_regions_trust_list_setting(world, issued, client):
    instance = world.instance
    tlog.set_policy(instance, region="330000", policy="required")
    try:
        failed = _verify_json(client, issued.der)
        assert failed["indication"] == "TOTAL_FAILED", failed
        assert any("transparency" in e and "E1805" in e for e in failed["errors"])
        proof = tlog.prove(instance, tlog.find(instance, digest=issued.fingerprint)).to_json()
        assert _verify_json(client, issued.der, log_proof=proof)["indication"] == "TOTAL_PASSED"
        # another region's credential is not under 330000's setting
        profile, name = subject("tlog-http-gd", 3)
        name = dataclasses.replace(name, province="广东省")
        gd = service.issue(instance, ca_id="region-440000-sm2", profile=profile, subject=name, key_family="SM2")
        assert _verify_json(client, gd.record.der)["indication"] == "TOTAL_PASSED"
    finally:
        tlog.set_policy(instance, region="330000", policy="off")


def _witness(instance, name: str = WITNESS, region: str = "330000") -> ed25519.Ed25519PrivateKey:
    key = ed25519.Ed25519PrivateKey.generate()
    tlog.add_witness(instance, name=name, region=region, public=key.public_key().public_bytes_raw())
    return key


def _cosigned(note: str, name: str, key: ed25519.Ed25519PrivateKey) -> str:
    return ft.add_signatures(note, [ft.cosign(ft.parse_note(note).text, name, key, int(time.time()))])


def test_cosignatures_are_accepted_only_from_the_regions_own_witness(world, issued, client):
    instance = world.instance
    zj_key = _witness(instance, "zj.example/w1", "330000")
    _witness(instance, "gd.example/w1", "440000")
    note = tlog.checkpoint(instance).note
    cosigned = _cosigned(note, "zj.example/w1", zj_key)
    zj, gd = client.as_("zj-platform"), client.as_("gd-platform")
    # another region's platform posting 330000's witness cosignature: forbidden, nothing merged
    refused = gd.post("/log/cosignatures", json={"checkpoint": cosigned})
    assert refused.status_code == 403 and refused.json()["code"] == "E1403"
    assert "zj.example/w1" not in (_latest(instance).note)
    # a forged cosignature (right name and key id, the signature of another key): 422 E1803
    impostor = ed25519.Ed25519PrivateKey.generate()
    forged_sig = ft.cosign(ft.parse_note(note).text, "zj.example/w1", impostor, int(time.time()))
    real_id = ft.ed25519_verifier("zj.example/w1", zj_key.public_key().public_bytes_raw(), cosignature=True).key_id
    forged = ft.add_signatures(note, [ft.NoteSignature("zj.example/w1", real_id, forged_sig.signature)])
    bad = zj.post("/log/cosignatures", json={"checkpoint": forged})
    assert bad.status_code == 422 and bad.json()["code"] == "E1803", bad.text
    # no cosignature of a registered witness at all: 400 E1807
    none = zj.post("/log/cosignatures", json={"checkpoint": _cosigned(note, "zj.example/unknown", impostor)})
    assert none.status_code == 400 and none.json()["code"] == "E1807"
    # a checkpoint the log never signed (another root), cosigned by the right witness: 404 E1804
    parsed = ft.parse_note(note)
    checkpoint = ft.parse_checkpoint(parsed.text)
    other = ft.Note(ft.Checkpoint(checkpoint.origin, checkpoint.size, b"\x07" * 32).body(), parsed.signatures)
    fake = zj.post("/log/cosignatures", json={"checkpoint": _cosigned(other.encode(), "zj.example/w1", zj_key)})
    assert fake.status_code == 404 and fake.json()["code"] == "E1804"
    # the region's own witness: merged, served by GET /log/checkpoint
    ok = zj.post("/log/cosignatures", json={"checkpoint": cosigned})
    assert ok.status_code == 200, ok.text
    assert ok.json()["cosigned_by"] == ["zj.example/w1"]
    served = client.anonymous.get("/log/checkpoint").text
    verified = ft.verify_checkpoint(served, _log_keys(instance), tlog.witness_keys(instance), quorum=1)
    assert "zj.example/w1" in verified.cosigned_by


def _latest(instance: Any) -> Any:
    record = tlog.latest_checkpoint(instance)
    assert record is not None
    return record


def _log_keys(instance):
    from trust import db

    with db.session_scope(instance.engine, read_only=True) as session:
        return tlog.log_keys(instance, session)


def _files(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, name: str):
    """The remote witness's files: its Ed25519 key (made by the region, ``witness-key --no-register``; the operator
    registers the printed vkey with ``witness-add``), the region platform's client key and certificate."""
    from tests.support.world import PASSPHRASE as KEY_PASSPHRASE

    monkeypatch.setenv("TRUST_WITNESS_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("TRUST_CLIENT_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", KEY_PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", world.instance.settings.effective_public_url)
    witness_key = tmp_path / "witness.pem"
    capsys.readouterr()
    made = ["log", "witness-key", "--name", name, "--region", "330000", "--out", str(witness_key), "--no-register"]
    assert main(made) == 0
    vkey = "".join(capsys.readouterr().out.split())
    assert name not in {w.name for w in tlog.witness_keys(world.instance)}  # not registered by the region itself
    home = str(world.instance.settings.home)
    assert main(["log", "witness-add", "--vkey", vkey, "--region", "330000", "--home", home]) == 0
    platform = world.platforms["zj-platform"]
    client_key = tmp_path / "client.pem"
    client_key.write_bytes(pkcs8.encrypt_private_key_pem(platform.key, PASSPHRASE.encode(), iterations=1000))
    cert = tmp_path / "client.crt"
    cert.write_bytes(platform.certificate.dump())
    pins = [f"--pin={p}" for p in trust_service.root_fingerprints(world.instance).values()]
    return witness_key, client_key, cert, pins


def test_remote_witness_cosigns_over_http_and_refuses_a_fork(world, issued, tmp_path, monkeypatch, capsys):
    instance = world.instance
    witness_key, client_key, cert, pins = _files(world, tmp_path, monkeypatch, capsys, "zj.example/remote")
    state = tmp_path / "state.json"
    with live_server(instance, world.port) as url:
        args = ["log", "witness", "--name", "zj.example/remote", "--key", str(witness_key), "--state", str(state)]
        args += ["--url", url, "--client-key", f"file:{client_key}", "--cert", str(cert), *pins]
        tlog.checkpoint(instance)
        capsys.readouterr()
        assert main(args) == 0, capsys.readouterr().err
        first = json.loads(state.read_text())
        assert (
            "zj.example/remote"
            in ft.verify_checkpoint(
                _latest(instance).note, _log_keys(instance), tlog.witness_keys(instance), quorum=1
            ).cosigned_by
        )
        # the log grows: the next round checks the consistency proof fetched over HTTP
        profile, name = subject("tlog-remote", 3)
        service.issue(instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2")
        tlog.checkpoint(instance)
        assert main(args) == 0, capsys.readouterr().err
        second = json.loads(state.read_text())
        assert second["size"] > first["size"]
        # a fork: the witness saw another root at the size it holds now → exit 1, both checkpoints, state unchanged
        forked = dict(second, root=(b"\x05" * 32).hex())
        state.write_text(json.dumps(forked))
        profile, name = subject("tlog-remote", 4)
        service.issue(instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2")
        latest = tlog.checkpoint(instance)
        capsys.readouterr()
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "FORK" in err and "seen" in err
        assert json.loads(state.read_text()) == forked
        assert "zj.example/remote" not in ft.parse_note(_latest(instance).note).text
        cosigners = {s.name for s in ft.parse_note(_latest(instance).note).signatures}
        assert latest.size == _latest(instance).size and "zj.example/remote" not in cosigners
