"""Reading batch files for bulk licence issuance: CSV or JSON Lines, streamed (constant memory).

JSON Lines: one object per line::

    {"request_id": "r-1", "type": "11100000000013338W101", "fields": {...},
     "holder_code": "...", "valid_from": "2026-01-01", "valid_until": "2030-12-31"}

CSV (UTF-8, header row): the reserved columns ``request_id``, ``type``, ``holder_code``, ``valid_from``,
``valid_until``; every other column is a field of the licence type. Empty cells are absent fields; a cell that
starts with ``[`` or ``{`` is JSON; integer fields of the type's schema are read as integers.

A line that cannot be read becomes a record with ``error`` set, so the batch reports it and goes on.
``request_id`` is required on every record (it is what makes a rerun issue nothing twice).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any, Final

from trust.crypto.errors import InputError, TrustError
from trust.formats import jsonl, strict_json, times
from trust.formats import license_catalogue as catalogue

RESERVED: Final = ("request_id", "type", "holder_code", "valid_from", "valid_until")
MAX_LINE: Final = 256 * 1024


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    return times.parse_date(value, name)


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Yield ``{"line", "request_id", "type", "fields", "holder_code", "valid_from", "valid_until", "error"}``."""
    suffix = path.suffix.lower()
    handle: IO[str] = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by the generator
    try:
        if suffix in (".jsonl", ".ndjson"):
            yield from _jsonl(handle)
        elif suffix == ".csv":
            yield from _csv(handle)
        else:
            raise InputError(f"batch file must be .csv or .jsonl, not {path.name}")
    finally:
        handle.close()


def _clean(line: int, raw: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"line": line, "request_id": str(raw.get("request_id") or ""), "error": None}
    try:
        if not result["request_id"] or len(result["request_id"]) > 128:
            raise InputError("request_id is required (1..128 characters)")
        type_code = str(raw.get("type") or "")
        catalogue.get(type_code)
        fields = raw.get("fields")
        if not isinstance(fields, dict):
            raise InputError("fields must be an object")
        result.update(
            type_code=type_code,
            fields=fields,
            holder_code=raw.get("holder_code") or None,
            valid_from=_date(raw.get("valid_from"), "valid_from"),
            valid_until=_date(raw.get("valid_until"), "valid_until"),
        )
    except TrustError as exc:
        result["error"] = (exc.code.label, exc.message)
    return result


def _jsonl(handle: IO[str]) -> Iterator[dict[str, Any]]:
    for number, raw, error in jsonl.objects(handle, MAX_LINE):
        if raw is None:
            yield {"line": number, "request_id": "", "error": error}
            continue
        yield _clean(number, raw)


def _cell(value: str, spec: dict[str, Any]) -> Any:
    if value.startswith(("[", "{")):
        return strict_json.loads(value, "JSON cell")
    if spec.get("type") == "integer" and value.lstrip("-").isdigit():
        return int(value)
    return value


def _csv(handle: IO[str]) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or "request_id" not in reader.fieldnames or "type" not in reader.fieldnames:
        raise InputError("CSV batch needs a header row with at least request_id and type")
    for row in reader:
        number = reader.line_num
        raw: dict[str, Any] = {k: row.get(k) for k in RESERVED}
        try:
            license_type = catalogue.get(str(row.get("type") or ""))
            fields = {}
            for name, value in row.items():
                if name in RESERVED or name is None or value in (None, ""):
                    continue
                fields[name] = _cell(str(value), dict(license_type.properties.get(name, {})))
            raw["fields"] = fields
        except TrustError as exc:
            yield {"line": number, "request_id": str(row.get("request_id") or ""), "error": ("E1000", exc.message)}
            continue
        yield _clean(number, raw)


def write_errors(stream: io.TextIOBase, result: Any) -> None:
    stream.write(
        json.dumps(
            {"line": result.line, "request_id": result.request_id, "code": result.code, "message": result.message},
            ensure_ascii=False,
        )
        + "\n"
    )
