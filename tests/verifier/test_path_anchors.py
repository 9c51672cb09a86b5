"""Issue 12 item 1: trust anchors are checked and their constraints apply (RFC 5937).

Before, anchors went to pyhanko-certvalidator as bare certificates: every chain below that violates a root's own name
constraints, or hangs from an expired root, a root without (or with non-critical) basicConstraints, a root without
keyCertSign or a root with an unknown critical extension, was TOTAL_PASSED.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import x509

from tests.support.chains import (
    NOW,
    Factory,
    Node,
    ca_extensions,
    dirname,
    dns,
    ip,
    name,
    name_constraints,
    replace,
    san,
    unknown_critical,
)
from trust.formats import x509 as cx
from verifier import context
from verifier.certificate import verify_certificate
from verifier.report import Indication, Report, SubIndication


@pytest.fixture(scope="module")
def factory() -> Factory:
    return Factory()


def verify(leaf: Node, root: Node, *intermediates: Node, **options: object) -> Report:
    ctx = context.build(anchors=[root.der], untrusted=[n.der for n in intermediates], **options)  # type: ignore[arg-type]
    return verify_certificate(leaf.der, ctx)


def refused(report: Report, rule: str, sub: SubIndication = SubIndication.CHAIN_CONSTRAINTS_FAILURE) -> None:
    assert report.indication is not Indication.TOTAL_PASSED, report.to_text()
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is sub, report.to_text()
    assert dict(report.details).get("rule") == rule, report.to_text()


def constrained_root(factory: Factory, constraint: cx.Ext) -> Node:
    key = factory.key()
    return factory.root(extensions=[*ca_extensions(key.public_key, None), constraint], key=key)


# --- RFC 5937: the anchor's name constraints ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "leaf_names", "rule"),
    [
        (name_constraints(permitted=[dns("example.com")]), [dns("www.evil.test")], "name-not-permitted"),
        (name_constraints(excluded=[dns("evil.test")]), [dns("www.evil.test")], "name-excluded"),
        (name_constraints(permitted=[ip("192.0.2.0/24")]), [ip("198.51.100.7")], "name-not-permitted"),
        (name_constraints(excluded=[ip("192.0.2.0/24")]), [ip("192.0.2.77")], "name-excluded"),
        (name_constraints(excluded=[ip("2001:db8::/32")]), [ip("2001:db8::1")], "name-excluded"),
    ],
    ids=["permitted-dns", "excluded-dns", "permitted-ip", "excluded-ip", "excluded-ipv6"],
)
def test_root_name_constraints_apply(factory: Factory, constraint: cx.Ext, leaf_names: list, rule: str) -> None:
    root = constrained_root(factory, constraint)
    ca = factory.ca("Issuing CA", root)
    leaf = factory.leaf("leaf", ca, extra=[san(*leaf_names)])
    report = verify(leaf, root, ca)
    refused(report, rule)
    assert [c.name for c in report.checks if c.result.value == "failed"] == ["names"]
    assert "leaf CN=leaf" in report.errors[0]


def test_root_name_constraints_pass_inside_and_are_reported(factory: Factory) -> None:
    root = constrained_root(
        factory, name_constraints(permitted=[dns("example.com"), ip("192.0.2.0/24")], excluded=[dns("bad.example.com")])
    )
    ca = factory.ca("Issuing CA", root)
    leaf = factory.leaf("leaf", ca, extra=[san(dns("www.example.com"), ip("192.0.2.9"))])
    report = verify(leaf, root, ca)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    anchor = next(c for c in report.checks if c.name == "anchor")
    assert "RFC 5937 constraints applied: permitted DNS:example.com, IP:192.0.2.0/24, excluded DNS:bad.example.com" in (
        anchor.detail
    )
    names = next(c for c in report.checks if c.name == "names")
    assert "trust anchor: permitted dNSName 'example.com'" in names.detail


@pytest.mark.parametrize("where", ["permitted", "excluded"])
def test_root_directory_name_constraints_apply(factory: Factory, where: str) -> None:
    guangdong = dirname(country_name="CN", state_or_province_name="广东省")
    constraint = (
        name_constraints(permitted=[guangdong]) if where == "permitted" else name_constraints(excluded=[guangdong])
    )
    root = constrained_root(factory, constraint)
    ca = factory.make(
        x509.Name.build({"country_name": "CN", "state_or_province_name": "广东省", "common_name": "粤 CA"}),
        issuer=root,
        ca=True,
    )
    outside = x509.Name.build({"country_name": "CN", "state_or_province_name": "浙江省", "common_name": "浙 leaf"})
    inside = x509.Name.build({"country_name": "CN", "state_or_province_name": "广东省", "common_name": "粤 leaf"})
    bad = factory.leaf("", ca, subject=outside if where == "permitted" else inside)
    report = verify(bad, root, ca)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    if where == "permitted":  # the CA itself is inside; only the leaf is out
        good = factory.leaf("", ca, subject=inside)
        assert verify(good, root, ca).indication is Indication.TOTAL_PASSED


def test_root_path_length_applies(factory: Factory) -> None:
    key = factory.key()
    root = factory.root(extensions=ca_extensions(key.public_key, None, path_len=0), key=key)
    ca = factory.ca("Issuing CA", root)
    leaf = factory.leaf("leaf", ca)
    report = verify(leaf, root, ca)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert "path length" in report.errors[0]


def test_root_policies_and_require_explicit_policy_apply(factory: Factory) -> None:
    key = factory.key()
    root = factory.root(
        extensions=[
            *ca_extensions(key.public_key, None),
            cx.certificate_policies(["1.2.156.112559.99.1"]),
            cx.policy_constraints(require_explicit_policy=0),
        ],
        key=key,
    )
    for policy, passes in (("1.2.156.112559.99.1", True), ("1.2.156.112559.99.2", False)):
        ca = factory.ca("Issuing CA", root, extra=[cx.certificate_policies([policy])])
        leaf = factory.leaf("leaf", ca, extra=[cx.certificate_policies([policy])])
        report = verify(leaf, root, ca)
        assert (report.indication is Indication.TOTAL_PASSED) is passes, report.to_text()
    anchor = next(c for c in verify(leaf, root, ca).checks if c.name in ("anchor", "path"))
    assert anchor is not None


# --- Huren's checks of the anchor certificate ----------------------------------------------------------------


def test_expired_root(factory: Factory) -> None:
    root = factory.root(not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=1))
    ca = factory.ca("Issuing CA", root, not_before=NOW - timedelta(days=700))
    leaf = factory.leaf("leaf", ca)
    refused(verify(leaf, root, ca), "anchor-expired", SubIndication.EXPIRED)


def test_root_not_yet_valid(factory: Factory) -> None:
    root = factory.root(not_before=NOW + timedelta(days=2), not_after=NOW + timedelta(days=800))
    leaf = factory.leaf("leaf", root)
    refused(verify(leaf, root), "anchor-not-yet-valid", SubIndication.NOT_YET_VALID)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"drop": ["basic_constraints"]}, "anchor-basic-constraints-missing"),
        (
            {"changes": [cx.Ext("basic_constraints", {"ca": True}, critical=False)]},
            "anchor-basic-constraints-not-critical",
        ),
        ({"changes": [cx.Ext("basic_constraints", {"ca": False}, critical=True)]}, "anchor-not-ca"),
        ({"changes": [cx.key_usage({"crl_sign"})]}, "anchor-key-cert-sign-missing"),
        ({"drop": ["key_usage"]}, "anchor-key-usage-missing"),
        ({"changes": [unknown_critical()]}, "anchor-unknown-critical-extension"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_root_that_may_not_be_an_issuing_anchor(factory: Factory, change: dict, rule: str) -> None:
    key = factory.key()
    extensions = replace(ca_extensions(key.public_key, None), *change.get("changes", ()), drop=change.get("drop", ()))
    root = factory.root(extensions=extensions, key=key)
    leaf = factory.leaf("leaf", root)
    report = verify(leaf, root)
    refused(report, rule)
    assert [c.name for c in report.checks if c.result.value == "failed"] == ["anchor"]


def test_a_leaf_given_as_its_own_anchor_needs_no_ca_extensions(factory: Factory) -> None:
    """Trusting a certificate directly (``--anchor`` of the input itself) is not issuing: no basicConstraints
    needed, but validity and critical extensions still count."""
    leaf = factory.make(name("pinned.example"))
    report = verify(leaf, leaf)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    expired = factory.make(name("old.example"), not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(days=2))
    refused(verify(expired, expired), "anchor-expired", SubIndication.EXPIRED)


def test_huren_world_roots_pass_the_anchor_checks() -> None:
    """The roots and CAs of a Huren world (the golden bundle, tests/data/golden) pass the anchor checks."""
    from tests.support import golden

    ctx = golden.context(families=("SM2", "RSA"))
    assert ctx.trust_list is not None
    for _issuer, service in ctx.trust_list.services("CA"):
        report = verify_certificate(service.certificate, ctx, purpose="ca")
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
        anchor = next(c for c in report.checks if c.name == "anchor")
        assert "basicConstraints cA (critical), keyCertSign" in anchor.detail
        assert "path length ≤ 1" in anchor.detail
        assert any(c.name == "profile" and c.result.value == "passed" for c in report.checks), report.to_text()


# --- key anchors (--anchor-key): name and key only, RFC 5280 clause 6.1.1 (d) ------------------------------------


def verify_with_key_anchor(leaf: Node, root: Node, *intermediates: Node) -> Report:
    ctx = context.build(key_anchors=[root.der], untrusted=[n.der for n in intermediates])
    return verify_certificate(leaf.der, ctx)


@pytest.mark.parametrize(
    "change",
    [
        {"drop": ["basic_constraints"]},
        {"changes": [cx.Ext("basic_constraints", {"ca": True}, critical=False)]},
        {"changes": [cx.key_usage({"digital_signature"})]},
        {"drop": ["key_usage"]},
        {"changes": [unknown_critical()]},
    ],
    ids=["no-basic-constraints", "non-critical-basic-constraints", "no-key-cert-sign", "no-key-usage", "unknown-crit"],
)
def test_key_anchor_outside_the_ca_profile_is_trusted_only_when_given_as_key(factory: Factory, change: dict) -> None:
    """What ``--anchor`` refuses (test_root_that_may_not_be_an_issuing_anchor), ``--anchor-key`` accepts: the user
    trusts the name and key, not the certificate's extensions. The report says so."""
    key = factory.key()
    extensions = replace(ca_extensions(key.public_key, None), *change.get("changes", ()), drop=change.get("drop", ()))
    root = factory.root(extensions=extensions, key=key)
    leaf = factory.leaf("leaf", root)
    assert verify(leaf, root).indication is Indication.TOTAL_FAILED
    report = verify_with_key_anchor(leaf, root)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    anchor = next(c for c in report.checks if c.name == "anchor")
    assert "trusted as name and key" in anchor.detail
    assert "neither checked nor applied" in anchor.detail


def test_key_anchor_name_constraints_are_not_applied(factory: Factory) -> None:
    root = constrained_root(factory, name_constraints(permitted=[dns("example.com")]))
    leaf = factory.leaf("leaf", root, extra=[san(dns("www.evil.test"))])
    refused(verify(leaf, root), "name-not-permitted")
    assert verify_with_key_anchor(leaf, root).indication is Indication.TOTAL_PASSED


def test_key_anchor_is_bounded_by_its_validity(factory: Factory) -> None:
    root = factory.root(
        extensions=[cx.Ext("basic_constraints", {"ca": True}, critical=False)],
        not_before=NOW - timedelta(days=800),
        not_after=NOW - timedelta(days=1),
    )
    leaf = factory.leaf("leaf", root, not_before=NOW - timedelta(days=700))
    refused(verify_with_key_anchor(leaf, root), "anchor-expired", SubIndication.EXPIRED)


def test_key_anchor_does_not_relax_the_intermediates(factory: Factory) -> None:
    """Only the anchor is taken as name and key: a CA below it without cA TRUE still cannot issue."""
    root = factory.root()
    key = factory.key()
    ca = factory.ca(
        "Not a CA",
        root,
        key=key,
        extensions=replace(
            ca_extensions(key.public_key, root.key.public_key),
            cx.Ext("basic_constraints", {"ca": False}, critical=True),
        ),
    )
    leaf = factory.leaf("leaf", ca)
    assert verify_with_key_anchor(leaf, root, ca).indication is not Indication.TOTAL_PASSED


def test_trust_list_root_given_as_key_anchor_keeps_its_checks() -> None:
    """The roots a pinned bundle lists are never taken as name and key only."""
    from tests.support import golden

    ctx = golden.context(families=("SM2",))
    assert ctx.trust_list is not None
    root = ctx.trust_list.roots[0]
    ctx = golden.context(families=("SM2",), key_anchors=[root.certificate])
    assert ctx.key_anchors == frozenset()
    assert ctx.trust_list is not None
    _issuer, service = next(iter(ctx.trust_list.services("CA")))
    report = verify_certificate(service.certificate, ctx, purpose="ca")
    anchor = next(c for c in report.checks if c.name == "anchor")
    assert "basicConstraints cA (critical), keyCertSign" in anchor.detail
