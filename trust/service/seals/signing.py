"""GB/T 38540 signatures (``SES_Signature``) for regional systems: sign a document hash with a Huren seal.

A regional system that builds OFD (or any other format) itself sends the SM3 digest of what it protects (or the
data) and ``propertyInfo``; :func:`sign_hash` answers with a DER ``SES_Signature`` (:mod:`seal.signature`):

1. the inputs are checked first (exactly one of data / a 32-byte SM3 digest; propertyInfo printable ASCII);
2. the seal must exist and be usable now (``active`` and inside its window, :func:`seal.registry.is_usable`), its
   issuing CA must be in good standing in the trust registry, and its SM2 signer certificate must be ``valid``
   (not revoked) with its key in the key store;
3. the seal holder's SM2 key signs ``DER(TBS_Sign)`` (``timeInfo`` = now);
4. with ``timestamp`` (the default) the national SM2 TSA time-stamps the signature value (SM3 imprint, nonce
   checked); a TSA that cannot serve is an :class:`UnavailableError`, never a signature without its time-stamp.

Nothing is stored: a refused request leaves no trace, and a signature is a pure function of the seal, the key and
the request (the seal registry already records which seal may sign).
"""

from __future__ import annotations

import logging
import secrets

from ca import authority
from seal import registry
from seal import signature as ses_signature
from trust import db
from trust.crypto.algorithms import SM2_SM3, digest
from trust.crypto.errors import ConflictError, NotFoundError, TrustError, UnavailableError
from trust.crypto.signer import Signer
from trust.formats import tsp as tsa_mod
from trust.service import trust as trust_registry
from trust.service import tsa as tsa_service
from trust.service.instance import Instance

log = logging.getLogger("trust.signing")

parse_data_hash = ses_signature.parse_data_hash
"""The SM3 ``data_hash`` as hex text -> bytes for :func:`sign_hash`; the CLI and the HTTP route both parse with it."""


def sign_hash(
    instance: Instance,
    *,
    es_id: str,
    data_hash: bytes | None = None,
    data: bytes | None = None,
    property_info: str,
    timestamp: bool = True,
) -> bytes:
    """A DER ``SES_Signature`` by seal ``es_id`` over ``data`` or its SM3 ``data_hash`` (module docstring).

    :class:`InputError` for bad input, :class:`NotFoundError` for an unknown seal, :class:`ConflictError` for a seal
    that may not sign now (suspended, revoked, outside its window, revoked certificate, issuer not in good
    standing), :class:`UnavailableError` when the time-stamp cannot be had."""
    hashed = ses_signature.document_digest(data=data, data_hash=data_hash)
    ses_signature.check_property_info(property_info)
    seal_der, signer, cert_der = seal_signer(instance, es_id)
    result = ses_signature.sign(
        seal=seal_der,
        signer=signer,
        signer_cert=cert_der,
        property_info=property_info,
        data_hash=hashed,
        timestamper=_timestamper(instance) if timestamp else None,
    )
    log.info("SES signature by seal %s over %s (%s)", es_id, hashed.hex(), property_info[:80])
    return result


def seal_signer(instance: Instance, es_id: str) -> tuple[bytes, Signer, bytes]:
    """``(seal DER, the holder's SM2 signer, its certificate DER)`` of a seal that may sign now (step 2 of the module
    docstring): usable, its CA in good standing, its SM2 certificate valid and its key in the key store."""
    with db.session_scope(instance.engine, read_only=True) as session:
        record = registry.get_seal(session, es_id)
        registry.is_usable(record)
        trust_registry.check_standing(session, authority.get_ca(session, record.issuer_ca_id))
        keys = registry.signer_key_ids(session, record)
        if "SM2" not in keys:
            raise NotFoundError(f"seal {es_id} has no SM2 signer key in this instance's key store")
        key_id, cert_der = keys["SM2"]
        assert record.sm2_cert_serial is not None
        cert = authority.find_certificate(session, record.sm2_cert_serial)
        if cert.status != "valid":
            raise ConflictError(f"the SM2 certificate {cert.serial} of seal {es_id} is {cert.status}")
        seal_der = record.seal_der
    return seal_der, instance.keystore.signer(key_id, SM2_SM3), cert_der


def timestamper(instance: Instance) -> ses_signature.Timestamper:
    """Time-stamps of GB/T 38540 signature values from this instance's SM2 TSA."""
    return _timestamper(instance)


def _timestamper(instance: Instance) -> ses_signature.Timestamper:
    """Time-stamps from this instance's SM2 TSA (SM3 imprint, with a nonce), checked before use."""

    def stamp(value: bytes) -> bytes:
        nonce = secrets.randbits(64)
        request = tsa_mod.build_request(hash_algorithm="sm3", message_digest=digest("sm3", value), nonce=nonce)
        response = tsa_service.timestamp(instance, request, "SM2")
        try:
            tsa_mod.verify_response(response, message=value, nonce=nonce)
            return ses_signature.time_stamp_token(response)
        except TrustError as exc:
            raise UnavailableError(
                f"the SM2 time-stamping service could not time-stamp the signature: {exc.message}"
            ) from exc

    return stamp
