"""PDF sealing (``seal.pdf``, ``trust.service.seals.sealing``) checked by independent implementations.

* pyHanko's validator (with our SM2 ``SignatureValidator``) validates SM2, RSA and dual seals at every PAdES
  level offline: B-LT/B-LTA from the document security store alone (no fetching, hard-fail revocation), B-LTA
  with pyHanko's ETSI EN 319 102-1 long-term validation.
* poppler's ``pdfsig`` (NSS, with our RSA root in an NSS database) validates RSA and dual seals.
* ``pdftoppm`` shows the red seal inside its box only; ``pdftotext``/pdfplumber still read the Chinese text;
  ``pdffonts`` shows the seal's CJK font embedded as a subset.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core, tsp, x509
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from seal import pdf as seal_pdf
from seal.anchor import AnchorNotFound, find_anchor
from tests.conftest import require_tool
from tests.seal.conftest import A4, HOLDER, SEAL_BOX, SealingWorld, anchor_text_box, sample_pdf
from tests.support.offline import no_network  # noqa: F401 - fixture
from tests.support.world import ZJ_ORG_USCC
from trust.crypto.algorithms import SM2_SM3, digest
from trust.crypto.certvalidator import SIGNATURE_VALIDATOR
from trust.crypto.errors import Code, InvalidSignature, NotFoundError, TrustError
from trust.formats import ses
from trust.service import ca as ca_service
from trust.service.seals import sealing

FAMILIES = ("SM2", "RSA", "dual")
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
RED = (180, 80, 80)  # R above, G and B below


# --- helpers ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def roots(sealing_world: SealingWorld) -> list[x509.Certificate]:
    return [x509.Certificate.load(ca_service.ca_certificate_der(sealing_world.instance, r)) for r in sealing.ROOT_IDS]


@pytest.fixture(scope="module")
def sealed(sealing_world: SealingWorld, one_page: bytes) -> Any:
    """``sealed(family, level)``: the one-page sample sealed in the seal box of page 1 (made once per module)."""
    made: dict[tuple[str, str], bytes] = {}

    def get(family: str, level: str) -> bytes:
        if (family, level) not in made:
            made[family, level] = sealing.seal_document(
                sealing_world.instance, one_page, es_id=sealing_world.es_id, level=level, family=family,
                page=1, box=SEAL_BOX,
            )  # fmt: skip
        return made[family, level]

    return get


def _context(roots: list[x509.Certificate], reader: PdfFileReader | None = None) -> ValidationContext:
    """Offline: our roots, no fetching, hard-fail revocation; CRLs/OCSP/certificates only from the DSS."""
    kwargs: dict[str, Any] = {
        "trust_roots": roots,
        "allow_fetching": False,
        "revocation_mode": "hard-fail",
        "signature_validator": SIGNATURE_VALIDATOR,
    }
    if reader is not None and "/DSS" in reader.root:
        return DocumentSecurityStore.read_dss(reader).as_validation_context(kwargs)
    return ValidationContext(crls=[], ocsps=[], **kwargs)


def pyhanko_statuses(pdf: bytes, roots: list[x509.Certificate], *, revocation: str = "dss") -> list[Any]:
    """pyHanko's status of every signature (in file order). ``revocation="dss"``: revocation data from the DSS
    with hard-fail; ``"soft"``: soft-fail (B-B/B-T files carry no revocation data)."""
    reader = PdfFileReader(io.BytesIO(pdf))

    def context() -> ValidationContext:
        if revocation == "soft":
            return ValidationContext(trust_roots=roots, allow_fetching=False, signature_validator=SIGNATURE_VALIDATOR)
        return _context(roots, reader)

    async def run() -> list[Any]:
        return [
            await async_validate_pdf_signature(
                sig, signer_validation_context=context(), ts_validation_context=context()
            )
            for sig in reader.embedded_regular_signatures
        ]

    return asyncio.run(run())


def signer_infos(pdf: bytes) -> list[tuple[str, cms.SignedData]]:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [(sig.field_name, sig.signed_data) for sig in reader.embedded_regular_signatures]


def pdfsig(pdf: bytes, tmp_path: Path, nssdir: Path) -> list[dict[str, str]]:
    """pdfsig's report, one dict per signature (``key: value`` lines; bare lines map to ``""``)."""
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    proc = subprocess.run(
        [require_tool("pdfsig"), "-nssdir", f"sql:{nssdir}", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    blocks = re.split(r"^Signature #\d+:\s*$", proc.stdout, flags=re.M)[1:]
    result = []
    for block in blocks:
        entry = {}
        for line in block.splitlines():
            match = re.match(r"^\s+- ([^:]+?)(?::\s*(.*))?$", line)
            if match:
                entry[match[1]] = match[2] or ""
        result.append(entry)
    return result


@pytest.fixture(scope="module")
def nssdir(tmp_path_factory: pytest.TempPathFactory, sealing_world: SealingWorld) -> Iterator[Path]:
    """An NSS database trusting the national RSA root for signing (what pdfsig needs to judge trust), with the
    world's responder online: NSS asks the OCSP responder the certificates name and reports a certificate whose
    status it could not learn as "Unknown issue with Certificate"."""
    certutil = require_tool("certutil")
    folder = tmp_path_factory.mktemp("nss")
    subprocess.run([certutil, "-N", "-d", f"sql:{folder}", "--empty-password"], check=True, capture_output=True)
    pem = folder / "root-rsa.pem"
    pem.write_bytes(sealing_world.world.ca_pem("root-rsa"))
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{folder}", "-n", "huren-root-rsa", "-t", "CT,C,C", "-a", "-i", str(pem)],
        check=True, capture_output=True,
    )  # fmt: skip
    from tests.support.server import live_server

    with live_server(sealing_world.world.instance, sealing_world.world.port):
        yield folder


def nss_certificate_verdict(cert: x509.Certificate) -> str:
    """What pdfsig (NSS ``certificateUsageEmailSigner``) says about a chain it trusts: NSS accepts a signer
    certificate whose extended key usage is absent or includes emailProtection; Huren's seal profile carries
    documentSigning (RFC 9336) and emailProtection for that reason."""
    eku = cert.extended_key_usage_value
    purposes = set(eku.native) if eku is not None else None
    if purposes is None or {"email_protection", "any_extended_key_usage"} & purposes:
        return "Certificate is Trusted."
    return "Unknown issue with Certificate or corrupted data."


def red_mask(png: Path) -> tuple[Image.Image, list[tuple[int, int]]]:
    image = Image.open(png).convert("RGB")
    pixels: Any = image.load()  # RGB: each pixel a tuple
    red = [
        (x, y)
        for y in range(image.height)
        for x in range(image.width)
        if pixels[x, y][0] > RED[0] and pixels[x, y][1] < RED[1] and pixels[x, y][2] < RED[2]
    ]
    return image, red


def render(pdf: bytes, tmp_path: Path, name: str) -> list[Path]:
    """Every page at 72 dpi (one pixel per point; pixel row = page height - y)."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [require_tool("pdftoppm"), "-r", "72", "-png", str(path), str(tmp_path / name)], check=True, timeout=60
    )
    return sorted(tmp_path.glob(f"{name}-*.png"))


def widgets(pdf: bytes, *, appearances: dict[str, bytes] | None = None) -> dict[str, tuple[int, list[float]]]:
    """``{field name: (page index, /Rect)}`` of the signature widgets (and their normal appearance streams into
    ``appearances``)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    pages = reader.root["/Pages"]["/Kids"]
    result = {}
    for index, page_ref in enumerate(pages):
        for annot in page_ref.get_object().get("/Annots", []):
            annot = annot.get_object()
            if annot.get("/FT") == "/Sig":
                name = str(annot["/T"])
                result[name] = (index, [float(v) for v in annot["/Rect"]])
                if appearances is not None and "/AP" in annot:
                    appearances[name] = annot["/AP"]["/N"].get_object().data
    return result


# --- pyHanko ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("family", FAMILIES)
def test_pyhanko_validates_every_family_and_level(
    sealed: Any, roots: list[x509.Certificate], family: str, level: str
) -> None:
    pdf = sealed(family, level)
    long_term = level in ("B-LT", "B-LTA")
    statuses = pyhanko_statuses(pdf, roots, revocation="dss" if long_term else "soft")
    names = ["Seal1-SM2", "Seal1-RSA"] if family == "dual" else ["Seal1"]
    assert len(statuses) == len(names)
    infos = signer_infos(pdf)
    assert [name for name, _ in infos] == names
    for index, (status, (name, signed_data)) in enumerate(zip(statuses, infos, strict=True)):
        assert status.intact and status.valid and status.trusted, (name, status.pretty_print_details())
        assert status.bottom_line, name
        signer_info = signed_data["signer_infos"][0]
        sm2 = name.endswith("SM2") or family == "SM2"
        algorithm = signer_info["signature_algorithm"]
        if sm2:  # GB/T 35275 / GB/T 20518: SM2-with-SM3, parameters absent; digest SM3
            assert algorithm["algorithm"].dotted == "1.2.156.10197.1.501"
            assert isinstance(algorithm["parameters"], core.Void)
            assert signer_info["digest_algorithm"]["algorithm"].native == "sm3"
        else:
            assert algorithm["algorithm"].native == "sha256_rsa"
            assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
        last = index == len(statuses) - 1
        if long_term:
            assert status.coverage is SignatureCoverageLevel.ENTIRE_REVISION  # DSS / document time-stamp follow
        elif last:
            assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
        if level == "B-B":
            assert status.timestamp_validity is None
            assert isinstance(signer_info["unsigned_attrs"], core.Void)
        else:  # the signature time-stamp comes from the TSA of the signature's family, imprint in its digest
            assert status.timestamp_validity is not None and status.timestamp_validity.trusted
            token = signer_info["unsigned_attrs"][0]["values"][0]
            tst = tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].parsed.dump())
            assert tst["message_imprint"]["hash_algorithm"]["algorithm"].native == ("sm3" if sm2 else "sha256")
            tsa_cert = next(
                c.chosen
                for c in token["content"]["certificates"]
                if c.chosen.subject.native.get("common_name", "").startswith("互认时间戳服务")
            )
            assert tsa_cert.subject.native["common_name"] == f"互认时间戳服务 ({'SM2' if sm2 else 'RSA'})"
    reader = PdfFileReader(io.BytesIO(pdf))
    assert ("/DSS" in reader.root) == long_term
    timestamps = list(reader.embedded_timestamp_signatures)
    assert len(timestamps) == (1 if level == "B-LTA" else 0)
    if level == "B-LTA":
        context = _context(roots, reader)
        doc_ts = asyncio.run(async_validate_pdf_timestamp(timestamps[0], validation_context=context))
        assert doc_ts.intact and doc_ts.valid and doc_ts.trusted
        hash_name = timestamps[0].signer_info["digest_algorithm"]["algorithm"].native
        assert hash_name == ("sm3" if family == "SM2" else "sha256")  # dual: the RSA TSA closes the document


def test_b_lta_passes_pyhanko_long_term_validation(sealed: Any, roots: list[x509.Certificate]) -> None:
    """ETSI EN 319 102-1 clause 5.6.3 validation by pyHanko from the file alone (local knowledge only)."""
    from pyhanko.sign.ades.report import AdESPassed
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy,
        RevocationCheckingPolicy,
        RevocationCheckingRule,
    )
    from pyhanko_certvalidator.registry import SimpleTrustManager

    rule = RevocationCheckingRule.CHECK_IF_DECLARED
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(roots),
                revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule)),
                signature_validator=SIGNATURE_VALIDATOR,
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    for family in ("SM2", "dual"):
        reader = PdfFileReader(io.BytesIO(sealed(family, "B-LTA")))
        for sig in reader.embedded_regular_signatures:
            result = asyncio.run(ades_lta_validation(sig, spec))
            assert result.ades_subindic is AdESPassed.OK, (family, sig.field_name, result.failure_msg)
            assert result.oldest_evidence_record_timestamp is not None  # the document time-stamp


def sealing_world_seal(reader: PdfFileReader) -> bytes:
    seal = seal_pdf.seseal_attribute_value(reader.embedded_regular_signatures[0].signed_data)
    assert seal is not None
    return seal


def test_b_lt_validates_offline_only_because_of_the_dss(sealed: Any, roots: list[x509.Certificate]) -> None:
    """The same hard-fail, no-fetching validation that B-LT passes fails on B-T (no revocation data in it)."""
    for family in ("SM2", "RSA"):
        (without,) = pyhanko_statuses(sealed(family, "B-T"), roots, revocation="dss")
        assert without.intact and without.valid and not without.trusted
        (with_dss,) = pyhanko_statuses(sealed(family, "B-LT"), roots, revocation="dss")
        assert with_dss.trusted
    # The DSS holds the CRL of every CA on the seal's and the TSA's chains; OCSP responses for RSA chains.
    reader = PdfFileReader(io.BytesIO(sealed("RSA", "B-LT")))
    dss = DocumentSecurityStore.read_dss(reader)
    context = dss.as_validation_context({"trust_roots": roots})
    issuers = {crl["tbs_cert_list"]["issuer"].native["common_name"] for crl in context.revinfo_manager.crls}
    assert {"浙江省互认CA (RSA)", "互认国家根CA (RSA)", "互认国家运营CA (RSA)"} <= issuers
    assert len(dss.ocsps) >= 2  # the seal certificate and the TSA certificate
    # ... and what the SESeal inside needs: its maker's certificate, the maker's SM2 chain and CRLs.
    assert {"浙江省互认CA (SM2)", "互认国家根CA (SM2)"} <= issuers
    maker = ses.parse_seal(sealing_world_seal(reader)).maker_certificate
    assert maker.dump() in {c.dump() for c in dss.load_certs()}


# --- pdfsig (poppler, NSS) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["B-B", "B-T"])
@pytest.mark.parametrize("family", ["RSA", "dual"])
def test_pdfsig_validates_rsa_and_dual_seals(
    sealed: Any, tmp_path: Path, nssdir: Path, family: str, level: str
) -> None:
    pdf = sealed(family, level)
    report = pdfsig(pdf, tmp_path, nssdir)
    rsa_cert = next(
        c.chosen for name, sd in signer_infos(pdf) if not name.endswith("SM2") for c in sd["certificates"]
        if c.chosen.serial_number == sd["signer_infos"][0]["sid"].chosen["serial_number"].native
    )  # fmt: skip
    if family == "dual":
        sm2, rsa = report
        assert sm2["Signature Field Name"] == "Seal1-SM2"
        assert sm2["Signer Certificate Common Name"] == f"{HOLDER}合同专用章"
        # poppler's NSS has no SM2/SM3: it reports the signature and cannot judge it (national verifiers do).
        assert sm2["Signing Hash Algorithm"] == "unknown"
        assert sm2["Signature Validation"] == "Unknown Validation Failure."
        assert "Not total document signed" in sm2
    else:
        (rsa,) = report
    assert rsa["Signature Field Name"] == ("Seal1-RSA" if family == "dual" else "Seal1")
    assert rsa["Signature Type"] == "ETSI.CAdES.detached"
    assert rsa["Signing Hash Algorithm"] == "SHA-256"
    assert rsa["Signature Validation"] == "Signature is Valid."
    assert "Total document signed" in rsa  # the RSA signature covers the SM2 one and the seal's appearance
    assert rsa["Certificate Validation"] == nss_certificate_verdict(rsa_cert)


def test_nss_accepts_the_seal_certificate_as_a_signer(sealing_world: SealingWorld, sealed: Any, tmp_path: Path) -> None:
    """NSS (what poppler's pdfsig uses) validates the seal certificate as an email/document signer up to our root:
    the seal profile carries emailProtection next to documentSigning for exactly this (docs/CA.md)."""
    certutil = require_tool("certutil")
    (_name, signed_data), = signer_infos(sealed("RSA", "B-B"))  # fmt: skip
    certs = {c.chosen.subject.native["common_name"]: c.chosen for c in signed_data["certificates"]}
    leaf = certs[f"{HOLDER}合同专用章"]
    assert nss_certificate_verdict(leaf) == "Certificate is Trusted."
    db = tmp_path / "nss"
    db.mkdir()
    run = lambda *args: subprocess.run([certutil, *args], capture_output=True, text=True, check=False)  # noqa: E731
    assert run("-N", "-d", f"sql:{db}", "--empty-password").returncode == 0
    from asn1crypto import pem

    for nick, cert, trust in (
        ("root", certs["互认国家根CA (RSA)"], "CT,C,C"),
        ("ca", certs["浙江省互认CA (RSA)"], ",,"),
        ("leaf", leaf, ",,"),
    ):
        path = tmp_path / f"{nick}.pem"
        path.write_bytes(pem.armor("CERTIFICATE", cert.dump()))
        assert run("-A", "-d", f"sql:{db}", "-n", nick, "-t", trust, "-a", "-i", str(path)).returncode == 0
    as_signer = run("-V", "-d", f"sql:{db}", "-n", "leaf", "-u", "S")
    assert as_signer.returncode == 0 and "certificate is valid" in (as_signer.stdout + as_signer.stderr).lower(), (
        as_signer.stdout + as_signer.stderr
    )


# --- appearance -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["SM2", "dual"])
def test_visible_seal_is_drawn_in_its_box_only(
    sealing_world: SealingWorld, two_pages: bytes, tmp_path: Path, family: str
) -> None:
    pdf = sealing.seal_document(
        sealing_world.instance, two_pages, es_id=sealing_world.es_id, family=family, page=2, box=SEAL_BOX
    )
    page1, page2 = render(pdf, tmp_path, "sealed")
    image, red = red_mask(page2)
    height = image.height
    x0, y0, x1, y1 = SEAL_BOX
    inside = [(x, y) for x, y in red if x0 - 1 <= x <= x1 + 1 and height - y1 - 1 <= y <= height - y0 + 1]
    assert len(inside) > 2000  # a 42 mm red ring, star and text
    assert len(inside) == len(red), "red pixels outside the seal box"
    xs, ys = [x for x, _ in red], [y for _, y in red]
    assert min(xs) < x0 + 6 and max(xs) > x1 - 6 and min(ys) < height - y1 + 6 and max(ys) > height - y0 - 6
    assert red_mask(page1)[1] == []
    streams: dict[str, bytes] = {}
    found = widgets(pdf, appearances=streams)
    names = ["Seal1-SM2", "Seal1-RSA"] if family == "dual" else ["Seal1"]
    assert sorted(found) == sorted(names)
    for name in names:  # dual: both widgets on the seal, the RSA one on top with an empty appearance
        page, rect = found[name]
        assert page == 1 and rect == pytest.approx(list(SEAL_BOX))
    drawn = [name for name in names if b" Do" in streams[name]]
    assert drawn == [names[0]]  # the seal picture (a form XObject) is drawn once, by the SM2 (or only) widget
    # the original text is still there, in Chinese, for poppler and pdfplumber
    (tmp_path / "sealed.pdf").write_bytes(pdf)
    text = subprocess.run(
        [require_tool("pdftotext"), "-f", "2", "-l", "2", str(tmp_path / "sealed.pdf"), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "互认测试合同 第2页" in text and f"甲方（盖章）：{HOLDER}" in text
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf)) as document:
        assert HOLDER in document.pages[1].extract_text()


def test_seal_font_is_embedded_as_a_subset(sealed: Any, one_page: bytes, tmp_path: Path) -> None:
    pdffonts = require_tool("pdffonts")

    def fonts(pdf: bytes) -> dict[str, tuple[str, str]]:
        path = tmp_path / "f.pdf"
        path.write_bytes(pdf)
        out = subprocess.run([pdffonts, str(path)], capture_output=True, text=True, check=True).stdout
        rows = {}
        for line in out.splitlines()[2:]:
            parts = line.split()
            rows[parts[0]] = (parts[-5], parts[-4])  # emb, sub
        return rows

    before = fonts(one_page)
    after = fonts(sealed("SM2", "B-B"))
    seal_fonts = {name: flags for name, flags in after.items() if name not in before}
    assert len(seal_fonts) == 1, after
    (name, flags), = seal_fonts.items()  # fmt: skip
    assert re.fullmatch(r"[A-Z]{6}\+NotoSansSC-Bold", name)
    assert flags == ("yes", "yes")


def test_anchor_centres_the_seal_on_the_authority_name(
    sealing_world: SealingWorld, two_pages: bytes, tmp_path: Path
) -> None:
    pdf = sealing.seal_document(sealing_world.instance, two_pages, es_id=sealing_world.es_id, anchor=HOLDER)
    (page, rect), = widgets(pdf).values()  # fmt: skip
    assert page == 1  # the name is on page 2 only; the whole document was searched
    tx0, ty0, tx1, ty1 = anchor_text_box()
    centre = ((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2)
    assert centre[0] == pytest.approx((tx0 + tx1) / 2, abs=0.5)
    assert centre[1] == pytest.approx((ty0 + ty1) / 2, abs=3)  # glyph box vs. baseline + size
    assert rect[2] - rect[0] == pytest.approx(42 / 25.4 * 72, abs=0.1)  # the seal's own 42 mm
    _, red = red_mask(render(pdf, tmp_path, "anchored")[1])
    height = 842
    cx = sum(x for x, _ in red) / len(red)
    cy = height - sum(y for _, y in red) / len(red)
    assert cx == pytest.approx((tx0 + tx1) / 2, abs=4) and cy == pytest.approx((ty0 + ty1) / 2, abs=6)
    with pytest.raises(AnchorNotFound):
        sealing.seal_document(sealing_world.instance, two_pages, es_id=sealing_world.es_id, anchor=HOLDER, page=1)


def test_page_only_puts_the_seal_in_the_bottom_right_corner(sealing_world: SealingWorld, two_pages: bytes) -> None:
    pdf = sealing.seal_document(sealing_world.instance, two_pages, es_id=sealing_world.es_id, page=-1)
    ((page, rect),) = widgets(pdf).values()
    size = 42 / 25.4 * 72
    width, _height = A4
    assert page == 1
    assert rect == pytest.approx([width - 56 - size, 56, width - 56, 56 + size], abs=0.01)


def test_personal_seal_is_a_20_mm_square(sealing_world: SealingWorld, one_page: bytes, tmp_path: Path) -> None:
    from trust.service import seals

    person = seals.create(
        sealing_world.instance, ca_id="region-330000-sm2", holder_kind="person", holder_name="李四",
        holder_code="330106199001010018", seal_name="个人签章",
    )  # fmt: skip
    pdf = sealing.seal_document(sealing_world.instance, one_page, es_id=person.es_id, anchor="本合同")
    ((_page, rect),) = widgets(pdf).values()
    assert rect[2] - rect[0] == pytest.approx(20 / 25.4 * 72, abs=0.01) == rect[3] - rect[1]
    _, red = red_mask(render(pdf, tmp_path, "personal")[0])
    xs, ys = [x for x, _ in red], [842 - y for _, y in red]
    assert len(red) > 500
    assert rect[0] - 1 <= min(xs) and max(xs) <= rect[2] + 1 and rect[1] - 1 <= min(ys) and max(ys) <= rect[3] + 1
    (signed,) = signer_infos(pdf)
    assert seal_pdf.seseal_attribute_value(signed[1]) == person.seal_der


def test_anchor_coordinates_follow_an_offset_media_box() -> None:
    from pypdf import PdfWriter, Transformation
    from pypdf.generic import RectangleObject

    writer = PdfWriter(clone_from=io.BytesIO(sample_pdf(1)))
    page = writer.pages[0]
    page.add_transformation(Transformation().translate(50, 100))
    page.mediabox = RectangleObject([50, 100, 645.28, 941.89])
    out = io.BytesIO()
    writer.write(out)
    plain = find_anchor(sample_pdf(1), HOLDER).box
    shifted = find_anchor(out.getvalue(), HOLDER).box
    assert shifted == pytest.approx((plain[0] + 50, plain[1] + 100, plain[2] + 50, plain[3] + 100))


# --- several seals ----------------------------------------------------------------------------------------------------


def test_several_seals_keep_the_earlier_ones_valid(
    sealing_world: SealingWorld, sealed: Any, roots: list[x509.Certificate], tmp_path: Path, nssdir: Path
) -> None:
    first = sealed("RSA", "B-T")
    second = sealing.seal_document(
        sealing_world.instance, first, es_id=sealing_world.es_id, family="dual", anchor=HOLDER
    )
    assert second.startswith(first)  # an incremental update: nothing before it changed
    statuses = pyhanko_statuses(second, roots, revocation="soft")
    assert [name for name, _ in signer_infos(second)] == ["Seal1", "Seal2-SM2", "Seal2-RSA"]
    assert all(s.intact and s.valid and s.trusted for s in statuses)
    assert statuses[0].coverage is SignatureCoverageLevel.ENTIRE_REVISION
    assert statuses[0].modification_level.name == "FORM_FILLING"  # only signatures were added after it
    assert statuses[0].timestamp_validity.trusted
    report = pdfsig(second, tmp_path, nssdir)
    assert [r["Signature Field Name"] for r in report] == ["Seal1", "Seal2-SM2", "Seal2-RSA"]
    assert report[0]["Signature Validation"] == "Signature is Valid." and "Not total document signed" in report[0]
    assert report[2]["Signature Validation"] == "Signature is Valid." and "Total document signed" in report[2]
    with pytest.raises(TrustError) as taken:
        sealing.seal_document(
            sealing_world.instance,
            second,
            es_id=sealing_world.es_id,
            family="SM2",
            page=1,
            box=SEAL_BOX,
            field_name="Seal1",
        )
    assert taken.value.code is Code.CONFLICT


# --- the SESeal attribute ---------------------------------------------------------------------------------------------


def test_every_signature_carries_the_seseal_as_a_signed_attribute(sealing_world: SealingWorld, sealed: Any) -> None:
    pdf = sealed("dual", "B-B")
    seal = ses.parse_seal(sealing_world.seal_der)
    for name, signed_data in signer_infos(pdf):
        assert seal_pdf.seseal_attribute_value(signed_data) == sealing_world.seal_der
        signer_info = signed_data["signer_infos"][0]
        attrs = signer_info["signed_attrs"]
        assert [a["type"].dotted for a in attrs].count(seal_pdf.SESEAL_ATTRIBUTE_OID) == 1
        serial = signer_info["sid"].chosen["serial_number"].native
        cert = next(c.chosen for c in signed_data["certificates"] if c.chosen.serial_number == serial)
        assert cert.dump() in seal.cert_list  # the signer is one the seal permits
        # The signature covers DER(SignedAttributes) itself (SM2 hashes SM3(Z || M) inside, nothing pre-hashed)
        # and so binds the seal: change one byte of the SESeal inside and it no longer verifies.
        from trust.crypto.keys import public_key_from_spki

        key = public_key_from_spki(cert["tbs_certificate"]["subject_public_key_info"])
        der = attrs.untag().dump()
        signature = signer_info["signature"].native
        algorithm = SM2_SM3 if name.endswith("SM2") else None
        key.verify(signature, der, algorithm)
        where = der.index(sealing_world.seal_der[-40:])
        tampered = der[:where] + bytes([der[where] ^ 1]) + der[where + 1 :]
        with pytest.raises(InvalidSignature):
            key.verify(signature, tampered, algorithm)
        if name.endswith("SM2"):
            with pytest.raises(InvalidSignature):
                key.verify(signature, digest("sm3", der), SM2_SM3)


def test_an_rsa_seal_carries_only_certificates_standard_viewers_read(sealed: Any) -> None:
    """NSS and Acrobat reject a CMS holding SM2 certificates, so an RSA signature carries its own RSA chain only;
    the SESeal maker's SM2 chain travels in the DSS (B-LT) and in the trust list of the bundle."""
    ((_name, signed_data),) = signer_infos(sealed("RSA", "B-B"))
    maker = ses.parse_seal(seal_pdf.seseal_attribute_value(signed_data) or b"").maker_certificate
    assert maker.issuer.native["common_name"] == "浙江省互认CA (SM2)"
    algorithms = {c.chosen.public_key.algorithm for c in signed_data["certificates"]}
    assert algorithms == {"rsa"}
    subjects = {c.chosen.subject.native["common_name"] for c in signed_data["certificates"]}
    assert {"浙江省互认CA (RSA)", "互认国家根CA (RSA)"} <= subjects
    reader = PdfFileReader(io.BytesIO(sealed("RSA", "B-LT")))
    dss = DocumentSecurityStore.read_dss(reader)
    dss_subjects = {c.subject.native.get("common_name") for c in dss.load_certs()}
    assert {maker.subject.native["common_name"], "浙江省互认CA (SM2)"} <= dss_subjects


# --- ECDSA and the pure API -------------------------------------------------------------------------------------------


def test_ecdsa_seal_and_binding_check(
    sealing_world: SealingWorld, one_page: bytes, roots: list[x509.Certificate], tmp_path: Path, nssdir: Path
) -> None:
    from trust.crypto.algorithms import ECDSA_SHA256
    from trust.formats.names import DN
    from trust.service import seals

    instance = sealing_world.instance
    issued = ca_service.issue(
        instance, ca_id="region-330000-rsa", profile="seal", key_family="EC",
        subject=DN(province="浙江省", organization=HOLDER, common_name=f"{HOLDER}电子签章", serial_number=ZJ_ORG_USCC),
    )  # fmt: skip
    ec = seal_pdf.SealSigner(
        instance.keystore.signer(issued.record.key_id, ECDSA_SHA256), issued.certificate, tuple(issued.chain)
    )
    record = seals.get(instance, sealing_world.es_id)
    from seal import registry
    from trust import db

    with db.session_scope(instance.engine) as session:
        key_id, der = registry.signer_key_ids(session, registry.get_seal(session, record.es_id))["SM2"]
    sm2_cert = x509.Certificate.load(der)
    sm2 = seal_pdf.SealSigner(
        instance.keystore.signer(key_id, SM2_SM3), sm2_cert, tuple(ca_service.chain_for(instance, "region-330000-sm2"))
    )
    picture = sealing.appearance_for(record)
    placement = seal_pdf.Placement(page=1, box=SEAL_BOX)
    # The EC certificate is not one of the seal's signer certificates: the seal refuses to carry it.
    with pytest.raises(seal_pdf.SealBindingError):
        seal_pdf.seal_pdf(one_page, [sm2, ec], seal_der=record.seal_der, appearance=picture, placement=placement)
    # Without a SESeal, SM2 + ECDSA is a dual signature like SM2 + RSA.
    pdf = seal_pdf.seal_pdf(one_page, [sm2, ec], appearance=picture, placement=placement)
    statuses = pyhanko_statuses(pdf, roots, revocation="soft")
    assert all(s.bottom_line for s in statuses)
    ec_info = signer_infos(pdf)[1][1]["signer_infos"][0]
    assert ec_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    assert seal_pdf.seseal_attribute_value(signer_infos(pdf)[1][1]) is None
    report = pdfsig(pdf, tmp_path, nssdir)
    assert report[1]["Signature Validation"] == "Signature is Valid." and "Total document signed" in report[1]
    # a signer whose key is not the certificate's key
    with pytest.raises(TrustError) as mismatch:
        seal_pdf.HurenPdfSigner(sm2.signer, issued.certificate)
    assert mismatch.value.code is Code.KEY_MISMATCH


def test_sealing_opens_no_socket(sealing_world: SealingWorld, one_page: bytes, no_network: list[str]) -> None:  # noqa: F811
    """B-LTA gathers CRLs, OCSP responses and time-stamps in process: nothing is fetched."""
    pdf = sealing.seal_document(
        sealing_world.instance, one_page, es_id=sealing_world.es_id, family="dual", level="B-LTA"
    )
    assert len(signer_infos(pdf)) == 2 and no_network == []


# --- bad input --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unusable(sealing_world: SealingWorld) -> dict[str, str]:
    """Seals that must not seal: suspended, revoked, and one without an RSA certificate."""
    from trust.service import seals

    made = {}
    for state, name in (("suspended", "公章"), ("revoked", "财务专用章"), ("sm2-only", "发票专用章")):
        record = seals.create(
            sealing_world.instance, ca_id="region-330000-sm2", holder_kind="organization", holder_name=HOLDER,
            holder_code=ZJ_ORG_USCC, seal_name=name, dual=False,
        )  # fmt: skip
        if state != "sm2-only":
            seals.set_status(sealing_world.instance, record.es_id, state, "test")
        made[state] = record.es_id
    return made


def _encrypted(pdf: bytes) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt("user", "owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _state(instance: Any) -> tuple[int, ...]:
    import sqlalchemy as sa

    from trust import db

    with db.session_scope(instance.engine) as session:
        return tuple(
            session.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("certificate", "crl", "seal", "seal_event")
        )


BAD = [
    (
        "not a PDF",
        lambda pdf: b"Hello, this is not a PDF at all.",
        {},
        seal_pdf.PdfFormatError,
        Code.MALFORMED_ENCODING,
    ),
    ("broken PDF", lambda pdf: pdf[: len(pdf) // 2], {}, seal_pdf.PdfFormatError, Code.MALFORMED_ENCODING),
    (
        "junk after header",
        lambda pdf: b"%PDF-1.7\n" + bytes(range(256)) * 4,
        {},
        seal_pdf.PdfFormatError,
        Code.MALFORMED_ENCODING,
    ),
    ("encrypted PDF", _encrypted, {}, seal_pdf.PdfEncryptedError, Code.INVALID_INPUT),
    ("page out of range", None, {"page": 3, "box": SEAL_BOX}, seal_pdf.PageOutOfRange, Code.INVALID_INPUT),
    ("page zero", None, {"page": 0, "box": SEAL_BOX}, seal_pdf.PageOutOfRange, Code.INVALID_INPUT),
    ("box off the page", None, {"page": 1, "box": (500, 60, 700, 260)}, seal_pdf.PlacementError, Code.INVALID_INPUT),
    (
        "box and anchor",
        None,
        {"page": 1, "box": SEAL_BOX, "anchor": HOLDER},
        seal_pdf.PlacementError,
        Code.INVALID_INPUT,
    ),
    ("anchor not found", None, {"anchor": "广东省某某局"}, AnchorNotFound, Code.INVALID_INPUT),
    ("unknown level", None, {"level": "B-X"}, TrustError, Code.INVALID_INPUT),
    ("unknown family", None, {"family": "DSA"}, TrustError, Code.INVALID_INPUT),
    ("unknown seal", None, {"es_id": "330000209901010000000"}, NotFoundError, Code.NOT_FOUND),
    ("suspended seal", None, {"es_id": "suspended"}, sealing.SealNotUsable, Code.CONFLICT),
    ("revoked seal", None, {"es_id": "revoked"}, sealing.SealNotUsable, Code.CONFLICT),
    ("RSA from an SM2-only seal", None, {"es_id": "sm2-only", "family": "RSA"}, sealing.SealNotUsable, Code.CONFLICT),
]


@pytest.mark.parametrize(("case", "edit", "kwargs", "error", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_a_specific_error_and_nothing_else(
    sealing_world: SealingWorld, unusable: dict[str, str], one_page: bytes, case: str, edit: Any,
    kwargs: dict[str, Any], error: type[TrustError], code: Code,
) -> None:  # fmt: skip
    instance = sealing_world.instance
    pdf = edit(one_page) if edit else one_page
    arguments: dict[str, Any] = {"es_id": sealing_world.es_id, "family": "dual", "level": "B-LTA", **kwargs}
    arguments["es_id"] = unusable.get(arguments["es_id"], arguments["es_id"])
    before = _state(instance)
    result = None
    with pytest.raises(error) as raised:
        result = sealing.seal_document(instance, pdf, **arguments)
    assert raised.value.code is code, raised.value.diagnostics()
    assert result is None and _state(instance) == before
