"""Online Certificate Status Protocol (RFC 6960): parse requests, build and sign responses, verify them.

Pure format code: no storage, no network, no clock (every time is an argument); the verifier may import it.
:mod:`trust.service.ocsp` answers requests with it.

Requests (RFC 6960 clause 4.1), parsed strictly by :func:`parse_request`:

* at most :data:`MAX_REQUEST_BYTES` (64 KiB) of DER, no trailing bytes, every field parsed;
* ``version`` v1; one to :data:`MAX_CERT_IDS` ``Request`` entries;
* CertID hash algorithms SHA-1, SHA-256, SHA-384, SHA-512 and SM3 (GM/T 0006 OID, registered by
  :mod:`trust.crypto.oids`), parameters absent or NULL, hash lengths matching the algorithm. A CertID with
  another hash algorithm (MD5, ...) is well formed but cannot be matched: the responder is not authoritative
  for it (the service answers ``unauthorized``);
* the nonce (RFC 6960 clause 4.4.1 as updated by RFC 9654): ``extnValue`` holds a DER ``OCTET STRING`` of
  1 to 128 octets; anything else is ``malformedRequest`` (RFC 9654 clause 2.1);
* an unrecognised **critical** extension (request or single request) is ``malformedRequest``; other
  extensions (service locator, acceptable responses, preferred signature algorithms) are ignored — the
  answer is always an ``id-pkix-ocsp-basic`` response, which every client must accept (clause 4.2.1);
* a request signature (``optionalSignature``) is neither required nor checked: the answers are public.

Responses (clause 4.2.1), built by :func:`build_response`: a ``BasicOCSPResponse`` with ``responderID``
``byKey`` (SHA-1 of the responder's subjectPublicKey BIT STRING value, clauses 4.2.1 and 4.2.2.3),
``producedAt``, one ``SingleResponse`` per CertID in request order echoing the CertID as received, ``good`` /
``revoked`` (``revocationTime`` and, unless ``unspecified``, ``revocationReason`` — as in our CRLs, RFC 5280
clause 5.3.1) / ``unknown``, ``thisUpdate``, ``nextUpdate``, the nonce echoed in ``responseExtensions``,
signed by a :class:`~trust.crypto.signer.Signer` with the responder certificate in ``certs``. Error
responses (:func:`error_response`) carry only the status (clause 4.2.1: no ``responseBytes``).

:func:`verify_response` checks a response the way a relying party must (clause 3.2): status, signature with
the responder certificate, the responder's authorisation by the CA (the CA itself, or a certificate the CA
signed carrying ``id-kp-OCSPSigning``, clause 4.2.2.2), the CertIDs' issuer, the nonce and the time window.
SM2 signatures are verified with the GB/T 35276 default user ID.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from asn1crypto import core, crl, x509
from asn1crypto import ocsp as asn1_ocsp

from trust.crypto import oids, x690
from trust.crypto.algorithms import SignatureAlgorithm, digest
from trust.crypto.errors import Code, EncodingError, InputError, InvalidSignature, TrustError, UnsupportedAlgorithm
from trust.crypto.keys import PublicKey, public_key_from_spki
from trust.crypto.signer import Signer
from trust.formats import crl as crl_mod

oids.register()

MAX_REQUEST_BYTES: Final = 64 * 1024
MAX_CERT_IDS: Final = 100
MAX_RESPONSE_BYTES: Final = 1024 * 1024
NONCE_MIN: Final = 1
NONCE_MAX: Final = 128  # RFC 9654 clause 2.1

CERT_ID_HASHES: Final[dict[str, int]] = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}

ERROR_STATUSES: Final = ("malformed_request", "internal_error", "try_later", "sign_required", "unauthorized")
MEDIA_TYPE_REQUEST: Final = "application/ocsp-request"
MEDIA_TYPE_RESPONSE: Final = "application/ocsp-response"

Status = Literal["good", "revoked", "unknown"]

_KNOWN_REQUEST_EXTENSIONS: Final = frozenset({"nonce", "acceptable_responses", "preferred_signature_algorithms"})
_KNOWN_SINGLE_EXTENSIONS: Final = frozenset({"service_locator"})


class OCSPRequestError(EncodingError):
    """The request is not a well-formed OCSPRequest this responder accepts (answered ``malformedRequest``)."""


# --- CertID ------------------------------------------------------------------------------------------------


def hash_for_cert_id(algorithm: str, data: bytes) -> bytes:
    """``algorithm`` digest of ``data`` for CertID fields (SHA-1 is only an identifier here, not security)."""
    if algorithm == "sm3":
        return digest("sm3", data)
    if algorithm in CERT_ID_HASHES:
        return hashlib.new(algorithm, data, usedforsecurity=False).digest()
    raise UnsupportedAlgorithm(f"CertID hash algorithm {algorithm} is not supported")


def issuer_hashes(issuer: x509.Certificate, algorithm: str) -> tuple[bytes, bytes]:
    """``(issuerNameHash, issuerKeyHash)`` of a CA certificate (RFC 6960 clause 4.1.1): the hash of the DER
    subject name and of the subjectPublicKey BIT STRING value (without tag, length and unused-bits octet)."""
    name_der = issuer.subject.dump()
    key_bits = bytes(issuer["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])
    return hash_for_cert_id(algorithm, name_der), hash_for_cert_id(algorithm, key_bits)


@dataclass(frozen=True)
class CertId:
    """One CertID of a request, and its DER as received (echoed verbatim in the answer)."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    der: bytes

    @property
    def supported(self) -> bool:
        return self.hash_algorithm in CERT_ID_HASHES

    @classmethod
    def for_certificate(cls, issuer: x509.Certificate, serial: int, hash_algorithm: str = "sha1") -> CertId:
        name_hash, key_hash = issuer_hashes(issuer, hash_algorithm)
        asn1 = asn1_ocsp.CertId(
            {
                "hash_algorithm": {"algorithm": hash_algorithm, "parameters": None},
                "issuer_name_hash": name_hash,
                "issuer_key_hash": key_hash,
                "serial_number": serial,
            }
        )
        return cls(hash_algorithm, name_hash, key_hash, serial, asn1.dump())

    def matches(self, issuer: x509.Certificate) -> bool:
        if not self.supported:
            return False
        return (self.issuer_name_hash, self.issuer_key_hash) == issuer_hashes(issuer, self.hash_algorithm)


def _cert_id(value: asn1_ocsp.CertId) -> CertId:
    algorithm = value["hash_algorithm"]["algorithm"].native
    params = value["hash_algorithm"]["parameters"]
    if params.native is not None:
        raise OCSPRequestError(f"CertID hash algorithm {algorithm} must have absent or NULL parameters")
    name_hash = bytes(value["issuer_name_hash"].native)
    key_hash = bytes(value["issuer_key_hash"].native)
    size = CERT_ID_HASHES.get(algorithm)
    if size is not None and (len(name_hash) != size or len(key_hash) != size):
        raise OCSPRequestError(
            f"CertID hashes must be {size} octets for {algorithm}",
            evidence={"issuer_name_hash": len(name_hash), "issuer_key_hash": len(key_hash)},
        )
    return CertId(algorithm, name_hash, key_hash, int(value["serial_number"].native), value.dump())


# --- requests ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OCSPRequest:
    """A parsed request: its CertIDs in order and its nonce (the value inside the extension's OCTET STRING)."""

    cert_ids: tuple[CertId, ...]
    nonce: bytes | None


def _check_size(data: bytes, limit: int, what: str) -> None:
    if len(data) > limit:
        raise OCSPRequestError(f"{what} of {len(data)} bytes exceeds {limit} bytes", code=Code.INPUT_TOO_LARGE)


def parse_request(data: bytes) -> OCSPRequest:
    """Parse a DER OCSPRequest strictly (see the module docstring); :class:`OCSPRequestError` if refused."""
    _check_size(data, MAX_REQUEST_BYTES, "OCSP request")
    if not data:
        raise OCSPRequestError("empty OCSP request")
    try:
        request = asn1_ocsp.OCSPRequest.load(data, strict=True)
        request.native  # noqa: B018 - parse every field now, inside the try
        tbs = request["tbs_request"]
        version = tbs["version"].native
        entries = list(tbs["request_list"])
        cert_ids = []
        for entry in entries:
            unknown = [str(n) for n in entry.critical_extensions if n not in _KNOWN_SINGLE_EXTENSIONS]
            if unknown:
                raise OCSPRequestError(
                    "unrecognised critical single request extension", evidence={"extensions": unknown}
                )
            cert_ids.append(_cert_id(entry["req_cert"]))
        unknown = [str(n) for n in request.critical_extensions if n not in _KNOWN_REQUEST_EXTENSIONS]
        nonce = _nonce(request)
    except TrustError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, IndexError, AttributeError, RecursionError) as exc:
        raise OCSPRequestError(f"not a DER OCSPRequest: {type(exc).__name__}: {str(exc)[:200]}") from None
    if version != "v1":
        shown = version if isinstance(version, str) or abs(version) < 10**9 else "a larger number"
        raise OCSPRequestError(f"OCSPRequest version must be v1, found {shown}")
    if not cert_ids:
        raise OCSPRequestError("OCSPRequest asks about no certificate")
    if len(cert_ids) > MAX_CERT_IDS:
        raise OCSPRequestError(
            f"OCSPRequest asks about {len(cert_ids)} certificates; at most {MAX_CERT_IDS}", code=Code.INPUT_TOO_LARGE
        )
    if unknown:
        raise OCSPRequestError("unrecognised critical request extension", evidence={"extensions": unknown})
    return OCSPRequest(tuple(cert_ids), nonce)


def _nonce(request: asn1_ocsp.OCSPRequest) -> bytes | None:
    found = [e for e in request["tbs_request"]["request_extensions"] if e["extn_id"].native == "nonce"]
    if not found:
        return None
    if len(found) > 1:
        raise OCSPRequestError("the nonce extension appears more than once")
    raw = found[0]["extn_value"].contents
    try:
        inner = core.OctetString.load(raw, strict=True)
        value = bytes(inner.native)
    except ValueError:
        raise OCSPRequestError("the nonce extension must hold a DER OCTET STRING (RFC 9654 clause 2.1)") from None
    if inner.dump(force=True) != raw:
        raise OCSPRequestError("the nonce OCTET STRING is not DER")
    if not NONCE_MIN <= len(value) <= NONCE_MAX:
        raise OCSPRequestError(
            f"the nonce must be {NONCE_MIN} to {NONCE_MAX} octets (RFC 9654 clause 2.1), found {len(value)}"
        )
    return value


def build_request(cert_ids: Sequence[CertId], *, nonce: bytes | None = None) -> bytes:
    """A DER OCSPRequest for ``cert_ids`` (for tests and relying parties)."""
    tbs: dict[str, Any] = {
        "request_list": [{"req_cert": asn1_ocsp.CertId.load(c.der)} for c in cert_ids],
    }
    if nonce is not None:
        tbs["request_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}]
    return bytes(asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump())


def decode_get_path(text: str) -> bytes:
    """The DER request of an HTTP GET (RFC 6960 appendix A.1: ``{url}/{url-encoding of base64(DER)}``).

    ``text`` is the path after ``/ocsp/``, already percent-decoded by the HTTP server. The standard base64
    alphabet is expected; URL-safe characters and missing padding are accepted, and a space is read as
    ``+`` (an intermediary that form-decoded the path). Anything else is :class:`OCSPRequestError`."""
    cleaned = text.lstrip("/").replace(" ", "+").replace("-", "+").replace("_", "/")
    limit = (MAX_REQUEST_BYTES + 2) // 3 * 4
    if len(cleaned) > limit:
        raise OCSPRequestError(f"GET request of {len(cleaned)} characters exceeds {limit}", code=Code.INPUT_TOO_LARGE)
    if not cleaned:
        raise OCSPRequestError("GET request without a request")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise OCSPRequestError("the GET request is not base64 (RFC 6960 appendix A.1)") from None


# --- responses -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertStatus:
    """What the responder says about one CertID."""

    cert_id: CertId
    status: Status
    revoked_at: datetime | None = None
    reason: str | None = None


# The response is assembled as DER directly: asn1crypto's object construction cost more than the signature
# itself. The encoding is checked in the tests against asn1crypto's own encoder (re-encoding the parsed
# response gives the same octets) and against OpenSSL and pyhanko-certvalidator.

_ID_PKIX_OCSP_BASIC: Final = bytes(core.ObjectIdentifier("1.3.6.1.5.5.7.48.1.1").dump())
_ID_PKIX_OCSP_NONCE: Final = bytes(core.ObjectIdentifier("1.3.6.1.5.5.7.48.1.2").dump())
_REASONS: Final = {name: bytes(crl.CRLReason(name).dump()) for name in crl_mod.REASONS}


def _generalized(moment: datetime) -> bytes:
    """GeneralizedTime ``YYYYMMDDHHMMSSZ`` (UTC, whole seconds; RFC 5280 clause 4.1.2.5.2)."""
    if moment.tzinfo is None:
        raise InputError("OCSP times must be timezone-aware")
    return x690.tlv(0x18, moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def _cert_status(item: CertStatus) -> bytes:
    if item.status == "good":
        return b"\x80\x00"  # [0] IMPLICIT NULL
    if item.status == "unknown":
        return b"\x82\x00"  # [2] IMPLICIT NULL
    if item.status != "revoked" or item.revoked_at is None:
        raise InputError(f"certificate status {item.status!r} needs good, unknown or revoked with a time")
    reason = crl_mod.check_reason(item.reason or "unspecified")
    info = _generalized(item.revoked_at)
    if reason != "unspecified":
        info += x690.tlv(0xA0, _REASONS[reason])  # revocationReason [0] EXPLICIT CRLReason
    return x690.tlv(0xA1, info)  # revoked [1] IMPLICIT RevokedInfo


def responder_key_hash(responder_cert: x509.Certificate) -> bytes:
    """``KeyHash`` of the responderID (clause 4.2.2.3): SHA-1 of the subjectPublicKey BIT STRING value."""
    key_bits = bytes(responder_cert["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])
    return hashlib.sha1(key_bits, usedforsecurity=False).digest()


def build_response(
    *,
    signer: Signer,
    responder_cert: x509.Certificate,
    statuses: Sequence[CertStatus],
    produced_at: datetime,
    this_update: datetime,
    next_update: datetime,
    nonce: bytes | None = None,
    responder_id: bytes | None = None,
) -> bytes:
    """A signed, DER ``OCSPResponse`` (status successful, basic response) for ``statuses``.

    ``responder_id`` is the precomputed :func:`responder_key_hash` (callers that answer often cache it)."""
    if not statuses:
        raise InputError("an OCSP response answers at least one CertID")
    if next_update <= this_update:
        raise InputError("nextUpdate must be later than thisUpdate")
    if nonce is not None and not NONCE_MIN <= len(nonce) <= NONCE_MAX:
        raise InputError(f"a nonce has {NONCE_MIN} to {NONCE_MAX} octets")
    times = _generalized(this_update) + x690.tlv(0xA0, _generalized(next_update))  # thisUpdate, nextUpdate [0]
    singles = b"".join(x690.tlv(0x30, item.cert_id.der, _cert_status(item), times) for item in statuses)
    key_hash = responder_id or responder_key_hash(responder_cert)
    tbs_parts = [
        x690.tlv(0xA2, x690.tlv(0x04, key_hash)),  # responderID byKey [2] EXPLICIT KeyHash
        _generalized(produced_at),
        x690.tlv(0x30, singles),
    ]
    if nonce is not None:  # responseExtensions [1] EXPLICIT Extensions: the nonce, non-critical
        extension = x690.tlv(0x30, _ID_PKIX_OCSP_NONCE, x690.tlv(0x04, x690.tlv(0x04, nonce)))
        tbs_parts.append(x690.tlv(0xA1, x690.tlv(0x30, extension)))
    tbs = x690.tlv(0x30, *tbs_parts)
    signature = signer.sign(tbs)
    basic = x690.tlv(
        0x30,
        tbs,
        _algorithm_der(signer.algorithm),
        x690.tlv(0x03, b"\x00", signature),
        x690.tlv(0xA0, x690.tlv(0x30, responder_cert.dump())),  # certs [0] EXPLICIT SEQUENCE OF Certificate
    )
    response_bytes = x690.tlv(0x30, _ID_PKIX_OCSP_BASIC, x690.tlv(0x04, basic))
    return x690.tlv(0x30, b"\x0a\x01\x00", x690.tlv(0xA0, response_bytes))  # successful (0), responseBytes [0]


_ALGORITHMS: dict[SignatureAlgorithm, bytes] = {}


def _algorithm_der(algorithm: SignatureAlgorithm) -> bytes:
    der = _ALGORITHMS.get(algorithm)
    if der is None:
        der = _ALGORITHMS[algorithm] = bytes(algorithm.x509_identifier().dump())
    return der


_ERRORS: Final = {
    status: bytes(asn1_ocsp.OCSPResponse({"response_status": status}).dump()) for status in ERROR_STATUSES
}


def error_response(status: str) -> bytes:
    """An unsigned OCSPResponse with an error status and no body (RFC 6960 clause 4.2.1)."""
    try:
        return _ERRORS[status]
    except KeyError:
        raise InputError(f"unknown OCSP error status {status!r}; one of {', '.join(ERROR_STATUSES)}") from None


# --- reading and verifying responses -------------------------------------------------------------------------


@dataclass(frozen=True)
class SingleStatus:
    """One SingleResponse of a verified response."""

    cert_id: CertId
    status: Status
    this_update: datetime
    next_update: datetime | None
    revoked_at: datetime | None = None
    reason: str | None = None

    @property
    def serial(self) -> int:
        return self.cert_id.serial


@dataclass(frozen=True)
class VerifiedResponse:
    """A successful response whose signature and responder authorisation were checked."""

    produced_at: datetime
    responses: tuple[SingleStatus, ...]
    responder: x509.Certificate
    signature_algorithm: SignatureAlgorithm
    nonce: bytes | None

    def single(self, serial: int) -> SingleStatus:
        for item in self.responses:
            if item.serial == serial:
                return item
        raise InputError(f"the OCSP response says nothing about serial {serial:x}")


def load_response(data: bytes) -> asn1_ocsp.OCSPResponse:
    """A DER OCSPResponse, fully parsed (size-limited, no trailing bytes)."""
    if len(data) > MAX_RESPONSE_BYTES:
        raise InputError(f"OCSP response of {len(data)} bytes exceeds {MAX_RESPONSE_BYTES}", code=Code.INPUT_TOO_LARGE)
    try:
        response = asn1_ocsp.OCSPResponse.load(data, strict=True)
        response.native  # noqa: B018
    except (ValueError, TypeError, KeyError, OverflowError, IndexError, AttributeError, RecursionError) as exc:
        raise EncodingError(f"not a DER OCSPResponse: {type(exc).__name__}: {str(exc)[:200]}") from None
    return response


def response_cert_ids(data: bytes) -> list[CertId]:
    """The CertIDs a successful basic response answers about, in order (signature not checked)."""
    response = load_response(data)
    if response["response_status"].native != "successful":
        raise InputError(f"the OCSP responder answered {response['response_status'].native}")
    basic = response.basic_ocsp_response
    return [_cert_id(single["cert_id"]) for single in basic["tbs_response_data"]["responses"]]


def response_status(data: bytes) -> str:
    """``successful``, ``malformed_request``, ``internal_error``, ``try_later``, ``sign_required``, ``unauthorized``."""
    return str(load_response(data)["response_status"].native)


def _public_key(cert: x509.Certificate) -> PublicKey:
    return public_key_from_spki(cert["tbs_certificate"]["subject_public_key_info"])


def _find_responder(basic: asn1_ocsp.BasicOCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    responder_id = basic["tbs_response_data"]["responder_id"]
    candidates = [*basic["certs"], issuer] if basic["certs"].native is not None else [issuer]
    for cert in candidates:
        if responder_id.name == "by_key":
            if responder_key_hash(cert) == bytes(responder_id.native):
                return cert
        elif cert.subject == responder_id.chosen:
            return cert
    raise InvalidSignature("the OCSP responder certificate is neither in the response nor the CA")


def _check_authorised(responder: x509.Certificate, issuer: x509.Certificate, at: datetime | None) -> None:
    """RFC 6960 clause 4.2.2.2: the CA itself, or a certificate issued directly by it with OCSPSigning."""
    if responder.dump() == issuer.dump():
        return
    if responder.issuer != issuer.subject:
        raise InvalidSignature("the OCSP responder certificate was not issued by the CA")
    tbs = responder["tbs_certificate"]
    algorithm = SignatureAlgorithm.from_x509(responder["signature_algorithm"])
    if responder["signature_algorithm"].dump() != tbs["signature"].dump():
        raise InvalidSignature("responder certificate: signatureAlgorithm differs from tbsCertificate.signature")
    _public_key(issuer).verify(bytes(responder["signature_value"].native), tbs.dump(), algorithm)
    eku = responder.extended_key_usage_value
    if eku is None or "ocsp_signing" not in eku.native:
        raise InvalidSignature("the delegated OCSP responder certificate lacks id-kp-OCSPSigning (RFC 6960 4.2.2.2)")
    if responder.key_usage_value is not None and "digital_signature" not in responder.key_usage_value.native:
        raise InvalidSignature("the OCSP responder certificate may not sign (keyUsage lacks digitalSignature)")
    if at is not None:
        validity = tbs["validity"]
        if not validity["not_before"].native <= at <= validity["not_after"].native:
            raise InvalidSignature("the OCSP responder certificate is not valid at the time of checking")


def verify_response(
    data: bytes,
    *,
    issuer: x509.Certificate,
    nonce: bytes | None = None,
    at: datetime | None = None,
) -> VerifiedResponse:
    """Verify a response about certificates of ``issuer`` (RFC 6960 clause 3.2); raise unless it holds.

    Checks: status successful; basic response type; the responder certificate identified by ``responderID``
    (from ``certs`` or the CA itself); the signature over ``tbsResponseData`` with its key (SM2 with the
    default user ID); the responder authorised by ``issuer``; every CertID names ``issuer``; ``nonce`` echoed
    when given; when ``at`` is given, ``thisUpdate <= at < nextUpdate`` for every answer and the responder
    certificate valid at ``at``. Raises :class:`InvalidSignature` for a bad signature or authorisation,
    :class:`InputError` for anything else."""
    response = load_response(data)
    status = response["response_status"].native
    if status != "successful":
        raise InputError(f"the OCSP responder answered {status}", evidence={"status": status})
    if response["response_bytes"]["response_type"].native != "basic_ocsp_response":
        raise InputError("the OCSP response is not an id-pkix-ocsp-basic response")
    basic = response.basic_ocsp_response
    tbs = basic["tbs_response_data"]
    responder = _find_responder(basic, issuer)
    algorithm = SignatureAlgorithm.from_x509(basic["signature_algorithm"])
    _public_key(responder).verify(bytes(basic["signature"].native), tbs.dump(), algorithm)
    _check_authorised(responder, issuer, at)
    echoed = response.nonce_value
    echoed_value = bytes(echoed.native) if echoed is not None else None
    if nonce is not None and echoed_value != nonce:
        raise InputError("the OCSP response does not echo the request's nonce")
    singles = []
    for single in tbs["responses"]:
        cert_id = _cert_id(single["cert_id"])
        if not cert_id.matches(issuer):
            raise InputError("the OCSP response answers about a certificate of another issuer")
        this_update = single["this_update"].native
        next_update = single["next_update"].native
        if at is not None and (this_update > at or (next_update is not None and at >= next_update)):
            raise InputError(
                "the OCSP response is not current",
                evidence={"this_update": this_update.isoformat(), "at": at.isoformat()},
            )
        cert_status = single["cert_status"]
        revoked_at = reason = None
        if cert_status.name == "revoked":
            revoked_at = cert_status.chosen["revocation_time"].native
            reason = cert_status.chosen["revocation_reason"].native or "unspecified"
        singles.append(SingleStatus(cert_id, cert_status.name, this_update, next_update, revoked_at, reason))
    return VerifiedResponse(
        produced_at=tbs["produced_at"].native,
        responses=tuple(singles),
        responder=responder,
        signature_algorithm=algorithm,
        nonce=echoed_value,
    )
