"""The CA's CRLs: the main CRL of a CA and the CRLs of its partitions (RFC 5280 clause 5; issue 15 item 3).

**Partitions.** Every end-entity certificate a CA issues belongs to a partition of :data:`SHARD_CAPACITY`
certificates, numbered from 1 in issuance order (``certificate.crl_shard``, from the CA's ``cert_count``), and names
that partition's CRL in its CRL distribution point (``<base>/crl/<ca id>/<n>.crl``) and the partition's delta CRL in
its freshest CRL extension (``<base>/crl/<ca id>/<n>.delta.crl``). The partition's CRL carries an issuing
distribution point naming the same URI, so it speaks for that partition only (clause 5.2.5), and a revocation
re-signs one partition: the stored CRL's encoded entries with the new entry appended (no entry is encoded again, no
row of another certificate is read). Its cost depends on the partition's size, never on the CA's.

**Delta CRLs** (clause 5.2.4). Each partition also has a delta CRL listing what was revoked since its *base*, the
partition CRL current when the delta was last re-based: a relying party that holds the base fetches only the delta.
Complete CRL and delta share the partition's numbers. A change other than a new entry (a hold released or made
permanent), a re-keying, the schedule's renewal (:func:`refresh_partitions`) or a delta of
:data:`DELTA_REBASE_ENTRIES` entries re-bases the partition: its CRL is rebuilt from the certificate rows (expired
certificates leave it) and its delta starts empty. The complete partition CRL is always current, so a verifier that
does not use deltas (the offline bundle, pyHanko, ``openssl verify -crl_check``) sees every revocation at once.

**The main CRL** (``<base>/crl/<ca id>.crl``, the ``crl`` table, its history kept) covers what no partition does:
certificates issued before partitions existed, the CA certificates a root issues, OCSP responder certificates. A
regional or departmental CA's main CRL names its own URI in an issuing distribution point too, so that no CRL of a
partitioned CA claims to cover everything (OpenSSL takes the first CRL in scope; a complete one would hide a
partition's revocations); a root's CRL stays complete.

**Retired keys.** As for the main CRL (:class:`ca.models.CaKeyHistory`), each partition CRL is also signed with every
retired key of the CA that still signs CRLs (:func:`retired_signing_keys`): OpenSSL requires a CRL whose authority key
identifier names the key that issued the certificate.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import text
from sqlmodel import Session, col, select

from ca.authority.cursor import Raw, supported
from ca.authority.hierarchy import key_history
from ca.authority.keys import algorithm_for, ca_signer
from ca.authority.records import CRL_VALIDITY, Endpoints, ca_certificate
from ca.models import CaKeyHistory, CertificateAuthority, CrlRecord, CrlShard, IssuedCertificate, now, utc
from trust.crypto.errors import NotFoundError
from trust.crypto.keystore import KeyStore
from trust.crypto.signer import Signer
from trust.formats import crl as crl_mod
from trust.formats import x509 as cx

SHARD_CAPACITY: Final = 2048
"""Certificates per CRL partition: a partition CRL holds at most this many entries (≈ 45 octets each)."""
DELTA_REBASE_ENTRIES: Final = 512
"""A delta CRL that would list more entries than this re-bases its partition instead."""
CURRENT_KEY: Final = ""


def delta_uri(uri: str) -> str:
    """Where a partition's delta CRL is: its CRL's URI with ``.delta.crl`` for ``.crl``."""
    return uri.removesuffix(".crl") + ".delta.crl"


def retired_signing_keys(session: Session, ca: CertificateAuthority, moment: datetime) -> list[CaKeyHistory]:
    """The retired keys of ``ca`` that still sign its CRLs: Huren holds the key, the retired CA certificate has not
    expired, and a certificate issued before that key was retired (by it) has not expired either."""
    result = []
    for retired in key_history(session, ca.id):
        if retired.key_id is None or utc(retired.not_after) <= moment:
            continue
        still_valid = session.exec(
            select(IssuedCertificate.id).where(
                IssuedCertificate.issuer_id == ca.id,
                col(IssuedCertificate.created_at) <= retired.retired_at,
                col(IssuedCertificate.not_after) > moment,
            )
        ).first()
        if still_valid is not None:
            result.append(retired)
    return result


def _signers(
    session: Session, keystore: KeyStore, ca: CertificateAuthority, moment: datetime
) -> list[tuple[str, asn1_x509.Certificate, Signer]]:
    """``(signer id, CA certificate, signer)``: the current key (id ``""``), then each retired key still signing."""
    signers = [(CURRENT_KEY, ca_certificate(ca), ca_signer(keystore, ca))]
    for retired in retired_signing_keys(session, ca, moment):
        assert retired.key_id is not None
        signers.append(
            (
                retired.serial,
                asn1_x509.Certificate.load(retired.cert_der),
                keystore.signer(retired.key_id, algorithm_for(ca.family)),
            )
        )
    return signers


def _revoked_entries(session: Session, ca_id: str, shard: int | None, moment: datetime) -> bytes:
    """The encoded entries of every revoked, unexpired certificate of one partition (``None``: the main CRL)."""
    rows = session.exec(
        select(IssuedCertificate.serial, IssuedCertificate.revoked_at, IssuedCertificate.revocation_reason)
        .where(
            IssuedCertificate.issuer_id == ca_id,
            IssuedCertificate.crl_shard == shard,
            IssuedCertificate.status == "revoked",
            col(IssuedCertificate.not_after) > moment,
        )
        .order_by(col(IssuedCertificate.id))
    ).all()
    return b"".join(
        crl_mod.encode_entry(crl_mod.Revoked(int(serial, 16), utc(at or moment), reason or "unspecified"))
        for serial, at, reason in rows
    )


def revoked_entries(session: Session, ca_id: str, shard: int | None, moment: datetime) -> bytes:
    """The encoded revoked-certificate entries of ``ca_id``'s main CRL (``shard`` ``None``) or of a partition: what
    an offline root's CRL request carries (``trust.service.ceremony``)."""
    return _revoked_entries(session, ca_id, shard, moment)


def entry_of(record: IssuedCertificate) -> bytes:
    """The encoded CRL entry of a revoked certificate."""
    assert record.revoked_at is not None
    return crl_mod.encode_entry(
        crl_mod.Revoked(int(record.serial, 16), utc(record.revoked_at), record.revocation_reason or "unspecified")
    )


def _count(entries: bytes) -> int:
    from asn1crypto import crl as asn1_crl

    return len(asn1_crl.RevokedCertificates(contents=entries)) if entries else 0


# --- the main CRL ----------------------------------------------------------------------------------------------


def generate_crl(
    session: Session,
    keystore: KeyStore,
    ca_id: str,
    *,
    endpoints: Endpoints,
    validity: timedelta = CRL_VALIDITY,
) -> CrlRecord:
    """A new main CRL for ``ca_id`` with the next CRL number (serialised by a row lock on the CA); for a regional,
    departmental or national operations CA it names its URI in an issuing distribution point (module docstring)."""
    ca = session.exec(select(CertificateAuthority).where(CertificateAuthority.id == ca_id).with_for_update()).first()
    if ca is None:
        raise NotFoundError(f"no CA {ca_id!r}")
    moment = now()
    entries = _revoked_entries(session, ca_id, None, moment)
    number = ca.crl_number + 1
    point = None if ca.kind == "root" else endpoints.crl(ca.id)
    der = b""
    for signer_id, cert, signer in _signers(session, keystore, ca, moment):
        # A retired key signs the same CRL (number, times, entries): its AKI names the key that issued the older
        # certificates, which OpenSSL requires of a CRL (without -extended_crl); pyhanko takes either.
        signed = crl_mod.build_crl(
            issuer=cert.subject,
            issuer_key=cx.public_key(cert),
            signer=signer,
            number=number,
            this_update=moment,
            next_update=moment + validity,
            entries=entries,
            distribution_point=point,
        ).dump()
        if signer_id == CURRENT_KEY:
            der = signed
            continue
        retired = session.exec(
            select(CaKeyHistory).where(CaKeyHistory.ca_id == ca.id, CaKeyHistory.serial == signer_id)
        ).one()
        retired.crl_der = signed
        retired.crl_number = number
        session.add(retired)
    ca.crl_number = number
    session.add(ca)
    record = CrlRecord(ca_id=ca_id, number=number, this_update=moment, next_update=moment + validity, der=der)
    session.add(record)
    session.flush()
    if ca.kind != "root":  # the partition in use and the next one have their CRLs from the CA's first day
        current = ca.cert_count // SHARD_CAPACITY + 1
        open_partitions(session, keystore, endpoints, ca, range(current, current + 2))
    return record


# --- partitions ------------------------------------------------------------------------------------------------


_COUNT_SQL: Final = (
    "UPDATE ca SET cert_count = cert_count + :n WHERE id = :id RETURNING cert_count - :n, status, serial, key_id"
)
_COUNT: Final = text(_COUNT_SQL)


def assign_partition(
    session: Session, keystore: KeyStore, endpoints: Endpoints, ca: CertificateAuthority
) -> tuple[int, str]:
    """The partition of the CA's next certificate and the URI of its CRL (:func:`assign_partitions` of one)."""
    return assign_partitions(session, keystore, endpoints, ca, 1)[0]


def assign_partitions(
    session: Session, keystore: KeyStore, endpoints: Endpoints, ca: CertificateAuthority, count: int
) -> list[tuple[int, str]]:
    """The partitions (and CRL URIs) of the CA's next ``count`` certificates, in order. The counter moves by
    ``count`` in one atomic ``UPDATE … RETURNING`` (a batch reserves its chunk's places at once; a place left unused by
    a request that fails only leaves its partition one certificate short of :data:`SHARD_CAPACITY`); the first
    certificate of a partition opens it with an empty CRL (signed now, so a verifier finds a CRL for every certificate
    from the moment it exists), and the partition after the last one is opened ahead."""
    if count < 1:
        return []
    first, _standing = reserve_places(session, ca.id, count)
    return places_from(session, keystore, endpoints, ca, first, count)


@dataclass(frozen=True)
class RowStanding:
    """What the CA row says under the lock the place counter takes: whether it still signs, and with which key."""

    status: str
    serial: str
    key_id: str | None


def reserve_places(session: Session, ca_id: str, count: int) -> tuple[int, RowStanding]:
    """Move the CA's certificate counter by ``count`` (one ``UPDATE … RETURNING``, which on PostgreSQL takes the CA
    row's lock and reads its latest committed version); the first place, and the row's status, serial and key as
    they stand under that lock (a revocation or re-key committed by another worker is seen here)."""
    connection = session.connection()
    if supported(connection):  # on the DB-API cursor (ca.authority.cursor): the statement of every issuance
        row = Raw(connection).one(_COUNT_SQL, {"id": ca_id, "n": count})
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL
        row = connection.execute(_COUNT, {"id": ca_id, "n": count}).first()
    if row is None:
        raise NotFoundError(f"no CA {ca_id!r}")
    return int(row[0]), RowStanding(str(row[1]), str(row[2]), row[3])


def places_from(
    session: Session, keystore: KeyStore, endpoints: Endpoints, ca: CertificateAuthority, first: int, count: int
) -> list[tuple[int, str]]:
    """The partitions (and CRL URIs) of places ``first`` … ``first + count - 1`` (:func:`reserve_places`), the
    partitions they open signed now (:func:`assign_partitions`)."""
    shards = [place // SHARD_CAPACITY + 1 for place in range(first, first + count)]
    wanted = range(shards[0], shards[-1] + 2)
    known = _known_partitions(session, ca.id)
    if not all(shard in known for shard in wanted):
        known = open_partitions(session, keystore, endpoints, ca, wanted)
    return [(shard, known[shard]) for shard in shards]


# engine -> CA id -> {partition: URI} of partitions seen committed (found by a query, never one opened in a
# transaction that may still roll back): partitions are never removed, so issuance skips the lookup for them.
_seen: weakref.WeakKeyDictionary[Any, dict[str, dict[int, str]]] = weakref.WeakKeyDictionary()
_seen_lock = threading.Lock()


def _known_partitions(session: Session, ca_id: str) -> dict[int, str]:
    with _seen_lock:
        return dict(_seen.get(session.get_bind(), {}).get(ca_id, {}))


def _remember(session: Session, ca_id: str, found: dict[int, str]) -> None:
    with _seen_lock:
        _seen.setdefault(session.get_bind(), {}).setdefault(ca_id, {}).update(found)


def open_partitions(
    session: Session, keystore: KeyStore, endpoints: Endpoints, ca: CertificateAuthority, shards: Iterable[int]
) -> dict[int, str]:
    """Make sure the given partitions of ``ca`` have a CRL (an empty one for a new partition); their URIs.

    The partition after the one in use is opened ahead: a bundle or CRL set taken now then already covers the
    certificates issued after it, up to :data:`SHARD_CAPACITY` of them (a verifier finds no CRL for a certificate
    whose partition did not exist when its revocation data was taken)."""
    wanted = sorted(set(shards))
    uris: dict[int, str] = dict(
        session.exec(
            select(CrlShard.shard, CrlShard.uri).where(
                CrlShard.ca_id == ca.id, CrlShard.signer == CURRENT_KEY, col(CrlShard.shard).in_(wanted)
            )
        ).all()
    )
    _remember(session, ca.id, uris)
    for shard in wanted:
        if shard not in uris:
            uri = endpoints.crl_partition(ca.id, shard)
            _sign_partition(session, keystore, ca, shard, uri=uri, previous=None, entries=b"", delta=b"", rebase=True)
            uris[shard] = uri
    return uris


def _sign_partition(
    session: Session,
    keystore: KeyStore,
    ca: CertificateAuthority,
    shard: int,
    *,
    uri: str,
    previous: CrlShard | None,
    entries: bytes,
    delta: bytes,
    rebase: bool,
    validity: timedelta = CRL_VALIDITY,
) -> CrlShard:
    """Sign the partition's complete CRL (``entries``) and its delta CRL (``delta``, or empty on ``rebase``) with
    every key that signs the CA's CRLs, and store them (one row per key, updated in place)."""
    moment = now()
    last = max(previous.number, previous.delta_number or 0) if previous is not None else 0
    number = last + 1
    base = number if rebase or previous is None or previous.delta_base is None else previous.delta_base
    if rebase:
        delta = b""
    stored: CrlShard | None = None
    for signer_id, cert, signer in _signers(session, keystore, ca, moment):

        def build(crl_number: int, body: bytes, delta_base: int | None, cert: asn1_x509.Certificate = cert) -> bytes:
            return bytes(
                crl_mod.build_crl(
                    issuer=cert.subject,
                    issuer_key=cx.public_key(cert),
                    signer=signer,  # noqa: B023 - called in this iteration only
                    number=crl_number,
                    this_update=moment,
                    next_update=moment + validity,
                    entries=body,
                    distribution_point=uri,
                    delta_base=delta_base,
                ).dump()
            )

        complete = build(number, entries, None)
        delta_der = build(number + 1, delta, base)
        row = session.get(CrlShard, (ca.id, shard, signer_id))
        if row is None:
            row = CrlShard(
                ca_id=ca.id, shard=shard, signer=signer_id, uri=uri, number=number, this_update=moment,
                next_update=moment + validity, der=complete,
            )  # fmt: skip
        row.number, row.this_update, row.next_update, row.der = number, moment, moment + validity, complete
        row.delta_base, row.delta_number, row.delta_der = base, number + 1, delta_der
        session.add(row)
        if signer_id == CURRENT_KEY:
            stored = row
    session.flush()
    assert stored is not None
    return stored


def _locked_partition(session: Session, ca_id: str, shard: int) -> CrlShard:
    row = session.exec(
        select(CrlShard)
        .where(CrlShard.ca_id == ca_id, CrlShard.shard == shard, CrlShard.signer == CURRENT_KEY)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"CA {ca_id} has no CRL partition {shard}")
    return row


def add_to_partition(session: Session, keystore: KeyStore, record: IssuedCertificate) -> CrlShard:
    """Re-sign the partition of a newly revoked certificate with its entry appended (and appended to the delta,
    unless that makes the delta longer than :data:`DELTA_REBASE_ENTRIES`: then the partition is re-based)."""
    assert record.crl_shard is not None
    current = _locked_partition(session, record.issuer_id, record.crl_shard)
    ca = session.get(CertificateAuthority, record.issuer_id)
    assert ca is not None
    entry = entry_of(record)
    delta = crl_mod.entries_of(current.delta_der) + entry if current.delta_der is not None else entry
    rebase = current.delta_der is None or _count(delta) > DELTA_REBASE_ENTRIES
    return _sign_partition(
        session,
        keystore,
        ca,
        record.crl_shard,
        uri=current.uri,
        previous=current,
        entries=crl_mod.entries_of(current.der) + entry,
        delta=delta,
        rebase=rebase,
    )


def rebuild_partition(session: Session, keystore: KeyStore, ca: CertificateAuthority, shard: int) -> CrlShard:
    """Re-base a partition: its CRL rebuilt from the certificate rows (expired ones left out), its delta empty."""
    current = _locked_partition(session, ca.id, shard)
    entries = _revoked_entries(session, ca.id, shard, now())
    return _sign_partition(
        session, keystore, ca, shard, uri=current.uri, previous=current, entries=entries, delta=b"", rebase=True
    )


def partitions(session: Session, ca_id: str, *, signer: str | None = CURRENT_KEY) -> list[CrlShard]:
    """The CA's partition CRLs (signed with the current key, with one retired key, or with every key: ``None``)."""
    query = select(CrlShard).where(CrlShard.ca_id == ca_id)
    if signer is not None:
        query = query.where(CrlShard.signer == signer)
    return list(session.exec(query.order_by(col(CrlShard.shard), col(CrlShard.signer))).all())


def refresh_partitions(
    session: Session, keystore: KeyStore, ca: CertificateAuthority, *, within: timedelta | None = None
) -> list[int]:
    """Re-base every partition of ``ca`` whose CRL expires within ``within`` (every one: ``None``; after a
    re-keying, so that the new key signs them); returns their numbers."""
    done = []
    for row in partitions(session, ca.id):
        if within is None or utc(row.next_update) - now() < within:
            rebuild_partition(session, keystore, ca, row.shard)
            done.append(row.shard)
    return done


def covering_crl(session: Session, record: IssuedCertificate) -> bytes:
    """The current CRL that covers an issued certificate: its partition's, or its CA's main CRL."""
    if record.crl_shard is not None:
        row = session.get(CrlShard, (record.issuer_id, record.crl_shard, CURRENT_KEY))
        if row is not None:
            return row.der
    return main_crl(session, record.issuer_id).der


def main_crl(session: Session, ca_id: str) -> CrlRecord:
    record = session.exec(
        select(CrlRecord).where(CrlRecord.ca_id == ca_id).order_by(col(CrlRecord.number).desc())
    ).first()
    if record is None:
        raise NotFoundError(f"CA {ca_id} has not published a CRL yet")
    return record


def current_crls(session: Session, ca: CertificateAuthority) -> list[bytes]:
    """Every current CRL of ``ca``: its main CRL and the copies signed with retired keys, then every partition CRL
    (with every key) — what the offline bundle carries."""
    result = []
    record = session.exec(
        select(CrlRecord).where(CrlRecord.ca_id == ca.id).order_by(col(CrlRecord.number).desc())
    ).first()
    if record is not None:
        result.append(record.der)
        result.extend(
            h.crl_der
            for h in key_history(session, ca.id)
            if h.crl_der is not None and h.crl_number == ca.crl_number and ca.crl_number > 0
        )
    result.extend(row.der for row in partitions(session, ca.id, signer=None))
    return result
