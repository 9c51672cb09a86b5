"""A PDF time-stamp whose TSA was valid when it stamped but has expired or been revoked since is no longer a proof of
existence: INDETERMINATE (OUT_OF_BOUNDS_NO_POE / REVOKED_NO_POE), not TOTAL_FAILED (issue sesltv; the GB/T 38540
verifier's rule, tests/verifier/test_ses_tsa_ltv.py). The signature and the document time-stamp are not proven false.

A small PKI of its own (tests.support.chains: a root, a P-256 signer, an RSA TSA — pyHanko's dummy time-stamper
signs with RSA only) and fresh CRLs by the root at every validation time, so the TSA's expiry and revocation are what
is judged (with the golden world's CRLs, stale years later, the TSA path is TRY_LATER first). No trust list.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.support import golden
from tests.support.chains import Factory, Node, ca_extensions, name
from trust.crypto.keys import generate_private_key
from trust.formats import crl as crl_format
from trust.formats import x509 as cx
from verifier import context
from verifier.pdf.verify import verify_pdf
from verifier.report import Finding, Indication, Report, SubIndication

GEN_TIME = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)  # pyHanko writes /M at the real clock
TSA_END = GEN_TIME + timedelta(days=100)
REVOKED_AT = GEN_TIME + timedelta(days=20)
ARCHIVED_AT = GEN_TIME + timedelta(hours=1)  # the genTime of the later document time-stamp by the long-lived TSA


@dataclass(frozen=True)
class Signed:
    root: Node
    tsa: Node
    archive_tsa: Node  # a second TSA, valid for ten years
    b_t: bytes  # a signature with a signature time-stamp (PAdES B-T)
    stamped: bytes  # the same followed by a document time-stamp by the same TSA
    b_lta: bytes  # the B-T signature followed by a document time-stamp by the long-lived TSA at ARCHIVED_AT
    chained: bytes  # ``stamped`` followed by a document time-stamp by the long-lived TSA at ARCHIVED_AT


def _tsa(factory: Factory, root: Node, cn: str, not_after: datetime) -> Node:
    key = generate_private_key("rsa-2048")
    return factory.make(
        name(cn),
        issuer=root,
        key=key,
        not_before=GEN_TIME - timedelta(days=10),
        not_after=not_after,
        extensions=[
            cx.basic_constraints(False),
            cx.key_usage({"digital_signature"}),
            cx.extended_key_usage(["time_stamping"], critical=True),
            cx.subject_key_identifier(key.public_key),
            cx.authority_key_identifier(root.key.public_key),
        ],
    )


def _pki() -> tuple[Node, Node, Node, Node]:
    factory = Factory()
    start = GEN_TIME - timedelta(days=10)
    root_key = factory.key()
    root = factory.make(
        name("PDF LTV Root"),
        extensions=ca_extensions(root_key.public_key, None),
        key=root_key,
        not_before=start,
        not_after=GEN_TIME + timedelta(days=3650),
    )
    tsa = _tsa(factory, root, "PDF LTV TSA", TSA_END)
    archive_tsa = _tsa(factory, root, "PDF LTV Archive TSA", GEN_TIME + timedelta(days=3650))
    signer = factory.leaf("PDF LTV Signer", root, not_before=start, not_after=GEN_TIME + timedelta(days=3000))
    return root, tsa, archive_tsa, signer


@pytest.fixture(scope="module")
def signed() -> Signed:
    root, tsa, archive_tsa, signer_node = _pki()
    # pyHanko takes the keys as PKCS#8 structures; these test keys certify nothing outside this module.
    signer = signers.SimpleSigner(
        signing_cert=signer_node.cert,
        signing_key=signer_node.key._private_key_info(),
        cert_registry=SimpleCertificateStore.from_certs([root.cert]),
    )
    stamper = DummyTimeStamper(tsa.cert, tsa.key._private_key_info(), fixed_dt=GEN_TIME)
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES)
    b_t = (
        signers.PdfSigner(meta, signer=signer, timestamper=stamper)
        .sign_pdf(IncrementalPdfFileWriter(io.BytesIO(golden.read("pdf/base.pdf"))))
        .getvalue()
    )
    stamped = (
        signers.PdfTimeStamper(stamper).timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(b_t)), "sha256").getvalue()
    )
    archiver = DummyTimeStamper(archive_tsa.cert, archive_tsa.key._private_key_info(), fixed_dt=ARCHIVED_AT)
    b_lta = (
        signers.PdfTimeStamper(archiver).timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(b_t)), "sha256").getvalue()
    )
    chained = (
        signers.PdfTimeStamper(archiver)
        .timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(stamped)), "sha256")
        .getvalue()
    )
    return Signed(root, tsa, archive_tsa, b_t, stamped, b_lta, chained)


def _verify(signed: Signed, pdf: bytes, at: datetime, revoked: list[crl_format.Revoked] | None = None) -> Report:
    issued = at - timedelta(days=1)
    crl = crl_format.build_crl(
        issuer=signed.root.cert.subject,
        issuer_key=signed.root.key.public_key,
        signer=signed.root.key.signer(),
        number=1,
        this_update=issued,
        next_update=issued + timedelta(days=30),
        revoked=revoked or [],
    )
    ctx = context.build(at=at, anchors=[signed.root.der], crls=[bytes(crl.dump())], purpose="any", environ={})
    return verify_pdf(pdf, ctx)


def _finding(report: Report, name: str) -> tuple[Indication | None, SubIndication | None]:
    check = next(c for c in report.checks if c.name == name)
    assert isinstance(check, Finding), report.to_text()
    return check.indication, check.sub_indication


def test_a_b_t_signature_passes_while_its_tsa_is_valid(signed: Signed) -> None:
    report = _verify(signed, signed.b_t, TSA_END - timedelta(days=1))
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()


def test_an_expired_tsa_makes_the_signature_time_stamp_indeterminate(signed: Signed) -> None:
    """After the TSA certificate's notAfter (fresh CRLs: the expiry is what is judged), the signature time-stamp is
    INDETERMINATE / OUT_OF_BOUNDS_NO_POE and so is the signature. Before issue sesltv: TOTAL_FAILED / EXPIRED, a
    valid signature declared invalid because its TSA aged."""
    report = _verify(signed, signed.b_t, TSA_END + timedelta(days=1))
    signature = report.children[0]
    assert _finding(signature, "signature-timestamp") == (
        Indication.INDETERMINATE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    ), signature.to_text()
    assert "proves no time" in signature.to_text()
    assert report.indication is Indication.INDETERMINATE, report.to_text()


def test_a_tsa_revoked_after_gen_time_makes_the_signature_time_stamp_indeterminate(signed: Signed) -> None:
    """Revoked after genTime (key compromise): REVOKED_NO_POE, not TOTAL_FAILED / REVOKED as before issue sesltv."""
    revoked = [crl_format.Revoked(signed.tsa.cert.serial_number, REVOKED_AT, "key_compromise")]
    report = _verify(signed, signed.b_t, REVOKED_AT + timedelta(days=5), revoked)
    signature = report.children[0]
    assert _finding(signature, "signature-timestamp") == (
        Indication.INDETERMINATE,
        SubIndication.REVOKED_NO_POE,
    ), signature.to_text()
    assert report.indication is Indication.INDETERMINATE, report.to_text()


def test_a_tsa_revoked_before_gen_time_still_fails(signed: Signed) -> None:
    """Revoked before the token's genTime: the token was made with a revoked key — TOTAL_FAILED / REVOKED, unchanged."""
    revoked = [crl_format.Revoked(signed.tsa.cert.serial_number, GEN_TIME - timedelta(hours=1), "key_compromise")]
    report = _verify(signed, signed.b_t, GEN_TIME + timedelta(days=2), revoked)
    signature = report.children[0]
    assert _finding(signature, "signature-timestamp") == (Indication.TOTAL_FAILED, SubIndication.REVOKED)


def test_an_expired_tsa_makes_a_document_time_stamp_indeterminate(signed: Signed) -> None:
    """A /DocTimeStamp whose TSA has expired since is no proof either: INDETERMINATE / OUT_OF_BOUNDS_NO_POE (before
    issue sesltv: TOTAL_FAILED / EXPIRED). The day before, it passes."""
    assert _verify(signed, signed.stamped, TSA_END - timedelta(days=1)).indication is Indication.TOTAL_PASSED
    report = _verify(signed, signed.stamped, TSA_END + timedelta(days=1))
    stamp = next(child for child in report.children if child.kind == "pdf-timestamp")
    assert _finding(stamp, "signer-certificate") == (
        Indication.INDETERMINATE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    ), stamp.to_text()
    assert report.indication is Indication.INDETERMINATE, report.to_text()


def test_a_later_document_time_stamp_carries_the_signature_time_stamp_past_its_tsa(signed: Signed) -> None:
    """PAdES B-LTA: the signature time-stamp's TSA has expired, but a document time-stamp by a TSA still valid proves
    the token existed at its genTime (ARCHIVED_AT), when the first TSA was valid — so the token proves its time and
    the signature passes (ETSI EN 319 102-1 past signature validation). The B-T file alone is INDETERMINATE then.
    Before issue sesltv: TOTAL_FAILED / EXPIRED for both files."""
    at = TSA_END + timedelta(days=1)
    report = _verify(signed, signed.b_lta, at)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    signature = next(child for child in report.children if child.kind == "pdf-signature")
    stamp = next(c for c in signature.checks if c.name == "signature-timestamp")
    assert "later document time-stamp" in stamp.detail and ARCHIVED_AT.isoformat() in stamp.detail, stamp.detail
    assert dict(signature.details)["signing_time_source"] == "time-stamp"
    assert _verify(signed, signed.b_t, at).indication is Indication.INDETERMINATE


def test_a_later_document_time_stamp_does_not_cure_a_revocation_before_it(signed: Signed) -> None:
    """The first TSA revoked after the signature's genTime but before the document time-stamp: judged at the document
    time-stamp's genTime it is revoked already, so the token is no proof (REVOKED_NO_POE). Revoked after the document
    time-stamp, the token stands."""
    at = REVOKED_AT + timedelta(days=5)
    before = [crl_format.Revoked(signed.tsa.cert.serial_number, ARCHIVED_AT - timedelta(minutes=30), "key_compromise")]
    signature = next(c for c in _verify(signed, signed.b_lta, at, before).children if c.kind == "pdf-signature")
    assert _finding(signature, "signature-timestamp") == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
    after = [crl_format.Revoked(signed.tsa.cert.serial_number, REVOKED_AT, "key_compromise")]
    report = _verify(signed, signed.b_lta, at, after)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()


def test_a_later_document_time_stamp_carries_an_earlier_one(signed: Signed) -> None:
    """Two document time-stamps: the first by the TSA that has expired, the second by the long-lived one. The second
    proves the first (and the signature time-stamp) existed at ARCHIVED_AT, when the first TSA was valid: everything
    passes. Without the second, the first is INDETERMINATE / OUT_OF_BOUNDS_NO_POE (the test above)."""
    report = _verify(signed, signed.chained, TSA_END + timedelta(days=1))
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    first = next(child for child in report.children if child.kind == "pdf-timestamp")
    certificate = next(c for c in first.checks if c.name == "signer-certificate")
    assert "later document time-stamp" in certificate.detail, first.to_text()
