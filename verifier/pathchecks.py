"""Huren's checks of a candidate certification path, run before pyhanko-certvalidator's RFC 5280 validation of it.

For every candidate path (:class:`verifier.paths.BoundedPaths`), in order:

1. **anchor** — the anchor certificate itself (:func:`verifier.anchors.anchor_problem`: validity, critical
   extensions, and for an issuing anchor basicConstraints and keyCertSign); its RFC 5937 constraints are in the
   ``TrustAnchor`` pyhanko validates from (:func:`verifier.anchors.trust_anchor`). A key anchor (``--anchor-key``,
   :class:`verifier.anchors.KeyAnchor`) is checked for its validity only, and neither its name constraints nor the
   CA profile apply to it.
2. **max-depth** — at most ``max_depth`` intermediate CA certificates, self-issued ones not counted (as RFC 5280
   clause 4.2.1.9 counts path length); ``--max-depth`` / ``max_depth``, bounded by :data:`verifier.limits.MAX_DEPTH`.
3. **names** — :mod:`verifier.names`: dNSName / iPAddress syntax and constraints, unsupported constrained name forms.
4. **profile** — :mod:`verifier.profile`: the RFC 5280 CA profile rules, on every certificate under the strict
   profile, and always on members of Huren's own trust list; a duplicated extension always.

A failure raises :class:`PathCheckError` (a pyhanko ``ValidationError``, so the path search treats it as a failed
candidate and tries the next one). A path that passes is handed to pyhanko as :func:`verifier.names.pyhanko_view`
certificates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from asn1crypto import x509
from pyhanko_certvalidator import errors as pv_errors
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.path import ValidationPath

from trust.formats.names import name_text
from verifier import anchors, names, profile
from verifier.report import Check, Indication, Result, SubIndication


class PathCheckError(pv_errors.ValidationError):
    """A candidate path fails one of Huren's checks: the report's check name, rule, indication and sub-indication."""

    def __init__(
        self,
        check: str,
        rule: str,
        message: str,
        sub_indication: SubIndication = SubIndication.CHAIN_CONSTRAINTS_FAILURE,
        indication: Indication = Indication.TOTAL_FAILED,
    ) -> None:
        super().__init__(message)
        self.check = check
        self.rule = rule
        self.message = message
        self.sub_indication = sub_indication
        self.indication = indication


@dataclass(frozen=True)
class PathOptions:
    """Options of path validation beyond RFC 5280's inputs: the strict profile and the maximum depth."""

    strict: bool = False
    max_depth: int | None = None


@dataclass
class CheckedPath:
    path: ValidationPath  # what pyhanko validates: the candidate's anchor and the pyhanko views of its certificates
    checks: list[Check] = field(default_factory=list)


def _anchor_self_issued(cert: x509.Certificate) -> bool:
    return bool(cert.self_issued)


class _Label:
    """``"<position> <subject>"``, formatted only when a message or a report detail needs it."""

    __slots__ = ("_cert", "_position", "_text")

    def __init__(self, cert: x509.Certificate, position: str) -> None:
        self._cert = cert
        self._position = position
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            subject = name_text(self._cert.subject) or self._cert.subject.human_friendly or "(empty subject)"
            self._text = f"{self._position} {subject}"
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _label(cert: x509.Certificate, position: str) -> str:
    # A str stand-in: a label is only ever formatted into a message (f-strings, str()), which _Label does lazily.
    return cast(str, _Label(cert, position))


def check_candidate(
    candidate: ValidationPath,
    moment: datetime,
    options: PathOptions,
    *,
    member: Callable[[x509.Certificate], bool],
    self_signed: Callable[[x509.Certificate], bool],
) -> CheckedPath:
    """Run the checks of the module docstring on ``candidate``; raises :class:`PathCheckError`."""
    authority = candidate.trust_anchor.authority
    anchor = authority.certificate if isinstance(authority, AuthorityWithCert) else None
    certs = [c for c in candidate.iter_certs(include_root=False) if isinstance(c, x509.Certificate)]
    checks: list[Check] = []
    key_only = isinstance(candidate.trust_anchor, anchors.KeyAnchor)
    if anchor is not None:
        if key_only:
            problem = anchors.key_anchor_problem(anchor, moment)
        else:
            problem = anchors.anchor_problem(anchor, moment, issues=bool(certs))
        if problem is not None:
            sub = {
                "expired": SubIndication.EXPIRED,
                "not-yet-valid": SubIndication.NOT_YET_VALID,
            }.get(problem.kind, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
            raise PathCheckError("anchor", problem.rule, problem.message, sub)
        summary = anchors.key_anchor_summary(anchor) if key_only else anchors.anchor_summary(anchor)
        checks.append(Check("anchor", Result.PASSED, summary))
    intermediates = certs[:-1]
    depth = sum(1 for c in intermediates if not c.self_issued)
    if options.max_depth is not None and depth > options.max_depth:
        raise PathCheckError(
            "path",
            "max-depth",
            f"the path has {depth} intermediate CA certificate(s) (self-issued ones not counted), more than the "
            f"maximum depth {options.max_depth}",
        )
    labelled = [(c, _label(c, "leaf" if i == len(certs) - 1 else "CA")) for i, c in enumerate(certs)]
    try:
        state = names.check_path_names(None if key_only else anchor, labelled)
    except names.NameProblem as exc:
        raise PathCheckError("names", exc.rule, exc.message) from None
    checks.append(
        Check(
            "names",
            Result.PASSED,
            "dNSName and iPAddress syntax; "
            + (f"constraints: {'; '.join(state.applied)}" if state.applied else "no dNSName or iPAddress constraints"),
        )
    )
    checked = 0
    profiled = [(anchor, _label(anchor, "trust anchor"))] if anchor is not None and not key_only else []
    profiled.extend(labelled)
    for cert, label in profiled:
        if not (options.strict or member(cert)):
            duplicate = profile.duplicate_extension(cert, label)
            if duplicate is not None:
                raise PathCheckError("profile", duplicate.rule, duplicate.message, duplicate.sub_indication)
            continue
        # the anchor's own signature is never relied on (RFC 5280 clause 6.1.1 (d)): for it, self-issued is what
        # "self-signed" can mean, and no signature is checked to tell
        own = _anchor_self_issued if cert is anchor else self_signed
        found = profile.profile_problem(cert, label, self_signed=own)
        if found is not None:
            raise PathCheckError("profile", found.rule, found.message, found.sub_indication)
        checked += 1
    if checked:
        scope = "strict profile" if options.strict else "trust-list members"
        checks.append(Check("profile", Result.PASSED, f"RFC 5280 CA profile ({scope}): {checked} certificate(s)"))
    else:
        checks.append(Check("profile", Result.SKIPPED, "RFC 5280 CA profile not requested (--strict)"))
    view = ValidationPath(
        candidate.trust_anchor,
        [names.pyhanko_view(c) for c in intermediates],
        names.pyhanko_view(certs[-1]) if certs else None,
    )
    return CheckedPath(view, checks)
