"""Keys the CA makes for CAs and subjects are made inside the key store (``keystore.generate``) and discarded again
when the transaction — or the savepoint — they were made in rolls back, whatever failed after the key was made."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from ca import authority
from ca.authority.keys import new_key
from ca.profiles import profile
from tests.support.world import World, copy_world
from trust import db
from trust.crypto.errors import InputError
from trust.formats.names import DN
from trust.service import ca as service

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("new-keys") / "home")


def _keys(world: World) -> set[str]:
    return {info.key_id for info in world.instance.keystore.list()}


SUBJECT = DN(province="浙江省", organization="浙江省市场监督管理局", common_name="key discard test")


def test_a_refused_issuance_leaves_no_key(world: World) -> None:
    before = _keys(world)
    with pytest.raises(InputError, match="validity"):  # refused after the key was made
        service.issue(
            world.instance, ca_id="region-330000-sm2", profile="license-issuer", subject=SUBJECT, validity_days=99_999
        )
    assert _keys(world) == before


def test_a_transaction_failing_after_issuance_leaves_no_key(world: World) -> None:
    instance = world.instance
    before = _keys(world)
    made: list[str] = []
    with pytest.raises(RuntimeError, match="after the issuance"), db.session_scope(instance.engine) as session:
        done = authority.issue(
            session, instance.keystore, service.endpoints(instance), ca_id="region-330000-rsa",
            profile=profile("license-issuer"), subject=SUBJECT, key_family="RSA",
        )  # fmt: skip
        assert done.record.key_id is not None
        made.append(done.record.key_id)
        assert made[0] in _keys(world)
        raise RuntimeError("a failure after the issuance, before the commit")
    assert made and _keys(world) == before


def test_savepoints(world: World) -> None:
    """A savepoint rolled back after the key was made leaves it; one the key was made in takes it along."""
    instance = world.instance
    before = _keys(world)
    with Session(instance.engine) as session:
        kept = new_key(session, instance.keystore, "SM2", ca=False, label="outer")
        with pytest.raises(RuntimeError), session.begin_nested():
            raise RuntimeError("a sibling savepoint fails")
        assert kept.key_id in _keys(world)
        with pytest.raises(RuntimeError), session.begin_nested():
            inner = new_key(session, instance.keystore, "SM2", ca=False, label="inner")
            raise RuntimeError("the key's own savepoint fails")
        assert inner.key_id not in _keys(world) and kept.key_id in _keys(world)
        with session.begin_nested():
            released = new_key(session, instance.keystore, "SM2", ca=False, label="released")
        session.commit()  # the outermost commit: both keys stay, and a later rollback does not touch them
        session.rollback()
        assert {kept.key_id, released.key_id} <= _keys(world)
    for key_id in (kept.key_id, released.key_id):
        instance.keystore.discard(key_id)
    assert _keys(world) == before


def test_a_key_made_before_a_rolled_back_transaction_is_discarded(world: World) -> None:
    instance = world.instance
    before = _keys(world)
    with Session(instance.engine) as session:
        key = new_key(session, instance.keystore, "RSA", ca=False, label="rolled back")
        assert key.key_id in _keys(world)
        session.rollback()
    assert _keys(world) == before
