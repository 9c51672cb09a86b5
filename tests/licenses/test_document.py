"""Licence faces (licenses.document) and sealed licence PDFs (trust.service.license_documents), checked with
independent tools: poppler renders the page (pdftoppm), extracts its text (pdftotext), lists its fonts (pdffonts)
and its attachment (pdfdetach); zxing-cpp reads the QR code from the rendered page."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pdfplumber
import pytest
import zxingcpp
from PIL import Image, ImageChops

from licenses import document, issuance, samples
from seal import anchor
from tests.conftest import require_tool
from tests.support.world import World, copy_world
from trust.crypto import jwk
from trust.crypto.errors import Code, ConflictError, InputError
from trust.crypto.keys import generate_private_key
from trust.formats import identifiers, license_face
from trust.formats import license_catalogue as catalogue
from trust.formats import license_token as token
from trust.formats.names import make_uscc
from trust.service import license_documents, licenses, seals, trust
from verifier import api, context, license_pdf
from verifier.license import verify_license
from verifier.report import Indication

BUSINESS = "11100000000013338W101"
FOOD = "11100000000013338W102"
BIRTH = "11100000000013338W104"
ZJ_AUTHORITY = make_uscc("11330000002482226")
ZJ_NAME = "浙江省市场监督管理局"
DPI = 200


@pytest.fixture(scope="module")
def dw(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> dict:
    world = copy_world(world_template, tmp_path_factory.mktemp("licence-document-world") / "home")
    types = [t.code for t in catalogue.all_types()]
    sm2 = licenses.register_issuer(
        world.instance, ca_id="region-330000-sm2", name=ZJ_NAME, code=ZJ_AUTHORITY, license_types=types
    )
    rsa = licenses.register_issuer(
        world.instance, ca_id="region-330000-rsa", name=ZJ_NAME, code=ZJ_AUTHORITY, license_types=types, family="RSA"
    )
    return {"world": world, "sm2": sm2.id, "rsa": rsa.id}


def _issue(dw: dict, type_code: str, issuer: str = "sm2"):
    return licenses.issue(
        dw["world"].instance,
        issuer_id=dw[issuer],
        type_code=type_code,
        fields=samples.sample(type_code),
        holder_code=samples.NEWBORN_ID if type_code == BIRTH else None,
    )


def _ctx(dw: dict) -> context.VerificationContext:
    instance = dw["world"].instance
    bundle = json.dumps(trust.build_bundle(instance)).encode()
    return context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])


def _page_png(pdf: bytes, tmp_path: Path, page: int = 1) -> Image.Image:
    path = tmp_path / "licence.pdf"
    path.write_bytes(pdf)
    out = tmp_path / f"page{page}"
    subprocess.run(
        [require_tool("pdftoppm"), "-r", str(DPI), "-f", str(page), "-l", str(page), "-png", "-singlefile", path, out],
        check=True,
        timeout=60,
    )
    return Image.open(f"{out}.png").convert("RGB")


def _scan(image: Image.Image) -> str:
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    assert len(codes) == 1, f"expected one QR code on the page, found {len(codes)}"
    return codes[0].text


def _red_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels of the seal's red (230, 0, 18) in ``box`` (left, top, right, bottom) of the page image."""
    r, g, b = image.crop(box).split()
    mask = ImageChops.logical_and(
        ImageChops.logical_and(
            r.point(lambda v: 255 if v > 170 else 0, "1"), g.point(lambda v: 255 if v < 110 else 0, "1")
        ),
        b.point(lambda v: 255 if v < 110 else 0, "1"),
    )
    return mask.histogram()[-1]


def _poppler_text(pdf: Path) -> str:
    result = subprocess.run(
        [require_tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True, timeout=60
    )
    return license_face.normalise(result.stdout.decode("utf-8"))


def _poppler_fonts(pdf: Path) -> list[list[str]]:
    result = subprocess.run([require_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True)
    return [line.split() for line in result.stdout.splitlines()[2:] if line.strip()]


@pytest.mark.parametrize("license_type", catalogue.all_types(), ids=lambda t: t.code[-3:])
def test_every_seeded_type_prints_a_sealed_scannable_license(
    dw: dict, license_type: catalogue.LicenseType, tmp_path: Path, record_property
) -> None:
    made = _issue(dw, license_type.code)
    pdf = license_documents.issue_pdf(dw["world"].instance, made.record.identifier, qr_token=made.qr_token)
    path = tmp_path / "licence.pdf"
    path.write_bytes(pdf)
    image = _page_png(pdf, tmp_path)

    # The QR code, read back from the rendered page, is exactly the licence's HR1 payload and verifies offline.
    payload = _scan(image)
    assert payload == token.to_qr(made.qr_token)
    version = token.qr_version(payload)
    assert document.qr_symbol(payload)[0] == version <= document.MAX_QR_VERSION
    record_property("qr_version", version)
    print(f"\nQR version of {license_type.name} (SM2, level M): {version}")
    scanned = api.verify(payload.encode(), _ctx(dw))
    assert scanned.kind == "license-qr" and scanned.indication is Indication.TOTAL_PASSED, scanned.to_text()

    # poppler reads the Chinese title, the holder and the authority.
    text = _poppler_text(path)
    for expected in (license_type.name, made.record.holder_name, f"发证机关：{ZJ_NAME}", made.record.identifier):
        assert license_face.normalise(expected) in text, expected

    # Only embedded subset fonts (no base-14 font referenced anywhere).
    fonts = _poppler_fonts(path)
    assert fonts, "pdffonts lists no font"
    for row in fonts:
        name, emb, sub = row[0], row[-5], row[-4]
        assert (emb, sub) == ("yes", "yes") and "+" in name, row

    # The red seal lies on the authority's name, and nowhere else is red.
    found = anchor.find_anchor(pdf, license_face.authority_anchor(ZJ_NAME))
    scale = DPI / 72
    cx, cy = found.centre
    px, py = cx * scale, image.height - cy * scale
    radius = 21 * 72 / 25.4 * scale  # the 42 mm seal
    near = _red_pixels(image, (int(px - radius), int(py - radius), int(px + radius), int(py + radius)))
    assert near > 5000, near
    assert _red_pixels(image, (0, 0, image.width, int(py - radius - 10))) == 0

    # The attachment is the full token (as poppler extracts it).
    out = tmp_path / "license.jwt"
    subprocess.run([require_tool("pdfdetach"), "-savefile", "license.jwt", "-o", str(out), str(path)], check=True)
    assert out.read_bytes() == made.record.token.encode()

    report = license_pdf.verify_license_pdf(pdf, _ctx(dw))
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()


def test_qr_token_stored_at_issuance_or_signed_again(dw: dict, tmp_path: Path) -> None:
    """The QR token stored at issuance is printed; a licence without one (issued before it was stored) gets the
    same claims signed again (SM2 signatures differ each time)."""
    from sqlalchemy import text

    made = _issue(dw, FOOD)
    instance = dw["world"].instance
    pdf = license_documents.issue_pdf(instance, made.record.identifier)
    assert token.from_qr(_scan(_page_png(pdf, tmp_path))) == made.qr_token
    with instance.engine.begin() as connection:
        connection.execute(
            text("UPDATE license SET qr_token = NULL WHERE identifier = :i"), {"i": made.record.identifier}
        )
    pdf = license_documents.issue_pdf(instance, made.record.identifier)
    rebuilt = token.from_qr(_scan(_page_png(pdf, tmp_path)))
    assert rebuilt.rsplit(".", 1)[0] == made.qr_token.rsplit(".", 1)[0]
    assert rebuilt != made.qr_token
    assert api.verify(rebuilt.encode(), _ctx(dw)).indication is Indication.TOTAL_PASSED


def test_rs256_license_qr_fits_version_25(dw: dict, tmp_path: Path) -> None:
    """An RS256 signature is 256 bytes: the QR token leaves out further fields (bound by the digest) to stay within
    version 25; the scanned code verifies and says which fields it omits."""
    made = _issue(dw, BUSINESS, issuer="rsa")
    assert token.qr_version(token.to_qr(made.qr_token)) > document.MAX_QR_VERSION  # as issued it would not fit
    pdf = license_documents.issue_pdf(dw["world"].instance, made.record.identifier, qr_token=made.qr_token)
    payload = _scan(_page_png(pdf, tmp_path))
    assert token.qr_version(payload) <= document.MAX_QR_VERSION
    report = api.verify(payload.encode(), _ctx(dw))
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    omitted = dict(report.details)["omitted_fields"]
    assert "business_scope" in omitted and len(omitted) > 1
    assert "name" not in omitted and "uscc" not in omitted  # the holder stays in the code
    full = json.loads(made.record.fields)
    assert verify_license(payload, _ctx(dw), full_fields=full).passed
    assert not verify_license(payload, _ctx(dw), full_fields={**full, "name": "别的公司"}).passed


def test_issue_pdf_refuses_what_it_must_not_print(dw: dict) -> None:
    instance = dw["world"].instance
    made = _issue(dw, FOOD)
    other = _issue(dw, FOOD)
    with pytest.raises(InputError, match="B-LT or B-LTA"):
        license_documents.issue_pdf(instance, made.record.identifier, level="B-B")
    with pytest.raises(InputError, match="family"):
        license_documents.issue_pdf(instance, made.record.identifier, family="DSA")
    with pytest.raises(InputError, match="not the QR form of this licence"):
        license_documents.issue_pdf(instance, made.record.identifier, qr_token=other.qr_token)
    licenses.set_status(instance, made.record.identifier, "suspended", "test")
    with pytest.raises(ConflictError, match="suspended"):
        license_documents.issue_pdf(instance, made.record.identifier)


def test_one_seal_per_authority(dw: dict) -> None:
    """Both issuer keys of an authority use its one 证照专用章; a revoked seal is replaced by a new one."""
    instance = dw["world"].instance
    gd_code, gd_name = make_uscc("11440000006954832"), "广东省市场监督管理局"
    sm2 = licenses.register_issuer(
        instance, ca_id="region-440000-sm2", name=gd_name, code=gd_code, license_types=[FOOD]
    )
    rsa = licenses.register_issuer(
        instance, ca_id="region-440000-rsa", name=gd_name, code=gd_code, license_types=[FOOD], family="RSA"
    )
    first = license_documents.ensure_authority_seal(instance, sm2.id)
    assert license_documents.ensure_authority_seal(instance, rsa.id) == first
    record = seals.get(instance, first)
    assert (record.holder_name, record.holder_code, record.name) == (gd_name, gd_code, "证照专用章")
    assert record.issuer_ca_id == "region-440000-sm2" and record.rsa_cert_serial is not None
    seals.set_status(instance, first, "revoked", "test")
    second = license_documents.ensure_authority_seal(instance, sm2.id)
    assert second != first and seals.get(instance, second).status == "active"


# --- the renderer alone (no storage) -------------------------------------------------------------------------


def _local_license(type_code: str = BUSINESS, **changes: object) -> tuple[str, str]:
    """``(token, HR1 payload)`` of a licence signed by a throw-away SM2 key (the renderer checks no signature)."""
    license_type = catalogue.get(type_code)
    fields = catalogue.validate_fields(license_type, {**samples.sample(type_code), **changes})
    key = generate_private_key("sm2")
    kid = jwk.thumbprint(key.public_key)
    identifier = identifiers.make(type_code, ZJ_AUTHORITY, "20260000001", 1)
    code_field = license_type.holder_code_field
    start = datetime(2026, 3, 4, 16, tzinfo=UTC)
    body = token.claims(
        issuer_id="330000-test-sm2",
        identifier=identifier,
        type_code=type_code,
        issuer_code=ZJ_AUTHORITY,
        holder_kind=license_type.holder_kind,
        holder_name=str(fields[license_type.holder_name_field]),
        holder_code=str(fields[code_field]) if code_field else samples.NEWBORN_ID,
        holder_code_type=license_type.holder_code_type.value,
        fields=fields,
        issued_at=start + timedelta(hours=2),
        valid_from=start,
        valid_until=start + timedelta(days=365) if license_type.validity.end_allowed else None,
        status_uri="https://example.invalid/statuslists/330000-test-sm2/1",
        status_index=7,
    )
    full = token.sign(body, key.signer(), kid=kid, x5c=[b"certificate"])
    qr_body = json.loads(json.dumps(body))
    qr_body["license"]["fields"] = issuance.qr_fields(license_type, fields)  # long free text left out, as at issuance
    return full, token.to_qr(token.sign(qr_body, key.signer(), kid=kid))


def test_face_texts_and_dates() -> None:
    full, _qr = _local_license(BIRTH)
    face = license_face.face_from_claims(token.parse_unverified(full)[1], ZJ_NAME)
    assert face.title == "出生医学证明"
    assert face.validity == "2026年03月05日起长期有效" and face.issued == "2026年03月05日"
    assert ("持证人身份号码", samples.NEWBORN_ID) in face.rows  # the fields do not show the newborn's own number
    assert ("出生时间", "2026年03月01日08时30分") in face.rows
    assert ("发证机关", "发证机关：浙江省市场监督管理局") in face.expected()
    business = license_face.face_from_claims(token.parse_unverified(_local_license()[0])[1])
    assert business.validity == "2026年03月05日至2027年03月04日"  # exp is Beijing midnight after the last day
    assert not any(label.startswith("持证") for label, _v in business.rows)  # 名称 and 统一社会信用代码 show the holder


def test_long_face_continues_on_a_second_page(tmp_path: Path) -> None:
    item = "类技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广"
    scope = "一般项目：" + "；".join(f"第{i}{item}" for i in range(130))
    assert len(scope) > 3500
    full, qr = _local_license(business_scope=scope[:4000])
    pdf = document.render_token(full, qr_payload=qr, issuer_name=ZJ_NAME)
    text = license_pdf.page_text(pdf)
    face = license_face.face_from_claims(token.parse_unverified(full)[1], ZJ_NAME)
    missing = [what for what, value in face.expected() if license_face.normalise(value) not in text]
    assert not missing
    found = anchor.find_anchor(pdf, license_face.authority_anchor(ZJ_NAME))
    assert found.page_index >= 1  # the authority block (and the seal) go to the last page
    with pdfplumber.open(io.BytesIO(pdf)) as opened:
        assert len(opened.pages) == found.page_index + 1
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    assert all(row[-5:-3] == ["yes", "yes"] for row in _poppler_fonts(path))
    assert _scan(_page_png(pdf, tmp_path, page=found.page_index + 1)) == qr


def test_renderer_refuses_inconsistent_or_unprintable_input() -> None:
    full, qr = _local_license()
    license_type = catalogue.get(BUSINESS)
    claims = token.parse_unverified(full)[1]
    issued_at, valid_from, valid_until = license_face.dates_from_claims(claims)
    args = {
        "identifier": claims["jti"],
        "issuer_name": ZJ_NAME,
        "issued_at": issued_at,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "holder_name": claims["license"]["holder"]["name"],
        "holder_code": claims["license"]["holder"]["code"],
        "qr_payload": qr,
        "token": full,
    }
    pdf = document.render(license_type, claims["license"]["fields"], **args)
    assert pdf.startswith(b"%PDF-") and license_pdf.is_license_pdf(pdf) is True
    changed = {**claims["license"]["fields"], "legal_representative": "李四"}
    with pytest.raises(InputError, match="fields differ"):
        document.render(license_type, changed, **args)
    other_full, other_qr = _local_license(FOOD)
    with pytest.raises(InputError, match="QR payload differ"):
        document.render(license_type, claims["license"]["fields"], **{**args, "qr_payload": other_qr})
    with pytest.raises(InputError, match="identifier, licence type, holder, fields"):
        document.render(license_type, claims["license"]["fields"], **{**args, "token": other_full})
    anchored, anchored_qr = _local_license(domicile=f"发证机关：{ZJ_NAME}隔壁")
    with pytest.raises(InputError, match="where the seal is placed"):
        document.render_token(anchored, qr_payload=anchored_qr, issuer_name=ZJ_NAME)
    with pytest.raises(InputError) as too_big:
        document.qr_symbol("HR1:" + "A" * 2500)
    assert too_big.value.code is Code.INPUT_TOO_LARGE and too_big.value.evidence["version"] > 25
    # Items of varied text (zlib cannot shrink them much) push the QR code beyond version 25.
    items = [
        f"项目{i:02d}" + "".join(chr(0x4E00 + (i * 7919 + j * 104729) % 20000) for j in range(30)) for i in range(12)
    ]
    big_full, big_qr = _local_license(FOOD, business_items=items)
    with pytest.raises(InputError, match="QR") as unprintable:
        document.render_token(big_full, qr_payload=big_qr, issuer_name=ZJ_NAME)
    assert unprintable.value.code is Code.INPUT_TOO_LARGE
    version, modules = document.qr_symbol(qr)
    assert len(modules) == 4 * version + 17 + 2 * document.QR_BORDER
