"""Issue 11 item 10, existence probe: asking about another region's certificate, seal or licence gets exactly the
answer for one that does not exist — 404 ``E1003``, the same headers and the same body but for the id that was
asked about and the request id. Before the fix the answer was 403 either way, but the existing resource's came
with a reason ("only the client's own region's seals") the missing one's lacked.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from licenses import samples
from tests.support.http import AuthClient
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import audit, licenses, seals
from trust.service import ca as ca_service

BUSINESS = "11100000000013338W101"
ZJ_AUTHORITY = make_uscc("11330000002482226")


@dataclass
class Owned:
    """Resources of 浙江 (region A) and ids of the same shape that exist nowhere."""

    world: World
    client: AuthClient
    seal: str
    certificate: str
    license: str

    def missing(self, value: str) -> str:
        """``value`` with its last characters changed so that nothing has that id (same length, same shape)."""
        for tail in ("9", "8", "7"):
            candidate = value[:-1] + tail
            if candidate != value:
                return candidate
        raise AssertionError(value)


@pytest.fixture(scope="module")
def owned(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Owned:
    world = copy_world(world_template, tmp_path_factory.mktemp("existence") / "home")
    instance = world.instance
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省市场监督管理局", code=ZJ_AUTHORITY, license_types=[BUSINESS]
    )
    world.add_platform("zj-amr", "department", region="330000", license_issuer_id=issuer.id)
    seal = seals.create(
        instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
    ).es_id
    certificate = ca_service.issue(
        instance,
        ca_id="region-330000-sm2",
        profile="seal",
        subject=DN(province="浙江省", organization="杭州示例科技有限公司", common_name="章", serial_number=ZJ_ORG_USCC),
    ).record.serial
    license = licenses.issue(instance, issuer_id=issuer.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    return Owned(world, AuthClient(create_app(instance), world, None), seal, certificate, license.record.identifier)


Probe = Callable[[AuthClient, dict[str, str], str], httpx.Response]
PROBES: dict[str, tuple[str, Probe]] = {
    "GET /seals/{es_id}": ("seal", lambda c, h, i: c.get(f"/seals/{i}", headers=h)),
    "GET /seals/{es_id}.esl": ("seal", lambda c, h, i: c.get(f"/seals/{i}.esl", headers=h)),
    "POST /seals/{es_id}/status": (
        "seal",
        lambda c, h, i: c.post(f"/seals/{i}/status", json={"status": "suspended", "reason": "x"}, headers=h),
    ),
    "POST /seals/{es_id}/signatures": (
        "seal",
        lambda c, h, i: c.post(
            f"/seals/{i}/signatures", json={"data_hash": "11" * 32, "property_info": "x", "timestamp": False}, headers=h
        ),
    ),
    "GET /certificates/{serial}": ("certificate", lambda c, h, i: c.get(f"/certificates/{i}", headers=h)),
    "POST /certificates/{serial}/revoke": (
        "certificate",
        lambda c, h, i: c.post(f"/certificates/{i}/revoke", json={"reason": "superseded"}, headers=h),
    ),
    "GET /licenses/{identifier}": ("license", lambda c, h, i: c.get(f"/licenses/{i}", headers=h)),
    "POST /licenses/{identifier}/status": (
        "license",
        lambda c, h, i: c.post(f"/licenses/{i}/status", json={"status": "suspended", "reason": "x"}, headers=h),
    ),
    "POST /licenses/{identifier}/pdf": ("license", lambda c, h, i: c.post(f"/licenses/{i}/pdf", headers=h)),
}
_VARYING = {"date", "x-request-id"}


def _shape(response: httpx.Response, asked: str) -> tuple[int, list[tuple[str, str]], Any]:
    """Everything of an answer but the request id, with the id that was asked about written as ``<id>``."""
    body = response.json()
    body.pop("request_id", None)
    text = {k: (v.replace(asked, "<id>") if isinstance(v, str) else v) for k, v in body.items()}
    headers = sorted((k, v) for k, v in response.headers.items() if k not in _VARYING)
    return response.status_code, headers, text


# Region B, and a department of region A (it may see its own licences, so not for those).
CASES = [
    (r, c)
    for r, c in itertools.product(sorted(PROBES), ("gd-platform", "zj-amr"))
    if (PROBES[r][0], c) != ("license", "zj-amr")
]


@pytest.mark.parametrize(("route", "caller"), CASES)
def test_another_regions_resource_looks_exactly_like_a_missing_one(owned: Owned, route: str, caller: str) -> None:
    kind, probe = PROBES[route]
    existing = getattr(owned, kind)
    missing = owned.missing(existing)
    engine = owned.world.instance.engine
    before = audit.head(engine)[0]
    for_existing = probe(owned.client, owned.world.auth(caller), existing)
    for_missing = probe(owned.client, owned.world.auth(caller), missing)
    assert for_existing.status_code == 404, for_existing.text
    assert for_existing.json()["code"] == "E1003"
    assert _shape(for_existing, existing) == _shape(for_missing, missing)
    # Both refusals are audited, with their real reasons, and nothing else changed.
    entries = audit.entries(engine, after=before)
    assert [(e.result, e.actor) for e in entries] == [("denied", f"client:{caller}")] * 2


def test_the_owner_and_operators_still_see_it(owned: Owned) -> None:
    owner, operator = owned.client.as_("zj-platform"), owned.client.as_("national-ops")
    assert owner.get(f"/seals/{owned.seal}").status_code == 200
    assert operator.get(f"/seals/{owned.seal}").status_code == 200
    assert operator.get(f"/seals/{owned.missing(owned.seal)}").status_code == 404
    # an operator may read every seal, so it learns nothing from a 403 for an action it may not take
    refused = operator.post(f"/seals/{owned.seal}/status", json={"status": "suspended"})
    assert refused.status_code == 403 and refused.json()["code"] == "E1403"
