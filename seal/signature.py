"""GB/T 38540-2020 electronic signatures (``SES_Signature``, version 4) over a document hash, for OFD and other
formats that regional systems sign themselves.

Pure format and crypto code: no storage, no network. :func:`sign` makes a signature, :func:`verify` re-checks one
without any trust decisions (the offline verifier, :mod:`verifier.ses`, adds chains, the trust list, revocation and
ETSI indications — and never imports this module: validation does not import signing).

What :func:`sign` writes (``tests/data/vendor/ses-asn/ses.asn``, ``README.md`` "Electronic seals"):

``TBS_Sign``
    ``version`` = the seal header's version (4, or 5 for a GM/T 0031-2025 seal); ``eseal`` = the SESeal **byte for
    byte as given** (the maker's signature covers those bytes, so it is never re-encoded); ``timeInfo`` =
    GeneralizedTime, UTC, whole seconds (the signing time claimed by the signer, default now); ``dataHash`` = SM3
    of the protected data (the caller gives the data or its 32-byte SM3 digest); ``propertyInfo`` = what is
    protected (IA5String; for OFD the path of ``Signature.xml``); ``extDatas`` ``[0]`` EXPLICIT when given.
``SES_Signature``
    ``cert`` = the signer certificate, which must be listed in the seal's ``certList`` (as a certificate, or as a
    digest with certListType 2) and must hold the signer's public key; ``signatureAlgID`` = SM2 with SM3
    (1.2.156.10197.1.501); ``signature`` = SM2 over ``DER(TBS_Sign)`` with the default ID ``1234567812345678``,
    DER ``SEQUENCE {r, s}``; ``timeStamp`` ``[0]`` EXPLICIT BIT STRING = the DER RFC 3161 ``TimeStampToken`` over the
    signature value (the message imprint is the hash of the signature value octets, the BIT STRING contents
    without the unused-bits octet), obtained from the caller's :data:`Timestamper`.

Only SM2 signers make SES signatures (the seal holder's SM2 key; GB/T 38540 is an SM2 format). The result is
re-parsed and re-verified before it is returned, so a faulty signer or time-stamper never yields a bad signature.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import algos, core

from trust.crypto.algorithms import SM2_SM3, KeyFamily, SignatureAlgorithm, digest
from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    InvalidSignature,
    UnsupportedAlgorithm,
)
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats import tsp as tsa
from trust.formats import x509 as cx

Timestamper = Callable[[bytes], bytes]
"""Given the signature value, return a DER RFC 3161 ``TimeStampToken`` (CMS ContentInfo) over it."""

SM3_SIZE: Final = 32
MAX_PROPERTY_INFO: Final = 1024
CERT_DIGESTS: Final = {
    "sm3": "sm3",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "1.2.156.10197.1.401": "sm3",
}


# --- input checks ---------------------------------------------------------------------------------------------


def document_digest(*, data: bytes | None = None, data_hash: bytes | None = None) -> bytes:
    """The SM3 ``dataHash``: SM3 of ``data``, or ``data_hash`` itself (exactly one of them, 32 bytes)."""
    if (data is None) == (data_hash is None):
        raise InputError("give the protected data or its SM3 digest, exactly one of them")
    if data_hash is not None:
        if not isinstance(data_hash, bytes) or len(data_hash) != SM3_SIZE:
            size = len(data_hash) if isinstance(data_hash, bytes) else type(data_hash).__name__
            raise InputError(
                f"dataHash must be an SM3 digest of {SM3_SIZE} bytes, got {size}",
                evidence={"expected": SM3_SIZE, "found": size},
            )
        return data_hash
    assert data is not None
    return digest("sm3", data)


def check_property_info(value: str) -> str:
    """``propertyInfo`` is an IA5String: 1..1024 printable ASCII characters."""
    if not isinstance(value, str) or not value:
        raise InputError("propertyInfo must say what is protected (e.g. the path of Signature.xml)")
    if len(value) > MAX_PROPERTY_INFO:
        raise InputError(f"propertyInfo of {len(value)} characters exceeds {MAX_PROPERTY_INFO}")
    if not all(0x20 <= ord(ch) < 0x7F for ch in value):
        raise InputError("propertyInfo is an IA5String: printable ASCII only (percent-encode other characters)")
    return value


def cert_listed(seal: ses.Seal, cert_der: bytes) -> bool:
    """Whether ``cert_der`` is a permitted signer of ``seal`` (listed as a certificate, or by its digest)."""
    if seal.cert_list_type == 1:
        return any(hmac.compare_digest(item, cert_der) for item in seal.cert_list)
    name = CERT_DIGESTS.get((seal.cert_digest_algorithm or "").lower().replace("-", ""))
    if name is None:
        raise UnsupportedAlgorithm(f"certificate digest algorithm {seal.cert_digest_algorithm!r} is not supported")
    mine = digest(name, cert_der)
    return any(hmac.compare_digest(item, mine) for item in seal.cert_list)


# --- DER ------------------------------------------------------------------------------------------------------


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    body = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _bit_string(value: bytes) -> bytes:
    return _tlv(0x03, b"\x00" + value)


children = ses.der_children


def time_stamp_token(response_der: bytes) -> bytes:
    """The DER ``TimeStampToken`` inside a ``TimeStampResp``, as received (never re-encoded)."""
    parts = children(response_der)
    if len(parts) != 2:
        raise EncodingError("the TimeStampResp carries no timeStampToken")
    return parts[1]


def _generalized_time(moment: datetime) -> bytes:
    return bytes(core.GeneralizedTime(moment.astimezone(UTC).replace(microsecond=0)).dump())


# --- signing --------------------------------------------------------------------------------------------------


def tbs_sign(
    *,
    seal_der: bytes,
    version: int,
    time_info: datetime,
    data_hash: bytes,
    property_info: str,
    extensions: Sequence[tuple[str, bool, bytes]] = (),
) -> bytes:
    """``DER(TBS_Sign)`` with the seal embedded byte for byte and ``extDatas`` ``[0]`` EXPLICIT."""
    body = (
        bytes(core.Integer(version).dump())
        + seal_der
        + _generalized_time(time_info)
        + _bit_string(data_hash)
        + bytes(core.IA5String(property_info).dump())
    )
    if extensions:
        ext = ses.ExtensionDatas(
            [{"extn_id": oid, "critical": critical, "extn_value": value} for oid, critical, value in extensions]
        )
        body += _tlv(0xA0, bytes(ext.dump()))
    return _tlv(0x30, body)


def sign(
    *,
    seal: bytes,
    signer: Signer,
    signer_cert: bytes,
    property_info: str,
    data: bytes | None = None,
    data_hash: bytes | None = None,
    time_info: datetime | None = None,
    timestamper: Timestamper | None = None,
    extensions: Sequence[tuple[str, bool, bytes]] = (),
) -> bytes:
    """A DER ``SES_Signature`` (version 4 or 5, the seal's) over ``data`` or its SM3 ``data_hash``.

    Raises :class:`InputError` for a version-1 seal, a signer certificate that is not in the seal's certList or does
    not hold the signer's key, a ``time_info`` outside the seal's window or the certificate's validity, a
    malformed hash or propertyInfo; :class:`UnsupportedAlgorithm` for a non-SM2 signer."""
    hashed = document_digest(data=data, data_hash=data_hash)
    check_property_info(property_info)
    parsed = ses.parse_seal(seal)
    if parsed.version not in (4, 5):
        raise InputError(f"a version-{parsed.version} seal cannot be used in a GB/T 38540 SES_Signature (4 or 5)")
    if signer.algorithm != SM2_SM3 or signer.public_key.family is not KeyFamily.SM2:
        raise UnsupportedAlgorithm(f"SES signatures are made with SM2/SM3, not {signer.algorithm.name}")
    if signer_cert.lstrip().startswith(b"-----"):
        raise EncodingError("the signer certificate must be given as DER, not PEM")
    cert = cx.load_certificate(signer_cert)
    der = signer_cert
    if signer.public_key.spki_der() != bytes(cert["tbs_certificate"]["subject_public_key_info"].dump()):
        raise InputError("the signer's key is not the key of the signer certificate", code=Code.KEY_MISMATCH)
    if not cert_listed(parsed, der):
        raise InputError(f"the signer certificate is not in the certList of seal {parsed.es_id}")
    moment = (time_info or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if not parsed.valid_start <= moment <= parsed.valid_end:
        raise InputError(
            f"seal {parsed.es_id} is valid from {parsed.valid_start.isoformat()} to "
            f"{parsed.valid_end.isoformat()}, not at {moment.isoformat()}"
        )
    validity = cert["tbs_certificate"]["validity"]
    if not validity["not_before"].native <= moment <= validity["not_after"].native:
        raise InputError(f"the signer certificate is not valid at {moment.isoformat()}")
    tbs = tbs_sign(
        seal_der=seal,
        version=parsed.version,
        time_info=moment,
        data_hash=hashed,
        property_info=property_info,
        extensions=extensions,
    )
    value = signer.sign(tbs)
    signer.public_key.verify(value, tbs, SM2_SM3)
    body = tbs + _tlv(0x04, der) + bytes(core.ObjectIdentifier(ses.SM2_SM3_OID).dump()) + _bit_string(value)
    if timestamper is not None:
        token = timestamper(value)
        tsa.verify_token(token, message=value)  # the imprint is the signature value's (trust is the verifier's job)
        body += _tlv(0xA0, _bit_string(token))
    result = _tlv(0x30, body)
    verify(result, data_hash=hashed)
    return result


# --- checking -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedSignature:
    """What :func:`verify` established: the parsed signature and, if present, its verified time-stamp."""

    record: ses.SignatureRecord
    seal: ses.Seal
    time_stamp: tsa.VerifiedTimeStamp | None


def _algorithm(oid: str) -> SignatureAlgorithm:
    return SignatureAlgorithm.from_x509(algos.SignedDigestAlgorithm({"algorithm": oid}))


def verify(sig_der: bytes, *, data: bytes | None = None, data_hash: bytes | None = None) -> CheckedSignature:
    """Parse and check a ``SES_Signature`` without trust decisions; raise on the first failure.

    Checks: structure (EXPLICIT or untagged ``[0]``), version = seal version, the signer's signature over
    ``DER(TBS_Sign)`` as received, the signer certificate in the seal's certList, the maker's signature over the seal,
    ``timeInfo`` inside the seal's window and the signer certificate's validity, ``dataHash`` against ``data`` (or
    ``data_hash``) when given, the time-stamp's CMS signature and imprint. Chains, revocation and the trust list are
    :mod:`verifier.ses`'s job."""
    record = parse(sig_der)
    tbs_der = record.signed_bytes
    seal_der = children(tbs_der)[1]
    seal = ses.parse_seal(seal_der)
    if record.version != seal.version:
        raise InvalidSignature(f"TBS_Sign version {record.version} differs from the seal's version {seal.version}")
    cert = cx.load_certificate(record.signer_cert)
    cx.public_key(cert).verify(record.signature, tbs_der, _algorithm(record.signature_alg_oid))
    if not cert_listed(seal, record.signer_cert):
        raise InvalidSignature(f"the signer certificate is not in the certList of seal {seal.es_id}")
    maker = cx.load_certificate(seal.maker_cert)
    cx.public_key(maker).verify(
        seal.signed_value, ses.maker_signed_bytes(seal_der, seal.version), _algorithm(seal.sign_alg_oid)
    )
    if not seal.valid_start <= record.time_info <= seal.valid_end:
        raise InvalidSignature(f"timeInfo {record.time_info.isoformat()} lies outside the seal's validity")
    validity = cert["tbs_certificate"]["validity"]
    if not validity["not_before"].native <= record.time_info <= validity["not_after"].native:
        raise InvalidSignature("timeInfo lies outside the signer certificate's validity")
    if data is not None or data_hash is not None:
        wanted = document_digest(data=data, data_hash=data_hash)
        if not hmac.compare_digest(wanted, record.data_hash):
            raise InvalidSignature(
                "dataHash does not match the data", evidence={"data_hash": record.data_hash.hex(), "data": wanted.hex()}
            )
    stamp = tsa.verify_token(record.time_stamp, message=record.signature) if record.time_stamp else None
    return CheckedSignature(record, seal, stamp)


def parse(sig_der: bytes) -> ses.SignatureRecord:
    """:func:`trust.formats.ses.parse_signature` (both encodings of the optional fields; bytes sliced as received)."""
    return ses.parse_signature(sig_der)
