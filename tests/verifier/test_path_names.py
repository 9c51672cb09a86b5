"""Issue 12 items 2 and 3: iPAddress name constraints (they ended in a traceback) and malformed names (a dNSName
``.example.com`` under a permitted ``example.com`` passed).

pyhanko-certvalidator has no iPAddress containment check and reads dNSNames label by label without checking them;
:mod:`verifier.names` does both (RFC 5280 clauses 4.2.1.6, 4.2.1.10, 6.1.3 (b)-(c), 6.1.4 (g)).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import x509

from tests.support.chains import Factory, Node, dns, ip, name_constraints, raw_ip, san
from trust.crypto.errors import EncodingError
from trust.formats import x509 as cx
from verifier import context
from verifier.certificate import verify_certificate
from verifier.report import Indication, Report, SubIndication


@pytest.fixture(scope="module")
def factory() -> Factory:
    return Factory()


@pytest.fixture(scope="module")
def root(factory: Factory) -> Node:
    return factory.root()


def verify(leaf: Node, root: Node, *intermediates: Node) -> Report:
    ctx = context.build(anchors=[root.der], untrusted=[n.der for n in intermediates])
    return verify_certificate(leaf.der, ctx)


def chain(factory: Factory, root: Node, constraint: cx.Ext | None, *names: x509.GeneralName) -> tuple[Node, Node]:
    ca = factory.ca("Constrained CA", root, extra=[constraint] if constraint is not None else [])
    leaf = factory.leaf("leaf", ca, extra=[san(*names)] if names else [])
    return ca, leaf


def passed(report: Report) -> None:
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()


def refused(report: Report, rule: str) -> None:
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE, report.to_text()
    assert dict(report.details).get("rule") == rule, report.to_text()


# --- item 2: iPAddress subtrees, IPv4 and IPv6, with masks ------------------------------------------------------


@pytest.mark.parametrize(
    ("subtree", "address", "inside"),
    [
        ("192.0.2.0/24", "192.0.2.1", True),
        ("192.0.2.0/24", "192.0.2.255", True),
        ("192.0.2.0/24", "192.0.3.1", False),
        ("192.0.2.128/25", "192.0.2.127", False),
        ("192.0.2.128/25", "192.0.2.200", True),
        ("10.0.0.0/8", "10.255.0.1", True),
        ("0.0.0.0/0", "203.0.113.5", True),
        ("192.0.2.7/32", "192.0.2.7", True),
        ("192.0.2.7/32", "192.0.2.8", False),
        ("2001:db8::/32", "2001:db8:1::1", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("2001:db8:0:1::/64", "2001:db8:0:1:ffff::1", True),
        ("192.0.2.0/24", "::ffff:192.0.2.1", False),  # an IPv6 name is never inside an IPv4 subtree
        ("::/0", "192.0.2.1", False),  # nor the reverse
    ],
)
def test_permitted_ip_subtrees(factory: Factory, root: Node, subtree: str, address: str, inside: bool) -> None:
    ca, leaf = chain(factory, root, name_constraints(permitted=[ip(subtree)]), ip(address))
    report = verify(leaf, root, ca)
    if inside:
        passed(report)
    else:
        refused(report, "name-not-permitted")


def test_the_issue_chain_no_longer_ends_in_a_traceback(factory: Factory, root: Node, tmp_path: Path) -> None:
    """The issue's case through the command line: an intermediate permits 192.0.2.0/24, the leaf has IP SAN
    192.0.2.1 (exit 0), and one outside it (exit 1) — never a traceback."""
    ca, good = chain(factory, root, name_constraints(permitted=[ip("192.0.2.0/24")]), ip("192.0.2.1"))
    bad = factory.leaf("outside", ca, extra=[san(ip("198.51.100.1"))])
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    for leaf, code in ((good, 0), (bad, 1)):
        (tmp_path / "leaf.pem").write_bytes(leaf.pem)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "trust.cli.main",
                "verify",
                str(tmp_path / "leaf.pem"),
                "--anchor",
                str(tmp_path / "root.pem"),
                "--untrusted",
                str(tmp_path / "ca.pem"),
            ],
            capture_output=True,
            timeout=120,
        )
        assert run.returncode == code, run.stdout.decode() + run.stderr.decode()
        assert b"Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("excluded", "address", "out"),
    [
        ("192.0.2.0/24", "192.0.2.1", True),
        ("192.0.2.0/24", "198.51.100.1", False),
        ("0.0.0.0/0", "198.51.100.1", True),
        ("2001:db8::/32", "2001:db8::1", True),
        ("2001:db8::/32", "2001:db9::1", False),
    ],
)
def test_excluded_ip_subtrees(factory: Factory, root: Node, excluded: str, address: str, out: bool) -> None:
    ca, leaf = chain(factory, root, name_constraints(excluded=[ip(excluded)]), ip(address))
    report = verify(leaf, root, ca)
    if out:
        refused(report, "name-excluded")
    else:
        passed(report)


def test_ip_constraints_of_every_generation_apply(factory: Factory, root: Node) -> None:
    """Clause 6.1.4 (g): a later CA narrows (never widens) what an earlier one permits."""
    outer = factory.ca("Outer CA", root, extra=[name_constraints(permitted=[ip("192.0.2.0/24")])])
    inner = factory.ca("Inner CA", outer, extra=[name_constraints(permitted=[ip("198.51.100.0/24")])])
    leaf = factory.leaf("leaf", inner, extra=[san(ip("198.51.100.4"))])
    refused(verify(leaf, root, outer, inner), "name-not-permitted")


def test_ip_constraints_leave_other_name_forms_alone(factory: Factory, root: Node) -> None:
    ca, leaf = chain(factory, root, name_constraints(permitted=[ip("192.0.2.0/24")]), dns("www.example.com"))
    passed(verify(leaf, root, ca))


@pytest.mark.parametrize(
    "octets",
    [
        bytes.fromhex("c0000200ffffff"),  # 7 octets
        bytes.fromhex("c0000200"),  # an address without a mask
        bytes.fromhex("20010db8000000000000000000000000"),  # an IPv6 address without a mask
        bytes.fromhex("c0000200ffff00ff"),  # non-contiguous mask
        bytes.fromhex("c0000200ff00ff00"),
        bytes.fromhex("c0000201ffffff00"),  # 192.0.2.1/24: an address bit outside the mask
        b"",
    ],
    ids=["7-octets", "v4-no-mask", "v6-no-mask", "mask-gap", "mask-alternating", "host-bits", "empty"],
)
def test_invalid_ip_constraints_fail(factory: Factory, root: Node, octets: bytes) -> None:
    for where in ("permitted", "excluded"):
        constraint = name_constraints(**{where: [raw_ip(octets)]})  # type: ignore[arg-type]
        ca, leaf = chain(factory, root, constraint, dns("www.example.com"))
        refused(verify(leaf, root, ca), "ip-constraint-invalid")


@pytest.mark.parametrize(
    "octets", [b"", b"\xc0\x00\x02", b"\xc0\x00\x02\x01\x00", bytes(15), bytes(17), bytes.fromhex("c0000200ffffff00")]
)
def test_invalid_ip_names_fail_with_or_without_constraints(factory: Factory, root: Node, octets: bytes) -> None:
    _ca, direct = chain(factory, root, None)
    leaf = factory.leaf("bad ip", root, extra=[san(raw_ip(octets))])
    del direct
    refused(verify(leaf, root), "ip-address-invalid")


# --- item 3: dNSName syntax, in names and in constraints ---------------------------------------------------------


def test_the_issue_case_leading_dot_under_permitted_example_com(factory: Factory, root: Node) -> None:
    ca, leaf = chain(factory, root, name_constraints(permitted=[dns("example.com")]), dns(".example.com"))
    refused(verify(leaf, root, ca), "dns-name-invalid")


INVALID_DNS = {
    "empty": "",
    "leading-dot": ".example.com",
    "trailing-dot": "example.com.",
    "double-dot": "www..example.com",
    "space": "www.exa mple.com",
    "underscore": "_acme.example.com",
    "leading-hyphen": "-www.example.com",
    "trailing-hyphen": "www-.example.com",
    "label-64": "a" * 64 + ".example.com",
    "name-254": ".".join(["a" * 49] * 5) + ".abcd",  # 254 characters
    "wildcard-middle": "www.*.example.com",
    "partial-wildcard": "w*.example.com",
    "wildcard-tld": "*.com",
    "bare-wildcard": "*",
    "at-sign": "user@example.com",
}
VALID_DNS = {
    "plain": "www.example.com",
    "wildcard": "*.example.com",
    "digits": "1.example.com",
    "hyphen-inside": "a-b--c.example.com",
    "a-label": "xn--fsqu00a.xn--0zwm56d",
    "upper-case": "WWW.Example.COM",
    "label-63": "a" * 63 + ".example.com",
    "name-253": ".".join(["a" * 49] * 5) + ".abc",
    "single-label": "localhost",
}


@pytest.mark.parametrize("value", INVALID_DNS.values(), ids=INVALID_DNS.keys())
def test_invalid_dns_names_fail(factory: Factory, root: Node, value: str) -> None:
    leaf = factory.leaf("bad dns", root, extra=[san(dns(value))])
    refused(verify(leaf, root), "dns-name-invalid")


def test_non_ascii_dns_name_is_refused_when_the_certificate_is_read(factory: Factory, root: Node) -> None:
    """An IA5String dNSName holding UTF-8 does not even decode: the certificate is unreadable input (exit 3)."""
    leaf = factory.leaf("utf-8 dns", root, extra=[san(dns("例子.测试"))])
    with pytest.raises(EncodingError):
        verify(leaf, root)


@pytest.mark.parametrize("value", VALID_DNS.values(), ids=VALID_DNS.keys())
def test_valid_dns_names_pass(factory: Factory, root: Node, value: str) -> None:
    assert len(value) <= 253
    leaf = factory.leaf("good dns", root, extra=[san(dns(value))])
    passed(verify(leaf, root))


@pytest.mark.parametrize("value", [".example.com", "*.example.com", "exa mple.com", "example..com", "a" * 64 + ".com"])
def test_invalid_dns_constraints_fail(factory: Factory, root: Node, value: str) -> None:
    for where in ("permitted", "excluded"):
        constraint = name_constraints(**{where: [dns(value)]})  # type: ignore[arg-type]
        ca, leaf = chain(factory, root, constraint, dns("www.example.com"))
        refused(verify(leaf, root, ca), "dns-constraint-invalid")


@pytest.mark.parametrize(
    ("permitted", "value", "inside"),
    [
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", True),
        ("example.com", "a.b.example.com", True),
        ("example.com", "badexample.com", False),
        ("example.com", "example.com.evil.test", False),
        ("Example.COM", "www.EXAMPLE.com", True),
        ("www.example.com", "example.com", False),
        ("example.com", "*.example.com", True),
        ("www.example.com", "*.example.com", False),
        ("", "anything.example", True),
    ],
)
def test_dns_containment(factory: Factory, root: Node, permitted: str, value: str, inside: bool) -> None:
    ca, leaf = chain(factory, root, name_constraints(permitted=[dns(permitted)]), dns(value))
    report = verify(leaf, root, ca)
    if inside:
        passed(report)
    else:
        refused(report, "name-not-permitted")


@pytest.mark.parametrize(
    ("excluded", "value", "out"),
    [
        ("evil.test", "www.evil.test", True),
        ("evil.test", "notevil.test", False),
        ("", "www.example.com", True),  # the empty constraint covers every name
        ("foo.example.com", "*.example.com", True),  # the wildcard can stand for foo.example.com
        ("a.foo.example.com", "*.example.com", False),  # but not for a name two labels down
        ("other.test", "*.example.com", False),
    ],
)
def test_dns_exclusion(factory: Factory, root: Node, excluded: str, value: str, out: bool) -> None:
    ca, leaf = chain(factory, root, name_constraints(excluded=[dns(excluded)]), dns(value))
    report = verify(leaf, root, ca)
    if out:
        refused(report, "name-excluded")
    else:
        passed(report)


def test_unsupported_name_form_constrained_and_present_fails(factory: Factory, root: Node) -> None:
    """Clause 4.2.1.10: a constrained name form the verifier does not process must make the certificate fail."""
    other = x509.GeneralName(name="registered_id", value="1.2.156.112559.1")
    ca, leaf = chain(factory, root, name_constraints(permitted=[other]), other)
    refused(verify(leaf, root, ca), "name-form-unsupported")
    _ca2, plain = chain(factory, root, name_constraints(permitted=[other]), dns("www.example.com"))
    passed(verify(plain, root, _ca2))


def test_subtree_minimum_and_maximum_are_refused(factory: Factory, root: Node) -> None:
    constraint = cx.Ext(
        "name_constraints",
        {"permitted_subtrees": [{"base": dns("example.com"), "minimum": 1, "maximum": 3}]},
        critical=True,
    )
    ca, leaf = chain(factory, root, constraint, dns("www.example.com"))
    refused(verify(leaf, root, ca), "name-constraint-invalid")


def test_self_issued_intermediates_are_not_name_checked_but_leaves_are(factory: Factory) -> None:
    """Clause 6.1.3 (b): names of a self-issued certificate are checked only when it is the last one."""
    key = factory.key()
    from tests.support.chains import ca_extensions, name

    root = factory.root(
        "not-example.com",
        extensions=[*ca_extensions(key.public_key, None), name_constraints([dns("example.com")])],
        key=key,
    )
    rollover_key = factory.key()
    rollover = factory.make(
        name("not-example.com"),
        issuer=root,
        extensions=[*ca_extensions(rollover_key.public_key, key.public_key), san(dns("not-example.com"))],
        key=rollover_key,
    )
    leaf = factory.leaf("leaf", rollover, extra=[san(dns("www.example.com"))])
    passed(verify(leaf, root, rollover))
    last = factory.leaf(
        "not-example.com", rollover, subject=name("not-example.com"), extra=[san(dns("not-example.com"))]
    )
    refused(verify(last, root, rollover), "name-not-permitted")
