"""HTTP caching of published artefacts: strong ``ETag``, ``Cache-Control`` and ``If-None-Match`` → 304.

Every public artefact (trust list, bundle, root pins, CA certificates, CRLs, status lists, the JWK Set) is answered
through :func:`cached`, so the rules live in one place:

* The ``ETag`` is a strong validator: the first 128 bits of the SHA-256 of the exact bytes sent, quoted.
* ``If-None-Match`` (RFC 9110 clause 13.1.2) is a ``*`` or a comma-separated list of entity tags, each possibly
  weak (``W/"…"``). It matches when it is ``*`` (the resource has a current representation: it does, or the route
  would have answered 404) or when any listed tag equals ours by the **weak comparison** (clause 8.8.3.2: the
  opaque tags are equal, whether either is weak or not) — the comparison clause 13.1.2 prescribes for
  ``If-None-Match``. A match on GET or HEAD answers ``304 Not Modified`` with no body and the same ``ETag`` and
  ``Cache-Control`` a 200 would carry (clause 15.4.5).
* A header that does not parse as that grammar is ignored (the full representation is sent), never an error:
  a conditional header may only save bytes, not refuse a request.

A large artefact that changes rarely — the offline bundle, tens of MB at national scale (issue 15) — is answered
through :class:`Representations`: its ``ETag`` is computed once per body, not per request (the SHA-256 of 86 MB is
~0.2 s) — or not at all, when the caller already knows the body's SHA-256 (the bundle store's recorded digests) —
and a client whose ``Accept-Encoding`` admits ``gzip`` (RFC 9110 clause 12.5.3) gets it gzip-compressed
(``Content-Encoding: gzip``, about a third of the bytes), compressed once per body. The gzip form is another
representation, so it has its own strong ``ETag`` (of the compressed bytes), and both answers carry
``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from collections.abc import Callable
from typing import Any, Final

from fastapi import Request, Response

ETAG_HEX_CHARS: Final = 32
MAX_IF_NONE_MATCH: Final = 8192  # longer headers are ignored, not parsed
# entity-tag = [ weak ] opaque-tag ; opaque-tag = DQUOTE *etagc DQUOTE ; etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG: Final = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|\Z)')


def etag_for(body: bytes) -> str:
    """The strong entity tag of ``body`` (quoted)."""
    return etag_of_digest(hashlib.sha256(body).hexdigest())


def etag_of_digest(sha256_hex: str) -> str:
    """The strong entity tag of the bytes whose SHA-256 is ``sha256_hex`` (64 hex digits): what :func:`etag_for`
    gives for them, without hashing them again."""
    if len(sha256_hex) != 64 or any(c not in "0123456789abcdef" for c in sha256_hex):
        raise ValueError("not a SHA-256 in lower-case hex")
    return '"' + sha256_hex[:ETAG_HEX_CHARS] + '"'


def parse_if_none_match(value: str) -> list[str] | None:
    """The opaque tags (quoted, ``W/`` dropped) of an ``If-None-Match`` value; ``["*"]`` for ``*``; ``None``
    when the value is not a valid field value (it is then ignored)."""
    text = value.strip(" \t")
    if text == "*":
        return ["*"]
    if not text or len(text) > MAX_IF_NONE_MATCH:
        return None
    tags: list[str] = []
    position = 0
    while position < len(text):
        match = _ENTITY_TAG.match(text, position)
        if match is None or match.end() == position:
            return None
        tags.append(match.group(2))
        position = match.end()
        # an empty list element (``"a", , "b"``) is allowed by the list rule (RFC 9110 clause 5.6.1.2)
        while position < len(text) and text[position] in " \t,":
            position += 1
    return tags


def not_modified(request: Request, etag: str) -> bool:
    """Whether ``request`` is a GET/HEAD whose ``If-None-Match`` matches ``etag`` (weak comparison)."""
    if request.method not in ("GET", "HEAD"):
        return False
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = parse_if_none_match(header)
    if tags is None:
        return False
    return "*" in tags or etag.removeprefix("W/") in tags


MAX_ACCEPT_ENCODING: Final = 1024  # longer headers are ignored: the identity representation is sent
GZIP_LEVEL: Final = 6


def accepts_gzip(value: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value (RFC 9110 clause 12.5.3) admits ``gzip``: listed (or ``x-gzip``) with a
    qvalue above 0, or not listed and ``*`` above 0. A value that does not parse admits nothing but identity."""
    if not value or len(value) > MAX_ACCEPT_ENCODING:
        return False
    named: float | None = None
    star: float | None = None
    for item in value.split(","):
        coding, *params = (part.strip(" \t") for part in item.split(";"))
        coding = coding.lower()
        if not coding:
            continue
        weight = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip(" \t").lower() == "q":
                try:
                    weight = float(number.strip(" \t"))
                except ValueError:
                    return False
                if not 0.0 <= weight <= 1.0:  # also NaN
                    return False
        if coding in ("gzip", "x-gzip"):
            named = weight if named is None else max(named, weight)
        elif coding == "*":
            star = weight
    if named is not None:
        return named > 0
    return star is not None and star > 0


class Representations:
    """The validators and gzip form of the last body one route answered with, kept by the body's identity (a route
    that serves the same ``bytes`` object until its content changes, as ``GET /bundle`` does): computed once per
    body, under a lock so that concurrent first requests compress once. ``compress`` gives a body's gzip form (by
    default ``gzip.compress`` at :data:`GZIP_LEVEL`; ``GET /bundle`` passes the service's, which stores it once for
    all workers). ``digest`` gives the SHA-256 (hex) already computed of exactly the bytes it is passed (the body, or
    the gzip form ``compress`` returned: the same objects), or ``None``; the ETag is then derived from it instead of
    hashing the bytes again (``GET /bundle``: the digests the bundle store recorded and checked, branch etag)."""

    def __init__(
        self,
        compress: Callable[[bytes], bytes] | None = None,
        digest: Callable[[bytes], str | None] | None = None,
    ) -> None:
        self._compress = compress or (lambda body: gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))
        self._digest = digest or (lambda _data: None)
        self._lock = threading.Lock()
        self._etag: tuple[bytes, str] | None = None
        self._gzip: tuple[bytes, bytes, str] | None = None

    def etag(self, body: bytes) -> str:
        known = self._etag
        if known is not None and known[0] is body:
            return known[1]
        tag = self._etag_of(body)
        self._etag = (body, tag)
        return tag

    def _etag_of(self, data: bytes) -> str:
        known = self._digest(data)
        return etag_for(data) if known is None else etag_of_digest(known)

    def gzipped(self, body: bytes) -> tuple[bytes, str]:
        known = self._gzip
        if known is not None and known[0] is body:
            return known[1], known[2]
        with self._lock:
            known = self._gzip
            if known is not None and known[0] is body:
                return known[1], known[2]
            packed = self._compress(body)
            self._gzip = (body, packed, self._etag_of(packed))
            return packed, self._gzip[2]


def cached(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    max_age: int,
    headers: dict[str, str] | None = None,
    representations: Representations | None = None,
) -> Response:
    """``body`` with ``ETag`` and ``Cache-Control: public, max-age``; or 304 when the client's copy is current. With
    ``representations`` (large artefacts), the validators are kept per body and a client that accepts gzip gets the
    gzip representation (module docstring)."""
    all_headers = {**(headers or {}), "Cache-Control": f"public, max-age={max_age}"}
    encoded = body
    if representations is None:
        etag = etag_for(body)
    else:
        all_headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request.headers.get("accept-encoding")):
            encoded, etag = representations.gzipped(body)
            all_headers["Content-Encoding"] = "gzip"
        else:
            etag = representations.etag(body)
    all_headers["ETag"] = etag
    if not_modified(request, etag):
        all_headers.pop("Content-Encoding", None)
        return Response(status_code=304, headers=all_headers)
    return Response(encoded, media_type=media_type, headers=all_headers)


IF_NONE_MATCH_PARAMETER: Final[dict[str, Any]] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": 'Entity tags of a cached copy (`"…"`, `W/"…"`, a list, or `*`); a match answers 304',
    "schema": {"type": "string"},
    "example": '"3f1c0c9f5f7a4b1e9b8e2d6a7c5d4e3f"',
}
_VALIDATORS: Final[dict[str, Any]] = {
    "ETag": {
        "description": "Strong validator: quoted first 128 bits of the SHA-256 of the body",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9a-f]{32}"$'},
    },
    "Cache-Control": {
        "description": "public, max-age=<seconds>",
        "required": True,
        "schema": {"type": "string", "pattern": "^public, max-age=[0-9]+$"},
    },
}


def responses(
    description: str, media_type: str | None = None, schema: dict[str, Any] | None = None
) -> dict[int | str, Any]:
    """The OpenAPI ``responses`` of a cached artefact: 200 with its validators, and 304. ``media_type`` names the
    body when the route has no ``response_model`` (binary unless ``schema`` says otherwise)."""
    ok: dict[str, Any] = {"description": description, "headers": _VALIDATORS}
    if media_type is not None:
        ok["content"] = {media_type: {"schema": schema or {"type": "string", "format": "binary"}}}
    return {
        200: ok,
        304: {"description": "Not Modified: the If-None-Match entity tag is current", "headers": _VALIDATORS},
    }


OPENAPI_EXTRA: Final[dict[str, Any]] = {"parameters": [IF_NONE_MATCH_PARAMETER]}

__all__ = [
    "IF_NONE_MATCH_PARAMETER",
    "OPENAPI_EXTRA",
    "Representations",
    "accepts_gzip",
    "cached",
    "etag_for",
    "etag_of_digest",
    "not_modified",
    "parse_if_none_match",
]
