"""一次认证、全网通办 in a real browser (issue 16, "What must be shown"): Playwright from PyPI drives Debian's chromium
(``/usr/bin/chromium``, installed by ``.ci/run``; Playwright's own browser download is never used).

A citizen of 浙江 logs in at the 浙江 OP through a 浙江 service; opens a 广东 department's service and is signed in
without entering anything (SSO); a third service demands ``urn:huren:loa:2`` and gets a step-up (the one-time code
from the OP's log); logging out of one service ends the OP session, so the next login asks again. A screenshot of each
page is kept under ``$HUREN_TEST_ARTEFACTS/sso/`` (default ``test-artefacts/sso/`` in the repository, ignored by
git)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import missing_external
from tests.support.server import live_server
from tests.support.world import World, copy_world
from trust.formats import oidc
from trust.service.demo import _citizen_id
from trust.service.identity import anchor, op

pytestmark = [pytest.mark.slow, pytest.mark.external]

CHROMIUM = Path("/usr/bin/chromium")
CITIZEN = _citizen_id("33010619900101001")
PASSWORD = "演示密码-demo-1"
ARTEFACTS = Path(os.environ.get("HUREN_TEST_ARTEFACTS", Path(__file__).resolve().parents[3] / "test-artefacts"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[tuple[World, str]]:
    world = copy_world(world_template, tmp_path_factory.mktemp("sso") / "home")
    anchor.init(world.instance)
    for code, name in (("330000", "浙江省统一身份认证平台"), ("440000", "广东省统一身份认证平台")):
        anchor.register(world.instance, kind=anchor.KIND_OP, region_code=code, name=name)
    services = (
        ("330000", "zj-service", "浙江政务服务网", None),
        ("440000", "gd-service", "广东政务服务网", None),
        ("440000", "gd-permit", "广东省许可审批", oidc.LOA_2),
    )
    for code, slug, name, level in services:
        metadata = {anchor.KIND_RP: {"default_acr_values": [level]}} if level else None
        anchor.register(world.instance, kind=anchor.KIND_RP, region_code=code, name=name, slug=slug, metadata=metadata)
    op.add_citizen(world.instance, CITIZEN, "张三", PASSWORD)
    with live_server(world.instance, world.port) as url:
        yield world, url


def test_login_sso_step_up_and_logout_in_chromium(served: tuple[World, str], caplog: pytest.LogCaptureFixture) -> None:
    if not CHROMIUM.exists():
        missing_external("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    _world, url = served
    shots = ARTEFACTS / "sso"
    shots.mkdir(parents=True, exist_ok=True)
    step = iter(range(1, 100))

    def shot(page: object, name: str) -> None:
        page.screenshot(path=str(shots / f"{next(step):02d}-{name}.png"), full_page=True)  # type: ignore[attr-defined]

    caplog.set_level(logging.WARNING, logger="trust.idp")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            # 1. 浙江 service → choose region → 浙江 OP login form → signed in.
            page.goto(f"{url}/rp/zj-service/")
            shot(page, "zj-service-signed-out")
            page.click("#login")
            shot(page, "choose-region")
            page.click("#op-330000")
            page.wait_for_selector("#citizen_id")
            shot(page, "zj-op-login")
            page.fill("#citizen_id", CITIZEN)
            page.fill("#password", PASSWORD)
            page.click("#login")
            page.wait_for_selector("#signed-in")
            shot(page, "zj-service-signed-in")
            assert page.inner_text("#region") == "330000" and page.inner_text("#acr") == oidc.LOA_1
            # 2. 广东 department's service: signed in without entering anything (SSO at the 浙江 OP).
            page.goto(f"{url}/rp/gd-service/")
            page.click("#login")
            page.click("#op-330000")
            page.wait_for_selector("#signed-in")
            shot(page, "gd-service-signed-in-by-sso")
            assert page.url == f"{url}/rp/gd-service/"
            gd_sub = page.inner_text("#sub")
            # 3. A service demanding level 2: a step-up with a one-time code.
            page.goto(f"{url}/rp/gd-permit/")
            page.click("#login")
            page.click("#op-330000")
            page.wait_for_selector("#otp")
            shot(page, "gd-permit-step-up")
            code = re.findall(r"one-time login code for \S+ at \S+: (\d{6})", caplog.text)
            assert code, "the OP logged no one-time code"
            page.fill("#otp", code[-1])
            page.click("#verify")
            page.wait_for_selector("#signed-in")
            shot(page, "gd-permit-signed-in-level-2")
            assert page.inner_text("#acr") == oidc.LOA_2
            assert page.inner_text("#sub") != gd_sub  # pairwise: another service, another subject
            # 4. Logout from one service ends the OP session: the next login asks again.
            page.goto(f"{url}/rp/gd-service/")
            page.click("#logout")
            page.wait_for_selector("#login")
            shot(page, "gd-service-signed-out")
            page.goto(f"{url}/rp/zj-service/login?region=330000")
            page.wait_for_selector("#citizen_id")
            shot(page, "zj-op-asks-again-after-logout")
        finally:
            browser.close()
    assert len(list(shots.glob("*.png"))) >= 9
