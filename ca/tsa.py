"""The time-stamping authority (RFC 3161, with RFC 5816 ESSCertIDv2): issues time-stamp tokens and responses.

The formats (requests, responses, ``TSTInfo``, verification) are :mod:`trust.formats.tsp`;
:mod:`trust.service.tsa` supplies the signer and the certificates.

Tokens (:meth:`TimeStampAuthority.token`, RFC 3161 clause 2.4.2): CMS SignedData (:mod:`trust.formats.cms`) with
``eContentType`` id-ct-TSTInfo and ``TSTInfo``:

* version 1; policy :data:`POLICY` (``trust.crypto.oids.POLICY["timestamping"]``); the request's
  ``messageImprint`` copied byte for byte;
* ``serialNumber``: 128 random bits (``secrets``), so two tokens never share a serial in practice (collision
  probability about 2^-64 after 2^32 tokens) without a shared counter between worker processes;
* ``genTime``: UTC, whole seconds (``YYYYMMDDhhmmssZ``), with ``accuracy`` of 1 second; ``ordering`` false
  (omitted, its DEFAULT); ``nonce`` echoed; ``tsa`` = the TSA certificate's subject as a ``directoryName``;
* signed attributes ``contentType``, ``messageDigest`` and ``signingCertificateV2`` (RFC 5816): one
  ``ESSCertIDv2`` with the hash of the TSA certificate and its ``issuerSerial``. **RSA tokens use SHA-256**
  (the DEFAULT, so ``hashAlgorithm`` is omitted); **SM2 tokens use SM3** so that an SM2 token rests on the
  national algorithms only — any verifier of the SM2 signature already has SM3, and OpenSSL and pyHanko
  both match SM3 ESSCertIDv2 values;
* certificates: the TSA certificate and its issuing CA (not the root) when ``certReq`` is true, none
  otherwise (clause 2.4.1).

A TSA never time-stamps outside its certificate's validity (:class:`~trust.crypto.errors.ConflictError`,
which the service answers with ``systemFailure``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from asn1crypto import cms, tsp, x509

from trust.crypto.algorithms import KeyFamily
from trust.crypto.errors import Code, ConflictError, InputError, InvalidSignature
from trust.crypto.signer import Signer
from trust.formats import cms as cms_mod
from trust.formats.tsp import (
    POLICY,
    TimeStampRejected,
    TimeStampRequest,
    check_tsa_certificate,
    ess_hash_for,
    granted,
    parse_request,
    rejection,
    signing_certificate_v2,
)

SERIAL_BITS: Final = 128
ACCURACY_SECONDS: Final = 1


def new_serial() -> int:
    while True:
        serial = secrets.randbits(SERIAL_BITS)
        if serial:
            return serial


@dataclass(frozen=True)
class TimeStampAuthority:
    """A TSA: its signer, its certificate and the issuer certificates it hands out. Immutable, thread-safe."""

    signer: Signer
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    policy: str = POLICY
    accuracy_seconds: int = ACCURACY_SECONDS
    include_tsa_name: bool = True
    # DER of what every token repeats. Each token loads fresh asn1crypto objects from these: asn1crypto
    # objects cache encodings as they are used (not thread-safe to share) and re-encode after fields are read.
    _cert_der: bytes = field(init=False, repr=False, compare=False)
    _chain_der: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    _ess_der: bytes = field(init=False, repr=False, compare=False)
    _tsa_name_der: bytes = field(init=False, repr=False, compare=False)
    _validity: tuple[datetime, datetime] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cert_der = bytes(self.certificate.dump())  # before any field is read (see above)
        fresh = x509.Certificate.load(cert_der)
        try:
            check_tsa_certificate(fresh)
        except InvalidSignature as exc:
            raise InputError(f"not a TSA certificate: {exc.message}", evidence=exc.evidence) from exc
        if self.signer.public_key.spki_der() != fresh["tbs_certificate"]["subject_public_key_info"].dump():
            raise InputError("the TSA signer's key is not the key of the TSA certificate", code=Code.KEY_MISMATCH)
        ess_hash = ess_hash_for(self.signer.public_key.family)
        object.__setattr__(self, "_cert_der", cert_der)
        object.__setattr__(self, "_chain_der", tuple(bytes(c.dump()) for c in self.chain))
        object.__setattr__(self, "_ess_der", bytes(signing_certificate_v2(fresh, ess_hash).dump()))
        name = x509.GeneralName(name="directory_name", value=fresh.subject)
        object.__setattr__(self, "_tsa_name_der", bytes(name.dump()))
        validity = fresh["tbs_certificate"]["validity"]
        object.__setattr__(self, "_validity", (validity["not_before"].native, validity["not_after"].native))

    @property
    def family(self) -> KeyFamily:
        return self.signer.public_key.family

    def tst_info(self, request: TimeStampRequest, *, gen_time: datetime, serial: int) -> tsp.TSTInfo:
        info: dict[str, Any] = {
            "version": "v1",
            "policy": self.policy,
            "message_imprint": tsp.MessageImprint.load(request.message_imprint),
            "serial_number": serial,
            "gen_time": gen_time.astimezone(UTC).replace(microsecond=0),
        }
        if self.accuracy_seconds:
            info["accuracy"] = {"seconds": self.accuracy_seconds}
        if request.nonce is not None:
            info["nonce"] = request.nonce
        if self.include_tsa_name:
            info["tsa"] = x509.GeneralName.load(self._tsa_name_der)
        return tsp.TSTInfo(info)

    def token(
        self, request: TimeStampRequest, *, gen_time: datetime | None = None, serial: int | None = None
    ) -> cms.ContentInfo:
        """The time-stamp token (CMS ContentInfo) answering ``request``."""
        moment = (gen_time or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        if not self._validity[0] <= moment <= self._validity[1]:
            raise ConflictError(
                "the TSA certificate is not valid at this time; it cannot time-stamp",
                evidence={"gen_time": moment.isoformat(), "not_after": self._validity[1].isoformat()},
            )
        tst = self.tst_info(request, gen_time=moment, serial=serial or new_serial())
        return cms_mod.sign(
            tst.dump(),
            self.signer,
            x509.Certificate.load(self._cert_der),
            content_type="tst_info",
            certificates=[x509.Certificate.load(d) for d in self._chain_der],
            attributes=[cms.CMSAttribute.load(self._ess_der)],
            include_certificates=request.cert_req,
        )

    def respond(self, request_der: bytes, *, gen_time: datetime | None = None) -> bytes:
        """A DER ``TimeStampResp`` for ``request_der``: granted with a token, or a rejection with its failInfo."""
        try:
            request = parse_request(request_der, policies=(self.policy,))
        except TimeStampRejected as exc:
            return rejection(exc.failure, exc.message)
        return granted(self.token(request, gen_time=gen_time))
