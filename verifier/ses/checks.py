"""The checks of a seal or signature: findings (a check with its ETSI EN 319 102-1 indication, judged by
:func:`verifier.report.bottom_line`), the proof of existence a caller may hold, and the parsing and time helpers every
check shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from trust.crypto.errors import (
    EncodingError,
    InputError,
    TrustError,
)
from verifier.report import Check, Finding, Indication, Result, SubIndication

CLOCK_SKEW: Final = timedelta(minutes=10)
"""Tolerance between the signer's clock (timeInfo, createDate) and a TSA's genTime or the validation time."""


T = TypeVar("T")


MALFORMED: Final = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)
"""What asn1crypto raises on hostile input, besides the project's own errors."""


def passed(name: str, detail: str) -> Check:
    return Check(name, Result.PASSED, detail)


def failed(
    name: str, indication: Indication, sub: SubIndication, detail: str, result: Result = Result.FAILED
) -> Finding:
    return Finding(name, result, detail, indication, sub)


def skipped(name: str, detail: str) -> Check:
    return Check(name, Result.SKIPPED, detail)


def warning(name: str, detail: str) -> Finding:
    return Finding(name, Result.WARNING, detail)


def parse_input(parser: Callable[[bytes], T], data: bytes, what: str) -> T:
    if not isinstance(data, bytes | bytearray):
        raise InputError(f"a {what} is given as bytes")
    try:
        return parser(bytes(data))
    except TrustError:
        raise
    except MALFORMED as exc:
        raise EncodingError(f"malformed {what}: {type(exc).__name__}") from None


def zoneless_problem(*moments: datetime) -> str:
    """Why times without a time zone are refused ("" if all have one): DER GeneralizedTime and UTCTime end in Z."""
    if any(m.tzinfo is None for m in moments):
        return "a time without a time zone (DER times end in Z); read as UTC only to finish the other checks"
    return ""


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def critical_extension_problem(extensions: Sequence[tuple[str, bool, bytes]]) -> str:
    """Why the critical extension data cannot be honoured ("" if there is none: no extension is known here)."""
    unknown = [oid for oid, is_critical, _value in extensions if is_critical]
    return f"critical extension data this verifier does not know: {', '.join(unknown)}" if unknown else ""


@dataclass(frozen=True)
class Proof:
    """The earliest proof that a signature (or seal) existed: a time-stamp's genTime, else the validation time."""

    time: datetime
    what: str
