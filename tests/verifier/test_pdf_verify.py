"""Sealed PDFs verify offline (``verifier.pdf.verify``): every PAdES level and algorithm family the product seals with,
several seals on one document, a revoked signer, the command line, and pyHanko's own validator as the peer.

The PDFs are golden artefacts (tests/data/golden/pdf/, made by the product's own sealing at a fixed clock); the
verifier sees only the signed offline bundle and the pinned root fingerprints, at the recorded validation time. No
world, no database, no service; the network is blocked for every test here (conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import golden
from tests.support import pdf_tools as pdfs
from tests.support.pdf_tools import PREPARED, append_update, form_xobject, raw_object
from verifier import api
from verifier.report import Indication, Report, Result, SubIndication

FAMILIES = ("SM2", "RSA", "dual")
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@pytest.fixture(scope="module")
def ctx():
    return golden.context()


def sealed(family: str, level: str) -> bytes:
    return golden.read(f"pdf/sealed-{family}-{level}.pdf")


def seal_id(name: str = "contract") -> str:
    return str(golden.ids()["seals"][name])


def check(report: Report, name: str):
    found = [c for c in report.checks if c.name == name]
    assert found, f"no check {name!r} in {[c.name for c in report.checks]}"
    return found[-1]


def details(report: Report) -> dict:
    return dict(report.details)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("family", FAMILIES)
def test_sealed_pdf_verifies_offline(family: str, level: str, ctx) -> None:
    data = sealed(family, level)
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
        assert info["seal"] == seal_id()
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


def test_each_signature_reports_what_followed_it(ctx) -> None:
    """A dual B-LTA seal: the SM2 signature is followed by the RSA signature, DSS updates and a document
    time-stamp — all permitted — and each signature covers exactly its own revision."""
    report = api.verify(sealed("dual", "B-LTA"), ctx)
    first, second, stamp = report.children
    assert details(first)["modifications"] == "lta-updates"
    assert details(first)["changed_fields"] == [details(second)["field"]]
    revisions = [tuple(int(n) for n in details(c)["signed_revision"].split(" of ")) for c in report.children]
    assert revisions[0][0] < revisions[1][0] < revisions[2][0] <= revisions[2][1]
    assert len({total for _revision, total in revisions}) == 1
    assert details(first)["covered_bytes"] < details(second)["covered_bytes"] < details(stamp)["covered_bytes"]


def test_several_seals_on_one_document_all_pass(ctx) -> None:
    """SM2 B-T, then another seal's RSA B-LT on page 2, then a dual B-LTA (tests/data/golden/make.py)."""
    data = golden.read("pdf/several-seals.pdf")
    report = api.verify(data, ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    kinds = [c.kind for c in report.children]
    assert kinds == ["pdf-signature"] * 4 + ["pdf-timestamp"]
    assert [details(c).get("seal") for c in report.children[:4]] == [
        seal_id(),
        seal_id("finance"),
        seal_id(),
        seal_id(),
    ]
    assert all(c.passed for c in report.children)
    assert details(report.children[0])["modifications"] == "lta-updates"
    assert all(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(data, ctx))


def test_unsigned_pdf_is_not_a_sealed_document(ctx) -> None:
    report = api.verify(golden.read("pdf/base.pdf"), ctx)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert report.errors == ("signatures: the PDF carries no signature",)
    assert report.children == ()


def test_permitted_form_filling_after_a_certification_signature(ctx) -> None:
    """The middle category of the modification rule: a certification signature that allows form filling (DocMDP
    P=2) keeps passing after a form field is filled — with a warning naming the field. (The certified document is
    ``tests.support.pdf_tools.prepared_pdf`` signed by pyHanko with the contract seal's key.)"""
    certified = golden.read("pdf/certified-prepared.pdf")
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
    report = api.verify(filled, ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    (signature,) = report.children
    assert details(signature)["modifications"] == "form-filling"
    assert "allowed by the certification signature (DocMDP P=2)" in check(signature, "modifications").detail
    assert any("note" in w and "not signed" in w for w in signature.warnings)
    assert all(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(filled, ctx))


def test_claimed_signing_time_cannot_outlive_the_certificate() -> None:
    """Four years on, the seal certificate (three years) has expired: a B-B seal, whose time is only claimed, is
    INDETERMINATE — nothing proves it was made while the certificate was valid."""
    later = golden.context(at=golden.later(days=4 * 365))
    report = api.verify(sealed("SM2", "B-B"), later)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE
    (signature,) = report.children
    assert "only claimed" in check(signature, "signer-certificate").detail
    assert check(signature, "signer-certificate").result is Result.FAILED


# --- revocation --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def revoked() -> dict[str, bytes]:
    """A seal whose certificates were revoked after two documents were sealed with it (B-B and B-T), plus documents
    signed with the revoked SM2 key afterwards (B-B: claimed time after the revocation; B-T: time-stamp after it).
    The bundle's CRL lists the revocation."""
    return {
        "B-B": golden.read("pdf/revoked-before-B-B.pdf"),
        "B-T": golden.read("pdf/revoked-before-B-T.pdf"),
        "B-B after": golden.read("pdf/revoked-after-B-B.pdf"),
        "B-T after": golden.read("pdf/revoked-after-B-T.pdf"),
    }


@pytest.mark.parametrize("variant", ["B-B after", "B-T after"])
def test_revoked_signer_fails_via_the_bundle_crl(variant: str, revoked: dict[str, bytes], ctx) -> None:
    """Signed after the revocation: the claimed /M (B-B) or the time-stamp (B-T) is later than the revocation date
    on the bundle's CRL."""
    report = api.verify(revoked[variant], ctx)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.REVOKED
    (signature,) = report.children
    failed = check(signature, "signer-certificate")
    assert failed.result is Result.FAILED
    assert "revoked" in failed.detail.lower()
    assert details(signature)["signing_time_source"] == ("claimed" if variant == "B-B after" else "time-stamp")
    assert not any(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(revoked[variant], ctx))


def test_claimed_signing_time_before_revocation_is_not_proof(revoked: dict[str, bytes], ctx) -> None:
    """Sealed (B-B) before the revocation, but only the signer says so: INDETERMINATE / REVOKED_NO_POE."""
    report = api.verify(revoked["B-B"], ctx)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.REVOKED_NO_POE
    (signature,) = report.children
    assert "only claimed" in check(signature, "signer-certificate").detail
    assert not any(pdfs.pyhanko_accepts(status) for _, status in pdfs.pyhanko_validate(revoked["B-B"], ctx))


def test_time_stamp_proves_the_seal_predates_its_revocation(revoked: dict[str, bytes], ctx) -> None:
    """The same revoked seal, but the signature time-stamp (earlier than the revocation) proves when it was made."""
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
        cwd=golden.REPO,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_verify_reports_one_report_per_signature_with_exit_codes(revoked: dict[str, bytes], tmp_path: Path) -> None:
    (tmp_path / "bundle.json").write_bytes(golden.bundle())
    (tmp_path / "dual.pdf").write_bytes(sealed("dual", "B-LTA"))
    (tmp_path / "revoked.pdf").write_bytes(revoked["B-T after"])
    (tmp_path / "sm2.pdf").write_bytes(sealed("SM2", "B-T"))
    pin_args = [arg for pin in golden.pins("SM2", "RSA") for arg in ("--pin", pin)]
    pin_args += ["--at", golden.validation_time().isoformat()]

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
    (tmp_path / "rsa-root.pem").write_bytes(golden.read("pki/root-rsa.pem"))
    at = ["--at", golden.validation_time().isoformat()]
    unknown = _cli(str(tmp_path / "sm2.pdf"), "--anchor", str(tmp_path / "rsa-root.pem"), "--format", "json", *at)
    assert unknown.returncode == 2, unknown.stderr
    assert json.loads(unknown.stdout)["reports"][0]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"

    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
    broken = _cli(str(tmp_path / "broken.pdf"), "--bundle", str(tmp_path / "bundle.json"), *pin_args)
    assert broken.returncode == 3
    assert "not a readable PDF" in broken.stdout + broken.stderr
