"""Structured logs (``trust.logs``): one JSON object per line, and no secret ever written — a private key PEM,
a bearer token, a JWT, an Authorization header or a passphrase comes out masked, in the message, in extra
fields and in tracebacks."""

from __future__ import annotations

import io
import json
import logging
import math
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from trust import logs
from trust.crypto.errors import ConfigError
from trust.settings import Settings

PASSPHRASE = "correct horse battery staple"
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwbGF0Zm9ybS0zMzAwMDAifQ.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture
def pem() -> str:
    """An unencrypted PKCS#8 private key, as a careless caller might log it."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[io.StringIO, logging.Logger]]:
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("TRUST_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure(Settings(log_level="DEBUG"), default_format="json", stream=stream)
    try:
        yield stream, logging.getLogger("trust.test.logs")
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "huren"]:
            root.removeHandler(handler)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logs.request_id_var.set(None)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _secret_parts(pem: str) -> list[str]:
    """Lines of the key's base64 body: none of them may appear anywhere in the output."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_private_key_bearer_token_and_passphrase_are_redacted_in_valid_json(capture, pem: str) -> None:
    stream, log = capture
    logs.request_id_var.set("req-42")
    log.warning(
        "loaded %s for a request with Authorization: Bearer %s, passphrase=%s",
        pem,
        JWT,
        PASSPHRASE,
        extra={
            "headers": {"Authorization": f"Bearer {JWT}", "Accept": "application/json"},
            "key_pem": pem,
            "client_passphrase": "another-secret-value",
            "note": f"the token {JWT} came with the key {pem}",
            "der": b"\x30\x82\x01\x00secret-bytes",
            "serial": "5a3f",
            "count": 3,
        },
    )
    [entry] = _lines(stream)
    assert entry["level"] == "WARNING" and entry["logger"] == "trust.test.logs"
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    assert entry["request_id"] == "req-42"
    assert entry["message"] == (
        "loaded [REDACTED PRIVATE KEY] for a request with Authorization: [REDACTED], passphrase=[REDACTED]"
    )
    assert entry["headers"] == {"Authorization": "[REDACTED]", "Accept": "application/json"}
    assert entry["key_pem"] == "[REDACTED PRIVATE KEY]"
    assert entry["client_passphrase"] == "[REDACTED]"
    assert entry["note"] == "the token [REDACTED TOKEN] came with the key [REDACTED PRIVATE KEY]"
    assert entry["der"] == "<16 bytes>"
    assert entry["serial"] == "5a3f" and entry["count"] == 3
    raw = stream.getvalue()
    for secret in [PASSPHRASE, JWT, "another-secret-value", "secret-bytes", *_secret_parts(pem)]:
        assert secret not in raw


def test_tracebacks_are_redacted(capture, pem: str) -> None:
    stream, log = capture
    try:
        raise ValueError(f"could not load {pem} with passphrase {PASSPHRASE}")
    except ValueError:
        log.exception("key import failed")
    [entry] = _lines(stream)
    assert entry["level"] == "ERROR" and entry["message"] == "key import failed"
    assert "ValueError: could not load [REDACTED PRIVATE KEY] with passphrase [REDACTED]" in entry["exception"]
    for secret in [PASSPHRASE, *_secret_parts(pem)]:
        assert secret not in stream.getvalue()


def test_other_loggers_and_sd_jwt_and_basic_credentials(capture) -> None:
    stream, _log = capture
    sd_jwt = f"{JWT}~WyJzYWx0IiwibmFtZSIsIuW8oOS4iSJd~"
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /licences?token=%s HTTP/1.1" 200', sd_jwt)
    logging.getLogger("httpx").debug("Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA== sent")
    first, second = _lines(stream)
    assert first["logger"] == "uvicorn.access"
    assert "WyJzYWx0" not in first["message"] and "eyJ" not in first["message"]
    assert second["message"] == "Proxy-Authorization: [REDACTED] sent"
    assert "dXNlcjpwYXNzd29yZA" not in stream.getvalue()


def test_level_filters_and_text_format(monkeypatch: pytest.MonkeyPatch, pem: str) -> None:
    monkeypatch.setenv("TRUST_LOG_FORMAT", "text")
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        handler = logs.configure(Settings(log_level="WARNING"), default_format="json", stream=stream)
        assert isinstance(handler.formatter, logs.TextFormatter)  # the environment beats the default
        log = logging.getLogger("trust.test.text")
        log.info("not shown")
        log.warning("key %s", pem, extra={"request_id": "r-1", "api_key": "k-123456"})
        [line] = stream.getvalue().splitlines()
        assert line.endswith('WARNING trust.test.text [r-1] key [REDACTED PRIVATE KEY] api_key="[REDACTED]"')
        logs.configure(Settings(), stream=stream)  # idempotent: still one Huren handler
        assert len([h for h in root.handlers if h.get_name() == "huren"]) == 1
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "huren"]:
            root.removeHandler(handler)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_defaults_and_bad_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUST_LOG_FORMAT", raising=False)
    assert logs.resolve_format(Settings()) == "text"
    assert logs.resolve_format(Settings(), default_format="json") == "json"
    monkeypatch.setenv("TRUST_LOG_FORMAT", "JSON")
    assert logs.resolve_format(Settings()) == "json"
    monkeypatch.setenv("TRUST_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="json or text"):
        logs.resolve_format(Settings())


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = "issued serial 5a3f to region-330000-sm2 (seal 合同专用章), 12 certificates, pinned fingerprint ab12"
    assert logs.redact_text(text) == text
    assert logs.redact_text("password: 'two words' kept=1") == "password: [REDACTED] kept=1"
    assert logs.redact_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB...cut off") == "[REDACTED PRIVATE KEY]"


def test_a_handler_installed_earlier_sees_the_redacted_record_too(monkeypatch: pytest.MonkeyPatch, pem: str) -> None:
    monkeypatch.delenv("TRUST_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    earlier, ours = io.StringIO(), io.StringIO()
    other = logging.StreamHandler(earlier)
    root.addHandler(other)
    try:
        logs.configure(Settings(), stream=ours)
        logging.getLogger("trust.test.earlier").error("leaked %s", pem)
        assert "leaked [REDACTED PRIVATE KEY]" in earlier.getvalue()
        assert "leaked [REDACTED PRIVATE KEY]" in ours.getvalue()
        assert not any(part in earlier.getvalue() + ours.getvalue() for part in _secret_parts(pem))
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "huren"]:
            root.removeHandler(handler)
        root.removeHandler(other)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_uvicorns_own_logging_config_is_taken_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's default config gives its loggers their own handlers, a level and no propagation; ``trust serve``
    and every worker install Huren's handler after it, and uvicorn's lines then come out as Huren's JSON."""
    import uvicorn.config

    monkeypatch.delenv("TRUST_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    uvicorn.config.Config("trust.http.asgi:app", log_level="warning", access_log=False).configure_logging()
    stream = io.StringIO()
    try:
        logs.configure(Settings(log_level="INFO"), default_format="json", stream=stream)
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /healthz HTTP/1.1" 200')
        logging.getLogger("uvicorn.error").info(
            "Started server process [%d]", 1, extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"}
        )
        assert all("color_message" not in line for line in _lines(stream))
        assert [(line["logger"], line["level"]) for line in _lines(stream)] == [
            ("uvicorn.access", "INFO"),
            ("uvicorn.error", "INFO"),
        ]
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


# --- issue 11 item 1: one long URL froze the server ----------------------------------------------------------------


class _OverBudget(Exception):
    pass


@contextmanager
def _cpu_budget(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when the block uses more than ``seconds`` of CPU: ``re`` checks for signals while
    it matches, so a quadratic pattern is interrupted by SIGPROF."""

    def over(_signum: int, _frame: object) -> None:
        raise _OverBudget

    previous = signal.signal(signal.SIGPROF, over)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    except _OverBudget:
        pytest.fail(f"redaction used more than {seconds} s of CPU")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _cpu(text: str) -> float:
    best = math.inf
    for _ in range(3):
        started = time.process_time()
        logs.redact_text(text)
        best = min(best, time.process_time() - started)
    return best


# Inputs that made a redaction pattern backtrack quadratically: a run of word characters (the secret-name pattern
# tried every start in the run), JWS-looking starts after "-" (each rescanned the run), and a long
# Authorization value of letters and dashes.
HOSTILE = {
    "word-run": lambda n: "GET /x" + "A" * n,
    "jws-starts": lambda n: "eyJ-" * (n // 4),
    "token-names": lambda n: "tokentoken" * (n // 10),
    "assignments": lambda n: "a=" * (n // 2),
    "authorization": lambda n: "Authorization: " + "a-" * (n // 2),
    "pem-types": lambda n: "-----BEGIN " + "A " * (n // 2),
}


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_redaction_is_linear_in_the_input(shape: str) -> None:
    """16 KiB against 64 KiB, and 256 KiB against 1 MiB of hostile text: four times the input costs about four times
    the CPU (bound: 12x, plus a little for timer resolution), and a megabyte takes well under a second."""
    make = HOSTILE[shape]
    with _cpu_budget(20.0):
        for n in (16 * 1024, 256 * 1024):
            small, large = _cpu(make(n)), _cpu(make(4 * n))
            assert large < 12 * small + 0.02, (shape, n, small, large)
    assert large < 1.0, (shape, large)


def test_a_huge_url_is_logged_capped_and_fast(capture) -> None:
    """uvicorn's access line for a 1 MiB path: written at once, with the path cut to a bounded length."""
    stream, _log = capture
    path = "/x" + "A" * (1024 * 1024)
    with _cpu_budget(5.0):
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 414)
    [entry] = _lines(stream)
    assert entry["message"].startswith('127.0.0.1:5000 - "GET /xAAAA')
    assert entry["message"].endswith('HTTP/1.1" 414')
    assert len(entry["message"]) < logs.MAX_FIELD + 200
    assert "characters cut" in entry["message"]


def test_secrets_are_masked_before_a_long_value_is_cut(capture) -> None:
    """A token at the end of a long field is masked, not cut in half and left readable."""
    stream, log = capture
    log.info(
        "query %s", "q=" + "x" * 5000 + f" token={JWT}", extra={"url": "/p?" + "y" * 5000 + f"&access_token={JWT}"}
    )
    raw = stream.getvalue()
    assert "c2lnbmF0dXJlLXZhbHVl" not in raw and "eyJzdWIi" not in raw
    [entry] = _lines(stream)
    assert len(entry["url"]) <= logs.MAX_FIELD + 40 and "characters cut" in entry["url"]


# The patterns as they were before issue 11 (quadratic on long runs, fine on short text): the linear scan must mask
# exactly what they masked. (They also cut a "[REDACTED ...]" marker in half; the new ones keep it whole, so the
# alphabet below leaves markers and PEM blocks to the tests above.)
_REFERENCE = (
    (
        re.compile(r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?:[A-Za-z-]+\s+)?[^\s\"',;}]+"),
        r"\1" + logs.MASK,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!\[REDACTED)[A-Za-z0-9._~+/=-]+"), r"\1 " + logs.MASK),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*(?:~[A-Za-z0-9_.-]*)*"),
        "[REDACTED TOKEN]",
    ),
    (
        re.compile(
            r"(?i)((?:[\w-]*(?:passphrase|passwd|password|secret|token|api[_-]?key|private[_-]?key|credential|cookie)"
            r"[\w-]*|(?<![\w-])pin)[\"']?\s*[:=]\s*)(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|(?!\[REDACTED)[^\s\"',;&}]+)"
        ),
        r"\1" + logs.MASK,
    ),
)
_PIECES = [
    *("eyJ", "eyJhb", ".", "~", "-", "_", "a", "Z", "9", " ", "\n", "\r", "\t", "=", ":", '"', "'", ",", ";", "&"),
    *("}", "/", "?", "中", "é", "x-", "token", "password", "pin", "PIN", "api_key", "api-key", "cookie", "secret"),
    *("Authorization", "proxy-authorization", "Bearer", "basic"),
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_the_linear_redaction_masks_what_the_old_patterns_masked(text: str) -> None:
    expected = text
    for pattern, replacement in _REFERENCE:
        expected = pattern.sub(replacement, expected)
    assert logs.redact_text(text) == expected
