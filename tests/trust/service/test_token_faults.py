"""Token faults during issuance (issue 20, "What must be shown"): the token logged out or finalized in the middle of an
issuance, a wrong PIN, the CA's key deleted on the token — each a clear error with a stable code, and nothing
half-written (no certificate row, no consumed serial, no audit entry, no key left behind on the token).

The world is built with file keys, then opened with a SoftHSM2 token configured and its RSA regional CA re-keyed, so
that CA signs on the token; end-entity keys (EC P-256) are made on the token too. The fault is injected after the
issuance has made its key and drawn its serial, right before the CA's signature (``discipline.new_serial``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pkcs11
import pytest
from sqlmodel import Session, func, select

from ca.authority import discipline, records
from ca.models import CertificateAuthority, IssuedCertificate
from tests.support.softhsm import SoftHsm
from tests.support.world import PASSPHRASE, make_instance
from trust.crypto.errors import Code, TrustError
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import audit
from trust.service import ca as ca_service
from trust.service.instance import Instance
from trust.settings import Settings

pytestmark = [pytest.mark.external, pytest.mark.slow]
TOKEN = "huren-faults"
CA = "region-330000-rsa"
SUBJECT = DN(province="浙江省", organization="测试公司", common_name="tls.zj.gov.cn")


def _token_instance(home: Path, softhsm: SoftHsm, token: str = TOKEN, pin: str | None = None) -> Instance:
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_PKCS11_PIN", pin or softhsm.pin)
    try:
        base = make_instance(home).settings
        settings = Settings(
            home=home,
            public_url=base.public_url,
            port=base.port,
            key_kdf_iterations=2000,
            pkcs11_module=softhsm.module,
            pkcs11_token=token,
        )
        instance = Instance(settings, passphrase=PASSPHRASE)
        instance.keystore.list()  # opens and logs in while the PIN is set
    finally:
        mp.undo()
    return instance


@pytest.fixture(scope="module")
def world(softhsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> Instance:
    home = tmp_path_factory.mktemp("token-faults")
    files = make_instance(home)
    ca_service.init(files)
    ca_service.enrol(files, kind="region", code="330000", family="RSA")
    instance = _token_instance(home, softhsm)
    rekeyed = ca_service.rekey(instance, CA)  # its new RSA-4096 key is made on the token
    assert rekeyed.key_id is not None and rekeyed.key_id.startswith(f"p11:{TOKEN}/")
    return instance


def _issue(instance: Instance) -> None:
    ca_service.issue(
        instance, ca_id=CA, profile="tls-server", subject=SUBJECT, key_family="EC", dns_names=["tls.zj.gov.cn"]
    )


def _state(instance: Instance) -> tuple[int, int, int, set[str]]:
    with Session(instance.engine) as session:
        certificates = session.exec(select(func.count()).select_from(IssuedCertificate)).one()
        entries = session.exec(select(func.count()).select_from(audit.AuditEntry)).one()
        ca = session.get(CertificateAuthority, CA)
        assert ca is not None
        count = ca.cert_count
    return certificates, entries, count, {info.key_id for info in instance.keystore.list()}


# python-pkcs11 ends a search in a finaliser (``SearchIter.__del__`` → ``C_FindObjectsFinal``); on a session the fault
# already invalidated that call fails and Python reports it as "Exception ignored" — harmless, and not Huren's to catch.
_DEAD_SESSION_FINALISER = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _midway(monkeypatch: pytest.MonkeyPatch, fault: Callable[[], None]) -> list[str]:
    """Make ``fault`` happen once the serial is drawn (the subject's key already on the token), right before signing."""
    happened: list[str] = []
    original = records.new_serial  # what the discipline draws with

    def draw_then_fail() -> int:
        serial = original()
        fault()
        happened.append(cx.serial_hex(serial))
        return serial

    monkeypatch.setattr(discipline, "new_serial", draw_then_fail)
    return happened


def test_issuance_on_the_token_works(world: Instance) -> None:
    before = _state(world)
    _issue(world)
    after = _state(world)
    assert after[0] == before[0] + 1 and after[2] == before[2] + 1
    assert len(after[3] - before[3]) == 1  # the subject's key, on the token
    assert all(k.startswith(f"p11:{TOKEN}/") for k in after[3] - before[3])


@_DEAD_SESSION_FINALISER
def test_token_logged_out_mid_issuance(world: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """C_Logout (closing the session that logged in logs out the whole application, PKCS#11 2.40 clause 5.6) between
    the serial reservation and the CA's signature: E1209, nothing written; the next issuance logs in again."""
    before = _state(world)
    pool = world.keystore.pool  # type: ignore[attr-defined]

    def log_out() -> None:
        with pool.session("test: logging out") as session:
            session.close()  # C_Logout + C_CloseSession

    happened = _midway(monkeypatch, log_out)
    with pytest.raises(TrustError) as caught:
        _issue(world)
    assert happened, "the fault was injected after the serial was drawn"
    assert caught.value.code in (Code.KEYSTORE_TOKEN_UNAVAILABLE, Code.KEYSTORE_TOKEN_MISSING), caught.value
    assert _state(world) == before  # no row, no serial, no audit entry, the new key discarded
    with Session(world.engine) as session:
        assert session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == happened[0])).first() is None
    monkeypatch.undo()
    _issue(world)  # the pool dropped the dead session and opens (and logs in to) a new one
    assert _state(world)[0] == before[0] + 1


@_DEAD_SESSION_FINALISER
def test_token_finalized_mid_issuance(world: Instance, softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> None:
    """C_Finalize + C_Initialize (every session handle of the application gone, as when the token is pulled and put
    back) in the middle: a clear error, nothing written, and the service recovers by itself."""
    before = _state(world)
    _midway(monkeypatch, lambda: pkcs11.lib(softhsm.module).reinitialize())
    with pytest.raises(TrustError) as caught:
        _issue(world)
    assert caught.value.code in (Code.KEYSTORE_TOKEN_UNAVAILABLE, Code.KEYSTORE_TOKEN_MISSING), caught.value
    assert softhsm.pin not in str(caught.value)
    assert _state(world) == before
    monkeypatch.undo()
    _issue(world)
    assert _state(world)[0] == before[0] + 1


def test_wrong_pin_stops_before_anything_is_issued(world: Instance, softhsm: SoftHsm) -> None:
    """A service configured with a wrong PIN (a token this process never logged in to): E1207 when the key store
    opens, the PIN not in the message."""
    wrong = "not-the-pin-0000"
    other = Instance(
        Settings(
            home=world.settings.home, key_kdf_iterations=2000, pkcs11_module=softhsm.module, pkcs11_token="huren-pin"
        ),
        passphrase=PASSPHRASE,
    )
    before = _state(world)
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_PKCS11_PIN", wrong)
    try:
        with pytest.raises(TrustError) as caught:
            _issue(other)
    finally:
        mp.undo()
    assert caught.value.code is Code.KEYSTORE_TOKEN_PIN
    assert wrong not in caught.value.message
    assert _state(world) == before


def test_a_file_key_moves_to_the_token_and_keeps_signing(world: Instance) -> None:
    """Rotation without downtime (issue 20 item 3): the RSA TSA's and the RSA national CA's OCSP responder's file
    keys moved onto the token; the same keys, so the certificates stay; every row follows; the TSA signs on the token
    from its next refresh; `trust keys list` says where each lives; the file copies are removed when asked."""
    from asn1crypto import tsp

    from trust.formats import tsp as tsp_format
    from trust.formats import x509 as cx
    from trust.service import keys as key_moves
    from trust.service import tsa

    with Session(world.engine) as session:
        record = tsa.current_record(session, "RSA")
        national = session.get(CertificateAuthority, "national-rsa")
        assert record is not None and record.key_id and national is not None and national.ocsp_key_id
        tsa_key, ocsp_key, tsa_der = record.key_id, national.ocsp_key_id, record.der
    assert not tsa_key.startswith("p11:") and not ocsp_key.startswith("p11:")
    before = {info.key_id: info.location for info in world.keystore.list()}
    assert before[tsa_key] == "file"
    moved = key_moves.move_to_token(world, tsa_key)
    assert moved.new_key_id.startswith(f"p11:{TOKEN}/") and moved.rows >= 1 and not moved.file_removed
    moved_ocsp = key_moves.move_to_token(world, ocsp_key, remove_file=True)
    after = {info.key_id: info.location for info in world.keystore.list()}
    assert after[moved.new_key_id] == after[moved_ocsp.new_key_id] == f"pkcs11 token {TOKEN}"
    assert after[tsa_key] == "file" and ocsp_key not in after  # kept until asked; removed when asked
    with Session(world.engine) as session:
        record = tsa.current_record(session, "RSA")
        national = session.get(CertificateAuthority, "national-rsa")
        assert record is not None and record.key_id == moved.new_key_id and record.der == tsa_der
        assert national is not None and national.ocsp_key_id == moved_ocsp.new_key_id
        assert session.exec(select(IssuedCertificate).where(IssuedCertificate.key_id == tsa_key)).first() is None
    tsa.invalidate(world)  # what the TSA cache's refresh does in every worker
    request = tsp_format.build_request(b"document", hash_algorithm="sha256")
    response = tsp.TimeStampResp.load(tsa.timestamp(world, request, "RSA"))
    assert response["status"]["status"].native == "granted"
    signed = response["time_stamp_token"]["content"]
    signer_info = signed["signer_infos"][0]
    key = cx.public_key(cx.load_certificate(tsa_der))  # the same key as before the move
    from trust.crypto.algorithms import RSA_PKCS1_SHA256

    key.verify(bytes(signer_info["signature"]), signer_info["signed_attrs"].untag().dump(), RSA_PKCS1_SHA256)
    with pytest.raises(TrustError) as again:
        key_moves.move_to_token(world, moved.new_key_id)
    assert again.value.code is Code.KEYSTORE_KEY_EXISTS


def test_ca_key_deleted_on_the_token(world: Instance, softhsm: SoftHsm) -> None:
    """The CA's private key deleted by another application (OpenSC's pkcs11-tool): E1208 naming the key, nothing
    written. Runs last: the CA cannot sign afterwards."""
    with Session(world.engine) as session:
        ca = session.get(CertificateAuthority, CA)
        assert ca is not None and ca.key_id is not None
        key_id = ca.key_id
    ckaid = key_id.rsplit("/", 1)[1]
    deleted = softhsm.tool("--delete-object", "--type", "privkey", "--id", ckaid, token=TOKEN)
    assert deleted.returncode == 0, deleted.stderr
    before = _state(world)
    with pytest.raises(TrustError) as caught:
        _issue(world)
    assert caught.value.code is Code.KEYSTORE_TOKEN_KEY_MISSING, caught.value
    assert key_id in caught.value.message
    assert _state(world) == before
