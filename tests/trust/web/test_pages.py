"""The verifier page without a browser (issue 17): the catalogues, the WSGI app of ``trust verify-server`` called
directly on golden artefacts (no socket), escaping, the headers, the refusals. The browser tests are beside it."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import golden
from trust.web import i18n, render
from trust.web.server import App, BundleContext, parse_form
from trust.web.verify import MAX_UPLOAD_BYTES, view


def test_catalogues_hold_the_same_keys_and_placeholders() -> None:
    zh, en = i18n.catalogue("zh"), i18n.catalogue("en")
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key
    assert i18n.pick("en") == "en" and i18n.pick("fr") == "zh" and i18n.pick(None) == "zh"


def test_every_catalogue_key_a_template_names_exists() -> None:
    from importlib import resources

    keys = set(i18n.catalogue("zh"))
    for name in ("base.html", "verify.html", "macros.html", "citizen.html", "operator.html"):
        text = resources.files("trust.web").joinpath("templates", name).read_text(encoding="utf-8")
        for key in re.findall(r"t\('([a-z_.]+)'", text):
            if key.endswith("."):  # a key made with the value that follows ("result." ~ c.result)
                assert any(k.startswith(key) for k in keys), (name, key)
            else:
                assert key in keys, (name, key)


@pytest.fixture(scope="module")
def app() -> App:
    return App(BundleContext([golden.path("trust/bundle.json")], golden.pins(), at=golden.validation_time()))


def _call(app: App, method: str, path: str, body: bytes = b"", content_type: str = "", query: str = "",
          length: str | None = None) -> tuple[int, dict[str, str], str]:  # fmt: skip
    answer: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = int(status.split(maxsplit=1)[0]), dict(headers)

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)) if length is None else length, "wsgi.input": io.BytesIO(body),
    }  # fmt: skip
    chunks = app(environ, start)
    return answer["status"], answer["headers"], b"".join(chunks).decode("utf-8")


def _multipart(fields: dict[str, tuple[str, bytes] | str]) -> tuple[bytes, str]:
    boundary = "huren-boundary-1"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\n".encode())
        if isinstance(value, tuple):
            out.write(f'Content-Disposition: form-data; name="{name}"; filename="{value[0]}"\r\n'.encode())
            out.write(b"Content-Type: application/octet-stream\r\n\r\n" + value[1] + b"\r\n")
        else:
            out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _indication(html: str) -> str:
    found = re.search(r'id="verdict"[^>]*data-indication="([A-Z_]+)"', html)
    assert found, html[:2000]
    return found.group(1)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("license/token-zj.jwt", "TOTAL_PASSED"), ("broken/token-payload-changed.jwt", "TOTAL_FAILED"),
     ("broken/token-revoked.jwt", "TOTAL_FAILED"), ("ses/seal-v4.esl", "TOTAL_PASSED")],
)  # fmt: skip
def test_the_verdict_element_carries_the_indication(app: App, name: str, expected: str) -> None:
    body, kind = _multipart({"file": (name.rsplit("/", 1)[-1], golden.read(name)), "lang": "zh"})
    status, headers, html = _call(app, "POST", "/verify/result", body, kind)
    assert status == 200 and _indication(html) == expected
    assert "unsafe-inline" not in headers["Content-Security-Policy"] and headers["Cache-Control"] == "no-store"


def test_hostile_file_names_and_tokens_are_escaped(app: App) -> None:
    name = "<script>alert(1)</script>.pem"
    body, kind = _multipart({"file": (name, golden.read("license/token-zj.jwt"))})
    _status, _headers, html = _call(app, "POST", "/verify/result", body, kind)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;.pem" in html
    body, kind = _multipart({"token": "<img src=x onerror=alert(1)>"})
    status, _headers, html = _call(app, "POST", "/verify/result", body, kind)
    assert status == 400 and "<img src=x" not in html and 'data-code="E1001 malformed-encoding"' in html


def test_uploads_over_the_limit_are_refused_by_their_declared_size(app: App) -> None:
    status, _headers, html = _call(app, "POST", "/verify/result", b"", "multipart/form-data; boundary=x",
                                   length=str(50 * 1024 * 1024))  # fmt: skip
    assert status == 413 and "E1002" in html
    big, kind = _multipart({"file": ("big.pdf", b"%PDF-" + b"0" * MAX_UPLOAD_BYTES)})
    status, _headers, html = _call(app, "POST", "/verify/result", big, kind)
    assert status == 413 and "E1002 input-too-large" in html


def test_nothing_or_both_is_a_usage_error(app: App) -> None:
    body, kind = _multipart({"token": ""})
    assert _call(app, "POST", "/verify/result", body, kind)[0] == 400
    body, kind = _multipart({"file": ("a.jwt", golden.read("license/token-zj.jwt")), "token": "eyJ"})
    status, _headers, html = _call(app, "POST", "/verify/result", body, kind)
    assert status == 400 and "E1008 usage" in html


def test_routes_assets_and_languages(app: App) -> None:
    assert _call(app, "GET", "/")[0] == 303
    status, _headers, html = _call(app, "GET", "/verify", query="lang=en")
    assert status == 200 and 'lang="en"' in html and "<script>" not in html
    assert _call(app, "GET", "/verify", query="lang=xx")[2].count('lang="zh-CN"') == 1
    assert _call(app, "GET", "/static/web/web.js")[1]["Content-Type"].startswith("text/javascript")
    assert _call(app, "GET", "/static/web/../strings/zh.json")[0] == 404
    assert _call(app, "DELETE", "/verify")[0] == 405
    assert _call(app, "GET", "/nothing")[0] == 404
    assert "eyJabc" in _call(app, "GET", "/verify", query="token=eyJabc")[2]


def test_the_view_shows_only_the_verifiers_indications() -> None:
    t = i18n.Strings("zh")
    with pytest.raises(ValueError, match="not an indication"):
        view({"indication": "<b>PASSED</b>"}, t, trust_list=None)
    shown = view(
        {"indication": "TOTAL_FAILED", "sub_indication": "REVOKED", "kind": "license-token"}, t, trust_list=None
    )
    assert shown.verdict == "验证失败" and "撤销" in shown.reason
    assert json.loads(__import__("base64").b64decode(shown.json_uri.split(",", 1)[1]))["indication"] == "TOTAL_FAILED"


def test_forms_parse_strictly() -> None:
    body, kind = _multipart({"token": "eyJ", "at": "2025-03-03T02:30:00Z", "lang": "en", "other": "x"})
    sub = parse_form(kind, body)
    assert (sub.token, sub.at, sub.lang, sub.file) == ("eyJ", "2025-03-03T02:30:00Z", "en", None)
    assert parse_form("application/x-www-form-urlencoded", b"token=abc&at=").token == "abc"
    from trust.crypto.errors import InputError

    with pytest.raises(InputError):
        parse_form("text/plain", b"token=abc")


def test_page_headers_are_one_set(app: App) -> None:
    headers: Callable[[], dict[str, str]] = lambda: dict(render.HEADERS)  # noqa: E731
    assert headers()["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers()["Content-Security-Policy"]


def _zip_bomb_pdf(size: int = 200 * 1024 * 1024) -> bytes:
    """A PDF whose page content and ``license.jwt`` attachment are Flate streams inflating to ``size`` zero bytes."""
    import zlib

    packer = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    bomb = b"".join(packer.compress(chunk) for _ in range(size // len(chunk))) + packer.flush()
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(license.jwt) 5 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        stream,
        b"<< /Type /Filespec /F (license.jwt) /UF (license.jwt) /EF << /F 6 0 R >> >>",
        stream.replace(b"<< /Length", b"<< /Type /EmbeddedFile /Length", 1),
    ]
    out = io.BytesIO(b"%PDF-1.7\n")
    out.seek(0, io.SEEK_END)
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    start = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start))
    return out.getvalue()


def test_a_zip_bomb_in_a_pdf_stream_is_a_verdict_with_bounded_work(app: App) -> None:
    import resource
    import time

    bomb = _zip_bomb_pdf()
    assert len(bomb) < 1024 * 1024
    body, kind = _multipart({"file": ("bomb.pdf", bomb)})
    before, memory = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status, _headers, html = _call(app, "POST", "/verify/result", body, kind)
    assert status == 200 and _indication(html) == "TOTAL_FAILED"
    assert time.process_time() - before < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory < 150 * 1024  # KiB: nothing inflated whole
