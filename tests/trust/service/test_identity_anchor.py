"""The identity federation's trust anchor in the service (issue 16 item 1): entity configurations, registration
scoped like every write (HTTP and CLI), fetch / list / resolve, trust marks granted and revoked, withdrawal with the
trust list's before/after semantics, audit entries, and the offline bundle from which a relying party resolves an
OP's trust chain with the network blocked."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ca import models
from tests.support.http import AuthClient
from tests.support.offline import no_network  # noqa: F401 - fixture
from tests.support.world import World, copy_world
from trust.cli.main import main
from trust.formats import bundle, federation, oidc
from trust.formats import trustlist as tl
from trust.http.app import create_app
from trust.service import audit
from trust.service import trust as trust_service
from trust.service.identity import anchor

ZJ_NAME = "浙江省统一身份认证平台"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    world = copy_world(world_template, tmp_path_factory.mktemp("federation") / "home")
    anchor.init(world.instance)
    anchor.register(world.instance, kind=anchor.KIND_OP, region_code="330000", name=ZJ_NAME)
    anchor.register(world.instance, kind=anchor.KIND_OP, region_code="440000", name="广东省统一身份认证平台")
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务", slug="gd-service")
    return world


@pytest.fixture(scope="module")
def http(fed: World) -> AuthClient:
    return AuthClient(create_app(fed.instance), fed, "national-ops")


def test_the_anchor_configuration_is_served_and_self_signed(fed: World, http: AuthClient) -> None:
    response = http.anonymous.get("/.well-known/openid-federation")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/entity-statement+jwt")
    statement = federation.parse_statement(response.text)
    assert statement.is_configuration and statement.iss == fed.base_url
    federation.verify_signature(statement, anchor.anchor_jwks(fed.instance))
    endpoints = statement.metadata["federation_entity"]
    assert endpoints["federation_fetch_endpoint"] == f"{fed.base_url}/federation/fetch"


def test_fetch_list_and_resolve(fed: World, http: AuthClient) -> None:
    zj = anchor.hosted_op_id(fed.instance, "330000")
    ops = http.anonymous.get("/federation/list", params={"entity_type": "openid_provider"}).json()
    assert zj in ops and anchor.hosted_rp_id(fed.instance, "gd-service") not in ops
    fetched = federation.parse_statement(http.anonymous.get("/federation/fetch", params={"sub": zj}).text)
    assert (fetched.iss, fetched.sub) == (fed.base_url, zj)
    assert fetched.claims["metadata_policy"]["openid_provider"][oidc.CLAIM_REGIONS_SUPPORTED]["subset_of"] == ["330000"]
    # The OP's key is certified by Zhejiang's SM2 CA and listed in the trust list as its IDENTITY_PROVIDER service.
    configuration = http.anonymous.get("/idp/330000/.well-known/openid-federation").text
    response = http.anonymous.get("/federation/resolve", params={"sub": zj, "trust_anchor": fed.base_url})
    assert response.status_code == 200, response.text
    chain = federation.validate_resolve_response(
        response.text, anchor.anchor_jwks(fed.instance), subject=zj, anchor=fed.base_url, now=int(time.time())
    )
    assert chain.statements[0].claims["metadata"] == federation.parse_statement(configuration).claims["metadata"]
    certificate = federation.entity_certificate(chain)
    assert certificate is not None
    _record, trust_list = _trust_list(fed)
    standing = trust_list.standing(certificate, models.now(), "IDENTITY_PROVIDER")
    assert standing.usable and standing.issuer is not None and standing.issuer.id == "region-330000"
    assert http.anonymous.get("/federation/fetch", params={"sub": "https://nobody.example"}).status_code == 404


def _trust_list(fed: World) -> tuple[object, tl.TrustList]:
    record = trust_service.latest_trust_list(fed.instance)
    from trust.formats import jose

    payload, _signatures = jose.parse_json(json.loads(record.document))
    return record, tl.TrustList.from_json(json.loads(payload))


def test_registration_is_scoped_like_every_write(fed: World, http: AuthClient) -> None:
    body = {"kind": "openid_relying_party", "region": "440000", "name": "广州政务服务", "slug": "gz-service"}
    assert http.as_("zj-platform").post("/federation/entities", json=body).status_code == 403
    created = http.as_("gd-platform").post("/federation/entities", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["entity_id"] == anchor.hosted_rp_id(fed.instance, "gz-service")
    assert http.as_("gd-platform").post("/federation/entities", json=body).status_code == 409
    assert http.anonymous.post("/federation/entities", json=body).status_code == 401
    # Trust marks and withdrawal are the operator's.
    zj = anchor.hosted_op_id(fed.instance, "330000")
    refused = http.as_("zj-platform").post("/federation/trust-marks", json={"entity_id": zj, "level": 2})
    assert refused.status_code == 403 and refused.json()["code"] == "E1403"
    from sqlmodel import Session, select

    with Session(fed.instance.engine) as session:
        actions = {(e.action, e.actor) for e in session.exec(select(audit.AuditEntry)).all()}
    assert ("federation-entity.create", "client:gd-platform") in actions, sorted(actions)[-10:]
    assert any(action == "federation.manage" for action, _actor in actions)  # the refused grant, audited "denied"


def test_trust_marks_are_granted_listed_and_revoked(fed: World, http: AuthClient) -> None:
    zj = anchor.hosted_op_id(fed.instance, "330000")
    granted = http.post("/federation/trust-marks", json={"entity_id": zj, "level": 2})
    assert granted.status_code == 201, granted.text
    token = granted.json()["trust_mark"]
    chain = anchor.resolve_chain(fed.instance, zj)
    assert [m.trust_mark_type for m in chain.trust_marks] == [anchor.trust_mark_type(fed.instance, 2)]
    status = http.anonymous.post("/federation/trust-mark-status", json={"trust_mark": token})
    assert status.json() == {"status": "active"}
    assert http.post("/federation/trust-marks/revoke", json={"entity_id": zj, "level": 2}).status_code == 200
    assert http.anonymous.post("/federation/trust-mark-status", json={"trust_mark": token}).json() == {
        "status": "revoked"
    }
    assert anchor.resolve_chain(fed.instance, zj).trust_marks == ()
    section = federation.FederationSection.from_json(anchor.bundle_section(fed.instance))
    assert federation.TrustMark(token, "", "", "", 0, None).digest in section.revoked_trust_marks


def test_the_bundle_carries_the_federation_and_resolves_offline(
    fed: World,
    tmp_path: Path,
    no_network: list[str],  # noqa: F811 - fixture
) -> None:
    no_network.clear()
    path = trust_service.export_bundle(fed.instance, tmp_path / "bundle.json")
    pins = list(trust_service.root_fingerprints(fed.instance).values())
    verified = bundle.verify(path.read_bytes(), pins)
    assert verified.bundle.federation is not None
    section = federation.FederationSection.from_json(verified.bundle.federation)
    zj = anchor.hosted_op_id(fed.instance, "330000")
    chain = section.resolve(zj, now=int(time.time()))
    assert chain.entity_metadata("openid_provider")[oidc.CLAIM_REGIONS_SUPPORTED] == ["330000"]
    certificate = federation.entity_certificate(chain)
    assert certificate is not None
    assert verified.trust_list.standing(certificate, models.now(), "IDENTITY_PROVIDER").usable


def test_withdrawal_ends_acceptance_from_then_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], world_template: World
) -> None:
    world = copy_world(world_template, tmp_path / "home")
    anchor.init(world.instance)
    op = anchor.register(world.instance, kind=anchor.KIND_OP, region_code="330000", name=ZJ_NAME)
    before = models.now() - timedelta(seconds=2)  # the trust list counts in whole seconds
    certificate = anchor.certificate_of(op)
    assert certificate is not None
    code, out, _err = _cli(monkeypatch, capsys, world, "federation", "withdraw", op.id, "--reason", "key compromise")
    assert code == 0, out
    with _raises_not_found():
        anchor.subordinate_statement(world.instance, op.id)
    _record, trust_list = _trust_list(world)
    after = models.now() + timedelta(seconds=1)
    assert trust_list.standing(certificate, before, "IDENTITY_PROVIDER").usable
    standing = trust_list.standing(certificate, after, "IDENTITY_PROVIDER")
    assert not standing.usable and "withdrawn" in standing.reason
    section = anchor.bundle_section(world.instance)
    assert section is not None
    assert op.id not in federation.FederationSection.from_json(section).statement_set().configurations


def _raises_not_found() -> Any:
    from trust.crypto.errors import NotFoundError

    return pytest.raises(NotFoundError)


def test_an_instance_without_an_anchor_keeps_its_bundle_as_it_was(world: World) -> None:
    assert anchor.bundle_section(world.instance) is None
    assert (
        "federation"
        not in bundle.Bundle.from_json(json.loads(jose_payload(trust_service.build_bundle(world.instance)))).to_json()
    )


def jose_payload(document: dict[str, object]) -> bytes:
    from trust.formats import jose

    payload, _signatures = jose.parse_json(document)
    return payload


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], world: World, *args: str):
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "test world passphrase")
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", world.base_url)
    code = main([*args, "--home", str(world.home)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_registers_lists_and_resolves(
    fed: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = _cli(monkeypatch, capsys, fed, "federation", "list", "--json")
    assert code == 0, out
    assert any(row["region"] == "330000" for row in json.loads(out))
    zj = anchor.hosted_op_id(fed.instance, "330000")
    code, out, _err = _cli(monkeypatch, capsys, fed, "federation", "resolve", zj)
    assert code == 0, out
    assert json.loads(out)["metadata"]["openid_provider"]["issuer"] == zj
    code, _out, err = _cli(monkeypatch, capsys, fed, "federation", "register", "openid_provider", "990000", "x")
    assert code == 3 and "E1000" in err


def test_cli_registers_the_citizen_page_as_a_relying_service(
    fed: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trust federation citizen-page REGION``: the citizen's licence page (``/citizen``) becomes the relying service
    ``<anchor>/rp/citizen`` whose redirect URI is the page's own callback (docs/WEB.md)."""
    code, out, err = _cli(monkeypatch, capsys, fed, "federation", "citizen-page", "330000")
    assert code == 0, err
    base = anchor.anchor_id(fed.instance)
    assert f"{base}/rp/citizen" in out and f"{base}/citizen/callback" in out
    code, out, _err = _cli(monkeypatch, capsys, fed, "federation", "resolve", f"{base}/rp/citizen")
    assert code == 0, out
    metadata = json.loads(out)["metadata"]["openid_relying_party"]
    assert metadata["redirect_uris"] == [f"{base}/citizen/callback"]
    assert metadata["post_logout_redirect_uris"] == [f"{base}/citizen"]
    code, _out, err = _cli(monkeypatch, capsys, fed, "federation", "citizen-page", "330000")
    assert code == 3 and "already registered" in err  # once
