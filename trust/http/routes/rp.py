"""Relying services hosted by this service (``/rp/<name>/…``): the demo's regional and departmental services, built
on the relying-party library :mod:`trust.rp` exactly as any region's service would use it.

* ``GET /rp/<name>/`` — the service's page: who is signed in (pairwise ``sub``, region, ``acr``), or a sign-in link;
* ``GET /rp/<name>/login`` — the national "choose your region" page (every OP of the federation), or with ``op=`` or
  ``region=`` (a hint) straight to that OP; the login's state (``state``, ``nonce``, PKCE verifier) is kept in a
  signed, ``HttpOnly`` cookie of the service (``huren_rp_login``), never in the URL;
* ``GET /rp/<name>/callback`` — :meth:`trust.rp.RelyingParty.complete`, then the service's own session cookie
  (``huren_rp_session``, signed, ``HttpOnly``, ``SameSite=Lax``);
* ``GET /rp/<name>/logout`` — ends the service's session and sends the browser to the OP's RP-initiated logout;
* ``GET /rp/<name>/license`` — licences at login: the KB-JWT ``nonce`` and ``aud`` a presentation must carry, bound
  to the signed-in login (kept in the service's signed cookie ``huren_rp_kb``); ``POST`` a presentation (an SD-JWT
  with key binding, form field ``presentation``) and the service verifies it offline
  (:meth:`trust.rp.RelyingParty.verify_presentation`) and names the disclosed fields.

The trust the library needs comes from this instance's own federation section and trust list — the same content as
the offline bundle — and the level a service demands is its metadata's ``default_acr_values``.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from trust.crypto.errors import TrustError
from trust.formats import federation, oidc
from trust.formats import trustlist as tl
from trust.formats.names import region as region_of
from trust.rp import LoginState, PresentationRequest, RelyingParty
from trust.service import trust as trust_service
from trust.service.identity import anchor
from trust.service.identity.models import FederationEntity
from trust.service.instance import Instance

router = APIRouter(tags=["relying services"], include_in_schema=False)
LOGIN_COOKIE = "huren_rp_login"
KB_COOKIE = "huren_rp_kb"
SESSION_COOKIE = "huren_rp_session"
RP_CACHE_SECONDS = 30.0
_lock = threading.Lock()
_cache: dict[tuple[int, str], tuple[float, RelyingParty]] = {}


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _serializer(instance: Instance, name: str) -> URLSafeTimedSerializer:
    """Cookies signed with a key kept in the home's secrets folder (0600), one salt per service."""
    path: Path = instance.settings.home / "secrets" / "rp-cookie-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return URLSafeTimedSerializer(path.read_text().strip(), salt=f"huren-rp:{name}")


def _relying_party(instance: Instance, name: str) -> tuple[RelyingParty, FederationEntity]:
    entity_id = anchor.hosted_rp_id(instance, name)
    row = anchor.get(instance, entity_id)
    if row.kind != anchor.KIND_RP or row.status != "active":
        raise TrustError(f"{entity_id} is not an active relying service")
    key = (id(instance), name)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < RP_CACHE_SECONDS:
        return cached[1], row
    section = anchor.bundle_section(instance)
    assert section is not None  # a registered RP implies an anchor
    bundle = json.dumps(trust_service.build_bundle(instance), ensure_ascii=False, separators=(",", ":")).encode()
    pins = tuple(trust_service.root_fingerprints(instance).values())
    record = trust_service.latest_trust_list(instance)
    from trust.formats import jose

    payload, _signatures = jose.parse_json(json.loads(record.document))
    metadata = anchor.hosted_metadata(instance, row)[anchor.KIND_RP]
    levels = metadata.get("default_acr_values") or [oidc.LOA_1]
    rp = RelyingParty.from_section(
        federation.FederationSection.from_json(section),
        trust_list=tl.TrustList.from_json(json.loads(payload)),
        client_id=entity_id,
        redirect_uri=f"{entity_id}/callback",
        min_acr=str(levels[0]),
        bundle=bundle,
        pins=pins,
    )
    with _lock:
        _cache[key] = (time.monotonic(), rp)
    return rp, row


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;max-width:36em;margin:3em auto}}"
        "li{margin:.4em 0}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _cookie_path(name: str) -> str:
    return f"/rp/{name}/"


def _secure(instance: Instance) -> bool:
    return instance.settings.effective_public_url.startswith("https://")


@router.get("/rp/{name}/")
def home(name: str, request: Request) -> Response:
    instance = _instance(request)
    rp, row = _relying_party(instance, name)
    session = _read(instance, name, request.cookies.get(SESSION_COOKIE), max_age=8 * 3600)
    if session is None:
        body = (
            f"<p>请登录 / Please sign in (level {escape(rp.min_acr)}).</p>"
            f"<p><a id='login' href='/rp/{escape(name)}/login'>选择您所在地区登录 / Sign in with your region</a></p>"
        )
        return _page(row.name, body)
    body = (
        f"<p id='signed-in'>已登录 / Signed in: <code id='sub'>{escape(session['sub'])}</code></p>"
        f"<p>地区 / Region: <span id='region'>{escape(session['region'])}</span>; "
        f"级别 / Level: <span id='acr'>{escape(session['acr'])}</span>; "
        f"身份提供者 / OP: <span id='op'>{escape(session['op'])}</span></p>"
        f"<p><a id='logout' href='/rp/{escape(name)}/logout'>退出 / Sign out</a></p>"
    )
    return _page(row.name, body)


def _read(instance: Instance, name: str, value: str | None, *, max_age: int) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        data = _serializer(instance, name).loads(value, max_age=max_age)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


@router.get("/rp/{name}/login")
def login(name: str, request: Request, op: str | None = None, region: str | None = None) -> Response:
    instance = _instance(request)
    rp, row = _relying_party(instance, name)
    if op is None and region is not None:
        op = anchor.hosted_op_id(instance, region)
    if op is None:
        items = []
        for member in anchor.entities(instance, anchor.KIND_OP):
            label = region_of(member.region).name if member.region else member.name
            link = f"/rp/{name}/login?{_q({'op': member.id})}"
            items.append(f"<li><a class='region' id='op-{escape(member.region or '')}' href='{escape(link)}'>"
                         f"{escape(label)} — {escape(member.name)}</a></li>")  # fmt: skip
        return _page(f"{row.name}：选择地区 / Choose your region", f"<ul>{''.join(items)}</ul>")
    try:
        url, state = rp.begin(op)
    except TrustError as error:
        return _page("无法登录 / Cannot sign in", f"<p>{escape(error.message)}</p>", status=400)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE, _serializer(instance, name).dumps(state.to_json()), path=_cookie_path(name), httponly=True,
        samesite="lax", secure=_secure(instance), max_age=600,
    )  # fmt: skip
    return response


def _q(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@router.get("/rp/{name}/callback")
def callback(name: str, request: Request) -> Response:
    instance = _instance(request)
    rp, _row = _relying_party(instance, name)
    pending = _read(instance, name, request.cookies.get(LOGIN_COOKIE), max_age=600)
    if pending is None:
        return _page("无法登录 / Cannot sign in", "<p>This sign-in was not started here or has expired.</p>", 400)
    try:
        result = rp.complete(LoginState.from_json(pending), dict(request.query_params))
    except TrustError as error:
        return _page("无法登录 / Cannot sign in", f"<p>{escape(error.code.label)}: {escape(error.message)}</p>", 400)
    token = result.id_token
    session = {
        "sub": token.subject,
        "region": token.region or "",
        "acr": token.acr or "",
        "op": token.issuer,
        "id_token": token.token,
    }
    response = RedirectResponse(f"/rp/{name}/", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path=_cookie_path(name))
    response.set_cookie(
        SESSION_COOKIE, _serializer(instance, name).dumps(session), path=_cookie_path(name), httponly=True,
        samesite="lax", secure=_secure(instance), max_age=8 * 3600,
    )  # fmt: skip
    return response


@router.get("/rp/{name}/logout")
def logout(name: str, request: Request) -> Response:
    instance = _instance(request)
    rp, row = _relying_party(instance, name)
    session = _read(instance, name, request.cookies.get(SESSION_COOKIE), max_age=8 * 3600)
    target = f"{row.id}/"
    location = target
    if session is not None:
        try:
            location = rp.logout_url(session["op"], session["id_token"], target)
        except TrustError:
            location = target
    response = RedirectResponse(location, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=_cookie_path(name))
    return response


@router.get("/rp/{name}/license")
def license_request(name: str, request: Request) -> Response:
    instance = _instance(request)
    rp, row = _relying_party(instance, name)
    session = _read(instance, name, request.cookies.get(SESSION_COOKIE), max_age=8 * 3600)
    if session is None:
        return RedirectResponse(f"/rp/{name}/", status_code=303)
    kb = PresentationRequest(
        nonce=secrets.token_urlsafe(24),
        audience=rp.client_id,
        subject=str(session["sub"]),
        op_id=str(session["op"]),
        issued_at=int(time.time()),
    )
    body = (
        "<p>请出示证照 / Present a licence, key-bound to this sign-in:</p>"
        f"<p>nonce <code id='kb-nonce'>{escape(kb.nonce)}</code><br>"
        f"aud <code id='kb-aud'>{escape(kb.audience)}</code></p>"
        f"<form method='post' action='/rp/{escape(name)}/license'>"
        "<textarea name='presentation' id='presentation' rows='6' cols='60'></textarea><br>"
        "<button type='submit' id='present'>出示 / Present</button></form>"
    )
    response = _page(f"{row.name}：证照 / Licence", body)
    response.set_cookie(
        KB_COOKIE, _serializer(instance, name).dumps(kb.to_json()), path=_cookie_path(name), httponly=True,
        samesite="lax", secure=_secure(instance), max_age=600,
    )  # fmt: skip
    return response


@router.post("/rp/{name}/license")
async def license_presented(name: str, request: Request) -> Response:
    form = await request.form()
    presentation = str(form.get("presentation", ""))[:200_000]
    return await run_in_threadpool(_license_presented, name, request, presentation)


def _license_presented(name: str, request: Request, presentation: str) -> Response:
    instance = _instance(request)
    rp, _row = _relying_party(instance, name)
    session = _read(instance, name, request.cookies.get(SESSION_COOKIE), max_age=8 * 3600)
    pending = _read(instance, name, request.cookies.get(KB_COOKIE), max_age=600)
    if session is None or pending is None or pending.get("subject") != session.get("sub"):
        return _page("无法核验 / Cannot verify", "<p>Sign in and ask for the licence again.</p>", 400)
    try:
        report = rp.verify_presentation(presentation.strip(), PresentationRequest.from_json(pending))
    except TrustError as error:
        return _page("证照未通过 / Licence refused", f"<p id='refused'>{escape(error.message)}</p>", 400)
    disclosed = dict(report.details).get("disclosed") or []  # the names of the disclosed claims
    rows = "".join(f"<li>{escape(str(name))}</li>" for name in disclosed)
    response = _page("证照已核验 / Licence verified", f"<ul id='disclosed'>{rows}</ul>")
    response.delete_cookie(KB_COOKIE, path=_cookie_path(name))  # one presentation per request: no replay
    return response
