"""RFC 3161 time-stamping service (being built): TSA certificates under the national operations CAs."""

from __future__ import annotations

from sqlmodel import Session

from ca.authority import Endpoints
from trust.crypto.keystore import KeyStore


def ensure_tsa_certificates(session: Session, keystore: KeyStore, endpoints: Endpoints) -> None:
    """Issue the SM2 and RSA TSA certificates if the instance has none yet (called by ``trust init``)."""
    return None
