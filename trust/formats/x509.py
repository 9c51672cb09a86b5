"""X.509 certificates (RFC 5280; SM2 per GB/T 20518): an immutable builder, extension helpers, parsing.

Pure format code: no storage, no network; the verifier may import it.

* :class:`CertificateBuilder` — every method returns a new builder (like pyca/cryptography's); ``sign()``
  takes a :class:`~trust.crypto.signer.Signer`, writes the signer's AlgorithmIdentifier into both
  ``tbsCertificate.signature`` and ``signatureAlgorithm`` (RFC 5280 clause 4.1.1.2), and verifies the
  result with the issuer's public key before returning it.
* Times use UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 clause 4.1.2.5), whole seconds.
* :func:`load_certificate` parses PEM or DER with a size limit and re-encodes to check it is DER.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import threading
from collections.abc import Hashable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from asn1crypto import core, x509

from trust.crypto import oids, pem, x690
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import Code, EncodingError, InputError, InvalidSignature
from trust.crypto.keys import PublicKey, public_key_from_spki
from trust.crypto.signer import Signer

oids.register()

MAX_CERT_BYTES: Final = 64 * 1024
CERTIFICATE_LABELS: Final = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
"""PEM labels of a certificate: RFC 7468 clause 5 and the two older ones OpenSSL writes."""
_UTC_LIMIT: Final = datetime(2050, 1, 1, tzinfo=UTC)


def utc_time(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (asn1crypto and SQLite may give naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def x509_time(moment: datetime) -> x509.Time:
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if moment < _UTC_LIMIT:
        return x509.Time(name="utc_time", value=moment)
    return x509.Time(name="general_time", value=moment)


@dataclasses.dataclass(frozen=True)
class Ext:
    """One extension: asn1crypto name (or dotted OID), value (asn1crypto object or native), criticality."""

    name: str
    value: Any
    critical: bool = False

    def to_asn1(self) -> x509.Extension:
        """The extension; its DER is kept by value (issuance encodes the same few extensions over and over: ~0.1 ms
        each with asn1crypto), and every call returns a new object loaded from it."""
        key = _frozen((self.name, self.critical, self.value))
        if key is None:
            return x509.Extension({"extn_id": self.name, "critical": self.critical, "extn_value": self.value})
        return x509.Extension.load(self._der(key))

    def der(self) -> bytes:
        """The extension's DER (what :meth:`to_asn1` dumps to), kept by value like there and on this object (the
        helpers below hand out one object per distinct value: the extensions every certificate of a profile shares
        are then encoded once and not even looked up again)."""
        memo: bytes | None = self.__dict__.get("_der_memo")
        if memo is not None:
            return memo
        key = _frozen((self.name, self.critical, self.value))
        der = bytes(self.to_asn1().dump()) if key is None else self._der(key)
        if key is not None:
            object.__setattr__(self, "_der_memo", der)  # frozen: not a field, so equality and hash ignore it
        return der

    def _der(self, key: Hashable) -> bytes:
        der = _EXTENSIONS.get(key)
        if der is None:
            extension = x509.Extension({"extn_id": self.name, "critical": self.critical, "extn_value": self.value})
            der = extension.dump()
            with _EXTENSIONS_LOCK:
                _EXTENSIONS[key] = der
                if len(_EXTENSIONS) > _EXTENSIONS_KEPT:
                    _EXTENSIONS.popitem(last=False)
        return der


_EXTENSIONS: collections.OrderedDict[Hashable, bytes] = collections.OrderedDict()
_EXTENSIONS_LOCK = threading.Lock()
_EXTENSIONS_KEPT: Final = 1024


def _frozen(value: Any) -> Hashable | None:
    """A hashable image of an extension's value that equals another's only for equal values (strings, numbers, booleans,
    bytes, and asn1crypto objects by their DER, in nested lists and dicts); ``None`` for anything else (not kept)."""
    if value is None or isinstance(value, str | bytes | bool | int):
        return (type(value).__name__, value)
    if isinstance(value, core.Asn1Value):
        return ("asn1", type(value).__name__, value.dump())
    if isinstance(value, set | frozenset):
        if not all(isinstance(v, str) for v in value):
            return None
        value = sorted(value)
    if isinstance(value, list | tuple):
        items = [_frozen(v) for v in value]
        return None if any(i is None for i in items) else (type(value).__name__, *items)
    if isinstance(value, dict):
        pairs = [(k, _frozen(v)) for k, v in value.items() if isinstance(k, str)]
        if len(pairs) != len(value) or any(p[1] is None for p in pairs):
            return None
        return ("dict", *sorted(pairs))
    return None


# --- extension helpers -------------------------------------------------------------------------------------
# Those whose arguments repeat from certificate to certificate (a profile's usages and policies, an issuer's key, a
# CRL partition's URI) return one shared Ext per distinct value: read its value, never change it.


@functools.lru_cache(maxsize=64)
def basic_constraints(ca: bool, path_len: int | None = None) -> Ext:
    value: dict[str, Any] = {"ca": ca}
    if ca and path_len is not None:
        value["path_len_constraint"] = path_len
    return Ext("basic_constraints", value, critical=True)


def key_usage(usages: Iterable[str]) -> Ext:
    return _key_usage(frozenset(usages))


@functools.lru_cache(maxsize=64)
def _key_usage(usages: frozenset[str]) -> Ext:
    return Ext("key_usage", set(usages), critical=True)


def extended_key_usage(purposes: Sequence[str], *, critical: bool = False) -> Ext:
    return _extended_key_usage(tuple(purposes), critical)


@functools.lru_cache(maxsize=64)
def _extended_key_usage(purposes: tuple[str, ...], critical: bool) -> Ext:
    return Ext("extended_key_usage", list(purposes), critical=critical)


def subject_key_identifier(public_key: PublicKey) -> Ext:
    return Ext("key_identifier", public_key.key_identifier())


def authority_key_identifier(issuer_key: PublicKey) -> Ext:
    return _authority_key_identifier(issuer_key.key_identifier())


@functools.lru_cache(maxsize=1024)
def _authority_key_identifier(key_id: bytes) -> Ext:
    return Ext("authority_key_identifier", {"key_identifier": key_id})


def name_constraints(
    permitted: Sequence[x509.Name] = (),
    excluded: Sequence[x509.Name] = (),
    *,
    dns: Sequence[str] = (),
    uri_hosts: Sequence[str] = (),
) -> Ext:
    """Permitted ``directoryName`` subtrees (and excluded ones), permitted ``dNSName`` subtrees (``dns``: a domain and
    everything below it) and ``uniformResourceIdentifier`` subtrees (``uri_hosts``: a host, or ``.domain`` for the
    hosts below it — RFC 5280 clause 4.2.1.10); the extension is critical, as that clause requires."""
    value: dict[str, Any] = {}
    subtrees = [{"base": x509.GeneralName(name="directory_name", value=n)} for n in permitted]
    subtrees += [{"base": x509.GeneralName(name="dns_name", value=d)} for d in dns]
    subtrees += [{"base": x509.GeneralName(name="uniform_resource_identifier", value=u)} for u in uri_hosts]
    if subtrees:
        value["permitted_subtrees"] = subtrees
    if excluded:
        value["excluded_subtrees"] = [{"base": x509.GeneralName(name="directory_name", value=n)} for n in excluded]
    return Ext("name_constraints", value, critical=True)


def certificate_policies(policy_oids: Iterable[str]) -> Ext:
    return _certificate_policies(tuple(policy_oids))


@functools.lru_cache(maxsize=64)
def _certificate_policies(policy_oids: tuple[str, ...]) -> Ext:
    return Ext("certificate_policies", [{"policy_identifier": oid} for oid in policy_oids])


def policy_constraints(require_explicit_policy: int | None = None, inhibit_mapping: int | None = None) -> Ext:
    value: dict[str, int] = {}
    if require_explicit_policy is not None:
        value["require_explicit_policy"] = require_explicit_policy
    if inhibit_mapping is not None:
        value["inhibit_policy_mapping"] = inhibit_mapping
    return Ext("policy_constraints", value, critical=True)


@functools.lru_cache(maxsize=4096)
def crl_distribution_point(url: str) -> Ext:
    return Ext(
        "crl_distribution_points",
        [{"distribution_point": {"full_name": [x509.GeneralName(name="uniform_resource_identifier", value=url)]}}],
    )


@functools.lru_cache(maxsize=4096)
def freshest_crl(url: str) -> Ext:
    """Where the delta CRLs of the certificate's CRL partition are (RFC 5280 clause 4.2.1.15; non-critical)."""
    return Ext(
        "freshest_crl",
        [{"distribution_point": {"full_name": [x509.GeneralName(name="uniform_resource_identifier", value=url)]}}],
    )


@functools.lru_cache(maxsize=4096)
def authority_information_access(ocsp_url: str | None, ca_issuers_url: str | None) -> Ext:
    entries = []
    if ocsp_url:
        entries.append({"access_method": "ocsp", "access_location": {"uniform_resource_identifier": ocsp_url}})
    if ca_issuers_url:
        entries.append(
            {"access_method": "ca_issuers", "access_location": {"uniform_resource_identifier": ca_issuers_url}}
        )
    return Ext("authority_information_access", entries)


def subject_alt_name(*, dns: Sequence[str] = (), uris: Sequence[str] = (), emails: Sequence[str] = ()) -> Ext:
    names = [x509.GeneralName(name="dns_name", value=d) for d in dns]
    names += [x509.GeneralName(name="uniform_resource_identifier", value=u) for u in uris]
    names += [x509.GeneralName(name="rfc822_name", value=e) for e in emails]
    return Ext("subject_alt_name", names)


@functools.lru_cache(maxsize=1)
def ocsp_no_check() -> Ext:
    return Ext("ocsp_no_check", core.Null())


# --- builder ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CertificateBuilder:
    """Immutable: each setter returns a new builder."""

    subject_name: x509.Name | None = None
    issuer_name: x509.Name | None = None
    subject_public_key: PublicKey | None = None
    serial: int | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    extensions: tuple[Ext, ...] = ()

    def subject(self, name: x509.Name) -> CertificateBuilder:
        return dataclasses.replace(self, subject_name=name)

    def issuer(self, name: x509.Name) -> CertificateBuilder:
        return dataclasses.replace(self, issuer_name=name)

    def public_key(self, key: PublicKey) -> CertificateBuilder:
        return dataclasses.replace(self, subject_public_key=key)

    def serial_number(self, serial: int) -> CertificateBuilder:
        if not 0 < serial < 1 << 159:
            raise InputError("serial number must be positive and fit 20 octets (RFC 5280 clause 4.1.2.2)")
        return dataclasses.replace(self, serial=serial)

    def validity(self, not_before: datetime, not_after: datetime) -> CertificateBuilder:
        if not_after <= not_before:
            raise InputError("notAfter must be later than notBefore")
        return dataclasses.replace(self, not_before=not_before, not_after=not_after)

    def add_extension(self, ext: Ext) -> CertificateBuilder:
        if any(existing.name == ext.name for existing in self.extensions):
            raise InputError(f"extension {ext.name} added twice (RFC 5280 clause 4.2)")
        return dataclasses.replace(self, extensions=(*self.extensions, ext))

    def _check_complete(self) -> None:
        missing = [
            name
            for name, value in (
                ("subject", self.subject_name),
                ("issuer", self.issuer_name),
                ("public key", self.subject_public_key),
                ("serial number", self.serial),
                ("validity", self.not_before),
            )
            if value is None
        ]
        if missing:
            raise InputError(f"certificate is missing: {', '.join(missing)}")

    def tbs(self, algorithm: SignatureAlgorithm) -> x509.TbsCertificate:
        """The TBSCertificate built by asn1crypto's encoder: the reference :meth:`tbs_der` is tested against
        (``tests/trust/formats/test_x509_encoding.py``)."""
        self._check_complete()
        assert self.subject_public_key is not None and self.not_before and self.not_after
        tbs: dict[str, Any] = {
            "version": "v3",
            "serial_number": self.serial,
            "signature": algorithm.x509_identifier(),
            "issuer": self.issuer_name,
            "validity": {"not_before": x509_time(self.not_before), "not_after": x509_time(self.not_after)},
            "subject": self.subject_name,
            "subject_public_key_info": self.subject_public_key.spki,
        }
        if self.extensions:
            tbs["extensions"] = [ext.to_asn1() for ext in self.extensions]
        return x509.TbsCertificate(tbs)

    def tbs_der(self, algorithm: SignatureAlgorithm) -> bytes:
        """The DER of :meth:`tbs`, written octet by octet from parts already encoded (the names', the key's, each
        extension's kept DER; issue 15 item 5: asn1crypto's encoder cost ~1 ms per certificate). Same checks, same
        octets as :meth:`tbs` (tested for every profile)."""
        self._check_complete()
        assert self.subject_name is not None and self.issuer_name is not None and self.serial is not None
        assert self.subject_public_key is not None and self.not_before and self.not_after
        parts = [
            _V3,
            _integer(self.serial),
            _algorithm_der(algorithm),
            self.issuer_name.dump(),
            x690.sequence(_time_der(self.not_before), _time_der(self.not_after)),
            self.subject_name.dump(),
            self.subject_public_key.spki_der(),
        ]
        if self.extensions:
            parts.append(x690.tlv(0xA3, x690.sequence(*(ext.der() for ext in self.extensions))))
        return x690.sequence(*parts)

    def sign(self, signer: Signer, *, issuer_key: PublicKey | None = None) -> x509.Certificate:
        """Sign and return the certificate; verifies the signature before returning it."""
        algorithm = signer.algorithm
        tbs_der = self.tbs_der(algorithm)
        signature = signer.sign(tbs_der)
        der = x690.sequence(tbs_der, _algorithm_der(algorithm), x690.bit_string(signature))
        try:
            (issuer_key or signer.public_key).verify(signature, tbs_der, algorithm)
        except InvalidSignature as exc:
            raise InvalidSignature(f"the certificate just signed does not verify: {exc}") from exc
        return x509.Certificate.load(der)


_V3: Final = b"\xa0\x03\x02\x01\x02"  # [0] EXPLICIT INTEGER 2 (v3)


def _integer(value: int) -> bytes:
    """DER INTEGER of a non-negative ``value`` (minimal two's complement: a leading zero octet when the top bit is
    set)."""
    return x690.tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _time_der(moment: datetime) -> bytes:
    """:func:`x509_time`'s DER: UTCTime through 2049, GeneralizedTime after, whole seconds, ``Z``."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if moment < _UTC_LIMIT:
        return x690.tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return x690.tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


@functools.lru_cache(maxsize=64)
def _algorithm_der(algorithm: SignatureAlgorithm) -> bytes:
    return bytes(algorithm.x509_identifier().dump())


# --- parsing and checks ----------------------------------------------------------------------------------


def load_certificate(data: bytes) -> x509.Certificate:
    """One certificate from PEM or DER.

    PEM: the first block is read (as ``openssl x509`` does: a file with the chain after the certificate is
    common); text before it is ignored (RFC 7468 clause 2). Refuses oversized, truncated or trailing DER and any
    field that does not decode."""
    if len(data) > MAX_CERT_BYTES:
        raise InputError(f"certificate of {len(data)} bytes exceeds {MAX_CERT_BYTES}", code=Code.INPUT_TOO_LARGE)
    _label, der = pem.read(data, "certificate", CERTIFICATE_LABELS)
    try:
        cert = x509.Certificate.load(der, strict=True)
        cert.native  # noqa: B018 - parse every field now, inside the try
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise EncodingError(f"not a DER X.509 certificate: {type(exc).__name__}: {str(exc)[:200]}") from None
    return cert


def certificate_pem(cert: x509.Certificate) -> bytes:
    return pem.write("CERTIFICATE", cert.dump())


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex."""
    return hashlib.sha256(cert.dump()).hexdigest()


def public_key(cert: x509.Certificate) -> PublicKey:
    return public_key_from_spki(cert["tbs_certificate"]["subject_public_key_info"])


def signature_algorithm(cert: x509.Certificate) -> SignatureAlgorithm:
    outer = cert["signature_algorithm"]
    inner = cert["tbs_certificate"]["signature"]
    if outer.dump() != inner.dump():
        raise InvalidSignature("signatureAlgorithm differs from tbsCertificate.signature (RFC 5280 clause 4.1.1.2)")
    return SignatureAlgorithm.from_x509(outer)


def verify_signature(cert: x509.Certificate, issuer_key: PublicKey) -> None:
    """Raise :class:`InvalidSignature` unless ``issuer_key`` signed ``cert`` (SM2 with the default ID)."""
    algorithm = signature_algorithm(cert)
    issuer_key.verify(bytes(cert["signature_value"].native), cert["tbs_certificate"].dump(), algorithm)


def serial_hex(serial: int) -> str:
    return f"{serial:x}".rjust(2, "0")
