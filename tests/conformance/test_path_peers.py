"""Huren's path-validation verdicts (issue 12 items 1-4) next to two independent validators on the same generated
chains: OpenSSL's command line (``openssl verify``, at its default settings and with ``-x509_strict``) and
pyca/cryptography's verifier (``PolicyBuilder().build_client_verifier()``, its only profile).

Pairs: Huren's default profile with ``openssl verify``; Huren's ``--strict`` profile with ``openssl verify
-x509_strict`` and with pyca/cryptography (a Web PKI profile that always enforces CA-profile rules). Every scenario
asserts Huren's verdicts, and that each peer gives the same verdict unless :data:`DIFFERENCES` names the pair, with the
reason. The chains are ECDSA P-256, made by :mod:`tests.support.chains` (Huren's builder); leaves carry keyUsage
digitalSignature and extendedKeyUsage clientAuth, as pyca's client profile wants.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from cryptography import x509 as pyca_x509
from cryptography.x509.verification import PolicyBuilder, Store

from tests.conftest import require_tool
from tests.support.chains import (
    NOW,
    Factory,
    Node,
    ca_extensions,
    dirname,
    dns,
    ip,
    leaf_extensions,
    name,
    name_constraints,
    raw_ip,
    replace,
    san,
    unknown_critical,
)
from trust.crypto.keys import PrivateKey
from trust.formats import x509 as cx
from verifier import context
from verifier.certificate import verify_certificate
from verifier.report import Indication

pytestmark = pytest.mark.external


@dataclass(frozen=True)
class Scenario:
    anchor: Node
    intermediates: tuple[Node, ...]
    leaf: Node
    huren: bool  # TOTAL_PASSED under the default profile
    huren_strict: bool  # TOTAL_PASSED under --strict


def _root(factory: Factory, *extra: cx.Ext, **kwargs: Any) -> Node:
    key = factory.key()
    return factory.root(extensions=[*ca_extensions(key.public_key, None), *extra], key=key, **kwargs)


def _plain_leaf(factory: Factory, issuer: Node, *names: x509.GeneralName) -> Node:
    return factory.leaf("leaf", issuer, extra=[san(*names)])


def _with_root(
    factory: Factory, root: Node, *names: x509.GeneralName, ca_extra: tuple[cx.Ext, ...] = ()
) -> tuple[Node, Node]:
    ca = factory.ca("Issuing CA", root, extra=list(ca_extra))
    return ca, _plain_leaf(factory, ca, *names)


def _leaf_with(factory: Factory, root: Node, change: Callable[[Node, PrivateKey], list[cx.Ext]]) -> Scenario:
    ca = factory.ca("Issuing CA", root)
    key = factory.key()
    leaf = factory.make(name("leaf"), issuer=ca, key=key, extensions=change(ca, key))
    return Scenario(root, (ca,), leaf, True, False)


@cache
def scenarios() -> dict[str, Scenario]:
    f = Factory()
    out: dict[str, Scenario] = {}
    www = dns("www.example.com")

    def add(label: str, root: Node, names: tuple[object, ...], ok: bool, ok_strict: bool, **kw: object) -> None:
        ca, leaf = _with_root(f, root, *names, **kw)  # type: ignore[arg-type]
        out[label] = Scenario(root, (ca,), leaf, ok, ok_strict)

    add("good", _root(f), (www,), True, True)
    add(
        "root-permits-dns-leaf-outside",
        _root(f, name_constraints([dns("example.com")])),
        (dns("www.evil.test"),),
        False,
        False,
    )
    add("root-permits-dns-leaf-inside", _root(f, name_constraints([dns("example.com")])), (www,), True, True)
    add(
        "root-excludes-ip-leaf-inside",
        _root(f, name_constraints(excluded=[ip("192.0.2.0/24")])),
        (ip("192.0.2.1"),),
        False,
        False,
    )
    add(
        "root-permits-ipv6-leaf-inside",
        _root(f, name_constraints([ip("2001:db8::/32")])),
        (ip("2001:db8::7"),),
        True,
        True,
    )
    add(
        "root-permits-dirname-ca-outside",
        _root(f, name_constraints([dirname(country_name="CN", organization_name="Huren")])),
        (www,),
        False,
        False,
    )
    add(
        "ca-permits-ip-leaf-inside",
        _root(f),
        (ip("192.0.2.1"),),
        True,
        True,
        ca_extra=(name_constraints([ip("192.0.2.0/24")]),),
    )
    add(
        "ca-permits-ip-leaf-outside",
        _root(f),
        (ip("198.51.100.1"),),
        False,
        False,
        ca_extra=(name_constraints([ip("192.0.2.0/24")]),),
    )
    add(
        "ca-excludes-dns-leaf-inside",
        _root(f),
        (dns("www.evil.test"),),
        False,
        False,
        ca_extra=(name_constraints(excluded=[dns("evil.test")]),),
    )
    add(
        "root-expired",
        _root(f, not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=1)),
        (www,),
        False,
        False,
    )
    add("root-unknown-critical-extension", _root(f, unknown_critical()), (www,), False, False)
    add(
        "root-path-length-0",
        f.root(extensions=ca_extensions((k := f.key()).public_key, None, path_len=0), key=k),
        (www,),
        False,
        False,
    )
    k = f.key()
    add(
        "root-without-basic-constraints",
        f.root(extensions=replace(ca_extensions(k.public_key, None), drop=["basic_constraints"]), key=k),
        (www,),
        False,
        False,
    )
    k = f.key()
    add(
        "root-basic-constraints-not-critical",
        f.root(
            extensions=replace(
                ca_extensions(k.public_key, None), cx.Ext("basic_constraints", {"ca": True}, critical=False)
            ),
            key=k,
        ),
        (www,),
        False,
        False,
    )
    k = f.key()
    add(
        "root-without-key-cert-sign",
        f.root(extensions=replace(ca_extensions(k.public_key, None), cx.key_usage({"crl_sign"})), key=k),
        (www,),
        False,
        False,
    )
    add(
        "leading-dot-dns-under-permitted",
        _root(f),
        (dns(".example.com"),),
        False,
        False,
        ca_extra=(name_constraints([dns("example.com")]),),
    )
    add(
        "ip-constraint-of-4-octets",
        _root(f),
        (ip("192.0.2.1"),),
        False,
        False,
        ca_extra=(name_constraints([raw_ip(bytes.fromhex("c0000200"))]),),
    )
    add(
        "ip-constraint-mask-not-contiguous",
        _root(f),
        (ip("192.0.2.1"),),
        False,
        False,
        ca_extra=(name_constraints([raw_ip(bytes.fromhex("c0000200ff00ff00"))]),),
    )

    root = _root(f)
    out["leaf-without-aki"] = _leaf_with(
        f,
        root,
        lambda ca, k: replace(
            leaf_extensions(k.public_key, ca.key.public_key), san(www), drop=["authority_key_identifier"]
        ),
    )
    out["leaf-aki-critical"] = _leaf_with(
        f,
        root,
        lambda ca, k: replace(
            leaf_extensions(k.public_key, ca.key.public_key),
            san(www),
            cx.Ext("authority_key_identifier", {"key_identifier": ca.key.public_key.key_identifier()}, True),
        ),
    )
    out["leaf-key-cert-sign"] = _leaf_with(
        f,
        root,
        lambda ca, k: replace(
            leaf_extensions(k.public_key, ca.key.public_key),
            san(www),
            cx.key_usage({"digital_signature", "key_cert_sign"}),
        ),
    )
    out["leaf-name-constraints"] = _leaf_with(
        f,
        root,
        lambda ca, k: [
            *leaf_extensions(k.public_key, ca.key.public_key),
            san(www),
            name_constraints([dns("example.com")]),
        ],
    )
    ca = f.ca("Issuing CA", root)
    key = f.key()
    duplicate = f.make(
        name("leaf"),
        issuer=ca,
        key=key,
        extensions=[*leaf_extensions(key.public_key, ca.key.public_key), san(www)],
        duplicate=san(dns("www.evil.test")),
    )
    out["leaf-duplicate-san"] = Scenario(root, (ca,), duplicate, False, False)
    key = f.key()
    no_ski = f.make(
        name("CA without SKI"),
        issuer=root,
        key=key,
        extensions=replace(ca_extensions(key.public_key, root.key.public_key), drop=["key_identifier"]),
    )
    out["ca-without-ski"] = Scenario(root, (no_ski,), _plain_leaf(f, no_ski, www), True, False)
    return out  # fmt: skip


DIFFERENCES: dict[tuple[str, str], str] = {
    ("root-without-basic-constraints", "openssl"): "OpenSSL trusts an anchor by fiat at its default settings; "
    "-x509_strict, pyca and Huren require basicConstraints cA in an issuing anchor (RFC 5937, issue 12 item 1)",
    ("root-basic-constraints-not-critical", "openssl"): "as above: only -x509_strict checks the anchor's extensions",
    ("leading-dot-dns-under-permitted", "openssl"): "OpenSSL compares the right-hand labels and accepts "
    "'.example.com' under 'example.com'; pyca and Huren refuse a dNSName with an empty label (RFC 1034 syntax)",
    ("leading-dot-dns-under-permitted", "openssl-strict"): "as above",
    ("ip-constraint-mask-not-contiguous", "openssl"): "OpenSSL masks bit by bit, so a mask with holes still matches; "
    "pyca and Huren refuse a mask that is not a CIDR prefix",
    ("ip-constraint-mask-not-contiguous", "openssl-strict"): "as above",
    ("leaf-aki-critical", "openssl"): "OpenSSL 3.0 does not process a critical authorityKeyIdentifier and fails it as "
    "an unhandled critical extension under every setting; Huren reads the extension and refuses the criticality "
    "only under --strict (a CA-profile rule, RFC 5280 clause 4.2.1.1)",
    ("leaf-name-constraints", "openssl-strict"): "OpenSSL's -x509_strict does not check name constraints in an "
    "end-entity certificate; pyca and Huren --strict do (RFC 5280 clause 4.2.1.10)",
    ("ca-without-ski", "pyca"): "pyca/cryptography does not require subjectKeyIdentifier in CA certificates; "
    "OpenSSL -x509_strict and Huren --strict do (RFC 5280 clause 4.2.1.2)",
}


def _huren(scenario: Scenario, *, strict: bool) -> bool:
    ctx = context.build(anchors=[scenario.anchor.der], untrusted=[n.der for n in scenario.intermediates], strict=strict)
    return verify_certificate(scenario.leaf.der, ctx).indication is Indication.TOTAL_PASSED


def _openssl(scenario: Scenario, tmp_path: Path, *, strict: bool) -> bool:
    (tmp_path / "anchor.pem").write_bytes(scenario.anchor.pem)
    (tmp_path / "untrusted.pem").write_bytes(b"".join(n.pem for n in scenario.intermediates))
    (tmp_path / "leaf.pem").write_bytes(scenario.leaf.pem)
    command = [require_tool("openssl"), "verify", "-CAfile", str(tmp_path / "anchor.pem")]
    command += ["-untrusted", str(tmp_path / "untrusted.pem")]
    command += ["-x509_strict"] if strict else []
    result = subprocess.run([*command, str(tmp_path / "leaf.pem")], capture_output=True, timeout=60, check=False)
    return result.returncode == 0


def _pyca(scenario: Scenario) -> bool:
    verifier = (
        PolicyBuilder()
        .store(Store([pyca_x509.load_der_x509_certificate(scenario.anchor.der)]))
        .time(NOW)
        .build_client_verifier()
    )
    try:
        verifier.verify(
            pyca_x509.load_der_x509_certificate(scenario.leaf.der),
            [pyca_x509.load_der_x509_certificate(n.der) for n in scenario.intermediates],
        )
    except pyca_x509.verification.VerificationError:
        return False
    return True


def _compare(label: str, peer: str, huren: bool, theirs: bool) -> None:
    reason = DIFFERENCES.get((label, peer))
    if reason is None:
        assert theirs is huren, f"{label}: {peer} says {theirs}, Huren {huren}"
    else:
        assert theirs is not huren, f"{label}: the documented difference with {peer} is gone ({reason})"


@pytest.mark.parametrize("label", list(scenarios()))
def test_huren_and_its_peers(label: str, tmp_path: Path) -> None:
    scenario = scenarios()[label]
    huren, strict = _huren(scenario, strict=False), _huren(scenario, strict=True)
    assert (huren, strict) == (scenario.huren, scenario.huren_strict), label
    _compare(label, "openssl", huren, _openssl(scenario, tmp_path, strict=False))
    _compare(label, "openssl-strict", strict, _openssl(scenario, tmp_path, strict=True))
    _compare(label, "pyca", strict, _pyca(scenario))


def test_every_documented_difference_is_a_scenario() -> None:
    assert {label for label, _peer in DIFFERENCES} <= set(scenarios())
