"""A region's OpenID Provider (OpenID Connect Core 1.0) on Authlib: one per hosted ``openid_provider`` member.

Authlib does the protocol — the authorisation code grant (RFC 6749 clause 4.1), PKCE (RFC 7636, here ``S256``
required), ``nonce`` and ``prompt`` handling (OpenID Connect), the token endpoint and its error responses; this module
adds only what is Huren's:

* **Clients are federation members**: ``client_id`` is a relying service's entity identifier, and the OP takes its
  redirect URIs and its ID token algorithm from the service's trust chain to the national anchor, with the anchor's
  policy applied (automatic registration, OpenID Federation clause 12.1) — an RP withdrawn from the federation can no
  longer log anyone in. Redirect URIs match exactly (no open redirect).
* **ID tokens** are signed with the OP's RS256 (the default), ES256 or SM2 key (the RP's
  ``id_token_signed_response_alg``) through :mod:`trust.formats.oidc`, since Authlib's JOSE has no SM2; claims ``iss``,
  pairwise ``sub`` (per RP sector), ``aud``, ``iat``, ``exp``, ``nonce``, ``acr``, ``auth_time``, ``at_hash``,
  ``huren_region``, ``name`` with ``profile``, and the citizen ID number only with the ``huren_citizen_id`` scope.
* **Codes are single use, atomically**: a code is consumed by one ``UPDATE … WHERE used = false``; a replayed code
  is refused and the tokens issued from it are revoked (RFC 6749 clause 4.1.2).
* **Login** (:class:`Authenticator`, pluggable per OP): the demo checks a GB 11643 citizen ID number of the OP's
  region and a password (``urn:huren:loa:1``), then, for a higher level, a one-time code written to the log
  (``urn:huren:loa:2``). A login opens an SSO session (cookie) the OP reuses for any RP of any region while its level
  suffices; RP-initiated logout ends it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant as BaseCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode as BaseOpenIDCode
from sqlalchemy import delete, update
from sqlmodel import col, select

from ca.models import now, utc
from trust import db
from trust.crypto.errors import Code, IdTokenError, NotFoundError, TrustError
from trust.formats import idcodes, oidc
from trust.service import audit
from trust.service.identity import anchor
from trust.service.identity.models import (
    AccessToken,
    AuthorizationCode,
    Citizen,
    FederationEntity,
    LoginSession,
    OneTimeCode,
)
from trust.service.instance import Instance

log = logging.getLogger("trust.idp")

CODE_LIFETIME: Final = timedelta(minutes=2)
TOKEN_LIFETIME: Final = 600
ID_TOKEN_LIFETIME: Final = 600
SESSION_LIFETIME: Final = timedelta(hours=8)
OTP_LIFETIME: Final = timedelta(minutes=5)
OTP_ATTEMPTS: Final = 3
SCRYPT: Final = (2**14, 8, 1)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- citizens and authentication ------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    n, r, p = SCRYPT
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${derived.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, expected = stored.split("$")
        derived = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(derived.hex(), expected)


def check_citizen_id(op: FederationEntity, citizen_id: str) -> str:
    """A GB 11643 citizen ID number (right check character) of the OP's own region, upper-cased."""
    value = citizen_id.strip().upper()
    if not idcodes.is_citizen_id(value):
        raise TrustError("not a citizen ID number (GB 11643: 18 characters, check character)", code=Code.LOGIN_FAILED)
    if op.region is None or value[:2] != op.region[:2]:
        raise TrustError(
            "this identity provider authenticates citizens registered in its own region only", code=Code.LOGIN_FAILED
        )
    return value


def account_of(citizen_id: str) -> str:
    """The account key of a citizen ID number (SHA-256): what sessions and one-time codes hold instead of the number."""
    return _digest(citizen_id.strip().upper())


def citizen_for(instance: Instance, account: str) -> Citizen | None:
    with db.session_scope(instance.engine, read_only=True) as session:
        return session.get(Citizen, account)


def add_citizen(instance: Instance, citizen_id: str, name: str, password: str) -> Citizen:
    """A demo account (the demo login; a region puts its real login behind :class:`Authenticator`)."""
    value = citizen_id.strip().upper()
    if not idcodes.is_citizen_id(value):
        raise TrustError("not a GB 11643 citizen ID number", code=Code.INVALID_INPUT)
    with db.session_scope(instance.engine) as session:
        citizen = session.get(Citizen, account_of(value)) or Citizen(
            account=account_of(value), citizen_id=value, name=name, password_hash=""
        )
        citizen.name = name
        citizen.password_hash = hash_password(password)
        session.add(citizen)
    return citizen


@dataclass(frozen=True)
class Authenticated:
    citizen_id: str
    name: str
    acr: str


class Authenticator(Protocol):
    """How an OP checks who is logging in. ``first_factor`` checks the citizen ID number and a secret;
    ``second_factor`` (for a level above the first's) starts and checks a one-time code. A region replaces the demo's
    with its real login (:func:`set_authenticator`)."""

    def first_factor(self, instance: Instance, op: FederationEntity, citizen_id: str, secret: str) -> Authenticated: ...

    def start_second_factor(self, instance: Instance, op: FederationEntity, who: Authenticated) -> str: ...

    def second_factor(
        self, instance: Instance, op: FederationEntity, challenge_id: str, code: str
    ) -> Authenticated: ...


class DemoAuthenticator:
    """Citizen ID number and password (level 1); a six-digit one-time code written to the log (level 2)."""

    def first_factor(self, instance: Instance, op: FederationEntity, citizen_id: str, secret: str) -> Authenticated:
        value = check_citizen_id(op, citizen_id)
        with db.session_scope(instance.engine, read_only=True) as session:
            citizen = session.get(Citizen, account_of(value))
        # The same answer, and about the same work, for an unknown number and a wrong password.
        stored = citizen.password_hash if citizen is not None else _DUMMY_HASH
        if not check_password(secret, stored) or citizen is None:
            raise TrustError("citizen ID number or password is wrong", code=Code.LOGIN_FAILED)
        return Authenticated(value, citizen.name, oidc.LOA_1)

    def start_second_factor(self, instance: Instance, op: FederationEntity, who: Authenticated) -> str:
        code = f"{secrets.randbelow(10**6):06d}"
        challenge = secrets.token_urlsafe(24)
        with db.session_scope(instance.engine) as session:
            session.add(
                OneTimeCode(
                    id=_digest(challenge),
                    op_id=op.id,
                    account=account_of(who.citizen_id),
                    code_hash=_digest(f"{challenge}:{code}"),
                    expires_at=now() + OTP_LIFETIME,
                )
            )
        # The demo's "SMS": the log (the citizen ID number masked, as in every log line).
        log.warning("one-time login code for %s at %s: %s", idcodes.mask(who.citizen_id), op.id, code)
        return challenge

    def second_factor(self, instance: Instance, op: FederationEntity, challenge_id: str, code: str) -> Authenticated:
        with db.session_scope(instance.engine) as session:
            row = session.get(OneTimeCode, _digest(challenge_id))
            if row is None or row.op_id != op.id or row.used or utc(row.expires_at) < now():
                raise TrustError("the one-time code has expired; log in again", code=Code.LOGIN_FAILED)
            row.attempts += 1
            good = hmac.compare_digest(row.code_hash, _digest(f"{challenge_id}:{code.strip()}"))
            if good or row.attempts >= OTP_ATTEMPTS:
                row.used = True
            session.add(row)
            citizen = session.get(Citizen, row.account)
        if not good or citizen is None:
            raise TrustError("the one-time code is wrong", code=Code.LOGIN_FAILED)
        return Authenticated(citizen.citizen_id, citizen.name, oidc.LOA_2)


_DUMMY_HASH: Final = hash_password(secrets.token_urlsafe(16))
_authenticators: dict[str, Authenticator] = {}


def set_authenticator(op_id: str, authenticator: Authenticator) -> None:
    """Put a region's own login behind its OP (the demo's is the default)."""
    _authenticators[op_id] = authenticator


def authenticator_for(op_id: str) -> Authenticator:
    return _authenticators.get(op_id) or DemoAuthenticator()


# --- SSO sessions ---------------------------------------------------------------------------------------------------


def open_session(instance: Instance, op: FederationEntity, who: Authenticated) -> str:
    """A new SSO session; returns the cookie value (only its hash is stored)."""
    cookie = secrets.token_urlsafe(32)
    with db.session_scope(instance.engine) as session:
        session.add(
            LoginSession(
                id=_digest(cookie),
                op_id=op.id,
                account=account_of(who.citizen_id),
                acr=who.acr,
                auth_time=int(time.time()),
                expires_at=now() + SESSION_LIFETIME,
            )
        )
    audit.record(
        instance.engine,
        action="idp.login",
        subject=op.id,
        result="success",
        details={"citizen": who.citizen_id, "acr": who.acr},
    )
    return cookie


def current_session(instance: Instance, op: FederationEntity, cookie: str | None) -> LoginSession | None:
    if not cookie:
        return None
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.get(LoginSession, _digest(cookie))
    if row is None or row.op_id != op.id or row.ended_at is not None or utc(row.expires_at) < now():
        return None
    return row


def end_session(instance: Instance, session_id: str) -> LoginSession | None:
    with db.session_scope(instance.engine) as session:
        row = session.get(LoginSession, session_id)
        if row is None or row.ended_at is not None:
            return row
        row.ended_at = now()
        session.add(row)
        session.exec(delete(AccessToken).where(col(AccessToken.session_id) == session_id))
    audit.record(instance.engine, action="idp.logout", subject=row.op_id, result="success", details={})
    return row


# --- Authlib models -------------------------------------------------------------------------------------------------


@dataclass
class Client(ClientMixin):  # type: ignore[misc]  # Authlib is untyped
    """A relying service as its trust chain describes it (automatic registration)."""

    client_id: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    id_token_alg: str
    default_acr: str | None
    name: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "profile", oidc.SCOPE_CITIZEN_ID}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match: no open redirect

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"  # public clients, PKCE S256 required

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"

    sector_identifier_uri: str | None = None

    @property
    def sector(self) -> str:
        """The relying party's sector for pairwise subjects: the host of its ``sector_identifier_uri`` when it names
        one (services of one department may share a sector), else its entity identifier — in a federation every
        relying service is its own sector, even when several share a host."""
        if self.sector_identifier_uri:
            return oidc.sector_of(self.redirect_uris, self.sector_identifier_uri)
        return self.client_id


@dataclass
class User:
    citizen_id: str
    name: str
    acr: str
    auth_time: int
    session_id: str

    def get_user_id(self) -> str:
        return self.citizen_id


@dataclass
class Code_:  # noqa: N801 - Authlib's "authorization code" model
    row: AuthorizationCode

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return self.row.auth_time

    def get_acr(self) -> str:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return ["pwd", "otp"] if oidc.acr_level(self.row.acr) >= 2 else ["pwd"]


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with ``S256`` required in every authorisation request (RFC 9700 clause 2.1.1); ``plain`` refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - Authlib's class attribute

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: code_challenge with code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: Code_) -> str | None:
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: Code_) -> str | None:
        return authorization_code.row.code_challenge_method


@dataclass
class Provider:
    """The Authlib authorisation server of one hosted OP, with what its grants need."""

    instance: Instance
    row: FederationEntity
    server: Any = field(init=False)

    def __post_init__(self) -> None:
        self.server = _Server(self)


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: Provider):
        super().__init__(scopes_supported=["openid", "profile", oidc.SCOPE_CITIZEN_ID])
        self.provider = provider
        self._clients: dict[str, tuple[float, Client]] = {}
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_kw: secrets.token_urlsafe(32),
                expires_generator=lambda _client, _grant_type: TOKEN_LIFETIME,
            ),
        )
        self.register_grant(_CodeGrant, [S256Challenge(required=True), _OpenIDCode(provider)])

    def query_client(self, client_id: str) -> Client | None:
        cached = self._clients.get(client_id)
        if cached is not None and time.monotonic() - cached[0] < 60:
            return cached[1]
        instance = self.provider.instance
        try:
            chain = anchor.resolve_chain(instance, client_id)
            metadata = chain.entity_metadata(anchor.KIND_RP)
        except TrustError:
            return None
        client = Client(
            client_id=client_id,
            redirect_uris=[u for u in metadata.get("redirect_uris", []) if isinstance(u, str)],
            post_logout_redirect_uris=[u for u in metadata.get("post_logout_redirect_uris", []) if isinstance(u, str)],
            id_token_alg=str(metadata.get("id_token_signed_response_alg", "RS256")),
            default_acr=(metadata.get("default_acr_values") or [None])[0],
            name=str(metadata.get("client_name", client_id)),
            sector_identifier_uri=metadata.get("sector_identifier_uri"),
        )
        if client.id_token_alg not in oidc.ID_TOKEN_ALGORITHMS or not client.redirect_uris:
            return None
        self._clients[client_id] = (time.monotonic(), client)
        return client

    def save_token(self, token: Mapping[str, Any], request: OAuth2Request) -> None:
        with db.session_scope(self.provider.instance.engine) as session:
            session.add(
                AccessToken(
                    token_hash=_digest(token["access_token"]),
                    op_id=self.provider.row.id,
                    client_id=request.client.get_client_id(),
                    session_id=request.user.session_id,
                    scope=token.get("scope", ""),
                    expires_at=now() + timedelta(seconds=TOKEN_LIFETIME),
                )
            )

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request)  # the HTTP layer builds it
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class _CodeGrant(BaseCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # noqa: RUF012 - Authlib's class attribute

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        user: User = request.user
        data = request.payload.data
        with db.session_scope(self.server.provider.instance.engine) as session:
            session.add(
                AuthorizationCode(
                    code_hash=_digest(code),
                    op_id=self.server.provider.row.id,
                    client_id=request.client.get_client_id(),
                    redirect_uri=request.payload.redirect_uri or "",
                    scope=request.payload.scope or "",
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    acr=user.acr,
                    auth_time=user.auth_time,
                    session_id=user.session_id,
                    expires_at=now() + CODE_LIFETIME,
                )
            )

    def query_authorization_code(self, code: str, client: Client) -> Code_ | None:
        engine = self.server.provider.instance.engine
        digest = _digest(code)
        with db.session_scope(engine) as session:
            row = session.get(AuthorizationCode, digest)
            if row is None or row.client_id != client.get_client_id() or row.op_id != self.server.provider.row.id:
                return None
            # Single use, atomically: of two concurrent redemptions one updates the row, the other none.
            consumed = session.exec(
                update(AuthorizationCode)
                .where(col(AuthorizationCode.code_hash) == digest, col(AuthorizationCode.used).is_(False))
                .values(used=True)
            )
            if consumed.rowcount != 1:
                # A replayed code: refuse it and revoke what it gave (RFC 6749 clause 4.1.2).
                session.exec(
                    delete(AccessToken).where(
                        col(AccessToken.session_id) == row.session_id, col(AccessToken.client_id) == row.client_id
                    )
                )  # one statement: concurrent replays may both get here
                log.warning("authorisation code replayed by %s at %s", client.get_client_id(), row.op_id)
                return None
            if utc(row.expires_at) < now():
                return None
        return Code_(row)

    def delete_authorization_code(self, authorization_code: Code_) -> None:
        return None  # consumed when it was looked up

    def authenticate_user(self, authorization_code: Code_) -> User | None:
        engine = self.server.provider.instance.engine
        with db.session_scope(engine, read_only=True) as session:
            login = session.get(LoginSession, authorization_code.row.session_id)
            citizen = session.get(Citizen, login.account) if login is not None else None
        if login is None or login.ended_at is not None or citizen is None:
            return None
        row = authorization_code.row
        return User(citizen.citizen_id, citizen.name, row.acr, row.auth_time, row.session_id)


class _OpenIDCode(BaseOpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: Provider):
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        with db.session_scope(self.provider.instance.engine, read_only=True) as session:
            found = session.exec(
                select(AuthorizationCode).where(
                    AuthorizationCode.nonce == nonce, AuthorizationCode.client_id == request.payload.client_id
                )
            ).first()
        return found is not None

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return UserInfo(claims_for(self.provider.row, user, scope))

    def encode_id_token(self, token: Mapping[str, Any], request: OAuth2Request) -> str:
        client: Client = request.client
        user: User = request.user
        row: AuthorizationCode = request.authorization_code.row
        iat = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.provider.row.id,
            "aud": client.client_id,
            "iat": iat,
            "exp": iat + ID_TOKEN_LIFETIME,
            "auth_time": row.auth_time,
            "acr": row.acr,
            "amr": Code_(row).get_amr(),
            **claims_for(self.provider.row, user, token.get("scope", ""), client),
        }
        if row.nonce:
            claims["nonce"] = row.nonce
        alg = client.id_token_alg
        if token.get("access_token"):
            claims["at_hash"] = oidc.at_hash(token["access_token"], alg)
        signer = anchor.op_signer(self.provider.instance, self.provider.row, alg)
        return oidc.sign_id_token(claims, signer)


def _salt(row: FederationEntity) -> bytes:
    keys = json.loads(row.signing_keys or "{}")
    return bytes.fromhex(keys.get("pairwise_salt", "")) or row.id.encode()


def claims_for(row: FederationEntity, user: User, scope: str, client: Client | None = None) -> dict[str, Any]:
    """The claims the OP releases for ``scope``: pairwise ``sub``, ``huren_region``, ``name`` with ``profile``, the
    citizen ID number only with ``huren_citizen_id``."""
    scopes = set(scope.split())
    sector = client.sector if client is not None else ""
    claims: dict[str, Any] = {
        "sub": oidc.pairwise_subject(sector, user.citizen_id, _salt(row)),
        oidc.CLAIM_REGION: row.region,
    }
    if "profile" in scopes:
        claims["name"] = user.name
    if oidc.SCOPE_CITIZEN_ID in scopes:
        claims[oidc.CLAIM_CITIZEN_ID] = user.citizen_id
    return claims


# --- the provider registry ------------------------------------------------------------------------------------------

_providers: dict[tuple[int, str], Provider] = {}


def provider(instance: Instance, code: str) -> Provider:
    """The hosted OP of region ``code`` (cached per instance)."""
    op_id = anchor.hosted_op_id(instance, code)
    key = (id(instance), op_id)
    found = _providers.get(key)
    if found is not None and found.instance is instance:
        return found
    row = anchor.get(instance, op_id)
    if row.kind != anchor.KIND_OP or row.key_id is None:
        raise NotFoundError(f"no identity provider is hosted for region {code}")
    created = Provider(instance, row)
    _providers[key] = created
    return created


def active(instance: Instance, prov: Provider) -> FederationEntity:
    """The OP's current record; a withdrawn OP logs nobody in."""
    row = anchor.get(instance, prov.row.id)
    if row.status != "active":
        raise NotFoundError(f"the identity provider {row.id} is withdrawn from the federation")
    return row


def userinfo(instance: Instance, prov: Provider, access_token: str) -> dict[str, Any]:
    with db.session_scope(instance.engine, read_only=True) as session:
        token = session.get(AccessToken, _digest(access_token))
        login = session.get(LoginSession, token.session_id) if token is not None else None
        citizen = session.get(Citizen, login.account) if login is not None else None
    if token is None or token.op_id != prov.row.id or utc(token.expires_at) < now() or login is None or citizen is None:
        raise IdTokenError("the access token is not valid here", code=Code.UNAUTHENTICATED)
    client = prov.server.query_client(token.client_id)
    user = User(citizen.citizen_id, citizen.name, login.acr, login.auth_time, login.id)
    return claims_for(prov.row, user, token.scope, client)


def record_client(instance: Instance, session_id: str, client_id: str) -> None:
    """Remember that ``client_id`` logged in through the SSO session (shown at logout)."""
    with db.session_scope(instance.engine) as session:
        row = session.get(LoginSession, session_id)
        if row is None:
            return
        clients = json.loads(row.clients)
        if client_id not in clients:
            row.clients = json.dumps([*clients, client_id])
            session.add(row)


def logout_target(prov: Provider, id_token_hint: str | None, post_logout_redirect_uri: str | None) -> str | None:
    """Where to send the browser after logout: a ``post_logout_redirect_uri`` the RP registered (exact match), and
    only with an ``id_token_hint`` this OP issued to that RP; None otherwise (the OP's own page)."""
    if not id_token_hint or not post_logout_redirect_uri:
        return None
    try:
        header_claims = _hint_claims(prov, id_token_hint)
    except TrustError:
        return None
    client = prov.server.query_client(str(header_claims.get("aud")))
    if client is None or post_logout_redirect_uri not in client.post_logout_redirect_uris:
        return None
    return post_logout_redirect_uri


def _hint_claims(prov: Provider, token: str) -> dict[str, Any]:
    """The claims of an ID token this OP signed (expiry not checked: a hint may be old; OpenID RP-Initiated Logout
    clause 2)."""
    metadata = anchor.hosted_metadata(prov.instance, prov.row)[anchor.KIND_OP]
    from trust.formats import federation, jose

    header, _payload, _input, _sig = jose.parse_compact(token)
    key = federation.key_for(metadata["jwks"], str(header.get("kid")), str(header.get("alg")))
    verified = jose.verify_compact(token, lambda _h: key, algorithms=oidc.ID_TOKEN_ALGORITHMS)
    claims = json.loads(verified.payload)
    if claims.get("iss") != prov.row.id:
        raise IdTokenError("id_token_hint is not from this OP")
    return dict(claims)


def discovery(instance: Instance, prov: Provider) -> dict[str, Any]:
    """The discovery document (OpenID Connect Discovery 1.0 clause 3): the OP metadata of its configuration."""
    metadata = dict(anchor.hosted_metadata(instance, prov.row)[anchor.KIND_OP])
    metadata.pop("jwks", None)
    return metadata


def jwks(instance: Instance, prov: Provider, *, sm2: bool = False) -> dict[str, Any]:
    """The OP's ID token keys: RS256 and ES256 at ``jwks_uri``; the SM2 key apart (``huren_sm2_jwks_uri``), since a
    standard library that meets a JWK with ``crv`` ``SM2`` in a set may refuse the whole set (as for licence keys,
    docs/CRYPTO.md). The federation metadata carries all three, for Huren's relying parties."""
    keys = anchor.hosted_metadata(instance, prov.row)[anchor.KIND_OP]["jwks"]["keys"]
    return {"keys": [k for k in keys if (k.get("crv") == "SM2") == sm2]}


def host_of(url: str) -> str:
    return urlsplit(url).netloc
