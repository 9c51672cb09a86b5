"""Key store for the service's own private keys.

Callers hold key **ids** and ask the store for a :class:`~trust.crypto.signer.Signer`; they never see a
private key. :class:`KeyStore` is the interface; :class:`FileKeyStore` keeps each key in a file as PKCS#8
encrypted with PBES2 (:mod:`trust.crypto.pkcs8`). A PKCS#11 store implements the same interface — it returns
signers whose ``sign`` calls ``C_Sign`` — and callers do not change.

File layout of a :class:`FileKeyStore` directory (mode 0700)::

    keystore.json        format version, PBKDF2 salt and a passphrase check value (no key material)
    <id>.key.pem         ENCRYPTED PRIVATE KEY (PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256), mode 0600
    <id>.json            public key (PEM), family, label, creation time, mode 0600

The passphrase comes from the environment only: ``TRUST_KEY_PASSPHRASE``, or a file named by
``TRUST_KEY_PASSPHRASE_FILE`` (one of the two; both set is a configuration error). It is never a command-line
argument (it would show in ``ps`` and shell history). A wrong passphrase is detected when the store opens,
with :class:`PassphraseError`, before any key is touched.

Files are written with ``O_CREAT | O_EXCL`` and mode 0600 from the start (no window in which a key file is
readable by others), to a temporary name, fsync'd, then linked into place; an existing id is never
overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

from trust.crypto import pkcs8
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import Code, KeyStoreError, PassphraseError
from trust.crypto.keys import PrivateKey, PublicKey, generate_private_key, load_private_key, load_public_key
from trust.crypto.signer import Signer
from trust.crypto.sm2 import DEFAULT_USER_ID

PASSPHRASE_ENV: Final = "TRUST_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
PASSPHRASE_FILE_ENV: Final = "TRUST_KEY_PASSPHRASE_FILE"  # noqa: S105
MIN_PASSPHRASE_BYTES: Final = 12
_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_FORMAT: Final = 1


def passphrase_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The key store passphrase from ``TRUST_KEY_PASSPHRASE`` or the file named by ``TRUST_KEY_PASSPHRASE_FILE``."""
    env = os.environ if environ is None else environ
    direct = env.get(PASSPHRASE_ENV)
    path = env.get(PASSPHRASE_FILE_ENV)
    if direct and path:
        raise PassphraseError(
            f"both {PASSPHRASE_ENV} and {PASSPHRASE_FILE_ENV} are set; set exactly one",
            code=Code.KEYSTORE_PASSPHRASE_MISSING,
        )
    if path:
        try:
            value = Path(path).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise PassphraseError(
                f"cannot read the passphrase file named by {PASSPHRASE_FILE_ENV}: {exc.strerror}",
                code=Code.KEYSTORE_PASSPHRASE_MISSING,
            ) from None
    elif direct:
        value = direct.encode()
    else:
        raise PassphraseError(
            f"no key store passphrase: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}",
            code=Code.KEYSTORE_PASSPHRASE_MISSING,
        )
    if len(value) < MIN_PASSPHRASE_BYTES:
        raise PassphraseError(
            f"the key store passphrase must be at least {MIN_PASSPHRASE_BYTES} bytes",
            code=Code.KEYSTORE_PASSPHRASE_MISSING,
        )
    return value


@dataclass(frozen=True)
class KeyInfo:
    """Public facts about a stored key."""

    key_id: str
    family: str
    public_key: PublicKey
    label: str
    created_at: datetime
    location: str = "file"
    """Where the private key lives: ``file`` (encrypted PKCS#8 in the key store folder) or ``pkcs11 token LABEL``."""


class KeyStore(Protocol):
    """Where the service's private keys live. Callers only ever get signers and public keys."""

    def generate(self, spec: str, *, label: str = "") -> KeyInfo:
        """Create a key (``sm2``, ``rsa-3072``, ``ec-p256``, ...) inside the store."""
        ...

    def import_key(self, key: PrivateKey, *, label: str = "") -> KeyInfo: ...

    def info(self, key_id: str) -> KeyInfo: ...

    def list(self) -> list[KeyInfo]: ...

    def signer(
        self, key_id: str, algorithm: SignatureAlgorithm | None = None, *, user_id: bytes = DEFAULT_USER_ID
    ) -> Signer: ...

    def discard(self, key_id: str) -> None:
        """Remove a key that was stored for an operation that then failed (compensation, not rotation)."""
        ...


def _write_exclusive(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 and ``data``; never overwrite; no moment with wider permissions."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails with FileExistsError instead of replacing
    finally:
        tmp.unlink(missing_ok=True)


class FileKeyStore:
    """Encrypted PKCS#8 files in one directory. Thread-safe; decrypted keys are cached in memory."""

    def __init__(
        self, directory: str | os.PathLike[str], passphrase: bytes, *, iterations: int = pkcs8.DEFAULT_ITERATIONS
    ):
        self.directory = Path(directory)
        self._passphrase = passphrase
        self._iterations = iterations
        self._lock = threading.Lock()
        self._cache: dict[str, PrivateKey] = {}
        self._open()

    @classmethod
    def from_env(cls, directory: str | os.PathLike[str], **kwargs: int) -> FileKeyStore:
        return cls(directory, passphrase_from_env(), **kwargs)

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self.directory)!r})"

    # -- opening ---------------------------------------------------------------------------------------

    def _check_value(self, salt: bytes, iterations: int) -> str:
        derived = hashlib.pbkdf2_hmac("sha256", self._passphrase, salt, iterations, 32)
        return hmac.new(derived, b"huren key store passphrase check", "sha256").hexdigest()

    def _open(self) -> None:
        if not self.directory.exists():
            self.directory.mkdir(parents=True, mode=0o700)
        mode = self.directory.stat().st_mode
        if mode & (stat.S_IWGRP | stat.S_IWOTH | stat.S_IROTH):
            raise KeyStoreError(
                f"key store directory {self.directory} is readable or writable by others; chmod 700 it",
                code=Code.KEYSTORE_INSECURE,
            )
        meta_path = self.directory / "keystore.json"
        if not meta_path.exists():
            salt = os.urandom(16)
            meta = {
                "format": _FORMAT,
                "kdf": "pbkdf2-hmac-sha256",
                "salt": salt.hex(),
                "iterations": self._iterations,
                "check": self._check_value(salt, self._iterations),
            }
            with contextlib.suppress(FileExistsError):  # another process initialised it first: check theirs
                _write_exclusive(meta_path, json.dumps(meta, indent=2).encode())
        try:
            meta = json.loads(meta_path.read_text())
            salt = bytes.fromhex(meta["salt"])
            iterations = int(meta["iterations"])
            expected = str(meta["check"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"key store metadata {meta_path} is unreadable: {type(exc).__name__}") from None
        if not pkcs8.MIN_ITERATIONS <= iterations <= pkcs8.MAX_ITERATIONS:
            raise KeyStoreError(f"key store metadata {meta_path} has an out-of-range iteration count")
        if not hmac.compare_digest(self._check_value(salt, iterations), expected):
            raise PassphraseError(f"wrong key store passphrase for {self.directory}")

    # -- paths -----------------------------------------------------------------------------------------

    def _paths(self, key_id: str) -> tuple[Path, Path]:
        if not _ID_RE.match(key_id):
            raise KeyStoreError(f"invalid key id {key_id!r}", code=Code.KEYSTORE_KEY_NOT_FOUND)
        return self.directory / f"{key_id}.key.pem", self.directory / f"{key_id}.json"

    @staticmethod
    def _new_id(public: PublicKey) -> str:
        return f"{public.family.value.lower()}-{public.fingerprint()[:24]}"

    # -- KeyStore --------------------------------------------------------------------------------------

    def generate(self, spec: str, *, label: str = "") -> KeyInfo:
        return self.import_key(generate_private_key(spec), label=label)

    def import_key(self, key: PrivateKey, *, label: str = "") -> KeyInfo:
        key_id = self._new_id(key.public_key)
        key_path, meta_path = self._paths(key_id)
        encrypted = pkcs8.encrypt_private_key_pem(key, self._passphrase, iterations=self._iterations)
        created = datetime.now(UTC).replace(microsecond=0)
        meta = {
            "id": key_id,
            "family": key.public_key.family.value,
            "label": label,
            "created_at": created.isoformat(),
            "public_key": key.public_key.pem(),
        }
        # Public facts first, the encrypted key last: a crash between the two leaves a harmless .json without a
        # key (ignored by list()), never a key file the store cannot describe.
        try:
            _write_exclusive(meta_path, json.dumps(meta, indent=2).encode())
        except FileExistsError:
            raise KeyStoreError(f"key {key_id} is already in the key store", code=Code.KEYSTORE_KEY_EXISTS) from None
        try:
            _write_exclusive(key_path, encrypted)
        except BaseException:
            meta_path.unlink(missing_ok=True)
            raise
        with self._lock:
            self._cache[key_id] = key
        return KeyInfo(key_id, meta["family"], key.public_key, label, created)

    def info(self, key_id: str) -> KeyInfo:
        _key_path, meta_path = self._paths(key_id)
        try:
            meta = json.loads(meta_path.read_text())
            return KeyInfo(
                key_id=key_id,
                family=str(meta["family"]),
                public_key=load_public_key(str(meta["public_key"]).encode()),
                label=str(meta.get("label", "")),
                created_at=datetime.fromisoformat(meta["created_at"]),
            )
        except FileNotFoundError:
            raise KeyStoreError(f"no key {key_id} in the key store", code=Code.KEYSTORE_KEY_NOT_FOUND) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"key store entry {key_id} is corrupt: {type(exc).__name__}") from None

    def list(self) -> list[KeyInfo]:
        """Complete entries (public facts and encrypted key both present), sorted by id."""
        ids = sorted(p.name[: -len(".key.pem")] for p in self.directory.glob("*.key.pem"))
        return [self.info(key_id) for key_id in ids if (self.directory / f"{key_id}.json").exists()]

    def _private(self, key_id: str) -> PrivateKey:
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        key_path, _meta_path = self._paths(key_id)
        try:
            data = key_path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"no key {key_id} in the key store", code=Code.KEYSTORE_KEY_NOT_FOUND) from None
        key = load_private_key(data, self._passphrase)
        expected = self.info(key_id).public_key
        if key.public_key != expected:
            raise KeyStoreError(f"key store entry {key_id}: private key does not match its public key")
        with self._lock:
            self._cache[key_id] = key
        return key

    def signer(
        self, key_id: str, algorithm: SignatureAlgorithm | None = None, *, user_id: bytes = DEFAULT_USER_ID
    ) -> Signer:
        return self._private(key_id).signer(algorithm, user_id=user_id)

    def discard(self, key_id: str) -> None:
        key_path, meta_path = self._paths(key_id)
        with self._lock:
            self._cache.pop(key_id, None)
        key_path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
