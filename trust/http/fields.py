"""Request field types shared by the route modules.

Dates and times in request bodies are ISO 8601 strings, as the OpenAPI document says (``format: date`` /
``date-time``), between :data:`EARLIEST` and :data:`LATEST`. :data:`IsoDateTime` is read by the parser the command
line uses too (:func:`trust.formats.times.parse_time`: extended format only, a time without an offset is UTC, the
same range), so ``at`` over HTTP and ``--at`` mean the same moment; Pydantic's own reader took a naive time as the
server's local time and ``"1700000000"`` as a Unix time. :data:`IsoDate` refuses anything but a string (422):
Pydantic's lax mode would also take a number as a Unix timestamp. The range keeps the arithmetic downstream
(validity ends, clock skew) away from ``date.min``/``date.max``: a validation time of ``9999-12-31T23:59:59Z``
overflowed the verifier's clock-skew addition into a 500 (found by the HTTP fuzz test).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, Field

from trust.crypto.errors import InputError
from trust.formats import times

EARLIEST: Final = times.EARLIEST
LATEST: Final = times.LATEST
_RANGE: Final = times.RANGE


def _text_only(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")  # pydantic turns it into a 422 validation error
    return value


def _in_range(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"must lie {_RANGE}")
    return value


def _date_time(value: Any) -> datetime:
    try:
        return times.parse_time(value, "the date-time")
    except InputError as exc:
        raise ValueError(exc.message) from None  # pydantic turns it into a 422 validation error


IsoDate = Annotated[
    date, BeforeValidator(_text_only), AfterValidator(_in_range), Field(description=f"ISO 8601 date {_RANGE}")
]
IsoDateTime = Annotated[
    datetime,
    BeforeValidator(_date_time),
    Field(description=f"ISO 8601 date-time {_RANGE}; without an offset it is UTC"),
]

__all__ = ["EARLIEST", "LATEST", "IsoDate", "IsoDateTime"]
