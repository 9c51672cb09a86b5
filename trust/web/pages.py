"""The verifier page, independent of the server that hosts it: ``trust serve`` (FastAPI, :mod:`trust.http.routes.pages`)
and ``trust verify-server`` (the standard library's WSGI server, :mod:`trust.web.server`) both call these functions
with their own way of verifying (the service's cached context, or a bundle from disk) and send what they return.

A verification that cannot start (no input, both a file and a token, an unreadable input, an upload over the limit)
is answered with the form again and the error in words with its stable code (status 400, 413 for too large); a
failure of Huren itself with a page that names no internals (500). A report is never turned into an error: a
tampered, revoked or foreign document is a verdict, shown as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from trust.crypto.errors import Code, TrustError
from trust.formats.trustlist import TrustList
from trust.web import render
from trust.web.i18n import Strings, pick
from trust.web.verify import (
    MAX_TOKEN_CHARS,
    MAX_UPLOAD_BYTES,
    Submission,
    choose_input,
    data_uri,
    human_size,
    validation_time,
    view,
)

log = logging.getLogger("trust.web")

Verify = Callable[[bytes, "datetime | None", "bytes | None"], "tuple[Mapping[str, Any], TrustList | None]"]
"""``verify(data, at, signed_data)``: the verifier's report as a dictionary (:meth:`verifier.report.Report.to_dict`)
and the trust list the verification used (the issuer rows name its entries)."""
RenderOfd = Callable[[bytes], bytes]
"""``render(ofd)``: the first page of an OFD package as PNG bytes (the service's; the verifier-only server has none)."""
PdfReport = Callable[[Mapping[str, Any], str], bytes]
"""``pdf(report, lang)``: a printable PDF of the report (the service's; the verifier-only server has none)."""


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    current: bool = False


VERIFY_ONLY: Final = ("/verify",)
ALL_PAGES: Final = ("/verify", "/citizen", "/operator")
_LABELS: Final = {"/verify": "nav.verify", "/citizen": "nav.citizen", "/operator": "nav.operator"}


def nav(pages: Sequence[str], current: str) -> list[NavItem]:
    return [NavItem(path, _LABELS[path], path == current) for path in pages]


def _code(code: Code) -> str:
    return f"{code.label} {code.slug}"


def _status(code: Code) -> int:
    if code is Code.INPUT_TOO_LARGE:
        return 413
    return 400 if code.category.value in ("input", "failed", "indeterminate") else 500


def verify_form(lang: str, *, base: str = "", pages: Sequence[str] = VERIFY_ONLY, token: str = "") -> str:
    """The form; ``token`` fills the text box (the link of a citizen's presentation: ``/verify?token=…``)."""
    return _verify_page(lang, base=base, pages=pages, token=token[:MAX_TOKEN_CHARS])


def _verify_page(lang: str, *, base: str, pages: Sequence[str], **context: Any) -> str:
    t = Strings(lang)
    context.setdefault("result", None)
    context.setdefault("error", None)
    context.setdefault("token", "")
    return render.page(
        "verify.html",
        t.lang,
        title=t("verify.title"),
        base=base,
        nav=nav(pages, "/verify"),
        switch_path=f"{base}/verify",
        max_bytes=MAX_UPLOAD_BYTES,
        max_size=human_size(MAX_UPLOAD_BYTES),
        **context,
    )


def too_large(lang: str, *, base: str = "", pages: Sequence[str] = VERIFY_ONLY) -> tuple[int, str]:
    """The answer to an upload refused by its declared size, before its body is read."""
    t = Strings(lang)
    error = {"code": _code(Code.INPUT_TOO_LARGE), "message": t("error.too_large", limit=human_size(MAX_UPLOAD_BYTES))}
    return 413, _verify_page(lang, base=base, pages=pages, error=error)


def refused(
    lang: str,
    code: Code,
    *,
    limit: int | None = None,
    retry_after: int | None = None,
    base: str = "",
    pages: Sequence[str] = VERIFY_ONLY,
) -> tuple[int, str]:
    """The page's answer to a form post the server refused before reading it (``trust serve``): over its request
    body limit (413, ``limit`` bytes) or over the anonymous rate limit (429, retry after ``retry_after`` seconds).
    The same status as the API's problem document, as a page in the user's language."""
    t = Strings(lang)
    if code is Code.RATE_LIMITED:
        status, message = 429, t("error.rate_limited", seconds=retry_after if retry_after is not None else 60)
    elif code is Code.INPUT_TOO_LARGE:
        status, message = 413, t("error.too_large_request", limit=human_size(limit or 0))
    else:
        raise ValueError(f"not a refusal the page answers: {code!r}")
    return status, _verify_page(lang, base=base, pages=pages, error={"code": _code(code), "message": message})


def verify_result(
    sub: Submission,
    lang: str,
    verify: Verify,
    *,
    pdf: PdfReport | None = None,
    render_ofd: RenderOfd | None = None,
    base: str = "",
    pages: Sequence[str] = VERIFY_ONLY,
) -> tuple[int, str]:
    """Verify what the form sent and render the result page: ``(HTTP status, HTML)``. With ``render_ofd`` an OFD's
    first page is shown as drawn, and seal pictures in OFD vector form too (best effort: without them, the verdict)."""
    from trust.web import seals

    lang = pick(lang)
    t = Strings(lang)
    try:
        data = choose_input(sub)
        report, trust_list = verify(data, validation_time(sub), sub.signed_data)
    except TrustError as exc:
        message = t("verify.both_inputs") if "not both" in exc.message else exc.message
        if exc.code is Code.INPUT_TOO_LARGE:
            message = t("error.too_large", limit=human_size(MAX_UPLOAD_BYTES))
        error = {"code": _code(exc.code), "message": message}
        return _status(exc.code), _verify_page(lang, base=base, pages=pages, error=error)
    kind = str(report.get("kind", ""))
    pictures = seals.pictures(data, kind, render_ofd=render_ofd)
    ofd_page = None
    if render_ofd is not None and kind in ("ofd", "license-ofd"):
        try:
            ofd_page = data_uri(render_ofd(data), "image/png")
        except Exception:  # a result page without the drawn page is still the verdict
            log.warning("the OFD page could not be drawn", exc_info=True)
    document = None
    if pdf is not None:
        try:
            document = pdf(report, lang)
        except Exception:  # a report page without its PDF is still the verdict
            log.exception("the PDF report could not be made")
    result = view(report, t, trust_list=trust_list, pdf=document, seals=pictures, ofd_page=ofd_page)
    size = human_size(len(sub.file)) if sub.file else ""
    return 200, _verify_page(lang, base=base, pages=pages, result=result, filename=sub.filename, size=size)


def failure_page(lang: str, *, base: str = "", pages: Sequence[str] = VERIFY_ONLY) -> str:
    """A failure of Huren itself: no internals, the error code only."""
    error = {"code": _code(Code.INTERNAL), "message": "internal error"}
    return _verify_page(lang, base=base, pages=pages, error=error)
