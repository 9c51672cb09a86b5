"""Licence sharing over HTTP (issue 21) across the three roles of the demo world: 浙江 issues a birth certificate
(the issuing region), the national directory answers lookups, and 广东's platform (the requesting region) obtains
the licence for its relying service ``gd-service`` with the consent the citizen gave over HTTP with the ID token of
their federation login — and verifies it offline with its bundle. Every refusal answers a problem document with its
code and discloses nothing (no SD-JWT, no field, no holder code); the citizen's history lists them all. Scoping: a
region's platform requests only as a relying service of its own region; operators and departments do not request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from licenses import samples
from tests.support.http import AuthClient
from tests.support.world import World, copy_world
from tests.trust.service.test_sharing import BIRTH, BUSINESS, CITIZEN, PASSWORD, Setting
from trust import db
from trust.formats.names import make_uscc
from trust.http.app import create_app
from trust.rp.sharing import verify_shared
from trust.service import audit, licenses
from trust.service.identity import anchor, op
from trust.service.sharing.models import Consent

FIELDS = ["newborn_name", "sex"]
SECRET_VALUES = [v for v in samples.sample(BIRTH).values() if isinstance(v, str) and len(v) >= 4]


class Roles(Setting):
    """The demo world seen over HTTP: the citizen's browser, 广东's platform (requesting region), 浙江's platform and
    the national operator."""

    gd_platform: AuthClient
    zj_platform: AuthClient
    operator: AuthClient
    anonymous: AuthClient


@pytest.fixture(scope="module")
def roles(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[Roles]:
    world = copy_world(world_template, tmp_path_factory.mktemp("sharing-http") / "home")
    instance = world.instance
    anchor.init(instance)
    anchor.register(instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    for slug, name in (("gd-service", "广东政务服务"), ("gd-other", "广东另一服务"), ("gd-gone", "广东将撤销服务")):
        anchor.register(instance, kind=anchor.KIND_RP, region_code="440000", name=name, slug=slug)
    op.add_citizen(instance, CITIZEN, "张三", PASSWORD)
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省卫生健康委员会", code=make_uscc("11330000002482227"),
        license_types=[BIRTH, BUSINESS],
    )  # fmt: skip
    made = licenses.issue(
        instance, issuer_id=issuer.id, type_code=BIRTH, fields=samples.sample(BIRTH), holder_code=CITIZEN
    )
    app = create_app(instance)
    with TestClient(app, base_url=world.base_url, follow_redirects=False) as browser:
        r = Roles(world, browser, made.record.identifier)
        base = AuthClient(app, world, None, base_url=world.base_url)
        r.gd_platform, r.zj_platform = base.as_("gd-platform"), base.as_("zj-platform")
        r.operator, r.anonymous = base.as_("national-ops"), base
        yield r


def _consent(r: Roles, rp: str = "gd-service", types: list[str] | None = None) -> dict[str, Any]:
    response = r.anonymous.post(
        "/sharing/consents",
        json={
            "id_token": r.id_token(rp),
            "requester": anchor.hosted_rp_id(r.instance, rp),
            "license_types": types or [BIRTH],
            "fields": FIELDS if types is None else [],
            "purpose": "入学登记",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _authority(r: Roles, consent: dict[str, Any] | None, requester: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"requester": requester or r.gd, "purpose": "入学登记"}
    if consent is not None:
        body["consent_id"] = consent["id"]
    return body


def _history(r: Roles) -> list[dict[str, Any]]:
    response = r.anonymous.post("/sharing/citizen/history", json={"id_token": r.id_token("gd-other")})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_consented_lookup_and_retrieval_verified_offline(roles: Roles, tmp_path: Path) -> None:
    r = roles
    consent = _consent(r)
    assert consent["requester"] == r.gd and consent["fields"] == FIELDS and consent["revoked_at"] is None
    lookup = r.gd_platform.post(
        "/sharing/lookup", json={**_authority(r, consent), "holder_code": CITIZEN, "type": BIRTH}
    )
    assert lookup.status_code == 200, lookup.text
    [located] = lookup.json()
    assert located["identifier"] == r.identifier and located["region"] == "330000"
    assert not any(value in lookup.text for value in [*SECRET_VALUES, CITIZEN])  # metadata only
    # The directory's location is this service's retrieval route.
    path = located["location"].removeprefix(r.world.base_url)
    assert path == f"/sharing/licenses/{r.identifier}"
    fetched = r.gd_platform.post(path, json=_authority(r, consent))
    assert fetched.status_code == 200, fetched.text
    shared = fetched.json()
    assert shared["disclosed"] == FIELDS
    bundle, pins = r.bundle(tmp_path)
    report = verify_shared(shared["sd_jwt"], bundle=bundle, pins=pins, audience=r.gd, key_jwk=r.gd_key())
    assert sorted(dict(report.details)["disclosed"]) == FIELDS
    # The citizen's history (HTTP) shows the lookup and the retrieval with requester, purpose and consent id.
    seen = {(h["action"], h["result"], h["requester"], h["consent_id"], h["purpose"]) for h in _history(r)}
    assert ("lookup", "listed", r.gd, consent["id"], "入学登记") in seen
    assert ("retrieve", "disclosed", r.gd, consent["id"], "入学登记") in seen
    # ... and their consents.
    mine = r.anonymous.post("/sharing/citizen/consents", json={"id_token": r.id_token("gd-other")})
    assert mine.status_code == 200 and consent["id"] in {c["id"] for c in mine.json()}


def _refused(r: Roles, body: dict[str, Any], status: int, code: str) -> None:
    before = len(_history(r))
    response = r.gd_platform.post(f"/sharing/licenses/{r.identifier}", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code, problem
    assert "sd_jwt" not in problem and not any(v in response.text for v in [*SECRET_VALUES, CITIZEN])
    after = _history(r)
    assert len(after) == before + 1 and after[0]["result"] == "refused" and after[0]["disclosed"] == []
    assert after[0]["reason"].startswith(code) and after[0]["identifier"] == r.identifier


def test_refusals_with_their_problem_codes_nothing_disclosed(roles: Roles) -> None:
    r = roles
    _refused(r, _authority(r, None), 403, "E1600")  # no consent
    _refused(r, _authority(r, {"id": "0" * 32}), 403, "E1600")  # unknown consent
    _refused(r, _authority(r, _consent(r, types=[BUSINESS])), 403, "E1601")  # consent for another type
    # consent for another service: gd-other's consent presented by gd-service
    _refused(r, _authority(r, _consent(r, rp="gd-other")), 403, "E1601")
    expired = _consent(r)
    with db.session_scope(r.instance.engine) as session:
        row = session.get(Consent, expired["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    _refused(r, _authority(r, expired), 403, "E1602")
    withdrawn = _consent(r)
    response = r.anonymous.post(
        f"/sharing/consents/{withdrawn['id']}/withdraw", json={"id_token": r.id_token("gd-other")}
    )
    assert response.status_code == 200 and response.json()["revoked_at"] is not None, response.text
    _refused(r, _authority(r, withdrawn), 403, "E1603")
    # A withdrawn service (operator, over HTTP) is refused at once, with its own valid consent.
    gone = anchor.hosted_rp_id(r.instance, "gd-gone")
    consent = _consent(r, rp="gd-gone")
    response = r.operator.post("/federation/entities/withdraw", json={"entity_id": gone, "reason": "test"})
    assert response.status_code == 200, response.text
    _refused(r, _authority(r, consent, requester=gone), 403, "E1604")
    # All audited at both ends' log: the refusals are audit entries too.
    refused = [e for e in audit.entries(r.instance.engine, limit=10_000) if e.action == "sharing.retrieve"]
    assert sum(e.result == "refused" for e in refused) >= 7
    assert audit.verify(r.instance.engine).ok


def test_a_region_requests_only_as_its_own_services(roles: Roles) -> None:
    r = roles
    consent = _consent(r)
    body = {**_authority(r, consent), "holder_code": CITIZEN, "type": BIRTH}
    for caller in (r.zj_platform, r.operator):  # 浙江's platform acting as a 广东 service; the operator
        before = audit.head(r.instance.engine)[0]
        for path, payload in (("/sharing/lookup", body), (f"/sharing/licenses/{r.identifier}", _authority(r, consent))):
            response = caller.post(path, json=payload)
            assert response.status_code == 403 and response.json()["code"] == "E1403", response.text
            assert "sd_jwt" not in response.text and r.identifier not in response.text.replace(path, "")
        assert {e.result for e in audit.entries(r.instance.engine, after=before)} == {"denied"}
    response = r.anonymous.post("/sharing/lookup", json=body)
    assert response.status_code == 401
    response = r.gd_platform.post("/sharing/lookup", json={**body, "requester": "https://nowhere.example/rp/x"})
    assert response.status_code == 404 and response.json()["code"] == "E1003"


def test_a_consent_needs_a_login_at_that_service(roles: Roles) -> None:
    r = roles
    response = r.anonymous.post(
        "/sharing/consents",
        json={"id_token": r.id_token("gd-other"), "requester": r.gd, "license_types": [BIRTH], "purpose": "入学登记"},
    )
    assert response.status_code == 422 and response.json()["code"] == "E1508", response.text
    response = r.anonymous.post("/sharing/citizen/history", json={"id_token": "not.a.token"})
    assert response.status_code == 422 and response.json()["code"] == "E1508"


def test_quota_from_settings_answers_429(roles: Roles, monkeypatch: pytest.MonkeyPatch) -> None:
    from trust.settings import Settings

    monkeypatch.setenv("TRUST_SHARING_RATE_LIMIT", "2")
    monkeypatch.setenv("TRUST_SHARING_DAILY_QUOTA", "0")
    configured = Settings()
    assert (configured.sharing_rate_limit, configured.sharing_daily_quota) == (2, 0)
    r = roles
    consent = _consent(r)
    body = {**_authority(r, consent), "holder_code": CITIZEN, "type": BIRTH}
    original = r.instance.settings
    r.instance.settings = original.model_copy(update={"sharing_rate_limit": 2, "sharing_daily_quota": 0})
    try:
        response = r.gd_platform.post("/sharing/lookup", json=body)  # earlier tests spent this minute's two
        assert response.status_code == 429 and response.json()["code"] == "E1605", response.text
        assert "per minute" in response.json()["detail"]
        r.instance.settings = original.model_copy(update={"sharing_rate_limit": 0, "sharing_daily_quota": 3})
        response = r.gd_platform.post("/sharing/lookup", json=body)
        assert response.status_code == 429 and "per day" in response.json()["detail"], response.text
        r.instance.settings = original.model_copy(update={"sharing_rate_limit": 0, "sharing_daily_quota": 0})
        assert r.gd_platform.post("/sharing/lookup", json=body).status_code == 200  # 0: off
    finally:
        r.instance.settings = original
    assert r.gd_platform.post("/sharing/lookup", json=body).status_code == 200


def test_cli_over_the_same_instance(
    roles: Roles, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trust sharing consent|lookup|fetch|history|withdraw`` on the instance the HTTP routes serve."""
    from tests.support.world import PASSPHRASE
    from trust.cli.main import main

    r = roles
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", r.world.base_url)
    h = ["--home", str(r.world.home)]

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, *h])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    token = tmp_path / "id-token"
    token.write_text(r.id_token("gd-service"))
    code, out, err = run(
        "sharing", "consent", r.gd, "--id-token", str(token), "--purpose", "入学登记", "--type", BIRTH,
        "--field", "sex",
    )  # fmt: skip
    assert code == 0, err
    consent = json.loads(out)
    assert consent["fields"] == ["sex"] and token.read_text() not in out
    authority = ["--purpose", "入学登记", "--consent", consent["id"]]
    code, out, err = run("sharing", "lookup", r.gd, BIRTH, "--holder-code", CITIZEN, *authority)
    assert code == 0, err
    assert [e["identifier"] for e in json.loads(out)] == [r.identifier]
    code, out, err = run("sharing", "fetch", r.gd, r.identifier, *authority)
    assert code == 0 and "disclosed: sex" in err, err
    bundle, pins = r.bundle(tmp_path)
    report = verify_shared(out.strip(), bundle=bundle, pins=pins, audience=r.gd, key_jwk=r.gd_key())
    assert dict(report.details)["disclosed"] == ["sex"]
    # Refused: the consent is for gd-service, not gd-other; exit 3 with the code, nothing on standard output.
    code, out, err = run("sharing", "fetch", r.gd2, r.identifier, *authority)
    assert code == 3 and "E1601" in err and out == ""
    code, out, err = run("sharing", "withdraw", consent["id"], "--id-token", str(token))
    assert code == 0 and json.loads(out)["revoked_at"] is not None, err
    code, out, err = run("sharing", "fetch", r.gd, r.identifier, *authority)
    assert code == 3 and "E1603" in err
    code, out, err = run("sharing", "history", "--id-token", str(token), "--json")
    assert code == 0, err
    mine = [row for row in json.loads(out) if row["consent_id"] == consent["id"]]
    assert [(row["action"], row["result"]) for row in mine][:2] == [("retrieve", "refused"), ("retrieve", "refused")]
    assert ("retrieve", "disclosed") in {(row["action"], row["result"]) for row in mine}
    code, out, err = run("sharing", "history", "--id-token", str(token))
    assert code == 0 and f"consent {consent['id']}" in out and CITIZEN not in out
