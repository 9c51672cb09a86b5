"""CMS SignedData (RFC 5652) with one signer, for SM2 (GB/T 35275 conventions) and RSA: build and verify.

Pure format code: no storage, no network; the verifier, the TSA (:mod:`trust.formats.tsp`) and PDF sealing use it.

Building (:func:`sign`), RFC 5652 clause 5:

* one ``SignerInfo``, version 1, ``sid`` = ``issuerAndSerialNumber`` of the signer certificate (clause 5.3);
* signed attributes always present: ``contentType`` and ``messageDigest`` (clause 11.1, 11.2), ``signingTime``
  when asked (clause 11.3), then the caller's attributes; the signature covers ``DER(SET OF Attribute)``,
  sorted as DER requires (clause 5.4);
* ``SignedData.version`` is 1 for ``id-data`` content and 3 for any other ``eContentType`` (clause 5.1);
* digest algorithm = the signer's hash. SM3 is written with *absent* parameters (GB/T 35275); SHA-2 with
  NULL parameters, as asn1crypto (and so pyHanko) always encodes them — RFC 5754 clause 2 prefers absent
  but requires every receiver to accept NULL;
* ``signatureAlgorithm``:

  - RSA PKCS#1 v1.5: ``sha256WithRSAEncryption`` (and SHA-384/512), NULL parameters — what the signer's
    algorithm names; RFC 5754 clause 3.2 allows it and OpenSSL, pyHanko and Adobe accept it. ``rsaEncryption``
    (what OpenSSL itself writes) can be chosen with ``rsa_identifier="rsa_encryption"``;
  - RSASSA-PSS: ``id-RSASSA-PSS`` with explicit parameters (RFC 4056);
  - SM2: ``1.2.156.10197.1.501`` (SM2 with SM3, parameters absent), the identifier GB/T 20518 uses in
    certificates and OpenSSL/Tongsuo write in CMS. GB/T 35275 writes SM2-1 ``1.2.156.10197.1.301.1`` in a
    SignerInfo; ``sm2_identifier="sm2_sign"`` writes that. Both are accepted when reading. The SM2 signature
    uses the signer's user ID (by default the GB/T 35276 ID ``1234567812345678``) and is DER
    ``SEQUENCE {r, s}``.

* ``certificates`` holds the signer certificate and the caller's extra certificates (a SET: DER orders them
  by encoding, so readers must not rely on the order);
* before returning, the signature is verified with the signer's public key (a fault or a key mix-up never
  leaves this module as a signed object); the signer's key must be the signer certificate's key.

Verifying (:func:`verify`), numbered in the code:

1. parse (size limit, DER-sized input, ``id-signedData`` or GB/T 35275 ``signedData``);
2. exactly one ``SignerInfo``; content either encapsulated or given detached — never both;
3. signer certificate found by ``sid`` (issuer and serial, or subject key identifier);
4. digest and signature algorithms supported and consistent (the signature's hash is the digest algorithm);
5. with signed attributes: exactly one ``contentType`` equal to ``eContentType``, exactly one
   ``messageDigest`` equal to the recomputed digest, at most one ``signingTime``; without them only
   ``id-data`` content is allowed (clause 5.3) and the signature covers the content itself;
6. the signature verifies with the signer certificate's key (SM2 with the default user ID unless told).

Every failure raises: :class:`~trust.crypto.errors.InvalidSignature` for a signature or binding that does not
hold, :class:`~trust.crypto.errors.EncodingError` for malformed input,
:class:`~trust.crypto.errors.UnsupportedAlgorithm` for algorithms Huren does not accept. Trust in the signer
certificate (path validation, revocation) is the caller's business.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from asn1crypto import algos, cms, core, x509

from trust.crypto import oids
from trust.crypto.algorithms import (
    RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384,
    RSA_PKCS1_SHA512,
    KeyFamily,
    SignatureAlgorithm,
    digest,
)
from trust.crypto.errors import Code, EncodingError, InputError, InvalidSignature, TrustError, UnsupportedAlgorithm
from trust.crypto.keys import DEFAULT_USER_ID, PublicKey, public_key_from_spki
from trust.crypto.signer import Signer

oids.register()

MAX_CMS_BYTES: Final = 4 * 1024 * 1024
DIGEST_ALGORITHMS: Final = frozenset({"sha256", "sha384", "sha512", "sm3"})
SIGNED_DATA_TYPES: Final = frozenset({"signed_data", "gm_signed_data"})
_RESERVED_ATTRIBUTES: Final = frozenset({"content_type", "message_digest", "signing_time"})
_PKCS1_BY_HASH: Final = {"sha256": RSA_PKCS1_SHA256, "sha384": RSA_PKCS1_SHA384, "sha512": RSA_PKCS1_SHA512}


def attribute(attr_type: str, value: Any) -> cms.CMSAttribute:
    """One signed or unsigned attribute with a single value (``attr_type`` is an asn1crypto name or OID)."""
    return cms.CMSAttribute({"type": attr_type, "values": [value]})


def _signature_identifier(
    algorithm: SignatureAlgorithm,
    rsa_identifier: Literal["sha_with_rsa", "rsa_encryption"],
    sm2_identifier: Literal["sm2_sm3", "sm2_sign"],
) -> algos.SignedDigestAlgorithm:
    if algorithm.family is KeyFamily.SM2:
        return algos.SignedDigestAlgorithm({"algorithm": sm2_identifier})
    if algorithm.family is KeyFamily.RSA and algorithm.padding == "pkcs1v15" and rsa_identifier == "rsa_encryption":
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15", "parameters": core.Null()})
    return algorithm.x509_identifier()


def _spki_der(cert: x509.Certificate) -> bytes:
    return bytes(cert["tbs_certificate"]["subject_public_key_info"].dump())


def sign(
    content: bytes,
    signer: Signer,
    signer_certificate: x509.Certificate,
    *,
    content_type: str = "data",
    certificates: Sequence[x509.Certificate] = (),
    attributes: Sequence[cms.CMSAttribute] = (),
    signing_time: datetime | None = None,
    detached: bool = False,
    rsa_identifier: Literal["sha_with_rsa", "rsa_encryption"] = "sha_with_rsa",
    sm2_identifier: Literal["sm2_sm3", "sm2_sign"] = "sm2_sm3",
    include_certificates: bool = True,
) -> cms.ContentInfo:
    """A ``ContentInfo`` holding ``SignedData`` over ``content`` signed by ``signer``.

    ``content_type`` is the ``eContentType`` (asn1crypto name such as ``data`` or ``tst_info``, or an OID);
    ``attributes`` are extra signed attributes (for example ``signing_certificate_v2``); ``detached`` leaves
    ``eContent`` out. ``include_certificates=False`` leaves the ``certificates`` field out entirely."""
    if signer.public_key.spki_der() != _spki_der(signer_certificate):
        raise InputError("the signer's key is not the key of the signer certificate", code=Code.KEY_MISMATCH)
    hash_name = signer.algorithm.hash
    if hash_name not in DIGEST_ALGORITHMS:
        raise UnsupportedAlgorithm(f"CMS digest algorithm {hash_name} is not supported")
    extra_types = [a["type"].native for a in attributes]
    clash = sorted(set(extra_types) & _RESERVED_ATTRIBUTES)
    if clash:
        raise InputError(f"attributes {', '.join(clash)} are set by the CMS builder, not by the caller")
    if len(set(extra_types)) != len(extra_types):
        raise InputError("each extra signed attribute type may appear only once")

    signed: list[cms.CMSAttribute] = [
        attribute("content_type", content_type),
        attribute("message_digest", digest(hash_name, content)),
    ]
    if signing_time is not None:
        signed.append(attribute("signing_time", _time(signing_time)))
    signed.extend(attributes)
    signed_attrs = cms.CMSAttributes(signed)
    signed_der = signed_attrs.dump()  # SET OF, sorted by encoding (DER, X.690 clause 11.6)
    signature = signer.sign(signed_der)

    issuer_serial = cms.IssuerAndSerialNumber(
        {"issuer": signer_certificate.issuer, "serial_number": signer_certificate.serial_number}
    )
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value=issuer_serial),
            "digest_algorithm": {"algorithm": hash_name},
            "signed_attrs": signed_attrs,
            "signature_algorithm": _signature_identifier(signer.algorithm, rsa_identifier, sm2_identifier),
            "signature": signature,
        }
    )
    is_data = cms.ContentType(content_type).native == "data"
    encap: dict[str, Any] = {"content_type": content_type}
    if not detached:  # version 1 parses eContentInfo with asn1crypto's PKCS#7-compatible ContentInfo spec
        encap["content"] = core.OctetString(content) if is_data else core.ParsableOctetString(content)
    signed_data: dict[str, Any] = {
        "version": "v1" if is_data else "v3",
        "digest_algorithms": [{"algorithm": hash_name}],
        "encap_content_info": encap,
        "signer_infos": [signer_info],
    }
    if include_certificates:
        # Embed fresh, lazily parsed copies: asn1crypto re-encodes a certificate object whose fields were read
        # (it normalises algorithm parameters on access), which costs milliseconds per certificate.
        ders = [signer_certificate.dump()]
        ders += [d for d in dict.fromkeys(c.dump() for c in certificates) if d != ders[0]]
        signed_data["certificates"] = [
            cms.CertificateChoices(name="certificate", value=x509.Certificate.load(d)) for d in ders
        ]
    der = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)}).dump()
    # Self-check before anything leaves: the signature verifies with the certificate's key (a fault or a
    # key mix-up never produces a signed object), and the result parses back.
    try:
        signer.public_key.verify(signature, signed_der, signer.algorithm, user_id=signer.user_id)
    except InvalidSignature as exc:
        raise TrustError(f"CMS signature self-check failed: {exc.message}", code=Code.INTERNAL) from exc
    return cms.ContentInfo.load(der)


def _time(moment: datetime) -> cms.Time:
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if 1950 <= moment.year < 2050:  # RFC 5652 clause 11.3: UTCTime in this range
        return cms.Time(name="utc_time", value=moment)
    return cms.Time(name="generalized_time", value=moment)


# --- verification ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedSignedData:
    """What :func:`verify` established: the signed content, who signed it, and how."""

    content_type: str
    content: bytes
    signer_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    digest_algorithm: str
    signature_algorithm: SignatureAlgorithm
    signer_info: cms.SignerInfo
    signed_attributes: cms.CMSAttributes | None
    signing_time: datetime | None

    def attribute_values(self, attr_type: str) -> list[Any]:
        """The values of every signed attribute of type ``attr_type`` (asn1crypto objects)."""
        if self.signed_attributes is None:
            return []
        values: list[Any] = []
        for attr in self.signed_attributes:
            if attr["type"].native == attr_type or attr["type"].dotted == attr_type:
                values.extend(attr["values"])
        return values


def load_content_info(data: bytes, *, max_bytes: int = MAX_CMS_BYTES) -> cms.ContentInfo:
    """Parse a DER ``ContentInfo`` holding ``SignedData``; refuses oversized, truncated or trailing input."""
    if len(data) > max_bytes:
        raise InputError(f"CMS object of {len(data)} bytes exceeds {max_bytes}", code=Code.INPUT_TOO_LARGE)
    try:
        info = cms.ContentInfo.load(data, strict=True)
        _force_parse(info)
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise EncodingError(f"not a DER CMS ContentInfo: {type(exc).__name__}: {str(exc)[:200]}") from None
    return info


def _force_parse(info: cms.ContentInfo) -> None:
    if info["content_type"].native not in SIGNED_DATA_TYPES:
        raise EncodingError(f"CMS content type is {info['content_type'].native}, not signedData")
    signed_data = info["content"]
    # Parse the structure now (inside the caller's try) but not every value: ``.native`` of a whole SignedData
    # decodes every certificate and any embedded time-stamp token, which takes seconds on large CMS objects.
    for field_name in ("version", "digest_algorithms", "encap_content_info", "certificates", "signer_infos"):
        signed_data[field_name]
    for signer_info in signed_data["signer_infos"]:
        for field_name in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature"):
            signer_info[field_name]
        for attribute in signer_info["signed_attrs"]:
            attribute["type"].native  # noqa: B018


def _signed_data(data: bytes | cms.ContentInfo | cms.SignedData) -> cms.SignedData:
    if isinstance(data, bytes | bytearray):
        info = load_content_info(bytes(data))
        return info["content"]
    if isinstance(data, cms.ContentInfo):
        try:
            _force_parse(data)
        except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
            raise EncodingError(f"malformed CMS SignedData: {type(exc).__name__}: {str(exc)[:200]}") from None
        return data["content"]
    return data


def _certificates(signed_data: cms.SignedData) -> list[x509.Certificate]:
    result: list[x509.Certificate] = []
    certs = signed_data["certificates"]
    if isinstance(certs, core.Void):
        return result
    for choice in certs:
        if choice.name == "certificate":
            result.append(choice.chosen)
    return result


def find_signer_certificate(signer_info: cms.SignerInfo, candidates: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate named by the SignerInfo's ``sid``; :class:`InvalidSignature` if none matches."""
    sid = signer_info["sid"]
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for cert in candidates:
            if cert.serial_number == serial and cert.issuer == issuer:
                return cert
        raise InvalidSignature(
            "the signer certificate (by issuer and serial number) is not in the CMS object",
            evidence={"serial": f"{serial:x}"},
        )
    key_id = bytes(sid.chosen.native)
    for cert in candidates:
        if cert.key_identifier == key_id:
            return cert
    raise InvalidSignature(
        "the signer certificate (by subject key identifier) is not in the CMS object",
        evidence={"key_identifier": key_id.hex()},
    )


def signature_algorithm_for(signer_info: cms.SignerInfo, digest_name: str) -> SignatureAlgorithm:
    """The signature algorithm of a SignerInfo, checked against its digest algorithm."""
    identifier = signer_info["signature_algorithm"]
    name = identifier["algorithm"].native
    if name == "rsassa_pkcs1v15":  # rsaEncryption: the hash is the digest algorithm (RFC 3370 clause 3.2)
        if digest_name not in _PKCS1_BY_HASH:
            raise UnsupportedAlgorithm(f"RSA with digest {digest_name} is not supported")
        return _PKCS1_BY_HASH[digest_name]
    algorithm = SignatureAlgorithm.from_x509(identifier)  # SM2 (both OIDs), sha*WithRSA, RSASSA-PSS, ECDSA
    if algorithm.hash != digest_name:
        raise InvalidSignature(
            f"signature algorithm {algorithm.name} hashes with {algorithm.hash} but the digest algorithm is "
            f"{digest_name}",
            evidence={"signature_algorithm": identifier["algorithm"].dotted, "digest_algorithm": digest_name},
        )
    return algorithm


def _unique(attrs: cms.CMSAttributes, attr_type: str, *, required: bool) -> Any:
    found = [a for a in attrs if a["type"].native == attr_type]
    if not found:
        if required:
            raise InvalidSignature(f"signed attribute {attr_type} is missing (RFC 5652 clause 5.3)")
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise InvalidSignature(f"signed attribute {attr_type} must appear once with one value (RFC 5652 clause 11)")
    return found[0]["values"][0]


def verify(
    data: bytes | cms.ContentInfo | cms.SignedData,
    *,
    detached_content: bytes | None = None,
    certificates: Sequence[x509.Certificate] = (),
    sm2_user_id: bytes = DEFAULT_USER_ID,
) -> VerifiedSignedData:
    """Verify the one signature of a CMS SignedData; raise unless it holds. See the module docstring.

    asn1crypto parses lazily: a malformed value deep inside (an embedded certificate, the ``sid``, an attribute
    value) raises only when a check reads it. Such an error is an :class:`EncodingError` like any other malformed
    input, never an exception of another kind (found by fuzzing, ``tests/fuzz/regressions/cms``)."""
    try:
        return _verify(data, detached_content=detached_content, certificates=certificates, sm2_user_id=sm2_user_id)
    except TrustError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise EncodingError(f"malformed CMS SignedData: {type(exc).__name__}: {str(exc)[:200]}") from None


def _verify(  # noqa: PLR0912 (RFC 5652 clause 5.6 checks, in order)
    data: bytes | cms.ContentInfo | cms.SignedData,
    *,
    detached_content: bytes | None,
    certificates: Sequence[x509.Certificate],
    sm2_user_id: bytes,
) -> VerifiedSignedData:
    # 1. Parse.
    signed_data = _signed_data(data)
    try:
        signer_infos = signed_data["signer_infos"]
        encap = signed_data["encap_content_info"]
        content_type = encap["content_type"]
        embedded = encap["content"]
    except (ValueError, TypeError, KeyError) as exc:
        raise EncodingError(f"malformed CMS SignedData: {exc}") from None
    # 2. One signer; content encapsulated or detached, not both.
    if len(signer_infos) != 1:
        raise UnsupportedAlgorithm(f"CMS SignedData with {len(signer_infos)} signers; exactly one is supported")
    signer_info: cms.SignerInfo = signer_infos[0]
    if isinstance(embedded, core.Void):
        if detached_content is None:
            raise InputError("the CMS signature is detached and no content was given to check it against")
        content = detached_content
    else:
        if detached_content is not None:
            raise InvalidSignature("the CMS object carries encapsulated content but a detached signature was expected")
        if isinstance(embedded, core.ParsableOctetString):
            content = bytes(embedded.contents)
        elif isinstance(embedded, core.OctetString):
            content = bytes(embedded.native)
        else:
            raise EncodingError("eContent is not an OCTET STRING (PKCS#7 'any' content is not supported)")
    # 3. Signer certificate.
    embedded_certs = _certificates(signed_data)
    signer_cert = find_signer_certificate(signer_info, [*embedded_certs, *certificates])
    # 4. Algorithms.
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in DIGEST_ALGORITHMS:
        raise UnsupportedAlgorithm(
            f"CMS digest algorithm {digest_name} is not accepted (SHA-256/384/512, SM3)",
            evidence={"digest_algorithm": signer_info["digest_algorithm"]["algorithm"].dotted},
        )
    algorithm = signature_algorithm_for(signer_info, digest_name)
    key: PublicKey = public_key_from_spki(signer_cert["tbs_certificate"]["subject_public_key_info"])
    if key.family is not algorithm.family:
        raise InvalidSignature(f"signature algorithm {algorithm.name} does not fit the signer's {key.family.value} key")
    computed = digest(digest_name, content)
    # 5. Signed attributes.
    attrs = signer_info["signed_attrs"]
    signing_time: datetime | None = None
    if isinstance(attrs, core.Void):
        if content_type.native != "data":
            raise InvalidSignature(f"content type {content_type.native} needs signed attributes (RFC 5652 clause 5.3)")
        signed_bytes = content
        attrs = None
    else:
        claimed_type = _unique(attrs, "content_type", required=True)
        if claimed_type.dotted != content_type.dotted:
            raise InvalidSignature(
                "signed contentType attribute differs from eContentType",
                evidence={"attribute": claimed_type.dotted, "eContentType": content_type.dotted},
            )
        claimed_digest = bytes(_unique(attrs, "message_digest", required=True).native)
        if not hmac.compare_digest(claimed_digest, computed):
            raise InvalidSignature(
                "messageDigest does not match the content: the content was changed after signing",
                evidence={"message_digest": claimed_digest.hex(), "computed": computed.hex(), "digest": digest_name},
            )
        time_value = _unique(attrs, "signing_time", required=False)
        signing_time = time_value.native if time_value is not None else None
        raw = attrs.dump()
        signed_bytes = b"\x31" + raw[1:]  # [0] IMPLICIT -> universal SET OF, same contents (clause 5.4)
    # 6. Signature.
    signature = bytes(signer_info["signature"].native)
    try:
        key.verify(signature, signed_bytes, algorithm, user_id=sm2_user_id)
    except InvalidSignature as exc:
        raise InvalidSignature(
            f"CMS signature does not verify with the signer certificate's key ({algorithm.name})",
            code=exc.code,
            evidence={"signer_serial": f"{signer_cert.serial_number:x}", "reason": exc.message},
        ) from exc
    return VerifiedSignedData(
        content_type=content_type.native,
        content=content,
        signer_certificate=signer_cert,
        certificates=tuple(embedded_certs),
        digest_algorithm=digest_name,
        signature_algorithm=algorithm,
        signer_info=signer_info,
        signed_attributes=attrs,
        signing_time=signing_time,
    )
