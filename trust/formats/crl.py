"""Certificate revocation lists (RFC 5280 clause 5): build, sign, parse.

A CRL is v2 with the CRL number and authority key identifier extensions, ``thisUpdate``/``nextUpdate``,
and one entry per revoked, unexpired certificate with its revocation date and, unless ``unspecified``, its
reason code (RFC 5280 clause 5.3.1: the reason ``unspecified`` SHOULD be absent). ``revokedCertificates`` is
omitted when empty (clause 5.1.2.6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import crl as asn1_crl
from asn1crypto import x509

from trust.crypto import oids, pem
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import Code, EncodingError, InputError
from trust.crypto.keys import PublicKey
from trust.crypto.signer import Signer
from trust.formats.x509 import x509_time

oids.register()

REASONS: Final = (
    "unspecified",
    "key_compromise",
    "ca_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "certificate_hold",
    "privilege_withdrawn",
    "aa_compromise",
)
MAX_CRL_BYTES: Final = 32 * 1024 * 1024


def check_reason(reason: str) -> str:
    normalised = reason.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"keycompromise": "key_compromise", "cacompromise": "ca_compromise"}
    normalised = aliases.get(normalised, normalised)
    if normalised not in REASONS:
        raise InputError(f"unknown revocation reason {reason!r}; RFC 5280 reasons: {', '.join(REASONS)}")
    return normalised


@dataclass(frozen=True)
class Revoked:
    serial: int
    revoked_at: datetime
    reason: str = "unspecified"


def build_crl(
    *,
    issuer: x509.Name,
    issuer_key: PublicKey,
    signer: Signer,
    number: int,
    this_update: datetime,
    next_update: datetime,
    revoked: Sequence[Revoked],
) -> asn1_crl.CertificateList:
    if next_update <= this_update:
        raise InputError("nextUpdate must be later than thisUpdate")
    entries = []
    for item in sorted(revoked, key=lambda r: r.serial):
        entry: dict[str, Any] = {"user_certificate": item.serial, "revocation_date": x509_time(item.revoked_at)}
        if item.reason != "unspecified":
            entry["crl_entry_extensions"] = [
                {"extn_id": "crl_reason", "critical": False, "extn_value": check_reason(item.reason)}
            ]
        entries.append(entry)
    tbs: dict[str, Any] = {
        "version": "v2",
        "signature": signer.algorithm.x509_identifier(),
        "issuer": issuer,
        "this_update": x509_time(this_update),
        "next_update": x509_time(next_update),
        "crl_extensions": [
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": issuer_key.key_identifier()},
            },
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
        ],
    }
    if entries:
        tbs["revoked_certificates"] = entries
    tbs_obj = asn1_crl.TbsCertList(tbs)
    signature = signer.sign(tbs_obj.dump())
    crl = asn1_crl.CertificateList(
        {"tbs_cert_list": tbs_obj, "signature_algorithm": signer.algorithm.x509_identifier(), "signature": signature}
    )
    parsed = asn1_crl.CertificateList.load(crl.dump())
    verify_crl_signature(parsed, issuer_key)
    return parsed


def verify_crl_signature(crl: asn1_crl.CertificateList, issuer_key: PublicKey) -> None:
    algorithm = SignatureAlgorithm.from_x509(crl["signature_algorithm"])
    issuer_key.verify(bytes(crl["signature"].native), crl["tbs_cert_list"].dump(), algorithm)


def load_crl(data: bytes) -> asn1_crl.CertificateList:
    if len(data) > MAX_CRL_BYTES:
        raise InputError(f"CRL of {len(data)} bytes exceeds {MAX_CRL_BYTES}", code=Code.INPUT_TOO_LARGE)
    _label, der = pem.read(data, "CRL", ("X509 CRL",))
    try:
        crl = asn1_crl.CertificateList.load(der, strict=True)
        crl.native  # noqa: B018
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise EncodingError(f"not a DER CRL: {type(exc).__name__}") from None
    return crl


def crl_pem(crl: asn1_crl.CertificateList) -> bytes:
    return pem.write("X509 CRL", crl.dump())
