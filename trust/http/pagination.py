"""Pagination of list routes: ``limit`` / ``offset`` query parameters and an RFC 8288 ``Link`` to the next page.

``GET /certificates``, ``GET /seals`` and ``GET /clients`` take ``limit`` (1-1000, default 100) and ``offset``
(0-:data:`MAX_OFFSET`, default 0) and answer a JSON array in a stable order. When another page follows, the
answer carries ``Link: </certificates?…&limit=100&offset=100>; rel="next"`` — a path-absolute reference with the
request's other query parameters kept (RFC 8288 clause 3.1: relative to the request URI). On the last page there
is no ``Link``. ``GET /audit`` pages by sequence number (``after`` / ``next_after``) and carries the same ``Link``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request, Response

T = TypeVar("T")
MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 100
MAX_OFFSET: Final = 2**31 - 1  # beyond any real table; keeps the value inside every database's integer range

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (the next page: offset + limit)")]

LINK_HEADER: Final[dict[str, Any]] = {
    "Link": {
        "description": 'RFC 8288: `<…>; rel="next"` when another page follows; absent on the last page',
        "required": False,
        "schema": {"type": "string", "pattern": '^<[^>]*>; rel="next"$'},
        "example": '</certificates?ca_id=region-330000-sm2&limit=100&offset=100>; rel="next"',
    }
}


def page_doc(description: str) -> dict[int | str, Any]:
    """The documented 200 of a paginated route (its ``Link`` header)."""
    return {200: {"description": description, "headers": LINK_HEADER}}


def next_link(request: Request, **changes: int) -> str:
    """``<path?query>; rel="next"``: this request's URL with ``changes`` applied to its query."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params.extend((k, str(v)) for k, v in changes.items())
    return f'<{request.url.path}?{urlencode(params)}>; rel="next"'


def offset_page(
    fetch: Callable[[int, int], Sequence[T]], response: Response, request: Request, *, limit: int, offset: int
) -> Sequence[T]:
    """One page of ``fetch(limit, offset)`` (the service's bounded list query), with ``Link`` to the next page when
    one follows: a full page is followed by another only if the row after it exists (one more, one-row query; the
    service queries cap their page at :data:`MAX_LIMIT`, so ``limit + 1`` cannot be asked for)."""
    rows = fetch(limit, offset)
    more = len(rows) == limit and offset + limit <= MAX_OFFSET and bool(fetch(1, offset + limit))
    link_next(response, request, more=more, limit=limit, offset=offset + limit)
    return rows


def link_next(response: Response, request: Request, *, more: bool, **changes: int) -> None:
    """Add the ``Link: …; rel="next"`` header when ``more``."""
    if more:
        response.headers["Link"] = next_link(request, **changes)


__all__ = [
    "DEFAULT_LIMIT",
    "LINK_HEADER",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "Limit",
    "Offset",
    "link_next",
    "offset_page",
    "page_doc",
]
