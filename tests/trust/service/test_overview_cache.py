"""The operator's overview walks the audit chain once per audit head (issue 17 item 3, docs/WEB.md): a second load with
nothing audited in between reuses the walk; an appended entry walks again; an edit of an old entry that leaves the
head as it was shows once the cached walk is older than ``AUDIT_CACHE_SECONDS``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.world import make_instance
from trust import db
from trust.service import audit, overview
from trust.service.instance import Instance


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    made = make_instance(tmp_path / "home")
    db.upgrade(made.engine)
    try:
        for n in range(3):
            audit.record(made.engine, action="test.note", subject=f"note:{n}", result="ok", details={"n": n})
        yield made
    finally:
        made.engine.dispose()


def test_the_audit_walk_is_cached_per_head(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    walks: list[int] = []
    walk = audit.verify

    def counted(engine: Any, **kw: Any) -> audit.ChainReport:
        walks.append(1)
        return walk(engine, **kw)

    monkeypatch.setattr(audit, "verify", counted)  # this module's own function, for this test only
    first = overview.audit_chain(instance)
    assert first.ok and first.entries == 3 and len(walks) == 1
    assert overview.audit_chain(instance) is first and len(walks) == 1  # nothing audited since: no walk
    audit.record(instance.engine, action="test.note", subject="note:3", result="ok", details={"n": 3})
    second = overview.audit_chain(instance)
    assert len(walks) == 2 and second.ok and second.entries == 4  # the head moved: walked again
    with instance.engine.begin() as connection:  # an edit of an old entry; the head stays as it was
        connection.execute(text("UPDATE audit_entry SET details = :d WHERE seq = 2"), {"d": '{"n":99}'})
    assert overview.audit_chain(instance).ok and len(walks) == 2  # within the cache time: the cached walk
    monkeypatch.setattr(overview, "AUDIT_CACHE_SECONDS", 0.0)
    edited = overview.audit_chain(instance)
    assert len(walks) == 3 and not edited.ok and edited.first_bad == 2
    assert overview.gather(instance).audit["ok"] is False  # the page shows the walk's result
