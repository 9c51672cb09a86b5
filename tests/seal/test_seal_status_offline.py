"""A seal's state reaches offline verifiers through the CRL in the bundle: suspending a seal puts its signer
certificates on hold, reinstating takes them off hold, revoking revokes them for good."""

from __future__ import annotations

import json
from pathlib import Path

from seal import samples
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust.formats import crl as crl_mod
from trust.service import ca as ca_service
from trust.service import seals, trust
from trust.service.seals import sealing, signing
from verifier import api, context
from verifier.report import Indication


def test_suspend_reinstate_revoke_are_visible_offline(tmp_path: Path, world_template: World) -> None:
    world = copy_world(world_template, tmp_path / "home")
    instance = world.instance
    record = seals.create(
        instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
        dual=True,
    )
    document = b"an OFD document"
    signature = signing.sign_hash(instance, es_id=record.es_id, data=document, property_info="doc", timestamp=False)
    pdf = sealing.seal_document(instance, samples.contract_pdf(1), es_id=record.es_id, level="B-B", family="dual")

    def verdicts() -> tuple[Indication, Indication]:
        bundle = json.dumps(trust.build_bundle(instance)).encode()
        ctx = context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])
        return (
            api.verify(signature, ctx, signed_data=document).indication,
            api.verify(pdf, ctx).indication,
        )

    def held() -> set[str]:
        serials = set()
        for serial in (record.sm2_cert_serial, record.rsa_cert_serial):
            assert serial is not None
            crl = crl_mod.load_crl(ca_service.crl_for_certificate(instance, serial))  # the CRL the certificate names
            for entry in crl["tbs_cert_list"]["revoked_certificates"]:
                serials.add((format(entry["user_certificate"].native, "x"), entry.crl_reason_value.native))
        return {s for s, reason in serials if reason == "certificate_hold"}

    assert verdicts() == (Indication.TOTAL_PASSED, Indication.TOTAL_PASSED)
    seals.set_status(instance, record.es_id, "suspended", "核查")
    assert {record.sm2_cert_serial, record.rsa_cert_serial} <= held()
    assert Indication.TOTAL_PASSED not in verdicts()
    seals.set_status(instance, record.es_id, "active", "核查完毕")
    assert not held() & {record.sm2_cert_serial, record.rsa_cert_serial}
    assert verdicts() == (Indication.TOTAL_PASSED, Indication.TOTAL_PASSED)
    seals.set_status(instance, record.es_id, "suspended", "再次核查")
    seals.set_status(instance, record.es_id, "revoked", "注销")
    sm2 = ca_service.get_certificate(instance, record.sm2_cert_serial)
    assert (sm2.status, sm2.revocation_reason) == ("revoked", "cessation_of_operation")
    # revoked after signing, with no proof of the signing time: never passed (ETSI: REVOKED_NO_POE or REVOKED)
    assert Indication.TOTAL_PASSED not in verdicts()
    sm2_record = ca_service.get_certificate(instance, record.sm2_cert_serial)
    published_path = instance.settings.published_dir / "crl" / "region-330000-sm2" / f"{sm2_record.crl_shard}.crl"
    published = crl_mod.load_crl(published_path.read_bytes())  # the CRL of the certificate's partition
    listed = {format(e["user_certificate"].native, "x") for e in published["tbs_cert_list"]["revoked_certificates"]}
    assert record.sm2_cert_serial in listed  # the public folder carries the new CRL
