"""pyHanko's DSA deprecation warning is silenced narrowly (``trust/crypto/quiet.py``): that message from that
module only, in a fresh interpreter whichever Huren module imports pyHanko first."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


def _stderr(program: str) -> str:
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", program], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.mark.parametrize("module", ["seal.pdf", "verifier.pdf.verify", "verifier.license_pdf"])
def test_importing_huren_prints_no_dsa_warning(module: str) -> None:
    """Each of these imports ``pyhanko.sign`` at the top (checked), first thing in a fresh interpreter."""
    stderr = _stderr(f"import sys, {module}\nassert 'pyhanko.sign.signers.pdf_cms' in sys.modules")
    assert "DSA is deprecated" not in stderr


def test_other_dsa_use_still_warns() -> None:
    """Not a blanket ignore: DSA touched anywhere else still warns."""
    stderr = _stderr("import seal.pdf\nfrom cryptography.hazmat.primitives.asymmetric import dsa\ndsa.DSAPublicKey\n")
    assert "DSA is deprecated" in stderr


def test_the_filter_names_one_module() -> None:
    import warnings

    from trust.crypto import quiet

    quiet.pyhanko_dsa_import()
    ours = [f for f in warnings.filters if f[1] is not None and f[1].pattern == quiet.MESSAGE]
    assert ours and all(f[0] == "ignore" and f[3] is not None and f[3].pattern == quiet.MODULE for f in ours)
