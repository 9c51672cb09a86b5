"""A renewed service certificate (seal maker, licence issuer, TSA, OCSP responder) keeps the old one in the trust
list's service history, so what the service signed before the renewal still verifies offline."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from ca.models import now
from seal.models import SealMaker
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.service import seals, trust
from verifier import api, context
from verifier.report import Indication


def test_seals_made_before_a_maker_renewal_still_verify(tmp_path: Path, world_template: World) -> None:
    world = copy_world(world_template, tmp_path / "home")
    instance = world.instance

    def make(name: str) -> bytes:
        return seals.create(
            instance,
            ca_id="region-330000-sm2",
            holder_kind="organization",
            holder_name="杭州示例科技有限公司",
            holder_code=ZJ_ORG_USCC,
            seal_name=name,
        ).seal_der

    before = make("合同专用章")
    with db.session_scope(instance.engine) as session:
        old_serial = session.get(SealMaker, "region-330000-sm2").cert_serial  # type: ignore[union-attr]
    # the maker certificate is about to expire: the next seal gets a renewed maker certificate
    with instance.engine.begin() as connection:
        connection.execute(
            text("UPDATE certificate SET not_after = :soon WHERE serial = :serial"),
            {"soon": now() + timedelta(days=10), "serial": old_serial},
        )
    after = make("财务专用章")
    with db.session_scope(instance.engine) as session:
        assert session.get(SealMaker, "region-330000-sm2").cert_serial != old_serial  # type: ignore[union-attr]

    bundle = json.dumps(trust.build_bundle(instance)).encode()
    ctx = context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])
    assert ctx.trust_list is not None
    makers = [s for _issuer, s in ctx.trust_list.services("SEAL_MAKER") if s.id == "region-330000-sm2-seal-maker"]
    assert len(makers) == 1 and len(makers[0].previous_certificates) == 1
    for seal_der in (before, after):
        report = api.verify(seal_der, ctx)
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
