"""Verification reports in ETSI EN 319 102-1 terms: the bottom line first, then the reasons.

A :class:`Report` is frozen. ``indication`` is ``TOTAL_PASSED``, ``TOTAL_FAILED`` or ``INDETERMINATE``;
``sub_indication`` names the reason with the ETSI EN 319 102-1 clause 5.1.3 vocabulary; ``checks`` list every
check done, in order, with its result and detail; ``chain`` lists the certificate path from the leaf to the
anchor; ``warnings`` are facts that did not change the verdict (a stale bundle); ``errors`` are reasons for a
non-passing verdict. A composite input (a PDF with several signatures) has one child report per signature
and an overall bottom line.

**One verdict rule** (issue 14 item 3): every kind builds its report with :class:`ReportBuilder`, and the bottom line
(indication, sub-indication, which failure is the most fundamental) is computed in one place, :func:`bottom_line`.
Every check is reported: a check that could not run because one it depends on failed is listed as skipped ("not
run: …"), never left out.

The text form (:meth:`Report.to_text`, :mod:`verifier.report_text`) prints every string that came from the input —
subjects, reasons, details, the values of licence fields — through :func:`trust.formats.text.escape`: a control, bidi
or separator character is shown as ``\\u{…}``, so an input cannot recolour the terminal, add a line or reorder the
verdict; the verdict line is always the verifier's own first line (issue 11, item 5). JSON output is escaped by the
encoder.

JSON field names are the contract of ``trust verify --format json`` and ``POST /verify`` (``docs/VERIFIER.md``), and
``verifier/schemas/report.schema.json`` (:func:`schema`) is their JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypeGuard


class Indication(StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    """ETSI EN 319 102-1 clause 5.1.3 sub-indications used by Huren."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    NO_POE = "NO_POE"


class Result(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    name: str
    result: Result
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "result": self.result.value, "detail": self.detail}


@dataclass(frozen=True)
class Finding(Check):
    """A check with what it means for the bottom line: its indication and sub-indication (``None``: informative)."""

    indication: Indication | None = None
    sub_indication: SubIndication | None = None


@dataclass(frozen=True)
class ChainLink:
    subject: str
    fingerprint: str
    not_before: datetime | None = None
    not_after: datetime | None = None
    source: str = ""  # input | untrusted | trust-list | anchor
    key: str = ""  # the certificate's key: "SM2", "RSA 4096", "ECDSA P-256" ("" if unreadable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "fingerprint": self.fingerprint,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "source": self.source,
            "key": self.key,
        }


@dataclass(frozen=True)
class Report:
    kind: str
    indication: Indication
    sub_indication: SubIndication | None
    validation_time: datetime
    subject: str = ""
    chain: tuple[ChainLink, ...] = ()
    checks: tuple[Check, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    details: tuple[tuple[str, Any], ...] = ()
    children: tuple[Report, ...] = field(default=())
    source: Mapping[str, Any] | None = None
    """What the verification relied on besides the input (:meth:`verifier.context.VerificationContext.source`): the
    bundle and trust list, by date and number; set on the report :func:`verifier.api.verify` returns."""

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "validation_time": self.validation_time.isoformat(),
            "subject": self.subject,
            "chain": [link.to_dict() for link in self.chain],
            "checks": [check.to_dict() for check in self.checks],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
        }
        if self.details:
            data["details"] = dict(self.details)
        if self.children:
            data["reports"] = [child.to_dict() for child in self.children]
        if self.source is not None:
            data["source"] = dict(self.source)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str)

    def to_text(self, *, verbose: bool = False) -> str:
        """For people (:mod:`verifier.report_text`): the verdict line first, then — for a failed report — the reason;
        short and grouped for a passed one; every check, link and detail with ``verbose``. Every string that may come
        from the input is escaped (module docstring)."""
        from verifier.report_text import render

        return render(self, verbose=verbose)


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :meth:`Report.to_dict`, shipped with the package."""
    from importlib import resources

    text = resources.files("verifier").joinpath("schemas", "report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def decides(check: Check) -> TypeGuard[Finding]:
    """Whether ``check`` counts against the bottom line (a :class:`Finding` with a non-passing indication)."""
    return isinstance(check, Finding) and check.indication in (Indication.TOTAL_FAILED, Indication.INDETERMINATE)


class Verdict(NamedTuple):
    """A bottom line: the indication, its sub-indication and the reasons, the deciding one first."""

    indication: Indication
    sub_indication: SubIndication | None
    errors: tuple[str, ...]


def bottom_line(
    checks: Sequence[Check], order: Sequence[str] = (), children: Sequence[tuple[str, Report]] = ()
) -> Verdict:
    """The one verdict rule of every report (ETSI EN 319 102-1: a definite failure outweighs an undecided check).

    The findings are the checks that carry an indication (:class:`Finding`, other than TOTAL_PASSED) and the
    ``children`` that count on their own (``(label, report)``: a signature of a PDF). The bottom line is the most
    fundamental TOTAL_FAILED finding, else the most fundamental INDETERMINATE one, else TOTAL_PASSED; "most
    fundamental" is the first in ``order`` (check names; a kind lists its checks from the most fundamental down),
    then, for names ``order`` does not list, the first in the report (checks before children). ``errors`` holds one
    reason per finding, ``"<check>: <detail>"``, the deciding one first and the others in the same ranking."""
    findings: list[tuple[str, Indication, SubIndication | None, str]] = [
        (
            check.name,
            check.indication or Indication.INDETERMINATE,
            check.sub_indication,
            f"{check.name}: {check.detail}",
        )
        for check in checks
        if decides(check)
    ]
    for label, child in children:
        if not child.passed:
            reason = child.errors[0] if child.errors else child.indication.value
            findings.append((label, child.indication, child.sub_indication, f"{label}: {reason}"))

    def rank(item: tuple[str, Indication, SubIndication | None, str]) -> int:
        return order.index(item[0]) if item[0] in order else len(order)

    ranked = sorted(findings, key=rank)  # stable: the report's order among equals
    for wanted in (Indication.TOTAL_FAILED, Indication.INDETERMINATE):
        chosen = next((item for item in ranked if item[1] is wanted), None)
        if chosen is not None:
            rest = [item for item in ranked if item is not chosen]
            return Verdict(wanted, chosen[2], tuple(item[3] for item in (chosen, *rest)))
    return Verdict(Indication.TOTAL_PASSED, None, ())


class ReportBuilder:
    """Collects what a verification finds and makes its :class:`Report`; the bottom line is :func:`bottom_line`.

    Every check is reported: one that cannot run because a check it depends on failed is added as skipped, naming
    why (:meth:`not_run`), never left out."""

    def __init__(self, kind: str, validation_time: datetime, subject: str = "", *, order: Sequence[str] = ()) -> None:
        self.kind = kind
        self.validation_time = validation_time
        self.subject = subject
        self.order = tuple(order)
        self.chain: tuple[ChainLink, ...] = ()
        self.checks: list[Check] = []
        self.warnings: list[str] = []
        self.details: dict[str, Any] = {}
        self._children: list[Report] = []
        self._counted: list[tuple[str, Report]] = []

    # -- checks --------------------------------------------------------------------------------------------
    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def passed(self, name: str, detail: str) -> Check:
        return self.add(Check(name, Result.PASSED, detail))

    def failed(
        self, name: str, indication: Indication, sub: SubIndication | None, detail: str, result: Result = Result.FAILED
    ) -> Check:
        return self.add(Finding(name, result, detail, indication, sub))

    def skipped(self, name: str, detail: str) -> Check:
        return self.add(Check(name, Result.SKIPPED, detail))

    def note(self, name: str, result: Result, detail: str) -> Check:
        """A check that informs and does not decide (a warning, a skipped step)."""
        return self.add(Check(name, result, detail))

    def has(self, name: str) -> bool:
        return any(check.name == name for check in self.checks)

    def not_run(self, names: Sequence[str], because: str) -> None:
        """Report each of ``names`` not reported yet as skipped: it could not run ``because`` (a failed check)."""
        for name in names:
            if not self.has(name):
                self.skipped(name, f"not run: {because}")

    def failures(self) -> list[Check]:
        return [check for check in self.checks if decides(check)]

    # -- children ------------------------------------------------------------------------------------------
    def child(self, report: Report, *, label: str | None = None) -> None:
        """Attach a contained object's report. With ``label`` it counts in the bottom line on its own (a PDF's
        signatures); without, it is evidence only and a check of this report judges it (:meth:`child_check`)."""
        self._children.append(report)
        if label is not None:
            self._counted.append((label, report))

    def child_check(self, name: str, report: Report, what: str, *, attach: bool = True) -> Check:
        """A check whose result is ``report``'s bottom line (``what``: what the report is about)."""
        if attach:
            self._children.append(report)
        if report.passed:
            return self.passed(name, f"{what}: {report.indication.value}")
        reason = report.errors[0] if report.errors else report.indication.value
        return self.failed(
            name, report.indication, report.sub_indication or SubIndication.SIG_CONSTRAINTS_FAILURE, f"{what}: {reason}"
        )

    # -- the report ----------------------------------------------------------------------------------------
    def verdict(self) -> Verdict:
        return bottom_line(self.checks, self.order, self._counted)

    def build(self, *, warnings: Sequence[str] = ()) -> Report:
        """The report; ``warnings`` (the context's) go before the ones found here, each once."""
        indication, sub, errors = self.verdict()
        return Report(
            self.kind,
            indication,
            sub,
            self.validation_time,
            self.subject,
            self.chain,
            tuple(self.checks),
            tuple(dict.fromkeys([*warnings, *self.warnings])),
            errors,
            tuple(self.details.items()),
            tuple(self._children),
        )


def worst(reports: Sequence[Report]) -> tuple[Indication, SubIndication | None]:
    """The bottom line over several reports (:func:`bottom_line` of them as children)."""
    verdict = bottom_line((), (), [(report.kind, report) for report in reports])
    return verdict.indication, verdict.sub_indication
