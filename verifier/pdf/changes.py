"""What changed after a signature: pyHanko's difference analysis, judged by Huren's rule.

Every revision appended after the signed one is compared object by object with pyHanko's
``DEFAULT_DIFF_POLICY`` (``pyhanko.sign.diff_analysis``: catalog, DSS, document information, metadata, signature
fields and form fields; anything it cannot explain is a ``SuspiciousModification``). Huren's judgement of the
result (:func:`review`):

=====================================================  ========================================================
pyHanko's finding                                       verdict for the signature
=====================================================  ========================================================
no later revision (``NONE``)                            passed
DSS, time-stamps, metadata (``LTA_UPDATES``)            passed ("later signatures and time-stamps")
new or filled *signature* fields only (``FORM_FILLING``) passed ("later signatures and time-stamps")
other form fields filled (``FORM_FILLING``)             passed only when a certification signature allows form
                                                       filling (DocMDP P=2 or 3) and no FieldMDP lock forbids it;
                                                       failed otherwise — a filled field changes what the page
                                                       shows (shadow attack "replace" through a form field)
annotations (``ANNOTATIONS``)                           passed only under DocMDP P=3, failed otherwise
anything else (``OTHER``, unexplained objects)          failed
=====================================================  ========================================================

A certification signature's own DocMDP level is enforced as well (P=1: nothing but LTA updates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import FieldMDPSpec, MDPPerm

from verifier.pdf.document import HOSTILE_ERRORS, describe

_REVISION = re.compile(r"\brevision (\d+)")
_REFERENCE = re.compile(r"Reference\(idnum=(\d+), generation=(\d+)\)")
_PATH = re.compile(r"AbsoluteContext\(path=PathInRevision\('([^']*)'\)\)")

LEVEL_NAMES = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "later signatures, time-stamps and validation data",
    ModificationLevel.FORM_FILLING: "form filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other changes",
}


@dataclass
class Changes:
    level: str  # none | lta-updates | form-filling | annotations | other
    permitted: bool
    detail: str
    changed_fields: list[str] = field(default_factory=list)
    warning: str | None = None


def review(
    reader: PdfFileReader,
    signed_revision: int,
    *,
    docmdp: MDPPerm | None,
    fieldmdp: FieldMDPSpec | None,
    signature_fields: set[str],
    certification: MDPPerm | None = None,
) -> Changes:
    """Judge the revisions after ``signed_revision``. ``docmdp`` is this signature's own DocMDP level (it bounds
    what may follow it); ``certification`` is the level of the document's certification signature (``/Perms``),
    which decides whether form filling and annotations are allowed at all."""
    later = reader.xrefs.total_revisions - 1 - signed_revision
    if later <= 0:
        return Changes("none", True, "no revision was added after this signature")
    try:
        result = DEFAULT_DIFF_POLICY.review_file(reader, signed_revision, field_mdp_spec=fieldmdp, doc_mdp=docmdp)
    except HOSTILE_ERRORS as exc:
        return Changes("other", False, f"{later} later revision(s) could not be analysed: {describe(exc)}")
    if isinstance(result, SuspiciousModification):
        return Changes(
            "other",
            False,
            f"{later} later revision(s) change the document beyond what is permitted "
            f"after signing: {_short(str(result))}",
        )
    assert isinstance(result, DiffResult)
    level = result.modification_level
    changed = sorted(str(name) for name in result.changed_form_fields)
    non_signature = [name for name in changed if name not in signature_fields]
    name = {
        ModificationLevel.NONE: "none",
        ModificationLevel.LTA_UPDATES: "lta-updates",
        ModificationLevel.FORM_FILLING: "form-filling",
        ModificationLevel.ANNOTATIONS: "annotations",
        ModificationLevel.OTHER: "other",
    }[level]
    prefix = f"{later} later revision(s): {LEVEL_NAMES[level]}"
    if docmdp is not None and level.value > docmdp.value:
        return Changes(
            name, False, f"{prefix}, beyond what this certification signature allows (DocMDP P={docmdp.value})", changed
        )
    if level in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES):
        return Changes(name, True, prefix, changed)
    if level is ModificationLevel.FORM_FILLING:
        if not non_signature:
            return Changes("lta-updates", True, f"{later} later revision(s): later signatures and time-stamps", changed)
        fields_text = ", ".join(non_signature[:10])
        allowed = docmdp or certification
        if allowed is not None and allowed.value >= MDPPerm.FILL_FORMS.value:
            return Changes(
                name,
                True,
                f"{prefix} of {fields_text}, allowed by the certification signature (DocMDP P={allowed.value})",
                changed,
                f"form field(s) {fields_text} were filled in after this signature (permitted by the "
                "certification signature): what they show was not signed",
            )
        return Changes(
            name,
            False,
            f"{prefix}: form field(s) {fields_text} changed after this signature; what the "
            "page shows is no longer what was signed (form filling is accepted only when a "
            "certification signature allows it)",
            changed,
        )
    if level is ModificationLevel.ANNOTATIONS and (docmdp or certification) is MDPPerm.ANNOTATE:
        return Changes(name, True, f"{prefix}, allowed by the certification signature (DocMDP P=3)", changed)
    return Changes(name, False, f"{prefix}: not permitted after signing", changed)


def _short(text: str) -> str:
    """pyHanko's finding for people: revisions counted from 1 (as in the report), objects as ``N G R``."""
    text = " ".join(text.split())
    text = _REVISION.sub(lambda m: f"revision {int(m.group(1)) + 1}", text)
    text = _REFERENCE.sub(lambda m: f"object {m.group(1)} {m.group(2)} R", text)
    text = _PATH.sub(lambda m: m.group(1), text)
    return text[:400] + ("…" if len(text) > 400 else "")
