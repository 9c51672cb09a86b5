"""A worker process of the multi-worker token test (``test_token_workers_pg.py``), run as::

    TRUST_PKCS11_PIN=... python -m tests.trust.service._token_worker --home H --url U --module M --token T \\
        --ca CA --prefix P --threads N --count C

It opens its own :class:`~trust.service.instance.Instance` (its own PKCS#11 application: ``C_Initialize``, its own
login and session pool) on the shared home and PostgreSQL database, prints ``READY``, waits for ``GO`` on stdin, then
issues ``count`` certificates from each of ``threads`` threads at once — each with an EC P-256 key made on the token,
signed by the CA's key on the token — and prints, after each transaction committed::

    ISSUED <request id> <serial> <subject key id>
    ERROR <request id> <code or type> <message>
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from sqlmodel import Session

from ca.models import IssuedCertificate
from trust.crypto.errors import TrustError
from trust.formats.names import DN
from trust.service import ca as service
from trust.service.instance import Instance
from trust.settings import Settings

PASSPHRASE = b"token workers test passphrase"
_print = threading.Lock()


def emit(*parts: object) -> None:
    with _print:
        sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--home", "--url", "--module", "--token", "--ca", "--prefix"):
        parser.add_argument(name, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(
        home=Path(args.home),
        database_url=args.url,
        key_kdf_iterations=2000,
        public_url="http://127.0.0.1:8000",
        pkcs11_module=args.module,
        pkcs11_token=args.token,
        pkcs11_sessions=2,
    )
    instance = Instance(settings, passphrase=PASSPHRASE)
    instance.keystore.list()  # logs in to the token before the start line
    emit("READY")
    if sys.stdin.readline().strip() != "GO":
        return 2

    def run(thread: int) -> None:
        for i in range(args.count):
            request_id = f"{args.prefix}-{thread}-{i}"
            try:
                done = service.issue(
                    instance,
                    ca_id=args.ca,
                    profile="tls-server",
                    subject=DN(province="浙江省", organization="并发测试", common_name=f"{request_id}.zj.gov.cn"),
                    key_family="EC",
                    dns_names=[f"{request_id}.zj.gov.cn"],
                    request_id=request_id,
                )
                with Session(instance.engine) as session:
                    row = session.get(IssuedCertificate, done.record.id)
                    key_id = row.key_id if row is not None else None
                emit("ISSUED", request_id, done.record.serial, key_id)
            except TrustError as exc:
                emit("ERROR", request_id, exc.code.slug, exc.message.replace("\n", " "))
            except Exception as exc:
                emit("ERROR", request_id, type(exc).__name__, str(exc).replace("\n", " ")[:300])

    threads = [threading.Thread(target=run, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emit("DONE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
