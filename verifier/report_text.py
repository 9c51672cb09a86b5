"""The text form of a verification report, for people (``trust verify``; issue 13 item 5).

Layout, the same for every kind:

1. the verdict line, always the verifier's own first line: ``TOTAL-PASSED  licence PDF: <subject>`` (``/ SUB`` after a
   failed or undecided verdict);
2. for a verdict that did not pass, the reason first — ``reason:`` the deciding failure, ``also:`` the others;
3. ``checked at`` the validation time, ``against`` what was relied on (the bundle's date and the trust list's number,
   or the anchors given), then warnings;
4. the facts that matter for the kind (the licence's type and fields, the seal, the signing time, the key) as
   ``label: value`` lines — values are written out (lists joined, objects as ``name: value``), never as Python
   literals;
5. the chain in one line (how many certificates, each key, the anchor) and the checks grouped: a passed report says
   how many passed, and lists only what was skipped; a failed one lists each failed check (``FAIL name: detail``),
   then the passed and the not-run ones by name;
6. contained reports (a PDF's signatures, a licence PDF's seals and token), indented: a passed one in a line or two.

``verbose`` prints every check, chain link and detail of every report. Every string that came from the input passes
through :func:`trust.formats.text.escape` (:mod:`verifier.report`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from trust.formats.text import escape
from verifier.report import Report, Result

LABELS: Final = {
    "certificate": "certificate",
    "seal": "GB/T 38540 seal",
    "ses-signature": "GB/T 38540 signature",
    "pdf": "sealed PDF",
    "pdf-signature": "PDF signature",
    "pdf-timestamp": "PDF document time-stamp",
    "license-token": "licence token",
    "license-sd-jwt": "licence presentation (SD-JWT)",
    "license-qr": "licence QR code",
    "license-pdf": "licence PDF",
    "tsa": "time-stamping certificate",
}
"""What each report kind is called in the text (the JSON keeps the ``kind`` names)."""

_LICENSE_FACTS: Final = (
    ("type", "licence type"),
    ("fields", "fields"),
    ("disclosed", "disclosed fields"),
    ("omitted_fields", "fields left out of the QR code"),
)
FACTS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "certificate": (("rule", "rule"),),
    "seal": (("seal_version", "version"), ("vendor", "vendor"), ("valid_start", "valid from"), ("valid_end", "until")),
    "ses-signature": (("time_info", "signed (timeInfo)"), ("time_stamp", "time-stamped"), ("seal_name", "seal")),
    "pdf": (("revisions", "revisions"), ("validation_data", "validation data in the PDF")),
    "pdf-signature": (
        ("key", "key"),
        ("signature_algorithm", "algorithm"),
        ("signing_time", "signed"),
        ("signing_time_source", "signing time from"),
        ("seal", "seal"),
        ("modifications", "changes after signing"),
    ),
    "pdf-timestamp": (("gen_time", "time"), ("key", "key")),
    "license-token": _LICENSE_FACTS,
    "license-sd-jwt": _LICENSE_FACTS,
    "license-qr": _LICENSE_FACTS,
    "license-pdf": (("identifier", "identifier"), ("type", "licence type"), ("authority_seal", "authority's seal")),
}
"""The details shown for each kind in the short form, with their labels (``verbose`` shows all)."""

MAX_REASONS: Final = 6
MAX_INLINE: Final = 4
"""An object with more entries than this is written one entry a line."""


def label(kind: str) -> str:
    return LABELS.get(kind, kind)


def render(report: Report, *, verbose: bool = False) -> str:
    return "\n".join(_lines(report, "", verbose, top=True))


def _verdict_line(report: Report, indent: str) -> str:
    verdict = report.indication.value.replace("_", "-")
    reason = f" / {report.sub_indication.value}" if report.sub_indication else ""
    subject = f": {escape(report.subject)}" if report.subject else ""
    return f"{indent}{verdict}{reason}  {escape(label(report.kind))}{subject}"


def _lines(report: Report, indent: str, verbose: bool, *, top: bool = False) -> list[str]:
    pad = indent + "  "
    lines = [_verdict_line(report, indent)]
    if report.errors:
        lines.append(f"{pad}reason: {escape(report.errors[0])}")
        others = report.errors[1:] if verbose else report.errors[1:MAX_REASONS]
        lines.extend(f"{pad}also: {escape(error)}" for error in others)
        if len(report.errors) > len(others) + 1:
            lines.append(f"{pad}and {len(report.errors) - len(others) - 1} more reasons (--verbose)")
    if top or verbose:
        lines.append(f"{pad}checked at {report.validation_time.isoformat()}{_against(report.source)}")
    lines.extend(f"{pad}warning: {escape(warning)}" for warning in report.warnings)
    lines.extend(_facts(report, pad, verbose))
    lines.extend(_chain(report, pad, verbose))
    lines.extend(_checks(report, pad, verbose))
    for child in report.children:
        if child.passed and not verbose:
            lines.append(_verdict_line(child, pad))
            lines.extend(_facts(child, pad + "  ", verbose=False))
        else:
            lines.extend(_lines(child, pad, verbose))
    return lines


def _against(source: Mapping[str, Any] | None) -> str:
    if not source:
        return ""
    bundle, trust_list = source.get("bundle"), source.get("trust_list")
    if isinstance(bundle, Mapping) and isinstance(trust_list, Mapping):
        return (
            f" against the bundle of {bundle.get('created_at')} (trust list {trust_list.get('sequence')} of "
            f"{trust_list.get('issued_at')})"
        )
    anchors = source.get("anchors")
    return f" against {anchors} trust anchor(s) given, no trust list" if anchors else ", with no trust anchor"


def _facts(report: Report, pad: str, verbose: bool) -> list[str]:
    details = dict(report.details)
    shown = [(key, key.replace("_", " ")) for key in details] if verbose else FACTS.get(report.kind, ())
    lines: list[str] = []
    for key, name in shown:
        value = details.get(key)
        if value is None or value in ("", [], {}):
            continue
        if isinstance(value, Mapping) and len(value) > MAX_INLINE:
            lines.append(f"{pad}{escape(name)}:")
            lines.extend(f"{pad}  {escape(str(k))}: {_value(v)}" for k, v in value.items())
        else:
            lines.append(f"{pad}{escape(name)}: {_value(value)}")
    return lines


def _value(value: Any) -> str:
    """A detail written out for people: text escaped, lists joined, objects as ``name: value``; no Python literal."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{escape(str(k))}: {_value(v)}" for k, v in value.items())
    if isinstance(value, Sequence):
        parts = [_value(item) for item in value]
        return "; ".join(parts) if any(isinstance(item, Mapping | list | tuple) for item in value) else ", ".join(parts)
    return escape(str(value))


def _chain(report: Report, pad: str, verbose: bool) -> list[str]:
    if not report.chain:
        return []
    if verbose or not report.passed:
        lines = [f"{pad}chain:"]
        for link in report.chain:
            key = f" {escape(link.key)}" if link.key else ""
            lines.append(
                f"{pad}  {escape(link.subject)}  [{escape(link.fingerprint[:16])}…]{key}, {escape(link.source)}, "
                f"valid {_day(link.not_before)} to {_day(link.not_after)}"
            )
        return lines
    keys = sorted({link.key for link in report.chain if link.key})
    anchor = report.chain[-1]
    return [
        f"{pad}chain: {len(report.chain)} certificate(s){' (' + ', '.join(keys) + ')' if keys else ''} to "
        f"{escape(anchor.subject)} ({escape(anchor.source)})"
    ]


def _day(moment: Any) -> str:
    return moment.date().isoformat() if moment is not None else "?"


def _checks(report: Report, pad: str, verbose: bool) -> list[str]:
    if not report.checks:
        return []
    mark = {Result.PASSED: "ok  ", Result.FAILED: "FAIL", Result.WARNING: "warn", Result.SKIPPED: "skip"}
    if verbose:
        return [f"{pad}{mark[c.result]} {escape(c.name)}: {escape(c.detail)}".rstrip() for c in report.checks]
    lines: list[str] = []
    told = set(report.errors)  # reasons already printed first
    problems = [
        c for c in report.checks if c.result in (Result.FAILED, Result.WARNING) and f"{c.name}: {c.detail}" not in told
    ]
    lines.extend(f"{pad}{mark[c.result]} {escape(c.name)}: {escape(c.detail)}".rstrip() for c in problems)
    passed = list(dict.fromkeys(c.name for c in report.checks if c.result is Result.PASSED))
    not_run = [c for c in report.checks if c.result is Result.SKIPPED and c.detail.startswith("not run")]
    skipped = [c for c in report.checks if c.result is Result.SKIPPED and not c.detail.startswith("not run")]
    if passed:
        everything = report.passed and not problems and not skipped and not not_run
        count = f"all {len(passed)} passed" if everything else f"passed ({len(passed)})"
        lines.append(f"{pad}checks: {count}: {', '.join(escape(n) for n in passed)}")
    if not_run:
        lines.append(f"{pad}not run: {', '.join(escape(c.name) for c in not_run)} ({escape(not_run[0].detail[9:])})")
    lines.extend(f"{pad}skip {escape(c.name)}: {escape(c.detail)}" for c in skipped)
    return lines


__all__ = ["FACTS", "LABELS", "label", "render"]
