"""OpenID Federation 1.0 entity statements and trust chains (:mod:`trust.formats.federation`), offline: a valid
chain and its resolved metadata; the refusals the issue names (an entity statement signed by a key not in the trust
chain, an expired chain, an OP claiming another region beyond its metadata policy); trust marks granted and revoked;
chains built from the offline bundle's statements; PyJWT reads the statements as ordinary JWTs."""

from __future__ import annotations

import json
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.support.federation import ANCHOR, GD_OP, RP, TRUST_MARK_LOA2, ZJ_OP, Entity, World
from trust.crypto import base64url
from trust.crypto.errors import Code, FederationError
from trust.crypto.keys import generate_private_key
from trust.formats import bundle, federation, jose, oidc


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def refused(code: Code, call: Any, *args: Any, **kwargs: Any) -> FederationError:
    with pytest.raises(FederationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code is code, caught.value.diagnostics()
    return caught.value


def test_a_chain_validates_and_the_policy_bounds_the_metadata(world: World) -> None:
    chain = federation.validate_chain(world.chain(world.zj), world.anchor.jwks(), now=world.now, anchor=ANCHOR)
    assert (chain.subject, chain.anchor) == (ZJ_OP, ANCHOR)
    op = chain.entity_metadata("openid_provider")
    assert op[oidc.CLAIM_REGIONS_SUPPORTED] == ["330000"]
    # The OP offers LOA 3, the anchor certified it only for levels 1 and 2.
    assert op["acr_values_supported"] == [oidc.LOA_1, oidc.LOA_2]
    assert chain.expires_at == world.now + 86400


def test_an_op_claiming_another_region_is_cut_back_to_its_own() -> None:
    greedy = World(zj_claims_regions=["330000", "440000"])
    chain = federation.validate_chain(greedy.chain(greedy.zj), greedy.anchor.jwks(), now=greedy.now)
    assert chain.entity_metadata("openid_provider")[oidc.CLAIM_REGIONS_SUPPORTED] == ["330000"]
    only_other = World(zj_claims_regions=["440000"])
    chain = federation.validate_chain(only_other.chain(only_other.zj), only_other.anchor.jwks(), now=only_other.now)
    assert chain.entity_metadata("openid_provider")[oidc.CLAIM_REGIONS_SUPPORTED] == []


def test_an_op_without_the_essential_region_parameter_is_refused(world: World) -> None:
    del world.gd.metadata["openid_provider"][oidc.CLAIM_REGIONS_SUPPORTED]
    try:
        refused(
            Code.METADATA_POLICY_VIOLATION,
            federation.validate_chain,
            world.chain(world.gd),
            world.anchor.jwks(),
            now=world.now,
        )
    finally:
        world.gd.metadata["openid_provider"][oidc.CLAIM_REGIONS_SUPPORTED] = ["440000"]


def test_a_leaf_statement_signed_by_a_key_not_in_the_chain_is_refused(world: World) -> None:
    intruder = generate_private_key("sm2")
    # The leaf lists the intruder's key in its own configuration: the superior does not certify it.
    forged = Entity(ZJ_OP, intruder, world.zj.metadata, [ANCHOR])
    chain = [forged.configuration(iat=world.now), world.subordinate(world.zj), world.anchor_configuration()]
    error = refused(Code.TRUST_CHAIN_INVALID, federation.validate_chain, chain, world.anchor.jwks(), now=world.now)
    assert "not among the keys" in error.message


def test_a_subordinate_statement_not_signed_by_the_anchor_is_refused(world: World) -> None:
    chain = [
        world.zj.configuration(iat=world.now),
        world.subordinate(world.zj, signer=generate_private_key("sm2")),
        world.anchor_configuration(),
    ]
    refused(Code.TRUST_CHAIN_INVALID, federation.validate_chain, chain, world.anchor.jwks(), now=world.now)


def test_an_anchor_configuration_not_signed_by_the_trusted_anchor_key_is_refused(world: World) -> None:
    other = generate_private_key("sm2")
    refused(
        Code.TRUST_CHAIN_INVALID,
        federation.validate_chain,
        world.chain(world.zj),
        {"keys": [federation.jwk_entry(other.public_key)]},
        now=world.now,
    )


def test_an_expired_chain_is_refused(world: World) -> None:
    error = refused(
        Code.TRUST_CHAIN_EXPIRED,
        federation.validate_chain,
        world.chain(world.zj),
        world.anchor.jwks(),
        now=world.now + 86400 + 3600,
    )
    assert error.evidence["exp"] == world.now + 86400
    refused(
        Code.TRUST_CHAIN_EXPIRED,
        federation.validate_chain,
        world.chain(world.zj),
        world.anchor.jwks(),
        now=world.now - 3600,
    )


def test_chains_out_of_order_or_to_another_anchor_are_refused(world: World) -> None:
    zj, sub, top = world.chain(world.zj)
    for broken in ([sub, zj, top], [zj, top], [zj, world.subordinate(world.gd), top], [zj, sub, sub]):
        refused(Code.TRUST_CHAIN_INVALID, federation.validate_chain, broken, world.anchor.jwks(), now=world.now)
    refused(
        Code.TRUST_CHAIN_INVALID,
        federation.validate_chain,
        [zj, sub, top],
        world.anchor.jwks(),
        now=world.now,
        anchor="https://other.example",
    )


def test_a_leaf_must_name_its_superior_in_authority_hints(world: World) -> None:
    orphan = Entity(ZJ_OP, world.zj.key, world.zj.metadata, ["https://elsewhere.example"])
    chain = [orphan.configuration(iat=world.now), world.subordinate(world.zj), world.anchor_configuration()]
    refused(Code.TRUST_CHAIN_INVALID, federation.validate_chain, chain, world.anchor.jwks(), now=world.now)


def _signed(entity: Entity, header: dict[str, Any], claims: dict[str, Any]) -> str:
    return jose.sign_compact(json.dumps(claims).encode(), entity.key.signer(), headers=header)


@pytest.mark.parametrize(
    ("header", "change"),
    [
        ({"typ": "JWT"}, {}),
        ({"typ": federation.ENTITY_STATEMENT_TYP}, {}),  # no kid
        (None, {"iss": "not-a-url"}),
        (None, {"exp": 1}),
        (None, {"jwks": {"keys": []}}),
        (None, {"crit": ["huren_unknown"]}),
        (None, {"metadata": {"openid_provider": "x"}}),
    ],
)
def test_malformed_statements_are_refused(world: World, header: dict[str, Any] | None, change: dict[str, Any]) -> None:
    _header, payload, _input, _sig = jose.parse_compact(world.zj.configuration())
    claims = {**json.loads(payload), **change}
    kid = world.zj.jwks()["keys"][0]["kid"]
    token = _signed(world.zj, header or {"typ": federation.ENTITY_STATEMENT_TYP, "kid": kid}, claims)
    refused(Code.ENTITY_STATEMENT_INVALID, federation.parse_statement, token)


def test_alg_none_and_hs256_statements_are_refused(world: World) -> None:
    _header, payload, _input, _sig = jose.parse_compact(world.zj.configuration())
    kid = world.zj.jwks()["keys"][0]["kid"]
    for alg in ("none", "HS256"):
        head = base64url.encode(json.dumps({"alg": alg, "typ": federation.ENTITY_STATEMENT_TYP, "kid": kid}).encode())
        token = f"{head}.{base64url.encode(payload)}.{base64url.encode(b'x' * 32) if alg != 'none' else ''}"
        chain = [token, world.subordinate(world.zj), world.anchor_configuration()]
        refused(Code.TRUST_CHAIN_INVALID, federation.validate_chain, chain, world.anchor.jwks(), now=world.now)


def test_max_path_length_and_allowed_entity_types() -> None:
    world = World()
    intermediate = Entity("https://fed.zj.example.gov.cn", generate_private_key("ec-p256"), {}, [ANCHOR])
    world.zj.authority_hints = [intermediate.id]
    below = federation.sign_statement(
        {"iss": intermediate.id, "sub": ZJ_OP, "iat": world.now, "exp": world.now + 600, "jwks": world.zj.jwks()},
        intermediate.key.signer(),
    )
    world.policies[intermediate.id] = {}

    def chain(constraints: dict[str, Any]) -> list[str]:
        return [
            world.zj.configuration(iat=world.now),
            below,
            world.subordinate(intermediate, constraints=constraints),
            world.anchor_configuration(),
        ]

    assert federation.validate_chain(chain({"max_path_length": 1}), world.anchor.jwks(), now=world.now)
    refused(
        Code.TRUST_CHAIN_INVALID,
        federation.validate_chain,
        chain({"max_path_length": 0}),
        world.anchor.jwks(),
        now=world.now,
    )
    rps_only = federation.validate_chain(
        chain({"allowed_entity_types": ["openid_relying_party"]}), world.anchor.jwks(), now=world.now
    )
    assert "openid_provider" not in rps_only.metadata


def test_statement_set_builds_chains_offline_and_says_when_there_is_none(world: World) -> None:
    section = world.section()
    held = section.statement_set()
    assert [s.iss for s in held.chain(GD_OP, ANCHOR)] == [GD_OP, ANCHOR, ANCHOR]
    refused(Code.TRUST_CHAIN_NOT_FOUND, held.chain, "https://unknown.example", ANCHOR)
    chain = section.resolve(RP, now=world.now)
    assert chain.entity_metadata("openid_relying_party")["redirect_uris"] == [f"{RP}/callback"]


def test_trust_marks_granted_verified_and_revoked() -> None:
    world = World()
    token = world.grant_trust_mark(world.gd)
    marks = world.section().resolve(GD_OP, now=world.now).trust_marks
    assert [m.trust_mark_type for m in marks] == [TRUST_MARK_LOA2]
    revoked = world.section(revoked=(marks[0].digest,)).resolve(GD_OP, now=world.now)
    assert revoked.trust_marks == ()
    anchor_configuration = federation.parse_statement(world.anchor_configuration())
    issuers = {ANCHOR: world.anchor.jwks()}
    refused(
        Code.TRUST_MARK_INVALID,
        federation.verify_trust_mark,
        token,
        subject=ZJ_OP,
        anchor_configuration=anchor_configuration,
        issuer_jwks=issuers,
        now=world.now,
    )
    refused(
        Code.TRUST_MARK_INVALID,
        federation.verify_trust_mark,
        token,
        subject=GD_OP,
        anchor_configuration=anchor_configuration,
        issuer_jwks=issuers,
        now=world.now,
        revoked=[marks[0].digest],
    )
    # A mark signed by a region for itself is not one the anchor lets it issue.
    self_made = federation.sign_trust_mark(
        world.gd.key.signer(), iss=GD_OP, sub=GD_OP, trust_mark_type=TRUST_MARK_LOA2, iat=world.now
    )
    refused(
        Code.TRUST_MARK_INVALID,
        federation.verify_trust_mark,
        self_made,
        subject=GD_OP,
        anchor_configuration=anchor_configuration,
        issuer_jwks={**issuers, GD_OP: world.gd.jwks()},
        now=world.now,
    )


def test_resolve_responses_carry_a_chain_that_is_validated_on_its_own(world: World) -> None:
    chain = federation.validate_chain(world.chain(world.zj), world.anchor.jwks(), now=world.now)
    response = federation.sign_resolve_response(world.anchor.key.signer(), resolver=ANCHOR, chain=chain, iat=world.now)
    again = federation.validate_resolve_response(
        response, world.anchor.jwks(), subject=ZJ_OP, anchor=ANCHOR, now=world.now
    )
    assert again.metadata == chain.metadata
    refused(
        Code.ENTITY_STATEMENT_INVALID,
        federation.validate_resolve_response,
        response,
        world.anchor.jwks(),
        subject=GD_OP,
        anchor=ANCHOR,
        now=world.now,
    )


def test_the_bundle_carries_the_federation_section(world: World) -> None:
    section = world.section()
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    plain = bundle.Bundle(moment, moment, {"payload": "", "signatures": []})
    assert "federation" not in plain.to_json()
    carried = bundle.Bundle(moment, moment, {"payload": "", "signatures": []}, federation=section.to_json())
    again = bundle.Bundle.from_json(json.loads(json.dumps(carried.to_json())))
    restored = federation.FederationSection.from_json(again.federation)
    assert restored == section
    assert restored.resolve(ZJ_OP, now=world.now).subject == ZJ_OP


def test_pyjwt_reads_an_entity_statement(world: World) -> None:
    token = world.gd.configuration(iat=world.now)
    pem = world.gd.key.public_key.pem().encode()
    claims = pyjwt.decode(token, serialization.load_pem_public_key(pem), algorithms=["ES256"])  # type: ignore[arg-type]
    assert claims["sub"] == GD_OP and claims["jwks"] == world.gd.jwks()
    assert pyjwt.get_unverified_header(token)["typ"] == federation.ENTITY_STATEMENT_TYP
