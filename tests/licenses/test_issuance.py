"""Licence issuance over storage: identifiers, status indexes under concurrency (SQLite threads and PostgreSQL
processes), idempotency, bulk issuance (errors reported, resumable, nothing issued twice), status changes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from licenses import samples
from licenses.models import LicenseRecord
from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import PASSPHRASE, World, build_world, copy_world
from trust import db
from trust.cli.main import main
from trust.crypto import base64url
from trust.crypto.errors import Code, ConflictError, InputError, NotFoundError
from trust.crypto.keys import PublicKey
from trust.formats import identifiers
from trust.formats import license_catalogue as catalogue
from trust.formats import license_token as token
from trust.formats.names import make_uscc
from trust.service import licenses

BUSINESS = "11100000000013338W101"
BIRTH = "11100000000013338W104"
AUTHORITY = make_uscc("11330000002482226")


def _setup(world: World) -> str:
    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省市场监督管理局",
        code=AUTHORITY,
        license_types=[t.code for t in catalogue.all_types()],
    )
    return issuer.id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> tuple[World, str]:
    world = copy_world(world_template, tmp_path_factory.mktemp("issuance") / "home")
    return world, _setup(world)


def _count(world: World) -> int:
    with db.session_scope(world.instance.engine) as session:
        return int(session.exec(select(func.count()).select_from(LicenseRecord)).one())


def test_identifiers_are_valid_and_sequential(site: tuple[World, str]) -> None:
    world, issuer = site
    made = [
        licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
        for _ in range(3)
    ]
    parsed = [identifiers.parse(m.record.identifier) for m in made]
    assert all(p.type_code == BUSINESS and p.issuer_code == AUTHORITY and p.version == 1 for p in parsed)
    serials = [int(p.serial) for p in parsed]
    assert serials == sorted(serials) and len(set(serials)) == 3 and serials[1] == serials[0] + 1
    indexes = [m.record.status_index for m in made]
    assert len(set(indexes)) == 3


def test_bad_requests_change_nothing(site: tuple[World, str]) -> None:
    world, issuer = site
    before = _count(world)
    bad_fields = samples.sample(BUSINESS) | {"uscc": "91330106MA2CFA4X0X"}
    cases: list[tuple[type[Exception], dict[str, Any]]] = [
        (InputError, dict(issuer_id=issuer, type_code=BUSINESS, fields=bad_fields)),
        (InputError, dict(issuer_id=issuer, type_code=BUSINESS, fields={**samples.sample(BUSINESS), "extra": 1})),
        (InputError, dict(issuer_id=issuer, type_code=BIRTH, fields=samples.sample(BIRTH))),  # no holder code
        (NotFoundError, dict(issuer_id="nope", type_code=BUSINESS, fields=samples.sample(BUSINESS))),
        (NotFoundError, dict(issuer_id=issuer, type_code="11100000000013338W999", fields={})),
        (InputError, dict(issuer_id=issuer, type_code="bad", fields={})),
    ]
    for error, kwargs in cases:
        with pytest.raises(error):
            licenses.issue(world.instance, **kwargs)
    assert _count(world) == before


def test_idempotent_issue(site: tuple[World, str]) -> None:
    world, issuer = site
    first = licenses.issue(
        world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS), request_id="lic-req-1"
    )
    before = _count(world)
    second = licenses.issue(
        world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS), request_id="lic-req-1"
    )
    assert second.record.identifier == first.record.identifier and _count(world) == before
    with pytest.raises(ConflictError):
        licenses.issue(
            world.instance,
            issuer_id=issuer,
            type_code=BIRTH,
            fields=samples.sample(BIRTH),
            holder_code=samples.NEWBORN_ID,
            request_id="lic-req-1",
        )


def test_status_changes(site: tuple[World, str]) -> None:
    world, issuer = site
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    identifier = made.record.identifier
    licenses.set_status(world.instance, identifier, "suspended", "核查")
    with pytest.raises(ConflictError):
        licenses.set_status(world.instance, identifier, "suspended")
    licenses.set_status(world.instance, identifier, "valid", "核查完毕")
    licenses.set_status(world.instance, identifier, "revoked", "注销")
    with pytest.raises(ConflictError, match="revoked for good"):
        licenses.set_status(world.instance, identifier, "valid")
    assert [e.status for e in licenses.history(world.instance, identifier)] == [
        "valid",
        "suspended",
        "valid",
        "revoked",
    ]


def test_status_list_tokens_are_signed_again_when_changed_or_old(
    site: tuple[World, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached Status List Token is reused while the list is unchanged and young; a status change, or an age of
    STATUS_TOKEN_REFRESH, signs a new one, so neither the route nor the bundle serves a token near its exp."""
    import json as json_module

    world, issuer = site
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    first = licenses.status_list_token(world.instance, issuer, 1)
    assert licenses.status_list_token(world.instance, issuer, 1) == first
    licenses.set_status(world.instance, made.record.identifier, "suspended", "核查")
    changed = licenses.status_list_token(world.instance, issuer, 1)
    assert changed != first
    monkeypatch.setattr(licenses, "STATUS_TOKEN_REFRESH", 0.0)
    aged = licenses.status_list_token(world.instance, issuer, 1)
    assert aged != changed
    claims = json_module.loads(base64url.decode(aged.split(".")[1]))
    assert claims["exp"] - claims["iat"] == 24 * 3600 and claims["ttl"] == 3600


def _fixed_key(key: PublicKey, _header: object) -> PublicKey:
    """A JWS key resolver that always answers ``key``."""
    return key


def test_cached_status_list_tokens_belong_to_their_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cached tokens are keyed by the Instance object (held weakly), not by ``id(instance)``: a later instance that
    gets a dead one's id (CPython reuses addresses) would otherwise be served that instance's token — signed by
    another key — for its own list of the same number. ``id`` is made to collide here, as address reuse does."""
    import gc

    from trust.formats import jose

    monkeypatch.setattr(licenses, "id", lambda _obj: 1, raising=False)
    first = build_world(tmp_path / "first", free_port())
    second = build_world(tmp_path / "second", free_port())
    tokens = []
    for world in (first, second):
        issuer = _setup(world)
        licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
        text = licenses.status_list_token(world.instance, issuer, 1)
        with db.session_scope(world.instance.engine) as session:
            from licenses import issuance

            signer_key = issuance.prepare_issuer(session, world.instance.keystore, issuer).signer.public_key
        jose.verify_compact(text, partial(_fixed_key, signer_key), algorithms=["SM2"])  # its own issuer's key
        tokens.append(text)
    assert tokens[0] != tokens[1]
    assert first.instance in licenses._token_cache and second.instance in licenses._token_cache
    entries = len(licenses._token_cache)
    del second, world
    gc.collect()
    assert len(licenses._token_cache) == entries - 1  # the dead instance's tokens went with it
    assert first.instance in licenses._token_cache


def test_status_lists_and_bundle_are_published_as_files(site: tuple[World, str]) -> None:
    """A status change rewrites the issuer's Status List Token under public/ at the path of its uri; the schedule's
    job also exports a signed bundle there. A plain web server then serves what the service serves."""
    import json as json_module
    from datetime import timedelta

    from trust.formats import bundle as bundle_format
    from trust.formats import status_list
    from trust.service import publishing
    from trust.service import trust as trust_service

    world, issuer = site
    made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    licenses.set_status(world.instance, made.record.identifier, "revoked", "注销")
    uri, idx = status_list.parse_status_claim(json_module.loads(base64url.decode(made.record.token.split(".")[1])))
    issuer_segment, number = uri.split("/")[-2:]
    published = world.instance.settings.published_dir / "statuslists" / issuer_segment / number
    text = published.read_text()
    assert text == licenses.status_list_token(world.instance, issuer, int(number))  # what GET /statuslists serves
    claims = json_module.loads(base64url.decode(text.split(".")[1]))
    assert claims["sub"] == uri
    assert status_list.decode(claims["status_list"]).get(idx) == 1  # revoked
    sequence = trust_service.latest_trust_list(world.instance).sequence
    written = publishing.refresh_published(world.instance)
    assert written["trustlist"] == [] and trust_service.latest_trust_list(world.instance).sequence == sequence
    assert published in written["statuslists"]
    bundle = written["bundle"][0].read_bytes()
    pins = list(trust_service.root_fingerprints(world.instance).values())
    carried = {item["uri"]: item["token"] for item in bundle_format.verify(bundle, pins).bundle.status_lists}
    assert carried[uri] == published.read_text()
    # a trust list with less than republish_within left is published again (the schedule keeps it from expiring)
    due = publishing.refresh_published(world.instance, republish_within=timedelta(hours=25))
    assert due["trustlist"] and trust_service.latest_trust_list(world.instance).sequence == sequence + 1


def test_serial_year_is_the_year_in_beijing(site: tuple[World, str]) -> None:
    """17:00 UTC on 31 December is already 1 January in Beijing: the serial carries the new year."""
    from datetime import UTC, datetime

    from licenses import issuance

    world, issuer = site
    with db.session_scope(world.instance.engine) as session:
        record = issuance.get_issuer(session, issuer)
        assert issuance._next_serial(session, record, datetime(2026, 12, 31, 15, 59, tzinfo=UTC)).startswith("2026")
        assert issuance._next_serial(session, record, datetime(2026, 12, 31, 16, 0, tzinfo=UTC)).startswith("2027")


def test_concurrent_index_allocation_sqlite(site: tuple[World, str]) -> None:
    world, issuer = site
    results: list[LicenseRecord] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            made = licenses.issue(world.instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
            with lock:
                results.append(made.record)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    assert len({(r.status_list_id, r.status_index) for r in results}) == 40
    assert len({r.identifier for r in results}) == 40


# --- bulk issuance --------------------------------------------------------------------------------------------


def _batch_file(path: Path, count: int, *, bad_every: int = 0, start: int = 0) -> Path:
    codes = list(samples.SAMPLES)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(start, start + count):
            code = codes[i % len(codes)]
            record: dict[str, Any] = {"request_id": f"batch-{i}", "type": code, "fields": samples.sample(code)}
            if code == BIRTH:
                record["holder_code"] = samples.NEWBORN_ID
            if bad_every and i % bad_every == bad_every - 1:
                record["fields"] = {**record["fields"], "not_a_field": "x"}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.write("this line is not JSON\n")
    return path


def test_batch_reports_errors_and_is_resumable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, world_template: World
) -> None:
    world = copy_world(world_template, tmp_path / "home")
    issuer = _setup(world)
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", world.base_url)
    batch = _batch_file(tmp_path / "batch.jsonl", 300, bad_every=50)
    report = tmp_path / "errors.jsonl"
    args = [
        "license",
        "issue-batch",
        str(batch),
        "--issuer",
        issuer,
        "--report",
        str(report),
        "--chunk",
        "64",
        "--home",
        str(world.home),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "issued 294, already issued 0, errors 7" in out, out
    errors = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(errors) == 7 and {e["code"] for e in errors} == {"E1000", "E1001"}
    assert any("not_a_field" in e["message"] for e in errors)
    assert _count(world) == 294
    # Rerun: nothing issued twice; the same errors again.
    assert main(args) == 0
    assert "issued 0, already issued 294, errors 7" in capsys.readouterr().out
    assert _count(world) == 294
    # Resume after an interruption: a longer file whose first part was done.
    longer = _batch_file(tmp_path / "longer.jsonl", 400, bad_every=50)
    assert main([*args[:2], str(longer), *args[3:]]) == 0
    assert "issued 98, already issued 294" in capsys.readouterr().out
    with db.session_scope(world.instance.engine) as session:
        rows = session.exec(select(LicenseRecord.request_id, LicenseRecord.status_index)).all()
    assert len({r[0] for r in rows}) == len(rows) == 392
    assert len({r[1] for r in rows}) == 392


def test_batch_request_id_reuse(site: tuple[World, str]) -> None:
    """A request id repeated in a batch is skipped only when it names the same licence that was issued; reused for
    another type, or repeating a record that failed, it is an error — never "already issued" for nothing."""
    world, issuer = site
    good, bad = samples.sample(BUSINESS), {**samples.sample(BUSINESS), "uscc": "bad"}
    records = [
        licenses.BatchRecord(line=1, request_id="reuse-1", type_code=BUSINESS, fields=good),
        licenses.BatchRecord(line=2, request_id="reuse-1", type_code=BUSINESS, fields=good),
        licenses.BatchRecord(line=3, request_id="reuse-2", type_code=BUSINESS, fields=bad),
        licenses.BatchRecord(line=4, request_id="reuse-2", type_code=BUSINESS, fields=good),
    ]
    seen: list[licenses.BatchResult] = []
    licenses.issue_batch(world.instance, records, issuer_id=issuer, on_result=seen.append)
    assert [r.outcome for r in seen] == ["issued", "skipped", "error", "error"]
    assert seen[1].identifier == seen[0].identifier and "failed" in seen[3].message
    again: list[licenses.BatchResult] = []
    other_type = "11100000000013338W102"
    licenses.issue_batch(
        world.instance,
        [licenses.BatchRecord(line=1, request_id="reuse-1", type_code=other_type, fields=samples.sample(other_type))],
        issuer_id=issuer,
        on_result=again.append,
    )
    assert [(r.outcome, r.code) for r in again] == [("error", "E1004")]


def test_batch_record_without_fields_is_an_error_of_its_own(site: tuple[World, str]) -> None:
    """A record built in code without fields (and without a read error) is reported as such, and the batch goes on."""
    world, issuer = site
    records = [
        licenses.BatchRecord(line=1, request_id="nofields-1", type_code=BUSINESS),
        licenses.BatchRecord(line=2, request_id="nofields-2", type_code=BUSINESS, fields=samples.sample(BUSINESS)),
    ]
    seen: list[licenses.BatchResult] = []
    licenses.issue_batch(world.instance, records, issuer_id=issuer, on_result=seen.append)
    assert [(r.outcome, r.code) for r in seen] == [("error", Code.INVALID_INPUT.label), ("issued", None)]
    assert seen[0].message == "the record has no licence fields"


def test_batch_csv(tmp_path: Path, site: tuple[World, str]) -> None:
    world, issuer = site
    csv_file = tmp_path / "food.csv"
    food = samples.sample("11100000000013338W102")
    header = ["request_id", "type", *food]
    rows = [header]
    for i in range(5):
        rows.append(
            [
                f"csv-{i}",
                "11100000000013338W102",
                *[json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in food.values()],
            ]
        )
    import csv

    with csv_file.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    from licenses import batch

    records = [
        licenses.BatchRecord(
            line=r["line"],
            request_id=r["request_id"],
            type_code=r.get("type_code", ""),
            fields=r.get("fields"),
            error=r["error"],
        )
        for r in batch.read(csv_file)
    ]
    summary = licenses.issue_batch(world.instance, records, issuer_id=issuer)
    assert (summary.issued, summary.errors) == (5, 0)


def test_batch_memory_is_constant(tmp_path: Path, world_template: World) -> None:
    """Peak memory of a 3,000-record batch in a fresh process stays far below the 300 MB bound (the 100,000-record
    run is bench/licenses.py --batch; docs/PERFORMANCE.md records it)."""
    world = copy_world(world_template, tmp_path / "home")
    issuer = _setup(world)
    batch = _batch_file(tmp_path / "batch.jsonl", 3000)
    program = f"""
import sys
from tests.support.world import make_instance
from trust.service import licenses
from licenses import batch
inst = make_instance(__import__('pathlib').Path({str(world.home)!r}), {world.port})
records = (licenses.BatchRecord(line=r['line'], request_id=r['request_id'], type_code=r.get('type_code', ''),
           fields=r.get('fields'), holder_code=r.get('holder_code'), error=r['error'])
           for r in batch.read(__import__('pathlib').Path({str(batch)!r})))
summary = licenses.issue_batch(inst, records, issuer_id={issuer!r})
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would start at the (large) pytest parent's peak
peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))
print('SUMMARY', summary.issued, summary.errors, peak)
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    issued, errors, max_rss_kb = result.stdout.split("SUMMARY")[1].split()
    assert (int(issued), int(errors)) == (3000, 1)
    assert int(max_rss_kb) < 300 * 1024, max_rss_kb


# --- PostgreSQL: two processes allocating status indexes ------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


@pytest.mark.postgres
def test_status_indexes_unique_across_processes_postgres(tmp_path: Path, postgres_url: str) -> None:
    from tests.support.world import PASSPHRASE as PASS
    from trust.service import ca as ca_service
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(
        home=tmp_path, database_url=postgres_url, key_kdf_iterations=2000, public_url="http://127.0.0.1:8000"
    )
    instance = Instance(settings, passphrase=PASS)
    ca_service.init(instance)
    ca_service.enrol(instance, kind="region", code="330000", family="SM2")
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省市场监督管理局", code=AUTHORITY, license_types=[BUSINESS]
    )
    files = []
    for worker in range(2):
        path = tmp_path / f"w{worker}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for i in range(60):
                handle.write(
                    json.dumps(
                        {"request_id": f"pg-{worker}-{i}", "type": BUSINESS, "fields": samples.sample(BUSINESS)},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        files.append(path)
    program = """
import sys, pathlib
from trust.service import licenses
from trust.service.instance import Instance
from trust.settings import Settings
from licenses import batch
inst = Instance(Settings(home=pathlib.Path(sys.argv[1]), database_url=sys.argv[2], key_kdf_iterations=2000,
                public_url="http://127.0.0.1:8000"), passphrase=sys.argv[4].encode())
records = (licenses.BatchRecord(line=r['line'], request_id=r['request_id'], type_code=r.get('type_code', ''),
           fields=r.get('fields'), error=r['error']) for r in batch.read(pathlib.Path(sys.argv[3])))
print('SUMMARY', licenses.issue_batch(inst, records, issuer_id=sys.argv[5], chunk=7).issued)
"""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", program, str(tmp_path), postgres_url, str(f), PASS.decode(), issuer.id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        for f in files
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
        assert "SUMMARY 60" in out
    with db.session_scope(instance.engine) as session:
        rows = session.exec(
            select(LicenseRecord.identifier, LicenseRecord.status_list_id, LicenseRecord.status_index)
        ).all()
    assert len(rows) == 120
    assert len({(r[1], r[2]) for r in rows}) == 120
    assert len({r[0] for r in rows}) == 120
    assert token.TYP  # the module under test stays importable in the parent


def test_token_form_option_of_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, world_template: World
) -> None:
    """``--token-form``: compact (the default: kid + x5t#S256) or x5c (the chain in the header); anything else is a
    usage error (exit 3) before anything is issued."""
    world = copy_world(world_template, tmp_path / "home")
    issuer = _setup(world)
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", world.base_url)
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps(samples.sample(BUSINESS), ensure_ascii=False), encoding="utf-8")
    common = ["license", "issue", issuer, BUSINESS, "--fields", str(fields), "--home", str(world.home)]
    headers = {}
    for form in ("compact", "x5c"):
        out = tmp_path / f"{form}.jwt"
        assert main([*common, "--out", str(out), "--token-form", form]) == 0
        headers[form] = token.parse_unverified(out.read_text().strip())[0]
    default = tmp_path / "default.jwt"
    assert main([*common, "--out", str(default)]) == 0
    assert set(token.parse_unverified(default.read_text().strip())[0]) == {"alg", "typ", "kid", "x5t#S256"}
    assert "x5c" not in headers["compact"] and len(headers["x5c"]["x5c"]) == 2
    assert headers["x5c"]["x5t#S256"] == headers["compact"]["x5t#S256"]
    before = _count(world)
    assert main([*common, "--token-form", "x5t"]) == 3
    batch = _batch_file(tmp_path / "batch.jsonl", 2)
    assert main(["license", "issue-batch", str(batch), "--issuer", issuer, "--token-form", "pem"]) == 3
    assert "unknown licence token form" in capsys.readouterr().err
    assert _count(world) == before


# --- status lists by (issuer, number) (issue 15 item 2) -------------------------------------------------------------


def _add_lists(world: World, issuer_id: str, numbers: range) -> None:
    from licenses.models import StatusListRecord

    with db.session_scope(world.instance.engine) as session:
        for number in numbers:
            session.add(
                StatusListRecord(
                    issuer_id=issuer_id,
                    number=number,
                    uri=f"{world.base_url}/statuslists/{issuer_id}/{number}",
                    size=16,
                    next_index=16,  # full: issuance opens the next number
                )
            )


def _statements(world: World, action: Any) -> int:
    """The number of SQL statements run while ``action`` runs."""
    from sqlalchemy import event

    counts = [0]

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counts[0] += 1

    engine = world.instance.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return counts[0]


def test_status_lists_are_found_by_number_in_constant_work(site: tuple[World, str]) -> None:
    """List ``n`` of an issuer is one probe of the (issuer, number) index: the token of list 37 of 40 names list 37,
    and looking at every list for the bundle costs the same number of statements with 4 lists as with 40 (before,
    each list opened a session that loaded every list row of its issuer: quadratic)."""

    world, _issuer = site
    other = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省交通运输厅",
        code=make_uscc("11330000002482999"),
        license_types=[BUSINESS],
    ).id
    _add_lists(world, other, range(1, 5))
    for number in (1, 4):
        token_text = licenses.status_list_token(world.instance, other, number)
        assert json.loads(base64url.decode(token_text.split(".")[1]))["sub"].endswith(f"/{other}/{number}")
    licenses.all_status_list_tokens(world.instance)  # every token signed once (cached by list version)
    few = _statements(world, lambda: licenses.all_status_list_tokens(world.instance))
    one_of_few = _statements(world, lambda: licenses.status_list_token(world.instance, other, 4))
    _add_lists(world, other, range(5, 41))
    token_text = licenses.status_list_token(world.instance, other, 37)
    assert json.loads(base64url.decode(token_text.split(".")[1]))["sub"].endswith(f"/{other}/37")
    licenses.all_status_list_tokens(world.instance)
    many = _statements(world, lambda: licenses.all_status_list_tokens(world.instance))
    assert many == few
    assert _statements(world, lambda: licenses.status_list_token(world.instance, other, 40)) == one_of_few
    with pytest.raises(NotFoundError):
        licenses.status_list_token(world.instance, other, 41)
    # the lists are full: the next licence opens list 41 (the number after the highest, not a count)
    made = licenses.issue(world.instance, issuer_id=other, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    assert f"/statuslists/{other}/41" in base64url.decode(made.record.token.split(".")[1]).decode()
    assert [n for _i, n, _u in licenses._numbered_status_lists(world.instance, other)] == list(range(1, 42))


def test_migration_numbers_existing_status_lists(tmp_path: Path) -> None:
    """Migration 0012_scale numbers the lists each issuer already has in the order they were opened (what their URIs
    end in), and the unique index refuses a second list of the same number."""
    from alembic import command
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    url = f"sqlite:///{tmp_path / 'huren.db'}"
    engine = db.make_engine(url)
    config = db.alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0010")
    plain = create_engine(url)  # without Huren's foreign-key pragma: only the rows the migration reads
    with plain.begin() as connection:
        for row_id, issuer in enumerate(["a", "b", "a", "a", "b"], start=1):
            connection.execute(
                text(
                    "INSERT INTO status_list (id, issuer_id, uri, bits, size, next_index, version, updated_at) "
                    "VALUES (:id, :issuer, :uri, 2, 8, 0, 0, '2026-01-01 00:00:00')"
                ),
                {"id": row_id, "issuer": issuer, "uri": f"https://x/statuslists/{issuer}/{row_id}"},
            )
    db.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, issuer_id, number FROM status_list ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "a", 1), (2, "b", 1), (3, "a", 2), (4, "a", 3), (5, "b", 2)]
    with pytest.raises(IntegrityError), plain.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO status_list (issuer_id, number, uri, bits, size, next_index, version, updated_at) "
                "VALUES ('a', 2, 'https://x/other', 2, 8, 0, 0, '2026-01-01 00:00:00')"
            )
        )
