"""``/docs`` works without the Internet: the page and every file it references come from Huren itself, and no
external URL is named anywhere in them (``trust/http/docs.py``). Also: the routes docs/LICENSES.md lists exist,
and every licence route of the app is listed there."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient

from tests.conftest import REPO
from trust.http.app import create_app
from trust.service.instance import Instance
from trust.settings import Settings

_EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(Instance(Settings(home=tmp_path))))


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def test_docs_page_and_its_assets_come_from_the_app(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parsed = _References()
    parsed.feed(page.text)
    assert not _EXTERNAL.search(page.text), "the /docs page names an external URL"
    assert any(url.endswith(".js") for url in parsed.urls) and any(url.endswith(".css") for url in parsed.urls)
    inline = "\n".join(parsed.scripts)
    spec = re.search(r"url: '([^']+)'", inline)
    assert spec, "the page names no OpenAPI document"
    assert "validatorUrl" in inline and '"validatorUrl": null' in inline  # no call to the online validator
    fetched = 0
    pending = [*parsed.urls, spec.group(1)]
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        assert url.startswith("/"), f"{url} is not one of the app's own paths"
        answer = client.get(url)
        assert answer.status_code == 200, url
        fetched += 1
        if url.endswith(".css"):  # what the style sheet loads in turn: data: URIs and its source map
            for target in re.findall(r"url\(\s*['\"]?([^'\")]+)", answer.text):
                assert target.startswith("data:") or not _EXTERNAL.match(target), target
            for target in re.findall(r"sourceMappingURL=(\S+?)\s*\*/", answer.text):
                pending.append(urljoin(url, target))
    assert fetched >= 4  # script, style sheet, icon, OpenAPI document (and the style sheet's map)
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")


def test_only_swagger_ui_files_are_served(client: TestClient) -> None:
    assert client.get("/docs/assets/swagger-initializer.js").status_code == 404  # names a public demo API
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/..%2F..%2Fpyproject.toml").status_code == 404
    assert client.get("/redoc").status_code == 404  # ReDoc would come from a CDN
    assert client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")


def test_licenses_doc_lists_exactly_the_license_routes(client: TestClient) -> None:
    text = (REPO / "docs" / "LICENSES.md").read_text(encoding="utf-8")
    table = text.split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(GET|POST|PUT|DELETE) ([^`]+)`", table, re.MULTILINE))
    paths = client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith(("/licenses", "/license-issuers", "/statuslists", "/holder/licenses"))
        or path in ("/.well-known/jwks.json", "/.well-known/jwks-sm2.json", "/vct/{type_code}")
    }
    assert ("POST", "/licenses/{identifier}/pdf") in documented
    assert documented == routes
