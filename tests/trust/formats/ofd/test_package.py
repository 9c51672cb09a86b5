"""The OFD format layer on ofdrw's sample files (tests/data/vendor/ofd) and on hostile packages."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.conftest import shared_file
from trust.crypto.algorithms import digest
from trust.crypto.errors import Code, EncodingError, InputError
from trust.formats.ofd import document, package, signatures, xml

ALL = [
    "ofdrw-converter-V4RideRight.ofd",
    "ofdrw-converter-helloworld.ofd",
    "ofdrw-converter-signout.ofd",
    "ofdrw-layout-fptpl.ofd",
    "ofdrw-reader-chineseDir.ofd",
    "ofdrw-reader-keyword.ofd",
    "ofdrw-sign-DigitalSign.ofd",
    "ofdrw-sign-VPage7.ofd",
    "ofdrw-sign-signedFile.ofd",
    "ofdrw-sign-v4signed.ofd",
]
SIGNED = {
    "ofdrw-converter-V4RideRight.ofd": 1,
    "ofdrw-reader-keyword.ofd": 2,
    "ofdrw-sign-DigitalSign.ofd": 1,
    "ofdrw-sign-signedFile.ofd": 1,
    "ofdrw-sign-v4signed.ofd": 1,
}


def sample(name: str) -> bytes:
    return shared_file("ofd", name).read_bytes()


@pytest.mark.parametrize("name", ALL)
def test_every_sample_parses(name):
    pkg = package.read(sample(name))
    bodies = document.entry(pkg)
    assert len(bodies) == 1
    doc = document.document(pkg, bodies[0].doc_root)
    assert doc.pages, name
    for ref in doc.pages:
        page = document.page(pkg, ref)
        assert page.path in pkg
    document.resources(pkg, doc)
    document.attachments(pkg, doc)


def test_sample_text_and_chinese_names():
    pkg = package.read(sample("ofdrw-converter-helloworld.ofd"))
    doc = document.document(pkg, "Doc_0/Document.xml")
    assert document.page(pkg, doc.pages[0]).text() == "你好呀，OFD Reader&Writer！"
    chinese = package.read(sample("ofdrw-reader-chineseDir.ofd"))
    assert "Doc_0/Res/这是一个中文目录/数据文件.txt" in chinese


@pytest.mark.parametrize(("name", "count"), sorted(SIGNED.items()))
def test_signed_samples_list_their_signatures(name, count):
    pkg = package.read(sample(name))
    body = document.entry(pkg)[0]
    assert body.signatures is not None
    listed = signatures.parse_list(pkg, body.signatures)
    assert len(listed.entries) == count
    for entry in listed.entries:
        parsed = signatures.parse_signature(pkg, entry.path)
        algorithm, reason = signatures.check_method(parsed.check_method)
        assert algorithm == "sm3", reason
        assert parsed.signed_value in pkg
        results = signatures.check_references(pkg, parsed, algorithm)
        assert results
        if name == "ofdrw-reader-keyword.ofd":
            # ofdrw's keyword sample was edited after it was signed: these three files no longer match
            assert {r.path for r in results if r.status != "ok"} == {
                "OFD.xml",
                "Doc_0/Document.xml",
                "Doc_0/Pages/Page_0/Content.xml",
            }
        else:
            assert all(r.status == "ok" for r in results), [r for r in results if r.status != "ok"]


def test_fptpl_names_a_missing_signatures_file():
    pkg = package.read(sample("ofdrw-layout-fptpl.ofd"))
    body = document.entry(pkg)[0]
    assert body.signatures == "Doc_0/Signs/Signatures.xml"
    assert body.signatures not in pkg


def test_signature_times():
    def iso(text):
        moment = signatures.signature_time(text)
        assert moment is not None
        return moment.isoformat()

    assert iso("20201010151120") == "2020-10-10T07:11:20+00:00"
    assert iso("20200620091849Z") == "2020-06-20T09:18:49+00:00"
    assert iso("2020-04-22 16:22:44") == "2020-04-22T08:22:44+00:00"
    assert iso("20201004072855.302Z") == "2020-10-04T07:28:55.302000+00:00"
    assert signatures.signature_time("yesterday") is None


def test_check_methods():
    assert signatures.check_method("1.2.156.10197.1.401") == ("sm3", "")
    assert signatures.check_method("SM3") == ("sm3", "")
    assert signatures.check_method(None)[0] is None
    assert "broken" in signatures.check_method("MD5")[1]
    assert "not a digest" in signatures.check_method("1.2.3")[1]


def test_round_trip_write_keeps_bytes():
    pkg = package.read(sample("ofdrw-sign-v4signed.ofd"))
    again = package.read(package.write(dict(pkg.files)))
    assert dict(again.files) == dict(pkg.files)
    assert again.names[0] == "OFD.xml"
    assert package.write(dict(pkg.files)) == package.write(dict(pkg.files))  # deterministic


def test_build_signature_and_list():
    stamp = signatures.StampAnnot("s1", "1", (10.0, 20.0, 40.0, 40.0), None)
    value = digest("sm3", b"x")
    from datetime import UTC, datetime

    raw = signatures.build_signature(
        references=[("OFD.xml", value)],
        signed_value="Doc_0/Signs/Sign_0/SignedValue.dat",
        date_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        provider=("Huren", "Huren", "1"),
        stamps=[stamp],
        seal="Doc_0/Signs/Sign_0/Seal.esl",
    )
    pkg = package.Package(
        {"OFD.xml": b"x", "Doc_0/Signs/Sign_0/Signature.xml": raw}, ("OFD.xml", "Doc_0/Signs/Sign_0/Signature.xml")
    )
    parsed = signatures.parse_signature(pkg, "Doc_0/Signs/Sign_0/Signature.xml")
    assert parsed.references[0].path == "OFD.xml"
    assert parsed.references[0].check_value == value
    assert parsed.stamps == (stamp,)
    assert parsed.seal == "Doc_0/Signs/Sign_0/Seal.esl"
    assert parsed.date_time == "20260102030405Z"
    listing = signatures.add_to_list(None, entry_id="1", kind="Seal", location="Doc_0/Signs/Sign_0/Signature.xml")
    more = signatures.add_to_list(listing, entry_id="2", kind="Seal", location="Doc_0/Signs/Sign_1/Signature.xml")
    pkg2 = package.Package({"Doc_0/Signs/Signatures.xml": more}, ("Doc_0/Signs/Signatures.xml",))
    parsed_list = signatures.parse_list(pkg2, "Doc_0/Signs/Signatures.xml")
    assert [e.id for e in parsed_list.entries] == ["1", "2"]
    assert parsed_list.max_sign_id == "2"
    assert signatures.next_id(["1", "s003", "x"]) == "4"


# --- hostile packages ---------------------------------------------------------------------------------------


def _zip(entries: list[tuple[str, bytes]], compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compress) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = compress
            archive.writestr(info, data)
    return out.getvalue()


OFD_XML = b'<?xml version="1.0"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>'


@pytest.mark.parametrize(
    "name", ["../evil.xml", "/etc/passwd", "Doc_0/../../x", "a\\b.xml", "C:/x.xml", "Doc_0//x", "a/./b", "x\x01y"]
)
def test_path_traversal_is_refused(name):
    data = _zip([("OFD.xml", OFD_XML), (name, b"x")])
    with pytest.raises(EncodingError) as caught:
        package.read(data)
    assert caught.value.code is Code.OFD_PACKAGE_INVALID


def test_duplicate_and_case_colliding_names_are_refused():
    with pytest.warns(UserWarning):  # zipfile itself warns of the duplicate
        data = _zip([("OFD.xml", OFD_XML), ("Doc_0/a.xml", b"1"), ("Doc_0/a.xml", b"2")])
    with pytest.raises(EncodingError, match="same name"):
        package.read(data)
    data = _zip([("OFD.xml", OFD_XML), ("Doc_0/a.xml", b"1"), ("doc_0/A.xml", b"2")])
    with pytest.raises(EncodingError, match="same name"):
        package.read(data)


def test_zip_bomb_is_refused_before_inflating():
    bomb = _zip([("OFD.xml", OFD_XML), ("Doc_0/bomb.xml", b"\0" * (8 * 1024 * 1024))])
    with pytest.raises(InputError) as caught:
        package.read(bomb)
    assert caught.value.code is Code.INPUT_TOO_LARGE
    assert "zip bomb" in caught.value.message


def test_declared_size_lie_is_caught():
    data = bytearray(_zip([("OFD.xml", OFD_XML), ("Doc_0/a.xml", b"hello world" * 10)], zipfile.ZIP_STORED))
    # the central directory's uncompressed size of the second entry says 5: zipfile stops there and the CRC fails
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (5).to_bytes(4, "little")
    with pytest.raises(EncodingError):
        package.read(bytes(data))


def test_not_a_zip_or_prefixed_or_without_ofd_xml():
    with pytest.raises(EncodingError, match="ZIP local file header"):
        package.read(b"%PDF-1.7 not an ofd")
    with pytest.raises(EncodingError, match="ZIP local file header"):
        package.read(b"junk" + _zip([("OFD.xml", OFD_XML)]))
    with pytest.raises(EncodingError, match=r"no OFD\.xml"):
        package.read(_zip([("Doc_0/Document.xml", b"<x/>")]))
    with pytest.raises(EncodingError, match="readable ZIP"):
        package.read(b"PK\x03\x04" + b"\0" * 100)


def test_encrypted_and_exotic_compression_refused():
    data = bytearray(_zip([("OFD.xml", OFD_XML)], zipfile.ZIP_STORED))
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 1  # encrypted flag in the central directory
    with pytest.raises(EncodingError, match="encrypted"):
        package.read(bytes(data))
    lzma = _zip([("OFD.xml", OFD_XML)], zipfile.ZIP_LZMA)
    with pytest.raises(EncodingError, match="compression method"):
        package.read(lzma)


def test_resolve():
    assert package.resolve("/Doc_0/Document.xml") == "Doc_0/Document.xml"
    assert package.resolve("Pages/Page_0/Content.xml", "Doc_0") == "Doc_0/Pages/Page_0/Content.xml"
    assert package.resolve("../Res/a.png", "Doc_0/Pages") == "Doc_0/Res/a.png"
    with pytest.raises(EncodingError, match="leaves the package root"):
        package.resolve("../../x", "Doc_0")
    with pytest.raises(EncodingError):
        package.resolve("")


# --- hostile XML --------------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&lol3;</ofd:OFD>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&e;</ofd:OFD>"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, EXTERNAL, b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://x/y.dtd"><x/>']
)
def test_doctype_and_entities_refused(data):
    with pytest.raises(EncodingError) as caught:
        xml.parse(data, "OFD.xml")
    assert caught.value.code is Code.OFD_XML_INVALID
    pkg = _zip([("OFD.xml", data)])
    with pytest.raises(EncodingError):
        document.entry(package.read(pkg))


def test_deep_nesting_and_garbage_refused():
    deep = b"<a>" * 5000 + b"</a>" * 5000
    with pytest.raises(EncodingError, match="not well-formed"):
        xml.parse(deep, "deep.xml")
    with pytest.raises(EncodingError, match="not well-formed"):
        xml.parse(b"<ofd:OFD", "OFD.xml")
    with pytest.raises(InputError) as caught:
        xml.parse(b"<a>" + b" " * xml.MAX_XML_BYTES + b"</a>", "big.xml")
    assert caught.value.code is Code.INPUT_TOO_LARGE


def test_wrong_root_and_missing_parts():
    pkg = package.read(_zip([("OFD.xml", b"<x/>")]))
    with pytest.raises(EncodingError, match="not ofd:OFD"):
        document.entry(pkg)
    pkg = package.read(_zip([("OFD.xml", OFD_XML)]))
    with pytest.raises(EncodingError, match="no DocBody"):
        document.entry(pkg)


# --- found by fuzzing (regressions) ---------------------------------------------------------------------------


def test_unsupported_zip_version_is_an_input_error():
    data = bytearray(_zip([("OFD.xml", OFD_XML)], zipfile.ZIP_STORED))
    central = data.rfind(b"PK\x01\x02")
    data[central + 6] = 212  # "version needed to extract" 21.2: zipfile raises NotImplementedError
    data[4] = 212
    with pytest.raises(EncodingError) as caught:
        package.read(bytes(data))
    assert caught.value.code is Code.OFD_PACKAGE_INVALID


def test_unreadable_numbers_on_a_page_are_an_input_error():
    pkg = package.read(sample("ofdrw-converter-helloworld.ofd"))
    files = dict(pkg.files)
    page = "Doc_0/Pages/Page_0/Content.xml"
    files[page] = files[page].replace(b'DeltaX="3 3 3 3', b'DeltaX="g 1e999 3')
    broken = package.read(package.write(files))
    with pytest.raises(EncodingError, match="unreadable number"):
        document.page(broken, page)
