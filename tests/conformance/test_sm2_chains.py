"""SM2 certificate chains from the Tongsuo project: every ``chain_cases[]`` entry of
``tests/data/vendor/sm2/sm2_cases.json`` through :func:`verifier.certificate.verify_certificate`.

``trusted`` certificates are the trust anchors, ``intermediates`` untrusted path material, ``leaf`` the
certificate verified; an entry is a file path or ``{"file", "index"}`` into a multi-certificate PEM file.
``validation_time`` is null in every case; Huren judges them all at :data:`VALIDATION_TIME`, a fixed moment inside the
validity of every certificate of every SUCCESS chain (the shortest, ``sm2-leaf-alipay``, runs 2020-04-14..2030-04-12),
so the verdicts do not depend on the day the suite runs (issue 14 item 4; the context's clock fails if it is read).
``expected``: SUCCESS ⇔ TOTAL_PASSED, FAILURE ⇔ anything else; the failures' sub-indications are asserted too.

Listed case (Huren differs on purpose):

* ``tongsuo-sm2-cert-root-without-za`` — ``sm2_za: false`` is for verifiers that offer a mode computing SM2
  signatures *without* Z (Tongsuo's ``sm2-za:no``). Huren offers no such mode: every SM2 signature is
  SM3(Z || M) with the default user ID (GB/T 32918.2, GB/T 35276). The same chain under the normal Z mode is
  ``tongsuo-sm2-cert-root`` (SUCCESS), so Huren's verdict here is TOTAL_PASSED (asserted).

Two encodings seen here that Huren accepts: the Tongsuo ``sm2-root-cert.pem`` family writes the SM2 key's
SubjectPublicKeyInfo algorithm as the SM2 OID 1.2.156.10197.1.301 instead of ``id-ecPublicKey`` (read as the same
key, as OpenSSL 3 does), and ``sm2-leaf.crt`` has ``openssl x509 -text`` output before its PEM block (ignored,
RFC 7468 clause 2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem

from tests.conftest import shared_file
from verifier import context
from verifier.certificate import verify_certificate
from verifier.report import Indication, SubIndication

MANIFEST = shared_file("sm2", "sm2_cases.json")
SM2_DIR = MANIFEST.parent
CASES: list[dict[str, Any]] = json.loads(MANIFEST.read_text())["chain_cases"]
BY_ID = {case["id"]: case for case in CASES}
VALIDATION_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def _no_clock() -> datetime:
    raise AssertionError("the SM2 chain cases must not read the wall clock")


NO_Z_MODE = {
    "tongsuo-sm2-cert-root-without-za": "needs a verifier mode without Z (sm2_za: false); Huren always computes Z "
    "(GB/T 32918.2), under which this chain is valid",
}
EXPECTED_FAILURE = {
    "tongsuo-sm2-noza-cert-standard-z": (Indication.TOTAL_FAILED, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE),
    "tongsuo-ntls-server_sign-expired": (Indication.TOTAL_FAILED, SubIndication.EXPIRED),
    "tongsuo-ntls-server_enc-expired": (Indication.TOTAL_FAILED, SubIndication.EXPIRED),
    "tongsuo-ntls-client_sign-expired": (Indication.TOTAL_FAILED, SubIndication.EXPIRED),
    "tongsuo-ntls-client_enc-expired": (Indication.TOTAL_FAILED, SubIndication.EXPIRED),
}


def _file(relative: str) -> Path:
    return shared_file("sm2", *relative.split("/"))


def load(entry: str | dict[str, Any]) -> bytes:
    """A file's bytes, or the DER of block ``index`` of a multi-certificate PEM file."""
    if isinstance(entry, str):
        return _file(entry).read_bytes()
    blocks = [
        der
        for kind, _headers, der in pem.unarmor(_file(entry["file"]).read_bytes(), multiple=True)
        if kind == "CERTIFICATE"
    ]
    return blocks[entry["index"]]


def test_manifest_is_complete() -> None:
    assert len(CASES) == 13 and len(BY_ID) == 13
    assert {case["expected"] for case in CASES} == {"SUCCESS", "FAILURE"}
    assert {case["id"] for case in CASES if case.get("sm2_za") is False} == set(NO_Z_MODE)
    assert {case["id"] for case in CASES if case["expected"] == "FAILURE"} == set(EXPECTED_FAILURE) | set(NO_Z_MODE)
    assert all(case.get("validation_time") is None for case in CASES)


@pytest.mark.parametrize("case_id", list(BY_ID))
def test_sm2_chain(case_id: str) -> None:
    case = BY_ID[case_id]
    ctx = context.build(
        at=VALIDATION_TIME,
        clock=_no_clock,
        anchors=[load(entry) for entry in case["trusted"]],
        untrusted=[load(entry) for entry in case["intermediates"]],
    )
    [leaf] = context.load_certificates(load(case["leaf"]), "leaf")
    report = verify_certificate(leaf, ctx)
    if case_id in NO_Z_MODE:
        assert case["expected"] == "FAILURE" and case["sm2_za"] is False
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    elif case["expected"] == "SUCCESS":
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
        assert report.chain[-1].source == "anchor" and len(report.chain) == 2 + len(case["intermediates"])
    else:
        assert case["expected"] == "FAILURE"
        assert (report.indication, report.sub_indication) == EXPECTED_FAILURE[case_id], report.to_text()


def test_the_same_chains_fail_under_another_anchor() -> None:
    """The verdicts come from the chain: a valid leaf under an unrelated SM2 root finds no path."""
    case = BY_ID["tongsuo-ntls-server_sign"]
    other = BY_ID["tongsuo-sm2-cert-root"]
    ctx = context.build(
        at=VALIDATION_TIME,
        clock=_no_clock,
        anchors=[load(e) for e in other["trusted"]],
        untrusted=[load(e) for e in case["intermediates"]],
    )
    report = verify_certificate(load(case["leaf"]), ctx)
    assert (report.indication, report.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
