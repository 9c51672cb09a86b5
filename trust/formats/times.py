"""Dates and times given by people and peers (ISO 8601 extended format, RFC 3339): the one parser, so that the command
line, the HTTP API and the signed documents read a time the same way.

* The form is ``YYYY-MM-DD``, optionally followed by ``T`` (or a space) and a time with an optional fraction and
  offset: ``2026-12-01``, ``2026-12-01T08:00:00+08:00``, ``2026-12-01T00:00:00Z``. Week dates, ordinal dates, the
  basic format (``20261201T000000Z``) and Unix timestamps are refused (Pydantic's lax mode read ``"1700000000"`` as a
  time; ``datetime.fromisoformat`` reads week dates).
* A time without an offset is UTC — everywhere: the CLI's ``--at``, the HTTP ``at`` and ``effective`` members, and
  the library (:func:`as_utc`). The local time zone of the machine never changes a verdict. Signed documents, which
  must say what they mean, pass ``naive="refuse"``.
* Only :data:`EARLIEST` to :data:`LATEST`: the arithmetic downstream (validity ends, clock skew) stays away from
  ``datetime.min``/``max`` (a validation time of ``9999-12-31T23:59:59Z`` once overflowed the verifier's clock-skew
  addition into a 500).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Final, Literal

from trust.crypto.errors import InputError

EARLIEST: Final = date(1900, 1, 1)
LATEST: Final = date(2999, 12, 31)
RANGE: Final = f"between {EARLIEST.isoformat()} and {LATEST.isoformat()}"

_EXTENDED: Final = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?", re.S)
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_time(
    text: object, what: str, *, naive: Literal["utc", "refuse"] = "utc", error: type[InputError] = InputError
) -> datetime:
    """The moment ``text`` names, as a UTC-aware datetime (module docstring); ``error`` (an :class:`InputError` by
    default; a document parser passes :class:`~trust.crypto.errors.EncodingError`) naming ``what`` for anything else."""
    if not isinstance(text, str) or len(text) > 64 or not _EXTENDED.fullmatch(text):
        raise error(f"{what} must be an ISO 8601 date-time such as 2026-12-01T08:00:00+08:00, got {_shown(text)}")
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise error(f"{what} is not an ISO 8601 date-time: {_shown(text)}") from None
    if value.tzinfo is None and naive == "refuse":
        raise error(naive_refused(what, text))
    moment = as_utc(value)
    if not EARLIEST <= moment.date() <= LATEST:
        raise error(f"{what} must lie {RANGE}, got {moment.isoformat()}")
    return moment


def naive_refused(what: str, text: str) -> str:
    """The message refusing a time without an offset: it names the forms accepted, with ``text`` completed."""
    example = text if "T" in text or " " in text else f"{text}T00:00:00"
    return (
        f"{what} must carry a time zone: {text[:64]} has no time zone; add one, e.g. {example[:64]}Z (UTC) or "
        f"{example[:64]}+08:00 (Beijing)"
    )


def parse_date(text: object, what: str, *, error: type[InputError] = InputError) -> date:
    """A calendar date ``YYYY-MM-DD`` (ISO 8601 extended format, nothing else) between :data:`EARLIEST` and
    :data:`LATEST` — licence validity dates over HTTP and in bulk-issuance files alike."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise error(f"{what} must be a date YYYY-MM-DD, got {_shown(text)}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise error(f"{what} is not a calendar date: {_shown(text)}") from None
    if not EARLIEST <= day <= LATEST:
        raise error(f"{what} must lie {RANGE}, got {text}")
    return day


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime *is* UTC (never the machine's local time)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown(value: object) -> str:
    return repr(value if not isinstance(value, str) else value[:64])
