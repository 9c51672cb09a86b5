"""``trust backup create | verify | restore``: backups of a running instance (:mod:`trust.service.backup`).

Exit codes (:mod:`trust.cli.exits`): 0 done; 3 a refused archive, an existing output file, a non-empty target
home or database; 4 the database, ``pg_dump``/``pg_restore`` or the key store failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trust.cli.common import HomeOption, console, err_console, instance

app = typer.Typer(
    help="Backups of an instance (database snapshot, key store still encrypted, published files): create, verify, "
    "restore.",
    no_args_is_help=True,
)


@app.command()
def create(
    out: Annotated[Path, typer.Option(help="Archive to write (.tar.gz); must not exist")],
    allow_missing_keys: Annotated[
        bool,
        typer.Option(help="Write the archive even if the database names keys the key store lacks (listed in it)"),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Back up the instance while it runs: database snapshot, then key store and published folder.

    The key store passphrase is never put in the archive; keep it apart."""
    from trust.service import backup as service

    result = service.create(instance(home), out, allow_missing_keys=allow_missing_keys)
    manifest = result.manifest
    for name in result.skipped:
        err_console.print(f"warning: not archived (not a regular file or an unsafe name): {name}", markup=False)
    for key_id in result.missing_keys:
        err_console.print(f"warning: the database names key {key_id}, which is not in the key store", markup=False)
    console.print(
        f"backup written to {result.path}: {len(manifest['members'])} members, {result.size} bytes, "
        f"{manifest['database']['kind']} database at revision {manifest['alembic_revision']}",
        markup=False,
    )
    console.print(f"sha256 {result.sha256}", markup=False)


@app.command()
def verify(archive: Annotated[Path, typer.Argument(help="Backup archive (.tar.gz)")]) -> None:
    """Check an archive: structure, manifest, and the SHA-256 of every member."""
    from trust.service import backup as service

    checked = service.verify(archive)
    manifest = checked.manifest
    console.print(
        f"archive OK: format {manifest['version']}, Huren {manifest['huren_version']}, created "
        f"{manifest['created_at']}, {manifest['database']['kind']} database at revision "
        f"{manifest['alembic_revision']}, {checked.count('keys')} key store files, "
        f"{checked.count('public')} published files",
        markup=False,
    )
    for key_id in manifest.get("missing_keys", []):
        err_console.print(f"warning: made without key {key_id} (the database names it)", markup=False)
    console.print(f"sha256 {checked.sha256}", markup=False)


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="Backup archive (.tar.gz)")],
    home: Annotated[Path, typer.Option("--home", help="New instance folder (must not exist or be empty)")],
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Empty PostgreSQL database to restore into (default: SQLite at <home>/huren.db). "
            "TRUST_DATABASE_URL is not consulted.",
        ),
    ] = None,
) -> None:
    """Restore an archive into a new instance folder (and an empty database), then upgrade its schema."""
    from trust.service import backup as service

    result = service.restore(archive, home, database_url=database_url)
    console.print(
        f"restored into {result.home} ({result.keys} key store files, {result.public} published files); "
        f"database {result.database} at revision {result.revision} (archive: {result.archive_revision})",
        markup=False,
    )
    console.print(
        "next: start it with the same key store passphrase and TRUST_PUBLIC_URL"
        + (f", and TRUST_DATABASE_URL={result.database} (with its password)" if result.target_kind != "sqlite" else ""),
        markup=False,
    )
