#!/usr/bin/env python3
"""The first ``POST /verify`` after a change (issue 15 item 1, branch ctxpatch): what a worker pays to take one
revocation into its verification context, at 10^3 revoked certificates against 10^5 (``--full``: 10^6).

    .venv/bin/python bench/verify_after_change.py [--quick] [--full] [--rounds R] [--small N] [--big N] [--no-bundle]

Two throw-away instances (SQLite), each with the national roots and one regional SM2 CA whose CRL partitions list
``--small`` (10^3) or ``--big`` (10^5; ``--full`` 10^6) seeded revoked certificates (``bench/scale.py``'s
``seed_revoked``), and a few issued certificates to revoke. One round, for each instance in turn: a certificate is
revoked (``trust.service.ca.revoke``, not timed), then the CPU time of what the service's next ``POST /verify`` of
that certificate does (``trust.service.verification.context_for`` and ``verify``: the change taken into the context,
the verification) is measured, and its answer checked (``REVOKED``). The median over the rounds of each side makes
one JSON line on stdout::

    {"bench": "verify-after-revocation-100k", "ours": 0.004, "baseline": "... at 10^3 revoked", "baseline_value":
     0.0039, "ratio": 0.97, "unit": "s CPU", "patched": 3, "rebuilt": 0}

``ratio`` = baseline / ours (the 10^3 case over the 10^5 one): ≈ 1 means the cost does not grow with the revoked
certificates of other partitions (target ≥ 0.8). ``patched`` / ``rebuilt``: how the big instance's contexts were
brought up to date (patched with the changed CRL, or rebuilt from the whole signed bundle). ``full_rebuild_s`` is
the CPU of one full rebuild at the big size (the cost before this branch), ``bundle_bytes`` the size of the signed
bundle it was built from (over 64 MiB at 10^6: branch biglimit raised the bundle's limit).

A second line (branch ctxname; ``--no-bundle`` leaves it out) measures ``GET /bundle`` after a change with two workers:
a second :class:`~trust.service.instance.Instance` on the big instance's home and database; each round revokes one
more certificate, then each worker in turn answers ``GET /bundle`` gzip-encoded (the signed bundle at the new version,
:func:`trust.service.verification.bundle_bytes`, and its gzip form, ``bundle_gzip`` — on code without it, what the
route did: ``gzip.compress`` at level 6). ``first_worker_s`` / ``second_worker_s``: the medians of each worker's CPU;
before ctxname both signed and compressed (the same cost twice), with the store the second reads the first's files::

    {"bench": "get-bundle-after-change-2w-100k", "first_worker_s": 0.9, "second_worker_s": 0.05, ...}

Progress and samples go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import log
else:  # run as a script, bench/ is sys.path[0]
    from _harness import log  # before any project import: takes bench/ off sys.path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
CA_ID = "region-330000-sm2"


def _scale() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", HERE / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _instance(scale: ModuleType, home: Path, revoked: int, room: int) -> tuple[Any, list[str], list[bytes]]:
    """An instance whose CA lists ``revoked`` seeded certificates, and ``room`` certificates to revoke (serials,
    PEM)."""
    from trust.crypto import pem
    from trust.service import ca as ca_service

    instance = scale.instance_at(home)
    scale.seed_revoked(instance, CA_ID, revoked, room)
    serials = scale.issue_targets(instance, CA_ID, room)
    pems = [pem.write("CERTIFICATE", ca_service.get_certificate(instance, serial).der) for serial in serials]
    return instance, serials, pems


def _first_verification(instance: Any, serial: str, data: bytes) -> float:
    """Revoke ``serial`` (not timed), then the CPU of the next ``POST /verify`` of it in process."""
    from trust.service import ca as ca_service
    from trust.service import verification

    ca_service.revoke(instance, serial=serial, reason="key_compromise")
    started = time.process_time()
    ctx = verification.context_for(instance, at=None, purpose="auto", revocation="available")
    report = verification.verify(data, ctx)
    spent = time.process_time() - started
    if report["indication"] != "TOTAL_FAILED" or report.get("sub_indication") != "REVOKED":
        raise RuntimeError(f"the revoked certificate does not verify as REVOKED: {report['indication']}")
    return spent


def _counts(instance: Any) -> dict[str, int]:
    from trust.service import verification

    made = getattr(verification, "updates_made", None)
    return dict(made(instance)) if made is not None else {}


def _full_rebuild(instance: Any) -> tuple[float, int]:
    """CPU of one context built from the instance's whole signed bundle (what every change cost before), and the
    bundle's size in bytes (at 10^6 revoked it is over the 64 MiB the bundle was once limited to: branch biglimit)."""
    from trust.service import trust as trust_service
    from verifier import context

    pins = list(trust_service.root_fingerprints(instance).values())
    started = time.process_time()
    data = trust_service.current_bundle_bytes(instance)
    context.build(bundle=data, pins=pins)
    return time.process_time() - started, len(data)


def _bundle_after_change(
    instance: Any, passphrase: bytes, serials: list[str], rounds: int, label: str
) -> dict[str, Any]:
    """Two workers' CPU for ``GET /bundle`` (gzip) after each of ``rounds`` revocations (module docstring)."""
    import gzip

    from trust.service import ca as ca_service
    from trust.service import verification
    from trust.service.instance import Instance

    other = Instance(instance.settings, passphrase=passphrase)
    compress = getattr(verification, "bundle_gzip", None) or (
        lambda body: gzip.compress(body, compresslevel=6, mtime=0)  # what the route did before ctxname
    )
    workers = (instance, other)
    for worker in workers:  # both have a context (a worker's first request builds one)
        verification.context_for(worker, at=None, purpose="auto", revocation="available")
    spent: list[list[float]] = [[], []]
    size = packed = 0
    try:
        for serial in serials[:rounds]:
            ca_service.revoke(instance, serial=serial, reason="key_compromise")
            for index, worker in enumerate(workers):
                started = time.process_time()
                body = verification.bundle_bytes(worker)
                packed = len(compress(body))
                spent[index].append(time.process_time() - started)
                size = len(body)
            log(f"  GET /bundle after a change: {spent[0][-1]:.3f} s first worker, {spent[1][-1]:.3f} s second")
    finally:
        other.engine.dispose()
    first, second = statistics.median(spent[0]), statistics.median(spent[1])
    return {
        "bench": f"get-bundle-after-change-2w-{label}",
        "first_worker_s": round(first, 4),
        "second_worker_s": round(second, 4),
        "both_s": round(first + second, 4),
        "unit": "s CPU",
        "rounds": rounds,
        "bundle_bytes": size,
        "gzip_bytes": packed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="revocations per instance; medians (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    parser.add_argument("--full", action="store_true", help="10^6 revoked in the big instance")
    parser.add_argument("--small", type=int, default=1000, help="revoked certificates in the small instance (1000)")
    parser.add_argument("--big", type=int, help="revoked certificates in the big instance (10^5; --full 10^6)")
    parser.add_argument("--no-bundle", action="store_true", help="leave out GET /bundle after a change (2 workers)")
    args = parser.parse_args(argv)
    rounds = 2 if args.quick else args.rounds
    big = args.big or (1_000_000 if args.full else 100_000)
    if rounds < 1 or args.small < 1 or big < 1:
        parser.error("--rounds, --small and --big must be at least 1")
    scale = _scale()
    log(f"{rounds} round(s); {args.small:,} vs {big:,} revoked; load {os.getloadavg()}")
    begun = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="huren-bench-change-") as name:
        tmp = Path(name)
        room = 2 * rounds + 2
        sides: dict[str, tuple[Any, list[str], list[bytes]]] = {}
        for label, revoked in (("small", args.small), ("big", big)):
            started = time.perf_counter()
            sides[label] = _instance(scale, tmp / label, revoked, room)
            log(f"  {label}: {revoked:,} revoked, seeded in {time.perf_counter() - started:.1f} s")
        samples: dict[str, list[float]] = {"small": [], "big": []}
        from trust.service import verification

        for label in ("small", "big"):  # warm: each instance's context built and used once before the rounds
            instance, _serials, pems = sides[label]
            verification.verify(
                pems[-1], verification.context_for(instance, at=None, purpose="auto", revocation="available")
            )
        before = _counts(sides["big"][0])
        for index in range(rounds):
            for label in ("big", "small"):
                instance, serials, pems = sides[label]
                samples[label].append(_first_verification(instance, serials[index], pems[index]))
            log(
                f"  round {index + 1}/{rounds}: {samples['big'][-1]:.4f} s at {big:,} revoked, "
                f"{samples['small'][-1]:.4f} s at {args.small:,}"
            )
        after = _counts(sides["big"][0])
        full, size = _full_rebuild(sides["big"][0])
        log(f"  one full rebuild at {big:,} revoked: {full:.3f} s CPU, bundle {size:,} bytes")
        ours, base = statistics.median(samples["big"]), statistics.median(samples["small"])
        line = {
            "bench": f"verify-after-revocation-{big // 1000}k",
            "ours": round(ours, 4),
            "baseline": f"the same at {args.small:,} revoked",
            "baseline_value": round(base, 4),
            "ratio": round(base / ours, 3),
            "unit": "s CPU",
            "rounds": rounds,
            **{key: after.get(key, 0) - before.get(key, 0) for key in ("patched", "rebuilt")},
            "full_rebuild_s": round(full, 4),
            "bundle_bytes": size,
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
        if not args.no_bundle:
            instance, serials, _pems = sides["big"]
            label = f"{big // 1000}k"
            line = _bundle_after_change(instance, scale.PASSPHRASE, serials[rounds : 2 * rounds], rounds, label)
            print(json.dumps(line, ensure_ascii=False), flush=True)
        for instance, _serials, _pems in sides.values():
            instance.engine.dispose()
    log(f"done in {time.perf_counter() - begun:.0f} s; load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
