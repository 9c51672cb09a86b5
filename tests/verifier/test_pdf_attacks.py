"""Known PDF signature attacks (``../shared/standards/README.md``, "Known PDF signature attack classes"): each one
is built here from a document sealed by the product, and the verifier must refuse it with the check and the
sub-indication that name the problem — never TOTAL_PASSED. Tests are named after the attack class (STYLE.md).

Sources of the attack classes: Mladenov, Mainka, Meyer zu Selhausen, Grothe, Schwenk, "1 Trillion Dollar Refund —
How To Spoof PDF Signatures" (CCS 2019: universal signature forgery, incremental saving attack, signature
wrapping); Mainka, Mladenov, Rohlmann, "Shadow Attacks: Hiding and Replacing Content in Signed PDFs" (NDSS 2021:
hide, replace, hide-and-replace); Rohlmann, Mladenov, Mainka, Schwenk, "Breaking the Specification: PDF
Certification" (S&P 2021: sneaky form and annotation updates).

The sealed documents are golden artefacts (tests/data/golden/pdf, sealed by the product at a fixed clock, judged at
the recorded validation time); re-signing uses the golden contract seal's key. No world, no service.
"""

from __future__ import annotations

import re

import pytest
from asn1crypto import core

from tests.support import golden
from tests.support import pdf_tools as pdfs
from tests.support.pdf_tools import PREPARED, SealKeys, append_update, content_stream, form_xobject, raw_object
from trust.crypto.algorithms import SM2_SM3
from verifier import api
from verifier.report import Indication, Report, Result, SubIndication


@pytest.fixture(scope="module")
def ctx():
    return golden.context()


@pytest.fixture(scope="module")
def keys() -> SealKeys:
    """The contract seal's SM2 key, certificate and chain: what an attacker holding the key re-signs with."""
    chain = (golden.certificate("region-330000-sm2"), golden.certificate("root-sm2"))
    signer = golden.key("seal-contract-sm2").signer(SM2_SM3)
    return SealKeys(
        golden.ids()["seals"]["contract"],
        golden.read("ses/seal-v4.esl"),
        {"SM2": (signer, golden.certificate("seal-contract-sm2"), chain)},
    )


@pytest.fixture(scope="module")
def sealed_bt() -> bytes:
    """A one-page document sealed by the product: SM2, PAdES B-T, visible seal on page 1."""
    return golden.read("pdf/sealed-1page-SM2-B-T.pdf")


@pytest.fixture(scope="module")
def sealed_bb() -> bytes:
    return golden.read("pdf/sealed-1page-SM2-B-B.pdf")


@pytest.fixture(scope="module")
def prepared_sealed() -> bytes:
    """The shadow-attack document (:func:`tests.support.pdf_tools.prepared_pdf`) sealed as the signer saw it."""
    return golden.read("pdf/prepared-sealed-B-T.pdf")


def verify(data: bytes, ctx) -> Report:
    return api.verify(data, ctx)


def only_signature(report: Report) -> Report:
    assert report.kind == "pdf"
    signatures = [c for c in report.children if c.kind == "pdf-signature"]
    assert len(signatures) == 1, [c.subject for c in report.children]
    return signatures[0]


def check(report: Report, name: str):
    found = [c for c in report.checks if c.name == name]
    assert found, f"no check {name!r} in {[c.name for c in report.checks]}"
    return found[-1]


def assert_refused(report: Report, signature: Report, sub: SubIndication, failing: str, *words: str) -> None:
    assert report.indication is not Indication.TOTAL_PASSED
    assert signature.indication is Indication.TOTAL_FAILED, signature.to_text()
    assert signature.sub_indication is sub, signature.to_text()
    failed = check(signature, failing)
    assert failed.result is Result.FAILED, signature.to_text()
    for word in words:
        assert word in failed.detail, failed.detail
    assert signature.errors and signature.errors[0].startswith(failing)


def test_control_the_untouched_documents_pass(sealed_bt: bytes, sealed_bb: bytes, prepared_sealed: bytes, ctx) -> None:
    """Every attack below starts from one of these; untouched, they verify (so each failure is the attack's)."""
    for data in (sealed_bt, sealed_bb, prepared_sealed):
        report = verify(data, ctx)
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()


# --- incremental saving attack -----------------------------------------------------------------------------------


def test_incremental_saving_attack_replaces_page_content(sealed_bt: bytes, ctx) -> None:
    numbers = pdfs.object_numbers(sealed_bt)
    attacked = append_update(
        sealed_bt, {numbers["contents"]: content_stream(b"BT /F1 24 Tf 72 700 Td (Paid in full - nothing owed) Tj ET")}
    )
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.SIG_CONSTRAINTS_FAILURE, "modifications", "later revision")
    assert dict(signature.details)["modifications"] == "other"
    # The signed revision itself is intact: the attack lives entirely in the appended revision.
    assert check(signature, "message-digest").result is Result.PASSED
    assert check(signature, "signature-value").result is Result.PASSED
    assert check(signature, "byte-range").result is Result.PASSED


def test_incremental_saving_attack_adds_a_page(sealed_bt: bytes, ctx) -> None:
    numbers = pdfs.object_numbers(sealed_bt)
    pages = re.search(rb"/Parent (\d+) 0 R", raw_object(sealed_bt, numbers["page"]))
    assert pages is not None
    pages_number = int(pages.group(1))
    new_page, new_content = 900, 901
    pages_body = raw_object(sealed_bt, pages_number)
    kids = re.sub(rb"/Kids\s*\[([^\]]*)\]", lambda m: b"/Kids [" + m.group(1) + b" %d 0 R]" % new_page, pages_body)
    kids = re.sub(rb"/Count\s+(\d+)", lambda m: b"/Count %d" % (int(m.group(1)) + 1), kids)
    attacked = append_update(
        sealed_bt,
        {
            pages_number: kids,
            new_page: b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>"
            % (pages_number, new_content),
            new_content: content_stream(b"BT /F1 24 Tf 72 700 Td (Annex: the amount is 1,000,000) Tj ET"),
        },
    )
    report = verify(attacked, ctx)
    assert_refused(report, only_signature(report), SubIndication.SIG_CONSTRAINTS_FAILURE, "modifications")


# --- signature wrapping --------------------------------------------------------------------------------------------


def _wrapped(sealed: bytes, evil_body: bytes) -> tuple[bytes, int, int]:
    """Signature wrapping (CCS 2019): a new revision redefines the signature dictionary with a /ByteRange whose
    second range points at a *copy* of the originally signed tail, placed inside an unused stream; the original tail
    and a replaced page content now sit in the enlarged gap. The digest over the two ranges is unchanged."""
    numbers = pdfs.object_numbers(sealed)
    start1, length1, start2, length2 = pdfs.byte_ranges(sealed)[-1]
    tail = sealed[start2 : start2 + length2]
    signature_body = raw_object(sealed, numbers["sig"])
    body = bytearray(sealed)
    offsets: dict[int, int] = {}
    offsets[numbers["contents"]] = len(body)
    body += b"%d 0 obj\n" % numbers["contents"] + evil_body + b"\nendobj\n"
    holder = 910
    offsets[holder] = len(body)
    body += b"%d 0 obj\n<< /Length %d >>\nstream\n" % (holder, len(tail))
    copy_at = len(body)
    body += tail + b"\nendstream\nendobj\n"
    wrapped = re.sub(
        rb"/ByteRange\s*\[[^\]]*\]", b"/ByteRange [0 %d %d %d]" % (length1, copy_at, length2), signature_body
    )
    offsets[numbers["sig"]] = len(body)
    body += b"%d 0 obj\n" % numbers["sig"] + wrapped + b"\nendobj\n"
    xref_at = len(body)
    body += b"xref\n" + b"".join(b"%d 1\n%010d 00000 n \n" % (n, o) for n, o in offsets.items())
    body += b"trailer\n<< /Size 911 /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        numbers["root"],
        pdfs.startxref(sealed),
        xref_at,
    )
    assert bytes(body[:length1]) + bytes(body[copy_at : copy_at + length2]) == sealed[:length1] + tail
    return bytes(body), start1 + length1, copy_at


def test_signature_wrapping_moves_the_signed_bytes(sealed_bt: bytes, ctx) -> None:
    attacked, gap_start, copy_at = _wrapped(sealed_bt, content_stream(b"BT /F1 24 Tf 72 700 Td (PAID) Tj ET"))
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.SIG_CONSTRAINTS_FAILURE, "byte-range", "signature wrapping")
    # The cryptography alone would pass: the same bytes are hashed, the same signature verifies.
    assert check(signature, "message-digest").result is Result.PASSED
    assert check(signature, "signature-value").result is Result.PASSED
    assert [gap_start, copy_at] in dict(signature.details)["uncovered"]
    for _field, status in pdfs.pyhanko_validate(attacked, ctx):  # the independent peer refuses it too
        assert not pdfs.pyhanko_accepts(status)


def test_signature_wrapping_redefines_the_signature_dictionary(sealed_bt: bytes, ctx) -> None:
    """The same /Contents and /ByteRange, redefined in a later revision that also replaces the page content: the
    dictionary's last change is now the attacker's revision, whose bytes the signature does not cover."""
    numbers = pdfs.object_numbers(sealed_bt)
    attacked = append_update(
        sealed_bt,
        {
            numbers["contents"]: content_stream(b"BT /F1 24 Tf 72 700 Td (PAID) Tj ET"),
            numbers["sig"]: raw_object(sealed_bt, numbers["sig"]),
        },
    )
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.SIG_CONSTRAINTS_FAILURE, "byte-range", "not covered")
    assert dict(signature.details)["signed_revision"] == "3 of 3"
    assert check(signature, "message-digest").result is Result.PASSED


# --- universal signature forgery -----------------------------------------------------------------------------------


def _forged(base: bytes, signature_dict: bytes) -> bytes:
    """A fresh signature field whose value is ``signature_dict``, added to an unsigned document."""
    numbers = pdfs.object_numbers(base)
    catalog = raw_object(base, numbers["root"])
    catalog = catalog.rstrip()[:-2] + b" /AcroForm << /Fields [921 0 R] /SigFlags 3 >> >>"
    return append_update(
        base,
        {
            numbers["root"]: catalog,
            920: signature_dict,
            921: (
                b"<< /FT /Sig /T (Approved) /V 920 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132"
                b" /P %d 0 R >>" % numbers["page"]
            ),
        },
    )


_SIG = b"/Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached"


@pytest.mark.parametrize(
    ("variant", "entries", "failing", "words"),
    [
        ("contents-missing", b"/ByteRange [0 10 20 10]", "dictionary", "no /Contents"),
        ("contents-null", b"/Contents null /ByteRange [0 10 20 10]", "dictionary", "not a string"),
        ("contents-empty", b"/Contents <> /ByteRange [0 10 20 10]", "cms", "empty"),
        ("contents-zeros", b"/Contents <" + b"00" * 64 + b"> /ByteRange [0 10 20 10]", "cms", "only zero"),
        ("contents-number", b"/Contents 0 /ByteRange [0 10 20 10]", "dictionary", "not a string"),
        ("byterange-missing", b"/Contents <CMS>", "dictionary", "no /ByteRange"),
        ("byterange-empty", b"/Contents <CMS> /ByteRange []", "dictionary", "nothing is signed"),
        ("byterange-zero", b"/Contents <CMS> /ByteRange [0 0 0 0]", "dictionary", "covers no bytes"),
        ("byterange-beyond-eof", b"/Contents <CMS> /ByteRange [0 10 20 99999999]", "dictionary", "beyond the end"),
        ("byterange-not-numbers", b"/Contents <CMS> /ByteRange [0 (a) 20 10]", "dictionary", "not an integer"),
    ],
)
def test_universal_signature_forgery(
    variant: str, entries: bytes, failing: str, words: str, sealed_bb: bytes, ctx
) -> None:
    """A signature dictionary without a usable /Contents or /ByteRange (CCS 2019), with the CMS of a genuinely
    sealed document copied in where a CMS is wanted."""
    genuine = pdfs.byte_ranges(sealed_bb)[-1]
    # The DER without the zero padding, cut at its own length (stripping "0"s would also eat a last 0x00 byte).
    padded = bytes.fromhex(sealed_bb[genuine[1] + 1 : genuine[2] - 1].decode())
    cms_hex = core.Asn1Value.load(padded, strict=False).dump().hex().encode()
    attacked = _forged(
        golden.read("pdf/base-1page.pdf"),
        b"<< " + _SIG + b" " + entries.replace(b"<CMS>", b"<" + cms_hex + b">") + b" /M (D:20260101000000Z) >>",
    )
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.FORMAT_FAILURE, failing, words)
    if failing == "dictionary" and "forgery" in check(signature, failing).detail:
        assert "universal signature forgery" in check(signature, failing).detail


def test_universal_signature_forgery_transplanted_cms(sealed_bb: bytes, ctx) -> None:
    """A well-formed dictionary over a fresh document carrying another document's genuine CMS: the digest fails."""
    genuine = pdfs.byte_ranges(sealed_bb)[-1]
    width = genuine[2] - genuine[1]
    base = golden.read("pdf/debt-1page.pdf")  # base_pdf(1) saying 我方欠款人民币壹佰万元整。
    placeholder = (
        b"<< " + _SIG + b" /ByteRange [0 0000000000 0000000000 0000000000] /Contents <" + b"0" * (width - 2) + b"> >>"
    )
    attacked = _forged(base, placeholder)
    gap_start = attacked.index(b"/Contents <", attacked.index(b"920 0 obj")) + len(b"/Contents ")
    gap_end = gap_start + width
    total = len(attacked)
    attacked = attacked.replace(
        b"[0 0000000000 0000000000 0000000000]", b"[0 %010d %010d %010d]" % (gap_start, gap_end, total - gap_end)
    )
    attacked = attacked[:gap_start] + sealed_bb[genuine[1] : genuine[2]] + attacked[gap_end:]
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.HASH_FAILURE, "message-digest", "were changed")
    assert check(signature, "byte-range").result is Result.PASSED


# --- shadow attacks ------------------------------------------------------------------------------------------------


def _page_body(sealed: bytes) -> bytes:
    return raw_object(sealed, PREPARED["page"])


def test_shadow_attack_hide_removes_the_cover(prepared_sealed: bytes, ctx) -> None:
    """Hide: the signed page hides "1,000,000" under a white XObject; the update empties that XObject."""
    attacked = append_update(prepared_sealed, {PREPARED["cover"]: form_xobject(b"", (0, 0, 400, 40))})
    report = verify(attacked, ctx)
    assert_refused(
        report,
        only_signature(report),
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        "modifications",
        "beyond what is permitted after signing",
        "XObject.Cover",
    )


def test_shadow_attack_replace_switches_an_object_reference(prepared_sealed: bytes, ctx) -> None:
    """Replace: the update only points the page's /Cover resource at the prepared /Alt XObject."""
    page = _page_body(prepared_sealed)
    switched = re.sub(rb"/Cover\s+6 0 R", b"/Cover 7 0 R", page)
    assert switched != page
    attacked = append_update(prepared_sealed, {PREPARED["page"]: switched})
    report = verify(attacked, ctx)
    assert_refused(report, only_signature(report), SubIndication.SIG_CONSTRAINTS_FAILURE, "modifications")


def test_shadow_attack_hide_and_replace_revives_an_unused_stream(prepared_sealed: bytes, ctx) -> None:
    """Hide-and-replace: the signed revision carries an unused content stream (object 8); the update changes nothing
    but the page's /Contents reference to it."""
    page = _page_body(prepared_sealed)
    switched = re.sub(rb"/Contents\s+4 0 R", b"/Contents 8 0 R", page)
    assert switched != page
    attacked = append_update(prepared_sealed, {PREPARED["page"]: switched})
    report = verify(attacked, ctx)
    assert_refused(report, only_signature(report), SubIndication.SIG_CONSTRAINTS_FAILURE, "modifications")


def test_shadow_attack_replace_through_a_form_field_appearance(prepared_sealed: bytes, ctx) -> None:
    """Replace via a form field: the update fills the prepared text field over the amount with a new value and an
    opaque appearance. pyHanko's default policy calls this permitted form filling; Huren refuses it after an
    approval seal, because the page no longer shows what was sealed."""
    field = raw_object(prepared_sealed, PREPARED["note"])
    filled = field.replace(b"/V ()", b"/V (Amount: 1,000,000 EUR)").replace(
        b"/AP << /N 11 0 R >>", b"/AP << /N 930 0 R >>"
    )
    assert filled != field
    appearance = form_xobject(
        b"1 1 1 rg 0 0 340 40 re f BT 0 g /F1 20 Tf 2 12 Td (Amount: 1,000,000 EUR) Tj ET", (0, 0, 340, 40)
    )
    attacked = append_update(prepared_sealed, {PREPARED["note"]: filled, 930: appearance})
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.SIG_CONSTRAINTS_FAILURE, "modifications", "note")
    assert dict(signature.details)["modifications"] == "form-filling"
    assert dict(signature.details)["changed_fields"] == ["note"]
    (_name, status), *_rest = pdfs.pyhanko_validate(attacked, ctx)
    assert pdfs.pyhanko_accepts(status)  # the peer's default policy lets this through: the difference is Huren's rule


def test_sneaky_annotation_update_covers_page_content(prepared_sealed: bytes, ctx) -> None:
    """An annotation added after sealing, whose appearance paints a new amount over the signed one."""
    page = _page_body(prepared_sealed)
    annotated = re.sub(rb"/Annots\s*\[", b"/Annots [ 940 0 R ", page)
    assert annotated != page
    attacked = append_update(
        prepared_sealed,
        {
            PREPARED["page"]: annotated,
            940: b"<< /Type /Annot /Subtype /FreeText /Rect [60 690 400 730] /Contents (Amount: 1,000,000 EUR) "
            b"/DA (/F1 20 Tf 0 g) /F 4 /AP << /N 941 0 R >> >>",
            941: form_xobject(
                b"1 1 1 rg 0 0 340 40 re f BT 0 g /F1 20 Tf 2 12 Td (Amount: 1,000,000 EUR) Tj ET", (0, 0, 340, 40)
            ),
        },
    )
    report = verify(attacked, ctx)
    assert_refused(report, only_signature(report), SubIndication.SIG_CONSTRAINTS_FAILURE, "modifications")


def test_sneaky_form_update_changes_more_than_the_field(prepared_sealed: bytes, ctx) -> None:
    """A form update that, besides the field's value, rewrites the page content in the same revision."""
    field = raw_object(prepared_sealed, PREPARED["note"]).replace(b"/V ()", b"/V (ok)")
    attacked = append_update(
        prepared_sealed,
        {
            PREPARED["note"]: field,
            PREPARED["contents"]: content_stream(b"BT /F1 20 Tf 72 700 Td (Amount: 1,000,000 EUR) Tj ET"),
        },
    )
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.SIG_CONSTRAINTS_FAILURE, "modifications")
    assert dict(signature.details)["modifications"] == "other"


# --- coverage anomalies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "words"),
    [
        ("extra-bytes-between-ranges", "not just the /Contents hex string"),
        ("bytes-after-the-end", "are not covered by the signature"),
        ("not-from-the-start", "not at the beginning of the file"),
    ],
)
def test_coverage_gap(variant: str, words: str, keys: SealKeys, sealed_bb: bytes, ctx) -> None:
    """A signature made over a /ByteRange that leaves bytes of its own revision unsigned (a broken or malicious
    signer): the digest and the signature verify, the coverage does not."""
    _start1, length1, start2, length2 = pdfs.byte_ranges(sealed_bb)[-1]
    if variant == "extra-bytes-between-ranges":
        wanted = [0, length1 - 40, start2, length2]
        expected = [length1 - 40, start2]
    elif variant == "bytes-after-the-end":
        wanted = [0, length1, start2, length2 - 20]
        expected = [start2 + length2 - 20, start2 + length2]
    else:
        wanted = [100, length1 - 100, start2, length2]
        expected = [0, 100]
    attacked = pdfs.resign(sealed_bb, keys, byte_range=wanted)
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.SIG_CONSTRAINTS_FAILURE, "byte-range", words)
    assert expected in dict(signature.details)["uncovered"]
    assert check(signature, "message-digest").result is Result.PASSED
    assert check(signature, "signature-value").result is Result.PASSED


# --- CMS with encapsulated content ------------------------------------------------------------------------------------


@pytest.mark.parametrize("subfilter", ["pades", "adbe"])
def test_detached_signature_with_encapsulated_content(subfilter: str, keys: SealKeys, ctx) -> None:
    """A detached PDF signature whose CMS carries eContent: the CMS verifies over its own content ("I owe you"),
    not over the document."""
    if subfilter == "pades":
        sealed = golden.read("pdf/sealed-1page-SM2-B-B.pdf")
    else:
        sealed = golden.read("pdf/signed-adbe-1page-B-B.pdf")  # pyHanko, /adbe.pkcs7.detached
    attacked = pdfs.resign(sealed, keys, econtent="本人欠款人民币壹佰万元整。".encode())
    report = verify(attacked, ctx)
    signature = only_signature(report)
    assert_refused(report, signature, SubIndication.FORMAT_FAILURE, "cms", "encapsulated content")
    assert dict(signature.details)["subfilter"] == (
        "/ETSI.CAdES.detached" if subfilter == "pades" else "/adbe.pkcs7.detached"
    )


# --- plain tampering --------------------------------------------------------------------------------------------------


def test_tampering_inside_the_signed_bytes(sealed_bt: bytes, ctx) -> None:
    """One byte of the signed revision changed in place: HASH_FAILURE."""
    _start1, length1, _start2, _length2 = pdfs.byte_ranges(sealed_bt)[-1]
    position = sealed_bt.index(b"/Producer") if b"/Producer" in sealed_bt[:length1] else length1 // 2
    attacked = sealed_bt[:position] + bytes([sealed_bt[position] ^ 0x01]) + sealed_bt[position + 1 :]
    report = verify(attacked, ctx)
    assert_refused(report, only_signature(report), SubIndication.HASH_FAILURE, "message-digest")


def test_tampering_with_the_signature_value(sealed_bt: bytes, ctx) -> None:
    """The CMS signature value changed (one hex digit inside the SignerInfo's signature): SIG_CRYPTO_FAILURE."""
    from asn1crypto import cms, parser

    _start1, length1, start2, _length2 = pdfs.byte_ranges(sealed_bt)[-1]
    der = bytes.fromhex(sealed_bt[length1 + 1 : start2 - 1].decode())
    _c, _m, _t, header, body, _trailer = parser.parse(der)
    info = cms.ContentInfo.load(der[: len(header) + len(body)])
    signature = bytes(info["content"]["signer_infos"][0]["signature"].native)
    at = der.index(signature) + len(signature) // 2
    changed = der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1 :]
    attacked = sealed_bt[: length1 + 1] + changed.hex().upper().encode() + sealed_bt[start2 - 1 :]
    assert len(attacked) == len(sealed_bt)
    report = verify(attacked, ctx)
    assert_refused(report, only_signature(report), SubIndication.SIG_CRYPTO_FAILURE, "signature-value")
