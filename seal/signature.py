"""GB/T 38540-2020 electronic signatures (``SES_Signature``, version 4) over a document hash, for OFD and other
formats that regional systems sign themselves.

Pure format and crypto code: no storage, no network. :func:`sign` makes a signature; checking one is the offline
verifier's job alone (:func:`verifier.ses.signature.verify_ses_signature`: the signatures, chains, the trust list,
revocation and ETSI indications), and neither imports the other: validation does not import signing.

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

Only SM2 signers make SES signatures (the seal holder's SM2 key; GB/T 38540 is an SM2 format). The signature value
is verified with the signer's public key, the time-stamp token against the value, and the result is read back
(:func:`trust.formats.ses.parse_signature`) before it is returned, so a faulty signer or time-stamper never yields a
bad signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from asn1crypto import core

from trust.crypto import x690
from trust.crypto.algorithms import SM2_SM3, KeyFamily, digest
from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats import tsp as tsa
from trust.formats import x509 as cx

Timestamper = Callable[[bytes], bytes]
"""Given the signature value, return a DER RFC 3161 ``TimeStampToken`` (CMS ContentInfo) over it."""

SM3_SIZE: Final = 32
_SM3_HEX: Final = re.compile(r"[0-9A-Fa-f]{64}")
MAX_PROPERTY_INFO: Final = 1024


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


def parse_data_hash(text: str, what: str = "data_hash") -> bytes:
    """An SM3 ``dataHash`` given as text (the CLI's ``--hash``, the HTTP ``data_hash``): exactly 64 hexadecimal
    digits, nothing else (``bytes.fromhex`` would also take spaces and any length)."""
    if not isinstance(text, str) or not _SM3_HEX.fullmatch(text):
        raise InputError(f"{what} must be the SM3 digest in hexadecimal: 64 digits 0-9 a-f")
    return bytes.fromhex(text)


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
    """Whether ``cert_der`` is a permitted signer of ``seal`` (:func:`trust.formats.ses.lists_certificate`); a
    certificate digest list in no algorithm Huren reads is :class:`UnsupportedAlgorithm`, not a mere "not listed"."""
    if seal.cert_list_type == 2 and not any(ses.cert_digest_name(kind) for kind in seal.cert_digest_types):
        raise UnsupportedAlgorithm(f"certificate digest algorithm {seal.cert_digest_algorithm!r} is not supported")
    return ses.lists_certificate(seal, cert_der)


def time_stamp_token(response_der: bytes) -> bytes:
    """The DER ``TimeStampToken`` inside a ``TimeStampResp``, as received (never re-encoded)."""
    parts = x690.children(response_der)
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
        + x690.bit_string(data_hash)
        + bytes(core.IA5String(property_info).dump())
    )
    if extensions:
        ext = ses.ExtensionDatas(
            [{"extn_id": oid, "critical": critical, "extn_value": value} for oid, critical, value in extensions]
        )
        body += x690.tlv(0xA0, bytes(ext.dump()))
    return x690.sequence(body)


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
    body = tbs + x690.tlv(0x04, der) + bytes(core.ObjectIdentifier(ses.SM2_SM3_OID).dump()) + x690.bit_string(value)
    token = None
    if timestamper is not None:
        token = timestamper(value)
        tsa.verify_token(token, message=value)  # the imprint is the signature value's (trust is the verifier's job)
        body += x690.tlv(0xA0, x690.bit_string(token))
    result = x690.sequence(body)
    _check_round_trip(result, tbs=tbs, signer_cert=der, value=value, token=token)
    return result


def _check_round_trip(result: bytes, *, tbs: bytes, signer_cert: bytes, value: bytes, token: bytes | None) -> None:
    """The signature just made reads back as what went into it (:func:`trust.formats.ses.parse_signature`): the
    signed bytes, the certificate, the value (already verified with the signer's public key) and the time-stamp
    token (already checked against the value). Checking signatures against trust is the verifier's job
    (:mod:`verifier.ses`), not the signer's."""
    record = ses.parse_signature(result)
    if (record.signed_bytes, record.signer_cert, record.signature, record.time_stamp) != (
        tbs,
        signer_cert,
        value,
        token,
    ):
        raise TrustError("the SES_Signature does not read back as it was made", code=Code.INTERNAL)
