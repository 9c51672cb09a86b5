"""ASGI entry point for uvicorn workers: ``trust.http.asgi:app`` (settings from ``TRUST_*`` variables).

Each worker installs Huren's log handler (JSON by default, secrets masked: :mod:`trust.logs`) before the app."""

from trust import logs
from trust.http.app import create_app
from trust.settings import Settings

logs.configure(Settings(), default_format="json")
app = create_app()
