"""JSON request bodies read by Huren's one strict JSON parser (:mod:`trust.formats.strict_json`), not by the
standard library's lenient one, so the HTTP API and the command line refuse the same JSON: a member twice (the
last one would win silently), ``NaN`` and ``Infinity``, numbers beyond a double, lone surrogates, text that is not
UTF-8.

FastAPI reads a JSON body with ``await request.json()``; every route of the app is a :class:`StrictJsonRoute`,
which hands the endpoint a :class:`StrictJsonRequest` whose :meth:`~StrictJsonRequest.json` is the strict parser.
A refused body is reported as FastAPI reports any JSON that does not parse (a ``json.JSONDecodeError``, so a 422
problem naming the reason: ``trust.http.app``); a body that is not UTF-8 stays FastAPI's 400, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from trust.crypto.errors import EncodingError
from trust.formats import strict_json

_UNSET: Any = object()


class StrictJsonRequest(Request):
    """A request whose :meth:`json` is :func:`trust.formats.strict_json.loads` of the body."""

    _strict_value: Any = _UNSET

    async def json(self) -> Any:
        if self._strict_value is _UNSET:
            text = (await self.body()).decode("utf-8")  # not UTF-8: FastAPI's 400, as with Starlette's own reader
            try:
                self._strict_value = strict_json.loads(text, "the request body")
            except EncodingError as exc:
                raise json.JSONDecodeError(exc.message, "", 0) from None
        return self._strict_value


class StrictJsonRoute(APIRoute):
    """An API route whose endpoint reads its JSON body strictly (module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
