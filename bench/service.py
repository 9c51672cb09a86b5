#!/usr/bin/env python3
"""Requests per second and latency of the HTTP service (``trust serve`` on loopback) against the same operation
called in process.

    .venv/bin/python bench/service.py [--seconds S] [--rounds R] [--quick] [--concurrency C]
                                      [--storage sqlite,postgres] [--workers 1,2] [--only verify,issue,ocsp]
                                      [--postgres URL] [--max-requests N]

For each storage configuration — SQLite with 1 worker, PostgreSQL with each ``--workers`` count (2 workers need
PostgreSQL) — a throw-away instance is built (national roots, the 浙江 (330000) SM2 CA, 浙江省市场监督管理局 as SM2
licence issuer of 营业执照 with its department client), ``trust serve --workers N`` is started as a subprocess on a
free loopback port, and three operations are measured:

* ``verify``: ``POST /verify`` with a licence token (anonymous; the route builds the offline bundle and the
  verification context from the instance, then verifies) vs. ``verifier.api.verify(token, ctx)`` in process with a
  context built once from the same bundle;
* ``issue``: ``POST /licenses`` with an access token and a fresh ``Idempotency-Key`` vs.
  ``trust.service.licenses.issue`` in process with a fresh request id;
* ``ocsp``: ``POST /ocsp`` with a DER request (one SHA-1 CertID of a good certificate, no nonce) vs.
  ``trust.service.ocsp.answer`` in process.

HTTP load: one asyncio ``httpx.AsyncClient`` with ``--concurrency`` connections, each task sending back to back
for ``--seconds`` (at most ``--max-requests`` requests); every answer must be 2xx. In process: one thread, back
to back, on the same instance (the server idles meanwhile). The two alternate for ``--rounds`` rounds; medians.
Prints one JSON object per line on stdout (the format of ``bench/crypto.py``, ``unit`` ``req/s``) with extra
fields for latency::

    {"bench": "service-issue-license-postgres-2w", "ours": X, "baseline": "...", "baseline_value": Y,
     "ratio": X / Y, "unit": "req/s", "p50_ms": ..., "p99_ms": ..., "baseline_p50_ms": ..., "baseline_p99_ms": ...,
     "concurrency": 16, "workers": 2, "storage": "postgres", "requests": ...}

Rate limits are off (``TRUST_RATE_LIMIT=0``, ``TRUST_ANONYMOUS_RATE_LIMIT=0``); the log level is ``trust serve``'s
default (INFO: uvicorn's access log is on, as in a default deployment). Progress, samples and the load average go
to stderr. Method and findings: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Run as a script, this file's folder is sys.path[0]: take it off so it cannot shadow the project's packages.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
REPO = _HERE.parent

import httpx  # noqa: E402 - after the path fix

sys.path.insert(0, str(REPO))
from bench import _servers as servers  # noqa: E402 - after the path fix

if TYPE_CHECKING:
    from trust.service.instance import Instance

PASSPHRASE = b"bench passphrase, not secret"
KDF_ITERATIONS = 2000
REGION = "330000"
SM2_CA = "region-330000-sm2"
BUSINESS = "11100000000013338W101"  # 营业执照
AUTHORITY_NAME = "浙江省市场监督管理局"
AUTHORITY_PREFIX = "11330000002482226"
CLIENT_ID = "bench-amr"
GROUPS = ("verify", "issue", "ocsp")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- measurements -------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    rate: float  # requests (operations) per second
    latencies: list[float]  # seconds, one per request

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def in_process(operation: Callable[[], object], seconds: float, max_ops: int) -> Sample:
    """Back to back on this thread for ``seconds`` (after one warm-up call), at most ``max_ops`` calls."""
    operation()
    latencies = []
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        began = time.perf_counter()
        operation()
        ended = time.perf_counter()
        latencies.append(ended - began)
        if ended >= deadline or len(latencies) >= max_ops:
            return Sample(len(latencies) / (ended - start), latencies)


Request = tuple[str, str, dict[str, Any]]  # method, path, httpx keyword arguments


async def _over_http(
    base_url: str, make: Callable[[int], Request], seconds: float, concurrency: int, max_requests: int
) -> Sample:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    counter = itertools.count()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:

        async def send() -> float:
            method, path, kwargs = make(next(counter))
            began = time.perf_counter()
            response = await client.request(method, path, **kwargs)
            elapsed = time.perf_counter() - began
            if not 200 <= response.status_code < 300:
                raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
            return elapsed

        await asyncio.gather(*(send() for _ in range(concurrency)))  # warm-up: open every connection
        latencies: list[float] = []
        start = time.perf_counter()
        deadline = start + seconds

        async def task() -> None:
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                latencies.append(await send())

        await asyncio.gather(*(task() for _ in range(concurrency)))
        return Sample(len(latencies) / (time.perf_counter() - start), latencies)


def over_http(
    base_url: str, make: Callable[[int], Request], seconds: float, concurrency: int, max_requests: int
) -> Sample:
    return asyncio.run(_over_http(base_url, make, seconds, concurrency, max_requests))


@dataclass
class Bench:
    name: str
    http: Callable[[], Sample]
    baseline_name: str
    baseline: Callable[[], Sample]
    storage: str
    workers: int
    concurrency: int
    samples_http: list[Sample] = field(default_factory=list)
    samples_baseline: list[Sample] = field(default_factory=list)

    def run(self, rounds: int) -> None:
        for index in range(rounds):
            self.samples_http.append(self.http())
            self.samples_baseline.append(self.baseline())
            ours, base = self.samples_http[-1], self.samples_baseline[-1]
            log(
                f"  round {index + 1}/{rounds} {self.name}: http {ours.rate:.1f} req/s "
                f"(p50 {ours.percentile(50) * 1000:.1f} ms, p99 {ours.percentile(99) * 1000:.1f} ms, "
                f"{len(ours.latencies)} requests), in process {base.rate:.1f}/s "
                f"(p50 {base.percentile(50) * 1000:.2f} ms)"
            )

    def emit(self) -> None:
        def median(samples: list[Sample], what: Callable[[Sample], float]) -> float:
            return statistics.median(what(s) for s in samples)

        ours = median(self.samples_http, lambda s: s.rate)
        base = median(self.samples_baseline, lambda s: s.rate)
        line = {
            "bench": self.name,
            "ours": round(ours, 1),
            "baseline": self.baseline_name,
            "baseline_value": round(base, 1),
            "ratio": round(ours / base, 3),
            "unit": "req/s",
            "p50_ms": round(median(self.samples_http, lambda s: s.percentile(50)) * 1000, 2),
            "p99_ms": round(median(self.samples_http, lambda s: s.percentile(99)) * 1000, 2),
            "baseline_p50_ms": round(median(self.samples_baseline, lambda s: s.percentile(50)) * 1000, 2),
            "baseline_p99_ms": round(median(self.samples_baseline, lambda s: s.percentile(99)) * 1000, 2),
            "concurrency": self.concurrency,
            "workers": self.workers,
            "storage": self.storage,
            "requests": sum(len(s.latencies) for s in self.samples_http),
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)


# --- the instance -------------------------------------------------------------------------------------------------


@dataclass
class Site:
    instance: Instance
    home: Path
    port: int
    database_url: str | None
    issuer_id: str
    client_key: Any
    client_certificate: Any
    token: str  # a licence token (JWS)
    ocsp_request: bytes
    serial: int  # the certificate the OCSP request asks about

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def build_site(home: Path, port: int, database_url: str | None) -> Site:
    from licenses import samples
    from trust.crypto.keys import generate_private_key
    from trust.formats import csr
    from trust.formats import ocsp as ocsp_mod
    from trust.formats import x509 as cx
    from trust.formats.names import DN, make_uscc
    from trust.service import ca as ca_service
    from trust.service import clients, licenses
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(
        home=home,
        database_url=database_url,
        public_url=f"http://127.0.0.1:{port}",
        port=port,
        key_kdf_iterations=KDF_ITERATIONS,
    )
    instance = Instance(settings, passphrase=PASSPHRASE)
    ca_service.init(instance)
    ca_service.enrol(instance, kind="region", code=REGION, family="SM2")
    issuer = licenses.register_issuer(
        instance, ca_id=SM2_CA, name=AUTHORITY_NAME, code=make_uscc(AUTHORITY_PREFIX), license_types=[BUSINESS]
    )
    clients.add_client(
        instance,
        client_id=CLIENT_ID,
        kind="department",
        name=AUTHORITY_NAME,
        region=REGION,
        license_issuer_id=issuer.id,
    )
    key = generate_private_key("sm2")
    der = clients.issue_credential(instance, client_id=CLIENT_ID, csr_der=csr.build(key, DN(common_name=CLIENT_ID)))
    made = licenses.issue(instance, issuer_id=issuer.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    from stdnum.iso7064 import mod_11_2

    body = "33010619900101001"
    person = DN(province="浙江省", common_name="基准测试 个人", serial_number=body + mod_11_2.calc_check_digit(body))
    issued = ca_service.issue(instance, ca_id=SM2_CA, profile="person-identity", subject=person, key_family="SM2")
    ca_cert = cx.load_certificate(ca_service.ca_certificate_der(instance, SM2_CA))
    serial = int(issued.record.serial, 16)
    request = ocsp_mod.build_request([ocsp_mod.CertId.for_certificate(ca_cert, serial)])
    return Site(
        instance, home, port, database_url, issuer.id, key, cx.load_certificate(der), made.record.token, request, serial
    )


# --- PostgreSQL ---------------------------------------------------------------------------------------------------


postgres_database = servers.scratch_database  # bench/scale.py uses these names
_children = servers.children


def postgres_available(server_url: str) -> str | None:
    """None when the server answers, else the reason."""
    try:
        with postgres_database(server_url):
            return None
    except Exception as exc:  # any failure to reach or use the server skips the PostgreSQL configurations
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


# --- the server ---------------------------------------------------------------------------------------------------


@contextmanager
def serve(
    site: Site, workers: int, log_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``trust serve --home H --workers N`` on the site's port until every worker logged its startup (``extra_env``:
    more ``TRUST_*`` settings for the server)."""
    env = {
        "TRUST_KEY_PASSPHRASE": PASSPHRASE.decode(),
        "TRUST_KEY_KDF_ITERATIONS": str(KDF_ITERATIONS),
        "TRUST_RATE_LIMIT": "0",
        "TRUST_ANONYMOUS_RATE_LIMIT": "0",
        "TRUST_LOG_LEVEL": "INFO",
    }
    if site.database_url:
        env["TRUST_DATABASE_URL"] = site.database_url
    env.update(extra_env or {})
    with servers.serve(site.home, site.port, workers, log_path, env) as proc:
        yield proc


def access_token(site: Site) -> str:
    from trust.service import clients

    assertion = clients.make_assertion(
        site.client_key, site.client_certificate, client_id=CLIENT_ID, audience=f"{site.url}/oauth/token"
    )
    response = httpx.post(
        f"{site.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": clients.ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


# --- the benches --------------------------------------------------------------------------------------------------


def benches(site: Site, args: argparse.Namespace, storage: str, workers: int, only: set[str]) -> list[Bench]:
    from licenses import samples
    from trust.formats import ocsp as ocsp_mod
    from trust.formats import x509 as cx
    from trust.service import ca as ca_service
    from trust.service import licenses, ocsp
    from trust.service import trust as trust_service
    from verifier import api, context

    instance = site.instance
    suffix = f"{storage}-{workers}w"
    seconds, concurrency, cap = args.seconds, args.concurrency, args.max_requests
    made: list[Bench] = []

    def http(make: Callable[[int], Request]) -> Callable[[], Sample]:
        return lambda: over_http(site.url, make, seconds, concurrency, cap)

    calibration = over_http(site.url, lambda _i: ("GET", "/healthz", {}), seconds, concurrency, cap)
    log(
        f"  (GET /healthz, the ceiling of this client and the HTTP stack: {calibration.rate:.1f} req/s, "
        f"p50 {calibration.percentile(50) * 1000:.1f} ms)"
    )

    if "verify" in only:
        bundle = json.dumps(trust_service.build_bundle(instance)).encode()
        pins = list(trust_service.root_fingerprints(instance).values())
        ctx = context.build(bundle=bundle, pins=pins)
        token = site.token.encode()
        report = api.verify(token, ctx)
        if not report.passed:
            raise RuntimeError(f"the licence token does not verify in process: {report.to_dict()}")
        answer = httpx.post(f"{site.url}/verify", json={"input": base64.b64encode(token).decode()}, timeout=60)
        if answer.status_code != 200 or answer.json().get("indication") != "TOTAL_PASSED":
            raise RuntimeError(
                f"POST /verify does not pass the licence token: {answer.status_code} {answer.text[:300]}"
            )
        body = {"input": base64.b64encode(token).decode()}
        made.append(
            Bench(
                f"service-verify-license-{suffix}",
                http(lambda _i: ("POST", "/verify", {"json": body})),
                "verifier.api.verify in process (context built once from the same bundle)",
                lambda: in_process(lambda: api.verify(token, ctx), seconds, cap),
                storage,
                workers,
                concurrency,
            )
        )
        started = time.perf_counter()
        for _ in range(5):
            context.build(bundle=json.dumps(trust_service.build_bundle(instance)).encode(), pins=pins)
        per_build = (time.perf_counter() - started) / 5
        log(f"  (the /verify route builds the bundle and context per request: {per_build * 1000:.1f} ms in process)")

    if "issue" in only:
        bearer = {"Authorization": f"Bearer {access_token(site)}"}
        fields = samples.sample(BUSINESS)
        run = secrets.token_hex(3)
        counter = itertools.count()

        def issue_request(i: int) -> Request:
            body = {"issuer_id": site.issuer_id, "type": BUSINESS, "fields": fields}
            return ("POST", "/licenses", {"json": body, "headers": {**bearer, "Idempotency-Key": f"h{run}-{i}"}})

        def issue_in_process() -> object:
            return licenses.issue(
                instance,
                issuer_id=site.issuer_id,
                type_code=BUSINESS,
                fields=fields,
                request_id=f"{CLIENT_ID}/p{run}-{next(counter)}",
            )

        http_counter = itertools.count()

        made.append(
            Bench(
                f"service-issue-license-{suffix}",
                http(lambda _i: issue_request(next(http_counter))),
                "trust.service.licenses.issue in process (fresh request id)",
                lambda: in_process(issue_in_process, seconds, cap),
                storage,
                workers,
                concurrency,
            )
        )

    if "ocsp" in only:
        request = site.ocsp_request
        ca_cert = cx.load_certificate(ca_service.ca_certificate_der(instance, SM2_CA))
        for der in (ocsp.answer(instance, request).der, httpx.post(f"{site.url}/ocsp", content=request).content):
            status = ocsp_mod.verify_response(der, issuer=ca_cert).single(site.serial).status
            if status != "good":
                raise RuntimeError(f"the OCSP answer is {status} for a good certificate")
        headers = {"Content-Type": ocsp_mod.MEDIA_TYPE_REQUEST}
        made.append(
            Bench(
                f"service-ocsp-{suffix}",
                http(lambda _i: ("POST", "/ocsp", {"content": request, "headers": headers})),
                "trust.service.ocsp.answer in process",
                lambda: in_process(lambda: ocsp.answer(instance, request), seconds, cap),
                storage,
                workers,
                concurrency,
            )
        )
    return made


def run_configuration(
    storage: str, workers: int, database_url: str | None, args: argparse.Namespace, only: set[str]
) -> None:
    with tempfile.TemporaryDirectory(prefix="huren-bench-service-") as tmp:
        port = free_port()
        started = time.perf_counter()
        site = build_site(Path(tmp) / "home", port, database_url)
        log(f"[{storage}, {workers} worker(s)] setup in {time.perf_counter() - started:.1f} s; {load_average()}")
        try:
            with serve(site, workers, Path(tmp) / "serve.log"):
                for bench in benches(site, args, storage, workers, only):
                    log(f"{bench.name} vs {bench.baseline_name}")
                    bench.run(args.rounds)
                    bench.emit()
        finally:
            site.instance.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per side and round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported (3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 second")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP requests in flight (default 16)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="cap per side and round (default 20000)")
    parser.add_argument("--storage", default="sqlite,postgres", help="sqlite, postgres or both (default)")
    parser.add_argument("--workers", default="1,2", help="worker counts on PostgreSQL (default 1,2)")
    parser.add_argument("--only", default=",".join(GROUPS), help="operations: verify, issue, ocsp (all)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HUREN_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL server (a database per configuration is created and dropped there)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 1.0, 1
    if args.seconds <= 0 or args.rounds < 1 or args.concurrency < 1 or args.max_requests < 1:
        parser.error("--seconds must be positive; --rounds, --concurrency and --max-requests at least 1")
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    storages = {part.strip() for part in args.storage.split(",") if part.strip()}
    if only - set(GROUPS) or storages - {"sqlite", "postgres"}:
        parser.error("unknown operation or storage")
    try:
        worker_counts = sorted({int(part) for part in args.workers.split(",") if part.strip()})
    except ValueError:
        parser.error("--workers is a comma-separated list of numbers")
    if not worker_counts or min(worker_counts) < 1:
        parser.error("--workers counts must be at least 1")

    log(f"start: {load_average()}")
    log(f"{args.rounds} round(s) x {args.seconds:g} s per side, HTTP concurrency {args.concurrency}; medians")
    if "sqlite" in storages:
        run_configuration("sqlite", 1, None, args, only)
    if "postgres" in storages:
        reason = postgres_available(args.postgres)
        if reason is not None:
            log(f"PostgreSQL at {args.postgres} is not usable ({reason}): the postgres configurations are skipped")
        else:
            for workers in worker_counts:
                with postgres_database(args.postgres) as url:
                    run_configuration("postgres", workers, url, args, only)
    log(f"end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
