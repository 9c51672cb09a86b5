"""Issue 15 (branch crlsel): a certificate's verification handles only its own CRL partition.

A partitioned CA's CRLs each name their partition in an issuing distribution point, and each certificate names its
partition in its CRL distribution points. pyhanko-certvalidator finds the issuer of and checks the signature of
every CRL it is given before its scope test (RFC 5280 clause 6.3.3 (b)(2)) puts the other partitions aside, so the
cost of a verification grew with the CA's size. ``verifier.certificate._scoped_crls`` now gives it only the CRLs
that can be in scope (:mod:`verifier.crlscope`); a validation that ends neither valid nor revoked is done again with
every CRL, so reports do not change: each scenario here is compared with the report made with every CRL (the code
before this branch), and the count of CRL signature checks shows what pyhanko was given.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from asn1crypto import core
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator.revinfo import validate_crl

from tests.support.chains import NOW, Factory, Node
from trust.formats import crl as crl_format
from trust.formats import x509 as cx
from verifier import certificate, context, crlscope
from verifier.certificate import verify_certificate
from verifier.report import Indication, SubIndication

PARTITIONS = 12
URL = "http://crl.example.test/ca/{}.crl"


def _crl(
    ca: Node,
    partition: int | None,
    revoked: tuple[int, ...] = (),
    *,
    number: int = 1,
    fresh: bool = True,
    delta_base: int | None = None,
    forged: bool = False,
) -> bytes:
    """A CRL of ``ca`` for ``partition`` (``forged``: its signature no longer verifies)."""
    this_update = NOW - timedelta(hours=2 if fresh else 72)
    der = bytes(
        crl_format.build_crl(
            issuer=ca.cert.subject,
            issuer_key=ca.key.public_key,
            signer=ca.key.signer(),
            number=number,
            this_update=this_update,
            next_update=this_update + timedelta(hours=24),
            revoked=[crl_format.Revoked(serial, NOW - timedelta(hours=3), "key_compromise") for serial in revoked],
            distribution_point=None if partition is None else URL.format(partition),
            delta_base=delta_base,
        ).dump()
    )
    return der[:-1] + bytes([der[-1] ^ 1]) if forged else der


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    factory = Factory()
    root = factory.root("Partition Root")
    ca = factory.ca("Partition CA", root)
    leaves = {k: factory.leaf(f"leaf {k}", ca, extra=[cx.crl_distribution_point(URL.format(k))]) for k in (3, 7)}
    revoked = factory.leaf("revoked", ca, extra=[cx.crl_distribution_point(URL.format(3))])
    missing = factory.leaf("missing", ca, extra=[cx.crl_distribution_point(URL.format(PARTITIONS + 1))])
    shouting = factory.leaf(  # the same URI as partition 7's, written otherwise: equal for RFC 5280 (and asn1crypto)
        "shouting",
        ca,
        extra=[
            cx.crl_distribution_point(URL.format(7).replace("http://crl.example.test", "HTTP://CRL.Example.TEST:80"))
        ],
    )
    no_points = factory.leaf("no points", ca)
    partitions = {
        k: _crl(ca, k, (revoked.cert.serial_number,) if k == 3 else (), number=k) for k in range(1, PARTITIONS + 1)
    }
    return {
        "root": root,
        "ca": ca,
        "leaves": leaves,
        "revoked": revoked,
        "missing": missing,
        "shouting": shouting,
        "no_points": no_points,
        "partitions": partitions,
    }


def _context(pki: dict[str, Any], crls: list[bytes]) -> context.VerificationContext:
    return context.build(anchors=[pki["root"].der], untrusted=[pki["ca"].der], crls=crls, at=NOW)


def _partitions(pki: dict[str, Any], **replaced: bytes) -> list[bytes]:
    return [replaced.get(f"p{k}", der) for k, der in pki["partitions"].items()]


def _verify(
    cert: asn1_x509.Certificate, crls: list[bytes], pki: dict[str, Any], *, every: bool = False
) -> dict[str, Any]:
    """The report of ``cert`` against a fresh context; ``every``: as before this branch (every CRL of the issuer)."""
    ctx = _context(pki, crls)
    if not every:
        return verify_certificate(cert.dump(), ctx).to_dict()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(certificate, "_scoped_crls", lambda _cert, _ctx, _scope, relevant: relevant)
        return verify_certificate(cert.dump(), ctx).to_dict()


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The CRLs whose signature pyhanko checks (its ``_verify_crl_signature``), by their tbsCertList."""
    checked: list[bytes] = []
    original = validate_crl._verify_crl_signature

    def counting(certificate_list: asn1_crl.CertificateList, *args: Any, **kwargs: Any) -> Any:
        checked.append(bytes(certificate_list["tbs_cert_list"].dump()))
        return original(certificate_list, *args, **kwargs)

    monkeypatch.setattr(validate_crl, "_verify_crl_signature", counting)
    return checked


def _tbs(der: bytes) -> bytes:
    return bytes(asn1_crl.CertificateList.load(der)["tbs_cert_list"].dump())


def test_pyhanko_checks_only_the_certificate_s_partition(pki: dict[str, Any], signature_checks: list[bytes]) -> None:
    report = _verify(pki["leaves"][7].cert, _partitions(pki), pki)
    assert report["indication"] == Indication.TOTAL_PASSED.value
    assert signature_checks == [_tbs(pki["partitions"][7])]  # one partition of 12, not every one


def test_a_revoked_certificate_is_revoked_by_its_partition(pki: dict[str, Any], signature_checks: list[bytes]) -> None:
    report = _verify(pki["revoked"].cert, _partitions(pki), pki)
    assert (report["indication"], report["sub_indication"]) == (
        Indication.TOTAL_FAILED.value,
        SubIndication.REVOKED.value,
    )
    assert signature_checks == [_tbs(pki["partitions"][3])]
    assert report == _verify(pki["revoked"].cert, _partitions(pki), pki, every=True)


def test_a_certificate_of_the_same_partition_that_is_not_revoked_passes(pki: dict[str, Any]) -> None:
    report = _verify(pki["leaves"][3].cert, _partitions(pki), pki)
    assert report["indication"] == Indication.TOTAL_PASSED.value
    assert report == _verify(pki["leaves"][3].cert, _partitions(pki), pki, every=True)


def test_names_are_compared_as_rfc_5280_compares_them(pki: dict[str, Any], signature_checks: list[bytes]) -> None:
    report = _verify(pki["shouting"].cert, _partitions(pki), pki)
    assert report["indication"] == Indication.TOTAL_PASSED.value
    assert signature_checks == [_tbs(pki["partitions"][7])]


def test_the_delta_of_the_partition_stays_with_its_base(pki: dict[str, Any]) -> None:
    delta = _crl(pki["ca"], 7, number=PARTITIONS + 1, delta_base=7)
    other_delta = _crl(pki["ca"], 5, number=PARTITIONS + 2, delta_base=5)
    ctx = _context(pki, [*_partitions(pki), delta, other_delta])
    relevant, scoped = certificate._crl_positions(pki["leaves"][7].cert, ctx)
    assert relevant is None
    assert scoped is not None
    assert [ctx.crls[i] for i in scoped] == [pki["partitions"][7], delta]


# Ends that settle nothing: the report made with only the partitions in scope would explain the failure otherwise
# (pyhanko lists every partition it put aside among the reasons, and then never calls the data stale), so it is made
# again with every CRL: each equals the report before this branch.
UNSETTLED = {
    "partition missing": lambda pki: (pki["missing"], _partitions(pki)),
    "no distribution point": lambda pki: (pki["no_points"], _partitions(pki)),
    "partition stale": lambda pki: (pki["leaves"][7], _partitions(pki, p7=_crl(pki["ca"], 7, number=7, fresh=False))),
    "partition forged": lambda pki: (
        pki["leaves"][7],
        _partitions(pki, p7=_crl(pki["ca"], 7, number=7, forged=True)),
    ),
    "other partition forged": lambda pki: (
        pki["missing"],
        _partitions(pki, p5=_crl(pki["ca"], 5, number=5, forged=True)),
    ),
}


@pytest.mark.parametrize("scenario", sorted(UNSETTLED))
def test_unsettled_ends_read_as_before(pki: dict[str, Any], scenario: str) -> None:
    cert, crls = UNSETTLED[scenario](pki)
    report = _verify(cert.cert, crls, pki)
    assert report["indication"] == Indication.INDETERMINATE.value
    assert report == _verify(cert.cert, crls, pki, every=True)


def test_a_stale_partition_reads_as_before_not_as_stale(pki: dict[str, Any]) -> None:
    # pyhanko calls a failure stale only when nothing but freshness failed; with the other partitions at hand they
    # failed too (out of scope), so the report was TRY_LATER — and still is
    cert, crls = UNSETTLED["partition stale"](pki)
    assert _verify(cert.cert, crls, pki)["sub_indication"] == SubIndication.TRY_LATER.value


def test_a_crl_for_ca_certificates_only_is_left_out_for_a_leaf(pki: dict[str, Any]) -> None:
    ca = pki["ca"]
    der = _crl(ca, 7, number=7)
    partition = crlscope.partition(asn1_crl.CertificateList.load(der))
    assert partition is not None
    flagged = dataclasses.replace(partition, only_ca=True)  # onlyContainsCACerts
    leaf = crlscope.points(pki["leaves"][7].cert)
    assert leaf is not None
    assert partition.may_cover(crlscope.Wanted.of([leaf]))
    assert not flagged.may_cover(crlscope.Wanted.of([leaf]))
    as_ca = crlscope.Points(leaf.names, absent=False, ca=True)
    assert flagged.may_cover(crlscope.Wanted.of([as_ca]))


def test_what_cannot_be_compared_keeps_every_crl(pki: dict[str, Any]) -> None:
    relative = asn1_x509.DistributionPoint(
        {"distribution_point": {"name_relative_to_crl_issuer": asn1_x509.Name.build({"common_name": "p7"}).chosen[0]}}
    )
    assert (
        crlscope.names([asn1_x509.GeneralName(name="other_name", value={"type_id": "1.2.3", "value": core.Null()})])
        is None
    )
    factory = Factory()
    leaf = factory.leaf("relative", pki["ca"], extra=[cx.Ext("crl_distribution_points", [relative])])
    assert crlscope.points(leaf.cert) is None
    ctx = _context(pki, _partitions(pki))
    relevant, scoped = certificate._crl_positions(leaf.cert, ctx)
    assert scoped == relevant  # nothing left out
