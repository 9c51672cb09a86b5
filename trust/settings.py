"""Settings from environment variables with the one prefix ``TRUST_``.

=============================  ======================================  =================================
variable                       meaning                                 default
=============================  ======================================  =================================
``TRUST_HOME``                 folder for the database, keys, output   ``./var``
``TRUST_DATABASE_URL``         any SQLAlchemy URL                      ``sqlite:///<home>/huren.db``
``TRUST_HOST`` / ``TRUST_PORT``  HTTP listen address                   ``127.0.0.1`` / ``8000``
``TRUST_WORKERS``              HTTP worker processes (PostgreSQL)      ``1``
``TRUST_MAX_REQUEST_BYTES``    request body limit                      ``16 MiB``
``TRUST_MAX_REQUEST_TARGET``   request target (path and query), 414    ``8192`` bytes
``TRUST_MAX_HEADER_BYTES``     all header lines together, 431          ``32768`` bytes
``TRUST_MAX_BATCH_CERTIFICATES``  entries of one ``POST /certificates/batch``  ``500`` (at most 1000; 413 above)
``TRUST_LOG_LEVEL``            ``DEBUG`` .. ``ERROR``                   ``INFO``
``TRUST_PUBLIC_URL``           base URL written into certificates      ``http://<host>:<port>``
``TRUST_REFRESH_SECONDS``      CRL / OCSP responder renewal schedule   ``3600`` (0 disables)
``TRUST_TOKEN_SECONDS``        lifetime of an access token             ``300``
``TRUST_RATE_LIMIT``           requests per minute per client          ``1200`` (0 disables)
``TRUST_ANONYMOUS_RATE_LIMIT`` per minute per address, public POSTs   ``600`` (0 disables)
``TRUST_AUTH_FAILURE_LIMIT``   failed authentications per minute       ``30`` per address (0 disables)
``TRUST_AUTH_FAILURE_CLIENT_LIMIT``  ... per claimed client id         ``120`` (0 disables)
``TRUST_RATE_LIMIT_STORAGE``   where limits count: ``memory://`` or    ``memory://`` (each worker its own)
                               ``redis://host:port/db`` (shared)
``TRUST_RATE_LIMIT_KEY_PREFIX`` prefix of the shared storage's keys    ``huren``
``TRUST_STATE_REDIS_URL``      ``redis://host:port/db``: where workers  empty: the database
                               read the verification state version
``TRUST_FORWARDED_ALLOW_IPS``  proxies whose X-Forwarded-For counts    empty: none
``TRUST_KEY_PASSPHRASE``       key store passphrase (read by the key store only, never stored here)
``TRUST_KEY_PASSPHRASE_FILE``  file holding it (alternative)
``TRUST_PKCS11_MODULE``        PKCS#11 module of an HSM (``docs/HSM.md``)  unset: every key in files
``TRUST_PKCS11_TOKEN``         label of the token for RSA and EC keys     unset
``TRUST_PKCS11_PIN``           token user PIN (or ``TRUST_PKCS11_PIN_FILE``), read by the key store only
``TRUST_PKCS11_SESSIONS``      PKCS#11 sessions per worker process     ``4``
=============================  ======================================  =================================

The passphrase and PIN variables are deliberately not fields of :class:`Settings`: they are read by
:func:`trust.crypto.keystore.passphrase_from_env` at the moment the key store opens, so no settings dump,
repr or log line can ever contain them.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix")
REQUEST_LINE_OVERHEAD = 32
"""Bytes of a request line besides its target: method, two spaces, ``HTTP/1.1``, CRLF (with room to spare)."""


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
    pkcs11_module: str | None = Field(
        default=None, description="PKCS#11 module (.so) of the HSM; set with pkcs11_token to keep RSA/EC keys on it"
    )
    pkcs11_token: str | None = Field(default=None, description="Label of the PKCS#11 token holding the keys")
    pkcs11_sessions: int = Field(default=4, ge=1, le=64, description="PKCS#11 sessions per worker process")
    refresh_seconds: int = Field(default=3600, ge=0, description="Schedule for CRL/OCSP renewal; 0 disables")
    token_seconds: int = Field(default=300, ge=30, le=3600, description="Lifetime of an access token")
    rate_limit: int = Field(default=1200, ge=0, description="Requests per minute per client (all workers); 0: off")
    anonymous_rate_limit: int = Field(
        default=600, ge=0, description="Public POSTs (verify, OCSP, TSA, token) per minute per address; 0: off"
    )
    auth_failure_limit: int = Field(default=30, ge=0, description="Failed authentications per minute per address")
    auth_failure_client_limit: int = Field(
        default=120, ge=0, description="Failed authentications per minute naming one client id"
    )
    login_rate_limit: int = Field(
        default=10, ge=0, description="Login attempts per minute per address and per citizen ID at an OP; 0: off"
    )
    sharing_rate_limit: int = Field(
        default=600, ge=0, description="Licence-sharing requests per minute per requesting service (all workers)"
    )
    sharing_daily_quota: int = Field(
        default=20_000, ge=0, description="Licence-sharing requests per day per requesting service; 0: off"
    )
    sharing_consent_seconds: int = Field(
        default=900, ge=60, le=7 * 24 * 3600, description="Lifetime of a sharing consent unless the citizen chooses"
    )
    sharing_retry_seconds: int = Field(
        default=30, ge=0, le=3600, description="First delay before a queued sharing retrieval is tried again (doubles)"
    )
    sharing_queue_hours: int = Field(
        default=24, ge=1, le=30 * 24, description="Hours a queued sharing retrieval waits for an offline region"
    )
    sharing_consent_max_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, le=30 * 24 * 3600, description="Longest lifetime of a sharing consent"
    )
    rate_limit_storage: str = Field(
        default="memory://", description="memory:// (per worker) or redis://host:port/db (shared by all workers)"
    )
    rate_limit_key_prefix: str = Field(default="huren", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    state_redis_url: str = Field(
        default="",
        description="redis://host:port/db where workers read the version of the verification state (written there "
        "after every change, also kept in the database); empty: read from the database",
    )
    forwarded_allow_ips: str = Field(
        default="", description="Comma-separated proxy addresses or networks whose X-Forwarded-For is believed"
    )
    max_request_target: int = Field(default=8192, ge=256, le=1024 * 1024, description="Longest path + query (414)")
    max_header_bytes: int = Field(default=32768, ge=1024, le=1024 * 1024, description="All header lines (431)")
    max_batch_certificates: int = Field(
        default=500, ge=1, le=1000, description="Entries of one POST /certificates/batch (more: 413, nothing issued)"
    )
    http_parser: Literal["httptools", "h11"] = Field(
        default="httptools",
        description="HTTP/1.1 parser of trust serve: httptools (llhttp, faster) or h11 (pure Python); both refuse "
        "request heads over the limits as they arrive (trust.http.edge)",
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log level must be DEBUG, INFO, WARNING or ERROR")
        return upper

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in RATE_LIMIT_SCHEMES:
            raise ValueError(f"rate limit storage must be a URL with scheme {', '.join(RATE_LIMIT_SCHEMES)}")
        return value

    @field_validator("state_redis_url")
    @classmethod
    def _state_redis(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("the state Redis URL must be redis://, rediss:// or unix://")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"forwarded allow IPs: {item!r} is not an IP address, a network or *") from None
        return "*" if "*" in items else ",".join(items)

    @property
    def h11_max_incomplete_event_size(self) -> int:
        """h11's buffer limit for a request head: above anything the request-head limits let through, so that only
        Huren's own 414/431 refuse a head (``trust.http.edge``)."""
        return self.max_request_target + REQUEST_LINE_OVERHEAD + self.max_header_bytes + 1024

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
