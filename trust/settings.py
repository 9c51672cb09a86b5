"""Settings from environment variables with the one prefix ``TRUST_``.

=============================  ======================================  =================================
variable                       meaning                                 default
=============================  ======================================  =================================
``TRUST_HOME``                 folder for the database, keys, output   ``./var``
``TRUST_DATABASE_URL``         any SQLAlchemy URL                      ``sqlite:///<home>/huren.db``
``TRUST_HOST`` / ``TRUST_PORT``  HTTP listen address                   ``127.0.0.1`` / ``8000``
``TRUST_WORKERS``              HTTP worker processes (PostgreSQL)      ``1``
``TRUST_MAX_REQUEST_BYTES``    request body limit                      ``16 MiB``
``TRUST_LOG_LEVEL``            ``DEBUG`` .. ``ERROR``                   ``INFO``
``TRUST_PUBLIC_URL``           base URL written into certificates      ``http://<host>:<port>``
``TRUST_REFRESH_SECONDS``      CRL / OCSP responder renewal schedule   ``3600`` (0 disables)
``TRUST_TOKEN_SECONDS``        lifetime of an access token             ``300``
``TRUST_RATE_LIMIT``           requests per minute per client          ``1200`` (0 disables)
``TRUST_ANONYMOUS_RATE_LIMIT`` per minute per address, public POSTs   ``600`` (0 disables)
``TRUST_KEY_PASSPHRASE``       key store passphrase (read by the key store only, never stored here)
``TRUST_KEY_PASSPHRASE_FILE``  file holding it (alternative)
=============================  ======================================  =================================

The passphrase variables are deliberately not fields of :class:`Settings`: they are read by
:func:`trust.crypto.keystore.passphrase_from_env` at the moment the key store opens, so no settings dump,
repr or log line can ever contain them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUST_", extra="ignore", frozen=True)

    home: Path = Field(default=Path("var"), description="Folder for the database, key store and published files")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under home by default")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    log_level: str = "INFO"
    public_url: str | None = None
    key_kdf_iterations: int = Field(default=210_000, ge=1_000, le=10_000_000)
    refresh_seconds: int = Field(default=3600, ge=0, description="Schedule for CRL/OCSP renewal; 0 disables")
    token_seconds: int = Field(default=300, ge=30, le=3600, description="Lifetime of an access token")
    rate_limit: int = Field(default=1200, ge=0, description="Requests per minute per client (all workers); 0: off")
    anonymous_rate_limit: int = Field(
        default=600, ge=0, description="Public POSTs (verify, OCSP, TSA, token) per minute per address; 0: off"
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log level must be DEBUG, INFO, WARNING or ERROR")
        return upper

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'huren.db').resolve()}"

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keys"

    @property
    def published_dir(self) -> Path:
        return self.home / "public"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def with_home(self, home: Path) -> Settings:
        return self.model_copy(update={"home": home})
