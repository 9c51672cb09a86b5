"""The relying-party library (:mod:`trust.rp`) against a federation built from the format layer, offline: the
authorisation request it builds (PKCE S256, state, nonce, acr_values), and each refusal of a login's completion —
CSRF on the callback, a mix-up between two OPs, another audience, a region beyond the OP's policy, a level below the
service's — with the network blocked (the OP's token endpoint is an in-process transport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.federation import GD_OP, RP, ZJ_OP, World
from tests.support.offline import no_network  # noqa: F401 - fixture
from trust.crypto.errors import Code, TrustError
from trust.formats import oidc
from trust.rp import LoginState, RelyingParty


def relying_party(
    world: World, token_endpoint: Callable[[httpx.Request], httpx.Response], **options: Any
) -> RelyingParty:
    transport = httpx.MockTransport(token_endpoint)
    return RelyingParty.from_section(
        world.section(),
        client_id=RP,
        redirect_uri=f"{RP}/callback",
        http=httpx.Client(transport=transport),
        clock=lambda: world.now + 5,
        **options,
    )


def answering(world: World, op_alg: str = "RS256", **claims: Any) -> tuple[list[httpx.Request], Callable[..., Any]]:
    seen: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        form = parse_qs(request.content.decode())
        assert form["code_verifier"] and form["grant_type"] == ["authorization_code"]
        op = world.zj if request.url.host == "idp.zj.example.gov.cn" else world.gd
        token = world.id_token(op, op_alg if op is world.zj else "ES256", **{"nonce": answering.nonce, **claims})  # type: ignore[attr-defined]
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer", "id_token": token})

    return seen, endpoint


answering.nonce = ""  # type: ignore[attr-defined]


def start(rp: RelyingParty, op: str = ZJ_OP, **kwargs: Any) -> tuple[dict[str, list[str]], LoginState]:
    url, login = rp.begin(op, **kwargs)
    answering.nonce = login.nonce  # type: ignore[attr-defined]
    return parse_qs(urlsplit(url).query), login


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def test_a_login_completes_offline(world: World, no_network: list[str]) -> None:  # noqa: F811 - fixture
    seen, endpoint = answering(world)
    rp = relying_party(world, endpoint)
    query, login = start(rp)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] == [
        oidc.pkce_challenge(login.code_verifier)
    ]
    assert query["acr_values"] == [oidc.LOA_1] and query["state"] == [login.state] and query["nonce"] == [login.nonce]
    result = rp.complete(login, {"code": "c", "state": login.state, "iss": ZJ_OP})
    assert result.id_token.region == "330000"
    assert str(seen[0].url) == "https://idp.zj.example.gov.cn/token"  # from the validated chain, not the callback
    assert LoginState.from_json(json.loads(json.dumps(login.to_json()))) == login


def refused(code: Code, call: Any, *args: Any) -> TrustError:
    with pytest.raises(TrustError) as caught:
        call(*args)
    assert caught.value.code is code, caught.value.diagnostics()
    return caught.value


def test_csrf_and_mix_up_are_refused(world: World) -> None:
    seen, endpoint = answering(world)
    rp = relying_party(world, endpoint)
    _query, login = start(rp)
    refused(Code.OIDC_INVALID_REQUEST, rp.complete, login, {"code": "c", "state": "forged", "iss": ZJ_OP})
    # Mix-up: the browser comes back with Guangdong's code and issuer for a login sent to Zhejiang.
    error = refused(Code.ID_TOKEN_INVALID, rp.complete, login, {"code": "c", "state": login.state, "iss": GD_OP})
    assert error.evidence == {"expected": ZJ_OP, "found": GD_OP}
    # An OP that says it sends iss (RFC 9207) and a callback without one: refused too.
    refused(Code.ID_TOKEN_INVALID, rp.complete, login, {"code": "c", "state": login.state})
    assert seen == []  # no code was sent anywhere
    refused(Code.LOGIN_FAILED, rp.complete, login, {"error": "access_denied", "state": login.state})


def test_an_id_token_for_another_audience_is_refused(world: World) -> None:
    _seen, endpoint = answering(world, aud="https://service.zj.example.gov.cn")
    rp = relying_party(world, endpoint)
    _query, login = start(rp)
    refused(Code.ID_TOKEN_INVALID, rp.complete, login, {"code": "c", "state": login.state, "iss": ZJ_OP})


def test_an_op_asserting_a_citizen_beyond_its_policy_is_refused(world: World) -> None:
    _seen, endpoint = answering(world, huren_region="440000")
    rp = relying_party(world, endpoint)
    _query, login = start(rp)
    refused(Code.METADATA_POLICY_VIOLATION, rp.complete, login, {"code": "c", "state": login.state, "iss": ZJ_OP})


def test_a_service_demanding_a_higher_level_refuses_a_lower_one(world: World) -> None:
    _seen, endpoint = answering(world)
    rp = relying_party(world, endpoint, min_acr=oidc.LOA_2)
    query, login = start(rp)
    assert query["acr_values"] == [oidc.LOA_2]
    refused(Code.ACR_INSUFFICIENT, rp.complete, login, {"code": "c", "state": login.state, "iss": ZJ_OP})


def test_chains_are_cached_per_op_and_refused_when_expired(world: World) -> None:
    _seen, endpoint = answering(world)
    rp = relying_party(world, endpoint)
    first = rp.op_chain(ZJ_OP)
    assert rp.op_chain(ZJ_OP) is first
    rp.clock = lambda: world.now + 2 * 86400
    refused(Code.TRUST_CHAIN_EXPIRED, rp.op_chain, ZJ_OP)
    refused(Code.TRUST_CHAIN_NOT_FOUND, rp.op_chain, "https://unknown.example")
