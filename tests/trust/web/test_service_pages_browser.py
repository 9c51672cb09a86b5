"""The pages of ``trust serve`` in a real browser (issue 17): the citizen's licence page, the operator's overview and
the verifier page with its PDF report, over a world built through the whole service (Playwright from PyPI driving
Debian's chromium at ``/usr/bin/chromium``).

The citizen logs in through the identity federation (the page is a relying service; she chooses 浙江 and signs in
at the 浙江 OP; the page takes her citizen ID number from the ID token), sees the licence issued to her with
its face, downloads its token, binds the browser's holder key (WebCrypto, ECDSA P-256, not extractable) and makes a
presentation of two chosen fields. The QR code is scanned from the page's screenshot (zxing-cpp) and verified by
``trust verify`` offline with the bundle, the key binding demanded: it passes and discloses those two fields only.
The presentation's link opens the verifier page, which passes it too. Screenshots under
``$HUREN_TEST_ARTEFACTS/web/`` (default ``test-artefacts/web/``).

Licence sharing on the page (issue 21): a consent granted through the API to a 广东 service and a retrieval under it
show on her page (the consent, the lookup and the retrieval with the disclosed fields); she withdraws it on the page,
and the service's next retrieval is refused.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from licenses import samples
from tests.conftest import missing_external
from tests.support.server import live_server
from tests.support.world import World, copy_world
from trust.crypto.errors import Code, SharingRefused
from trust.formats import oidc
from trust.service import licenses
from trust.service import trust as trust_service
from trust.service.demo import _citizen_id
from trust.service.identity import anchor, citizen_page, op
from trust.service.sharing import access

pytestmark = [pytest.mark.slow, pytest.mark.external]

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[3]
ARTEFACTS = Path(os.environ.get("HUREN_TEST_ARTEFACTS", REPO / "test-artefacts")) / "web"
CITIZEN = _citizen_id("33010619900101001")
PASSWORD = "演示密码-demo-1"
BIRTH = "11100000000013338W104"
CHOSEN = ("newborn_name", "birth_place")
LABELS = ("新生儿姓名", "出生地点")  # as the report names them (the catalogue's labels)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, world_template: World
) -> Iterator[tuple[World, str, dict[str, Any]]]:
    world = copy_world(world_template, tmp_path_factory.mktemp("pages") / "home")
    anchor.init(world.instance)
    for code, name in (("330000", "浙江省统一身份认证平台"), ("440000", "广东省统一身份认证平台")):
        anchor.register(world.instance, kind=anchor.KIND_OP, region_code=code, name=name)
    anchor.register(world.instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务网", slug="gd-service")
    citizen_page.register(world.instance, "330000")
    issuer = licenses.register_issuer(
        world.instance, ca_id="region-330000-sm2", name="浙江省卫生健康委员会",
        code=samples.uscc("11330000002482227"), license_types=[BIRTH],
    )  # fmt: skip
    op.add_citizen(world.instance, CITIZEN, "陈红", PASSWORD)
    mine = licenses.issue(world.instance, issuer_id=issuer.id, type_code=BIRTH, fields=samples.sample(BIRTH),
                          holder_code=CITIZEN)  # fmt: skip
    other = licenses.issue(world.instance, issuer_id=issuer.id, type_code=BIRTH, fields=samples.sample(BIRTH),
                           holder_code=_citizen_id("33010619900101002"))  # fmt: skip
    licenses.set_status(world.instance, other.record.identifier, "revoked", "test")
    trust_service.publish_now(world.instance)
    with live_server(world.instance, world.port) as url:
        yield world, url, {"mine": mine.record, "other": other.record}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing_external("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def _shot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def _scan(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    assert len(codes) == 1, f"{len(codes)} QR codes in the screenshot"
    return str(codes[0].text)


def _sign_in(page: Any, url: str, shots: bool = True) -> None:
    """The federation login: the page's region list, the 浙江 OP's login form, back on the page signed in."""
    page.goto(f"{url}/citizen")
    if shots:
        _shot(page, "citizen-choose-region-zh")
    page.click("#op-330000")
    page.wait_for_selector("#citizen_id")
    if shots:
        _shot(page, "citizen-op-login-zh")
    page.fill("#citizen_id", CITIZEN)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#citizen")
    assert page.url.startswith(f"{url}/citizen")


def test_citizen_presents_chosen_fields_and_the_qr_verifies(
    served: tuple[World, str, dict[str, Any]], browser: Any, tmp_path: Path
) -> None:
    world, url, made = served
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    try:
        _sign_in(page, url)
        licences = page.locator("article.licence")
        assert licences.count() == 1  # hers only, not the other citizen's
        box = licences.first
        assert box.get_attribute("data-identifier") == made["mine"].identifier
        assert "王小明" in box.inner_text() and "出生医学证明" in box.inner_text()
        _shot(page, "citizen-licences-zh")
        with page.expect_download() as download:
            box.locator("a.download-token").click()
        assert Path(download.value.path()).read_text() == made["mine"].token
        for name in CHOSEN:
            box.locator(f"input[name=field][value={name}]").check()
        box.locator("button.make-qr").click()
        page.wait_for_selector(".qr:not([hidden]) img[src^='data:image/png'], .problem-inline:not([hidden])")
        assert box.locator(".problem-inline").is_hidden(), box.locator(".problem-inline").inner_text()
        _shot(page, "citizen-presentation-qr-zh")
        # the holder key: made in the browser, not extractable; the credential presented was issued to it
        extractable = page.evaluate(
            """async () => { const db = await new Promise(r => { const o = indexedDB.open('huren-holder', 1);
               o.onsuccess = () => r(o.result); });
               const pair = await new Promise(r => { const q = db.transaction('keys').objectStore('keys')
               .get('holder:' + document.getElementById('citizen').dataset.holder); q.onsuccess = () => r(q.result); });
               return [pair.privateKey.extractable, pair.privateKey.algorithm.namedCurve]; }"""
        )
        assert extractable == [False, "P-256"]
        qr = box.locator(".qr")
        nonce, audience = qr.get_attribute("data-nonce"), qr.get_attribute("data-audience")
        scanned = _scan(qr.locator("img").screenshot())
        link = str(qr.locator("a.present-link").get_attribute("href"))
        page.goto(f"{url}/citizen?lang=en")  # the same page in English
        assert page.inner_text("h1") == "My electronic licences" and "Newborn" not in page.inner_text("h1")
        assert page.get_attribute("html", "lang") == "en"
        _shot(page, "citizen-licences-en")
    finally:
        context.close()
    report = _trust_verify(world, tmp_path, scanned, str(nonce), str(audience))
    disclosed = report["details"]["fields"]
    assert sorted(disclosed) == sorted(LABELS), disclosed  # only the chosen fields
    assert "mother_id_number" not in scanned and "father_name" not in json.dumps(report)
    # the link opens the verifier page with the presentation; it passes there too
    assert link.startswith(f"{url}/verify?token=")
    page = browser.new_page()
    page.goto(link)
    page.click("#submit")
    page.wait_for_selector("#verdict")
    _shot(page, "verify-presentation-link-zh")
    assert page.get_attribute("#verdict", "data-indication") == "TOTAL_PASSED"
    assert sorted(page.locator("#fields tr.field th").all_inner_texts()) == sorted(LABELS)
    page.close()


def _trust_verify(world: World, tmp_path: Path, scanned: str, nonce: str, audience: str) -> dict[str, Any]:
    """``trust verify`` of the scanned presentation, offline, with the bundle and the root's fingerprint, the key
    binding demanded: it must pass."""
    presented = tmp_path / "presentation.txt"
    presented.write_text(scanned)
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(trust_service.current_bundle_bytes(world.instance))
    pin = trust_service.root_fingerprints(world.instance)["SM2"]
    result = subprocess.run(
        [sys.executable, "-m", "trust.cli.main", "verify", str(presented), "--bundle", str(bundle), "--pin", pin,
         "--format", "json", "--kb-nonce", nonce, "--kb-audience", audience],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["indication"] == "TOTAL_PASSED" and report["kind"] == "license-sd-jwt"
    assert any(c["name"] == "key-binding" and c["result"] == "passed" for c in report["checks"])
    return report


def test_verifier_page_of_the_service_offers_the_pdf_report(
    served: tuple[World, str, dict[str, Any]], browser: Any, tmp_path: Path
) -> None:
    _world, url, made = served
    page = browser.new_context(accept_downloads=True).new_page()
    for lang, record, expected in (("zh", made["mine"], "TOTAL_PASSED"), ("en", made["other"], "TOTAL_FAILED")):
        page.goto(f"{url}/verify?lang={lang}")
        page.fill("#token", record.token)
        page.click("#submit")
        page.wait_for_selector("#verdict")
        _shot(page, f"service-verify-{expected.lower()}-{lang}")
        assert page.get_attribute("#verdict", "data-indication") == expected
        with page.expect_download() as download:
            page.click("#download-pdf")
        pdf = Path(download.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF-")
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, timeout=60, check=True).stdout
        assert ("验证通过" if expected == "TOTAL_PASSED" else "FAILED").encode() in text
    page.close()


def test_operator_overview(served: tuple[World, str, dict[str, Any]], browser: Any) -> None:
    _world, url, _made = served
    page = browser.new_page()
    for lang in ("zh", "en"):
        page.goto(f"{url}/operator?lang={lang}")
        _shot(page, f"operator-{lang}")
        assert page.get_attribute("#audit", "data-ok") == "true"
        assert page.inner_text("#total-licences") == "2" and page.inner_text("#total-revoked-licences") == "1"
        assert int(page.inner_text("#tl-sequence")) >= 1
        assert page.locator("#issuers tr.issuer").count() >= 3  # national, 330000, 440000
        assert "浙江省" in page.inner_text("#issuers")
    page.close()


def _id_token(url: str, instance: Any, slug: str) -> str:
    """A federation login of the citizen at the 浙江 OP for the hosted service ``slug`` (scope huren_citizen_id), as
    that service would make it: the ID token the sharing API takes as the citizen's proof."""
    client_id = anchor.hosted_rp_id(instance, slug)
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": f"{client_id}/callback",
        "scope": "openid huren_citizen_id", "state": "s", "nonce": secrets.token_urlsafe(8),
        "code_challenge": oidc.pkce_challenge(verifier), "code_challenge_method": "S256",
    }  # fmt: skip
    with httpx.Client(base_url=url, follow_redirects=False, timeout=60) as client:
        page = client.get("/idp/330000/authorize", params=params)
        if page.status_code == 200:
            form = {k: html.unescape(v) for k, v in re.findall(r"name='(query|csrf)' value='([^']*)'", page.text)}
            page = client.post("/idp/330000/login", data={**form, "citizen_id": CITIZEN, "password": PASSWORD})
            while page.status_code == 303 and "code=" not in page.headers["location"]:
                page = client.get(page.headers["location"])
        code = parse_qs(urlsplit(page.headers["location"]).query)["code"][0]
        tokens = client.post(
            "/idp/330000/token",
            data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": f"{client_id}/callback",
                "client_id": client_id, "code_verifier": verifier,
            },
        )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["id_token"])


def test_citizen_page_lists_consents_and_history_and_withdraws(
    served: tuple[World, str, dict[str, Any]], browser: Any
) -> None:
    world, url, made = served
    gd = anchor.hosted_rp_id(world.instance, "gd-service")
    granted = httpx.post(
        f"{url}/sharing/consents",
        json={
            "id_token": _id_token(url, world.instance, "gd-service"),
            "requester": gd,
            "license_types": [BIRTH],
            "fields": ["newborn_name"],
            "purpose": "入学登记",
        },
        timeout=60,
    )  # the citizen's consent through the API, with the ID token of her login at the service
    assert granted.status_code == 201, granted.text
    consent_id = granted.json()["id"]
    asked = access.Request(gd, "入学登记", consent_id=consent_id)
    found = access.lookup(world.instance, asked, holder_code=CITIZEN, type_code=BIRTH)
    assert [f.identifier for f in found] == [made["mine"].identifier]
    shared = access.retrieve(world.instance, asked, made["mine"].identifier)
    assert isinstance(shared, access.Shared) and shared.disclosed == ["newborn_name"]
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        _sign_in(page, url, shots=False)
        row = page.locator(f"#consent-list tr.consent[data-consent='{consent_id}']")
        assert row.get_attribute("data-state") == "active"
        assert "广东政务服务网" in row.inner_text() and "出生医学证明" in row.inner_text()
        assert "新生儿姓名" in row.inner_text() and "入学登记" in row.inner_text()
        history = page.locator("#history-list tr.access")
        assert sorted(history.evaluate_all("rows => rows.map(r => r.dataset.action + ':' + r.dataset.result)")) == [
            "lookup:listed",
            "retrieve:disclosed",
        ]
        retrieved = page.locator("#history-list tr.access[data-action=retrieve]")
        assert made["mine"].identifier in retrieved.inner_text() and "新生儿姓名" in retrieved.inner_text()
        assert "广东政务服务网" in retrieved.inner_text()
        _shot(page, "citizen-consents-history-zh")
        row.locator("button.withdraw").click()
        page.wait_for_selector(f"#consent-list tr.consent[data-consent='{consent_id}'][data-state=withdrawn]")
        assert row.locator("button.withdraw").count() == 0
        _shot(page, "citizen-consent-withdrawn-zh")
        with pytest.raises(SharingRefused) as refused:
            access.retrieve(world.instance, asked, made["mine"].identifier)
        assert refused.value.code is Code.CONSENT_REVOKED
        page.reload()
        results = page.locator("#history-list tr.access").evaluate_all("rows => rows.map(r => r.dataset.result)")
        assert "refused" in results  # the refused retrieval is in her history too
        page.goto(f"{url}/citizen?lang=en")
        assert page.inner_text(f"tr.consent[data-consent='{consent_id}'] td.state") == "withdrawn"
        assert "fetched from the issuing region" in page.inner_text("#history-list")
        _shot(page, "citizen-consents-history-en")
        # Logging out ends the page's session and the OP's: choosing the region again asks for the password.
        page.click("#logout")
        page.wait_for_selector("#regions")
        assert page.context.cookies(f"{url}/citizen") == [] or all(
            c["name"] != "huren_citizen" for c in page.context.cookies(f"{url}/citizen")
        )
        page.click("#op-330000")
        page.wait_for_selector("#citizen_id")
    finally:
        context.close()


def test_citizen_page_forms_demand_the_sessions_csrf_token(served: tuple[World, str, dict[str, Any]]) -> None:
    from trust.http.routes.citizen import COOKIE, _serializer

    world, url, _made = served
    session = {"id": CITIZEN, "name": "陈红", "op": anchor.hosted_op_id(world.instance, "330000"), "id_token": "x",
               "csrf": "the-sessions-token"}  # fmt: skip
    cookie = {COOKIE: _serializer(world.instance).dumps(session)}
    with httpx.Client(base_url=url, follow_redirects=False, cookies=cookie, timeout=60) as client:
        assert client.post("/citizen/consents/0123/withdraw", data={}).status_code == 403
        assert client.post("/citizen/consents/0123/withdraw", data={"csrf": "another"}).status_code == 403
        assert client.post("/citizen/logout", data={"csrf": "another"}).status_code == 403
        # with the token, someone else's (or no) consent is not found: nothing says whether it exists
        assert client.post("/citizen/consents/0123/withdraw", data={"csrf": "the-sessions-token"}).status_code == 404
    with httpx.Client(base_url=url, follow_redirects=False, timeout=60) as anonymous:
        assert anonymous.post("/citizen/consents/0123/withdraw", data={"csrf": "x"}).status_code == 401
        answer = anonymous.get("/citizen/callback", params={"code": "c", "state": "s"})  # no login started here
        assert answer.status_code == 400 and 'id="login-problem"' in answer.text
        start = anonymous.get("/citizen/login", params={"region": "330000"})
        assert start.status_code == 303
        target = parse_qs(urlsplit(start.headers["location"]).query)
        assert target["code_challenge_method"] == ["S256"] and target["state"] and target["nonce"]
        assert "huren_citizen_id" in target["scope"][0].split()
        assert target["redirect_uri"] == [f"{anchor.anchor_id(world.instance)}/citizen/callback"]
        set_cookie = start.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "path=/citizen" in set_cookie
        # the login's own cookie, another state (a forged callback): refused, no session
        forged = anonymous.get(
            "/citizen/callback", params={"code": "c", "state": "another", "iss": target["client_id"]}
        )
        assert forged.status_code == 400 and "huren_citizen=" not in forged.headers.get("set-cookie", "")
        assert "E1" in forged.text and "CSRF" in forged.text
        # an OP that is not in the federation: refused on the page, no redirect anywhere (no open redirect)
        evil = anonymous.get("/citizen/login", params={"op": "https://evil.example/idp/330000"})
        assert evil.status_code == 400 and "location" not in evil.headers
