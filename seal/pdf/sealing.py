"""Sealing a PDF (PAdES B-B … B-LTA): the signer's seal bound to its certificate, field names, the validation data put
in the DSS before the signature, the signature(s) and time-stamps; :func:`seal_pdf`.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from asn1crypto import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from seal.pdf.attribute import register_seseal_attribute
from seal.pdf.document import (
    PdfDocument,
    PdfFormatError,
    Placement,
    PlacementError,
    open_pdf,
    resolve_placement,
    seal_style,
)
from seal.pdf.signer import HurenPdfSigner
from trust.crypto import asn1fix, oids
from trust.crypto.algorithms import KeyFamily
from trust.crypto.certvalidator import SIGNATURE_VALIDATOR
from trust.crypto.errors import (
    Code,
    ConflictError,
    EncodingError,
    InputError,
    TrustError,
    UnavailableError,
)
from trust.crypto.signer import Signer as TrustSigner
from trust.formats import ses

oids.register()


class _EmbedWithoutFetching(logging.Filter):
    """pyHanko warns whenever revocation data is embedded with fetching disabled. Huren always does that on
    purpose — it supplies the OCSP responses and CRLs itself and never fetches — so that one warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_EmbedWithoutFetching())


Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]


LEVELS: Final[tuple[Level, ...]] = get_args(Level)


class SealBindingError(InputError):
    """The signer certificate is not one of the seal's permitted signer certificates (``certList``)."""


register_seseal_attribute()


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


def check_seal_binding(seal_der: bytes, certificate: x509.Certificate) -> ses.Seal:
    """Raise :class:`SealBindingError` unless ``certificate`` is one of the seal's permitted signers."""
    seal = ses.parse_seal(seal_der)
    if seal.cert_list_type == 2 and not any(ses.cert_digest_name(kind) for kind in seal.cert_digest_types):
        raise SealBindingError(
            f"seal {seal.es_id} lists certificate digests in {seal.cert_digest_algorithm!r}, "
            "which is not supported (SM3, SHA-256/384/512)"
        )
    if not ses.lists_certificate(seal, certificate.dump()):
        raise SealBindingError(
            f"the signer certificate is not one of the signer certificates of seal {seal.es_id}",
            evidence={"es_id": seal.es_id, "subject": certificate.subject.human_friendly},
        )
    return seal


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


def _embed_log_proofs(data: bytes, log_proofs: Sequence[bytes]) -> bytes:
    """``data`` with a revision embedding the signer certificates' transparency-log inclusion proofs (issue 19): the
    file :data:`trust.formats.tlog.PDF_ATTACHMENT`, a JSON array of the proof documents, which the signatures then
    cover."""
    import json

    from pyhanko.pdf_utils import embed

    from trust.formats.tlog import PDF_ATTACHMENT, PDF_ATTACHMENT_MIME

    documents = [json.loads(proof) for proof in log_proofs]
    content = json.dumps(documents, separators=(",", ":"), ensure_ascii=True).encode()
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=True)
    stream = embed.EmbeddedFileObject.from_file_data(writer, content, compress=True, mime_type=PDF_ATTACHMENT_MIME)
    spec = embed.FileSpec(
        file_spec_string=PDF_ATTACHMENT,
        file_name=PDF_ATTACHMENT,
        embedded_data=stream,
        description="Transparency log inclusion proofs of the signer certificates (RFC 9162)",
    )
    embed.embed_file(writer, spec)
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


async def async_seal_pdf(  # noqa: C901, PLR0912 (one pass over the PAdES levels, in their order)
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
    log_proofs: Sequence[bytes] = (),
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
    if log_proofs:
        data = _embed_log_proofs(data, log_proofs)
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
            # pyHanko annotates the box as ints but writes each coordinate as a PDF real (FloatObject)
            spec = fields.SigFieldSpec(sig_field_name=name, on_page=where[0], box=where[1])  # type: ignore[arg-type]
            style = seal_style(appearance if number == 0 else None)
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
    log_proofs: Sequence[bytes] = (),
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
    ``log_proofs``: the signer certificates' inclusion proofs in the transparency log (``trust log prove`` JSON),
    embedded before signing (issue 19; :data:`trust.formats.tlog.PDF_ATTACHMENT`).

    Runs its own event loop; inside a running loop, await :func:`async_seal_pdf` instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise InputError(
            "seal_pdf was called inside a running event loop; await async_seal_pdf instead", code=Code.USAGE
        )
    with asn1fix.scope():  # Huren's own validation of the chains: the RDN comparison memo applies
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
                log_proofs=log_proofs,
            )
        )
