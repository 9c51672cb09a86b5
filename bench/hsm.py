#!/usr/bin/env python3
"""Signatures per second with keys on a PKCS#11 token (SoftHSM2) against the same keys' file path, in one run.

    .venv/bin/python bench/hsm.py [--seconds S] [--rounds R] [--quick] [--clock cpu]

Prints one JSON object per line on stdout::

    {"bench": "hsm-rsa-2048-sign", "ours": X, "baseline": "file key store (pyca/cryptography)",
     "baseline_value": Y, "ratio": X / Y, "unit": "signatures/s"}

``ours`` signs through :class:`trust.crypto.pkcs11.TokenKeyStore` (a key made on a fresh SoftHSM2 token by
``C_GenerateKeyPair``; python-pkcs11, one session from the pool, the per-process module lock), ``baseline`` through
:class:`trust.crypto.keystore.FileKeyStore` (an encrypted PKCS#8 file, decrypted once and cached, signed by
pyca/cryptography/OpenSSL). Both sign the same 32-byte message with RSA-2048 PKCS#1 v1.5 SHA-256 and ECDSA P-256
SHA-256, on one thread. ``ratio`` < 1 means the token path is slower (what it costs to keep the key in the token).
SoftHSM2 runs in this process, so ``--clock cpu`` counts its work too. Needs ``softhsm2-util`` and the SoftHSM2
module (Debian package ``softhsm2``) and ``huren[hsm]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench._harness import Bench, log, timing, timing_arguments
else:
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

MESSAGE = bytes(range(32))
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
CASES = (("rsa-2048", "rsa-pkcs1-sha256"), ("ec-p256", "ecdsa-sha256"))


def softhsm(folder: Path) -> tuple[str, str]:
    """A fresh SoftHSM2 token ``bench`` under ``folder``: (module path, user PIN)."""
    util = shutil.which("softhsm2-util")
    module = next((m for m in MODULES if Path(m).exists()), None)
    if util is None or module is None:
        sys.exit("bench/hsm.py needs SoftHSM2 (Debian package softhsm2)")
    (folder / "tokens").mkdir(mode=0o700)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read once, when the module is initialised
    pin = secrets.token_hex(8)
    subprocess.run(
        [util, "--init-token", "--free", "--label", "bench", "--pin", pin, "--so-pin", secrets.token_hex(8)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return module, pin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(parser, seconds=3.0)
    args = parser.parse_args(argv)
    seconds, rounds = timing(parser, args)
    from importlib.metadata import version

    from trust.crypto.algorithms import SignatureAlgorithm
    from trust.crypto.keystore import FileKeyStore
    from trust.crypto.pkcs11 import TokenConfig, TokenKeyStore

    with tempfile.TemporaryDirectory(prefix="huren-bench-hsm-") as tmp:
        folder = Path(tmp)
        module, pin = softhsm(folder)
        files = FileKeyStore(folder / "keys", secrets.token_bytes(32), iterations=2_000)
        token = TokenKeyStore(TokenConfig(module, "bench", pin), files)
        log(f"SoftHSM2 {module}; python-pkcs11 {version('python-pkcs11')}; cryptography {version('cryptography')}")
        try:
            for spec, name in CASES:
                algorithm = SignatureAlgorithm.from_name(name)
                on_token = token.signer(token.generate(spec, label=f"bench {spec}").key_id, algorithm)
                in_file = files.signer(files.generate(spec, label=f"bench {spec}").key_id, algorithm)
                on_token.public_key.verify(on_token.sign(MESSAGE), MESSAGE, algorithm)  # both sides really sign
                in_file.public_key.verify(in_file.sign(MESSAGE), MESSAGE, algorithm)
                bench = Bench(
                    f"hsm-{spec}-sign",
                    functools.partial(on_token.sign, MESSAGE),
                    "file key store (pyca/cryptography)",
                    functools.partial(in_file.sign, MESSAGE),
                    unit="signatures/s",
                )
                bench.run(rounds, seconds)
                bench.emit(clock=args.clock, algorithm=name)
        finally:
            token.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
