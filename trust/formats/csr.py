"""PKCS#10 certification requests (RFC 2986): parsing with limits and proof of possession.

:func:`load_csr` parses PEM or DER (at most 64 KiB, strict DER); :func:`verify_pop` checks the request's
self-signature with the key it carries — SM2 requests with the default user ID (GB/T 35276), as OpenSSL and
Tongsuo write them. A request whose signature does not verify is refused with ``E1103``; the CA never
certifies a key whose holder has not shown possession.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from asn1crypto import csr as asn1_csr
from asn1crypto import x509

from trust.crypto import oids
from trust.crypto import pem as pem_codec
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import Code, EncodingError, InputError, InvalidSignature, TrustError
from trust.crypto.keys import PrivateKey, PublicKey, public_key_from_spki
from trust.formats.names import DN, name_attributes

oids.register()

MAX_CSR_BYTES: Final = 64 * 1024
DN_FIELDS: Final = {  # asn1crypto's name attribute -> the DN field (also read by trust.service.keys_rekey)
    "country_name": "country",
    "state_or_province_name": "province",
    "locality_name": "locality",
    "organization_name": "organization",
    "organizational_unit_name": "unit",
    "common_name": "common_name",
    "serial_number": "serial_number",
}


@dataclass(frozen=True)
class Request:
    """A parsed request whose proof of possession verified."""

    subject: x509.Name
    public_key: PublicKey
    algorithm: SignatureAlgorithm
    der: bytes

    def subject_dn(self) -> DN:
        """The requested subject as a :class:`DN` (only the attributes the project uses)."""
        values: dict[str, str] = {}
        try:
            attributes = name_attributes(self.subject)
        except _PARSE_ERRORS as exc:  # the subject's values are decoded here (load_csr parses its structure)
            raise EncodingError(f"the CSR's subject does not decode: {type(exc).__name__}") from None
        for attr, value in attributes:
            if attr not in DN_FIELDS:
                raise InputError(f"requested subject attribute {attr} is not supported")
            if DN_FIELDS[attr] in values:
                raise InputError(f"requested subject has {attr} twice")
            values[DN_FIELDS[attr]] = value
        return DN(
            country=values.get("country", "CN"),
            province=values.get("province"),
            locality=values.get("locality"),
            organization=values.get("organization"),
            unit=values.get("unit"),
            common_name=values.get("common_name"),
            serial_number=values.get("serial_number"),
        )


def load_csr(data: bytes) -> asn1_csr.CertificationRequest:
    if len(data) > MAX_CSR_BYTES:
        raise InputError(f"CSR of {len(data)} bytes exceeds {MAX_CSR_BYTES}", code=Code.INPUT_TOO_LARGE)
    _label, der = pem_codec.read(data, "CSR", ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"))
    try:
        request = asn1_csr.CertificationRequest.load(der, strict=True)
        _parse_read_parts(request)
    except _PARSE_ERRORS as exc:
        raise EncodingError(f"not a DER PKCS#10 certification request: {type(exc).__name__}") from None
    return request


_PARSE_ERRORS: Final = (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError)


def _parse_read_parts(request: asn1_csr.CertificationRequest) -> None:
    """Parse now, so that an encoding error is refused here as :class:`EncodingError`, what a CA reads: the version,
    the signature algorithm and value, the attributes, and the subject down to its attribute types. The subject's
    values are decoded when they are read (:meth:`Request.subject_dn`, its errors refused the same way); the key is
    read by :func:`verify_pop`. Decoding the whole request up front (``.native``) was ~1 ms of a certificate's
    issuance, most of it the subject, which issuance does not read (issue 15 item 5)."""
    info = request["certification_request_info"]
    info["version"].native  # noqa: B018
    info["attributes"].native  # noqa: B018
    request["signature_algorithm"].native  # noqa: B018
    request["signature"].native  # noqa: B018
    for rdn in info["subject"].chosen:
        for attribute in rdn:
            attribute["type"].native  # noqa: B018


def verify_pop(request: asn1_csr.CertificationRequest) -> Request:
    """Check the request's signature with its own key; returns the parsed request."""
    info = request["certification_request_info"]
    if info["version"].native != "v1":
        raise InputError("CSR version must be v1 (0)")
    try:
        public_key = public_key_from_spki(info["subject_pk_info"])
        algorithm = SignatureAlgorithm.from_x509(request["signature_algorithm"])
    except TrustError:
        raise
    except _PARSE_ERRORS as exc:  # the key is first parsed here (load_csr leaves it to this)
        raise EncodingError(f"not a DER PKCS#10 certification request: {type(exc).__name__}") from None
    try:
        public_key.verify(bytes(request["signature"].native), info.dump(), algorithm)
    except InvalidSignature as exc:
        raise InvalidSignature(
            "CSR signature does not verify with the key it carries: proof of possession failed"
        ) from exc
    return Request(subject=info["subject"], public_key=public_key, algorithm=algorithm, der=request.dump())


def parse_and_verify(data: bytes) -> Request:
    return verify_pop(load_csr(data))


def build(key: PrivateKey, subject: DN, *, pem: bool = False) -> bytes:
    """A PKCS#10 request for ``subject`` signed by ``key`` with its default algorithm (SM2: SM2-with-SM3 over
    the default user ID), DER or PEM. Platforms and tests use it; the CA only ever parses requests."""
    public = key.public_key
    info = asn1_csr.CertificationRequestInfo(
        {"version": "v1", "subject": subject.to_asn1(), "subject_pk_info": public.spki, "attributes": []}
    )
    algorithm = public.default_algorithm()
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": algorithm.x509_identifier(),
            "signature": key.sign(info.dump(), algorithm),
        }
    )
    der = request.dump()
    return pem_codec.write("CERTIFICATE REQUEST", der) if pem else der
