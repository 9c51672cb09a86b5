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
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

from fastapi import Request, Response

ETAG_HEX_CHARS: Final = 32
MAX_IF_NONE_MATCH: Final = 8192  # longer headers are ignored, not parsed
# entity-tag = [ weak ] opaque-tag ; opaque-tag = DQUOTE *etagc DQUOTE ; etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG: Final = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|\Z)')


def etag_for(body: bytes) -> str:
    """The strong entity tag of ``body`` (quoted)."""
    return '"' + hashlib.sha256(body).hexdigest()[:ETAG_HEX_CHARS] + '"'


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


def cached(
    request: Request, body: bytes, media_type: str, *, max_age: int, headers: dict[str, str] | None = None
) -> Response:
    """``body`` with ``ETag`` and ``Cache-Control: public, max-age``; or 304 when the client's copy is current."""
    etag = etag_for(body)
    all_headers = {**(headers or {}), "ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=all_headers)
    return Response(body, media_type=media_type, headers=all_headers)


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

__all__ = ["IF_NONE_MATCH_PARAMETER", "OPENAPI_EXTRA", "cached", "etag_for", "not_modified", "parse_if_none_match"]
