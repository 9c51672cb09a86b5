"""Issue 11 item 10: an ``Idempotency-Key`` names one request — method, path, client and body. Reused for a
different request it is a 409 and nothing is made; the same request (even re-serialised) gets the first result.

Before the fix, the key reused with another subject returned 201 and the first certificate (for the first
subject); a seal with another holder name and a licence with other fields likewise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlmodel import func, select

from ca.models import IssuedCertificate
from licenses import samples
from licenses.models import LicenseRecord
from seal.models import SealRecord
from tests.support.http import AuthClient
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.errors import ConflictError
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as ca_service
from trust.service import idempotency, licenses

BUSINESS = "11100000000013338W101"
ZJ_AUTHORITY = make_uscc("11330000002482226")
SUBJECT = {"province": "浙江省", "organization": "杭州示例科技有限公司", "common_name": "合同专用章"}
CERTIFICATE: dict[str, Any] = {
    "ca_id": "region-330000-sm2",
    "profile": "seal",
    "subject": {**SUBJECT, "serial_number": ZJ_ORG_USCC},
}
OTHER_ORG = make_uscc("91330106MA2C00001")
SEAL = {
    "ca_id": "region-330000-sm2",
    "holder_name": "杭州示例科技有限公司",
    "holder_code": ZJ_ORG_USCC,
    "seal_name": "合同专用章",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    world = copy_world(world_template, tmp_path_factory.mktemp("idempotency-keys") / "home")
    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省市场监督管理局",
        code=ZJ_AUTHORITY,
        license_types=[BUSINESS],
    )
    world.issuer_id = issuer.id  # type: ignore[attr-defined]
    return world


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, "zj-platform")


def _count(world: World, model: Any) -> int:
    with db.session_scope(world.instance.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _conflict(response: Any) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "E1004" and "first used for another request" in body["detail"]
    return body


def test_a_key_reused_for_another_subject_is_a_conflict(client: AuthClient, world: World) -> None:
    key = {"Idempotency-Key": "cert-subject-1"}
    first = client.post("/certificates", json=CERTIFICATE, headers=key)
    assert first.status_code == 201, first.text
    made = _count(world, IssuedCertificate)
    other = {**CERTIFICATE, "subject": {**SUBJECT, "serial_number": OTHER_ORG, "organization": "另一家公司"}}
    body = _conflict(client.post("/certificates", json=other, headers=key))
    assert body["evidence"] == {"idempotency_key": "cert-subject-1", "first_request": "POST /certificates"}
    _conflict(client.post("/certificates", json={**CERTIFICATE, "validity_days": 30}, headers=key))
    assert _count(world, IssuedCertificate) == made  # nothing was made for the conflicting requests
    # The same request, serialised differently (key order, spacing), is a retry: the first certificate.
    same = json.dumps(dict(reversed(list(CERTIFICATE.items()))), indent=2, ensure_ascii=False).encode()
    again = client.post("/certificates", content=same, headers={**key, "content-type": "application/json"})
    assert again.status_code == 201 and again.json()["serial"] == first.json()["serial"]
    # The key in the body instead of the header names the same request.
    in_body = client.post("/certificates", json={**CERTIFICATE, "request_id": "cert-subject-1"})
    assert in_body.status_code == 201 and in_body.json()["serial"] == first.json()["serial"]
    assert _count(world, IssuedCertificate) == made


def test_a_key_reused_on_another_route_or_by_another_client(client: AuthClient, world: World) -> None:
    key = {"Idempotency-Key": "shared-key-1"}
    assert client.post("/certificates", json=CERTIFICATE, headers=key).status_code == 201
    seals_before = _count(world, SealRecord)
    body = _conflict(client.post("/seals", json=SEAL, headers=key))
    assert body["evidence"]["first_request"] == "POST /certificates"
    assert _count(world, SealRecord) == seals_before
    # Keys are the client's own: another platform may use the same key for its own request.
    gd = {**CERTIFICATE, "ca_id": "region-440000-sm2", "subject": {**SUBJECT, "province": "广东省"}}
    gd["subject"]["serial_number"] = make_uscc("91440300MA5F00001")
    assert client.as_("gd-platform").post("/certificates", json=gd, headers=key).status_code == 201


def test_seals_and_licenses_compare_the_whole_body(client: AuthClient, world: World) -> None:
    key = {"Idempotency-Key": "seal-holder-1"}
    first = client.post("/seals", json=SEAL, headers=key)
    assert first.status_code == 201, first.text
    _conflict(client.post("/seals", json={**SEAL, "holder_name": "别的名称有限公司"}, headers=key))
    assert client.post("/seals", json=SEAL, headers=key).json()["es_id"] == first.json()["es_id"]

    issuer_id = world.issuer_id  # type: ignore[attr-defined]
    fields = samples.sample(BUSINESS)
    license = {"issuer_id": issuer_id, "type": BUSINESS, "fields": fields}
    key = {"Idempotency-Key": "licence-fields-1"}
    made = client.post("/licenses", json=license, headers=key)
    assert made.status_code == 201, made.text
    count = _count(world, LicenseRecord)
    changed = {**license, "fields": {**fields, "name": "另一家公司"}}
    _conflict(client.post("/licenses", json=changed, headers=key))
    assert _count(world, LicenseRecord) == count
    assert client.post("/licenses", json=license, headers=key).json()["identifier"] == made.json()["identifier"]


def test_a_failed_request_does_not_bind_its_key(client: AuthClient) -> None:
    key = {"Idempotency-Key": "failed-first-1"}
    refused = client.post("/certificates", json={**CERTIFICATE, "csr": "not a CSR"}, headers=key)
    assert refused.status_code == 400, refused.text
    assert client.post("/certificates", json=CERTIFICATE, headers=key).status_code == 201


def test_racing_requests_with_one_key_and_two_bodies(world: World) -> None:
    """Six at once under one key, three with each of two subjects: one certificate is made; the requests like the
    winner get it, the others a conflict."""
    subjects = {
        "a": DN(
            province="浙江省", organization="甲公司", common_name="章", serial_number=make_uscc("91330106MA2C00002")
        ),
        "b": DN(
            province="浙江省", organization="乙公司", common_name="章", serial_number=make_uscc("91330106MA2C00003")
        ),
    }
    fingerprints = {
        name: idempotency.Fingerprint.of("POST", "/certificates", "zj-platform", {"subject": name}) for name in subjects
    }

    def make(name: str) -> tuple[str, str]:
        try:
            result = ca_service.issue(
                world.instance,
                ca_id="region-330000-sm2",
                profile="seal",
                subject=subjects[name],
                request_id="zj-platform/race-1",
                fingerprint=fingerprints[name],
            )
        except ConflictError:
            return name, "conflict"
        return name, result.record.serial

    run: Callable[[str], tuple[str, str]] = make
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(run, ["a", "b"] * 3))
    serials = {serial for _name, serial in outcomes if serial != "conflict"}
    assert len(serials) == 1, outcomes
    winners = {name for name, serial in outcomes if serial != "conflict"}
    assert len(winners) == 1
    assert all((serial == "conflict") == (name not in winners) for name, serial in outcomes), outcomes
    with db.session_scope(world.instance.engine) as session:
        stored = session.exec(
            select(func.count())
            .select_from(IssuedCertificate)
            .where(IssuedCertificate.request_id == "zj-platform/race-1")
        ).one()
    assert stored == 1
