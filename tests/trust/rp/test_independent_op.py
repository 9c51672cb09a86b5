"""An independent OpenID Provider — pyop (IdentityPython), not Huren's OP code — enrolled in the federation as an
external member of 浙江, is accepted by Huren's relying-party library (issue 16, "What must be shown").

The OP's federation key is certified by the 浙江 SM2 CA (profile ``identity-provider``); its entity configuration
(signed by that key) carries pyop's own provider configuration and JWKS plus ``huren_regions_supported``; the anchor
registers it as an external member. ``trust.rp`` then resolves its chain from the offline bundle, sends the browser's
authorisation request (PKCE S256, nonce, state) to pyop, redeems the code at pyop's token endpoint (in process) and
validates pyop's RS256 ID token against the keys of the chain, the anchor's policy (region) and the trust list."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from Cryptodome.PublicKey import RSA
from jwkest.jwk import RSAKey
from pyop.authz_state import AuthorizationState
from pyop.provider import Provider
from pyop.subject_identifier import HashBasedSubjectIdentifierFactory
from pyop.userinfo import Userinfo

from tests.support.world import World, copy_world
from trust.crypto.errors import Code, TrustError
from trust.crypto.keys import generate_private_key
from trust.formats import csr, federation, oidc
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.rp import RelyingParty
from trust.service import ca as ca_service
from trust.service import trust as trust_service
from trust.service.identity import anchor

PYOP = "https://pyop.zj.example.gov.cn"


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> tuple[World, Provider, str]:
    world = copy_world(world_template, tmp_path_factory.mktemp("pyop") / "home")
    instance = world.instance
    anchor.init(instance)
    rp_id = anchor.register(instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务", slug="gd").id
    # pyop, configured as its own documentation shows.
    signing_key = RSAKey(key=RSA.generate(2048), alg="RS256", kid="pyop-rs256")
    configuration = {
        "issuer": PYOP,
        "authorization_endpoint": f"{PYOP}/authorization",
        "token_endpoint": f"{PYOP}/token",
        "jwks_uri": f"{PYOP}/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile"],
        "code_challenge_methods_supported": ["S256"],
    }
    clients = {rp_id: {"redirect_uris": [f"{rp_id}/callback"], "response_types": ["code"],
                       "token_endpoint_auth_method": "none"}}  # fmt: skip
    provider = Provider(
        signing_key,
        configuration,
        AuthorizationState(HashBasedSubjectIdentifierFactory("pyop salt")),
        clients,
        Userinfo({"zhangsan": {"name": "张三"}}),
    )
    # Its federation key, certified by the 浙江 CA from a CSR (the key stays with the OP).
    federation_key = generate_private_key("ec-p256")
    issued = ca_service.issue(
        instance,
        ca_id="region-330000-sm2",
        profile="identity-provider",
        subject=DN(province="浙江省", organization="浙江省某厅身份认证（pyop）", common_name="pyop 联邦实体"),
        csr_data=csr.build(federation_key, DN(common_name="pyop")),
    )
    metadata = {
        "openid_provider": {
            **provider.configuration_information.to_dict(),
            "jwks": {"keys": [{**k, "use": "sig"} for k in provider.jwks["keys"]]},
            oidc.CLAIM_REGIONS_SUPPORTED: ["330000"],
        }
    }
    now = int(time.time())
    entity_configuration = federation.sign_statement(
        {
            "iss": PYOP,
            "sub": PYOP,
            "iat": now,
            "exp": now + 86400,
            "jwks": {"keys": [federation.jwk_entry(federation_key.public_key)]},
            "authority_hints": [anchor.anchor_id(instance)],
            "metadata": metadata,
        },
        federation_key.signer(),
    )
    anchor.register(
        instance,
        kind=anchor.KIND_OP,
        region_code="330000",
        name="浙江省某厅身份认证（pyop）",
        entity_id=PYOP,
        certificate=cx.certificate_pem(issued.certificate),
        configuration=entity_configuration,
    )
    return world, provider, rp_id


def _pyop_transport(provider: Provider, claims: dict[str, Any]) -> httpx.MockTransport:
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{PYOP}/token"
        response = provider.handle_token_request(request.content.decode(), dict(request.headers), claims)
        return httpx.Response(200, json=json.loads(response.to_json()))

    return httpx.MockTransport(token_endpoint)


def _login(world: World, provider: Provider, rp_id: str, claims: dict[str, Any], tmp: Any) -> Any:
    bundle = trust_service.export_bundle(world.instance, tmp / "bundle.json").read_bytes()
    pins = list(trust_service.root_fingerprints(world.instance).values())
    rp = RelyingParty.from_bundle(
        bundle, pins, client_id=rp_id, redirect_uri=f"{rp_id}/callback",
        http=httpx.Client(transport=_pyop_transport(provider, claims)),
    )  # fmt: skip
    url, login = rp.begin(PYOP, scope="openid profile")
    assert url.startswith(f"{PYOP}/authorization?")
    # The browser at pyop: pyop parses the request (PKCE, nonce) and authorises the user it authenticated.
    request = provider.parse_authentication_request(urlsplit(url).query)
    response = provider.authorize(request, "zhangsan")
    callback = {k: v[0] for k, v in parse_qs(urlsplit(response.request(f"{rp_id}/callback")).query).items()}
    return rp.complete(login, callback)


def test_huren_rp_accepts_an_independent_op_of_the_federation(
    enrolled: tuple[World, Provider, str], tmp_path: Any
) -> None:
    world, provider, rp_id = enrolled
    result = _login(world, provider, rp_id, {oidc.CLAIM_REGION: "330000", "acr": oidc.LOA_1}, tmp_path)
    assert result.id_token.issuer == PYOP and result.id_token.header["alg"] == "RS256"
    assert result.id_token.region == "330000" and result.chain.subject == PYOP
    assert federation.entity_certificate(result.chain) is not None  # certified by the region's CA: standing checked


def test_the_independent_op_is_bounded_by_the_anchors_policy(
    enrolled: tuple[World, Provider, str], tmp_path: Any
) -> None:
    world, provider, rp_id = enrolled
    with pytest.raises(TrustError) as caught:
        _login(world, provider, rp_id, {oidc.CLAIM_REGION: "440000", "acr": oidc.LOA_1}, tmp_path)
    assert caught.value.code is Code.METADATA_POLICY_VIOLATION
