"""What the end-to-end benchmarks (``bench/service.py``, ``bench/sharing.py``, ``bench/identity.py``) share: a scratch
PostgreSQL database, ``trust serve`` started and stopped with its workers, a concurrent load loop, and the
"2 workers against 1" comparison's JSON line. Import ``bench._harness`` (or ``_harness``) first: it takes ``bench/``
off ``sys.path``."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def scratch_database(server_url: str, prefix: str = "huren_bench") -> Iterator[str]:
    """A fresh database ``<prefix>_<random>`` on the PostgreSQL server of ``server_url``; dropped afterwards."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername="postgresql+psycopg")
    args: dict[str, Any] = {"dbname": url.database or "postgres", "autocommit": True, "connect_timeout": 5}
    for key, value in (("host", url.host), ("port", url.port), ("user", url.username), ("password", url.password)):
        if value is not None:
            args[key] = value
    connection = psycopg.connect(**args)
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


@contextmanager
def serve(
    home: Path,
    port: int,
    workers: int,
    log_path: Path,
    env: dict[str, str],
    *,
    ready_path: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``trust serve --home H --workers N`` on ``port`` with the ``TRUST_*`` settings of ``env`` (none of the caller's
    own), until every worker logged its startup (and ``ready_path``, when given, answers 200); stopped afterwards,
    with any worker a killed supervisor left behind."""
    import httpx

    url = f"http://127.0.0.1:{port}"
    script = Path(sys.executable).with_name("trust")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "trust.cli.main"]
    command += ["serve", "--home", str(home), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    # TRUST_WORKERS: `trust serve --workers` does not tell the workers (rate-limit shares)
    environment.update({"TRUST_PUBLIC_URL": url, "TRUST_WORKERS": str(workers), "PYTHONPATH": str(REPO), **env})
    with log_path.open("ab") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"trust serve exited with {proc.returncode}: {log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"trust serve did not start: {log_path.read_text()[-3000:]}")
            seen.update(children(proc.pid))
            if log_path.read_text(errors="replace").count("Application startup complete") >= workers:
                if ready_path is None:
                    break
                try:
                    if httpx.get(f"{url}{ready_path}", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        yield proc
    finally:
        seen.update(children(proc.pid))
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for pid in seen:  # a worker left behind by a supervisor that had to be killed (and not a reused id)
            try:
                cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes()
                environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"spawn_main" in cmdline and f"TRUST_PUBLIC_URL={url}".encode() in environ:
                os.kill(pid, signal.SIGKILL)


async def load(seconds: float, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Completed operations per second: ``concurrency`` workers call ``one(n)`` back to back for ``seconds`` (worker
    ``i`` with n = i, i + concurrency, …)."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(index: int) -> None:
        nonlocal done
        n = index
        while time.perf_counter() < deadline:
            await one(n)
            n += concurrency
            done += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done / (time.perf_counter() - start)


def two_workers_against_one(
    name: str,
    what: str,
    server: Callable[[int], AbstractContextManager[object]],
    measure: Callable[[float], float],
    *,
    seconds: float,
    rounds: int,
    log: Callable[[str], None],
    **extra: Any,
) -> None:
    """The same load against ``trust serve`` with 2 workers and with 1 (``server(workers)`` runs it, ``measure(s)``
    gives a rate over ``s`` seconds; a 1-second warm-up first); prints the JSON line ``name`` with the medians."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    for workers in (2, 1):
        with server(workers):
            measure(1.0)  # warm-up
            for index in range(rounds):
                rates[workers].append(measure(seconds))
                log(f"  round {index + 1}/{rounds} {what}, {workers} worker(s): {rates[workers][-1]:.1f}/s")
    ours, base = statistics.median(rates[2]), statistics.median(rates[1])
    line = {"bench": name, "ours": round(ours, 2), "baseline": "the same on 1 worker", "baseline_value": round(base, 2),
            "ratio": round(ours / base, 3), "unit": f"{what}/s", **extra}  # fmt: skip
    print(json.dumps(line), flush=True)
