"""The RFC 5280 profile rules a conforming CA must follow, checked on the certificates of a path.

RFC 5280 clause 6 does not ask a relying party to enforce the certificate profile of clause 4, and most validators do
not; readers then disagree on what such a certificate means (two subjectAltName extensions: which one counts?). Huren
checks these rules on every certificate of the path (the anchor included) under the ``strict`` profile
(``trust verify --strict``, ``POST /verify`` field ``strict``), and always on the certificates that are members of
Huren's own trust list (the national roots and the CA services), whatever the profile.

Each rule has a stable identifier (the report's ``details.rule``), an ETSI EN 319 102-1 sub-indication
(``FORMAT_FAILURE`` for an encoding readers can disagree on, ``CHAIN_CONSTRAINTS_FAILURE`` otherwise) and a message
naming the certificate and the clause:

* ``duplicate-extension`` — 4.2: at most one instance of an extension (checked under every profile)
* ``empty-issuer`` — 4.1.2.4: the issuer field is a non-empty distinguished name
* ``ca-empty-subject`` — 4.1.2.6: a CA's subject is a non-empty distinguished name
* ``empty-subject-san-not-critical`` — 4.1.2.6, 4.2.1.6: an empty subject needs a critical subjectAltName
* ``aki-missing`` — 4.2.1.1: authorityKeyIdentifier with keyIdentifier, unless the certificate is self-signed
* ``aki-critical`` — 4.2.1.1: authorityKeyIdentifier is non-critical
* ``ski-missing`` — 4.2.1.2: subjectKeyIdentifier in every CA certificate
* ``ski-critical`` — 4.2.1.2: subjectKeyIdentifier is non-critical
* ``aia-critical`` — 4.2.2.1: authorityInformationAccess is non-critical
* ``ee-name-constraints`` — 4.2.1.10: name constraints only in CA certificates
* ``name-constraints-not-critical`` — 4.2.1.10: name constraints are critical
* ``ee-key-cert-sign`` — 4.2.1.3, 4.2.1.9: keyCertSign only when cA is TRUE
* ``ca-basic-constraints-not-critical`` — 4.2.1.9: basicConstraints critical in a CA that signs certificates
* ``path-length-without-cert-sign`` — 4.2.1.9: pathLenConstraint only with cA TRUE and keyCertSign
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from asn1crypto import x509

from verifier.report import SubIndication

RULES: Final = (
    "duplicate-extension",
    "empty-issuer",
    "ca-empty-subject",
    "empty-subject-san-not-critical",
    "aki-missing",
    "aki-critical",
    "ski-missing",
    "ski-critical",
    "aia-critical",
    "ee-name-constraints",
    "name-constraints-not-critical",
    "ee-key-cert-sign",
    "ca-basic-constraints-not-critical",
    "path-length-without-cert-sign",
)


@dataclass(frozen=True)
class ProfileProblem:
    rule: str
    message: str
    sub_indication: SubIndication = SubIndication.CHAIN_CONSTRAINTS_FAILURE


@dataclass(frozen=True)
class _Cert:
    """What the rules read of one certificate."""

    cert: x509.Certificate
    label: str
    named: dict[str, Any]  # extension name (asn1crypto's, or the dotted OID) -> the (last) Extension
    is_ca: bool
    cert_sign: bool
    self_signed: Callable[[x509.Certificate], bool]


def _critical(facts: _Cert, name: str) -> bool:
    extension = facts.named.get(name)
    return extension is not None and bool(extension["critical"].native)


def _names(facts: _Cert) -> ProfileProblem | None:
    if len(facts.cert.issuer.chosen) == 0:
        return ProfileProblem(
            "empty-issuer",
            f"{facts.label} has an empty issuer name (RFC 5280 clause 4.1.2.4)",
            SubIndication.FORMAT_FAILURE,
        )
    if len(facts.cert.subject.chosen) != 0:
        return None
    if facts.is_ca:
        return ProfileProblem(
            "ca-empty-subject", f"{facts.label} is a CA with an empty subject (RFC 5280 clause 4.1.2.6)"
        )
    if not _critical(facts, "subject_alt_name"):
        state = "no" if "subject_alt_name" not in facts.named else "a non-critical"
        return ProfileProblem(
            "empty-subject-san-not-critical",
            f"{facts.label} has an empty subject and {state} subjectAltName (RFC 5280 clause 4.2.1.6: it must be "
            "present and critical)",
        )
    return None


def _key_identifiers(facts: _Cert) -> ProfileProblem | None:
    aki = facts.named.get("authority_key_identifier")
    if aki is None or aki["extn_value"].parsed["key_identifier"].native is None:
        if not facts.self_signed(facts.cert):
            return ProfileProblem(
                "aki-missing",
                f"{facts.label} is not self-signed and has no authorityKeyIdentifier keyIdentifier (RFC 5280 clause "
                "4.2.1.1)",
            )
    elif _critical(facts, "authority_key_identifier"):
        return ProfileProblem(
            "aki-critical", f"{facts.label} marks authorityKeyIdentifier critical (RFC 5280 clause 4.2.1.1)"
        )
    if facts.is_ca and "key_identifier" not in facts.named:
        return ProfileProblem(
            "ski-missing", f"{facts.label} is a CA without subjectKeyIdentifier (RFC 5280 clause 4.2.1.2)"
        )
    if _critical(facts, "key_identifier"):
        return ProfileProblem(
            "ski-critical", f"{facts.label} marks subjectKeyIdentifier critical (RFC 5280 clause 4.2.1.2)"
        )
    if _critical(facts, "authority_information_access"):
        return ProfileProblem(
            "aia-critical", f"{facts.label} marks authorityInformationAccess critical (RFC 5280 clause 4.2.2.1)"
        )
    return None


def _ca_extensions(facts: _Cert) -> ProfileProblem | None:
    if "name_constraints" in facts.named:
        if not facts.is_ca:
            return ProfileProblem(
                "ee-name-constraints", f"{facts.label} is not a CA and has name constraints (RFC 5280 clause 4.2.1.10)"
            )
        if not _critical(facts, "name_constraints"):
            return ProfileProblem(
                "name-constraints-not-critical",
                f"{facts.label} marks name constraints non-critical (RFC 5280 clause 4.2.1.10)",
            )
    if facts.cert_sign and not facts.is_ca:
        return ProfileProblem(
            "ee-key-cert-sign",
            f"{facts.label} asserts keyCertSign without basicConstraints cA TRUE (RFC 5280 clauses 4.2.1.3, 4.2.1.9)",
        )
    bc = facts.named.get("basic_constraints")
    if bc is None:
        return None
    if facts.is_ca and facts.cert_sign and not bc["critical"].native:
        return ProfileProblem(
            "ca-basic-constraints-not-critical",
            f"{facts.label} is a CA that signs certificates with a non-critical basicConstraints (RFC 5280 clause "
            "4.2.1.9)",
        )
    if bc["extn_value"].parsed["path_len_constraint"].native is not None and not (facts.is_ca and facts.cert_sign):
        return ProfileProblem(
            "path-length-without-cert-sign",
            f"{facts.label} has pathLenConstraint without cA TRUE and keyCertSign (RFC 5280 clause 4.2.1.9)",
        )
    return None


def duplicate_extension(cert: x509.Certificate, label: str) -> ProfileProblem | None:
    """RFC 5280 clause 4.2: an extension present twice. Checked on every certificate of every path whatever the
    profile: readers disagree on which instance counts (asn1crypto keeps the last, others the first), and OpenSSL and
    pyca/cryptography refuse such certificates outright."""
    seen: set[str] = set()
    for extension in cert["tbs_certificate"]["extensions"]:
        oid = extension["extn_id"].dotted
        if oid in seen:
            return ProfileProblem(
                "duplicate-extension",
                f"{label} has the extension {extension['extn_id'].native} ({oid}) more than once (RFC 5280 clause "
                "4.2: readers disagree on which instance counts)",
                SubIndication.FORMAT_FAILURE,
            )
        seen.add(oid)
    return None


def profile_problem(
    cert: x509.Certificate, label: str, *, self_signed: Callable[[x509.Certificate], bool]
) -> ProfileProblem | None:
    """The first RFC 5280 profile rule ``cert`` breaks (module docstring), or None. ``self_signed`` tells whether a
    certificate is signed by its own key (only then may authorityKeyIdentifier be absent)."""
    duplicate = duplicate_extension(cert, label)
    if duplicate is not None:
        return duplicate
    named = {extension["extn_id"].native: extension for extension in cert["tbs_certificate"]["extensions"]}
    usage = cert.key_usage_value
    facts = _Cert(cert, label, named, bool(cert.ca), usage is not None and "key_cert_sign" in usage.native, self_signed)
    for rule in (_names, _key_identifiers, _ca_extensions):
        found = rule(facts)
        if found is not None:
            return found
    return None
