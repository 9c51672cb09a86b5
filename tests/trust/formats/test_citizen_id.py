"""``validate_citizen_id`` keeps ``stdnum.cn.ric.validate``'s answers while remembering birth-place lookups (issue 15
item 5): the same normalised number or the same error, for good and bad numbers, before and after the memo is warm."""

from __future__ import annotations

import random

import pytest
from stdnum.cn import ric
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_11_2

from trust.crypto.errors import InputError
from trust.formats import names

FIXED = [
    "330106199001010012",
    "33010619900101001X",
    "33010619900101001",  # too short
    "3301061990010100x2",  # not digits
    "990106199001010012",  # no such county
    "330106199013010012",  # no 13th month
    " 330106 199001010012",  # spaces are compacted
    "110101188001010011",
]


def _cases() -> list[str]:
    rng = random.Random(15)
    cases = list(FIXED)
    for _ in range(1500):
        county = rng.choice(["330106", "110101", "440300", "999999", "310115", "500101", "330104", "510101"])
        born = f"{rng.randint(1850, 2030)}{rng.randint(1, 13):02d}{rng.randint(1, 31):02d}"
        body = f"{county}{born}{rng.randint(0, 999):03d}"
        cases.append(body + (mod_11_2.calc_check_digit(body) if rng.random() < 0.8 else "0"))
    return cases


def _ours(number: str) -> str:
    try:
        return names.validate_citizen_id(number)
    except InputError as exc:
        return f"error: {exc}"


def _stdnum(number: str) -> str:
    try:
        return str(ric.validate(number))
    except ValidationError as exc:
        return f"error: {number!r} is not a valid citizen identity number (GB 11643): {exc}"


@pytest.mark.parametrize("warm", [False, True])
def test_same_answers_as_stdnum(warm: bool) -> None:
    if not warm:
        names._BIRTH_PLACES.clear()
    cases = _cases()
    assert [_ours(c) for c in cases] == [_stdnum(c) for c in cases]
    assert names._BIRTH_PLACES  # the lookups were remembered


def test_a_known_county_in_a_year_it_did_not_exist_is_refused() -> None:
    """The memo's key carries the birth year: a county code valid for one year is not taken as valid for all."""
    names._BIRTH_PLACES.clear()
    rng = random.Random(7)
    answers: dict[tuple[str, int], bool] = {}
    for _ in range(400):
        county = rng.choice(["110101", "110103", "110104", "130100", "330102"])
        body = f"{county}{rng.randint(1950, 2020)}0101{rng.randint(0, 999):03d}"
        number = body + mod_11_2.calc_check_digit(body)
        answers.setdefault((county, int(body[6:10])), ric.is_valid(number))
        assert (_ours(number) == number) is ric.is_valid(number)
    assert len(set(answers.values())) == 2  # both answers occurred among the same county codes
