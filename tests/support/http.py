"""An HTTP test client that signs in as a platform client of a test world (tests/support/world.py).

Every request carries a fresh RFC 7523 client assertion of ``client_id`` unless the test sets its own
``Authorization`` header (or asks for none: ``client.anonymous``)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.world import World


class AuthClient(TestClient):
    def __init__(self, app: Any, world: World, client_id: str | None, **kwargs: Any):
        kwargs.setdefault("raise_server_exceptions", False)
        super().__init__(app, **kwargs)
        self.world = world
        self.client_id = client_id
        self._app = app
        self._kwargs = kwargs

    def as_(self, client_id: str | None) -> AuthClient:
        """The same app, signed in as another client (``None``: anonymous)."""
        return AuthClient(self._app, self.world, client_id, **self._kwargs)

    @property
    def anonymous(self) -> AuthClient:
        return self.as_(None)

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.client_id is not None and not any(k.lower() == "authorization" for k in headers):
            headers.update(self.world.auth(self.client_id))
        return super().request(method, url, headers=headers, **kwargs)
