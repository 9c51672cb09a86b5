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
``hsm-certificates-issued`` is an issuance's key-store work per certificate (:func:`issue_certificate`): the
subject's EC P-256 key made in the store and the certificate signed by an RSA-4096 CA key in the same store.
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
    from trust.crypto.keystore import KeyInfo, KeyStore
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


def issue_certificate(store: KeyStore, ca: KeyInfo) -> bytes:
    """One issuance's key-store work: the subject's EC P-256 key made in the store (on the token: ``C_GenerateKeyPair``,
    sensitive, never extractable), a TLS certificate for it built and signed by the CA key (RSA-4096, on the same
    store) and checked. No database: what the token changes is measured, not the transaction."""
    from datetime import UTC, datetime, timedelta

    from trust.crypto.algorithms import RSA_PKCS1_SHA256
    from trust.formats import x509 as cx
    from trust.formats.names import DN

    subject_key = store.generate("ec-p256", label="bench subject")
    start = datetime.now(UTC)
    cert = (
        cx.CertificateBuilder()
        .subject(DN(organization="bench", common_name="tls.bench.gov.cn").to_asn1())
        .issuer(DN(organization="bench", common_name="bench CA").to_asn1())
        .public_key(subject_key.public_key)
        .serial_number(secrets.randbits(150) | 1 << 100)
        .validity(start, start + timedelta(days=365))
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage({"digital_signature"}))
        .add_extension(cx.subject_alt_name(dns=["tls.bench.gov.cn"]))
        .sign(store.signer(ca.key_id, RSA_PKCS1_SHA256))
    )
    return bytes(cert.dump())


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
            issue = functools.partial(issue_certificate, token, token.generate("rsa-4096", label="bench CA"))
            baseline = functools.partial(issue_certificate, files, files.generate("rsa-4096", label="bench CA"))
            bench = Bench(
                "hsm-certificates-issued",
                issue,
                "file key store (pyca/cryptography)",
                baseline,
                unit="certificates/s",
            )
            bench.run(rounds, seconds)
            bench.emit(clock=args.clock, subject_key="ec-p256 made in the store", ca_key="rsa-4096 PKCS#1 v1.5")
        finally:
            token.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
