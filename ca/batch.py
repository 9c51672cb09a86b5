"""Reading batch files for bulk certificate issuance (``trust ca issue-batch``): JSON Lines, streamed (constant
memory). One request per line::

    {"request_id": "r-1", "profile": "person-identity",
     "subject": {"province": "浙江省", "common_name": "张三", "serial_number": "330106199001010011"},
     "csr": "-----BEGIN CERTIFICATE REQUEST-----\\n...", "validity_days": 365}

``csr`` is a PKCS#10 request, PEM or base64 DER; without it Huren generates the key (``key_family``: SM2, RSA or
EC) and keeps it in its key store. ``subject`` holds the name's attributes (:data:`SUBJECT_FIELDS`); the profile and
the issuing CA check them as for one certificate. ``request_id`` (1..128 characters) is required on every line: it
makes a rerun issue nothing twice and resume where an interrupted run stopped. A line that cannot be read becomes an
entry with ``error`` set, so the batch reports it and goes on.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from trust.crypto.errors import InputError, TrustError
from trust.formats import jsonl
from trust.formats.names import DN

MAX_LINE: Final = 256 * 1024
SUBJECT_FIELDS: Final = ("country", "province", "locality", "organization", "unit", "common_name", "serial_number")
FIELDS: Final = frozenset({"request_id", "profile", "subject", "csr", "key_family", "validity_days"})


@dataclass(frozen=True)
class Entry:
    line: int
    request_id: str
    profile: str = ""
    subject: DN | None = None
    csr: bytes | None = None
    key_family: str = "SM2"
    validity_days: int | None = None
    error: tuple[str, str] | None = None  # (code, message) when the line cannot be used


def read(path: Path) -> Iterator[Entry]:
    """The entries of a ``.jsonl`` (or ``.ndjson``) batch file, in order. A file of another kind, or one that cannot
    be opened, is refused here, before the first entry is asked for (so before anything is issued or written)."""
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        raise InputError(f"a certificate batch file is JSON Lines (.jsonl), not {path.name}")
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by _entries
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return _entries(handle)


def _entries(handle: IO[str]) -> Iterator[Entry]:
    with handle:
        for number, raw, error in jsonl.objects(handle, MAX_LINE):
            if raw is None:
                yield Entry(number, "", error=error)
                continue
            yield _entry(number, raw)


def _entry(line: int, raw: dict[str, Any]) -> Entry:
    request_id = raw.get("request_id")
    named = request_id if isinstance(request_id, str) else ""
    try:
        if not named or len(named) > 128:
            raise InputError("request_id is required (1..128 characters)")
        unknown = sorted(set(raw) - FIELDS)
        if unknown:
            raise InputError(f"unknown field(s) {', '.join(unknown)}; a line has {', '.join(sorted(FIELDS))}")
        profile = raw.get("profile")
        if not isinstance(profile, str) or not profile:
            raise InputError("profile is required (e.g. person-identity)")
        days = raw.get("validity_days")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise InputError("validity_days must be a positive integer")
        family = raw.get("key_family", "SM2")
        if not isinstance(family, str):
            raise InputError("key_family must be SM2, RSA or EC")
        return Entry(line, named, profile, _subject(raw.get("subject")), _csr(raw.get("csr")), family, days)
    except TrustError as exc:
        return Entry(line, named, error=(exc.code.label, exc.message))


def _subject(value: Any) -> DN:
    if not isinstance(value, dict):
        raise InputError("subject must be an object of name attributes")
    unknown = sorted(set(value) - set(SUBJECT_FIELDS))
    if unknown:
        raise InputError(f"unknown subject attribute(s) {', '.join(unknown)}; allowed: {', '.join(SUBJECT_FIELDS)}")
    if not all(isinstance(v, str) for v in value.values()):
        raise InputError("subject attributes must be strings")
    return DN(**value)


def _csr(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InputError("csr must be a PEM or base64 DER PKCS#10 request")
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii", "replace")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("csr is neither PEM nor base64 DER") from None
