"""The verifier page's grid in a real browser (issue 17, "What must be shown"): every kind of input the page accepts
(sealed PDF, licence PDF, OFD, GB/T 38540 seal and signature, licence token, SD-JWT, QR payload, certificate, a photo
of a QR code) × valid, tampered, revoked, expired and foreign (untrusted) × Chinese and English, where the combination
exists (tests/trust/web/grid_cases.py lists those that do not, with the reason).

One ``trust verify-server`` (the golden bundle from disk, the network blocked in its process) and one chromium for the
module, one page per language reused by every case. For each case the page's verdict element must carry the
verifier library's own indication and sub-indication on the same input at the same time (``data-indication``,
``data-sub-indication``), that verdict must be what the state demands (a valid input passes, a tampered one fails, a
revoked one fails — or, for a seal whose maker was revoked after it was made, is undecided for want of proof of
existence — and an expired or foreign one never passes), pinned verdicts of the golden manifest hold, and the reason
shown in words is the catalogue's for that sub-indication in the page's language. A screenshot of each is kept:
``$HUREN_TEST_ARTEFACTS/web/grid-<kind>-<state>-<lang>.png``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support import golden
from tests.trust.web import grid_cases
from tests.trust.web.conftest import Served
from tests.trust.web.test_seal_pictures import HOSTILE_SVG, svg_seal
from tests.trust.web.test_verify_page_browser import ARTEFACTS
from trust.web.i18n import Strings

pytestmark = [pytest.mark.slow, pytest.mark.external]

CASES = [(k, s) for k in grid_cases.KINDS for s in grid_cases.STATES if (k, s) not in grid_cases.NOT_APPLICABLE]
LANGS = ("zh", "en")


@dataclasses.dataclass(frozen=True)
class Expected:
    indication: str
    sub_indication: str


def _demanded(state: str, expected: Expected) -> bool:
    """What the state demands of the verdict, whatever the library says."""
    if state == "valid":
        return expected.indication == "TOTAL_PASSED"
    if state == "tampered":
        return expected.indication == "TOTAL_FAILED"
    if state == "revoked":
        return (expected.indication, expected.sub_indication) in (
            ("TOTAL_FAILED", "REVOKED"),
            ("INDETERMINATE", "REVOKED_NO_POE"),
        )
    return expected.indication != "TOTAL_PASSED"  # expired, foreign


def _pinned(case: grid_cases.Case) -> dict[str, Any] | None:
    """The golden manifest's verdict for an unchanged golden file verified at the golden time, if it pins one."""
    if case.at is not None:
        return None
    for name, pinned in golden.manifest()["broken"].items():
        data = golden.read(pinned["data"]) if "data" in pinned else None
        same = name.endswith("/" + case.name) and golden.read(name) == case.data and data == case.signed_data
        if same and "indication" in pinned:
            return dict(pinned)
    return None


class Grid:
    """The cases, made once and judged once by the verifier library, in a worker thread: pyHanko runs asyncio, and
    Playwright's sync API holds an event loop in the test's thread."""

    def __init__(self, tmp: Path) -> None:
        self.builders = grid_cases.builders(tmp)
        self.pool = ThreadPoolExecutor(1)

    @functools.cache  # noqa: B019 - one Grid per module
    def case(self, kind: str, state: str) -> tuple[grid_cases.Case, Expected]:
        return self.pool.submit(self._make, kind, state).result()

    def _make(self, kind: str, state: str) -> tuple[grid_cases.Case, Expected]:
        from verifier import api

        case = self.builders[(kind, state)]()
        ctx = golden.context() if case.at is None else dataclasses.replace(golden.context(), validation_time=case.at)
        report = api.verify(case.data, ctx, signed_data=case.signed_data)
        sub = report.sub_indication.value if report.sub_indication else ""
        return case, Expected(report.indication.value, sub)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    made = Grid(tmp_path_factory.mktemp("grid"))
    yield made
    made.pool.shutdown()


@pytest.fixture(scope="module")
def tabs(browser: Any, served: Served) -> Iterator[dict[str, Any]]:
    """One page per language, reused by every case; neither may load anything outside the server's origin."""
    outside: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(served.url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    contexts, opened = [], {}
    for lang in LANGS:
        context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-GB")
        context.route("**/*", guard)
        page = context.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        contexts.append(context)
        opened[lang] = page
    yield opened
    for context in contexts:
        context.close()
    assert not outside, f"the page fetched from elsewhere: {outside}"
    assert not [e for e in errors if "Content Security Policy" in e], errors


def submit(page: Any, url: str, case: grid_cases.Case, lang: str) -> None:
    page.goto(f"{url}/verify?lang={lang}")
    if case.text:
        page.fill("#token", case.data.decode())
    else:
        page.set_input_files("#file", {"name": case.name, "mimeType": case.mime, "buffer": case.data})
    if case.at is not None or case.signed_data is not None:
        page.click("details summary")
        if case.at is not None:
            page.fill("#at", case.at.isoformat())
        if case.signed_data is not None:
            page.set_input_files("#data", {"name": "document", "mimeType": "application/octet-stream",
                                           "buffer": case.signed_data})  # fmt: skip
    page.click("#submit")
    page.wait_for_selector("#verdict, #error")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("kind", "state"), CASES, ids=[f"{k}-{s}" for k, s in CASES])
def test_every_kind_and_state_gives_the_right_verdict_on_the_page(
    grid: Grid, tabs: dict[str, Any], served: Served, kind: str, state: str, lang: str
) -> None:
    case, expected = grid.case(kind, state)
    assert _demanded(state, expected), f"the verifier library's verdict on {kind}/{state}: {expected}"
    pinned = _pinned(case)
    if pinned is not None:
        assert expected.indication == pinned["indication"]
        assert expected.sub_indication == pinned.get("sub_indication", expected.sub_indication)
    page = tabs[lang]
    submit(page, served.url, case, lang)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"grid-{kind}-{state}-{lang}.png"))
    assert page.locator("#error").count() == 0, page.inner_text("#error")
    assert page.get_attribute("#verdict", "data-indication") == expected.indication
    assert page.get_attribute("#verdict", "data-sub-indication") == expected.sub_indication
    t = Strings(lang)
    assert page.get_attribute("html", "lang") == ("zh-CN" if lang == "zh" else "en")
    assert t(f"verdict.{expected.indication}") in page.inner_text("#verdict-word")
    if expected.indication == "TOTAL_PASSED":
        assert page.locator("#reason").count() == 0
        assert page.locator("tr.check[data-result=failed]").count() == 0
    else:
        key = f"reason.{expected.sub_indication}"
        assert t.has(key), f"no plain-language reason for {expected.sub_indication} in the {lang} catalogue"
        assert t(key) in page.inner_text("#reason")


def test_a_hostile_svg_seal_picture_is_shown_and_its_script_never_runs(tabs: dict[str, Any], served: Served) -> None:
    """The seal's SVG picture carries script, an onload handler and a javascript: link: the picture is shown (as an
    image that loaded), nothing of it runs, and the page has no inline SVG."""
    page = tabs["zh"]
    case = grid_cases.Case("seal", "svg", svg_seal(HOSTILE_SVG), name="svg-seal.esl")
    submit(page, served.url, case, "zh")
    image = page.locator("#seals img")
    assert image.count() == 1
    assert str(image.get_attribute("src")).startswith("data:image/svg+xml;base64,")
    page.wait_for_function("document.querySelector('#seals img').complete")
    assert page.evaluate("document.querySelector('#seals img').naturalWidth") > 0
    assert page.locator("svg, script:not([src])").count() == 0  # the page's one script is web.js, by source
    assert page.evaluate("document.body.dataset.pwned") is None
    page.locator("#seals").screenshot(path=str(ARTEFACTS / "seal-svg-hostile-zh.png"))


def test_a_file_dropped_on_the_form_is_verified(tabs: dict[str, Any], served: Served) -> None:
    """Drop a file (issue 17 item 1: "drop or pick a file"): a seal dropped on the form is the form's file; a file
    dropped elsewhere on the page does not replace the page."""
    import base64

    page = tabs["en"]
    page.goto(f"{served.url}/verify?lang=en")
    assert "drop the file" in page.inner_text("#file-hint")
    dropped = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "seal-v4.esl", { type: "application/octet-stream" }));
            return transfer;
        }""",
        base64.b64encode(golden.read("ses/seal-v4.esl")).decode(),
    )
    page.dispatch_event("footer", "drop", {"dataTransfer": dropped})  # outside the form: ignored
    assert page.url.endswith("/verify?lang=en") and page.evaluate("document.getElementById('file').files.length") == 0
    page.dispatch_event("#verify-form", "dragover", {"dataTransfer": dropped})
    assert "dropping" in str(page.get_attribute("#verify-form", "class"))
    page.dispatch_event("#verify-form", "drop", {"dataTransfer": dropped})
    assert "dropping" not in str(page.get_attribute("#verify-form", "class"))
    assert page.evaluate("document.getElementById('file').files[0].name") == "seal-v4.esl"
    page.click("#submit")
    page.wait_for_selector("#verdict, #error")
    assert page.get_attribute("#verdict", "data-indication") == "TOTAL_PASSED"
    assert "seal-v4.esl" in page.inner_text("#filename")
