#!/usr/bin/env python3
"""National scale (issue 15): costs that must stay flat as revocations, status lists and issuers grow, the HTTP
verifier against the same call in process, persisted issuance and cold sealed-PDF verification.

    .venv/bin/python bench/scale.py [--quick] [--full] [--seconds S] [--rounds R] [--clock cpu|wall]
                                    [--only verify-http,statuslist,crl,trustlist,issue,seal] [--postgres URL]

Prints one JSON object per line on stdout (``{"bench", "ours", "baseline", "baseline_value", "ratio", "unit"}``,
ratio > 1 = we are better; the HTTP line adds ``p50_ms``/``p99_ms``):

* ``verify-http-2w`` — ``POST /verify`` of a licence token over HTTP to ``trust serve --workers 2`` (PostgreSQL) vs
  ``verifier.api.verify`` in process with a context built once from the same bundle (req/s; target ≥ 0.5).
* ``statuslist-1000`` — what ``POST /verify`` does in process for a licence token (the service's context lookup and
  the verification: ``trust.service.verification``) in an instance with 1,000 status lists vs one with 2
  (ops/s of the 1,000 case over the 2 case; target ≥ 0.8).
* ``crl-revoke-100k`` — seconds per revocation (``trust.service.ca.revoke``: the transaction, the partition CRL
  re-signed, its files written) in a CA with 10^5 revoked certificates (``--full``: 10^6), the revoked certificate in
  a full partition; baseline: the same in a CA with 10^2 revoked (target: ours ≤ 1 s; ratio ≈ 1 = flat). The bundle
  export is coalesced off the revocation's path as in the service: ``bundle_exports`` counts the exports of the run
  (one for the burst) and ``bundle_export_s`` times one export at this size (CPU), ``bundle_mib`` its size;
  ``exported_at_commit_s`` is a revocation in the big CA that exports as it commits (the CLI's path, and every
  revocation's before).
* ``crl-get-100k`` — ``GET`` of the CRL a certificate names (its partition's) in the CA with 10^5 revoked vs in the
  CA with 10^2 (req/s; target ≥ 0.8).
* ``trustlist-10k`` — ``verifier.api.verify`` of a licence token with a bundle whose trust list has 10,000 licence
  issuers vs the same with 12 (ops/s; target ≥ 0.5).
* ``ca-issue-sm2-persisted`` — ``trust.service.ca.issue`` of an SM2 certificate from a CSR (check, persist, sign,
  store, audit: committed) vs the CA key signing TBS-sized data (ops/s; target ≥ 0.15).
* ``ca-issue-sm2-persisted-batch`` — the same through ``trust.service.ca.issue_batch``, 50 certificates from 50
  different CSRs per call (one transaction, one audit append), per certificate vs the same signing rate.
* ``seal-verify-cold`` — ``verifier.pdf`` on a sealed PDF (SM2, B-B, one page) with a fresh context memo each time vs
  pyHanko's ``validate_pdf_signature`` with a fresh ``ValidationContext`` (same material; target ≥ 1.0).

Every case builds its own throw-away instance (SQLite unless said) and is measured alternately (ours, baseline, …)
for ``--rounds`` rounds of ``--seconds``; medians. In-process cases count this process's CPU time by default
(``--clock cpu``: the machine is shared); HTTP cases count wall time (the server's CPU is elsewhere).
``--quick`` (1 round of 1.5 s, 10^5 revoked): a few minutes here. Progress and samples go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, set_clock
    from trust.service.instance import Instance
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, set_clock  # before any project import: takes bench/ off sys.path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
PASSPHRASE = b"bench passphrase, not secret"
BUSINESS = "11100000000013338W101"  # 营业执照
GROUPS = ("verify-http", "statuslist", "crl", "trustlist", "issue", "seal")


def _bench_module(name: str) -> ModuleType:
    """Another ``bench/*.py`` script as a module (by path: ``bench/ca.py`` would shadow the ``ca`` package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def emit(name: str, ours: float, baseline_name: str, baseline: float, unit: str, ratio: float, **extra: Any) -> None:
    line = {
        "bench": name,
        "ours": round(ours, 4),
        "baseline": baseline_name,
        "baseline_value": round(baseline, 4),
        "ratio": round(ratio, 3),
        "unit": unit,
        **extra,
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)


def instance_at(
    home: Path, port: int = 8000, database_url: str | None = None, regions: tuple[str, ...] = ("330000",)
) -> Instance:
    """National roots and the SM2 CAs of ``regions``."""
    from trust.service import ca as ca_service
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(
        home=home,
        database_url=database_url,
        key_kdf_iterations=2000,
        public_url=f"http://127.0.0.1:{port}",
        port=port,
    )
    instance = Instance(settings, passphrase=PASSPHRASE)
    ca_service.init(instance)
    for code in regions:
        ca_service.enrol(instance, kind="region", code=code, family="SM2")
    return instance


def license_issuer(instance: Any, ca_id: str = "region-330000-sm2") -> tuple[str, str]:
    """A licence issuer of 营业执照 under ``ca_id`` and one token it issued."""
    from licenses import samples
    from trust.formats.names import make_uscc
    from trust.service import licenses

    issuer = licenses.register_issuer(
        instance,
        ca_id=ca_id,
        name="浙江省市场监督管理局",
        code=make_uscc("11330000002482226"),
        license_types=[BUSINESS],
    )
    made = licenses.issue(instance, issuer_id=issuer.id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    return issuer.id, made.record.token


# --- statuslist-1000 ------------------------------------------------------------------------------------------------


def add_status_lists(instance: Any, issuer_id: str, count: int) -> None:
    """``count`` more (empty) status lists for ``issuer_id``, numbered after its last."""
    from sqlmodel import col, func, select

    from licenses.models import StatusListRecord
    from trust import db

    with db.session_scope(instance.engine) as session:
        last = session.exec(
            select(func.max(col(StatusListRecord.number))).where(StatusListRecord.issuer_id == issuer_id)
        ).one()
        base = instance.settings.effective_public_url
        for number in range(int(last or 0) + 1, int(last or 0) + 1 + count):
            session.add(
                StatusListRecord(
                    issuer_id=issuer_id,
                    number=number,
                    uri=f"{base}/statuslists/{issuer_id}/{number}",
                    size=1024,
                    next_index=1024,
                )
            )


def service_verify(instance: Any, token: bytes) -> Callable[[], object]:
    """What ``POST /verify`` does in process: the context lookup of the service, then the verification."""
    from trust.service import verification

    def run() -> object:
        ctx = verification.context_for(instance, at=None, purpose="auto", revocation="available")
        report = verification.verify(token, ctx)
        if report["indication"] != "TOTAL_PASSED":
            raise RuntimeError(f"the licence token does not verify: {report}")
        return report

    return run


def bench_statuslist(tmp: Path, seconds: float, rounds: int, many: int = 1000) -> None:
    log(f"statuslist-{many}: two instances, a licence issuer with 2 status lists in one and {many:,} in the other")
    sides = {}
    for lists in (2, many):
        started = time.perf_counter()
        instance = instance_at(tmp / f"statuslist-{lists}")
        issuer, token = license_issuer(instance)
        add_status_lists(instance, issuer, lists - 1)
        operation = service_verify(instance, token.encode())
        operation()  # the first request signs every list's token once and builds the context
        sides[lists] = (instance, operation)
        log(f"  {lists} lists: ready in {time.perf_counter() - started:.1f} s")
    bench = Bench(
        f"statuslist-{many}",
        sides[many][1],
        "the same POST /verify work in process with 2 status lists",
        sides[2][1],
    )
    bench.run(rounds, seconds)
    bench.emit()
    for instance, _op in sides.values():
        instance.engine.dispose()


# --- trustlist-10k --------------------------------------------------------------------------------------------------


def synthetic_bundle(instance: Any, extra_issuers: int) -> bytes:
    """The instance's signed bundle with ``extra_issuers`` more licence issuers in its trust list (each a
    ``LICENSE_ISSUER`` service with a certificate of its own, signed by a throw-away SM2 CA key), signed again by
    both national roots."""
    from ca import authority
    from trust import db
    from trust.crypto.keys import generate_private_key
    from trust.formats import bundle as bundle_format
    from trust.formats import jose
    from trust.formats import trustlist as tl
    from trust.formats import x509 as cx
    from trust.formats.names import DN
    from trust.service import trust as trust_service
    from trust.service import verification

    document = json.loads(verification.bundle_bytes(instance))
    content = bundle_format.Bundle.from_json(json.loads(jose.parse_json(document)[0]))
    listed = tl.TrustList.from_json(json.loads(jose.parse_json(dict(content.trust_list_document))[0]))
    ca_key = generate_private_key("sm2")
    subject_key = generate_private_key("sm2").public_key
    issuer_name = DN(organization="合成签发机构", common_name="合成 CA").to_asn1()
    granted = (tl.StatusEntry("granted", listed.issued_at - timedelta(days=1)),)
    issuers = list(listed.issuers)
    for i in range(extra_issuers):
        cert = (
            cx.CertificateBuilder()
            .subject(DN(organization=f"合成签发机构 {i}", common_name=f"证照签发 {i}").to_asn1())
            .issuer(issuer_name)
            .public_key(subject_key)
            .serial_number(authority.new_serial())
            .validity(listed.issued_at - timedelta(days=1), listed.issued_at + timedelta(days=365))
            .add_extension(cx.basic_constraints(False))
            .sign(ca_key.signer())
        )
        service = tl.Service(
            id=f"license-issuer-synthetic-{i}",
            type="LICENSE_ISSUER",
            family="SM2",
            certificate=cert.dump(),
            status_history=granted,
            scope={"license_types": [BUSINESS], "issuer_id": f"synthetic-{i}", "name": f"合成签发机构 {i}"},
        )
        issuers.append(
            tl.Issuer(f"department-synthetic-{i}", "department", f"S{i:08d}", f"合成 {i}", granted, (service,))
        )
    bigger = tl.TrustList(
        listed.sequence, listed.issued_at, listed.next_update, listed.operator, listed.roots, tuple(issuers),
        listed.audit_head,
    )  # fmt: skip
    with db.session_scope(instance.engine, read_only=True) as session:
        roots = trust_service._roots(session)
    keystore = instance.keystore
    signers = [(keystore.signer(r.key_id or "", authority.algorithm_for(r.family)), r.cert_der) for r in roots]
    signed_list = tl.sign(bigger, signers)
    resigned = bundle_format.Bundle(
        content.created_at, content.next_update, signed_list, content.crls, content.status_lists, content.type_metadata
    )
    return json.dumps(bundle_format.sign(resigned, signers), ensure_ascii=False, separators=(",", ":")).encode()


def bench_trustlist(tmp: Path, seconds: float, rounds: int, issuers: int) -> None:
    from trust.service import trust as trust_service
    from verifier import api, context

    started = time.perf_counter()
    instance = instance_at(tmp / "trustlist")
    _issuer, token = license_issuer(instance)
    pins = list(trust_service.root_fingerprints(instance).values())
    own = context.build(bundle=synthetic_bundle(instance, 0), pins=pins)
    count = len(own.trust_list.issuers) if own.trust_list else 0
    small_bundle = synthetic_bundle(instance, 12 - count)  # 12 issuers, as in the issue's measurement
    began = time.process_time()
    small = context.build(bundle=small_bundle, pins=pins)
    built_small = time.process_time() - began
    count = len(small.trust_list.issuers) if small.trust_list else 0
    big_bundle = synthetic_bundle(instance, issuers - len(own.trust_list.issuers if own.trust_list else ()))
    began = time.process_time()
    big = context.build(bundle=big_bundle, pins=pins)
    built_big = time.process_time() - began
    began = time.process_time()
    context.build(bundle=big_bundle, pins=pins, untrusted=[])  # as POST /verify with intermediates does per request
    built_again = time.process_time() - began
    log(
        f"trustlist-10k: {count} vs {len(big.trust_list.issuers) if big.trust_list else 0} issuers in the trust list "
        f"(bundle {len(small_bundle) // 1024} KiB vs {len(big_bundle) // 1024} KiB); ready in "
        f"{time.perf_counter() - started:.1f} s; context.build {built_small:.3f} s vs {built_big:.3f} s CPU "
        f"(again from the same bundle: {built_again:.3f} s)"
    )
    data = token.encode()

    def verify(ctx: Any) -> Callable[[], object]:
        def run() -> object:
            report = api.verify(data, ctx)
            if not report.passed:
                raise RuntimeError(f"the licence token does not verify: {report.to_dict()}")
            return report

        return run

    started = time.process_time()
    verify(big)()  # the first verification builds what the context keeps (indexes, parsed certificates)
    log(f"  first verification with {issuers} issuers (indexes made): {time.process_time() - started:.3f} s CPU")
    name = "trustlist-10k" if issuers == 10_000 else f"trustlist-{issuers}"
    bench = Bench(name, verify(big), f"the same verification with {count} issuers", verify(small))
    bench.run(rounds, seconds)
    bench.emit()
    instance.engine.dispose()


# --- CRLs -----------------------------------------------------------------------------------------------------------


def seed_revoked(instance: Any, ca_id: str, count: int, room: int) -> None:
    """``count`` revoked certificate records of ``ca_id`` in its CRL partitions, placed so that the next ``room``
    certificates the CA issues fill its last seeded partition exactly; every partition's CRL rebuilt."""
    from sqlalchemy import insert, text

    from ca import authority
    from ca.authority import crls
    from ca.models import IssuedCertificate, now
    from trust import db
    from trust.service import ca as ca_service

    capacity = authority.SHARD_CAPACITY
    offset = (capacity - (count + room) % capacity) % capacity
    moment = now()
    rows = []
    table = IssuedCertificate.__table__  # type: ignore[attr-defined]
    with db.session_scope(instance.engine) as session:
        for index in range(offset, offset + count):
            serial = f"{secrets.randbits(158) | (1 << 100):x}"
            rows.append(
                {
                    "serial": serial,
                    "fingerprint": f"seed-{serial}"[:64],
                    "issuer_id": ca_id,
                    "profile": "person-identity",
                    "subject": f"CN=seed {index}",
                    "family": "SM2",
                    "not_before": moment - timedelta(days=1),
                    "not_after": moment + timedelta(days=365),
                    "status": "revoked",
                    "revoked_at": moment - timedelta(hours=1),
                    "revocation_reason": ("key_compromise", "superseded", "unspecified")[index % 3],
                    "der": b"",
                    "created_at": moment,
                    "crl_shard": index // capacity + 1,
                }
            )
            if len(rows) >= 20_000:
                session.execute(insert(table), rows)
                rows.clear()
        if rows:
            session.execute(insert(table), rows)
        session.execute(text("UPDATE ca SET cert_count = :n WHERE id = :id"), {"n": offset + count, "id": ca_id})
    with db.session_scope(instance.engine) as session:
        ca = authority.get_ca(session, ca_id)
        last = (offset + count) // capacity + 1
        crls.open_partitions(session, instance.keystore, ca_service.endpoints(instance), ca, range(1, last + 2))
        for shard in range(1, last + 1):
            crls.rebuild_partition(session, instance.keystore, ca, shard)


def issue_targets(instance: Any, ca_id: str, count: int) -> list[str]:
    from stdnum.iso7064 import mod_11_2

    from trust.formats.names import DN
    from trust.service import ca as ca_service

    province = "浙江省" if ca_id.startswith("region-33") else "广东省"
    prefix = "330106" if ca_id.startswith("region-33") else "440106"
    serials = []
    for i in range(count):
        body = f"{prefix}19900101{i:03d}"
        subject = DN(
            province=province, common_name=f"撤销测试 {i}", serial_number=body + mod_11_2.calc_check_digit(body)
        )
        serials.append(
            ca_service.issue(instance, ca_id=ca_id, profile="person-identity", subject=subject).record.serial
        )
    return serials


def seconds_per_revocation(instance: Any, serials: list[str], clock: Callable[[], float]) -> float:
    from trust.service import ca as ca_service

    started = clock()
    for serial in serials:
        ca_service.revoke(instance, serial=serial, reason="key_compromise")
    return (clock() - started) / len(serials)


def bench_crls(tmp: Path, seconds: float, rounds: int, revoked: int, clock: Callable[[], float]) -> None:
    service_bench = _bench_module("service")
    from ca import authority
    from trust.service import ca as ca_service
    from trust.service import trust as trust_service

    port = service_bench.free_port()
    started = time.perf_counter()
    instance = instance_at(tmp / "crls", port=port, regions=("330000", "440000"))
    small_ca, big_ca = "region-330000-sm2", "region-440000-sm2"
    per_round = 2 if seconds < 2 else 4
    room = per_round * rounds + 3  # the rounds', two exported as they commit (the CLI's path), one left
    seed_revoked(instance, small_ca, 100, room)
    seeded = time.perf_counter()
    seed_revoked(instance, big_ca, revoked, room)
    log(
        f"crl: CAs with 10^2 and {revoked:,} revoked certificates (partitions of {authority.SHARD_CAPACITY}) seeded in "
        f"{time.perf_counter() - started:.1f} s (the big one {time.perf_counter() - seeded:.1f} s)"
    )
    targets = {ca: issue_targets(instance, ca, room) for ca in (small_ca, big_ca)}
    samples: dict[str, list[float]] = {small_ca: [], big_ca: []}
    # As in the service (trust.http.app's lifespan): public/bundle.json is exported by a background thread after a
    # burst, not in the revocation (issue 15 item 3). Here the whole run is one burst (the exporter's delay is longer
    # than the rounds), so the rounds time the revocation's own path; the one export is timed after it.
    trust_service.export_bundle(instance, audit_head=False)
    exported = trust_service.exports_made(instance)
    trust_service.start_background_exports(instance, delay=3600.0)
    for index in range(rounds):
        for ca in (big_ca, small_ca):
            batch = targets[ca][index * per_round : (index + 1) * per_round]
            samples[ca].append(seconds_per_revocation(instance, batch, clock))
        log(
            f"  round {index + 1}/{rounds} crl-revoke: {samples[big_ca][-1]:.4f} s at {revoked:,} revoked, "
            f"{samples[small_ca][-1]:.4f} s at 10^2"
        )
    trust_service.stop_background_exports(instance)
    exports = trust_service.exports_made(instance) - exported
    # the path of the CLI (and of every revocation before issue 15 item 3): the bundle exported as the change commits
    cli = seconds_per_revocation(instance, targets[big_ca][-3:-1], clock)
    started_export = clock()
    trust_service.export_bundle(instance, audit_head=False)  # what one coalesced export costs at this size
    export_seconds = clock() - started_export
    bundle_bytes = (instance.settings.published_dir / "bundle.json").stat().st_size
    log(
        f"  {2 * per_round * rounds} revocations, {exports} bundle exports; one export at {revoked:,} revoked: "
        f"{export_seconds:.3f} s, {bundle_bytes / 2**20:.1f} MiB"
    )
    ours, base = statistics.median(samples[big_ca]), statistics.median(samples[small_ca])
    name = "crl-revoke-100k" if revoked == 100_000 else f"crl-revoke-{revoked}"
    emit(
        name,
        ours,
        "one revocation in a CA with 10^2 revoked (same code)",
        base,
        "s/revocation",
        base / ours,
        bundle_exports=exports,
        revocations=2 * per_round * rounds,
        bundle_export_s=round(export_seconds, 4),
        bundle_mib=round(bundle_bytes / 2**20, 1),
        exported_at_commit_s=round(cli, 4),
    )

    last = targets[big_ca][-1]
    small_uri = ca_service.crl_for_certificate(instance, targets[small_ca][-1])
    big_uri = ca_service.crl_for_certificate(instance, last)
    log(f"  the CRLs a certificate names: {len(small_uri):,} bytes at 10^2, {len(big_uri):,} at {revoked:,}")
    with service_bench.serve(_ServeSite(instance, port), 1, tmp / "serve-crl.log"):
        paths = {}
        for ca in (small_ca, big_ca):
            record = ca_service.get_certificate(instance, targets[ca][0])
            paths[ca] = f"/crl/{ca}/{record.crl_shard}.crl"

        def get(ca: str) -> float:
            sample = service_bench.over_http(
                f"http://127.0.0.1:{port}", lambda _i: ("GET", paths[ca], {}), seconds, 4, 20_000
            )
            return float(sample.rate)

        rates: dict[str, list[float]] = {small_ca: [], big_ca: []}
        for index in range(rounds):
            for ca in (big_ca, small_ca):
                rates[ca].append(get(ca))
            log(
                f"  round {index + 1}/{rounds} crl-get: {rates[big_ca][-1]:.1f} req/s at {revoked:,}, "
                f"{rates[small_ca][-1]:.1f} req/s at 10^2"
            )
        ours, base = statistics.median(rates[big_ca]), statistics.median(rates[small_ca])
        emit(
            "crl-get-100k" if revoked == 100_000 else f"crl-get-{revoked}",
            ours,
            "GET /crl of a CA with 10^2 revoked (same server)",
            base,
            "req/s",
            ours / base,
        )
    instance.engine.dispose()


class _ServeSite:
    """What ``bench/service.py``'s ``serve`` needs of a site."""

    def __init__(self, instance: Any, port: int, database_url: str | None = None) -> None:
        self.instance = instance
        self.home = instance.settings.home
        self.port = port
        self.database_url = database_url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# --- verify-http-2w -------------------------------------------------------------------------------------------------


async def _lean_http(
    port: int,
    request: bytes,
    seconds: float,
    concurrency: int,
    expect: bytes,
    max_requests: int,
    started: Callable[[], None] | None = None,
) -> tuple[float, list[float]]:
    """A load client that costs the shared machine little (httpx spends about as much CPU per request as the server
    under test): ``concurrency`` keep-alive connections, each sending the same pre-encoded request and reading the
    answer by its ``Content-Length``; every answer must be ``200`` and contain ``expect``. ``started`` is called
    between the warm-up (two requests per connection, not counted) and the measured requests."""
    latencies: list[float] = []

    async def connection(deadline: float | None, count: int | None) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = 0
        try:
            while (deadline is None or time.perf_counter() < deadline) and (count is None or sent < count):
                if len(latencies) >= max_requests:
                    break
                began = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200") or expect not in body:
                    raise RuntimeError(f"unexpected answer: {head[:80]!r} {body[:200]!r}")
                sent += 1
                if deadline is not None:
                    latencies.append(time.perf_counter() - began)
        finally:
            writer.close()

    await asyncio.gather(*(connection(None, 2) for _ in range(concurrency)))  # warm-up: every connection, both workers
    if started is not None:
        started()
    start = time.perf_counter()
    await asyncio.gather(*(connection(start + seconds, None) for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the given processes (``/proc/<pid>/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def bench_verify_http(tmp: Path, seconds: float, rounds: int, postgres: str, redis_url: str = "") -> None:
    """HTTP throughput (wall clock: client and server share the machine) against one thread in process; besides,
    the server's CPU time per request (its workers' ``/proc`` counters) against the in-process CPU time per call."""
    service_bench = _bench_module("service")
    from trust.service import trust as trust_service
    from verifier import api, context

    reason = service_bench.postgres_available(postgres)
    if reason is not None:
        log(f"verify-http-2w: PostgreSQL at {postgres} is not usable ({reason}): skipped")
        return
    with service_bench.postgres_database(postgres) as url:
        port = service_bench.free_port()
        started = time.perf_counter()
        site = service_bench.build_site(tmp / "verify-http", port, url)
        log(f"verify-http-2w: PostgreSQL instance ready in {time.perf_counter() - started:.1f} s")
        token = site.token.encode()
        bundle = json.dumps(trust_service.build_bundle(site.instance)).encode()
        ctx = context.build(bundle=bundle, pins=list(trust_service.root_fingerprints(site.instance).values()))
        body = {"input": base64.b64encode(token).decode()}
        http, local, server_cpu, local_cpu = [], [], [], []
        try:
            extra = {"TRUST_STATE_REDIS_URL": redis_url} if redis_url else {}
            with service_bench.serve(site, 2, tmp / "serve-verify.log", extra) as proc:
                answer = service_bench.httpx.post(f"{site.url}/verify", json=body, timeout=60)
                if answer.json().get("indication") != "TOTAL_PASSED":
                    raise RuntimeError(f"POST /verify does not pass the token: {answer.text[:300]}")
                workers = service_bench._children(proc.pid)
                payload = json.dumps(body).encode()
                raw = (
                    f"POST /verify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n"
                ).encode() + payload
                before: list[float] = []  # the server's CPU seconds when each round's measured requests begin
                for index in range(rounds):
                    rate, latencies = asyncio.run(
                        _lean_http(
                            port,
                            raw,
                            seconds,
                            16,
                            b'"TOTAL_PASSED"',
                            50_000,
                            started=lambda: before.append(_cpu_seconds([proc.pid, *workers])),
                        )
                    )
                    sample = service_bench.Sample(rate, latencies)
                    http.append(sample)
                    # the measured requests only: the warm-up's CPU is not counted against them
                    server_cpu.append((_cpu_seconds([proc.pid, *workers]) - before[-1]) / len(sample.latencies))
                    cpu_before = time.process_time()
                    mine = service_bench.in_process(lambda: api.verify(token, ctx), seconds, 50_000)
                    local.append(mine)
                    local_cpu.append((time.process_time() - cpu_before) / (len(mine.latencies) + 1))
                    log(
                        f"  round {index + 1}/{rounds} verify-http-2w: {sample.rate:.1f} req/s (p50 "
                        f"{sample.percentile(50) * 1000:.1f} ms, p99 {sample.percentile(99) * 1000:.1f} ms; server "
                        f"{server_cpu[-1] * 1000:.2f} ms CPU per request), in process {mine.rate:.1f}/s "
                        f"({local_cpu[-1] * 1000:.2f} ms CPU per call): {sample.rate / mine.rate:.3f}"
                    )
        finally:
            site.instance.engine.dispose()
    # Each round's two sides run back to back under the same load from the machine's other users: the ratio is the
    # median of the rounds' ratios (a load change between rounds moves both sides of one round, not the figure).
    ratio = statistics.median(h.rate / m.rate for h, m in zip(http, local, strict=True))
    emit(
        "verify-http-2w",
        statistics.median(s.rate for s in http),
        "verifier.api.verify in process (one thread, context built once from the same bundle)",
        statistics.median(s.rate for s in local),
        "req/s",
        ratio,
        p50_ms=round(statistics.median(s.percentile(50) for s in http) * 1000, 2),
        p99_ms=round(statistics.median(s.percentile(99) for s in http) * 1000, 2),
        server_cpu_ms_per_request=round(statistics.median(server_cpu) * 1000, 3),
        in_process_cpu_ms=round(statistics.median(local_cpu) * 1000, 3),
        # CPU per verification in process / the server's CPU per request: the HTTP layer's own cost, independent
        # of how many cores the load generator and the database take from the server
        cpu_ratio=round(statistics.median(local_cpu) / statistics.median(server_cpu), 3),
        rounds=rounds,
        workers=2,
        concurrency=16,
    )


# --- ca-issue-sm2-persisted, seal-verify-cold ----------------------------------------------------------------------


def bench_issue(tmp: Path, seconds: float, rounds: int) -> None:
    ca_bench = _bench_module("ca")
    instance = ca_bench.build_instance(tmp / "issue")
    bench, _serial = ca_bench.issue_bench(instance, "SM2")
    bench.name = "ca-issue-sm2-persisted"
    bench.baseline_name = "raw SM2 signing of TBS-sized data with the CA key"
    bench.run(rounds, seconds)
    bench.emit()
    batch = ca_bench.issue_batch_bench(instance, BATCH)
    batch.name = "ca-issue-sm2-persisted-batch"
    batch.baseline_name = f"raw SM2 signing of TBS-sized data with the CA key ({BATCH} signatures per call)"
    batch.run(rounds, seconds)
    # per certificate: each call issues (ours) or signs (baseline) BATCH times
    batch.samples_ours = [sample * BATCH for sample in batch.samples_ours]
    batch.samples_baseline = [sample * BATCH for sample in batch.samples_baseline]
    batch.emit(batch=BATCH)
    instance.engine.dispose()


BATCH = 50
"""Certificates per ``issue_batch`` call in ``ca-issue-sm2-persisted-batch`` (one transaction each)."""


def bench_seal(tmp: Path, seconds: float, rounds: int) -> None:
    import dataclasses

    seal_bench = _bench_module("seal")
    from trust.service.seals import sealing
    from verifier.context import Memo
    from verifier.pdf.verify import verify_pdf

    instance, es_id = seal_bench.build_instance(tmp / "seal")
    sealed = sealing.seal_document(
        instance, seal_bench.sample_pdf(1), es_id=es_id, family="SM2", page=1, box=seal_bench.BOX
    )
    ctx = seal_bench.verifier_context(instance)
    baseline = seal_bench.PyHankoBaseline(ctx)
    if verify_pdf(sealed, ctx).indication != "TOTAL_PASSED" or not baseline.cold(sealed):
        raise RuntimeError("the sealed PDF does not verify on both sides; refusing to measure it")
    bench = Bench(
        "seal-verify-cold",
        lambda: verify_pdf(sealed, dataclasses.replace(ctx, memo=Memo())),
        "pyHanko validate_pdf_signature, a new ValidationContext each time (same anchors, CAs, CRLs)",
        lambda: baseline.cold(sealed),
    )
    bench.run(rounds, seconds)
    bench.emit()
    instance.engine.dispose()


# --- main -----------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per side and round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 round of 1.5 s per side (a few minutes)")
    parser.add_argument("--full", action="store_true", help="10^6 revoked certificates for the CRL cases")
    parser.add_argument("--revoked", type=int, help="revoked certificates in the big CA of the CRL cases")
    parser.add_argument("--issuers", type=int, default=10_000, help="issuers in the big trust list (10000)")
    parser.add_argument("--lists", type=int, default=1000, help="status lists in the big instance (1000)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="in-process clock (default cpu)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"groups: {', '.join(GROUPS)} (all)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HUREN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server for verify-http-2w (a database is created and dropped there)",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("HUREN_BENCH_REDIS_URL", ""),
        help="verify-http-2w: the server reads the state version from this Redis (TRUST_STATE_REDIS_URL); default: "
        "from the database",
    )
    args = parser.parse_args(argv)
    seconds, rounds = (1.5, 1) if args.quick else (args.seconds, args.rounds)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if only - set(GROUPS) or seconds <= 0 or rounds < 1:
        parser.error(f"--only takes {', '.join(GROUPS)}; --seconds positive, --rounds at least 1")
    set_clock(args.clock)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    log(f"{rounds} round(s) x {seconds:g} s per side, {args.clock} clock in process; load {os.getloadavg()}")
    begun = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="huren-bench-scale-") as name:
        tmp = Path(name)
        if "verify-http" in only:
            bench_verify_http(tmp, seconds, rounds, args.postgres, args.redis)
        if "statuslist" in only:
            bench_statuslist(tmp, seconds, rounds, args.lists)
        if "crl" in only:
            bench_crls(tmp, seconds, rounds, args.revoked or (1_000_000 if args.full else 100_000), clock)
        if "trustlist" in only:
            bench_trustlist(tmp, seconds, rounds, args.issuers)
        if "issue" in only:
            bench_issue(tmp, seconds, rounds)
        if "seal" in only:
            bench_seal(tmp, seconds, rounds)
    log(f"done in {time.perf_counter() - begun:.0f} s; load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
