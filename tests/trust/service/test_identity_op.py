"""A region's OpenID Provider (issue 16 item 2) through HTTP: the code flow with PKCE S256, state and nonce; ID tokens
RS256/ES256/SM2 that validate against the OP's keys from its trust chain; SSO for a second relying service; step-up
to a higher ``acr`` with a one-time code; RP-initiated logout ending the SSO session; and the refusals — replayed
code, missing or wrong PKCE, an open redirect attempt, ``prompt=none`` without a session, a citizen of another region,
a withdrawn OP, the login rate limit. The independent client (Authlib's) is in test_identity_authlib_client.py."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.support.world import World, copy_world
from trust.crypto.errors import Code, TrustError
from trust.formats import oidc
from trust.http.app import create_app
from trust.service.demo import _citizen_id
from trust.service.identity import anchor, op

ZJ_CITIZEN = _citizen_id("33010619900101001")
GD_CITIZEN = _citizen_id("44010619850202002")
PASSWORD = "演示密码-demo-1"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    world = copy_world(world_template, tmp_path_factory.mktemp("op") / "home")
    anchor.init(world.instance)
    anchor.register(world.instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="330000", name="浙江政务服务", slug="zj-service")
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务", slug="gd-service")
    op.add_citizen(world.instance, ZJ_CITIZEN, "张三", PASSWORD)
    op.add_citizen(world.instance, GD_CITIZEN, "李四", PASSWORD)
    return world


@pytest.fixture
def browser(fed: World) -> Iterator[TestClient]:
    with TestClient(create_app(fed.instance), base_url=fed.base_url, follow_redirects=False) as client:
        yield client


class Login:
    """One authorisation request of a relying service, as a browser and the RP would make it."""

    def __init__(self, fed: World, rp: str, **extra: str) -> None:
        self.client_id = anchor.hosted_rp_id(fed.instance, rp)
        self.redirect_uri = f"{self.client_id}/callback"
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(12)
        self.nonce = secrets.token_urlsafe(12)
        self.params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": oidc.pkce_challenge(self.verifier),
            "code_challenge_method": "S256",
            **extra,
        }
        self.params = {k: v for k, v in self.params.items() if v != ""}

    @property
    def url(self) -> str:
        return "/idp/330000/authorize?" + urlencode(self.params)


def _form(html: str) -> dict[str, str]:
    return dict(re.findall(r"name='(query|csrf|challenge)' value='([^']*)'", html))


def _unescape(value: str) -> str:
    import html

    return html.unescape(value)


def login(browser: TestClient, flow: Login, citizen: str = ZJ_CITIZEN, password: str = PASSWORD) -> Any:
    page = browser.get(flow.url)
    assert page.status_code == 200, page.text
    fields = {k: _unescape(v) for k, v in _form(page.text).items()}
    return browser.post(
        "/idp/330000/login", data={**fields, "citizen_id": citizen, "password": password}, follow_redirects=False
    )


def code_from(browser: TestClient, flow: Login, response: Any) -> str:
    while response.status_code == 303:
        response = browser.get(response.headers["location"])
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == flow.redirect_uri
    query = parse_qs(location.query)
    assert query["state"] == [flow.state]
    assert query["iss"] == [anchor.hosted_op_id(browser.app.state.instance, "330000")]  # type: ignore[attr-defined]
    return query["code"][0]


def redeem(browser: TestClient, flow: Login, code: str, verifier: str | None = None) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "client_id": flow.client_id,
    }
    if verifier != "":
        data["code_verifier"] = verifier or flow.verifier
    return browser.post("/idp/330000/token", data=data)


def validated(fed: World, flow: Login, id_token: str, **kwargs: Any) -> oidc.IdToken:
    op_id = anchor.hosted_op_id(fed.instance, "330000")
    chain = anchor.resolve_chain(fed.instance, op_id)
    metadata = chain.entity_metadata("openid_provider")
    return oidc.validate_id_token(
        id_token,
        issuer=op_id,
        client_id=flow.client_id,
        jwks=metadata["jwks"],
        now=int(time.time()),
        nonce=flow.nonce,
        allowed_regions=metadata[oidc.CLAIM_REGIONS_SUPPORTED],
        **kwargs,
    )


def test_code_flow_sso_and_pairwise_subjects(fed: World, browser: TestClient) -> None:
    flow = Login(fed, "zj-service")
    tokens = redeem(browser, flow, code_from(browser, flow, login(browser, flow)))
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    token = validated(fed, flow, body["id_token"], min_acr=oidc.LOA_1)
    assert (token.region, token.acr, token.claims["name"]) == ("330000", oidc.LOA_1, "张三")
    assert oidc.CLAIM_CITIZEN_ID not in token.claims and ZJ_CITIZEN not in token.subject
    info = browser.get("/idp/330000/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.json()["sub"] == token.subject
    # SSO: a Guangdong service, same browser, no login page: a code at once; another sector, another subject.
    other = Login(fed, "gd-service", scope="openid huren_citizen_id")
    first = browser.get(other.url)
    assert first.status_code == 302
    second = validated(fed, other, redeem(browser, other, code_from(browser, other, first)).json()["id_token"])
    assert second.claims[oidc.CLAIM_CITIZEN_ID] == ZJ_CITIZEN  # released only with the explicit scope
    assert second.subject != token.subject


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_id_tokens_in_es256_and_sm2(fed: World, browser: TestClient, alg: str) -> None:
    prov = op.provider(fed.instance, "330000")
    flow = Login(fed, "zj-service")
    client = prov.server.query_client(flow.client_id)
    original = client.id_token_alg
    client.id_token_alg = alg  # the RP's id_token_signed_response_alg
    try:
        body = redeem(browser, flow, code_from(browser, flow, login(browser, flow))).json()
    finally:
        client.id_token_alg = original
    token = validated(fed, flow, body["id_token"])
    assert token.header["alg"] == alg


def test_step_up_to_level_2_with_a_one_time_code(
    fed: World, browser: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    flow = Login(fed, "zj-service")
    code_from(browser, flow, login(browser, flow))  # a level-1 session
    higher = Login(fed, "gd-service", acr_values=oidc.LOA_2)
    caplog.set_level(logging.WARNING, logger="trust.idp")
    page = browser.get(higher.url)
    assert page.status_code == 200 and "otp" in page.text
    code = re.search(r"one-time login code for \S+ at \S+: (\d{6})", caplog.text)
    assert code is not None and ZJ_CITIZEN not in caplog.text  # masked in the log
    fields = {k: _unescape(v) for k, v in _form(page.text).items()}
    bad = "000000" if code.group(1) != "000000" else "000001"
    wrong = browser.post("/idp/330000/login/otp", data={**fields, "otp": bad})
    assert wrong.status_code == 401
    done = browser.post("/idp/330000/login/otp", data={**fields, "otp": code.group(1)})
    token = validated(fed, higher, redeem(browser, higher, code_from(browser, higher, done)).json()["id_token"])
    assert token.acr == oidc.LOA_2


def test_a_replayed_code_is_refused(fed: World, browser: TestClient) -> None:
    flow = Login(fed, "zj-service")
    code = code_from(browser, flow, login(browser, flow))
    assert redeem(browser, flow, code).status_code == 200
    replay = redeem(browser, flow, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_missing_or_wrong_pkce_is_refused(fed: World, browser: TestClient) -> None:
    login(browser, Login(fed, "zj-service"))
    for extra in ({"code_challenge": "", "code_challenge_method": ""}, {"code_challenge_method": "plain"}):
        flow = Login(fed, "zj-service", **extra)
        response = browser.get(flow.url)
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["error"] == ["invalid_request"] and "code" not in query
    flow = Login(fed, "zj-service")
    code = code_from(browser, flow, browser.get(flow.url))
    wrong = redeem(browser, flow, code, verifier=secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    flow = Login(fed, "zj-service")
    missing = redeem(browser, flow, code_from(browser, flow, browser.get(flow.url)), verifier="")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_an_open_redirect_attempt_is_not_followed(fed: World, browser: TestClient) -> None:
    for uri in ("https://evil.example/callback", f"{anchor.hosted_rp_id(fed.instance, 'zj-service')}/callback/../x"):
        flow = Login(fed, "zj-service", redirect_uri=uri)
        response = browser.get(flow.url)
        assert response.status_code == 400 and "location" not in response.headers
    unknown = Login(fed, "zj-service", client_id="https://unknown.example/rp")
    assert browser.get(unknown.url).status_code == 400


def test_prompt_none_without_a_session_and_a_missing_nonce(fed: World, browser: TestClient) -> None:
    flow = Login(fed, "zj-service", prompt="none")
    response = browser.get(flow.url)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["login_required"]
    no_nonce = Login(fed, "zj-service", nonce="")
    response = browser.get(no_nonce.url)
    assert response.status_code == 302 and "error=invalid_request" in response.headers["location"]


def test_a_citizen_of_another_region_or_a_wrong_password_cannot_log_in(fed: World, browser: TestClient) -> None:
    flow = Login(fed, "zj-service")
    assert login(browser, flow, citizen=GD_CITIZEN).status_code == 401
    assert login(browser, flow, password="wrong").status_code == 401
    assert login(browser, flow, citizen="330106199001010010").status_code == 401  # bad check character
    with pytest.raises(TrustError) as caught:
        op.check_citizen_id(op.provider(fed.instance, "330000").row, GD_CITIZEN)
    assert caught.value.code is Code.LOGIN_FAILED


def test_login_csrf_is_refused(fed: World, browser: TestClient) -> None:
    flow = Login(fed, "zj-service")
    browser.get(flow.url)
    forged = browser.post(
        "/idp/330000/login",
        data={"query": urlencode(flow.params), "csrf": "forged", "citizen_id": ZJ_CITIZEN, "password": PASSWORD},
    )
    assert forged.status_code == 400 and forged.json()["code"] == "E1008"


def test_rp_initiated_logout_ends_the_sso_session(fed: World, browser: TestClient) -> None:
    flow = Login(fed, "zj-service")
    id_token = redeem(browser, flow, code_from(browser, flow, login(browser, flow))).json()["id_token"]
    again = Login(fed, "gd-service")
    assert browser.get(again.url).status_code == 302  # SSO
    target = f"{flow.client_id}/"
    out = browser.get(
        "/idp/330000/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": target, "state": "s1"}
    )
    assert out.status_code == 303 and out.headers["location"] == f"{target}?state=s1"
    assert browser.get(Login(fed, "gd-service").url).status_code == 200  # the login page again
    # Without a hint (or to an unregistered address) the OP asks instead of redirecting.
    asked = browser.get("/idp/330000/logout", params={"post_logout_redirect_uri": "https://evil.example/"})
    assert asked.status_code == 200 and "location" not in asked.headers


def test_discovery_and_jwks(fed: World, browser: TestClient) -> None:
    document = browser.get("/idp/330000/.well-known/openid-configuration").json()
    op_id = anchor.hosted_op_id(fed.instance, "330000")
    assert document["issuer"] == op_id and document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    keys = browser.get("/idp/330000/jwks").json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}  # standard keys only: a standard client reads the set
    sm2 = browser.get(document["huren_sm2_jwks_uri"].removeprefix(fed.base_url)).json()["keys"]
    assert [k["crv"] for k in sm2] == ["SM2"]
    assert all("d" not in k for k in keys + sm2)


def test_login_attempts_are_rate_limited(tmp_path: Any, world_template: World) -> None:
    world = copy_world(world_template, tmp_path / "home")
    world.instance.settings = world.instance.settings.model_copy(update={"login_rate_limit": 3})
    anchor.init(world.instance)
    anchor.register(world.instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="330000", name="浙江政务服务", slug="zj-service")
    with TestClient(create_app(world.instance), base_url=world.base_url, follow_redirects=False) as client:
        flow = Login(world, "zj-service")
        statuses = [login(client, flow, password=f"guess-{i}").status_code for i in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
