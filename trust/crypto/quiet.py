"""The one third-party warning Huren silences, narrowly.

pyHanko's ``pyhanko/sign/signers/pdf_cms.py`` imports cryptography's ``DSAPrivateKey`` (to recognise DSA keys it
is handed), and cryptography 51 deprecated DSA: every process that imports ``pyhanko.sign`` printed a
``CryptographyDeprecationWarning`` although Huren never makes or accepts DSA keys for signing. The filter matches
that message, that category and that one module only; any other DSA use (a DSA signature met while validating, a
direct import elsewhere) still warns.

:func:`pyhanko_dsa_import` is called by the packages that import ``pyhanko.sign`` (``seal``, ``verifier``) before
their modules run, so the filter is in place whichever module is imported first.
"""

from __future__ import annotations

import warnings
from typing import Final

MESSAGE: Final = r"DSA is deprecated"
MODULE: Final = r"pyhanko\.sign\.signers\.pdf_cms\Z"


def pyhanko_dsa_import() -> None:
    """Ignore the DSA deprecation warning of pyHanko's ``pdf_cms`` import (idempotent: ``warnings`` dedups)."""
    from cryptography.utils import CryptographyDeprecationWarning

    warnings.filterwarnings("ignore", message=MESSAGE, category=CryptographyDeprecationWarning, module=MODULE)
