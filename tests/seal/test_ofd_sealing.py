"""Sealing OFD documents (issue 18 item 2): Huren's own and foreign ones, several signatures, modifications after
signing detected, and the signature checked by independent peers — asn1tools with ``ses.asn``, gmssl's SM3 of
``Signature.xml`` and ``openssl pkeyutl`` (SM2, default ID) over ``TBS_Sign``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asn1tools
import pytest
from gmssl import func, sm3

from seal import ofd as seal_ofd
from seal import registry
from seal.models import SealRecord
from tests.conftest import STANDARDS, require_tool, shared_file
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.algorithms import SM2_SM3
from trust.crypto.errors import ConflictError, InputError
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats.ofd import document, package, signatures
from trust.service import seals, trust
from trust.service.seals import ofd as ofd_service
from verifier import context
from verifier.ofd.verify import verify_ofd
from verifier.report import Indication, Report, Result, SubIndication

SES = asn1tools.compile_files(str(STANDARDS / "ses.asn"), "der")


def sm3_of(data: bytes) -> bytes:
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("ofd-sealing") / "home")


@pytest.fixture(scope="module")
def seal(world: World) -> SealRecord:
    return seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
        dual=False,
    )


@pytest.fixture(scope="module")
def holder(world: World, seal: SealRecord) -> tuple[Signer, bytes]:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        key_id, der = registry.signer_key_ids(session, seal)["SM2"]
    return world.instance.keystore.signer(key_id, SM2_SM3), der


@pytest.fixture(scope="module")
def ctx(world: World) -> context.VerificationContext:
    return context.build(
        bundle=trust.export_bundle(world.instance).read_bytes(), pins=[trust.root_fingerprints(world.instance)["SM2"]]
    )


def sealed(source: bytes, seal: SealRecord, holder: tuple[Signer, bytes], **kwargs) -> bytes:
    signer, cert = holder
    return seal_ofd.seal_ofd(source, seal_der=seal.seal_der, signer=signer, signer_cert=cert, **kwargs)


def results(report: Report) -> dict[str, Result]:
    return {c.name: c.result for c in report.checks}


def test_own_ofd_sealed_and_verified(seal, holder, ctx):
    source = shared_file("ofd", "ofdrw-sign-VPage7.ofd").read_bytes()
    out = sealed(source, seal, holder)
    report = verify_ofd(out, ctx)
    assert report.passed, report.to_text()
    (sig,) = report.children
    assert dict(sig.details)["stamps"] == ["page 5 at x 144 y 231, 42×42 mm"]  # bottom right of the last page
    assert results(sig)["modifications"] is Result.PASSED
    assert sig.children[0].kind == "ses-signature" and sig.children[0].passed
    # every original file is kept byte for byte
    before, after = package.read(source), package.read(out)
    assert all(after.files[n] == before.files[n] for n in before.names if n != "OFD.xml")
    body = document.entry(after)[0]
    assert body.signatures == "Doc_0/Signs/Signatures.xml"


def test_two_signatures_and_placement(seal, holder, ctx):
    source = shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()
    first = sealed(source, seal, holder, placement=seal_ofd.Placement(1, 60, 60))
    second = sealed(first, seal, holder, anchor_text="OFD Reader")
    report = verify_ofd(second, ctx)
    assert report.passed, report.to_text()
    assert len(report.children) == 2
    first_sig, second_sig = report.children
    assert dict(first_sig.details)["stamps"] == ["page 1 at x 39 y 39, 42×42 mm"]
    # centred on the text object that shows "OFD Reader" (Boundary 31.7 25.4 40.5 5)
    assert dict(second_sig.details)["stamps"] == ["page 1 at x 30.95 y 6.9, 42×42 mm"]
    assert "added later, covered by later signatures" in next(
        c.detail for c in first_sig.checks if c.name == "modifications"
    )
    pkg = package.read(second)
    listing = signatures.parse_list(pkg, "Doc_0/Signs/Signatures.xml")
    assert [e.id for e in listing.entries] == ["1", "2"] and listing.max_sign_id == "2"
    later = signatures.parse_signature(pkg, listing.entries[1].path)
    covered = {r.path for r in later.references}
    assert {"Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/SignedValue.dat"} <= covered
    assert "Doc_0/Signs/Signatures.xml" not in covered


def rewrite(ofd: bytes, name: str, content: bytes | None) -> bytes:
    files = dict(package.read(ofd).files)
    if content is None:
        del files[name]
    else:
        files[name] = content
    return package.write(files)


def test_modifications_after_signing_are_detected(seal, holder, ctx):
    source = shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()
    twice = sealed(sealed(source, seal, holder), seal, holder)
    pkg = package.read(twice)
    # a changed page: both signatures name it
    page = "Doc_0/Pages/Page_0/Content.xml"
    changed = rewrite(twice, page, pkg.read(page).replace("你好呀".encode(), "再见了".encode()))
    report = verify_ofd(changed, ctx)
    assert report.sub_indication is SubIndication.HASH_FAILURE
    for sig in report.children:
        assert dict(sig.details)["changed_files"] == [f"/{page}"]
    # an added file: named in both signatures' modifications
    added = verify_ofd(rewrite(twice, "Doc_0/Res/extra.png", b"\x89PNG"), ctx)
    for sig in added.children:
        assert sig.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
        assert dict(sig.details)["uncovered_files"] == ["/Doc_0/Res/extra.png"]
    # Signatures.xml changed: the second signature dropped from the list leaves its files behind
    listing = pkg.read("Doc_0/Signs/Signatures.xml")
    head, _sep, _tail = listing.partition(b'<ofd:Signature ID="2"')
    dropped = head.replace(b"<ofd:MaxSignId>2<", b"<ofd:MaxSignId>1<") + b"</ofd:Signatures>"
    report = verify_ofd(rewrite(twice, "Doc_0/Signs/Signatures.xml", dropped), ctx)
    (only,) = report.children
    assert only.indication is Indication.TOTAL_FAILED
    assert only.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert "/Doc_0/Signs/Sign_1/Signature.xml" in dict(only.details)["uncovered_files"]
    assert "does not list" in only.errors[0]
    # Signatures.xml pointing the second entry at the first signature's files: it no longer verifies
    swapped = listing.replace(b"/Doc_0/Signs/Sign_1/Signature.xml", b"/Doc_0/Signs/Sign_0/Signature.xml")
    report = verify_ofd(rewrite(twice, "Doc_0/Signs/Signatures.xml", swapped), ctx)
    assert not report.passed


def test_foreign_ofd_keeps_its_signature(seal, holder, ctx):
    """A region's OFD, already sealed under the tax administration's CA: Huren adds its seal, theirs still verifies as
    it did (their CA is not in the trust list) and ours passes."""
    source = shared_file("ofd", "ofdrw-sign-v4signed.ofd").read_bytes()
    before = verify_ofd(source, ctx).children[0]
    out = sealed(source, seal, holder)
    report = verify_ofd(out, ctx)
    theirs, ours = report.children
    assert ours.passed, report.to_text()
    assert (theirs.indication, theirs.sub_indication) == (before.indication, before.sub_indication)
    assert results(theirs)["references"] is Result.PASSED
    assert results(theirs)["modifications"] is Result.PASSED  # our files are covered by our later signature
    assert report.indication is before.indication  # the bottom line is theirs, as it was


def test_closed_document_and_bad_placement_refused(seal, holder):
    closed = shared_file("ofd", "ofdrw-converter-V4RideRight.ofd").read_bytes()
    with pytest.raises(ConflictError, match="closed to further signatures"):
        sealed(closed, seal, holder)
    source = shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()
    with pytest.raises(InputError, match="no page of the document shows"):
        sealed(source, seal, holder, anchor_text="发证机关：不存在")
    with pytest.raises(InputError, match="not a page 3"):
        sealed(source, seal, holder, placement=seal_ofd.Placement(3, 10, 10))
    with pytest.raises(InputError):
        sealed(b"PK\x03\x04 not an ofd", seal, holder)


def test_service_seals_with_a_time_stamp(world, seal, ctx):
    source = shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()
    out = ofd_service.seal_document(world.instance, source, es_id=seal.es_id)
    report = verify_ofd(out, ctx)
    assert report.passed, report.to_text()
    ses_report = report.children[0].children[0]
    assert results(ses_report)["time-stamp"] is Result.PASSED


def test_peers_read_and_verify_the_signature(seal, holder, tmp_path: Path):
    """asn1tools decodes SignedValue.dat with ses.asn, its dataHash is gmssl's SM3 of Signature.xml, and OpenSSL
    verifies the signer's SM2 signature (default ID) over TBS_Sign."""
    openssl = require_tool("openssl")
    out = sealed(shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes(), seal, holder)
    pkg = package.read(out)
    signature_xml = pkg.read("Doc_0/Signs/Sign_0/Signature.xml")
    value = pkg.read("Doc_0/Signs/Sign_0/SignedValue.dat")
    decoded = SES.decode("SES-Signature", value)
    assert decoded["toSign"]["dataHash"] == (sm3_of(signature_xml), 256)
    assert decoded["toSign"]["propertyInfo"] == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert SES.encode("SESeal", decoded["toSign"]["eseal"]) == pkg.read("Doc_0/Signs/Sign_0/Seal.esl") == seal.seal_der
    assert SES.encode("SES-Signature", decoded) == value
    tbs = SES.encode("TBS-Sign", decoded["toSign"])
    (tmp_path / "signer.der").write_bytes(decoded["cert"])
    subprocess.run(
        [
            openssl,
            "x509",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signer.der"),
            "-pubkey",
            "-noout",
            "-out",
            str(tmp_path / "signer.pem"),
        ],
        check=True,
        capture_output=True,
    )
    (tmp_path / "sig.der").write_bytes(decoded["signature"][0])

    def pkeyutl(data: bytes) -> subprocess.CompletedProcess[str]:
        (tmp_path / "tbs.der").write_bytes(data)
        return subprocess.run(
            [
                *(openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3"),
                *("-pkeyopt", "distid:1234567812345678"),  # the default ID of GB/T 35276
                *("-pubin", "-inkey", str(tmp_path / "signer.pem")),
                *("-in", str(tmp_path / "tbs.der"), "-sigfile", str(tmp_path / "sig.der")),
            ],
            capture_output=True,
            text=True,
        )

    good = pkeyutl(tbs)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout, good.stderr
    tampered = decoded["toSign"] | {"dataHash": (sm3_of(signature_xml + b" "), 256)}
    assert pkeyutl(SES.encode("TBS-Sign", tampered)).returncode != 0
    assert ses.parse_signature(value).seal.der == seal.seal_der


def test_renderer_survives_a_broken_font_and_a_broken_path():
    from seal import ofd_render

    pkg = package.read(shared_file("ofd", "ofdrw-converter-signout.ofd").read_bytes())
    files = dict(pkg.files)
    for name in files:
        if name.endswith(".ttf"):
            files[name] = files[name][:200] + bytes(range(256)) * 4  # outlines that FreeType refuses
    page = "Doc_0/Pages/Page_0/Content.xml"
    files[page] = files[page].replace(b"<ofd:AbbreviatedData>M ", b"<ofd:AbbreviatedData>M L ", 1)
    png = ofd_render.render_page(package.write(files), 1, dpi=30)
    assert png.startswith(b"\x89PNG")
