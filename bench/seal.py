#!/usr/bin/env python3
"""PDF sealing and sealed-PDF verification against plain pyHanko on the same files and key types.

    .venv/bin/python bench/seal.py [--seconds S] [--rounds R] [--quick] [--only sign,verify] [--pages 1,10,100]
                                   [--clock wall|cpu]

Prints one JSON object per line on stdout::

    {"bench": "seal-sm2-b-b-10p", "ours": X, "baseline": "...", "baseline_value": Y, "ratio": X / Y, "unit": "ops/s"}

``ratio`` > 1 means Huren is faster (target for sealing and verifying: at least 0.67, i.e. at most 1.5x slower).
Verifying is measured twice: ``verify-...`` with one context for every verification on both sides, ``verify-...-cold``
with a fresh one each time. Progress and every per-round sample go to stderr. Method and the exact definition of
each side: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

if TYPE_CHECKING:
    from trust.service.instance import Instance

PASSPHRASE = b"bench passphrase, not secret"
REGION = "330000"
HOLDER = "杭州示例科技有限公司"
BOX = (400.0, 60.0, 520.0, 180.0)


def sample_pdf(pages: int) -> bytes:
    """A reportlab A4 document with Chinese text on every page (Noto Sans SC subset), like the tests' samples."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from seal.fonts import font_path

    if "BenchSC" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("BenchSC", str(font_path("regular"))))
    out = io.BytesIO()
    # types-reportlab types initialFontName as a float; reportlab takes a font name
    page = canvas.Canvas(out, pagesize=(595.28, 841.89), invariant=1, initialFontName="BenchSC")  # type: ignore[arg-type]
    for number in range(1, pages + 1):
        page.setFont("BenchSC", 16)
        page.drawString(72, 770, f"互认测试合同 第{number}页")
        page.setFont("BenchSC", 11)
        for line in range(30):
            page.drawString(72, 730 - 18 * line, f"第{line + 1}条 本合同由互认平台测试生成，用于测量电子印章的速度。")
        page.showPage()
    page.save()
    return out.getvalue()


def build_instance(home: Path) -> tuple[Instance, str]:
    from trust.formats.names import make_uscc
    from trust.service import ca as service
    from trust.service import seals
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(home=home, key_kdf_iterations=2000, public_url="http://127.0.0.1:8000")
    instance = Instance(settings, passphrase=PASSPHRASE)
    service.init(instance)
    for family in ("SM2", "RSA"):
        service.enrol(instance, kind="region", code=REGION, family=family)
    record = seals.create(
        instance,
        ca_id=f"region-{REGION}-sm2",
        holder_kind="organization",
        holder_name=HOLDER,
        holder_code=make_uscc("91330106MA2CFA4X0"),
        seal_name="合同专用章",
        dual=True,
    )
    return instance, record.es_id


def _pyhanko_sign(pdf: bytes, signer: Any, md: str) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", md_algorithm=md, subfilter=fields.SigSeedSubFilter.PADES
    )
    return bytes(signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf))).getvalue())


def baseline_signers(instance: Instance, es_id: str) -> dict[str, list[tuple[str, str, Any]]]:
    """``{family: [(bench name suffix, description, pyHanko Signer)]}`` for the baselines (bench/README.md)."""
    import datetime

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509
    from cryptography import x509 as pyca_x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from seal import registry
    from seal.pdf import HurenPdfSigner
    from trust import db
    from trust.crypto.algorithms import RSA_PKCS1_SHA256, SM2_SM3
    from trust.service import ca as service

    with db.session_scope(instance.engine) as session:
        keys = registry.signer_key_ids(session, registry.get_seal(session, es_id))
    sm2_id, sm2_der = keys["SM2"]
    rsa_id, rsa_der = keys["RSA"]
    sm2 = HurenPdfSigner(
        instance.keystore.signer(sm2_id, SM2_SM3),
        x509.Certificate.load(sm2_der),
        service.chain_for(instance, f"region-{REGION}-sm2"),
    )
    huren_rsa = HurenPdfSigner(
        instance.keystore.signer(rsa_id, RSA_PKCS1_SHA256),
        x509.Certificate.load(rsa_der),
        service.chain_for(instance, f"region-{REGION}-rsa"),
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # the seal's RSA keys are 2048 bits
    now = datetime.datetime.now(datetime.UTC)
    name = pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, "pyHanko baseline")])
    cert = (
        pyca_x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(pyca_x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    asn1_cert = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    simple = signers.SimpleSigner(
        signing_cert=asn1_cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert]),
    )
    return {
        "SM2": [("", "pyHanko PdfSigner + HurenPdfSigner (SM2 seal key), invisible, no SESeal", sm2)],
        "RSA": [
            ("", "pyHanko PdfSigner + SimpleSigner (RSA-2048), invisible", simple),
            ("-same-signer", "pyHanko PdfSigner + HurenPdfSigner (RSA-2048 seal key), invisible, no SESeal", huren_rsa),
        ],
    }


def pyhanko_validate(pdf: bytes, roots: list[Any]) -> bool:
    """pyHanko's own validation of every signature: integrity, signature, path to our roots, modifications (the
    sanity check of the sealing group)."""
    from pyhanko_certvalidator import ValidationContext

    from trust.crypto.certvalidator import SIGNATURE_VALIDATOR

    return _pyhanko_bottom_line(
        pdf,
        lambda: ValidationContext(trust_roots=roots, allow_fetching=False, signature_validator=SIGNATURE_VALIDATOR),
    )


def _pyhanko_bottom_line(pdf: bytes, validation_context: Callable[[], Any]) -> bool:
    """``async_validate_pdf_signature`` of every signature of ``pdf`` (one event loop per document, as ours)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature

    reader = PdfFileReader(io.BytesIO(pdf))

    async def run() -> bool:
        ok = True
        for sig in reader.embedded_regular_signatures:
            status = await async_validate_pdf_signature(sig, signer_validation_context=validation_context())
            ok = ok and status.bottom_line
        return ok

    return asyncio.run(run())


class PyHankoBaseline:
    """The verify baseline: pyHanko's ``validate_pdf_signature`` with everything of the verifier's context that a
    pyHanko ``ValidationContext`` can express (bench/README.md): the same anchors, the trust list's CA
    certificates as intermediates, the same CRLs, the same validation time, revocation ``hard-fail``, no fetching,
    our SM2 ``SignatureValidator``; difference analysis on (pyHanko's default).

    ``warm``: one ``ValidationContext`` reused for every verification, as ours reuses one ``VerificationContext``
    (pyHanko keeps the CRL issuers it has matched and the paths it has validated in it). ``cold``: a new one per
    verification, its CRLs parsed from DER, as ours gets a fresh context memo."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.shared = self.validation_context(ctx.crl_objects)

    def validation_context(self, crls: Any) -> Any:
        from pyhanko_certvalidator import ValidationContext

        from trust.crypto.certvalidator import SIGNATURE_VALIDATOR

        return ValidationContext(
            trust_roots=list(self.ctx.anchors),
            other_certs=list(self.ctx.intermediates),
            crls=list(crls),
            moment=self.ctx.validation_time,
            allow_fetching=False,
            revocation_mode="hard-fail",
            signature_validator=SIGNATURE_VALIDATOR,
        )

    def warm(self, pdf: bytes) -> bool:
        return _pyhanko_bottom_line(pdf, lambda: self.shared)

    def cold(self, pdf: bytes) -> bool:
        from asn1crypto import crl

        return _pyhanko_bottom_line(
            pdf, lambda: self.validation_context([crl.CertificateList.load(der) for der in self.ctx.crls])
        )


def verifier_context(instance: Instance) -> Any:
    """What a clerk has offline: the signed bundle (trust list, CA certificates, every CA's CRL), checked against the
    pinned national roots."""
    from trust.service import trust
    from verifier import context

    bundle = trust.export_bundle(instance).read_bytes()
    return context.build(bundle=bundle, pins=list(trust.root_fingerprints(instance).values()))


def verify_benches(
    family: str,
    pages: int,
    sealed: bytes,
    ctx: Any,
    baseline: PyHankoBaseline,
    verify_pdf: Callable[[bytes, Any], Any],
    fresh_memo: Callable[[], Any] | None,
) -> list[Bench]:
    """``verify-...`` (one context for every verification, on both sides) and ``verify-...-cold`` (a fresh one per
    verification). Both sides must accept the file before it is measured, and ours must say the same cold and
    warm."""

    def cold_ctx() -> Any:
        return dataclasses.replace(ctx, memo=fresh_memo()) if fresh_memo else dataclasses.replace(ctx)

    report = verify_pdf(sealed, ctx)
    log(f"  verifier.pdf.verify says {report.indication} for the {family} seal")
    if report.indication != "TOTAL_PASSED":
        raise RuntimeError(f"verifier.pdf does not accept the {family} seal; refusing to measure it")
    if verify_pdf(sealed, cold_ctx()) != report or verify_pdf(sealed, ctx) != report:
        raise RuntimeError("verifier.pdf reports differently with a warm and a cold context memo")
    if not (baseline.warm(sealed) and baseline.cold(sealed)):
        raise RuntimeError(f"pyHanko does not accept the {family} seal with the verifier's material")
    name = f"verify-{family.lower()}-b-b-{pages}p"
    label = "pyHanko validate_pdf_signature, same file and material (anchors, CAs, CRLs, hard-fail)"
    return [
        Bench(
            name,
            lambda: verify_pdf(sealed, ctx),
            f"{label}, one ValidationContext",
            lambda: baseline.warm(sealed),
        ),
        Bench(
            f"{name}-cold",
            lambda: verify_pdf(sealed, cold_ctx()),
            f"{label}, a new ValidationContext each time",
            lambda: baseline.cold(sealed),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(parser, seconds=3.0)
    parser.add_argument("--only", default="sign,verify", help="comma-separated groups: sign, verify (both)")
    parser.add_argument("--pages", default="1,10,100", help="document sizes in pages (1,10,100)")
    args = parser.parse_args(argv)
    seconds, rounds = timing(parser, args)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if only - {"sign", "verify"}:
        parser.error(f"unknown group(s): {', '.join(sorted(only - {'sign', 'verify'}))}")
    sizes = [int(p) for p in args.pages.split(",") if p.strip()]

    verify_pdf: Callable[[bytes, Any], Any] | None = None
    fresh_memo: Callable[[], Any] | None = None
    if "verify" in only:
        try:
            from verifier.pdf.verify import verify_pdf
        except ImportError as exc:
            log(f"verifier.pdf is not there yet ({exc}): the verify group is skipped")
            only.discard("verify")
        try:
            from verifier.context import Memo
        except ImportError:  # a verifier without a memo (before 2026-11): a replaced context starts cold anyway
            log("verifier.context has no Memo: the cold lines use a plain copy of the context")
        else:
            fresh_memo = Memo

    from asn1crypto import x509

    from trust.service import ca as service
    from trust.service.seals import sealing

    with tempfile.TemporaryDirectory(prefix="huren-bench-") as tmp:
        started = time.perf_counter()
        instance, es_id = build_instance(Path(tmp) / "home")
        log(f"setup: roots, region {REGION} SM2 + RSA CAs, a dual seal in {time.perf_counter() - started:.1f} s")
        log(
            f"{rounds} round(s) x {seconds:g} s ({args.clock} clock) per operation, alternating ours/baseline; "
            "medians reported"
        )
        baselines = baseline_signers(instance, es_id)
        root_ders = [service.ca_certificate_der(instance, r) for r in sealing.ROOT_IDS]
        roots = [x509.Certificate.load(d) for d in root_ders]
        try:
            for pages in sizes:
                pdf = sample_pdf(pages)
                log(f"document: {pages} page(s), {len(pdf)} bytes")
                for family in ("SM2", "RSA"):
                    md = "sm3" if family == "SM2" else "sha256"

                    def ours(family: str = family, pdf: bytes = pdf) -> bytes:
                        return sealing.seal_document(instance, pdf, es_id=es_id, family=family, page=1, box=BOX)

                    sealed = ours()
                    if not pyhanko_validate(sealed, roots):
                        raise RuntimeError(f"the {family} seal does not validate; refusing to measure it")
                    for suffix, label, signer in baselines[family] if "sign" in only else []:

                        def base(signer: Any = signer, md: str = md, pdf: bytes = pdf) -> bytes:
                            return _pyhanko_sign(pdf, signer, md)

                        bench = Bench(f"seal-{family.lower()}-b-b-{pages}p{suffix}", ours, label, base)
                        log(f"{bench.name} vs {bench.baseline_name}")
                        bench.run(rounds, seconds)
                        bench.emit()
                    if "verify" in only:
                        assert verify_pdf is not None
                        ctx = verifier_context(instance)  # after sealing: the validation time follows the signing
                        baseline = PyHankoBaseline(ctx)
                        log(
                            f"  verifier context: bundle with {len(ctx.anchors)} anchors, {len(ctx.intermediates)} "
                            f"CA certificates, {len(ctx.crls)} CRLs, trust list "
                            f"{ctx.trust_list.sequence if ctx.trust_list else '-'}"
                        )
                        for bench in verify_benches(family, pages, sealed, ctx, baseline, verify_pdf, fresh_memo):
                            log(f"{bench.name} vs {bench.baseline_name}")
                            bench.run(rounds, seconds)
                            bench.emit()
        finally:
            instance.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
