"""Shared loading and bookkeeping for the Wycheproof conformance tests (not a test module).

Every test built on this module walks *all* cases of a file, records each case whose outcome differs from
the expected verdict, and finally asserts that the mismatch list is empty and that the number of cases
checked equals the file's ``numberOfTests``. Deviations and ``acceptable`` verdicts are documented in the
test modules themselves and checked here for staleness (an entry that names no case of the file fails).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import shared_file as testdata
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.ecsig import SignatureEncoding
from trust.crypto.errors import EncodingError, InvalidKey, InvalidSignature, UnsupportedAlgorithm
from trust.crypto.keys import load_public_key

VECTORS = ("wycheproof", "testvectors_v1")

HASHES = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def load(filename: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(testdata(*VECTORS, filename).read_text(encoding="utf-8"))
    return data


def cases(data: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(group, test)`` for every test of the file, in file order."""
    for group in data["testGroups"]:
        for test in group["tests"]:
            yield group, test


def h(value: str) -> bytes:
    return bytes.fromhex(value)


@dataclass
class Ledger:
    """Outcome bookkeeping for one file."""

    filename: str
    data: Mapping[str, Any]
    deviations: Mapping[int, str] = field(default_factory=dict)
    acceptable: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    def record(self, test: Mapping[str, Any], ok: bool, detail: str) -> None:
        self.checked += 1
        self.seen.add(int(test["tcId"]))
        if not ok:
            self.mismatches.append(
                f"tcId {test['tcId']} ({test['result']}, flags {test.get('flags')}, {test.get('comment')!r}): {detail}"
            )

    def finish(self) -> None:
        """Fail unless every case was checked, every case matched and no documented id is stale."""
        stale = sorted((set(self.deviations) | set(self.acceptable)) - self.seen)
        acceptable_ids = {int(t["tcId"]) for _, t in cases(self.data) if t["result"] == "acceptable"}
        undocumented = sorted(acceptable_ids - set(self.acceptable))
        not_acceptable = sorted(set(self.acceptable) - acceptable_ids)
        problems = list(self.mismatches)
        if stale:
            problems.append(f"documented tcIds not found in {self.filename}: {stale}")
        if undocumented:
            problems.append(f"acceptable cases without a documented project verdict: {undocumented}")
        if not_acceptable:
            problems.append(f"tcIds documented as acceptable that are not acceptable in the file: {not_acceptable}")
        shown = problems[:40] + ([f"... and {len(problems) - 40} more"] if len(problems) > 40 else [])
        assert not problems, f"{self.filename}: {len(problems)} problem(s):\n" + "\n".join(shown)
        total = sum(len(g["tests"]) for g in self.data["testGroups"])
        assert self.checked == self.data["numberOfTests"] == total, (
            f"{self.filename}: checked {self.checked} cases, numberOfTests {self.data['numberOfTests']}, "
            f"groups hold {total}"
        )


def signature_outcome(
    public_key_der: bytes,
    signature: bytes,
    message: bytes,
    algorithm: SignatureAlgorithm,
    encoding: SignatureEncoding = "der",
) -> str:
    """``accept``; ``reject:<error>`` (signature refused); ``key:<error>`` (key refused); ``error:<...>``."""
    try:
        key = load_public_key(public_key_der)
    except (InvalidKey, UnsupportedAlgorithm, EncodingError) as exc:
        return f"key:{type(exc).__name__}"
    except Exception as exc:
        return f"error:{exc!r}"
    try:
        key.verify(signature, message, algorithm, encoding=encoding)
    except InvalidSignature as exc:  # MalformedSignature included
        return f"reject:{type(exc).__name__}"
    except Exception as exc:
        return f"error:{exc!r}"
    return "accept"


def check_signature_case(ledger: Ledger, test: Mapping[str, Any], outcome: str) -> None:
    """Compare one signature outcome with the Wycheproof verdict (and the documented exceptions)."""
    tc_id = int(test["tcId"])
    refused = outcome.startswith(("reject:", "key:"))
    if tc_id in ledger.deviations:
        ledger.record(test, refused, f"documented deviation (project refuses) but got {outcome}")
    elif test["result"] == "valid":
        ledger.record(test, outcome == "accept", f"expected accept, got {outcome}")
    elif test["result"] == "invalid":
        ledger.record(test, refused, f"expected a refusal (InvalidSignature or key refusal), got {outcome}")
    else:  # acceptable: the project's verdict must be the documented one
        documented = ledger.acceptable.get(tc_id, ("undocumented", ""))[0]
        actual = "accept" if outcome == "accept" else "reject" if refused else outcome
        ledger.record(test, actual == documented, f"acceptable case documented as {documented}, got {outcome}")
