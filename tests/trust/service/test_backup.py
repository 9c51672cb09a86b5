"""Backup and restore of a running instance (``trust.service.backup``, ``trust backup ...``).

(a) SQLite: an instance with a certificate, a seal and a licence keeps serving HTTP and issuing (a writer thread
    whose every issuance stores a new key) while ``backup create`` runs; the archive is restored into a new
    home; what was issued before verifies offline with the restored instance's own bundle, the restored
    instance issues new credentials without collisions, and what was issued after the backup is absent.
(b) The same on PostgreSQL (``pg_dump``/``pg_restore``), and the SQLite archive restored into PostgreSQL.
(c) Damaged, tampered and hostile archives are refused with a specific reason and leave the target untouched.
(d) The command line, with its exit codes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import func, select

from ca.models import CertificateAuthority, IssuedCertificate
from licenses import samples
from licenses.models import LicenseRecord
from seal.models import SealRecord
from tests.conftest import require_tool
from tests.support import postgres
from tests.support.server import free_port, live_server
from tests.support.world import PASSPHRASE, ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.errors import Code, ConflictError, InputError, NotFoundError, UnavailableError
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.service import audit, backup, licenses, seals, trust
from trust.service import ca as ca_service
from trust.service.backup import databases as backup_databases
from trust.service.backup import restoring as backup_restoring
from trust.service.instance import Instance
from trust.settings import Settings
from verifier import api, context
from verifier.report import Indication

BUSINESS = "11100000000013338W101"
ZJ_AUTHORITY = make_uscc("11330000002482226")
ZJ_SM2 = "region-330000-sm2"
PUBLIC_URL = "http://127.0.0.1:8000"


def _citizen(prefix17: str) -> str:
    from stdnum.iso7064 import mod_11_2

    return prefix17 + str(mod_11_2.calc_check_digit(prefix17))


# --- scenario ---------------------------------------------------------------------------------------------


@dataclass
class Credentials:
    serial: str
    cert_pem: bytes
    es_id: str
    seal_der: bytes
    license_id: str
    license_token: str
    status_index: int


def _issue_credentials(instance: Instance, issuer_id: str, tag: str) -> Credentials:
    cert = ca_service.issue(
        instance,
        ca_id=ZJ_SM2,
        profile="person-identity",
        subject=DN(province="浙江省", common_name=f"张三 {tag}", serial_number=_citizen("33010619900101001")),
    )
    seal = seals.create(
        instance,
        ca_id=ZJ_SM2,
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name=f"合同专用章{tag}",
    )
    made = licenses.issue(instance, issuer_id=issuer_id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    pem = cx.certificate_pem(cert.certificate) + b"".join(cx.certificate_pem(c) for c in cert.chain)
    return Credentials(
        serial=cert.record.serial,
        cert_pem=pem,
        es_id=seal.es_id,
        seal_der=seal.seal_der,
        license_id=made.record.identifier,
        license_token=made.record.token,
        status_index=made.record.status_index,
    )


class Load:
    """A writer issuing certificates with new keys, and an HTTP client reading, until stopped."""

    def __init__(self, instance: Instance, base_url: str):
        self.instance = instance
        self.base_url = base_url
        self.stop = threading.Event()
        self.issued: list[str] = []
        self.responses: list[tuple[float, float, int]] = []  # request sent, answer received, status
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._write), threading.Thread(target=self._read)]

    def _write(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                result = ca_service.issue(
                    self.instance,
                    ca_id=ZJ_SM2,
                    profile="person-identity",
                    subject=DN(province="浙江省", common_name=f"并发 {n}", serial_number=_citizen("33010619900101002")),
                )
                self.issued.append(result.record.serial)
            except Exception as exc:  # the assertion below names it
                self.errors.append(repr(exc))
            # A breath between transactions: on SQLite /readyz takes the write lock (BEGIN IMMEDIATE) and would
            # otherwise queue behind a writer that never lets go.
            time.sleep(0.005)

    def _read(self) -> None:
        paths = ["/readyz", f"/ca/{ZJ_SM2}.cer", f"/crl/{ZJ_SM2}.crl", "/.well-known/jwks.json"]
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self.stop.is_set():
                for path in paths:
                    sent = time.monotonic()
                    try:
                        status = client.get(path).status_code
                    except httpx.HTTPError as exc:  # the assertion below names it
                        self.errors.append(f"GET {path}: {exc!r}")
                        continue
                    self.responses.append((sent, time.monotonic(), status))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(self.issued) < 3 or len(self.responses) < 8:
            if time.monotonic() > deadline or self.errors:
                self.__exit__()
                pytest.fail(f"the load did not start: {self.errors}")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


@dataclass
class Scenario:
    original: Instance
    restored: Instance
    archive: Path
    created: backup.Created
    result: backup.Restored
    before: Credentials
    after: Credentials
    window: tuple[float, float]
    rows_at_start: int
    rows_at_end: int
    load: Load
    tmp: Path


def _rows(instance: Instance, model=IssuedCertificate) -> int:
    with db.session_scope(instance.engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def round_trip(instance: Instance, tmp: Path, database_url: str | None = None) -> Scenario:
    issuer = licenses.register_issuer(
        instance, ca_id=ZJ_SM2, name="浙江省市场监督管理局", code=ZJ_AUTHORITY, license_types=[BUSINESS]
    )
    before = _issue_credentials(instance, issuer.id, "甲")
    # The demo's passphrase file: it must never travel with the keys it protects.
    secrets_dir = instance.settings.home / "secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    (secrets_dir / "passphrase").write_bytes(PASSPHRASE + b"\n")
    archive = tmp / "backup.tar.gz"
    with live_server(instance) as base_url, Load(instance, base_url) as load:
        rows_at_start = _rows(instance)
        started = time.monotonic()
        created = backup.create(instance, archive)
        window = (started, time.monotonic())
        # The service goes on after the backup too: wait (10 s at most, not a fixed nap a busy machine could
        # outlast) for the writer's next certificate and a request sent after the backup to be answered.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            _rows(instance) > rows_at_start and any(sent > window[1] for sent, _r, _s in list(load.responses))
        ):
            time.sleep(0.05)
        rows_at_end = _rows(instance)
    assert not load.errors, load.errors
    after = _issue_credentials(instance, issuer.id, "乙")
    result = backup.restore(archive, tmp / "restored", database_url=database_url)
    settings = instance.settings.model_copy(update={"home": tmp / "restored", "database_url": database_url})
    restored = Instance(settings, passphrase=PASSPHRASE)
    return Scenario(
        instance, restored, archive, created, result, before, after, window, rows_at_start, rows_at_end, load, tmp
    )


@pytest.fixture(scope="module")
def sq(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Scenario:
    tmp = tmp_path_factory.mktemp("backup-sqlite")
    world = copy_world(world_template, tmp / "home")
    return round_trip(world.instance, tmp)


def _context(instance: Instance) -> context.VerificationContext:
    bundle = json.dumps(trust.build_bundle(instance)).encode()
    return context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])


def _assert_restored(s: Scenario) -> None:
    """What every restore must give, whatever the databases."""
    restored, original = s.restored, s.original
    # Same national roots: verifiers pinned to the original keep working; the audit chain came along intact.
    assert trust.root_fingerprints(restored) == trust.root_fingerprints(original)
    chain = audit.verify(restored.engine)
    assert chain.ok and chain.entries > 0, chain
    # 1. Issued before the backup: verifies offline with the restored instance's own bundle (signed by its
    # restored root keys, so those keys decrypt with the same passphrase).
    ctx = _context(restored)
    for kind, data in (
        ("certificate", s.before.cert_pem),
        ("seal", s.before.seal_der),
        ("licence", s.before.license_token.encode()),
    ):
        report = api.verify(data, ctx)
        assert report.indication is Indication.TOTAL_PASSED, (kind, report.to_text())
    assert ca_service.get_certificate(restored, s.before.serial).status == "valid"
    # 2. Issued after the backup: absent.
    with pytest.raises(NotFoundError):
        ca_service.get_certificate(restored, s.after.serial)
    with pytest.raises(NotFoundError):
        seals.get(restored, s.after.es_id)
    with pytest.raises(NotFoundError):
        licenses.get(restored, s.after.license_id)
    # 3. Issued during the backup: the snapshot holds a prefix of the writer's certificates, and every key any
    # row names is in the restored key store and usable.
    restored_rows = _rows(restored)
    assert s.rows_at_start <= restored_rows <= s.rows_at_end
    assert s.rows_at_end > s.rows_at_start, "the writer did not issue while the backup ran"
    with db.session_scope(restored.engine, read_only=True) as session:
        serials = set(session.exec(select(IssuedCertificate.serial)).all())
        key_ids = {k for k in session.exec(select(IssuedCertificate.key_id)).all() if k}
        key_ids |= {k for k in session.exec(select(CertificateAuthority.key_id)).all() if k}
    assert set(s.load.issued) & serials, "no certificate of the writer is in the snapshot"
    stored = {info.key_id for info in restored.keystore.list()}
    assert key_ids <= stored
    last = ca_service.get_certificate(restored, sorted(set(s.load.issued) & serials)[-1])
    assert last.key_id is not None
    restored.keystore.signer(last.key_id).sign(b"restored key works")
    # 4. New credentials on the restored instance: no collision with anything restored.
    issuer_id = licenses.list_issuers(restored)[0].id
    new = _issue_credentials(restored, issuer_id, "丙")
    assert new.serial not in serials
    assert new.license_id != s.before.license_id and new.status_index != s.before.status_index
    assert seals.get(restored, new.es_id).issuer_ca_id == ZJ_SM2
    ctx = _context(restored)
    assert api.verify(new.license_token.encode(), ctx).indication is Indication.TOTAL_PASSED
    assert api.verify(new.seal_der, ctx).indication is Indication.TOTAL_PASSED


# --- (a) SQLite -------------------------------------------------------------------------------------------


def test_sqlite_round_trip_while_serving(sq: Scenario) -> None:
    assert sq.result.source_kind == sq.result.target_kind == "sqlite"
    assert sq.result.revision == sq.created.manifest["alembic_revision"]
    statuses = {status for *_times, status in sq.load.responses}
    assert statuses == {200}, statuses
    start, end = sq.window
    overlapping = [r for r in sq.load.responses if r[0] <= end and r[1] >= start]
    assert overlapping, "no HTTP request was in flight while the backup ran"
    assert any(sent > end for sent, _received, _status in sq.load.responses), "the service stopped answering"
    _assert_restored(sq)


def test_archive_holds_the_keys_as_they_were_and_never_the_passphrase(sq: Scenario) -> None:
    manifest = sq.created.manifest
    assert manifest["format"] == "huren-backup" and manifest["version"] == 1
    assert manifest["database"] == {"kind": "sqlite", "member": "database/huren.db"}
    assert manifest["missing_keys"] == [] and manifest["skipped"] == []
    names = [m["name"] for m in manifest["members"]]
    assert not any(name.startswith("secrets") for name in names)
    with tarfile.open(sq.archive, "r:gz") as tar:
        assert tar.getnames()[0] == "manifest.json"
        contents = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    blob = b"".join(contents.values())
    assert PASSPHRASE not in blob
    assert b"-----BEGIN PRIVATE KEY-----" not in blob  # only ENCRYPTED PRIVATE KEY blocks
    home_keys = sq.original.settings.keystore_dir
    for name, data in contents.items():
        if name.startswith("keys/"):
            original = home_keys / name.removeprefix("keys/")
            assert data == original.read_bytes(), name  # copied as they are, never re-encrypted
            if name.endswith(".key.pem"):
                assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert hashlib.sha256(sq.archive.read_bytes()).hexdigest() == sq.created.sha256
    assert sq.archive.stat().st_mode & 0o077 == 0  # the archive holds personal data: owner only
    restored_home = sq.result.home
    assert not (restored_home / "secrets").exists()
    assert (restored_home / "keys").stat().st_mode & 0o077 == 0
    # The published folder matches the restored database (not a moment newer).
    assert (restored_home / "public" / "trustlist.json").read_text() == trust.latest_trust_list(sq.restored).document
    assert (restored_home / "public" / "crl" / f"{ZJ_SM2}.crl").read_bytes() == ca_service.current_crl_der(
        sq.restored, ZJ_SM2
    )


def test_missing_keys_are_refused_unless_allowed(sq: Scenario, tmp_path: Path) -> None:
    home = tmp_path / "copy"
    shutil.copytree(sq.result.home, home)
    instance = Instance(Settings(home=home, key_kdf_iterations=2000), passphrase=PASSPHRASE)
    key_id = ca_service.get_certificate(instance, sq.before.serial).key_id
    assert key_id
    (home / "keys" / f"{key_id}.key.pem").unlink()
    out = tmp_path / "b.tar.gz"
    with pytest.raises(UnavailableError) as refused:
        backup.create(instance, out)
    assert refused.value.code is Code.KEYSTORE_CORRUPT and key_id in refused.value.evidence["missing"]
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["copy"]  # nothing left behind
    made = backup.create(instance, out, allow_missing_keys=True)
    assert made.missing_keys == [key_id] and backup.verify(out).manifest["missing_keys"] == [key_id]
    with pytest.raises(ConflictError):
        backup.create(instance, out)  # never over an existing file


def test_an_older_backup_is_upgraded_on_restore(tmp_path: Path) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    home = tmp_path / "old"
    home.mkdir()
    instance = Instance(Settings(home=home))
    config = db.alembic_config(instance.settings.effective_database_url)
    command.upgrade(config, "0003")
    instance.engine.dispose()
    made = backup.create(instance, tmp_path / "old.tar.gz")
    assert made.manifest["alembic_revision"] == "0003"
    result = backup.restore(tmp_path / "old.tar.gz", tmp_path / "new")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert result.archive_revision == "0003" and result.revision == head != "0003"


def test_refused_targets_change_nothing(sq: Scenario, tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    with pytest.raises(ConflictError, match="not empty"):
        backup.restore(sq.archive, occupied)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    with pytest.raises(InputError, match="does not exist"):
        backup.restore(sq.archive, tmp_path / "no" / "such" / "parent")
    with pytest.raises(InputError, match="PostgreSQL"):
        backup.restore(sq.archive, tmp_path / "x", database_url=f"sqlite:///{tmp_path / 'other.db'}")
    # A backup from a newer Huren (a schema revision this one does not know) is refused before anything is written.
    newer = _rewrite(sq.archive, tmp_path / "newer.tar.gz", manifest_edit=lambda m: m.update(alembic_revision="9999"))
    backup.verify(newer)  # the archive itself is intact
    with pytest.raises(ConflictError, match="newer"):
        backup.restore(newer, tmp_path / "y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.tar.gz", "occupied"]


# --- (c) damaged, tampered and hostile archives -----------------------------------------------------------

Member = tuple[tarfile.TarInfo, bytes | None]


def _read_members(archive: Path) -> list[Member]:
    with tarfile.open(archive, "r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]  # type: ignore[union-attr]


def _write_members(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _rewrite(
    archive: Path,
    out: Path,
    *,
    edit: Callable[[list[Member]], list[Member]] | None = None,
    manifest_edit: Callable[[dict], object] | None = None,
) -> Path:
    members = _read_members(archive)
    if manifest_edit is not None:
        info, data = members[0]
        manifest = json.loads(data or b"")
        manifest_edit(manifest)
        data = json.dumps(manifest).encode()
        info.size = len(data)
        members[0] = (info, data)
    return _write_members(out, edit(members) if edit else members)


def _regular(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _first_key(members: list[Member]) -> str:
    return next(info.name for info, _ in members if info.name.endswith(".key.pem"))


def _change_one_byte(members: list[Member]) -> list[Member]:
    target = _first_key(members)
    return [
        (info, data[:100] + bytes([data[100] ^ 0x01]) + data[101:] if info.name == target and data else data)
        for info, data in members
    ]


def _remove_one(members: list[Member]) -> list[Member]:
    target = _first_key(members)
    return [(info, data) for info, data in members if info.name != target]


def _symlink(members: list[Member]) -> list[Member]:
    link = tarfile.TarInfo("keys/evil.key.pem")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    return [*members[:2], (link, None), *members[2:]]


def _hardlink(members: list[Member]) -> list[Member]:
    link = tarfile.TarInfo("public/evil")
    link.type = tarfile.LNKTYPE
    link.linkname = "manifest.json"
    return [*members, (link, None)]


def _directory(members: list[Member]) -> list[Member]:
    folder = tarfile.TarInfo("public/sub")
    folder.type = tarfile.DIRTYPE
    return [*members, (folder, None)]


def _huge_header(members: list[Member]) -> list[Member]:
    info, data = _regular("public/notes.txt", b"x")
    info.pax_headers = {"comment": "A" * (2 << 20)}
    return [*members, (info, data)]


CASES: dict[str, tuple[Callable[[list[Member]], list[Member]], str]] = {
    "one byte changed in a key": (_change_one_byte, "digest-mismatch"),
    "a key removed": (_remove_one, "missing-member"),
    "traversal ../x": (lambda m: [*m[:3], _regular("../x", b"owned"), *m[3:]], "unsafe-name"),
    "traversal keys/../../x": (lambda m: [*m, _regular("keys/../../x", b"owned")], "unsafe-name"),
    "absolute name": (lambda m: [*m, _regular("/tmp/huren-owned", b"owned")], "unsafe-name"),
    "symbolic link": (_symlink, "not-a-regular-file"),
    "hard link": (_hardlink, "not-a-regular-file"),
    "directory entry": (_directory, "not-a-regular-file"),
    "unlisted member": (lambda m: [*m, _regular("public/extra.txt", b"hello")], "unexpected-member"),
    "unknown place": (lambda m: [*m, _regular("etc/cron.d/x", b"* * * * * root id")], "unexpected-member"),
    "manifest not first": (lambda m: [*m[1:], m[0]], "manifest-missing"),
    "duplicate member": (lambda m: [*m, m[2]], "duplicate-member"),
    "oversized tar header": (_huge_header, "too-large"),
    "empty archive": (lambda m: [], "manifest-missing"),
}


def _untouched(parent: Path, before: list[str]) -> None:
    assert sorted(p.name for p in parent.iterdir()) == before, "a refused restore left something behind"


@pytest.mark.parametrize("case", list(CASES))
def test_tampered_archives_are_refused_and_change_nothing(sq: Scenario, tmp_path: Path, case: str) -> None:
    mutate, reason = CASES[case]
    bad = _rewrite(sq.archive, tmp_path / "bad.tar.gz", edit=mutate)
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(bad)
    assert refused.value.reason == reason, refused.value.diagnostics()
    assert refused.value.code.category.value == "input"
    target = tmp_path / "target"
    target.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(backup.ArchiveRefused) as again:
        backup.restore(bad, target)
    assert again.value.reason == reason
    assert list(target.iterdir()) == []
    _untouched(tmp_path, before)
    assert not Path("/tmp/huren-owned").exists()


def test_damaged_bytes_and_non_archives_are_refused(sq: Scenario, tmp_path: Path) -> None:
    data = bytearray(sq.archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(damaged)
    assert refused.value.reason in ("malformed", "digest-mismatch", "size-mismatch", "missing-member")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(sq.archive.read_bytes()[: sq.archive.stat().st_size // 2])
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(truncated)
    assert refused.value.reason in ("malformed", "missing-member")
    for name, content in (("plain.tar.gz", b"not a gzip file at all"), ("zip.tar.gz", b"PK\x03\x04" + b"\0" * 64)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(backup.ArchiveRefused) as refused:
            backup.verify(tmp_path / name)
        assert refused.value.reason == "malformed" and refused.value.code is Code.MALFORMED_ENCODING
    trailing = tmp_path / "trailing.tar.gz"
    trailing.write_bytes(sq.archive.read_bytes() + gzip.compress(b"more data after the archive"))
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(trailing)
    assert refused.value.reason == "trailing-data"
    # A manifest that lies about a size, and one that is not a Huren manifest.
    lying = _rewrite(sq.archive, tmp_path / "lying.tar.gz", manifest_edit=lambda m: m["members"][0].update(size=1))
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(lying)
    assert refused.value.reason == "size-mismatch"
    alien = _rewrite(sq.archive, tmp_path / "alien.tar.gz", manifest_edit=lambda m: m.update(format="other"))
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(alien)
    assert refused.value.reason == "manifest-invalid"
    future = _rewrite(sq.archive, tmp_path / "future.tar.gz", manifest_edit=lambda m: m.update(version=2))
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(future)
    assert refused.value.reason == "unsupported-version"


def test_size_bounds(sq: Scenario) -> None:
    small = backup.Limits(max_database_bytes=1024)
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(sq.archive, limits=small)
    assert refused.value.reason == "too-large" and refused.value.code is Code.INPUT_TOO_LARGE
    with pytest.raises(backup.ArchiveRefused) as refused:
        backup.verify(sq.archive, limits=backup.Limits(max_members=3))
    assert refused.value.reason == "manifest-invalid"
    assert backup.verify(sq.archive).sha256 == sq.created.sha256


# --- (b) PostgreSQL ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_urls() -> Iterator[list[str]]:
    require_tool("pg_dump")
    require_tool("pg_restore")
    generators = [postgres.fresh_database() for _ in range(4)]
    urls = []
    try:
        for generator in generators:
            urls.append(next(generator))
        yield urls
    finally:
        for generator in generators[: len(urls)]:
            generator.close()


def _relations(url: str) -> list[str]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return [f"{row[0]}.{row[1]}" for row in connection.execute(text(backup_databases._USER_RELATIONS))]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_round_trip_while_serving(pg_urls: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    source_url, target_url, _cross, _spare = pg_urls
    tmp = tmp_path_factory.mktemp("backup-pg")
    settings = Settings(home=tmp / "home", database_url=source_url, public_url=PUBLIC_URL, key_kdf_iterations=2000)
    instance = Instance(settings, passphrase=PASSPHRASE)
    ca_service.init(instance)
    ca_service.enrol(instance, kind="region", code="330000", family="SM2")
    s = round_trip(instance, tmp, database_url=target_url)
    try:
        assert s.created.manifest["database"] == {"kind": "postgresql", "member": "database/huren.pgdump"}
        assert (s.result.source_kind, s.result.target_kind) == ("postgresql", "postgresql")
        assert not (s.result.home / "huren.db").exists()
        assert {status for *_times, status in s.load.responses} == {200}
        _assert_restored(s)
        # The restored instance really is on PostgreSQL.
        assert s.restored.engine.dialect.name == "postgresql"
        # Refused: a non-empty target database (the restored one), and a PostgreSQL dump into SQLite.
        with pytest.raises(ConflictError, match="not empty"):
            backup.restore(s.archive, tmp / "again", database_url=target_url)
        with pytest.raises(InputError, match="PostgreSQL"):
            backup.restore(s.archive, tmp / "again")
        assert not (tmp / "again").exists()
    finally:
        instance.engine.dispose()
        s.restored.engine.dispose()


@pytest.mark.postgres
def test_sqlite_backup_restored_into_postgresql(sq: Scenario, pg_urls: list[str], tmp_path: Path) -> None:
    # A server session in Beijing time, as a deployment in China may well run: SQLite's offset-less UTC values
    # must still land on the same instants.
    url = pg_urls[2] + "?options=-c%20timezone%3DAsia%2FShanghai"
    result = backup.restore(sq.archive, tmp_path / "moved", database_url=url)
    assert (result.source_kind, result.target_kind) == ("sqlite", "postgresql")
    restored = Instance(
        sq.original.settings.model_copy(update={"home": tmp_path / "moved", "database_url": url}),
        passphrase=PASSPHRASE,
    )
    try:
        assert restored.engine.dialect.name == "postgresql"
        # Same rows, same instants (SQLite keeps UTC wall time; PostgreSQL timestamptz) as a SQLite restore.
        sqlite_copy = Instance(Settings(home=tmp_path / "sqlite", database_url=None))
        backup.restore(sq.archive, tmp_path / "sqlite")
        with (
            db.session_scope(sqlite_copy.engine, read_only=True) as a,
            db.session_scope(restored.engine, read_only=True) as b,
        ):
            rows_a = {r.serial: r for r in a.exec(select(IssuedCertificate)).all()}
            rows_b = {r.serial: r for r in b.exec(select(IssuedCertificate)).all()}
            assert set(rows_a) == set(rows_b) and sq.before.serial in rows_b
            for serial, row in rows_b.items():
                assert row.not_before == rows_a[serial].not_before.replace(tzinfo=UTC), serial
                assert row.der == rows_a[serial].der
            assert _rows(restored, SealRecord) == _rows(sqlite_copy, SealRecord)
            assert _rows(restored, LicenseRecord) == _rows(sqlite_copy, LicenseRecord)
        assert audit.head(restored.engine) == audit.head(sqlite_copy.engine)
        assert audit.verify(restored.engine).ok  # every hashed field arrived byte for byte
        sqlite_copy.engine.dispose()
        # The copied ids are behind the sequences: new rows (events, status lists) do not collide.
        issuer_id = licenses.list_issuers(restored)[0].id
        made = _issue_credentials(restored, issuer_id, "丁")
        assert made.license_id not in {sq.before.license_id}
        licenses.set_status(restored, made.license_id, "suspended", "test")  # writes an event row
        assert api.verify(sq.before.license_token.encode(), _context(restored)).indication is Indication.TOTAL_PASSED
    finally:
        restored.engine.dispose()


@pytest.mark.postgres
def test_tampered_archive_leaves_the_postgresql_target_empty(
    sq: Scenario, pg_urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_urls[3]
    bad = _rewrite(sq.archive, tmp_path / "bad.tar.gz", edit=_change_one_byte)
    with pytest.raises(backup.ArchiveRefused):
        backup.restore(bad, tmp_path / "t", database_url=url)
    assert _relations(url) == [] and not (tmp_path / "t").exists()
    # A failure after the rows went in (here: the target home appears meanwhile) empties the database again.
    original_move = backup_restoring._move_into_place

    def occupied(staging: Path, home: Path) -> None:
        home.mkdir()
        (home / "squatter").write_text("x")
        original_move(staging, home)

    monkeypatch.setattr(backup_restoring, "_move_into_place", occupied)
    with pytest.raises(ConflictError):
        backup.restore(sq.archive, tmp_path / "late", database_url=url)
    assert _relations(url) == []
    assert [p.name for p in (tmp_path / "late").iterdir()] == ["squatter"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz", "late"]


# --- (d) command line -------------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``trust ...`` in process; registers ``trust backup`` if ``trust.cli.main`` does not yet."""
    from trust.cli import backup as backup_cli
    from trust.cli import main as cli_main

    if not any(group.name == "backup" for group in cli_main.app.registered_groups):
        monkeypatch.setattr(cli_main.app, "registered_groups", [*cli_main.app.registered_groups])
        cli_main.app.add_typer(backup_cli.app, name="backup")
    monkeypatch.delenv("TRUST_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRUST_HOME", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli_main.main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_cli(sq: Scenario, tmp_path: Path, cli) -> None:
    out = tmp_path / "cli.tar.gz"
    code, stdout, _ = cli("backup", "create", "--home", str(sq.result.home), "--out", str(out))
    assert code == 0 and "backup written" in stdout
    assert f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}" in stdout
    code, _, stderr = cli("backup", "create", "--home", str(sq.result.home), "--out", str(out))
    assert code == 3 and "E1004" in stderr and "already exists" in stderr
    code, stdout, _ = cli("backup", "verify", str(out))
    assert code == 0 and "archive OK" in stdout and "sqlite database at revision" in stdout
    bad = _rewrite(out, tmp_path / "bad.tar.gz", edit=_change_one_byte)
    code, stdout, stderr = cli("backup", "verify", str(bad))
    assert code == 3 and "E1000 invalid-input" in stderr and "reason: digest-mismatch" in stderr and not stdout
    code, _, stderr = cli("backup", "verify", str(tmp_path / "nothing.tar.gz"))
    assert code == 3 and "cannot read" in stderr
    code, stdout, _ = cli("backup", "restore", str(out), "--home", str(tmp_path / "r"))
    assert code == 0 and "restored into" in stdout and (tmp_path / "r" / "huren.db").exists()
    code, _, stderr = cli("backup", "restore", str(out), "--home", str(tmp_path / "r"))
    assert code == 3 and "not empty" in stderr
    code, _, stderr = cli("backup", "restore", str(bad), "--home", str(tmp_path / "r2"))
    assert code == 3 and "digest-mismatch" in stderr and not (tmp_path / "r2").exists()
    # An unreachable database is the environment's failure: exit 4, nothing written.
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2"
    code, _, stderr = cli("backup", "restore", str(out), "--home", str(tmp_path / "r3"), "--database-url", dead)
    assert code == 4 and "E1006" in stderr and not (tmp_path / "r3").exists()
    code, _, _ = cli("backup", "restore", str(out))
    assert code == 3  # --home is required
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert os.stat(out).st_mode & 0o077 == 0


def test_pending_ceremonies_are_backed_up_and_restored(tmp_path: Path) -> None:
    """``<home>/ceremony`` (offline-root requests exported and not yet imported) travels in the archive and comes back
    with its modes; before, a restore lost it (the archive had only the database, ``keys/`` and ``public/``)."""
    home = tmp_path / "old"
    home.mkdir()
    instance = Instance(Settings(home=home))
    db.upgrade(instance.engine)
    instance.engine.dispose()
    written = {
        "ceremony/requests/ab12.json": b'{"request": 1}',
        "ceremony/pending/ab12.json": b'{"pending": 1}',
        "ceremony/done/cd34.json": b'{"done": 1}',
    }
    for name, data in written.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        (home / name).write_bytes(data)
    made = backup.create(instance, tmp_path / "c.tar.gz")
    assert {m["name"] for m in made.manifest["members"]} >= set(written)
    backup.restore(tmp_path / "c.tar.gz", tmp_path / "new")
    for name, data in written.items():
        restored = tmp_path / "new" / name
        assert restored.read_bytes() == data, name
        assert restored.stat().st_mode & 0o777 == 0o600 and restored.parent.stat().st_mode & 0o777 == 0o700
    # a member elsewhere under ceremony/ is still refused
    from trust.service.backup.archive import DEFAULT_LIMITS, check_name

    with pytest.raises(backup.ArchiveRefused):
        check_name("ceremony/other/x.json", DEFAULT_LIMITS)
