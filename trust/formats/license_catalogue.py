"""The catalogue of licence types (证照目录, after GB/T 36902): what a licence of each type holds.

A :class:`LicenceType` is identified by its 21-character type code (the defining authority's unified social
credit code + a 3-digit number, GB/T 36904; :func:`trust.formats.identifiers.validate_type_code`) and says

* who holds it (``holder_kind``: ``person`` → holder code type ``111``, citizen identity number;
  ``organization`` → ``001``, unified social credit code) and which fields carry the holder's name and code;
* its type-specific fields as a JSON Schema (draft 2020-12, checked with the ``jsonschema`` package, format
  assertions on): every seeded schema forbids fields it does not name;
* ``title_fields`` — the fields printed on the licence face, in face order (:func:`face_items`);
* its validity rule (:class:`ValidityRule`): default duration, longest duration, whether an end is required.

Formats understood in schemas (checked, not just annotated): ``date`` (``YYYY-MM-DD``, a real day),
``date-time`` (RFC 3339 with an offset, ``2024-03-05T08:30:00+08:00``), ``uscc`` (GB 32100), ``citizen-id``
(GB 11643) and ``region`` (GB/T 2260 code).

Seeded national types. Their authority code ``11100000000013338W`` is the defining authority of the type
codes in real identifiers (``…W011``, ``…W009``; ``shared/standards/README.md``). **The 3-digit numbers
101-105 are illustrative**, not the national catalogue's: the real numbers are not public. They are kept
clear of the low numbers (009, 011) seen in real identifiers so that a seeded type is never mistaken for a
real one. Field sets follow the faces of the deployed licences; numbering patterns are the published ones
(食品经营许可证 ``JY`` + 14 digits; 建设工程企业资质证书 ``D`` + 9 digits; 出生医学证明 a letter + 9 digits;
道路运输经营许可证 12 digits, region code + sequence). The seeded types are data files, one per type, in
``trust/formats/license_types/`` (:data:`TYPES_FOLDER`).

Pure format code: no storage, no network.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from importlib import resources
from typing import Any, Final, Literal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from trust.crypto.errors import InputError, NotFoundError
from trust.formats import strict_json, text
from trust.formats.identifiers import HolderCodeType, validate_holder, validate_type_code
from trust.formats.names import region

NATIONAL_AUTHORITY: Final = "11100000000013338W"
"""Defining authority of the seeded national types (the authority of the type codes in real identifiers)."""
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
MAX_FIELDS_BYTES: Final = 64 * 1024
"""Largest field set accepted (UTF-8 JSON), checked before validation."""
MAX_ERRORS_REPORTED: Final = 20

HolderKind = Literal["person", "organization"]

# --- formats --------------------------------------------------------------------------------------------------

FORMAT_CHECKER: Final = FormatChecker(formats=())
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats apply to strings only (JSON Schema 2020-12 clause 7.1)
    if not _DATE.fullmatch(value):
        raise ValueError("expected YYYY-MM-DD")
    date.fromisoformat(value)
    return True


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        raise ValueError("expected YYYY-MM-DDThh:mm:ss with an offset (Z or +08:00)")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMAT_CHECKER.checks("uscc", raises=InputError)
def _is_uscc(value: object) -> bool:
    if isinstance(value, str):
        validate_holder(value, HolderCodeType.USCC)
    return True


@FORMAT_CHECKER.checks("citizen-id", raises=InputError)
def _is_citizen_id(value: object) -> bool:
    if isinstance(value, str):
        validate_holder(value, HolderCodeType.CITIZEN_ID)
    return True


@FORMAT_CHECKER.checks("region", raises=InputError)
def _is_region(value: object) -> bool:
    if isinstance(value, str):
        region(value)
    return True


_FORMAT_NAMES: Final = {
    "date": "a date YYYY-MM-DD",
    "date-time": "a time YYYY-MM-DDThh:mm:ss with an offset",
    "uscc": "a unified social credit code (GB 32100)",
    "citizen-id": "a citizen identity number (GB 11643)",
    "region": "a GB/T 2260 region code",
}
_UPPER_FORMATS: Final = frozenset({"uscc", "citizen-id"})


# --- validity ---------------------------------------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months (the 31st becomes the month's last day)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    for day in range(start.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, start.day)


@dataclass(frozen=True)
class ValidityRule:
    """How long a licence of a type is valid.

    ``default_months``: the validity when the issuer names no end (end = start + months − 1 day, so a five-year
    licence from 2024-03-05 runs to 2029-03-04, as printed on Chinese licences); ``max_months``: the longest
    validity; ``end_required``: a licence must have an end; ``end_allowed``: ``False`` for permanent documents
    (出生医学证明), which must not name one.
    """

    default_months: int | None = None
    max_months: int | None = None
    end_required: bool = False
    end_allowed: bool = True

    def __post_init__(self) -> None:
        for name in ("default_months", "max_months"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"validity {name} must be a positive number of months")
        if self.default_months and self.max_months and self.default_months > self.max_months:
            raise InputError("validity default_months exceeds max_months")
        if not self.end_allowed and (self.end_required or self.default_months or self.max_months):
            raise InputError("a permanent licence type (end_allowed=False) has no end, default or maximum")

    def window(self, start: date, end: date | None = None) -> tuple[date, date | None]:
        """``(start, end)`` of a licence after the rule: default end applied, end checked."""
        if end is None and self.default_months:
            end = add_months(start, self.default_months) - timedelta(days=1)
        if end is None:
            if self.end_required:
                raise InputError("this licence type needs a validity end", evidence={"field": "valid_until"})
            return start, None
        if not self.end_allowed:
            raise InputError(
                "this licence type is permanent: it takes no validity end", evidence={"field": "valid_until"}
            )
        if end < start:
            raise InputError(f"validity end {end} is before its start {start}", evidence={"field": "valid_until"})
        if self.max_months:
            latest = add_months(start, self.max_months) - timedelta(days=1)
            if end > latest:
                raise InputError(
                    f"validity end {end} is later than the longest validity of {self.max_months} months allows "
                    f"(at most {latest})",
                    evidence={"field": "valid_until", "latest": latest.isoformat(), "found": end.isoformat()},
                )
        return start, end


# --- licence types ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenseType:
    """A licence type of the catalogue; checked on construction (code, schema, face and holder fields)."""

    code: str
    name: str
    holder_kind: HolderKind
    fields: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    title_fields: tuple[str, ...]
    validity: ValidityRule
    description: str
    holder_name_field: str
    holder_code_field: str | None = None

    def __post_init__(self) -> None:
        validate_type_code(self.code)
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError("licence type needs a name")
        HolderCodeType.for_holder_kind(self.holder_kind)
        schema = copy.deepcopy(dict(self.fields))  # the type owns its schema; a caller's later edits do not leak in
        object.__setattr__(self, "fields", schema)
        object.__setattr__(self, "title_fields", tuple(self.title_fields))
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise InputError(
                f"licence type {self.code}: fields schema is not valid JSON Schema: {exc.message}"
            ) from None
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            raise InputError(f"licence type {self.code}: fields schema must describe an object with properties")
        properties = schema["properties"]
        unknown = [name for name in self.title_fields if name not in properties]
        if not self.title_fields or unknown:
            raise InputError(f"licence type {self.code}: face fields {unknown or '(none)'} are not fields of the type")
        holder_fields = [self.holder_name_field] + ([self.holder_code_field] if self.holder_code_field else [])
        for name in holder_fields:
            if name not in properties or name not in schema.get("required", []):
                raise InputError(f"licence type {self.code}: holder field {name!r} must be a required field")
        if self.holder_code_field:
            expected = "citizen-id" if self.holder_code_type is HolderCodeType.CITIZEN_ID else "uscc"
            if properties[self.holder_code_field].get("format") != expected:
                raise InputError(f"licence type {self.code}: holder code field must have format {expected!r}")

    @property
    def holder_code_type(self) -> HolderCodeType:
        return HolderCodeType.for_holder_kind(self.holder_kind)

    @property
    def properties(self) -> Mapping[str, Mapping[str, Any]]:
        properties: Mapping[str, Mapping[str, Any]] = self.fields["properties"]
        return properties

    def label(self, name: str) -> str:
        """The face label of field ``name`` (its schema ``title``, else the name)."""
        return str(self.properties.get(name, {}).get("title", name))

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.fields, format_checker=FORMAT_CHECKER)


# --- validation and the face -------------------------------------------------------------------------------------


def _normalise(value: Any, schema: Mapping[str, Any]) -> Any:
    """Strings NFC-normalised and stripped; code formats upper-cased; nested values likewise."""
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value).strip()
        return text.upper() if schema.get("format") in _UPPER_FORMATS else text
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        return {key: _normalise(item, properties.get(key, {})) for key, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_normalise(item, items if isinstance(items, Mapping) else {}) for item in value]
    return value


def _describe(error: ValidationError, license_type: LicenseType) -> tuple[list[str], str]:
    """``(field names, message)`` for one schema error, in words a person filling a form understands."""
    path = [str(p) for p in error.absolute_path]
    top = path[0] if path else None

    def named(name: str) -> str:
        label = license_type.label(name)
        return f"{name!r} ({label})" if label != name else repr(name)

    instance, value = error.instance, error.validator_value
    if error.validator == "required" and isinstance(instance, Mapping) and isinstance(value, list) and not path:
        missing = [name for name in value if name not in instance]
        return missing, "missing required field " + ", ".join(named(n) for n in missing)
    if error.validator == "dependentRequired" and isinstance(instance, Mapping) and isinstance(value, Mapping):
        missing = sorted({d for k, deps in value.items() if k in instance for d in deps} - set(instance))
        return missing, "missing field " + ", ".join(named(n) for n in missing) + " (needed by another field given)"
    if error.validator == "additionalProperties" and isinstance(instance, Mapping) and not path:
        extra = sorted(set(instance) - set(license_type.properties))
        return extra, f"unknown field {', '.join(repr(n) for n in extra)} (not a field of {license_type.name})"
    where = named(top) if top else "the field set"
    if len(path) > 1:
        where += f" item {'/'.join(path[1:])}"
    if error.validator == "format":
        return [
            top
        ] if top else [], f"field {where} is not {_FORMAT_NAMES.get(str(error.validator_value), error.validator_value)}"
    return [top] if top else [], f"field {where} {_keyword_message(error)}"


_TYPE_NAMES: Final = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "array": "a list",
    "object": "an object",
    "boolean": "true or false",
}


def _keyword_message(error: ValidationError) -> str:
    """What is wrong, without echoing the (possibly long) value back."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        return f"must be {_TYPE_NAMES.get(str(expected), expected)}"
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if keyword == "maxLength":
        return f"is longer than {expected} characters"
    if keyword == "pattern":
        return f"does not match the pattern {expected}"
    if keyword == "enum" and isinstance(expected, list):
        return "must be one of " + "、".join(str(v) for v in expected)
    if keyword in ("minimum", "exclusiveMinimum"):
        return f"must be at least {expected}" if keyword == "minimum" else f"must be more than {expected}"
    if keyword in ("maximum", "exclusiveMaximum"):
        return f"must be at most {expected}" if keyword == "maximum" else f"must be less than {expected}"
    if keyword == "minItems":
        return f"must list at least {expected} item{'s' if expected != 1 else ''}"
    if keyword == "maxItems":
        return f"lists more than {expected} items"
    if keyword == "uniqueItems":
        return "lists the same item twice"
    message = str(error.message)
    return ": " + (message if len(message) <= 160 else message[:157] + "...")


def _check_text(value: object, where: str) -> None:
    """Every key and string of the fields is free of control, bidi and separator characters (issue 11, item 5:
    :mod:`trust.formats.text`); a newline in a free-text field is refused too — the face wraps text itself."""
    if isinstance(value, str):
        text.check(value, where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = text.escape(str(key))
            text.check(str(key), f"{where} name {name!r}")
            _check_text(item, f"licence field {name!r}" if where == "licence field" else where)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item, where)


def validate_fields(license_type: LicenseType, fields: object) -> dict[str, Any]:
    """The licence's fields, normalised and checked against the type's schema.

    Raises :class:`InputError` listing every bad field (``evidence["fields"]``: their names;
    ``evidence["errors"]``: one sentence each).
    """
    if not isinstance(fields, Mapping):
        raise InputError(f"licence fields must be a JSON object, got {type(fields).__name__}")
    try:
        size = len(json.dumps(fields, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise InputError(f"licence fields must be JSON values (strings, numbers, lists, objects): {exc}") from None
    if size > MAX_FIELDS_BYTES:
        raise InputError(f"licence fields of {size} bytes exceed {MAX_FIELDS_BYTES}")
    normalised = _normalise(fields, license_type.fields)
    _check_text(normalised, "licence field")  # after normalising: white space around a value is stripped
    errors = sorted(license_type.validator.iter_errors(normalised), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        bad: list[str] = []
        sentences: list[str] = []
        for error in errors:
            names, sentence = _describe(error, license_type)
            bad.extend(n for n in names if n not in bad)
            if sentence not in sentences:
                sentences.append(sentence)
        shown = sentences[:MAX_ERRORS_REPORTED]
        more = f"; and {len(sentences) - len(shown)} more" if len(sentences) > len(shown) else ""
        raise InputError(
            f"fields do not fit licence type {license_type.name} ({license_type.code}): " + "; ".join(shown) + more,
            evidence={"fields": bad, "errors": shown},
        )
    assert isinstance(normalised, dict)
    return normalised


def _display(value: Any, schema: Mapping[str, Any]) -> str:
    fmt = schema.get("format")
    if isinstance(value, str) and fmt == "date":
        day = date.fromisoformat(value)
        return f"{day.year}年{day.month:02d}月{day.day:02d}日"
    if isinstance(value, str) and fmt == "date-time":
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return f"{moment.year}年{moment.month:02d}月{moment.day:02d}日{moment.hour:02d}时{moment.minute:02d}分"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        items = schema.get("items", {})
        return "；".join(_display(item, items if isinstance(items, Mapping) else {}) for item in value)
    return str(value)


def face_items(license_type: LicenseType, fields: object) -> list[tuple[str, str]]:
    """``[(label, text)]`` for the licence face: the type's ``title_fields`` in order, absent optional fields
    left out, dates as ``2024年03月05日``, lists joined with ``；``. The fields are validated first."""
    checked = validate_fields(license_type, fields)
    return [
        (license_type.label(name), _display(checked[name], license_type.properties[name]))
        for name in license_type.title_fields
        if name in checked
    ]


# --- the seeded catalogue -------------------------------------------------------------------------------------------

TYPES_PACKAGE: Final = "trust.formats"
TYPES_FOLDER: Final = "license_types"
"""The seeded types are data: one JSON file per type in ``trust/formats/license_types/`` (shipped as package data),
named ``<number>-<name>.json``. A file holds the arguments of :class:`LicenceType` (``validity``: those of
:class:`ValidityRule`; ``fields``: the JSON Schema as it is). A field schema with ``"x-huren-qr": false`` (营业执照's
经营范围, long free text) is left out of the QR token, which carries the digest of the full field set instead."""


def _load_type(document: Mapping[str, Any]) -> LicenseType:
    data = dict(document)
    if data.get("fields", {}).get("$schema") != JSON_SCHEMA_DIALECT:
        raise RuntimeError(f"licence type {data.get('code')}: fields schema must declare {JSON_SCHEMA_DIALECT}")
    validity = ValidityRule(**data.pop("validity", {}))
    return LicenseType(**{**data, "validity": validity, "title_fields": tuple(data["title_fields"])})


def _load_types() -> dict[str, LicenseType]:
    folder = resources.files(TYPES_PACKAGE).joinpath(TYPES_FOLDER)
    types: dict[str, LicenseType] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        license_type = _load_type(strict_json.loads(entry.read_bytes(), f"licence type file {entry.name}"))
        if license_type.code in types:
            raise RuntimeError(f"licence type {license_type.code} is defined twice in {TYPES_FOLDER}")
        types[license_type.code] = license_type
    return types


_TYPES: Final[dict[str, LicenseType]] = _load_types()


def get(code: str) -> LicenseType:
    """The licence type with ``code``: :class:`InputError` if the code is malformed, :class:`NotFoundError` if
    the catalogue has no such type."""
    validate_type_code(code)
    try:
        return _TYPES[code]
    except KeyError:
        raise NotFoundError(f"no licence type {code} in the catalogue", evidence={"type_code": code}) from None


def all_types() -> tuple[LicenseType, ...]:
    """Every catalogued type, in code order."""
    return tuple(_TYPES[code] for code in sorted(_TYPES))
