"""Request field types shared by the route modules.

Dates and times in request bodies are ISO 8601 strings, as the OpenAPI document says (``format: date`` /
``date-time``), between :data:`EARLIEST` and :data:`LATEST`. Pydantic's lax mode would also take a number as a Unix
timestamp; :data:`IsoDate` and :data:`IsoDateTime` refuse anything but a string (422). The range keeps the
arithmetic downstream (validity ends, clock skew) away from ``date.min``/``date.max``: a validation time of
``9999-12-31T23:59:59Z`` overflowed the verifier's clock-skew addition into a 500 (found by the HTTP fuzz test).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, Field

EARLIEST: Final = date(1900, 1, 1)
LATEST: Final = date(2999, 12, 31)
_RANGE: Final = f"between {EARLIEST.isoformat()} and {LATEST.isoformat()}"


def _text_only(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")  # pydantic turns it into a 422 validation error
    return value


def _in_range(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"must lie {_RANGE}")
    return value


IsoDate = Annotated[
    date, BeforeValidator(_text_only), AfterValidator(_in_range), Field(description=f"ISO 8601 date {_RANGE}")
]
IsoDateTime = Annotated[
    datetime,
    BeforeValidator(_text_only),
    AfterValidator(_in_range),
    Field(description=f"ISO 8601 date-time {_RANGE}"),
]

__all__ = ["EARLIEST", "LATEST", "IsoDate", "IsoDateTime"]
