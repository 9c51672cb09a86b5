"""The licence as an OFD file (issue 18 item 1): the licence PDF's face in a valid OFD package, with the GB/T 36903
metadata and the token attached, opened by an independent reader (easyofd) and by Huren's own format layer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pdfplumber
import pytest
from fontTools.ttLib import TTFont

from licenses import ofd as licence_ofd
from tests.conftest import REPO
from tests.licenses.test_document import BIRTH, ZJ_NAME, _local_license
from trust.formats import license_face
from trust.formats import license_token as token
from trust.formats.ofd import document, package, xml


@pytest.fixture(scope="module")
def made() -> tuple[str, str, bytes]:
    full, qr = _local_license()
    return full, qr, licence_ofd.render_token(full, qr_payload=qr, issuer_name=ZJ_NAME)


def test_package_structure_metadata_and_attachment(made):
    full, _qr, ofd = made
    pkg = package.read(ofd)
    assert pkg.names[0] == "OFD.xml"
    (body,) = document.entry(pkg)
    claims = token.parse_unverified(full)[1]
    identifier = claims["license"]["id"]
    assert body.doc_id == identifier
    custom = dict(body.custom_data)
    assert custom["证照标识"] == identifier
    assert custom["证照类型名称"] == "营业执照"
    assert custom["持证主体"] == "杭州示例科技有限公司"
    assert custom["证照颁发机构"] == ZJ_NAME
    assert custom["有效期起始日期"] == "2026-03-05" and custom["有效期截止日期"] == "2027-03-04"
    doc = document.document(pkg, body.doc_root)
    assert doc.page_area == (0.0, 0.0, 210.0, 297.0)
    (attachment,) = document.attachments(pkg, doc)
    assert attachment.name == "license.jwt"
    assert pkg.read(attachment.path) == full.encode()
    resources = document.resources(pkg, doc)
    assert {f.file for f in resources.fonts.values()} == {"Doc_0/Res/font_regular.ttf", "Doc_0/Res/font_bold.ttf"}
    # the same input, the same bytes
    assert licence_ofd.render_token(full, qr_payload=_qr, issuer_name=ZJ_NAME) == ofd


def test_face_text_is_the_licence_pdf_face(made):
    full, _qr, ofd = made
    pkg = package.read(ofd)
    doc = document.document(pkg, "Doc_0/Document.xml")
    text = license_face.normalise("".join(document.page(pkg, p).text() for p in doc.pages))
    face = license_face.face_from_claims(token.parse_unverified(full)[1], ZJ_NAME)
    missing = [what for what, value in face.expected() if license_face.normalise(value) not in text]
    assert not missing
    assert license_face.unaccounted(text, face.printed()) == []


def test_fonts_are_embedded_subsets_that_map_every_character(made):
    _full, _qr, ofd = made
    pkg = package.read(ofd)
    doc = document.document(pkg, "Doc_0/Document.xml")
    page = document.page(pkg, doc.pages[0])
    fonts = {f.id: f for f in document.resources(pkg, doc).fonts.values()}
    import io

    for font_id, font in fonts.items():
        assert font.file is not None
        data = pkg.read(font.file)
        assert len(data) < 1024 * 1024  # a subset, not the 10 MB font
        cmap = TTFont(io.BytesIO(data)).getBestCmap()
        used = {
            ch
            for obj in page.objects
            if isinstance(obj, document.TextObject) and obj.font == font_id
            for code in obj.codes
            for ch in code.text
        }
        assert used and all(ord(ch) in cmap for ch in used)


def test_every_text_has_its_glyph_advances(made):
    _full, _qr, ofd = made
    pkg = package.read(ofd)
    root = xml.parse(pkg.read("Doc_0/Pages/Page_0/Content.xml"), "page")
    for code in root.iter(f"{{{xml.OFD_NS}}}TextCode"):
        text = code.text or ""
        deltas = (code.get("DeltaX") or "").split()
        assert len(deltas) == max(len(text) - 1, 0), text


def test_long_face_continues_on_further_pages():
    item = "类技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广"
    scope = "一般项目：" + "；".join(f"第{i}{item}" for i in range(130))
    full, qr = _local_license(business_scope=scope[:4000])
    pkg = package.read(licence_ofd.render_token(full, qr_payload=qr, issuer_name=ZJ_NAME))
    doc = document.document(pkg, "Doc_0/Document.xml")
    assert len(doc.pages) >= 2
    last = document.page(pkg, doc.pages[-1]).text()
    assert license_face.authority_anchor(ZJ_NAME) in last


def test_birth_certificate_face():
    full, qr = _local_license(BIRTH)
    pkg = package.read(licence_ofd.render_token(full, qr_payload=qr, issuer_name=ZJ_NAME))
    doc = document.document(pkg, "Doc_0/Document.xml")
    assert "出生医学证明" in document.page(pkg, doc.pages[0]).text()


def test_easyofd_reads_and_renders_it(made, tmp_path: Path):
    """easyofd (PyPI), an independent reader, parses the package and draws the face; the text it draws is the face's.
    (easyofd strokes path outlines instead of filling them, so the QR code it draws is not decodable: docs/OFD.md.)"""
    full, _qr, ofd = made
    source = tmp_path / "licence.ofd"
    source.write_bytes(ofd)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.easyofd_render",
            str(source),
            str(tmp_path / "e.pdf"),
            str(tmp_path / "e.png"),
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(re.search(r"^EASYOFD (.*)$", run.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert summary["documents"] == 1 and summary["pages"] == 1
    with pdfplumber.open(tmp_path / "e.pdf") as opened:
        drawn = license_face.normalise("".join(page.extract_text() or "" for page in opened.pages))
    face = license_face.face_from_claims(token.parse_unverified(full)[1], ZJ_NAME)
    missing = [what for what, value in face.expected() if license_face.normalise(value) not in drawn]
    assert not missing, drawn[:500]


# --- issued through the service: sealed by the authority, verified, drawn ----------------------------------------


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory, world_template):
    import json as json_mod

    from licenses import samples
    from tests.support.world import copy_world
    from trust.service import license_documents, licenses, trust
    from verifier import context

    world = copy_world(world_template, tmp_path_factory.mktemp("licence-ofd-world") / "home")
    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name=ZJ_NAME,
        code="11330000002482226F",
        license_types=["11100000000013338W101"],
    )
    made = licenses.issue(
        world.instance,
        issuer_id=issuer.id,
        type_code="11100000000013338W101",
        fields=samples.sample("11100000000013338W101"),
    )
    ofd = license_documents.issue_ofd(world.instance, made.record.identifier)
    bundle = json_mod.dumps(trust.build_bundle(world.instance)).encode()
    ctx = context.build(bundle=bundle, pins=[trust.root_fingerprints(world.instance)["SM2"]])
    return world, made, ofd, ctx


def test_issued_licence_ofd_is_sealed_by_its_authority(issued):
    from verifier.ofd.verify import verify_ofd

    _world, made, ofd, ctx = issued
    report = verify_ofd(ofd, ctx)
    assert report.passed, report.to_text()
    # the sealed package follows the GB/T 33190 structure rules (docs/OFD.md)
    from trust.formats.ofd import structure

    assert structure.validate(package.read(ofd)) == ()
    (sig,) = report.children
    assert "证照专用章" in sig.subject
    ses_checks = {c.name: c.result.value for c in sig.children[0].checks}
    assert ses_checks["time-stamp"] == "passed"
    # centred on the authority's line: the stamp's centre is the text object's centre
    pkg = package.read(ofd)
    doc = document.document(pkg, "Doc_0/Document.xml")
    from seal.ofd import text_position

    where = text_position(pkg, doc, license_face.authority_anchor(ZJ_NAME))
    assert where is not None
    from trust.formats.ofd import signatures as ofd_signatures

    (stamp,) = ofd_signatures.parse_signature(pkg, "Doc_0/Signs/Sign_0/Signature.xml").stamps
    assert stamp.boundary is not None and where.page == 1
    assert abs(stamp.boundary[0] + 21 - where.x) < 0.01 and abs(stamp.boundary[1] + 21 - where.y) < 0.01
    assert pkg.read("Doc_0/Attachs/license.jwt").decode() == made.record.token


def test_drawn_page_shows_the_seal_and_a_scannable_qr_code(issued):
    import io

    import zxingcpp
    from PIL import Image, ImageChops

    from seal import ofd_render

    _world, made, ofd, _ctx = issued
    image = Image.open(io.BytesIO(ofd_render.render_page(ofd, 1, dpi=150))).convert("RGB")
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    assert [c.text for c in codes] == [token.to_qr(made.qr_token)]
    r, g, b = image.split()
    mask = ImageChops.logical_and(
        ImageChops.logical_and(
            r.point(lambda v: 255 if v > 170 else 0, "1"), g.point(lambda v: 255 if v < 110 else 0, "1")
        ),
        b.point(lambda v: 255 if v < 110 else 0, "1"),
    )
    assert mask.histogram()[-1] > 2000  # the seal's red picture is drawn


def test_licence_ofd_gets_the_licence_checks(issued):
    from verifier import api

    _world, made, ofd, ctx = issued
    report = api.verify(ofd, ctx)
    assert report.kind == "license-ofd"
    assert report.passed, report.to_text()
    names = {c.name: c.result.value for c in report.checks}
    assert names == {
        "attachment": "passed",
        "ofd-seal": "passed",
        "sealed-by-issuer": "passed",
        "sealed-attachment": "passed",
        "license-token": "passed",
        "face": "passed",
    }
    assert [c.kind for c in report.children] == ["ofd", "license-token"]
    assert dict(report.details)["identifier"] == made.record.identifier


def test_forged_face_resealed_by_another_seal_fails(issued):
    """A genuine licence's face changed (another holder name) and sealed again with a seal that is not the issuing
    authority's: the authority did not seal it and the face no longer shows the token's holder."""
    from seal import ofd as seal_ofd
    from seal import registry
    from tests.support.world import ZJ_ORG_USCC
    from trust import db
    from trust.crypto.algorithms import SM2_SM3
    from trust.service import seals
    from verifier import api

    world, made, _ofd, ctx = issued
    unsealed = licence_ofd.render_token(made.record.token, qr_payload=token.to_qr(made.qr_token), issuer_name=ZJ_NAME)
    files = dict(package.read(unsealed).files)
    page = "Doc_0/Pages/Page_0/Content.xml"
    files[page] = files[page].replace("杭州示例科技有限公司".encode(), "杭州伪造科技有限公司".encode())
    other = seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
        dual=False,
    )
    with db.session_scope(world.instance.engine, read_only=True) as session:
        key_id, cert = registry.signer_key_ids(session, other)["SM2"]
    forged = seal_ofd.seal_ofd(
        package.write(files),
        seal_der=other.seal_der,
        signer=world.instance.keystore.signer(key_id, SM2_SM3),
        signer_cert=cert,
    )
    report = api.verify(forged, ctx)
    assert report.kind == "license-ofd"
    results = {c.name: c.result.value for c in report.checks}
    assert results["ofd-seal"] == "passed"  # a valid seal, of someone else
    assert results["sealed-by-issuer"] == "failed"
    assert results["face"] == "failed"
    assert report.sub_indication is not None and report.sub_indication.value == "SIG_CONSTRAINTS_FAILURE"


def test_token_replaced_after_sealing_fails(issued):
    from verifier import api

    _world, _made, ofd, ctx = issued
    files = dict(package.read(ofd).files)
    files["Doc_0/Attachs/license.jwt"] = files["Doc_0/Attachs/license.jwt"][:-2] + b"AA"
    report = api.verify(package.write(files), ctx)
    assert report.indication.value == "TOTAL_FAILED"
    ofd_report = report.children[0]
    assert "/Doc_0/Attachs/license.jwt" in dict(ofd_report.children[0].details)["changed_files"]
