"""Test PDF builders: plain documents (reportlab, Chinese text), documents prepared for the shadow attacks, PDFs
sealed by a Huren world; the raw edits the attack tests apply to them, ``resign`` and pyHanko's verdict live in
:mod:`tests.support.pdf_tools` (no world needed) and are re-exported here.

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
from typing import Any

from asn1crypto import algos, cms, core, tsp, x509

from tests.support.pdf_tools import (  # re-exported (__all__ at the end): the tests' PDF helpers, in one import
    LEVELS,
    PREPARED,
    SESEAL_ATTRIBUTE_OID,
    SealKeys,
    append_update,
    build_pdf,
    byte_ranges,
    content_stream,
    contents_span,
    form_xobject,
    object_numbers,
    prepared_pdf,
    pyhanko_accepts,
    pyhanko_validate,
    raw_object,
    resign,
    startxref,
)

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


__all__ = [
    "LEVELS",
    "PREPARED",
    "SESEAL_ATTRIBUTE_OID",
    "SealKeys",
    "SealingWorld",
    "append_update",
    "base_pdf",
    "build_pdf",
    "byte_ranges",
    "content_stream",
    "contents_span",
    "crls_for",
    "form_xobject",
    "object_numbers",
    "prepared_pdf",
    "pyhanko_accepts",
    "pyhanko_validate",
    "raw_object",
    "resign",
    "seal_keys",
    "seal_pdf",
    "sealing_world",
    "sign_with_pyhanko",
    "startxref",
]
