"""The backup archive format: a gzip tar whose first member is ``manifest.json`` (format, version, Alembic revision,
database kind, size and SHA-256 of every other member); names, limits and the manifest checked strictly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
)
from trust.formats import strict_json

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


CHUNK: Final = 1 << 20


_PART: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


KEY_SUFFIXES: Final = (".key.pem", ".json")


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


CEREMONY_STATES: Final = ("requests", "pending", "done")
"""The folders of ``<home>/ceremony`` (:mod:`trust.service.ceremony`), carried by a backup."""


def too_large(message: str, **facts: Any) -> ArchiveRefused:
    return ArchiveRefused("too-large", message, code=Code.INPUT_TOO_LARGE, **facts)


def check_name(name: str, limits: Limits) -> str:
    """The place of a member (``manifest``, ``database``, ``keys``, ``public``, ``ceremony``); refuses any other
    name."""
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
    if len(parts) == 3 and parts[0] == "ceremony" and parts[1] in CEREMONY_STATES:
        return "ceremony"  # pending offline-root ceremonies: <home>/ceremony/{requests,pending,done}/<id>.json
    raise ArchiveRefused("unexpected-member", f"{shown!r} is not a place a Huren backup writes to", member=shown)


def size_limit(place: str, limits: Limits) -> int:
    return {"manifest": limits.max_manifest_bytes, "database": limits.max_database_bytes}.get(
        place, limits.max_file_bytes
    )


def parse_manifest(data: bytes, limits: Limits) -> dict[str, Any]:  # noqa: C901, PLR0912 (one check per manifest field)
    def invalid(message: str) -> ArchiveRefused:
        return ArchiveRefused("manifest-invalid", message, member=MANIFEST)

    try:
        manifest = strict_json.loads(data, "manifest.json")
    except EncodingError as exc:
        raise invalid(exc.message) from None
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
        place = check_name(name, limits)
        if place == "manifest" or name in names:
            raise ArchiveRefused("duplicate-member", f"{name!r} is listed twice", member=name)
        if place == "database" and name != database["member"]:
            raise invalid(f"{name!r} does not match the database kind {database['kind']}")
        if size > size_limit(place, limits):
            raise too_large(f"{name!r} is {size} bytes", member=name, limit=size_limit(place, limits))
        names.add(name)
        total += size
    if total > limits.max_total_bytes:
        raise too_large(f"members add up to {total} bytes", limit=limits.max_total_bytes)
    if database["member"] not in names:
        raise invalid(f"the database member {database['member']} is not listed")
    for key in ("missing_keys", "skipped"):
        value = manifest.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"manifest field {key!r} must be a list of strings")
    return manifest
