"""Verification reports in ETSI EN 319 102-1 terms: the bottom line first, then the reasons.

A :class:`Report` is frozen. ``indication`` is ``TOTAL_PASSED``, ``TOTAL_FAILED`` or ``INDETERMINATE``;
``sub_indication`` names the reason with the ETSI EN 319 102-1 clause 5.1.3 vocabulary; ``checks`` list every
check done, in order, with its result and detail; ``chain`` lists the certificate path from the leaf to the
anchor; ``warnings`` are facts that did not change the verdict (a stale bundle); ``errors`` are reasons for a
non-passing verdict. A composite input (a PDF with several signatures) has one child report per signature
and an overall bottom line.

The text form (:meth:`Report.to_text`) prints every string that came from the input — subjects, reasons, details,
the values of licence fields — through :func:`trust.formats.text.escape`: a control, bidi or separator character is
shown as ``\\u{…}``, so an input cannot recolour the terminal, add a line or reorder the verdict; the verdict line is
always the verifier's own first line (issue 11, item 5). JSON output is escaped by the encoder.

JSON field names are the contract of ``trust verify --format json`` and ``POST /verify`` (``docs/VERIFIER.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from trust.formats.text import escape


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
class ChainLink:
    subject: str
    fingerprint: str
    not_before: datetime | None = None
    not_after: datetime | None = None
    source: str = ""  # input | untrusted | trust-list | anchor

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "fingerprint": self.fingerprint,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "source": self.source,
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
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str)

    def to_text(self, indent: str = "") -> str:
        """For people: verdict and reason on the first line, then chain, checks, warnings. Every string that may
        come from the input is escaped (module docstring)."""
        verdict = self.indication.value.replace("_", "-")
        reason = f" / {self.sub_indication.value}" if self.sub_indication else ""
        lines = [f"{indent}{verdict}{reason}  {escape(self.kind)}: {escape(self.subject)}".rstrip()]
        for error in self.errors:
            lines.append(f"{indent}  reason: {escape(error)}")
        for warning in self.warnings:
            lines.append(f"{indent}  warning: {escape(warning)}")
        lines.append(f"{indent}  validation time: {self.validation_time.isoformat()}")
        if self.chain:
            lines.append(f"{indent}  chain:")
            for link in self.chain:
                lines.append(
                    f"{indent}    {escape(link.subject)}  [{escape(link.fingerprint[:16])}…] {escape(link.source)}"
                )
        if self.checks:
            lines.append(f"{indent}  checks:")
            mark = {Result.PASSED: "ok  ", Result.FAILED: "FAIL", Result.WARNING: "warn", Result.SKIPPED: "skip"}
            for check in self.checks:
                lines.append(f"{indent}    {mark[check.result]} {escape(check.name)}: {escape(check.detail)}".rstrip())
        for key, value in self.details:
            lines.append(f"{indent}  {escape(str(key))}: {escape(str(value))}")
        for child in self.children:
            lines.append(child.to_text(indent + "  "))
        return "\n".join(lines)


def worst(reports: list[Report]) -> tuple[Indication, SubIndication | None]:
    """The bottom line over several reports: any failure fails, else any indeterminate, else passed."""
    for wanted in (Indication.TOTAL_FAILED, Indication.INDETERMINATE):
        for report in reports:
            if report.indication is wanted:
                return wanted, report.sub_indication
    return Indication.TOTAL_PASSED, None
