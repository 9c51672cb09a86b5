"""The CMS inside a PDF signature (ISO 32000-2 clause 12.8.3.3, ETSI EN 319 142-1 clause 5.1) and its time-stamps.

Numbered steps (each failure is a :class:`CmsFailure` carrying its ETSI EN 319 102-1 sub-indication):

1. :func:`parse_contents` — ``/Contents`` holds one DER (or BER) ``ContentInfo`` followed by nothing but zero
   padding; ``signedData`` (RFC 5652 or GB/T 35275 OIDs); strict parsing (:func:`trust.formats.cms.load_content_info`).
2. :func:`signature_structure` — for a ``/Sig`` dictionary: exactly one ``SignerInfo``; ``eContentType`` id-data and
   **no** ``eContent`` (``adbe.pkcs7.detached`` and ``ETSI.CAdES.detached`` sign the byte ranges detached; a CMS
   that carries encapsulated content would show one thing and sign another); signed attributes present with
   exactly one ``contentType`` equal to ``eContentType`` and exactly one ``messageDigest``; at most one
   ``signingTime``; the signer certificate named by ``sid`` is in the CMS; a ``signingCertificate(V2)`` attribute
   names that certificate (required for ``ETSI.CAdES.detached``, EN 319 122-1 clause 5.2.2).
3. :func:`check_digest` — the digest of the bytes the ``/ByteRange`` covers equals ``messageDigest``
   (``HASH_FAILURE`` otherwise).
4. :func:`check_signature` — the signature over ``DER(SignedAttributes)`` verifies with the signer certificate's
   key (SM2 with the GB/T 35276 default ID, RSA, RSASSA-PSS, ECDSA — :mod:`trust.crypto`); ``SIG_CRYPTO_FAILURE``
   otherwise; refused algorithms and keys are ``CRYPTO_CONSTRAINTS_FAILURE``.
5. :func:`signature_timestamps` / :func:`check_timestamp_token` — RFC 3161 tokens: the imprint is over the
   signature value (signature time-stamp, EN 319 122-1 clause 5.3) or over the byte ranges (document time-stamp,
   ISO 32000-2 clause 12.8.5); the token itself is checked by :func:`trust.formats.tsp.verify_token` (CMS signature,
   ESSCertIDv2 binding, TSA extended key usage, genTime inside the TSA certificate).

Trust in the certificates (path, revocation, trust list) is :mod:`verifier.certificate`'s job.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import cms, core, parser, tsp, x509
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.general import check_ess_certid

from trust.crypto import oids
from trust.crypto.algorithms import SignatureAlgorithm, digest, hash_algorithm
from trust.crypto.errors import InvalidSignature, TrustError, UnsupportedAlgorithm, WeakKey
from trust.crypto.keys import public_key_from_spki
from trust.formats import cms as cms_mod
from trust.formats import tsp as tsa_mod
from verifier.report import Indication, SubIndication

oids.register()

DIGESTS: Final = frozenset({"sha256", "sha384", "sha512", "sm3"})
DATA_TYPES: Final = frozenset({"data", "gm_data"})
MAX_CMS_CERTIFICATES: Final = 64
MAX_TIMESTAMP_TOKENS: Final = 4
CADES_SUBFILTER: Final = "/ETSI.CAdES.detached"


class CmsFailure(Exception):
    """A check of the CMS failed: the sub-indication and the reason (internal; becomes a report)."""

    def __init__(self, indication: Indication, sub_indication: SubIndication, message: str) -> None:
        super().__init__(message)
        self.indication = indication
        self.sub_indication = sub_indication
        self.message = message


def _format(message: str) -> CmsFailure:
    return CmsFailure(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message)


# --- 1. parse ------------------------------------------------------------------------------------------------


def parse_contents(contents: bytes) -> cms.ContentInfo:
    """The ``ContentInfo`` in ``/Contents``: one CMS object, then only zero bytes (the space reserved for it)."""
    if not contents:
        raise _format("/Contents is empty: there is no signature (universal signature forgery)")
    if not contents.strip(b"\x00"):
        raise _format("/Contents holds only zero bytes: there is no signature (universal signature forgery)")
    try:
        _class, _method, _tag, header, body, trailer = parser.parse(contents)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _format(f"/Contents is not a CMS object: {str(exc)[:200]}") from None
    size = len(header) + len(body) + len(trailer)
    padding = contents[size:]
    extra = len(padding.rstrip(b"\x00"))
    if extra:
        raise _format(f"/Contents carries {extra} bytes of data after the CMS object (only zero padding may follow it)")
    # Parsed lazily: each later step reads the fields it needs inside its own error handling. (``.native`` of a whole
    # SignedData with an RSA time-stamp token costs seconds in asn1crypto, so trust.formats.cms.load_content_info is not
    # used.)
    try:
        info = cms.ContentInfo.load(contents[:size], strict=True)
        content_type = info["content_type"].native
        if content_type not in cms_mod.SIGNED_DATA_TYPES:
            raise _format(f"/Contents holds CMS {content_type}, not signedData")
        info["content"]["signer_infos"]
    except CmsFailure:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _format(f"/Contents is not a CMS SignedData: {type(exc).__name__}: {str(exc)[:200]}") from None
    return info


def _certificates(signed_data: cms.SignedData) -> list[x509.Certificate]:
    certs = signed_data["certificates"]
    if isinstance(certs, core.Void):
        return []
    if len(certs) > MAX_CMS_CERTIFICATES:
        raise _format(f"the CMS carries {len(certs)} certificates; at most {MAX_CMS_CERTIFICATES} are read")
    return [choice.chosen for choice in certs if choice.name == "certificate"]


def unique_attribute(attrs: cms.CMSAttributes, name: str, *, required: bool) -> Any:
    """The one value of attribute ``name`` (RFC 5652 clause 11: once, one value); ``None`` if absent."""
    found = [attr for attr in attrs if attr["type"].native == name or attr["type"].dotted == name]
    if not found:
        if required:
            raise _format(f"signed attribute {name} is missing (RFC 5652 clause 5.3)")
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise _format(f"signed attribute {name} must appear once with one value (RFC 5652 clause 11)")
    return found[0]["values"][0]


# --- 2. structure --------------------------------------------------------------------------------------------


@dataclass
class SignedCms:
    """A structurally sound PDF signature CMS: what the later checks need."""

    content_info: cms.ContentInfo
    signer_info: cms.SignerInfo
    signer_certificate: x509.Certificate
    certificates: list[x509.Certificate]
    digest_algorithm: str
    signed_attrs: cms.CMSAttributes
    message_digest: bytes
    claimed_signing_time: datetime | None
    signature: bytes
    signed_attrs_der: bytes = b""
    """``signedAttrs`` as encoded in the CMS (with its ``[0]`` tag), taken before any attribute was read."""

    @property
    def signature_algorithm_name(self) -> str:
        return str(self.signer_info["signature_algorithm"]["algorithm"].native)


def _single_signer(signed_data: cms.SignedData) -> cms.SignerInfo:
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _format(
            f"the CMS has {len(signer_infos)} SignerInfos; a PDF signature has exactly one "
            "(ETSI EN 319 142-1 clause 5.1.1)"
        )
    return signer_infos[0]


def signature_structure(info: cms.ContentInfo, subfilter: str) -> SignedCms:
    """Step 2 for a ``/Sig`` dictionary (module docstring)."""
    try:
        signed_data = info["content"]
        signer_info = _single_signer(signed_data)
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native not in DATA_TYPES:
            raise _format(
                f"eContentType is {encap['content_type'].native}, not id-data: a PDF signature signs the "
                "document's bytes"
            )
        if not isinstance(encap["content"], core.Void) and encap["content"].native is not None:
            raise _format(
                "the CMS carries encapsulated content (eContent) in a detached PDF signature: what it "
                f"signs is not the document ({subfilter} requires a detached signature)"
            )
        certificates = _certificates(signed_data)
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        attrs = signer_info["signed_attrs"]
        if isinstance(attrs, core.Void):
            raise _format("the SignerInfo has no signed attributes (contentType, messageDigest); Huren requires them")
        # Their encoding is taken now, before any attribute is read: reading some values (an AlgorithmIdentifier
        # whose NULL parameters asn1crypto fills in) marks the tree changed, and dump() would then re-encode all
        # of it, the embedded SESeal included. The signature is over these bytes (module docstring, step 4).
        attrs_der = attrs.dump()
        claimed_type = unique_attribute(attrs, "content_type", required=True)
        if claimed_type.dotted != encap["content_type"].dotted:
            raise _format("the signed contentType attribute differs from eContentType")
        message_digest = bytes(unique_attribute(attrs, "message_digest", required=True).native)
        time_value = unique_attribute(attrs, "signing_time", required=False)
        claimed = time_value.native if time_value is not None else None
        signature = bytes(signer_info["signature"].native)
    except CmsFailure:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise _format(f"malformed CMS SignedData: {type(exc).__name__}: {str(exc)[:200]}") from None
    if digest_name not in DIGESTS:
        raise CmsFailure(
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"digest algorithm {digest_name} is not accepted (SHA-256/384/512, SM3)",
        )
    try:
        signer_cert = cms_mod.find_signer_certificate(signer_info, certificates)
    except InvalidSignature as exc:
        raise CmsFailure(Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND, exc.message) from None
    _check_signing_certificate_attribute(attrs, signer_cert, required=subfilter == CADES_SUBFILTER)
    return SignedCms(
        info, signer_info, signer_cert, certificates, digest_name, attrs, message_digest, claimed, signature, attrs_der
    )


def _check_signing_certificate_attribute(attrs: cms.CMSAttributes, cert: x509.Certificate, *, required: bool) -> None:
    v2 = unique_attribute(attrs, "signing_certificate_v2", required=False)
    v1 = unique_attribute(attrs, "signing_certificate", required=False)
    if v2 is None and v1 is None:
        if required:
            raise _format(
                "ETSI.CAdES.detached requires the signed attribute signingCertificateV2 "
                "(ETSI EN 319 142-1 clause 5.2.2)"
            )
        return
    value = v2 if v2 is not None else v1
    try:
        first = value["certs"][0]
        matches = check_ess_certid(cert, first)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise _format(f"malformed signingCertificate attribute: {type(exc).__name__}") from None
    if not matches:
        raise CmsFailure(
            Indication.INDETERMINATE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "the signingCertificate attribute names another certificate than the signer's",
        )


# --- 3. digest -----------------------------------------------------------------------------------------------


def covered_digest(algorithm: str, data: bytes, byte_range: tuple[int, int, int, int]) -> bytes:
    start1, length1, start2, length2 = byte_range
    hasher = hashes.Hash(hash_algorithm(algorithm))
    view = memoryview(data)
    hasher.update(view[start1 : start1 + length1])
    hasher.update(view[start2 : start2 + length2])
    return hasher.finalize()


def check_digest(signed: SignedCms, computed: bytes) -> None:
    if not hmac.compare_digest(signed.message_digest, computed):
        raise CmsFailure(
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
            f"the {signed.digest_algorithm} digest of the signed byte ranges ({computed.hex()[:16]}…) differs from "
            f"the signed messageDigest ({signed.message_digest.hex()[:16]}…): the signed bytes were changed",
        )


# --- 4. signature --------------------------------------------------------------------------------------------


def check_signature(signed: SignedCms) -> SignatureAlgorithm:
    try:
        algorithm = cms_mod.signature_algorithm_for(signed.signer_info, signed.digest_algorithm)
        key = public_key_from_spki(signed.signer_certificate["tbs_certificate"]["subject_public_key_info"])
    except (UnsupportedAlgorithm, WeakKey) as exc:
        raise CmsFailure(Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, exc.message) from None
    except InvalidSignature as exc:
        raise CmsFailure(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, exc.message) from None
    except TrustError as exc:
        raise CmsFailure(
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"the signer's key cannot be used: {exc.message}",
        ) from None
    if key.family is not algorithm.family:
        raise CmsFailure(
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"signature algorithm {algorithm.name} does not fit the signer's {key.family.value} key",
        )
    raw = signed.signed_attrs_der or signed.signed_attrs.dump()
    signed_bytes = b"\x31" + raw[1:]  # [0] IMPLICIT -> universal SET OF, same contents (RFC 5652 clause 5.4)
    try:
        key.verify(signed.signature, signed_bytes, algorithm)
    except (UnsupportedAlgorithm, WeakKey) as exc:
        raise CmsFailure(Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, exc.message) from None
    except TrustError as exc:
        raise CmsFailure(
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"the CMS signature does not verify with the signer certificate's key ({algorithm.name}): {exc.message}",
        ) from None
    return algorithm


# --- 5. time-stamps ------------------------------------------------------------------------------------------


def signature_timestamps(signed: SignedCms) -> list[cms.ContentInfo]:
    """The RFC 3161 tokens in the ``signature-time-stamp`` unsigned attribute (at most a few)."""
    attrs = signed.signer_info["unsigned_attrs"]
    if isinstance(attrs, core.Void):
        return []
    tokens: list[cms.ContentInfo] = []
    for attr in attrs:
        if attr["type"].native != "signature_time_stamp_token":
            continue
        for value in attr["values"]:
            tokens.append(value)
            if len(tokens) > MAX_TIMESTAMP_TOKENS:
                raise _format(f"more than {MAX_TIMESTAMP_TOKENS} signature time-stamp tokens")
    return tokens


def token_imprint(token: cms.ContentInfo) -> tuple[str, bytes]:
    """``(hash algorithm, hashed message)`` of a token's TSTInfo (read before the token is verified)."""
    try:
        content = token["content"]["encap_content_info"]["content"]
        raw = bytes(content.contents) if isinstance(content, core.ParsableOctetString) else bytes(content.native)
        info = tsp.TSTInfo.load(raw, strict=True)
        imprint = info["message_imprint"]
        return str(imprint["hash_algorithm"]["algorithm"].native), bytes(imprint["hashed_message"].native)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        raise _format(f"the time-stamp token has no readable TSTInfo: {type(exc).__name__}") from None


def check_timestamp_token(
    token: cms.ContentInfo, *, imprint_of: bytes | None = None, computed: bytes | None = None
) -> tsa_mod.VerifiedTimeStamp:
    """Verify a token whose imprint must be the hash of ``imprint_of`` (or equal ``computed``)."""
    name, imprint = token_imprint(token)
    if name not in tsa_mod.IMPRINT_SIZES:
        raise CmsFailure(
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"time-stamp imprint hash {name} is not accepted",
        )
    wanted = computed if computed is not None else digest(name, imprint_of or b"")
    if not hmac.compare_digest(imprint, wanted):
        raise CmsFailure(
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
            f"the time-stamp's message imprint ({name}) does not match what it should cover",
        )
    try:
        return tsa_mod.verify_token(token, message_digest=wanted)
    except (UnsupportedAlgorithm, WeakKey) as exc:
        raise CmsFailure(Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, exc.message) from None
    except InvalidSignature as exc:
        raise CmsFailure(
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"the time-stamp token does not verify: {exc.message}",
        ) from None
    except TrustError as exc:
        raise _format(f"the time-stamp token is malformed: {exc.message}") from None


def timestamp_structure(info: cms.ContentInfo) -> tuple[str, bytes]:
    """A document time-stamp's ``/Contents``: one SignerInfo and encapsulated ``TSTInfo``; returns its imprint."""
    try:
        signed_data = info["content"]
        _single_signer(signed_data)
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise _format(
                f"a document time-stamp encapsulates {encap['content_type'].native}, not TSTInfo "
                "(ISO 32000-2 clause 12.8.5)"
            )
        if isinstance(encap["content"], core.Void):
            raise _format("the document time-stamp carries no TSTInfo")
    except CmsFailure:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise _format(f"malformed time-stamp token: {type(exc).__name__}") from None
    return token_imprint(info)
