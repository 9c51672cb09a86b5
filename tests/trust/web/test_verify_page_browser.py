"""The verifier page in a real browser (issue 17): ``trust verify-server`` — the verifier-only process, no database —
serves the golden bundle from disk with the network blocked in its process and the service's packages (FastAPI,
SQLAlchemy, reportlab, the service, issuance) unimportable (``tests.support.offline_server``), and
Playwright from PyPI drives Debian's chromium (``/usr/bin/chromium``; Playwright's own browser download is never used).

Every kind of input (licence token, SD-JWT, QR payload, licence PDF, sealed PDF, seal, GB/T 38540 signature,
certificate) is verified on the page, valid and tampered, revoked, expired and foreign (untrusted); the page's verdict
element (``data-indication``) is pinned to the verdict each must have (tests/data/golden/manifest.json), and where no
verdict is pinned (a foreign certificate, an expired licence PDF) it must be the verifier library's own on the same
input at the same time. Both languages. The browser may fetch nothing but the server's own origin
(no CDN). A screenshot of each state is kept under ``$HUREN_TEST_ARTEFACTS/web/`` (default ``test-artefacts/web/``).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import golden
from tests.trust.web import grid_cases
from tests.trust.web.conftest import Served

pytestmark = [pytest.mark.slow, pytest.mark.external]

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[3]
ARTEFACTS = Path(os.environ.get("HUREN_TEST_ARTEFACTS", REPO / "test-artefacts")) / "web"
FOOD = "11100000000013338W102"


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    """A page that may load nothing but the server's own origin: any other request is refused and recorded."""
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    outside: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(served.url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield opened
    context.close()
    assert not outside, f"the page fetched from elsewhere: {outside}"
    assert not [e for e in errors if "Content Security Policy" in e], errors


def _shot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"))  # the viewport: the verdict and the first evidence


def submit(page: Any, url: str, *, lang: str = "zh", file: Path | dict | None = None, token: str | None = None,
           at: datetime | None = None, data: Path | None = None, shot: str = "") -> str:  # fmt: skip
    """Verify on the page; the verdict element's ``data-indication`` (or ``error:<code>``)."""
    page.goto(f"{url}/verify?lang={lang}")
    if file is not None:
        page.set_input_files("#file", file if isinstance(file, dict) else str(file))
    if token is not None:
        page.fill("#token", token)
    if at is not None or data is not None:
        page.click("details summary")
        if at is not None:
            page.fill("#at", at.isoformat())
        if data is not None:
            page.set_input_files("#data", str(data))
    page.click("#submit")
    page.wait_for_selector("#verdict, #error")
    if shot:
        _shot(page, shot)
    if page.locator("#error").count():
        return "error:" + str(page.get_attribute("#error", "data-code"))
    return str(page.get_attribute("#verdict", "data-indication"))


@functools.cache
def _context() -> Any:
    return golden.context()


def library(data: bytes, *, at: datetime | None = None, signed_data: bytes | None = None) -> str:
    """The verifier library's own verdict on ``data`` (what the page must show). In a thread of its own: pyHanko runs
    asyncio, and Playwright's sync API holds an event loop in this one."""
    from concurrent.futures import ThreadPoolExecutor

    from verifier import api

    def run() -> str:
        ctx = _context() if at is None else dataclasses.replace(_context(), validation_time=at)
        return api.verify(data, ctx, signed_data=signed_data).indication.value

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


VALID = [
    "license/token-zj.jwt", "license/sd-jwt-zj.txt", "license/qr-zj.txt", "license/license.pdf",
    "pdf/sealed-RSA-B-LTA.pdf", "ses/seal-v4.esl", "pki/seal-contract-sm2.pem",
]  # fmt: skip
TAMPERED = ["broken/token-payload-changed.jwt", "broken/sd-jwt-disclosure-duplicated.txt",
            "broken/sealed-SM2-B-T-byte-changed.pdf", "broken/seal-maker-signature-flipped.esl",
            "license/mixed-token.pdf"]  # fmt: skip
REVOKED = ["broken/token-revoked.jwt", "license/license-food.pdf", "pdf/revoked-after-B-T.pdf"]
TEXT = (".jwt", ".txt")


def _give(name: str) -> dict[str, Any]:
    return {"token": golden.text(name)} if name.endswith(TEXT) else {"file": golden.path(name)}


def _slug(name: str) -> str:
    return name.replace("/", "-").rsplit(".", 1)[0]


def test_valid_documents_of_every_kind_pass(page: Any, served: Served) -> None:
    for name in VALID:
        shown = submit(page, served.url, shot=f"valid-{_slug(name)}-zh", **_give(name))
        assert shown == "TOTAL_PASSED", name
        assert page.inner_text("#verdict-word").strip().endswith("验证通过")
    # the evidence: the issuer from the trust list, the fields disclosed, the seal picture as embedded, the chain
    submit(page, served.url, file=golden.path("license/license.pdf"))
    assert "浙江省市场监督管理局" in page.inner_text("#issuers")
    assert page.locator("#fields tr.field").count() >= 5
    assert page.locator("#seals img").count() == 1
    assert page.get_attribute("#seals img", "src").startswith("data:image/png;base64,")
    assert "互认国家根CA" in page.inner_text("#chain")
    assert page.locator("#status tr[data-check=status][data-result=passed]").count() >= 1
    assert page.locator("#timestamps tr").count() >= 1
    # a detached GB/T 38540 signature with its document
    shown = submit(page, served.url, file=golden.path("ses/signature-v4.der"), data=golden.path("ses/document.xml"))
    assert shown == "TOTAL_PASSED"


def test_tampered_documents_fail_unmistakably(page: Any, served: Served) -> None:
    for name in TAMPERED:
        shown = submit(page, served.url, shot=f"tampered-{_slug(name)}-zh", **_give(name))
        assert shown == "TOTAL_FAILED", name
        assert "验证失败" in page.inner_text("#verdict-word")
        assert page.inner_text("#reason").strip()  # the reason in plain Chinese
        assert page.locator("tr.check[data-result=failed]").count() >= 1
    submit(page, served.url, file=golden.path("broken/sealed-SM2-B-T-byte-changed.pdf"))
    assert "改动" in page.inner_text("#reason")  # HASH_FAILURE: changed after sealing
    # a signature over another document than the one given
    shown = submit(
        page, served.url, file=golden.path("ses/signature-v4.der"), data=golden.path("broken/other-document.xml")
    )
    assert shown == "TOTAL_FAILED"


def test_revoked_documents_fail_with_the_reason(page: Any, served: Served) -> None:
    revoked = golden.load_json("license/revoked.json")
    for name in REVOKED:
        shown = submit(page, served.url, shot=f"revoked-{_slug(name)}-zh", **_give(name))
        assert shown == "TOTAL_FAILED", name
        assert "撤销" in page.inner_text("#reason")
    for form in ("sd_jwt", "qr"):
        assert submit(page, served.url, token=revoked[form]) == "TOTAL_FAILED"
        assert "撤销" in page.inner_text("#reason")


def test_expired_documents(page: Any, served: Served) -> None:
    later = golden.later(days=6 * 366)
    food = golden.load_json("license/matrix.json")["zj"][FOOD]["token"]  # a five-year licence
    assert submit(page, served.url, token=food, at=later, shot="expired-token-zh") == "TOTAL_FAILED"
    assert "有效期" in page.inner_text("#reason")
    assert submit(page, served.url, file=golden.path("ses/seal-v4.esl"), at=later, shot="expired-seal-zh") == (
        "TOTAL_FAILED"
    )
    # a licence PDF whose seal certificate has expired since: the page shows the library's verdict
    shown = submit(page, served.url, file=golden.path("license/license.pdf"), at=later, shot="expired-license-pdf-zh")
    assert shown == library(golden.read("license/license.pdf"), at=later) != "TOTAL_PASSED"


def _foreign_token() -> str:
    """The golden licence's claims signed by a key no trust list names (a foreign or forged issuer)."""
    from trust.crypto import jwk
    from trust.crypto.keys import generate_private_key
    from trust.formats import jose
    from trust.formats import license_token as token

    header, body = token.parse_unverified(golden.text("license/token-zj.jwt"))
    rogue = generate_private_key("SM2")
    head = {k: v for k, v in header.items() if k not in ("alg", "x5c", "x5t#S256")}
    head["kid"] = jwk.thumbprint(rogue.signer().public_key)
    return str(jose.sign_compact(token.encode_claims(body), rogue.signer(), headers=head))


HOSTILE = "<script>document.body.dataset.pwned=1</script>"


def _in_thread(run: Any) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _foreign_pdf(tmp: Path) -> bytes:
    """The golden document signed by pyHanko under a foreign PKI no trust list names (tests/verifier's helpers)."""
    from tests.verifier.test_generic_purpose import _foreign, _signed_pdf

    return bytes(_signed_pdf(_foreign([]), tmp))


def test_foreign_and_hostile_inputs_are_refused_or_escaped(page: Any, served: Served, tmp_path: Path) -> None:
    cert = grid_cases.foreign_certificate("外省伪造CA " + HOSTILE)
    upload = {"name": "<script>alert(1)</script>.pem", "mimeType": "text/html", "buffer": cert}
    shown = submit(page, served.url, file=upload, shot="foreign-certificate-zh")
    assert shown != "TOTAL_PASSED" and shown == library(cert)
    assert HOSTILE in page.inner_text("#subject")  # shown as text, never run
    assert "<script>alert(1)</script>.pem" in page.inner_text("#filename")
    assert page.evaluate("document.body.dataset.pwned") is None
    assert page.locator("#subject script, #subject img, #filename script").count() == 0
    pdf = _in_thread(lambda: _foreign_pdf(tmp_path))  # pyHanko runs asyncio; Playwright holds this thread's loop
    shown = submit(page, served.url, file={"name": "foreign.pdf", "mimeType": "application/pdf", "buffer": pdf},
                   shot="foreign-pdf-zh")  # fmt: skip
    assert shown != "TOTAL_PASSED" and shown == library(pdf)
    forged = _foreign_token()
    shown = submit(page, served.url, token=forged, shot="foreign-token-zh")
    assert shown != "TOTAL_PASSED" and shown == library(forged.encode())  # no key of the trust list: not decided
    assert page.inner_text("#reason").strip()
    # garbage, nothing, both: the form again with the reason and its code
    assert submit(page, served.url, token="not a token <b>x</b>", shot="error-garbage-zh").startswith("error:E100")
    assert "<b>x</b>" not in page.content()
    assert submit(page, served.url, file=golden.path("ses/seal-v4.esl"), token="eyJ") == "error:E1008 usage"


def test_fifty_megabytes_are_refused_before_upload_and_by_the_server(page: Any, served: Served, tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    with big.open("wb") as out:
        out.write(b"%PDF-1.7\n")
        out.truncate(50 * 1024 * 1024)
    page.goto(f"{served.url}/verify")
    page.set_input_files("#file", str(big))
    page.click("#submit")
    assert page.locator("#file-too-large").is_visible()  # the page's script stops it before uploading
    assert page.url.endswith("/verify")
    _shot(page, "hostile-50mb-zh")
    # the server refuses it too (a client without the script)
    boundary = "huren-test"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()  # fmt: skip
    body = head + big.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{served.url}/verify/result", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    answer = refused.value.read().decode()
    assert "E1002" in answer and "文件过大" in answer


def test_english_page_and_reports(page: Any, served: Served) -> None:
    assert submit(
        page, served.url, lang="en", file=golden.path("license/license.pdf"), shot="valid-license-pdf-en"
    ) == ("TOTAL_PASSED")
    assert "PASSED" in page.inner_text("#verdict-word") and page.get_attribute("html", "lang") == "en"
    assert submit(
        page, served.url, lang="en", token=golden.text("broken/token-revoked.jwt"), shot="revoked-token-en"
    ) == ("TOTAL_FAILED")
    assert "revoked" in page.inner_text("#reason")
    shown = submit(page, served.url, lang="en", file=golden.path("broken/sealed-SM2-B-T-byte-changed.pdf"),
                   shot="tampered-pdf-en")  # fmt: skip
    assert shown == "TOTAL_FAILED" and "changed" in page.inner_text("#reason")
    # the JSON report downloads and is the verifier's report; the verifier-only server offers no PDF
    with page.expect_download() as download:
        page.click("#download-json")
    report = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert report["indication"] == "TOTAL_FAILED" and report["kind"] == "pdf"
    assert page.locator("#pdf-unavailable").count() == 1 and page.locator("#download-pdf").count() == 0
    # the language switch leads to the Chinese form
    page.click("#lang-switch")
    assert page.get_attribute("html", "lang") == "zh-CN"


def test_page_headers_and_keyboard(served: Served, page: Any) -> None:
    with urllib.request.urlopen(f"{served.url}/verify", timeout=10) as answer:
        csp = answer.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "default-src 'none'" in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        html = answer.read().decode()
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html  # no inline code
    page.goto(f"{served.url}/verify")
    # every form control has a label; the keyboard reaches the file input first after the skip link and navigation
    for control in ("#file", "#token", "#at", "#data"):
        ident = control[1:]
        assert page.locator(f"label[for={ident}]").count() == 1
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"


def test_a_photo_of_a_licence_qr_code_verifies(page: Any, served: Served, tmp_path: Path) -> None:
    """A licence PDF rendered at 100 dpi (poppler's pdftoppm), rotated and scaled like a phone photo, uploaded as a
    PNG: the page decodes the QR code (zxing-cpp, in the verifier) and verifies the licence."""
    from PIL import Image

    rendered = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(golden.path("license/license.pdf")),
                    str(rendered)], check=True, timeout=120)  # fmt: skip
    with Image.open(f"{rendered}.png") as image:
        photo = image.convert("RGB").rotate(
            7, expand=True, fillcolor=(235, 235, 230), resample=Image.Resampling.BICUBIC
        )
        photo = photo.resize((int(photo.width * 1.25), int(photo.height * 1.25)), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=85)
    upload = {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}
    shown = submit(page, served.url, file=upload, shot="qr-photo-zh")
    assert shown == "TOTAL_PASSED"
    assert page.locator("#fields tr.field").count() >= 5
