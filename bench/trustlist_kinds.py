#!/usr/bin/env python3
"""Verification cost with 10^4 issuers in the trust list, for every kind the verifier checks (issue 15 item 4).

    .venv/bin/python bench/trustlist_kinds.py [--seconds S] [--rounds R] [--quick] [--clock wall|cpu]
                                              [--issuers N] [--only certificate,pdf-sm2,...]

``bench/scale.py``'s ``trustlist-10k`` measures a licence token only; this measures the other inputs
``verifier.api.verify`` accepts, each a golden artefact (tests/data/golden/, judged at its validation time; the OFD
is ofdrw's hello-world sealed by the golden contract seal, as tests/trust/web/grid_cases.py makes it):

* ``trustlist-10k-certificate`` (the contract seal's certificate, PEM) and ``-certificate-der`` (the same, DER),
* ``trustlist-10k-pdf-sm2`` and ``-pdf-rsa`` (sealed PDFs, PAdES B-LTA: signature, time stamps, DSS),
* ``trustlist-10k-license-pdf`` (a licence PDF: its seal and the licence token inside),
* ``trustlist-10k-seal`` (a GB/T 38540 seal), ``-ses-signature`` (an SES_Signature with the document it signs),
* ``trustlist-10k-ofd`` (a sealed OFD),
* ``trustlist-10k-token``, ``-sd-jwt``, ``-qr`` (a licence token, an SD-JWT presentation, a QR payload).

**ours**: ``verifier.api.verify`` with a context whose trust list has ``--issuers`` issuers (10,000); **baseline**:
the same with 12 issuers (ops/s; ratio = big / small, ≥ 0.8 wanted: the cost does not depend on the list's size).
Both contexts are the golden bundle's context (its anchors, CA certificates and CRLs) with its trust list replaced
by one holding the golden list's issuers followed by synthetic ones (one service each with a certificate of its own:
licence issuers, seal makers, time-stamping and OCSP services, in the proportions 7:1:1:1), each context with its own
memo, warm (one verification first; the first verification's CPU time with the big list is logged). Then the
objects made so far are moved out of the garbage collector's sight (``gc.freeze``): with both lists in memory a full
collection costs ~0.1–0.3 s here, and one falling in a 1.5 s window made single ratios swing from 0.16 to 1.5 (both
sides hold the same heap, so the collector's cost, which does grow with the list, is not what a ratio can show: the
time of one full collection is logged instead). The golden
bundle's roots cannot sign a bigger list here (their keys are not kept): the signed-bundle path with 10^4 issuers
(``context.build``, its parsing and signature checks) is ``bench/scale.py --only trustlist``'s, which logs it.

Prints one JSON line per kind on stdout (``{"bench", "ours", "baseline", "baseline_value", "ratio", "unit"}``),
progress on stderr. Figures in docs/PERFORMANCE.md (issue 15).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

if TYPE_CHECKING:
    from trust.formats.trustlist import Issuer, TrustList
    from verifier.context import VerificationContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the golden artefacts' helpers (tests.support)
BUSINESS = "11100000000013338W101"  # 营业执照
TYPES = ("LICENSE_ISSUER",) * 7 + ("SEAL_MAKER", "TSA", "OCSP")


def synthetic_issuers(issued_at: datetime, count: int, types: tuple[str, ...] = TYPES) -> list[Issuer]:
    """``count`` issuers granted since the day before ``issued_at``, each with one service of ``types[i % len]`` and an
    SM2 certificate of its own for a key of its own (signed by a throw-away CA key: nothing chains to them, they only
    fill the list; distinct keys, as a real list's, so that no per-key cache makes a scan of them look cheap)."""
    from ca import authority
    from trust.crypto.keys import generate_private_key
    from trust.formats import trustlist as tl
    from trust.formats import x509 as cx
    from trust.formats.names import DN

    ca_key = generate_private_key("sm2")
    signer = ca_key.signer()
    issuer_name = DN(organization="合成签发机构", common_name="合成 CA").to_asn1()
    granted = (tl.StatusEntry("granted", issued_at - timedelta(days=1)),)
    issuers = []
    for i in range(count):
        kind = types[i % len(types)]
        cert = (
            cx.CertificateBuilder()
            .subject(DN(organization=f"合成签发机构 {i}", common_name=f"合成服务 {i}").to_asn1())
            .issuer(issuer_name)
            .public_key(generate_private_key("sm2").public_key)
            .serial_number(authority.new_serial())
            .validity(issued_at - timedelta(days=1), issued_at + timedelta(days=365))
            .add_extension(cx.basic_constraints(False))
            .sign(signer)
        )
        scope: dict[str, Any] = {}
        if kind == "LICENSE_ISSUER":
            scope = {"license_types": [BUSINESS], "issuer_id": f"synthetic-{i}", "name": f"合成签发机构 {i}"}
        elif kind == "OCSP":
            scope = {"ca": f"synthetic-ca-{i}"}
        service = tl.Service(f"synthetic-{kind.lower()}-{i}", kind, "SM2", cert.dump(), granted, scope)
        issuers.append(
            tl.Issuer(f"department-synthetic-{i}", "department", f"S{i:08d}", f"合成 {i}", granted, (service,))
        )
    return issuers


def with_issuers(listed: TrustList, extra: list[Issuer]) -> TrustList:
    """``listed`` with ``extra`` issuers after its own (a new object: its indexes start empty)."""
    return dataclasses.replace(listed, issuers=(*listed.issuers, *extra))


def inputs(only: set[str]) -> dict[str, tuple[bytes, bytes | None]]:
    """kind -> (input, the signed data of a detached signature)."""
    from tests.support import golden

    der = golden.certificate("seal-contract-sm2").dump()
    table: dict[str, Callable[[], tuple[bytes, bytes | None]]] = {
        "certificate": lambda: (golden.read("pki/seal-contract-sm2.pem"), None),
        "certificate-der": lambda: (der, None),
        "pdf-sm2": lambda: (golden.read("pdf/sealed-SM2-B-LTA.pdf"), None),
        "pdf-rsa": lambda: (golden.read("pdf/sealed-RSA-B-LTA.pdf"), None),
        "license-pdf": lambda: (golden.read("license/license.pdf"), None),
        "seal": lambda: (golden.read("ses/seal-v4.esl"), None),
        "ses-signature": lambda: (golden.read("ses/signature-v4.der"), golden.read("ses/document.xml")),
        "ofd": lambda: (_ofd(), None),
        "token": lambda: (golden.text("license/token-zj.jwt").strip().encode(), None),
        "sd-jwt": lambda: (golden.text("license/sd-jwt-zj.txt").strip().encode(), None),
        "qr": lambda: (golden.text("license/qr-zj.txt").strip().encode(), None),
    }
    return {kind: make() for kind, make in table.items() if not only or kind in only}


KINDS = (
    "certificate", "certificate-der", "pdf-sm2", "pdf-rsa", "license-pdf", "seal", "ses-signature", "ofd", "token",
    "sd-jwt", "qr",
)  # fmt: skip


def _ofd() -> bytes:
    from tests.trust.web.grid_cases import ofd_valid

    return ofd_valid()


def contexts(issuers: int, small: int = 12) -> tuple[VerificationContext, VerificationContext]:
    """The golden context with ``small`` and with ``issuers`` issuers in its trust list (module docstring)."""
    from tests.support import golden
    from verifier.context import Memo

    base = golden.context()
    listed = base.trust_list
    assert listed is not None
    extra = synthetic_issuers(listed.issued_at, issuers - len(listed.issuers))
    few = with_issuers(listed, extra[: small - len(listed.issuers)])
    many = with_issuers(listed, extra)
    return (
        dataclasses.replace(base, trust_list=few, memo=Memo()),
        dataclasses.replace(base, trust_list=many, memo=Memo()),
    )


def verifier(data: bytes, signed: bytes | None, ctx: VerificationContext, verdict: str) -> Callable[[], object]:
    from verifier import api

    def run() -> object:
        report = api.verify(data, ctx, signed_data=signed)
        if report.indication.value != verdict:
            raise RuntimeError(f"verdict {report.indication.value}, expected {verdict}: {report.to_dict()}")
        return report

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(parser, seconds=2.0)
    parser.add_argument("--issuers", type=int, default=10_000, help="issuers in the big trust list (10000)")
    parser.add_argument("--only", default="", help=f"kinds: {', '.join(KINDS)} (all)")
    args = parser.parse_args(argv)
    seconds, rounds = timing(parser, args)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if only - set(KINDS):
        parser.error(f"--only takes {', '.join(KINDS)}")
    from verifier import api

    started = time.perf_counter()
    small, big = contexts(args.issuers)
    count = len(small.trust_list.issuers) if small.trust_list else 0
    log(f"trustlist kinds: {count} vs {args.issuers} issuers; ready in {time.perf_counter() - started:.1f} s")
    name = "trustlist-10k" if args.issuers == 10_000 else f"trustlist-{args.issuers}"
    cases = inputs(only)
    verdicts = {}
    for kind, (data, signed) in cases.items():
        verdict = verdicts[kind] = api.verify(data, small, signed_data=signed).indication.value
        began = time.process_time()
        first = api.verify(data, big, signed_data=signed).indication.value
        log(f"{name}-{kind}: {verdict}; first verification with {args.issuers} issuers "
            f"{time.process_time() - began:.3f} s CPU")  # fmt: skip
        if first != verdict:
            raise RuntimeError(f"{kind}: {first} with {args.issuers} issuers, {verdict} with {count}")
    gc.collect()
    began = time.process_time()
    gc.collect()
    log(f"a full garbage collection with both lists in memory: {time.process_time() - began:.3f} s CPU, "
        f"{len(gc.get_objects())} objects; frozen now (gc.freeze)")  # fmt: skip
    gc.freeze()
    for kind, (data, signed) in cases.items():
        verdict = verdicts[kind]
        bench = Bench(
            f"{name}-{kind}",
            verifier(data, signed, big, verdict),
            f"the same verification with {count} issuers",
            verifier(data, signed, small, verdict),
        )
        bench.run(rounds, seconds)
        bench.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
