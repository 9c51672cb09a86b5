"""GB/T 36904 electronic licence identifiers (电子证照标识) and holder codes.

Structure (inferred from the standard's outline and checked on real identifiers; see
``shared/standards/README.md``, "Electronic licenses")::

    1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>

* root ``1.2.156.3005.2`` — the OID arc under which GB/T 36904 places licence identifiers;
* type code — 21 characters: the defining authority's 18-character unified social credit code (GB 32100)
  followed by a 3-digit number the authority assigns (``11100000000013338W011``);
* issuer code — the issuing authority's 18-character unified social credit code;
* serial — the issuer's number for the licence: 1..:data:`MAX_SERIAL` digits and capital letters
  (``0-9A-Z``). The standard leaves the length to the issuer; the real serials seen are 10 and 11
  characters, and 32 leaves room for any issuer's numbering (a UUID without dashes fits) while keeping an
  identifier short enough for a QR code and a database key;
* version — 3 digits ``001``..``999`` (``000`` is not a version): a re-issued licence keeps its serial and
  gets the next version;
* check — one character of ``0-9A-Z``: ISO 7064 hybrid MOD 37,36 over type code + issuer code + serial +
  version, concatenated without dots and without the root (``stdnum.iso7064.mod_37_36``).

MOD 37,36 detects every single-character substitution in the checked part and most, but not all, adjacent
transpositions (about 1 in 700 transpositions of random text slips through; ``tests/licenses``). Substitutions
in the type and issuer codes are also caught by their own GB 32100 check characters.

Parsing is strict: the identifier is the canonical text (no spaces inside, capital letters only); an error
names the part that is wrong. Holder codes (:func:`validate_holder`) are user input and are normalised
instead (surrounding spaces removed, ``x`` → ``X``), with the metadata code types of deployed systems:
``111`` citizen identity number (GB 11643) and ``001`` unified social credit code (GB 32100).

Pure format code: no storage, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from stdnum.iso7064 import mod_37_36

from trust.crypto.errors import InputError
from trust.formats.names import validate_citizen_id, validate_uscc

ROOT: Final = "1.2.156.3005.2"
ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TYPE_CODE_LENGTH: Final = 21
USCC_LENGTH: Final = 18
MAX_SERIAL: Final = 32
MIN_VERSION: Final = 1
MAX_VERSION: Final = 999
MAX_IDENTIFIER: Final = len(ROOT) + 1 + TYPE_CODE_LENGTH + 1 + USCC_LENGTH + 1 + MAX_SERIAL + 1 + 3 + 1 + 1
"""The longest well-formed identifier (94 characters)."""
MAX_INPUT: Final = 256
"""Text longer than this is refused before it is split (a guard; shorter malformed text gets a message per part)."""

_USCC_SHAPE: Final = re.compile(r"[0-9]{8}[0-9A-HJ-NP-RTUW-Y]{10}")
_SERIAL: Final = re.compile(r"[0-9A-Z]+")
_VERSION: Final = re.compile(r"[0-9]{3}")
_CHECK: Final = re.compile(r"[0-9A-Z]")


@dataclass(frozen=True)
class LicenseIdentifier:
    """A parsed, valid GB/T 36904 identifier; ``str()`` gives its canonical text."""

    type_code: str
    issuer_code: str
    serial: str
    version: int
    check: str

    @property
    def authority_code(self) -> str:
        """The USCC of the authority that defined the licence type (first 18 characters of the type code)."""
        return self.type_code[:USCC_LENGTH]

    @property
    def type_number(self) -> str:
        """The authority's 3-digit number of the licence type."""
        return self.type_code[USCC_LENGTH:]

    @property
    def version_text(self) -> str:
        return f"{self.version:03d}"

    @property
    def checked_text(self) -> str:
        """What the check character covers: type code + issuer code + serial + version, no dots."""
        return f"{self.type_code}{self.issuer_code}{self.serial}{self.version_text}"

    def next_version(self) -> LicenseIdentifier:
        """The identifier of the re-issued licence (same serial, version + 1)."""
        return parse(make(self.type_code, self.issuer_code, self.serial, self.version + 1))

    def __str__(self) -> str:
        return f"{ROOT}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version_text}.{self.check}"


# --- the parts -------------------------------------------------------------------------------------------------


def _uscc(code: object, part: str) -> str:
    if not isinstance(code, str):
        raise InputError(f"{part} must be a string, got {type(code).__name__}")
    if len(code) != USCC_LENGTH or not _USCC_SHAPE.fullmatch(code):
        raise InputError(
            f"{part} {code[:40]!r} must be a unified social credit code: 18 characters, 8 digits then "
            "0-9A-Z without I, O, S, V, Z (GB 32100)",
            evidence={"part": part},
        )
    try:
        return validate_uscc(code)
    except InputError as exc:
        raise InputError(f"{part} {code!r} fails its GB 32100 check character", evidence={"part": part}) from exc


def validate_type_code(code: object) -> str:
    """A licence type code: the defining authority's USCC + 3 digits; :class:`InputError` otherwise."""
    if not isinstance(code, str):
        raise InputError(f"type code must be a string, got {type(code).__name__}", evidence={"part": "type code"})
    if len(code) != TYPE_CODE_LENGTH:
        raise InputError(
            f"type code {code[:40]!r} must be 21 characters (authority USCC + 3 digits), found {len(code)}",
            evidence={"part": "type code"},
        )
    if not code[USCC_LENGTH:].isascii() or not code[USCC_LENGTH:].isdigit():
        raise InputError(
            f"type code {code!r} must end with the authority's 3-digit type number", evidence={"part": "type code"}
        )
    _uscc(code[:USCC_LENGTH], "type code (defining authority's USCC)")
    return code


def make_type_code(authority_code: str, number: int) -> str:
    """A licence type code from the defining authority's USCC and its type number (0..999)."""
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 999:
        raise InputError(f"type number must be an integer 0..999, got {number!r}", evidence={"part": "type code"})
    return validate_type_code(f"{_uscc(authority_code, 'defining authority code')}{number:03d}")


def validate_issuer_code(code: object) -> str:
    """An issuer code: the issuing authority's USCC; :class:`InputError` otherwise."""
    return _uscc(code, "issuer code")


def validate_serial(serial: object) -> str:
    if not isinstance(serial, str):
        raise InputError(f"serial must be a string, got {type(serial).__name__}", evidence={"part": "serial"})
    if not 1 <= len(serial) <= MAX_SERIAL:
        raise InputError(f"serial must be 1..{MAX_SERIAL} characters, found {len(serial)}", evidence={"part": "serial"})
    if not _SERIAL.fullmatch(serial):
        raise InputError(
            f"serial {serial!r} may hold only digits and capital letters (0-9A-Z)", evidence={"part": "serial"}
        )
    return serial


def validate_version(version: object) -> int:
    """A version number 1..999 (an ``int``, or its 3-digit text ``"001"``)."""
    if isinstance(version, str):
        if not _VERSION.fullmatch(version) or version == "000":
            raise InputError(f"version {version[:10]!r} must be 3 digits 001..999", evidence={"part": "version"})
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError(f"version must be an integer, got {type(version).__name__}", evidence={"part": "version"})
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise InputError(f"version must be 001..999, got {version}", evidence={"part": "version"})
    return version


def check_character(checked_text: str) -> str:
    """The ISO 7064 MOD 37,36 check character of ``checked_text`` (characters ``0-9A-Z``)."""
    if not checked_text or any(ch not in ALPHABET for ch in checked_text):
        raise InputError("the checked part of a licence identifier may hold only 0-9A-Z")
    return str(mod_37_36.calc_check_digit(checked_text))


# --- make, parse ---------------------------------------------------------------------------------------------------


def make(type_code: str, issuer_code: str, serial: str, version: int | str = 1) -> str:
    """The identifier text for a licence; every part is validated first."""
    type_code = validate_type_code(type_code)
    issuer_code = validate_issuer_code(issuer_code)
    serial = validate_serial(serial)
    number = validate_version(version)
    body = f"{type_code}{issuer_code}{serial}{number:03d}"
    return f"{ROOT}.{type_code}.{issuer_code}.{serial}.{number:03d}.{check_character(body)}"


def parse(identifier: object) -> LicenseIdentifier:
    """The parts of a valid identifier; :class:`InputError` naming the part that is wrong otherwise."""
    if not isinstance(identifier, str):
        raise InputError(f"licence identifier must be a string, got {type(identifier).__name__}")
    text = identifier.strip()
    if len(text) > MAX_INPUT:
        raise InputError(
            f"licence identifier of {len(text)} characters is far longer than the longest valid one ({MAX_IDENTIFIER})"
        )
    if not text.startswith(ROOT + "."):
        raise InputError(
            f"licence identifier must start with {ROOT}. (GB/T 36904), got {text[:20]!r}", evidence={"part": "root"}
        )
    parts = text[len(ROOT) + 1 :].split(".")
    if len(parts) != 5:
        raise InputError(
            f"licence identifier needs 5 parts after {ROOT} (type code, issuer code, serial, version, check), "
            f"found {len(parts)}",
            evidence={"part": "structure"},
        )
    type_code, issuer_code, serial, version_text, check = parts
    validate_type_code(type_code)
    validate_issuer_code(issuer_code)
    validate_serial(serial)
    version = validate_version(version_text)
    if not _CHECK.fullmatch(check):
        raise InputError(f"check character {check[:10]!r} must be one character of 0-9A-Z", evidence={"part": "check"})
    expected = check_character(f"{type_code}{issuer_code}{serial}{version_text}")
    if check != expected:
        raise InputError(
            f"check character {check!r} does not match the identifier (ISO 7064 MOD 37,36 gives {expected!r}): "
            "a character was mistyped or two were swapped",
            evidence={"part": "check", "expected": expected, "found": check},
        )
    return LicenseIdentifier(type_code, issuer_code, serial, version, check)


def is_valid(identifier: object) -> bool:
    try:
        parse(identifier)
    except InputError:
        return False
    return True


# --- holder codes --------------------------------------------------------------------------------------------------


class HolderCodeType(Enum):
    """Holder code types of licence metadata in deployed systems (the value is the metadata code)."""

    CITIZEN_ID = "111"  # 公民身份号码, GB 11643
    USCC = "001"  # 统一社会信用代码, GB 32100

    @classmethod
    def for_holder_kind(cls, holder_kind: str) -> HolderCodeType:
        """The code type for a catalogue ``holder_kind``: ``person`` → 111, ``organization`` → 001."""
        kinds = {"person": cls.CITIZEN_ID, "organization": cls.USCC}
        if holder_kind not in kinds:
            raise InputError(f"holder kind must be 'person' or 'organization', got {holder_kind!r}")
        return kinds[holder_kind]


_KIND_ALIASES: Final = {
    "111": HolderCodeType.CITIZEN_ID,
    "citizen_id": HolderCodeType.CITIZEN_ID,
    "001": HolderCodeType.USCC,
    "uscc": HolderCodeType.USCC,
}


def holder_code_type(kind: HolderCodeType | str) -> HolderCodeType:
    """``kind`` as a :class:`HolderCodeType`: the enum, its metadata code (``111``, ``001``) or its name."""
    if isinstance(kind, HolderCodeType):
        return kind
    if isinstance(kind, str) and kind.lower() in _KIND_ALIASES:
        return _KIND_ALIASES[kind.lower()]
    raise InputError(f"holder code type must be 111 (citizen identity number) or 001 (USCC), got {kind!r}")


def validate_holder(code: object, kind: HolderCodeType | str) -> str:
    """A holder code of the given kind, normalised (spaces stripped, capital letters); :class:`InputError` otherwise.

    ``111``: a citizen identity number (GB 11643: 17 digits + MOD 11-2 check, ``X`` for 10, with a real birth
    date and GB/T 2260 region); ``001``: a unified social credit code (GB 32100).
    """
    code_type = holder_code_type(kind)
    if not isinstance(code, str):
        raise InputError(f"holder code must be a string, got {type(code).__name__}")
    text = code.strip().upper()
    if len(text) != 18:
        what = "citizen identity number" if code_type is HolderCodeType.CITIZEN_ID else "unified social credit code"
        raise InputError(f"holder code ({code_type.value}, {what}) must be 18 characters, found {len(text)}")
    if code_type is HolderCodeType.CITIZEN_ID:
        if not re.fullmatch(r"[0-9]{17}[0-9X]", text):
            raise InputError("holder code (111, citizen identity number) must be 17 digits and a digit or X")
        try:
            return validate_citizen_id(text)
        except InputError as exc:
            raise InputError(
                "holder code (111) is not a valid citizen identity number (GB 11643): wrong check digit, "
                "birth date or region"
            ) from exc
    return _uscc(text, "holder code (001, unified social credit code)")
