"""ID tokens, PKCE and pairwise subjects (:mod:`trust.formats.oidc`): an ID token of each algorithm validates against
the OP's keys from its trust chain, and each refusal the issue names has its test — another audience, a wrong
nonce, ``alg`` none or HS256, a token of another OP (mix-up, substitution across regions), a region beyond the
OP's policy, an ``acr`` below the service's level. PyJWT checks our RS256 and ES256 ID tokens at its defaults."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.federation import ANCHOR, GD_OP, RP, ZJ_OP, World
from trust.crypto import base64url
from trust.crypto.errors import Code, IdTokenError, TrustError
from trust.formats import federation, jose, oidc

NONCE = "n-0S6_WzA2Mj"
Chain = federation.TrustChain


def _verifying_key(key: object) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def zj_chain(world: World) -> federation.TrustChain:
    return federation.validate_chain(world.chain(world.zj), world.anchor.jwks(), now=world.now, anchor=ANCHOR)


def validate(world: World, chain: federation.TrustChain, token: str, **overrides: Any) -> oidc.IdToken:
    op = chain.entity_metadata("openid_provider")
    options: dict[str, Any] = {
        "issuer": chain.subject,
        "client_id": RP,
        "jwks": op["jwks"],
        "now": world.now + 10,
        "nonce": NONCE,
        "min_acr": oidc.LOA_1,
        "allowed_regions": op[oidc.CLAIM_REGIONS_SUPPORTED],
    }
    options.update(overrides)
    return oidc.validate_id_token(token, **options)


def refused(code: Code, call: Any, *args: Any, **kwargs: Any) -> TrustError:
    with pytest.raises(TrustError) as caught:
        call(*args, **kwargs)
    assert caught.value.code is code, caught.value.diagnostics()
    return caught.value


@pytest.mark.parametrize("alg", ["RS256", "ES256", "SM2"])
def test_an_id_token_of_each_algorithm_validates(world: World, zj_chain: federation.TrustChain, alg: str) -> None:
    token = validate(world, zj_chain, world.id_token(world.zj, alg))
    assert (token.issuer, token.subject, token.region, token.level) == (ZJ_OP, "pairwise-subject", "330000", 1)


def test_pyjwt_validates_our_id_tokens(world: World) -> None:
    for alg in ("RS256", "ES256"):
        token = world.id_token(world.zj, alg)
        pem = world.zj.signing_keys[alg].public_key.pem().encode()
        claims = pyjwt.decode(
            token,
            _verifying_key(serialization.load_pem_public_key(pem)),
            algorithms=[alg],
            audience=RP,
            issuer=ZJ_OP,
        )
        assert claims["nonce"] == NONCE


def test_an_id_token_for_another_audience_is_refused(world: World, zj_chain: federation.TrustChain) -> None:
    error = refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, world.id_token(world.zj, aud="https://other"))
    assert error.evidence["expected"] == RP
    several = world.id_token(world.zj, aud=[RP, "https://other"])
    refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, several)
    assert validate(world, zj_chain, world.id_token(world.zj, aud=[RP, "https://other"], azp=RP))


def test_a_wrong_or_missing_nonce_is_refused(world: World, zj_chain: federation.TrustChain) -> None:
    refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, world.id_token(world.zj, nonce="other"))
    refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, world.id_token(world.zj, nonce=None))


def test_expired_and_future_tokens_are_refused(world: World, zj_chain: federation.TrustChain) -> None:
    refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, world.id_token(world.zj), now=world.now + 3600)
    refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, world.id_token(world.zj, iat=world.now + 3600))


def _unsigned(header: dict[str, Any], claims: bytes, signature: bytes) -> str:
    return f"{base64url.encode(json.dumps(header).encode())}.{base64url.encode(claims)}.{base64url.encode(signature)}"


def test_alg_none_and_hs256_are_refused(world: World, zj_chain: federation.TrustChain) -> None:
    _h, payload, _i, _s = jose.parse_compact(world.id_token(world.zj))
    kid = zj_chain.entity_metadata("openid_provider")["jwks"]["keys"][0]["kid"]
    refused(Code.UNSUPPORTED_ALGORITHM, validate, world, zj_chain, _unsigned({"alg": "none", "kid": kid}, payload, b""))
    # The classic confusion: HMAC keyed with the OP's public key, which anyone has.
    secret = world.zj.signing_keys["RS256"].public_key.pem().encode()
    head = base64url.encode(json.dumps({"alg": "HS256", "kid": kid}).encode())
    signing_input = f"{head}.{base64url.encode(payload)}".encode()
    forged = f"{signing_input.decode()}.{base64url.encode(hmac.new(secret, signing_input, hashlib.sha256).digest())}"
    refused(Code.UNSUPPORTED_ALGORITHM, validate, world, zj_chain, forged)


def test_a_token_of_another_op_is_refused_mix_up_and_substitution(world: World, zj_chain: Chain) -> None:
    # Guangdong's token presented in a login the RP started at Zhejiang: its kid is no key of Zhejiang's chain.
    gd_token = world.id_token(world.gd, "ES256")
    error = refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, gd_token)
    assert "not among the keys" in error.message
    # Zhejiang's key, but an iss naming Guangdong (an OP pretending to be another): the issuer check refuses it.
    refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, world.id_token(world.zj, iss=GD_OP))


def test_an_op_asserting_a_citizen_of_another_region_is_refused(world: World, zj_chain: federation.TrustChain) -> None:
    error = refused(
        Code.METADATA_POLICY_VIOLATION, validate, world, zj_chain, world.id_token(world.zj, huren_region="440000")
    )
    assert error.evidence == {"expected": ["330000"], "found": "440000"}
    refused(
        Code.METADATA_POLICY_VIOLATION,
        validate,
        world,
        zj_chain,
        world.id_token(world.zj, huren_citizen_id="44010619900307001X"),
    )
    refused(Code.ID_TOKEN_INVALID, validate, world, zj_chain, world.id_token(world.zj, huren_region=None))


def test_an_op_whose_chain_allows_no_region_cannot_assert_any() -> None:
    greedy = World(zj_claims_regions=["440000"])
    chain = federation.validate_chain(greedy.chain(greedy.zj), greedy.anchor.jwks(), now=greedy.now)
    token = greedy.id_token(greedy.zj, huren_region="440000")
    refused(Code.METADATA_POLICY_VIOLATION, validate, greedy, chain, token)


def test_an_acr_below_the_required_level_is_refused(world: World, zj_chain: federation.TrustChain) -> None:
    token = world.id_token(world.zj)
    error = refused(Code.ACR_INSUFFICIENT, validate, world, zj_chain, token, min_acr=oidc.LOA_2)
    assert error.evidence == {"expected": oidc.LOA_2, "found": oidc.LOA_1}
    assert validate(world, zj_chain, world.id_token(world.zj, acr=oidc.LOA_3), min_acr=oidc.LOA_2).level == 3
    refused(Code.ACR_INSUFFICIENT, validate, world, zj_chain, world.id_token(world.zj, acr="urn:other"))


def test_an_algorithm_the_rp_does_not_allow_is_refused(world: World, zj_chain: federation.TrustChain) -> None:
    token = world.id_token(world.zj, "SM2")
    refused(Code.UNSUPPORTED_ALGORITHM, validate, world, zj_chain, token, algorithms=["RS256"])


def test_pkce_s256_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oidc.pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert oidc.pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
    assert not oidc.pkce_matches(verifier, verifier, "plain")
    assert not oidc.pkce_matches(None, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
    assert not oidc.pkce_matches("short", "x", "S256")
    with pytest.raises(IdTokenError):
        oidc.pkce_challenge("has spaces " * 5)


def test_pairwise_subjects_differ_per_sector_and_are_stable() -> None:
    salt = b"s" * 16
    a = oidc.pairwise_subject("service.gd.example.gov.cn", "330106199001010019", salt)
    assert a == oidc.pairwise_subject("service.gd.example.gov.cn", "330106199001010019", salt)
    assert a != oidc.pairwise_subject("service.zj.example.gov.cn", "330106199001010019", salt)
    assert "330106" not in a
    assert oidc.sector_of(["https://a.example/cb", "https://a.example/cb2"]) == "a.example"
    with pytest.raises(IdTokenError):
        oidc.sector_of(["https://a.example/cb", "https://b.example/cb"])


def test_at_hash_matches_the_oidc_core_example() -> None:
    # OpenID Connect Core 1.0 appendix A.4 (RS256): access token jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y.
    assert oidc.at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "RS256") == "77QmUPtjPfzWtF2AnpK9RQ"
