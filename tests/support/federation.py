"""A small identity federation built from the format layer alone (no service): a national anchor, a Zhejiang and a
Guangdong OpenID Provider, a relying service, their statements and trust marks. Tests of trust chains, ID tokens and
the relying-party library share it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from trust.crypto.keys import PrivateKey, generate_private_key
from trust.formats import federation, oidc

ANCHOR = "https://trust.example.gov.cn"
ZJ_OP = "https://idp.zj.example.gov.cn"
GD_OP = "https://idp.gd.example.gov.cn"
RP = "https://service.gd.example.gov.cn"
TRUST_MARK_LOA2 = "https://trust.example.gov.cn/trust-marks/real-name-idp-level-2"
NOW = int(time.time())


@dataclass
class Entity:
    id: str
    key: PrivateKey  # the federation entity key
    metadata: dict[str, Any]
    authority_hints: list[str] = field(default_factory=list)
    signing_keys: dict[str, PrivateKey] = field(default_factory=dict)  # ID token keys by alg (OPs)
    trust_marks: list[dict[str, str]] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [federation.jwk_entry(self.key.public_key)]}

    def configuration(self, *, iat: int = NOW, exp: int | None = None, **extra: Any) -> str:
        claims: dict[str, Any] = {
            "iss": self.id,
            "sub": self.id,
            "iat": iat,
            "exp": exp or iat + 86400,
            "jwks": self.jwks(),
            "metadata": self.metadata,
            **({"authority_hints": self.authority_hints} if self.authority_hints else {}),
            **({"trust_marks": self.trust_marks} if self.trust_marks else {}),
            **extra,
        }
        return federation.sign_statement(claims, self.key.signer())


def op_metadata(entity_id: str, keys: dict[str, PrivateKey], regions: list[str]) -> dict[str, Any]:
    return {
        "federation_entity": {"organization_name": entity_id},
        "openid_provider": {
            "issuer": entity_id,
            "authorization_endpoint": f"{entity_id}/authorize",
            "token_endpoint": f"{entity_id}/token",
            "authorization_response_iss_parameter_supported": True,
            "jwks": {"keys": [federation.jwk_entry(k.public_key, alg=alg) for alg, k in keys.items()]},
            "id_token_signing_alg_values_supported": sorted(keys),
            "acr_values_supported": [oidc.LOA_1, oidc.LOA_2, oidc.LOA_3],
            "scopes_supported": ["openid", "profile", oidc.SCOPE_CITIZEN_ID],
            oidc.CLAIM_REGIONS_SUPPORTED: regions,
        },
    }


def op_policy(region: str, levels: list[str]) -> dict[str, Any]:
    return {
        "openid_provider": {
            oidc.CLAIM_REGIONS_SUPPORTED: {"subset_of": [region], "essential": True},
            "acr_values_supported": {"subset_of": levels},
            "scopes_supported": {"subset_of": ["openid", "profile", oidc.SCOPE_CITIZEN_ID]},
            "id_token_signing_alg_values_supported": {"subset_of": list(oidc.ID_TOKEN_ALGORITHMS)},
        }
    }


class World:
    """Anchor, two OPs and a relying service, with the statements the anchor publishes about each."""

    def __init__(self, *, now: int = NOW, zj_claims_regions: list[str] | None = None) -> None:
        self.now = now
        self.anchor = Entity(
            ANCHOR,
            generate_private_key("sm2"),
            {"federation_entity": {"federation_fetch_endpoint": f"{ANCHOR}/federation/fetch"}},
        )
        zj_keys = {"RS256": generate_private_key("rsa-2048"), "ES256": generate_private_key("ec-p256")}
        zj_keys["SM2"] = generate_private_key("sm2")
        self.zj = Entity(
            ZJ_OP,
            generate_private_key("sm2"),
            op_metadata(ZJ_OP, zj_keys, zj_claims_regions or ["330000"]),
            [ANCHOR],
            zj_keys,
        )
        gd_keys = {"ES256": generate_private_key("ec-p256")}
        gd_metadata = op_metadata(GD_OP, gd_keys, ["440000"])
        self.gd = Entity(GD_OP, generate_private_key("ec-p256"), gd_metadata, [ANCHOR], gd_keys)
        self.rp = Entity(
            RP,
            generate_private_key("ec-p256"),
            {"openid_relying_party": {"redirect_uris": [f"{RP}/callback"], "client_name": "广东政务服务"}},
            [ANCHOR],
        )
        self.policies = {
            ZJ_OP: op_policy("330000", [oidc.LOA_1, oidc.LOA_2]),
            GD_OP: op_policy("440000", [oidc.LOA_1, oidc.LOA_2, oidc.LOA_3]),
            RP: {},
        }
        self.trust_mark_issuers = {TRUST_MARK_LOA2: [ANCHOR]}

    def entities(self) -> list[Entity]:
        return [self.zj, self.gd, self.rp]

    def anchor_configuration(self, **extra: Any) -> str:
        return self.anchor.configuration(iat=self.now, trust_mark_issuers=self.trust_mark_issuers, **extra)

    def subordinate(self, entity: Entity, *, signer: PrivateKey | None = None, **extra: Any) -> str:
        claims: dict[str, Any] = {
            "iss": ANCHOR,
            "sub": entity.id,
            "iat": self.now,
            "exp": self.now + 86400,
            "jwks": entity.jwks(),
            **({"metadata_policy": self.policies[entity.id]} if self.policies.get(entity.id) else {}),
            **extra,
        }
        return federation.sign_statement(claims, (signer or self.anchor.key).signer())

    def grant_trust_mark(self, entity: Entity, mark_type: str = TRUST_MARK_LOA2, **extra: Any) -> str:
        token = federation.sign_trust_mark(
            self.anchor.key.signer(), iss=ANCHOR, sub=entity.id, trust_mark_type=mark_type, iat=self.now, **extra
        )
        entity.trust_marks.append({"trust_mark_type": mark_type, "trust_mark": token})
        return token

    def chain(self, entity: Entity) -> list[str]:
        return [entity.configuration(iat=self.now), self.subordinate(entity), self.anchor_configuration()]

    def section(self, revoked: tuple[str, ...] = ()) -> federation.FederationSection:
        statements = [self.anchor_configuration()]
        for entity in self.entities():
            statements += [entity.configuration(iat=self.now), self.subordinate(entity)]
        return federation.FederationSection(ANCHOR, self.anchor.jwks(), tuple(statements), revoked)

    def id_token(self, op: Entity, alg: str = "RS256", **overrides: Any) -> str:
        claims: dict[str, Any] = {
            "iss": op.id,
            "sub": "pairwise-subject",
            "aud": RP,
            "iat": self.now,
            "exp": self.now + 300,
            "nonce": "n-0S6_WzA2Mj",
            "acr": oidc.LOA_1,
            oidc.CLAIM_REGION: "330000" if op is self.zj else "440000",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return oidc.sign_id_token(claims, op.signing_keys[alg].signer())
