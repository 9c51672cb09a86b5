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

The package is one concern per module: :mod:`~trust.service.backup.archive` (the format: members, limits, manifest),
:mod:`~trust.service.backup.reading` (reading and verifying an archive), :mod:`~trust.service.backup.databases`
(snapshots, ``pg_dump``/``pg_restore``, copying rows), :mod:`~trust.service.backup.creating` and
:mod:`~trust.service.backup.restoring`. The names below are its API.
"""

from __future__ import annotations

from trust.service.backup.archive import (
    DATABASE_MEMBERS,
    DEFAULT_LIMITS,
    EXCLUDED,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PGDUMP_MEMBER,
    SQLITE_MEMBER,
    ArchiveRefused,
    Limits,
)
from trust.service.backup.creating import (
    Created,
    create,
)
from trust.service.backup.reading import (
    Verified,
    verify,
)
from trust.service.backup.restoring import (
    Restored,
    restore,
)

__all__ = [
    "DATABASE_MEMBERS",
    "DEFAULT_LIMITS",
    "EXCLUDED",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "PGDUMP_MEMBER",
    "SQLITE_MEMBER",
    "ArchiveRefused",
    "Created",
    "Limits",
    "Restored",
    "Verified",
    "create",
    "restore",
    "verify",
]
