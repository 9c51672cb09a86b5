"""What the verifier page shows, from a verifier report (:meth:`verifier.report.Report.to_dict`).

The page leads with the verdict: one element carrying ``data-indication`` (``TOTAL_PASSED``, ``TOTAL_FAILED`` or
``INDETERMINATE``), the verdict in words and colour, and the reason in plain language (from the sub-indication, via
the catalogue) with the verifier's own first reason beneath it. Then the evidence, each a row: the issuer as the trust
list names it (region or department, code, status), the licence fields disclosed, the seal pictures embedded in the
input, the certificate chain to the national root, the time-stamps, the revocation and status checks, and every
check of every part (nested reports) as a table. Nothing here decides a verdict: the report's indication is shown as
it is.

Inputs (:func:`choose_input`): one file or one pasted token (text), never both; an optional validation time (ISO
8601, :func:`trust.formats.times.parse_time`) and the signed document of a detached GB/T 38540 signature. Every
string shown came from the input or the report and is escaped by the template.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from trust.crypto.errors import Code, InputError
from trust.formats import times
from trust.formats.trustlist import TrustList
from trust.web.i18n import Strings

MAX_UPLOAD_BYTES: Final = 12 * 1024 * 1024
"""The largest upload the page takes (a sealed licence PDF is ~200 KB, a phone photo of a QR code a few MB); under
``trust serve``'s default body limit (16 MiB), so the page, not the API's 413, answers."""
MAX_TOKEN_CHARS: Final = 1024 * 1024

INDICATIONS: Final = ("TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE")

TOPIC_ISSUER: Final = frozenset({"issuer-authorised", "issuer-key", "sealed-by-issuer", "maker-service", "trust-list"})
TOPIC_TIMESTAMP: Final = frozenset({"signature-timestamp", "signing-time", "timestamp", "time-stamp"})
TOPIC_STATUS: Final = frozenset(
    {"status", "path", "signer-certificate", "maker-certificate", "revocation", "ocsp", "crl", "validity"}
)


def human_size(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


@dataclass
class Submission:
    """What the form sent: a file (bytes and its name as given), or a pasted token; options."""

    file: bytes | None = None
    filename: str = ""
    token: str = ""
    at: str = ""
    signed_data: bytes | None = None
    lang: str = ""


def choose_input(sub: Submission) -> bytes:
    """The bytes to verify; :class:`InputError` when there is none, or both a file and a token."""
    has_file = bool(sub.file)
    token = sub.token.strip()
    if has_file and token:
        raise InputError("give either a file or a token, not both", code=Code.USAGE)
    if not has_file and not token:
        raise InputError("nothing to verify: choose a file or paste a token", code=Code.USAGE)
    if has_file:
        assert sub.file is not None
        if len(sub.file) > MAX_UPLOAD_BYTES:
            raise InputError(f"upload of {len(sub.file)} bytes exceeds {MAX_UPLOAD_BYTES}", code=Code.INPUT_TOO_LARGE)
        return sub.file
    if len(token) > MAX_TOKEN_CHARS:
        raise InputError(f"pasted text of {len(token)} characters is too long", code=Code.INPUT_TOO_LARGE)
    return token.encode("utf-8")


def validation_time(sub: Submission) -> datetime | None:
    text = sub.at.strip()
    return times.parse_time(text, "at") if text else None


# -- the report, as the page shows it ---------------------------------------------------------------------------


@dataclass
class Row:
    topic: str
    name: str
    result: str
    detail: str
    part: str


@dataclass
class Node:
    """One report of the tree (the input, or a part of it: a signature, a seal, the attached token)."""

    kind: str
    kind_label: str
    indication: str
    sub_indication: str | None
    subject: str
    checks: list[Mapping[str, str]]
    details: list[tuple[str, str]]
    depth: int


@dataclass
class IssuerRow:
    """A trust-list entry the report names: the region or department (issuer), and the service that signed (a
    licence issuer names its department, a CA its region)."""

    name: str
    kind: str
    code: str
    status: str
    service: str
    service_type: str
    department: str
    authority: str
    service_status: str


@dataclass
class SealPicture:
    es_id: str
    name: str
    mime: str
    data_uri: str


@dataclass
class View:
    indication: str
    sub_indication: str | None
    verdict: str
    explanation: str
    reason: str
    technical: list[str]
    kind: str
    subject: str
    validation_time: str
    issuers: list[IssuerRow]
    fields: list[tuple[str, str]]
    chain: list[Mapping[str, Any]]
    timestamps: list[Row]
    status: list[Row]
    issuer_checks: list[Row]
    nodes: list[Node]
    warnings: list[str]
    json_uri: str
    json_name: str
    pdf_uri: str | None
    source: str
    seals: list[SealPicture] = field(default_factory=list)
    ofd_page: str | None = None
    """The OFD's first page as drawn (a ``data:`` PNG), where the server has an OFD renderer."""


def walk(report: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[Mapping[str, Any], int]]:
    yield report, depth
    for child in report.get("reports") or ():
        if isinstance(child, Mapping):
            yield from walk(child, depth + 1)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _fields(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The licence fields a licence report discloses (the first licence part of the tree)."""
    for node, _depth in walk(report):
        details = node.get("details") or {}
        if isinstance(details, Mapping) and isinstance(details.get("fields"), Mapping):
            return [(str(k), _text(v)) for k, v in details["fields"].items()]
        if isinstance(details, Mapping) and isinstance(details.get("disclosed"), Mapping):
            return [(str(k), _text(v)) for k, v in details["disclosed"].items()]
    return []


def _chain(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The longest certificate chain of the tree (a PDF's signer path, a certificate's own path)."""
    best: list[Mapping[str, Any]] = []
    for node, _depth in walk(report):
        chain = [link for link in node.get("chain") or () if isinstance(link, Mapping)]
        if len(chain) > len(best):
            best = chain
    return best


def _rows(report: Mapping[str, Any], t: Strings, names: frozenset[str], *, contains: Sequence[str] = ()) -> list[Row]:
    rows: list[Row] = []
    for node, _depth in walk(report):
        kind = str(node.get("kind", ""))
        for check in node.get("checks") or ():
            name = str(check.get("name", ""))
            if name in names or any(part in name for part in contains):
                rows.append(
                    Row(
                        name,
                        _label(t, "check." + name, name),
                        str(check.get("result", "")),
                        str(check.get("detail", "")),
                        _label(t, "kind." + kind, kind),
                    )
                )
    return rows


def _label(t: Strings, key: str, fallback: str) -> str:
    return t(key) if t.has(key) else fallback


def _issuers(report: Mapping[str, Any], trust_list: TrustList | None, t: Strings) -> list[IssuerRow]:
    """The trust list's issuers (region or department) the report names: by a service certificate in a chain, or
    by the issuer's or service's id in a check's detail."""
    if trust_list is None:
        return []
    fingerprints: set[str] = set()
    texts: list[str] = []
    for node, _depth in walk(report):
        fingerprints.update(str(link.get("fingerprint", "")) for link in node.get("chain") or ())
        texts.extend(str(check.get("detail", "")) for check in node.get("checks") or ())
    blob = "\n".join(texts)
    found: list[IssuerRow] = []
    for issuer in trust_list.issuers:
        for service in issuer.services:
            if set(service.fingerprints) & fingerprints or f"{issuer.id}/{service.id}" in blob or service.id in blob:
                status = issuer.status_history[-1].status if issuer.status_history else ""
                standing = service.status_history[-1].status if service.status_history else ""
                found.append(
                    IssuerRow(
                        issuer.name,
                        _label(t, f"issuer.kind.{issuer.kind}", issuer.kind),
                        issuer.code or "",
                        status,
                        service.id,
                        service.type,
                        str(service.scope.get("name", "")),
                        str(service.scope.get("authority", "")),
                        standing,
                    )
                )
    return found


def _nodes(report: Mapping[str, Any], t: Strings) -> list[Node]:
    nodes: list[Node] = []
    for node, depth in walk(report):
        kind = str(node.get("kind", ""))
        details = node.get("details") or {}
        shown = (
            [(str(k), _text(v)) for k, v in details.items() if k != "fields"] if isinstance(details, Mapping) else []
        )
        nodes.append(
            Node(
                kind,
                _label(t, "kind." + kind, kind),
                str(node.get("indication", "")),
                node.get("sub_indication"),
                str(node.get("subject", "")),
                [c for c in node.get("checks") or () if isinstance(c, Mapping)],
                shown,
                depth,
            )
        )
    return nodes


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def report_name(report: Mapping[str, Any]) -> str:
    return f"huren-report-{report.get('kind', 'input')!s}-{str(report.get('validation_time', ''))[:10]}"


def source_line(trust_list: TrustList | None, t: Strings) -> str:
    if trust_list is None:
        return t("verify.no_bundle")
    return t(
        "verify.source",
        sequence=trust_list.sequence,
        issued=trust_list.issued_at.isoformat(),
        next=trust_list.next_update.isoformat(),
    )


def view(
    report: Mapping[str, Any],
    t: Strings,
    *,
    trust_list: TrustList | None,
    pdf: bytes | None = None,
    seals: Sequence[SealPicture] = (),
    ofd_page: str | None = None,
) -> View:
    """The page's view of ``report`` in the language of ``t``."""
    indication = str(report.get("indication"))
    if indication not in INDICATIONS:  # never shown as anything else than the verifier said
        raise ValueError(f"not an indication: {indication!r}")
    sub = report.get("sub_indication")
    errors = [str(e) for e in report.get("errors") or ()]
    if indication == "TOTAL_PASSED":
        reason = ""
    elif sub and t.has(f"reason.{sub}"):
        reason = t(f"reason.{sub}")
    else:
        reason = t("reason.unknown")
    document = json.dumps(report, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    warnings: list[str] = []
    for node, _depth in walk(report):
        warnings.extend(str(w) for w in node.get("warnings") or () if str(w) not in warnings)
    return View(
        indication=indication,
        sub_indication=str(sub) if sub else None,
        verdict=t(f"verdict.{indication}"),
        explanation=t(f"verdict.explain.{indication}"),
        reason=reason,
        technical=errors,
        kind=_label(t, "kind." + str(report.get("kind", "")), str(report.get("kind", ""))),
        subject=str(report.get("subject", "")),
        validation_time=str(report.get("validation_time", "")),
        issuers=_issuers(report, trust_list, t),
        fields=_fields(report),
        chain=_chain(report),
        timestamps=_rows(report, t, TOPIC_TIMESTAMP, contains=("timestamp",)),
        status=_rows(report, t, TOPIC_STATUS, contains=("revocation", "status")),
        issuer_checks=_rows(report, t, TOPIC_ISSUER),
        nodes=_nodes(report, t),
        warnings=warnings,
        json_uri=data_uri(document, "application/json"),
        json_name=report_name(report) + ".json",
        pdf_uri=data_uri(pdf, "application/pdf") if pdf else None,
        source=source_line(trust_list, t),
        seals=list(seals),
        ofd_page=ofd_page,
    )
