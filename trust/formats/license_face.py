"""What a licence face says (证照版式, the text of a licence printed after GB/T 36902): the layout the verifier checks.

A face shows, top to bottom (:class:`Face`):

* the licence type's name as the title and the GB/T 36904 identifier (``证照编号：…``);
* the holder (``持证主体`` / ``持证主体代码``) when the type's face fields do not already show it;
* the face fields (:func:`trust.formats.license_catalogue.face_items`: the type's ``title_fields`` in order, dates as
  ``2024年03月05日``, lists joined with ``；``);
* the validity (``有效期限：2026年03月05日至2031年03月04日``, or ``…起长期有效``), the issuing authority
  (``发证机关：浙江省市场监督管理局`` — :func:`authority_anchor`, the text the authority's seal is centred on) and the
  date of issue (``发证日期：…``, the token's ``iat`` in Beijing time).

The full licence token is attached to the face PDF as the file :data:`ATTACHMENT_NAME` (MIME type
:data:`ATTACHMENT_MIME`, RFC 7519). Labels are printed without a colon, so ``发证机关：<authority>`` occurs once on a
face. :mod:`licenses.document` draws the face with reportlab; this module is pure (no storage, no network, no
rendering library), so the verifier compares a face's text with the token without loading a PDF writer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from trust.crypto.errors import EncodingError
from trust.formats import license_catalogue as catalogue

ATTACHMENT_NAME: Final = "license.jwt"
ATTACHMENT_MIME: Final = "application/jwt"
AUTHORITY_LABEL: Final = "发证机关："
ISSUED_LABEL: Final = "发证日期："
VALIDITY_LABEL: Final = "有效期限："
IDENTIFIER_LABEL: Final = "证照编号："
HOLDER_LABEL: Final = "持证主体"
HOLDER_CODE_LABELS: Final = {"person": "持证人身份号码", "organization": "持证主体代码"}
QR_CAPTION: Final = "扫描二维码核验"
"""The caption under the QR code (the only text of a face that is not the licence's)."""
MAX_ANCHOR_CHARS: Final = 64
"""The seal anchor is at most this long (:data:`seal.anchor.MAX_ANCHOR_CHARS`)."""
CHINA: Final = timedelta(hours=8)


def china_date(moment: datetime) -> date:
    """The calendar day in Beijing time (licence dates are Beijing dates)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + CHINA).date()


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def validity_text(valid_from: date, valid_until: date | None) -> str:
    """``2026年03月05日至2031年03月04日`` (``valid_until`` is the last valid day), or ``…起长期有效``."""
    if valid_until is None:
        return f"{cn_date(valid_from)}起长期有效"
    return f"{cn_date(valid_from)}至{cn_date(valid_until)}"


def authority_anchor(issuer_name: str) -> str:
    """The text the issuing authority's seal is centred on: ``发证机关：<name>`` (at most 64 characters)."""
    return (AUTHORITY_LABEL + issuer_name.strip())[:MAX_ANCHOR_CHARS]


def normalise(text: str) -> str:
    """NFC without white space: how face texts are compared (extractors space out CJK glyphs differently)."""
    return "".join(unicodedata.normalize("NFC", text).split())


@dataclass(frozen=True)
class Face:
    """Everything printed on a licence face, as text."""

    title: str
    identifier: str
    rows: tuple[tuple[str, str], ...]  # (label, value): holder rows the fields lack, then the face fields
    validity: str
    issued: str
    issuer_name: str | None

    def expected(self) -> list[tuple[str, str]]:
        """``[(what, text)]`` that must all appear in the face's text (white space ignored)."""
        items = [("title", self.title), (IDENTIFIER_LABEL.rstrip("："), self.identifier)]
        items += [(label, value) for label, value in self.rows]
        items += [(VALIDITY_LABEL.rstrip("："), self.validity), (ISSUED_LABEL.rstrip("："), self.issued)]
        if self.issuer_name:
            items.append((AUTHORITY_LABEL.rstrip("："), authority_anchor(self.issuer_name)))
        return items

    def printed(self) -> list[str]:
        """Every text :mod:`licenses.document` draws on the face, as drawn: the title, the identifier line, each row's
        label and value, the validity, authority and date lines and the QR caption. Text on a face that is none of
        these is not part of the licence (issue 11, item 3). Without the authority's name (no trust list) its line
        is given as the label alone."""
        texts = [self.title, IDENTIFIER_LABEL + self.identifier]
        for label, value in self.rows:
            texts += [label, value]
        texts += [VALIDITY_LABEL + self.validity, ISSUED_LABEL + self.issued, QR_CAPTION]
        texts.append(AUTHORITY_LABEL + self.issuer_name.strip() if self.issuer_name else AUTHORITY_LABEL)
        return [t for t in texts if t]


def unaccounted(page_text: str, printed: list[str], *, open_after: str | None = None) -> list[str]:
    """The runs of ``page_text`` (normalised, :func:`normalise`) that none of ``printed`` covers.

    Each printed text covers one occurrence (longest texts placed first, each at its first place not yet covered),
    so a line repeated by a forger is left over as well as a line added. ``open_after``: a label whose value is not
    known (the authority's name without a trust list) — one run directly after it is accepted."""
    covered = [False] * len(page_text)
    for item in sorted((normalise(t) for t in printed), key=len, reverse=True):
        if not item:
            continue
        start = page_text.find(item)
        while start != -1 and any(covered[start : start + len(item)]):
            start = page_text.find(item, start + 1)
        if start != -1:
            covered[start : start + len(item)] = [True] * len(item)
    runs: list[tuple[int, str]] = []
    current: list[str] = []
    begin = 0
    for index, (char, done) in enumerate(zip(page_text, covered, strict=True)):
        if done:
            if current:
                runs.append((begin, "".join(current)))
                current = []
            continue
        if not current:
            begin = index
        current.append(char)
    if current:
        runs.append((begin, "".join(current)))
    if open_after:
        label = normalise(open_after)
        at = page_text.find(label)
        if at != -1:
            runs = [(b, r) for b, r in runs if b != at + len(label)][: len(runs)]
    return [run for _begin, run in runs]


def face(
    license_type: catalogue.LicenseType,
    fields: Mapping[str, Any],
    *,
    identifier: str,
    holder_name: str,
    holder_code: str,
    issued_at: datetime,
    valid_from: date,
    valid_until: date | None,
    issuer_name: str | None,
) -> Face:
    """The face of a licence (fields validated against the type first)."""
    items = catalogue.face_items(license_type, fields)
    shown = set(license_type.title_fields)
    rows: list[tuple[str, str]] = []
    if license_type.holder_name_field not in shown:
        rows.append((HOLDER_LABEL, holder_name))
    if license_type.holder_code_field is None or license_type.holder_code_field not in shown:
        rows.append((HOLDER_CODE_LABELS[license_type.holder_kind], holder_code))
    rows.extend(items)
    return Face(
        title=license_type.name,
        identifier=identifier,
        rows=tuple(rows),
        validity=validity_text(valid_from, valid_until),
        issued=cn_date(china_date(issued_at)),
        issuer_name=issuer_name,
    )


def _epoch(claims: Mapping[str, Any], name: str, required: bool = True) -> datetime | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise EncodingError(f"licence token claim {name!r} must be a number of seconds")
    return datetime.fromtimestamp(value, UTC)


def dates_from_claims(claims: Mapping[str, Any]) -> tuple[datetime, date, date | None]:
    """``(issued_at, valid_from, valid_until)`` of a token: ``nbf`` is Beijing midnight of the first day, ``exp`` the
    Beijing midnight after the last day (:mod:`licenses.issuance`)."""
    issued_at = _epoch(claims, "iat")
    nbf = _epoch(claims, "nbf")
    exp = _epoch(claims, "exp", required=False)
    assert issued_at is not None and nbf is not None
    last = china_date(exp - timedelta(seconds=1)) if exp is not None else None
    return issued_at, china_date(nbf), last


def face_from_claims(claims: Mapping[str, Any], issuer_name: str | None = None) -> Face:
    """The face a licence token describes (what :func:`licenses.document.render_token` prints for it)."""
    license = claims.get("license")
    if not isinstance(license, Mapping):
        raise EncodingError("licence token has no license claim")
    holder = license.get("holder")
    if not isinstance(holder, Mapping):
        raise EncodingError("licence token has no holder")
    license_type = catalogue.get(str(license.get("type")))
    issued_at, valid_from, valid_until = dates_from_claims(claims)
    return face(
        license_type,
        license.get("fields") or {},
        identifier=str(license.get("id")),
        holder_name=str(holder.get("name")),
        holder_code=str(holder.get("code")),
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        issuer_name=issuer_name,
    )
