"""Licence sharing (issue 21) across three parties of the demo world: 浙江 issues a birth certificate, the national
directory indexes it, a 广东 service obtains it with the citizen's consent (given after a federation login at the
浙江 OP) and verifies it offline with its bundle. Refusals — no consent, consent for another type, for another
service, expired, withdrawn, a withdrawn service — each say why, disclose nothing and are audited at both ends. The
directory's tables hold no licence field and no clear holder code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from licenses import samples
from tests.support.world import World, copy_world
from trust import db
from trust.crypto.errors import Code, SharingRefused, TrustError
from trust.formats.names import make_uscc
from trust.http.app import create_app
from trust.rp.sharing import verify_shared
from trust.service import audit, licenses
from trust.service import trust as trust_service
from trust.service.demo import _citizen_id
from trust.service.identity import anchor, op
from trust.service.sharing import access, directory
from trust.service.sharing.models import Consent

CITIZEN = _citizen_id("33010619900101001")
PASSWORD = "演示密码-demo-1"
BIRTH = "11100000000013338W104"
BUSINESS = "11100000000013338W101"


class Setting:
    def __init__(self, world: World, browser: TestClient, identifier: str) -> None:
        self.world, self.browser, self.identifier = world, browser, identifier
        self.instance = world.instance
        self.gd = anchor.hosted_rp_id(self.instance, "gd-service")
        self.gd2 = anchor.hosted_rp_id(self.instance, "gd-other")

    def id_token(self, rp: str) -> str:
        """A federation login of the citizen at the 浙江 OP for the service ``rp`` (scope huren_citizen_id)."""
        import html
        import re
        import secrets

        from trust.formats import oidc

        client_id = anchor.hosted_rp_id(self.instance, rp)
        verifier = secrets.token_urlsafe(48)
        params = {
            "response_type": "code", "client_id": client_id, "redirect_uri": f"{client_id}/callback",
            "scope": "openid huren_citizen_id", "state": "s", "nonce": secrets.token_urlsafe(8),
            "code_challenge": oidc.pkce_challenge(verifier), "code_challenge_method": "S256",
        }  # fmt: skip
        page = self.browser.get("/idp/330000/authorize", params=params)
        if page.status_code == 200:
            form = {k: html.unescape(v) for k, v in re.findall(r"name='(query|csrf)' value='([^']*)'", page.text)}
            page = self.browser.post("/idp/330000/login", data={**form, "citizen_id": CITIZEN, "password": PASSWORD})
            while page.status_code == 303:
                page = self.browser.get(page.headers["location"])
        code = parse_qs(urlsplit(page.headers["location"]).query)["code"][0]
        tokens = self.browser.post(
            "/idp/330000/token",
            data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": f"{client_id}/callback",
                "client_id": client_id, "code_verifier": verifier,
            },
        )  # fmt: skip
        assert tokens.status_code == 200, tokens.text
        return str(tokens.json()["id_token"])

    def consent(self, types: list[str] | None = None, fields: list[str] | None = None, **kw: Any) -> Consent:
        return access.grant(
            self.instance, id_token=self.id_token("gd-service"), requester=self.gd, license_types=types or [BIRTH],
            fields=fields or ["newborn_name", "sex"], purpose="入学登记", **kw,
        )  # fmt: skip

    def bundle(self, tmp: Path) -> tuple[bytes, list[str]]:
        data = trust_service.export_bundle(self.instance, tmp / "bundle.json").read_bytes()
        return data, list(trust_service.root_fingerprints(self.instance).values())

    def gd_key(self) -> dict[str, Any]:
        row = anchor.get(self.instance, self.gd)
        return dict(json.loads(row.jwks)["keys"][0])


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[Setting]:
    world = copy_world(world_template, tmp_path_factory.mktemp("sharing") / "home")
    instance = world.instance
    anchor.init(instance)
    anchor.register(instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务", slug="gd-service")
    anchor.register(instance, kind=anchor.KIND_RP, region_code="440000", name="广东另一服务", slug="gd-other")
    op.add_citizen(instance, CITIZEN, "张三", PASSWORD)
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省卫生健康委员会", code=make_uscc("11330000002482227"),
        license_types=[BIRTH, BUSINESS],
    )  # fmt: skip
    made = licenses.issue(
        instance, issuer_id=issuer.id, type_code=BIRTH, fields=samples.sample(BIRTH), holder_code=CITIZEN
    )
    with TestClient(create_app(instance), base_url=world.base_url, follow_redirects=False) as browser:
        yield Setting(world, browser, made.record.identifier)


def _request(s: Setting, consent: Consent | None, requester: str | None = None) -> access.Request:
    return access.Request(requester or s.gd, "入学登记", consent_id=consent.id if consent else None)


def test_consented_retrieval_discloses_exactly_the_consented_fields(setting: Setting, tmp_path: Path) -> None:
    s = setting
    consent = s.consent()
    found = access.lookup(s.instance, _request(s, consent), holder_code=CITIZEN, type_code=BIRTH)
    assert [f.identifier for f in found] == [s.identifier]
    assert found[0].region == "330000" and found[0].location.endswith(f"/sharing/licenses/{s.identifier}")
    shared = access.retrieve(s.instance, _request(s, consent), s.identifier)
    assert isinstance(shared, access.Shared)  # a licence Huren issued is never queued
    assert shared.disclosed == ["newborn_name", "sex"]
    bundle, pins = s.bundle(tmp_path)
    report = verify_shared(shared.sd_jwt, bundle=bundle, pins=pins, audience=s.gd, key_jwk=s.gd_key())
    assert sorted(dict(report.details)["disclosed"]) == ["newborn_name", "sex"]
    # Bound to the 广东 service: another service holding the same SD-JWT is refused, offline.
    with pytest.raises(TrustError) as caught:
        verify_shared(shared.sd_jwt, bundle=bundle, pins=pins, audience=s.gd2, key_jwk=s.gd_key())
    assert caught.value.code is Code.KEY_BINDING_FAILED
    # The citizen's history shows the lookup and the retrieval, with requester, purpose and consent id.
    rows = access.history(s.instance, holder_code=CITIZEN)
    seen = {(r.action, r.result, r.requester, r.consent_id) for r in rows}
    assert ("retrieve", "disclosed", s.gd, consent.id) in seen and ("lookup", "listed", s.gd, consent.id) in seen
    # Audited at both ends.
    entries = [e for e in audit.entries(s.instance.engine, limit=10_000) if e.action == "sharing.retrieve"]
    assert {json.loads(e.details)["end"] for e in entries if e.result == "disclosed"} == {"directory", "issuer"}
    assert audit.verify(s.instance.engine).ok


def _refused(s: Setting, request: access.Request, code: Code, identifier: str | None = None) -> None:
    before = len(access.history(s.instance, holder_code=CITIZEN, limit=10_000))
    with pytest.raises(SharingRefused) as caught:
        access.retrieve(s.instance, request, identifier or s.identifier)
    assert caught.value.code is code, caught.value
    assert "newborn" not in caught.value.message and CITIZEN not in caught.value.diagnostics()
    after = access.history(s.instance, holder_code=CITIZEN, limit=10_000)
    assert len(after) == before + 1 and after[0].result == "refused" and after[0].disclosed == "[]"
    assert after[0].reason.startswith(code.label)


def test_refusals_each_with_its_reason_nothing_disclosed_all_audited(setting: Setting) -> None:
    s = setting
    _refused(s, access.Request(s.gd, "入学登记"), Code.CONSENT_MISSING)  # no consent at all
    _refused(s, access.Request(s.gd, "入学登记", consent_id="0" * 32), Code.CONSENT_MISSING)  # unknown consent
    _refused(s, _request(s, s.consent(types=[BUSINESS], fields=["name"])), Code.CONSENT_OUT_OF_SCOPE)  # other type
    _refused(s, _request(s, s.consent(), requester=s.gd2), Code.CONSENT_OUT_OF_SCOPE)  # other audience
    expired = s.consent()
    with db.session_scope(s.instance.engine) as session:
        row = session.get(Consent, expired.id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    _refused(s, _request(s, expired), Code.CONSENT_EXPIRED)
    withdrawn = s.consent()
    access.withdraw(s.instance, withdrawn.id, id_token=s.id_token("gd-other"))
    _refused(s, _request(s, withdrawn), Code.CONSENT_REVOKED)
    refused = [e for e in audit.entries(s.instance.engine, limit=10_000) if e.result == "refused"]
    assert len(refused) >= 6


def test_a_consent_needs_a_login_for_that_service(setting: Setting) -> None:
    s = setting
    with pytest.raises(TrustError) as caught:  # an ID token for another service is no consent for this one
        access.grant(
            s.instance, id_token=s.id_token("gd-other"), requester=s.gd, license_types=[BIRTH], purpose="入学登记"
        )
    assert caught.value.code is Code.ID_TOKEN_INVALID


def test_the_directory_holds_no_fields_and_no_clear_holder_codes(setting: Setting) -> None:
    s = setting
    s.consent()
    # Every text field of the licence (short numbers such as "39" weeks also occur in hashes and times: skipped).
    values = [v for v in samples.sample(BIRTH).values() if isinstance(v, str) and len(v) >= 4] + [CITIZEN]
    with db.session_scope(s.instance.engine, read_only=True) as session:
        tables = [t for t in ("sharing_directory", "sharing_consent", "sharing_access", "sharing_directory_key")]
        dump = "\n".join(
            "|".join(str(v) for v in row) for table in tables for row in session.execute(text(f"SELECT * FROM {table}"))
        )
    assert s.identifier in dump  # the scan sees the rows
    leaked = [v for v in values if v in dump]
    assert leaked == []
    # The holder key is keyed: a plain SHA-256 of the code is not what the directory stores.
    import hashlib

    assert hashlib.sha256(CITIZEN.encode()).hexdigest() not in dump
    assert directory.holder_key(directory.directory_key(s.instance), CITIZEN) in dump


def test_status_changes_reach_the_directory_and_a_withdrawn_service_is_refused_at_once(setting: Setting) -> None:
    s = setting
    consent = s.consent()
    anchor.withdraw(s.instance, s.gd, reason="test")
    try:
        _refused(s, _request(s, consent), Code.REQUESTER_WITHDRAWN)
    finally:
        with db.session_scope(s.instance.engine) as session:  # other tests of this module use the service
            session.execute(text("UPDATE federation_entity SET status = 'active' WHERE id = :id"), {"id": s.gd})
    licenses.set_status(s.instance, s.identifier, "suspended", "test")
    found = access.lookup(s.instance, _request(s, consent), holder_code=CITIZEN, type_code=BIRTH)
    assert [f.status for f in found] == ["suspended"]


def test_rate_limit_per_service(setting: Setting) -> None:
    s = setting
    consent = s.consent()
    access.set_limits(s.instance, access.Limits(per_minute=3, per_day=1000))
    try:
        with pytest.raises(SharingRefused) as caught:
            for _ in range(10):
                access.lookup(s.instance, _request(s, consent), holder_code=CITIZEN, type_code=BIRTH)
        assert caught.value.code is Code.SHARING_QUOTA_EXCEEDED
    finally:
        access.set_limits(s.instance, access.Limits())
