"""The audit log: every state change recorded with who, what, when and the request id, in the same
transaction; the hash chain detects an edited, deleted, reordered or truncated entry and names the first one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from licenses import samples
from tests.support.world import PASSPHRASE, ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.cli.main import main
from trust.crypto.errors import InputError
from trust.formats.names import DN, make_uscc
from trust.service import audit, licenses, seals
from trust.service import ca as ca_service

BUSINESS = "11100000000013338W101"


@pytest.fixture
def world(tmp_path: Path, world_template: World) -> World:
    return copy_world(world_template, tmp_path / "home")


def _execute(world: World, sql: str, **params: object) -> None:
    with world.instance.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_changes_are_recorded_with_actor_and_request_id(world: World) -> None:
    instance = world.instance
    with audit.acting("client:zj-platform", "req-123"):
        made = seals.create(
            instance,
            ca_id="region-330000-sm2",
            holder_kind="organization",
            holder_name="杭州示例科技有限公司",
            holder_code=ZJ_ORG_USCC,
            seal_name="合同专用章",
        )
        seals.set_status(instance, made.es_id, "suspended", "审计测试")
    entries = audit.entries(instance.engine, subject=f"seal:{made.es_id}")
    assert [(e.action, e.actor, e.request_id, e.result) for e in entries] == [
        ("seal.create", "client:zj-platform", "req-123", "ok"),
        ("seal.suspended", "client:zj-platform", "req-123", "ok"),
    ]
    created = json.loads(entries[0].details)
    assert created["holder_code"] == ZJ_ORG_USCC[:6] + "********" + ZJ_ORG_USCC[-4:]  # masked
    assert created["seal_der"].startswith("sha256:")  # content is referenced, not copied
    assert json.loads(entries[1].details)["status"] == {"from": "active", "to": "suspended"}
    assert audit.verify(instance.engine).ok


def test_a_failed_change_leaves_no_entry(world: World) -> None:
    before = audit.head(world.instance.engine)
    with pytest.raises(InputError):
        ca_service.issue(
            world.instance,
            ca_id="region-330000-sm2",
            profile="seal",
            subject=DN(province="广东省", organization="x", common_name="x", serial_number=ZJ_ORG_USCC),
        )
    assert audit.head(world.instance.engine) == before


def test_batch_records_only_what_was_issued(world: World) -> None:
    """Records that fail inside a batch roll back to their savepoint; their rows never reach the audit log."""
    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省市场监督管理局",
        code=make_uscc("11330000002482226"),
        license_types=[BUSINESS],
    )
    after = audit.head(world.instance.engine)[0]
    good = samples.sample(BUSINESS)
    bad = {**good, "uscc": "not a code"}
    records = [
        licenses.BatchRecord(line=i, request_id=f"batch-{i}", type_code=BUSINESS, fields=bad if i == 2 else good)
        for i in range(1, 5)
    ]
    summary = licenses.issue_batch(world.instance, records, issuer_id=issuer.id)
    assert (summary.issued, summary.errors) == (3, 1)
    created = [e for e in audit.entries(world.instance.engine, after=after, limit=1000) if e.action == "license.create"]
    assert len(created) == 3
    assert audit.verify(world.instance.engine).ok


@pytest.mark.parametrize(
    ("tamper", "first_bad", "words"),
    [
        ("edit", 5, "edited"),
        ("delete", 7, "missing"),
        ("reorder", 3, "does not follow"),
        ("truncate", None, "removed"),
        ("rewrite-head", None, "head"),
    ],
)
def test_tampering_is_detected_and_located(world: World, tamper: str, first_bad: int | None, words: str) -> None:
    engine = world.instance.engine
    seq, _digest = audit.head(engine)
    assert seq > 10 and audit.verify(engine).ok
    if tamper == "edit":
        _execute(world, "UPDATE audit_entry SET actor = 'client:someone-else' WHERE seq = 5")
    elif tamper == "delete":
        _execute(world, "DELETE FROM audit_entry WHERE seq = 7")
    elif tamper == "reorder":  # swap the contents of entries 3 and 4 (each keeps its hashes)
        _execute(world, "UPDATE audit_entry SET seq = -3 WHERE seq = 3")
        _execute(world, "UPDATE audit_entry SET seq = 3 WHERE seq = 4")
        _execute(world, "UPDATE audit_entry SET seq = 4 WHERE seq = -3")
    elif tamper == "truncate":
        _execute(world, "DELETE FROM audit_entry WHERE seq > :keep", keep=seq - 2)
        first_bad = seq - 1
    elif tamper == "rewrite-head":
        _execute(world, "UPDATE audit_head SET seq = seq + 1")
        first_bad = seq + 1
    report = audit.verify(engine)
    assert not report.ok and report.first_bad == first_bad, report
    assert words in report.problem


def test_cli(world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    home = ["--home", str(world.home)]
    assert main(["ca", "revoke", _some_serial(world), "--reason", "superseded", *home]) == 0
    assert main(["audit", "verify", *home]) == 0
    assert "intact" in capsys.readouterr().out
    latest = audit.entries(world.instance.engine, after=audit.head(world.instance.engine)[0] - 3)
    assert any(e.action == "certificate.revoked" and e.actor.startswith("cli:") for e in latest)
    assert main(["audit", "show", "--limit", "3", *home]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    _execute(world, "UPDATE audit_entry SET details = '{}' WHERE seq = 2")
    assert main(["audit", "verify", *home]) == 1
    assert "entry 2" in capsys.readouterr().out


def _some_serial(world: World) -> str:
    with db.session_scope(world.instance.engine) as session:
        row = session.execute(text("SELECT serial FROM certificate WHERE issuer_id = 'region-330000-sm2'")).first()
        assert row is not None
        return str(row[0])
