"""The OFD structure rules (trust.formats.ofd.structure, docs/OFD.md): Huren's own packages follow them; a package
broken in any of the ways below names the rule it breaks; ofdrw's samples (written by another implementation) are
read without error and their departures named."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from licenses import ofd as licence_ofd
from tests.conftest import shared_file
from tests.licenses.test_document import ZJ_NAME, _local_license
from trust.formats.ofd import package, structure

LICENCE_FILES = ("OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml", "Doc_0/Pages/Page_0/Content.xml")


@pytest.fixture(scope="module")
def licence() -> bytes:
    full, qr = _local_license()
    return licence_ofd.render_token(full, qr_payload=qr, issuer_name=ZJ_NAME)


def test_licence_ofd_follows_every_rule(licence):
    assert structure.validate(package.read(licence)) == ()


def test_a_many_page_document_follows_every_rule():
    """A document as bench/ofd.py draws them: many pages, so object IDs run past 100 (where page IDs once began)."""
    from licenses import document
    from licenses.document import FONT_BOLD, FONT_REGULAR

    document._register_fonts()  # reportlab's metrics of the face's fonts (the OFD canvas measures with them)
    canvas = licence_ofd.OfdCanvas()
    for number in range(1, 6):
        canvas.setFont(FONT_BOLD, 16)
        canvas.drawString(72, 770, f"互认测试合同 第{number}页")
        canvas.setFont(FONT_REGULAR, 11)
        for line in range(30):
            canvas.drawString(72, 730 - 18 * line, f"第{line + 1}条 本合同由互认平台测试生成。")
        canvas.showPage()
    data = licence_ofd.document_package(canvas, title="互认测试合同")
    found = structure.validate(package.read(data))
    assert found == (), [str(v) for v in found]


def edit(name: str, old: bytes, new: bytes) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new, 1)

    return change


def drop(name: str) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        del files[name]

    return change


def add(name: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        files[name] = data

    return change


BROKEN = {
    "version": (edit("OFD.xml", b'Version="1.0"', b'Version="2.5"'), "entry"),
    "doctype": (edit("OFD.xml", b'DocType="OFD"', b'DocType="PDF"'), "entry"),
    "docinfo-order": (edit("OFD.xml", b"<ofd:DocID>", b"<ofd:Creator>x</ofd:Creator><ofd:DocID>"), "entry"),
    "creation-date": (edit("OFD.xml", b"<ofd:CreationDate>2026-03-05", b"<ofd:CreationDate>5 March 2026"), "entry"),
    "no-max-unit-id": (edit("Doc_0/Document.xml", b"<ofd:MaxUnitID>", b"<ofd:X>"), "document"),
    "document-order": (
        edit("Doc_0/Document.xml", b"<ofd:CommonData>", b"<ofd:Attachments>a.xml</ofd:Attachments><ofd:CommonData>"),
        "document",
    ),
    "physical-box": (edit("Doc_0/Document.xml", b"0 0 210 297", b"0 0 210"), "box"),
    "missing-page-file": (drop("Doc_0/Pages/Page_0/Content.xml"), "location"),
    "missing-font-file": (drop("Doc_0/Res/font_bold.ttf"), "location"),
    "missing-attachment": (drop("Doc_0/Attachs/license.jwt"), "location"),
    "duplicate-id": (edit("Doc_0/Pages/Page_0/Content.xml", b'ID="12"', b'ID="11"'), "id"),
    "id-not-a-number": (edit("Doc_0/Pages/Page_0/Content.xml", b'ID="12"', b'ID="x12"'), "id"),
    "unknown-font": (edit("Doc_0/Pages/Page_0/Content.xml", b'Font="3"', b'Font="99"'), "id"),
    "negative-boundary": (
        edit("Doc_0/Pages/Page_0/Content.xml", b'Boundary="0 0 210 297"', b'Boundary="0 0 -1 297"'),
        "box",
    ),
    "no-text-code": (
        edit("Doc_0/Pages/Page_0/Content.xml", b"<ofd:TextCode ", b"<ofd:TextCodeX "),
        "page",
    ),
    "no-font-name": (edit("Doc_0/PublicRes.xml", b'FontName="NotoSansSC-Bold"', b'Name="x"'), "resource"),
    "attachment-date": (edit("Doc_0/Attachs/Attachments.xml", b'CreationDate="', b'CreationDate="on '), "attachments"),
    "attachment-no-name": (edit("Doc_0/Attachs/Attachments.xml", b'Name="license.jwt"', b""), "attachments"),
    "signatures-type": (
        lambda files: (
            edit(
                "OFD.xml",
                b"</ofd:DocRoot>",
                b"</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>",
            )(files),
            add(
                "Doc_0/Signs/Signatures.xml",
                b'<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Signature ID="1" Type="Stamp" '
                b'BaseLoc="/OFD.xml"/></ofd:Signatures>',
            )(files),
        ),
        "signatures",
    ),
    "signature-file": (
        lambda files: (
            edit(
                "OFD.xml",
                b"</ofd:DocRoot>",
                b"</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>",
            )(files),
            add(
                "Doc_0/Signs/Signatures.xml",
                b'<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Signature ID="1" Type="Seal" '
                b'BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>',
            )(files),
            add(
                "Doc_0/Signs/Sign_0/Signature.xml",
                b'<ofd:Signature xmlns:ofd="http://www.ofdspec.org/2016"><ofd:SignedInfo><ofd:Provider/>'
                b'<ofd:References CheckMethod="CRC32"><ofd:Reference FileRef="/OFD.xml">'
                b"<ofd:CheckValue>#!</ofd:CheckValue></ofd:Reference></ofd:References></ofd:SignedInfo></ofd:Signature>",
            )(files),
        ),
        "signatures",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_package_names_the_rule(licence, case):
    change, rule = BROKEN[case]
    files = dict(package.read(licence).files)
    change(files)
    found = structure.validate(package.read(package.write(files)))
    assert rule in structure.rules(found), [str(v) for v in found]
    assert all(str(v).startswith(f"{v.rule}: /") for v in found)


def test_a_signature_file_breaks_every_signature_rule_it_can(licence):
    files = dict(package.read(licence).files)
    BROKEN["signature-file"][0](files)
    messages = [str(v) for v in structure.validate(package.read(package.write(files)))]
    for expected in ("no ProviderName", "CheckMethod 'CRC32'", "CheckValue is not base64", "no SignedValue"):
        assert any(expected in m for m in messages), messages


UNSIGNED_SAMPLE_RULES = {
    # ofdrw writes CommonData's children out of the schema's order
    "ofdrw-converter-helloworld.ofd": {"document"},
    "ofdrw-reader-chineseDir.ofd": {"document"},
    # a ModDate with a time (xs:date wanted), Annotations after CustomTags
    "ofdrw-converter-signout.ofd": {"entry", "document"},
    # Template after Area, and a Signatures.xml that OFD.xml names but the package lacks
    "ofdrw-layout-fptpl.ofd": {"page", "location"},
    "ofdrw-sign-VPage7.ofd": {"document", "location"},
}


@pytest.mark.parametrize("name", sorted(UNSIGNED_SAMPLE_RULES))
def test_ofdrw_samples_departures_are_named(name):
    found = structure.validate(package.read(shared_file("ofd", name).read_bytes()))
    assert structure.rules(found) == UNSIGNED_SAMPLE_RULES[name], [str(v) for v in found]


def test_every_ofdrw_sample_is_read_without_error():
    for path in sorted(shared_file("ofd", "ofdrw-root.pem").parent.glob("*.ofd")):
        assert isinstance(structure.validate(package.read(path.read_bytes())), tuple)
