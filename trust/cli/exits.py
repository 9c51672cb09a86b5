"""The one mapping from outcomes to CLI exit codes.

====  =========================================================================
code  meaning
====  =========================================================================
0     success; for ``trust verify``: TOTAL_PASSED
1     ``trust verify``: TOTAL_FAILED
2     ``trust verify``: INDETERMINATE
3     usage or input error: bad arguments, unreadable or malformed input, refused request
4     the tool or its environment failed: database or key store unavailable, internal error
====  =========================================================================

Click's own usage errors (exit 2 by default) are remapped to 3 so that 2 always means INDETERMINATE.
"""

from __future__ import annotations

from enum import IntEnum

from trust.crypto.errors import Category, TrustError


class Exit(IntEnum):
    OK = 0
    PASSED = 0
    FAILED = 1
    INDETERMINATE = 2
    USAGE = 3
    ENVIRONMENT = 4


_ENVIRONMENT = {Category.ENVIRONMENT, Category.INTERNAL}


def for_error(error: TrustError) -> Exit:
    return Exit.ENVIRONMENT if error.code.category in _ENVIRONMENT else Exit.USAGE


def for_indication(indication: str) -> Exit:
    return {"TOTAL_PASSED": Exit.PASSED, "TOTAL_FAILED": Exit.FAILED, "INDETERMINATE": Exit.INDETERMINATE}[indication]
