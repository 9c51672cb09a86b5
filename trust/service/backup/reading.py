"""Reading a backup archive safely: every member checked against the manifest (names, kinds, sizes, SHA-256) while it is
decompressed, within the bounds of :class:`~trust.service.backup.archive.Limits`; :func:`verify`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from trust.crypto.errors import (
    Code,
    InputError,
    UnavailableError,
)
from trust.service.backup.archive import (
    CHUNK,
    DEFAULT_LIMITS,
    MANIFEST,
    ArchiveRefused,
    Limits,
    check_name,
    parse_manifest,
    size_limit,
    too_large,
)


class _Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...


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
            size = CHUNK
        data = self.stream.read(size)
        self.total += len(data)
        if self.total > self.limits.max_total_bytes + self.limits.max_manifest_bytes + (1 << 20):
            raise too_large("the decompressed archive exceeds the total size bound", limit=self.limits.max_total_bytes)
        if not self.in_member:
            self.outside += len(data)
            if self.outside > self.limits.max_header_bytes + tarfile.RECORDSIZE:
                raise too_large("tar headers between two members exceed the bound", limit=self.limits.max_header_bytes)
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


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo, guard: _Guard, sink: _Writer | None) -> tuple[str, int]:
    """Stream one member's data (into ``sink``); returns its SHA-256 and length."""
    handle = tar.extractfile(info)
    if handle is None:  # pragma: no cover - regular files always have a data stream
        raise ArchiveRefused("not-a-regular-file", f"{info.name!r} has no data", member=info.name)
    digest = hashlib.sha256()
    length = 0
    guard.in_member = True
    try:
        while True:
            chunk = handle.read(CHUNK)
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


def scan(path: Path, limits: Limits, place: Callable[[str], Path] | None = None) -> Verified:
    """Read the whole archive once, checking every rule; with ``place``, write each member to ``place(name)``."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read backup archive {path}: {exc.strerror}") from None
    with raw:
        hashed = _HashingReader(raw)
        try:
            # Read as streams only: typeshed's file protocols for gzip and tarfile also ask for seek (and tell, write,
            # close), which neither module calls on a stream read front to back.
            with gzip.GzipFile(fileobj=hashed, mode="rb") as gz:  # type: ignore[call-overload]
                guard = _Guard(gz, limits)
                with tarfile.open(fileobj=guard, mode="r|") as tar:  # type: ignore[call-overload]
                    manifest = _scan_members(tar, guard, limits, place)
                # The tar ends with zero blocks padded to a record; anything else after it is not ours.
                while True:
                    rest = guard.read(CHUNK)
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
        while hashed.read(CHUNK):  # pragma: no cover - gzip reads to its end; a second gzip stream is refused above
            pass
    return Verified(path=path, manifest=manifest, size=hashed.size, sha256=hashed.digest.hexdigest())


def _scan_members(  # noqa: PLR0912 (one check per member property)
    tar: tarfile.TarFile, guard: _Guard, limits: Limits, place: Callable[[str], Path] | None
) -> dict[str, Any]:
    manifest: dict[str, Any] | None = None
    expected: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    count = 0
    for info in tar:
        count += 1
        if count > limits.max_members + 1:
            raise too_large(f"more than {limits.max_members} members", limit=limits.max_members)
        name = info.name
        where = check_name(name, limits)
        if not info.isreg() or info.issparse():
            kind = "symbolic link" if info.issym() else "hard link" if info.islnk() else "not a regular file"
            raise ArchiveRefused("not-a-regular-file", f"{name!r} is a {kind}", member=name)
        if info.size > size_limit(where, limits):
            raise too_large(f"{name!r} is {info.size} bytes", member=name, limit=size_limit(where, limits))
        if manifest is None:
            if where != "manifest":
                raise ArchiveRefused("manifest-missing", f"the first member is {name!r}, not {MANIFEST}", member=name)
            buffer = io.BytesIO()
            _read_member(tar, info, guard, buffer)
            manifest = parse_manifest(buffer.getvalue(), limits)
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
                digest, length = _read_member(tar, info, guard, sink)
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
def create_file(path: Path, mode: int = 0o600) -> Iterator[IO[bytes]]:
    """A new file (never an existing one, never through a link)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    with os.fdopen(fd, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def verify(archive: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> Verified:
    """Check the archive's structure, its manifest and the SHA-256 of every member; raise :class:`ArchiveRefused`."""
    return scan(Path(archive), limits)
