#!/usr/bin/env python3
"""Throughput of the CA service — certificate issuance and OCSP responses — against the raw signature rate of
the key that signs them.

    .venv/bin/python bench/ca.py [--seconds S] [--rounds R] [--quick] [--only issue,ocsp]

Prints one JSON object per line on stdout (the format of ``bench/crypto.py``)::

    {"bench": "ca-issue-sm2", "ours": X, "baseline": "sign tbs-sized data with the CA key (SM2)",
     "baseline_value": Y, "ratio": X / Y, "unit": "ops/s"}

Each operation includes exactly one signature with the key of the baseline, so the baseline is the ceiling
and ``ratio`` (always < 1 here) is the share of the signing rate the whole service path achieves;
``1 - ratio`` is the overhead of everything else (CSR check, lints, building and verifying the DER, the
database transaction, the OCSP lookup). Higher is better, as in every bench.

Setup: a temporary home with SQLite (the default storage), the national roots, and the 浙江 (330000) SM2 and
RSA regional CAs (RSA CA keys are 4096-bit). Issuance goes through :func:`trust.service.ca.issue` with the
subject key from a CSR (so the service signs but does not generate or store a key), one transaction and a
fresh request id per certificate. OCSP goes through :func:`trust.service.ocsp.respond` for one CertID of a
certificate issued by that CA (SHA-1 CertID, no nonce), signed by the CA's delegated responder key (SM2 or
RSA-2048). Ours and baseline are measured in alternation for ``--rounds`` rounds of ``--seconds`` seconds each,
on one thread; medians are reported. Progress and per-round samples go to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

if TYPE_CHECKING:
    from trust.crypto.keys import PrivateKey
    from trust.formats.names import DN
    from trust.service.instance import Instance

PASSPHRASE = b"bench passphrase, not secret"
REGION = "330000"


def citizen_id(sequence: int) -> str:
    from stdnum.iso7064 import mod_11_2

    body = f"33010619900101{sequence % 1000:03d}"
    return body + mod_11_2.calc_check_digit(body)


def make_csr(key: PrivateKey, subject: DN) -> bytes:
    from trust.formats import csr

    return csr.build(key, subject)


def build_instance(home: Path) -> Instance:
    from trust.service import ca as service
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(home=home, key_kdf_iterations=2000, public_url="http://127.0.0.1:8000")
    instance = Instance(settings, passphrase=PASSPHRASE)
    service.init(instance)
    for family in ("SM2", "RSA"):
        service.enrol(instance, kind="region", code=REGION, family=family)
    return instance


def issue_bench(instance: Instance, family: str) -> tuple[Bench, int]:
    """Issuance through the service vs. the CA key signing bytes of the size of the certificate's TBS."""
    from ca.authority import algorithm_for
    from trust.crypto.keys import generate_private_key
    from trust.formats import x509 as cx
    from trust.formats.names import DN
    from trust.service import ca as service

    ca_id = service.ca_id_for("region", REGION, family)
    ca = next(c for c in service.list_cas(instance) if c.id == ca_id)
    assert ca.key_id is not None
    subject = DN(province="浙江省", common_name="基准测试 个人", serial_number=citizen_id(1))
    csr = make_csr(generate_private_key("sm2" if family == "SM2" else "rsa-2048"), subject)
    counter = itertools.count()

    def issue() -> service.IssueResult:
        return service.issue(
            instance,
            ca_id=ca_id,
            profile="person-identity",
            subject=subject,
            csr_data=csr,
            request_id=f"bench-{family}-{next(counter)}",
        )

    sample = issue()
    cx.verify_signature(sample.certificate, cx.public_key(cx.load_certificate(ca.cert_der)))
    tbs = sample.certificate["tbs_certificate"].dump()
    signer = instance.keystore.signer(ca.key_id, algorithm_for(ca.family))
    label = f"RSA-{signer.public_key.size}" if family == "RSA" else "SM2"
    bench = Bench(
        f"ca-issue-{family.lower()}", issue, f"sign tbs-sized data with the CA key ({label})", lambda: signer.sign(tbs)
    )
    return bench, int(sample.record.serial, 16)


def issue_batch_bench(instance: Instance, size: int) -> Bench:
    """``issue_batch`` of ``size`` SM2 certificates per call (each from its own CSR and key, a fresh request id each)
    vs. the CA key signing TBS-sized data ``size`` times; rates are per call (scale both by ``size``)."""
    from ca.authority import algorithm_for
    from trust.crypto.keys import generate_private_key
    from trust.formats.names import DN
    from trust.service import ca as service

    ca_id = service.ca_id_for("region", REGION, "SM2")
    ca = next(c for c in service.list_cas(instance) if c.id == ca_id)
    assert ca.key_id is not None
    subjects = [
        DN(province="浙江省", common_name=f"基准测试 个人 {i}", serial_number=citizen_id(i)) for i in range(size)
    ]
    csrs = [make_csr(generate_private_key("sm2"), subject) for subject in subjects]
    counter = itertools.count()

    def issue() -> service.IssueResult:
        call = next(counter)
        requests = [
            service.BatchRequest("person-identity", subject, csr, request_id=f"bench-batch-{call}-{i}")
            for i, (subject, csr) in enumerate(zip(subjects, csrs, strict=True))
        ]
        last: service.IssueResult | None = None
        for outcome in service.issue_batch(instance, ca_id, requests, chunk=size):
            if outcome.error is not None:
                raise outcome.error
            last = outcome.result
        assert last is not None
        return last

    sample = issue()
    tbs = sample.certificate["tbs_certificate"].dump()
    signer = instance.keystore.signer(ca.key_id, algorithm_for(ca.family))

    def sign() -> None:
        for _ in range(size):
            signer.sign(tbs)

    return Bench("ca-issue-sm2-batch", issue, f"sign tbs-sized data with the CA key (SM2) x {size}", sign)


def ocsp_bench(instance: Instance, family: str, serial: int) -> Bench:
    """OCSP answers through the service vs. the responder key signing bytes of the size of tbsResponseData."""
    from ca.authority import algorithm_for
    from trust.formats import ocsp as ocsp_mod
    from trust.formats import x509 as cx
    from trust.service import ca as service
    from trust.service import ocsp

    ca_id = service.ca_id_for("region", REGION, family)
    ca = next(c for c in service.list_cas(instance) if c.id == ca_id)
    assert ca.ocsp_key_id is not None
    ca_cert = cx.load_certificate(ca.cert_der)
    request = ocsp_mod.build_request([ocsp_mod.CertId.for_certificate(ca_cert, serial)])
    response = ocsp.respond(instance, request)
    verified = ocsp_mod.verify_response(response, issuer=ca_cert)  # measure a successful, valid answer
    if verified.single(serial).status != "good":
        raise RuntimeError(f"the responder answered {verified.single(serial).status} for a good certificate")
    tbs = ocsp_mod.load_response(response).basic_ocsp_response["tbs_response_data"].dump()
    signer = instance.keystore.signer(ca.ocsp_key_id, algorithm_for(ca.family))
    label = f"RSA-{signer.public_key.size}" if family == "RSA" else "SM2"
    return Bench(
        f"ocsp-respond-{family.lower()}",
        lambda: ocsp.respond(instance, request),
        f"sign tbs-sized data with the responder key ({label})",
        lambda: signer.sign(tbs),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(parser, seconds=2.0)
    parser.add_argument("--only", default="issue,ocsp", help="comma-separated groups: issue, ocsp (both)")
    args = parser.parse_args(argv)
    seconds, rounds = timing(parser, args)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if only - {"issue", "ocsp"}:
        parser.error(f"unknown group(s): {', '.join(sorted(only - {'issue', 'ocsp'}))}")

    try:
        import trust.service.ocsp  # noqa: F401
    except ImportError:
        has_ocsp = False
    else:
        has_ocsp = True
    if "ocsp" in only and not has_ocsp:
        log("trust.service.ocsp is not there yet: the ocsp group is skipped")
        only.discard("ocsp")

    with tempfile.TemporaryDirectory(prefix="huren-bench-") as tmp:
        started = time.perf_counter()
        instance = build_instance(Path(tmp) / "home")
        log(f"setup: roots, national CAs, region {REGION} SM2 + RSA CAs in {time.perf_counter() - started:.1f} s")
        log(f"storage: {instance.settings.effective_database_url}")
        log(f"{rounds} round(s) x {seconds:g} s per operation, alternating ours/baseline; medians reported")
        try:
            for family in ("SM2", "RSA"):
                bench, serial = issue_bench(instance, family)
                if "issue" in only:
                    log(f"{bench.name} vs {bench.baseline_name}")
                    bench.run(rounds, seconds)
                    bench.emit()
                if "ocsp" in only:
                    bench = ocsp_bench(instance, family, serial)
                    log(f"{bench.name} vs {bench.baseline_name}")
                    bench.run(rounds, seconds)
                    bench.emit()
        finally:
            instance.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
