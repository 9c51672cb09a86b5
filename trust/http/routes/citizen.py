"""The citizen's licence page (issue 17 item 2): thin routes over the service; the HTML is :mod:`trust.web`'s.

* ``GET /citizen`` — the login form, or the citizen's licences: each with its face (the licence's title, fields,
  validity and issuing authority, as the printed face shows them), its status, the sealed PDF and the token to
  download, and the presentation form.
* ``POST /citizen/login`` / ``POST /citizen/logout`` — the demo's local login over the regional OPs' accounts (the
  same citizen ID numbers and passwords, :mod:`trust.service.identity.op`); the session is a signed, ``HttpOnly``,
  ``SameSite=Strict`` cookie of eight hours holding the citizen ID number and name.
* ``POST /citizen/licenses/<identifier>/present`` — the holder key is the browser's: an ECDSA P-256 key made with
  WebCrypto, not extractable, kept in IndexedDB (``static/web.js``); the page sends its public JWK and the chosen
  fields, and the licence's issuer issues an SD-JWT VC bound to that key (``cnf.jwk``,
  :func:`licenses.issuance.shared_sd_jwt`) whose disclosures are the chosen fields, and which carries no other field.
  The browser signs the key-binding JWT (``sd_hash``, a fresh nonce, the verifier page as audience) with its key.
* ``POST /citizen/qr`` — the QR code (PNG) of a presentation, with the link a verifier opens (``/verify?token=…``).
* ``GET /citizen/licenses/<identifier>.pdf`` and ``.jwt`` — the sealed licence PDF and the compact token.

The JSON posts demand the header ``X-Huren-Page`` (a cross-site form cannot send it) besides the strict cookie.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import select

from trust import db
from trust.crypto.errors import Code, InputError, NotFoundError, TrustError
from trust.formats import strict_json
from trust.formats.license_catalogue import get as license_type
from trust.http.auth import anonymous_limit, client_address, limiter
from trust.service.instance import Instance
from trust.web import pages, render
from trust.web.i18n import Strings, pick

router = APIRouter(tags=["pages"], include_in_schema=False)

COOKIE: Final = "huren_citizen"
MAX_AGE: Final = 8 * 3600
MAX_PRESENTATION: Final = 2900
"""The longest presentation a QR code carries (version 40, low error correction, byte mode: 2953 bytes)."""


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _serializer(instance: Instance) -> URLSafeTimedSerializer:
    path: Path = instance.settings.home / "secrets" / "citizen-cookie-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    return URLSafeTimedSerializer(path.read_text().strip(), salt="huren-citizen")


def _who(request: Request) -> dict[str, str] | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    try:
        value = _serializer(_instance(request)).loads(cookie, max_age=MAX_AGE)
    except BadSignature:
        return None
    return value if isinstance(value, dict) else None


def _page(lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    t = Strings(lang)
    context.setdefault("who", None)
    context.setdefault("licenses", [])
    context.setdefault("failed", False)
    body = render.page(
        "citizen.html",
        t.lang,
        title=t("citizen.title"),
        base="",
        nav=pages.nav(pages.ALL_PAGES, "/citizen"),
        switch_path="/citizen",
        **context,
    )
    return HTMLResponse(body, status_code=status, headers=dict(render.HEADERS))


def _licences(instance: Instance, citizen_id: str) -> list[dict[str, Any]]:
    from licenses.models import LicenseIssuer, LicenseRecord

    shown: list[dict[str, Any]] = []
    with db.session_scope(instance.engine, read_only=True) as session:
        rows = session.exec(select(LicenseRecord).where(LicenseRecord.holder_code == citizen_id)).all()
        for row in rows:
            issuer = session.get(LicenseIssuer, row.issuer_id)
            kind = license_type(row.type_code)
            fields = json.loads(row.fields)
            shown.append(
                {
                    "identifier": row.identifier,
                    "type": kind.name,
                    "holder": row.holder_name,
                    "status": row.status,
                    "fields": [(str(k), kind.label(str(k)), _shown(v)) for k, v in fields.items()],
                    "valid_from": row.valid_from.date().isoformat(),
                    "valid_until": row.valid_until.date().isoformat() if row.valid_until else "",
                    "issued": row.issued_at.date().isoformat(),
                    "authority": getattr(issuer, "name", row.issuer_id),
                    "slug": quote(row.identifier, safe=""),
                }
            )
    return shown


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@router.get("/citizen")
def citizen_page(request: Request, lang: str = "zh") -> HTMLResponse:
    who = _who(request)
    if who is None:
        return _page(pick(lang))
    return _page(pick(lang), who=who, licenses=_licences(_instance(request), who["id"]))


@router.post("/citizen/login")
async def login(request: Request, lang: str = "zh") -> Response:
    from trust.service.identity import op

    form = await request.form(max_files=0, max_fields=5)
    citizen_id = str(form.get("citizen_id") or "").strip().upper()[:32]
    # counted per address and per ID number tried, as the OPs' login pages are (trust.http.ratelimit)
    await run_in_threadpool(limiter(request).login_attempt, client_address(request), op.account_of(citizen_id))
    password = str(form.get("password") or "")[:256]
    instance = _instance(request)
    citizen = await run_in_threadpool(op.citizen_for, instance, op.account_of(citizen_id)) if citizen_id else None
    stored = citizen.password_hash if citizen is not None else op._DUMMY_HASH  # same work for an unknown number
    if not await run_in_threadpool(op.check_password, password, stored) or citizen is None:
        return _page(pick(lang), status=401, failed=True)
    response = RedirectResponse(f"/citizen?lang={pick(lang)}", status_code=303)
    session = _serializer(instance).dumps({"id": citizen.citizen_id, "name": citizen.name})
    response.set_cookie(
        COOKIE,
        session,
        max_age=MAX_AGE,
        path="/citizen",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/citizen/logout")
def logout(lang: str = "zh") -> Response:
    response = RedirectResponse(f"/citizen?lang={pick(lang)}", status_code=303)
    response.delete_cookie(COOKIE, path="/citizen")
    return response


def _owned(request: Request, identifier: str) -> tuple[Instance, Any]:
    """The citizen's own licence record; 404 for anyone else's (never says whether it exists)."""
    from licenses.models import LicenseRecord

    who = _who(request)
    if who is None:
        raise TrustError("sign in first", code=Code.UNAUTHENTICATED)
    instance = _instance(request)
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.exec(select(LicenseRecord).where(LicenseRecord.identifier == identifier)).first()
    if row is None or row.holder_code != who["id"]:
        raise NotFoundError(f"no licence {identifier} of yours")
    return instance, row


async def _json(request: Request) -> Any:
    if request.headers.get("x-huren-page") != "1":
        raise InputError("this endpoint answers the citizen page only (X-Huren-Page)", code=Code.USAGE)
    return strict_json.loads(await request.body(), "request body")


@router.get("/citizen/licenses/{identifier}.jwt")
def token_download(request: Request, identifier: str) -> Response:
    row = _owned(request, identifier)[1]
    return Response(
        row.token,
        media_type="application/jwt",
        headers={"Content-Disposition": 'attachment; filename="license.jwt"', "Cache-Control": "no-store"},
    )


@router.get("/citizen/licenses/{identifier}.pdf")
async def pdf_download(request: Request, identifier: str) -> Response:
    from trust.service import license_documents

    instance, row = _owned(request, identifier)
    pdf = await run_in_threadpool(license_documents.issue_pdf, instance, row.identifier)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="license.pdf"', "Cache-Control": "no-store"},
    )


@router.post("/citizen/licenses/{identifier}/present", dependencies=[Depends(anonymous_limit)])
async def present(request: Request, identifier: str) -> JSONResponse:
    """The licence's SD-JWT VC issued to the browser's holder key (``cnf.jwk``) with the chosen fields as its
    disclosures (module docstring)."""
    from licenses.models import LicenseRecord
    from trust.crypto import jwk as jwk_mod

    instance, row = _owned(request, identifier)
    body = await _json(request)
    given = body.get("jwk") if isinstance(body, dict) else None
    chosen = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(given, dict) or given.get("kty") != "EC" or given.get("crv") != "P-256":
        raise InputError("the holder key must be a public ECDSA P-256 JWK")
    holder = {k: str(given[k]) for k in ("kty", "crv", "x", "y") if k in given}
    jwk_mod.public_key_from_jwk(holder)  # a point on the curve, or InputError
    stored = json.loads(row.fields)
    if not isinstance(chosen, list) or not chosen or not all(isinstance(n, str) and n in stored for n in chosen):
        raise InputError("choose at least one of the licence's fields to disclose")
    # The credential carries the chosen fields only (a QR code holds ~2900 characters: the digests of every field
    # of a birth certificate alone would not leave room), each a disclosure; the rest is not in it at all.
    subset = LicenseRecord.model_validate(row.model_dump())
    subset.fields = json.dumps({name: stored[name] for name in stored if name in chosen}, ensure_ascii=False)
    origin = str(request.base_url).rstrip("/")

    def issue() -> str:
        from licenses import issuance

        with db.session_scope(instance.engine) as session:
            made, _names = issuance.shared_sd_jwt(
                session,
                instance.keystore,
                subset,
                base_url=instance.settings.effective_public_url,
                audience=origin,
                audience_jwk=holder,
                fields=None,
            )
        return made

    sd_jwt = await run_in_threadpool(issue)
    return JSONResponse({"sd_jwt": sd_jwt}, headers={"Cache-Control": "no-store"})


@router.post("/citizen/qr", dependencies=[Depends(anonymous_limit)])
async def presentation_qr(request: Request) -> JSONResponse:
    """The QR code of a presentation the browser made, and its link (the verifier page with it filled in)."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_L

    if _who(request) is None:
        raise TrustError("sign in first", code=Code.UNAUTHENTICATED)
    body = await _json(request)
    text = body.get("presentation") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.isascii() or not 0 < len(text) <= MAX_PRESENTATION:
        raise InputError(
            f"a presentation is an SD-JWT of at most {MAX_PRESENTATION} ASCII characters (this one: {len(str(text))})"
        )
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L, box_size=4, border=4)
    code.add_data(text.encode("ascii"))
    code.make(fit=True)
    image = code.make_image()
    out = io.BytesIO()
    image.save(out)
    data_uri = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {"qr": data_uri, "link": f"{base}/verify?token={quote(text, safe='')}"}, headers={"Cache-Control": "no-store"}
    )
