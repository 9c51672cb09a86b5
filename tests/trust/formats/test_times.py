"""The one parser of dates and times given by people and peers (``trust.formats.times``), and the CLI and HTTP inputs
that had parsers of their own and disagreed: a naive ``at`` was UTC in the CLI but the machine's local time over
HTTP; ``9999-12-31`` passed the CLI (and overflowed the verifier's clock-skew arithmetic) but not HTTP; HTTP read
``"1700000000"`` as a Unix time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from trust.crypto.errors import EncodingError, InputError
from trust.formats import times, trustlist
from trust.http.fields import IsoDate, IsoDateTime


class _Body(BaseModel):
    at: IsoDateTime


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process runs in UTC+8, as a server in China would."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


ACCEPTED = {
    "2026-12-01T08:00:00+08:00": datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
    "2026-12-01T00:00:00Z": datetime(2026, 12, 1, tzinfo=UTC),
    "2026-12-01T00:00:00z": datetime(2026, 12, 1, tzinfo=UTC),
    "2026-12-01T00:00:00": datetime(2026, 12, 1, tzinfo=UTC),  # naive: UTC, whatever the machine's zone
    "2026-12-01 00:00": datetime(2026, 12, 1, tzinfo=UTC),
    "2026-12-01": datetime(2026, 12, 1, tzinfo=UTC),
    "2026-12-01T00:00:00.123456-05:30": datetime(2026, 12, 1, 5, 30, 0, 123456, tzinfo=UTC),
    "1900-01-01T00:00:00Z": datetime(1900, 1, 1, tzinfo=UTC),
    "2999-12-31T23:59:59Z": datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC),
}
REFUSED = [
    "yesterday",
    "",
    "1700000000",  # a Unix time
    "2026-W48-2",  # an ISO week date
    "20261201T000000Z",  # the basic format
    "2026-12-01T24:00:00Z",
    "2026-13-01",
    "9999-12-31T23:59:59Z",  # beyond LATEST
    "1899-12-31T23:59:59Z",  # before EARLIEST
    "2999-12-31T23:59:59-01:00",  # 3000-01-01 in UTC
    "2026-12-01T00:00:00+08:00\n",
    "2026-12-01T00:00:00" + "0" * 100,
]


@pytest.mark.parametrize(("text", "moment"), ACCEPTED.items())
def test_accepted(text: str, moment: datetime, shanghai: None) -> None:
    assert times.parse_time(text, "--at") == moment
    assert _Body.model_validate({"at": text}).at == moment  # the HTTP member reads it the same, in UTC


@pytest.mark.parametrize("text", REFUSED)
def test_refused_by_the_cli_and_by_http(text: str) -> None:
    with pytest.raises(InputError, match="--at"):
        times.parse_time(text, "--at")
    with pytest.raises(ValidationError):
        _Body.model_validate({"at": text})


def test_non_text_is_refused() -> None:
    for value in (1_700_000_000, None, 1.5):
        with pytest.raises(InputError):
            times.parse_time(value, "at")
        with pytest.raises(ValidationError):
            _Body(at=value)  # type: ignore[arg-type]


def test_naive_is_utc_in_the_library_too(shanghai: None) -> None:
    naive = datetime(2026, 12, 1, 12, 0)
    assert times.as_utc(naive) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert naive.astimezone(UTC) == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # what .astimezone() did: local time
    eight = timezone(timedelta(hours=8))
    assert times.as_utc(datetime(2026, 12, 1, 20, 0, tzinfo=eight)) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_signed_documents_must_say_their_zone() -> None:
    assert trustlist.parse_time("2026-12-01T00:00:00Z", "issued_at") == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(EncodingError, match="issued_at must carry a time zone"):
        trustlist.parse_time("2026-12-01T00:00:00", "issued_at")
    with pytest.raises(EncodingError, match="issued_at"):
        trustlist.parse_time(20261201, "issued_at")


def test_the_verifier_refuses_a_naive_validation_time(shanghai: None) -> None:
    """``verifier.context.build(at=naive)`` took the machine's local time (``.astimezone``), then UTC; a validation time
    is what a clerk types, and one in UTC+8 would be 8 hours off either way, so the verifier refuses it (naming the
    forms it takes) — the CLI and ``POST /verify`` too (``tests/verifier/test_clock.py``). An aware time is UTC."""
    from verifier import context

    with pytest.raises(InputError, match=r"no time zone.*Z \(UTC\).*\+08:00"):
        context.build(at=datetime(2026, 12, 1, 12, 0))
    with pytest.raises(InputError, match="no time zone"):
        times.parse_time("2026-12-01T12:00", "--at", naive="refuse")
    eight = timezone(timedelta(hours=8))
    assert context.build(at=datetime(2026, 12, 1, 20, 0, tzinfo=eight)).validation_time == datetime(
        2026, 12, 1, 12, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59Z", "2026-W48-2", "1700000000"])
def test_the_cli_refuses_what_http_refuses(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``trust verify --at``: the CLI's own parser took ``9999-12-31`` (and week dates); exit 3 now, as HTTP's 422."""
    from cryptography import x509 as pyca_x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from trust.cli.main import main

    key = ec.generate_private_key(ec.SECP256R1())
    name = pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, "at test")])
    now = datetime.now(UTC)
    cert = (
        pyca_x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(3)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(pyca_x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "cert.der"
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    assert main(["verify", str(path), "--anchor", str(path), "--at", now.isoformat()]) != 3
    capsys.readouterr()
    assert main(["verify", str(path), "--anchor", str(path), "--at", text]) == 3
    assert "--at" in capsys.readouterr().err


class _Dates(BaseModel):
    valid_from: IsoDate


@pytest.mark.parametrize(
    "text", ["2026-W01-1", "20260101", "1700000000", "2026-02-30", "3000-01-01", "2026-01-01T00:00"]
)
def test_dates_are_refused_alike_over_http_and_in_batch_files(text: str, tmp_path: Path) -> None:
    """Licence validity dates: HTTP (Pydantic's date reader took Unix times) and bulk files (``date.fromisoformat``
    took week dates, the basic format and any year) read them with ``times.parse_date`` now."""
    from licenses import batch

    with pytest.raises(InputError, match="valid_from"):
        times.parse_date(text, "valid_from")
    with pytest.raises(ValidationError):
        _Dates.model_validate({"valid_from": text})
    path = tmp_path / "batch.jsonl"
    path.write_text(
        f'{{"request_id": "r1", "type": "11100000000013338W101", "fields": {{}}, "valid_from": "{text}"}}\n'
    )
    (record,) = batch.read(path)
    assert record["error"] is not None and "valid_from" in record["error"][1]


def test_dates_read() -> None:
    assert (
        times.parse_date("2026-12-01", "d")
        == _Dates.model_validate({"valid_from": "2026-12-01"}).valid_from
        == date(2026, 12, 1)
    )
