"""Trust anchors are checked, and their constraints apply (RFC 5937; RFC 5280 clause 6.1.1 (d) only names the
anchor's key and name, so a bare certificate would carry no constraint at all).

Mutual recognition takes foreign roots as anchors, so an anchor certificate is not a bare key:

* **RFC 5937 constraints** (:func:`trust_anchor`): pyhanko-certvalidator's ``CertTrustAnchor`` with
  ``TrustQualifiers`` built here from the anchor's own extensions —
  name constraints become the initial permitted / excluded subtrees (directoryName, rfc822Name and URI through
  pyhanko; dNSName and iPAddress through :mod:`verifier.names`), ``pathLenConstraint`` the maximum path length,
  ``certificatePolicies`` (unless it holds anyPolicy) the user-initial-policy-set it is intersected with,
  ``policyConstraints`` with ``skipCerts`` 0 the initial explicit-policy / policy-mapping-inhibit flags,
  ``inhibitAnyPolicy`` 0 the initial any-policy-inhibit flag, the validity period the anchor's own. Unlike
  ``derive_quals_from_cert``, policies in the anchor do not force an explicit policy by themselves (RFC 5937 intersects
  them with the user's set; ``requireExplicitPolicy`` asks for explicit policy). ``skipCerts`` other than 0 cannot be
  expressed as pyhanko's initial flags and is not applied (said in the report).
* **Huren's checks of the anchor certificate** (:func:`anchor_problem`), for what the qualifiers do not cover: valid at
  the validation time; no critical extension pyhanko-certvalidator does not process; and, when the anchor issues the
  next certificate of the path, ``basicConstraints`` present, critical and ``cA`` TRUE, ``keyUsage`` present with
  ``keyCertSign`` (RFC 5280 clauses 4.2.1.9 and 4.2.1.3 for the certificate that carries the key).

The report's ``anchor`` check says which constraints applied (:func:`anchor_summary`).

**Key anchors** (``--anchor-key``, ``context.build(key_anchors=...)``; :func:`key_anchor`): a certificate the user
trusts for its name and public key only — the trust anchor information of RFC 5280 clause 6.1.1 (d), as RFC 5914's
``TrustAnchorInfo`` without ``certPath`` controls beyond the name. Its extensions are neither checked nor applied (no
basicConstraints or keyUsage demanded, no RFC 5937 constraints); its validity period still bounds it
(:func:`key_anchor_problem`). For test roots and foreign roots that do not follow the RFC 5280 CA profile (ofdrw's
test root: non-critical basicConstraints, no keyCertSign), chosen knowingly; ``--anchor`` keeps the checks above, and
the trust list's roots always have them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import x509
from pyhanko_certvalidator.authority import CertTrustAnchor, TrustedServiceType, TrustQualifiers
from pyhanko_certvalidator.name_trees import process_general_subtrees
from pyhanko_certvalidator.policy_decl import PKIXValidationParams
from pyhanko_certvalidator.validate import SUPPORTED_EXTENSIONS

from trust.formats.names import name_text
from verifier import names

ANY_POLICY: Final = "2.5.29.32.0"


@dataclass(frozen=True)
class AnchorConstraints:
    """What an anchor certificate constrains (RFC 5937), as read from its extensions."""

    path_length: int | None
    policies: frozenset[str] | None  # None: any policy
    explicit_policy: bool
    policy_mapping_inhibit: bool
    any_policy_inhibit: bool
    not_applied: tuple[str, ...]


def constraints(cert: x509.Certificate) -> AnchorConstraints:
    not_applied: list[str] = []
    path_length = cert.max_path_length if cert.ca else None
    policies = None
    value = cert.certificate_policies_value
    if value is not None:
        oids = frozenset(p["policy_identifier"].dotted for p in value)
        policies = None if ANY_POLICY in oids else oids
    explicit = mapping = any_inhibit = False
    pc = cert.policy_constraints_value
    if pc is not None:
        required = pc["require_explicit_policy"].native
        inhibit = pc["inhibit_policy_mapping"].native
        explicit = required == 0
        mapping = inhibit == 0
        if required not in (None, 0):
            not_applied.append(f"requireExplicitPolicy skipCerts {required}")
        if inhibit not in (None, 0):
            not_applied.append(f"inhibitPolicyMapping skipCerts {inhibit}")
    iap = cert.inhibit_any_policy_value
    if iap is not None:
        any_inhibit = iap.native == 0
        if iap.native != 0:
            not_applied.append(f"inhibitAnyPolicy skipCerts {iap.native}")
    return AnchorConstraints(path_length, policies, explicit, mapping, any_inhibit, tuple(not_applied))


def trust_anchor(cert: x509.Certificate) -> CertTrustAnchor:
    """The anchor pyhanko validates paths from, qualified by the certificate's own constraints (module docstring)."""
    c = constraints(cert)
    nc = names.pyhanko_subtrees(cert.name_constraints_value)
    permitted = excluded = None
    if nc is not None:
        if isinstance(nc["permitted_subtrees"], x509.GeneralSubtrees):
            permitted = process_general_subtrees(nc["permitted_subtrees"])
        if isinstance(nc["excluded_subtrees"], x509.GeneralSubtrees):
            excluded = process_general_subtrees(nc["excluded_subtrees"])
    params = None
    if (
        permitted
        or excluded
        or c.policies is not None
        or c.explicit_policy
        or c.policy_mapping_inhibit
        or c.any_policy_inhibit
    ):
        params = PKIXValidationParams(
            user_initial_policy_set=c.policies if c.policies is not None else frozenset({"any_policy"}),
            initial_explicit_policy=c.explicit_policy,
            initial_policy_mapping_inhibit=c.policy_mapping_inhibit,
            initial_any_policy_inhibit=c.any_policy_inhibit,
            initial_permitted_subtrees=permitted,
            initial_excluded_subtrees=excluded,
        )
    quals = TrustQualifiers(
        standard_parameters=params,
        max_path_length=c.path_length,
        # pyhanko-certvalidator 0.33 takes max_aa_path_length from the qualifiers whenever max_path_length is set
        # (validate.py, init_pkix_validation_state) and then decrements it: None there fails with a TypeError
        max_aa_path_length=c.path_length,
        valid_from=cert.not_valid_before,
        valid_until=cert.not_valid_after,
        # every anchor stays a candidate issuer: whether it may issue is Huren's check (anchor_problem), which says why
        trusted_service_type=TrustedServiceType.UNSPECIFIED,
    )
    return CertTrustAnchor(cert, quals=quals)


class KeyAnchor(CertTrustAnchor):
    """A certificate trusted as name and key only (module docstring): pathchecks skips the certificate's checks."""


def key_anchor(cert: x509.Certificate) -> KeyAnchor:
    """The anchor of a certificate given as a key anchor: its name and key, bounded by its validity period."""
    quals = TrustQualifiers(
        valid_from=cert.not_valid_before,
        valid_until=cert.not_valid_after,
        trusted_service_type=TrustedServiceType.UNSPECIFIED,
    )
    return KeyAnchor(cert, quals=quals)


@dataclass(frozen=True)
class AnchorProblem:
    rule: str
    message: str
    kind: str = "constraints"  # constraints | expired | not-yet-valid


def anchor_problem(cert: x509.Certificate, moment: datetime, *, issues: bool) -> AnchorProblem | None:
    """What makes ``cert`` unusable as the anchor of a path at ``moment`` (``issues``: it signed the next
    certificate of the path, rather than being the input itself), or None."""
    label = f"trust anchor {_name(cert)}"
    if cert.not_valid_before > moment:
        return AnchorProblem(
            "anchor-not-yet-valid", f"{label} is not valid before {cert.not_valid_before.isoformat()}", "not-yet-valid"
        )
    if cert.not_valid_after < moment:
        return AnchorProblem("anchor-expired", f"{label} expired on {cert.not_valid_after.isoformat()}", "expired")
    unknown = sorted(cert.critical_extensions - SUPPORTED_EXTENSIONS)
    if unknown:
        return AnchorProblem(
            "anchor-unknown-critical-extension",
            f"{label} has the critical extension(s) {', '.join(unknown)}, which are not processed (RFC 5280 "
            "clause 4.2)",
        )
    if not issues:
        return None
    bc = _extension(cert, "basic_constraints")
    if bc is None:
        return AnchorProblem(
            "anchor-basic-constraints-missing",
            f"{label} has no basicConstraints extension (RFC 5280 clause 4.2.1.9: a CA certificate must have it)",
        )
    if not bc["critical"].native:
        return AnchorProblem(
            "anchor-basic-constraints-not-critical",
            f"{label} has a non-critical basicConstraints extension (RFC 5280 clause 4.2.1.9: critical in CA "
            "certificates)",
        )
    if not cert.ca:
        return AnchorProblem("anchor-not-ca", f"{label} is not a CA (basicConstraints cA is FALSE)")
    usage = cert.key_usage_value
    if usage is None:
        return AnchorProblem(
            "anchor-key-usage-missing",
            f"{label} has no keyUsage extension (RFC 5280 clause 4.2.1.3: CA certificates include it)",
        )
    if "key_cert_sign" not in usage.native:
        return AnchorProblem(
            "anchor-key-cert-sign-missing", f"{label}: keyUsage does not assert keyCertSign (RFC 5280 clause 4.2.1.3)"
        )
    return None


def key_anchor_problem(cert: x509.Certificate, moment: datetime) -> AnchorProblem | None:
    """What makes a key anchor unusable at ``moment``: only its validity period (its extensions are not processed)."""
    label = f"trust anchor {_name(cert)}"
    if cert.not_valid_before > moment:
        return AnchorProblem(
            "anchor-not-yet-valid", f"{label} is not valid before {cert.not_valid_before.isoformat()}", "not-yet-valid"
        )
    if cert.not_valid_after < moment:
        return AnchorProblem("anchor-expired", f"{label} expired on {cert.not_valid_after.isoformat()}", "expired")
    return None


def key_anchor_summary(cert: x509.Certificate) -> str:
    """The ``anchor`` check of a path from a key anchor."""
    return (
        f"{_name(cert)}: valid {cert.not_valid_before.date().isoformat()} to "
        f"{cert.not_valid_after.date().isoformat()}; trusted as name and key (--anchor-key, RFC 5280 clause "
        "6.1.1 (d)): its extensions are neither checked nor applied"
    )


def anchor_summary(cert: x509.Certificate) -> str:
    """Which constraints of the anchor applied to the path (the ``anchor`` check of the report)."""
    c = constraints(cert)
    parts = [
        f"{_name(cert)}: valid {cert.not_valid_before.date().isoformat()} to {cert.not_valid_after.date().isoformat()}",
        "basicConstraints cA (critical), keyCertSign" if cert.ca else "used as itself (not as an issuer)",
    ]
    applied = [f"path length ≤ {c.path_length}"] if c.path_length is not None else []
    nc = cert.name_constraints_value
    if nc is not None:
        for part in ("permitted_subtrees", "excluded_subtrees"):
            subtrees = nc[part]
            if isinstance(subtrees, x509.GeneralSubtrees) and len(subtrees):
                shown = ", ".join(_subtree_text(s["base"]) for s in subtrees)
                applied.append(f"{part.split('_')[0]} {shown}")
    if c.policies is not None:
        applied.append(f"policies {', '.join(sorted(c.policies))}")
    for flag, text in (
        (c.explicit_policy, "explicit policy"),
        (c.policy_mapping_inhibit, "policy mapping inhibited"),
        (c.any_policy_inhibit, "anyPolicy inhibited"),
    ):
        if flag:
            applied.append(text)
    text = "; ".join(parts) + "; RFC 5937 constraints applied: " + (", ".join(applied) if applied else "none")
    if c.not_applied:
        text += f"; not applied: {', '.join(c.not_applied)}"
    return text


def _subtree_text(base: x509.GeneralName) -> str:
    form = base.name
    try:
        if form == names.IP:
            return f"IP:{names.ip_constraint(bytes(base.chosen.contents or b''))}"
        if form == "directory_name":
            return f"DN:{name_text(base.chosen) or base.chosen.human_friendly}"
        if form == names.DNS:
            return f"DNS:{names.dns_text(base)}"
        prefix = {"dns_name": "DNS", "rfc822_name": "email", "uniform_resource_identifier": "URI"}.get(form, form)
        return f"{prefix}:{base.chosen.native}"
    except (names.NameProblem, ValueError, TypeError):
        return f"{form}:(invalid)"


def _extension(cert: x509.Certificate, name: str) -> Any:
    for extension in cert["tbs_certificate"]["extensions"]:
        if extension["extn_id"].native == name:
            return extension
    return None


def _name(cert: x509.Certificate) -> str:
    return name_text(cert.subject) or cert.subject.human_friendly or "(empty subject)"
