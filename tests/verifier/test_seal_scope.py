"""Issue 11, item 3: cross-region seal impersonation, end to end.

The attack: a Zhejiang platform created, under the Zhejiang CA, a seal whose holder is the Guangdong market-regulation
authority (Guangdong name and USCC), sealed the face of a genuine Guangdong licence with an extra line of text, and
``trust verify`` gave TOTAL_PASSED with ``sealed-by-issuer`` ok. Now seal creation refuses a holder registered outside
the platform's region (``seal.registry.check_holder_scope``); the verifier checks that the sealing certificate was
certified by a CA of the licence issuer's trust-list entry; and a face showing text that is not the licence's fails.
Each defence is shown on its own (the forged seal is made with the creation check switched off, as a rogue CA could).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlmodel import func, select

from licenses import document, samples
from seal import registry
from seal.models import SealRecord
from tests.support.world import World, copy_world
from trust import db
from trust.crypto.errors import InputError
from trust.formats import license_face
from trust.formats import license_token as token
from trust.formats.names import make_uscc
from trust.service import license_documents, licenses, seals, trust
from trust.service.seals import sealing
from verifier import context, license_pdf
from verifier.report import Indication, Result, SubIndication

BUSINESS = "11100000000013338W101"
GD_AUTHORITY = make_uscc("11440000006954832")
GD_NAME = "广东省市场监督管理局"
EXTRA = ("备注", "另准予经营危险化学品及烟花爆竹")


@pytest.fixture(scope="module")
def lw(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> dict:
    world = copy_world(world_template, tmp_path_factory.mktemp("seal-scope") / "home")
    gd = licenses.register_issuer(
        world.instance, ca_id="region-440000-sm2", name=GD_NAME, code=GD_AUTHORITY, license_types=[BUSINESS]
    )
    made = licenses.issue(world.instance, issuer_id=gd.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    return {"world": world, "gd": gd.id, "made": made}


def _seal_count(world: World) -> int:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(SealRecord)).one())


def _zj_seal_for_gd(world: World) -> dict:
    return {
        "ca_id": "region-330000-sm2",
        "holder_kind": "organization",
        "holder_name": GD_NAME,
        "holder_code": GD_AUTHORITY,
        "seal_name": "证照专用章",
    }


def _forged_seal(lw: dict, monkeypatch: pytest.MonkeyPatch) -> str:
    """What the attacker made before the fix (the creation check switched off)."""
    with monkeypatch.context() as patched:
        patched.setattr(registry, "check_holder_scope", lambda ca, uscc: None, raising=False)
        return seals.create(lw["world"].instance, **_zj_seal_for_gd(lw["world"])).es_id


def _face(lw: dict, *, extra: bool, monkeypatch: pytest.MonkeyPatch) -> bytes:
    made = lw["made"]
    with monkeypatch.context() as patched:
        if extra:
            original = license_face.face  # what licenses.document renders with

            def with_extra_line(*args: object, **kwargs: object) -> license_face.Face:
                content = original(*args, **kwargs)  # type: ignore[arg-type]
                return dataclasses.replace(content, rows=(*content.rows, EXTRA))

            patched.setattr(document, "face", with_extra_line)
        return document.render_token(made.record.token, qr_payload=token.to_qr(made.qr_token), issuer_name=GD_NAME)


def _sealed(lw: dict, pdf: bytes, es_id: str) -> bytes:
    anchor = license_face.authority_anchor(GD_NAME)
    return sealing.seal_document(lw["world"].instance, pdf, es_id=es_id, level="B-LT", anchor=anchor)


def _verify(lw: dict, pdf: bytes):
    instance = lw["world"].instance
    bundle = json.dumps(trust.build_bundle(instance)).encode()
    ctx = context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])
    return license_pdf.verify_license_pdf(pdf, ctx)


def _failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if c.result is Result.FAILED}


def test_a_region_cannot_make_another_regions_seal(lw: dict) -> None:
    world = lw["world"]
    before = _seal_count(world)
    with pytest.raises(InputError, match="not in region 330000"):
        seals.create(world.instance, **_zj_seal_for_gd(world))
    national = dict(_zj_seal_for_gd(world), holder_name="国家示例协会", holder_code=make_uscc("51100000500000000"))
    with pytest.raises(InputError, match="registered at the national level"):
        seals.create(world.instance, **national)
    assert _seal_count(world) == before


def test_the_reported_attack_fails(lw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    forged = _forged_seal(lw, monkeypatch)
    report = _verify(lw, _sealed(lw, _face(lw, extra=True, monkeypatch=monkeypatch), forged))
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    failed = _failed(report)
    assert "not certified by a CA of the licence issuer's region" in failed["sealed-by-issuer"], failed
    assert "region-440000-sm2" in failed["sealed-by-issuer"]
    assert "not part of the licence" in failed["face"] and "危险化学品" in failed["face"], failed
    assert report.children[0].passed  # the forged seal itself chains to a real (Zhejiang) CA


def test_the_forged_seal_on_an_untouched_face_fails(lw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    forged = _forged_seal(lw, monkeypatch)
    report = _verify(lw, _sealed(lw, _face(lw, extra=False, monkeypatch=monkeypatch), forged))
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert set(_failed(report)) == {"sealed-by-issuer"}


def test_an_extra_line_under_the_genuine_seal_fails(lw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    genuine = license_documents.ensure_authority_seal(lw["world"].instance, lw["gd"])
    report = _verify(lw, _sealed(lw, _face(lw, extra=True, monkeypatch=monkeypatch), genuine))
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert set(_failed(report)) == {"face"}
    assert report.errors[0].startswith("face: the face shows text that is not part of the licence")


def test_the_genuine_license_pdf_passes(lw: dict) -> None:
    pdf = license_documents.issue_pdf(lw["world"].instance, lw["made"].record.identifier)
    report = _verify(lw, pdf)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    checks = {c.name: c.detail for c in report.checks}
    assert "region-440000-sm2" in checks["sealed-by-issuer"] and "nothing else" in checks["face"]
