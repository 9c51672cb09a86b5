"""``/docs``: Swagger UI served by Huren itself, from the files of the ``swagger-ui-bundle-v2`` package.

FastAPI's default page loads Swagger UI from a public CDN, which leaves it blank on a government intranet. Here the
page (FastAPI's :func:`~fastapi.openapi.docs.get_swagger_ui_html`) names only Huren's own URLs: the script, the
style sheet, the icon and their source maps under ``/docs/assets/``, answered from the package's folder (an
allow-list, nothing else of it), and ``/openapi.json``. Swagger UI's online validator is turned off (it would send
the API description to a public service). ReDoc (``/redoc``), which FastAPI also loads from a CDN, is not offered.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse

from trust.crypto.errors import NotFoundError

PATH: Final = "/docs"
ASSETS: Final = f"{PATH}/assets"
_FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-bundle.js.map": "application/json",
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui.css.map": "application/json",
    "favicon-32x32.png": "image/png",
}


def install(app: FastAPI) -> None:
    """Add ``/docs`` and its assets to ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    from swagger_ui_bundle import swagger_ui_path

    folder = swagger_ui_path

    @app.get(PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(f"{ASSETS}/{{name}}", include_in_schema=False)
    def swagger_asset(name: str) -> FileResponse:
        media_type = _FILES.get(name)
        if media_type is None:
            raise NotFoundError(f"no such Swagger UI file: {name[:64]!r}")
        return FileResponse(
            str(folder / name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )
