"""Issuance on PostgreSQL from several processes: no duplicate, no lost or half-written record, no CRL gap.

Every test gets a fresh database (``tests/support/postgres.py``) and a fresh home with the national roots and
the 浙江 (330000) SM2 and RSA regional CAs. Workers are separate processes
(``python -m tests.trust.service._issue_worker``), each with its own :class:`Instance` on the same home, key
store passphrase and database URL — as ``trust serve`` workers would be. A worker prints a serial only after
:func:`trust.service.ca.issue` returned, i.e. after the transaction committed ("acknowledged").
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from sqlalchemy import text
from sqlmodel import Session, col, select

from ca.models import CertificateAuthority, CrlRecord, CrlShard, IssuedCertificate
from tests.support import postgres
from tests.trust.service import _issue_worker as worker
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import ca as service
from trust.service.instance import Instance
from trust.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
PASSPHRASE = b"concurrency test passphrase"
EE_PROFILES = ("person-identity", "seal")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


@dataclass
class Site:
    instance: Instance
    home: Path
    url: str
    tmp: Path

    @property
    def keys_dir(self) -> Path:
        return self.instance.settings.keystore_dir

    def key_files(self) -> set[str]:
        return {p.name.removesuffix(".key.pem") for p in self.keys_dir.glob("*.key.pem")}

    def session(self) -> Session:
        return Session(self.instance.engine)


@pytest.fixture
def site(tmp_path: Path, postgres_url: str) -> Iterator[Site]:
    home = tmp_path / "home"
    settings = Settings(
        home=home, database_url=postgres_url, key_kdf_iterations=2000, public_url="http://127.0.0.1:8000"
    )
    instance = Instance(settings, passphrase=PASSPHRASE)
    assert instance.engine.dialect.name == "postgresql"
    service.init(instance)
    service.enrol(instance, kind="region", code="330000", family="SM2")
    service.enrol(instance, kind="region", code="330000", family="RSA")
    try:
        yield Site(instance, home, postgres_url, tmp_path)
    finally:
        instance.engine.dispose()


# --- workers --------------------------------------------------------------------------------------------------


@dataclass
class Output:
    issued: dict[str, str] = field(default_factory=dict)  # request id -> serial
    issuer: dict[str, str] = field(default_factory=dict)  # request id -> CA id
    revoked: list[tuple[str, int]] = field(default_factory=list)  # serial, CRL number
    errors: list[str] = field(default_factory=list)
    window: tuple[float, float] | None = None
    lines: list[str] = field(default_factory=list)

    def feed(self, line: str) -> None:
        self.lines.append(line)
        parts = line.split()
        if not parts:
            return
        if parts[0] == "ISSUED":
            assert parts[1] not in self.issued, f"request {parts[1]} acknowledged twice by one worker"
            self.issued[parts[1]] = parts[2]
            self.issuer[parts[1]] = parts[3]
        elif parts[0] == "REVOKED":
            self.revoked.append((parts[1], int(parts[2])))
        elif parts[0] == "ERROR":
            self.errors.append(line)
        elif parts[0] == "DONE":
            self.window = (float(parts[1]), float(parts[2]))


class Worker:
    def __init__(self, site: Site, prefix: str, *options: str):
        self.stderr_path = site.tmp / f"worker-{prefix}-{time.monotonic_ns()}.err"
        env = {**os.environ, worker.PASSPHRASE_ENV: PASSPHRASE.decode(), "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "tests.trust.service._issue_worker"]
        command += ["--home", str(site.home), "--url", site.url, "--prefix", prefix, *options]
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        self.out = Output()

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line:
            self.out.feed(line.strip())
        return line

    def wait_ready(self) -> None:
        line = self.readline()
        assert line.startswith("READY"), f"worker did not start: {line!r}\n{self.stderr()}"

    def go(self, at: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"GO {at:.6f}\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 90) -> Output:
        stdout, _ = self.proc.communicate(timeout=timeout)
        for line in stdout.splitlines():
            self.out.feed(line.strip())
        return self.out

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]


def run_together(workers: list[Worker], delay: float = 0.3) -> list[Output]:
    for w in workers:
        w.wait_ready()
    start = time.time() + delay
    for w in workers:
        w.go(start)
    outputs = [w.finish() for w in workers]
    for w, out in zip(workers, outputs, strict=True):
        assert w.proc.returncode == 0, f"worker failed ({w.proc.returncode}):\n{w.stderr()}"
        assert not out.errors, "\n".join(out.errors)
    return outputs


# --- checks ---------------------------------------------------------------------------------------------------


def ca_certificates(session: Session) -> dict[str, asn1_x509.Certificate]:
    return {ca.id: cx.load_certificate(ca.cert_der) for ca in session.exec(select(CertificateAuthority)).all()}


def check_rows(site: Site, rows: list[IssuedCertificate]) -> None:
    """Each row is complete, its certificate is the one signed by its CA, and its key (if kept) matches."""
    keystore = site.instance.keystore
    with site.session() as session:
        issuers = ca_certificates(session)
    for row in rows:
        assert row.der, f"row {row.serial} has no certificate"
        assert not row.fingerprint.startswith("pending-"), f"row {row.serial} was never completed"
        cert = cx.load_certificate(row.der)
        assert row.fingerprint == hashlib.sha256(row.der).hexdigest()
        assert cert.serial_number == int(row.serial, 16)
        issuer_cert = issuers[row.issuer_id]
        assert cert.issuer == issuer_cert.subject
        cx.verify_signature(cert, cx.public_key(issuer_cert))
        assert row.family == cx.public_key(cert).family.value
        if row.key_id is not None:
            assert keystore.info(row.key_id).public_key == cx.public_key(cert), f"key of {row.serial} differs"


def check_crl_numbers(site: Site) -> dict[str, list[int]]:
    """Per CA: CRL numbers 1..n without a gap, and the CA's counter is n."""
    numbers: dict[str, list[int]] = {}
    with site.session() as session:
        for ca in session.exec(select(CertificateAuthority)).all():
            found = sorted(session.exec(select(CrlRecord.number).where(CrlRecord.ca_id == ca.id)).all())
            if ca.key_id is None:
                continue
            assert found == list(range(1, len(found) + 1)), f"CRL numbers of {ca.id} have a gap: {found}"
            assert ca.crl_number == len(found), f"{ca.id}: counter {ca.crl_number}, {len(found)} CRLs"
            numbers[ca.id] = found
    return numbers


def ee_rows(site: Site) -> list[IssuedCertificate]:
    with site.session() as session:
        query = select(IssuedCertificate).where(col(IssuedCertificate.profile).in_(EE_PROFILES))
        return list(session.exec(query.order_by(col(IssuedCertificate.id))).all())


def sql(site: Site, statement: str) -> list[tuple]:
    with site.instance.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(statement)).all()]


def open_transactions(site: Site) -> int:
    """Sessions on the test database (other than ours) that hold a transaction open."""
    return sql(
        site,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'",
    )[0][0]


# --- tests ----------------------------------------------------------------------------------------------------


def test_two_processes_issue_400_without_duplicates(site: Site) -> None:
    count, rsa_every = 200, 5
    before = sql(site, "SELECT count(*) FROM certificate")[0][0]
    workers = [Worker(site, prefix, "--count", str(count), "--rsa-every", str(rsa_every)) for prefix in ("a", "b")]
    outputs = run_together(workers)

    # Both really ran at the same time: their issuing windows overlap for most of the shorter one.
    first, second = (out.window for out in outputs)
    assert first is not None and second is not None
    (a0, a1), (b0, b1) = first, second
    overlap = min(a1, b1) - max(a0, b0)
    assert overlap > 0.5 * min(a1 - a0, b1 - b0), f"workers did not overlap: {(a0, a1)} {(b0, b1)}"

    acknowledged = {rid: serial for out in outputs for rid, serial in out.issued.items()}
    assert len(acknowledged) == 2 * count
    rows = ee_rows(site)
    assert len(rows) == 2 * count
    total = sql(site, "SELECT count(*) FROM certificate")[0][0]
    duplicates = sql(site, "SELECT serial FROM certificate GROUP BY serial HAVING count(*) > 1")
    assert total == before + 2 * count
    assert duplicates == []
    assert len({int(r.serial, 16) for r in rows}) == len(rows)  # not even as numbers
    assert len({r.fingerprint for r in rows}) == len(rows)

    # Every acknowledged serial is stored under its request id, at the CA the worker was told.
    by_request = {r.request_id: r for r in rows}
    assert set(by_request) == set(acknowledged)
    for rid, serial in acknowledged.items():
        assert by_request[rid].serial == serial
    issuers = Counter(r.issuer_id for r in rows)
    assert issuers == {worker.SM2_CA: 2 * (count - count // rsa_every), worker.RSA_CA: 2 * (count // rsa_every)}
    assert Counter(r.profile for r in rows) == {"person-identity": count, "seal": count}

    check_rows(site, rows)
    # Generated SM2 keys are kept (one per certificate); CSR keys are not.
    assert all((r.key_id is None) == (r.issuer_id == worker.RSA_CA) for r in rows)
    assert len({r.key_id for r in rows if r.key_id}) == 2 * (count - count // rsa_every)


def test_sigkill_mid_batch_leaves_no_half_state(site: Site, record_property) -> None:  # noqa: PLR0915 (one end-to-end scenario)
    """Workers issuing (and revoking, which publishes CRLs) in a loop are SIGKILLed at random moments of an
    issuance, and once exactly between the key store write and the commit. Nothing acknowledged is lost,
    nothing half-written is stored, CRL numbers have no gap, and the database keeps working."""
    baseline_keys = site.key_files()
    check_crl_numbers(site)
    acknowledged: dict[str, str] = {}
    revoked: list[tuple[str, int]] = []
    kills = 0
    rng = random.Random()
    for round_index, threshold in enumerate((20, 30, 40)):
        w = Worker(site, f"kill{round_index}", "--count", "0", "--revoke-every", "6")
        w.wait_ready()
        w.go(time.time())
        while len(w.out.issued) < threshold or not w.out.revoked:
            assert w.readline(), f"worker ended early:\n{w.stderr()}"
        time.sleep(rng.uniform(0, 0.03))  # somewhere inside one of the next issuances (about 20 ms each)
        os.kill(w.proc.pid, signal.SIGKILL)
        out = w.finish(timeout=30)  # lines written before the kill are acknowledged too
        assert w.proc.returncode == -signal.SIGKILL
        assert not out.errors, "\n".join(out.errors)
        acknowledged.update(out.issued)
        revoked.extend(out.revoked)
        kills += 1

    # A worker that dies right after the key store wrote the key of its 8th record, before the commit.
    w = Worker(site, "window", "--count", "0", "--kill-after-key-write", "8")
    w.wait_ready()
    w.go(time.time())
    out = w.finish(timeout=30)
    assert w.proc.returncode == -signal.SIGKILL, w.stderr()
    assert sorted(out.issued) == sorted(f"window-{i}" for i in range(7)), out.lines
    acknowledged.update(out.issued)
    kills += 1
    assert not sql(site, "SELECT id FROM certificate WHERE request_id = 'window-7'")  # rolled back

    # The killed sessions' transactions are gone (PostgreSQL noticed the closed sockets).
    deadline = time.monotonic() + 10
    while open_transactions(site) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_transactions(site) == 0

    rows = ee_rows(site)
    by_serial = {r.serial: r for r in rows}
    for rid, serial in acknowledged.items():
        assert serial in by_serial, f"acknowledged {rid} ({serial}) is not stored"
        assert by_serial[serial].request_id == rid
    check_rows(site, rows)  # no empty der, no "pending-" fingerprint, every signature verifies
    half = sql(site, "SELECT count(*) FROM certificate WHERE length(der) = 0 OR fingerprint LIKE 'pending-%'")
    assert half[0][0] == 0

    # Acknowledged revocations are stored, each in the current CRL of its partition (whose number is at least the one
    # it was acknowledged with: a partition CRL is re-signed in place, its entries only grow); the main CRLs keep
    # their numbers without a gap (check_crl_numbers).
    check_crl_numbers(site)
    with site.session() as session:
        partitions = {
            row.shard: row
            for row in session.exec(
                select(CrlShard).where(CrlShard.ca_id == worker.SM2_CA, CrlShard.signer == "")
            ).all()
        }
        for serial, number in revoked:
            record = by_serial[serial]
            assert record.status == "revoked" and record.crl_shard is not None
            current = partitions[record.crl_shard]
            assert current.number >= number
            listed = {
                entry["user_certificate"].native
                for entry in asn1_crl.CertificateList.load(current.der)["tbs_cert_list"]["revoked_certificates"]
            }
            assert int(serial, 16) in listed

    # The database accepts new work afterwards: in this process and in a new worker.
    after = service.issue(
        site.instance,
        ca_id=worker.SM2_CA,
        profile="person-identity",
        subject=DN(province=worker.PROVINCE, common_name="after the kill", serial_number=worker.citizen_id(999)),
        key_family="SM2",
        request_id="after-kill",
    )
    record, crl = service.revoke(site.instance, serial=after.record.serial, reason="superseded")
    assert record.crl_shard is not None
    assert crl.number > partitions[record.crl_shard].number if record.crl_shard in partitions else crl.number >= 1
    (out,) = run_together([Worker(site, "after", "--count", "5")])
    assert len(out.issued) == 5
    check_crl_numbers(site)

    # Key store. Every key a committed row names exists. A key generated for an issuance is written before
    # the commit, so a kill between the two leaves an encrypted key file no row names (an orphan): at most
    # one per kill. The key store writes <id>.json (public facts) before <id>.key.pem, so a kill between its
    # own two writes leaves a temporary file and a .json without a key ("half entry", ignored by list()) —
    # never a key file the store cannot describe.
    rows = ee_rows(site)
    files = site.key_files()
    referenced = {r.key_id for r in rows if r.key_id}
    assert referenced <= files, f"rows name keys that are not in the store: {referenced - files}"
    orphans = (files - baseline_keys) - referenced
    temporaries = sorted(p.name for p in site.keys_dir.glob(".*.tmp"))
    metadata = {p.name.removesuffix(".json") for p in site.keys_dir.glob("*.json")} - {"keystore"}
    half_entries = metadata - files
    undescribed_keys = files - metadata
    record_property("kills", kills)
    record_property("orphan_keys", len(orphans))
    record_property("temporary_files", len(temporaries))
    record_property("half_entries", len(half_entries))
    print(f"\nkills={kills} orphan_keys={sorted(orphans)} temporary_files={temporaries} half_entries={half_entries}")
    assert len(orphans) <= kills, orphans
    assert len(temporaries) <= kills, temporaries
    assert not undescribed_keys, undescribed_keys
    assert len(orphans) + len(half_entries) <= kills, (orphans, half_entries)


def test_same_request_id_sequentially_gives_one_certificate(site: Site) -> None:
    def issue_once() -> service.IssueResult:
        return service.issue(
            site.instance,
            ca_id=worker.SM2_CA,
            profile="person-identity",
            subject=DN(province=worker.PROVINCE, common_name="repeat", serial_number=worker.citizen_id(7)),
            key_family="SM2",
            request_id="repeat-1",
        )

    keys_before = site.key_files()
    first, second = issue_once(), issue_once()
    assert first.record.serial == second.record.serial
    assert first.certificate.dump() == second.certificate.dump()
    assert len(site.key_files() - keys_before) == 1  # the repeat generated and kept no second key

    # The same records asked for again by another process, after the first one finished.
    (one,) = run_together([Worker(site, "seq", "--count", "6", "--rsa-every", "3")])
    (two,) = run_together([Worker(site, "seq", "--count", "6", "--rsa-every", "3")])
    assert one.issued == two.issued and len(one.issued) == 6
    with site.session() as session:
        stored = session.exec(select(IssuedCertificate).where(col(IssuedCertificate.request_id).like("seq-%"))).all()
        repeats = session.exec(select(IssuedCertificate).where(IssuedCertificate.request_id == "repeat-1")).all()
    assert {r.request_id: r.serial for r in stored} == one.issued
    assert len(repeats) == 1


def test_same_request_id_from_two_processes_at_once_gives_one_certificate(site: Site) -> None:
    """Both workers ask for race-0 .. race-19 in lockstep (100 ms apart), so each pair races: both see no
    existing row, both sign, one commits first. The other must answer with the winner's certificate — not an
    error, not a second certificate — and must not leave its generated key behind."""
    count = 20
    keys_before = site.key_files()
    workers = [Worker(site, "race", "--count", str(count), "--step", "0.1") for _ in range(2)]
    for w in workers:
        w.wait_ready()
    start = time.time() + 0.3
    for w in workers:
        w.go(start)
    outputs = [w.finish() for w in workers]
    errors = [line for out in outputs for line in out.errors]
    assert all(w.proc.returncode == 0 for w in workers), [w.stderr() for w in workers]
    assert not errors, f"{len(errors)} of {2 * count} racing requests failed:\n" + "\n".join(errors[:5])
    first, second = (out.issued for out in outputs)
    assert len(first) == len(second) == count
    assert first == second  # the same serial for the same request id, whichever process won
    with site.session() as session:
        stored = session.exec(select(IssuedCertificate).where(col(IssuedCertificate.request_id).like("race-%"))).all()
    assert {r.request_id: r.serial for r in stored} == first
    check_rows(site, list(stored))
    # The losers' generated keys were discarded with their rolled-back transactions.
    assert site.key_files() - keys_before == {r.key_id for r in stored}


def test_workers_running_the_schedule_at_once_publish_one_trust_list(site: Site) -> None:
    """Every worker runs the schedule; when the trust list is due, exactly one of them publishes the next one (the
    decision is taken under a row lock), and none fails on the sequence number."""
    import threading
    from datetime import timedelta

    from ca.models import now
    from trust.service import registry
    from trust.service import trust as trust_service

    workers = [site.instance, Instance(site.instance.settings, passphrase=PASSPHRASE)]  # two engines, two pools
    with site.session() as session:
        before = registry.latest(session)
        assert before is not None
        before.next_update = now() + timedelta(hours=1)  # the latest list is 23 hours old: due (12 hours left at most)
        session.add(before)
        session.commit()
        session.refresh(before)
    barrier = threading.Barrier(len(workers) * 2)
    results: list[object] = []

    def run(instance: Instance) -> None:
        barrier.wait()
        try:
            results.append(trust_service.publish_if_due(instance, timedelta(hours=12)))
        except Exception as exc:  # a failure (a duplicate sequence number) is what the test looks for
            results.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [r for r in results if isinstance(r, Exception)], results
    published = [r for r in results if r is not None]
    # Each call that found the list due published one; the later ones found a fresh list under the lock.
    assert len(published) == 1, results
    with site.session() as session:
        sequences = session.exec(select(registry.TrustListRecord.sequence)).all()
    assert sorted(sequences)[-1] == before.sequence + 1 and len(sequences) == len(set(sequences))
