"""What a verifier knows besides the input: anchors, the trust list, CRLs, OCSP responses, the time.

Sources, all local (the verifier never opens a socket):

* ``--bundle FILE`` — the signed offline bundle; its signature is checked against **pinned** national root
  fingerprints (``--pin SHA256``, the fingerprints of ``--anchor`` certificates, or the environment variable
  ``TRUST_ROOT_FINGERPRINTS``, comma separated). The trust list inside supplies the anchors (the pinned roots
  it lists), the intermediate certificates (its CA services) and the standing of every issuer over time; the
  bundle's CRLs supply revocation data. A bundle past its ``next_update`` is still used and reported stale,
  with its age.
* ``--anchor CERT`` — explicit trust anchors (then no trust-list checks are made unless a bundle is given).
* ``--untrusted CERT``, ``--crl FILE``, ``--ocsp FILE`` — more path and revocation material.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from asn1crypto import x509
from asn1crypto import pem as asn1_pem

from ca import x509 as cx
from ca.crl import load_crl
from trust.crypto.errors import Code, EncodingError, InputError
from trust.formats import bundle as bundle_format
from trust.formats.trustlist import TrustList

PINS_ENV: Final = "TRUST_ROOT_FINGERPRINTS"
MAX_EXTRA_CERTS: Final = 2000
MAX_OCSP_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class VerificationContext:
    validation_time: datetime
    anchors: tuple[x509.Certificate, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsps: tuple[bytes, ...] = ()
    trust_list: TrustList | None = None
    warnings: tuple[str, ...] = ()
    purpose: str = "any"
    notes: tuple[str, ...] = field(default=())

    @property
    def has_trust_list(self) -> bool:
        return self.trust_list is not None


def parse_pins(values: Iterable[str]) -> list[str]:
    pins = []
    for value in values:
        for part in value.split(","):
            clean = part.strip().lower().replace(":", "")
            if not clean:
                continue
            if len(clean) != 64 or any(c not in "0123456789abcdef" for c in clean):
                raise InputError(f"pinned root fingerprint {part.strip()!r} is not a SHA-256 hex digest")
            pins.append(clean)
    return pins


def load_certificates(data: bytes, what: str) -> list[x509.Certificate]:
    """One or more certificates from a PEM bundle or a single DER certificate."""
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            blocks = list(asn1_pem.unarmor(data, multiple=True))
        except (ValueError, TypeError) as exc:
            raise EncodingError(f"{what}: malformed PEM: {exc}") from None
        certs = [cx.load_certificate(der) for name, _h, der in blocks if name in ("CERTIFICATE", "TRUSTED CERTIFICATE")]
        if not certs:
            raise EncodingError(f"{what}: no CERTIFICATE block")
        return certs
    return [cx.load_certificate(data)]


def build(
    *,
    at: datetime | None = None,
    bundle: bytes | None = None,
    pins: Sequence[str] = (),
    anchors: Sequence[bytes] = (),
    untrusted: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
    purpose: str = "any",
    environ: dict[str, str] | None = None,
) -> VerificationContext:
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    anchor_certs = [c for data in anchors for c in load_certificates(data, "anchor")]
    extra = [c for data in untrusted for c in load_certificates(data, "untrusted certificate")]
    if len(extra) > MAX_EXTRA_CERTS:
        raise InputError(f"{len(extra)} untrusted certificates exceed the limit of {MAX_EXTRA_CERTS}",
                         code=Code.INPUT_TOO_LARGE)
    crl_list = []
    for data in crls:
        crl_list.append(load_crl(data).dump())
    for data in ocsps:
        if len(data) > MAX_OCSP_BYTES:
            raise InputError("OCSP response file too large", code=Code.INPUT_TOO_LARGE)
    warnings: list[str] = []
    trust_list = None
    if bundle is not None:
        env = os.environ if environ is None else environ
        pinned = parse_pins([*pins, env.get(PINS_ENV, "")]) + [cx.fingerprint(c) for c in anchor_certs]
        if not pinned:
            raise InputError(
                "a bundle is checked against pinned national root fingerprints: pass --pin SHA256 or --anchor "
                f"ROOT.pem, or set {PINS_ENV}"
            )
        verified = bundle_format.verify(bundle, pinned)
        trust_list = verified.trust_list
        now = datetime.now(UTC)
        if verified.bundle.next_update < now:
            age = now - verified.bundle.next_update
            warnings.append(f"bundle is stale: next update was due {_age(age)} ago ({verified.bundle.next_update.isoformat()})")
        if trust_list.next_update < now:
            warnings.append(f"trust list {trust_list.sequence} is stale: next update was due "
                            f"{_age(now - trust_list.next_update)} ago")
        # The pinned root authenticated the list; the list names the national roots (ETSI TS 119 612 style:
        # pin the list's signer, trust what the signed list lists).
        for root in trust_list.roots:
            anchor_certs.append(cx.load_certificate(root.certificate))
        for _issuer, service in trust_list.services():
            if service.type == "CA":
                extra.append(cx.load_certificate(service.certificate))
        crl_list.extend(der for _ca, der in verified.bundle.crls)
    elif pins and not anchor_certs:
        raise InputError("--pin needs --bundle (pins check the bundle's signature)")
    return VerificationContext(
        validation_time=moment,
        anchors=tuple(_unique(anchor_certs)),
        intermediates=tuple(_unique(extra)),
        crls=tuple(crl_list),
        ocsps=tuple(ocsps),
        trust_list=trust_list,
        warnings=tuple(warnings),
        purpose=purpose,
    )


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[str] = set()
    result = []
    for cert in certs:
        fp = cx.fingerprint(cert)
        if fp not in seen:
            seen.add(fp)
            result.append(cert)
    return result


def _age(delta: object) -> str:
    seconds = int(delta.total_seconds()) if hasattr(delta, "total_seconds") else 0
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
