"""The regional OpenID Providers over HTTP (``/idp/<region>/...``): discovery, JWKS, the authorisation endpoint with
its login pages, the token endpoint, userinfo and RP-initiated logout. Thin: the protocol is Authlib's, the decisions
:mod:`trust.service.identity.op`'s; this module turns requests into Authlib's ``OAuth2Request`` and answers into
HTTP, renders the login pages (escaped) and keeps the cookies.

Cookies (per OP, ``Path=/idp/<region>/``, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` behind https): ``huren_sso``
holds the SSO session (only its hash is stored), ``huren_csrf`` the double-submit token of the login and logout forms
(CSRF on login and logout). Login attempts are rate limited per address and per citizen ID number
(``TRUST_LOGIN_RATE_LIMIT``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from trust.crypto.errors import Code, TrustError
from trust.formats import oidc
from trust.http import problems
from trust.http.auth import client_address, limiter
from trust.service.identity import op
from trust.service.instance import Instance

# Browser and OAuth protocol endpoints, described by each OP's discovery document (and docs/IDENTITY.md) rather than
# the platform API's OpenAPI document.
router = APIRouter(tags=["identity providers"], include_in_schema=False)
SSO_COOKIE = "huren_sso"
CSRF_COOKIE = "huren_csrf"


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _provider(request: Request, code: str) -> op.Provider:
    instance = _instance(request)
    prov = op.provider(instance, code)
    op.active(instance, prov)
    return prov


class _Payload(OAuth2Payload):  # type: ignore[misc]  # Authlib is untyped
    """The request's parameters as Authlib reads them: the first value of each, and every value (a repeated
    parameter is an error Authlib reports)."""

    def __init__(self, items: list[tuple[str, str]]):
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in items:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """A Starlette request for Authlib (as its Flask and Django integrations do for theirs)."""

    def __init__(self, request: Request, form: dict[str, str] | None = None):
        super().__init__(request.method, str(request.url), headers=dict(request.headers))
        self._args = dict(request.query_params)
        self._form_data = form or {}
        self.payload = _Payload([*request.query_params.multi_items(), *self._form_data.items()])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form_data


def _oauth_request(request: Request, form: dict[str, str] | None = None) -> OAuth2Request:
    return _OAuthRequest(request, form)


def _secure(request: Request) -> bool:
    return _instance(request).settings.effective_public_url.startswith("https://")


def _path(code: str) -> str:
    return f"/idp/{code}/"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}label{display:block;margin:.6em 0}"
        "input{font-size:1em;padding:.3em;width:100%}button{font-size:1em;padding:.4em 1.2em}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def _with_csrf(response: Response, request: Request, code: str, token: str) -> Response:
    response.set_cookie(
        CSRF_COOKIE, token, path=_path(code), httponly=True, samesite="lax", secure=_secure(request), max_age=1800
    )
    return response


def _check_csrf(request: Request, submitted: str) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, submitted):
        raise TrustError("the form is stale or was not sent by this page (CSRF check); start again", code=Code.USAGE)


def _error_page(message: str) -> HTMLResponse:
    return _page("无法登录 / Cannot log in", f"<p>{escape(message)}</p>", status=400)


def _oauth_error(prov: op.Provider, oreq: OAuth2Request, error: OAuth2Error) -> Response:
    """An authorisation error: redirected only to a redirect URI the client registered (Authlib sets
    ``redirect_uri`` only after checking it), else shown here — never an open redirect."""
    if getattr(error, "redirect_uri", None):
        _status, _body, headers = prov.server.handle_error_response(oreq, error)
        location = dict(headers).get("Location")
        if location:
            return RedirectResponse(_add_iss(location, prov.row.id), status_code=302)
    return _error_page(f"{error.error}: {error.description or ''}")


def _add_iss(location: str, issuer: str) -> str:
    """RFC 9207: the authorisation response names its issuer (the RP's defence against mix-up)."""
    parts = urlsplit(location)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name == "iss" for name, _ in query):
        query.append(("iss", issuer))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _required_acr(oreq: OAuth2Request, client: op.Client | None) -> str:
    requested = [v for v in (oreq.payload.data.get("acr_values") or "").split() if v in oidc.ACR_LEVELS]
    if requested:
        return min(requested, key=oidc.acr_level)
    return (client.default_acr if client else None) or oidc.LOA_1


def _login_form(code: str, query: str, csrf: str, message: str = "") -> str:
    note = f'<p role="alert">{escape(message)}</p>' if message else ""
    return (
        f"{note}<form method='post' action='/idp/{escape(code)}/login'>"
        f"<input type='hidden' name='query' value='{escape(query)}'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        "<label>公民身份号码 / Citizen ID <input name='citizen_id' id='citizen_id' autocomplete='username'></label>"
        "<label>密码 / Password <input name='password' id='password' type='password' "
        "autocomplete='current-password'></label>"
        "<button type='submit' id='login'>登录 / Log in</button></form>"
    )


def _otp_form(code: str, query: str, csrf: str, challenge: str, message: str = "") -> str:
    note = f'<p role="alert">{escape(message)}</p>' if message else ""
    return (
        f"{note}<p>A one-time code was sent to you (demo: it is in the service log).</p>"
        f"<form method='post' action='/idp/{escape(code)}/login/otp'>"
        f"<input type='hidden' name='query' value='{escape(query)}'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        f"<input type='hidden' name='challenge' value='{escape(challenge)}'>"
        "<label>一次性验证码 / One-time code <input name='otp' id='otp' inputmode='numeric'></label>"
        "<button type='submit' id='verify'>验证 / Verify</button></form>"
    )


@router.get("/idp/{code}/.well-known/openid-configuration", summary="OpenID Provider discovery document",
            responses=problems.responses(404))  # fmt: skip
def discovery(code: str, request: Request) -> JSONResponse:
    instance = _instance(request)
    return JSONResponse(op.discovery(instance, _provider(request, code)))


@router.get("/idp/{code}/jwks", summary="The OP's ID token keys (RS256, ES256, SM2)", responses=problems.responses(404))
def jwks(code: str, request: Request) -> JSONResponse:
    instance = _instance(request)
    return JSONResponse(op.jwks(instance, _provider(request, code)), headers={"Cache-Control": "public, max-age=300"})


@router.get("/idp/{code}/jwks-sm2", summary="The OP's SM2 ID token key", responses=problems.responses(404))
def jwks_sm2(code: str, request: Request) -> JSONResponse:
    instance = _instance(request)
    keys = op.jwks(instance, _provider(request, code), sm2=True)
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})


@router.get("/idp/{code}/authorize", summary="Authorisation endpoint (code flow, PKCE S256, nonce)",
            response_class=HTMLResponse, responses=problems.responses(404))  # fmt: skip
def authorize(code: str, request: Request) -> Response:
    instance = _instance(request)
    prov = _provider(request, code)
    oreq = _oauth_request(request)
    try:
        grant = prov.server.get_consent_grant(request=oreq, end_user=None)
    except OAuth2Error as error:
        return _oauth_error(prov, oreq, error)
    client: op.Client = grant.client
    required = _required_acr(oreq, client)
    prompt = (oreq.payload.data.get("prompt") or "").split()
    session = op.current_session(instance, prov.row, request.cookies.get(SSO_COOKIE))
    csrf = _csrf(request)
    query = urlsplit(str(request.url)).query
    if session is not None and "login" not in prompt:
        if oidc.acr_level(session.acr) >= oidc.acr_level(required):
            citizen = op.citizen_for(instance, session.account)
            if citizen is None:
                return _error_page("this account no longer exists; log in again")
            user = op.User(citizen.citizen_id, citizen.name, session.acr, session.auth_time, session.id)
            op.record_client(instance, session.id, client.client_id)
            _status, _body, headers = prov.server.create_authorization_response(
                request=oreq, grant_user=user, grant=grant
            )
            location = dict(headers).get("Location", "")
            return RedirectResponse(_add_iss(location, prov.row.id), status_code=302)
        # Step-up: the session's level is below what this RP asks for; the same citizen proves a second factor.
        citizen = op.citizen_for(instance, session.account)
        if citizen is None:
            return _error_page("this account no longer exists; log in again")
        who = op.Authenticated(citizen.citizen_id, citizen.name, session.acr)
        challenge = op.authenticator_for(prov.row.id).start_second_factor(instance, prov.row, who)
        body = f"<p>{escape(client.name)} 需要更高的认证级别 / asks for a higher level ({escape(required)}).</p>"
        page = _page("提升认证级别 / Step-up", body + _otp_form(code, query, csrf, challenge))
        return _with_csrf(page, request, code, csrf)
    if "none" in prompt:
        return _oauth_error(prov, oreq, _login_required(grant))
    body = f"<p>{escape(client.name)} 请求登录 / asks you to log in ({escape(prov.row.name)}).</p>"
    return _with_csrf(_page(f"{prov.row.name} 登录", body + _login_form(code, query, csrf)), request, code, csrf)


def _login_required(grant: Any) -> OAuth2Error:
    from authlib.oidc.core.errors import LoginRequiredError

    error = LoginRequiredError(redirect_uri=grant.redirect_uri)
    return error


def _needed_level(prov: op.Provider, query: str) -> str:
    params = dict(parse_qsl(query))
    client = prov.server.query_client(params.get("client_id", ""))
    requested = [v for v in params.get("acr_values", "").split() if v in oidc.ACR_LEVELS]
    if requested:
        return min(requested, key=oidc.acr_level)
    return (client.default_acr if client else None) or oidc.LOA_1


def _back_to_authorize(request: Request, code: str, query: str, cookie: str) -> Response:
    response = RedirectResponse(f"/idp/{code}/authorize?{query}", status_code=303)
    response.set_cookie(
        SSO_COOKIE, cookie, path=_path(code), httponly=True, samesite="lax", secure=_secure(request),
        max_age=int(op.SESSION_LIFETIME.total_seconds()),
    )  # fmt: skip
    return response


@router.post("/idp/{code}/login", summary="Login form (citizen ID number and password)", response_class=HTMLResponse,
             responses=problems.responses(400, 404, 429))  # fmt: skip
async def login(
    code: str,
    request: Request,
    query: str = Form(max_length=4096),
    csrf: str = Form(max_length=64),
    citizen_id: str = Form(max_length=32),
    password: str = Form(max_length=256),
) -> Response:
    _check_csrf(request, csrf)
    account = hashlib.sha256(citizen_id.strip().upper().encode()).hexdigest()[:24]
    await run_in_threadpool(limiter(request).login_attempt, client_address(request), account)
    return await run_in_threadpool(_login, code, request, query, csrf, citizen_id, password)


def _login(code: str, request: Request, query: str, csrf: str, citizen_id: str, password: str) -> Response:
    instance = _instance(request)
    prov = _provider(request, code)
    authenticator = op.authenticator_for(prov.row.id)
    try:
        who = authenticator.first_factor(instance, prov.row, citizen_id, password)
    except TrustError as error:
        from trust.service import audit

        audit.record(instance.engine, action="idp.login", subject=prov.row.id, result="failed",
                     details={"citizen": citizen_id[:18], "reason": error.code.slug})  # fmt: skip
        page = _page(f"{prov.row.name} 登录", _login_form(code, query, csrf, error.message), status=401)
        return _with_csrf(page, request, code, csrf)
    if oidc.acr_level(_needed_level(prov, query)) > oidc.acr_level(who.acr):
        challenge = authenticator.start_second_factor(instance, prov.row, who)
        return _with_csrf(_page("一次性验证码 / One-time code", _otp_form(code, query, csrf, challenge)), request,
                          code, csrf)  # fmt: skip
    cookie = op.open_session(instance, prov.row, who)
    return _back_to_authorize(request, code, query, cookie)


@router.post("/idp/{code}/login/otp", summary="Second factor (one-time code)", response_class=HTMLResponse,
             responses=problems.responses(400, 404, 429))  # fmt: skip
async def login_otp(
    code: str,
    request: Request,
    query: str = Form(max_length=4096),
    csrf: str = Form(max_length=64),
    challenge: str = Form(max_length=64),
    otp: str = Form(max_length=16),
) -> Response:
    _check_csrf(request, csrf)
    await run_in_threadpool(limiter(request).login_attempt, client_address(request), None)
    return await run_in_threadpool(_login_otp, code, request, query, csrf, challenge, otp)


def _login_otp(code: str, request: Request, query: str, csrf: str, challenge: str, otp: str) -> Response:
    instance = _instance(request)
    prov = _provider(request, code)
    try:
        who = op.authenticator_for(prov.row.id).second_factor(instance, prov.row, challenge, otp)
    except TrustError as error:
        page = _page("一次性验证码 / One-time code", _otp_form(code, query, csrf, challenge, error.message), status=401)
        return _with_csrf(page, request, code, csrf)
    cookie = op.open_session(instance, prov.row, who)
    return _back_to_authorize(request, code, query, cookie)


@router.post("/idp/{code}/token", summary="Token endpoint (authorization_code with code_verifier)",
             responses=problems.responses(404))  # fmt: skip
async def token(code: str, request: Request) -> Response:
    form = dict(await request.form())
    prov = await run_in_threadpool(_provider, request, code)
    oreq = _oauth_request(request, {k: str(v) for k, v in form.items()})
    status, body, headers = await run_in_threadpool(prov.server.create_token_response, oreq)
    return JSONResponse(body, status_code=status, headers=dict(headers))


@router.api_route("/idp/{code}/userinfo", methods=["GET", "POST"], summary="UserInfo endpoint (bearer token)",
                  responses=problems.responses(401, 404))  # fmt: skip
def userinfo(code: str, request: Request) -> JSONResponse:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise TrustError("userinfo needs Authorization: Bearer <access token>", code=Code.UNAUTHENTICATED)
    return JSONResponse(op.userinfo(_instance(request), _provider(request, code), value.strip()))


def _end(request: Request, code: str, prov: op.Provider, target: str | None, state: str | None) -> Response:
    instance = _instance(request)
    session = op.current_session(instance, prov.row, request.cookies.get(SSO_COOKIE))
    if session is not None:
        op.end_session(instance, session.id)
    if target is not None:
        location = f"{target}{'&' if '?' in target else '?'}{urlencode({'state': state})}" if state else target
        response: Response = RedirectResponse(location, status_code=303)
    else:
        response = _page("已退出 / Logged out", "<p>您已退出登录 / You are logged out.</p>")
    response.delete_cookie(SSO_COOKIE, path=_path(code))
    return response


@router.get("/idp/{code}/logout", summary="RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)",
            response_class=HTMLResponse, responses=problems.responses(404))  # fmt: skip
def logout(
    code: str,
    request: Request,
    id_token_hint: str | None = None,
    post_logout_redirect_uri: str | None = None,
    state: str | None = None,
) -> Response:
    prov = _provider(request, code)
    target = op.logout_target(prov, id_token_hint, post_logout_redirect_uri)
    if target is not None:
        return _end(request, code, prov, target, state)
    # No hint this OP issued: ask the citizen (a third-party page cannot log them out: CSRF on logout).
    csrf = _csrf(request)
    form = (
        f"<form method='post' action='/idp/{escape(code)}/logout'><input type='hidden' name='csrf' "
        f"value='{escape(csrf)}'><button type='submit' id='confirm'>退出 / Log out</button></form>"
    )
    return _with_csrf(_page("退出登录？ / Log out?", form), request, code, csrf)


@router.post("/idp/{code}/logout", summary="Logout confirmed by the citizen", response_class=HTMLResponse,
             responses=problems.responses(400, 404))  # fmt: skip
def logout_confirmed(code: str, request: Request, csrf: str = Form(max_length=64)) -> Response:
    _check_csrf(request, csrf)
    return _end(request, code, _provider(request, code), None, None)
