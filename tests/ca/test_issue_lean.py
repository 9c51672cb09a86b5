"""The lean single issuance (issuefast, issue 15 item 5): ``trust.service.ca.issue`` of a certificate for a CSR's key
keeps the CA's row, chain and region per state version and runs its statements on the DB-API cursor.

What must not change with that: a CA that another worker (another engine on the same database) revokes, retires,
withdraws or re-keys refuses — or signs with its new key — from the very next issuance, even when no state version
tells (a change made by raw SQL, or one committed between the version read and the place counter); the audit chain
and the transparency log hold lean and ORM-path issuances alike; two threads on PostgreSQL never share a serial nor
fork the chain. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from sqlalchemy import text
from sqlmodel import select

from ca.models import CertificateAuthority, IssuedCertificate, utc
from tests.support import postgres
from tests.support import world as world_support
from tests.support.world import World, make_instance
from trust import db
from trust.crypto.errors import ConflictError
from trust.crypto.keys import generate_private_key
from trust.formats import csr
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import audit, tlog
from trust.service import ca as service
from trust.service import trust as trust_service
from trust.service.instance import Instance

ZJ = "region-330000-sm2"
PERSON = "330106199001010018"


@dataclass
class Site:
    first: Instance  # the worker that issues (and keeps the snapshots)
    second: Instance  # another worker on the same database and key store


def _person(n: int) -> DN:
    return DN(province="浙江省", common_name=f"张三 {n}", serial_number=PERSON)


def _csr(n: int) -> bytes:
    return csr.build(generate_private_key("sm2"), _person(n))


def _issue(instance: Instance, n: int, request_id: str | None = None) -> service.IssueResult:
    return service.issue(
        instance, ca_id=ZJ, profile="person-identity", subject=_person(n), csr_data=_csr(n), request_id=request_id
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path: Path, world_template: World) -> Iterator[Site]:
    for first, second in world_support.two_workers(request.param, world_template, tmp_path / "home"):
        yield Site(first, second)


def _set_status(instance: Instance, status: str, *, raw: bool) -> None:
    """The CA's status changed by another worker: through the ORM (the state version moves) or by raw SQL (it does
    not: nothing but the row tells)."""
    with db.session_scope(instance.engine) as session:
        if raw:
            session.execute(text("UPDATE ca SET status = :status WHERE id = :id"), {"status": status, "id": ZJ})
        else:
            ca = session.get(CertificateAuthority, ZJ)
            assert ca is not None
            ca.status = status
            session.add(ca)


@pytest.mark.parametrize("raw", [False, True], ids=["orm", "raw-sql"])
@pytest.mark.parametrize("status", ["revoked", "retired"])
def test_a_ca_revoked_by_another_worker_refuses_the_next_issuance(site: Site, status: str, raw: bool) -> None:
    _issue(site.first, 1)  # the snapshot is made
    _issue(site.first, 2)  # and used
    _set_status(site.second, status, raw=raw)
    with pytest.raises(ConflictError, match=f"{ZJ} is {status}"):
        _issue(site.first, 3)
    with db.session_scope(site.first.engine, read_only=True) as session:
        assert len(session.exec(select(IssuedCertificate).where(IssuedCertificate.issuer_id == ZJ)).all()) >= 2
    _set_status(site.second, "active", raw=raw)
    _issue(site.first, 4)  # and signs again once it is active


def test_a_ca_withdrawn_from_the_trust_list_by_another_worker_refuses_at_once(site: Site) -> None:
    _issue(site.first, 1)
    trust_service.change_status(site.second, subject="service", subject_id=ZJ, status="withdrawn", reason="测试")
    with pytest.raises(ConflictError, match="withdrawn"):
        _issue(site.first, 2)


def _key_id(cert: asn1_x509.Certificate) -> bytes:
    return cert.authority_key_identifier


def test_a_ca_re_keyed_by_another_worker_signs_the_next_certificate_with_its_new_key(site: Site) -> None:
    before = _issue(site.first, 1)
    service.rekey(site.second, ZJ)
    after = _issue(site.first, 2)
    new_ca = cx.load_certificate(service.ca_certificate_der(site.second, ZJ))
    assert _key_id(after.certificate) == new_ca.key_identifier != _key_id(before.certificate)
    cx.verify_signature(after.certificate, cx.public_key(new_ca))
    assert after.chain[0].dump() == new_ca.dump()


def test_a_re_key_committed_after_the_version_was_read_is_caught_under_the_counters_lock(site: Site) -> None:
    """The race the state version cannot see (the re-key commits between this worker's version read and its place
    counter): the snapshot is made to look current, and the row as the counter's ``UPDATE … RETURNING`` reads it
    sends the issuance to the CA's new key all the same. Likewise a revocation in that window refuses."""
    _issue(site.first, 1)
    service.rekey(site.second, ZJ)
    version = _version(site.first)
    for held in service._snapshots[site.first.engine].values():  # the race: the old snapshot, at the current version
        object.__setattr__(held, "version", version)
    made = _issue(site.first, 2)
    new_ca = cx.load_certificate(service.ca_certificate_der(site.second, ZJ))
    cx.verify_signature(made.certificate, cx.public_key(new_ca))
    assert made.chain[0].dump() == new_ca.dump()
    _issue(site.first, 3)  # a fresh snapshot
    _set_status(site.second, "revoked", raw=False)
    version = _version(site.first)
    for held in service._snapshots[site.first.engine].values():
        object.__setattr__(held, "version", version)
    with pytest.raises(ConflictError, match=f"{ZJ} is revoked"):
        _issue(site.first, 4)


def _version(instance: Instance) -> int:
    with instance.engine.connect() as connection:
        value = connection.execute(text("SELECT version FROM state_version WHERE name = 'verification'")).scalar()
    assert value is not None
    return int(value)


def test_lean_and_orm_path_entries_make_one_chain_and_one_log(site: Site) -> None:
    """Lean issuances between ORM-path changes (a certificate whose key Huren generates, a revocation, an OCSP
    responder's renewal path is the ORM's too): ``audit verify`` passes, every certificate has one ``create`` entry
    with the committed values, and every certificate has its leaf in the log."""
    engine = site.first.engine
    head_before = audit.head(engine)[0]
    made = [
        _issue(site.first, 1, request_id="mix-1"),
        service.issue(site.first, ca_id=ZJ, profile="person-identity", subject=_person(2)),  # ORM path
        _issue(site.first, 3),
        _issue(site.second, 4),  # the other worker, its own snapshot
    ]
    service.revoke(site.first, serial=made[2].record.serial, reason="key_compromise")  # ORM path
    made.append(_issue(site.first, 5))
    report = audit.verify(engine)
    assert report.ok, report.problem
    entries = audit.entries(engine, after=head_before, limit=1000)
    for result in made:
        mine = [e for e in entries if e.subject == f"certificate:{result.record.serial}"]
        assert mine[0].action == "certificate.create"
        details = audit.parse_details(mine[0].details)
        assert details["fingerprint"] == result.record.fingerprint == cx.fingerprint(result.certificate)
        assert details["status"] == "valid" and details["issuer_id"] == ZJ and details["profile"] == "person-identity"
    assert [e.action for e in entries if e.subject == f"certificate:{made[2].record.serial}"] == [
        "certificate.create",
        "certificate.revoked",
    ]
    leaves = {leaf["id"]: leaf for leaf in tlog.entries_since(site.first, "330000")}
    for result in made:
        leaf = leaves[result.record.serial]
        assert (leaf["kind"], leaf["issuer"], leaf["profile"]) == ("certificate", ZJ, "person-identity")
        assert leaf["sha256"] == cx.fingerprint(result.certificate)


@pytest.mark.postgres
def test_two_threads_issuing_at_once_on_postgresql_share_no_serial_and_fork_no_chain(
    tmp_path: Path,
) -> None:
    databases = postgres.fresh_database()
    url = next(databases)
    try:
        instance = make_instance(tmp_path / "home", 8000, url)
        service.init(instance)
        service.enrol(instance, kind="region", code="330000", family="SM2")
        other = make_instance(tmp_path / "home", 8000, url)  # two engines, two pools
        csrs = [_csr(n) for n in range(40)]
        results: list[service.IssueResult] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work(inst: Instance, start: int) -> None:
            try:
                for n in range(start, 40, 2):
                    made = service.issue(
                        inst, ca_id=ZJ, profile="person-identity", subject=_person(n), csr_data=csrs[n]
                    )
                    with lock:
                        results.append(made)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(inst, k)) for k, inst in enumerate((instance, other))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        serials = [r.record.serial for r in results]
        assert len(serials) == len(set(serials)) == 40
        report = audit.verify(instance.engine)
        assert report.ok, report.problem
        with db.session_scope(instance.engine, read_only=True) as session:
            count = session.execute(text("SELECT cert_count FROM ca WHERE id = :id"), {"id": ZJ}).scalar()
            stored = session.exec(select(IssuedCertificate.serial).where(IssuedCertificate.issuer_id == ZJ)).all()
        assert set(serials) <= set(stored)
        assert count is not None and count >= 40
        leaves = [leaf["id"] for leaf in tlog.entries_since(instance, "330000") if leaf["kind"] == "certificate"]
        assert set(serials) <= set(leaves) and len(leaves) == len(set(leaves))
        instance.engine.dispose()
        other.engine.dispose()
    finally:
        databases.close()


def test_a_lean_row_reads_back_as_the_orm_wrote_rows_and_driver_errors_are_sqlalchemys(site: Site) -> None:
    """Timestamps are bound with the dialect's own processor (the text SQLAlchemy stores on SQLite): the row reads
    back through the ORM with the values returned; a driver error on the DB-API cursor is SQLAlchemy's exception."""
    from sqlalchemy.exc import DBAPIError

    from ca.authority.cursor import Raw

    lean = _issue(site.first, 1)
    orm = service.issue(site.first, ca_id=ZJ, profile="person-identity", subject=_person(2))
    with db.session_scope(site.first.engine, read_only=True) as session:
        for made in (lean, orm):
            row = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == made.record.serial)).one()
            for name in ("not_before", "not_after", "created_at"):
                assert utc(getattr(row, name)) == utc(getattr(made.record, name)), name
            for name in ("status", "subject", "fingerprint", "crl_shard", "request_id", "issuer_id", "family"):
                assert getattr(row, name) == getattr(made.record, name), name
            assert bytes(row.der) == made.record.der
        stored = session.execute(
            text("SELECT not_before, created_at FROM certificate WHERE serial IN (:a, :b)"),
            {"a": lean.record.serial, "b": orm.record.serial},
        ).all()
        assert len({type(value) for row in stored for value in row}) == 1  # the same storage (SQLite: the same text)
        if site.first.engine.dialect.name == "sqlite":
            assert all(len(value) == len("2026-12-07 22:39:27.000000") for row in stored for value in row), stored
        with pytest.raises(DBAPIError):
            Raw(session.connection()).execute("SELECT nothing FROM no_such_table", {})


def test_lean_issuances_open_their_partitions_as_the_orm_path_does(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lean issuance whose place opens a CRL partition signs that partition's CRL (and the next one's) in its own
    transaction with the snapshot's CA: every certificate names its partition's CRL, every partition named — and the
    one after — has its CRL, the log holds those CRLs' leaves before the certificates', and the chain verifies."""
    from ca import authority
    from ca.authority import crls

    monkeypatch.setattr(crls, "SHARD_CAPACITY", 2)
    engine = site.first.engine
    with db.session_scope(engine, read_only=True) as session:
        start = authority.get_ca(session, ZJ).cert_count
    made = [_issue(site.first, n) for n in range(5)]
    shards = [(start + i) // 2 + 1 for i in range(5)]
    base = site.first.settings.effective_public_url
    for result, shard in zip(made, shards, strict=True):
        names = result.certificate.crl_distribution_points_value[0]["distribution_point"].native
        assert names == [f"{base}/crl/{ZJ}/{shard}.crl"]
        assert result.record.crl_shard == shard
    with db.session_scope(engine, read_only=True) as session:
        rows = {row.shard for row in authority.partitions(session, ZJ)}
    assert set(shards) | {shards[-1] + 1} <= rows
    report = audit.verify(engine)
    assert report.ok, report.problem
    leaves = list(tlog.entries_since(site.first, "330000"))
    where = {leaf["id"]: leaf["leaf_index"] for leaf in leaves}
    for result, shard in zip(made, shards, strict=True):
        opened = [
            leaf["leaf_index"] for leaf in leaves if leaf["kind"] == "crl" and leaf["id"].startswith(f"{ZJ}/{shard}#")
        ]
        assert opened and min(opened) < where[result.record.serial]


def test_a_lean_issuance_bumps_no_state_version(site: Site) -> None:
    """Issuing changes nothing a verifier is given: the version its snapshot is keyed by stays (one snapshot serves
    every issuance until something else changes)."""
    _issue(site.first, 1)
    before = _version(site.first)
    held = service._snapshots[site.first.engine][ZJ]
    for n in range(2, 5):
        _issue(site.first, n)
    assert _version(site.first) == before
    assert service._snapshots[site.first.engine][ZJ] is held


def test_a_lean_record_is_the_row_as_the_orm_loads_it(site: Site) -> None:
    """The returned record (built as the ORM builds an object for a loaded row, issuefast2) holds every column as the
    row read back does, is detached with the row's identity, and goes into a session as that row."""
    from sqlalchemy import inspect

    made = _issue(site.first, 1, request_id="detached-1").record
    state = inspect(made)
    assert state.detached and state.key == (IssuedCertificate, (made.id,), None) and not state.expired_attributes
    with db.session_scope(site.first.engine) as session:
        row = session.get(IssuedCertificate, made.id)
        assert row is not None
        read = row.model_dump()
        mine = made.model_dump()
        for name in ("not_before", "not_after", "created_at"):
            assert utc(mine.pop(name)) == utc(read.pop(name)), name
        assert mine == read
        session.expunge(row)
        merged = session.merge(made, load=False)
        assert merged.serial == made.serial and not session.dirty


@pytest.mark.parametrize(
    ("ident", "issuer", "region", "extra"),
    [
        ("22d2e568c79710b6d9de160e01f82811cb7c787a", "region-330000-sm2", "330000", (("profile", "seal"),)),
        ("region-330000-sm2/3#17", "region-330000-sm2", None, ()),
        ("es-1", None, "440000", (("name", '合同专用章 "甲" \\ \u2028 \x00 \x1f'), ("holder", "杭州示例科技有限公司"))),
        ("https://example.gov.cn/statuslists/1#2", "issuer-1", "110000", (("π", "non-ASCII key: rfc8785's own"),)),
    ],
)
def test_a_log_entry_is_rfc8785_byte_for_byte(
    ident: str, issuer: str | None, region: str | None, extra: tuple[tuple[str, str], ...]
) -> None:
    """The log leaf's bytes (``tlog.Entry.encode``, now written by ``audit.canonical_json``'s direct encoder) are
    ``rfc8785.dumps`` of the same object: a leaf written before issuefast2 and one written after hash alike."""
    from datetime import UTC, datetime

    import rfc8785

    at = datetime(2026, 12, 7, 23, 6, 11, 500, tzinfo=UTC)
    entry = tlog.Entry("certificate", ident, issuer, region, "00" * 32, at, extra)
    body = {
        "v": tlog.ENTRY_VERSION,
        "kind": "certificate",
        "id": ident,
        "issuer": issuer,
        "region": region,
        "sha256": "00" * 32,
        "at": "2026-12-07T23:06:11Z",
        **dict(extra),
    }
    assert entry.encode() == rfc8785.dumps(body)


@pytest.mark.parametrize("expired_for", [timedelta(minutes=2), timedelta(days=3)], ids=["within-backdate", "long"])
@pytest.mark.parametrize("with_csr", [True, False], ids=["lean-csr", "orm-generated-key"])
def test_a_ca_whose_certificate_expired_issues_nothing(
    site: Site, monkeypatch: pytest.MonkeyPatch, expired_for: timedelta, with_csr: bool
) -> None:
    """Review finding: a CA expired less than BACKDATE ago signed a certificate already expired when made (its end cut
    to the CA's notAfter, its start backdated before it); one expired longer ago was refused as "notAfter must be
    later than notBefore". Both are refused, clearly, on both issuance paths, and nothing is written."""
    from ca.authority import discipline, issuance

    _issue(site.first, 1)  # the snapshot is made while the CA is valid
    ca_end = utc(
        asn1_x509.Certificate.load(service.ca_certificate_der(site.first, ZJ))["tbs_certificate"]["validity"][
            "not_after"
        ].native
    )
    later = ca_end + expired_for
    for module in (discipline, issuance):
        monkeypatch.setattr(module, "now", lambda: later)
    with db.session_scope(site.first.engine, read_only=True) as session:
        before = len(session.exec(select(IssuedCertificate).where(IssuedCertificate.issuer_id == ZJ)).all())
    with pytest.raises(ConflictError, match=r"expired at .*issues no more certificates"):
        service.issue(
            site.first,
            ca_id=ZJ,
            profile="person-identity",
            subject=_person(2),
            csr_data=_csr(2) if with_csr else None,
        )
    with db.session_scope(site.first.engine, read_only=True) as session:
        assert len(session.exec(select(IssuedCertificate).where(IssuedCertificate.issuer_id == ZJ)).all()) == before
