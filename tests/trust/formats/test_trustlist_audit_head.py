"""The trust list's ``audit_head`` member: optional (older lists stay readable), checked when present, and
round-tripped by the signed form."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trust.crypto.errors import EncodingError
from trust.formats import trustlist as tl

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _document(**extra: Any) -> dict[str, Any]:
    listed = tl.TrustList(1, NOW, NOW + timedelta(days=1), "operator", (), ())
    return {**listed.to_json(), **extra}


def test_a_list_without_the_member_is_read_and_written_as_before() -> None:
    document = _document()
    assert "audit_head" not in document
    assert tl.TrustList.from_json(document).audit_head is None


def test_the_member_round_trips() -> None:
    head = tl.AuditHead(41, "ab" * 32)
    listed = tl.TrustList(2, NOW, NOW + timedelta(days=1), "operator", (), (), audit_head=head)
    document = json.loads(listed.canonical())
    assert document["audit_head"] == {"sequence": 41, "hash": "ab" * 32}
    assert tl.TrustList.from_json(document).audit_head == head


def test_unknown_members_are_ignored() -> None:
    """What lets a reader that predates ``audit_head`` read lists that carry it."""
    assert tl.TrustList.from_json(_document(some_future_member={"x": 1})).sequence == 1


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"sequence": -1, "hash": "ab" * 32},
        {"sequence": True, "hash": "ab" * 32},
        {"sequence": "4", "hash": "ab" * 32},
        {"sequence": 4, "hash": "AB" * 32},
        {"sequence": 4, "hash": "ab" * 31},
        {"sequence": 4},
    ],
)
def test_a_malformed_member_is_refused(value: Any) -> None:
    with pytest.raises(EncodingError, match="audit_head"):
        tl.TrustList.from_json(_document(audit_head=value))
