"""Issue 11 item 10: the files under ``TRUST_HOME`` that hold state are private from the moment they exist — the
SQLite database and its ``-wal`` and ``-shm`` files 0600, the key store folder 0700 and its files 0600 — whatever
the process umask (the database was 0644 before: SQLite creates files with 0644 less the umask)."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.world import PASSPHRASE
from trust import db
from trust.service.backup import databases
from trust.service.instance import Instance
from trust.settings import Settings


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: nothing may rely on the umask to keep a file private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_wal_and_shm_are_created_private(tmp_path: Path, open_umask: None) -> None:
    instance = Instance(Settings(home=tmp_path / "home", key_kdf_iterations=2_000), passphrase=PASSPHRASE)
    instance.prepare_storage()
    instance.keystore.generate("sm2")
    database = tmp_path / "home" / "huren.db"
    with instance.engine.connect() as connection:  # a reader holds the WAL open: -wal and -shm exist now
        connection.execute(text("SELECT count(*) FROM audit_entry")).all()
        companions = [database.with_name(database.name + s) for s in ("-wal", "-shm")]
        assert all(p.exists() for p in companions)
        assert {p.name: _mode(p) for p in (database, *companions)} == {
            "huren.db": 0o600,
            "huren.db-wal": 0o600,
            "huren.db-shm": 0o600,
        }
    keys = tmp_path / "home" / "keys"
    assert _mode(keys) == 0o700
    assert {p.name: _mode(p) for p in keys.iterdir()} == {p.name: 0o600 for p in keys.iterdir()}
    instance.engine.dispose()


def test_the_file_is_never_readable_by_others_not_even_for_a_moment(tmp_path: Path, open_umask: None) -> None:
    """Created 0600 by the open call itself, not chmod-ed afterwards: watch the path while the engine is made."""
    path = tmp_path / "watched.db"
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.append(_mode(path))
            except FileNotFoundError:
                continue

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        engine = db.make_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        engine.dispose()
    finally:
        stop.set()
        watcher.join()
    assert _mode(path) == 0o600
    assert set(seen) <= {0o600}, sorted(set(seen))


def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    for name in ("old.db", "old.db-wal", "old.db-shm"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    db.make_engine(f"sqlite:///{path}").dispose()
    assert {p.name: _mode(p) for p in tmp_path.iterdir()} == {
        "old.db": 0o600,
        "old.db-wal": 0o600,
        "old.db-shm": 0o600,
    }


def test_a_backup_snapshot_is_private_while_it_is_written(tmp_path: Path, open_umask: None) -> None:
    source = tmp_path / "source.db"
    engine = db.make_engine(f"sqlite:///{source}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    target = tmp_path / "snapshot.db"
    databases.sqlite_snapshot(source, target)
    assert _mode(target) == 0o600
