"""The web pages under ``trust serve`` (issue 17): thin routes over :mod:`trust.web` (templates, catalogues, the
verifier page's logic) and the service (the verification context of the instance's own bundle, the citizen's
licences, the operator's overview).

``GET /verify`` and ``POST /verify/result`` are the verifier page (the JSON API keeps ``POST /verify``);
``GET /static/web/<asset>`` its style sheet and script. Every page carries :data:`trust.web.render.HEADERS` (a
Content-Security-Policy without ``'unsafe-inline'``, ``nosniff``, no caching, no framing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import Headers, QueryParams, UploadFile
from starlette.types import Scope

from trust.crypto.errors import Code, InputError, RateLimitedError
from trust.http.auth import anonymous_limit
from trust.service import verification
from trust.service.instance import Instance
from trust.web import pages, render
from trust.web.i18n import LANGUAGES, pick
from trust.web.verify import MAX_UPLOAD_BYTES, Submission

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGES = pages.ALL_PAGES


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=dict(render.HEADERS))


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


@router.get("/static/web/{name}")
def asset(name: str) -> Response:
    found = render.static(name)
    if found is None:
        raise InputError(f"no page asset {name!r}", code=Code.NOT_FOUND)
    return Response(
        found[0],
        media_type=found[1],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/verify")
def verify_page(lang: str = "zh", token: str = "") -> HTMLResponse:
    return html(pages.verify_form(pick(lang), pages=PAGES, token=token))


async def _read(value: Any, limit: int) -> bytes | None:
    if not isinstance(value, UploadFile):
        return None
    data = await value.read(limit + 1)
    return data or None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _pdf(report: Any, lang: str) -> bytes:
    from seal import fonts
    from trust.web import pdf_report

    return pdf_report.render(report, lang, fonts.font_path("regular"))


def _ofd_page(data: bytes) -> bytes:
    """An OFD's first page as PNG (``seal.ofd_render``, as ``POST /ofd/render`` draws it), for the page to show."""
    from seal import ofd_render

    return ofd_render.render_page(data, 1, dpi=OFD_DPI)


OFD_DPI = 72
RESULT_PATH = "/verify/result"


def wants_page(scope: Scope) -> bool:
    """A form post of the verifier page by a browser (``POST /verify/result`` accepting ``text/html``): its refusals
    before the body is read (413 over the body limit, 429 over the rate limit) are answered as a page, not as the
    API's problem document; any other client of the route keeps the problem document."""
    if scope.get("type") != "http" or scope.get("method") != "POST" or scope.get("path") != RESULT_PATH:
        return False
    return "text/html" in Headers(scope=scope).get("accept", "")


def page_language(scope: Scope) -> str:
    """The language of a refused form post: the form's action names it (``?lang=``), else the browser's first
    ``Accept-Language`` if the pages have it, else Chinese (the body, with the form's own field, is not read)."""
    asked = QueryParams(scope.get("query_string", b"")).get("lang")
    if asked:
        return pick(asked)
    first = Headers(scope=scope).get("accept-language", "").split(",")[0].split(";")[0].strip().lower()
    return pick(first.split("-")[0]) if first.split("-")[0] in LANGUAGES else pick(None)


def refusal(scope: Scope, code: Code, *, limit: int | None = None, retry_after: int | None = None) -> HTMLResponse:
    """The verifier page's answer to a refused form post (:func:`wants_page`), with the refusal's status."""
    status, body = pages.refused(page_language(scope), code, limit=limit, retry_after=retry_after, pages=PAGES)
    response = html(body, status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.post(RESULT_PATH)
async def verify_result(request: Request, lang: str = "zh") -> Response:
    try:
        await anonymous_limit(request)  # anonymous CPU work, limited as POST /verify
    except RateLimitedError as exc:
        if not wants_page(request.scope):
            raise  # the problem document (app's TrustError handler)
        retry = (exc.evidence or {}).get("retry_after")
        return refusal(request.scope, exc.code, retry_after=retry if isinstance(retry, int) else None)
    instance = _instance(request)
    form = await request.form(max_files=2, max_fields=10)  # malformed multipart: starlette's 400, a problem
    upload = form.get("file")
    sub = Submission(
        file=await _read(upload, MAX_UPLOAD_BYTES),
        filename=upload.filename or "" if isinstance(upload, UploadFile) else "",
        token=_text(form.get("token")),
        at=_text(form.get("at")),
        signed_data=await _read(form.get("data"), MAX_UPLOAD_BYTES),
        lang=_text(form.get("lang")),
    )
    chosen = pick(sub.lang or lang)

    def verify(data: bytes, at: datetime | None, signed_data: bytes | None) -> tuple[dict[str, Any], Any]:
        ctx = verification.context_for(instance, at=at, purpose="auto", revocation="available")
        return verification.verify(data, ctx, signed_data=signed_data), ctx.trust_list

    status, body = await run_in_threadpool(
        pages.verify_result, sub, chosen, verify, pdf=_pdf, render_ofd=_ofd_page, pages=PAGES
    )
    return html(body, status)
