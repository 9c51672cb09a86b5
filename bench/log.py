#!/usr/bin/env python3
"""The issuance transparency log (issue 19): append cost, proof generation and verification, growth with the tree.

    .venv/bin/python bench/log.py [--seconds S] [--rounds R] [--quick] [--clock cpu]

Prints one JSON object per line on stdout (``{"bench", "ours", "baseline", "baseline_value", "ratio", "unit"}``):

* ``log-append``: one transaction writing an issuance record (a certificate row) **and** appending its log entry
  (:func:`trust.service.tlog.append`: the head's row lock, the leaf, the subtrees it completes, the head) against the
  same transaction writing the same record without the log, on SQLite (``records/s``; ratio < 1 is the log's cost).
* ``log-issue``: certificate issuance through the service (SM2 key and CA, audit entries, one transaction) with the
  log's listeners against the same issuance with them removed (``certificates/s``): what the log costs an issuance.
* ``log-prove-N``: inclusion proofs per second from the stored tree (:func:`trust.service.tlog.prove`'s path: the
  subtrees read from ``tlog_node``) against pymerkle's in-memory ``prove_inclusion`` over the same leaves.
* ``log-verify-N``: RFC 9162 §2.1.3.2 verifications per second (:func:`trust.formats.tlog.verify_inclusion`) against
  ``pymerkle.verify_inclusion`` of the same proofs.
* ``log-verify-scale-N`` for N = 10^3, 10^5, 10^6 (``--quick``: 10^3, 10^4, 10^5): verification rate at N against
  the rate at 10^3, with ``proof_hashes`` and ``proof_bytes``: the proof grows as log2(N), the rate falls with it.

Progress and every per-round sample go to stderr. Method: bench/README.md; figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from bench._harness import Bench, log, timing, timing_arguments
from ca.models import IssuedCertificate
from trust import db
from trust.formats import tlog as ft
from trust.service import tlog

_CERT = IssuedCertificate.__table__  # type: ignore[attr-defined]


def engine_at(path: Path) -> Engine:
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with db.session_scope(engine) as session:  # the CA row the certificate rows name
        session.connection().exec_driver_sql(
            "INSERT INTO ca (id, kind, name, family, serial, cert_der, status, crl_number, cert_count, created_at) "
            "VALUES ('bench-ca', 'region', 'bench', 'SM2', '01', x'00', 'active', 0, 0, CURRENT_TIMESTAMP)"
        )
    return engine


def appender(engine: Engine, with_log: bool) -> Callable[[], object]:
    state = {"n": 0}
    moment = datetime.now(UTC)

    def run() -> object:
        state["n"] += 1
        serial = f"{'l' if with_log else 'p'}{state['n']:x}"
        der = hashlib.sha256(serial.encode()).digest() * 24  # a certificate-sized value
        with db.session_scope(engine) as session:
            connection = session.connection()
            connection.execute(
                insert(_CERT),
                {
                    "serial": serial,
                    "fingerprint": hashlib.sha256(der).hexdigest(),
                    "issuer_id": "bench-ca",
                    "profile": "seal",
                    "subject": "CN=bench",
                    "family": "SM2",
                    "not_before": moment,
                    "not_after": moment,
                    "status": "valid",
                    "der": der,
                    "created_at": moment,
                },
            )
            if with_log:
                entry = tlog.Entry("certificate", serial, "bench-ca", "330000", hashlib.sha256(der).hexdigest(), moment)
                tlog.append(connection, [entry])
        return serial

    return run


def issuer(home: Path, with_log: bool) -> tuple[Callable[[], object], Callable[[], None]]:
    """Certificate issuance through the service (:func:`trust.service.ca.issue`: SM2 key, SM2 CA, one transaction
    with its audit entries) with the log's listeners installed, or removed for this call (our own listeners, in this
    process only)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session as OrmSession

    from trust.formats.names import DN, make_uscc
    from trust.service import ca as service
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(home=home, key_kdf_iterations=2000, public_url="http://127.0.0.1:8000")
    instance = Instance(settings, passphrase=b"bench log passphrase")
    service.init(instance)
    service.enrol(instance, kind="region", code="330000", family="SM2")
    state = {"n": 0}

    def toggle(on: bool) -> None:
        installed = event.contains(OrmSession, "after_flush", tlog._after_flush)
        if on and not installed:
            tlog.install()
        elif not on and installed:
            event.remove(OrmSession, "after_flush", tlog._after_flush)

    def run() -> object:
        toggle(with_log)
        state["n"] += 1
        name = DN(
            province="浙江省",
            organization="基准公司",
            common_name=f"基准 {state['n']}",
            serial_number=make_uscc(f"91330106MA2C{state['n'] % 100000:05d}"),
        )
        return service.issue(instance, ca_id="region-330000-sm2", profile="seal", subject=name, key_family="SM2")

    return run, lambda: toggle(True)


def load(engine: Engine, size: int) -> ft.MemoryTree:
    """A log of ``size`` entries, bulk-loaded in the service's layout (leaves, every perfect subtree, the head)."""
    tree = ft.MemoryTree()
    entries = [f'{{"id":"{n}","kind":"certificate","v":1}}'.encode() for n in range(size)]
    for data in entries:
        tree.append(data)
    moment = datetime.now(UTC)
    leaf_table, node_table, head = tlog._LEAF, tlog._NODE, tlog._HEAD
    batch = 50_000
    with db.session_scope(engine) as session:
        connection = session.connection()
        for start in range(0, size, batch):
            connection.execute(
                insert(leaf_table),
                [
                    {"idx": i, "kind": "certificate", "ident": str(i), "region": "330000", "digest": "0" * 64}
                    | {"entry": entries[i], "at": moment}
                    for i in range(start, min(size, start + batch))
                ],
            )
        for level, hashes in enumerate(tree.levels):
            for start in range(0, len(hashes), batch):
                connection.execute(
                    insert(node_table),
                    [
                        {"level": level, "idx": i, "hash": hashes[i]}
                        for i in range(start, min(len(hashes), start + batch))
                    ],
                )
        connection.execute(update(head).where(head.c.id == 1).values(size=size))
    log(f"  loaded a log of {size} leaves")
    return tree


def prover(engine: Engine, size: int) -> Callable[[], object]:
    rng = random.Random(size)

    def run() -> object:
        index = rng.randrange(size)
        with db.session_scope(engine, read_only=True) as session:
            reader = tlog.NodeReader(session.connection())
            reader.prefetch(tlog.needed(lambda source: ft.inclusion_proof(source, index, size)))
            return ft.inclusion_proof(reader, index, size)

    return run


def verifier(tree: ft.MemoryTree, size: int) -> tuple[Callable[[], object], int]:
    rng = random.Random(size)
    root = tree.root()
    cases = []
    for _ in range(256):
        index = rng.randrange(size)
        cases.append((index, tree.levels[0][index], tree.inclusion(index)))
    state = {"i": 0}

    def run() -> object:
        state["i"] = (state["i"] + 1) % len(cases)
        index, leaf, proof = cases[state["i"]]
        ft.verify_inclusion(index, size, leaf, proof, root)
        return index

    return run, max(len(c[2]) for c in cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    timing_arguments(parser, 3.0)
    args = parser.parse_args()
    seconds, rounds = timing(parser, args)
    import pymerkle

    with tempfile.TemporaryDirectory() as tmp:
        # appends against the same records without the log
        bench = Bench(
            "log-append",
            appender(engine_at(Path(tmp) / "with.db"), True),
            "the same records without the log (SQLite)",
            appender(engine_at(Path(tmp) / "without.db"), False),
            unit="records/s",
        )
        bench.run(rounds, seconds)
        bench.emit()

        # certificate issuance through the service with and without the log
        with_log, restore = issuer(Path(tmp) / "issue-with", True)
        without_log, _ = issuer(Path(tmp) / "issue-without", False)
        bench = Bench(
            "log-issue",
            with_log,
            "the same issuance without the log's listeners",
            without_log,
            unit="certificates/s",
        )
        bench.run(rounds, seconds)
        restore()
        bench.emit()

        # proof generation and verification against pymerkle over the same leaves
        size = 10_000 if args.quick else 100_000
        engine = engine_at(Path(tmp) / "proofs.db")
        tree = load(engine, size)
        reference = pymerkle.InmemoryTree(algorithm="sha256")
        for n in range(size):
            reference.append_entry(f'{{"id":"{n}","kind":"certificate","v":1}}'.encode())
        assert reference.get_root() == tree.root()
        rng = random.Random(1)
        bench = Bench(
            f"log-prove-{size}",
            prover(engine, size),
            "pymerkle InmemoryTree.prove_inclusion (in memory)",
            lambda: reference.prove_inclusion(rng.randrange(size) + 1, size),
            unit="proofs/s",
        )
        bench.run(rounds, seconds)
        bench.emit(leaves=size)
        proofs = [(i, reference.prove_inclusion(i + 1, size)) for i in random.Random(2).sample(range(size), 256)]
        root = tree.root()
        ours, _hashes = verifier(tree, size)
        state = {"i": 0}

        def theirs() -> object:
            state["i"] = (state["i"] + 1) % len(proofs)
            index, proof = proofs[state["i"]]
            pymerkle.verify_inclusion(tree.levels[0][index], root, proof)
            return index

        bench = Bench(f"log-verify-{size}", ours, "pymerkle.verify_inclusion", theirs, unit="verifications/s")
        bench.run(rounds, seconds)
        bench.emit(leaves=size)

    # verification time and proof size as the tree grows (in memory: the verifier's side)
    sizes = (1_000, 10_000, 100_000) if args.quick else (1_000, 100_000, 1_000_000)
    small_tree = ft.MemoryTree.of(ft.leaf_hash(str(n).encode()) for n in range(sizes[0]))
    small, small_hashes = verifier(small_tree, sizes[0])
    for n in sizes:
        big_tree = ft.MemoryTree.of(ft.leaf_hash(str(k).encode()) for k in range(n)) if n != sizes[0] else small_tree
        big, hashes = verifier(big_tree, n)
        bench = Bench(f"log-verify-scale-{n}", big, f"the same at {sizes[0]} leaves", small, unit="verifications/s")
        bench.run(rounds, seconds)
        bench.emit(leaves=n, proof_hashes=hashes, proof_bytes=32 * hashes, baseline_proof_hashes=small_hashes)


if __name__ == "__main__":
    main()
