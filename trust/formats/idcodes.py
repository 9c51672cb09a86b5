"""Personal identifiers in free text: citizen identity numbers and unified social credit codes, found and masked.

* Citizen identity numbers (公民身份号码), GB 11643-1999: 17 digits and a check character (``0``-``9`` or ``X``)
  computed with ISO 7064 MOD 11-2 (clause 5.2). Any 18-character token whose check character is right counts —
  the birth date and the place of registration are *not* checked, so that an identifier the issuance code would
  refuse (or a real one from a place python-stdnum's table lacks) is masked too.
* Unified social credit codes (统一社会信用代码), GB 32100-2015: 18 characters, a check character over the first 17
  (clause 4.5; ``stdnum.cn.uscc``).

A token is a run of exactly 18 ASCII letters and digits between characters that are neither (``serialNumber=…,``,
``"…"``, ``?holder_code=…&``, next to Chinese text); a longer run (a hash, a GB/T 36904 type code of 21
characters) is not a token. Masking keeps the first 6 and the last 4 characters (:func:`mask`): enough to tell
records apart and to see the region of registration, not enough to identify a person.

Masking is by shape, so it also masks numbers that merely look like one (any 18-digit number has a right MOD 11-2
check character about one time in eleven): callers apply it to text that may carry personal data (log lines, subject
names, free-text fields), not to their own structural keys. Pure code: no storage.
"""

from __future__ import annotations

import re
from typing import Final

from stdnum.cn import uscc
from stdnum.iso7064 import mod_11_2

__all__ = ["is_citizen_id", "is_uscc", "mask", "mask_identifiers"]

_TOKEN: Final = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")
_CITIZEN: Final = re.compile(r"\d{17}[\dXx]")


def is_citizen_id(token: str) -> bool:
    """18 characters shaped like a GB 11643 citizen identity number with a right MOD 11-2 check character."""
    return len(token) == 18 and _CITIZEN.fullmatch(token) is not None and mod_11_2.is_valid(token.upper())


def is_uscc(token: str) -> bool:
    """A GB 32100 unified social credit code with a right check character."""
    return len(token) == 18 and bool(uscc.is_valid(token))


def mask(code: str) -> str:
    """``330106********0018``: the first 6 and last 4 characters of a code longer than 10, the rest ``*``."""
    if len(code) <= 10:
        return code
    return code[:6] + "*" * (len(code) - 10) + code[-4:]


def mask_identifiers(text: str, *, uscc_codes: bool = True) -> str:
    """``text`` with every citizen identity number (and, with ``uscc_codes``, every unified social credit code)
    masked. Linear in the length of ``text``."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if is_citizen_id(token) or (uscc_codes and is_uscc(token)):
            return mask(token)
        return token

    if len(text) < 18:
        return text
    return _TOKEN.sub(replace, text)
