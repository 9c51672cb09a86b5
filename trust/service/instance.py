"""One running Huren instance: its settings, database engine and key store, opened lazily.

The CLI and the HTTP app both build an :class:`Instance` and call the service functions with it; neither
opens a database or a key store on its own.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property

from sqlalchemy.engine import Engine

from trust import db
from trust.crypto.errors import ConfigError
from trust.crypto.keystore import PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, FileKeyStore, KeyStore
from trust.service import audit, state, tlog
from trust.settings import Settings


class Instance:
    def __init__(self, settings: Settings | None = None, *, passphrase: bytes | None = None):
        """``passphrase`` overrides the environment (tests and embedding); the CLI never passes one."""
        self.settings = settings or Settings()
        self._passphrase = passphrase
        self._lock = threading.Lock()
        audit.install()  # every change made through this instance is audited (trust.service.audit)
        state.install()  # and bumps the version verification contexts are checked against (trust.service.state)
        tlog.install()  # and every issuance is appended to the transparency log, after the audit entries (issue 19)

    def __repr__(self) -> str:
        return f"Instance(home={str(self.settings.home)!r})"

    @cached_property
    def engine(self) -> Engine:
        engine = db.make_engine(self.settings.effective_database_url)
        state.configure(engine, self.settings.state_redis_url, self.settings.rate_limit_key_prefix)
        return engine

    @cached_property
    def keystore(self) -> KeyStore:
        """The key store; opening it reads the passphrase from the environment and checks it."""
        with self._lock:
            iterations = self.settings.key_kdf_iterations
            passphrase = self._passphrase
            if passphrase is None and not (os.environ.get(PASSPHRASE_ENV) or os.environ.get(PASSPHRASE_FILE_ENV)):
                demo_secret = self.settings.home / "secrets" / "passphrase"
                if demo_secret.exists():  # written by `trust demo` when no passphrase was configured
                    passphrase = demo_secret.read_bytes().strip()
            if passphrase is not None:
                files = FileKeyStore(self.settings.keystore_dir, passphrase, iterations=iterations)
            else:
                files = FileKeyStore.from_env(self.settings.keystore_dir, iterations=iterations)
            return self._token_store(files) or files

    def _token_store(self, files: FileKeyStore) -> KeyStore | None:
        """With ``TRUST_PKCS11_MODULE`` and ``TRUST_PKCS11_TOKEN`` set: RSA and EC keys on that token, SM2 keys
        (and keys made before the token was configured) in ``files`` (docs/HSM.md)."""
        module, token = self.settings.pkcs11_module, self.settings.pkcs11_token
        if not module and not token:
            return None
        if not (module and token):
            raise ConfigError("set both TRUST_PKCS11_MODULE and TRUST_PKCS11_TOKEN, or neither")
        try:
            from trust.crypto.pkcs11 import TokenConfig, TokenKeyStore, pin_from_env
        except ImportError:
            raise ConfigError("a PKCS#11 token is configured but python-pkcs11 is not installed: huren[hsm]") from None
        config = TokenConfig(module, token, pin_from_env(), pool_size=self.settings.pkcs11_sessions)
        return TokenKeyStore(config, files)

    def prepare_storage(self) -> None:
        """Create the home folder and bring the database schema up to date."""
        self.settings.home.mkdir(parents=True, exist_ok=True)
        db.upgrade(self.engine)
