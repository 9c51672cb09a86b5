"""Each request's verification context is derived once per base context and option set (branch etag): the same object
for the same options and validation time, a new one for other options, and nothing derived before a state change is
used after it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.world import World, copy_world
from trust import db
from trust.crypto.errors import InputError
from trust.service import state, verification

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _context(world: World, at: datetime | None = AT, **options: object) -> object:
    return verification.context_for(world.instance, at=at, purpose="auto", revocation="available", **options)  # type: ignore[arg-type]


def test_the_same_options_get_the_same_context_and_a_state_change_a_new_one(
    tmp_path: Path, world_template: World
) -> None:
    world = copy_world(world_template, tmp_path / "home")
    first = _context(world)
    assert _context(world) is first
    strict = _context(world, strict=True, max_depth=2)
    assert strict is not first and (strict.strict, strict.max_depth) == (True, 2)  # type: ignore[attr-defined]
    assert _context(world, strict=True, max_depth=2) is strict
    assert _context(world) is first  # the other option set is still kept
    base = verification._base_context(world.instance)
    with db.session_scope(world.instance.engine) as session:
        state.bump(session)
    after = _context(world)
    assert after is not first and verification._base_context(world.instance) is not base
    assert _context(world) is after
    assert _context(world, strict=True, max_depth=2) is not strict


def test_a_context_for_another_time_is_the_options_context_with_only_the_time_changed(
    tmp_path: Path, world_template: World
) -> None:
    world = copy_world(world_template, tmp_path / "home")
    first = _context(world, strict=True)
    _ = first.member_fingerprints  # type: ignore[attr-defined]  # a cached_property, kept in the object's __dict__
    later = AT + timedelta(days=1)
    second = _context(world, later, strict=True)
    expected = dataclasses.replace(
        verification._base_context(world.instance), validation_time=later, purpose="auto", strict=True
    )
    assert second is not first and type(second) is type(expected)
    for field in dataclasses.fields(expected):  # type: ignore[arg-type]
        assert getattr(second, field.name) == getattr(expected, field.name), field.name
    assert "member_fingerprints" not in vars(second)  # values computed for another time are not carried
    assert second.memo is first.memo  # type: ignore[attr-defined]
    now = _context(world, None, strict=True)
    assert abs(now.validation_time - datetime.now(UTC)) < timedelta(seconds=60)  # type: ignore[attr-defined]


def test_bad_options_are_still_refused(tmp_path: Path, world_template: World) -> None:
    world = copy_world(world_template, tmp_path / "home")
    _context(world)
    with pytest.raises(InputError, match="revocation mode"):
        verification.context_for(world.instance, at=AT, purpose="auto", revocation="nonsense")
    with pytest.raises(InputError):
        _context(world, max_depth=-1)
