"""CMS-form OFD signature values: ``SignedValue.dat`` holding a PKCS#7 / CMS ``SignedData`` (RFC 5652, or GB/T 35275
with the GM/T 0010 OIDs ``1.2.156.10197.6.1.4.2.*``), as OFD signing plug-ins write for ``Type="Sign"`` (GB/T 33190
clause 18 leaves the signature value's form to the signature component).

Checks (in order; each failure is a :class:`CmsValueFailure` the caller reports as the ``signed-value`` check):

1. **structure** — one ``ContentInfo`` of ``signedData`` (DER, nothing after it), exactly one ``SignerInfo``, digest
   SM3 or SHA-2 (:data:`trust.formats.cms.DIGEST_ALGORITHMS`), a signature algorithm that fits it (SM2, RSA, ECDSA).
2. **signer certificate** — the certificate the ``sid`` names, among those the CMS carries and those given as
   ``--untrusted`` (INDETERMINATE / NO_SIGNING_CERTIFICATE_FOUND when neither has it).
3. **signed content** — what was signed is ``Signature.xml``: detached (no ``eContent``: the content is the file's
   bytes), or ``eContent`` equal to the file's bytes, or to its digest with the signer's digest algorithm (the form
   GM/T plug-ins write: ``eContentType`` data and ``eContent`` = SM3 of ``Signature.xml``). Anything else means
   ``Signature.xml`` changed after signing: TOTAL_FAILED / HASH_FAILURE.
4. **signed attributes** — when present: exactly one ``contentType`` equal to ``eContentType`` and one
   ``messageDigest`` equal to the digest of the content (HASH_FAILURE otherwise); at most one ``signingTime``. The
   signature is then over ``DER(SET OF Attribute)``, else over the content (RFC 5652 clause 5.4).
5. **signature** — with the signer certificate's key (SM2 with the GB/T 35276 default ID); an SM2 value may be the
   ``SEQUENCE {r, s}`` GB/T 35275 specifies or the bare 64-byte ``r ‖ s`` some plug-ins write (said in the report).
   TOTAL_FAILED / SIG_CRYPTO_FAILURE when it does not verify; CRYPTO_CONSTRAINTS_FAILURE for refused algorithms.

The signer certificate's chain (``signer-certificate``) is checked by the caller at the claimed signing time (the
``signingTime`` attribute, else ``SignatureDateTime``), with the certificates the CMS carries as intermediates.
Time-stamp tokens in the unsigned attributes are not verified (a warning says so).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import algos, cms, core, x509

from trust.crypto import oids
from trust.crypto.algorithms import KeyFamily, SignatureAlgorithm, digest
from trust.crypto.errors import InvalidSignature, TrustError, UnsupportedAlgorithm
from trust.crypto.keys import PublicKey, public_key_from_spki
from trust.formats import cms as cms_format
from verifier.report import Indication, SubIndication
from verifier.ses.certificates import RSA_MIN_BITS

oids.register()

DATA_TYPES: Final = frozenset({"data", "gm_data"})
MAX_CERTIFICATES: Final = 32
_MALFORMED: Final = (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError)


class CmsValueFailure(Exception):
    """One check of the CMS signature value failed (becomes the ``signed-value`` check)."""

    def __init__(self, indication: Indication, sub: SubIndication, message: str) -> None:
        super().__init__(message)
        self.indication = indication
        self.sub_indication = sub
        self.message = message


@dataclass(frozen=True)
class CmsValue:
    """What the CMS signature value established."""

    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]  # those the CMS carries
    algorithm: SignatureAlgorithm
    form: str  # how Signature.xml was signed: "detached", "encapsulated", "digest encapsulated"
    signing_time: datetime | None
    notes: tuple[str, ...]  # warnings: raw r||s, unverified time-stamp tokens


def is_cms(value: bytes) -> bool:
    """Whether ``value`` starts like a ContentInfo of signedData (RFC 5652 or GM/T 0010 OID)."""
    try:
        info = cms.ContentInfo.load(value)
        return info["content_type"].native in cms_format.SIGNED_DATA_TYPES
    except _MALFORMED:
        return False


def _signer_certificate(signer_info: cms.SignerInfo, candidates: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate the ``sid`` names. Issuer names are compared as encoded first: some Chinese CAs encode
    attributes (x500UniqueIdentifier as UTF8String) that asn1crypto cannot normalise for RFC 5280 name matching."""
    sid = signer_info["sid"]
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for cert in candidates:
            tbs = cert["tbs_certificate"]
            if tbs["serial_number"].native != serial:
                continue
            if tbs["issuer"].dump() == issuer.dump():
                return cert
            try:
                if tbs["issuer"] == issuer:
                    return cert
            except _MALFORMED:
                continue
        return None
    key_id = bytes(sid.chosen.native)
    for cert in candidates:
        try:
            if cert.key_identifier == key_id:
                return cert
        except _MALFORMED:
            continue
    return None


def _unique(attrs: cms.CMSAttributes, attr_type: str, *, required: bool) -> Any:
    found = [a for a in attrs if a["type"].native == attr_type]
    if not found:
        if required:
            raise _format(f"signed attribute {attr_type} is missing (RFC 5652 clause 5.3)")
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise _format(f"signed attribute {attr_type} must appear once with one value (RFC 5652 clause 11)")
    return found[0]["values"][0]


def _format(message: str) -> CmsValueFailure:
    return CmsValueFailure(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message)


def verify_cms_value(value: bytes, signed: bytes, untrusted: tuple[x509.Certificate, ...]) -> CmsValue:
    """Verify a CMS ``SignedValue.dat`` over ``signed`` (the ``Signature.xml`` bytes); raises
    :class:`CmsValueFailure` (module docstring)."""
    try:
        return _verify(value, signed, untrusted)
    except CmsValueFailure:
        raise
    except TrustError as exc:
        raise _format(f"CMS signature value: {exc.message}") from None
    except _MALFORMED as exc:
        raise _format(f"malformed CMS signature value: {type(exc).__name__}: {str(exc)[:200]}") from None


def _verify(value: bytes, signed: bytes, untrusted: tuple[x509.Certificate, ...]) -> CmsValue:
    signer_info, carried, digest_name, algorithm = _structure(value)  # 1
    signer = _signer_certificate(signer_info, [*carried, *untrusted])  # 2
    if signer is None:
        raise CmsValueFailure(
            Indication.INDETERMINATE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            f"the signer certificate the CMS names is neither in it nor among the {len(untrusted)} given (--untrusted)",
        )
    key = public_key_from_spki(signer["tbs_certificate"]["subject_public_key_info"])
    if key.family is not algorithm.family:
        raise CmsValueFailure(
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"signature algorithm {algorithm.name} does not fit the signer's {key.family.value} key",
        )
    if key.family is KeyFamily.RSA and key.size < RSA_MIN_BITS:
        raise CmsValueFailure(
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"the signer's RSA key has {key.size} bits; at least {RSA_MIN_BITS} are required",
        )
    encap = cms_format.load_content_info(value)["content"]["encap_content_info"]
    content, form = _content(encap, signed, digest_name)  # 3
    signed_bytes, signing_time = _signed_bytes(signer_info, encap["content_type"], content, digest_name)  # 4
    notes = _check_signature(signer_info, key, signed_bytes, algorithm)  # 5
    unsigned = signer_info["unsigned_attrs"]
    if not isinstance(unsigned, core.Void) and any(a["type"].native == "signature_time_stamp_token" for a in unsigned):
        notes.append("the CMS signature value's time-stamp token is not verified (docs/OFD.md)")
    return CmsValue(signer, carried, algorithm, form, signing_time, tuple(notes))


def _structure(value: bytes) -> tuple[cms.SignerInfo, tuple[x509.Certificate, ...], str, SignatureAlgorithm]:
    info = cms_format.load_content_info(value)
    if info.dump() != value:
        raise _format("SignedValue.dat holds more than one DER ContentInfo (trailing bytes, or not DER)")
    signed_data: cms.SignedData = info["content"]
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _format(f"the CMS signature value has {len(signer_infos)} signers; an OFD signature has exactly one")
    signer_info: cms.SignerInfo = signer_infos[0]
    certificates = signed_data["certificates"]
    carried = tuple(
        choice.chosen
        for choice in (certificates if not isinstance(certificates, core.Void) else [])
        if choice.name == "certificate"
    )
    if len(carried) > MAX_CERTIFICATES:
        raise _format(f"the CMS signature value carries {len(carried)} certificates, more than {MAX_CERTIFICATES}")
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in cms_format.DIGEST_ALGORITHMS:
        raise CmsValueFailure(
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"CMS digest algorithm {digest_name} is not accepted (SM3, SHA-256/384/512)",
        )
    try:
        algorithm = cms_format.signature_algorithm_for(signer_info, digest_name)
    except (UnsupportedAlgorithm, InvalidSignature) as exc:
        raise CmsValueFailure(
            Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, f"CMS signature value: {exc.message}"
        ) from None
    return signer_info, carried, digest_name, algorithm


def _content(encap: cms.EncapsulatedContentInfo, signed: bytes, digest_name: str) -> tuple[bytes, str]:
    """What was signed, and in which form: Signature.xml detached or encapsulated, or its digest encapsulated."""
    content_type = encap["content_type"]
    if content_type.native not in DATA_TYPES:
        raise _format(f"eContentType {content_type.dotted} is not data (RFC 5652 or GM/T 0010 data)")
    embedded = encap["content"]
    if isinstance(embedded, core.Void):
        return signed, "detached"
    content = bytes(embedded.contents if isinstance(embedded, core.ParsableOctetString) else embedded.native)
    if hmac.compare_digest(content, signed):
        return content, "encapsulated"
    file_digest = digest(digest_name, signed)
    if hmac.compare_digest(content, file_digest):
        return content, "digest encapsulated"
    raise CmsValueFailure(
        Indication.TOTAL_FAILED,
        SubIndication.HASH_FAILURE,
        f"the signed content ({len(content)} bytes) is neither Signature.xml nor its {digest_name} digest "
        f"{file_digest.hex()}: Signature.xml changed after signing",
    )


def _signed_bytes(
    signer_info: cms.SignerInfo, content_type: cms.ContentType, content: bytes, digest_name: str
) -> tuple[bytes, datetime | None]:
    """The bytes the signature is over (RFC 5652 clause 5.4) and the signingTime, checking the signed attributes."""
    attrs = signer_info["signed_attrs"]
    if isinstance(attrs, core.Void):
        return content, None
    claimed_type = _unique(attrs, "content_type", required=True)
    claimed = bytes(_unique(attrs, "message_digest", required=True).native)
    time_value = _unique(attrs, "signing_time", required=False)
    if claimed_type.dotted != content_type.dotted:
        raise _format(f"signed contentType {claimed_type.dotted} differs from eContentType {content_type.dotted}")
    computed = digest(digest_name, content)
    if not hmac.compare_digest(claimed, computed):
        raise CmsValueFailure(
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
            f"messageDigest {claimed.hex()} is not the {digest_name} of the signed content ({computed.hex()}): "
            "Signature.xml changed after signing",
        )
    raw = attrs.dump()
    return b"\x31" + raw[1:], time_value.native if time_value is not None else None  # [0] IMPLICIT -> SET OF


def _check_signature(
    signer_info: cms.SignerInfo, key: PublicKey, signed_bytes: bytes, algorithm: SignatureAlgorithm
) -> list[str]:
    """Verify the signature value; an SM2 value may be a bare 64-byte r‖s (returned as a note)."""
    signature = bytes(signer_info["signature"].native)
    candidates: list[tuple[bytes, str | None]] = [(signature, None)]
    if algorithm.family is KeyFamily.SM2 and len(signature) == 64:
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        bare = "the SM2 signature value is a bare 64-byte r‖s, not the SEQUENCE {r, s} of GB/T 35275"
        candidates.insert(0, (algos.DSASignature({"r": r, "s": s}).dump(), bare))
    problem: TrustError | None = None
    for candidate, note in candidates:
        try:
            key.verify(candidate, signed_bytes, algorithm)
        except InvalidSignature as exc:
            problem = exc
            continue
        except TrustError as exc:  # a refused algorithm or key
            message = f"CMS signature value: {exc.message}"
            raise CmsValueFailure(Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, message) from None
        return [note] if note else []
    raise CmsValueFailure(
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CRYPTO_FAILURE,
        f"the CMS {algorithm.name} signature does not verify with the signer certificate's key "
        f"({problem.message if problem else 'no value'})",
    )
