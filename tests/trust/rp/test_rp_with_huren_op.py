"""Relying parties against a Huren OP served over HTTP (issue 16 items 2 and 3):

* an **independent client** — Authlib's OAuth 2.0 client (requests), not Huren's RP code — completes the code flow
  with PKCE S256 using only the OP's discovery document, and validates the ID token with joserfc against the OP's
  ``jwks_uri``;
* Huren's RP library, configured from the **offline bundle** only, completes a login and validates the ID token
  with the network blocked for everything but the OP's token endpoint;
* an OP of a **withdrawn region**: ID tokens issued before the withdrawal stay acceptable, those issued after are
  refused (the trust list's before/after rule, as for licence issuers).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from ca import models
from tests.support.server import free_port, live_server
from tests.support.world import World, build_world, copy_world
from trust.crypto.errors import Code, TrustError
from trust.formats import oidc
from trust.rp import RelyingParty
from trust.service import trust as trust_service
from trust.service.demo import _citizen_id
from trust.service.identity import anchor, op

CITIZEN = _citizen_id("33010619900101001")
PASSWORD = "演示密码-demo-1"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[tuple[World, str]]:
    world = copy_world(world_template, tmp_path_factory.mktemp("rp") / "home")
    anchor.init(world.instance)
    anchor.register(world.instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务", slug="gd-service")
    op.add_citizen(world.instance, CITIZEN, "张三", PASSWORD)
    with live_server(world.instance, world.port) as url:
        yield world, url


def browse_and_log_in(session: requests.Session, authorization_url: str) -> dict[str, str]:
    """What the citizen's browser does: the login page, the form, the redirects; returns the callback's query."""
    page = session.get(authorization_url, allow_redirects=False, timeout=10)
    if page.status_code == 200:
        fields = {k: html.unescape(v) for k, v in re.findall(r"name='(query|csrf)' value='([^']*)'", page.text)}
        base = authorization_url.split("/authorize", 1)[0]
        page = session.post(
            f"{base}/login", data={**fields, "citizen_id": CITIZEN, "password": PASSWORD}, allow_redirects=False,
            timeout=10,
        )  # fmt: skip
        while page.status_code == 303:
            page = session.get(urljoin(base, page.headers["location"]), allow_redirects=False, timeout=10)
    assert page.status_code == 302, page.text
    return {k: v[0] for k, v in parse_qs(urlsplit(page.headers["location"]).query).items()}


def test_authlib_client_completes_the_flow_from_discovery_alone(served: tuple[World, str]) -> None:
    world, url = served
    issuer = f"{url}/idp/330000"
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    client_id = anchor.hosted_rp_id(world.instance, "gd-service")
    client = OAuth2Session(
        client_id,
        scope="openid profile",
        redirect_uri=f"{client_id}/callback",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = "v" * 64
    authorization_url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], nonce="authlib-nonce", code_verifier=verifier
    )
    callback = browse_and_log_in(requests.Session(), authorization_url)
    assert callback["state"] == state and callback["iss"] == discovery["issuer"]
    token = client.fetch_token(discovery["token_endpoint"], code=callback["code"], code_verifier=verifier)
    keys = KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json(), parameters=None)
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    claims = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": "authlib-nonce"},
    )
    claims.validate(decoded.claims)
    assert decoded.header["alg"] == "RS256" and decoded.claims[oidc.CLAIM_REGION] == "330000"


def huren_rp(world: World, url: str, bundle: bytes, **options: Any) -> RelyingParty:
    pins = list(trust_service.root_fingerprints(world.instance).values())
    client_id = anchor.hosted_rp_id(world.instance, "gd-service")
    return RelyingParty.from_bundle(bundle, pins, client_id=client_id, redirect_uri=f"{client_id}/callback", **options)


def _bundle(world: World, tmp: Any) -> bytes:
    return trust_service.export_bundle(world.instance, tmp / "bundle.json").read_bytes()


def test_hurens_rp_from_the_bundle(served: tuple[World, str], tmp_path: Any) -> None:
    world, url = served
    rp = huren_rp(world, url, _bundle(world, tmp_path))
    op_id = f"{url}/idp/330000"
    authorization_url, login = rp.begin(op_id)
    result = rp.complete(login, browse_and_log_in(requests.Session(), authorization_url))
    assert result.id_token.region == "330000" and result.chain.anchor == url


def test_an_op_of_a_withdrawn_region_is_refused_from_the_withdrawal_on(tmp_path: Any) -> None:
    world = build_world(tmp_path / "home", free_port())
    anchor.init(world.instance)
    anchor.register(world.instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务", slug="gd-service")
    op.add_citizen(world.instance, CITIZEN, "张三", PASSWORD)
    with live_server(world.instance, world.port) as url:
        op_id = f"{url}/idp/330000"
        rp = huren_rp(world, url, _bundle(world, tmp_path))
        authorization_url, login = rp.begin(op_id)
        before = rp.complete(login, browse_and_log_in(requests.Session(), authorization_url))
        trust_service.change_status(
            world.instance, subject="issuer", subject_id="region-330000", status="withdrawn",
            at=models.now() + timedelta(seconds=1), reason="演示撤销",
        )  # fmt: skip
        time.sleep(2.1)  # the trust list counts whole seconds; the next token is issued after the withdrawal
        rp = huren_rp(world, url, _bundle(world, tmp_path))
        assert rp.validate(op_id, before.id_token.token, nonce=login.nonce).region == "330000"
        authorization_url, login = rp.begin(op_id)
        with pytest.raises(TrustError) as caught:
            rp.complete(login, browse_and_log_in(requests.Session(), authorization_url))
        assert caught.value.code is Code.ENTITY_WITHDRAWN and "withdrawn" in caught.value.message
