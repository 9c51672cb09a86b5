"""Huren's web pages (issue 17): the verifier page, the citizen's licence page and the operator's overview.

The pages are a thin layer. This package renders them — Jinja2 templates (``templates/``), one string catalogue per
language (``strings/zh.json``, the default, and ``strings/en.json``), the page assets (``static/``: one style sheet
and one script, served by Huren itself, no CDN) — and turns a verifier report into what the verifier page shows
(:mod:`trust.web.verify`). It imports the verifier, the formats and the crypto layers and Jinja2, never the service,
storage, issuance, FastAPI or the HTTP app (an import-linter contract), so the verifier page also runs in the
verifier-only install: ``trust verify-server`` (:mod:`trust.web.server`, the standard library's WSGI server, a bundle
from disk, no database). ``trust serve`` mounts the same pages (:mod:`trust.http.routes.pages`) and adds the citizen
and operator pages, whose data the HTTP layer gathers from the service and hands to the templates here.
"""
