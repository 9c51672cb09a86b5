"""PAdES sealing of PDF documents (ETSI EN 319 142-1 baseline levels B-B, B-T, B-LT, B-LTA) with pyHanko,
SM2/SM3 added through pyHanko's one signing extension point (``Signer.async_sign_raw``).

**Stable API** — other modules and the PDF verifier's tests build on these; keep them compatible:
:func:`seal_pdf`, :class:`SealSigner`, :class:`Placement`, :class:`RevocationData`, :class:`HurenPdfSigner`,
:class:`CallableTimeStamper`, :data:`SESEAL_ATTRIBUTE_OID` / :data:`SESEAL_ATTRIBUTE`, :func:`seseal_attribute_value`
and the error classes below. Pure with respect to storage: signers, certificates, time-stampers and revocation
data are arguments; nothing here opens a database or a socket.

What a seal signature is (decisions):

* ``/SubFilter /ETSI.CAdES.detached`` (ISO 32000-2 clause 12.8.3.4, PAdES), one CMS ``SignedData`` with the
  signer certificate and its chain, ``signingCertificateV2``, no ``signingTime`` (PAdES forbids it; the
  time of a B-B seal is the claimed ``/M``), and the **SESeal signed attribute**:
  ``huren_seseal`` = :data:`SESEAL_ATTRIBUTE_OID` (1.3.6.1.4.1.32473.1.2.1, Huren's documentation arc,
  ``docs/OIDS.md``), ``values = SET { OCTET STRING (DER SESeal) }``. Being signed, it binds the GB/T 38540
  seal (esID, picture, permitted signer certificates, validity, maker's signature) to the signature; the
  signer certificate must be one of the seal's ``certList`` (checked here before signing).
* Algorithms: SM2 with SM3 (``signatureAlgorithm`` 1.2.156.10197.1.501, parameters absent, GB/T 35275 /
  GB/T 20518; digest SM3; the GB/T 35276 default user ID — verifiers know no other), RSA PKCS#1 v1.5 or PSS with
  SHA-256/384/512, ECDSA with SHA-256/384. pyHanko hands :meth:`HurenPdfSigner.async_sign_raw` the DER of the
  signed attributes (not a hash); the project :class:`~trust.crypto.signer.Signer` hashes it as its algorithm
  says (for SM2: ``SM3(Z || M)``). Every signature is verified with the certificate's key before it is embedded.
* Levels: **B-B** no time-stamp; **B-T** a signature time-stamp (RFC 3161, over the signature value, imprint in
  the signature's digest: SM3 for SM2 seals from the SM2 TSA, SHA-256 for RSA seals from the RSA TSA);
  **B-LT** B-T plus the certificates, CRLs and OCSP responses of the signer's, the TSA's and the SESeal maker's
  chains in the document security store (DSS), gathered offline from :class:`RevocationData`
  (``allow_fetching=False``; SM2 chains checked with :data:`trust.crypto.certvalidator.SIGNATURE_VALIDATOR`; the
  seal fails if the chain does not validate with that data). The data go into a DSS revision *before* the
  signature (so the signature covers them; pyHanko alone would not collect the maker's chain), then pyHanko's
  own DSS update after it adds the validation paths and VRI entries. **B-LTA**: B-LT plus a document time-stamp
  after the DSS.
* Visible seal: the vector seal picture (one-page PDF from :mod:`seal.picture`) imported as a form XObject
  into the widget's appearance — vectors and the subset CJK font stay as they are, no rasterising. Placed by
  page and box, or centred on a text anchor (:mod:`seal.anchor`). No border, no text of pyHanko's.
* Several seals: every seal is an incremental update (ISO 32000-2 clause 7.5.6); nothing before it changes,
  so earlier signatures stay valid. Field names ``Seal1``, ``Seal2``, … (first free), or the caller's.
* **Dual seal** (one SM2 and one RSA/ECDSA signature, one operation): the SM2 signature first — its widget
  carries the visible seal — then the RSA/ECDSA signature in a second field whose widget lies on the same
  rectangle with an empty (transparent) appearance. The picture is drawn once; clicking it in a standard
  viewer opens the RSA signature (the top widget), which covers the whole file including the SM2 signature
  and the seal's appearance, so viewers that cannot check SM2 still report "total document signed". National
  verifiers check the SM2 signature and see the later revision as an added signature only. Field names
  ``SealN-SM2`` and ``SealN-RSA`` (``-EC`` for ECDSA). At B-LTA one document time-stamp (the last signer's
  TSA, RSA for dual seals) follows both signatures and their DSS updates.

Bad input raises a specific :class:`~trust.crypto.errors.TrustError` before anything is signed or time-stamped:
:class:`PdfFormatError` (not a PDF, broken structure), :class:`PdfEncryptedError`, :class:`PageOutOfRange`,
:class:`~seal.anchor.AnchorNotFound`, :class:`PlacementError`, :class:`SealBindingError` (signer certificate not
permitted by the seal), :class:`~trust.crypto.errors.InputError` for arguments that do not fit.
"""

from __future__ import annotations

import asyncio
import binascii
import io
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from asn1crypto import cms, core, tsp, x509
from pyhanko.pdf_utils import content, layout
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import find_inherited_value_in_tree  # type: ignore[attr-defined]
from pyhanko.sign import fields, signers
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import CAdESSignedAttributeProviderSpec, PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from seal import anchor as anchor_mod
from trust.crypto import oids
from trust.crypto.algorithms import KeyFamily, digest
from trust.crypto.certvalidator import SIGNATURE_VALIDATOR
from trust.crypto.errors import (
    Code,
    ConflictError,
    EncodingError,
    InputError,
    InvalidSignature,
    TrustError,
    UnavailableError,
)
from trust.crypto.signer import Signer as TrustSigner
from trust.crypto.sm2 import DEFAULT_USER_ID
from trust.formats import ses

oids.register()


class _EmbedWithoutFetching(logging.Filter):
    """pyHanko warns whenever revocation data is embedded with fetching disabled. Huren always does that on
    purpose — it supplies the OCSP responses and CRLs itself and never fetches — so that one warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_EmbedWithoutFetching())

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: Final[tuple[str, ...]] = get_args(Level)
SESEAL_ATTRIBUTE_OID: Final = "1.3.6.1.4.1.32473.1.2.1"
SESEAL_ATTRIBUTE: Final = "huren_seseal"
MAX_PDF_BYTES: Final = 64 * 1024 * 1024
MIN_BOX_POINTS: Final = 8.0
DEFAULT_MARGIN: Final = 56.0  # points (about 20 mm) from the right and bottom edges, for a seal placed by page only


# --- errors ----------------------------------------------------------------------------------------------------


class PdfFormatError(EncodingError):
    """The input is not a PDF, or its structure cannot be read (strictly: no hybrid cross-references)."""


class PdfEncryptedError(InputError):
    """Encrypted PDFs are not sealed (remove the encryption first)."""


class PageOutOfRange(InputError):
    """The page number is not a page of the document."""


class PlacementError(InputError):
    """The placement (box, page, anchor arguments) does not describe a place on the page."""


class SealBindingError(InputError):
    """The signer certificate is not one of the seal's permitted signer certificates (``certList``)."""


# --- the SESeal signed attribute -----------------------------------------------------------------------------


def register_seseal_attribute() -> None:
    """Teach asn1crypto the SESeal attribute (``huren_seseal``, SET OF OCTET STRING). Idempotent."""
    existing = cms.CMSAttributeType._map.get(SESEAL_ATTRIBUTE_OID)
    if existing is not None and existing != SESEAL_ATTRIBUTE:
        raise RuntimeError(f"CMSAttributeType already maps {SESEAL_ATTRIBUTE_OID} to {existing!r}")
    cms.CMSAttributeType._map[SESEAL_ATTRIBUTE_OID] = SESEAL_ATTRIBUTE
    if cms.CMSAttributeType._reverse_map is not None:
        cms.CMSAttributeType._reverse_map[SESEAL_ATTRIBUTE] = SESEAL_ATTRIBUTE_OID
    cms.CMSAttribute._oid_specs[SESEAL_ATTRIBUTE] = cms.SetOfOctetString


register_seseal_attribute()


def seseal_attribute_value(signed_data: cms.SignedData | cms.ContentInfo) -> bytes | None:
    """The DER SESeal carried by the (single) signer's ``huren_seseal`` signed attribute, or ``None``.

    Raises :class:`EncodingError` if the attribute occurs more than once or with other than one value."""
    if isinstance(signed_data, cms.ContentInfo):
        signed_data = signed_data["content"]
    found: list[bytes] = []
    for signer_info in signed_data["signer_infos"]:
        attrs = signer_info["signed_attrs"]
        if isinstance(attrs, core.Void):
            continue
        for attr in attrs:
            if attr["type"].dotted == SESEAL_ATTRIBUTE_OID:
                values = list(attr["values"])
                if len(values) != 1:
                    raise EncodingError("the SESeal attribute must have exactly one value")
                found.append(bytes(values[0].native))
    if len(found) > 1:
        raise EncodingError("the SESeal attribute occurs more than once")
    return found[0] if found else None


class _SESealProvider(CMSAttributeProvider):
    attribute_type = SESEAL_ATTRIBUTE

    def __init__(self, seal_der: bytes):
        self._value = core.OctetString(seal_der)

    async def build_attr_value(self, dry_run: bool = False) -> core.OctetString:
        return self._value


class _SealSignedAttributes(SignedAttributeProviderSpec):
    """PAdES signed attributes (pyHanko's CAdES spec: signingCertificateV2, no signingTime) + the SESeal."""

    def __init__(self, certificate: x509.Certificate, seal_der: bytes | None):
        self._pades = CAdESSignedAttributeProviderSpec(
            attr_settings=PdfCMSSignedAttributes(), signing_cert=certificate, is_pades=True, timestamper=None
        )
        self._seal = _SESealProvider(seal_der) if seal_der is not None else None

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str) -> Any:
        yield from self._pades.signed_attr_providers(data_digest=data_digest, digest_algorithm=digest_algorithm)
        if self._seal is not None:
            yield self._seal


# --- pyHanko signer over the project's Signer ----------------------------------------------------------------


def _placeholder_length(signer: TrustSigner) -> int:
    """An upper bound of the DER signature length, for pyHanko's size estimate (dry run)."""
    key = signer.public_key
    if key.family is KeyFamily.RSA:
        return (key.size + 7) // 8
    width = (key.size + 7) // 8 + 1  # INTEGER with a possible leading zero
    return 2 * (width + 2) + 4


class HurenPdfSigner(signers.Signer):  # type: ignore[misc]
    """A pyHanko :class:`~pyhanko.sign.signers.pdf_cms.Signer` over a :class:`trust.crypto.signer.Signer`.

    ``chain`` holds the issuer certificates (up to the root) that go into the CMS with the signer certificate;
    ``seal_der`` (optional) adds the SESeal signed attribute. The signature mechanism is the signer's own
    X.509 AlgorithmIdentifier (SM2: ``sm2_sm3`` with absent parameters)."""

    def __init__(
        self,
        signer: TrustSigner,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        seal_der: bytes | None = None,
        embed_roots: bool = True,
    ):
        spki = certificate["tbs_certificate"]["subject_public_key_info"].dump()
        if signer.public_key.spki_der() != spki:
            raise InputError("the signer's key is not the key of the signer certificate", code=Code.KEY_MISMATCH)
        if signer.algorithm.family is KeyFamily.SM2 and signer.user_id != DEFAULT_USER_ID:
            raise InputError("PDF seals use the GB/T 35276 default SM2 user ID; verifiers know no other")
        self._signer = signer
        unique: dict[bytes, x509.Certificate] = {}
        for cert in chain:
            if cert.dump() != certificate.dump():  # pyHanko adds the signing certificate itself: not twice
                unique.setdefault(cert.dump(), cert)
        certs = list(unique.values())
        super().__init__(
            signing_cert=certificate,
            cert_registry=SimpleCertificateStore.from_certs(certs),
            signature_mechanism=signer.algorithm.x509_identifier(),
            embed_roots=embed_roots,
        )
        self.signed_attr_prov_spec = _SealSignedAttributes(certificate, seal_der)

    @property
    def digest_algorithm(self) -> str:
        return self._signer.algorithm.hash

    @property
    def signature_size_bound(self) -> int:
        """Bytes the DER signature value takes at most."""
        return _placeholder_length(self._signer)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm.lower() != self._signer.algorithm.hash:
            raise SigningError(
                f"{self._signer.algorithm.name} signs with {self._signer.algorithm.hash}, not {digest_algorithm}"
            )
        if dry_run:
            return bytes(self.signature_size_bound)
        signature = self._signer.sign(data)
        try:  # a fault or a key mix-up never leaves as an embedded signature
            self._signer.public_key.verify(signature, data, self._signer.algorithm, user_id=self._signer.user_id)
        except InvalidSignature as exc:
            raise TrustError(f"PDF signature self-check failed: {exc.message}", code=Code.INTERNAL) from exc
        return signature


# --- time-stamps ---------------------------------------------------------------------------------------------


class CallableTimeStamper(TimeStamper):  # type: ignore[misc]
    """A pyHanko :class:`TimeStamper` that hands the DER ``TimeStampReq`` to ``respond`` and reads the DER
    ``TimeStampResp`` it returns — e.g. ``lambda req: trust.service.tsa.timestamp(instance, req, "SM2")``
    in-process, or an HTTP POST to ``/tsa/sm2``. A refusal raises :class:`UnavailableError` with the TSA's text."""

    def __init__(self, respond: Callable[[bytes], bytes], *, name: str = "TSA", include_nonce: bool = True):
        super().__init__(include_nonce=include_nonce)
        self._respond = respond
        self.name = name

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        from trust.formats import tsp as tsa_format

        der = self._respond(req.dump())
        status = tsa_format.response_status(der)
        if not status.granted:
            raise UnavailableError(
                f"the {self.name} refused the time-stamp request: {status.status}"
                + (f" ({status.text})" if status.text else ""),
                evidence={"status": status.status, "fail_info": sorted(status.fail_info)},
            )
        return tsp.TimeStampResp.load(der)


# --- inputs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealSigner:
    """One signing identity of a seal: the key (as a project :class:`Signer`), its certificate, the issuer
    certificates up to and including the root, and the time-stamper of its family (B-T and above)."""

    signer: TrustSigner
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    timestamper: TimeStamper | None = None

    @property
    def family(self) -> KeyFamily:
        return self.signer.algorithm.family


@dataclass(frozen=True)
class RevocationData:
    """Offline validation data for B-LT/B-LTA: DER CRLs and OCSP responses, and the certificates of the chains
    they need (TSA certificates and their issuers). ``trust_roots`` are the anchors the chains end in."""

    crls: tuple[bytes, ...] = ()
    ocsps: tuple[bytes, ...] = ()
    certificates: tuple[x509.Certificate, ...] = ()
    trust_roots: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class Placement:
    """Where the visible seal goes. ``page`` counts from 1 (negative: from the end, -1 = last page).

    * by box: ``page`` and ``box = (x0, y0, x1, y1)`` in points, PDF user space (origin bottom-left);
    * by page only: the bottom-right corner of the page, :data:`DEFAULT_MARGIN` points from both edges;
    * by anchor: ``anchor`` text (``page`` optional: the whole document is searched when it is ``None``); the
      seal is centred on the ``occurrence``-th match, ``size`` points wide (default: the picture's own size)."""

    page: int | None = None
    box: tuple[float, float, float, float] | None = None
    anchor: str | None = None
    size: float | None = None
    occurrence: int = 1

    def __post_init__(self) -> None:
        if self.box is not None and self.anchor is not None:
            raise PlacementError("place the seal by page and box, or by a text anchor, not both")
        if self.box is None and self.anchor is None and self.page is None:
            raise PlacementError("a placement needs a page (and a box), or a text anchor")
        if self.box is not None and self.page is None:
            raise PlacementError("a box needs a page number")
        if self.page == 0:
            raise PageOutOfRange("pages count from 1 (or from -1 at the end)")
        if self.size is not None and not MIN_BOX_POINTS <= self.size <= 1000:
            raise PlacementError(f"the seal size must be {MIN_BOX_POINTS}..1000 points")


@dataclass
class PdfDocument:
    """A PDF that :func:`open_pdf` accepted: its bytes, a strict reader, its page count and signature fields."""

    data: bytes
    reader: PdfFileReader
    page_count: int
    field_names: set[str] = field(default_factory=set)


def open_pdf(pdf: bytes | PdfDocument) -> PdfDocument:
    """Check that ``pdf`` is an unencrypted PDF that pyHanko reads strictly (no hybrid cross-references) with a
    page count; its signature field names. Pages are read when placed on. A :class:`PdfDocument` is returned
    as it is."""
    if isinstance(pdf, PdfDocument):
        return pdf
    if not isinstance(pdf, bytes | bytearray | memoryview):
        raise InputError("the PDF must be given as bytes")
    pdf = bytes(pdf)
    if len(pdf) > MAX_PDF_BYTES:
        raise InputError(f"PDF of {len(pdf)} bytes exceeds {MAX_PDF_BYTES}", code=Code.INPUT_TOO_LARGE)
    if b"%PDF-" not in pdf[:1024]:
        raise PdfFormatError("not a PDF: no %PDF- header in the first 1024 bytes")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=True)
        if reader.encrypted:
            raise PdfEncryptedError("the PDF is encrypted; remove the encryption before sealing")
        if reader.xrefs.hybrid_xrefs_present:
            raise PdfFormatError("the PDF has hybrid cross-reference sections (readers may disagree on it)")
        count = reader.root["/Pages"]["/Count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise PdfFormatError(f"the page tree's /Count must be a positive integer, not {count!r}")
        names = {name for name, _value, _ref in fields.enumerate_sig_fields(reader)}
    except TrustError:
        raise
    except (PdfError, KeyError, ValueError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise PdfFormatError(f"the PDF structure cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None
    return PdfDocument(pdf, reader, int(count), names)


def _page_index(document: PdfDocument, page: int) -> int:
    index = page - 1 if page > 0 else document.page_count + page
    if not 0 <= index < document.page_count:
        raise PageOutOfRange(
            f"page {page} is not in the document, which has {document.page_count} page(s)",
            evidence={"page": page, "pages": document.page_count},
        )
    return index


def _media_box(document: PdfDocument, index: int) -> tuple[float, float, float, float]:
    """The page's (possibly inherited) media box. Only the path to this page is read: pages are not walked up
    front (a 100-page document would cost more to walk than to seal)."""
    try:
        page_ref, _resources = document.reader.find_page_for_modification(index)
        box = find_inherited_value_in_tree(page_ref.get_object(), "/MediaBox", "/Parent")
        x0, y0, x1, y1 = (float(v) for v in box)
    except (PdfError, KeyError, ValueError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise PdfFormatError(f"page {index + 1} cannot be read from the page tree: {type(exc).__name__}") from None
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _appearance_size(appearance: bytes) -> tuple[float, float]:
    try:
        reader = PdfFileReader(io.BytesIO(appearance), strict=True)
        page_ref, _ = reader.find_page_for_modification(0)
        x0, y0, x1, y1 = (float(v) for v in find_inherited_value_in_tree(page_ref.get_object(), "/MediaBox", "/Parent"))
    except (PdfError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise InputError(f"the seal appearance is not a one-page PDF: {type(exc).__name__}") from None
    return abs(x1 - x0), abs(y1 - y0)


def _seal_size(placement: Placement, appearance: bytes | None) -> tuple[float, float]:
    if placement.size is not None:
        return placement.size, placement.size
    if appearance is not None:
        return _appearance_size(appearance)
    raise PlacementError("a seal placed without a box and without a picture needs a size")


def resolve_placement(
    document: PdfDocument, placement: Placement, appearance: bytes | None
) -> tuple[int, tuple[float, float, float, float]]:
    """``(page index, box)`` of the seal, checked to lie inside the page's media box."""
    if placement.anchor is not None:
        index = None if placement.page is None else _page_index(document, placement.page)
        match = anchor_mod.find_anchor(
            document.data, placement.anchor, page_index=index, occurrence=placement.occurrence
        )
        width, height = _seal_size(placement, appearance)
        cx, cy = match.centre
        index = match.page_index
        box = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
    elif placement.box is not None:
        assert placement.page is not None
        index = _page_index(document, placement.page)
        try:
            x0, y0, x1, y1 = (float(v) for v in placement.box)
        except (TypeError, ValueError):
            raise PlacementError("the box must be four numbers (x0, y0, x1, y1) in points") from None
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    else:
        assert placement.page is not None
        index = _page_index(document, placement.page)
        width, height = _seal_size(placement, appearance)
        mx0, my0, mx1, my1 = _media_box(document, index)
        box = (mx1 - DEFAULT_MARGIN - width, my0 + DEFAULT_MARGIN, mx1 - DEFAULT_MARGIN, my0 + DEFAULT_MARGIN + height)
    if box[2] - box[0] < MIN_BOX_POINTS or box[3] - box[1] < MIN_BOX_POINTS:
        raise PlacementError(
            f"the seal box must be at least {MIN_BOX_POINTS} points wide and high",
            evidence={"box": [round(v, 2) for v in box]},
        )
    mx0, my0, mx1, my1 = _media_box(document, index)
    tolerance = 0.01
    if box[0] < mx0 - tolerance or box[1] < my0 - tolerance or box[2] > mx1 + tolerance or box[3] > my1 + tolerance:
        raise PlacementError(
            f"the seal box lies (partly) outside page {index + 1}",
            evidence={"box": [round(v, 2) for v in box], "media_box": [mx0, my0, mx1, my1], "page": index + 1},
        )
    return index, box


def check_seal_binding(seal_der: bytes, certificate: x509.Certificate) -> ses.Seal:
    """Raise :class:`SealBindingError` unless ``certificate`` is one of the seal's permitted signers."""
    seal = ses.parse_seal(seal_der)
    der = certificate.dump()
    if seal.cert_list_type == 1:
        permitted = der in seal.cert_list
    else:  # certListType 2: digests of the certificates, in the seal's digest algorithm
        name = (seal.cert_digest_algorithm or "").lower().replace("-", "")
        try:
            permitted = digest(name, der) in seal.cert_list
        except TrustError:
            raise SealBindingError(
                f"seal {seal.es_id} lists certificate digests in {seal.cert_digest_algorithm!r}, "
                "which is not supported (SM3, SHA-256/384/512)"
            ) from None
    if not permitted:
        raise SealBindingError(
            f"the signer certificate is not one of the signer certificates of seal {seal.es_id}",
            evidence={"es_id": seal.es_id, "subject": certificate.subject.human_friendly},
        )
    return seal


# --- appearance ----------------------------------------------------------------------------------------------


class _ImportedPdfBytes(content.PdfContent):  # type: ignore[misc]
    """The first page of an in-memory PDF as a form XObject (pyHanko's ``ImportedPdfPage`` reads files)."""

    def __init__(self, pdf: bytes):
        super().__init__()
        self._pdf = pdf

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobj = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self._pdf), strict=True), page_ix=0)
        name = b"/HurenSeal" + binascii.hexlify(uuid.uuid4().bytes)
        self.resources.xobject[name.decode("ascii")] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = layout.BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return name + b" Do"


def _seal_style(appearance: bytes | None) -> StaticStampStyle:
    """The seal picture scaled to the widget (aspect kept, centred), no border; or an empty appearance."""
    return StaticStampStyle(
        background=_ImportedPdfBytes(appearance) if appearance is not None else None,
        border_width=0,
        background_opacity=1.0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
        ),
    )


# --- sealing -----------------------------------------------------------------------------------------------------


def _family_suffix(family: KeyFamily) -> str:
    return {KeyFamily.SM2: "SM2", KeyFamily.RSA: "RSA", KeyFamily.EC: "EC"}[family]


def _field_names(document: PdfDocument, chosen: str | None, families: Sequence[KeyFamily]) -> list[str]:
    dual = len(families) > 1
    if chosen is not None:
        if not chosen or len(chosen) > 64 or "." in chosen or not chosen.isprintable():
            raise InputError("a field name is 1..64 printable characters without '.'")
        names = [f"{chosen}-{_family_suffix(f)}" for f in families] if dual else [chosen]
        taken = [n for n in names if n in document.field_names]
        if taken:
            raise ConflictError(
                f"the document already has a signature field {taken[0]!r}", evidence={"field": taken[0]}
            )
        return names
    n = 1
    while True:
        base = f"Seal{n}"
        names = [f"{base}-{_family_suffix(f)}" for f in families] if dual else [base]
        if not any(n == base or n.startswith(f"{base}-") for n in document.field_names):
            return names
        n += 1


def _validation_context(signer: SealSigner, revocation: RevocationData) -> ValidationContext:
    roots = {c.dump(): c for c in revocation.trust_roots}
    if not roots:
        top = signer.chain[-1] if signer.chain else signer.certificate
        if top.self_signed == "no":
            raise InputError("B-LT needs the chain up to a self-signed root (or RevocationData.trust_roots)")
        roots[top.dump()] = top
    others = [c for c in (*signer.chain, *revocation.certificates) if c.dump() not in roots]
    try:
        crls = [x509_crl for x509_crl in (_load_crl(d) for d in revocation.crls)]
        ocsps = [_load_ocsp(d) for d in revocation.ocsps]
    except ValueError as exc:
        raise EncodingError(f"revocation data is malformed: {exc}") from None
    return ValidationContext(
        trust_roots=list(roots.values()),
        other_certs=others,
        crls=crls,
        ocsps=ocsps,
        allow_fetching=False,
        revocation_mode="hard-fail",
        signature_validator=SIGNATURE_VALIDATOR,
    )


def _load_crl(der: bytes) -> Any:
    from asn1crypto import crl

    value = crl.CertificateList.load(der)
    value.native  # noqa: B018 - parse now
    return value


def _load_ocsp(der: bytes) -> Any:
    from asn1crypto import ocsp

    value = ocsp.OCSPResponse.load(der)
    value.native  # noqa: B018
    return value


def _presign_dss(data: bytes, seal: ses.Seal | None, revocation: RevocationData) -> bytes:
    """``data`` with a DSS revision holding every certificate, CRL and OCSP response of ``revocation`` and the
    seal maker's certificate (pyHanko's own DSS update adds only the signer's and the TSA's paths)."""
    certs = [*revocation.certificates, *revocation.trust_roots]
    if seal is not None:
        certs.insert(0, seal.maker_certificate)
    try:
        crls = [_load_crl(d) for d in revocation.crls]
        ocsps = [_load_ocsp(d) for d in revocation.ocsps]
    except ValueError as exc:
        raise EncodingError(f"revocation data is malformed: {exc}") from None
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=True)
    DocumentSecurityStore.supply_dss_in_writer(writer, None, certs=certs, ocsps=ocsps, crls=crls)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


CMS_SLACK: Final = 4096  # SignedData/SignerInfo structure, sid, digest and signed attributes other than the SESeal
TIMESTAMP_RESERVE: Final = 8192  # an RFC 3161 token with the TSA certificate and its issuer


def _reserve(signer: HurenPdfSigner, seal_der: bytes | None, timestamped: bool) -> int:
    """Hex digits to reserve for ``/Contents``: an upper bound of the CMS size, computed instead of measured.

    pyHanko would build the whole CMS once in a dry run and reserve 1.5 times its size; with a SESeal of
    ~30 KB (the 300 dpi palette picture) that costs a second CMS encoding per seal and ~50 KB of padding per
    signature. The bound: every certificate, the SESeal, the largest signature of the key, a fixed allowance
    for the rest, and room for a time-stamp token. Should it ever be short, sealing falls back to the dry run."""
    size = sum(len(c.dump()) + 8 for c in signer.cert_registry) + CMS_SLACK
    size += signer.signature_size_bound
    if seal_der is not None:
        size += len(seal_der) + 32
    if timestamped:
        size += TIMESTAMP_RESERVE
    return 2 * size


async def async_seal_pdf(
    pdf: bytes | PdfDocument,
    signers_: Sequence[SealSigner],
    *,
    seal_der: bytes | None = None,
    seal_chain: Sequence[x509.Certificate] = (),
    appearance: bytes | None = None,
    placement: Placement | None = None,
    level: Level = "B-B",
    revocation: RevocationData | None = None,
    field_name: str | None = None,
    reason: str | None = None,
    location: str | None = None,
) -> bytes:
    """Asynchronous :func:`seal_pdf` (for callers already inside an event loop)."""
    if level not in LEVELS:
        raise InputError(f"the PAdES level must be one of {', '.join(LEVELS)}, not {level!r}")
    if not 1 <= len(signers_) <= 2:
        raise InputError("a seal signs with one key, or two (a dual seal: SM2 and RSA/ECDSA)")
    families = [s.family for s in signers_]
    if len(signers_) == 2 and (families[0] is not KeyFamily.SM2 or families[1] is KeyFamily.SM2):
        raise InputError("a dual seal signs with SM2 first and RSA or ECDSA second")
    timestamped = level != "B-B"
    if timestamped and any(s.timestamper is None for s in signers_):
        raise InputError(f"PAdES {level} needs a time-stamper for every signer")
    long_term = level in ("B-LT", "B-LTA")
    if long_term and revocation is None:
        raise InputError(f"PAdES {level} needs revocation data (CRLs, OCSP responses)")
    if placement is None and appearance is not None:
        raise PlacementError("a seal picture needs a placement (page and box, or a text anchor)")

    # 1. Everything about the input is checked before anything is signed or time-stamped.
    document = open_pdf(pdf)
    seal = None
    for signer in signers_:
        if seal_der is not None:
            seal = check_seal_binding(seal_der, signer.certificate)
    where = resolve_placement(document, placement, appearance) if placement is not None else None
    names = _field_names(document, field_name, families)
    contexts = [_validation_context(s, revocation) if long_term and revocation else None for s in signers_]

    # 2. B-LT/B-LTA: the validation data go into the DSS first, in a revision the signatures then cover — all
    #    of it, including what pyHanko would not collect: the chain and CRLs of the SESeal's maker certificate.
    data = document.data
    if long_term and revocation is not None:
        data = _presign_dss(data, seal, revocation)

    # 3. One incremental revision (or a few, at B-LT/B-LTA) per signer.
    for number, (signer, name, context) in enumerate(zip(signers_, names, contexts, strict=True)):
        last = number == len(signers_) - 1
        # The SESeal maker's chain goes into the CMS of SM2 signatures only: NSS (pdfsig, Firefox) and Acrobat
        # reject a CMS holding certificates with keys they cannot read (SM2), so an RSA or ECDSA signature carries
        # its own chain only; verifiers find the maker's chain in the DSS (B-LT) or the trust list.
        sm2_signer = signer.signer.algorithm.family.value == "SM2"
        pdf_signer_obj = HurenPdfSigner(
            signer.signer, signer.certificate, [*signer.chain, *(seal_chain if sm2_signer else ())], seal_der=seal_der
        )
        meta = signers.PdfSignatureMetadata(
            field_name=name,
            md_algorithm=pdf_signer_obj.digest_algorithm,
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
            embed_validation_info=long_term,
            validation_context=context,
            use_pades_lta=level == "B-LTA" and last,
        )
        if where is not None:
            spec = fields.SigFieldSpec(sig_field_name=name, on_page=where[0], box=where[1])
            style = _seal_style(appearance if number == 0 else None)
        else:
            spec = fields.SigFieldSpec(sig_field_name=name)
            style = None
        pdf_signer = signers.PdfSigner(
            meta,
            pdf_signer_obj,
            timestamper=signer.timestamper if timestamped else None,
            stamp_style=style,
            new_field_spec=spec,
        )
        reserve = _reserve(pdf_signer_obj, seal_der, timestamped)
        try:
            try:
                out = await pdf_signer.async_sign_pdf(
                    IncrementalPdfFileWriter(io.BytesIO(data), strict=True), bytes_reserved=reserve
                )
            except SigningError as exc:
                if "larger than expected" not in str(exc):
                    raise
                # The estimate was short (an unusually large time-stamp token): let pyHanko measure a dry run.
                out = await pdf_signer.async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data), strict=True))
        except TrustError:
            raise
        except TimestampRequestError as exc:
            raise UnavailableError(f"time-stamping failed: {exc}") from exc
        except SigningError as exc:
            cause = exc.__cause__
            detail = f"{exc}" + (f": {cause}" if cause is not None else "")
            raise ConflictError(
                f"the {_family_suffix(signer.family)} seal could not be applied: {detail[:400]}",
                evidence={"field": name},
            ) from exc
        except PdfError as exc:
            raise PdfFormatError(f"the PDF could not be updated: {exc}") from exc
        data = out.getvalue()
    return data


def seal_pdf(
    pdf: bytes | PdfDocument,
    signers_: Sequence[SealSigner],
    *,
    seal_der: bytes | None = None,
    seal_chain: Sequence[x509.Certificate] = (),
    appearance: bytes | None = None,
    placement: Placement | None = None,
    level: Level = "B-B",
    revocation: RevocationData | None = None,
    field_name: str | None = None,
    reason: str | None = None,
    location: str | None = None,
) -> bytes:
    """Seal ``pdf`` and return the sealed file (the input followed by incremental updates).

    ``signers_``: one :class:`SealSigner`, or two for a dual seal (SM2 first, then RSA or ECDSA).
    ``seal_der``: the GB/T 38540 SESeal, carried in every signature as the ``huren_seseal`` signed attribute;
    each signer certificate must be in its ``certList``. ``seal_chain``: the issuer certificates of the SESeal's
    maker certificate; they go into the SM2 signatures' CMS, so the seal's own signature can be checked from the
    file and the roots alone (an RSA CMS carries RSA certificates only, for NSS and Acrobat; a dual PDF's SM2
    signature carries the maker's chain).
    ``appearance``: the seal picture as a one-page PDF (:func:`seal.picture.render_pdf`); ``None`` with no
    ``placement`` makes an invisible seal. ``level``: PAdES baseline level; B-T needs every signer's
    ``timestamper``, B-LT/B-LTA also ``revocation``.
    ``field_name``: the signature field (``-SM2``/``-RSA`` appended for dual seals); default ``SealN``.

    Runs its own event loop; inside a running loop, await :func:`async_seal_pdf` instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise InputError(
            "seal_pdf was called inside a running event loop; await async_seal_pdf instead", code=Code.USAGE
        )
    return asyncio.run(
        async_seal_pdf(
            pdf,
            signers_,
            seal_der=seal_der,
            seal_chain=seal_chain,
            appearance=appearance,
            placement=placement,
            level=level,
            revocation=revocation,
            field_name=field_name,
            reason=reason,
            location=location,
        )
    )


__all__ = [
    "LEVELS",
    "SESEAL_ATTRIBUTE",
    "SESEAL_ATTRIBUTE_OID",
    "CallableTimeStamper",
    "HurenPdfSigner",
    "Level",
    "PageOutOfRange",
    "PdfDocument",
    "PdfEncryptedError",
    "PdfFormatError",
    "Placement",
    "PlacementError",
    "RevocationData",
    "SealBindingError",
    "SealSigner",
    "async_seal_pdf",
    "check_seal_binding",
    "open_pdf",
    "resolve_placement",
    "seal_pdf",
    "seseal_attribute_value",
]
