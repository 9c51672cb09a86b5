"""Certificate path validation (RFC 5280 clause 6) for SM2, RSA and ECDSA, plus the trust-list rules.

Steps, in order (each one becomes a :class:`~verifier.report.Check`):

1. **parse** — the input is one DER X.509 certificate (``ca.x509.load_certificate``: size limit, strict DER).
2. **path** — pyhanko-certvalidator builds and validates a path to an anchor (signatures — SM2 through
   :class:`trust.crypto.certvalidator.HurenSignatureValidator` —, validity at the validation time, basic
   constraints and path length, key usage of CAs, name constraints, policies, unknown critical extensions)
   and checks revocation from the given CRLs and OCSP responses; nothing is fetched (``allow_fetching`` off).
   Revocation mode ``hard-fail``: a certificate that names a CRL or OCSP source must have revocation data.
3. **purpose** — key usage and extended key usage of the leaf for ``--purpose``.
4. **trust list** (with a bundle) — every CA of the path below the root must be a CA service of the trust list,
   and usable (issuer and service ``granted``) when it issued the next certificate of the path, judged at that
   certificate's ``notBefore``; the leaf, if it is itself a listed service (TSA, OCSP), must be usable at the
   validation time.

pyhanko's errors map to ETSI EN 319 102-1 indications in :func:`_classify` (table in ``docs/VERIFIER.md``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as pv_errors
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy, PKIXValidationParams

from ca import x509 as cx
from ca.x509 import utc_time
from ca.names import name_text
from ca.profiles import EKU_DOCUMENT_SIGNING, EKU_LICENSE_SIGNING
from trust.crypto.certvalidator import SIGNATURE_VALIDATOR
from trust.crypto.errors import InputError, TrustError
from verifier.context import VerificationContext
from verifier.report import ChainLink, Check, Indication, Report, Result, SubIndication

# purpose -> (required key usages (all), required extended key usages (all))
PURPOSES: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    "any": (frozenset(), frozenset()),
    "ca": (frozenset({"key_cert_sign"}), frozenset()),
    "seal": (frozenset({"digital_signature"}), frozenset({EKU_DOCUMENT_SIGNING})),
    "document-signing": (frozenset({"digital_signature"}), frozenset()),
    "seal-maker": (frozenset({"digital_signature"}), frozenset()),
    "identity": (frozenset({"digital_signature"}), frozenset({"client_auth"})),
    "license-issuer": (frozenset({"digital_signature"}), frozenset({EKU_LICENSE_SIGNING})),
    "timestamping": (frozenset({"digital_signature"}), frozenset({"time_stamping"})),
    "ocsp": (frozenset({"digital_signature"}), frozenset({"ocsp_signing"})),
    "tls-server": (frozenset({"digital_signature"}), frozenset({"server_auth"})),
    "tls-client": (frozenset({"digital_signature"}), frozenset({"client_auth"})),
}
LEAF_SERVICE_FOR_PURPOSE: Final = {"timestamping": "TSA", "ocsp": "OCSP"}


@dataclass(frozen=True)
class PolicyInputs:
    """RFC 5280 clause 6.1.1 inputs (c), (e), (f), (g)."""

    initial_policy_set: frozenset[str] = frozenset({"any_policy"})
    policy_mapping_inhibit: bool = False
    explicit_policy: bool = False
    any_policy_inhibit: bool = False

    def pkix(self) -> PKIXValidationParams:
        return PKIXValidationParams(
            user_initial_policy_set=self.initial_policy_set,
            initial_policy_mapping_inhibit=self.policy_mapping_inhibit,
            initial_explicit_policy=self.explicit_policy,
            initial_any_policy_inhibit=self.any_policy_inhibit,
        )


def algorithm_policy(*, legacy_dsa: bool = False) -> DisallowWeakAlgorithmsPolicy:
    """No MD2/MD5/SHA-1; RSA keys of at least 2048 bits; DSA refused unless ``legacy_dsa``."""
    return DisallowWeakAlgorithmsPolicy(rsa_key_size_threshold=2048,
                                        dsa_key_size_threshold=1024 if legacy_dsa else 1 << 20)


def _link(cert: x509.Certificate, source: str) -> ChainLink:
    validity = cert["tbs_certificate"]["validity"]
    return ChainLink(
        subject=name_text(cert.subject) or cert.subject.human_friendly,
        fingerprint=cx.fingerprint(cert),
        not_before=utc_time(validity["not_before"].native),
        not_after=utc_time(validity["not_after"].native),
        source=source,
    )


def _classify(exc: Exception) -> tuple[Indication, SubIndication, str]:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, pv_errors.PathBuildingError):
        return Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, message
    if isinstance(exc, pv_errors.RevokedError):
        return Indication.TOTAL_FAILED, SubIndication.REVOKED, message
    if isinstance(exc, pv_errors.ExpiredError):
        return Indication.TOTAL_FAILED, SubIndication.EXPIRED, message
    if isinstance(exc, pv_errors.NotYetValidError):
        return Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID, message
    if isinstance(exc, pv_errors.StaleRevinfoError):
        return Indication.INDETERMINATE, SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE, message
    if isinstance(exc, pv_errors.InsufficientRevinfoError):
        return Indication.INDETERMINATE, SubIndication.TRY_LATER, f"{message} (no usable revocation data offline)"
    if isinstance(exc, pv_errors.DisallowedAlgorithmError):
        return Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, message
    if isinstance(exc, pv_errors.InsufficientPOEError):
        return Indication.INDETERMINATE, SubIndication.NO_POE, message
    if isinstance(exc, pv_errors.InvalidCertificateError):
        return Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message
    if isinstance(exc, pv_errors.PathValidationError):
        lowered = message.lower()
        if "signature" in lowered and ("invalid" in lowered or "could not be verified" in lowered
                                       or "not valid" in lowered):
            return Indication.TOTAL_FAILED, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, message
        if "not supported" in lowered or "unsupported" in lowered and "algorithm" in lowered:
            return Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, message
        return Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message
    return Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, message


def _validation_context(ctx: VerificationContext, *, legacy_dsa: bool = False) -> ValidationContext:
    return ValidationContext(
        trust_roots=list(ctx.anchors),
        other_certs=list(ctx.intermediates),
        crls=list(ctx.crls),
        ocsps=list(ctx.ocsps),
        moment=ctx.validation_time,
        allow_fetching=False,
        revocation_mode="hard-fail",
        retroactive_revinfo=True,
        signature_validator=SIGNATURE_VALIDATOR,
        algorithm_usage_policy=algorithm_policy(legacy_dsa=legacy_dsa),
    )


def verify_certificate(
    cert: x509.Certificate | bytes,
    ctx: VerificationContext,
    *,
    purpose: str | None = None,
    policy: PolicyInputs | None = None,
    legacy_dsa: bool = False,
    kind: str = "certificate",
) -> Report:
    """Validate one certificate; returns a report (a bad certificate is a result, not an exception)."""
    checks: list[Check] = []
    warnings = list(ctx.warnings)
    moment = ctx.validation_time
    if isinstance(cert, bytes):
        cert = cx.load_certificate(cert)
    purpose = purpose or ctx.purpose
    if purpose not in PURPOSES:
        raise InputError(f"unknown purpose {purpose!r}; one of {', '.join(sorted(PURPOSES))}")
    subject = name_text(cert.subject) or cert.subject.human_friendly
    checks.append(Check("parse", Result.PASSED, f"X.509 v{int(cert['tbs_certificate']['version'].native[1:])} "
                                                f"certificate, serial {cx.serial_hex(cert.serial_number)}"))
    if not ctx.anchors:
        return Report(kind, Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, moment, subject,
                      (_link(cert, "input"),), (*checks, Check("path", Result.FAILED, "no trust anchor given")),
                      tuple(warnings), ("no trust anchor: give --bundle with pinned roots, or --anchor",))
    key_usage, ext_key_usage = PURPOSES[purpose]
    validator = CertificateValidator(cert, validation_context=_validation_context(ctx, legacy_dsa=legacy_dsa),
                                     pkix_params=(policy or PolicyInputs()).pkix())
    try:
        path = asyncio.run(validator.async_validate_path())
    except (pv_errors.PathError, pv_errors.ValidationError, pv_errors.CRLValidationError,
            pv_errors.OCSPValidationError, ValueError, TypeError, TrustError) as exc:
        indication, sub, message = _classify(exc)
        checks.append(Check("path", Result.FAILED, message))
        return Report(kind, indication, sub, moment, subject, (_link(cert, "input"),), tuple(checks),
                      tuple(warnings), (message,))
    certs = list(path.iter_certs(include_root=True))
    chain = tuple(
        _link(c, "anchor" if i == 0 else "input" if i == len(certs) - 1 else
              "trust-list" if ctx.trust_list and ctx.trust_list.find_by_certificate(c.dump()) else "untrusted")
        for i, c in enumerate(certs)
    )[::-1]
    checks.append(Check("path", Result.PASSED, f"{len(certs)} certificates to {chain[-1].subject}; signatures, "
                                               "validity, constraints, policies and revocation checked"))
    try:
        if key_usage or ext_key_usage:
            asyncio.run(validator.async_validate_usage(set(key_usage), set(ext_key_usage) or None,
                                                      extended_optional=not ext_key_usage))
        checks.append(Check("purpose", Result.PASSED, f"{purpose}: key usage {sorted(key_usage) or 'any'}, "
                                                      f"extended key usage {sorted(ext_key_usage) or 'any'}"))
    except (pv_errors.InvalidCertificateError, pv_errors.PathValidationError) as exc:
        message = f"not usable for {purpose}: {exc}"
        checks.append(Check("purpose", Result.FAILED, message))
        return Report(kind, Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, moment, subject, chain,
                      tuple(checks), tuple(warnings), (message,))
    failure = _trust_list_checks(certs, ctx, purpose, checks)
    if failure is not None:
        indication, sub, message = failure
        return Report(kind, indication, sub, moment, subject, chain, tuple(checks), tuple(warnings), (message,))
    return Report(kind, Indication.TOTAL_PASSED, None, moment, subject, chain, tuple(checks), tuple(warnings))


def _trust_list_checks(certs: list[x509.Certificate], ctx: VerificationContext, purpose: str,
                       checks: list[Check]) -> tuple[Indication, SubIndication, str] | None:
    trust_list = ctx.trust_list
    if trust_list is None:
        checks.append(Check("trust-list", Result.SKIPPED, "no bundle given: explicit anchors only"))
        return None
    # certs[0] is the root; certs[i] issued certs[i + 1].
    for i in range(1, len(certs) - 1):
        ca_cert, child = certs[i], certs[i + 1]
        issued_at = utc_time(child["tbs_certificate"]["validity"]["not_before"].native)
        standing = trust_list.standing(ca_cert.dump(), issued_at, "CA")
        name = name_text(ca_cert.subject)
        if standing.service is None:
            message = f"CA {name} is not a service of trust list {trust_list.sequence}"
            checks.append(Check("trust-list", Result.FAILED, message))
            return Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, message
        if not standing.usable:
            message = f"CA {name}: {standing.reason}"
            checks.append(Check("trust-list", Result.FAILED, message))
            return Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message
        checks.append(Check("trust-list", Result.PASSED, f"{standing.reason} (judged when it issued "
                                                          f"{'the leaf' if i == len(certs) - 2 else 'the next CA'})"))
    leaf_service = LEAF_SERVICE_FOR_PURPOSE.get(purpose)
    if leaf_service is not None:
        standing = trust_list.standing(certs[-1].dump(), ctx.validation_time, leaf_service)
        if not standing.usable:
            message = f"{leaf_service}: {standing.reason}"
            checks.append(Check("trust-list-service", Result.FAILED, message))
            return Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message
        checks.append(Check("trust-list-service", Result.PASSED, standing.reason))
    return None


def now() -> datetime:
    return datetime.now(UTC)
