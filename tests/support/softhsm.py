"""SoftHSM2 for tests: one configuration and a few initialised tokens per test session.

A PKCS#11 module reads its configuration once, at ``C_Initialize``, and python-pkcs11 initialises a module once per
process; so the tokens are made before the first test loads the module and ``SOFTHSM2_CONF`` stays set for the
session. Tokens are initialised by Debian's ``softhsm2-util`` (an independent tool), not by Huren.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import missing_external, require_tool

MODULE_PATHS = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
USER_PIN = "hsm-test-pin-1234"
SO_PIN = "hsm-test-so-pin-5678"
TOKENS = (
    "huren-test",
    "huren-client",
    "huren-pin",
    "huren-demo",
    "huren-faults",
    "huren-workers",
    "huren-root",
    "huren-rekey",
)
"""``huren-test``: the key store's token; ``huren-demo``: the token demo world's (its key scan sees only its keys);
``huren-faults``: the token fault tests' (tests/trust/service/test_token_faults.py); ``huren-workers``: the
multi-worker PostgreSQL test's; ``huren-root``: the offline root machine's (test_offline_root.py); ``huren-rekey``:
test_rekey_token.py's; ``huren-client``:
the platform client's; ``huren-pin``: never logged in to by a passing test (login state is per application, so a
wrong PIN is only seen by the first login)."""


@dataclass(frozen=True)
class SoftHsm:
    module: str
    conf: Path
    pin: str = USER_PIN

    def tool(self, *args: str, token: str = "huren-test") -> subprocess.CompletedProcess[str]:
        """Run OpenSC's ``pkcs11-tool`` against a token (an independent PKCS#11 client), logged in."""
        return subprocess.run(
            [require_tool("pkcs11-tool"), "--module", self.module, "--token-label", token, "--login",
             "--pin", self.pin, *args],
            capture_output=True, text=True, check=False, timeout=60,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )  # fmt: skip


def start(folder: Path) -> SoftHsm:
    util = require_tool("softhsm2-util")
    module = next((p for p in MODULE_PATHS if Path(p).exists()), None)
    if module is None:
        missing_external("the SoftHSM2 PKCS#11 module (Debian package softhsm2) is not installed")
    assert module is not None
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, mode=0o700)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for label in TOKENS:
        subprocess.run(
            [util, "--init-token", "--free", "--label", label, "--pin", USER_PIN, "--so-pin", SO_PIN],
            check=True, capture_output=True, env=env, timeout=60,
        )  # fmt: skip
    os.environ["SOFTHSM2_CONF"] = str(conf)  # for the whole session: the module reads it once per process
    return SoftHsm(module, conf)
