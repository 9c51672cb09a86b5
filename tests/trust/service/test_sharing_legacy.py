"""Licence sharing, the rest of issue 21: licences of a region's legacy system registered as signed entries, and
retrieval from a region that goes offline and comes back.

浙江's legacy system (a small HTTP server here, signing with the key of 浙江's licence issuer listed in the trust
list) issued a birth certificate outside Huren. 浙江 registers it in the national directory as an entry its issuer
signed; the directory checks it against the trust list and refuses a bad signature, an unknown issuer, another
region's issuer and a holder commitment that does not match. A 广东 service finds it, fetches it through the
directory from the legacy system and verifies it offline. When the legacy system is down the request is queued,
the service polls its ticket and gets the licence once the system is back; a consent withdrawn while the request
waits is refused at delivery and the waiting answer erased.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from licenses import issuance
from licenses.models import LicenseRecord
from tests.support.server import free_port
from tests.trust.service.test_sharing import BIRTH, CITIZEN, Setting, setting  # noqa: F401 (the fixture)
from trust import db
from trust.crypto import jwk
from trust.crypto.algorithms import SM2_SM3
from trust.crypto.errors import Code, ConflictError, NotFoundError, SharingRefused, TrustError
from trust.formats import directory_entry, identifiers
from trust.formats.names import make_uscc
from trust.rp.sharing import verify_shared
from trust.service import audit, licenses
from trust.service.sharing import access, directory, legacy
from trust.service.sharing.models import Consent, DirectoryEntry, Pending

FIELDS = ["newborn_name", "sex"]


class LegacySystem:
    """浙江's legacy licence system: answers retrievals of its licence with an SD-JWT its issuer signs; can go down."""

    def __init__(self, s: Setting, identifier: str) -> None:
        self.s, self.identifier, self.port = s, identifier, free_port()
        self.server: ThreadingHTTPServer | None = None
        self.asked: list[dict[str, Any]] = []

    @property
    def location(self) -> str:
        return f"http://127.0.0.1:{self.port}/licenses/{self.identifier}"

    def answer(self, asked: dict[str, Any]) -> str:
        with db.session_scope(self.s.instance.engine, read_only=True) as session:
            issued = issuance.get_license(session, self.s.identifier)
            record = LicenseRecord(
                **{
                    **issued.model_dump(),
                    "id": None,
                    "identifier": self.identifier,
                    "status_index": issued.status_index + 700,
                },
            )  # fmt: skip  (the legacy system's own record: same holder and fields, an index of its own)
            sd_jwt, _disclosed = issuance.shared_sd_jwt(
                session,
                self.s.instance.keystore,
                record,
                base_url=self.s.instance.settings.effective_public_url,
                audience=asked["requester"],
                audience_jwk=asked["audience_jwk"],
                fields=None,
            )  # fmt: skip  (it discloses every field: the directory keeps only the consented ones)
        return sd_jwt

    def start(self) -> None:
        system = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                asked = json.loads(self.rfile.read(int(self.headers["content-length"])))
                system.asked.append(asked)
                body = json.dumps({"sd_jwt": system.answer(asked)}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None


@dataclass
class Legacy:
    s: Setting
    system: LegacySystem
    issuer_id: str
    gd_issuer_id: str


def _identifier(s: Setting, serial: str) -> str:
    issued = identifiers.parse(s.identifier)
    return identifiers.make(issued.type_code, issued.issuer_code, serial, 1)


@pytest.fixture(scope="module")
def world(setting: Setting) -> Iterator[Legacy]:  # noqa: F811
    s = setting
    with db.session_scope(s.instance.engine, read_only=True) as session:
        issuer_id = issuance.get_license(session, s.identifier).issuer_id
    gd = licenses.register_issuer(
        s.instance, ca_id="region-440000-sm2", name="广东省卫生健康委员会", code=make_uscc("11440000006940220"),
        license_types=[BIRTH],
    )  # fmt: skip
    system = LegacySystem(s, _identifier(s, "LEGACY19990001"))
    system.start()
    try:
        yield Legacy(s, system, issuer_id, gd.id)
    finally:
        if system.server is not None:
            system.stop()


def _salt() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def _entry(
    w: Legacy, *, identifier: str | None = None, issuer_id: str | None = None, salt: str, code: str = CITIZEN, **kw: Any
) -> str:
    issuer_id = issuer_id or w.issuer_id
    with db.session_scope(w.s.instance.engine, read_only=True) as session:
        prepared = issuance.prepare_issuer(session, w.s.instance.keystore, issuer_id)
        identifier = identifier or w.system.identifier
        body = directory_entry.claims(
            issuer_id=issuer_id, identifier=identifier, type_code=BIRTH, issuer_code=prepared.issuer.code,
            holder_commitment=directory_entry.commitment(base64.urlsafe_b64decode(salt + "=="), code),
            valid_from=datetime(1999, 1, 1, tzinfo=UTC), valid_until=None, status=kw.get("status", "valid"),
            location=w.system.location,
        )  # fmt: skip
        return directory_entry.sign(body, kw.get("signer", prepared.signer), kid=kw.get("kid", prepared.kid))


def _request(w: Legacy, consent: Consent) -> access.Request:
    return access.Request(w.s.gd, "入学登记", consent_id=consent.id)


def _fetched(w: Legacy, shared: access.Shared | access.Queued, tmp_path: Path) -> None:
    assert isinstance(shared, access.Shared), shared
    assert shared.identifier == w.system.identifier and shared.disclosed == FIELDS
    bundle, pins = w.s.bundle(tmp_path)
    report = verify_shared(shared.sd_jwt, bundle=bundle, pins=pins, audience=w.s.gd, key_jwk=w.s.gd_key())
    assert sorted(dict(report.details)["disclosed"]) == FIELDS  # the system disclosed all; the directory kept two


def test_a_signed_legacy_entry_is_indexed_found_checked_and_fetched(world: Legacy, tmp_path: Path) -> None:
    w = world
    salt = _salt()
    signed = _entry(w, salt=salt)
    located = legacy.register(w.s.instance, signed, holder_code=CITIZEN, salt=salt, region="330000")
    assert (located.source, located.region, located.location) == ("legacy", "330000", w.system.location)
    consent = w.s.consent()
    found = {f.identifier: f for f in access.lookup(w.s.instance, _request(w, consent), holder_code=CITIZEN,
                                                    type_code=BIRTH)}  # fmt: skip
    assert set(found) == {w.s.identifier, w.system.identifier}
    assert found[w.s.identifier].source == "issued" and found[w.s.identifier].signed_entry is None
    # The requester checks the entry offline against the issuer's key in the trust list (its own bundle).
    from verifier import context
    from verifier.directory_entry import verify_entry

    bundle, pins = w.s.bundle(tmp_path)
    report = verify_entry(found[w.system.identifier].signed_entry or "", context.build(bundle=bundle, pins=pins))
    assert report.indication.value == "TOTAL_PASSED", report.errors
    assert dict(report.details)["issuer_id"] == w.issuer_id
    from tests.verifier.test_report_schema import valid

    valid(report)  # the report's JSON is described by the report schema
    forged = verify_entry(
        signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB"), context.build(bundle=bundle, pins=pins)
    )
    assert forged.indication.value == "TOTAL_FAILED"
    assert [(c.name, c.result.value) for c in forged.checks][-3:] == [
        ("signature", "failed"),
        ("issuer-authorised", "skipped"),
        ("claims", "skipped"),
    ]  # every check reported, run or not
    valid(forged)
    # The entry names nobody: neither the code nor a plain hash of it (the salt is not kept).
    assert CITIZEN not in signed and hashlib.sha256(CITIZEN.encode()).hexdigest() not in signed
    assert salt not in json.dumps(located.to_json())
    shared = access.retrieve(w.s.instance, _request(w, consent), w.system.identifier)
    _fetched(w, shared, tmp_path)
    assert w.system.asked[-1]["fields"] == FIELDS and w.system.asked[-1]["requester"] == w.s.gd
    seen = {(r.action, r.end, r.result, r.identifier) for r in access.history(w.s.instance, holder_code=CITIZEN)}
    assert ("retrieve", "issuer", "disclosed", w.system.identifier) in seen
    # A later entry of the same licence (a status change) replaces it; an older or equal one does not.
    later = _entry(w, salt=salt, status="suspended")
    with pytest.raises(ConflictError):
        legacy.register(w.s.instance, signed, holder_code=CITIZEN, salt=salt, region="330000")
    import time

    time.sleep(1.1)  # iat has one-second resolution
    later = _entry(w, salt=salt, status="suspended")
    assert legacy.register(w.s.instance, later, holder_code=CITIZEN, salt=salt, region="330000").status == "suspended"
    with db.session_scope(w.s.instance.engine) as session:
        session.execute(text("UPDATE sharing_directory SET status = 'valid' WHERE identifier = :i"),
                        {"i": w.system.identifier})  # fmt: skip


def _refused_entry(w: Legacy, signed: str, code: Code, words: str, salt: str, holder: str = CITIZEN) -> None:
    before = audit.head(w.s.instance.engine)[0]
    with pytest.raises(TrustError) as caught:
        legacy.register(w.s.instance, signed, holder_code=holder, salt=salt, region="330000")
    assert caught.value.code is code, caught.value
    assert words in caught.value.message, caught.value.message
    assert audit.head(w.s.instance.engine)[0] == before  # nothing registered


def test_bad_signature_unknown_issuer_other_region_and_wrong_holder_are_refused(world: Legacy) -> None:
    w = world
    salt = _salt()
    fresh = _identifier(w.s, "LEGACY19990002")
    good = _entry(w, identifier=fresh, salt=salt)
    head, payload, signature = good.split(".")
    forged = f"{head}.{payload}.{signature[:-6]}{'AAAAAA' if not signature.endswith('AAAAAA') else 'BBBBBB'}"
    _refused_entry(w, forged, Code.DIRECTORY_ENTRY_INVALID, "signature", salt)
    # Signed by a key the trust list does not list (a legacy system's own key, say).
    info = w.s.instance.keystore.generate("sm2", label="not-an-issuer")
    signer = w.s.instance.keystore.signer(info.key_id, SM2_SM3)
    unknown = _entry(w, identifier=fresh, salt=salt, signer=signer, kid=jwk.thumbprint(signer.public_key))
    _refused_entry(w, unknown, Code.DIRECTORY_ENTRY_INVALID, "trust list", salt)
    # 广东's issuer, registered by 浙江: another region's licence.
    gd_id = identifiers.make(BIRTH, make_uscc("11440000006940220"), "LEGACY19990003", 1)
    other = _entry(w, identifier=gd_id, issuer_id=w.gd_issuer_id, salt=salt)
    _refused_entry(w, other, Code.DIRECTORY_ENTRY_FOREIGN, "region 440000", salt)
    assert legacy.register(w.s.instance, other, holder_code=CITIZEN, salt=salt, region="440000").region == "440000"
    # The holder code (or salt) does not match the commitment the issuer signed.
    _refused_entry(w, good, Code.DIRECTORY_ENTRY_INVALID, "commitment", salt, holder="330106199001010038")
    _refused_entry(w, good, Code.DIRECTORY_ENTRY_INVALID, "commitment", _salt())
    # A licence Huren issued is indexed already: a legacy entry cannot take its identifier over.
    taken = _entry(w, identifier=w.s.identifier, salt=salt)
    with pytest.raises(ConflictError):
        legacy.register(w.s.instance, taken, holder_code=CITIZEN, salt=salt, region="330000")
    with db.session_scope(w.s.instance.engine, read_only=True) as session:
        assert session.get(DirectoryEntry, fresh) is None


def _register(w: Legacy) -> None:
    salt = _salt()
    with db.session_scope(w.s.instance.engine, read_only=True) as session:
        if session.get(DirectoryEntry, w.system.identifier) is not None:
            return
    legacy.register(w.s.instance, _entry(w, salt=salt), holder_code=CITIZEN, salt=salt, region="330000")


@pytest.fixture
def retry_now(world: Legacy) -> Iterator[None]:
    original = world.s.instance.settings
    world.s.instance.settings = original.model_copy(update={"sharing_retry_seconds": 0})
    try:
        yield
    finally:
        world.s.instance.settings = original
        if world.system.server is None:
            world.system.start()


def test_an_offline_region_answers_later_through_the_ticket(world: Legacy, retry_now: None, tmp_path: Path) -> None:
    w = world
    _register(w)
    consent = w.s.consent()
    w.system.stop()
    queued = access.retrieve(w.s.instance, _request(w, consent), w.system.identifier)
    assert isinstance(queued, access.Queued) and queued.status == "queued" and "unreachable" in queued.reason
    waiting = access.poll(w.s.instance, w.s.gd, queued.ticket)  # still down: tried again, still waiting
    assert isinstance(waiting, access.Queued) and waiting.attempts == 2
    with pytest.raises(NotFoundError):  # a ticket is its requester's only
        access.poll(w.s.instance, w.s.gd2, queued.ticket)
    rows = access.history(w.s.instance, holder_code=CITIZEN)
    assert (rows[0].result, rows[0].identifier, rows[0].consent_id) == ("queued", w.system.identifier, consent.id)
    w.system.start()
    _fetched(w, access.poll(w.s.instance, w.s.gd, queued.ticket), tmp_path)
    with pytest.raises(NotFoundError):  # collected once; the answer is gone
        access.poll(w.s.instance, w.s.gd, queued.ticket)
    with db.session_scope(w.s.instance.engine, read_only=True) as session:
        row = session.get(Pending, queued.ticket)
        assert row is not None and row.status == "delivered" and row.sealed_result is None


def test_a_consent_withdrawn_while_queued_is_refused_at_delivery(world: Legacy, retry_now: None) -> None:
    w = world
    _register(w)
    # Withdrawn before the region comes back: refused when the region would answer.
    consent = w.s.consent()
    w.system.stop()
    first = access.retrieve(w.s.instance, _request(w, consent), w.system.identifier)
    assert isinstance(first, access.Queued)
    access.withdraw(w.s.instance, consent.id, id_token=w.s.id_token("gd-other"))
    w.system.start()
    asked = len(w.system.asked)
    with pytest.raises(SharingRefused) as caught:
        access.poll(w.s.instance, w.s.gd, first.ticket)
    assert caught.value.code is Code.CONSENT_REVOKED
    assert len(w.system.asked) == asked  # the region was not even asked
    # Withdrawn after the region answered (the answer waits sealed) but before the service collects it.
    consent = w.s.consent()
    w.system.stop()
    second = access.retrieve(w.s.instance, _request(w, consent), w.system.identifier)
    assert isinstance(second, access.Queued)
    w.system.start()
    assert access.deliver_due(w.s.instance) >= 1  # the schedule's run
    with db.session_scope(w.s.instance.engine, read_only=True) as session:
        row = session.get(Pending, second.ticket)
        assert row is not None and row.status == "ready" and row.sealed_result
        assert "newborn" not in row.sealed_result  # sealed, not readable in the database
    access.withdraw(w.s.instance, consent.id, id_token=w.s.id_token("gd-other"))
    with pytest.raises(SharingRefused) as caught:
        access.poll(w.s.instance, w.s.gd, second.ticket)
    assert caught.value.code is Code.CONSENT_REVOKED and "newborn" not in caught.value.message
    with db.session_scope(w.s.instance.engine, read_only=True) as session:
        row = session.get(Pending, second.ticket)
        assert row is not None and row.status == "refused" and row.sealed_result is None
    refused = [r for r in access.history(w.s.instance, holder_code=CITIZEN) if r.result == "refused"]
    assert [r.reason[:5] for r in refused[:2]] == ["E1603", "E1603"]


def test_over_http_register_queue_poll_and_the_cli(
    world: Legacy, retry_now: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``POST /sharing/legacy-entries`` (the region's own platform only), a retrieval answered 202 with a ticket while
    the region is offline, ``POST /sharing/tickets/{ticket}`` polled until the licence comes; ``trust sharing poll``."""
    from tests.support.http import AuthClient
    from tests.support.world import PASSPHRASE
    from trust.cli.main import main
    from trust.http.app import create_app

    w = world
    s = w.s
    base = AuthClient(create_app(s.instance), s.world, None, base_url=s.world.base_url)
    zj, gd = base.as_("zj-platform"), base.as_("gd-platform")
    salt = _salt()
    identifier = _identifier(s, "LEGACY19990009")
    body = {"signed_entry": _entry(w, identifier=identifier, salt=salt), "holder_code": CITIZEN, "salt": salt}
    refused = gd.post("/sharing/legacy-entries", json=body)  # 广东's platform, a 浙江 issuer's entry
    assert refused.status_code == 403 and refused.json()["code"] == "E1403", refused.text
    tail = "AAAA" if body["signed_entry"][-4:] != "AAAA" else "BBBB"
    forged = {**body, "signed_entry": body["signed_entry"][:-4] + tail}
    response = zj.post("/sharing/legacy-entries", json=forged)
    assert response.status_code == 422 and response.json()["code"] == "E1606", response.text
    response = zj.post("/sharing/legacy-entries", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "legacy" and CITIZEN not in response.text
    _register(w)  # the licence the legacy system serves
    consent = s.consent()
    authority = {"requester": s.gd, "purpose": "入学登记", "consent_id": consent.id}
    w.system.stop()
    response = gd.post(f"/sharing/licenses/{w.system.identifier}", json=authority)
    assert response.status_code == 202, response.text
    ticket = response.json()
    assert ticket["status"] == "queued" and ticket["poll"] == f"/sharing/tickets/{ticket['ticket']}"
    assert "sd_jwt" not in ticket and "newborn" not in response.text
    response = gd.post(ticket["poll"], json={"requester": s.gd})
    assert response.status_code == 202 and response.json()["attempts"] == 2, response.text
    response = zj.post(ticket["poll"], json={"requester": s.gd})  # 浙江's platform is not the requester's
    assert response.status_code == 403, response.text
    w.system.start()
    response = gd.post(ticket["poll"], json={"requester": s.gd})
    assert response.status_code == 200, response.text
    assert response.json()["disclosed"] == FIELDS
    _fetched(w, access.Shared(w.system.identifier, response.json()["sd_jwt"], FIELDS), tmp_path)
    # The CLI: fetch while offline → the ticket and exit 2; poll once back → the SD-JWT and exit 0.
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", s.world.base_url)
    monkeypatch.setenv("TRUST_SHARING_RETRY_SECONDS", "0")
    h = ["--home", str(s.world.home)]
    w.system.stop()
    code = main(["sharing", "fetch", s.gd, w.system.identifier, "--purpose", "入学登记", "--consent", consent.id, *h])
    captured = capsys.readouterr()
    assert code == 2 and "trust sharing poll" in captured.err, captured
    queued = json.loads(captured.out)
    w.system.start()
    code = main(["sharing", "poll", s.gd, queued["ticket"], *h])
    captured = capsys.readouterr()
    assert code == 0 and "disclosed: newborn_name, sex" in captured.err, captured
    _fetched(w, access.Shared(w.system.identifier, captured.out.strip(), FIELDS), tmp_path)


def test_privacy_scan_covers_legacy_entries_and_the_queue(world: Legacy, retry_now: None) -> None:
    """The directory's tables — signed entries (their payloads decoded) and a region's answer waiting in the queue
    included — hold no licence field, no clear holder code and no plain hash of it."""
    from licenses import samples
    from trust.crypto import base64url

    w = world
    _register(w)
    consent = w.s.consent()
    w.system.stop()
    queued = access.retrieve(w.s.instance, _request(w, consent), w.system.identifier)
    assert isinstance(queued, access.Queued)
    w.system.start()
    access.deliver_due(w.s.instance)
    values = [v for v in samples.sample(BIRTH).values() if isinstance(v, str) and len(v) >= 4] + [CITIZEN]
    values.append(hashlib.sha256(CITIZEN.encode()).hexdigest())
    with db.session_scope(w.s.instance.engine, read_only=True) as session:
        tables = [name for (name,) in session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        tables = [name for name in tables if name.startswith("sharing_")]
        assert {"sharing_directory", "sharing_pending", "sharing_access", "sharing_consent"} <= set(tables)
        cells = [str(v) for table in tables for row in session.execute(text(f"SELECT * FROM {table}")) for v in row]
        ready = session.get(Pending, queued.ticket)
        assert ready is not None and ready.status == "ready" and ready.sealed_result  # an answer is waiting
    decoded = []
    for cell in cells:
        if cell.count(".") == 2 and cell.startswith("eyJ"):  # a JWS: its payload too
            decoded.append(base64url.decode(cell.split(".")[1], "payload").decode("utf-8", "replace"))
    dump = "\n".join(cells + decoded)
    assert w.system.identifier in dump and '"holder":' in dump  # the scan sees the rows and the decoded entries
    assert [v for v in values if v in dump] == []


def test_a_ticket_the_region_never_answers_expires(world: Legacy, retry_now: None) -> None:
    w = world
    _register(w)
    consent = w.s.consent()
    w.system.stop()
    queued = access.retrieve(w.s.instance, _request(w, consent), w.system.identifier)
    assert isinstance(queued, access.Queued)
    with db.session_scope(w.s.instance.engine) as session:  # a day and more went by (TRUST_SHARING_QUEUE_HOURS = 24)
        session.execute(text("UPDATE sharing_pending SET created_at = :t WHERE id = :id"),
                        {"t": datetime(2000, 1, 1, tzinfo=UTC), "id": queued.ticket})  # fmt: skip
    w.system.start()
    asked = len(w.system.asked)
    with pytest.raises(SharingRefused) as caught:
        access.poll(w.s.instance, w.s.gd, queued.ticket)
    assert caught.value.code is Code.RETRIEVAL_EXPIRED and len(w.system.asked) == asked
    with pytest.raises(SharingRefused):  # and stays expired
        access.poll(w.s.instance, w.s.gd, queued.ticket)


def test_the_cli_registers_a_legacy_entry_with_the_routes_checks(
    world: Legacy, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trust sharing register-legacy ENTRY --holder-code-file F --salt S [--region R]``: the checks of
    ``POST /sharing/legacy-entries`` (signature against the trust list, holder commitment, the region's own issuers
    only); the holder code comes from a file or standard input, never the command line, and is never printed."""
    import io

    from tests.support.world import PASSPHRASE
    from trust.cli.main import main
    from trust.service.demo import _citizen_id

    w, s = world, world.s
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", s.world.base_url)
    h = ["--home", str(s.world.home)]
    holder = _citizen_id("33010619800101003")  # another holder: the module's lookups of CITIZEN stay as they were
    salt = _salt()
    identifier = _identifier(s, "LEGACY19990077")
    entry = tmp_path / "entry.jws"
    entry.write_text(_entry(w, identifier=identifier, salt=salt, code=holder) + "\n")
    code_file = tmp_path / "holder-code"
    code_file.write_text(holder + "\n")
    wrong = tmp_path / "wrong-code"
    wrong.write_text(CITIZEN)
    forged = tmp_path / "forged.jws"
    signed = entry.read_text().strip()
    forged.write_text(signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB"))
    args = ["sharing", "register-legacy", str(entry), "--holder-code-file", str(code_file), "--salt", salt, *h]

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    cases = {
        "another region": [*args, "--region", "440000"],
        "wrong holder": [*args[:4], str(wrong), *args[5:]],
        "forged": [args[0], args[1], str(forged), *args[3:]],
        "short salt": [*args[:6], "c2FsdA", *args[7:]],
    }
    expected = {"another region": "E1607", "wrong holder": "E1606", "forged": "E1606", "short salt": "E1000"}
    for name, argv in cases.items():
        code, out, err = run(argv)
        assert code == 3 and expected[name] in err, (name, code, out, err)
        assert holder not in out + err, name
    with db.session_scope(s.instance.engine, read_only=True) as session:
        assert session.get(DirectoryEntry, identifier) is None  # nothing indexed by the refusals
    code, out, err = run(["sharing", "register-legacy", "-", "--holder-code-file", "-", "--salt", salt, *h])
    assert code == 3 and "standard input" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(holder + "\n"))
    code, out, err = run([*args[:4], "-", *args[5:], "--region", "330000"])
    assert code == 0, err
    located = json.loads(out)
    assert (located["identifier"], located["source"], located["region"]) == (identifier, "legacy", "330000")
    assert holder not in out + err
    with db.session_scope(s.instance.engine, read_only=True) as session:
        row = session.get(DirectoryEntry, identifier)
        assert row is not None and row.source == "legacy"
        assert row.holder_key == directory.holder_key(directory.directory_key(s.instance), holder)
    assert audit.verify(s.instance.engine).ok
