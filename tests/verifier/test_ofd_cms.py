"""CMS-form OFD signatures (issue 18): ``SignedValue.dat`` holding a CMS SignedData over ``Signature.xml`` —
detached, encapsulated, or the digest of the file encapsulated as GM/T plug-ins write it — verified with the same
report model as the SES form: the signature, the signed content, the signer's chain; every way of breaking it fails."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from asn1crypto import cms

from tests.conftest import shared_file
from tests.support.chains import NOW, Factory, Node, leaf_extensions, replace
from trust.crypto.algorithms import digest
from trust.crypto.keys import generate_private_key
from trust.formats import cms as cms_format
from trust.formats import x509 as cx
from trust.formats.ofd import package, signatures
from verifier import context
from verifier.ofd.verify import verify_ofd
from verifier.report import Indication, Report, Result, SubIndication

SIGNS = "Doc_0/Signs"


@pytest.fixture(scope="module")
def factory() -> Factory:
    return Factory()


def sign_ofd(
    ofd: bytes,
    signer: Node,
    *,
    detached: bool = True,
    digest_only: bool = False,
    change_after: bool = False,
    include_certificates: bool = True,
) -> bytes:
    """``ofd`` with one ``Type="Sign"`` signature whose value is a CMS SignedData by ``signer`` over
    ``Signature.xml`` (``digest_only``: over its SM3 / SHA-256 digest, encapsulated)."""
    pkg = package.read(ofd)
    files = dict(pkg.files)
    signature_path, value_path = f"{SIGNS}/Sign_0/Signature.xml", f"{SIGNS}/Sign_0/SignedValue.dat"
    files[package.ENTRY_FILE] = signatures.set_signatures_location(
        files[package.ENTRY_FILE], 0, f"/{SIGNS}/Signatures.xml"
    )
    files[f"{SIGNS}/Signatures.xml"] = signatures.add_to_list(None, entry_id="1", kind="Sign", location=signature_path)
    references = [(name, digest("sm3", data)) for name, data in files.items() if not name.endswith("Signatures.xml")]
    signature_xml = signatures.build_signature(
        references=references,
        signed_value=value_path,
        date_time=NOW,
        provider=("Huren tests", "Huren", "1"),
    )
    files[signature_path] = signature_xml
    key = signer.key.signer()
    content = digest(key.algorithm.hash, signature_xml) if digest_only else signature_xml
    value = cms_format.sign(
        content,
        key,
        signer.cert,
        detached=detached and not digest_only,
        signing_time=NOW,
        include_certificates=include_certificates,
    ).dump()
    files[value_path] = value
    if change_after:
        files[signature_path] = signature_xml.replace(b"Huren tests", b"Huren tesTs")
    return package.write(files)


def world(factory: Factory, spec: str) -> tuple[Node, Node]:
    root = factory.root(f"OFD {spec} Root", key=generate_private_key(spec))
    leaf = factory.leaf(f"OFD {spec} signer", root, key=generate_private_key(spec))
    return root, leaf


def base() -> bytes:
    return shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()


def verify(ofd: bytes, root: Node | None, *untrusted: Node) -> Report:
    ctx = context.build(at=NOW, anchors=[root.der] if root else [], untrusted=[n.der for n in untrusted])
    report = verify_ofd(ofd, ctx)
    assert len(report.children) == 1
    return report.children[0]


def check(report: Report, name: str) -> str:
    found = [c for c in report.checks if c.name == name and c.result is not Result.WARNING]
    assert len(found) == 1, report.to_text()
    return found[0].detail


@pytest.mark.parametrize("spec", ["sm2", "rsa-2048"])
@pytest.mark.parametrize(
    ("options", "form"),
    [
        ({"detached": True}, "detached"),
        ({"detached": False}, "encapsulated"),
        ({"digest_only": True}, "digest encapsulated"),
    ],
    ids=["detached", "encapsulated", "digest"],
)
def test_cms_signature_value_verifies(factory, spec, options, form):
    root, leaf = world(factory, spec)
    sig = verify(sign_ofd(base(), leaf, **options), root)
    assert sig.indication is Indication.TOTAL_PASSED, sig.to_text()
    assert f"CMS SignedData ({form})" in check(sig, "signed-value")
    assert "signer certificate valid for document-signing at signingTime" in check(sig, "signer-certificate")
    assert dict(sig.details)["signed_value_form"] == f"CMS SignedData, {form}"
    assert sig.chain[-1].source == "anchor"


def test_cms_signature_without_its_anchor_is_untrusted(factory):
    _root, leaf = world(factory, "sm2")
    sig = verify(sign_ofd(base(), leaf), None)
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert "CMS SignedData (detached)" in check(sig, "signed-value")


@pytest.mark.parametrize("options", [{"detached": True}, {"detached": False}, {"digest_only": True}])
def test_signature_xml_changed_after_signing_fails(factory, options):
    root, leaf = world(factory, "sm2")
    sig = verify(sign_ofd(base(), leaf, change_after=True, **options), root)
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.HASH_FAILURE, sig.to_text()
    assert "Signature.xml changed after signing" in check(sig, "signed-value")


def test_tampered_cms_signature_fails(factory):
    root, leaf = world(factory, "sm2")
    ofd = sign_ofd(base(), leaf)
    value_path = f"{SIGNS}/Sign_0/SignedValue.dat"
    pkg = package.read(ofd)
    info = cms.ContentInfo.load(pkg.read(value_path))
    signer_info = info["content"]["signer_infos"][0]
    raw = bytearray(signer_info["signature"].native)
    raw[-5] ^= 0x01
    signer_info["signature"] = bytes(raw)
    files = dict(pkg.files)
    files[value_path] = info.dump(force=True)
    sig = verify(package.write(files), root)
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.SIG_CRYPTO_FAILURE, sig.to_text()


def test_cms_signer_certificate_may_be_given_as_untrusted(factory):
    root, leaf = world(factory, "sm2")
    ofd = sign_ofd(base(), leaf, include_certificates=False)
    without = verify(ofd, root)
    assert without.indication is Indication.INDETERMINATE
    assert without.sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    with_cert = verify(ofd, root, leaf)
    assert with_cert.indication is Indication.TOTAL_PASSED, with_cert.to_text()


def test_garbage_that_looks_like_cms_is_a_format_failure(factory):
    root, leaf = world(factory, "sm2")
    ofd = sign_ofd(base(), leaf)
    value_path = f"{SIGNS}/Sign_0/SignedValue.dat"
    pkg = package.read(ofd)
    value = pkg.read(value_path)
    files = dict(pkg.files)
    files[value_path] = value + b"\x00\x00"
    sig = verify(package.write(files), root)
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.FORMAT_FAILURE


def test_keyword_sample_plug_in_signature_verifies_but_the_document_changed():
    """ofdrw's keyword sample's second signature (an "oesplugin" plug-in, GM/T 0010 OIDs, eContent = SM3 of
    Signature.xml, no signed attributes, a bare r‖s SM2 value): the signature over Signature.xml verifies; the
    document was edited after signing (HASH_FAILURE) and the signer's CA (CEGN_SEAL_CA) is not given."""
    at = datetime(2020, 6, 21, tzinfo=UTC)  # the signer certificate is valid 2020-05-25 to 2021-05-25
    report = verify_ofd(shared_file("ofd", "ofdrw-reader-keyword.ofd").read_bytes(), context.build(at=at))
    sig = report.children[1]
    assert "CMS SignedData (digest encapsulated)" in check(sig, "signed-value")
    assert "自然资源局" in check(sig, "signed-value")
    assert any("bare 64-byte r‖s" in w for w in sig.warnings)
    signer = next(c for c in sig.checks if c.name == "signer-certificate")
    assert signer.result is Result.FAILED
    assert sig.sub_indication is SubIndication.HASH_FAILURE


def test_keyword_sample_plug_in_signature_with_changed_signature_xml_fails():
    data = shared_file("ofd", "ofdrw-reader-keyword.ofd").read_bytes()
    path = "Doc_0/Signs/Sign_3/Signature.xml"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    files[path] = files[path].replace(b"tongz", b"tongZ")
    report = verify_ofd(package.write(files), context.build(at=datetime(2020, 6, 21, tzinfo=UTC)))
    sig = report.children[1]
    detail = check(sig, "signed-value")
    assert "neither Signature.xml nor its sm3 digest" in detail


def test_hostile_cms_values_give_a_report_never_a_traceback(factory):
    """Every byte of a CMS signature value flipped, and every truncation at 13-byte steps: a report each time (no
    exception escapes), and never TOTAL_PASSED unless the change hit bytes no check depends on."""
    root, leaf = world(factory, "sm2")
    ofd = sign_ofd(base(), leaf, detached=False)
    value_path = f"{SIGNS}/Sign_0/SignedValue.dat"
    pkg = package.read(ofd)
    value = pkg.read(value_path)
    files = dict(pkg.files)
    ctx = context.build(at=NOW, anchors=[root.der])
    variants = [value[:cut] for cut in range(0, len(value), 13)]
    for position in range(0, len(value), 3):
        changed = bytearray(value)
        changed[position] ^= 0x41
        variants.append(bytes(changed))
    passed = 0
    for variant in variants:
        files[value_path] = variant
        report = verify_ofd(package.write(files), ctx)
        (sig,) = report.children
        passed += sig.indication is Indication.TOTAL_PASSED
    assert passed < len(variants) // 10  # only changes to unchecked fields (e.g. a certificate's unused extension)


def test_purpose_any_waives_the_signers_purpose_for_ofd_sign_signatures(factory):
    """One rule for every kind (docs/VERIFIER.md, "The signer's purpose"): ``--purpose any`` waives the signer's
    purpose for an OFD ``Sign`` signature as it does for PDF and GB/T 38540 signatures, and the report says so. A
    signer whose keyUsage is keyEncipherment only fails its own purpose (document-signing) by default and under
    ``generic``; before the rule, ``any`` was read as document-signing here."""
    root = factory.root("OFD purpose Root", key=generate_private_key("sm2"))
    key = generate_private_key("sm2")
    leaf = factory.leaf(
        "OFD purpose signer",
        root,
        key=key,
        extensions=replace(leaf_extensions(key.public_key, root.key.public_key), cx.key_usage({"key_encipherment"})),
    )
    ofd = sign_ofd(base(), leaf)
    for purpose in ("auto", "document-signing", "generic"):
        ctx = context.build(at=NOW, anchors=[root.der], purpose=purpose)
        sig = verify_ofd(ofd, ctx).children[0]
        assert sig.indication is Indication.TOTAL_FAILED, (purpose, sig.to_text())
        assert sig.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE, sig.to_text()
    sig = verify_ofd(ofd, context.build(at=NOW, anchors=[root.der], purpose="any")).children[0]
    assert sig.indication is Indication.TOTAL_PASSED, sig.to_text()
    assert "valid for any purpose (the purpose check waived)" in check(sig, "signer-certificate")
