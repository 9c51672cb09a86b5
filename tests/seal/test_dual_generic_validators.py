"""A dual seal (SM2, then RSA over the whole file) in the hands of generic PDF validators (issue 12 item 12).

What these tests pin down (docs/SEALS.md, "Dual seals and generic validators"):

* poppler's ``pdfsig`` reports both signatures and judges the RSA one valid over the total document;
* pyHanko as a library, in a process that never imported Huren, validates the dual seal's RSA signature;
* pyHanko's command line (``pyhanko sign validate``, pyhanko-cli) validates the signatures in signing order inside one
  exception handler, and the SM2 signature's digest (SM3, an OID pyHanko does not know) raises ``AttributeError``
  from ``get_pyca_cryptography_hash`` before any signature-level error handling: the whole command ends in
  "Generic processing error." without reporting the RSA signature. Signing RSA first would get the RSA line
  printed (and the command would still fail); an SM2 ``/SubFilter`` pyHanko does not recognise would hide the SM2
  signature from it — neither is done (see the docs). A change in pyHanko that lets the CLI get past the SM2
  signature makes the first test fail, which is when the layout should be looked at again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing_external
from tests.seal.conftest import SEAL_BOX, SealingWorld
from tests.seal.test_pdf_sealing import nssdir, pdfsig
from trust.service.seals import sealing
from verifier import api, context
from verifier.report import Indication

pytestmark = pytest.mark.external
__all__ = ["nssdir"]  # a fixture, used by name


def _pyhanko_cli() -> str:
    path = Path(sys.executable).parent / "pyhanko"
    if not path.exists():
        missing_external("the pyhanko command (pyhanko-cli, a dev dependency) is not installed")
    return str(path)


@pytest.fixture(scope="module")
def sealed(sealing_world: SealingWorld, one_page: bytes, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("dual-generic")
    paths = {}
    for family in ("dual", "RSA"):
        data = sealing.seal_document(
            sealing_world.instance,
            one_page,
            es_id=sealing_world.es_id,
            level="B-B",
            family=family,
            page=1,
            box=SEAL_BOX,
        )
        paths[family] = folder / f"{family}.pdf"
        paths[family].write_bytes(data)
    root = folder / "root-rsa.pem"
    root.write_bytes(sealing_world.world.ca_pem("root-rsa"))
    return {"paths": paths, "root": root, "folder": folder}


def _validate_cli(path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    arguments = ["--verbose", "sign", "validate", "--trust", str(root), "--trust-replace", "--no-revocation-check"]
    return subprocess.run(
        [_pyhanko_cli(), *arguments, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_pyhanko_cli_aborts_at_the_sm2_signature_of_a_dual_seal(sealed: dict[str, Any]) -> None:
    rsa_only = _validate_cli(sealed["paths"]["RSA"], sealed["root"])
    assert rsa_only.returncode == 0, rsa_only.stderr[-2000:]
    assert ":INTACT:TRUSTED,UNTOUCHED" in rsa_only.stdout  # the same RSA seal certificate, alone: reported valid
    dual = _validate_cli(sealed["paths"]["dual"], sealed["root"])
    assert dual.returncode != 0
    assert "Generic processing error." in dual.stderr
    assert "Seal1-RSA" not in dual.stdout  # the RSA signature is never reached
    # the evidence: the byte-range digest of the first signature (SM2, signed first) with an unknown digest OID
    assert "byte_range_digest" in dual.stderr and "get_pyca_cryptography_hash" in dual.stderr
    assert "AttributeError" in dual.stderr and "1.2.156.10197.1.401" in dual.stderr


def test_pdfsig_and_the_pyhanko_library_report_the_rsa_signature(
    sealed: dict[str, Any], sealing_world: SealingWorld, tmp_path: Path, nssdir: Path
) -> None:
    data = sealed["paths"]["dual"].read_bytes()
    sm2, rsa = pdfsig(data, tmp_path, nssdir)
    assert (sm2["Signature Field Name"], sm2["Signing Hash Algorithm"]) == ("Seal1-SM2", "unknown")
    assert (rsa["Signature Field Name"], rsa["Signature Validation"]) == ("Seal1-RSA", "Signature is Valid.")
    assert "Total document signed" in rsa
    # pyHanko as a library, without Huren in the process: the RSA signature is intact, valid and trusted.
    script = (
        "import json, sys\n"
        "from pyhanko.pdf_utils.reader import PdfFileReader\n"
        "from pyhanko.sign.validation import validate_pdf_signature\n"
        "from pyhanko.keys import load_cert_from_pemder\n"
        "from pyhanko_certvalidator import ValidationContext\n"
        "reader = PdfFileReader(open(sys.argv[1], 'rb'))\n"
        "names = [s.field_name for s in reader.embedded_regular_signatures]\n"
        "rsa = next(s for s in reader.embedded_regular_signatures if s.field_name.endswith('-RSA'))\n"
        "vc = ValidationContext(trust_roots=[load_cert_from_pemder(sys.argv[2])], allow_fetching=False)\n"
        "status = validate_pdf_signature(rsa, vc, skip_diff=False)\n"
        "print(json.dumps({'names': names, 'intact': status.intact, 'valid': status.valid, "
        "'trusted': status.trusted, 'coverage': status.coverage.name, 'huren': 'trust' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(sealed["paths"]["dual"]), str(sealed["root"])],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "names": ["Seal1-SM2", "Seal1-RSA"],
        "intact": True,
        "valid": True,
        "trusted": True,
        "coverage": "ENTIRE_FILE",
        "huren": False,
    }
    # and Huren verifies both signatures of the same file
    instance = sealing_world.instance
    from trust.service import trust

    ctx = context.build(
        bundle=json.dumps(trust.build_bundle(instance)).encode(), pins=[trust.root_fingerprints(instance)["SM2"]]
    )
    report = api.verify(data, ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert len(report.children) == 2
