"""Run easyofd (PyPI), an independent OFD reader, on an OFD file: ``python -m tests.support.easyofd_render IN.ofd
OUT.pdf OUT.png`` parses the package, draws it to PDF (its reportlab renderer) and the first page to PNG (PyMuPDF).

Run in a subprocess: easyofd puts the working directory on ``sys.path`` and registers fonts in reportlab's global
registry when imported. easyofd draws every text in a font it calls ``宋体`` (SimSun, a Windows system font); a machine
without it gets no text at all, so the one font Huren ships (Noto Sans SC) is registered under that name first — the
environment easyofd expects, not a change to easyofd. It reads the fonts embedded in the package as well.
"""

from __future__ import annotations

import json
import sys


def main(source: str, pdf_out: str, png_out: str) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from seal import fonts

    pdfmetrics.registerFont(TTFont("宋体", str(fonts.font_path("regular"))))
    from easyofd import OFD

    with open(source, "rb") as handle:
        data = handle.read()
    ofd = OFD()
    ofd.read(data, fmt="binary")
    documents = ofd.data
    pdf = ofd.to_pdf()
    with open(pdf_out, "wb") as handle:
        handle.write(pdf)
    images = ofd.pdf2img(pdf)
    images[0].save(png_out)
    summary = {
        "documents": len(documents),
        "pages": len(images),
        "size": list(images[0].size),
    }
    sys.stdout.write("EASYOFD " + json.dumps(summary, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
