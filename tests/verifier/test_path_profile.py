"""Issue 12 item 4: the RFC 5280 rules for CA-issued certificates (:mod:`verifier.profile`), checked under the strict
profile (``--strict``, HTTP ``strict``) and always for the members of Huren's own trust list; each failure names its
rule (``details.rule``) with an ETSI sub-indication and a message.

The default profile accepts such certificates, as RFC 5280 clause 6 validation does (and OpenSSL and pyHanko do);
the tests show both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.support.chains import (
    NOW,
    Factory,
    Node,
    ca_extensions,
    dns,
    leaf_extensions,
    name,
    name_constraints,
    replace,
    san,
)
from trust.formats import x509 as cx
from trust.formats.trustlist import Issuer, Service, StatusEntry, TrustList
from verifier import context
from verifier.certificate import verify_certificate
from verifier.report import Indication, Report, SubIndication


@pytest.fixture(scope="module")
def factory() -> Factory:
    return Factory()


@pytest.fixture(scope="module")
def root(factory: Factory) -> Node:
    return factory.root()


def verify(leaf: Node, root: Node, *intermediates: Node, strict: bool) -> Report:
    ctx = context.build(anchors=[root.der], untrusted=[n.der for n in intermediates], strict=strict)
    return verify_certificate(leaf.der, ctx)


def _leaf(factory: Factory, root: Node, change: Callable[[Node, object], list[cx.Ext]], **kwargs: object) -> Node:
    key = factory.key()
    extensions = change(root, key)
    return factory.make(kwargs.pop("subject", name("leaf")), issuer=root, extensions=extensions, key=key, **kwargs)  # type: ignore[arg-type]


def _base(root: Node, key: object) -> list[cx.Ext]:
    return leaf_extensions(key.public_key, root.key.public_key)  # type: ignore[attr-defined]


LEAF_CASES: dict[str, tuple[Callable[[Node, object], list[cx.Ext]], dict[str, object], SubIndication]] = {
    "aki-missing": (
        lambda r, k: replace(_base(r, k), drop=["authority_key_identifier"]),
        {},
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "aki-critical": (
        lambda r, k: replace(
            _base(r, k), cx.Ext("authority_key_identifier", {"key_identifier": r.key.public_key.key_identifier()}, True)
        ),
        {},
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "ski-critical": (
        lambda r, k: replace(_base(r, k), cx.Ext("key_identifier", k.public_key.key_identifier(), True)),  # type: ignore[attr-defined]
        {},
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "aia-critical": (
        lambda r, k: [
            *_base(r, k),
            cx.Ext(
                "authority_information_access",
                [
                    {
                        "access_method": "ca_issuers",
                        "access_location": {"uniform_resource_identifier": "http://ca.test/"},
                    }
                ],
                True,
            ),
        ],
        {},
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "ee-name-constraints": (
        lambda r, k: [*_base(r, k), name_constraints(permitted=[dns("example.com")])],
        {},
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "ee-key-cert-sign": (
        lambda r, k: replace(_base(r, k), cx.key_usage({"digital_signature", "key_cert_sign"})),
        {},
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "empty-subject-san-not-critical": (
        lambda r, k: [*_base(r, k), san(dns("www.example.com"))],
        {"subject": name("x").__class__.build({})},
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    ),
    "duplicate-extension": (
        lambda r, k: [*_base(r, k), san(dns("www.example.com"))],
        {"duplicate": san(dns("www.evil.test"))},
        SubIndication.FORMAT_FAILURE,
    ),
}


@pytest.mark.parametrize("rule", LEAF_CASES, ids=list(LEAF_CASES))
def test_leaf_profile_rules(factory: Factory, root: Node, rule: str) -> None:
    change, kwargs, sub = LEAF_CASES[rule]
    leaf = _leaf(factory, root, change, **kwargs)
    lenient = verify(leaf, root, strict=False)
    if rule == "duplicate-extension":  # readers disagree on which instance counts: refused under every profile
        assert lenient.indication is Indication.TOTAL_FAILED, lenient.to_text()
        assert dict(lenient.details)["rule"] == rule
    else:
        assert lenient.indication is Indication.TOTAL_PASSED, lenient.to_text()
        assert any(c.name == "profile" and c.result.value == "skipped" for c in lenient.checks)
    report = verify(leaf, root, strict=True)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is sub, report.to_text()
    assert dict(report.details)["rule"] == rule
    assert [c.name for c in report.checks if c.result.value == "failed"] == ["profile"]
    assert (
        "RFC 5280 clause" in report.errors[0] and "leaf CN=leaf" in report.errors[0]
    ) or rule == "empty-subject-san-not-critical"


def test_empty_subject_with_critical_san_is_fine(factory: Factory, root: Node) -> None:
    key = factory.key()
    leaf = factory.make(
        name("x").__class__.build({}),
        issuer=root,
        extensions=[*leaf_extensions(key.public_key, root.key.public_key), san(dns("www.example.com"), critical=True)],
        key=key,
    )
    report = verify(leaf, root, strict=True)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert any(c.name == "profile" and "2 certificate(s)" in c.detail for c in report.checks), report.to_text()


def test_ca_profile_rules(factory: Factory, root: Node) -> None:
    key = factory.key()
    no_ski = factory.make(
        name("CA without SKI"),
        issuer=root,
        key=key,
        extensions=replace(ca_extensions(key.public_key, root.key.public_key), drop=["key_identifier"]),
    )
    key2 = factory.key()
    no_aki = factory.make(
        name("CA without AKI"), issuer=root, key=key2, extensions=replace(ca_extensions(key2.public_key, None))
    )
    key3 = factory.key()
    empty = factory.make(
        name("x").__class__.build({}),
        issuer=root,
        key=key3,
        extensions=ca_extensions(key3.public_key, root.key.public_key),
    )
    for ca, rule in ((no_ski, "ski-missing"), (no_aki, "aki-missing"), (empty, "ca-empty-subject")):
        leaf = factory.leaf("leaf", ca)
        assert verify(leaf, root, ca, strict=False).indication is Indication.TOTAL_PASSED
        report = verify(leaf, root, ca, strict=True)
        assert report.indication is Indication.TOTAL_FAILED, report.to_text()
        assert dict(report.details)["rule"] == rule, report.to_text()


def test_empty_issuer(factory: Factory) -> None:
    """The anchor is named by the empty name; what it issues has an empty issuer (x509-limbo ee-empty-issuer)."""
    key = factory.key()
    anchor = factory.make(
        name("named"),
        issuer_name=name("x").__class__.build({}),
        extensions=ca_extensions(key.public_key, None),
        key=key,
    )
    leaf = factory.leaf("leaf", anchor)
    report = verify(leaf, anchor, strict=True)
    assert report.indication is Indication.TOTAL_FAILED
    assert dict(report.details)["rule"] == "empty-issuer", report.to_text()


def test_self_signed_root_may_omit_aki_but_a_cross_signed_one_may_not(factory: Factory, root: Node) -> None:
    leaf = factory.leaf("leaf", root)
    assert verify(leaf, root, strict=True).indication is Indication.TOTAL_PASSED  # the root has no AKI
    key = factory.key()
    cross = factory.make(name("Cross"), issuer=root, key=key, extensions=ca_extensions(key.public_key, None))
    leaf2 = factory.leaf("leaf", cross)
    report = verify(leaf2, cross, strict=True)  # the cross-signed certificate as the anchor
    assert dict(report.details).get("rule") == "aki-missing", report.to_text()


def _trust_list_with(*certs: Node) -> TrustList:
    history = (StatusEntry("granted", NOW - timedelta(days=30), "enrolled"),)
    services = tuple(
        Service(id=f"svc-{i}", type="CA", family="ec", certificate=node.der, status_history=history)
        for i, node in enumerate(certs)
    )
    issuer = Issuer(id="issuer-1", kind="region", code="440000", name="test", status_history=history, services=services)
    return TrustList(
        sequence=1, issued_at=NOW, next_update=NOW + timedelta(days=1), operator="test", roots=(), issuers=(issuer,)
    )


def test_trust_list_members_are_always_checked(factory: Factory, root: Node) -> None:
    key = factory.key()
    member = factory.make(
        name("Listed CA without SKI"),
        issuer=root,
        key=key,
        extensions=replace(ca_extensions(key.public_key, root.key.public_key), drop=["key_identifier"]),
    )
    leaf = factory.leaf("leaf", member)
    base = context.build(anchors=[root.der], untrusted=[member.der])
    assert verify_certificate(leaf.der, base).indication is Indication.TOTAL_PASSED
    listed = dataclasses.replace(base, trust_list=_trust_list_with(member))
    report = verify_certificate(leaf.der, listed)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert dict(report.details)["rule"] == "ski-missing"
    assert "CA CN=Listed CA without SKI" in report.errors[0]


def test_cli_strict_flag(factory: Factory, root: Node, tmp_path) -> None:
    import subprocess
    import sys

    key = factory.key()
    leaf = factory.make(
        name("leaf"),
        issuer=root,
        key=key,
        extensions=replace(leaf_extensions(key.public_key, root.key.public_key), drop=["authority_key_identifier"]),
    )
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.pem)
    base = [
        sys.executable,
        "-m",
        "trust.cli.main",
        "verify",
        str(tmp_path / "leaf.pem"),
        "--anchor",
        str(tmp_path / "root.pem"),
        "--format",
        "json",
    ]
    assert subprocess.run(base, capture_output=True, timeout=120).returncode == 0
    run = subprocess.run([*base, "--strict"], capture_output=True, timeout=120)
    assert run.returncode == 1, run.stdout.decode() + run.stderr.decode()
    assert b'"rule": "aki-missing"' in run.stdout
