"""Several worker processes signing at once with token keys on PostgreSQL (issue 20, "What must be shown").

A world on a fresh PostgreSQL database; its RSA regional CA is re-keyed onto a SoftHSM2 token. Three worker processes
(``_token_worker``: each its own PKCS#11 application with its own login and a pool of two sessions) run three threads
each, all issuing at the same moment: every certificate's EC key is made on the token and the CA signs on the token.
Every request is answered, every serial is unique and recorded once, every certificate verifies under the CA's
certificate, every subject key is a distinct key on the token, and nothing else was written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from ca.models import CertificateAuthority, IssuedCertificate
from tests.support import postgres
from tests.support.softhsm import SoftHsm
from tests.trust.service._token_worker import PASSPHRASE
from trust.formats import x509 as cx
from trust.service import ca as ca_service
from trust.service.instance import Instance
from trust.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.external, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]
TOKEN = "huren-workers"
CA = "region-330000-rsa"
WORKERS, THREADS, COUNT = 3, 3, 3


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


def _instance(home: Path, url: str, softhsm: SoftHsm | None = None) -> Instance:
    settings = Settings(
        home=home,
        database_url=url,
        key_kdf_iterations=2000,
        public_url="http://127.0.0.1:8000",
        pkcs11_module=softhsm.module if softhsm else None,
        pkcs11_token=TOKEN if softhsm else None,
    )
    return Instance(settings, passphrase=PASSPHRASE)


def test_workers_sign_on_the_token_at_once(postgres_url: str, softhsm: SoftHsm, tmp_path: Path) -> None:
    files = _instance(tmp_path, postgres_url)
    ca_service.init(files)
    ca_service.enrol(files, kind="region", code="330000", family="RSA")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_PKCS11_PIN", softhsm.pin)
    try:
        token = _instance(tmp_path, postgres_url, softhsm)
        ca = ca_service.rekey(token, CA)
    finally:
        mp.undo()
    assert ca.key_id is not None and ca.key_id.startswith(f"p11:{TOKEN}/")
    with Session(token.engine) as session:
        before = session.exec(select(func.count()).select_from(IssuedCertificate)).one()

    env = {**os.environ, "TRUST_PKCS11_PIN": softhsm.pin, "SOFTHSM2_CONF": str(softhsm.conf)}
    env.pop("TRUST_PKCS11_PIN_FILE", None)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.trust.service._token_worker",
                "--home",
                str(tmp_path),
                "--url",
                postgres_url,
                "--module",
                softhsm.module,
                "--token",
                TOKEN,
                "--ca",
                CA,
                "--prefix",
                f"w{n}",
                "--threads",
                str(THREADS),
                "--count",
                str(COUNT),
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line == "READY", (line, proc.stderr.read() if proc.stderr else "")
        for proc in procs:  # all start together
            assert proc.stdin is not None
            proc.stdin.write("GO\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    lines = [line.split() for out, _err in outputs for line in out.splitlines()]
    errors = [" ".join(line) for line in lines if line[0] == "ERROR"]
    assert not errors, errors
    issued = [line for line in lines if line[0] == "ISSUED"]
    assert len(issued) == WORKERS * THREADS * COUNT, outputs
    assert all(proc.returncode == 0 for proc in procs), [err for _out, err in outputs]
    serials = [line[2] for line in issued]
    keys = [line[3] for line in issued]
    assert len(set(serials)) == len(serials) and len(set(keys)) == len(keys)
    assert all(k.startswith(f"p11:{TOKEN}/") for k in keys)

    with Session(token.engine) as session:
        assert session.exec(select(func.count()).select_from(IssuedCertificate)).one() == before + len(issued)
        ca_row = session.get(CertificateAuthority, CA)
        assert ca_row is not None
        ca_key = cx.public_key(cx.load_certificate(ca_row.cert_der))
        for serial in serials:
            row = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == serial)).one()
            cert = cx.load_certificate(row.der)
            cx.verify_signature(cert, ca_key)  # the token's RSA signature, checked by pyca/cryptography
            assert cx.public_key(cert) == token.keystore.info(row.key_id or "").public_key
    on_token = {info.key_id for info in token.keystore.list() if info.key_id.startswith("p11:")}
    assert set(keys) <= on_token
    _scan_for_private_keys(token, tmp_path)


def _scan_for_private_keys(instance: Instance, home: Path) -> None:
    """Issue 20: no private key of a token key outside the token — every column of every table of the PostgreSQL
    database and every file of the home folder searched for unencrypted PKCS#8 (DER) and any PEM private key but the
    file store's encrypted SM2 keys."""
    from sqlalchemy import MetaData, text

    from tests.trust.service.test_demo_token import PKCS8_DER, PRIVATE_PEM

    metadata = MetaData()
    metadata.reflect(bind=instance.engine)
    cells = 0
    with instance.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    data = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                    cells += 1
                    assert not any(prefix in data for prefix in PKCS8_DER), table.name
                    assert not PRIVATE_PEM.search(data), table.name
    assert cells > 100
    file_keys = {i.key_id for i in instance.keystore.list() if not i.key_id.startswith("p11:")}
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(prefix in data for prefix in PKCS8_DER), path
            if PRIVATE_PEM.search(data):
                assert b"ENCRYPTED PRIVATE KEY" in data and path.name.removesuffix(".key.pem") in file_keys, path
