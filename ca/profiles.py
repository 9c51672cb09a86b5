"""Certificate profiles: small declarative objects, applied in a fixed order before anything is signed.

A :class:`Profile` says which key usages, extended key usages, validity, key families and subject rules a
certificate of its kind has. :func:`Profile.check_subject` and :func:`Profile.check_key` run before a serial
number is reserved, so a refused request leaves nothing behind.

Policy OIDs and the licence-signing EKU live under the Huren arc in :mod:`trust.crypto.oids` (the verifier needs
them too; ``docs/OIDS.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from trust.crypto.algorithms import KeyFamily
from trust.crypto.errors import Code, InputError, WeakKey
from trust.crypto.keys import PublicKey
from trust.crypto.oids import EKU_DOCUMENT_SIGNING, EKU_LICENSE_SIGNING, POLICY
from trust.formats.names import DN, validate_citizen_id, validate_uscc

# Seal certificates also carry id-kp-emailProtection: NSS (poppler's pdfsig, Firefox) and Adobe Acrobat accept a
# PDF signing certificate only with emailProtection (or no EKU); documentSigning alone is "not approved".

SubjectRule = Callable[[DN], DN]


def _needs(*fields: str) -> SubjectRule:
    def rule(dn: DN) -> DN:
        missing = [f for f in fields if not getattr(dn, f)]
        if missing:
            raise InputError(f"subject lacks {', '.join(missing)}")
        return dn

    return rule


def _uscc_serial(dn: DN) -> DN:
    if not dn.serial_number:
        raise InputError("subject serialNumber must be the unified social credit code (GB 32100)")
    return DN(**{**dn.__dict__, "serial_number": validate_uscc(dn.serial_number)})


def _citizen_serial(dn: DN) -> DN:
    if not dn.serial_number:
        raise InputError("subject serialNumber must be the citizen identity number (GB 11643)")
    return DN(**{**dn.__dict__, "serial_number": validate_citizen_id(dn.serial_number)})


def _seal_holder(dn: DN) -> DN:
    """An organisation seal names the organisation and its USCC; a personal seal the person and citizen ID."""
    if dn.organization:
        return _uscc_serial(dn)
    return _citizen_serial(dn)


@dataclass(frozen=True)
class Profile:
    """What a certificate of one kind looks like."""

    name: str
    title: str
    key_usage: frozenset[str]
    extended_key_usage: tuple[str, ...] = ()
    eku_critical: bool = False
    validity: timedelta = timedelta(days=365)
    max_validity: timedelta = timedelta(days=3 * 365)
    families: frozenset[KeyFamily] = frozenset({KeyFamily.SM2, KeyFamily.RSA, KeyFamily.EC})
    subject_rules: tuple[SubjectRule, ...] = ()
    ocsp_no_check: bool = False
    needs_dns: bool = False
    san_types: frozenset[str] = frozenset()  # subject alternative name types it may carry: "dns", "uri"
    policies: tuple[str, ...] = field(default=())

    def check_key(self, key: PublicKey) -> None:
        if key.family not in self.families:
            allowed = ", ".join(sorted(f.value for f in self.families))
            raise InputError(
                f"profile {self.name} needs a {allowed} key, got {key.family.value}", code=Code.KEY_MISMATCH
            )
        if key.family is KeyFamily.RSA and key.size < 2048:
            raise WeakKey(f"RSA key of {key.size} bits refused; at least 2048 bits are required")

    def check_subject(self, dn: DN) -> DN:
        """The subject after the profile's rules (validated, normalised); :class:`InputError` if refused."""
        if not dn.common_name:
            raise InputError("subject needs a common name")
        for rule in self.subject_rules:
            dn = rule(dn)
        return dn


_SIGN = frozenset({"digital_signature", "non_repudiation"})

PROFILES: Final[Mapping[str, Profile]] = {
    p.name: p
    for p in (
        Profile(
            "seal",
            "Electronic seal (电子印章) of an organisation or a person",
            _SIGN,
            (EKU_DOCUMENT_SIGNING, "email_protection"),
            validity=timedelta(days=3 * 365),
            subject_rules=(_seal_holder,),
            policies=(POLICY["seal"],),
        ),
        Profile(
            "seal-maker",
            "Seal maker (制章者)",
            _SIGN,
            validity=timedelta(days=5 * 365),
            max_validity=timedelta(days=5 * 365),
            subject_rules=(_needs("organization"),),
            policies=(POLICY["seal-maker"],),
        ),
        Profile(
            "person-identity",
            "Person identity (个人身份)",
            _SIGN,
            ("client_auth",),
            validity=timedelta(days=2 * 365),
            subject_rules=(_citizen_serial,),
            policies=(POLICY["person-identity"],),
        ),
        Profile(
            "organization-identity",
            "Organisation identity (法人身份)",
            _SIGN,
            ("client_auth",),
            validity=timedelta(days=2 * 365),
            subject_rules=(_needs("organization"), _uscc_serial),
            policies=(POLICY["organization-identity"],),
        ),
        Profile(
            "license-issuer",
            "Licence issuer (证照签发)",
            frozenset({"digital_signature"}),
            (EKU_LICENSE_SIGNING,),
            validity=timedelta(days=2 * 365),
            subject_rules=(_needs("organization"),),
            policies=(POLICY["license-issuer"],),
        ),
        Profile(
            "identity-provider",
            "Federation entity key of an identity provider or a relying service (OpenID Federation, 一次认证)",
            frozenset({"digital_signature"}),
            validity=timedelta(days=2 * 365),
            subject_rules=(_needs("organization"),),
            policies=(POLICY["identity-provider"],),
        ),
        Profile(
            "timestamping",
            "Time-stamping authority (RFC 3161)",
            _SIGN,
            ("time_stamping",),
            eku_critical=True,
            validity=timedelta(days=5 * 365),
            max_validity=timedelta(days=6 * 365),
            policies=(POLICY["timestamping"],),
        ),
        Profile(
            "ocsp",
            "OCSP responder (RFC 6960 delegated)",
            frozenset({"digital_signature"}),
            ("ocsp_signing",),
            validity=timedelta(days=90),
            max_validity=timedelta(days=180),
            ocsp_no_check=True,
            policies=(POLICY["ocsp"],),
        ),
        Profile(
            "tls-server",
            "TLS server of a platform",
            frozenset({"digital_signature"}),
            ("server_auth",),
            validity=timedelta(days=397),
            max_validity=timedelta(days=397),
            needs_dns=True,
            san_types=frozenset({"dns"}),
            policies=(POLICY["tls-server"],),
        ),
        Profile(
            "tls-client",
            "TLS client / platform credential",
            frozenset({"digital_signature"}),
            ("client_auth",),
            validity=timedelta(days=397),
            max_validity=timedelta(days=397),
            subject_rules=(_needs("organization"),),
            san_types=frozenset({"dns"}),
            policies=(POLICY["tls-client"],),
        ),
    )
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
