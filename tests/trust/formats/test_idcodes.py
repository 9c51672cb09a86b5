"""Masking personal identifiers in free text (``trust.formats.idcodes``) and in log lines (``trust.logs``).

Every masked case is shown next to a near miss that is left alone (a wrong check character, a longer token), so a
test fails if everything is masked as well as if nothing is."""

from __future__ import annotations

import logging

import pytest

from trust import logs
from trust.formats import idcodes

CITIZEN = "330106199001010018"  # GB 11643 check character 8
CITIZEN_X = "33010619920505002X"
USCC = "91330106MA2CFA4X0F"  # GB 32100 check character F
AUTHORITY = "11330000002482226F"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CITIZEN, "330106********0018"),
        (CITIZEN_X, "330106********002X"),
        (CITIZEN_X.lower(), "330106********002x"),
        (
            f"C=CN, ST=浙江省, CN=张三, serialNumber={CITIZEN}",
            "C=CN, ST=浙江省, CN=张三, serialNumber=330106********0018",
        ),
        (f"GET /seals?holder_code={CITIZEN}&limit=5", "GET /seals?holder_code=330106********0018&limit=5"),
        (f'{{"holder":"{CITIZEN}"}}', '{"holder":"330106********0018"}'),
        (f"身份证{CITIZEN}号", "身份证330106********0018号"),
        (f"{USCC} and {CITIZEN}", "913301********4X0F and 330106********0018"),
    ],
)
def test_identifiers_are_masked(text: str, expected: str) -> None:
    assert idcodes.mask_identifiers(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "330106199001010017",  # wrong check character
        "9133010" + "6MA2CFA4X0G",  # wrong USCC check character
        f"{CITIZEN}1",  # 19 characters: not a token
        f"a{CITIZEN}",  # part of a longer run (a hash, a hex string)
        "11100000000013338W101",  # a GB/T 36904 licence type code (21 characters)
        "short 330106",
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    assert idcodes.mask_identifiers(text) == text


def test_uscc_masking_can_be_left_out() -> None:
    assert idcodes.mask_identifiers(f"{AUTHORITY} {CITIZEN}", uscc_codes=False) == f"{AUTHORITY} 330106********0018"
    assert idcodes.is_uscc(AUTHORITY) and not idcodes.is_citizen_id(AUTHORITY)
    assert idcodes.is_citizen_id(CITIZEN) and not idcodes.is_citizen_id("330106199001010017")


def test_log_lines_and_request_ids_are_masked() -> None:
    assert logs.redact_text(f'127.0.0.1 - "GET /seals?holder_code={CITIZEN} HTTP/1.1" 401') == (
        '127.0.0.1 - "GET /seals?holder_code=330106********0018 HTTP/1.1" 401'
    )
    assert logs.redact_value({"holder": [USCC]}) == {"holder": ["913301********4X0F"]}
    token = logs.request_id_var.set(CITIZEN)
    try:
        record = logging.LogRecord("trust", logging.INFO, __file__, 1, "hello", (), None)
        assert '"request_id":"330106********0018"' in logs.JsonFormatter().format(record)
        assert "[330106********0018]" in logs.TextFormatter().format(record)
    finally:
        logs.request_id_var.reset(token)
