"""Issuing worker for the PostgreSQL concurrency tests, run as its own process::

    HUREN_WORKER_PASSPHRASE=... python -m tests.trust.service._issue_worker \\
        --home H --url U --prefix P [--count N] [--step S] [--rsa-every K] [--revoke-every R] \\
        [--kill-after-key-write W]

It opens its own :class:`~trust.service.instance.Instance` on the shared home (key store) and database and
issues end-entity certificates through :func:`trust.service.ca.issue`, one transaction each. Record ``i`` has
the request id ``<prefix>-<i>``, so two workers given the same prefix ask for the *same* records (the
idempotency race). Output, one line each, flushed at once — a line is printed only after the service call
returned, i.e. after its transaction committed ("acknowledged")::

    READY <pid>                       (then it waits for "GO <epoch seconds>" on stdin)
    ISSUED <request_id> <serial> <ca_id>
    REVOKED <serial> <crl_number>
    ERROR <request_id> <exception type> <message>
    DONE <first start, epoch s> <last end, epoch s> <records attempted>

``--count 0`` issues until killed. The test starts several workers, waits for all their ``READY`` lines and
sends each the same ``GO <t>``: they begin at ``t``; with ``--step`` record ``i`` begins at ``t + i * step``,
so two workers stay in lockstep record by record.

Most records go to the SM2 regional CA with a key Huren generates and keeps (``key_family="SM2"``, which
exercises the key store); every ``--rsa-every``-th goes to the RSA regional CA (4096-bit CA key) with an
RSA-2048 key from a CSR. Profiles alternate between ``person-identity`` (citizen ID) and ``seal`` (USCC).

``--kill-after-key-write W`` makes the worker SIGKILL itself right after the key store wrote the ``W``-th key
it generated — inside the issuance transaction, before the commit: the window in which a crash leaves an
encrypted key file that no committed row names.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from stdnum.iso7064 import mod_11_2

from trust.crypto.keys import PrivateKey, generate_private_key
from trust.crypto.keystore import FileKeyStore, KeyInfo
from trust.formats.names import DN, make_uscc
from trust.service import ca as service
from trust.service.instance import Instance
from trust.settings import Settings

PASSPHRASE_ENV = "HUREN_WORKER_PASSPHRASE"
SM2_CA = "region-330000-sm2"
RSA_CA = "region-330000-rsa"
PROVINCE = "浙江省"


def citizen_id(i: int) -> str:
    """A valid GB 11643 number: 西湖区 (330106), a birth date in 1990, a sequence number, the check digit."""
    body = f"330106199001{(i // 1000) % 28 + 1:02d}{i % 1000:03d}"
    return body + mod_11_2.calc_check_digit(body)


def uscc(i: int) -> str:
    """A valid GB 32100 code for an organisation in 西湖区."""
    return make_uscc(f"91330106MA2C{i % 100000:05d}")


def subject(prefix: str, i: int) -> tuple[str, DN]:
    if i % 2 == 0:
        return "person-identity", DN(province=PROVINCE, common_name=f"{prefix} person {i}", serial_number=citizen_id(i))
    return "seal", DN(
        province=PROVINCE,
        organization=f"{prefix} 公司 {i}",
        common_name=f"{prefix} 公章 {i}",
        serial_number=uscc(i),
    )


def make_csr(key: PrivateKey, name: DN) -> bytes:
    from trust.formats import csr

    return csr.build(key, name)


def die_after_key_writes(writes: int) -> None:
    """Wrap :meth:`FileKeyStore.import_key` so that the process kills itself after ``writes`` keys."""
    original = FileKeyStore.import_key
    done = 0

    def import_key(self: FileKeyStore, key: PrivateKey, *, label: str = "") -> KeyInfo:
        nonlocal done
        info = original(self, key, label=label)
        done += 1
        if done >= writes:
            os.kill(os.getpid(), signal.SIGKILL)
        return info

    FileKeyStore.import_key = import_key  # type: ignore[method-assign]


def emit(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--count", type=int, default=1, help="records to issue; 0 = until killed")
    parser.add_argument("--step", type=float, default=0.0)
    parser.add_argument("--rsa-every", type=int, default=0)
    parser.add_argument("--revoke-every", type=int, default=0)
    parser.add_argument("--kill-after-key-write", type=int, default=0)
    args = parser.parse_args(argv)
    if args.kill_after_key_write:
        die_after_key_writes(args.kill_after_key_write)

    settings = Settings(
        home=args.home, database_url=args.url, key_kdf_iterations=2000, public_url="http://127.0.0.1:8000"
    )
    instance = Instance(settings, passphrase=os.environ[PASSPHRASE_ENV].encode())
    instance.keystore  # noqa: B018 - open the key store (passphrase check) before the start line
    service.list_cas(instance)  # connect once
    rsa_key = generate_private_key("rsa-2048") if args.rsa_every else None
    emit("READY", os.getpid())
    go = sys.stdin.readline().split()
    if len(go) != 2 or go[0] != "GO":
        emit("ERROR", "-", "Protocol", f"expected 'GO <time>' on stdin, got {go!r}")
        return 2
    start_at = float(go[1])
    time.sleep(max(0.0, start_at - time.time()))
    first = time.time()
    issued: list[str] = []
    i = 0
    while args.count == 0 or i < args.count:
        if args.step:
            time.sleep(max(0.0, start_at + i * args.step - time.time()))
        request_id = f"{args.prefix}-{i}"
        profile, name = subject(args.prefix, i)
        use_rsa = rsa_key is not None and args.rsa_every and i % args.rsa_every == args.rsa_every - 1
        try:
            if use_rsa:
                assert rsa_key is not None
                result = service.issue(
                    instance,
                    ca_id=RSA_CA,
                    profile=profile,
                    subject=name,
                    csr_data=make_csr(rsa_key, name),
                    request_id=request_id,
                )
            else:
                result = service.issue(
                    instance, ca_id=SM2_CA, profile=profile, subject=name, key_family="SM2", request_id=request_id
                )
        except Exception as exc:  # reported to the test, which fails on it
            emit("ERROR", request_id, type(exc).__name__, str(exc).replace("\n", " ")[:300])
        else:
            emit("ISSUED", request_id, result.record.serial, result.record.issuer_id)
            issued.append(result.record.serial)
        i += 1
        if args.revoke_every and i % args.revoke_every == 0 and issued:
            serial = issued.pop(0)
            try:
                _record, crl = service.revoke(instance, serial=serial, reason="superseded")
            except Exception as exc:
                emit("ERROR", f"revoke-{serial}", type(exc).__name__, str(exc).replace("\n", " ")[:300])
            else:
                emit("REVOKED", serial, crl.number)
    emit("DONE", f"{first:.6f}", f"{time.time():.6f}", i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
