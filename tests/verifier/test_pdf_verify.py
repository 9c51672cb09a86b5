"""Sealed PDFs verify offline (``verifier.pdf.verify``): every PAdES level and algorithm family the product seals with,
several seals on one document, a revoked signer, the command line, and pyHanko's own validator as the peer.

The world is built for this module (seals and a revocation change its state); the verifier sees only the signed
offline bundle and the pinned root fingerprints. The network is blocked for every test here (conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509

from tests.conftest import REPO
from tests.support import pdfs
from tests.support.pdfs import PREPARED, SealingWorld, append_update, form_xobject, raw_object
from trust.formats import x509 as cx
from trust.service import seals
from verifier import api
from verifier.report import Indication, Report, Result, SubIndication

FAMILIES = ("SM2", "RSA", "dual")
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@pytest.fixture(scope="module")
def sealing(tmp_path_factory: pytest.TempPathFactory) -> SealingWorld:
    return pdfs.sealing_world(tmp_path_factory.mktemp("pdf-verify"))


@pytest.fixture(scope="module")
def base() -> bytes:
    return pdfs.base_pdf(2)


@pytest.fixture(scope="module")
def sealed(sealing: SealingWorld, base: bytes) -> dict[tuple[str, str], bytes]:
    return {(family, level): sealing.seal(base, family=family, level=level) for family in FAMILIES for level in LEVELS}


@pytest.fixture(scope="module")
def ctx(sealing: SealingWorld, sealed: dict[tuple[str, str], bytes]):
    return sealing.context()


def check(report: Report, name: str):
    found = [c for c in report.checks if c.name == name]
    assert found, f"no check {name!r} in {[c.name for c in report.checks]}"
    return found[-1]


def details(report: Report) -> dict:
    return dict(report.details)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("family", FAMILIES)
def test_sealed_pdf_verifies_offline(
    family: str, level: str, sealed: dict[tuple[str, str], bytes], sealing, ctx
) -> None:
    data = sealed[(family, level)]
    report = api.verify(data, ctx)
    assert report.kind == "pdf"
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    signatures = [c for c in report.children if c.kind == "pdf-signature"]
    stamps = [c for c in report.children if c.kind == "pdf-timestamp"]
    assert [details(s)["signature_algorithm"] for s in signatures] == (
        ["sm2_sm3", "sha256_rsa"] if family == "dual" else ["sm2_sm3" if family == "SM2" else "sha256_rsa"]
    )
    assert len(stamps) == (1 if level == "B-LTA" else 0)
    for signature in signatures:
        assert signature.indication is Indication.TOTAL_PASSED
        info = details(signature)
        assert info["seal"] == sealing.es_id
        assert info["subfilter"] == "/ETSI.CAdES.detached"
        assert info["coverage"] in ("entire-file", "entire-revision")
        assert "uncovered" not in info
        assert [c.result for c in signature.checks if c.name not in {"signing-time", "signature-timestamp"}] == [
            Result.PASSED
        ] * (len(signature.checks) - 2)
        assert signature.chain[-1].source == "anchor"
        if level == "B-B":
            assert info["signing_time_source"] == "claimed"
            assert check(signature, "signing-time").result is Result.WARNING
            assert any("claimed by the signer" in w for w in signature.warnings)
        else:
            assert info["signing_time_source"] == "time-stamp"
            assert len(info["timestamps"]) == 1
            assert check(signature, "signature-timestamp").result is Result.PASSED
        seal_reports = [c for c in signature.children if c.kind == "seal"]
        assert len(seal_reports) == 1 and seal_reports[0].passed
    if level in ("B-LT", "B-LTA"):
        assert not details(report)["validation_data"].startswith("0 certificates, 0 CRLs")
    for stamp in stamps:
        assert stamp.indication is Indication.TOTAL_PASSED
        assert details(stamp)["modifications"] in ("none", "lta-updates")
    # The peer: pyHanko's own validator (with the same anchors, CRLs and Huren's SM2 validator) agrees.
    peer = pdfs.pyhanko_validate(data, ctx)
    assert [name for name, _ in peer] == [details(c)["field"] for c in report.children]
    assert all(pdfs.pyhanko_accepts(status) for _, status in peer), peer


def test_each_signature_reports_what_followed_it(sealed: dict[tuple[str, str], bytes], ctx) -> None:
    """A dual B-LTA seal: the SM2 signature is followed by the RSA signature, DSS updates and a document
    time-stamp — all permitted — and each signature covers exactly its own revision."""
    report = api.verify(sealed[("dual", "B-LTA")], ctx)
    first, second, stamp = report.children
    assert details(first)["modifications"] == "lta-updates"
    assert details(first)["changed_fields"] == [details(second)["field"]]
    revisions = [tuple(int(n) for n in details(c)["signed_revision"].split(" of ")) for c in report.children]
    assert revisions[0][0] < revisions[1][0] < revisions[2][0] <= revisions[2][1]
    assert len({total for _revision, total in revisions}) == 1
    assert details(first)["covered_bytes"] < details(second)["covered_bytes"] < details(stamp)["covered_bytes"]


def test_several_seals_on_one_document_all_pass(sealing: SealingWorld, base: bytes) -> None:
    second_seal = sealing.new_seal("财务专用章")
    data = sealing.seal(base, family="SM2", level="B-T")
    data = sealing.seal(data, family="RSA", level="B-LT", es_id=second_seal, page=2)
    data = sealing.seal(data, family="dual", level="B-LTA")
    ctx = sealing.context()
    report = api.verify(data, ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    kinds = [c.kind for c in report.children]
    assert kinds == ["pdf-signature"] * 4 + ["pdf-timestamp"]
    assert [details(c).get("seal") for c in report.children[:4]] == [
        sealing.es_id,
        second_seal,
        sealing.es_id,
        sealing.es_id,
    ]
    assert all(c.passed for c in report.children)
    assert details(report.children[0])["modifications"] == "lta-updates"
    assert all(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(data, ctx))


def test_unsigned_pdf_is_not_a_sealed_document(base: bytes, ctx) -> None:
    report = api.verify(base, ctx)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert report.errors == ("signatures: the PDF carries no signature",)
    assert report.children == ()


def test_permitted_form_filling_after_a_certification_signature(sealing: SealingWorld) -> None:
    """The middle category of the modification rule: a certification signature that allows form filling (DocMDP
    P=2) keeps passing after a form field is filled — with a warning naming the field."""
    certified = pdfs.sign_with_pyhanko(sealing.instance, pdfs.prepared_pdf(), sealing.keys, level="B-T", certify=True)
    field = (
        raw_object(certified, PREPARED["note"])
        .replace(b"/V ()", b"/V (checked)")
        .replace(b"/AP << /N 11 0 R >>", b"/AP << /N 950 0 R >>")
    )
    filled = append_update(
        certified,
        {
            PREPARED["note"]: field,
            950: form_xobject(b"BT 0 g /F1 12 Tf 2 12 Td (checked) Tj ET", (0, 0, 340, 40)),
        },
    )
    ctx = sealing.context()
    report = api.verify(filled, ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    (signature,) = report.children
    assert details(signature)["modifications"] == "form-filling"
    assert "allowed by the certification signature (DocMDP P=2)" in check(signature, "modifications").detail
    assert any("note" in w and "not signed" in w for w in signature.warnings)
    assert all(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(filled, ctx))


def test_claimed_signing_time_cannot_outlive_the_certificate(sealed: dict[tuple[str, str], bytes], sealing) -> None:
    """Four years on, the seal certificate (three years) has expired: a B-B seal, whose time is only claimed, is
    INDETERMINATE — nothing proves it was made while the certificate was valid."""
    later = sealing.context(at=datetime.now(UTC) + timedelta(days=4 * 365))
    report = api.verify(sealed[("SM2", "B-B")], later)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE
    (signature,) = report.children
    assert "only claimed" in check(signature, "signer-certificate").detail
    assert check(signature, "signer-certificate").result is Result.FAILED


# --- revocation --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def revoked(sealing: SealingWorld, base: bytes) -> dict[str, bytes]:
    """A seal whose certificates are revoked after two documents were sealed with it (B-B and B-T), plus documents
    signed with the revoked SM2 key afterwards (B-B: claimed time after the revocation; B-T: time-stamp after it)."""
    es_id = sealing.new_seal("作废专用章")
    made = {"B-B": sealing.seal(base, level="B-B", es_id=es_id), "B-T": sealing.seal(base, level="B-T", es_id=es_id)}
    keys = pdfs.seal_keys(sealing.instance, es_id)
    time.sleep(1.1)  # revocation times have whole seconds: keep them strictly after the time-stamps
    seals.set_status(sealing.instance, es_id, "revoked", "key compromise")
    time.sleep(1.1)
    made["B-B after"] = pdfs.sign_with_pyhanko(sealing.instance, base, keys, level="B-B")
    made["B-T after"] = pdfs.sign_with_pyhanko(sealing.instance, base, keys, level="B-T")
    return made


@pytest.mark.parametrize("variant", ["B-B after", "B-T after"])
def test_revoked_signer_fails_via_the_bundle_crl(variant: str, revoked: dict[str, bytes], sealing) -> None:
    """Signed after the revocation: the claimed /M (B-B) or the time-stamp (B-T) is later than the revocation date
    on the bundle's CRL."""
    ctx = sealing.context()
    report = api.verify(revoked[variant], ctx)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.REVOKED
    (signature,) = report.children
    failed = check(signature, "signer-certificate")
    assert failed.result is Result.FAILED
    assert "revoked" in failed.detail.lower()
    assert details(signature)["signing_time_source"] == ("claimed" if variant == "B-B after" else "time-stamp")
    assert not any(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(revoked[variant], ctx))


def test_claimed_signing_time_before_revocation_is_not_proof(revoked: dict[str, bytes], sealing) -> None:
    """Sealed (B-B) before the revocation, but only the signer says so: INDETERMINATE / REVOKED_NO_POE."""
    ctx = sealing.context()
    report = api.verify(revoked["B-B"], ctx)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.REVOKED_NO_POE
    (signature,) = report.children
    assert "only claimed" in check(signature, "signer-certificate").detail
    assert not any(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(revoked["B-B"], ctx))


def test_time_stamp_proves_the_seal_predates_its_revocation(revoked: dict[str, bytes], sealing: SealingWorld) -> None:
    """The same revoked seal, but the signature time-stamp (earlier than the revocation) proves when it was made."""
    ctx = sealing.context()
    report = api.verify(revoked["B-T"], ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    (signature,) = report.children
    assert details(signature)["signing_time_source"] == "time-stamp"
    assert "(time-stamp)" in check(signature, "signer-certificate").detail
    # A deliberate difference from the peer: pyHanko's basic validator (async_validate_pdf_signature) judges the
    # chain at the validation time only, so it refuses this signature; Huren judges it at the proven signing time.
    assert not any(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(revoked["B-T"], ctx))


# --- the command line ---------------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    return subprocess.run(
        [sys.executable, "-m", "trust.cli.main", "verify", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_verify_reports_one_report_per_signature_with_exit_codes(
    sealing: SealingWorld, sealed: dict[tuple[str, str], bytes], revoked: dict[str, bytes], tmp_path: Path
) -> None:
    bundle, pins = sealing.bundle()
    (tmp_path / "bundle.json").write_bytes(bundle)
    (tmp_path / "dual.pdf").write_bytes(sealed[("dual", "B-LTA")])
    (tmp_path / "revoked.pdf").write_bytes(revoked["B-T after"])
    (tmp_path / "sm2.pdf").write_bytes(sealed[("SM2", "B-T")])
    pin_args = [arg for pin in pins for arg in ("--pin", pin)]

    passed = _cli(str(tmp_path / "dual.pdf"), "--bundle", str(tmp_path / "bundle.json"), *pin_args, "--format", "json")
    assert passed.returncode == 0, passed.stderr
    document = json.loads(passed.stdout)
    assert document["kind"] == "pdf" and document["indication"] == "TOTAL_PASSED"
    assert [r["kind"] for r in document["reports"]] == ["pdf-signature", "pdf-signature", "pdf-timestamp"]
    assert all(r["indication"] == "TOTAL_PASSED" for r in document["reports"])
    assert [c["name"] for c in document["reports"][0]["checks"]][:3] == ["dictionary", "byte-range", "cms"]

    failed = _cli(
        str(tmp_path / "revoked.pdf"), "--bundle", str(tmp_path / "bundle.json"), *pin_args, "--format", "json"
    )
    assert failed.returncode == 1, failed.stderr
    document = json.loads(failed.stdout)
    assert document["sub_indication"] == "REVOKED"
    assert len(document["reports"]) == 1

    # Only the RSA root as an anchor: the SM2 seal has no path to it, so the verdict is INDETERMINATE.
    rsa_root = [
        x509.Certificate.load(c.dump())
        for c in sealing.context().anchors
        if "RSA" in c.subject.native.get("common_name", "")
    ]
    (tmp_path / "rsa-root.pem").write_bytes(cx.certificate_pem(rsa_root[0]))
    unknown = _cli(str(tmp_path / "sm2.pdf"), "--anchor", str(tmp_path / "rsa-root.pem"), "--format", "json")
    assert unknown.returncode == 2, unknown.stderr
    assert json.loads(unknown.stdout)["reports"][0]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"

    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
    broken = _cli(str(tmp_path / "broken.pdf"), "--bundle", str(tmp_path / "bundle.json"), *pin_args)
    assert broken.returncode == 3
    assert "not a readable PDF" in broken.stdout + broken.stderr
