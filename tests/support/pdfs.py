"""Test PDF builders: plain documents (reportlab, Chinese text), documents prepared for the shadow attacks, PDFs
sealed by a Huren world, and the raw edits the attack tests apply to them.

Sealing goes through ``trust.service.seals.sealing.seal_document`` (:func:`seal_pdf`, the product's own PAdES sealing).
For variants the product never makes (a certification signature, an ``adbe.pkcs7.detached`` signature, a
signature without the seal), :func:`sign_with_pyhanko` signs with pyHanko's ``PdfSigner`` over the world's keys:
an SM2 or RSA ``HurenPdfSigner`` (pyHanko's ``Signer`` extension point over a key-store signer), the GB/T 38540
SESeal as the signed attribute ``1.3.6.1.4.1.32473.1.2.1`` (OCTET STRING with the seal's DER), signature
time-stamps from the world's TSA called in process (``WorldTimeStamper``), and revocation data (B-LT) from the
world's CRLs. :func:`resign` rewrites a signature with another byte range or CMS, as an attacker holding a key (or
a broken signer) would. Nothing here touches the network.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from asn1crypto import algos, cms, core, tsp, x509

SESEAL_ATTRIBUTE_OID: Final = "1.3.6.1.4.1.32473.1.2.1"
LEVELS: Final = ("B-B", "B-T", "B-LT", "B-LTA")


# --- plain documents ------------------------------------------------------------------------------------------


def base_pdf(pages: int = 1, *, title: str = "互认测试文件", lines: Sequence[str] = ()) -> bytes:
    """A small PDF with Chinese text on every page (Noto Sans SC embedded as a subset)."""
    from seal import samples

    return samples.contract_pdf(
        pages,
        title=title,
        body=list(lines) or ["兹证明本文件由互认平台测试生成。", "合同金额：人民币壹万元整（¥10,000.00）。"],
    )


# --- pyHanko signers over the world's keys ----------------------------------------------------------------------


def _pyhanko_signer_class() -> type:
    from pyhanko.sign.attributes import CMSAttributeProvider
    from pyhanko.sign.signers.pdf_cms import Signer

    class _SealAttribute(CMSAttributeProvider):
        attribute_type = SESEAL_ATTRIBUTE_OID

        def __init__(self, seal_der: bytes) -> None:
            self._seal_der = seal_der

        async def build_attr_value(self, dry_run: bool = False) -> Any:
            return core.OctetString(self._seal_der)

        async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
            value = await self.build_attr_value(dry_run)
            return cms.CMSAttribute({"type": SESEAL_ATTRIBUTE_OID, "values": [value]})

    class HurenPdfSigner(Signer):
        """pyHanko's ``Signer`` over a Huren key-store signer (SM2 with SM3, or RSA PKCS#1 v1.5 with SHA-256)."""

        def __init__(
            self, signer: Any, cert: x509.Certificate, chain: Iterable[x509.Certificate], seal_der: bytes | None = None
        ) -> None:
            from pyhanko_certvalidator.registry import SimpleCertificateStore

            family = signer.public_key.family.value
            mechanism = algos.SignedDigestAlgorithm(
                {"algorithm": "sm2_sm3"} if family == "SM2" else {"algorithm": "sha256_rsa"}
            )
            super().__init__(
                signing_cert=cert,
                cert_registry=SimpleCertificateStore.from_certs(list(chain)),
                signature_mechanism=mechanism,
                embed_roots=False,
            )
            self._huren_signer = signer
            self._seal_der = seal_der
            self.family = family

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            return bytes(self._huren_signer.sign(data))

        def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Any:
            yield from super()._signed_attr_providers(*args, **kwargs)
            if self._seal_der is not None:
                yield _SealAttribute(self._seal_der)

    return HurenPdfSigner


def _timestamper_class() -> type:
    from pyhanko.sign.timestamps.api import TimeStamper

    class WorldTimeStamper(TimeStamper):
        """The world's RFC 3161 TSA, called in process (no HTTP)."""

        def __init__(self, instance: Any, family: str) -> None:
            super().__init__()
            self._instance = instance
            self._family = family

        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            from trust.service import tsa

            return tsp.TimeStampResp.load(tsa.timestamp(self._instance, req.dump(), self._family))

    return WorldTimeStamper


@dataclass(frozen=True)
class SealKeys:
    """What signing with one seal needs: the seal's DER, and per family the signer and its certificate chain."""

    es_id: str
    seal_der: bytes
    signers: dict[str, tuple[Any, x509.Certificate, tuple[x509.Certificate, ...]]]


def seal_keys(instance: Any, es_id: str) -> SealKeys:
    from sqlmodel import select

    from ca import authority
    from ca.models import IssuedCertificate
    from seal import registry
    from trust import db
    from trust.service import ca as ca_service

    found: dict[str, tuple[str, bytes, str]] = {}
    with db.session_scope(instance.engine) as session:
        record = registry.get_seal(session, es_id)
        seal_der = bytes(record.seal_der)
        for family, (key_id, der) in registry.signer_key_ids(session, record).items():
            issued = session.exec(select(IssuedCertificate).where(IssuedCertificate.der == der)).first()
            assert issued is not None
            found[family] = (key_id, bytes(der), issued.issuer_id)
    result: dict[str, tuple[Any, x509.Certificate, tuple[x509.Certificate, ...]]] = {}
    for family, (key_id, der, issuer_id) in found.items():
        signer = instance.keystore.signer(key_id, authority.algorithm_for(family))
        chain = tuple(ca_service.chain_for(instance, issuer_id))
        result[family] = (signer, x509.Certificate.load(der), chain)
    return SealKeys(es_id, seal_der, result)


def crls_for(instance: Any) -> list[bytes]:
    from sqlmodel import select

    from ca.models import CertificateAuthority
    from trust import db
    from trust.service import ca as ca_service

    with db.session_scope(instance.engine) as session:
        ids = [ca.id for ca in session.exec(select(CertificateAuthority)).all()]
    return [der for ca_id in ids for der in ca_service.current_crls(instance, ca_id)]


def _validation_context(instance: Any, chain: Sequence[x509.Certificate]) -> Any:
    from asn1crypto import crl as asn1_crl
    from pyhanko_certvalidator import ValidationContext

    from trust.crypto.certvalidator import SIGNATURE_VALIDATOR

    roots = [c for c in chain if c.self_signed == "maybe" or c.subject == c.issuer]
    return ValidationContext(
        trust_roots=roots or list(chain[-1:]),
        other_certs=list(chain),
        crls=[asn1_crl.CertificateList.load(d) for d in crls_for(instance)],
        allow_fetching=False,
        signature_validator=SIGNATURE_VALIDATOR,
        revocation_mode="soft-fail",
    )


def sign_with_pyhanko(
    instance: Any,
    pdf: bytes,
    keys: SealKeys,
    *,
    family: str = "SM2",
    level: str = "B-T",
    field_name: str | None = None,
    with_seal: bool = True,
    certify: bool = False,
    subfilter: str = "pades",
    visible_box: tuple[int, int, int, int] | None = (360, 80, 480, 200),
) -> bytes:
    """Sign ``pdf`` with one of the seal's certificates through pyHanko (see the module docstring)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    signer, cert, chain = keys.signers[family]
    pdf_signer_cls = _pyhanko_signer_class()
    pdf_signer = pdf_signer_cls(signer, cert, chain, keys.seal_der if with_seal else None)
    existing = len(re.findall(rb"/FT\s*/Sig", pdf))
    name = field_name or f"Seal-{family}-{existing + 1}"
    timestamper = _timestamper_class()(instance, family) if level != "B-B" else None
    vc = _validation_context(instance, chain) if level in ("B-LT", "B-LTA") else None
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm="sm3" if family == "SM2" else "sha256",
        subfilter=SigSeedSubFilter.PADES if subfilter == "pades" else SigSeedSubFilter.ADOBE_PKCS7_DETACHED,
        embed_validation_info=vc is not None,
        validation_context=vc,
        use_pades_lta=level == "B-LTA",
        certify=certify,
        signer_key_usage={"digital_signature"},
    )
    spec = fields.SigFieldSpec(sig_field_name=name, box=visible_box) if visible_box else None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = io.BytesIO()
    asyncio.run(
        signers.PdfSigner(meta, pdf_signer, timestamper=timestamper, new_field_spec=spec).async_sign_pdf(
            writer, output=out
        )
    )
    return out.getvalue()


def seal_pdf(
    instance: Any,
    pdf: bytes,
    es_id: str,
    *,
    family: str = "SM2",
    level: str = "B-T",
    page: int | None = 1,
    **kwargs: Any,
) -> bytes:
    """Seal with the product: :func:`trust.service.seals.sealing.seal_document` (visible seal on ``page``)."""
    from trust.service.seals import sealing

    return sealing.seal_document(instance, pdf, es_id=es_id, level=level, family=family, page=page, **kwargs)


# --- raw edits for the attack tests -----------------------------------------------------------------------------


def byte_ranges(pdf: bytes) -> list[list[int]]:
    """Every ``/ByteRange [a b c d]`` in the file, in file order."""
    return [[int(n) for n in m.group(1).split()] for m in re.finditer(rb"/ByteRange\s*\[\s*([0-9 \r\n]+?)\s*\]", pdf)]


def contents_span(pdf: bytes, byte_range: Sequence[int]) -> tuple[int, int]:
    """``(start, end)`` of the ``<hex>`` string excluded by ``byte_range``."""
    return byte_range[1], byte_range[2]


def startxref(pdf: bytes) -> int:
    return int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])


def append_update(pdf: bytes, objects: dict[int, bytes], *, root: int | None = None) -> bytes:
    """An incremental update (classic xref table) replacing or adding ``objects`` (number -> body without
    ``obj``/``endobj``); the trailer copies /Root, /Info, /Size from the last trailer (reads xref streams too)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf), strict=False)
    trailer: Any = reader.trailer  # pypdf's objects are typed loosely (PdfObject)
    size = max(int(trailer["/Size"]), max(objects) + 1)
    root_ref = root if root is not None else trailer.raw_get("/Root").idnum
    info = trailer.raw_get("/Info").idnum if "/Info" in trailer else None
    previous = startxref(pdf)
    body = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(body)
        body += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(body)
    body += b"xref\n"
    for number in sorted(objects):
        body += b"%d 1\n%010d 00000 n \n" % (number, offsets[number])
    trailer_text = b"<< /Size %d /Root %d 0 R /Prev %d" % (size, root_ref, previous)
    if info is not None:
        trailer_text += b" /Info %d 0 R" % info
    body += b"trailer\n" + trailer_text + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(body)


def object_numbers(pdf: bytes) -> dict[str, int]:
    """Object numbers a test needs: the first page, its content stream, the catalog, the AcroForm and the
    signature dictionaries (``sig``, ``sig2``, … in revision order) of the last revision, read with pypdf."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf), strict=False)
    page = reader.pages[0]
    trailer: Any = reader.trailer  # pypdf's objects are typed loosely (PdfObject)
    assert page.indirect_reference is not None
    numbers: dict[str, int] = {"page": page.indirect_reference.idnum, "root": trailer.raw_get("/Root").idnum}
    contents = page.raw_get("/Contents")
    if hasattr(contents, "idnum"):
        numbers["contents"] = contents.idnum
    acro = trailer["/Root"].get("/AcroForm")
    if acro is not None:
        raw = trailer["/Root"].raw_get("/AcroForm")
        if hasattr(raw, "idnum"):
            numbers["acroform"] = raw.idnum
        for index, field in enumerate(acro.get_object()["/Fields"], start=1):
            value = field.get_object().raw_get("/V") if "/V" in field.get_object() else None
            key = "sig" if index == 1 else f"sig{index}"
            numbers[key + "_field"] = field.idnum
            if value is not None and hasattr(value, "idnum"):
                numbers[key] = value.idnum
    return numbers


def raw_object(pdf: bytes, number: int) -> bytes:
    """The body of the last definition of object ``number`` in the file (between ``obj`` and ``endobj``)."""
    matches = list(re.finditer(rb"(?<![0-9])%d 0 obj\s*(.*?)\s*endobj" % number, pdf, re.S))
    if not matches:
        raise KeyError(number)
    return matches[-1].group(1)


def content_stream(text: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream"


def build_pdf(objects: dict[int, bytes], *, root: int = 1) -> bytes:
    """A one-revision PDF from object bodies (number -> body), with a classic cross-reference table."""
    body = bytearray(b"%PDF-1.7\n%\xe4\xf6\xfc\xdf\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(body)
        body += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    size = max(objects) + 1
    xref_at = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        if number in offsets:
            body += b"%010d 00000 n \n" % offsets[number]
        else:
            body += b"0000000000 65535 f \n"
    body += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref_at)
    return bytes(body)


PREPARED: Final = {
    "catalog": 1,
    "pages": 2,
    "page": 3,
    "contents": 4,
    "font": 5,
    "cover": 6,
    "alt": 7,
    "hidden": 8,
    "acroform": 9,
    "note": 10,
    "note_ap": 11,
}
"""Object numbers of :func:`prepared_pdf` (the shadow attack tests switch them after sealing)."""


def prepared_pdf() -> bytes:
    """A document prepared for the shadow attacks (Mainka et al., "Shadow Attacks", NDSS 2021), as the signer sees
    it: the page says "Amount: 100 EUR"; a white form XObject ``/Cover`` hides a second line ("Amount: 1,000,000
    EUR"); ``/Alt`` (a form XObject that says 1,000,000) sits unused in the page's resources; object 8 is an unused
    content stream that says 1,000,000; a text field ``note`` has an empty appearance over the amount."""
    visible = (
        b"BT /F1 20 Tf 72 700 Td (Amount: 100 EUR) Tj ET\n"
        b"BT /F1 20 Tf 72 650 Td (Amount: 1,000,000 EUR) Tj ET\n"
        b"q 1 0 0 1 60 640 cm /Cover Do Q\n"
    )
    cover = b"1 1 1 rg 0 0 400 40 re f"
    alt = b"BT /F1 20 Tf 12 60 Td (Amount: 1,000,000 EUR) Tj ET"
    hidden = b"BT /F1 20 Tf 72 700 Td (Amount: 1,000,000 EUR) Tj ET"
    return build_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm 9 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: (
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R"
                b" >> /XObject << /Cover 6 0 R /Alt 7 0 R >> >> /Annots [10 0 R] >>"
            ),
            4: content_stream(visible),
            5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            6: form_xobject(cover, (0, 0, 400, 40)),
            7: form_xobject(alt, (0, 0, 400, 100)),
            8: content_stream(hidden),
            9: b"<< /Fields [10 0 R] /DA (/F1 0 Tf 0 g) /DR << /Font << /F1 5 0 R >> >> >>",
            10: (
                b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (note) /V () /F 4 /Rect [60 690 400 730] /P 3 0 R"
                b" /DA (/F1 20 Tf 0 g) /AP << /N 11 0 R >> >>"
            ),
            11: form_xobject(b"", (0, 0, 340, 40)),
        }
    )


def form_xobject(
    text: bytes, bbox: tuple[int, int, int, int], resources: bytes = b"<< /Font << /F1 5 0 R >> >>"
) -> bytes:
    box = b" ".join(b"%d" % v for v in bbox)
    return (
        b"<< /Type /XObject /Subtype /Form /BBox [%s] /Resources %s /Length %d >>\nstream\n"
        % (box, resources, len(text))
        + text
        + b"\nendstream"
    )


def resign(
    pdf: bytes,
    keys: SealKeys,
    *,
    family: str = "SM2",
    byte_range: Sequence[int] | None = None,
    econtent: bytes | None = None,
) -> bytes:
    """Rewrite the last signature of ``pdf`` with a new ``/ByteRange`` (same width in the file) and a fresh CMS by
    the seal's key over what that range covers — what an attacker with a signing key, or a broken signer, makes.
    ``econtent`` puts encapsulated content into the CMS (signed instead of the byte ranges)."""
    from trust.formats import cms as cms_mod
    from trust.formats import tsp as tsa_mod

    signer, cert, chain = keys.signers[family]
    matches = list(re.finditer(rb"/ByteRange\s*\[([0-9 ]+)\] *", pdf))
    last = matches[-1]
    old = [int(n) for n in last.group(1).split()]
    gap_start, gap_end = old[0] + old[1], old[2]
    wanted = list(byte_range) if byte_range is not None else old
    text = b"/ByteRange [%s]" % b" ".join(b"%d" % n for n in wanted)
    width = last.end() - last.start()
    if len(text) > width:
        raise ValueError("the new /ByteRange does not fit in the old one's place")
    data = pdf[: last.start()] + text.ljust(width) + pdf[last.end() :]
    start1, length1, start2, length2 = wanted
    covered = data[start1 : start1 + length1] + data[start2 : start2 + length2]
    hash_name = "sm3" if family == "SM2" else "sha256"
    attrs = [
        tsa_mod.signing_certificate_v2(cert, hash_name),
        cms.CMSAttribute({"type": SESEAL_ATTRIBUTE_OID, "values": [core.OctetString(keys.seal_der)]}),
    ]
    signed = cms_mod.sign(
        econtent if econtent is not None else covered,
        signer,
        cert,
        detached=econtent is None,
        certificates=[c for c in chain if c.subject != c.issuer],
        attributes=attrs,
    )
    hexed = signed.dump().hex().encode()
    room = gap_end - gap_start - 2
    if len(hexed) > room:
        raise ValueError(f"the new CMS ({len(hexed)} hex digits) does not fit in /Contents ({room})")
    return data[: gap_start + 1] + hexed.ljust(room, b"0") + data[gap_end - 1 :]


@dataclass
class SealingWorld:
    """A fresh Huren world with one dual seal (SM2 and RSA certificates) for an organisation of 浙江."""

    instance: Any
    home: Any
    es_id: str

    @property
    def keys(self) -> SealKeys:
        return seal_keys(self.instance, self.es_id)

    def new_seal(self, name: str = "合同专用章", *, dual: bool = True) -> str:
        from tests.support.world import ZJ_ORG_USCC
        from trust.service import seals

        record = seals.create(
            self.instance,
            ca_id="region-330000-sm2",
            holder_kind="organization",
            holder_name="杭州某某科技有限公司",
            holder_code=ZJ_ORG_USCC,
            seal_name=name,
            dual=dual,
        )
        return str(record.es_id)

    def bundle(self) -> tuple[bytes, list[str]]:
        """The current signed offline bundle and the pinned root fingerprints."""
        from trust.service import trust

        path = trust.export_bundle(self.instance, self.home / f"bundle-{len(list(self.home.glob('bundle-*')))}.json")
        return path.read_bytes(), sorted(trust.root_fingerprints(self.instance).values())

    def context(self, **kwargs: Any) -> Any:
        from verifier import context

        bundle, pins = self.bundle()
        return context.build(bundle=bundle, pins=pins, environ={}, **kwargs)

    def seal(
        self, pdf: bytes, *, family: str = "SM2", level: str = "B-T", es_id: str | None = None, **kwargs: Any
    ) -> bytes:
        return seal_pdf(self.instance, pdf, es_id or self.es_id, family=family, level=level, **kwargs)


def sealing_world(home: Any) -> SealingWorld:
    from tests.support.server import free_port
    from tests.support.world import build_world

    world = build_world(home, free_port())
    made = SealingWorld(world.instance, home, "")
    made.es_id = made.new_seal()
    return made


def pyhanko_validate(data: bytes, ctx: Any) -> list[tuple[str, Any]]:
    """pyHanko's own verdict on every signature of ``data`` (the independent peer): ``(field, status)`` with the
    status object of ``async_validate_pdf_signature`` / ``async_validate_pdf_timestamp``, or the exception."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
    from pyhanko_certvalidator import ValidationContext

    from trust.crypto.certvalidator import SIGNATURE_VALIDATOR

    def vc() -> Any:
        return ValidationContext(
            trust_roots=list(ctx.anchors),
            other_certs=list(ctx.intermediates),
            crls=list(ctx.crl_objects),
            allow_fetching=False,
            signature_validator=SIGNATURE_VALIDATOR,
            moment=ctx.validation_time,
        )

    results: list[tuple[str, Any]] = []
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    for embedded in reader.embedded_signatures:
        status: object
        try:
            if embedded.sig_object_type == "/DocTimeStamp":
                status = asyncio.run(async_validate_pdf_timestamp(embedded, vc()))
            else:
                status = asyncio.run(async_validate_pdf_signature(embedded, vc()))
        except Exception as exc:
            status = exc
        results.append((embedded.field_name, status))
    return results


def pyhanko_accepts(status: Any) -> bool:
    """pyHanko's bottom line: intact, valid, trusted and no disallowed modification (signatures and time-stamps)."""
    if isinstance(status, Exception):
        return False
    if hasattr(status, "bottom_line"):
        return bool(status.bottom_line)
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    return bool(
        status.intact
        and status.valid
        and status.trusted
        and status.coverage is not None
        and status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
        and status.modification_level is not ModificationLevel.OTHER
    )
