"""``trust verify-server``: the verifier page alone, offline, from a bundle on disk — no database, no FastAPI.

It runs in the verifier-only install (``pip install huren``: the verifier, the formats, Jinja2), on the standard
library's WSGI server (:mod:`wsgiref`), so a clerk's machine or a government intranet serves the page with nothing
but the signed bundle and the pinned national root fingerprints. The bundle files are read again when they change on
disk (a new bundle copied in counts at the next request). It opens no outgoing connection: verification is offline,
and the page's assets are its own.

Routes: ``GET /`` (to ``/verify``), ``GET /verify`` (the form), ``POST /verify/result`` (multipart form: ``file`` or
``token``, ``at``, ``data``, ``lang``), ``GET /static/web/<asset>``, ``GET /healthz``. An upload is refused by its
declared ``Content-Length`` before its body is read (:data:`MAX_BODY_BYTES`). Reports are offered as JSON; the
printable PDF report needs reportlab, a dependency of ``huren[service]``, and is made by ``trust serve`` only.
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from trust.crypto.errors import Code, InputError
from trust.web import pages, render
from trust.web.verify import MAX_UPLOAD_BYTES, Submission

log = logging.getLogger("trust.web")

MAX_BODY_BYTES: Final = MAX_UPLOAD_BYTES + 2 * 1024 * 1024
"""A form post: the upload, a signed document, a pasted token and the multipart framing."""

MAX_DRAIN_BYTES: Final = 256 * 1024 * 1024
"""The most of a refused body read and dropped; beyond it the connection is closed unread."""

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REASONS: Final = {
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
}


class BundleContext:
    """The verification context of the bundle files, rebuilt when a file changes (size or modification time)."""

    def __init__(self, bundles: Sequence[Path], pins: Sequence[str], at: datetime | None = None) -> None:
        self.bundles = [Path(p) for p in bundles]
        self.pins = list(pins)
        self.at = at
        self._stamp: tuple[tuple[int, int], ...] | None = None
        self._ctx: Any = None
        self._lock = threading.Lock()
        self.load()

    def _stamps(self) -> tuple[tuple[int, int], ...]:
        stats = [p.stat() for p in self.bundles]
        return tuple((s.st_size, s.st_mtime_ns) for s in stats)

    def load(self) -> Any:
        from verifier import context

        with self._lock:
            try:
                stamp = self._stamps()
            except OSError as exc:
                raise InputError(f"cannot read the bundle: {exc.strerror}") from None
            if stamp != self._stamp:
                parts = [p.read_bytes() for p in self.bundles]
                self._ctx = context.build(bundle=parts, pins=self.pins)
                self._stamp = stamp
            return self._ctx

    def verify(self, data: bytes, at: datetime | None, signed_data: bytes | None) -> tuple[dict[str, Any], Any]:
        from verifier import api

        base = self.load()
        moment = at or self.at or datetime.now(UTC)
        ctx = dataclasses.replace(base, validation_time=moment)
        with self._lock:  # contexts parse lazily and are not thread-safe (trust.service.verification)
            report: dict[str, Any] = api.verify(data, ctx, signed_data=signed_data).to_dict()
        return report, ctx.trust_list


def parse_form(content_type: str, body: bytes) -> Submission:
    """A ``multipart/form-data`` or ``application/x-www-form-urlencoded`` body as a :class:`Submission`."""
    sub = Submission()
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
        sub.token = (fields.get("token") or [""])[0]
        sub.at = (fields.get("at") or [""])[0]
        return sub
    if not content_type.startswith("multipart/form-data"):
        raise InputError("the form must be sent as multipart/form-data", code=Code.USAGE)
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InputError("the form's multipart body cannot be read", code=Code.MALFORMED_ENCODING)
    for part in list(message.iter_parts())[:20]:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        value = payload if isinstance(payload, bytes) else b""
        if name == "file":
            sub.file = value or None
            sub.filename = str(part.get_filename() or "")[:255]
        elif name == "data":
            sub.signed_data = value or None
        elif name in ("token", "at", "lang"):
            setattr(sub, str(name), value.decode("utf-8", "replace"))
    return sub


def _drain(stream: Any, size: int) -> None:
    while size > 0:
        chunk = stream.read(min(size, 1024 * 1024))
        if not chunk:
            return
        size -= len(chunk)


class App:
    """The WSGI application of ``trust verify-server``."""

    def __init__(self, bundle: BundleContext) -> None:
        self.bundle = bundle

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=10)
        lang = (query.get("lang") or ["zh"])[0]
        try:
            return self._route(method, path, lang, environ, start)
        except Exception:
            log.exception("verify-server: unexpected error")
            return self._html(start, 500, pages.failure_page(lang))

    def _route(
        self, method: str, path: str, lang: str, environ: dict[str, Any], start: StartResponse
    ) -> Iterable[bytes]:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=10)
        if path == "/" and method in ("GET", "HEAD"):
            start("303 See Other", [("Location", "/verify"), ("Content-Length", "0")])
            return [b""]
        if path == "/healthz":
            return self._send(start, 200, b'{"status":"ok"}', "application/json")
        if path.startswith("/static/web/"):
            asset = render.static(path.removeprefix("/static/web/"))
            if asset is None:
                return self._send(start, 404, b"not found", "text/plain; charset=utf-8")
            return self._send(start, 200, asset[0], asset[1], cache="public, max-age=3600")
        if path == "/verify" and method in ("GET", "HEAD"):
            return self._html(start, 200, pages.verify_form(lang, token=(query.get("token") or [""])[0]))
        if path == "/verify/result" and method == "POST":
            return self._result(lang, environ, start)
        if path in ("/verify", "/verify/result"):
            return self._send(start, 405, b"method not allowed", "text/plain; charset=utf-8")
        return self._send(start, 404, b"not found", "text/plain; charset=utf-8")

    def _result(self, lang: str, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        declared = environ.get("CONTENT_LENGTH") or ""
        if not declared.isdigit():
            return self._html(start, 400, pages.verify_form(lang))
        if int(declared) > MAX_BODY_BYTES:
            # Refused by its declared size; the body is read and dropped (bounded) so that the browser, still
            # sending, receives the answer instead of a reset connection.
            _drain(environ["wsgi.input"], min(int(declared), MAX_DRAIN_BYTES))
            status, html = pages.too_large(lang)
            return self._html(start, status, html)
        body = environ["wsgi.input"].read(int(declared))
        try:
            sub = parse_form(environ.get("CONTENT_TYPE", ""), body)
        except InputError as exc:
            status, html = pages.verify_result(Submission(), lang, self.bundle.verify)
            log.info("verify-server: unreadable form: %s", exc.message)
            return self._html(start, 400, html)
        status, html = pages.verify_result(sub, sub.lang or lang, self.bundle.verify)
        return self._html(start, status, html)

    def _html(self, start: StartResponse, status: int, html: str) -> Iterable[bytes]:
        return self._send(start, status, html.encode("utf-8"), "text/html; charset=utf-8", page=True)

    def _send(
        self,
        start: StartResponse,
        status: int,
        body: bytes,
        content_type: str,
        *,
        page: bool = False,
        cache: str = "no-store",
    ) -> Iterable[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if page:
            headers.extend(render.HEADERS.items())
        else:
            headers.extend([("Cache-Control", cache), ("X-Content-Type-Options", "nosniff")])
        start(f"{status} {_REASONS.get(status, 'Status')}", headers)
        return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class OfflineWSGIServer(WSGIServer):
    """The standard library's WSGI server without its reverse name lookup of the listening address
    (``HTTPServer.server_bind`` calls ``socket.getfqdn``): the server asks no name service anything."""

    def server_bind(self) -> None:
        import socketserver

        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


def serve(app: App, host: str, port: int, ready: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` until interrupted (one request at a time: verification is CPU work under one lock anyway)."""
    server = make_server(host, port, app, server_class=OfflineWSGIServer, handler_class=_QuietHandler)
    url = f"http://{host}:{server.server_port}"
    if ready is not None:
        ready(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def default_pins() -> list[str]:
    """``TRUST_VERIFY_PINS``: comma-separated SHA-256 fingerprints, when no ``--pin`` is given."""
    value = os.environ.get("TRUST_VERIFY_PINS", "")
    return [p.strip() for p in value.split(",") if p.strip()]
