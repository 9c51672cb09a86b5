"""RFC 3161 time-stamping service: the TSA certificates under the national operations CAs, and time-stamps.

* :func:`ensure_tsa_certificates` (called by ``trust init`` inside its transaction, idempotent) issues one
  SM2 and one RSA certificate of profile ``timestamping`` under ``national-sm2`` / ``national-rsa`` when
  the family has no current TSA certificate, or when the current one is revoked or expires within
  :data:`RENEW_BEFORE`. The key stays in the key store (``certificate.key_id``). Which certificate is
  current is recorded in ``service_meta`` (migration 0001) under ``tsa.current.<family>`` = its serial;
  a renewal simply points the key at the new serial, the old certificate stays valid for old tokens.
* :func:`timestamp` answers a DER ``TimeStampReq`` with a DER ``TimeStampResp`` — always: a refused request
  gets ``rejection`` with its failInfo, and any failure of the service itself (no TSA certificate, key store
  unavailable, database down) gets ``rejection`` / ``systemFailure``; it never raises for a request.
* The TSA (signer, certificate, chain — :class:`ca.tsa.TimeStampAuthority`) is cached per :class:`Instance`
  and re-read from the database every :data:`REFRESH_SECONDS`, so a renewal or revocation takes effect
  within that time in every worker without a database query per time-stamp.
* Time-stamps are not recorded one by one: serial numbers are 128 random bits (``trust.formats.tsp``), unique without
  a shared counter, and a row per token would cost a write (an fsync on SQLite) per request.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import sqlalchemy as sa
from asn1crypto import x509
from sqlmodel import Session, select

from ca import authority
from ca.authority import Endpoints, Issued
from ca.models import IssuedCertificate, now, utc
from ca.profiles import profile
from ca.tsa import TimeStampAuthority
from trust import db
from trust.crypto.errors import ConflictError, InputError, NotFoundError, TrustError
from trust.crypto.keystore import KeyStore
from trust.formats import tsp as tsa_mod
from trust.formats.names import DN
from trust.service.instance import Instance

log = logging.getLogger("trust.tsa")

FAMILIES: Final = ("SM2", "RSA")
NATIONAL_CA: Final = {"SM2": "national-sm2", "RSA": "national-rsa"}
TSA_ORGANIZATION: Final = "国家政务服务平台"
TSA_NAMES: Final = {"SM2": "互认时间戳服务 (SM2)", "RSA": "互认时间戳服务 (RSA)"}
RENEW_BEFORE: Final = timedelta(days=365)
REFRESH_SECONDS: Final = 60.0

_meta = sa.table("service_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def meta_key(family: str) -> str:
    return f"tsa.current.{family}"


def _get_meta(session: Session, key: str) -> str | None:
    row = session.execute(sa.select(_meta.c.value).where(_meta.c.key == key)).first()
    return str(row[0]) if row is not None else None


def _set_meta(session: Session, key: str, value: str) -> None:
    if _get_meta(session, key) is None:
        session.execute(sa.insert(_meta).values(key=key, value=value))
    else:
        session.execute(sa.update(_meta).where(_meta.c.key == key).values(value=value))


def set_current(session: Session, family: str, serial: str) -> None:
    """Make certificate ``serial`` the current TSA certificate of ``family`` (a re-key: ``trust keys rekey tsa``)."""
    _set_meta(session, meta_key(family), serial)
    session.flush()


def current_record(session: Session, family: str) -> IssuedCertificate | None:
    """The current TSA certificate row of ``family``, or ``None`` if there is none."""
    serial = _get_meta(session, meta_key(family))
    if serial is None:
        return None
    return session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == serial)).first()


def _usable(record: IssuedCertificate | None, *, margin: timedelta) -> bool:
    return (
        record is not None
        and record.status == "valid"
        and record.key_id is not None
        and record.profile == "timestamping"
        and utc(record.not_after) - now() > margin
    )


def ensure_tsa_certificates(session: Session, keystore: KeyStore, endpoints: Endpoints) -> list[Issued]:
    """Issue the SM2 and RSA TSA certificates if the instance has none (or only revoked or expiring ones).

    Idempotent. Runs in the caller's transaction; returns what it issued so the caller can discard the new
    keys if that transaction fails (``Issued.cleanups``)."""
    issued: list[Issued] = []
    for family in FAMILIES:
        if _usable(current_record(session, family), margin=RENEW_BEFORE):
            continue
        done = authority.issue(
            session,
            keystore,
            endpoints,
            ca_id=NATIONAL_CA[family],
            profile=profile("timestamping"),
            subject=DN(organization=TSA_ORGANIZATION, common_name=TSA_NAMES[family]),
            key_family=family,
        )
        _set_meta(session, meta_key(family), done.record.serial)
        session.flush()
        issued.append(done)
        log.info("issued TSA certificate %s (%s)", done.record.serial, family)
    return issued


def ensure(instance: Instance) -> list[IssuedCertificate]:
    """:func:`ensure_tsa_certificates` in its own transaction (for instances initialised before the TSA, and
    for a renewal schedule). Drops the cached TSA so the new certificate is used at once."""
    from trust.service.ca import endpoints, transaction

    instance.prepare_storage()
    with transaction(instance) as (session, issued):
        done = ensure_tsa_certificates(session, instance.keystore, endpoints(instance))
        issued.extend(done)
    invalidate(instance)
    return [d.record for d in done]


# --- time-stamps -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    tsa: TimeStampAuthority | None
    error: str | None
    loaded: float


_cache: weakref.WeakKeyDictionary[Instance, dict[str, _Entry]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def invalidate(instance: Instance) -> None:
    """Drop the cached TSAs of ``instance`` (after a revocation or renewal), so the next request re-reads them."""
    with _lock:
        _cache.pop(instance, None)


def _load(instance: Instance, family: str) -> TimeStampAuthority:
    with db.session_scope(instance.engine) as session:
        record = current_record(session, family)
        if record is None:
            raise NotFoundError(f"this instance has no {family} TSA certificate (trust init issues one)")
        if not _usable(record, margin=timedelta(0)):
            raise ConflictError(f"the {family} TSA certificate {record.serial} is {record.status} or expired")
        assert record.key_id is not None
        certificate = x509.Certificate.load(record.der)
        chain = authority.chain_for_certificate(session, certificate, record.issuer_id)  # its CA may be re-keyed
    signer = instance.keystore.signer(record.key_id, authority.algorithm_for(family))
    # Hand out the issuing CA with the TSA certificate, not the root (relying parties hold the roots).
    return TimeStampAuthority(signer=signer, certificate=certificate, chain=tuple(chain[:-1]))


class TsaUnavailable(ConflictError):
    """The TSA of a family cannot serve (no current certificate, revoked or expired, key store failure)."""


def authority_for(instance: Instance, family: str) -> TimeStampAuthority:
    """The cached TSA of ``family`` (re-read every :data:`REFRESH_SECONDS`); :class:`TsaUnavailable` if it
    cannot serve — the reason is logged once per refresh, not once per request."""
    clock = time.monotonic()
    with _lock:
        entry = _cache.get(instance, {}).get(family)
    if entry is None or clock - entry.loaded > REFRESH_SECONDS:
        try:
            entry = _Entry(_load(instance, family), None, clock)
        except TrustError as exc:
            log.error("the %s TSA cannot serve: %s", family, exc.diagnostics())
            entry = _Entry(None, exc.message, clock)
        except Exception as exc:  # database or key store down: remember it too, so requests stay cheap
            log.exception("the %s TSA cannot be loaded", family)
            entry = _Entry(None, type(exc).__name__, clock)
        with _lock:
            _cache.setdefault(instance, {})[family] = entry
    if entry.tsa is None:
        raise TsaUnavailable(entry.error or f"the {family} TSA is not available")
    return entry.tsa


def timestamp(instance: Instance, request_der: bytes, family: str = "RSA") -> bytes:
    """A DER ``TimeStampResp`` answering ``request_der`` with the ``family`` TSA (SM2 or RSA).

    Never raises for a request: refusals and service failures come back as ``rejection`` responses with
    their failInfo. Raises :class:`InputError` only for an unknown ``family`` (a programming error)."""
    family = family.upper()
    if family not in FAMILIES:
        raise InputError(f"time-stamping family must be SM2 or RSA, not {family!r}")
    try:
        request = tsa_mod.parse_request(request_der)
    except tsa_mod.TimeStampRejected as exc:
        return tsa_mod.rejection(exc.failure, exc.message)
    try:
        tsa = authority_for(instance, family)
        return tsa_mod.granted(tsa.token(request))
    except TsaUnavailable:
        pass  # logged when the TSA was (re)loaded
    except TrustError as exc:
        log.error("%s time-stamp failed: %s", family, exc.diagnostics())
    except Exception:  # a time-stamp client must get a TimeStampResp, never a stack trace or a 5xx
        log.exception("%s time-stamp failed", family)
    return tsa_mod.rejection(tsa_mod.Failure.SYSTEM_FAILURE, "the time-stamping service is unavailable; try later")


def oversized(size: int | None) -> bytes:
    """The ``rejection`` / ``badRequest`` answer to a query larger than ``trust.formats.tsp.MAX_REQUEST_BYTES``."""
    told = f"of {size} bytes " if size is not None else ""
    return tsa_mod.rejection(tsa_mod.Failure.BAD_REQUEST, f"request {told}exceeds {tsa_mod.MAX_REQUEST_BYTES} bytes")
