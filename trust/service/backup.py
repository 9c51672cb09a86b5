"""Backup and restore of a running Huren instance: one gzip tar with a manifest of SHA-256 digests.

**What an instance is, and what the archive holds** (``docs/OPERATIONS.md``, "Backup and restore")::

    manifest.json            format, Huren version, time, Alembic revision, database kind, size + SHA-256 of
                             every other member (always the first member)
    database/huren.db        SQLite: a copy made with the online backup API (one consistent snapshot), or
    database/huren.pgdump    PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot)
    keys/...                 the key store folder as it is: ``keystore.json``, ``<id>.json``, ``<id>.key.pem``
                             (PKCS#8 already encrypted with the key store passphrase; never decrypted here)
    public/...               the published folder (CA certificates, CRLs, trust list, bundle)

Not in the archive: the key store **passphrase** (``TRUST_KEY_PASSPHRASE``, the file named by
``TRUST_KEY_PASSPHRASE_FILE``, and the demo's ``<home>/secrets/passphrase``). An archive holding the
passphrase next to the keys it protects would make the encryption pointless; the passphrase is kept apart
(``docs/OPERATIONS.md``, key ceremony) and must be supplied to the restored instance. Other files under the
home (the demo's ``out/``, editor droppings, temporary ``.*.tmp`` files) are not part of an instance.

**Consistency while the service keeps writing.** The database is copied first, as one snapshot; the key
store and the published folder afterwards. Keys are append-only: the key store writes a key's public facts
and then its encrypted key *before* the transaction that references it commits (``ca.authority``: keys are
stored after signing, before the commit, and discarded only if that transaction fails). So every key that a
committed row of the snapshot names already exists when the key store is copied a moment later. Keys of
transactions that commit after the snapshot may also be copied: encrypted, unreferenced, harmless. As a
check, :func:`create` reads every ``key_id``/``*_key_id`` column (of the snapshot for SQLite; of the live
database right after ``pg_dump`` for PostgreSQL — a superset of the snapshot's, since keys are never
deleted) and refuses to write an archive that lacks one of them (``allow_missing_keys`` records them in the
manifest instead).

**Restore** verifies the whole archive first, refuses a non-empty target home or a non-empty target
database, then unpacks into a temporary folder next to the target (digests checked again while writing),
restores the database, upgrades it to the current schema (Alembic, :func:`trust.db.upgrade`), rewrites the
database-derived published files (CA certificates, current CRLs, latest trust list) from the restored
database, and only then moves the folder into place. Any failure removes what it made and leaves the target
as it was. Supported: SQLite → SQLite (``<home>/huren.db``), PostgreSQL → empty PostgreSQL (``pg_restore``),
SQLite → empty PostgreSQL (rows copied in one transaction after the schema is created). PostgreSQL → SQLite
is refused.

**Hostile archives.** Only regular files with plain relative names under the four known places are
accepted: no absolute names, no ``..``, no links, devices or directories, no duplicates, nothing the manifest
does not list; sizes are bounded (:class:`Limits`) by the manifest, by the tar headers and by the bytes
actually decompressed, so a gzip bomb or an oversized tar header stops at the bound.

The manifest detects damage and careless edits, not a forger who rewrites the manifest too: record the
archive's SHA-256 (printed by ``trust backup create``) somewhere else and store archives where only the
operator can write. Archives hold personal data (licence holders) and the encrypted keys: keep them
encrypted at rest and access-controlled.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import quote

from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool
from sqlalchemy.types import DateTime

import trust
from trust import db
from trust.crypto.errors import (
    Code,
    ConfigError,
    ConflictError,
    InputError,
    NotFoundError,
    UnavailableError,
)
from trust.service.instance import Instance

FORMAT: Final = "huren-backup"
FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
SQLITE_MEMBER: Final = "database/huren.db"
PGDUMP_MEMBER: Final = "database/huren.pgdump"
DATABASE_MEMBERS: Final = {"sqlite": SQLITE_MEMBER, "postgresql": PGDUMP_MEMBER}
EXCLUDED: Final = (
    "the key store passphrase (TRUST_KEY_PASSPHRASE, TRUST_KEY_PASSPHRASE_FILE, <home>/secrets/passphrase) "
    "is never archived next to the keys it protects"
)
_CHUNK: Final = 1 << 20
_PART: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")
_LIBPQ_KEYS: Final = frozenset(
    {"sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "connect_timeout", "application_name", "options"}
)
_KEY_SUFFIXES: Final = (".key.pem", ".json")


@dataclass(frozen=True)
class Limits:
    """Bounds on what an archive may hold; :func:`create` applies the same so it never writes what restore
    would refuse."""

    max_members: int = 200_000
    max_manifest_bytes: int = 32 << 20
    max_database_bytes: int = 64 << 30
    max_file_bytes: int = 64 << 20  # a key or a published file
    max_total_bytes: int = 128 << 30
    max_name_chars: int = 255
    max_depth: int = 8  # path parts, ``public/a/b/c`` is 4
    max_header_bytes: int = 1 << 20  # tar headers (PAX records, long names) between two members


DEFAULT_LIMITS: Final = Limits()


class ArchiveRefused(InputError):
    """A backup archive that is damaged, tampered with, hostile or not a Huren backup. ``evidence["reason"]``
    names the check that failed (stable slugs: ``malformed``, ``manifest-missing``, ``manifest-invalid``,
    ``unsupported-version``, ``unsafe-name``, ``not-a-regular-file``, ``duplicate-member``,
    ``unexpected-member``, ``missing-member``, ``size-mismatch``, ``digest-mismatch``, ``too-large``,
    ``trailing-data``)."""

    def __init__(self, reason: str, message: str, *, code: Code | None = None, member: str | None = None, **facts: Any):
        evidence: dict[str, Any] = {"reason": reason}
        if member is not None:
            evidence["member"] = member
        evidence.update(facts)
        super().__init__(f"backup archive refused: {message}", code=code, evidence=evidence)
        self.reason = reason


def _too_large(message: str, **facts: Any) -> ArchiveRefused:
    return ArchiveRefused("too-large", message, code=Code.INPUT_TOO_LARGE, **facts)


# --- names ------------------------------------------------------------------------------------------------


def _check_name(name: str, limits: Limits) -> str:
    """The place of a member (``manifest``, ``database``, ``keys``, ``public``); refuses any other name."""
    shown = name[:80]
    if not isinstance(name, str) or not name or len(name) > limits.max_name_chars or not name.isascii():
        raise ArchiveRefused("unsafe-name", f"member name {shown!r} is empty, too long or not ASCII", member=shown)
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise ArchiveRefused("unsafe-name", f"member name {shown!r} is absolute or not a plain path", member=shown)
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArchiveRefused("unsafe-name", f"member name {shown!r} climbs out or has empty parts", member=shown)
    if not all(_PART.fullmatch(part) for part in parts):
        raise ArchiveRefused(
            "unsafe-name", f"member name {shown!r} has characters outside [A-Za-z0-9._-]", member=shown
        )
    if name == MANIFEST:
        return "manifest"
    if len(parts) == 2 and parts[0] == "database" and name in DATABASE_MEMBERS.values():
        return "database"
    if len(parts) == 2 and parts[0] == "keys":
        return "keys"
    if 2 <= len(parts) <= limits.max_depth and parts[0] == "public":
        return "public"
    raise ArchiveRefused("unexpected-member", f"{shown!r} is not a place a Huren backup writes to", member=shown)


def _size_limit(place: str, limits: Limits) -> int:
    return {"manifest": limits.max_manifest_bytes, "database": limits.max_database_bytes}.get(
        place, limits.max_file_bytes
    )


# --- manifest ---------------------------------------------------------------------------------------------


def _parse_manifest(data: bytes, limits: Limits) -> dict[str, Any]:
    def invalid(message: str) -> ArchiveRefused:
        return ArchiveRefused("manifest-invalid", message, member=MANIFEST)

    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise invalid("manifest.json is not UTF-8 JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise invalid(f"manifest.json is not a {FORMAT} manifest")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise invalid("manifest version must be a positive integer")
    if version != FORMAT_VERSION:
        raise ArchiveRefused(
            "unsupported-version",
            f"archive format version {version}; this Huren reads version {FORMAT_VERSION}",
            member=MANIFEST,
            expected=FORMAT_VERSION,
            found=version,
        )
    for key in ("huren_version", "created_at"):
        if not isinstance(manifest.get(key), str):
            raise invalid(f"manifest field {key!r} must be a string")
    revision = manifest.get("alembic_revision")
    if not isinstance(revision, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,32}", revision):
        raise invalid("manifest field 'alembic_revision' must be a revision id")
    database = manifest.get("database")
    if not isinstance(database, dict) or DATABASE_MEMBERS.get(str(database.get("kind"))) != database.get("member"):
        raise invalid("manifest field 'database' must name the kind (sqlite or postgresql) and its member")
    members = manifest.get("members")
    if not isinstance(members, list) or len(members) > limits.max_members:
        raise invalid(f"manifest field 'members' must be a list of at most {limits.max_members} entries")
    names: set[str] = set()
    total = 0
    for entry in members:
        if not isinstance(entry, dict) or set(entry) != {"name", "size", "sha256"}:
            raise invalid("every member entry holds exactly name, size and sha256")
        name, size, digest = entry["name"], entry["size"], entry["sha256"]
        if not isinstance(name, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise invalid("member entries need a string name and a non-negative integer size")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise invalid(f"member {name[:80]!r}: sha256 must be 64 lowercase hex digits")
        place = _check_name(name, limits)
        if place == "manifest" or name in names:
            raise ArchiveRefused("duplicate-member", f"{name!r} is listed twice", member=name)
        if place == "database" and name != database["member"]:
            raise invalid(f"{name!r} does not match the database kind {database['kind']}")
        if size > _size_limit(place, limits):
            raise _too_large(f"{name!r} is {size} bytes", member=name, limit=_size_limit(place, limits))
        names.add(name)
        total += size
    if total > limits.max_total_bytes:
        raise _too_large(f"members add up to {total} bytes", limit=limits.max_total_bytes)
    if database["member"] not in names:
        raise invalid(f"the database member {database['member']} is not listed")
    for key in ("missing_keys", "skipped"):
        value = manifest.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"manifest field {key!r} must be a list of strings")
    return manifest


# --- reading archives -------------------------------------------------------------------------------------


class _HashingReader:
    """The archive file as read, hashed on the way (the archive's SHA-256 without a second pass)."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


class _Guard:
    """The decompressed tar stream, bounded: in total, and between members (tar headers, PAX records)."""

    def __init__(self, stream: IO[bytes], limits: Limits):
        self.stream = stream
        self.limits = limits
        self.total = 0
        self.outside = 0  # bytes pulled while no member's data is being read
        self.in_member = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = _CHUNK
        data = self.stream.read(size)
        self.total += len(data)
        if self.total > self.limits.max_total_bytes + self.limits.max_manifest_bytes + (1 << 20):
            raise _too_large("the decompressed archive exceeds the total size bound", limit=self.limits.max_total_bytes)
        if not self.in_member:
            self.outside += len(data)
            if self.outside > self.limits.max_header_bytes + tarfile.RECORDSIZE:
                raise _too_large("tar headers between two members exceed the bound", limit=self.limits.max_header_bytes)
        return data


@dataclass(frozen=True)
class Verified:
    """A verified archive: its manifest, size and SHA-256."""

    path: Path
    manifest: dict[str, Any]
    size: int
    sha256: str

    @property
    def members(self) -> list[dict[str, Any]]:
        return list(self.manifest["members"])

    def count(self, place: str) -> int:
        return sum(1 for m in self.members if m["name"].startswith(f"{place}/"))


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo, guard: _Guard, sink: IO[bytes] | None) -> tuple[str, int]:
    """Stream one member's data (into ``sink``); returns its SHA-256 and length."""
    handle = tar.extractfile(info)
    if handle is None:  # pragma: no cover - regular files always have a data stream
        raise ArchiveRefused("not-a-regular-file", f"{info.name!r} has no data", member=info.name)
    digest = hashlib.sha256()
    length = 0
    guard.in_member = True
    try:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            length += len(chunk)
            if sink is not None:
                sink.write(chunk)
    finally:
        guard.in_member = False
        guard.outside = 0
    return digest.hexdigest(), length


def _scan(path: Path, limits: Limits, place: Callable[[str], Path] | None = None) -> Verified:
    """Read the whole archive once, checking every rule; with ``place``, write each member to ``place(name)``."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read backup archive {path}: {exc.strerror}") from None
    with raw:
        hashed = _HashingReader(raw)
        try:
            with gzip.GzipFile(fileobj=hashed, mode="rb") as gz:  # type: ignore[call-overload]
                guard = _Guard(gz, limits)  # type: ignore[arg-type]
                with tarfile.open(fileobj=guard, mode="r|") as tar:  # type: ignore[call-overload]
                    manifest = _scan_members(tar, guard, limits, place)
                # The tar ends with zero blocks padded to a record; anything else after it is not ours.
                while True:
                    rest = guard.read(_CHUNK)
                    if not rest:
                        break
                    if rest.strip(b"\x00"):
                        raise ArchiveRefused("trailing-data", "data follows the end of the tar archive")
        except ArchiveRefused:
            raise
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            raise ArchiveRefused(
                "malformed",
                f"not a readable gzip tar archive ({type(exc).__name__}: {str(exc)[:120]})",
                code=Code.MALFORMED_ENCODING,
            ) from None
        while hashed.read(_CHUNK):  # pragma: no cover - gzip reads to its end; a second gzip stream is refused above
            pass
    return Verified(path=path, manifest=manifest, size=hashed.size, sha256=hashed.digest.hexdigest())


def _scan_members(
    tar: tarfile.TarFile, guard: _Guard, limits: Limits, place: Callable[[str], Path] | None
) -> dict[str, Any]:
    manifest: dict[str, Any] | None = None
    expected: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    count = 0
    for info in tar:
        count += 1
        if count > limits.max_members + 1:
            raise _too_large(f"more than {limits.max_members} members", limit=limits.max_members)
        name = info.name
        where = _check_name(name, limits)
        if not info.isreg() or info.issparse():
            kind = "symbolic link" if info.issym() else "hard link" if info.islnk() else "not a regular file"
            raise ArchiveRefused("not-a-regular-file", f"{name!r} is a {kind}", member=name)
        if info.size > _size_limit(where, limits):
            raise _too_large(f"{name!r} is {info.size} bytes", member=name, limit=_size_limit(where, limits))
        if manifest is None:
            if where != "manifest":
                raise ArchiveRefused("manifest-missing", f"the first member is {name!r}, not {MANIFEST}", member=name)
            buffer = io.BytesIO()
            _read_member(tar, info, guard, buffer)
            manifest = _parse_manifest(buffer.getvalue(), limits)
            expected = {m["name"]: m for m in manifest["members"]}
            continue
        if where == "manifest" or name in seen:
            raise ArchiveRefused("duplicate-member", f"{name!r} appears twice", member=name)
        entry = expected.get(name)
        if entry is None:
            raise ArchiveRefused("unexpected-member", f"{name!r} is not listed in the manifest", member=name)
        if info.size != entry["size"]:
            raise ArchiveRefused(
                "size-mismatch", f"{name!r} has a different size", member=name, expected=entry["size"], found=info.size
            )
        if place is None:
            digest, length = _read_member(tar, info, guard, None)
        else:
            sink = _Sink(place(name))
            try:
                digest, length = _read_member(tar, info, guard, sink)  # type: ignore[arg-type]
            finally:
                sink.close()
        if length != entry["size"]:  # pragma: no cover - tarfile raises on a short member first
            raise ArchiveRefused("size-mismatch", f"{name!r} is truncated", member=name)
        if digest != entry["sha256"]:
            raise ArchiveRefused(
                "digest-mismatch",
                f"{name!r} does not match its SHA-256 in the manifest",
                member=name,
                expected=entry["sha256"],
                found=digest,
            )
        seen.add(name)
    if manifest is None:
        raise ArchiveRefused("manifest-missing", f"the archive is empty (no {MANIFEST})")
    missing = sorted(set(expected) - seen)
    if missing:
        raise ArchiveRefused(
            "missing-member",
            f"{len(missing)} listed member(s) are not in the archive",
            member=missing[0],
            count=len(missing),
        )
    return manifest


class _Sink:
    """A new file for a restored member; a failure to write is the environment's, not the archive's."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise UnavailableError(f"cannot create {path}: {exc.strerror}") from None

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            raise UnavailableError(f"cannot write {self.path}: {exc.strerror}") from None
        return len(data)

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.fsync(self.fd)
            finally:
                os.close(self.fd)
                self.fd = -1


@contextlib.contextmanager
def _create(path: Path, mode: int = 0o600) -> Iterator[IO[bytes]]:
    """A new file (never an existing one, never through a link)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    with os.fdopen(fd, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def verify(archive: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> Verified:
    """Check the archive's structure, its manifest and the SHA-256 of every member; raise :class:`ArchiveRefused`."""
    return _scan(Path(archive), limits)


# --- databases --------------------------------------------------------------------------------------------


def _url(text_url: str) -> URL:
    try:
        return make_url(text_url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from None


def _kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend in DATABASE_MEMBERS:
        return backend
    raise ConfigError(f"backups support SQLite and PostgreSQL databases, not {backend}")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UnavailableError(
            f"{name} is not installed; install the PostgreSQL client tools (version >= the server's)"
        )
    return path


def _conninfo_value(value: str) -> str:
    """A libpq connection-string value: single-quoted, backslash and quote escaped."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment carrying it (never in argv)."""
    params: dict[str, str] = {}
    for key, part in (("dbname", url.database), ("host", url.host), ("port", url.port), ("user", url.username)):
        if part is not None:
            params[key] = str(part)
    for key, value in url.query.items():
        if key in _LIBPQ_KEYS or key == "host":
            params[key] = str(value[0] if isinstance(value, tuple) else value)
    conninfo = " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - fixed tool, no shell
    except OSError as exc:
        raise UnavailableError(f"{what} could not run: {exc.strerror}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UnavailableError(f"{what} failed: {' / '.join(detail[-3:]) or f'exit {done.returncode}'}")
    return done.stdout.decode("utf-8", "replace")


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """One consistent copy with SQLite's online backup API (readers and writers of WAL mode go on)."""
    if not source.is_file():
        raise NotFoundError(f"no SQLite database at {source}")
    try:
        src = sqlite3.connect(f"file:{quote(str(source.resolve()))}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise UnavailableError(f"cannot open the SQLite database {source}: {exc}") from None
    try:
        db.create_private(target)  # the copy holds everything the database does: 0600 from the start
        dst = sqlite3.connect(target)
        try:
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(dst)  # pages=-1: the whole database in one step, under one read transaction
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
            check = dst.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise UnavailableError(f"the SQLite database {source} fails its integrity check: {check}")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise UnavailableError(f"SQLite backup of {source} failed: {exc}") from None
    finally:
        src.close()


def _pg_dump(url: URL, target: Path) -> None:
    conninfo, env = _libpq(url)
    _run(
        [
            _tool("pg_dump"),
            "--format=custom",
            "--compress=0",
            "--no-password",
            f"--file={target}",
            f"--dbname={conninfo}",
        ],
        env,
        "pg_dump",
    )


def _pgdump_revision(dump: Path) -> str | None:
    """The Alembic revision recorded in a custom-format dump (its ``alembic_version`` data)."""
    out = _run(
        [_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(dump)],
        dict(os.environ),
        "pg_restore (reading the dump)",
    )
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line:
            value = lines[i + 1].strip() if i + 1 < len(lines) else "\\."
            return None if value == "\\." else value
    return None


def _key_references(engine: Engine) -> set[str]:
    """Every key id the database names: columns ``key_id`` and ``*_key_id`` of every table."""
    found: set[str] = set()
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise UnavailableError(f"database unavailable: {exc.orig}") from None
    with connection:
        inspector = inspect(connection)
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                name = column["name"]
                if name == "key_id" or name.endswith("_key_id"):
                    q = connection.dialect.identifier_preparer.quote
                    rows = connection.exec_driver_sql(
                        f"SELECT DISTINCT {q(name)} FROM {q(table)} WHERE {q(name)} IS NOT NULL"  # noqa: S608 - reflected names
                    )
                    found.update(str(row[0]) for row in rows)
    return found


def _revision(engine: Engine) -> str | None:
    try:
        return db.current_revision(engine)
    except OperationalError as exc:
        raise UnavailableError(f"database unavailable: {exc.orig}") from None


# --- create -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)


def _copy_tree(source: Path, target: Path, limits: Limits, skipped: list[str], prefix: str) -> list[str]:
    """Copy regular files with archivable names (no links, no dot files); returns the names copied."""
    copied: list[str] = []
    if not source.is_dir():
        return copied
    for directory, dirs, files in os.walk(source, followlinks=False):
        rel_dir = Path(directory).relative_to(source)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):  # temporary files of atomic writes
                continue
            member = "/".join([prefix, *rel_dir.parts, name])
            src = Path(directory) / name
            try:
                info = src.lstat()
                _check_name(member, limits)
            except FileNotFoundError:  # removed since the listing (a discarded key of a failed transaction)
                continue
            except ArchiveRefused:
                skipped.append(member)
                continue
            if not stat.S_ISREG(info.st_mode):
                skipped.append(member)
                continue
            dst = target / member
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(src, dst, follow_symlinks=False)
            except FileNotFoundError:
                continue
            copied.append(member)
    return copied


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingWriter:
    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


def _tarinfo(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def create(
    instance: Instance,
    out: str | os.PathLike[str],
    *,
    allow_missing_keys: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Created:
    """Write a backup of ``instance`` (database snapshot, then key store and published folder) to ``out``.

    Runs while the service serves requests. ``out`` must not exist; the archive is written under a temporary
    name, fsync'd and linked into place (mode 0600), so a failed backup leaves nothing at ``out``."""
    out_path = Path(out)
    if out_path.exists() or out_path.is_symlink():
        raise ConflictError(f"{out_path} already exists; a backup never overwrites a file")
    if not out_path.parent.is_dir():
        raise InputError(f"the folder {out_path.parent} for the backup does not exist")
    settings = instance.settings
    if not settings.home.is_dir():
        raise NotFoundError(f"no instance at {settings.home} (the home folder does not exist)")
    url = _url(settings.effective_database_url)
    kind = _kind(url)
    started = datetime.now(UTC).replace(microsecond=0)
    staging = Path(tempfile.mkdtemp(prefix=".huren-backup-", dir=out_path.parent))
    try:
        (staging / "database").mkdir()
        snapshot = staging / DATABASE_MEMBERS[kind]
        # 1. The database, as one consistent snapshot.
        if kind == "sqlite":
            _sqlite_snapshot(_sqlite_path(url), snapshot)
            snapshot_engine = create_engine(f"sqlite:///{snapshot}", poolclass=NullPool)  # read only: no pragmas
            try:
                revision = _revision(snapshot_engine)
                referenced = _key_references(snapshot_engine) if revision else set()
            finally:
                snapshot_engine.dispose()
        else:
            _pg_dump(url, snapshot)
            revision = _pgdump_revision(snapshot)
            # Rows committed after the dump name only keys that exist by now, and keys are never deleted, so the
            # live database's references are a superset of the snapshot's.
            referenced = _key_references(instance.engine) if revision else set()
        if revision is None:
            raise ConflictError("the database has no schema yet (run trust db upgrade); nothing to back up")
        # 2. The key store and the published folder, after the snapshot: every key it names exists already.
        skipped: list[str] = []
        keys = _copy_tree(settings.keystore_dir, staging, limits, skipped, "keys")
        public = _copy_tree(settings.published_dir, staging, limits, skipped, "public")
        have = {name.removeprefix("keys/") for name in keys}
        missing = sorted(
            key_id for key_id in referenced if not all(f"{key_id}{suffix}" in have for suffix in _KEY_SUFFIXES)
        )
        if missing and not allow_missing_keys:
            raise UnavailableError(
                f"the database names {len(missing)} key(s) that are not in the key store {settings.keystore_dir}; "
                "no backup written (restore them from an earlier backup, or pass --allow-missing-keys to record "
                "them in the manifest)",
                code=Code.KEYSTORE_CORRUPT,
                evidence={"missing": ", ".join(missing[:10])},
            )
        # 3. The manifest: every member's size and SHA-256.
        members: list[dict[str, Any]] = []
        total = 0
        for name in [DATABASE_MEMBERS[kind], *keys, *public]:
            path = staging / name
            size = path.stat().st_size
            where = _check_name(name, limits)
            if size > _size_limit(where, limits):
                raise _too_large(f"{name} is {size} bytes", member=name, limit=_size_limit(where, limits))
            total += size
            members.append({"name": name, "size": size, "sha256": _digest(path)})
        if total > limits.max_total_bytes or len(members) > limits.max_members:
            raise _too_large(f"{len(members)} members of {total} bytes exceed the archive bounds")
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "huren_version": trust.__version__,
            "created_at": started.isoformat().replace("+00:00", "Z"),
            "alembic_revision": revision,
            "database": {"kind": kind, "member": DATABASE_MEMBERS[kind]},
            "excluded": [EXCLUDED],
            "missing_keys": missing,
            "skipped": skipped,
            "members": members,
        }
        manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
        if len(manifest_bytes) > limits.max_manifest_bytes:
            raise _too_large(f"the manifest would be {len(manifest_bytes)} bytes")
        # 4. The archive, under a temporary name, then linked into place (never over an existing file).
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
        try:
            with _create(tmp) as raw:
                writer = _HashingWriter(raw)
                mtime = started.timestamp()
                with (
                    gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=6, mtime=mtime) as gz,  # type: ignore[arg-type]
                    tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
                ):
                    tar.addfile(_tarinfo(MANIFEST, len(manifest_bytes), mtime), io.BytesIO(manifest_bytes))
                    for entry in members:
                        with (staging / entry["name"]).open("rb") as handle:
                            tar.addfile(_tarinfo(entry["name"], entry["size"], mtime), handle)
            try:
                os.link(tmp, out_path)
            except FileExistsError:
                raise ConflictError(f"{out_path} appeared while the backup was written; not overwritten") from None
        finally:
            tmp.unlink(missing_ok=True)
        return Created(out_path, writer.size, writer.digest.hexdigest(), manifest, skipped, missing)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- restore ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    home: Path
    database: str  # URL without password
    source_kind: str
    target_kind: str
    archive_revision: str
    revision: str | None
    keys: int
    public: int


def _check_home(home: Path) -> None:
    if home.is_symlink():
        raise ConflictError(f"the target home {home} is a symbolic link; name a real folder")
    if home.exists():
        if not home.is_dir():
            raise ConflictError(f"the target home {home} exists and is not a folder")
        first = next(iter(sorted(home.iterdir())), None)
        if first is not None:
            raise ConflictError(
                f"the target home {home} is not empty; restore into a new or empty folder",
                evidence={"found": first.name},
            )
    if not home.parent.is_dir():
        raise InputError(f"the folder {home.parent} for the restored home does not exist")


def _check_revision(revision: str) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    try:
        script.get_revision(revision)
    except CommandError:
        raise ConflictError(
            f"the backup's schema revision {revision} is unknown to Huren {trust.__version__} (made by a newer "
            "version?); restore it with that version",
            evidence={"revision": revision, "heads": ", ".join(script.get_heads())},
        ) from None


_USER_RELATIONS = (
    "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
)


def _pg_relations(engine: Engine) -> list[tuple[str, str, str]]:
    try:
        with engine.connect() as connection:
            return [(str(a), str(b), str(c)) for a, b, c in connection.execute(text(_USER_RELATIONS))]
    except OperationalError as exc:
        raise UnavailableError(f"target database unavailable: {exc.orig}") from None


def _pg_clear(engine: Engine) -> None:
    """Undo a failed restore into a database that was verified empty before: drop what it now holds."""
    with contextlib.suppress(OperationalError), engine.begin() as connection:
        q = connection.dialect.identifier_preparer.quote
        for schema, name, relkind in connection.execute(text(_USER_RELATIONS)).all():
            what = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(
                relkind, "SEQUENCE"
            )
            connection.exec_driver_sql(f"DROP {what} IF EXISTS {q(schema)}.{q(name)} CASCADE")


def _upgrade_on(connection: Connection) -> None:
    """Alembic upgrade to head on ``connection``, inside its transaction (as :func:`trust.db.upgrade`)."""
    from alembic import command

    config = db.alembic_config(connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _copy_rows(source: Engine, connection: Connection) -> None:
    """Every row of the (upgraded) SQLite database into the (upgraded, empty) PostgreSQL schema, in one
    transaction; then the serial sequences past the copied ids, then a row count check per table."""
    metadata = MetaData()
    metadata.reflect(connection)
    q = connection.dialect.identifier_preparer.quote
    tables = [table for table in metadata.sorted_tables if table.name != "alembic_version"]
    for table in reversed(tables):  # rows the migrations seeded (e.g. the audit head): the source has its own
        connection.execute(table.delete())
    with source.connect() as src:
        for table in tables:
            aware = [c.name for c in table.columns if isinstance(c.type, DateTime) and c.type.timezone]
            result = src.execution_options(stream_results=True).execute(select(table))
            copied = 0
            while rows := result.mappings().fetchmany(1000):
                batch = []
                for row in rows:
                    values = dict(row)
                    for name in aware:  # SQLite keeps UTC wall time without an offset
                        value = values.get(name)
                        if isinstance(value, datetime) and value.tzinfo is None:
                            values[name] = value.replace(tzinfo=UTC)
                    batch.append(values)
                connection.execute(table.insert(), batch)
                copied += len(batch)
            for column in table.primary_key.columns:
                sequence = connection.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": q(table.name), "c": column.name}
                ).scalar()
                if sequence:
                    connection.execute(
                        text(
                            f"SELECT setval(:s, COALESCE((SELECT MAX({q(column.name)}) FROM {q(table.name)}), 1), "  # noqa: S608
                            f"(SELECT MAX({q(column.name)}) FROM {q(table.name)}) IS NOT NULL)"
                        ),
                        {"s": sequence},
                    )
            target_count = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {q(table.name)}").scalar()  # noqa: S608
            if target_count != copied:  # pragma: no cover - an invariant of the copy
                raise UnavailableError(f"copy of table {table.name}: {copied} rows read, {target_count} in the target")


def _republish(engine: Engine, public: Path) -> None:
    """Rewrite the database-derived published files (CA certificates, current CRLs, latest trust list) from the
    restored database, so the published folder matches it (the archived copy may be a moment newer)."""
    from sqlmodel import col
    from sqlmodel import select as sm_select

    from ca.models import CertificateAuthority, CrlRecord
    from trust.service import registry

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        with _create(path, 0o644) as handle:
            handle.write(data)

    with db.session_scope(engine, read_only=True) as session:
        for ca in session.exec(sm_select(CertificateAuthority)).all():
            write(public / "ca" / f"{ca.id}.cer", ca.cert_der)
            latest = session.exec(
                sm_select(CrlRecord).where(CrlRecord.ca_id == ca.id).order_by(col(CrlRecord.number).desc())
            ).first()
            if latest is not None:
                write(public / "crl" / f"{ca.id}.crl", latest.der)
        trust_list = registry.latest(session)
        if trust_list is not None:
            write(public / "trustlist.json", trust_list.document.encode())


def _placer(staging: Path, scratch: Path) -> Callable[[str], Path]:
    """Where each member goes: the database to the staged home (SQLite) or to scratch (a dump), keys and
    published files under the staged home with modes the key store accepts."""

    def place(name: str) -> Path:
        if name == SQLITE_MEMBER:
            return scratch / "huren.db"
        if name == PGDUMP_MEMBER:
            return scratch / "huren.pgdump"
        parts = name.split("/")
        target = staging.joinpath(*parts)
        parent = target.parent
        if not parent.resolve().is_relative_to(staging.resolve()):  # pragma: no cover - names are checked first
            raise ArchiveRefused("unsafe-name", f"{name!r} leaves the restore folder", member=name)
        try:
            parent.mkdir(parents=True, exist_ok=True, mode=0o700 if parts[0] == "keys" else 0o755)
        except OSError as exc:
            raise UnavailableError(f"cannot create {parent}: {exc.strerror}") from None
        return target

    return place


def _finish_modes(staging: Path) -> None:
    staging.chmod(0o755)
    keys = staging / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    keys.chmod(0o700)
    for path in keys.iterdir():
        path.chmod(0o600)
    public = staging / "public"
    public.mkdir(exist_ok=True)
    for directory, _dirs, files in os.walk(public):
        Path(directory).chmod(0o755)
        for name in files:
            (Path(directory) / name).chmod(0o644)


def restore(
    archive: str | os.PathLike[str],
    home: str | os.PathLike[str],
    *,
    database_url: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Restored:
    """Restore ``archive`` into the new instance folder ``home`` — SQLite at ``<home>/huren.db``, or the empty
    PostgreSQL database ``database_url`` — and upgrade its schema. Changes nothing if anything fails."""
    archive_path = Path(archive)
    target_home = Path(home).absolute()
    target_kind = "sqlite"
    target_url: URL | None = None
    if database_url is not None:
        target_url = _url(database_url)
        if _kind(target_url) != "postgresql":
            raise InputError("--database-url names a PostgreSQL database; a SQLite restore goes to <home>/huren.db")
        target_kind = "postgresql"
    _check_home(target_home)
    verified = verify(archive_path, limits=limits)
    manifest = verified.manifest
    source_kind = manifest["database"]["kind"]
    if source_kind == "postgresql" and target_kind == "sqlite":
        raise InputError(
            "this backup holds a PostgreSQL dump; restore it into an empty PostgreSQL database (--database-url)"
        )
    _check_revision(manifest["alembic_revision"])
    target_engine = db.make_engine(target_url.render_as_string(hide_password=False)) if target_url else None
    try:
        if target_engine is not None:
            relations = _pg_relations(target_engine)
            if relations:
                raise ConflictError(
                    f"the target database is not empty ({len(relations)} tables or sequences); restore into an "
                    "empty database",
                    evidence={"found": ".".join(relations[0][:2])},
                )
            if source_kind == "postgresql":
                _tool("pg_restore")
        return _restore_into(archive_path, target_home, limits, manifest, source_kind, target_engine)
    finally:
        if target_engine is not None:
            target_engine.dispose()


def _restore_into(
    archive: Path,
    home: Path,
    limits: Limits,
    manifest: dict[str, Any],
    source_kind: str,
    target: Engine | None,
) -> Restored:
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}.restore-", dir=home.parent))
    scratch = Path(tempfile.mkdtemp(prefix=f".{home.name}.scratch-", dir=home.parent))
    filled = False
    try:
        verified = _scan(archive, limits, _placer(staging, scratch))  # digests checked again while writing
        if verified.manifest != manifest:
            raise ArchiveRefused("manifest-invalid", "the archive changed while it was being restored")
        _finish_modes(staging)
        if target is None:
            db_path = staging / "huren.db"
            (scratch / "huren.db").rename(db_path)
            engine = db.make_engine(f"sqlite:///{db_path}")
            try:
                db.upgrade(engine)
                revision = db.current_revision(engine)
                _republish(engine, staging / "public")
            finally:
                engine.dispose()
            db_path.chmod(0o600)
            shown = f"sqlite:///{home / 'huren.db'}"
        else:
            filled = True  # from here on, a failure empties the target again (it was verified empty)
            if source_kind == "postgresql":
                conninfo, env = _libpq(target.url)
                _run(
                    [
                        _tool("pg_restore"),
                        "--no-owner",
                        "--no-privileges",
                        "--single-transaction",
                        "--exit-on-error",
                        "--no-password",
                        f"--dbname={conninfo}",
                        str(scratch / "huren.pgdump"),
                    ],
                    env,
                    "pg_restore",
                )
                db.upgrade(target)
            else:
                source = db.make_engine(f"sqlite:///{scratch / 'huren.db'}")
                try:
                    db.upgrade(source)  # both sides at the same (newest) schema before rows move
                    with target.begin() as connection:
                        _upgrade_on(connection)
                        _copy_rows(source, connection)
                finally:
                    source.dispose()
            revision = db.current_revision(target)
            _republish(target, staging / "public")
            shown = target.url.render_as_string(hide_password=True)
        _move_into_place(staging, home)
    except BaseException:
        if filled and target is not None:
            _pg_clear(target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Restored(
        home=home,
        database=shown,
        source_kind=source_kind,
        target_kind="sqlite" if target is None else "postgresql",
        archive_revision=manifest["alembic_revision"],
        revision=revision,
        keys=verified.count("keys"),
        public=verified.count("public"),
    )


def _move_into_place(staging: Path, home: Path) -> None:
    """Rename the finished folder to ``home`` (over an empty folder at most; never over content)."""
    try:
        os.rename(staging, home)
    except OSError as exc:
        raise ConflictError(f"cannot move the restored instance to {home}: {exc.strerror}") from None
