"""Request field types shared by the route modules.

Dates and times in request bodies are ISO 8601 strings, as the OpenAPI document says (``format: date`` /
``date-time``), between :data:`EARLIEST` and :data:`LATEST`, read by the parsers the command line and the bulk-issuance
files use too (:mod:`trust.formats.times`): :data:`IsoDateTime` by ``parse_time`` (extended format only, a time
without an offset is UTC), :data:`IsoDate` by ``parse_date`` (``YYYY-MM-DD`` only). So ``at`` over HTTP and ``--at``
mean the same moment; Pydantic's own reader took a naive time as the server's local time and ``"1700000000"`` as a
Unix time. The range keeps the arithmetic downstream (validity ends, clock skew) away from
``date.min``/``date.max``: a validation time of ``9999-12-31T23:59:59Z`` overflowed the verifier's clock-skew
addition into a 500 (found by the HTTP fuzz test).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field

from trust.crypto.errors import InputError
from trust.formats import times

EARLIEST: Final = times.EARLIEST
LATEST: Final = times.LATEST
_RANGE: Final = times.RANGE


def _date_time(value: Any) -> datetime:
    try:
        return times.parse_time(value, "the date-time")
    except InputError as exc:
        raise ValueError(exc.message) from None  # pydantic turns it into a 422 validation error


def _date(value: Any) -> date:
    try:
        return times.parse_date(value, "the date")
    except InputError as exc:
        raise ValueError(exc.message) from None  # pydantic turns it into a 422 validation error


IsoDate = Annotated[date, BeforeValidator(_date), Field(description=f"ISO 8601 date YYYY-MM-DD {_RANGE}")]
IsoDateTime = Annotated[
    datetime,
    BeforeValidator(_date_time),
    Field(description=f"ISO 8601 date-time {_RANGE}; without an offset it is UTC"),
]

__all__ = ["EARLIEST", "LATEST", "IsoDate", "IsoDateTime"]
