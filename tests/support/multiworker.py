"""``trust serve --workers N`` as a real subprocess on PostgreSQL, and a load of platform clients against it.

* :func:`build_pg_world` — the test world of :mod:`tests.support.world` (roots, 浙江 330000 and 广东 440000 SM2
  and RSA CAs, the platforms ``national-ops``, ``zj-platform``, ``gd-platform``) on a PostgreSQL database, plus
  浙江省市场监督管理局 as licence issuer of 营业执照 and its department client ``zj-amr``.
* :class:`Server` — starts ``trust serve --home H --workers N`` on a loopback port with the settings a deployment
  would give it (``TRUST_DATABASE_URL``, ``TRUST_KEY_PASSPHRASE``, ``TRUST_PUBLIC_URL``, rate limits off), waits
  until every worker has started, finds the worker processes (children of uvicorn's supervisor, from ``/proc``),
  and stops everything it started, by process id.
* :class:`Load` — logical requests (certificates, seals, licences), each with its own ``Idempotency-Key`` and a
  plan of 1-3 sends: once; twice in a row; twice at the same moment; or a first send the client gives up on after a
  short timeout (the server goes on with it), then a retry. A request whose sends all failed (no answer, 5xx) is
  retried with back-off until it is acknowledged or a deadline passes — what a careful platform does. Every answer
  is kept, so a test can check that every 2xx answer for one key names the same credential.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from licenses import samples
from tests.support.world import PASSPHRASE, World, build_world
from trust.formats.names import make_uscc
from trust.service import clients

REPO = Path(__file__).resolve().parents[2]
BUSINESS = "11100000000013338W101"  # 营业执照
ZJ_AUTHORITY = make_uscc("11330000002482226")  # 浙江省市场监督管理局
SM2_CA = "region-330000-sm2"
RSA_CA = "region-330000-rsa"
PROVINCE = "浙江省"
KDF_ITERATIONS = 2000
KINDS = ("certificate", "seal", "license")
PATTERNS = ("once", "sequential", "concurrent", "timeout")
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Violation|Conflict)\b")


# --- the world ----------------------------------------------------------------------------------------------------


def build_pg_world(home: Path, port: int, database_url: str) -> tuple[World, str]:
    """The test world on ``database_url``; returns it and the id of the 浙江 licence issuer (client ``zj-amr``)."""
    from trust.service import licenses

    world = build_world(home, port, database_url)
    assert world.instance.engine.dialect.name == "postgresql"
    instance = world.instance
    issuer = licenses.register_issuer(
        instance, ca_id=SM2_CA, name="浙江省市场监督管理局", code=ZJ_AUTHORITY, license_types=[BUSINESS]
    )
    world.add_platform("zj-amr", "department", region="330000", license_issuer_id=issuer.id)
    return world, issuer.id


# --- the server ---------------------------------------------------------------------------------------------------


def trust_command() -> list[str]:
    """The ``trust`` console script of the running interpreter's environment (``python -m`` as a fallback)."""
    script = Path(sys.executable).with_name("trust")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trust.cli.main"]


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from ``/proc``; no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses; split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Server:
    """``trust serve`` in a subprocess; use :func:`serve`."""

    home: Path
    port: int
    workers: int
    database_url: str | None
    log_path: Path
    log_level: str = "INFO"
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    seen_workers: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
        env.update(
            {
                "TRUST_KEY_PASSPHRASE": PASSPHRASE.decode(),
                "TRUST_KEY_KDF_ITERATIONS": str(KDF_ITERATIONS),
                "TRUST_PUBLIC_URL": self.url,
                "TRUST_RATE_LIMIT": "0",
                "TRUST_ANONYMOUS_RATE_LIMIT": "0",
                "TRUST_AUTH_FAILURE_LIMIT": "0",
                "TRUST_AUTH_FAILURE_CLIENT_LIMIT": "0",
                "TRUST_LOG_LEVEL": self.log_level,
                # `trust serve --workers N` does not hand N to the workers (their Settings read TRUST_WORKERS):
                # set it, so each worker knows how many share the rate limits.
                "TRUST_WORKERS": str(self.workers),
                "PYTHONPATH": str(REPO),
            }
        )
        if self.database_url:
            env["TRUST_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90) -> None:
        command = [*trust_command(), "serve", "--home", str(self.home), "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.wait_ready(timeout)

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def failure(self, request_id: str) -> str:
        """What the server logged about a request that failed with 5xx: the exception lines of its traceback."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if f"request {request_id}" in line:
                found = []
                for following in lines[index + 1 : index + 400]:
                    if following.startswith(("INFO", "WARNING", "request ")):
                        break
                    if EXCEPTION_LINE.match(following) or following.startswith("DETAIL"):
                        found.append(following.strip())
                return " | ".join(dict.fromkeys(found[-3:]))
        return "(not in the server log)"

    def started_workers(self) -> int:
        """Workers that logged the end of their startup (needs log level INFO)."""
        return self.log_path.read_text(errors="replace").count("Application startup complete")

    def wait_ready(self, timeout: float) -> None:
        """Until ``/readyz`` answers and every worker has started (one startup line each in the log, at INFO)."""
        assert self.proc is not None
        wanted = max(1, self.workers)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"trust serve exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"trust serve was not ready in {timeout} s:\n{self.log()}")
            ready = False
            with suppress(httpx.HTTPError):
                ready = httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            workers_up = self.log_level != "INFO" or self.started_workers() >= wanted
            if ready and workers_up and (self.workers == 1 or len(self.worker_pids()) == self.workers):
                self.seen_workers.update(self.worker_pids())
                return
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes: the supervisor's ``multiprocessing`` spawn children (with one worker uvicorn
        serves in the main process: its id)."""
        assert self.proc is not None
        if self.workers == 1:
            return [self.proc.pid]
        pids = [
            p for p in children(self.proc.pid) if "spawn_main" in cmdline(p) and "resource_tracker" not in cmdline(p)
        ]
        self.seen_workers.update(pids)
        return pids

    def connection_per_worker(self, source: str = "127.0.0.1", timeout: float = 60) -> list[http.client.HTTPConnection]:
        """One kept-alive connection served by each worker (found through /proc), from the local address ``source``."""
        found: dict[int, http.client.HTTPConnection] = {}
        for _ in range(80):
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, source_address=(source, 0))
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            pid = self.worker_serving(connection.sock.getsockname()[1])
            if pid is not None and pid not in found:
                found[pid] = connection
            else:
                connection.close()
            if len(found) == self.workers:
                return list(found.values())
        raise AssertionError(f"80 connections reached only workers {sorted(found)} of {self.worker_pids()}")

    def worker_serving(self, client_port: int) -> int | None:
        """The worker process holding the server side of the loopback connection from ``client_port`` (from
        ``/proc/net/tcp*``: the socket's inode, then the worker whose file descriptors include it)."""
        inodes = set()
        for table in ("tcp", "tcp6"):
            try:
                lines = (Path("/proc/net") / table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == self.port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                    inodes.add(f"socket:[{inode}]")
        for pid in self.worker_pids():
            try:
                descriptors = list((Path("/proc") / str(pid) / "fd").iterdir())
            except OSError:
                continue
            for descriptor in descriptors:
                try:
                    if os.readlink(descriptor) in inodes:
                        return pid
                except OSError:
                    continue
        return None

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker process (one of :meth:`worker_pids`, never the supervisor)."""
        assert self.proc is not None and self.workers > 1
        if pid not in self.worker_pids():
            raise ValueError(f"{pid} is not a worker of this server")
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM to the supervisor (it stops its workers); anything of ours still alive after 20 s is killed."""
        if self.proc is None:
            return
        if self.workers > 1:
            self.worker_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid in sorted(self.seen_workers - {self.proc.pid}):
            if alive(pid) and self.ours(pid):
                os.kill(pid, signal.SIGKILL)

    def ours(self, pid: int) -> bool:
        """Whether ``pid`` is still a worker of this server (not a process that reused the id)."""
        try:
            environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
        except OSError:
            return False
        return "spawn_main" in cmdline(pid) and f"TRUST_PUBLIC_URL={self.url}".encode() in environ


@contextmanager
def serve(
    home: Path,
    port: int,
    *,
    workers: int,
    database_url: str | None,
    log_path: Path,
    log_level: str = "INFO",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    server = Server(home, port, workers, database_url, log_path, log_level, dict(extra_env or {}))
    try:
        server.start()
        yield server
    finally:
        server.stop()


# --- platform clients ---------------------------------------------------------------------------------------------


def access_token(http: httpx.Client, world: World, client_id: str) -> str:
    """``POST /oauth/token`` with a fresh client assertion for the token endpoint."""
    audience = clients.audiences(world.instance)[0]
    response = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": clients.ASSERTION_TYPE,
            "client_assertion": world.assertion(client_id, audience=audience),
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def citizen_id(i: int) -> str:
    """A valid GB 11643 number in 西湖区 (330106)."""
    from stdnum.iso7064 import mod_11_2

    body = f"330106199001{(i // 1000) % 28 + 1:02d}{i % 1000:03d}"
    return body + mod_11_2.calc_check_digit(body)


def org_code(i: int) -> str:
    return make_uscc(f"91330106MA2C{i % 100000:05d}")


def rsa_csr_pem() -> str:
    """One RSA-2048 CSR for every certificate of the RSA CA (the service allows one key in many certificates)."""
    from trust.crypto.keys import generate_private_key
    from trust.formats import csr
    from trust.formats.names import DN

    der = csr.build(generate_private_key("rsa-2048"), DN(common_name="multiworker"))
    import base64

    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE REQUEST-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE REQUEST-----\n"


@dataclass
class Logical:
    """One logical request: the credential a platform wants, under one idempotency key."""

    kind: str  # certificate | seal | license
    key: str  # the Idempotency-Key header
    client_id: str
    path: str
    body: dict[str, Any]
    pattern: str  # once | sequential | concurrent | timeout

    @property
    def request_id(self) -> str:
        """The service-level request id stored with the credential (keys are namespaced per client)."""
        return f"{self.client_id}/{self.key}"


def result_id(kind: str, body: dict[str, Any]) -> str:
    """The credential an answer names: certificate serial, seal ES id, licence identifier."""
    name = {"certificate": "serial", "seal": "es_id", "license": "identifier"}[kind]
    value: str = body[name]
    return value


def make_requests(prefix: str, count: int, *, issuer_id: str, rsa_csr: str, seed: int) -> list[Logical]:
    """``count`` logical requests, kinds in the ratio 2 certificates : 1 seal : 2 licences, patterns mixed."""
    rng = random.Random(seed)
    made = []
    kinds = itertools.cycle(("certificate", "license", "certificate", "seal", "license"))
    for i in range(count):
        kind = next(kinds)
        pattern = rng.choices(PATTERNS, weights=(4, 2, 2, 2))[0]
        key = f"{prefix}-{i}"
        if kind == "certificate":
            client_id = "zj-platform"
            if i % 4 == 0:
                subject = {"province": PROVINCE, "common_name": f"{prefix} 个人 {i}", "serial_number": citizen_id(i)}
                body: dict[str, Any] = {"ca_id": SM2_CA, "profile": "person-identity", "subject": subject}
                body["key_family"] = "SM2"  # Huren generates and keeps the key (a key store write)
            elif i % 4 == 2:
                subject = {
                    "province": PROVINCE,
                    "organization": f"{prefix} 公司 {i}",
                    "common_name": f"{prefix} 公章 {i}",
                    "serial_number": org_code(i),
                }
                body = {"ca_id": RSA_CA, "profile": "seal", "subject": subject, "csr": rsa_csr}
            else:
                subject = {
                    "province": PROVINCE,
                    "organization": f"{prefix} 公司 {i}",
                    "common_name": f"{prefix} 公章 {i}",
                    "serial_number": org_code(i),
                }
                body = {"ca_id": SM2_CA, "profile": "seal", "subject": subject, "key_family": "SM2"}
            made.append(Logical(kind, key, client_id, "/certificates", body, pattern))
        elif kind == "seal":
            body = {
                "ca_id": SM2_CA,
                "holder_name": f"{prefix} 公司 {i}",
                "holder_code": org_code(i),
                "seal_name": "合同专用章",
            }
            made.append(Logical(kind, key, "zj-platform", "/seals", body, pattern))
        else:
            fields = samples.sample(BUSINESS)
            client_id = "zj-amr" if i % 2 else "zj-platform"
            body = {"issuer_id": issuer_id, "type": BUSINESS, "fields": fields}
            made.append(Logical(kind, key, client_id, "/licenses", body, pattern))
    return made


@dataclass
class Attempt:
    key: str
    started: float
    ended: float
    status: int | None  # None: no answer (transport error or our own timeout)
    error: str = ""  # the transport error's type, or a 5xx/4xx problem body
    result: str | None = None  # the credential named by a 2xx answer
    own_timeout: bool = False
    fields: dict[str, str] = field(default_factory=dict)  # a 2xx answer's top-level fields, as SHA-256 of their JSON


@dataclass
class Outcome:
    """Everything the clients saw."""

    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: int = 0  # logical requests with at least one 2xx answer so far

    def add(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def by_key(self) -> dict[str, list[Attempt]]:
        grouped: dict[str, list[Attempt]] = {}
        for attempt in self.attempts:
            grouped.setdefault(attempt.key, []).append(attempt)
        return grouped

    def results(self) -> dict[str, set[str]]:
        """Key -> every credential a 2xx answer named (one element when retries return the first result)."""
        found: dict[str, set[str]] = {}
        for attempt in self.attempts:
            if attempt.result is not None:
                found.setdefault(attempt.key, set()).add(attempt.result)
        return found

    def differing_answers(self) -> dict[str, list[str]]:
        """Key -> the fields in which its 2xx answers differ (a retry must return the first answer, all of it)."""
        differing: dict[str, list[str]] = {}
        for key, attempts in self.by_key().items():
            answers = [a.fields for a in attempts if a.result is not None]
            names = sorted({n for a in answers for n in a if any(b.get(n) != a[n] for b in answers)})
            if names:
                differing[key] = names
        return differing

    def statuses(self) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for attempt in self.attempts:
            counts[attempt.status] = counts.get(attempt.status, 0) + 1
        return counts

    def server_errors(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status is not None and a.status >= 500]

    def client_errors(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status is not None and 400 <= a.status < 500]

    def transport_errors(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status is None and not a.own_timeout]


class Load:
    """Run logical requests from ``clients`` concurrent platform threads against ``base_url``."""

    def __init__(
        self,
        base_url: str,
        world: World,
        *,
        clients_count: int = 50,
        short_timeout: float = 0.05,
        timeout: float = 60.0,
        retry_deadline: float = 90.0,
    ):
        self.base_url = base_url
        self.world = world
        self.clients_count = clients_count
        self.short_timeout = short_timeout
        self.timeout = timeout
        self.retry_deadline = retry_deadline
        self.outcome = Outcome()
        self._tokens: dict[tuple[int, str], str] = {}
        self.on_acknowledged: Callable[[int], None] | None = None

    def _http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )

    def _token(self, http: httpx.Client, slot: int, client_id: str) -> str:
        if (slot, client_id) not in self._tokens:
            self._tokens[(slot, client_id)] = self._with_retries(lambda: access_token(http, self.world, client_id))
        return self._tokens[(slot, client_id)]

    def _with_retries(self, call: Callable[[], str]) -> str:
        deadline = time.monotonic() + self.retry_deadline
        while True:
            try:
                return call()
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _send(self, http: httpx.Client, token: str, request: Logical, *, short: bool = False) -> Attempt:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": request.key}
        started = time.monotonic()
        timeout = httpx.Timeout(self.timeout, read=self.short_timeout) if short else self.timeout
        try:
            response = http.post(request.path, json=request.body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            attempt = Attempt(request.key, started, time.monotonic(), None, type(exc).__name__, own_timeout=short)
        except httpx.TransportError as exc:
            attempt = Attempt(request.key, started, time.monotonic(), None, f"{type(exc).__name__}: {exc}")
        else:
            attempt = Attempt(request.key, started, time.monotonic(), response.status_code)
            if 200 <= response.status_code < 300:
                body = response.json()
                attempt.result = result_id(request.kind, body)
                attempt.fields = {
                    name: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
                    for name, value in body.items()
                }
            else:
                attempt.error = response.text[:500]
        self.outcome.add(attempt)
        return attempt

    def _run_one(self, http: httpx.Client, side: httpx.Client, slot: int, request: Logical) -> None:
        token = self._token(http, slot, request.client_id)
        answered: list[Attempt] = []
        if request.pattern == "once":
            answered.append(self._send(http, token, request))
        elif request.pattern == "sequential":
            answered.append(self._send(http, token, request))
            answered.append(self._send(http, token, request))
        elif request.pattern == "concurrent":
            with ThreadPoolExecutor(2) as pair:
                first = pair.submit(self._send, http, token, request)
                second = pair.submit(self._send, side, token, request)
                answered += [first.result(), second.result()]
        else:  # timeout: give up on the first send, then retry (the server may still be working on the first)
            answered.append(self._send(http, token, request, short=True))
            answered.append(self._send(http, token, request))
        delay = 0.1
        deadline = time.monotonic() + self.retry_deadline
        while not any(a.result for a in answered):
            last = answered[-1]
            if last.status is not None and 400 <= last.status < 500:
                return  # refused: a retry would be refused again (the test reports it)
            if time.monotonic() > deadline:
                return
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            answered.append(self._send(http, token, request))
        with self.outcome.lock:
            self.outcome.acknowledged += 1
            count = self.outcome.acknowledged
        if self.on_acknowledged is not None:
            self.on_acknowledged(count)

    def run(self, requests: list[Logical]) -> Outcome:
        """Every client first gets its access tokens; then all start together and take requests in order."""
        queue = list(requests)
        lock = threading.Lock()
        client_ids = sorted({r.client_id for r in requests})
        start = threading.Barrier(self.clients_count)

        def worker(slot: int) -> None:
            with self._http() as http, self._http() as side:
                for client_id in client_ids:
                    self._token(http, slot, client_id)
                start.wait(timeout=self.retry_deadline)
                while True:
                    with lock:
                        if not queue:
                            return
                        request = queue.pop(0)
                    self._run_one(http, side, slot, request)

        with ThreadPoolExecutor(self.clients_count) as pool:
            futures = [pool.submit(worker, slot) for slot in range(self.clients_count)]
            for future in futures:
                future.result()
        return self.outcome
