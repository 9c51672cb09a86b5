"""The verifier page under ``trust serve`` (issue 17). A form post the server refuses before reading it — over the
request body limit (413, answered by the body-limit middleware) or over the anonymous rate limit (429) — is answered
as the verifier page in the user's language with the same status, when the browser asks for HTML. Any other client of
``POST /verify/result`` (no ``text/html`` in ``Accept``) keeps the API's problem document. An OFD's first page is
shown as drawn (the service's OFD renderer).

In process (the session world, FastAPI's test client); the real browser runs in test_service_pages_browser.py."""

from __future__ import annotations

import base64
import re

import httpx
from fastapi.testclient import TestClient

from tests.support.world import PASSPHRASE, World
from trust.http.app import create_app
from trust.service.instance import Instance

PAGE = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what chromium sends for a form post
BOUNDARY = "huren-refusal"


def _client(world: World, **settings: int) -> TestClient:
    app = create_app(Instance(world.instance.settings.model_copy(update=settings), passphrase=PASSPHRASE))
    return TestClient(app, client=("198.51.100.17", 40000), raise_server_exceptions=False)


def _form(token: str, size: int = 0) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="token"\r\n\r\n{token}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        f"Content-Type: application/pdf\r\n\r\n{'x' * size}\r\n",
        f"--{BOUNDARY}--\r\n",
    ]
    return "".join(parts).encode()


def _post(client: TestClient, body: bytes, *, accept: str, query: str = "", language: str = "") -> httpx.Response:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Accept": accept}
    if language:
        headers["Accept-Language"] = language
    return client.post(f"/verify/result{query}", content=body, headers=headers)


def _page_error(response: httpx.Response) -> tuple[str, str]:
    """The page's error element: its code and its message."""
    assert response.headers["content-type"].startswith("text/html"), response.text[:200]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    code = re.search(r'id="error"[^>]*data-code="([^"]+)"', response.text)
    message = re.search(r'id="error-message">([^<]*)<', response.text)
    assert code and message, response.text[:500]
    return code.group(1), message.group(1)


def test_over_the_rate_limit_the_page_answers_429_in_the_users_language(world: World) -> None:
    client = _client(world, anonymous_rate_limit=2)
    for _ in range(2):  # within the budget: the page's own answer (an unreadable token: the form again, 400)
        answer = _post(client, _form("not a token"), accept=PAGE)
        assert answer.status_code == 400 and 'id="error"' in answer.text
    refused = _post(client, _form("not a token"), accept=PAGE)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    code, message = _page_error(refused)
    assert code == "E1404 rate-limited"
    assert "请求过于频繁" in message and refused.headers["retry-after"] in message
    assert 'lang="zh-CN"' in refused.text and 'id="verify-form"' in refused.text  # the form, to try again
    english = _post(client, _form("not a token"), accept=PAGE, query="?lang=en")
    assert english.status_code == 429 and 'lang="en"' in english.text
    assert "Too many requests" in _page_error(english)[1]
    by_browser = _post(client, _form("not a token"), accept=PAGE, language="en-GB,en;q=0.9")
    assert by_browser.status_code == 429 and "Too many requests" in _page_error(by_browser)[1]
    # a client that does not ask for HTML: the API's problem document, as before
    api = _post(client, _form("not a token"), accept="application/json")
    assert api.status_code == 429 and api.json()["code"] == "E1404"


def test_over_the_body_limit_the_page_answers_413_in_the_users_language(world: World) -> None:
    client = _client(world, max_request_bytes=4096)
    big = _form("", size=8192)
    refused = _post(client, big, accept=PAGE)
    assert refused.status_code == 413
    code, message = _page_error(refused)
    assert code == "E1002 input-too-large"
    assert "请求过大" in message and "4 KB" in message
    english = _post(client, big, accept=PAGE, query="?lang=en")
    assert english.status_code == 413 and "Request too large" in _page_error(english)[1]
    api = _post(client, big, accept="application/json")
    assert api.status_code == 413 and api.json()["code"] == "E1002"
    assert api.headers["content-type"].startswith("application/problem+json")
    # under the limit the page verifies as before
    assert _post(client, _form("not a token"), accept=PAGE).status_code == 400


def test_an_ofd_shows_its_first_page_as_drawn_under_trust_serve(world: World) -> None:
    """``trust serve`` has the OFD renderer (``seal.ofd_render``): an OFD's first page is drawn on the result page,
    beside its seal pictures (the golden world's OFD under this world's trust list: a verdict, whichever)."""
    from tests.trust.web import grid_cases

    client = _client(world)
    ofd = grid_cases.ofd_valid()
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="sealed.ofd"\r\n\r\n'.encode()
        + ofd
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    answer = _post(client, body, accept=PAGE)
    assert answer.status_code == 200 and 'data-indication="' in answer.text
    drawn = re.search(r'<figure id="ofd-page"[^>]*><img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', answer.text)
    assert drawn, answer.text[:1000]
    assert base64.b64decode(drawn.group(1)).startswith(b"\x89PNG")
    assert re.search(r'<div id="seals".*?<img src="data:image/png;base64,', answer.text, re.S)
