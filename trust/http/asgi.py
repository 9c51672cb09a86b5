"""ASGI entry point for uvicorn workers: ``trust.http.asgi:app`` (settings from ``TRUST_*`` variables)."""

from trust.http.app import create_app

app = create_app()
