"""The verifier's reports of the whole demo world, for machines and for people (issue 13 item 5).

* Every artefact ``trust verify`` takes — certificates, seals, the GB/T 38540 signature, sealed PDFs, licence tokens,
  SD-JWTs, QR payloads, licence PDFs; genuine, revoked, suspended and tampered — gives a JSON report that the
  published schema (``verifier/schemas/report.schema.json``) validates, naming the bundle and trust list it used.
* Its text, short and ``--verbose``, holds no Python literal (``{'``, ``['``, ``None`` …) and no ``0x0x``; a passed
  report is short (no check listed one by one), a failed one gives its reason on the second line.
* A scan of every demo licence PDF's face (poppler's pdftoppm, PNG at 150 dpi and JPEG at 100 dpi) verifies as the
  licence QR code it carries.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.support.demo import demo_index, demo_pins
from tests.verifier.test_report_schema import REPR, valid
from verifier import api, context
from verifier.report import Indication

INPUTS = {"certificate", "seal", "ses-signature", "pdf", "license-token", "license-sd-jwt", "license-qr", "license-pdf"}


@pytest.fixture(scope="module")
def ctx(demo: Path) -> context.VerificationContext:
    return context.build(bundle=(demo / "out" / "bundle.json").read_bytes(), pins=demo_pins(demo)[:1])


def _entries(demo: Path) -> list[dict[str, Any]]:
    return [e for e in demo_index(demo) if e["kind"] in INPUTS]


def test_every_demo_report_fits_the_schema_and_reads_well(demo: Path, ctx: context.VerificationContext) -> None:
    out = demo / "out"
    seen: dict[str, set[str]] = {}
    for entry in _entries(demo):
        signed = (out / entry["data"]).read_bytes() if entry.get("data") else None
        report = api.verify((out / entry["path"]).read_bytes(), ctx, signed_data=signed)
        data = valid(report)
        assert data["indication"] == entry["expect"], (entry["id"], report.to_text())
        assert data["source"]["trust_list"]["sequence"] == ctx.trust_list.sequence  # type: ignore[union-attr]
        assert data["source"]["bundle"]["sha256"] == ctx.bundle.sha256  # type: ignore[union-attr]
        short, verbose = report.to_text(), report.to_text(verbose=True)
        for text in (short, verbose):
            assert not REPR.search(text), (entry["id"], REPR.search(text), text)
        lines = short.splitlines()
        assert lines[0].startswith(data["indication"].replace("_", "-")), lines[0]
        if report.passed:
            assert not any(line.lstrip().startswith(("ok ", "FAIL ")) for line in lines), (entry["id"], short)
            assert len(lines) < len(verbose.splitlines()), entry["id"]
        else:
            assert lines[1].lstrip().startswith("reason: "), (entry["id"], short)
        seen.setdefault(entry["kind"], set()).add(data["indication"])
    assert set(seen) == INPUTS and "TOTAL_FAILED" in seen["license-token"], seen


def test_the_dual_seal_says_which_signature_is_sm2_and_which_rsa(demo: Path, ctx: context.VerificationContext) -> None:
    dual = next(e for e in _entries(demo) if e["kind"] == "pdf" and "dual" in e["path"])
    report = api.verify((demo / "out" / dual["path"]).read_bytes(), ctx)
    first = report.to_text().splitlines()[0]
    assert "(SM2, RSA " in first, first
    signers = [c.subject for c in report.children if c.kind == "pdf-signature"]
    assert len(signers) == 2 and first.count(signers[0]) == 1, first  # the one signer named once
    assert sorted(dict(c.details)["key"].split()[0] for c in report.children if c.kind == "pdf-signature") == [
        "RSA",
        "SM2",
    ]


@pytest.mark.external
def test_a_scan_of_every_licence_pdf_verifies_as_its_qr_code(
    demo: Path, ctx: context.VerificationContext, tmp_path: Path
) -> None:
    out = demo / "out"
    checked = 0
    for entry in (e for e in _entries(demo) if e["kind"] == "license-pdf"):
        for flag, dpi, suffix in (("-png", 150, "png"), ("-jpeg", 100, "jpg")):
            prefix = tmp_path / f"{entry['id']}-{dpi}"
            pages = ["-f", "1", "-l", "1", str(out / entry["path"]), str(prefix)]
            subprocess.run([require_tool("pdftoppm"), "-r", str(dpi), flag, *pages], check=True, timeout=60)
            (page,) = tmp_path.glob(f"{prefix.name}*.{suffix}")
            report = api.verify(page.read_bytes(), ctx)
            assert report.kind == "license-qr" and report.checks[0].name == "image", (entry["id"], report.to_text())
            assert report.indication is Indication.TOTAL_PASSED, (entry["id"], report.to_text())
            assert entry["identifier"] in report.subject
            valid(report)
            checked += 1
    assert checked >= 12
