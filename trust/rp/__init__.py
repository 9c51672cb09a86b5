"""The relying-party library (issue 16 item 3): what any region's or department's service uses to accept a citizen
logged in at their home region's OpenID Provider.

::

    rp = RelyingParty.from_bundle(bundle_bytes, pins, client_id=..., redirect_uri=..., min_acr=oidc.LOA_1)
    url, login = rp.begin(op_id)                  # keep `login` in the service's session; send the browser to url
    result = rp.complete(login, callback_params)  # on the redirect back: checks, token request, ID token validation
    result.id_token.subject, result.id_token.region, result.id_token.acr

Steps of :meth:`RelyingParty.complete`, in order (each refusal a :class:`~trust.crypto.errors.TrustError` with its
stable code):

1. the callback's ``state`` is the login's (CSRF on the redirect back), an ``error`` is reported as such;
2. the callback's ``iss`` (RFC 9207) names the OP the login was started at — the defence against mix-up between two
   OPs (required when the OP's metadata says it sends ``iss``, as Huren's do; checked whenever present); the code is
   redeemed only at that OP's token endpoint, taken from its validated trust chain;
3. the OP's trust chain to the national anchor validates (:mod:`trust.formats.federation`: signatures by keys the
   chain certifies, expiry, metadata policy), from the offline bundle or fetched from the anchor's ``resolve``
   endpoint, and is cached per OP until it expires;
4. the OP's federation key is a service of the trust list usable at the ID token's ``iat`` — a region withdrawn
   from the trust list ends its OP's acceptance from the withdrawal on, with the licence issuers' before/after rule;
5. the ID token (:func:`trust.formats.oidc.validate_id_token`): signature by a key of the OP's chain (``alg`` never
   ``none`` or HMAC), ``iss``, ``aud``, ``exp``, ``nonce``, ``acr`` at least the service's level, ``huren_region``
   within the regions the anchor's policy lets the OP assert.

**Licences at login** (issue 16 item 4): after a login, :meth:`RelyingParty.presentation_request` makes the KB-JWT
``nonce`` and ``aud`` a holder must sign for (fresh, bound to that login's subject and OP, kept in the service's
session), and :meth:`RelyingParty.verify_presentation` checks an SD-JWT licence presentation with the offline verifier
(issuer, trust list, status, disclosures) and its key binding against exactly that nonce and audience — so "show your
business licence" works across regions without uploads, and a presentation made for another service or another login
is refused.

The library talks HTTP only to the OP's token endpoint and, when no bundle is given, to the anchor (httpx); it imports
the crypto and format layers and the offline verifier, nothing of the service, so any service can use it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from trust.crypto.errors import Code, FederationError, IdTokenError, TrustError
from trust.crypto.keys import PublicKey
from trust.formats import bundle as bundle_format
from trust.formats import federation, oidc
from trust.formats.trustlist import TrustList

CHAIN_CACHE_SECONDS: Final = 3600
HTTP_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class LoginState:
    """What the service keeps in its own session between :meth:`RelyingParty.begin` and
    :meth:`RelyingParty.complete` (never sent to the browser except ``state``)."""

    op_id: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    min_acr: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoginState:
        return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class PresentationRequest:
    """The key binding a licence presentation must carry: ``nonce`` and ``aud`` of its KB-JWT, for the login of
    ``subject`` at ``op_id`` (kept in the service's session beside the login)."""

    nonce: str
    audience: str
    subject: str
    op_id: str
    issued_at: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PresentationRequest:
        return cls(
            nonce=str(data["nonce"]),
            audience=str(data["audience"]),
            subject=str(data["subject"]),
            op_id=str(data["op_id"]),
            issued_at=int(data["issued_at"]),
        )


PRESENTATION_LIFETIME: Final = 600


@dataclass(frozen=True)
class Login:
    """A completed login: the validated ID token, the token response and the OP's validated chain."""

    id_token: oidc.IdToken
    tokens: Mapping[str, Any]
    chain: federation.TrustChain


@dataclass
class _Cached:
    chain: federation.TrustChain
    until: float
    keys: dict[tuple[str, str], PublicKey] = field(default_factory=dict)  # ID token keys, parsed once


@dataclass
class RelyingParty:
    """A relying service of the federation (see the module docstring)."""

    client_id: str
    redirect_uri: str
    anchor: str
    anchor_jwks: Mapping[str, Any]
    statements: federation.StatementSet | None = None
    trust_list: TrustList | None = None
    revoked_trust_marks: tuple[str, ...] = ()
    min_acr: str = oidc.LOA_1
    scope: str = "openid profile"
    algorithms: tuple[str, ...] = oidc.ID_TOKEN_ALGORITHMS
    http: httpx.Client | None = None
    clock: Callable[[], float] = time.time
    bundle: bytes | None = None  # the signed offline bundle, for verifying licence presentations
    pins: tuple[str, ...] = ()
    _chains: dict[str, _Cached] = field(default_factory=dict, repr=False)

    @classmethod
    def from_bundle(cls, data: bytes, pins: list[str], **options: Any) -> RelyingParty:
        """A relying party whose trust comes from the offline bundle (verified against the pinned national roots):
        the anchor's keys, every statement of the federation and the trust list."""
        verified = bundle_format.verify(data, pins)
        if verified.bundle.federation is None:
            raise FederationError("the bundle carries no identity federation", code=Code.TRUST_CHAIN_NOT_FOUND)
        section = federation.FederationSection.from_json(verified.bundle.federation)
        return cls.from_section(section, trust_list=verified.trust_list, bundle=data, pins=tuple(pins), **options)

    @classmethod
    def from_section(
        cls, section: federation.FederationSection, *, trust_list: TrustList | None = None, **options: Any
    ) -> RelyingParty:
        return cls(
            anchor=section.anchor,
            anchor_jwks=section.anchor_jwks,
            statements=section.statement_set(),
            trust_list=trust_list,
            revoked_trust_marks=section.revoked_trust_marks,
            **options,
        )

    # --- trust chains -------------------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self.http is None:
            self.http = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        return self.http

    def op_chain(self, op_id: str) -> federation.TrustChain:
        """The OP's validated trust chain: from the bundle's statements, or the anchor's ``resolve`` endpoint (whose
        chain is validated here, not believed); cached until it expires or :data:`CHAIN_CACHE_SECONDS` pass."""
        now = self.clock()
        cached = self._chains.get(op_id)
        if cached is not None and now < cached.until:
            return cached.chain
        moment = int(now)
        if self.statements is not None:
            statements = self.statements.chain(op_id, self.anchor)
            chain = federation.validate_chain(statements, self.anchor_jwks, now=moment, anchor=self.anchor)
        else:
            response = self._http().get(f"{self.anchor}/federation/resolve", params={"sub": op_id})
            if response.status_code != 200:
                raise FederationError(
                    f"the anchor does not resolve {op_id} (HTTP {response.status_code})",
                    code=Code.TRUST_CHAIN_NOT_FOUND,
                )
            chain = federation.validate_resolve_response(
                response.text, self.anchor_jwks, subject=op_id, anchor=self.anchor, now=moment
            )
        chain.entity_metadata("openid_provider")  # an OP, or refused
        self._chains[op_id] = _Cached(chain, min(chain.expires_at, now + CHAIN_CACHE_SECONDS))
        return chain

    def forget(self, op_id: str | None = None) -> None:
        """Drop cached chains (one OP's, or all): the next login resolves again."""
        if op_id is None:
            self._chains.clear()
        else:
            self._chains.pop(op_id, None)

    def _check_standing(self, chain: federation.TrustChain, moment: int) -> None:
        if self.trust_list is None:
            return
        certificate = federation.entity_certificate(chain)
        if certificate is None:
            raise FederationError(
                f"{chain.subject}'s federation key is not certified (no x5c): its region's standing cannot be checked",
                code=Code.ENTITY_WITHDRAWN,
            )
        standing = self.trust_list.standing(
            certificate, datetime.fromtimestamp(moment, UTC), service_type="IDENTITY_PROVIDER"
        )
        if not standing.usable:
            raise FederationError(
                f"{chain.subject} is not accepted: {standing.reason}",
                code=Code.ENTITY_WITHDRAWN,
                evidence={"reason": standing.reason},
            )

    # --- the login ----------------------------------------------------------------------------------------------

    def begin(self, op_id: str, *, min_acr: str | None = None, scope: str | None = None) -> tuple[str, LoginState]:
        """The authorisation URL at ``op_id`` and the state to keep: ``state``, ``nonce`` and a PKCE S256 verifier,
        fresh per login; ``acr_values`` asks for the service's level."""
        chain = self.op_chain(op_id)
        metadata = chain.entity_metadata("openid_provider")
        level = min_acr or self.min_acr
        login = LoginState(
            op_id=op_id,
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(64),
            redirect_uri=self.redirect_uri,
            min_acr=level,
        )
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope or self.scope,
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": oidc.pkce_challenge(login.code_verifier),
            "code_challenge_method": "S256",
            "acr_values": level,
        }
        return f"{metadata['authorization_endpoint']}?{urlencode(params)}", login

    def complete(self, login: LoginState, callback: Mapping[str, str]) -> Login:
        """Finish a login from the parameters of the redirect back (see the module docstring for each step)."""
        if not secrets.compare_digest(str(callback.get("state", "")), login.state):
            raise IdTokenError("the callback's state is not this login's (CSRF)", code=Code.OIDC_INVALID_REQUEST)
        if "error" in callback:
            raise IdTokenError(
                f"the OP refused the login: {callback.get('error')} {callback.get('error_description', '')}".strip(),
                code=Code.LOGIN_FAILED,
            )
        chain = self.op_chain(login.op_id)
        metadata = chain.entity_metadata("openid_provider")
        # RFC 9207: an OP that says it sends iss must send this OP's; an iss that is sent must match in any case.
        iss_required = metadata.get("authorization_response_iss_parameter_supported") is True
        if (iss_required or "iss" in callback) and callback.get("iss") != login.op_id:
            raise IdTokenError(
                "the callback names another issuer than the OP this login was sent to (mix-up)",
                code=Code.ID_TOKEN_INVALID,
                evidence={"expected": login.op_id, "found": callback.get("iss")},
            )
        code = callback.get("code")
        if not code:
            raise IdTokenError("the callback carries no code", code=Code.OIDC_INVALID_REQUEST)
        response = self._http().post(
            str(metadata["token_endpoint"]),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": login.redirect_uri,
                "client_id": self.client_id,
                "code_verifier": login.code_verifier,
            },
        )
        try:
            tokens = response.json()
        except ValueError:
            raise IdTokenError(f"the token endpoint answered HTTP {response.status_code}, not JSON") from None
        if response.status_code != 200 or not isinstance(tokens, dict) or "id_token" not in tokens:
            raise IdTokenError(
                f"the token request was refused: {tokens.get('error') if isinstance(tokens, dict) else ''}"
            )
        id_token = self.validate(login.op_id, tokens["id_token"], nonce=login.nonce, min_acr=login.min_acr)
        return Login(id_token, tokens, chain)

    def validate(self, op_id: str, token: str, *, nonce: str | None, min_acr: str | None = None) -> oidc.IdToken:
        """Validate an ID token of ``op_id`` against its (cached) trust chain, policy and trust-list standing."""
        chain = self.op_chain(op_id)
        cached = self._chains[op_id]
        metadata = chain.entity_metadata("openid_provider")
        jwks = metadata.get("jwks") or {}

        def key(kid: str, alg: str) -> PublicKey:
            found = cached.keys.get((kid, alg))
            if found is None:
                found = cached.keys[(kid, alg)] = federation.key_for(jwks, kid, alg)
            return found

        regions = metadata.get(oidc.CLAIM_REGIONS_SUPPORTED)
        result = oidc.validate_id_token(
            token,
            issuer=op_id,
            client_id=self.client_id,
            jwks=jwks,
            keys=key,
            now=int(self.clock()),
            nonce=nonce,
            algorithms=self.algorithms,
            min_acr=min_acr or self.min_acr,
            allowed_regions=regions if isinstance(regions, list) else [],
        )
        self._check_standing(chain, result.issued_at)
        return result

    # --- licences at login -----------------------------------------------------------------------------------------

    def presentation_request(self, login: Login) -> PresentationRequest:
        """A fresh KB-JWT nonce, with this service as audience, bound to ``login`` (its subject and OP)."""
        return PresentationRequest(
            nonce=secrets.token_urlsafe(24),
            audience=self.client_id,
            subject=login.id_token.subject,
            op_id=login.id_token.issuer,
            issued_at=int(self.clock()),
        )

    def verify_presentation(self, presentation: str | bytes, request: PresentationRequest) -> Any:
        """The verifier's report on a licence presentation (SD-JWT with key binding), TOTAL_PASSED only when the
        licence verifies offline against the bundle and its KB-JWT carries exactly the request's nonce and audience;
        raises :class:`~trust.crypto.errors.TrustError` (``key-binding-failed``) otherwise."""
        from verifier import api, context
        from verifier.license import KeyBindingRequest

        if self.bundle is None:
            raise TrustError("verifying licences needs the offline bundle (RelyingParty.from_bundle)", code=Code.USAGE)
        if self.clock() - request.issued_at > PRESENTATION_LIFETIME:
            raise TrustError("the presentation request has expired; ask again", code=Code.KEY_BINDING_FAILED)
        data = presentation.encode() if isinstance(presentation, str) else presentation
        ctx = context.build(bundle=self.bundle, pins=list(self.pins))
        report = api.verify(data, ctx, key_binding=KeyBindingRequest(nonce=request.nonce, audience=request.audience))
        if report.kind != "license-sd-jwt" or report.indication.value != "TOTAL_PASSED":
            reason = "; ".join(report.errors) or report.indication.value
            raise TrustError(
                f"the licence presentation is not accepted: {reason}",
                code=Code.KEY_BINDING_FAILED,
                evidence={"indication": report.indication.value, "kind": report.kind},
            )
        return report

    def logout_url(self, op_id: str, id_token: str, post_logout_redirect_uri: str, state: str | None = None) -> str:
        metadata = self.op_chain(op_id).entity_metadata("openid_provider")
        params = {"id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri}
        if state:
            params["state"] = state
        return f"{metadata['end_session_endpoint']}?{urlencode(params)}"


__all__ = ["Login", "LoginState", "PresentationRequest", "RelyingParty", "TrustError"]
