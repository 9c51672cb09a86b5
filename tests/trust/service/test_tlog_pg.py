"""The transparency log on PostgreSQL under concurrency (issue 19): two worker processes x 200 issuances give a
gap-free, duplicate-free log whose checkpoints (signed while they ran) are consistent with one another; SIGKILLed
workers leave no leaf without its record and no record without its leaf. The workers and the site are those of
``test_concurrency_pg`` (real processes, each with its own Instance on one database)."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import time

import pytest

from tests.trust.service.test_concurrency_pg import Site, Worker, postgres_url, site  # noqa: F401 - fixtures
from trust import db
from trust.formats import tlog as ft
from trust.service import tlog

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _log_matches_records(site: Site) -> int:  # noqa: F811 - the fixture's name
    """Indexes 0..N-1 once each, the head at N, one certificate leaf per certificate row and no other; the stored
    subtrees give the root of the stored entries. Returns N."""
    leaves = list(tlog.leaves(site.instance))
    indexes = [i for i, _ in leaves]
    assert indexes == list(range(len(leaves))), "the log has a gap or a duplicate"
    with db.session_scope(site.instance.engine, read_only=True) as session:
        connection = session.connection()
        size = tlog.size_of(connection)
        assert size == len(leaves)
        assert tlog.root_at(connection, size) == ft.MemoryTree.of(ft.leaf_hash(e) for _, e in leaves).root()
        rows: dict[str, str] = dict(connection.exec_driver_sql("SELECT serial, fingerprint FROM certificate").all())
    logged: dict[str, str] = {}
    for _, data in leaves:
        entry = json.loads(data)
        if entry["kind"] == "certificate":
            assert entry["id"] not in logged, f"certificate {entry['id']} logged twice"
            logged[entry["id"]] = entry["sha256"]
    assert logged == rows, "a certificate without its leaf, or a leaf without its certificate"
    return size


def test_two_workers_x_200_issuances_give_a_gap_free_consistent_log(site: Site) -> None:  # noqa: F811
    count = 200
    workers = [Worker(site, prefix, "--count", str(count)) for prefix in ("la", "lb")]
    for w in workers:
        w.wait_ready()
    start = time.time() + 0.3
    for w in workers:
        w.go(start)
    checkpoints = [tlog.checkpoint(site.instance, audit_head=False, publish=False)]
    while any(w.proc.poll() is None for w in workers):
        time.sleep(0.5)
        checkpoints.append(tlog.checkpoint(site.instance, publish=False))  # also logs the audit head meanwhile
    outputs = [w.finish() for w in workers]
    for w, out in zip(workers, outputs, strict=True):
        assert w.proc.returncode == 0, w.stderr()
        assert not out.errors, out.errors
        assert len(out.issued) == count
    checkpoints.append(tlog.checkpoint(site.instance, publish=False))
    size = _log_matches_records(site)
    assert checkpoints[-1].size == size
    # every checkpoint signed during the run is consistent with the later ones (RFC 9162 §2.1.4 proofs from the log)
    sizes = sorted({c.size: c for c in checkpoints}.items())
    assert len(sizes) >= 3, "no checkpoint was signed while the workers ran"
    for (old_size, old), (new_size, new) in itertools.pairwise(sizes):
        proof = tlog.consistency(site.instance, old_size, new_size)
        ft.verify_consistency(old_size, new_size, bytes.fromhex(old.root), bytes.fromhex(new.root), proof)
        assert tlog.check_consistent(site.instance, old.note, new.note) is None


def test_sigkill_mid_append_leaves_no_leaf_without_record(site: Site) -> None:  # noqa: F811
    rng = random.Random()
    acknowledged: dict[str, str] = {}
    for round_index, threshold in enumerate((15, 25, 35)):
        w = Worker(site, f"lkill{round_index}", "--count", "0")
        w.wait_ready()
        w.go(time.time())
        while len(w.out.issued) < threshold:
            assert w.readline(), f"worker ended early:\n{w.stderr()}"
        time.sleep(rng.uniform(0, 0.03))  # inside one of the next issuances: before, during or after its append
        os.kill(w.proc.pid, signal.SIGKILL)
        out = w.finish(timeout=30)
        assert w.proc.returncode == -signal.SIGKILL
        acknowledged.update(out.issued)
    # the worker that dies between its key write and its commit (inside the transaction that appends)
    w = Worker(site, "lwindow", "--count", "0", "--kill-after-key-write", "5")
    w.wait_ready()
    w.go(time.time())
    out = w.finish(timeout=30)
    assert w.proc.returncode == -signal.SIGKILL
    acknowledged.update(out.issued)
    time.sleep(0.5)  # PostgreSQL ends the killed sessions' transactions
    _log_matches_records(site)
    logged = {json.loads(e)["id"] for _, e in tlog.leaves(site.instance)}
    assert set(acknowledged.values()) <= logged
    # the log keeps working after the kills
    record = tlog.checkpoint(site.instance, publish=False)
    assert record.size == len(list(tlog.leaves(site.instance)))
