"""Privacy (issue 11, item 9): after the demo world and a few served requests, no full citizen identity number is
anywhere but in the credential records that carry it by design.

Where a full citizen ID number may be (docs/SECURITY.md, "Privacy"): the issued certificate (``certificate.der``)
and the CA's record of its subject (``certificate.subject``), the seal (``seal.seal_der``) and its holder
(``seal.holder_code``), the licence's content, holder and tokens (``license.fields``, ``holder_code``, ``token``,
``sd_jwt``, ``qr_token``), the database indexes on those holder columns, and the artefacts handed to the holder
(``out/`` certificates, seals, tokens, PDFs). Nowhere else: not the audit log, not any other table, not the key store's
metadata, not the published folder, not the demo index, not the logs.

The scan is in three layers: every value of every other column (an 18-character token with a right GB 11643 check
character, and every citizen ID number the world used as a substring, in text and in bytes); the SQLite file's own
bytes after the allowed columns are blanked in a copy with ``secure_delete`` (so stale pages, free pages and indexes
count too); and the files and the log output. The citizen ID numbers the world used are collected from the allowed
columns, so the scan cannot pass by finding nothing: the tests first show they are there.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.demo import DemoBuild, json_logs
from tests.support.server import free_port, live_server
from tests.support.world import World
from trust import logs
from trust.formats.names import make_uscc
from trust.service.instance import Instance
from trust.settings import Settings

ALLOWED: dict[str, frozenset[str]] = {
    "certificate": frozenset({"der", "subject"}),
    "seal": frozenset({"seal_der", "holder_code"}),
    "license": frozenset({"fields", "holder_code", "token", "sd_jwt", "qr_token"}),
    # A regional OP's account register (issue 16): citizens log in with their ID number, and an ID token carries it
    # with the huren_citizen_id scope; the OP's sessions and one-time codes refer to the account by its SHA-256.
    "oidc_citizen": frozenset({"citizen_id"}),
}
TOKEN = re.compile(rb"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def _check_character(first17: str) -> str:
    """GB 11643-1999 / ISO 7064 MOD 11-2, written out here (not the code under test)."""
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _citizen(first17: str) -> str:
    return first17 + _check_character(first17)


def _citizen_ids(data: bytes) -> set[str]:
    """18-character tokens with a right check character."""
    found = set()
    for token in TOKEN.findall(data):
        text = token.decode().upper()
        if _check_character(text[:17]) == text[17]:
            found.add(text)
    return found


# Sent by the served requests below: in a URL, as a request id, as a seal holder, as a resource id.
IN_URL = _citizen("33010619800101001")
AS_REQUEST_ID = _citizen("33010619810202002")
AS_HOLDER = _citizen("33010619850303003")
AS_RESOURCE = _citizen("33010619860404004")
SENT = (IN_URL, AS_REQUEST_ID, AS_HOLDER, AS_RESOURCE)
HOLDER_USCCS = (make_uscc("91330106MA2CFA4X0"), make_uscc("91440101MA5CXXX00"))  # the demo's organisations


@dataclass
class Demo:
    home: Path
    database: Path
    log: str
    output: str
    known: set[str]  # every citizen ID number the world holds in its credential records


def _rows(database: Path) -> Iterator[tuple[str, str, object]]:
    """(table, column, value) of every non-null value of every table."""
    connection = sqlite3.connect(database)
    try:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        yield table, column, value
    finally:
        connection.close()


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


@pytest.fixture(scope="module")
def demo(demo_build: DemoBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The session's demo world (``conftest.py``: built through ``trust demo``, logging at DEBUG into a buffer), copied
    so the served requests below change only the copy; the log is the build's and the requests'."""
    home = tmp_path_factory.mktemp("privacy") / "home"
    shutil.copytree(demo_build.home, home)
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    mp.setenv("TRUST_LOG_LEVEL", "DEBUG")
    mp.delenv("TRUST_KEY_PASSPHRASE", raising=False)
    mp.delenv("TRUST_KEY_PASSPHRASE_FILE", raising=False)
    mp.delenv("TRUST_DATABASE_URL", raising=False)
    log = io.StringIO()
    log.write(demo_build.log)
    try:
        with json_logs(log):
            port = free_port()
            instance = Instance(Settings(home=home, port=port, key_kdf_iterations=2000))
            world = World(instance=instance, home=home, base_url=f"http://127.0.0.1:{port}", port=port)
            world.add_platform("privacy-zj", "region", region="330000")
            with live_server(instance, port) as base:
                logs.configure(default_format="json", stream=log)  # uvicorn configured its own loggers on start
                with httpx.Client(base_url=base, timeout=60) as client:
                    anonymous = client.get(
                        "/seals", params={"holder_code": IN_URL}, headers={"X-Request-ID": AS_REQUEST_ID}
                    )
                    assert anonymous.status_code == 401
                    made = client.post(
                        "/seals",
                        json={
                            "ca_id": "region-330000-sm2",
                            "holder_kind": "person",
                            "holder_name": "赵六",
                            "holder_code": AS_HOLDER,
                            "seal_name": "个人签章",
                        },
                        headers={**world.auth("privacy-zj"), "X-Request-ID": AS_REQUEST_ID},
                    )
                    assert made.status_code == 201, made.text
                    listed = client.get(
                        "/seals",
                        params={"ca_id": "region-330000-sm2", "holder_code": AS_HOLDER},
                        headers=world.auth("privacy-zj"),
                    )
                    assert listed.status_code == 200 and len(listed.json()) == 1, listed.text
                    refused = client.get(f"/seals/{AS_RESOURCE}", headers=world.auth("privacy-zj"))
                    assert refused.status_code == 404, (
                        refused.text
                    )  # another region's (or no) seal: answered as missing
            instance.engine.dispose()
    finally:
        mp.undo()
    database = home / "huren.db"
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    known: set[str] = set()
    for table, column, value in _rows(database):
        if column in ALLOWED.get(table, ()) and not isinstance(value, bytes):
            known |= _citizen_ids(_bytes(value))
    yield Demo(home, database, log.getvalue(), demo_build.output, known)


def _leaks(data: bytes, demo: Demo) -> set[str]:
    """Full citizen ID numbers in ``data``: a known one anywhere, or any well-formed one."""
    found = {cid for cid in demo.known | set(SENT) if cid.encode() in data}
    return found | _citizen_ids(data)


def test_the_scan_has_something_to_find(demo: Demo) -> None:
    """The world's citizens are in the credential records (so an empty scan below means something)."""
    from trust.service.demo import REGIONS

    assert {facts["citizen"] for facts in REGIONS.values()} | {AS_HOLDER} <= demo.known
    assert len(demo.known) >= 6  # demo persons, licence holders and parents, the seal made over HTTP
    raw = demo.database.read_bytes()
    assert all(cid.encode() in raw for cid in demo.known)


def test_no_table_holds_a_citizen_id_outside_the_credential_records(demo: Demo) -> None:
    leaks = {
        (table, column, cid)
        for table, column, value in _rows(demo.database)
        if column not in ALLOWED.get(table, ())
        for cid in _leaks(_bytes(value), demo)
    }
    assert not leaks, sorted(leaks)


def test_the_database_file_holds_them_only_in_the_credential_records(demo: Demo, tmp_path: Path) -> None:
    """Blank the allowed columns in a copy with ``secure_delete`` (SQLite zeroes what it frees): whatever the file
    still holds is somewhere else — another column, an index, a free or stale page."""
    copy = tmp_path / "copy.db"
    shutil.copyfile(demo.database, copy)
    assert not Path(f"{demo.database}-wal").exists() or Path(f"{demo.database}-wal").stat().st_size == 0
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        connection.execute("PRAGMA secure_delete = ON")
        for table, columns in ALLOWED.items():
            for column in columns:
                connection.execute(f'UPDATE "{table}" SET "{column}" = CAST(\'\' AS BLOB)')
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not _leaks(copy.read_bytes(), demo)


def test_the_audit_log_masks_holders_subjects_and_request_ids(demo: Demo) -> None:
    entries = [(str(v), t, c) for t, c, v in _rows(demo.database) if t == "audit_entry"]
    text = "\n".join(value for value, _t, _c in entries)
    for cid in demo.known | set(SENT):
        assert cid not in text
    for uscc in HOLDER_USCCS:  # holder codes (USCCs too, as the docs promise) and organisation certificate subjects
        assert uscc not in text
        assert f"{uscc[:6]}********{uscc[-4:]}" in text
    assert f"serialNumber={AS_HOLDER[:6]}********{AS_HOLDER[-4:]}" in text  # the seal certificate's subject
    assert f"{AS_REQUEST_ID[:6]}********{AS_REQUEST_ID[-4:]}" in text  # the client's X-Request-ID
    assert f"es:{AS_RESOURCE[:6]}********{AS_RESOURCE[-4:]}" in text  # the refused request's resource


def test_the_logs_hold_no_citizen_id(demo: Demo) -> None:
    assert not _leaks(demo.log.encode(), demo)
    assert not _leaks(demo.output.encode(), demo)
    lines = [json.loads(line) for line in demo.log.splitlines()]
    access = [line for line in lines if line.get("logger") == "uvicorn.access"]
    assert access, "the served requests were logged"
    masked = f"{IN_URL[:6]}********{IN_URL[-4:]}"
    assert any(masked in line["message"] for line in access)  # the URL was logged, masked
    assert any(line.get("client_request_id") or "".startswith(AS_REQUEST_ID[:6] + "****") for line in lines)


def test_key_store_metadata_the_published_folder_and_the_index_hold_none(demo: Demo) -> None:
    checked = []
    for path in [*sorted((demo.home / "keys").glob("*.json")), *sorted((demo.home / "public").rglob("*"))]:
        if path.is_file():
            checked.append(path)
            assert not _leaks(path.read_bytes(), demo), path
    index = demo.home / "out" / "index.json"
    assert not _leaks(index.read_bytes(), demo)
    assert any(p.name == "trustlist.json" for p in checked) and any(p.suffix == ".json" for p in checked)
