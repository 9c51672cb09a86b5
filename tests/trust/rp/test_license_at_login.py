"""Licences at login (issue 16 item 4): after a citizen of 浙江 logs in to a 广东 service through the 浙江 OP, the
service asks for a licence presentation bound to that login — the KB-JWT's audience is the service and its nonce
comes from the service's session — and verifies it offline against the bundle. A presentation made for another
login (another nonce), for another service (another audience), without key binding, or after the request expired is
refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from licenses import samples
from tests.support.world import World, copy_world
from trust.crypto import jwk
from trust.crypto.errors import Code, TrustError
from trust.crypto.keys import generate_private_key
from trust.formats import sdjwt
from trust.http.app import create_app
from trust.rp import PresentationRequest, RelyingParty
from trust.service import licenses
from trust.service import trust as trust_service
from trust.service.demo import _citizen_id
from trust.service.identity import anchor, op

CITIZEN = _citizen_id("33010619900101001")
PASSWORD = "演示密码-demo-1"
BUSINESS = "11100000000013338W101"


@pytest.fixture(scope="module")
def setting(
    tmp_path_factory: pytest.TempPathFactory, world_template: World
) -> Iterator[tuple[World, TestClient, Any, Any]]:
    from trust.formats.names import make_uscc

    world = copy_world(world_template, tmp_path_factory.mktemp("kb") / "home")
    instance = world.instance
    anchor.init(instance)
    anchor.register(instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务", slug="gd-service")
    op.add_citizen(instance, CITIZEN, "张三", PASSWORD)
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省市场监督管理局", code=make_uscc("11330000002482226"),
        license_types=[BUSINESS],
    )  # fmt: skip
    holder = generate_private_key("ec-p256")
    made = licenses.issue(
        instance, issuer_id=issuer.id, type_code=BUSINESS, fields=samples.sample(BUSINESS),
        holder_jwk=jwk.public_jwk(holder.public_key),
    )  # fmt: skip
    with TestClient(create_app(instance), base_url=world.base_url, follow_redirects=False) as browser:
        yield world, browser, holder, made


def _rp(world: World, browser: TestClient, tmp: Any) -> RelyingParty:
    bundle = trust_service.export_bundle(world.instance, tmp / "bundle.json").read_bytes()
    pins = list(trust_service.root_fingerprints(world.instance).values())
    client_id = anchor.hosted_rp_id(world.instance, "gd-service")
    return RelyingParty.from_bundle(
        bundle, pins, client_id=client_id, redirect_uri=f"{client_id}/callback", http=browser
    )


def _log_in(world: World, browser: TestClient, rp: RelyingParty) -> Any:
    url, login = rp.begin(anchor.hosted_op_id(world.instance, "330000"))
    page = browser.get(url)
    if page.status_code == 200:
        fields = {k: html.unescape(v) for k, v in re.findall(r"name='(query|csrf)' value='([^']*)'", page.text)}
        page = browser.post("/idp/330000/login", data={**fields, "citizen_id": CITIZEN, "password": PASSWORD})
        while page.status_code == 303:
            page = browser.get(page.headers["location"])
    callback = {k: v[0] for k, v in parse_qs(urlsplit(page.headers["location"]).query).items()}
    return rp.complete(login, callback)


def _present(made: Any, holder: Any, request: PresentationRequest, **overrides: str) -> str:
    return sdjwt.present(
        made.record.sd_jwt,
        [("license", "fields", "name"), ("license", "fields", "uscc")],
        holder_signer=holder.signer(),
        nonce=overrides.get("nonce", request.nonce),
        audience=overrides.get("audience", request.audience),
    )


def test_a_licence_presentation_bound_to_the_login(setting: tuple[World, TestClient, Any, Any], tmp_path: Any) -> None:
    world, browser, holder, made = setting
    rp = _rp(world, browser, tmp_path)
    login = _log_in(world, browser, rp)
    request = rp.presentation_request(login)
    assert request.audience == rp.client_id and request.subject == login.id_token.subject
    assert PresentationRequest.from_json(request.to_json()) == request
    report = rp.verify_presentation(_present(made, holder, request), request)
    assert sorted(dict(report.details)["disclosed"]) == ["name", "uscc"]


def test_presentations_for_another_login_service_or_time_are_refused(
    setting: tuple[World, TestClient, Any, Any], tmp_path: Any
) -> None:
    world, browser, holder, made = setting
    rp = _rp(world, browser, tmp_path)
    login = _log_in(world, browser, rp)
    first, second = rp.presentation_request(login), rp.presentation_request(login)
    cases = [
        _present(made, holder, first, nonce=second.nonce),  # replayed into another request
        _present(made, holder, first, audience="https://service.zj.example.gov.cn"),  # made for another service
        sdjwt.present(made.record.sd_jwt, [("license", "fields", "name")]),  # no key binding
    ]
    for presentation in cases:
        with pytest.raises(TrustError) as caught:
            rp.verify_presentation(presentation, first)
        assert caught.value.code is Code.KEY_BINDING_FAILED
    later = RelyingParty(**{**rp.__dict__, "clock": lambda: first.issued_at + 3600, "_chains": {}})
    with pytest.raises(TrustError) as caught:
        later.verify_presentation(_present(made, holder, first), first)
    assert caught.value.code is Code.KEY_BINDING_FAILED and "expired" in caught.value.message


def test_the_hosted_service_asks_for_and_verifies_a_presentation(
    setting: tuple[World, TestClient, Any, Any],
) -> None:
    """The same through a hosted service's pages (``/rp/<name>/license``), over HTTP: the request is bound to the
    signed-in session, a presentation is accepted once, one for another nonce is refused."""
    import requests

    from tests.support.server import live_server

    world, _browser, holder, made = setting
    with live_server(world.instance, world.port) as url:
        browser = requests.Session()
        page = browser.get(f"{url}/rp/gd-service/license", timeout=10)
        assert "/rp/gd-service/" in page.url and "login" in page.text  # not signed in: back to the service
        page = browser.get(f"{url}/rp/gd-service/login?region=330000", timeout=10)
        fields = {k: html.unescape(v) for k, v in re.findall(r"name='(query|csrf)' value='([^']*)'", page.text)}
        page = browser.post(
            f"{url}/idp/330000/login", data={**fields, "citizen_id": CITIZEN, "password": PASSWORD}, timeout=30
        )
        assert "signed-in" in page.text, page.text
        ask = browser.get(f"{url}/rp/gd-service/license", timeout=10).text
        nonce = re.search(r"id='kb-nonce'>([^<]+)<", ask).group(1)  # type: ignore[union-attr]
        aud = html.unescape(re.search(r"id='kb-aud'>([^<]+)<", ask).group(1))  # type: ignore[union-attr]
        request = PresentationRequest(nonce, aud, "", "", 0)
        wrong = browser.post(
            f"{url}/rp/gd-service/license", data={"presentation": _present(made, holder, request, nonce="x" * 32)},
            timeout=30,
        )  # fmt: skip
        assert wrong.status_code == 400 and "refused" in wrong.text
        good = browser.post(
            f"{url}/rp/gd-service/license", data={"presentation": _present(made, holder, request)}, timeout=30
        )
        assert good.status_code == 200 and "id='disclosed'" in good.text and "uscc" in good.text
        again = browser.post(
            f"{url}/rp/gd-service/license", data={"presentation": _present(made, holder, request)}, timeout=30
        )
        assert again.status_code == 400  # the request was used: no replay
