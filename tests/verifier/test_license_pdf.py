"""Licence PDFs verified offline: a sealed licence passes; a changed face, a swapped token, a seal of somebody else,
a revoked licence or a missing or oversized attachment do not — each with its reason. The network is blocked for
this module (tests/verifier/conftest.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from licenses import document, samples
from tests.conftest import REPO, shared_file
from tests.support.server import free_port
from tests.support.world import ZJ_ORG_USCC, build_world
from trust.formats import license_catalogue as catalogue
from trust.formats import license_face
from trust.formats import license_token as token
from trust.formats.names import make_uscc
from trust.service import license_documents, licenses, seals, trust
from trust.service.seals import sealing
from verifier import context, license_pdf
from verifier.report import Indication, Result, SubIndication

BUSINESS = "11100000000013338W101"
FOOD = "11100000000013338W102"
ZJ_AUTHORITY = make_uscc("11330000002482226")
ZJ_NAME = "浙江省市场监督管理局"


@pytest.fixture(scope="module")
def lw(tmp_path_factory: pytest.TempPathFactory) -> dict:
    world = build_world(tmp_path_factory.mktemp("licence-pdf-world"), free_port())
    types = [t.code for t in catalogue.all_types()]
    sm2 = licenses.register_issuer(
        world.instance, ca_id="region-330000-sm2", name=ZJ_NAME, code=ZJ_AUTHORITY, license_types=types
    )
    rsa = licenses.register_issuer(
        world.instance, ca_id="region-330000-rsa", name=ZJ_NAME, code=ZJ_AUTHORITY, license_types=types, family="RSA"
    )
    company = seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
    )
    return {"world": world, "sm2": sm2.id, "rsa": rsa.id, "company_seal": company.es_id}


def _issue(lw: dict, issuer: str = "sm2", type_code: str = BUSINESS, **changes: object):
    fields = {**samples.sample(type_code), **changes}
    return licenses.issue(lw["world"].instance, issuer_id=lw[issuer], type_code=type_code, fields=fields)


def _ctx(lw: dict) -> context.VerificationContext:
    instance = lw["world"].instance
    bundle = json.dumps(trust.build_bundle(instance)).encode()
    return context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])


def _unsealed(made) -> bytes:
    """The face of an issued licence, not sealed (for building variants the service never makes)."""
    return document.render_token(made.record.token, qr_payload=token.to_qr(made.qr_token), issuer_name=ZJ_NAME)


def _seal(lw: dict, pdf: bytes, es_id: str | None = None) -> bytes:
    instance = lw["world"].instance
    es_id = es_id or license_documents.ensure_authority_seal(instance, lw["sm2"])
    return sealing.seal_document(
        instance, pdf, es_id=es_id, level="B-LT", anchor=license_face.authority_anchor(ZJ_NAME)
    )


def _attachment_spec(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert str(names[0]) == license_face.ATTACHMENT_NAME
    return names[1].get_object()


def _replace_attachment(pdf: bytes, new_token: str) -> bytes:
    """An incremental update pointing the ``license.jwt`` file specification at another token."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    spec = _attachment_spec(writer)
    stream = embed.EmbeddedFileObject.from_file_data(writer, new_token.encode(), mime_type=license_face.ATTACHMENT_MIME)
    spec["/EF"] = generic.DictionaryObject({generic.pdf_name("/F"): stream.ef_stream_ref})
    writer.update_container(spec)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _replace_face(pdf: bytes, other: bytes) -> bytes:
    """An incremental update replacing page 1's content and resources with those of another licence's face (the
    seal's widget stays where it was)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    source = PdfFileReader(io.BytesIO(other))
    source_page = source.root["/Pages"]["/Kids"][0].get_object()
    page_ref, _resources = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    page["/Contents"] = writer.import_object(source_page.raw_get("/Contents"))
    page["/Resources"] = writer.import_object(source_page.raw_get("/Resources"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if c.result is Result.FAILED}


def test_sealed_license_pdf_passes(lw: dict) -> None:
    made = _issue(lw)
    pdf = license_documents.issue_pdf(lw["world"].instance, made.record.identifier)
    assert license_pdf.is_license_pdf(pdf)
    report = license_pdf.verify_license_pdf(pdf, _ctx(lw))
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
    assert made.record.identifier in report.subject
    assert dict(report.details)["identifier"] == made.record.identifier
    assert "face_missing" not in dict(report.details)
    seal_report = report.children[0].children[0]
    assert "证照专用章" in seal_report.subject and f"serialNumber={ZJ_AUTHORITY}" in seal_report.subject


def test_changed_face_fails(lw: dict) -> None:
    """A later revision shows another licence's face over the sealed one: the seal sees the change, and the face no
    longer shows the token's holder."""
    made = _issue(lw)
    other = _issue(lw, name="杭州伪造科技有限公司")
    sealed = license_documents.issue_pdf(lw["world"].instance, made.record.identifier)
    forged = _replace_face(sealed, _unsealed(other))
    assert "杭州伪造科技有限公司" in license_pdf.page_text(forged)
    report = license_pdf.verify_license_pdf(forged, _ctx(lw))
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    failed = _failed(report)
    assert "modifications" in failed["pdf-seal"] or "changed" in failed["pdf-seal"], failed
    assert "杭州示例科技有限公司" in failed["face"] and made.record.identifier in failed["face"]
    assert {"证照编号", "名称"} <= set(dict(report.details)["face_missing"])


def test_attachment_replaced_after_sealing_fails(lw: dict) -> None:
    made = _issue(lw)
    other = _issue(lw, name="杭州另一科技有限公司")
    sealed = license_documents.issue_pdf(lw["world"].instance, made.record.identifier)
    swapped = _replace_attachment(sealed, other.record.token)
    report = license_pdf.verify_license_pdf(swapped, _ctx(lw))
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    failed = _failed(report)
    assert "replaced after the authority's seal" in failed["sealed-attachment"]
    assert "pdf-seal" in failed  # the seal's own modification analysis refuses the change too
    assert "杭州另一科技有限公司" not in license_pdf.page_text(swapped)  # the face still shows the first licence
    assert "face" in failed


def test_other_token_sealed_into_the_face_fails(lw: dict) -> None:
    """The authority seals a face whose attachment is another licence's token: seal and token are fine, the face
    does not agree with the token."""
    made = _issue(lw)
    other = _issue(lw, name="杭州另一科技有限公司")
    mixed = _seal(lw, _replace_attachment(_unsealed(made), other.record.token))
    report = license_pdf.verify_license_pdf(mixed, _ctx(lw))
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert report.errors[0].startswith("face: the face does not show what the token says")
    assert "杭州另一科技有限公司" in report.errors[0] and other.record.identifier in report.errors[0]
    assert [c.result for c in report.checks[:5]] == [Result.PASSED] * 5
    assert report.children[1].passed  # the other licence's token itself is valid


def test_face_sealed_by_somebody_else_fails(lw: dict) -> None:
    made = _issue(lw)
    pdf = _seal(lw, _unsealed(made), es_id=lw["company_seal"])
    report = license_pdf.verify_license_pdf(pdf, _ctx(lw))
    assert report.children[0].passed  # a valid seal, but not the authority's
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert f"no seal of the issuing authority {ZJ_AUTHORITY}" in _failed(report)["sealed-by-issuer"]
    assert "合同专用章" in _failed(report)["sealed-by-issuer"]


def test_revoked_license_fails(lw: dict) -> None:
    made = _issue(lw, type_code=FOOD)
    pdf = license_documents.issue_pdf(lw["world"].instance, made.record.identifier)
    before = license_pdf.verify_license_pdf(pdf, _ctx(lw))
    assert before.passed, before.to_text()
    licenses.set_status(lw["world"].instance, made.record.identifier, "revoked", "test")
    report = license_pdf.verify_license_pdf(pdf, _ctx(lw))
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.REVOKED
    assert report.errors[0].startswith("license-token:") and "revoked" in report.errors[0]
    assert report.children[0].passed  # the seal is still good: it is the licence that is revoked


def test_rs256_issuer_pdf_passes(lw: dict) -> None:
    made = _issue(lw, issuer="rsa")
    assert token.parse_unverified(made.record.token)[0]["alg"] == "RS256"
    for family in ("RSA", "SM2"):
        pdf = license_documents.issue_pdf(lw["world"].instance, made.record.identifier, family=family)
        report = license_pdf.verify_license_pdf(pdf, _ctx(lw))
        assert report.indication is Indication.TOTAL_PASSED, (family, report.to_text())
        signature = [c.detail for c in report.children[1].checks if c.name == "signature"]
        assert signature and signature[0].startswith("RS256")
        seal_check = [c.detail for c in report.children[0].children[0].checks if c.name == "signature-value"]
        assert seal_check[0].startswith("rsa" if family == "RSA" else "sm2"), seal_check


def test_pdf_without_license_attachment(lw: dict) -> None:
    from tests.support.pdfs import base_pdf

    sealed = sealing.seal_document(lw["world"].instance, base_pdf(), es_id=lw["company_seal"], level="B-B", page=1)
    assert not license_pdf.is_license_pdf(sealed)
    report = license_pdf.verify_license_pdf(sealed, _ctx(lw))
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "no license.jwt attachment" in report.errors[0]
    assert report.children[0].passed


def test_oversized_or_duplicated_attachment_is_refused(lw: dict) -> None:
    made = _issue(lw)
    unsealed = _unsealed(made)
    big = _replace_attachment(unsealed, "e" * (license_pdf.MAX_ATTACHMENT_BYTES + 10))
    report = license_pdf.verify_license_pdf(big, _ctx(lw))
    assert report.indication is Indication.TOTAL_FAILED and report.sub_indication is SubIndication.FORMAT_FAILURE
    assert "license.jwt" in _failed(report)["attachment"]
    writer = IncrementalPdfFileWriter(io.BytesIO(unsealed))
    stream = embed.EmbeddedFileObject.from_file_data(writer, made.record.token.encode())
    embed.embed_file(writer, embed.FileSpec(file_spec_string="license.jwt", embedded_data=stream))
    out = io.BytesIO()
    writer.write(out)
    report = license_pdf.verify_license_pdf(out.getvalue(), _ctx(lw))
    assert "2 files named license.jwt" in _failed(report)["attachment"]


def test_malformed_pdfs_are_not_license_pdfs() -> None:
    """The dispatch check never raises and never takes long on the qpdf malformed-file corpus."""
    corpus = shared_file("qpdf-malformed")
    files = [path for path in sorted(corpus.rglob("*")) if path.is_file()]
    assert len(files) > 100
    for path in files:
        start = time.perf_counter()
        assert license_pdf.is_license_pdf(path.read_bytes()) is False, path.name
        assert time.perf_counter() - start < 10, path.name


def test_verifier_loads_no_storage_or_network_code(tmp_path: Path, lw: dict) -> None:
    """In a fresh interpreter: verify a licence PDF through the library, then list the modules loaded."""
    made = _issue(lw)
    path = tmp_path / "licence.pdf"
    path.write_bytes(license_documents.issue_pdf(lw["world"].instance, made.record.identifier))
    bundle = tmp_path / "bundle.json"
    instance = lw["world"].instance
    bundle.write_text(json.dumps(trust.build_bundle(instance)))
    pin = trust.root_fingerprints(instance)["SM2"]
    program = f"""
import sys
from verifier import context, license_pdf
ctx = context.build(bundle=open({str(bundle)!r}, 'rb').read(), pins=[{pin!r}])
report = license_pdf.verify_license_pdf(open({str(path)!r}, 'rb').read(), ctx)
assert report.indication.value == 'TOTAL_PASSED', report.to_text()
forbidden = ('fastapi', 'starlette', 'uvicorn', 'sqlmodel', 'sqlalchemy', 'alembic', 'psycopg', 'httpx',
             'requests', 'urllib3', 'aiohttp', 'reportlab', 'qrcode', 'ca', 'seal', 'licenses')
print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set(forbidden)))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    # pyHanko's validation package imports pyhanko-certvalidator's aiohttp fetchers when it is imported (so does
    # verifier.pdf.verify on its own; nothing is fetched); everything else on the list must stay out.
    assert result.stdout.strip() in ("LOADED []", "LOADED ['aiohttp']"), result.stdout
