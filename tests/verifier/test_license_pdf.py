"""Licence PDFs verified offline: a sealed licence passes; a changed face, a swapped token, a seal of somebody else,
a revoked licence or a missing or oversized attachment do not — each with its reason. The licence PDFs, their unsealed
faces and the bundle are golden artefacts (tests/data/golden/license/, judged at the recorded validation time); the
forgeries are written here with pyHanko (tests.support.license_pdfs). No world, no service; the network is blocked
for this module (tests/verifier/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import golden
from tests.support.license_pdfs import add_attachment, replace_attachment, replace_face
from trust.formats.names import make_uscc
from verifier import license_pdf
from verifier.report import Indication, Result, SubIndication

ZJ_AUTHORITY = make_uscc("11330000002482226")


@pytest.fixture(scope="module")
def ctx():
    return golden.context()


def carried() -> dict[str, str]:
    """What the golden licence PDF and its variants carry (identifiers and tokens)."""
    return dict(golden.load_json("license/license-pdf.json"))


def _failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if c.result is Result.FAILED}


def test_sealed_license_pdf_passes(ctx) -> None:
    identifier = carried()["identifier"]
    pdf = golden.read("license/license.pdf")
    assert license_pdf.is_license_pdf(pdf)
    report = license_pdf.verify_license_pdf(pdf, ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert report.kind == "license-pdf"
    assert [c.name for c in report.checks] == [
        "attachment",
        "pdf-seal",
        "sealed-by-issuer",
        "sealed-attachment",
        "license-token",
        "face",
    ]
    assert all(c.result is Result.PASSED for c in report.checks)
    assert [child.kind for child in report.children] == ["pdf", "license-token"]
    assert identifier in report.subject
    assert dict(report.details)["identifier"] == identifier
    assert "face_missing" not in dict(report.details)
    seal_report = report.children[0].children[0]
    assert "证照专用章" in seal_report.subject and f"serialNumber={ZJ_AUTHORITY}" in seal_report.subject


def test_changed_face_fails(ctx) -> None:
    """A later revision shows another licence's face over the sealed one: the seal sees the change, and the face no
    longer shows the token's holder."""
    identifier = carried()["identifier"]
    forged = replace_face(golden.read("license/license.pdf"), golden.read("license/face-other-unsealed.pdf"))
    assert "杭州另一科技有限公司" in license_pdf.page_text(forged)
    report = license_pdf.verify_license_pdf(forged, ctx)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    failed = _failed(report)
    assert "modifications" in failed["pdf-seal"] or "changed" in failed["pdf-seal"], failed
    assert "杭州示例科技有限公司" in failed["face"] and identifier in failed["face"]
    assert {"证照编号", "名称"} <= set(dict(report.details)["face_missing"])


def test_attachment_replaced_after_sealing_fails(ctx) -> None:
    swapped = replace_attachment(golden.read("license/license.pdf"), carried()["other_token"])
    report = license_pdf.verify_license_pdf(swapped, ctx)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    failed = _failed(report)
    assert "replaced after the authority's seal" in failed["sealed-attachment"]
    assert "pdf-seal" in failed  # the seal's own modification analysis refuses the change too
    assert "杭州另一科技有限公司" not in license_pdf.page_text(swapped)  # the face still shows the first licence
    assert "face" in failed


def test_other_token_sealed_into_the_face_fails(ctx) -> None:
    """The authority seals a face whose attachment is another licence's token: seal and token are fine, the face
    does not agree with the token (the golden file was sealed by the service: it would not make one itself)."""
    mixed = golden.read("license/mixed-token.pdf")
    report = license_pdf.verify_license_pdf(mixed, ctx)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert report.errors[0].startswith("face: the face does not show what the token says")
    assert "杭州另一科技有限公司" in report.errors[0] and carried()["other_identifier"] in report.errors[0]
    assert [c.result for c in report.checks[:5]] == [Result.PASSED] * 5
    assert report.children[1].passed  # the other licence's token itself is valid


def test_face_sealed_by_somebody_else_fails(ctx) -> None:
    pdf = golden.read("license/sealed-by-company.pdf")
    report = license_pdf.verify_license_pdf(pdf, ctx)
    assert report.children[0].passed  # a valid seal, but not the authority's
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert f"no seal of the issuing authority {ZJ_AUTHORITY}" in _failed(report)["sealed-by-issuer"]
    assert "合同专用章" in _failed(report)["sealed-by-issuer"]


def test_revoked_license_fails(ctx) -> None:
    pdf = golden.read("license/license-food.pdf")
    before = license_pdf.verify_license_pdf(pdf, golden.context(bundle_name="trust/bundle-before.json"))
    assert before.passed, before.to_text()
    report = license_pdf.verify_license_pdf(pdf, ctx)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.REVOKED
    assert report.errors[0].startswith("license-token:") and "revoked" in report.errors[0]
    assert report.children[0].passed  # the seal is still good: it is the licence that is revoked


def test_rs256_issuer_pdf_passes(ctx) -> None:
    for family in ("RSA", "SM2"):
        pdf = golden.read(f"license/license-rs256-{family}.pdf")
        report = license_pdf.verify_license_pdf(pdf, ctx)
        assert report.indication is Indication.TOTAL_PASSED, (family, report.to_text())
        signature = [c.detail for c in report.children[1].checks if c.name == "signature"]
        assert signature and signature[0].startswith("RS256")
        seal_check = [c.detail for c in report.children[0].children[0].checks if c.name == "signature-value"]
        assert seal_check[0].startswith("rsa" if family == "RSA" else "sm2"), seal_check


def test_pdf_without_license_attachment(ctx) -> None:
    sealed = golden.read("pdf/sealed-SM2-B-B.pdf")  # a company's seal on a contract
    assert not license_pdf.is_license_pdf(sealed)
    report = license_pdf.verify_license_pdf(sealed, ctx)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "no license.jwt attachment" in report.errors[0]
    assert report.children[0].passed


def test_oversized_or_duplicated_attachment_is_refused(ctx) -> None:
    unsealed = golden.read("license/face-unsealed.pdf")
    big = replace_attachment(unsealed, "e" * (license_pdf.MAX_ATTACHMENT_BYTES + 10))
    report = license_pdf.verify_license_pdf(big, ctx)
    assert report.indication is Indication.TOTAL_FAILED and report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "license.jwt" in _failed(report)["attachment"]
    twice = add_attachment(unsealed, "license.jwt", carried()["token"].encode())
    report = license_pdf.verify_license_pdf(twice, ctx)
    assert "2 files named license.jwt" in _failed(report)["attachment"]


def test_malformed_pdfs_are_not_license_pdfs() -> None:
    """The dispatch check never raises and never takes long on the qpdf malformed-file corpus."""
    corpus = golden.REPO / "tests" / "data" / "vendor" / "qpdf-malformed"
    assert corpus.is_dir(), f"vendored test data missing: {corpus} (see tests/data/vendor/README.md)"
    files = [path for path in sorted(corpus.rglob("*")) if path.is_file()]
    assert len(files) > 100
    for path in files:
        start = time.perf_counter()
        assert license_pdf.is_license_pdf(path.read_bytes()) is False, path.name
        assert time.perf_counter() - start < 10, path.name


def test_verifier_loads_no_storage_or_network_code(tmp_path: Path) -> None:
    """In a fresh interpreter: verify a licence PDF through the library, then list the modules loaded."""
    path = golden.path("license/license.pdf")
    bundle = golden.path("trust/bundle.json")
    pin = golden.pins()[0]
    at = golden.validation_time().isoformat()
    program = f"""
import sys
from datetime import datetime
from verifier import context, license_pdf
ctx = context.build(bundle=open({str(bundle)!r}, 'rb').read(), pins=[{pin!r}], at=datetime.fromisoformat({at!r}))
report = license_pdf.verify_license_pdf(open({str(path)!r}, 'rb').read(), ctx)
assert report.indication.value == 'TOTAL_PASSED', report.to_text()
forbidden = ('fastapi', 'starlette', 'uvicorn', 'sqlmodel', 'sqlalchemy', 'alembic', 'psycopg', 'httpx',
             'requests', 'urllib3', 'aiohttp', 'reportlab', 'qrcode', 'ca', 'seal', 'licenses')
print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set(forbidden)))
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=golden.REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    # pyHanko's validation package imports pyhanko-certvalidator's aiohttp fetchers when it is imported (so does
    # verifier.pdf.verify on its own; nothing is fetched); everything else on the list must stay out.
    assert result.stdout.strip() in ("LOADED []", "LOADED ['aiohttp']"), result.stdout
