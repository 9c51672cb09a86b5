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

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from trust.crypto.errors import Code, InputError
from trust.http.auth import anonymous_limit
from trust.service import verification
from trust.service.instance import Instance
from trust.web import pages, render
from trust.web.i18n import pick
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


@router.post("/verify/result", dependencies=[Depends(anonymous_limit)])  # anonymous CPU work, limited as POST /verify
async def verify_result(request: Request, lang: str = "zh") -> HTMLResponse:
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

    status, body = await run_in_threadpool(pages.verify_result, sub, chosen, verify, pdf=_pdf, pages=PAGES)
    return html(body, status)
