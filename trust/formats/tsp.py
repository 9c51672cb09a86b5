"""RFC 3161 time-stamping (with RFC 5816 ESSCertIDv2): requests, tokens, responses, and their verification.

Pure format code: no storage, no network; the verifier may import this module. The issuing TSA is
:class:`ca.tsa.TimeStampAuthority`.

Requests (:func:`parse_request`, RFC 3161 clause 2.4.1). Every refusal is a :class:`TimeStampRejected`
carrying the ``PKIFailureInfo`` bit that :func:`rejection` puts in the response (the mapping follows
OpenSSL's TSA, ``ts_rsp_sign.c``):

=============================================================  =======================
request                                                        failInfo
=============================================================  =======================
larger than :data:`MAX_REQUEST_BYTES` (64 KiB)                 ``badRequest``
not DER ``TimeStampReq``, truncated, trailing bytes            ``badDataFormat``
version other than 1                                           ``badDataFormat``
hash not SHA-256/384/512 or SM3, or parameters other than NULL ``badAlg``
digest length not the hash's length                            ``badDataFormat``
nonce longer than 512 bits                                     ``badDataFormat``
``reqPolicy`` other than the TSA's policy                      ``unacceptedPolicy``
any ``extensions``                                             ``unacceptedExtension``
=============================================================  =======================

SHA-1 and MD5 imprints are refused (``badAlg``): a time-stamp over a collidable digest proves nothing.

Tokens (RFC 3161 clause 2.4.2) are CMS SignedData (:mod:`trust.formats.cms`) with ``eContentType`` id-ct-TSTInfo;
what a Huren token holds is described by the TSA that issues it, :class:`ca.tsa.TimeStampAuthority`.

Verification (:func:`verify_token`, :func:`verify_response`): the CMS signature (:func:`trust.formats.cms.verify`), the
TSTInfo structure, the ``signingCertificateV2`` (or v1) binding to the signer certificate, the signer
certificate's extended key usage (exactly ``id-kp-timeStamping``, critical — clause 2.3) and validity at
``genTime``, the message imprint against the data (or a digest), and optionally nonce and policy. Path
validation and revocation of the TSA certificate are the caller's (the verifier's) job.

SM2 tokens are signed with the GB/T 35276 default user ID ``1234567812345678``. OpenSSL 3.0's
``ts -verify`` checks SM2 CMS signatures with an empty ID, so it reports a correct Huren SM2 token as a
signature failure; ``openssl ts -reply -text`` reads it, and :func:`verify_token` verifies it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, ClassVar, Final

from asn1crypto import cms, core, tsp, x509

from trust.crypto import oids, x690
from trust.crypto.algorithms import KeyFamily, digest
from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    InvalidSignature,
    UnsupportedAlgorithm,
)
from trust.formats import cms as cms_mod

oids.register()

POLICY: Final = oids.POLICY["timestamping"]
MAX_REQUEST_BYTES: Final = 64 * 1024
MAX_RESPONSE_BYTES: Final = 256 * 1024
MAX_NONCE_BITS: Final = 512
IMPRINT_SIZES: Final = {"sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}
ID_KP_TIME_STAMPING: Final = "1.3.6.1.5.5.7.3.8"


class Failure(Enum):
    """``PKIFailureInfo`` bits (RFC 3161 clause 2.4.2); values are asn1crypto's names."""

    BAD_ALG = "bad_alg"
    BAD_REQUEST = "bad_request"
    BAD_DATA_FORMAT = "bad_data_format"
    TIME_NOT_AVAILABLE = "time_not_available"
    UNACCEPTED_POLICY = "unaccepted_policy"
    UNACCEPTED_EXTENSION = "unaccepted_extensions"
    ADD_INFO_NOT_AVAILABLE = "add_info_not_available"
    SYSTEM_FAILURE = "system_failure"


class TimeStampRejected(InputError):
    """A time-stamp request the TSA refuses; ``failure`` is the ``PKIFailureInfo`` of the response."""

    def __init__(
        self, failure: Failure, message: str, *, code: Code | None = None, evidence: dict[str, Any] | None = None
    ):
        super().__init__(
            message,
            code=code or _CODES.get(failure, Code.INVALID_INPUT),
            evidence={"fail_info": failure.value, **(evidence or {})},
        )
        self.failure = failure


_CODES: Final = {
    Failure.BAD_ALG: Code.UNSUPPORTED_ALGORITHM,
    Failure.BAD_DATA_FORMAT: Code.MALFORMED_ENCODING,
    Failure.SYSTEM_FAILURE: Code.UNAVAILABLE,
}


# --- requests ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeStampRequest:
    """A parsed, accepted ``TimeStampReq``."""

    hash_algorithm: str
    message_digest: bytes
    message_imprint: bytes  # DER, copied into TSTInfo byte for byte (RFC 3161 clause 2.4.2)
    nonce: int | None
    cert_req: bool
    policy: str | None


def parse_request(
    der: bytes, *, policies: tuple[str, ...] = (POLICY,), max_bytes: int = MAX_REQUEST_BYTES
) -> TimeStampRequest:
    """The accepted request in ``der``; :class:`TimeStampRejected` (with its failInfo) otherwise."""
    if len(der) > max_bytes:
        raise TimeStampRejected(
            Failure.BAD_REQUEST, f"request of {len(der)} bytes exceeds {max_bytes} bytes", code=Code.INPUT_TOO_LARGE
        )
    if not der:
        raise TimeStampRejected(Failure.BAD_DATA_FORMAT, "empty request")
    try:
        req = tsp.TimeStampReq.load(der, strict=True)
        req.native  # noqa: B018 - parse every field now, inside the try
        version = req["version"].native
        imprint = req["message_imprint"]
        algorithm = imprint["hash_algorithm"]
        name = algorithm["algorithm"].native
        dotted = algorithm["algorithm"].dotted
        params = algorithm["parameters"]
        hashed = bytes(imprint["hashed_message"].native)
        policy = req["req_policy"].dotted if req["req_policy"].native is not None else None
        nonce = req["nonce"].native
        cert_req = bool(req["cert_req"].native)
        extensions = req["extensions"]
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise TimeStampRejected(
            Failure.BAD_DATA_FORMAT, f"not a DER TimeStampReq (RFC 3161 clause 2.4.1): {type(exc).__name__}"
        ) from None
    if version != "v1":
        shown = version if isinstance(version, str) or abs(version) < 10**9 else "a larger number"
        raise TimeStampRejected(Failure.BAD_DATA_FORMAT, f"request version must be 1, got {shown}")
    if name not in IMPRINT_SIZES:
        raise TimeStampRejected(
            Failure.BAD_ALG,
            f"message imprint hash {name} ({dotted}) is not accepted; use SHA-256, SHA-384, SHA-512 or SM3",
            evidence={"hash_algorithm": dotted},
        )
    if not isinstance(params, core.Void | core.Null) and params.native is not None:
        raise TimeStampRejected(Failure.BAD_ALG, f"hash algorithm {name} must have absent or NULL parameters")
    if len(hashed) != IMPRINT_SIZES[name]:
        raise TimeStampRejected(
            Failure.BAD_DATA_FORMAT,
            f"a {name} message imprint has {IMPRINT_SIZES[name]} bytes, this one {len(hashed)}",
            evidence={"expected": IMPRINT_SIZES[name], "found": len(hashed)},
        )
    if nonce is not None and abs(nonce).bit_length() > MAX_NONCE_BITS:
        raise TimeStampRejected(Failure.BAD_DATA_FORMAT, f"nonce longer than {MAX_NONCE_BITS} bits")
    if policy is not None and policy not in policies:
        raise TimeStampRejected(
            Failure.UNACCEPTED_POLICY,
            f"policy {policy} is not offered; this TSA time-stamps under {', '.join(policies)}",
            evidence={"requested": policy, "offered": list(policies)},
        )
    if not isinstance(extensions, core.Void):
        found = [ext["extn_id"].dotted for ext in extensions]
        raise TimeStampRejected(
            Failure.UNACCEPTED_EXTENSION,
            "request extensions are not supported" + (f": {', '.join(found)}" if found else ""),
            evidence={"extensions": found},
        )
    return TimeStampRequest(
        hash_algorithm=name,
        message_digest=hashed,
        message_imprint=bytes(imprint.dump()),
        nonce=nonce,
        cert_req=cert_req,
        policy=policy,
    )


def build_request(
    data: bytes | None = None,
    *,
    hash_algorithm: str = "sha256",
    message_digest: bytes | None = None,
    nonce: int | None = None,
    cert_req: bool = True,
    policy: str | None = None,
) -> bytes:
    """A DER ``TimeStampReq`` over ``data`` (or a ready ``message_digest``) — for clients and tests."""
    if (data is None) == (message_digest is None):
        raise InputError("give the data or its digest, not both")
    hashed = message_digest if message_digest is not None else digest(hash_algorithm, data or b"")
    req: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": hashed},
        "cert_req": cert_req,
    }
    if nonce is not None:
        req["nonce"] = nonce
    if policy is not None:
        req["req_policy"] = policy
    return bytes(tsp.TimeStampReq(req).dump())


# --- responses ---------------------------------------------------------------------------------------------


class TimeStampResp(core.Sequence):
    """RFC 3161 ``TimeStampResp`` with the token OPTIONAL, as the RFC has it (asn1crypto's ``tsp`` class makes
    it mandatory, so it cannot encode a rejection)."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def rejection(failure: Failure, text: str) -> bytes:
    """A DER ``TimeStampResp`` with status ``rejection``, the failInfo bit and a status string."""
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text[:512]], "fail_info": tsp.PKIFailureInfo({failure.value})}
    )
    return bytes(TimeStampResp({"status": status}).dump())


_GRANTED_STATUS: Final = bytes(tsp.PKIStatusInfo({"status": "granted"}).dump())


def granted(token: cms.ContentInfo | bytes) -> bytes:
    """A DER ``TimeStampResp`` with status ``granted`` carrying ``token`` (its DER is copied, not re-encoded)."""
    token_der = token if isinstance(token, bytes) else bytes(token.dump())
    return x690.sequence(_GRANTED_STATUS, token_der)


def ess_hash_for(family: KeyFamily) -> str:
    """The ESSCertIDv2 hash of a TSA of ``family``: SM3 for SM2, SHA-256 otherwise (module docstring)."""
    return "sm3" if family is KeyFamily.SM2 else "sha256"


def signing_certificate_v2(certificate: x509.Certificate, hash_algorithm: str = "sha256") -> cms.CMSAttribute:
    """The RFC 5816 ``signingCertificateV2`` attribute naming ``certificate`` (hash and issuerSerial)."""
    cert_id: dict[str, Any] = {
        "cert_hash": _cert_hash(hash_algorithm, certificate),
        "issuer_serial": {
            "issuer": [x509.GeneralName(name="directory_name", value=certificate.issuer)],
            "serial_number": certificate.serial_number,
        },
    }
    if hash_algorithm != "sha256":  # DER omits the DEFAULT (RFC 5035 clause 5.4.1.1)
        cert_id["hash_algorithm"] = {"algorithm": hash_algorithm}
    return cms_mod.attribute("signing_certificate_v2", tsp.SigningCertificateV2({"certs": [cert_id]}))


def _cert_hash(hash_algorithm: str, certificate: x509.Certificate) -> bytes:
    if hash_algorithm == "sha1":  # ESSCertID (v1), read only
        return hashlib.sha1(certificate.dump(), usedforsecurity=False).digest()
    return digest(hash_algorithm, certificate.dump())


def check_tsa_certificate(certificate: x509.Certificate) -> None:
    """Raise unless the certificate's only extended key usage is id-kp-timeStamping, critical (clause 2.3)."""
    eku = certificate.extended_key_usage_value
    purposes = [p.dotted for p in eku] if eku is not None else []
    if purposes != [ID_KP_TIME_STAMPING]:
        raise InvalidSignature(
            "the TSA certificate must have exactly the extended key usage id-kp-timeStamping (RFC 3161 clause 2.3)",
            evidence={"extended_key_usage": purposes},
        )
    if "extended_key_usage" not in certificate.critical_extensions:
        raise InvalidSignature("the TSA certificate's extended key usage must be critical (RFC 3161 clause 2.3)")


# --- verification ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseStatus:
    status: str
    fail_info: frozenset[str]
    text: str

    @property
    def granted(self) -> bool:
        return self.status in ("granted", "granted_with_mods")


@dataclass(frozen=True)
class VerifiedTimeStamp:
    """What :func:`verify_token` established about a time-stamp token."""

    serial_number: int
    gen_time: datetime
    accuracy: timedelta | None
    ordering: bool
    policy: str
    hash_algorithm: str
    message_digest: bytes
    nonce: int | None
    tsa_name: x509.GeneralName | None
    tsa_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signature_algorithm: str
    ess_hash_algorithm: str
    token: cms.ContentInfo


def load_response(der: bytes) -> TimeStampResp:
    if len(der) > MAX_RESPONSE_BYTES:
        raise InputError(f"response of {len(der)} bytes exceeds {MAX_RESPONSE_BYTES}", code=Code.INPUT_TOO_LARGE)
    try:
        resp: TimeStampResp = TimeStampResp.load(der, strict=True)
        resp["status"].native  # noqa: B018
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise EncodingError(f"not a DER TimeStampResp: {type(exc).__name__}") from None
    return resp


def response_status(der: bytes) -> ResponseStatus:
    """Status, failInfo bits and status text of a DER ``TimeStampResp``."""
    status = load_response(der)["status"]
    texts = status["status_string"].native or []
    fail = status["fail_info"].native or set()
    return ResponseStatus(str(status["status"].native), frozenset(fail), "; ".join(texts))


def verify_response(
    der: bytes,
    *,
    message: bytes | None = None,
    message_digest: bytes | None = None,
    nonce: int | None = None,
    policy: str | None = None,
    certificates: tuple[x509.Certificate, ...] = (),
) -> VerifiedTimeStamp:
    """Verify a DER ``TimeStampResp``: status granted, then :func:`verify_token` on its token."""
    resp = load_response(der)
    status = response_status(der)
    if not status.granted:
        raise InputError(
            f"the TSA refused the request: {status.status} ({', '.join(sorted(status.fail_info)) or '-'})"
            + (f": {status.text}" if status.text else ""),
            evidence={"status": status.status, "fail_info": sorted(status.fail_info)},
        )
    token = resp["time_stamp_token"]
    if isinstance(token, core.Void):
        raise EncodingError("a granted TimeStampResp carries no timeStampToken")
    return verify_token(
        token, message=message, message_digest=message_digest, nonce=nonce, policy=policy, certificates=certificates
    )


def _signing_cert_id(verified: cms_mod.VerifiedSignedData) -> tuple[Any, str]:
    v2 = verified.attribute_values("signing_certificate_v2")
    v1 = verified.attribute_values("signing_certificate")
    if len(v2) + len(v1) != 1:
        raise InvalidSignature(
            "a time-stamp token needs exactly one signingCertificate or signingCertificateV2 attribute "
            "(RFC 3161 clause 2.4.2, RFC 5816)"
        )
    if v2:
        cert_id = v2[0]["certs"][0]
        return cert_id, cert_id["hash_algorithm"]["algorithm"].native
    return v1[0]["certs"][0], "sha1"


def verify_token(
    token: bytes | cms.ContentInfo,
    *,
    message: bytes | None = None,
    message_digest: bytes | None = None,
    nonce: int | None = None,
    policy: str | None = None,
    certificates: tuple[x509.Certificate, ...] = (),
) -> VerifiedTimeStamp:
    """Verify a time-stamp token over ``message`` (or its ``message_digest``); raise unless it holds."""
    if (message is None) == (message_digest is None):
        raise InputError("verify a time-stamp against the data or its digest (one of them)")
    info = token if isinstance(token, cms.ContentInfo) else cms_mod.load_content_info(token)
    # 1. CMS signature (content type, message digest, signature with the signer certificate's key).
    verified = cms_mod.verify(info, certificates=certificates)
    if verified.content_type != "tst_info":
        raise InvalidSignature(f"the token encapsulates {verified.content_type}, not id-ct-TSTInfo")
    # 2. TSTInfo.
    try:
        tst = tsp.TSTInfo.load(verified.content, strict=True)
        fields = tst.native
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise EncodingError(f"malformed TSTInfo: {type(exc).__name__}") from None
    if fields["version"] != "v1":
        raise UnsupportedAlgorithm(f"TSTInfo version {fields['version']} is not supported")
    # 3. The signing certificate attribute names the signer certificate (RFC 5816 clause 2.2.1).
    cert = verified.signer_certificate
    cert_id, ess_hash = _signing_cert_id(verified)
    if ess_hash not in {*IMPRINT_SIZES, "sha1"}:
        raise UnsupportedAlgorithm(f"ESSCertID hash {ess_hash} is not supported")
    expected = _cert_hash(ess_hash, cert)
    if not hmac.compare_digest(bytes(cert_id["cert_hash"].native), expected):
        raise InvalidSignature(
            "the signingCertificateV2 hash does not match the signer certificate",
            evidence={"hash": ess_hash, "attribute": bytes(cert_id["cert_hash"].native).hex(), "cert": expected.hex()},
        )
    issuer_serial = cert_id["issuer_serial"]
    if not isinstance(issuer_serial, core.Void):
        names = [n.chosen for n in issuer_serial["issuer"] if n.name == "directory_name"]
        if issuer_serial["serial_number"].native != cert.serial_number or cert.issuer not in names:
            raise InvalidSignature("the signingCertificateV2 issuerSerial does not name the signer certificate")
    # 4. The signer is a TSA, valid at genTime.
    check_tsa_certificate(cert)
    gen_time: datetime = fields["gen_time"]
    validity = cert["tbs_certificate"]["validity"]
    if not validity["not_before"].native <= gen_time <= validity["not_after"].native:
        raise InvalidSignature(
            "genTime lies outside the TSA certificate's validity",
            evidence={"gen_time": gen_time.isoformat(), "not_after": validity["not_after"].native.isoformat()},
        )
    # 5. The imprint is the data's.
    hash_name = fields["message_imprint"]["hash_algorithm"]["algorithm"]
    imprint = bytes(fields["message_imprint"]["hashed_message"])
    if hash_name not in IMPRINT_SIZES:
        raise UnsupportedAlgorithm(f"message imprint hash {hash_name} is not accepted")
    wanted = message_digest if message_digest is not None else digest(hash_name, message or b"")
    if not hmac.compare_digest(imprint, wanted):
        raise InvalidSignature(
            "the time-stamp's message imprint does not match the data",
            evidence={"hash": hash_name, "imprint": imprint.hex(), "data": wanted.hex()},
        )
    # 6. Nonce and policy, when the caller asked for them.
    if nonce is not None and fields["nonce"] != nonce:
        raise InvalidSignature("the time-stamp does not echo the request's nonce")
    if policy is not None and tst["policy"].dotted != policy:
        raise InvalidSignature(f"the time-stamp was issued under policy {tst['policy'].dotted}, not {policy}")
    accuracy = fields["accuracy"]
    return VerifiedTimeStamp(
        serial_number=int(fields["serial_number"]),
        gen_time=gen_time,
        accuracy=(
            timedelta(
                seconds=accuracy.get("seconds") or 0,
                milliseconds=accuracy.get("millis") or 0,
                microseconds=accuracy.get("micros") or 0,
            )
            if accuracy
            else None
        ),
        ordering=bool(fields["ordering"]),
        policy=tst["policy"].dotted,
        hash_algorithm=hash_name,
        message_digest=imprint,
        nonce=fields["nonce"],
        tsa_name=tst["tsa"] if not isinstance(tst["tsa"], core.Void) else None,
        tsa_certificate=cert,
        certificates=verified.certificates,
        signature_algorithm=verified.signature_algorithm.name,
        ess_hash_algorithm=ess_hash,
        token=info,
    )
