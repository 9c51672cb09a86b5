"""The CA's records: validity constants, CA rows and their certificates, where relying parties fetch status
(:class:`Endpoints`), the result of an issuance (:class:`Issued`) and fresh random serials."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from ca.models import CertificateAuthority, IssuedCertificate
from trust.crypto.errors import NotFoundError

ROOT_VALIDITY: Final = timedelta(days=20 * 365)


SUB_CA_VALIDITY: Final = timedelta(days=10 * 365)


CRL_VALIDITY: Final = timedelta(days=7)


BACKDATE: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class Endpoints:
    """Where relying parties fetch CRLs, OCSP and issuer certificates (written into certificates)."""

    base_url: str

    def crl(self, ca_id: str) -> str:
        """The CA's main CRL (certificates issued before CRL partitions, CA and OCSP responder certificates)."""
        return f"{self.base_url}/crl/{ca_id}.crl"

    def crl_partition(self, ca_id: str, shard: int) -> str:
        """The CRL of one partition of the CA's certificates (:mod:`ca.authority.crls`)."""
        return f"{self.base_url}/crl/{ca_id}/{shard}.crl"

    def ca_cert(self, ca_id: str) -> str:
        return f"{self.base_url}/ca/{ca_id}.cer"

    def ocsp(self) -> str:
        return f"{self.base_url}/ocsp"


@dataclass
class Issued:
    """Result of an issuance: the stored row, the certificate, and cleanups to run if the commit fails."""

    record: IssuedCertificate
    certificate: asn1_x509.Certificate
    cleanups: list[Callable[[], None]] = field(default_factory=list)


def new_serial() -> int:
    """159 random bits (20 DER octets at most, RFC 5280 clause 4.1.2.2; far above the 64 bits CA/B asks)."""
    while True:
        serial = secrets.randbits(159)
        if serial >= 1 << 64:
            return serial


def get_ca(session: Session, ca_id: str) -> CertificateAuthority:
    ca = session.get(CertificateAuthority, ca_id)
    if ca is None:
        raise NotFoundError(f"no CA {ca_id!r}")
    return ca


def load_ca(session: Session, ca_id: str) -> CertificateAuthority:
    """:func:`get_ca` for a transaction's first read of the CA, with a statement built once: ``Session.get`` builds
    its query on every miss (~2.5 % of an issuance, issue 15 item 5). The session's object is returned if it holds
    one (the ORM's identity map); no autoflush, as ``Session.get``. Later reads in the transaction use
    :func:`get_ca`, which finds the object without a query."""
    ca = session.execute(_CA_BY_ID, {"ca_id": ca_id}).scalars().first()
    if not isinstance(ca, CertificateAuthority):
        raise NotFoundError(f"no CA {ca_id!r}")
    return ca


_CA_BY_ID: Final = (
    select(CertificateAuthority)
    .where(col(CertificateAuthority.id) == bindparam("ca_id"))
    .execution_options(autoflush=False)
)


def ca_certificate(ca: CertificateAuthority) -> asn1_x509.Certificate:
    """The CA's certificate, parsed once per certificate (every issuance reads its subject, key, validity and
    constraints several times; issue 15 item 5). The parsed object is shared: read it, never change it."""
    return _parsed_ca_certificate(bytes(ca.cert_der))


@functools.lru_cache(maxsize=512)
def _parsed_ca_certificate(der: bytes) -> asn1_x509.Certificate:
    cert = asn1_x509.Certificate.load(der)
    cert.native  # noqa: B018 - every field parsed now, once: later reads from several threads only read
    return cert
