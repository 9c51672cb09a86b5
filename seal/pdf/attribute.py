"""The SESeal signed attribute of a seal signature: ``huren_seseal`` (:data:`SESEAL_ATTRIBUTE_OID`, Huren's arc,
``docs/OIDS.md``) holding ``SET { OCTET STRING (DER SESeal) }``, provided to pyHanko's CMS builder and read back.
"""

from __future__ import annotations

from typing import Any, Final

from asn1crypto import cms, core, x509
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.signers.pdf_cms import CAdESSignedAttributeProviderSpec, PdfCMSSignedAttributes

from trust.crypto.errors import (
    EncodingError,
)

SESEAL_ATTRIBUTE_OID: Final = "1.3.6.1.4.1.32473.1.2.1"


SESEAL_ATTRIBUTE: Final = "huren_seseal"


def register_seseal_attribute() -> None:
    """Teach asn1crypto the SESeal attribute (``huren_seseal``, SET OF OCTET STRING). Idempotent."""
    existing = cms.CMSAttributeType._map.get(SESEAL_ATTRIBUTE_OID)
    if existing is not None and existing != SESEAL_ATTRIBUTE:
        raise RuntimeError(f"CMSAttributeType already maps {SESEAL_ATTRIBUTE_OID} to {existing!r}")
    cms.CMSAttributeType._map[SESEAL_ATTRIBUTE_OID] = SESEAL_ATTRIBUTE
    if cms.CMSAttributeType._reverse_map is not None:
        cms.CMSAttributeType._reverse_map[SESEAL_ATTRIBUTE] = SESEAL_ATTRIBUTE_OID
    cms.CMSAttribute._oid_specs[SESEAL_ATTRIBUTE] = cms.SetOfOctetString


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


class SealSignedAttributes(SignedAttributeProviderSpec):
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
