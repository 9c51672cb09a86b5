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

Revocation (``revocation``): ``available`` (the default) — a certificate that names a CRL distribution point
or an OCSP responder must be covered by the CRLs or OCSP responses at hand (hard-fail; nothing is fetched), and
a certificate that names neither is still checked against every CRL of its issuer and every OCSP response the
context holds (when its issuer's CRLs are here, one of them must cover it); ``required`` — every certificate
below the anchor must be covered by a CRL or an OCSP response (RFC 5280 clause 6.3 for each certificate; the
profile of the NIST PKITS revocation tests).

Every size is bounded before parsing (:mod:`verifier.limits`). Parsed CRLs are kept on the context
(:attr:`VerificationContext.crl_objects`) so that many verifications against one context parse them once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Final

from asn1crypto import crl as asn1_crl
from asn1crypto import pem as asn1_pem
from asn1crypto import x509

from ca import x509 as cx
from ca.crl import load_crl
from trust.crypto.errors import Code, EncodingError, InputError
from trust.formats import bundle as bundle_format
from trust.formats.trustlist import TrustList
from verifier import limits


PINS_ENV: Final = "TRUST_ROOT_FINGERPRINTS"
MAX_EXTRA_CERTS: Final = limits.MAX_EXTRA_CERTS
MAX_OCSP_BYTES: Final = limits.MAX_OCSP_BYTES
REVOCATION_MODES: Final = ("available", "required")


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
    revocation: str = "available"
    status_lists: tuple[Mapping[str, Any], ...] = ()  # [{"uri", "token"}] Token Status Lists from the bundle

    def __post_init__(self) -> None:
        if self.revocation not in REVOCATION_MODES:
            raise InputError(f"revocation mode must be one of {', '.join(REVOCATION_MODES)}, got {self.revocation!r}")

    @property
    def has_trust_list(self) -> bool:
        return self.trust_list is not None

    @cached_property
    def crl_objects(self) -> tuple[asn1_crl.CertificateList, ...]:
        """The CRLs parsed once (lazily: asn1crypto parses fields when they are read)."""
        parsed = []
        for der in self.crls:
            try:
                parsed.append(asn1_crl.CertificateList.load(der, strict=True))
            except (ValueError, TypeError) as exc:
                raise EncodingError(f"not a DER CRL: {type(exc).__name__}") from None
        return tuple(parsed)

    @cached_property
    def crl_issuers(self) -> frozenset[bytes | str]:
        """``Name.hashable`` of every CRL issuer, and whether any CRL is indirect (``"indirect"``)."""
        names: set[bytes | str] = set()
        for crl in self.crl_objects:
            names.add(crl.issuer.hashable)
            idp = crl.issuing_distribution_point_value
            if idp is not None and idp["indirect_crl"].native:
                names.add("indirect")
        return frozenset(names)


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


def load_certificates(
    data: bytes, what: str, *, limit: int = limits.MAX_PEM_BLOCKS, parsed: dict[bytes, x509.Certificate] | None = None
) -> list[x509.Certificate]:
    """One or more certificates from a PEM bundle or a single DER certificate (at most ``limit`` PEM blocks,
    counted before anything is decoded). ``parsed`` (DER -> certificate) lets repeated certificates be parsed once.

    As RFC 7468 clause 2 requires, text before and between PEM blocks (``openssl x509 -text`` output) is ignored."""
    cache: dict[bytes, x509.Certificate] = {} if parsed is None else parsed
    if data[:1] != b"\x30" and b"-----BEGIN" in data:
        if data.count(b"-----BEGIN") > limit:
            raise InputError(f"{what}: more than {limit} PEM blocks", code=Code.INPUT_TOO_LARGE)
        certs = [_load_one(der, what, cache) for der in _pem_certificates(data, what)]
        if not certs:
            raise EncodingError(f"{what}: no CERTIFICATE block")
        return certs
    return [_load_one(data, what, cache)]


def _pem_certificates(data: bytes, what: str) -> Iterator[bytes]:
    try:
        for name, _headers, der in asn1_pem.unarmor(data, multiple=True):
            if name in ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"):
                yield der
    except (ValueError, TypeError) as exc:
        raise EncodingError(f"{what}: malformed PEM: {str(exc)[:200]}") from None


def _load_one(der: bytes, what: str, cache: dict[bytes, x509.Certificate]) -> x509.Certificate:
    cert = cache.get(der)
    if cert is not None:
        return cert
    try:
        cert = cx.load_certificate(der)
    except RecursionError:  # nesting deeper than the interpreter's stack: hostile, never a certificate
        raise EncodingError(f"{what}: not a DER X.509 certificate: nesting too deep") from None
    cache[der] = cert
    return cert


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
    revocation: str = "available",
) -> VerificationContext:
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    if revocation not in REVOCATION_MODES:
        raise InputError(f"revocation mode must be one of {', '.join(REVOCATION_MODES)}, got {revocation!r}")
    _bounded(anchors, "anchor", limits.MAX_ANCHORS, limits.MAX_EXTRA_BYTES)
    _bounded(untrusted, "untrusted certificate", limits.MAX_EXTRA_CERTS, limits.MAX_EXTRA_BYTES)
    _bounded(crls, "CRL", limits.MAX_CRLS, limits.MAX_TOTAL_CRL_BYTES)
    _bounded(ocsps, "OCSP response", limits.MAX_OCSPS, limits.MAX_OCSPS * limits.MAX_OCSP_BYTES)
    anchor_certs = _load_all(anchors, "anchor", limits.MAX_ANCHORS)
    given = _load_all(untrusted, "untrusted certificate", limits.MAX_EXTRA_CERTS)
    crl_list = []
    for data in crls:
        crl_list.append(load_crl(data).dump())
    for data in ocsps:
        if len(data) > MAX_OCSP_BYTES:
            raise InputError("OCSP response file too large", code=Code.INPUT_TOO_LARGE)
    listed: list[x509.Certificate] = []
    warnings: list[str] = []
    status_lists: tuple[Mapping[str, Any], ...] = ()
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
            warnings.append(
                f"bundle is stale: next update was due {_age(age)} ago ({verified.bundle.next_update.isoformat()})"
            )
        if trust_list.next_update < now:
            warnings.append(
                f"trust list {trust_list.sequence} is stale: next update was due "
                f"{_age(now - trust_list.next_update)} ago"
            )
        # The pinned root authenticated the list; the list names the national roots (ETSI TS 119 612 style:
        # pin the list's signer, trust what the signed list lists).
        for root in trust_list.roots:
            anchor_certs.append(cx.load_certificate(root.certificate))
        for _issuer, service in trust_list.services():
            if service.type == "CA":
                listed.append(cx.load_certificate(service.certificate))
        crl_list.extend(der for _ca, der in verified.bundle.crls)
        status_lists = tuple(verified.bundle.status_lists)
    elif pins and not anchor_certs:
        raise InputError("--pin needs --bundle (pins check the bundle's signature)")
    # The trust list's CAs come first: when two certificates share issuer and serial number, path building keeps
    # the first one, so an input certificate can never shadow a listed CA.
    extra = _unique([*listed, *given])
    if len(extra) > MAX_EXTRA_CERTS:
        raise InputError(
            f"{len(extra)} untrusted certificates exceed the limit of {MAX_EXTRA_CERTS}", code=Code.INPUT_TOO_LARGE
        )
    return VerificationContext(
        validation_time=moment,
        anchors=tuple(_unique(anchor_certs)),
        intermediates=tuple(extra),
        crls=tuple(crl_list),
        ocsps=tuple(ocsps),
        trust_list=trust_list,
        warnings=tuple(warnings),
        purpose=purpose,
        revocation=revocation,
        status_lists=status_lists,
    )


def _load_all(files: Sequence[bytes], what: str, most: int) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    parsed: dict[bytes, x509.Certificate] = {}
    for data in files:
        certs.extend(load_certificates(data, what, parsed=parsed))
        if len(certs) > most:
            raise InputError(f"more than {most} {what}s", code=Code.INPUT_TOO_LARGE)
    return certs


def _bounded(items: Sequence[bytes], what: str, count: int, total: int) -> None:
    if len(items) > count:
        raise InputError(f"{len(items)} {what} files exceed the limit of {count}", code=Code.INPUT_TOO_LARGE)
    size = sum(len(item) for item in items)
    if size > total:
        raise InputError(f"{what} files of {size} bytes together exceed {total}", code=Code.INPUT_TOO_LARGE)


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
