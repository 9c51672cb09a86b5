"""The issuance transparency log in the service (issue 19): every issuance appended in its own transaction, gap-free
sequencing, checkpoints signed by both national roots, tiles, proofs a verifier written from the RFC accepts, the
verifier's policy, witnesses, monitoring and forks, and the audit chain anchored in the log."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import text

from ca.models import CrlRecord
from tests.support.world import PASSPHRASE, make_instance
from tests.trust.formats.test_tlog import rfc_mth, rfc_verify_inclusion
from tests.trust.service._issue_worker import subject
from trust import db
from trust.cli.main import main
from trust.crypto.errors import Code
from trust.formats import tlog as ft
from trust.service import audit, tlog
from trust.service import ca as service
from trust.service import trust as trust_service
from verifier import transparency

SM2_CA = "region-330000-sm2"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("tlog")
    instance = make_instance(home)
    service.init(instance)
    service.enrol(instance, kind="region", code="330000", family="SM2")
    issued = []
    for i in range(6):
        profile, name = subject("tlog", i)
        issued.append(service.issue(instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2").record)
    yield instance, issued
    instance.engine.dispose()


def _leaves(instance):
    return list(tlog.leaves(instance))


def test_every_issuance_is_logged_gap_free_with_a_consistent_tree(site):
    instance, issued = site
    leaves = _leaves(instance)
    assert [i for i, _ in leaves] == list(range(len(leaves)))
    entries = [json.loads(e) for _, e in leaves]
    certificates = {e["id"]: e for e in entries if e["kind"] == "certificate"}
    for record in issued:
        entry = certificates[record.serial]
        assert entry["sha256"] == record.fingerprint
        assert entry["region"] == "330000" and entry["issuer"] == SM2_CA
    kinds = {e["kind"] for e in entries}
    assert {"ca-certificate", "certificate", "crl", "trust-list"} <= kinds
    # the stored perfect subtrees give the RFC's root over the stored entries
    with db.session_scope(instance.engine, read_only=True) as session:
        connection = session.connection()
        size = tlog.size_of(connection)
        assert size == len(leaves)
        assert tlog.root_at(connection, size) == rfc_mth([e for _, e in leaves])
        assert tlog.root_at(connection, 5) == rfc_mth([e for _, e in leaves[:5]])


def test_a_rolled_back_transaction_appends_nothing(site):
    instance, _ = site
    before = len(_leaves(instance))
    with pytest.raises(RuntimeError), db.session_scope(instance.engine) as session:
        session.add(CrlRecord(ca_id=SM2_CA, number=999, this_update=db_now(), next_update=db_now(), der=b"\x30\x00"))
        session.flush()
        raise RuntimeError("fails before the commit")
    assert len(_leaves(instance)) == before


def db_now():
    from ca.models import now

    return now()


def test_checkpoint_is_signed_by_both_national_roots_and_tiles_are_published(site):
    instance, _ = site
    record = tlog.checkpoint(instance)
    with db.session_scope(instance.engine, read_only=True) as session:
        keys = tlog.log_keys(instance, session)
    verified = ft.verify_checkpoint(record.note, keys)
    assert sorted(s.split(" ")[1] for s in verified.signed_by) == ["(rsa)", "(sm2)"]
    assert verified.checkpoint.size == record.size
    folder = instance.settings.published_dir / "log"
    assert (folder / "checkpoint").read_text() == record.note
    leaves = _leaves(instance)
    width = record.size % 256
    tile = (folder / ft.tile_path(0, 0, width)).read_bytes()
    assert [tile[i : i + 32] for i in range(0, len(tile), 32)] == [ft.leaf_hash(e) for _, e in leaves[:width]]
    bundle = (folder / ft.entries_path(0, width)).read_bytes()
    assert bundle == ft.entry_bundle([e for _, e in leaves[:width]])
    # a checkpoint signature over another size does not verify
    with pytest.raises(Exception) as forged:
        ft.verify_checkpoint(record.note.replace(f"\n{record.size}\n", f"\n{record.size + 1}\n", 1), keys)
    assert getattr(forged.value, "code", None) is Code.LOG_SIGNATURE_INVALID


def test_prove_is_accepted_by_the_rfc_verifier_and_the_offline_verifier(site):
    instance, issued = site
    record = issued[2]
    leaf = tlog.find(instance, digest=tlog.artefact_digest(record.der))
    document = tlog.prove(instance, leaf)
    as_json: dict[str, Any] = document.to_json()
    assert set(as_json) >= {"hash", "leaf_hash", "leaf_index", "tree_size", "inclusion", "root_hash", "checkpoint"}
    assert as_json["hash"] == "sha256"
    assert rfc_verify_inclusion(
        as_json["leaf_index"],
        as_json["tree_size"],
        bytes.fromhex(as_json["leaf_hash"]),
        [bytes.fromhex(h) for h in as_json["inclusion"]],
        bytes.fromhex(as_json["root_hash"]),
    )
    section = tlog.bundle_section(instance)
    roots = _roots(instance)
    proof = json.dumps(as_json).encode()
    result = transparency.check(record.der, proof, section, roots)
    assert result.status == "logged", result
    assert result.leaf_index == leaf.idx
    # the same proof for another credential fails
    other = transparency.check(issued[3].der, proof, section, roots)
    assert other.status == "failed" and other.code == "E1801"
    # a forged path fails
    forged = dict(as_json, inclusion=[("00" * 32), *as_json["inclusion"][1:]])
    assert transparency.check(record.der, json.dumps(forged).encode(), section, roots).code == "E1801"
    # a forged leaf index fails
    moved = dict(as_json, leaf_index=as_json["leaf_index"] + 1)
    assert transparency.check(record.der, json.dumps(moved).encode(), section, roots).status == "failed"
    # no proof: not logged
    assert transparency.check(record.der, None, section, roots).code == "E1805"
    # a bundle without a checkpoint cannot say
    assert transparency.check(record.der, proof, (), roots).status == "not-checked"


def test_a_stale_proof_to_a_newer_checkpoint_fails(site):
    instance, issued = site
    record = issued[1]
    old = tlog.prove(instance, tlog.find(instance, digest=record.fingerprint))
    profile, name = subject("tlog-stale", 99)
    service.issue(instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2")
    newer = tlog.checkpoint(instance)
    assert newer.size > old.tree_size
    stale = dict(old.to_json(), checkpoint=newer.note)  # the old path and root under the newer checkpoint
    result = transparency.check(record.der, json.dumps(stale).encode(), tlog.bundle_section(instance), _roots(instance))
    assert result.status == "failed" and result.code == "E1806", result
    # a checkpoint not signed by the roots (here: only by an unknown Ed25519 key) fails
    stranger = ed25519.Ed25519PrivateKey.generate()
    body = ft.parse_note(newer.note).text
    unsigned = ft.Note(body, (ft.sign_ed25519(body, tlog.origin(instance), stranger),)).encode()
    result = transparency.check(
        record.der,
        json.dumps(dict(old.to_json(), checkpoint=unsigned)).encode(),
        tlog.bundle_section(instance),
        _roots(instance),
    )
    assert result.status == "failed" and result.code == "E1803"


def _roots(instance):
    from ca.models import CertificateAuthority

    with db.session_scope(instance.engine, read_only=True) as session:
        roots = [session.get(CertificateAuthority, rid) for rid in trust_service.ROOT_IDS]
        return [r.cert_der for r in roots if r is not None]


def _signed(instance, size: int, root: bytes) -> str:
    """A checkpoint the log's own keys sign (what a misbehaving operator could make): for fork tests."""
    from ca import authority
    from ca.models import CertificateAuthority

    body = ft.Checkpoint(tlog.origin(instance), size, root).body()
    signatures = []
    with db.session_scope(instance.engine, read_only=True) as session:
        for rid in trust_service.ROOT_IDS:
            ca = session.get(CertificateAuthority, rid)
            assert ca is not None and ca.key_id is not None
            signer = instance.keystore.signer(ca.key_id, authority.algorithm_for(ca.family))
            signatures.append(ft.sign_national(body, tlog.origin(instance), signer))
    return ft.Note(body, tuple(signatures)).encode()


def test_monitor_lists_the_region_and_reports_forks(site):
    instance, _ = site
    first = tlog.checkpoint(instance)
    profile, name = subject("tlog-monitor", 7)
    new = service.issue(instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2").record
    second = tlog.checkpoint(instance)
    listed = list(tlog.entries_since(instance, "330000", first.size, second.size))
    assert [e["id"] for e in listed if e["kind"] == "certificate"] == [new.serial]
    assert all(e["region"] == "330000" for e in listed)
    assert not list(tlog.entries_since(instance, "440000", 0))
    assert tlog.check_consistent(instance, first.note, second.note) is None
    # the same size with another root
    fork = tlog.check_consistent(instance, second.note, _signed(instance, second.size, b"\x07" * 32))
    assert fork is not None and "different roots" in fork.reason
    assert fork.first == second.note
    # a smaller later tree
    shrunk = tlog.check_consistent(instance, second.note, _signed(instance, first.size, bytes.fromhex(first.root)))
    assert shrunk is not None and "shrank" in shrunk.reason
    # a bigger tree that is not an extension
    other = tlog.check_consistent(instance, first.note, _signed(instance, second.size, b"\x01" * 32))
    assert other is not None


def test_witnesses_cosign_only_consistent_checkpoints(site):
    instance, _ = site
    key = ed25519.Ed25519PrivateKey.generate()
    tlog.add_witness(instance, name="zj.example/witness", region="330000", public=key.public_key().public_bytes_raw())
    state, _note = tlog.run_witness(instance, name="zj.example/witness", key=key, state=None)
    profile, name = subject("tlog-witness", 8)
    service.issue(instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2")
    tlog.checkpoint(instance)
    state2, _note2 = tlog.run_witness(instance, name="zj.example/witness", key=key, state=state)
    assert state2.size > state.size
    with db.session_scope(instance.engine, read_only=True) as session:
        keys = tlog.log_keys(instance, session)
    witnesses = tlog.witness_keys(instance)
    latest = tlog.latest_checkpoint(instance)
    assert latest is not None
    verified = ft.verify_checkpoint(latest.note, keys, witnesses, quorum=1)
    assert "zj.example/witness" in verified.cosigned_by
    # the bundle names the witness: a verifier can demand its cosignature
    section = tlog.bundle_section(instance)
    assert section[0]["witnesses"][0]["region"] == "330000"
    assert ft.parse_vkey(section[0]["witnesses"][0]["vkey"]).key_id == witnesses[0].key_id
    # a fork shown to the witness: refused, both checkpoints as evidence, nothing cosigned
    forged = _signed(instance, state2.size, b"\x05" * 32)
    with pytest.raises(ft.LogError) as refused:
        tlog.run_witness(instance, name="zj.example/witness", key=key, state=state2, note=forged)
    assert refused.value.code is Code.LOG_INCONSISTENT
    assert refused.value.evidence["seen"] == state2.note and refused.value.evidence["new"] == forged
    smaller = _signed(instance, state.size, state.root)
    with pytest.raises(ft.LogError, match="smaller later tree"):
        tlog.run_witness(instance, name="zj.example/witness", key=key, state=state2, note=smaller)


def test_audit_truncate_and_rewrite_is_detected_against_the_log(tmp_path):
    instance = make_instance(tmp_path / "home")
    service.init(instance)
    trust_service.publish_now(instance)  # the trust list anchors the head as it stands now
    service.enrol(instance, kind="region", code="330000", family="SM2")  # audited after the trust list's head
    tlog.checkpoint(instance)  # logs the audit head (and the enrolment)
    assert audit.check(instance.engine).ok
    head_seq, _ = audit.head(instance.engine)
    anchored = max(seq for seq, _h, _w in tlog.audit_anchors(instance.engine))
    assert anchored == head_seq
    # truncate the last entries and rewrite the head to the new last entry: the chain alone is consistent again
    keep = head_seq - 3
    with db.session_scope(instance.engine) as session:
        last_hash = session.execute(text("SELECT hash FROM audit_entry WHERE seq = :s"), {"s": keep}).scalar_one()
        session.execute(text("DELETE FROM audit_entry WHERE seq > :s"), {"s": keep})
        session.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": keep, "h": last_hash})
    report = audit.check(instance.engine)
    assert not report.ok
    assert "transparency log" in (report.problem or "")
    instance.engine.dispose()


def test_cli_prove_and_verify_with_transparency_policy(site, tmp_path, monkeypatch, capsys):
    instance, issued = site
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", instance.settings.effective_public_url)
    home = str(instance.settings.home)
    record = issued[4]
    cert = tmp_path / "cert.der"
    cert.write_bytes(record.der)
    capsys.readouterr()
    assert main(["log", "prove", str(cert), "--home", home]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["hash"] == "sha256" and isinstance(document["inclusion"], list)
    entry = json.loads(base64.b64decode(document["entry"]))
    assert entry["id"] == record.serial
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(document))
    bundle = trust_service.export_bundle(instance, tmp_path / "bundle.json")
    pins = [f"--pin={p}" for p in trust_service.root_fingerprints(instance).values()]
    base = ["verify", str(cert), "--bundle", str(bundle), *pins, "--format", "json"]
    assert main([*base, "--log-proof", str(proof)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(c["name"] == "transparency" and c["result"] == "passed" for c in out["checks"])
    # required but absent: INDETERMINATE with the reason
    assert main([*base, "--require-transparency"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["sub_indication"] == "NO_POE" and any("E1805" in e for e in out["errors"])
    # a forged proof: TOTAL_FAILED, whatever the policy
    forged = dict(document, leaf_index=document["leaf_index"] ^ 1)
    proof.write_text(json.dumps(forged))
    assert main([*base, "--log-proof", str(proof)]) == 1
    capsys.readouterr()
    # the region's trust-list setting 'required': unlogged is TOTAL_FAILED without the flag
    tlog.set_policy(instance, region="330000", policy="required")
    bundle = trust_service.export_bundle(instance, tmp_path / "bundle2.json")
    assert main(["verify", str(cert), "--bundle", str(bundle), *pins, "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert any("transparency" in e for e in out["errors"])
    tlog.set_policy(instance, region="330000", policy="off")


def test_monitor_cli_reports_a_fork_loudly(site, tmp_path, monkeypatch, capsys):
    instance, _ = site
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", instance.settings.effective_public_url)
    latest = tlog.checkpoint(instance)
    seen = tmp_path / "seen"
    seen.write_text(_signed(instance, latest.size + 5, b"\x09" * 32))  # a checkpoint of a tree the log never had
    profile, name = subject("tlog-cli", 11)
    service.issue(instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2")
    capsys.readouterr()
    assert (
        main(["log", "monitor", "--region", "330000", "--since", str(seen), "--home", str(instance.settings.home)]) == 1
    )
    captured = capsys.readouterr()
    assert "FORK" in captured.err
    assert json.loads(captured.out)["fork"]["seen"] == seen.read_text()
    seen.write_text(latest.note)
    assert (
        main(["log", "monitor", "--region", "330000", "--since", str(seen), "--home", str(instance.settings.home)]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(e["region"] == "330000" and e["leaf_index"] >= latest.size for e in lines)


def test_published_folder_is_a_valid_tile_tree(site):
    instance, _ = site
    record = tlog.checkpoint(instance)
    folder: Path = instance.settings.published_dir / "log"
    hashes = []
    for index in range((record.size + 255) // 256):
        width = min(256, record.size - index * 256)
        data = (folder / ft.tile_path(0, index, width)).read_bytes()
        hashes += [data[i : i + 32] for i in range(0, len(data), 32)]
    assert ft.MemoryTree.of(hashes).root() == bytes.fromhex(record.root)


def test_the_trust_list_carries_the_latest_checkpoint(site):
    instance, _ = site
    record = tlog.checkpoint(instance)
    published = trust_service.publish_now(instance)
    from trust.formats import trustlist as tl

    pins = list(trust_service.root_fingerprints(instance).values())
    parsed, _checked = tl.verify(published.document.encode(), pins)
    assert parsed.log_checkpoint is not None
    with db.session_scope(instance.engine, read_only=True) as session:
        keys = tlog.log_keys(instance, session)
    assert ft.verify_checkpoint(parsed.log_checkpoint, keys).checkpoint.size >= record.size
    again = tl.TrustList.from_json(parsed.to_json())
    assert again.log_checkpoint == parsed.log_checkpoint
    with pytest.raises(Exception, match="log_checkpoint"):
        tl.TrustList.from_json({**parsed.to_json(), "log_checkpoint": 5})


def test_http_routes_serve_checkpoint_tiles_and_proofs(site):
    from fastapi.testclient import TestClient

    from trust.http.app import create_app

    instance, issued = site
    record = tlog.checkpoint(instance)
    client = TestClient(create_app(instance))
    response = client.get("/log/checkpoint")
    assert response.status_code == 200 and response.text == record.note and response.headers["etag"]
    width = record.size % 256
    tile = client.get(f"/log/tile/0/000.p/{width}")
    assert tile.status_code == 200 and len(tile.content) == 32 * width
    assert client.get("/log/tile/../../secrets/passphrase").status_code == 404
    assert client.get("/log/tile/0/999").status_code == 404
    proof = client.get("/log/proof/consistency", params={"old_size": 3, "new_size": record.size}).json()
    ft.verify_consistency(
        3,
        record.size,
        rfc_mth([e for _, e in _leaves(instance)[:3]]),
        bytes.fromhex(record.root),
        [bytes.fromhex(h) for h in proof["consistency"]],
    )
    bad = client.get("/log/proof/consistency", params={"old_size": 5, "new_size": record.size + 1})
    assert bad.status_code == 400 and bad.json()["code"] == "E1800"
    found = client.get("/log/proof/inclusion", params={"sha256": issued[0].fingerprint})
    assert found.status_code == 200 and found.json()["tree_size"] == record.size
    missing = client.get("/log/proof/inclusion", params={"sha256": "0" * 64})
    assert missing.status_code == 404 and missing.json()["code"] == "E1804"
