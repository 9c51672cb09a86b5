"""The OFD package (GB/T 33190-2016 clause 7.2: a ZIP container of XML and resource files), read as hostile input.

:func:`read` opens a package from bytes and returns a :class:`Package`: every file's name and content, read once,
bounded. Refused, each with a clear :class:`~trust.crypto.errors.EncodingError` (``E1700 ofd-package-invalid``) or
:class:`~trust.crypto.errors.InputError` (``E1002 input-too-large``), never a traceback and never a stall:

* input that does not start with a ZIP local file header (a polyglot with a prefix), or that zipfile cannot read;
* more than :data:`MAX_ENTRIES` entries; a file larger than :data:`MAX_FILE_BYTES` or all together larger than
  :data:`MAX_TOTAL_BYTES` once inflated; a file inflating more than :data:`MAX_RATIO` times its compressed size
  (zip bombs; the declared sizes are checked before anything is inflated, and zipfile stops at the declared size
  and checks the CRC);
* encrypted entries and compression methods other than stored and deflate;
* names that are absolute, contain ``..`` or ``.`` segments, backslashes, drive letters, control characters, or
  are longer than :data:`MAX_NAME_CHARS` (path traversal: a name is never used as a file system path, but a reader
  that unpacks must not be led out of its folder, and such a name can never be a legitimate part of a document);
* two entries with the same name, or names that differ only in case (a reader that resolves names
  case-insensitively would see another file than the one a signature's digest covers).

Names are UTF-8 when the entry says so (general purpose flag bit 11); otherwise the bytes are tried as UTF-8, then
as GB 18030 (Chinese writers that predate the flag), then kept as code page 437 as zipfile read them.

Paths inside a package (``BaseLoc``, ``FileRef``...) are resolved by :func:`resolve`: absolute ones (``/Doc_0/…``)
from the package root, relative ones from the folder of the file that holds them; the result never leaves the root.
:func:`write` makes a package from names and contents, deterministically (``OFD.xml`` first, fixed times, deflate).

Pure format code: no storage, no network.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from trust.crypto.errors import Code, EncodingError, InputError

MAX_PACKAGE_BYTES: Final = 64 * 1024 * 1024
MAX_ENTRIES: Final = 4096
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
MAX_TOTAL_BYTES: Final = 256 * 1024 * 1024
MAX_RATIO: Final = 200
"""Inflated size over compressed size, for files larger than :data:`RATIO_FLOOR` (XML compresses 10-30 times)."""
RATIO_FLOOR: Final = 1024 * 1024
MAX_NAME_CHARS: Final = 512
ZIP_MAGIC: Final = b"PK\x03\x04"
ENTRY_FILE: Final = "OFD.xml"
FIXED_TIME: Final = (2000, 1, 1, 0, 0, 0)
_BAD_NAME: Final = re.compile(r"[\x00-\x1f\x7f\\]|^[A-Za-z]:")


def _invalid(message: str, **evidence: object) -> EncodingError:
    return EncodingError(message, code=Code.OFD_PACKAGE_INVALID, evidence=evidence)


def looks_like(data: bytes) -> bool:
    """Whether ``data`` starts like a ZIP container (an OFD package, or another ZIP)."""
    return data[:4] == ZIP_MAGIC


def _decoded_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename  # pragma: no cover - gb18030 decodes every byte string zipfile produces


def check_name(name: str) -> str:
    """``name`` (an entry's name, without a trailing slash) if it is a safe relative path; else raises."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise _invalid(f"entry name of {len(name)} characters (1 to {MAX_NAME_CHARS} allowed)", name=name[:80])
    if name.startswith("/") or _BAD_NAME.search(name):
        raise _invalid(
            f"entry name {name[:200]!r} is absolute or has a backslash, drive or control character", name=name[:200]
        )
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise _invalid(f"entry name {name[:200]!r} has an empty, '.' or '..' segment (path traversal)", name=name[:200])
    return name


@dataclass(frozen=True)
class Package:
    """An OFD package's files by name (no leading slash), in the order of the ZIP's central directory."""

    files: Mapping[str, bytes]
    names: tuple[str, ...]

    def __contains__(self, name: object) -> bool:
        return name in self.files

    def get(self, name: str) -> bytes | None:
        return self.files.get(name)

    def read(self, name: str, what: str | None = None) -> bytes:
        """The content of ``name``; raises when the package has no such file."""
        data = self.files.get(name)
        if data is None:
            raise _invalid(f"{what or 'file'} /{name} is not in the package", file=name)
        return data

    def find(self, name: str) -> str | None:
        """The package's name for ``name``: itself, else the one name that equals it ignoring case (documents written
        on case-insensitive file systems refer to ``TPLS/`` for ``Tpls/``), else None."""
        if name in self.files:
            return name
        folded = name.casefold()
        matches = [n for n in self.names if n.casefold() == folded]
        return matches[0] if len(matches) == 1 else None

    def total_bytes(self) -> int:
        return sum(len(v) for v in self.files.values())


def read(data: bytes) -> Package:
    """Open an OFD package (module docstring for what is refused)."""
    if len(data) > MAX_PACKAGE_BYTES:
        raise InputError(f"OFD package of {len(data)} bytes exceeds {MAX_PACKAGE_BYTES}", code=Code.INPUT_TOO_LARGE)
    if not looks_like(data):
        raise _invalid("not an OFD package: it does not start with a ZIP local file header")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError) as exc:
        raise _invalid(f"not a readable ZIP container: {str(exc)[:200]}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise InputError(f"OFD package with {len(infos)} entries exceeds {MAX_ENTRIES}", code=Code.INPUT_TOO_LARGE)
        plan = _plan(infos)
        files: dict[str, bytes] = {}
        for name, info in plan:
            files[name] = _inflate(archive, info, name)
    if ENTRY_FILE not in files:
        raise _invalid(f"not an OFD package: no {ENTRY_FILE} at its root (GB/T 33190 clause 7.2)")
    return Package(files, tuple(files))


def _plan(infos: Iterable[zipfile.ZipInfo]) -> list[tuple[str, zipfile.ZipInfo]]:
    """The entries to read, after every check that needs no inflating."""
    plan: list[tuple[str, zipfile.ZipInfo]] = []
    seen: dict[str, str] = {}
    total = 0
    for info in infos:
        name = _decoded_name(info)
        if info.is_dir() or name.endswith("/"):
            if info.file_size:
                raise _invalid(f"directory entry {name[:200]!r} has content", name=name[:200])
            check_name(name.rstrip("/"))
            continue
        check_name(name)
        folded = name.casefold()
        if folded in seen:
            raise _invalid(
                f"entries {seen[folded]!r} and {name!r} have the same name (ignoring case): which one is meant is "
                "ambiguous",
                name=name,
            )
        seen[folded] = name
        if info.flag_bits & 0x1:
            raise _invalid(f"entry {name!r} is encrypted", name=name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _invalid(
                f"entry {name!r} uses compression method {info.compress_type} (only stored and deflate)", name=name
            )
        if info.file_size > MAX_FILE_BYTES:
            raise InputError(
                f"entry {name!r} inflates to {info.file_size} bytes, more than {MAX_FILE_BYTES}",
                code=Code.INPUT_TOO_LARGE,
                evidence={"name": name},
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InputError(
                f"entry {name!r} inflates {info.file_size // max(info.compress_size, 1)} times its size "
                f"(at most {MAX_RATIO}): a zip bomb",
                code=Code.INPUT_TOO_LARGE,
                evidence={"name": name},
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InputError(
                f"the package's files inflate to more than {MAX_TOTAL_BYTES} bytes", code=Code.INPUT_TOO_LARGE
            )
        plan.append((name, info))
    return plan


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    try:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise _invalid(f"entry {name!r} cannot be inflated: {str(exc)[:200]}", name=name) from None
    except Exception as exc:  # zlib.error and friends: the deflate stream is corrupt
        if type(exc).__module__ == "zlib":
            raise _invalid(f"entry {name!r} has a corrupt deflate stream", name=name) from None
        raise
    if len(data) != info.file_size:
        raise _invalid(f"entry {name!r} inflates to {len(data)} bytes, its header says {info.file_size}", name=name)
    return data


def resolve(location: str, base: str = "") -> str:
    """The package name a ``BaseLoc``/``FileRef``/``ST_Loc`` value points to: ``/x`` from the root, ``x`` from the
    folder ``base`` (a name without a trailing slash, "" for the root). Raises when it leaves the root or is unsafe."""
    value = location.strip()
    if not value:
        raise _invalid("an empty location", location=location)
    if value.startswith("/"):
        parts: list[str] = []
        value = value.lstrip("/")
    else:
        parts = [p for p in base.split("/") if p]
    for part in value.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _invalid(f"location {location[:200]!r} leaves the package root", location=location[:200])
            parts.pop()
            continue
        parts.append(part)
    return check_name("/".join(parts))


def folder(name: str) -> str:
    """The folder of package name ``name`` ("" at the root)."""
    return name.rsplit("/", 1)[0] if "/" in name else ""


def write(files: Mapping[str, bytes]) -> bytes:
    """A package of ``files`` (name → content): OFD.xml first, then in the order given; fixed times, deflate."""
    if ENTRY_FILE not in files:
        raise InputError(f"an OFD package needs {ENTRY_FILE}")
    order = [ENTRY_FILE, *[n for n in files if n != ENTRY_FILE]]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in order:
            check_name(name)
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            if any(ord(c) > 127 for c in name):
                info.flag_bits |= 0x800
            archive.writestr(info, files[name], compresslevel=6)
    return out.getvalue()
