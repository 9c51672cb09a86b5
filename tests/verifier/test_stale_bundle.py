"""A stale bundle is not a forgery (issue 13 item 6).

A verifier holds a bundle exported before the 北京 region (110000) was enrolled; since then 北京 has a CA, a licence
issuer and a seal maker, and issued a licence, its licence PDF and a sealed contract. With the old bundle these genuine
documents are INDETERMINATE with a "get a newer bundle" reason (ETSI TRY_LATER) — before the fix they were
TOTAL_FAILED ("the signing key is not a licence issuer of the trust list", "not a SEAL_MAKER …") — and with the new
bundle they pass. What is forged stays TOTAL_FAILED with the old bundle too: a token of the new issuer with a tampered
claim (its x5c key still checks the signature), a tampered sealed PDF, a token of a listed issuer signed with another
key. And ``public/bundle.json`` is exported again whenever the trust list, a CRL or a status list changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from licenses import samples
from tests.conftest import REPO
from tests.support.world import World, copy_world
from trust.crypto import base64url
from trust.crypto.keys import generate_private_key
from trust.formats import bundle as bundle_format
from trust.formats import jose
from trust.formats import license_token as token
from trust.formats.names import make_uscc
from trust.service import ca as ca_service
from trust.service import license_documents, licenses, seals, trust
from trust.service.seals import sealing
from verifier import api, context
from verifier.report import Indication, Report, SubIndication

BUSINESS = "11100000000013338W101"
BJ_AUTHORITY = make_uscc("11110000000021135")
BJ_COMPANY = make_uscc("91110105MA01XXX00")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> dict[str, Any]:
    world = copy_world(world_template, tmp_path_factory.mktemp("stale-bundle") / "home")
    instance = world.instance
    zj = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省市场监督管理局", code=make_uscc("11330000002482226"),
        license_types=[BUSINESS],
    )  # fmt: skip
    old = json.dumps(trust.build_bundle(instance)).encode()  # what the verifier downloaded
    ca_service.enrol(instance, kind="region", code="110000", family="SM2")
    bj = licenses.register_issuer(
        instance, ca_id="region-110000-sm2", name="北京市市场监督管理局", code=BJ_AUTHORITY, license_types=[BUSINESS]
    )
    compact = licenses.issue(instance, issuer_id=bj.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    x5c = licenses.issue(
        instance, issuer_id=bj.id, type_code=BUSINESS, fields=samples.sample(BUSINESS), token_form="x5c"
    )
    licence_pdf = license_documents.issue_pdf(instance, compact.record.identifier)
    seal = seals.create(
        instance, ca_id="region-110000-sm2", holder_kind="organization", holder_name="北京示例科技有限公司",
        holder_code=BJ_COMPANY, seal_name="合同专用章",
    )  # fmt: skip
    contract = (REPO / "docs" / "examples" / "contract.pdf").read_bytes()
    sealed = sealing.seal_document(instance, contract, es_id=seal.es_id, level="B-T")
    listed = licenses.issue(instance, issuer_id=zj.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    return {
        "world": world,
        "old": old,
        "new": json.dumps(trust.build_bundle(instance)).encode(),
        "pins": [trust.root_fingerprints(instance)["SM2"]],
        "compact": compact,
        "x5c": x5c,
        "licence_pdf": licence_pdf,
        "seal": seals.get(instance, seal.es_id).seal_der,
        "sealed": sealed,
        "listed": listed,
    }


def _verify(scene: dict[str, Any], data: bytes | str, bundle: str = "old") -> Report:
    ctx = context.build(bundle=scene[bundle], pins=scene["pins"])
    return api.verify(data.encode() if isinstance(data, str) else data, ctx)


def _genuine(scene: dict[str, Any]) -> dict[str, bytes | str]:
    return {
        "compact token": scene["compact"].record.token,
        "x5c token": scene["x5c"].record.token,
        "SD-JWT": scene["compact"].record.sd_jwt,
        "QR payload": token.to_qr(scene["compact"].qr_token),
        "licence PDF": scene["licence_pdf"],
        "seal": scene["seal"],
        "sealed PDF": scene["sealed"],
    }


@pytest.mark.parametrize(
    "what", ["compact token", "x5c token", "SD-JWT", "QR payload", "licence PDF", "seal", "sealed PDF"]
)
def test_genuine_documents_newer_than_the_bundle_are_indeterminate(scene: dict[str, Any], what: str) -> None:
    data = _genuine(scene)[what]
    stale = _verify(scene, data)
    assert stale.indication is Indication.INDETERMINATE, stale.to_text()
    assert "get a newer bundle" in stale.errors[0], stale.errors
    if what in ("compact token", "x5c token", "licence PDF", "QR payload", "SD-JWT"):
        assert stale.sub_indication is SubIndication.TRY_LATER, stale.to_text()
    current = _verify(scene, data, "new")
    assert current.indication is Indication.TOTAL_PASSED, current.to_text()


def test_forgeries_stay_total_failed_with_the_old_bundle(scene: dict[str, Any]) -> None:
    _header, body = token.parse_unverified(scene["x5c"].record.token)
    signing_input, _signature = scene["x5c"].record.token.rsplit(".", 1)
    body["license"]["holder"]["name"] = "冒名顶替有限公司"
    tampered = f"{signing_input.split('.')[0]}.{base64url.encode(token.encode_claims(body))}.{_signature}"
    report = _verify(scene, tampered)
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert [c.name for c in report.checks if c.result.value == "failed"] == ["issuer-key", "signature"]

    pdf = bytearray(scene["sealed"])
    at = pdf.find(b"/Contents") - 64  # a byte the signature covers, before the signature dictionary
    pdf[at] = pdf[at] ^ 0x01
    report = _verify(scene, bytes(pdf))
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()

    listed_header, listed_body = token.parse_unverified(scene["listed"].record.token)
    other = generate_private_key("sm2")
    forged = jose.sign_compact(token.encode_claims(listed_body), other.signer(), headers=listed_header)
    report = _verify(scene, forged)
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


def test_the_verifier_knows_how_far_back_certificates_are_dated() -> None:
    """``verifier.context.BACKDATING`` is the issuing side's ``ca.authority.BACKDATE`` (the verifier may not import it):
    a certificate dated up to that much before a bundle was made was issued after it."""
    from ca.authority import BACKDATE

    assert context.BACKDATING == BACKDATE


def test_public_bundle_json_follows_every_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, world_template: World
) -> None:
    """The trust list (a status change), a CRL (a revocation) and a status list (a licence suspended): each change
    re-exports ``public/bundle.json`` when it commits, signed by the roots and holding the change — after the
    outermost commit, never inside the transaction (a SAVEPOINT's release made it wait on its own SQLite lock)."""
    world: World = copy_world(world_template, tmp_path / "home")
    instance = world.instance
    published = instance.settings.published_dir / "bundle.json"
    pins = [trust.root_fingerprints(instance)["SM2"]]

    def current() -> bundle_format.VerifiedBundle:
        return bundle_format.verify(published.read_bytes(), pins)

    first = current()
    assert first.trust_list.sequence == trust.latest_trust_list(instance).sequence
    trust.change_status(instance, subject="issuer", subject_id="region-440000", status="suspended", reason="审计")
    after_status = current()
    assert after_status.trust_list.sequence == first.trust_list.sequence + 1

    issued = ca_service.issue(instance, ca_id="region-330000-sm2", profile="seal", subject=_subject(), key_family="SM2")
    crls_before = {der for _ca, der in current().bundle.crls}
    ca_service.revoke(instance, serial=issued.record.serial, reason="key_compromise")
    crls_after = {der for _ca, der in current().bundle.crls}
    # scale's revocation re-signs the certificate's CRL partition (and its delta), not the main CRL: the bundle
    # carries every partition, so some CRL of it changed
    assert crls_after != crls_before

    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省市场监督管理局", code=make_uscc("11330000002482226"),
        license_types=[BUSINESS],
    )  # fmt: skip
    made = licenses.issue(instance, issuer_id=issuer.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    lists_before = {item["uri"]: item["token"] for item in current().bundle.status_lists}
    licenses.set_status(instance, made.record.identifier, "suspended", "核查")
    lists_after = {item["uri"]: item["token"] for item in current().bundle.status_lists}
    assert lists_after != lists_before
    ctx = context.build(bundle=published.read_bytes(), pins=pins)
    report = api.verify(made.record.token.encode(), ctx)
    assert "suspended" in report.errors[0], report.to_text()  # what a verifier downloading it now sees
    failed = [r.getMessage() for r in caplog.records if "not re-exported" in r.getMessage()]
    assert not failed, failed[:3]


def _subject() -> Any:
    from trust.formats.names import DN

    return DN(
        province="浙江省",
        organization="杭州示例科技有限公司",
        common_name="公章",
        serial_number=make_uscc("91330106MA2CFA4X0"),
    )
