"""The printable PDF of a verification report (the verifier page's "下载 PDF 报告").

Made with reportlab, a dependency of ``huren[service]``: ``trust serve`` offers it, ``trust verify-server`` (the
verifier-only install) offers the JSON report only. The caller gives the TrueType font to embed (the service passes
its Noto Sans SC instance, :func:`seal.fonts.font_path`), so Chinese prints on any machine. Every string of the
report is drawn as text (reportlab's ``Paragraph`` markup is escaped), the verdict first, then the reason, the
subject, the validation time, the trust list it was checked against, and every check of every part.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from trust.web.i18n import Strings
from trust.web.verify import walk

_COLOURS = {"TOTAL_PASSED": "#0b6b2b", "TOTAL_FAILED": "#a4000f", "INDETERMINATE": "#7a4a00"}


def render(report: Mapping[str, Any], lang: str, font: Path) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    name = "HurenReport"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font)))
    t = Strings(lang)
    indication = str(report.get("indication"))
    body = ParagraphStyle("body", fontName=name, fontSize=9, leading=12, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5)
    head = ParagraphStyle("head", parent=body, fontSize=14, leading=18, spaceAfter=4)
    verdict = ParagraphStyle(
        "verdict", parent=body, fontSize=26, leading=32, textColor=colors.HexColor(_COLOURS.get(indication, "#000000"))
    )

    def para(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    story: list[Any] = [para(t("report.title"), head), para(t(f"verdict.{indication}"), verdict)]
    sub = report.get("sub_indication")
    if indication != "TOTAL_PASSED":
        reason = t(f"reason.{sub}") if sub and t.has(f"reason.{sub}") else t("reason.unknown")
        story.append(para(f"{t('verdict.reason')}: {reason}"))
        for error in report.get("errors") or ():
            story.append(para(error, small))
    story.append(Spacer(1, 4 * mm))
    facts = [
        (
            t("evidence.kind"),
            t(f"kind.{report.get('kind')}") if t.has(f"kind.{report.get('kind')}") else report.get("kind"),
        ),
        (t("evidence.subject"), report.get("subject", "")),
        (t("evidence.validation_time"), report.get("validation_time", "")),
        ("indication", f"{indication} / {sub or '-'}"),
    ]
    source = report.get("source")
    if isinstance(source, Mapping):
        facts.append((t("operator.trust_list"), ", ".join(f"{k}: {v}" for k, v in source.items())))
    table_style = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    story.append(Table([[para(k), para(v)] for k, v in facts], colWidths=[35 * mm, 140 * mm], style=table_style))
    for node, depth in walk(report):
        story.append(Spacer(1, 3 * mm))
        kind = str(node.get("kind", ""))
        label = t(f"kind.{kind}") if t.has(f"kind.{kind}") else kind
        title = f"{'  ' * depth}{t('verdict.' + str(node.get('indication')))} · {label}: {node.get('subject', '')}"
        story.append(para(title))
        rows = [
            [para(t("evidence.check"), small), para(t("evidence.result"), small), para(t("evidence.detail"), small)]
        ]
        for check in node.get("checks") or ():
            result = str(check.get("result", ""))
            rows.append(
                [
                    para(check.get("name", ""), small),
                    para(t(f"result.{result}"), small),
                    para(check.get("detail", ""), small),
                ]
            )
        story.append(Table(rows, colWidths=[32 * mm, 16 * mm, 127 * mm], style=table_style, repeatRows=1))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=t("report.title"),
        author="Huren",
    )
    doc.build(story)
    return out.getvalue()
