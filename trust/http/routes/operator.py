"""The operator's overview page (issue 17 item 3): ``GET /operator``, read only, over
:func:`trust.service.overview.gather`; writes stay in the CLI and the API.

Served to clients on the host itself (loopback) only: the operator opens it on the service's machine or through an
SSH tunnel. Any other client gets 404, as for a page that does not exist (docs/WEB.md).
"""

from __future__ import annotations

from ipaddress import ip_address

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from trust.crypto.errors import NotFoundError
from trust.service import overview
from trust.service.instance import Instance
from trust.web import pages, render
from trust.web.i18n import Strings, pick

router = APIRouter(tags=["pages"], include_in_schema=False)


def _local(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/operator")
async def operator_page(request: Request, lang: str = "zh") -> HTMLResponse:
    if not _local(request):
        raise NotFoundError("no such page")
    instance: Instance = request.app.state.instance
    data = await run_in_threadpool(overview.gather, instance)
    t = Strings(pick(lang))
    body = render.page(
        "operator.html",
        t.lang,
        title=t("operator.title"),
        base="",
        nav=pages.nav(pages.ALL_PAGES, "/operator"),
        switch_path="/operator",
        o=data,
    )
    return HTMLResponse(body, headers=dict(render.HEADERS))
