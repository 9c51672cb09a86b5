"""GB/T 36904 licence identifiers and holder codes (trust.formats.identifiers)."""

from __future__ import annotations

import random

import pytest

from trust.crypto.errors import InputError
from trust.formats import identifiers as ids
from trust.formats.identifiers import HolderCodeType, LicenseIdentifier
from trust.formats.names import make_uscc

# The real identifiers of shared/standards/README.md ("Electronic licenses").
REAL = [
    (
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        LicenseIdentifier("11100000000013338W011", "11430000006122244L", "20230000403", 1, "U"),
    ),
    (
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
        LicenseIdentifier("11100000000013338W009", "11330105002500287C", "2025052201", 2, "0"),
    ),
]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USCC_TAIL = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def reference_mod_37_36(text: str) -> str:
    """ISO 7064 hybrid MOD 37,36 written from the standard's definition (independent of python-stdnum)."""
    m = 36
    p = m
    for ch in text:
        s = (p + ALPHABET.index(ch)) % m or m
        p = (2 * s) % (m + 1)
    return ALPHABET[(1 - p) % m]


def random_uscc(rng: random.Random) -> str:
    prefix = (
        rng.choice("123456789")
        + rng.choice("123456789")
        + "".join(rng.choice("0123456789") for _ in range(6))
        + "".join(rng.choice(USCC_TAIL) for _ in range(9))
    )
    return make_uscc(prefix)


def random_identifier(rng: random.Random) -> tuple[str, str, str, int]:
    type_code = random_uscc(rng) + f"{rng.randrange(1000):03d}"
    issuer = random_uscc(rng)
    serial = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, ids.MAX_SERIAL)))
    return type_code, issuer, serial, rng.randint(1, 999)


GENERATED = [random_identifier(random.Random(20261126 + n)) for n in range(1000)]


# --- the real identifiers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), REAL)
def test_real_identifiers_validate_and_parse(text: str, expected: LicenseIdentifier) -> None:
    parsed = ids.parse(text)
    assert parsed == expected
    assert ids.is_valid(text)
    assert str(parsed) == text
    assert ids.make(expected.type_code, expected.issuer_code, expected.serial, expected.version) == text
    assert parsed.authority_code == "11100000000013338W"
    assert parsed.type_number == expected.type_code[-3:]
    assert reference_mod_37_36(parsed.checked_text) == expected.check


def test_surrounding_whitespace_is_tolerated_but_nothing_else() -> None:
    text = REAL[0][0]
    assert ids.parse(f"  {text}\n") == REAL[0][1]
    assert not ids.is_valid(text.lower())
    assert not ids.is_valid(text.replace(".", ". ", 1))


# --- generated identifiers -----------------------------------------------------------------------------------------


def test_thousand_generated_identifiers_validate_and_round_trip() -> None:
    assert len({(t, i, s, v) for t, i, s, v in GENERATED}) == 1000
    for type_code, issuer, serial, version in GENERATED:
        text = ids.make(type_code, issuer, serial, version)
        parsed = ids.parse(text)
        assert (parsed.type_code, parsed.issuer_code, parsed.serial, parsed.version) == (
            type_code,
            issuer,
            serial,
            version,
        )
        assert parsed.check == reference_mod_37_36(f"{type_code}{issuer}{serial}{version:03d}")
        assert str(parsed) == text and ids.is_valid(text)
        assert len(text) <= ids.MAX_IDENTIFIER


def _split(text: str) -> tuple[str, list[int]]:
    """``(checked part + check character, part lengths)`` of an identifier."""
    parts = text[len(ids.ROOT) + 1 :].split(".")
    return "".join(parts), [len(p) for p in parts]


def _join(body: str, lengths: list[int]) -> str:
    parts, offset = [], 0
    for length in lengths:
        parts.append(body[offset : offset + length])
        offset += length
    return ids.ROOT + "." + ".".join(parts)


SAMPLE = GENERATED[:25]


def test_every_single_substitution_is_detected() -> None:
    """Each position of type + issuer + serial + version + check, each other character of 0-9A-Z."""
    changes = 0
    for type_code, issuer, serial, version in SAMPLE:
        text = ids.make(type_code, issuer, serial, version)
        body, lengths = _split(text)
        for position, original in enumerate(body):
            for replacement in ALPHABET:
                if replacement == original:
                    continue
                mutated = body[:position] + replacement + body[position + 1 :]
                changes += 1
                assert not ids.is_valid(_join(mutated, lengths)), (text, position, replacement)
                if position < len(body) - 1:
                    # The check character alone detects it, whatever the USCC checks say.
                    assert ids.check_character(mutated[:-1]) != body[-1], (text, position, replacement)
    assert changes > 25 * 40 * 35


def test_adjacent_transpositions_are_detected_but_for_the_known_mod_37_36_blind_spots() -> None:
    """Hybrid MOD 37,36 misses a few adjacent transpositions (ISO 7064 promises all single substitutions,
    not all transpositions). Every miss must be a genuine blind spot of the algorithm — the swapped text has
    the same check character by the independent reference — and misses must stay rare."""
    swaps = misses = 0
    for type_code, issuer, serial, version in GENERATED[:200]:
        text = ids.make(type_code, issuer, serial, version)
        body, lengths = _split(text)
        for position in range(len(body) - 1):
            a, b = body[position], body[position + 1]
            if a == b:
                continue
            swapped = body[:position] + b + a + body[position + 2 :]
            swaps += 1
            if ids.is_valid(_join(swapped, lengths)):
                misses += 1
                assert reference_mod_37_36(swapped[:-1]) == swapped[-1]
    assert swaps > 10_000
    assert misses / swaps < 0.005, (misses, swaps)


def test_reference_and_stdnum_agree_on_random_text() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 80)))
        assert ids.check_character(text) == reference_mod_37_36(text)


# --- specific messages -------------------------------------------------------------------------------------------

GOOD = REAL[0][0]
TYPE, ISSUER, SERIAL, VERSION, CHECK = GOOD[len(ids.ROOT) + 1 :].split(".")


def _with(**parts: str) -> str:
    values = {"type": TYPE, "issuer": ISSUER, "serial": SERIAL, "version": VERSION, "check": CHECK, **parts}
    return ".".join([ids.ROOT, values["type"], values["issuer"], values["serial"], values["version"], values["check"]])


@pytest.mark.parametrize(
    ("text", "part", "words"),
    [
        (GOOD.replace("1.2.156.3005.2", "1.2.156.3005.3"), "root", "must start with 1.2.156.3005.2."),
        (GOOD + ".X", "structure", "needs 5 parts"),
        (_with(type=TYPE[:-1]), "type code", "must be 21 characters"),
        (_with(type=TYPE[:18] + "01A"), "type code", "3-digit type number"),
        (_with(type="11100000000013338X011"), "type code (defining authority's USCC)", "GB 32100 check character"),
        (_with(type="1110000000001333IW011"), "type code (defining authority's USCC)", "without I, O, S, V, Z"),
        (_with(issuer="11430000006122244M"), "issuer code", "GB 32100 check character"),
        (_with(issuer="1143000000612224L"), "issuer code", "18 characters"),
        (_with(serial=""), "serial", "1..32 characters"),
        (_with(serial="1" * 33), "serial", "1..32 characters"),
        (_with(serial="2023-0403"), "serial", "digits and capital letters"),
        (_with(serial="2023000040a"), "serial", "digits and capital letters"),
        (_with(version="01"), "version", "3 digits"),
        (_with(version="000"), "version", "001..999"),
        (_with(version="1A1"), "version", "3 digits"),
        (_with(check="V"), "check", "does not match"),
        (_with(check="u"), "check", "one character of 0-9A-Z"),
        (_with(check="UU"), "check", "one character of 0-9A-Z"),
    ],
)
def test_bad_parts_are_named(text: str, part: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        ids.parse(text)
    assert caught.value.evidence.get("part") == part
    assert words in caught.value.message
    assert not ids.is_valid(text)


def test_wrong_check_character_reports_expected_and_found() -> None:
    with pytest.raises(InputError) as caught:
        ids.parse(_with(check="7"))
    assert caught.value.evidence == {"part": "check", "expected": "U", "found": "7"}


def test_oversized_and_non_text_input_is_refused() -> None:
    with pytest.raises(InputError, match="far longer than the longest valid one"):
        ids.parse(GOOD + "0" * 10_000)
    for value in (None, 12, b"1.2.156"):
        with pytest.raises(InputError, match="must be a string"):
            ids.parse(value)
        assert not ids.is_valid(value)


def test_make_validates_every_part() -> None:
    with pytest.raises(InputError, match="21 characters"):
        ids.make(TYPE[:-1], ISSUER, SERIAL)
    with pytest.raises(InputError, match="issuer code"):
        ids.make(TYPE, "91330000000000000X", SERIAL)
    with pytest.raises(InputError, match="serial"):
        ids.make(TYPE, ISSUER, "abc")
    for version in (0, 1000, True, 1.0):
        with pytest.raises(InputError, match="version"):
            ids.make(TYPE, ISSUER, SERIAL, version)  # type: ignore[arg-type]
    assert ids.make(TYPE, ISSUER, SERIAL, "001") == GOOD
    assert ids.make(TYPE, ISSUER, SERIAL).endswith(".001.U")


def test_next_version_keeps_serial_and_recomputes_check() -> None:
    parsed = ids.parse(GOOD)
    nxt = parsed.next_version()
    assert (nxt.type_code, nxt.issuer_code, nxt.serial, nxt.version) == (TYPE, ISSUER, SERIAL, 2)
    assert nxt.check == reference_mod_37_36(f"{TYPE}{ISSUER}{SERIAL}002")
    assert ids.is_valid(str(nxt))
    with pytest.raises(InputError, match=r"001\.\.999"):
        ids.parse(ids.make(TYPE, ISSUER, SERIAL, 999)).next_version()


def test_make_type_code() -> None:
    assert ids.make_type_code("11100000000013338W", 11) == "11100000000013338W011"
    with pytest.raises(InputError, match=r"0\.\.999"):
        ids.make_type_code("11100000000013338W", 1000)
    with pytest.raises(InputError, match="GB 32100"):
        ids.make_type_code("11100000000013338X", 1)


# --- holder codes ----------------------------------------------------------------------------------------------------

CITIZEN_ID = "11010519491231002X"  # the GB 11643 example number


def test_holder_citizen_id_is_checked_and_normalised() -> None:
    assert ids.validate_holder(CITIZEN_ID, "111") == CITIZEN_ID
    assert ids.validate_holder(" 11010519491231002x ", HolderCodeType.CITIZEN_ID) == CITIZEN_ID
    assert ids.validate_holder(CITIZEN_ID, "citizen_id") == CITIZEN_ID
    for bad, words in [
        ("110105194912310021", "valid citizen identity number"),  # wrong check digit
        ("110105194913310023", "valid citizen identity number"),  # month 13
        ("11010519491231002", "18 characters"),
        ("1101051949123100AX", "17 digits"),
        ("91330106MA2B0000XX", "17 digits"),
    ]:
        with pytest.raises(InputError, match=words):
            ids.validate_holder(bad, "111")


def test_holder_uscc_is_checked() -> None:
    assert ids.validate_holder("11430000006122244L", "001") == "11430000006122244L"
    assert ids.validate_holder("11430000006122244l", HolderCodeType.USCC) == "11430000006122244L"
    with pytest.raises(InputError, match="GB 32100 check character"):
        ids.validate_holder("11430000006122244M", "001")
    with pytest.raises(InputError, match="unified social credit code"):
        ids.validate_holder(CITIZEN_ID, "001")


def test_holder_kinds() -> None:
    assert HolderCodeType.for_holder_kind("person") is HolderCodeType.CITIZEN_ID
    assert HolderCodeType.for_holder_kind("organization") is HolderCodeType.USCC
    assert HolderCodeType.CITIZEN_ID.value == "111" and HolderCodeType.USCC.value == "001"
    with pytest.raises(InputError, match=r"111 .* or 001"):
        ids.validate_holder(CITIZEN_ID, "002")
    with pytest.raises(InputError, match="person"):
        HolderCodeType.for_holder_kind("robot")
    with pytest.raises(InputError, match="must be a string"):
        ids.validate_holder(None, "111")
