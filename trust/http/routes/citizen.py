"""The citizen's licence page (issue 17 item 2): thin routes over the service; the HTML is :mod:`trust.web`'s.

* ``GET /citizen`` — signed out: the national "choose your region" list (every OP of the federation); signed in:
  the citizen's licences (each with its face — title, fields, validity and issuing authority as the printed face
  shows them —, its status, the sealed PDF and the token to download, and the presentation form), their consents to
  licence sharing (type, service, fields, expiry, state, a withdraw button) and their access history (issue 21).
* ``GET /citizen/login?op=…`` (or ``region=``) / ``GET /citizen/callback`` — the login through the identity
  federation: the page is a relying service of the federation (:mod:`trust.service.identity.citizen_page`), built
  on :mod:`trust.rp` as the hosted services are (:mod:`trust.http.routes.rp`): PKCE S256, ``state`` and ``nonce``
  kept in a signed ``HttpOnly`` cookie of ten minutes, the ID token validated against the OP's trust chain, and the
  citizen ID number taken from its ``huren_citizen_id`` claim. The session is a signed, ``HttpOnly``,
  ``SameSite=Lax`` (the OP's redirect back is a cross-site navigation), ``Secure`` under https cookie of eight hours
  holding the citizen ID number, name, the OP, the ID token (for logout) and the session's CSRF token.
* ``POST /citizen/logout`` — ends the page's session and sends the browser to the OP's RP-initiated logout.
* ``POST /citizen/consents/<id>/withdraw`` — withdraws one of the citizen's consents
  (:func:`trust.service.sharing.access.withdraw_of`).
* ``POST /citizen/licenses/<identifier>/present`` — the holder key is the browser's: an ECDSA P-256 key made with
  WebCrypto, not extractable, kept in IndexedDB (``static/web.js``); the page sends its public JWK and the chosen
  fields, and the licence's issuer issues an SD-JWT VC bound to that key (``cnf.jwk``,
  :func:`licenses.issuance.shared_sd_jwt`) whose disclosures are the chosen fields, and which carries no other field.
  The browser signs the key-binding JWT (``sd_hash``, a fresh nonce, the verifier page as audience) with its key.
* ``POST /citizen/qr`` — the QR code (PNG) of a presentation, with the link a verifier opens (``/verify?token=…``).
* ``GET /citizen/licenses/<identifier>.pdf`` and ``.jwt`` — the sealed licence PDF and the compact token.

The JSON posts demand the header ``X-Huren-Page`` (a cross-site form cannot send it); the form posts (logout,
withdraw) carry the session's CSRF token; and the cookie is ``SameSite=Lax``, not sent on another site's posts.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import secrets
from dataclasses import replace
from datetime import UTC, datetime
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
from trust.formats import oidc, strict_json
from trust.formats.license_catalogue import get as license_type
from trust.http.auth import anonymous_limit
from trust.rp import LoginState, RelyingParty
from trust.service.identity import citizen_page as member
from trust.service.instance import Instance
from trust.web import pages, render
from trust.web.i18n import Strings, pick

router = APIRouter(tags=["pages"], include_in_schema=False)

COOKIE: Final = "huren_citizen"
LOGIN_COOKIE: Final = "huren_citizen_login"
MAX_AGE: Final = 8 * 3600
LOGIN_MAX_AGE: Final = 600
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


def _load(instance: Instance, cookie: str | None, max_age: int) -> dict[str, Any] | None:
    if not cookie:
        return None
    try:
        value = _serializer(instance).loads(cookie, max_age=max_age)
    except BadSignature:
        return None
    return value if isinstance(value, dict) else None


def _who(request: Request) -> dict[str, Any] | None:
    who = _load(_instance(request), request.cookies.get(COOKIE), MAX_AGE)
    return who if who is not None and isinstance(who.get("id"), str) and "csrf" in who else None


def _page(lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    t = Strings(lang)
    context.setdefault("who", None)
    context.setdefault("licenses", [])
    context.setdefault("providers", [])
    context.setdefault("problem", "")
    context.setdefault("unavailable", "")
    context.setdefault("consents", [])
    context.setdefault("history", [])
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


def _relying_party(instance: Instance) -> RelyingParty:
    """The page's relying party (:mod:`trust.rp`, built and cached as the hosted services' are), with its own
    redirect URI and the ``huren_citizen_id`` scope."""
    from trust.http.routes import rp as hosted

    rp, _row = hosted._relying_party(instance, member.SLUG)
    return replace(rp, redirect_uri=member.redirect_uri(instance), scope=member.SCOPE)


def _providers(instance: Instance) -> list[dict[str, str]]:
    from trust.formats.names import region as region_of
    from trust.service.identity import anchor

    shown = []
    for op in anchor.entities(instance, anchor.KIND_OP):
        label = region_of(op.region).name if op.region else op.name
        shown.append({"id": op.id, "region": op.region or "", "label": label, "name": op.name})
    return shown


def _sign_in(request: Request, lang: str, status: int = 200, problem: str = "") -> HTMLResponse:
    instance = _instance(request)
    try:
        _relying_party(instance)
    except TrustError as error:  # the page is not a member of a federation here: it says so, with the code
        return _page(lang, status=503, unavailable=f"{error.code.label} {error.code.slug}")
    return _page(lang, status=status, providers=_providers(instance), problem=problem)


def _holder_view(instance: Instance, holder_code: str, lang: str) -> dict[str, Any]:
    """The citizen's consents and access history (issue 21), as the page shows them."""
    from trust.service.identity import anchor
    from trust.service.sharing import access

    t = Strings(lang)
    names = {row.id: row.name for row in anchor.entities(instance, anchor.KIND_RP, active_only=False)}
    now = datetime.now(UTC)
    shown = []
    for row in reversed(access.consents_of(instance, holder_code=holder_code)):
        expires = _utc(row.expires_at)
        state = "withdrawn" if row.revoked_at is not None else "expired" if expires <= now else "active"
        types = json.loads(row.license_types)
        fields = json.loads(row.fields)
        shown.append(
            {
                "id": row.id,
                "types": [(code, _type_name(code)) for code in types],
                "requester": row.requester,
                "service": names.get(row.requester, row.requester),
                "fields": ", ".join(_field_labels(types, fields)) if fields else t("citizen.all_fields"),
                "purpose": row.purpose,
                "granted": _when(row.granted_at),
                "expires": _when(expires),
                "state": state,
            }
        )
    history = []
    for r in access.history(instance, holder_code=holder_code):
        disclosed = json.loads(r.disclosed)
        history.append(
            {
                "at": _when(r.at),
                "end": r.end,
                "action": r.action,
                "action_label": _label(t, "citizen.action.", r.action),
                "result_label": _label(t, "citizen.result.", r.result),
                "requester": r.requester,
                "service": names.get(r.requester, r.requester),
                "what": r.identifier or _type_name(r.type_code),
                "purpose": r.purpose,
                "basis": t("citizen.basis_consent", id=r.consent_id)
                if r.consent_id
                else t("citizen.basis_legal", code=r.legal_basis or "-"),
                "disclosed": ", ".join(_field_labels([r.type_code], disclosed)) if disclosed else "",
                "result": r.result,
                "reason": r.reason,
            }
        )
    return {"consents": shown, "history": history}


def _label(t: Strings, prefix: str, value: str) -> str:
    return t(prefix + value) if t.has(prefix + value) else value


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _when(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _type_name(code: str) -> str:
    try:
        return str(license_type(code).name)
    except TrustError:
        return code


def _field_labels(types: list[str], names: list[str]) -> list[str]:
    labels = []
    for name in names:
        label = name
        for code in types:
            try:
                label = str(license_type(code).label(name))
                break
            except TrustError:
                continue
        labels.append(label)
    return labels


@router.get("/citizen")
def citizen_page(request: Request, lang: str = "zh") -> HTMLResponse:
    lang = pick(lang)
    who = _who(request)
    if who is None:
        return _sign_in(request, lang)
    instance = _instance(request)
    return _page(lang, who=who, licenses=_licences(instance, who["id"]), **_holder_view(instance, who["id"], lang))


@router.get("/citizen/login", dependencies=[Depends(anonymous_limit)])
def login(request: Request, op: str | None = None, region: str | None = None, lang: str = "zh") -> Response:
    """Off to the chosen region's OP: the authorisation request of :meth:`trust.rp.RelyingParty.begin` (``state``,
    ``nonce``, PKCE S256), its state kept in a signed, ``HttpOnly`` cookie of ten minutes, never in the URL."""
    from trust.service.identity import anchor

    lang = pick(lang)
    instance = _instance(request)
    if op is None and region is not None:
        op = anchor.hosted_op_id(instance, region)
    if op is None:
        return _sign_in(request, lang)
    try:
        url, state = _relying_party(instance).begin(op)
    except TrustError as error:
        return _sign_in(request, lang, status=400, problem=f"{error.code.label}: {error.message}")
    response = RedirectResponse(url, status_code=303)
    pending = {"state": state.to_json(), "lang": lang}
    response.set_cookie(
        LOGIN_COOKIE, _serializer(instance).dumps(pending), max_age=LOGIN_MAX_AGE, path="/citizen", httponly=True,
        samesite="lax", secure=_secure(request),
    )  # fmt: skip
    return response


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or _instance(request).settings.effective_public_url.startswith("https://")


@router.get("/citizen/callback")
async def callback(request: Request) -> Response:
    """The OP's redirect back: :meth:`trust.rp.RelyingParty.complete` (state, ``iss``, code with the PKCE verifier,
    the ID token's signature, issuer, audience, nonce, level and region), then the page's session with the citizen ID
    number from the ID token's ``huren_citizen_id`` claim."""
    instance = _instance(request)
    pending = _load(instance, request.cookies.get(LOGIN_COOKIE), LOGIN_MAX_AGE)
    lang = pick(str(pending.get("lang"))) if pending else "zh"
    if pending is None or not isinstance(pending.get("state"), dict):
        return _sign_in(request, lang, status=400, problem=Strings(lang)("citizen.login_expired"))
    params = dict(request.query_params)

    def complete() -> Any:
        return _relying_party(instance).complete(LoginState.from_json(pending["state"]), params)

    try:
        done = await run_in_threadpool(complete)
    except TrustError as error:
        return _sign_in(request, lang, status=400, problem=f"{error.code.label}: {error.message}")
    token = done.id_token
    citizen_id = token.claims.get(oidc.CLAIM_CITIZEN_ID)
    if not isinstance(citizen_id, str) or not citizen_id:
        return _sign_in(request, lang, status=400, problem=Strings(lang)("citizen.no_citizen_id"))
    session = {
        "id": citizen_id,
        "name": str(token.claims.get("name") or ""),
        "op": token.issuer,
        "id_token": token.token,
        "csrf": secrets.token_urlsafe(24),
    }
    response = RedirectResponse(f"/citizen?lang={lang}", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/citizen")
    response.set_cookie(
        COOKIE, _serializer(instance).dumps(session), max_age=MAX_AGE, path="/citizen", httponly=True,
        samesite="lax", secure=_secure(request),
    )  # fmt: skip
    return response


async def _form_of(request: Request) -> dict[str, str]:
    """A form post of the signed-in citizen with the session's CSRF token, or refused."""
    who = _who(request)
    if who is None:
        raise TrustError("sign in first", code=Code.UNAUTHENTICATED)
    form = await request.form(max_files=0, max_fields=5)
    sent = str(form.get("csrf") or "")
    if not sent or not secrets.compare_digest(sent, str(who.get("csrf", ""))):
        raise TrustError("the form is not this session's (CSRF token)", code=Code.FORBIDDEN)
    return who


@router.post("/citizen/logout")
async def logout(request: Request, lang: str = "zh") -> Response:
    """Ends the page's session, then the OP's (RP-initiated logout with the ID token as hint, back to ``/citizen``)."""
    instance = _instance(request)
    who = await _form_of(request)
    location = f"/citizen?lang={pick(lang)}"
    with contextlib.suppress(TrustError, KeyError):  # no OP to log out at: the page's session ends all the same
        location = _relying_party(instance).logout_url(who["op"], who["id_token"], member.after_logout(instance))
    response = RedirectResponse(location, status_code=303)
    response.delete_cookie(COOKIE, path="/citizen")
    return response


@router.post("/citizen/consents/{consent_id}/withdraw")
async def withdraw_consent(request: Request, consent_id: str, lang: str = "zh") -> Response:
    """The citizen withdraws one of their consents (issue 21 item 2): a later retrieval under it is refused."""
    from trust.service.sharing import access

    who = await _form_of(request)
    await run_in_threadpool(access.withdraw_of, _instance(request), consent_id[:32], holder_code=who["id"])
    return RedirectResponse(f"/citizen?lang={pick(lang)}#consents", status_code=303)


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
