#!/usr/bin/env python3
"""Certificate chain validations per second of Huren's offline verifier against pyhanko-certvalidator alone.

    .venv/bin/python bench/verifier.py [--seconds S] [--rounds R] [--quick] [--only sm2,rsa] [--clock wall|cpu]

Prints one JSON object per line on stdout (the format of ``bench/crypto.py``)::

    {"bench": "verify-chain-rsa", "ours": X, "baseline": "pyhanko-certvalidator 0.33.0 CertificateValidator",
     "baseline_value": Y, "ratio": X / Y, "unit": "ops/s"}

``ratio`` > 1 means Huren is faster. Progress and per-round samples go to stderr.

Setup: a throw-away instance in a temporary folder (SQLite) with the national roots and the 浙江 (330000) SM2 and
RSA regional CAs; one seal certificate issued by each regional CA (root → region CA → leaf, depth 3); the
signed offline bundle exported and loaded with :func:`verifier.context.build` (pinned root, trust list, every
CA's CRL) once, as ``trust verify`` does per run.

* **ours** — :func:`verifier.certificate.verify_certificate` on the leaf's DER with that context and a fresh
  memo (:class:`verifier.context.Memo`; its parsed CRLs included) per validation: parsing,
  bounded path search, RFC 5280 validation with revocation from the bundle's CRLs (the leaf and the regional
  CA name CRL distribution points; hard-fail), the purpose check, the trust-list checks, the report.
* **baseline** — pyhanko-certvalidator's own ``CertificateValidator(...).async_validate_path()`` on the same
  leaf DER (parsed each time, as ours), with a fresh ``ValidationContext`` per validation (a reused one caches
  validated paths) holding the same anchors, the same intermediates (the trust list's CA certificates), the
  same CRLs (parsed from DER each time, as ours with its fresh memo), the same validation time,
  ``revocation_mode="hard-fail"`` and no fetching. pyhanko cannot
  check SM2 by itself, so the SM2 baseline runs with Huren's SM2 ``SignatureValidator``
  (``trust.crypto.certvalidator.SIGNATURE_VALIDATOR``), the RSA baseline with pyhanko's default one: both
  sides do the same signature and CRL work, and the ratio is the cost of what the verifier adds.

Ours and baseline alternate for ``--rounds`` rounds of ``--seconds`` seconds on one thread; the medians are
reported. ``--clock cpu`` counts this process's CPU time instead of wall time: on a shared machine other work
then shifts both sides less. Before measuring, both sides must accept the chain (TOTAL_PASSED / a validated path).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

if TYPE_CHECKING:
    from trust.service.instance import Instance
    from verifier.context import VerificationContext

PASSPHRASE = b"bench passphrase, not secret"
REGION = "330000"


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


def leaf_der(instance: Instance, family: str) -> bytes:
    from trust.formats.names import DN, make_uscc
    from trust.service import ca as service

    subject = DN(
        province="浙江省",
        organization="基准测试有限公司",
        common_name="公章",
        serial_number=make_uscc("91330106MA2CFA4X0"),
    )
    issued = service.issue(
        instance, ca_id=service.ca_id_for("region", REGION, family), profile="seal", subject=subject, key_family=family
    )
    return bytes(issued.certificate.dump())


def verifier_context(instance: Instance) -> VerificationContext:
    from trust.service import trust
    from verifier import context

    bundle = trust.export_bundle(instance).read_bytes()
    return context.build(bundle=bundle, pins=list(trust.root_fingerprints(instance).values()))


def chain_bench(family: str, der: bytes, ctx: VerificationContext) -> Bench:
    from asn1crypto import x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    from trust.crypto.certvalidator import SIGNATURE_VALIDATOR
    from verifier.certificate import verify_certificate
    from verifier.context import Memo

    def ours() -> object:
        # A fresh memo, as the baseline gets a fresh ValidationContext: the context's memo would otherwise answer
        # the same question from its report table (tens of thousands per second) instead of validating.
        return verify_certificate(der, dataclasses.replace(ctx, memo=Memo()))

    from asn1crypto import crl as asn1_crl

    anchors, intermediates, crl_ders = list(ctx.anchors), list(ctx.intermediates), list(ctx.crls)
    extra: dict[str, Any] = {"signature_validator": SIGNATURE_VALIDATOR} if family == "SM2" else {}

    def baseline() -> object:
        validation = ValidationContext(
            trust_roots=anchors,
            other_certs=intermediates,
            crls=[asn1_crl.CertificateList.load(d) for d in crl_ders],  # parsed each time, as ours (fresh memo)
            moment=ctx.validation_time,
            allow_fetching=False,
            revocation_mode="hard-fail",
            **extra,
        )
        validator = CertificateValidator(x509.Certificate.load(der), validation_context=validation)
        return asyncio.run(validator.async_validate_path())

    report = ours()
    if not report.passed:  # type: ignore[attr-defined]
        raise RuntimeError(f"ours does not accept the {family} chain:\n{report.to_text()}")  # type: ignore[attr-defined]
    path = baseline()
    if path.pkix_len != 2:  # type: ignore[attr-defined]
        raise RuntimeError(f"the baseline validated a path of {path.pkix_len} certificates")  # type: ignore[attr-defined]
    name = f"pyhanko-certvalidator {version('pyhanko-certvalidator')} CertificateValidator"
    if family == "SM2":
        name += " + Huren SM2 SignatureValidator"
    return Bench(f"verify-chain-{family.lower()}", ours, name, baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(parser, seconds=2.0)
    parser.add_argument("--only", default="sm2,rsa", help="comma-separated chains: sm2, rsa (both)")
    args = parser.parse_args(argv)
    seconds, rounds = timing(parser, args)
    only = [part.strip().lower() for part in args.only.split(",") if part.strip()]
    if set(only) - {"sm2", "rsa"}:
        parser.error(f"unknown chain(s): {', '.join(sorted(set(only) - {'sm2', 'rsa'}))}")

    with tempfile.TemporaryDirectory(prefix="huren-bench-") as tmp:
        started = time.perf_counter()
        instance = build_instance(Path(tmp) / "home")
        try:
            leaves = {family: leaf_der(instance, family) for family in ("SM2", "RSA")}
            ctx = verifier_context(instance)
        finally:
            instance.engine.dispose()
        log(
            f"setup: roots, region {REGION} SM2 + RSA CAs, two seal certificates, bundle in "
            f"{time.perf_counter() - started:.1f} s; context: {len(ctx.anchors)} anchors, "
            f"{len(ctx.intermediates)} CA certificates, {len(ctx.crls)} CRLs"
        )
        log(
            f"{rounds} round(s) x {seconds:g} s ({args.clock} clock) per operation, alternating ours/baseline; "
            "medians reported"
        )
        for family in ("SM2", "RSA"):
            if family.lower() not in only:
                continue
            bench = chain_bench(family, leaves[family], ctx)
            log(f"{bench.name} vs {bench.baseline_name}")
            bench.run(rounds, seconds)
            bench.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
