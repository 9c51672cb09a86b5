#!/usr/bin/env python3
"""Licence tokens and licence PDFs: issuance and verification rates against named baselines; bulk issuance.

    .venv/bin/python bench/licenses.py [--seconds S] [--rounds R] [--quick] [--only token,full,pdf]
    .venv/bin/python bench/licenses.py --batch [N]          # trust license issue-batch on N records (1000)

Prints one JSON object per line on stdout::

    {"bench": "license-issue-sm2", "ours": X, "baseline": "...", "baseline_value": Y, "ratio": X / Y, "unit": "ops/s"}

``ratio`` > 1 means Huren is faster. Targets: SM2 token issuance >= 0.5 and verification >= 0.7 of raw SM2 signing and
verifying of the same bytes; RS256 issuance and verification >= 1.0 of PyJWT on the same key, claims and header.
``--batch`` prints ``license-batch-N`` (records per second of the whole command, peak RSS of its process) and
``license-batch-N-rerun`` (the same file again: nothing issued). Progress and every per-round sample go to stderr.
Method and the exact definition of each side: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, rate, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import (  # before any project import: takes bench/ off sys.path
        Bench,
        log,
        rate,
        timing,
        timing_arguments,
    )

if TYPE_CHECKING:
    from jwt.types import Options

    from trust.service.instance import Instance

PASSPHRASE = b"bench passphrase, not secret"
PUBLIC_URL = "http://127.0.0.1:8000"
REGION = "330000"
AUTHORITY_NAME = "浙江省市场监督管理局"
AUTHORITY_PREFIX = "11330000002482226"
BUSINESS = "11100000000013338W101"
GROUPS = ("token", "full", "pdf")


# --- the instance --------------------------------------------------------------------------------------------


def build_instance(home: Path) -> tuple[Instance, dict[str, str]]:
    """Roots, the 浙江 SM2 and RSA CAs, and the authority as SM2 and RSA licence issuer of every seeded type."""
    from trust.formats import license_catalogue as catalogue
    from trust.formats.names import make_uscc
    from trust.service import ca as service
    from trust.service import licenses
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(home=home, key_kdf_iterations=2000, public_url=PUBLIC_URL)
    instance = Instance(settings, passphrase=PASSPHRASE)
    service.init(instance)
    for family in ("SM2", "RSA"):
        service.enrol(instance, kind="region", code=REGION, family=family)
    types = [t.code for t in catalogue.all_types()]
    code = make_uscc(AUTHORITY_PREFIX)
    issuers = {
        family: licenses.register_issuer(
            instance,
            ca_id=f"region-{REGION}-{family.lower()}",
            name=AUTHORITY_NAME,
            code=code,
            license_types=types,
            family=family,
        ).id
        for family in ("SM2", "RSA")
    }
    return instance, issuers


def issued_body(instance: Instance, issuer_id: str) -> tuple[str, dict[str, Any], Any]:
    """One business licence issued by ``issuer_id``: its token, claims and the issuer's prepared signer."""
    from licenses import issuance, samples
    from trust import db
    from trust.formats import license_token as token
    from trust.service import licenses

    made = licenses.issue(instance, issuer_id=issuer_id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    _header, body = token.parse_unverified(made.record.token)
    with db.session_scope(instance.engine) as session:
        prepared = issuance.prepare_issuer(session, instance.keystore, issuer_id)
    return made.record.token, body, prepared


def verify_jose(text: str, key: Any, alg: str) -> dict[str, Any]:
    """Token verification through the JOSE layer: header checks, signature, ``typ``, JSON claims, ``nbf``/``exp`` and
    the identifier agreeing with ``jti`` (what a relying party does once it has the issuer key; no trust list)."""
    from trust.formats import jose
    from trust.formats import license_token as token

    verified = jose.verify_compact(text, lambda _h: key, algorithms=(alg,))
    if verified.header.get("typ") != token.TYP:
        raise ValueError("wrong typ")
    claims: dict[str, Any] = json.loads(verified.payload)
    now = time.time()
    if not claims["nbf"] <= now < claims.get("exp", float("inf")) or claims["license"]["id"] != claims["jti"]:
        raise ValueError("claims do not hold")
    return claims


# --- groups --------------------------------------------------------------------------------------------------


def token_benches(instance: Instance, issuers: dict[str, str]) -> list[Bench]:
    import base64

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from trust.crypto import base64url, jwk
    from trust.crypto.algorithms import RSA_PKCS1_SHA256
    from trust.crypto.keys import RSAPrivateKey
    from trust.formats import jose
    from trust.formats import license_token as token

    benches = []
    # SM2: the issuer's key from the key store, for ours and the baseline alike.
    sm2_token, body, prepared = issued_body(instance, issuers["SM2"])
    signer, kid, x5c = prepared.signer, prepared.kid, prepared.x5c
    header_b64, payload_b64, signature_b64 = sm2_token.split(".")
    signing_input = f"{header_b64}.{payload_b64}".encode()
    signature = base64url.decode(signature_b64)
    public = signer.public_key
    public.verify(signature, signing_input, encoding="raw")
    verify_jose(sm2_token, public, "SM2")
    benches.append(
        Bench(
            "license-issue-sm2",
            lambda: token.sign(body, signer, kid=kid, x5c=x5c),
            "SM2 sign of the same signing input (the issuer's key-store signer)",
            lambda: signer.sign(signing_input),
        )
    )
    benches.append(
        Bench(
            "license-verify-sm2",
            lambda: verify_jose(sm2_token, public, "SM2"),
            "SM2 verify of the same signature and signing input (PublicKey.verify)",
            lambda: public.verify(signature, signing_input, encoding="raw"),
        )
    )
    # RS256: one throw-away RSA-2048 key for both sides (PyJWT needs the key; the key store never exports one), the
    # same claims, the same header (typ, kid, x5t#S256 and the RSA issuer's real x5c: the x5c form, the larger one).
    _rsa_token, rsa_body, rsa_prepared = issued_body(instance, issuers["RSA"])
    pyca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ours_key = RSAPrivateKey(pyca)
    rsa_signer = ours_key.signer(RSA_PKCS1_SHA256)
    rsa_kid = jwk.thumbprint(ours_key.public_key)
    rsa_x5c = rsa_prepared.x5c
    headers = {
        "typ": token.TYP,
        "kid": rsa_kid,
        "x5t#S256": jose.x5t_s256(rsa_x5c[0]),
        "x5c": [base64.b64encode(c).decode() for c in rsa_x5c],
    }
    ours_rs256 = token.sign(rsa_body, rsa_signer, kid=rsa_kid, x5c=rsa_x5c)
    pyjwt_rs256 = jwt.encode(rsa_body, pyca, algorithm="RS256", headers=headers)
    pyca_public = pyca.public_key()
    options: Options = {"require": ["nbf", "iat"], "verify_aud": False}  # a 营业执照 has no end (no exp)
    # Both sides accept both tokens: the same JWS, only JSON member order and spacing differ.
    for text in (ours_rs256, pyjwt_rs256):
        verify_jose(text, ours_key.public_key, "RS256")
        jwt.decode(text, pyca_public, algorithms=["RS256"], options=options)
    log(f"RS256 token sizes: ours {len(ours_rs256)} bytes, PyJWT {len(pyjwt_rs256)} bytes")
    benches.append(
        Bench(
            "license-issue-rs256",
            lambda: token.sign(rsa_body, rsa_signer, kid=rsa_kid, x5c=rsa_x5c),
            "PyJWT jwt.encode RS256, same key, claims and header",
            lambda: jwt.encode(rsa_body, pyca, algorithm="RS256", headers=headers),
        )
    )
    benches.append(
        Bench(
            "license-verify-rs256",
            lambda: verify_jose(ours_rs256, ours_key.public_key, "RS256"),
            "PyJWT jwt.decode RS256 (nbf, iat, exp checked), same token",
            lambda: jwt.decode(ours_rs256, pyca_public, algorithms=["RS256"], options=options),
        )
    )
    return benches


def full_benches(instance: Instance, issuers: dict[str, str]) -> list[Bench]:
    """Full offline verification (verifier.license: x5c chain at iat, trust list, claims, status) against raw SM2."""
    from trust.crypto import base64url
    from trust.service import trust
    from verifier import context
    from verifier.license import verify_license

    sm2_token, _body, prepared = issued_body(instance, issuers["SM2"])
    bundle = json.dumps(trust.build_bundle(instance)).encode()
    ctx = context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])
    report = verify_license(sm2_token, ctx)
    if not report.passed:
        raise RuntimeError(f"the full verification does not pass:\n{report.to_text()}")
    header_b64, payload_b64, signature_b64 = sm2_token.split(".")
    signing_input = f"{header_b64}.{payload_b64}".encode()
    signature = base64url.decode(signature_b64)
    public = prepared.signer.public_key
    return [
        Bench(
            "license-verify-full-sm2",
            lambda: verify_license(sm2_token, ctx),
            "SM2 verify of the same signature and signing input (PublicKey.verify)",
            lambda: public.verify(signature, signing_input, encoding="raw"),
        )
    ]


def pdf_benches(instance: Instance, issuers: dict[str, str]) -> list[Bench]:
    """Licence PDFs issued per second (render + seal B-LT) against sealing the same rendered face alone."""
    from licenses import document, samples
    from trust.formats import license_face
    from trust.formats import license_token as token
    from trust.service import license_documents, licenses, trust
    from trust.service.seals import sealing
    from verifier import context, license_pdf
    from verifier.pdf.verify import verify_pdf

    made = licenses.issue(instance, issuer_id=issuers["SM2"], type_code=BUSINESS, fields=samples.sample(BUSINESS))
    identifier = made.record.identifier
    es_id = license_documents.ensure_authority_seal(instance, issuers["SM2"])
    face = document.render_token(made.record.token, qr_payload=token.to_qr(made.qr_token), issuer_name=AUTHORITY_NAME)
    anchor = license_face.authority_anchor(AUTHORITY_NAME)
    pdf = license_documents.issue_pdf(instance, identifier, qr_token=made.qr_token)
    ctx = context.build(
        bundle=json.dumps(trust.build_bundle(instance)).encode(), pins=[trust.root_fingerprints(instance)["SM2"]]
    )
    report = license_pdf.verify_license_pdf(pdf, ctx)
    log(f"licence PDF of {len(pdf)} bytes: {report.indication.value}")
    if not report.passed:
        raise RuntimeError(report.to_text())
    return [
        Bench(
            "license-pdf-sm2-b-lt",
            lambda: license_documents.issue_pdf(instance, identifier, qr_token=made.qr_token),
            "sealing.seal_document B-LT of the same rendered face (no rendering)",
            lambda: sealing.seal_document(instance, face, es_id=es_id, level="B-LT", anchor=anchor),
        ),
        Bench(
            "license-pdf-verify",
            lambda: license_pdf.verify_license_pdf(pdf, ctx),
            "verifier.pdf.verify_pdf of the same file (seals only)",
            lambda: verify_pdf(pdf, ctx),
        ),
    ]


# --- bulk issuance -------------------------------------------------------------------------------------------


def write_batch(path: Path, count: int) -> None:
    from licenses import samples

    base = samples.sample(BUSINESS)
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            fields = {**base, "name": f"杭州示例科技第{index + 1}有限公司"}
            out.write(json.dumps({"request_id": f"bench-{index + 1}", "type": BUSINESS, "fields": fields}) + "\n")


_SUMMARY = re.compile(r"issued (\d+), already issued (\d+), errors (\d+)")


def run_batch(home: Path, batch: Path, issuer_id: str) -> tuple[float, float, tuple[int, int, int], str]:
    """``(seconds, peak RSS in MiB, (issued, skipped, errors), output)`` of one ``trust license issue-batch``."""
    trust = Path(sys.executable).parent / "trust"
    env = {**os.environ, "TRUST_KEY_PASSPHRASE": PASSPHRASE.decode(), "TRUST_PUBLIC_URL": PUBLIC_URL}
    env.pop("TRUST_KEY_PASSPHRASE_FILE", None)
    command = [str(trust), "license", "issue-batch", str(batch), "--issuer", issuer_id, "--home", str(home)]
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode("utf-8", errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{text}")
    match = _SUMMARY.search(text)
    if match is None:
        raise RuntimeError(f"no summary in the output of the batch:\n{text}")
    counts = (int(match[1]), int(match[2]), int(match[3]))
    return elapsed, usage.ru_maxrss / 1024, counts, text  # ru_maxrss is in KiB on Linux


def single_issue_rate(instance: Instance, issuer_id: str, seconds: float) -> float:
    """Licences per second through ``trust.service.licenses.issue``, one transaction each, in process."""
    import itertools

    from licenses import samples
    from trust.service import licenses

    base = samples.sample(BUSINESS)
    counter = itertools.count(1)

    def issue_one() -> None:
        n = next(counter)
        fields = {**base, "name": f"杭州单张示例第{n}有限公司"}
        licenses.issue(instance, issuer_id=issuer_id, type_code=BUSINESS, fields=fields, request_id=f"single-{n}")

    return rate(issue_one, seconds)


def batch_mode(count: int, seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="huren-bench-licenses-") as folder:
        home = Path(folder) / "home"
        log(f"building a throw-away instance in {home}")
        instance, issuers = build_instance(home)
        single = single_issue_rate(instance, issuers["SM2"], seconds)
        log(f"baseline: {single:.1f} licences/s issued one by one in process (trust.service.licenses.issue)")
        instance.engine.dispose()
        batch = Path(folder) / "batch.jsonl"
        write_batch(batch, count)
        log(f"{count} records in {batch} ({batch.stat().st_size / 1e6:.1f} MB); issuing with the CLI")
        for label in ("", "-rerun"):
            elapsed, rss, (issued, skipped, errors), _text = run_batch(home, batch, issuers["SM2"])
            line = {
                "bench": f"license-batch-{count}{label}",
                "ours": round(count / elapsed, 1),
                "baseline": "trust.service.licenses.issue one by one, in process",
                "baseline_value": round(single, 1),
                "ratio": round(count / elapsed / single, 3),
                "unit": "records/s",
                "seconds": round(elapsed, 2),
                "issued": issued,
                "skipped": skipped,
                "errors": errors,
                "peak_rss_mb": round(rss, 1),
                "command": "trust license issue-batch (subprocess, SQLite, chunk 200)",
            }
            if label:  # the rerun issues nothing: a rate against issuing is meaningless
                for key in ("baseline", "baseline_value", "ratio"):
                    line.pop(key)
            print(json.dumps(line, ensure_ascii=False), flush=True)
            expected = (count, 0, 0) if not label else (0, count, 0)
            if (issued, skipped, errors) != expected:
                log(f"unexpected counts {(issued, skipped, errors)}, expected {expected}")
                return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(parser, seconds=2.0)
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups: {', '.join(GROUPS)} (all)")
    parser.add_argument(
        "--batch",
        type=int,
        nargs="?",
        const=1000,
        default=None,
        metavar="N",
        help="instead: run `trust license issue-batch` on N generated records (default 1000), then again",
    )
    args = parser.parse_args(argv)
    if args.batch is not None:
        if args.batch < 1:
            parser.error("--batch needs at least one record")
        return batch_mode(args.batch, 1.0 if args.quick else args.seconds)
    seconds, rounds = timing(parser, args)
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(only) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    from importlib.metadata import version

    log(f"PyJWT {version('PyJWT')}, pyHanko {version('pyHanko')}")
    log(f"{rounds} round(s) x {seconds} s per operation, alternating ours/baseline; medians reported")
    with tempfile.TemporaryDirectory(prefix="huren-bench-licenses-") as folder:
        log(f"building a throw-away instance in {folder}")
        instance, issuers = build_instance(Path(folder))
        makers = {"token": token_benches, "full": full_benches, "pdf": pdf_benches}
        for group in only:
            for bench in makers[group](instance, issuers):
                log(f"{bench.name} vs {bench.baseline_name}")
                bench.run(rounds, seconds)
                bench.emit()
        instance.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
