"""Logs: one JSON object per line (or plain text), with every secret-looking value masked.

``configure(settings)`` installs one handler on the root logger, writing to standard error:

* ``TRUST_LOG_FORMAT`` = ``json`` or ``text``. Default: ``text`` for the command line (people read it),
  ``json`` for ``trust serve`` (a log collector reads it) — the caller passes ``default_format``.
* ``TRUST_LOG_LEVEL`` = ``DEBUG`` .. ``ERROR`` (:class:`trust.settings.Settings`, default ``INFO``).

A JSON line holds ``time`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``, ``message``, ``request_id``
(when the record or the current request has one: :data:`request_id_var`, the server's own id, set by the HTTP
layer), ``client_request_id`` (the ``X-Request-ID`` the client sent, if any: :data:`client_request_id_var`), every extra
field passed with ``extra={...}``, and ``exception`` (the formatted traceback) when there is one.

**Redaction** (:class:`RedactFilter`, on the root logger's handlers, so it sees records of every logger,
uvicorn's included): in the message, the exception text and every extra field, it masks PEM private key blocks
(encrypted ones too), ``Authorization`` header values, bearer tokens, JWS/JWT and SD-JWT compact tokens,
values of fields named like a secret (``passphrase``, ``password``, ``secret``, ``token``, ``api_key``,
``private_key``, ``cookie``, ``pin`` ...), and the configured key store passphrase itself wherever it
appears. Citizen identity numbers (GB 11643) and unified social credit codes (GB 32100) are masked to their first
6 and last 4 characters (:mod:`trust.formats.idcodes`; a URL such as ``/seals?holder_code=…`` carries them).
Bytes are never written, only their length. Redaction is a safety net: code must still not log
secrets (``docs/ARCHITECTURE.md``, trust boundaries).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final

from trust.formats import idcodes

if TYPE_CHECKING:
    from trust.settings import Settings

FORMAT_ENV: Final = "TRUST_LOG_FORMAT"
FORMATS: Final = ("json", "text")
MASK: Final = "[REDACTED]"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("huren_log_request_id", default=None)
client_request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "huren_log_client_request_id", default=None
)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colour codes
}
_MAX_DEPTH: Final = 6
_SERVER_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
MAX_SCAN: Final = 1024 * 1024
"""Characters of one value that redaction looks at; anything after is dropped unread."""
MAX_FIELD: Final = 2048
"""Characters written of one message argument or extra field (a URL in uvicorn's access line, a header)."""
MAX_MESSAGE: Final = 8192
"""Characters written of one message."""
MAX_TRACE: Final = 64 * 1024
"""Characters written of one traceback or stack."""

_SECRET_WORDS: Final = r"passphrase|passwd|password|secret|token|api[_-]?key|private[_-]?key|credential|cookie"  # noqa: S105 - names, not a secret
_SECRET_NAME: Final = re.compile(rf"(?i)({_SECRET_WORDS}|authorization|^pin$|_pin$|^pin_)")

# Every pattern below is linear in its input: no quantified group can be re-entered at many starting points of
# one run of characters (possessive quantifiers ``*+``/``++``, bounded repeats, or a start anchored by a
# lookbehind to the beginning of a run). Issue 11: one pattern that tried every start inside a run of word
# characters took 96 s on a 15,800-character URL, in the event loop.
_PATTERNS: Final = (
    # PEM private keys of any kind (PKCS#8, encrypted PKCS#8, RSA, EC, SM2 ...), also cut off before their END line.
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]{0,40})PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----\n?|\Z)", re.S
        ),
        "[REDACTED PRIVATE KEY]",
    ),
    # Authorization / Proxy-Authorization header values (scheme and credentials), as "name: value", "name=value"
    # or JSON.
    (
        re.compile(
            # name and separator; a scheme only when a value follows it; the value, which may begin with what an
            # argument's own masking left ("Bearer [REDACTED TOKEN]")
            r"(?i)((?:proxy-)?authorization[\"']?\s*+[:=]\s*+[\"']?)(?:[A-Za-z-]++\s++(?=[^\s\"',;}]))?"
            r"(?:\[REDACTED[A-Z ]{0,20}\][^\s\"',;}]*+|[^\s\"',;}]++)"
        ),
        r"\1" + MASK,
    ),
    # Bearer and Basic credentials anywhere.
    (re.compile(r"(?i)\b(bearer|basic)\s++(?!\[REDACTED)[A-Za-z0-9._~+/=-]++"), r"\1 " + MASK),
)

# JWS / JWT compact serialisations and SD-JWT (with ~disclosures); JWE has five parts and is caught too. Matched by
# :func:`_mask_tokens`: a start ``eyJ`` at a word boundary, the rest of its run of base64url characters, then at
# least two ``.segment`` and any ``~disclosure``.
_TOKEN_START: Final = re.compile(r"\beyJ")
_TOKEN_RUN: Final = re.compile(r"[A-Za-z0-9_-]*+")
_TOKEN_TAIL: Final = re.compile(r"(?:\.[A-Za-z0-9_-]*+){2,}+(?:~[A-Za-z0-9_.-]*+)*+")
_TOKEN_MASK: Final = "[REDACTED TOKEN]"  # noqa: S105 - the mask

# name=value / name: value / "name": "value" where the name says secret (quoted values up to their quote). The
# name is a whole run of ``[\w-]`` characters (the lookbehind anchors it to the run's start, so each run is read
# once) that contains a secret word, or is exactly ``pin``; :func:`_mask_assignments` then reads the value.
_SECRET_ASSIGNMENT_NAME: Final = re.compile(
    rf"(?i)(?<![\w-])(?:(?=[\w-]*?(?:{_SECRET_WORDS}))[\w-]++|pin(?![\w-]))(?=[\"']?\s*+[:=])"
)
_ASSIGNED_VALUE: Final = re.compile(
    r"([\"']?\s*+[:=]\s*+)(?:\"[^\"\r\n]*+\"|'[^'\r\n]*+'|(?!\[REDACTED)[^\s\"',;&}]++)"
)


def _mask_tokens(value: str) -> str:
    """Mask compact JWS/JWT/SD-JWT tokens. Every start inside one run of base64url characters ends at the same
    place and is followed by the same text, so when the first start of a run is not a token none of the others
    is either: the scan goes on after the run (linear, where a regex tried every start of the run)."""
    out: list[str] = []
    done = pos = 0
    while (start := _TOKEN_START.search(value, pos)) is not None:
        run_end = _TOKEN_RUN.match(value, start.end()).end()  # type: ignore[union-attr]  # always matches
        tail = _TOKEN_TAIL.match(value, run_end)
        if tail is None:
            pos = run_end
            continue
        out += (value[done : start.start()], _TOKEN_MASK)
        done = pos = tail.end()
    return "".join(out) + value[done:] if out else value


def _mask_assignments(value: str) -> str:
    """Mask the values of secret-named fields (``password=…``, ``"api_key": "…"``, ``pin: …``)."""
    out: list[str] = []
    done = pos = 0
    while (name := _SECRET_ASSIGNMENT_NAME.search(value, pos)) is not None:
        assigned = _ASSIGNED_VALUE.match(value, name.end())
        if assigned is None:
            pos = name.end()
            continue
        out += (value[done : assigned.end(1)], MASK)
        done = pos = assigned.end()
    return "".join(out) + value[done:] if out else value


def cut(value: str, limit: int) -> str:
    """``value``, or its first ``limit`` characters and how many were cut."""
    if len(value) <= limit:
        return value
    return value[:limit] + f"... [{len(value) - limit} characters cut]"


def redact_text(value: str, known: Iterable[str] = (), *, limit: int = MAX_MESSAGE) -> str:
    """``value`` with every secret-looking part masked (and every exact ``known`` secret), then cut to ``limit``
    characters. Masking comes first, so a secret near the cut is masked rather than cut in half and left readable;
    it reads at most :data:`MAX_SCAN` characters and takes time linear in them."""
    if len(value) > MAX_SCAN:
        value = value[:MAX_SCAN] + f"... [{len(value) - MAX_SCAN} characters cut]"
    for secret in known:
        if secret:
            value = value.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        value = pattern.sub(replacement, value)
    value = idcodes.mask_identifiers(_mask_assignments(_mask_tokens(value)))  # identifiers: SECURITY.md, "Privacy"
    return cut(value, limit)


def redact_value(value: Any, known: Iterable[str] = (), *, name: str = "", depth: int = 0) -> Any:
    """A JSON-safe, redacted copy of an extra field's value."""
    if name and _SECRET_NAME.search(name) and value is not None:
        return MASK
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"  # never the bytes: they may be key material
    if depth >= _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, Mapping):
        return {str(k): redact_value(v, known, name=str(k), depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, known, depth=depth + 1) for v in value]
    return redact_text(value if isinstance(value, str) else str(value), known, limit=MAX_FIELD)


def _argument(value: Any, known: Iterable[str]) -> Any:
    """A message argument as it may be written: strings masked and cut to :data:`MAX_FIELD` (a 64 KiB URL in
    uvicorn's access line is written as its first 2,048 characters), bytes as their length, the rest unchanged
    (``%d`` still needs its number)."""
    if isinstance(value, str):
        return redact_text(value, known, limit=MAX_FIELD)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    return value


class RedactFilter(logging.Filter):
    """Masks secrets in a record's message, exception text, stack and extra fields, in place (so every handler
    after it sees the masked record). ``known`` are exact secrets to mask wherever they appear."""

    def __init__(self, known: Iterable[str] = ()):
        super().__init__()
        self.known = tuple(s for s in known if s and len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_huren_redacted", False):
            return True
        if isinstance(record.args, Mapping):
            record.args = {key: _argument(value, self.known) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_argument(value, self.known) for value in record.args)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{cut(str(record.msg), MAX_FIELD)!r} (unformattable arguments)"
        record.msg = redact_text(message, self.known)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.known, limit=MAX_TRACE)
        record.exc_info = None  # the redacted text is what gets written, never a fresh traceback
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self.known, limit=MAX_TRACE)
        for key in list(vars(record)):
            if key not in _STANDARD and not key.startswith("_huren"):
                setattr(record, key, redact_value(getattr(record, key), self.known, name=key))
        record._huren_redacted = True
        return True


def _request_id(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "request_id", None)
    value = str(explicit) if explicit else request_id_var.get()
    return idcodes.mask_identifiers(value) if value else value  # a client may send any token as its X-Request-ID


def _client_request_id(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "client_request_id", None)
    value = str(explicit) if explicit else client_request_id_var.get()
    return redact_text(value, limit=MAX_FIELD) if value else None


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and key not in ("request_id", "client_request_id") and not key.startswith("_huren")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        request_id = _request_id(record)
        if request_id:
            entry["request_id"] = request_id
        client_request_id = _client_request_id(record)
        if client_request_id:
            entry["client_request_id"] = client_request_id
        for key, value in _extras(record).items():
            entry.setdefault(key, redact_value(value, name=key))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(self.formatException(record.exc_info), limit=MAX_TRACE)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``2026-11-26T01:02:03.456Z INFO trust.http [request id] message key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [moment.replace("+00:00", "Z"), record.levelname, record.name]
        request_id = _request_id(record)
        if request_id:
            parts.append(f"[{request_id}]")
        parts.append(redact_text(record.getMessage()))
        client_request_id = _client_request_id(record)
        if client_request_id:
            parts.append(f"client_request_id={json.dumps(client_request_id)}")
        parts.extend(
            f"{key}={json.dumps(redact_value(value, name=key), ensure_ascii=False, default=str)}"
            for key, value in _extras(record).items()
        )
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(self.formatException(record.exc_info), limit=MAX_TRACE)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


def resolve_format(settings: Settings | None = None, default_format: str = "text") -> str:
    """``settings.log_format`` if the settings have it, else ``TRUST_LOG_FORMAT``, else ``default_format``."""
    chosen = getattr(settings, "log_format", None) or os.environ.get(FORMAT_ENV) or default_format
    chosen = str(chosen).strip().lower()
    if chosen not in FORMATS:
        from trust.crypto.errors import ConfigError

        raise ConfigError(f"{FORMAT_ENV} must be json or text, not {chosen!r}")
    return chosen


def _known_secrets() -> list[str]:
    """The configured key store passphrase, to be masked verbatim wherever it appears."""
    from trust.crypto.keystore import PASSPHRASE_ENV

    value = os.environ.get(PASSPHRASE_ENV)
    return [value] if value else []


def configure(
    settings: Settings | None = None,
    *,
    default_format: str = "text",
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Install (or replace) Huren's handler on the root logger: format and level from the settings and the
    environment, the redaction filter on the handler. Idempotent; returns the handler."""
    chosen = resolve_format(settings, default_format)
    level = getattr(settings, "log_level", None) or os.environ.get("TRUST_LOG_LEVEL", "INFO")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name("huren")
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    redact = RedactFilter(_known_secrets())
    handler.addFilter(redact)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "huren"]:
        root.removeHandler(old)
    for other in root.handlers:  # a handler installed before ours (a library's, a test runner's) redacts too
        for stale in [f for f in other.filters if isinstance(f, RedactFilter)]:
            other.removeFilter(stale)
        other.addFilter(redact)
    root.addHandler(handler)
    root.setLevel(str(level).upper())
    for name in _SERVER_LOGGERS:  # uvicorn's default config gives these their own handlers and stops propagation
        server_logger = logging.getLogger(name)
        for own in list(server_logger.handlers):
            server_logger.removeHandler(own)
        server_logger.propagate = True
        server_logger.disabled = False
        server_logger.setLevel(logging.NOTSET)  # the root's level (TRUST_LOG_LEVEL) decides, not uvicorn's
    return handler
