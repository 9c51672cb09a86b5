"""Restoring a backup into an empty home (and an empty database): verify, unpack into a staging folder, restore and
upgrade the database, republish what derives from it, then move into place; :func:`restore`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, Engine

import trust
from trust import db
from trust.crypto.errors import (
    ConflictError,
    InputError,
    UnavailableError,
)
from trust.service.backup.archive import DEFAULT_LIMITS, PGDUMP_MEMBER, SQLITE_MEMBER, ArchiveRefused, Limits
from trust.service.backup.databases import (
    copy_rows,
    database_kind,
    database_url_of,
    libpq,
    pg_clear,
    pg_relations,
    run,
    tool,
    upgrade_on,
)
from trust.service.backup.reading import create_file, scan, verify


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


def _republish(engine: Engine, public: Path) -> None:
    """Rewrite the database-derived published files (CA certificates, current CRLs, latest trust list) from the
    restored database, so the published folder matches it (the archived copy may be a moment newer)."""
    from sqlmodel import col
    from sqlmodel import select as sm_select

    from ca.models import CertificateAuthority, CrlRecord, CrlShard
    from trust.service import registry

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        with create_file(path, 0o644) as handle:
            handle.write(data)

    with db.session_scope(engine, read_only=True) as session:
        for ca in session.exec(sm_select(CertificateAuthority)).all():
            write(public / "ca" / f"{ca.id}.cer", ca.cert_der)
            latest = session.exec(
                sm_select(CrlRecord).where(CrlRecord.ca_id == ca.id).order_by(col(CrlRecord.number).desc())
            ).first()
            if latest is not None:
                write(public / "crl" / f"{ca.id}.crl", latest.der)
            for row in session.exec(sm_select(CrlShard).where(CrlShard.ca_id == ca.id)).all():
                folder = public / "crl" / (f"{ca.id}.{row.signer}" if row.signer else ca.id)
                write(folder / f"{row.shard}.crl", row.der)
                if row.delta_der is not None:
                    write(folder / f"{row.shard}.delta.crl", row.delta_der)
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
            parent.mkdir(parents=True, exist_ok=True, mode=0o700 if parts[0] in ("keys", "ceremony") else 0o755)
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
    ceremony = staging / "ceremony"
    for directory, _dirs, files in os.walk(ceremony):  # pending offline-root ceremonies, as trust root writes them
        Path(directory).chmod(0o700)
        for name in files:
            (Path(directory) / name).chmod(0o600)
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
        target_url = database_url_of(database_url)
        if database_kind(target_url) != "postgresql":
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
            relations = pg_relations(target_engine)
            if relations:
                raise ConflictError(
                    f"the target database is not empty ({len(relations)} tables or sequences); restore into an "
                    "empty database",
                    evidence={"found": ".".join(relations[0][:2])},
                )
            if source_kind == "postgresql":
                tool("pg_restore")
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
        verified = scan(archive, limits, _placer(staging, scratch))  # digests checked again while writing
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
                conninfo, env = libpq(target.url)
                run(
                    [
                        tool("pg_restore"),
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
                        upgrade_on(connection)
                        copy_rows(source, connection)
                finally:
                    source.dispose()
            revision = db.current_revision(target)
            _republish(target, staging / "public")
            shown = target.url.render_as_string(hide_password=True)
        _move_into_place(staging, home)
    except BaseException:
        if filled and target is not None:
            pg_clear(target)
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
