#!/usr/bin/env python3
"""OFD sealing and verification against PDF sealing and verification of the same document, in the same run.

    .venv/bin/python bench/ofd.py [--seconds S] [--rounds R] [--quick] [--pages 1,10,100] [--clock wall|cpu]

The document: N A4 pages of Chinese text (a title and 30 lines each), drawn once on reportlab's canvas (the PDF) and
once on Huren's OFD canvas (``licenses.ofd.OfdCanvas``), in the same fonts at the same positions: the same face.

* ``ofd-seal-Np``: ``trust.service.seals.ofd.seal_document`` (one GB/T 38540 seal signature, SM2, no time-stamp)
  against ``trust.service.seals.sealing.seal_document`` (PAdES B-B, SM2, visible seal) of the PDF;
* ``ofd-verify-Np``: ``verifier.api.verify`` of the sealed OFD against the same of the sealed PDF, one context for
  both (the trust list bundle, one pinned root).

Prints one JSON object per line on stdout (``{"bench", "ours", "baseline", "baseline_value", "ratio", "unit"}``,
``ratio`` > 1: OFD is faster); progress on stderr. Figures in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

if TYPE_CHECKING:
    from trust.service.instance import Instance

PASSPHRASE = b"bench passphrase, not secret"


def draw(canvas: object, pages: int) -> None:
    """The benchmark document on ``canvas`` (reportlab's or the OFD canvas: the same drawing calls)."""
    from licenses.document import FONT_BOLD, FONT_REGULAR

    for number in range(1, pages + 1):
        canvas.setFont(FONT_BOLD, 16)  # type: ignore[attr-defined]
        canvas.drawString(72, 770, f"互认测试合同 第{number}页")  # type: ignore[attr-defined]
        canvas.setFont(FONT_REGULAR, 11)  # type: ignore[attr-defined]
        for line in range(30):
            text = f"第{line + 1}条 本合同由互认平台测试生成，用于测量电子印章的速度。"
            canvas.drawString(72, 730 - 18 * line, text)  # type: ignore[attr-defined]
        canvas.showPage()  # type: ignore[attr-defined]


def documents(pages: int) -> tuple[bytes, bytes]:
    """``(pdf, ofd)`` of the same document."""
    from reportlab.pdfgen import canvas as rl_canvas

    from licenses import document, ofd

    document._register_fonts()
    out = io.BytesIO()
    pdf_canvas = rl_canvas.Canvas(out, pagesize=(595.28, 841.89), invariant=1)
    draw(pdf_canvas, pages)
    pdf_canvas.save()
    ofd_canvas = ofd.OfdCanvas()
    draw(ofd_canvas, pages)
    return out.getvalue(), ofd.document_package(ofd_canvas, title="互认测试合同")


def build_instance(home: Path) -> tuple[Instance, str]:
    from trust.formats.names import make_uscc
    from trust.service import ca as service
    from trust.service import seals
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(home=home, key_kdf_iterations=2000, public_url="http://127.0.0.1:8000")
    instance = Instance(settings, passphrase=PASSPHRASE)
    service.init(instance)
    service.enrol(instance, kind="region", code="330000", family="SM2")
    record = seals.create(
        instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=make_uscc("91330106MA2CFA4X0"),
        seal_name="合同专用章",
        dual=False,
    )
    return instance, record.es_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    timing_arguments(parser, seconds=2.0)
    parser.add_argument("--pages", default="1,10,100", help="page counts (default 1,10,100)")
    args = parser.parse_args()
    seconds, rounds = timing(parser, args)
    from trust.service import trust
    from trust.service.seals import ofd as ofd_sealing
    from trust.service.seals import sealing
    from verifier import api, context

    with tempfile.TemporaryDirectory() as home:
        log("building a trust root, a region CA and a seal ...")
        instance, es_id = build_instance(Path(home))
        bundle = json.dumps(trust.build_bundle(instance)).encode()
        ctx = context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["SM2"]])
        for pages in [int(p) for p in args.pages.split(",")]:
            pdf, ofd = documents(pages)
            log(f"{pages} page(s): PDF {len(pdf)} bytes, OFD {len(ofd)} bytes")

            def seal_ofd(data: bytes = ofd) -> bytes:
                return ofd_sealing.seal_document(instance, data, es_id=es_id, timestamp=False)

            def seal_pdf(data: bytes = pdf) -> bytes:
                return sealing.seal_document(
                    instance, data, es_id=es_id, level="B-B", family="SM2", page=-1, box=(400.0, 60.0, 520.0, 180.0)
                )

            sealed_ofd, sealed_pdf = seal_ofd(), seal_pdf()
            for name, data in (("OFD", sealed_ofd), ("PDF", sealed_pdf)):
                report = api.verify(data, ctx)
                if not report.passed:
                    raise SystemExit(f"the sealed {name} does not verify: {report.to_text()}")
            sealing_bench = Bench(
                f"ofd-seal-{pages}p", seal_ofd, "PDF sealing of the same document (PAdES B-B, SM2)", seal_pdf
            )
            sealing_bench.run(rounds, seconds)
            sealing_bench.emit(pages=pages, ofd_bytes=len(ofd), pdf_bytes=len(pdf))

            def verify_ofd(data: bytes = sealed_ofd) -> object:
                return api.verify(data, ctx)

            def verify_pdf(data: bytes = sealed_pdf) -> object:
                return api.verify(data, ctx)

            verify_bench = Bench(
                f"ofd-verify-{pages}p",
                verify_ofd,
                "verification of the same document sealed as PDF (PAdES B-B, SM2)",
                verify_pdf,
            )
            verify_bench.run(rounds, seconds)
            verify_bench.emit(pages=pages)


if __name__ == "__main__":
    main()
