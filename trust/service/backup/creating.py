"""Creating a backup of a running instance: database snapshot first, then the key store (still encrypted) and the
published folder, written through a hashing writer into the archive; :func:`create`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

import trust
from trust.crypto.errors import (
    Code,
    ConflictError,
    InputError,
    NotFoundError,
    UnavailableError,
)
from trust.service.backup.archive import (
    CHUNK,
    DATABASE_MEMBERS,
    DEFAULT_LIMITS,
    EXCLUDED,
    FORMAT,
    FORMAT_VERSION,
    KEY_SUFFIXES,
    MANIFEST,
    ArchiveRefused,
    Limits,
    check_name,
    size_limit,
    too_large,
)
from trust.service.backup.databases import (
    alembic_revision,
    database_kind,
    database_url_of,
    key_references,
    pg_dump,
    pgdump_revision,
    sqlite_path,
    sqlite_snapshot,
)
from trust.service.backup.reading import create_file
from trust.service.instance import Instance


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
                check_name(member, limits)
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


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
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


def create(  # noqa: PLR0912, PLR0915 (the archive's members, in order)
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
    url = database_url_of(settings.effective_database_url)
    kind = database_kind(url)
    started = datetime.now(UTC).replace(microsecond=0)
    staging = Path(tempfile.mkdtemp(prefix=".huren-backup-", dir=out_path.parent))
    try:
        (staging / "database").mkdir()
        snapshot = staging / DATABASE_MEMBERS[kind]
        # 1. The database, as one consistent snapshot.
        if kind == "sqlite":
            sqlite_snapshot(sqlite_path(url), snapshot)
            snapshot_engine = create_engine(f"sqlite:///{snapshot}", poolclass=NullPool)  # read only: no pragmas
            try:
                revision = alembic_revision(snapshot_engine)
                referenced = key_references(snapshot_engine) if revision else set()
            finally:
                snapshot_engine.dispose()
        else:
            pg_dump(url, snapshot)
            revision = pgdump_revision(snapshot)
            # Rows committed after the dump name only keys that exist by now, and keys are never deleted, so the
            # live database's references are a superset of the snapshot's.
            referenced = key_references(instance.engine) if revision else set()
        if revision is None:
            raise ConflictError("the database has no schema yet (run trust db upgrade); nothing to back up")
        # 2. The key store and the published folder, after the snapshot: every key it names exists already.
        skipped: list[str] = []
        keys = _copy_tree(settings.keystore_dir, staging, limits, skipped, "keys")
        public = _copy_tree(settings.published_dir, staging, limits, skipped, "public")
        ceremony = _copy_tree(settings.home / "ceremony", staging, limits, skipped, "ceremony")
        have = {name.removeprefix("keys/") for name in keys}
        missing = sorted(
            key_id for key_id in referenced if not all(f"{key_id}{suffix}" in have for suffix in KEY_SUFFIXES)
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
        for name in [DATABASE_MEMBERS[kind], *keys, *public, *ceremony]:
            path = staging / name
            size = path.stat().st_size
            where = check_name(name, limits)
            if size > size_limit(where, limits):
                raise too_large(f"{name} is {size} bytes", member=name, limit=size_limit(where, limits))
            total += size
            members.append({"name": name, "size": size, "sha256": file_digest(path)})
        if total > limits.max_total_bytes or len(members) > limits.max_members:
            raise too_large(f"{len(members)} members of {total} bytes exceed the archive bounds")
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
            raise too_large(f"the manifest would be {len(manifest_bytes)} bytes")
        # 4. The archive, under a temporary name, then linked into place (never over an existing file).
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
        try:
            with create_file(tmp) as raw:
                writer = _HashingWriter(raw)
                mtime = started.timestamp()
                with (
                    gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=6, mtime=mtime) as gz,
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
