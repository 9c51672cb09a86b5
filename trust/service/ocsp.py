"""The OCSP responder (RFC 6960): answers status requests about certificates of the sub-CAs.

Each regional, departmental and national operations CA whose key Huren holds has a delegated responder
certificate (``ca.authority.ensure_ocsp_responder``: ``id-kp-OCSPSigning``, ``id-pkix-ocsp-nocheck``); its
responses are signed with that key, in the CA's family (SM2 with SM3, or sha256WithRSAEncryption). Roots
answer by CRL only: a CertID naming a root as issuer is not ours to answer.

Decisions:

* **Which CA.** A CertID names its CA by ``issuerNameHash`` (hash of the DER subject name) and
  ``issuerKeyHash`` (hash of the subjectPublicKey BIT STRING value) in the CertID's own hash algorithm
  (SHA-1, SHA-256, SHA-384, SHA-512 or SM3). The certificate is then looked up by serial under that CA.
* **Unknown issuer → ``unauthorized``** for the whole request (RFC 6960 clause 2.3: the responder is not
  authoritative). A CertID with a hash algorithm we do not compute counts as an unknown issuer.
* **Several CAs in one request → ``unauthorized``** for the whole request, also when some CertIDs name a
  known CA. A response is signed by one delegated responder, and a delegated responder is authorised for
  its own CA only (clause 4.2.2.2); a response mixing CAs would not verify (OpenSSL's ``OCSP_basic_verify``
  accepts a delegated responder only when every CertID names the same issuer), and answering ``unknown``
  for the foreign CertIDs would claim authority we do not have. Clients send one request per issuer (OpenSSL and
  pyhanko-certvalidator send one CertID per request anyway).
* **Serial unknown under a known CA → ``unknown``** (clause 2.2); we do not use the extended-revoke
  extension. Expired certificates keep their recorded status (``good`` or ``revoked``).
* **Times.** ``producedAt`` = ``thisUpdate`` = now (whole seconds, so never after the relying party's now),
  ``nextUpdate`` = now + :data:`VALIDITY` (one hour): the status is read from the database at every request,
  so it is current when signed; one hour bounds how long a cached ``good`` survives a revocation, as short
  as a CRL-less relying party can tolerate without hammering the responder. HTTP GET answers are cacheable
  for exactly that long (``trust.http.routes.ocsp``).
* **Errors never escape.** A request refused by :func:`trust.formats.ocsp.parse_request` → ``malformedRequest``; the
  database unavailable or locked, or the responder certificate expired (not renewed yet) → ``tryLater``;
  anything else → ``internalError`` (logged with its diagnostics, never in the response).
* **The CA's state.** The answer does not depend on the CA's ``status``: a suspended or withdrawn CA's
  certificates are still reported as recorded; relying parties learn about the CA itself from the root's
  CRL.

Performance: per instance, an in-process cache keeps each CA's responder (its :class:`Signer`, parsed
responder certificate, precomputed responder key hash) and an index from ``(hash algorithm, name hash, key
hash)`` to the CA. A request costs **one** database query: the CA row's current ``ocsp_key_id`` joined with
the asked-for certificate rows, so a renewed responder is picked up at once. A CertID that misses the index
costs one more small query (CA ids and responder key ids) before the answer ``unauthorized``, so a CA
enrolled by another worker is found on its first request.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import and_, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from ca.authority import algorithm_for
from ca.models import CertificateAuthority, IssuedCertificate, now, utc
from trust import db
from trust.crypto.errors import InputError, TrustError, UnavailableError
from trust.crypto.signer import Signer
from trust.formats import ocsp as ocsp_mod
from trust.formats import x509 as cx
from trust.service.instance import Instance

log = logging.getLogger("trust.ocsp")

VALIDITY: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Answer:
    """The DER OCSPResponse and what the HTTP layer needs to label it."""

    der: bytes
    status: str  # successful | malformed_request | internal_error | try_later | unauthorized
    produced_at: datetime | None = None
    next_update: datetime | None = None
    has_nonce: bool = False

    @property
    def cacheable(self) -> bool:
        """A successful answer to a request without a nonce may be cached until ``nextUpdate``."""
        return self.status == "successful" and not self.has_nonce and self.next_update is not None


def _error(status: str) -> Answer:
    return Answer(ocsp_mod.error_response(status), status)


@dataclass(frozen=True)
class _Responder:
    ca_id: str
    ocsp_key_id: str
    signer: Signer
    certificate: asn1_x509.Certificate
    key_hash: bytes
    not_after: datetime


@dataclass(frozen=True)
class _State:
    """One consistent snapshot: readers take ``cache.state`` once; a refresh replaces it whole."""

    responders: Mapping[str, _Responder] = field(default_factory=dict)
    index: Mapping[tuple[str, bytes, bytes], str] = field(default_factory=dict)


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)  # serialises refreshes, not readers
    state: _State = field(default_factory=_State)


_caches: weakref.WeakKeyDictionary[Instance, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(instance: Instance) -> _Cache:
    cache = _caches.get(instance)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(instance, _Cache())
    return cache


def _index_keys(ca_cert: asn1_x509.Certificate) -> list[tuple[str, bytes, bytes]]:
    keys = []
    for algorithm in ocsp_mod.CERT_ID_HASHES:
        name_hash, key_hash = ocsp_mod.issuer_hashes(ca_cert, algorithm)
        keys.append((algorithm, name_hash, key_hash))
    return keys


def _load_responder(instance: Instance, ca: CertificateAuthority) -> _Responder:
    """The responder of ``ca`` from its row; refuses a key store key that does not match the certificate."""
    assert ca.ocsp_key_id is not None and ca.ocsp_cert_der is not None
    certificate = cx.load_certificate(ca.ocsp_cert_der)
    signer = instance.keystore.signer(ca.ocsp_key_id, algorithm_for(ca.family))
    if signer.public_key != cx.public_key(certificate):
        raise TrustError(f"CA {ca.id}: the OCSP key {ca.ocsp_key_id} does not match the responder certificate")
    return _Responder(
        ca_id=ca.id,
        ocsp_key_id=ca.ocsp_key_id,
        signer=signer,
        certificate=certificate,
        key_hash=ocsp_mod.responder_key_hash(certificate),
        not_after=utc(certificate["tbs_certificate"]["validity"]["not_after"].native),
    )


def _refresh(instance: Instance, cache: _Cache) -> _State:
    """Bring the snapshot up to date with the CA table (new CAs, renewed or removed responders)."""
    with cache.lock, Session(instance.engine) as session:
        state = cache.state
        current = {
            ca_id: key_id
            for ca_id, key_id in session.exec(
                select(CertificateAuthority.id, CertificateAuthority.ocsp_key_id).where(
                    CertificateAuthority.kind != "root",
                    col(CertificateAuthority.ocsp_key_id).is_not(None),
                )
            )
        }
        known = {ca_id: r.ocsp_key_id for ca_id, r in state.responders.items()}
        if current == known:
            return state
        changed = [ca_id for ca_id, key_id in current.items() if known.get(ca_id) != key_id]
        responders = {ca_id: r for ca_id, r in state.responders.items() if current.get(ca_id) == r.ocsp_key_id}
        index = {key: ca_id for key, ca_id in state.index.items() if ca_id in responders}
        for ca in session.exec(select(CertificateAuthority).where(col(CertificateAuthority.id).in_(changed))):
            if ca.ocsp_key_id is None or ca.ocsp_cert_der is None:
                continue
            responders[ca.id] = _load_responder(instance, ca)
            index.update((key, ca.id) for key in _index_keys(cx.load_certificate(ca.cert_der)))
        cache.state = state = _State(responders, index)
        return state


def _resolve(state: _State, cert_ids: Sequence[ocsp_mod.CertId]) -> tuple[set[str], bool]:
    """The CAs the CertIDs name, and whether any CertID named no known CA."""
    cas: set[str] = set()
    missing = False
    for cert_id in cert_ids:
        ca_id = state.index.get((cert_id.hash_algorithm, cert_id.issuer_name_hash, cert_id.issuer_key_hash))
        if ca_id is None:
            missing = True
        else:
            cas.add(ca_id)
    return cas, missing


def _statuses(
    cert_ids: Sequence[ocsp_mod.CertId], rows: dict[str, tuple[str, datetime | None, str | None]]
) -> list[ocsp_mod.CertStatus]:
    result = []
    for cert_id in cert_ids:
        row = rows.get(cx.serial_hex(cert_id.serial)) if cert_id.serial > 0 else None
        if row is None:
            result.append(ocsp_mod.CertStatus(cert_id, "unknown"))
        elif row[0] == "revoked":
            revoked_at = utc(row[1]) if row[1] is not None else None
            if revoked_at is None:
                raise TrustError(f"certificate {cx.serial_hex(cert_id.serial)} is revoked without a time")
            result.append(ocsp_mod.CertStatus(cert_id, "revoked", revoked_at, row[2] or "unspecified"))
        else:
            result.append(ocsp_mod.CertStatus(cert_id, "good"))
    return result


# The one query of a request: the CA's current responder key id, and the asked-for certificates of that CA.
_STATUS_QUERY: Final = (
    sa_select(
        col(CertificateAuthority.ocsp_key_id),
        col(IssuedCertificate.serial),
        col(IssuedCertificate.status),
        col(IssuedCertificate.revoked_at),
        col(IssuedCertificate.revocation_reason),
    )
    .select_from(CertificateAuthority)
    .outerjoin(
        IssuedCertificate,
        and_(
            col(IssuedCertificate.issuer_id) == CertificateAuthority.id,
            col(IssuedCertificate.serial).in_(bindparam("serials", expanding=True)),
        ),
    )
    .where(col(CertificateAuthority.id) == bindparam("ca_id"))
)


def _answer(instance: Instance, request: ocsp_mod.OCSPRequest) -> Answer:
    cache = _cache(instance)
    state = cache.state
    cas, missing = _resolve(state, request.cert_ids)
    if missing:
        state = _refresh(instance, cache)
        cas, missing = _resolve(state, request.cert_ids)
    if missing or len(cas) != 1:
        return _error("unauthorized")
    (ca_id,) = cas
    serials = sorted({cx.serial_hex(c.serial) for c in request.cert_ids if c.serial > 0})
    with instance.engine.connect().execution_options(**{db.READ_ONLY: True}) as conn:
        result = conn.execute(_STATUS_QUERY, {"ca_id": ca_id, "serials": serials}).all()
    if not result or result[0][0] is None:
        return _error("unauthorized")  # the CA or its responder went away since the snapshot was taken
    responder = state.responders.get(ca_id)
    if responder is None or responder.ocsp_key_id != result[0][0]:
        responder = _refresh(instance, cache).responders.get(ca_id)  # the responder was renewed
        if responder is None or responder.ocsp_key_id != result[0][0]:
            return _error("try_later")  # renewed again meanwhile: let the client retry
    moment = now()
    if responder.not_after <= moment:
        log.error("OCSP responder certificate of CA %s expired at %s; renew it", ca_id, responder.not_after)
        return _error("try_later")
    rows = {row[1]: (row[2], row[3], row[4]) for row in result if row[1] is not None}
    statuses = _statuses(request.cert_ids, rows)
    next_update = moment + VALIDITY
    der = ocsp_mod.build_response(
        signer=responder.signer,
        responder_cert=responder.certificate,
        statuses=statuses,
        produced_at=moment,
        this_update=moment,
        next_update=next_update,
        nonce=request.nonce,
        responder_id=responder.key_hash,
    )
    return Answer(der, "successful", moment, next_update, request.nonce is not None)


def answer(instance: Instance, request_der: bytes) -> Answer:
    """Answer one DER OCSPRequest. Never raises: every failure is an OCSPResponse with an error status."""
    try:
        request = ocsp_mod.parse_request(request_der)
    except InputError as exc:
        log.debug("malformed OCSP request: %s", exc.diagnostics())
        return _error("malformed_request")
    try:
        return _answer(instance, request)
    except (OperationalError, PoolTimeout, UnavailableError) as exc:
        log.warning("OCSP request deferred, storage unavailable: %s", type(exc).__name__)
        return _error("try_later")
    except TrustError as exc:
        log.error("OCSP request failed: %s", exc.diagnostics())
        return _error("internal_error")
    except Exception:  # an OCSP client must get an OCSPResponse, never a crash
        log.exception("OCSP request failed unexpectedly")
        return _error("internal_error")


def answer_get(instance: Instance, encoded: str) -> Answer:
    """Answer the request of an HTTP GET (RFC 6960 appendix A.1), given the percent-decoded path part."""
    try:
        request_der = ocsp_mod.decode_get_path(encoded)
    except InputError:
        return _error("malformed_request")
    return answer(instance, request_der)


def respond(instance: Instance, request_der: bytes) -> bytes:
    """The DER OCSPResponse for a DER OCSPRequest (see :func:`answer`)."""
    return answer(instance, request_der).der


def error_answer(status: str) -> Answer:
    """An error answer without looking at a request (e.g. a body over the size limit)."""
    return _error(status)


__all__ = ["VALIDITY", "Answer", "answer", "answer_get", "error_answer", "respond"]
