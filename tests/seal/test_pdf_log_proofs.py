"""Proofs with credentials (issue 19): a sealed PDF carries each signer certificate's inclusion proof in the
transparency log (the embedded file ``huren-log-proofs.json``, in the revision the signatures cover); the offline
them per signature (``--require-transparency`` and a region's setting are then met by the file alone); a
forged carried proof fails; pyHanko and poppler's pdfsig still accept the PDF."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.seal.conftest import SEAL_BOX, SealingWorld
from tests.seal.test_pdf_sealing import nssdir, pdfsig  # noqa: F401 - nssdir is a fixture
from tests.support.pdf_tools import pyhanko_accepts, pyhanko_validate
from trust.formats import tlog as ft
from trust.service import trust as trust_service
from trust.service.seals import sealing
from verifier import api, context
from verifier.report import Indication


def _context(instance):
    bundle = trust_service.export_bundle(instance).read_bytes()
    return context.build(bundle=bundle, pins=list(trust_service.root_fingerprints(instance).values()))


def _carried(pdf: bytes) -> list[dict]:
    """The proofs embedded in the PDF, read with pyHanko's reader (not the verifier's code)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    (spec,) = [names[i + 1].get_object() for i in range(0, len(names), 2) if names[i] == ft.PDF_ATTACHMENT]
    return json.loads(spec["/EF"]["/F"].get_object().data)


def _transparency(report) -> list[str]:
    return [c.result.value for c in report.checks if c.name == "transparency"]


@pytest.fixture(scope="module")
def proven(sealing_world: SealingWorld, one_page: bytes) -> bytes:
    return sealing.seal_document(
        sealing_world.instance, one_page, es_id=sealing_world.es_id, level="B-B", family="dual",
        page=1, box=SEAL_BOX, log_proof=True,
    )  # fmt: skip


def test_the_pdf_carries_each_signer_certificates_proof_and_the_verifier_checks_them(
    sealing_world: SealingWorld, one_page: bytes, proven: bytes
) -> None:
    instance = sealing_world.instance
    proofs = _carried(proven)
    assert len(proofs) == 2 and all(p["hash"] == "sha256" for p in proofs)  # the SM2 and the RSA signer
    ctx = _context(instance)
    report = api.verify(proven, ctx, require_transparency=True)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text(verbose=True)
    assert len(report.children) == 2
    assert all(_transparency(child) == ["passed"] for child in report.children)
    # the same seal without the proofs: unlogged under --require-transparency
    plain = sealing.seal_document(
        instance, one_page, es_id=sealing_world.es_id, level="B-B", family="dual", page=1, box=SEAL_BOX
    )
    assert ft.PDF_MARKER not in plain
    bare = api.verify(plain, ctx, require_transparency=True)
    assert bare.sub_indication is not None
    assert (bare.indication, bare.sub_indication.value) == (Indication.INDETERMINATE, "NO_POE")
    assert api.verify(plain, ctx).indication is Indication.TOTAL_PASSED  # no policy, no proof: unchanged


def test_a_forged_carried_proof_fails(
    sealing_world: SealingWorld, one_page: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sealing._log_proofs

    def forged(instance, certificates):
        out = []
        for proof in real(instance, certificates):
            document = json.loads(proof)
            document["leaf_index"] ^= 1
            out.append(json.dumps(document).encode())
        return out

    monkeypatch.setattr(sealing, "_log_proofs", forged)
    pdf = sealing.seal_document(
        sealing_world.instance, one_page, es_id=sealing_world.es_id, level="B-B", family="SM2",
        page=1, box=SEAL_BOX, log_proof=True,
    )  # fmt: skip
    report = api.verify(pdf, _context(sealing_world.instance))
    assert report.indication is Indication.TOTAL_FAILED
    assert _transparency(report.children[0]) == ["failed"]


def test_b_lt_keeps_the_proofs_with_the_validation_data(sealing_world: SealingWorld, one_page: bytes) -> None:
    pdf = sealing.seal_document(
        sealing_world.instance, one_page, es_id=sealing_world.es_id, level="B-LT", family="SM2",
        page=1, box=SEAL_BOX, log_proof=True,
    )  # fmt: skip
    assert len(_carried(pdf)) == 1
    ctx = _context(sealing_world.instance)
    report = api.verify(pdf, ctx, require_transparency=True)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text(verbose=True)
    assert all(pyhanko_accepts(status) for _field, status in pyhanko_validate(pdf, ctx))


def test_pyhanko_and_pdfsig_still_accept_the_pdf(
    sealing_world: SealingWorld,
    proven: bytes,
    tmp_path: Path,
    nssdir: Path,  # noqa: F811
) -> None:
    ctx = _context(sealing_world.instance)
    statuses = pyhanko_validate(proven, ctx)
    assert len(statuses) == 2 and all(pyhanko_accepts(status) for _field, status in statuses), statuses
    _sm2, rsa = pdfsig(proven, tmp_path, nssdir)
    assert rsa["Signature Field Name"] == "Seal1-RSA"
    assert rsa["Signature Validation"] == "Signature is Valid."
    assert "Total document signed" in rsa
