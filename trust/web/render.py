"""Rendering: the Jinja2 environment (autoescaping on for every template), the security headers of every page and
the static assets.

Every value a template shows is escaped by Jinja2's autoescaping; nothing is marked safe. The pages run no inline
script or style: the Content-Security-Policy (:data:`CSP`) allows scripts and styles only from Huren itself
(``'self'``, never ``'unsafe-inline'``), images from Huren and ``data:`` (the seal pictures and QR codes the server
embeds), and forms that post back to Huren only.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Final

import jinja2

from trust.web.i18n import Strings

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
"""The headers of every page (a verification result is about one person's document: never cached)."""

STATIC: Final = {"web.css": "text/css; charset=utf-8", "web.js": "text/javascript; charset=utf-8"}
"""The page assets, by name: nothing else is served from ``static/``."""


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("trust.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(template: str, lang: str, **context: Any) -> str:
    """The HTML of ``template`` in ``lang``; ``context`` values are escaped where shown."""
    strings = Strings(lang)
    return environment().get_template(template).render(t=strings, lang=strings.lang, **context)


@cache
def static(name: str) -> tuple[bytes, str] | None:
    """An asset's bytes and content type; ``None`` for a name that is not one of :data:`STATIC`."""
    kind = STATIC.get(name)
    if kind is None:
        return None
    return resources.files("trust.web").joinpath("static", name).read_bytes(), kind
