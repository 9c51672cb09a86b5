"""The offline verifier on entity statements of the identity federation (:mod:`verifier.federation`): a genuine
configuration passes with its chain built from the bundle's federation section alone; a tampered one, a forgery under
a member's name and an entity the bundle's federation does not vouch for fail — or are INDETERMINATE ("get a newer
bundle") when issued after the bundle was made; expiry at the validation time. The federation is the format-layer
world of ``tests/support/federation.py`` (no service), held in a context as ``verifier.context.build`` fills it from a
bundle."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.federation import ANCHOR, GD_OP, RP, TRUST_MARK_LOA2, ZJ_OP, Entity, World
from trust.crypto import base64url
from trust.crypto.keys import generate_private_key
from trust.formats import federation
from verifier import api
from verifier.context import VerificationContext
from verifier.report import Indication, Report, Result, SubIndication

BUNDLE_AFTER = 10
"""Seconds after the world's statements that its bundle is made."""


@pytest.fixture(scope="module")
def fed() -> World:
    """The format-layer federation (not the service world of tests/conftest.py)."""
    made = World()
    made.grant_trust_mark(made.zj)
    return made


@pytest.fixture(scope="module")
def section(fed: World) -> federation.FederationSection:
    return fed.section()


def context(fed: World, section: federation.FederationSection | None, *, after: int = 60) -> VerificationContext:
    """A verifier's context holding ``section`` as the bundle's, ``after`` seconds after the world was made."""
    return VerificationContext(
        validation_time=datetime.fromtimestamp(fed.now + after, UTC),
        federation=section.to_json() if section is not None else None,
        bundle_created_at=datetime.fromtimestamp(fed.now + BUNDLE_AFTER, UTC) if section is not None else None,
    )


def verify(token: str, ctx: VerificationContext) -> Report:
    return api.verify(token.encode("ascii"), ctx)


def verdict(report: Report) -> tuple[Indication, SubIndication | None]:
    return report.indication, report.sub_indication


def failed_check(report: Report) -> str:
    """The one failed check; every check after it is reported as not run (verifier.report: every check reported)."""
    failed = [c for c in report.checks if c.result is Result.FAILED]
    assert len(failed) == 1, report.to_text()
    after = report.checks[report.checks.index(failed[0]) + 1 :]
    assert all(c.result is Result.SKIPPED and c.detail.startswith("not run") for c in after), report.to_text()
    return failed[0].name


def test_entity_statements_are_detected_by_their_typ_not_as_licence_tokens(fed: World) -> None:
    assert api.detect(fed.zj.configuration(iat=fed.now).encode()) == "entity-statement"
    assert api.detect(fed.subordinate(fed.gd).encode()) == "entity-statement"
    assert api.detect(fed.id_token(fed.zj).encode()) == "license"  # another JWT goes on to the licence verifier


@pytest.mark.parametrize("name", ["zj", "gd", "rp", "anchor"])
def test_a_genuine_configuration_passes_with_its_chain_from_the_bundle(
    fed: World, section: federation.FederationSection, name: str
) -> None:
    entity: Entity = getattr(fed, name)
    token = fed.anchor_configuration() if name == "anchor" else entity.configuration(iat=fed.now)
    report = verify(token, context(fed, section))
    assert verdict(report) == (Indication.TOTAL_PASSED, None), report.to_text()
    assert report.kind == "entity-configuration" and report.subject == entity.id
    names = [check.name for check in report.checks]
    assert names[:4] == ["parse", "validity", "self-signature", "trust-chain"], names
    details = dict(report.details)
    assert details["anchor"] == ANCHOR
    if name == "anchor":
        assert [link.source for link in report.chain] == ["input"]
    else:
        # the input itself, the anchor's statement about it from the bundle, the anchor's configuration
        assert [link.source for link in report.chain] == ["input", "bundle", "anchor"]
        assert report.chain[1].subject == f"{entity.id} (by {ANCHOR})"
    if name == "zj":
        assert details["trust marks"] == [TRUST_MARK_LOA2]
        assert "openid_provider" in details["entity types"]
        assert [c.result for c in report.checks if c.name == "trust-list"] == [Result.SKIPPED]  # no trust list here
    assert report.to_text().startswith(f"TOTAL-PASSED  entity-configuration: {entity.id}")


def test_a_subordinate_statement_of_the_bundle_passes_and_one_by_another_key_fails(
    fed: World, section: federation.FederationSection
) -> None:
    report = verify(fed.subordinate(fed.gd), context(fed, section))
    assert verdict(report) == (Indication.TOTAL_PASSED, None), report.to_text()
    assert report.kind == "entity-statement" and report.subject == GD_OP
    assert [link.source for link in report.chain] == ["bundle", "input", "anchor"]
    forged = fed.subordinate(fed.gd, signer=generate_private_key("sm2"))
    report = verify(forged, context(fed, section))
    assert verdict(report) == (Indication.TOTAL_FAILED, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE)
    assert failed_check(report) == "trust-chain"


def _with_claims(token: str, change: dict[str, Any]) -> str:
    """``token`` with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64url.decode(payload))
    claims.update(change)
    body = base64url.encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{body}.{signature}"


def test_a_tampered_configuration_fails(fed: World, section: federation.FederationSection) -> None:
    genuine = fed.zj.configuration(iat=fed.now)
    # One claim changed under the entity's own signature: a region the OP was never certified for.
    metadata = json.loads(json.dumps(fed.zj.metadata))
    metadata["openid_provider"]["huren_regions_supported"] = ["330000", "440000"]
    for tampered in (
        _with_claims(genuine, {"metadata": metadata}),
        _with_claims(genuine, {"exp": fed.now + 10 * 86400}),
        genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB"),  # signature bytes changed
    ):
        report = verify(tampered, context(fed, section))
        assert verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE), report.to_text()
        assert failed_check(report) == "self-signature"
    # Not an entity statement any more: a broken structure is a format failure, with the typ kept.
    report = verify(_with_claims(genuine, {"jwks": {"keys": []}}), context(fed, section))
    assert verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert failed_check(report) == "parse"


def test_a_forgery_under_a_members_name_fails_and_is_indeterminate_only_if_newer_than_the_bundle(
    fed: World, section: federation.FederationSection
) -> None:
    # Self-signed with a key of its own, which the anchor's statement in the bundle does not certify for ZJ_OP.
    impostor = Entity(ZJ_OP, generate_private_key("sm2"), fed.zj.metadata, [ANCHOR])
    report = verify(impostor.configuration(iat=fed.now), context(fed, section))
    assert verdict(report) == (Indication.TOTAL_FAILED, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE)
    assert failed_check(report) == "trust-chain" and "does not certify" in report.errors[0]
    # Issued after the bundle was made: the member may have re-keyed since.
    report = verify(impostor.configuration(iat=fed.now + 100), context(fed, section, after=200))
    assert verdict(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert "get a newer bundle" in report.errors[0]


def test_an_entity_not_in_the_bundles_federation_fails_or_asks_for_a_newer_bundle(
    fed: World, section: federation.FederationSection
) -> None:
    stranger = Entity("https://idp.unknown.example.gov.cn", generate_private_key("ec-p256"), {}, [ANCHOR])
    report = verify(stranger.configuration(iat=fed.now), context(fed, section))
    assert verdict(report) == (Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE), report.to_text()
    assert failed_check(report) == "trust-chain" and "not a member" in report.errors[0]
    report = verify(stranger.configuration(iat=fed.now + 100), context(fed, section, after=200))
    assert verdict(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER), report.to_text()
    assert "get a newer bundle" in report.errors[0]
    # A member left out of the bundle (withdrawn before it was made) is not vouched for either.
    without_rp = federation.FederationSection(
        section.anchor,
        section.anchor_jwks,
        tuple(t for t in section.statements if federation.parse_statement(t).sub != RP),
    )
    report = verify(fed.rp.configuration(iat=fed.now), context(fed, without_rp))
    assert verdict(report) == (Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE)


def test_expiry_of_the_input_and_of_the_bundles_chain(fed: World, section: federation.FederationSection) -> None:
    expired = fed.zj.configuration(iat=fed.now - 7200, exp=fed.now - 3600)
    report = verify(expired, context(fed, section))
    assert verdict(report) == (Indication.TOTAL_FAILED, SubIndication.EXPIRED)
    assert failed_check(report) == "validity"
    future = fed.zj.configuration(iat=fed.now + 3600)
    assert verdict(verify(future, context(fed, section))) == (Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID)
    # The input is valid for ten days, the anchor's statements in the bundle for one: two days on, the bundle is old.
    lasting = fed.zj.configuration(iat=fed.now, exp=fed.now + 10 * 86400)
    report = verify(lasting, context(fed, section, after=2 * 86400))
    assert verdict(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER), report.to_text()
    assert "expired" in report.errors[0] and "get a newer bundle" in report.errors[0]


def test_without_a_federation_in_the_bundle_there_is_no_chain(fed: World) -> None:
    report = verify(fed.zj.configuration(iat=fed.now), context(fed, None))
    assert verdict(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert [c.name for c in report.checks] == ["parse", "validity", "self-signature", "trust-chain"]


def test_a_revoked_trust_mark_is_left_out_with_a_warning(fed: World, section: federation.FederationSection) -> None:
    mark = federation.parse_trust_mark(fed.zj.trust_marks[0]["trust_mark"])[0]
    revoked = federation.FederationSection(section.anchor, section.anchor_jwks, section.statements, (mark.digest,))
    report = verify(fed.zj.configuration(iat=fed.now), context(fed, revoked))
    assert verdict(report) == (Indication.TOTAL_PASSED, None)
    assert dict(report.details)["trust marks"] == []
    assert any("not accepted" in w for w in report.warnings)
