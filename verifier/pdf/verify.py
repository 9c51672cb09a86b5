"""Sealed PDFs verified offline: PAdES signatures and document time-stamps (ISO 32000-2 clause 12.8, ETSI EN 319
142-1 baseline B-B … B-LTA), with the GB/T 38540 seal each Huren signature carries.

:func:`verify_pdf` returns one report of kind ``pdf`` with one child per signature field that has a value — kind
``pdf-signature`` for ``/Sig`` dictionaries, ``pdf-timestamp`` for ``/DocTimeStamp`` — each counting in the bottom
line (:func:`verifier.report.bottom_line`: the first failed signature, else the first undecided one). A PDF that
carries no signature is ``TOTAL_FAILED`` / ``FORMAT_FAILURE``. Input that is not a readable PDF raises
:class:`~trust.crypto.errors.EncodingError`; anything a single signature does wrong becomes that signature's report,
never an exception.

Nothing is read twice: one pyHanko reader serves every check of the document; the seal is parsed once; certificate
paths, signature checks, parsed certificates and CRLs are kept in the context's memo
(:class:`verifier.context.Memo`), so a second document against the same context reuses what the first computed.

Checks of one signature, in this order (report check names in brackets):

1. **[dictionary]** ``/Type``, ``/SubFilter`` (``adbe.pkcs7.detached`` or ``ETSI.CAdES.detached`` for ``/Sig``,
   ``ETSI.RFC3161`` for ``/DocTimeStamp``), a ``/Contents`` string and a well-formed ``/ByteRange``; no hybrid
   cross-reference sections (readers could see different objects). Universal signature forgery — a dictionary
   without usable ``/Contents`` or ``/ByteRange`` — ends here (``FORMAT_FAILURE``).
2. **[byte-range]** :mod:`verifier.pdf.coverage`: from offset 0, the gap is exactly this ``/Contents`` string
   inside this dictionary, the end is the end of the revision holding the dictionary; pyHanko's coverage level must
   agree (entire file or entire revision). Uncovered bytes are listed (``SIG_CONSTRAINTS_FAILURE``).
3. **[cms]** :mod:`verifier.pdf.cms` steps 1–2: one strict CMS object, detached (no ``eContent``), signed
   attributes, signer certificate (``FORMAT_FAILURE``, ``NO_SIGNING_CERTIFICATE_FOUND``).
4. **[message-digest]** the digest of the covered bytes equals ``messageDigest`` (``HASH_FAILURE``).
5. **[signature-value]** the CMS signature verifies — SM2, RSA, ECDSA (``SIG_CRYPTO_FAILURE``).
6. **[signature-timestamp]** each RFC 3161 token: imprint over the signature value, token signature, TSA
   certificate path to the trust list at the validation time (purpose ``timestamping``). A TSA path valid at the
   token's genTime but expired or revoked since makes the token no proof — INDETERMINATE / ``OUT_OF_BOUNDS_NO_POE``
   or ``REVOKED_NO_POE``, not TOTAL_FAILED (issue sesltv; :mod:`verifier.ses.timestamps` judges GB/T 38540 tokens
   the same way). A TSA path that fails at the validation time for a reason an earlier time could cure (expiry,
   revocation, revocation data gone stale) is judged instead at the earliest genTime of a later document time-stamp
   that passed (it covers the token, so it proves the token existed then; PAdES B-LTA, one step of ETSI EN 319 102-1
   past signature validation): valid then, the token is a proof.
7. **[signing-time]** proven by the earliest valid time-stamp; otherwise claimed — the signed ``signingTime``
   attribute, or the signature dictionary's ``/M`` (PAdES omits ``signingTime``) — and said so; otherwise the
   validation time.
8. **[signer-certificate]** :func:`verifier.certificate.verify_certificate` at the signing time (purpose:
   :func:`signer_purpose` — ``seal`` by default; ``--purpose any`` waives it; with ``generic`` a signature without
   a GB/T 38540 seal is judged by the generic RFC 5280 policy, so foreign PAdES signers without keyUsage or
   extendedKeyUsage can be assessed, and one with a seal stays ``seal``), with the CMS's certificates and the
   document's revocation data (DSS and the Adobe revocation attribute) added to the context. When the signing time
   is only claimed, the signature must also stand at the validation time — a claimed time proves nothing: a
   certificate of the path expired since is
   ``OUT_OF_BOUNDS_NO_POE``, a signer revoked since is ``REVOKED_NO_POE`` (both INDETERMINATE); revoked before the
   claimed time is ``REVOKED``. Only a REVOKED verdict of that second validation matters, so it is not run when no
   revocation data at hand could revoke a certificate of the path (:func:`verifier.certificate.may_be_revoked`).
9. **[seal]** :mod:`verifier.pdf.seal`: the embedded SESeal, its maker, the signer in its certList, its
   validity window at the signing time.
10. **[modifications]** :mod:`verifier.pdf.changes`: what the later revisions changed (pyHanko's difference
    analysis, Huren's rule); not permitted → ``SIG_CONSTRAINTS_FAILURE``.

A document time-stamp runs 1–4 with the token's message imprint in place of ``messageDigest`` (3–4), then the
token's signature and TSA path (5–6, the TSA at the validation time as in 6, or at a later document time-stamp's
genTime) and 10. Document time-stamps are verified first, the latest revision first, so each can carry the earlier
ones and the signatures' time-stamps.

The bottom line of one signature is its most fundamental failure: the first ``TOTAL_FAILED`` in the order
dictionary, cms, message-digest, signature-value, byte-range, modifications, signer-certificate,
signature-timestamp, seal; else the first ``INDETERMINATE``; else ``TOTAL_PASSED`` (:func:`verifier.report.bottom_line`
with that order). When a check makes the following ones meaningless (no usable dictionary, no readable CMS), they are
reported as skipped, "not run". Nothing is fetched: pyHanko and pyhanko-certvalidator run with fetching off, and the
verifier tests block sockets.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, read_certification_data
from pyhanko.sign.validation.status import SignatureCoverageLevel

from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from trust.formats import x509 as cx
from trust.formats.names import name_text
from trust.formats.tsp import VerifiedTimeStamp
from verifier import limits
from verifier.certificate import key_label, may_be_revoked, verify_certificate
from verifier.context import VerificationContext
from verifier.pdf.changes import review
from verifier.pdf.cms import (
    CmsFailure,
    SignedCms,
    check_digest,
    check_signature,
    check_timestamp_token,
    covered_digest,
    parse_contents,
    signature_structure,
    signature_timestamps,
    timestamp_structure,
    unique_attribute,
)
from verifier.pdf.coverage import Coverage, CoverageFormatError, check_coverage, read_byte_range
from verifier.pdf.document import (
    HOSTILE_ERRORS,
    Document,
    RevocationMaterial,
    SignatureField,
    describe,
    open_document,
    revocation_material,
    signature_fields,
)
from verifier.pdf.seal import check_embedded_seal, find_seal
from verifier.report import Indication, Report, ReportBuilder, Result, SubIndication
from verifier.ses.certificates import purpose_phrase
from verifier.ses.certificates import signer_purpose as ses_signer_purpose

MAX_PDF_BYTES: Final = 64 * 1024 * 1024
MAX_CONTENTS_BYTES: Final = 16 * 1024 * 1024
"""A ``/Contents`` value (hex-decoded): the CMS with its certificates, time-stamps and the seal picture."""
SIGNATURE_SUBFILTERS: Final = ("/adbe.pkcs7.detached", "/ETSI.CAdES.detached")
TIMESTAMP_SUBFILTERS: Final = ("/ETSI.RFC3161",)
CLAIMED_AFTER_TOLERANCE: Final = timedelta(minutes=5)
_FAILURE_ORDER: Final = (
    "dictionary",
    "cms",
    "message-digest",
    "signature-value",
    "byte-range",
    "modifications",
    "signer-certificate",
    "signature-timestamp",
    "seal",
    "signing-time",
)
_BYTE_RANGE_KEY: Final = re.compile(rb"/ByteRange\s*\[")


class _Stop(Exception):
    """The check just recorded (the exception's argument) makes the following ones meaningless (internal): they are
    reported as not run."""


SIGNATURE_CHECKS: Final = (
    "dictionary",
    "byte-range",
    "cms",
    "message-digest",
    "signature-value",
    "signature-timestamp",
    "signing-time",
    "signer-certificate",
    "seal",
    "modifications",
)
"""The checks of a ``/Sig`` signature, as reported (a check that could not run is reported as skipped)."""
TIMESTAMP_CHECKS: Final = (
    "dictionary",
    "byte-range",
    "cms",
    "message-digest",
    "signature-value",
    "signer-certificate",
    "modifications",
)
"""The checks of a ``/DocTimeStamp``."""


class _Signature(ReportBuilder):
    """Collects the checks, failures and details of one signature and turns them into its report (the bottom line:
    :func:`verifier.report.bottom_line` in the order :data:`_FAILURE_ORDER`)."""

    def __init__(
        self, kind: str, field_name: str, ctx: VerificationContext, later: Sequence[tuple[int, datetime]] = ()
    ) -> None:
        super().__init__(kind, ctx.validation_time, field_name, order=_FAILURE_ORDER)
        self.field_name = field_name
        self.ctx = ctx
        self.details["field"] = field_name
        self.later = later  # (revision, genTime) of every document time-stamp that passed
        self.revision: int | None = None  # the revision this signature signs, once read
        self.gen_time: datetime | None = None  # a document time-stamp's proven time, once verified

    def fail(self, name: str, indication: Indication, sub: SubIndication, message: str) -> None:
        self.failed(name, indication, sub, message)

    def stop(self, name: str, indication: Indication, sub: SubIndication, message: str) -> _Stop:
        self.fail(name, indication, sub, message)
        return _Stop(name)

    def report(self, stopped_at: str | None = None) -> Report:
        expected = TIMESTAMP_CHECKS if self.kind == "pdf-timestamp" else SIGNATURE_CHECKS
        if stopped_at is not None:
            self.not_run(expected, f"the {stopped_at} check failed")
        return self.build()


# --- the document --------------------------------------------------------------------------------------------


def verify_pdf(pdf: bytes, ctx: VerificationContext) -> Report:
    """Verify every signature and document time-stamp of ``pdf`` offline (see the module docstring)."""
    if len(pdf) > MAX_PDF_BYTES:
        raise InputError(f"PDF of {len(pdf)} bytes exceeds {MAX_PDF_BYTES}", code=Code.INPUT_TOO_LARGE)
    document = open_document(pdf)
    try:
        return _verify_document(document, ctx)
    except TrustError:
        raise
    except HOSTILE_ERRORS as exc:  # every signature has its own boundary; this one guards the document level
        raise EncodingError(f"the PDF cannot be processed: {describe(exc)}") from None


def _verify_document(document: Document, ctx: VerificationContext) -> Report:
    pdf = document.data
    fields = signature_fields(document)
    material = revocation_material(document, ctx.memo)
    report = ReportBuilder("pdf", ctx.validation_time)
    report.passed(
        "parse",
        f"PDF of {len(pdf)} bytes, {document.revisions} revision(s)"
        + (", encrypted (empty user password)" if document.encrypted else ""),
    )
    names = {f.name for f in fields}
    certification = _certification_level(document)
    # Document time-stamps first, the latest revision first: one that passes proves that what it covers existed at
    # its genTime — the time-stamps of earlier revisions included (PAdES B-LTA; ETSI EN 319 102-1 past signature
    # validation).
    stamps: dict[int, tuple[Report, _Signature]] = {}
    later: list[tuple[int, datetime]] = []
    order = sorted(
        (i for i, f in enumerate(fields) if _is_timestamp(f)), key=lambda i: -_revision_of(document, fields[i])
    )
    for i in order:
        stamp_report, stamp = _verify_field(document, fields[i], ctx, material, names, certification, list(later))
        stamps[i] = (stamp_report, stamp)
        if stamp_report.passed and stamp.revision is not None and stamp.gen_time is not None:
            later.append((stamp.revision, stamp.gen_time))
    children = [
        stamps[i][0] if i in stamps else _verify_field(document, f, ctx, material, names, certification, later)[0]
        for i, f in enumerate(fields)
    ]
    declared = len(_BYTE_RANGE_KEY.findall(pdf))
    if declared > len(fields):
        report.warnings.append(
            f"{declared - len(fields)} signature dictionaries in the file are not the value of any "
            "signature field (older revisions or unreferenced objects); they were not verified"
        )
    report.details.update(revisions=document.revisions, signatures=len(children), validation_data=material.summary())
    if material.problems:
        report.warnings.extend(material.problems[:10])
    if not children:
        report.subject = "unsigned PDF"
        message = "the PDF carries no signature"
        report.failed("signatures", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message)
        return report.build(warnings=ctx.warnings)
    for child in children:
        report.child(child, label=f"{child.kind} {dict(child.details).get('field', '')}")
    passed = sum(1 for child in children if child.passed)
    report.note(
        "signatures",
        Result.PASSED if passed == len(children) else Result.FAILED,
        f"{passed} of {len(children)} signature(s) and time-stamp(s) passed",
    )
    report.subject = _subject(children)
    return report.build(warnings=ctx.warnings)


def _subject(children: Sequence[Report]) -> str:
    """``N signature(s): <signer> (<keys>); …`` — each signer once, with the keys of its signatures (a dual seal is
    one organisation signing with an SM2 and an RSA key: ``… (SM2, RSA 2048)``), time-stamps by their authority."""
    keys: dict[tuple[str, str], list[str]] = {}
    for child in children:
        what = "time-stamp by " if child.kind == "pdf-timestamp" else ""
        key = str(dict(child.details).get("key") or "")
        keys.setdefault((what, child.subject), []).extend([key] if key else [])
    parts = [f"{what}{name}" + (f" ({', '.join(found)})" if found else "") for (what, name), found in keys.items()]
    return f"{len(children)} signature(s): {'; '.join(parts)}"[:500]


def _certification_level(document: Document) -> Any:
    try:
        info = read_certification_data(document.reader)
    except HOSTILE_ERRORS:
        return None
    return info.permission if info is not None else None


def _revision_of(document: Document, field: SignatureField) -> int:
    """The revision that holds the field's signature dictionary (-1 if it cannot be read: the dictionary check says
    why)."""
    try:
        return int(document.reader.xrefs.get_last_change(field.value_ref)) if field.value_ref is not None else -1
    except HOSTILE_ERRORS:
        return -1


def _is_timestamp(field: SignatureField) -> bool:
    try:
        return field.value is not None and field.value.get("/Type") == "/DocTimeStamp"
    except HOSTILE_ERRORS:
        return False


def _verify_field(
    document: Document,
    field: SignatureField,
    ctx: VerificationContext,
    material: RevocationMaterial,
    names: set[str],
    certification: Any,
    later: Sequence[tuple[int, datetime]] = (),
) -> tuple[Report, _Signature]:
    kind = "pdf-timestamp" if _is_timestamp(field) else "pdf-signature"
    sig = _Signature(kind, field.name, ctx, later)
    try:
        _verify(document, field, sig, material, names, certification)
    except _Stop as stop:
        return sig.report(stopped_at=str(stop)), sig
    except HOSTILE_ERRORS as exc:  # hostile input that got past the checks above: still a verdict, never a crash
        sig.fail(
            "dictionary",
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"the signature cannot be processed: {describe(exc)}",
        )
        return sig.report(stopped_at="dictionary"), sig
    return sig.report(), sig


# --- one signature -------------------------------------------------------------------------------------------


def _verify(
    document: Document,
    field: SignatureField,
    sig: _Signature,
    material: RevocationMaterial,
    names: set[str],
    certification: Any,
) -> None:
    # 1. The signature dictionary.
    fmt = Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
    if field.problem is not None or field.value is None or field.value_ref is None:
        raise sig.stop("dictionary", *fmt, field.problem or "no signature dictionary")
    value: generic.DictionaryObject = field.value
    is_timestamp = sig.kind == "pdf-timestamp"
    sig_type = str(value.get("/Type", "/Sig"))
    if sig_type not in ("/Sig", "/DocTimeStamp"):
        raise sig.stop("dictionary", *fmt, f"/Type is {sig_type}, not /Sig or /DocTimeStamp")
    subfilter = str(value.get("/SubFilter", ""))
    allowed = TIMESTAMP_SUBFILTERS if is_timestamp else SIGNATURE_SUBFILTERS
    sig.details.update(type=sig_type, subfilter=subfilter or None)
    if subfilter not in allowed:
        raise sig.stop(
            "dictionary",
            *fmt,
            f"/SubFilter {subfilter or '(none)'} is not supported for {sig_type} (accepted: {', '.join(allowed)})",
        )
    if "/Contents" not in value:
        raise sig.stop(
            "dictionary",
            *fmt,
            "the signature dictionary has no /Contents: there is no signature (universal signature forgery)",
        )
    contents_obj = value.raw_get("/Contents", decrypt=generic.EncryptedObjAccess.RAW)
    if not isinstance(contents_obj, generic.TextStringObject | generic.ByteStringObject):
        raise sig.stop(
            "dictionary",
            *fmt,
            f"/Contents is a {type(contents_obj).__name__}, not a string (universal signature forgery)",
        )
    contents = bytes(contents_obj.original_bytes)
    if len(contents) > MAX_CONTENTS_BYTES:
        raise sig.stop("dictionary", *fmt, f"/Contents of {len(contents)} bytes exceeds {MAX_CONTENTS_BYTES}")
    try:
        byte_range = read_byte_range(value, len(document.data))
    except CoverageFormatError as exc:
        raise sig.stop("dictionary", *fmt, str(exc)) from None
    if document.hybrid_xrefs:
        raise sig.stop(
            "dictionary",
            *fmt,
            "the file has hybrid cross-reference sections: different readers can see "
            "different objects, so the signed content is ambiguous",
        )
    signed_revision = document.reader.xrefs.get_last_change(field.value_ref)
    sig.revision = signed_revision
    sig.details.update(signed_revision=f"{signed_revision + 1} of {document.revisions}", byte_range=list(byte_range))
    sig.passed("dictionary", f"{sig_type} {subfilter}; /ByteRange {list(byte_range)}")
    # 2. What the byte range covers.
    coverage = check_coverage(document, field.value_ref, contents, byte_range, signed_revision)
    embedded = _embedded(document, field)
    _record_coverage(sig, coverage, embedded)
    # 3.–5. The CMS, the digest, the signature.
    try:
        info = parse_contents(contents)
    except CmsFailure as exc:
        raise sig.stop("cms", exc.indication, exc.sub_indication, exc.message) from None
    if is_timestamp:
        _verify_timestamp(document, sig, info, byte_range, material)
    else:
        _verify_signature(document, sig, info, subfilter, byte_range, material, _claimed_m(value))
    # 10. What changed afterwards.
    _record_changes(document, sig, embedded, signed_revision, names, certification)


def _embedded(document: Document, field: SignatureField) -> EmbeddedPdfSignature | None:
    try:
        return EmbeddedPdfSignature(document.reader, field.field, field.name)
    except HOSTILE_ERRORS:
        return None


def _record_coverage(sig: _Signature, coverage: Coverage, embedded: EmbeddedPdfSignature | None) -> None:
    level = None
    if embedded is not None:
        try:
            level = embedded.evaluate_signature_coverage()
        except HOSTILE_ERRORS as exc:
            coverage.anomalies.append(f"pyHanko's coverage analysis failed: {describe(exc)}")
    if level is not None:
        sig.details["coverage"] = level.name.lower().replace("_", "-")
        if level < SignatureCoverageLevel.ENTIRE_REVISION and coverage.ok:
            coverage.anomalies.append(f"pyHanko finds the coverage {level.name.lower().replace('_', ' ')}")
    sig.details["covered_bytes"] = coverage.covered
    if coverage.uncovered:
        sig.details["uncovered"] = [list(span) for span in coverage.uncovered]
    if coverage.ok:
        sig.passed(
            "byte-range",
            f"covers {coverage.covered} bytes: the whole of revision "
            f"{coverage.signed_revision + 1} except its /Contents string"
            + (f"; {'; '.join(coverage.notes)}" if coverage.notes else ""),
        )
    else:
        sig.fail(
            "byte-range", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, "; ".join(coverage.anomalies)
        )


def _record_changes(
    document: Document,
    sig: _Signature,
    embedded: EmbeddedPdfSignature | None,
    signed_revision: int,
    names: set[str],
    certification: Any,
) -> None:
    docmdp = fieldmdp = None
    if embedded is not None:
        try:
            docmdp, fieldmdp = embedded.docmdp_level, embedded.fieldmdp
        except HOSTILE_ERRORS as exc:
            sig.warnings.append(f"DocMDP/FieldMDP settings unreadable: {describe(exc)}")
    changes = review(
        document.reader,
        signed_revision,
        docmdp=docmdp,
        fieldmdp=fieldmdp,
        signature_fields=names,
        certification=certification,
    )
    sig.details["modifications"] = changes.level
    if changes.changed_fields:
        sig.details["changed_fields"] = changes.changed_fields
    if changes.warning:
        sig.warnings.append(changes.warning)
    if changes.permitted:
        sig.passed("modifications", changes.detail)
    else:
        sig.fail("modifications", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, changes.detail)


# --- /Sig ----------------------------------------------------------------------------------------------------


def _claimed_m(value: generic.DictionaryObject) -> datetime | None:
    """The signature dictionary's ``/M`` (inside the signed bytes, but chosen by the signer: a claim)."""
    try:
        raw = value.get("/M")
        return generic.parse_pdf_date(str(raw), strict=False) if raw is not None else None
    except HOSTILE_ERRORS:
        return None


def _verify_signature(
    document: Document,
    sig: _Signature,
    info: Any,
    subfilter: str,
    byte_range: tuple[int, int, int, int],
    material: RevocationMaterial,
    claimed_m: datetime | None,
) -> None:
    ctx = sig.ctx
    try:
        signed = signature_structure(info, subfilter)
    except CmsFailure as exc:
        raise sig.stop("cms", exc.indication, exc.sub_indication, exc.message) from None
    signer = signed.signer_certificate
    sig.subject = name_text(signer.subject) or signer.subject.human_friendly
    sig.details.update(
        signer_serial=cx.serial_hex(signer.serial_number),
        digest_algorithm=signed.digest_algorithm,
        signature_algorithm=signed.signature_algorithm_name,
        key=key_label(signer),
    )
    sig.passed(
        "cms",
        f"detached SignedData, one SignerInfo ({signed.digest_algorithm}, "
        f"{signed.signature_algorithm_name}), {len(signed.certificates)} certificate(s); signer "
        f"{sig.subject}",
    )
    computed = covered_digest(signed.digest_algorithm, document.data, byte_range)
    try:
        check_digest(signed, computed)
        sig.passed("message-digest", f"{signed.digest_algorithm} of the signed byte ranges equals messageDigest")
    except CmsFailure as exc:
        sig.fail("message-digest", exc.indication, exc.sub_indication, exc.message)
    try:
        algorithm = check_signature(signed)
        sig.passed("signature-value", f"{algorithm.name} signature over the signed attributes verifies")
    except CmsFailure as exc:
        sig.fail("signature-value", exc.indication, exc.sub_indication, exc.message)
    extra = _revocation_from_cms(signed, material)
    now_ctx = _with_material(ctx, ctx.validation_time, signed.certificates, extra)
    proven = _signature_timestamps(sig, signed, now_ctx)
    signing_time, source = _signing_time(sig, signed.claimed_signing_time, claimed_m, proven)
    purpose = signer_purpose(ctx.purpose, _carries_seal(signed))
    at_ctx = _with_material(ctx, signing_time, signed.certificates, extra)
    chain = verify_certificate(signer, at_ctx, purpose=purpose, kind="certificate")
    sig.chain = chain.chain
    if chain.passed:
        detail = f"valid {purpose_phrase(purpose)}at the signing time ({source}): " + "; ".join(
            c.detail for c in chain.checks if c.name == "path"
        )
        # A claimed time proves nothing: such a signature must also stand at the validation time — its certificates
        # unexpired and its signer not revoked. A time-stamped one is judged at its proven time only.
        claimed = source != "time-stamp" and signing_time != ctx.validation_time
        expired = [link for link in chain.chain if claimed and link.not_after and link.not_after < ctx.validation_time]
        # Only a REVOKED verdict of the second validation matters; it is run unless nothing at hand can revoke.
        later = (
            verify_certificate(signer, now_ctx, purpose=purpose, kind="certificate")
            if claimed and not expired and may_be_revoked(signer, now_ctx)
            else chain
        )
        if expired:
            sig.fail(
                "signer-certificate",
                Indication.INDETERMINATE,
                SubIndication.OUT_OF_BOUNDS_NO_POE,
                f"{expired[0].subject} expired on {expired[0].not_after.isoformat() if expired[0].not_after else '?'}"
                " and the signing time is only claimed: nothing proves the signature was made while it was valid "
                "(a signature time-stamp, PAdES B-T, would)",
            )
        elif later.sub_indication is SubIndication.REVOKED:
            # Not revoked at the claimed time (that was checked above), revoked now: ETSI EN 319 102-1 REVOKED_NO_POE.
            sig.fail(
                "signer-certificate",
                Indication.INDETERMINATE,
                SubIndication.REVOKED_NO_POE,
                f"the signer's certificate was revoked after the claimed signing time {signing_time.isoformat()}; "
                "the time is only claimed, so nothing proves the signature predates the revocation (a signature "
                f"time-stamp, PAdES B-T, would): {later.errors[0] if later.errors else 'revoked'}",
            )
        else:
            sig.passed("signer-certificate", detail)
    else:
        reason = chain.errors[0] if chain.errors else chain.indication.value
        sig.fail(
            "signer-certificate",
            chain.indication,
            chain.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            f"at the signing time {signing_time.isoformat()} ({source}): {reason}",
        )
    outcome = check_embedded_seal(signed.signed_attrs, signer, signing_time, now_ctx, proven=source == "time-stamp")
    sig.add(outcome.check)
    if outcome.warning:
        sig.warnings.append(outcome.warning)
    if outcome.report is not None:
        sig.child(outcome.report)  # evidence: the seal check above judges it
    if outcome.es_id:
        sig.details["seal"] = outcome.es_id


def _signature_timestamps(sig: _Signature, signed: SignedCms, ctx: VerificationContext) -> list[datetime]:
    try:
        tokens = signature_timestamps(signed)
    except CmsFailure as exc:
        sig.fail("signature-timestamp", exc.indication, exc.sub_indication, exc.message)
        return []
    if not tokens:
        sig.note("signature-timestamp", Result.SKIPPED, "no signature time-stamp (PAdES B-B)")
        return []
    proven: list[datetime] = []
    stamps: list[dict[str, str]] = []
    for token in tokens:
        try:
            verified = check_timestamp_token(token, imprint_of=signed.signature)
        except CmsFailure as exc:
            sig.fail("signature-timestamp", exc.indication, exc.sub_indication, exc.message)
            continue
        tsa = verify_certificate(
            verified.tsa_certificate,
            _with_material(ctx, ctx.validation_time, list(verified.certificates)),
            purpose="timestamping",
            kind="certificate",
        )
        tsa_name = name_text(verified.tsa_certificate.subject)
        stamps.append(
            {
                "gen_time": verified.gen_time.isoformat(),
                "tsa": tsa_name,
                "hash": verified.hash_algorithm,
                "serial": f"{verified.serial_number:x}",
            }
        )
        moved = _at_later_proof(sig, tsa, verified, ctx)
        if moved is not None:
            proof_time, tsa = moved
            proven.append(verified.gen_time)
            sig.passed(
                "signature-timestamp",
                f"{tsa_name} time-stamped the signature value at {verified.gen_time.isoformat()} "
                f"({verified.hash_algorithm}); TSA certificate valid and listed at {proof_time.isoformat()}, when a "
                "later document time-stamp valid now proves the token existed (PAdES B-LTA; not valid now: "
                f"{_first_error(tsa)})",
            )
            continue
        if not tsa.passed:
            reason = tsa.errors[0] if tsa.errors else tsa.indication.value
            indication, sub, note = _no_longer_proof(tsa, verified, ctx)
            sig.fail(
                "signature-timestamp",
                indication,
                sub,
                f"time-stamp by {tsa_name} at {verified.gen_time.isoformat()}: the TSA is not trusted: {reason}{note}",
            )
            continue
        proven.append(verified.gen_time)
        sig.passed(
            "signature-timestamp",
            f"{tsa_name} time-stamped the signature value at "
            f"{verified.gen_time.isoformat()} ({verified.hash_algorithm}); TSA "
            "certificate valid and listed",
        )
    sig.details["timestamps"] = stamps
    return proven


_SLIDES: Final = frozenset(
    {
        SubIndication.EXPIRED,
        SubIndication.REVOKED,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
        SubIndication.REVOKED_NO_POE,
        SubIndication.TRY_LATER,
        SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE,
    }
)
"""Why a TSA path valid once may fail now (expiry, revocation, revocation data gone stale): a proof of existence of the
token from before that time settles it."""


def _at_later_proof(
    sig: _Signature, tsa: Report, verified: VerifiedTimeStamp, ctx: VerificationContext
) -> tuple[datetime, Report] | None:
    """A signature time-stamp whose TSA path fails at the validation time, judged instead at the earliest genTime of a
    later document time-stamp that passed (it covers a later revision, so it proves the token existed then): ETSI EN
    319 102-1 past signature validation, one step of validation time sliding. Returns that time and the failed
    report at the validation time when the TSA path is valid then; ``None`` otherwise (no such proof, a failure no
    earlier time can cure, or the path not valid at that time either)."""
    if tsa.passed or tsa.sub_indication not in _SLIDES or sig.revision is None:
        return None
    times = [when for revision, when in sig.later if revision > sig.revision and when >= verified.gen_time]
    if not times:
        return None
    proof_time = min(times)
    then = verify_certificate(
        verified.tsa_certificate,
        _with_material(ctx, proof_time, list(verified.certificates)),
        purpose="timestamping",
        kind="certificate",
    )
    return (proof_time, tsa) if then.passed else None


def _first_error(report: Report) -> str:
    return report.errors[0] if report.errors else report.indication.value


_NO_LONGER_PROOF: Final = {
    SubIndication.OUT_OF_BOUNDS_NO_POE: " (valid when it stamped, expired since: nothing later proves the token "
    "existed while the TSA's key was valid, so it proves no time)",
    SubIndication.REVOKED_NO_POE: " (valid when it stamped, revoked since: genTime is the TSA's own word and nothing "
    "proves the token predates the revocation, so it proves no time)",
}


def _no_longer_proof(
    tsa: Report, verified: VerifiedTimeStamp, ctx: VerificationContext, material: RevocationMaterial | None = None
) -> tuple[Indication, SubIndication, str]:
    """The indication of a time-stamp whose TSA path fails at the validation time, and what to add to the reason.
    Expired or revoked now but valid at the token's genTime, the token is not proven false — it is no longer a proof
    of existence: INDETERMINATE / OUT_OF_BOUNDS_NO_POE or REVOKED_NO_POE (ETSI EN 319 102-1; the GB/T 38540
    verifier's rule, verifier.ses.timestamps), not TOTAL_FAILED / EXPIRED or REVOKED (issue sesltv); not valid at
    genTime either, the verdict at genTime (a token made with a revoked or expired key is TOTAL_FAILED). Any other
    failure is the validation's own verdict."""
    sub = tsa.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    if sub not in (SubIndication.EXPIRED, SubIndication.REVOKED):
        return tsa.indication, sub, ""
    then = verify_certificate(
        verified.tsa_certificate,
        _with_material(ctx, verified.gen_time, list(verified.certificates), material),
        purpose="timestamping",
        kind="certificate",
    )
    if not then.passed:
        why = then.errors[0] if then.errors else then.indication.value
        then_sub = then.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
        return then.indication, then_sub, f" (and at its genTime {verified.gen_time.isoformat()}: {why})"
    moved = SubIndication.OUT_OF_BOUNDS_NO_POE if sub is SubIndication.EXPIRED else SubIndication.REVOKED_NO_POE
    return Indication.INDETERMINATE, moved, _NO_LONGER_PROOF[moved]


def _signing_time(
    sig: _Signature, claimed_attr: datetime | None, claimed_m: datetime | None, proven: list[datetime]
) -> tuple[datetime, str]:
    claimed, where = (
        (claimed_attr, "signed signingTime attribute")
        if claimed_attr is not None
        else (claimed_m, "/M of the signature dictionary")
    )
    if claimed is not None and claimed.tzinfo is None:
        claimed = claimed.replace(tzinfo=UTC)
    if proven:
        moment = min(proven)
        if claimed is not None and claimed > moment + CLAIMED_AFTER_TOLERANCE:
            sig.warnings.append(
                f"the claimed signing time {claimed.isoformat()} ({where}) is later than the "
                f"time-stamp {moment.isoformat()}"
            )
        sig.details.update(signing_time=moment.isoformat(), signing_time_source="time-stamp")
        sig.passed("signing-time", f"{moment.isoformat()}, proven by the signature time-stamp")
        return moment, "time-stamp"
    if claimed is not None:
        sig.details.update(signing_time=claimed.isoformat(), signing_time_source="claimed")
        message = f"{claimed.isoformat()}, claimed by the signer ({where}) and not proven by a time-stamp"
        sig.note("signing-time", Result.WARNING, message)
        sig.warnings.append(f"signing time {message}")
        return claimed, f"claimed, {where}"
    moment = sig.ctx.validation_time
    sig.details.update(signing_time=moment.isoformat(), signing_time_source="validation-time")
    sig.note("signing-time", Result.WARNING, "no signing time in the signature: the validation time is used")
    return moment, "validation time"


def _revocation_from_cms(signed: SignedCms, material: RevocationMaterial) -> RevocationMaterial:
    """The DSS plus the Adobe ``revocationInfoArchival`` signed attribute (PDF 1.6 style B-LT)."""
    extra = RevocationMaterial(
        list(material.certificates), list(material.crls), list(material.ocsps), list(material.problems)
    )
    try:
        value = unique_attribute(signed.signed_attrs, "adobe_revocation_info_archival", required=False)
        if value is None:
            return extra
        crls = value["crl"]
        ocsps = value["ocsp"]
        extra.crls.extend(bytes(c.dump()) for c in (crls if crls.native is not None else [])[:64])
        extra.ocsps.extend(bytes(o.dump()) for o in (ocsps if ocsps.native is not None else [])[:64])
    except (CmsFailure, *HOSTILE_ERRORS):
        pass
    return extra


def _with_material(
    ctx: VerificationContext,
    at: datetime,
    certs: Sequence[x509.Certificate],
    material: RevocationMaterial | None = None,
) -> VerificationContext:
    """``ctx`` at ``at`` with the document's certificates and revocation data (path material only: the anchors
    stay the context's own). A CRL or OCSP response the context already holds (a B-LT document's DSS repeats the
    bundle's CRLs) is not added twice: pyhanko would check every certificate against each copy."""
    fingerprint = ctx.memo.fingerprint
    known = {fingerprint(c) for c in ctx.intermediates}
    extra: list[x509.Certificate] = []
    for cert in [*certs, *(material.certificates if material else [])]:
        fp = fingerprint(cert)
        if fp not in known:
            known.add(fp)
            extra.append(cert)
    room = max(0, limits.MAX_EXTRA_CERTS - len(ctx.intermediates))
    crls = _new_items(ctx.crls, material.crls[: limits.MAX_CRLS]) if material else ()
    ocsps = _new_items(ctx.ocsps, material.ocsps[: limits.MAX_OCSPS]) if material else ()
    return dataclasses.replace(
        ctx,
        validation_time=at,
        intermediates=(*ctx.intermediates, *extra[:room]),
        crls=(*ctx.crls, *crls),
        ocsps=(*ctx.ocsps, *ocsps),
        warnings=(),
    )


def _new_items(held: Sequence[bytes], items: Sequence[bytes]) -> tuple[bytes, ...]:
    seen = set(held)
    new = []
    for item in items:
        if item not in seen:
            seen.add(item)
            new.append(item)
    return tuple(new)


# --- /DocTimeStamp -------------------------------------------------------------------------------------------


def _verify_timestamp(
    document: Document, sig: _Signature, info: Any, byte_range: tuple[int, int, int, int], material: RevocationMaterial
) -> None:
    ctx = sig.ctx
    try:
        hash_name, _imprint = timestamp_structure(info)
    except CmsFailure as exc:
        raise sig.stop("cms", exc.indication, exc.sub_indication, exc.message) from None
    sig.passed("cms", f"RFC 3161 time-stamp token, imprint {hash_name}")
    if hash_name not in ("sha256", "sha384", "sha512", "sm3"):
        raise sig.stop(
            "message-digest",
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"time-stamp imprint hash {hash_name} is not accepted",
        )
    computed = covered_digest(hash_name, document.data, byte_range)
    try:
        verified = check_timestamp_token(info, computed=computed)
    except CmsFailure as exc:
        name = "message-digest" if exc.sub_indication is SubIndication.HASH_FAILURE else "signature-value"
        raise sig.stop(name, exc.indication, exc.sub_indication, exc.message) from None
    sig.passed("message-digest", f"the token's {hash_name} imprint equals the digest of the signed byte ranges")
    sig.passed(
        "signature-value",
        f"token signed by {name_text(verified.tsa_certificate.subject)} ({verified.signature_algorithm})",
    )
    sig.subject = name_text(verified.tsa_certificate.subject) or "time-stamp"
    sig.details["key"] = key_label(verified.tsa_certificate)
    sig.details.update(
        gen_time=verified.gen_time.isoformat(),
        signing_time=verified.gen_time.isoformat(),
        signing_time_source="time-stamp",
        serial=f"{verified.serial_number:x}",
    )
    tsa = verify_certificate(
        verified.tsa_certificate,
        _with_material(ctx, ctx.validation_time, list(verified.certificates), material),
        purpose="timestamping",
        kind="certificate",
    )
    sig.chain = tsa.chain
    moved = _at_later_proof(sig, tsa, verified, _with_material(ctx, ctx.validation_time, [], material))
    if tsa.passed:
        sig.gen_time = verified.gen_time
        sig.passed("signer-certificate", f"TSA certificate valid and listed at {ctx.validation_time.isoformat()}")
    elif moved is not None:
        sig.gen_time = verified.gen_time
        sig.passed(
            "signer-certificate",
            f"TSA certificate valid and listed at {moved[0].isoformat()}, when a later document time-stamp valid now "
            f"proves this one existed (not valid now: {_first_error(tsa)})",
        )
    else:
        reason = tsa.errors[0] if tsa.errors else tsa.indication.value
        indication, sub, note = _no_longer_proof(tsa, verified, ctx, material)
        sig.fail("signer-certificate", indication, sub, f"the TSA: {reason}{note}")


def signer_purpose(requested: str, sealed: bool) -> str:
    """The purpose a PDF signer's certificate is validated for: the one rule of
    :func:`verifier.ses.certificates.signer_purpose` with ``seal`` as the PDF signature's own purpose."""
    return ses_signer_purpose(requested, own="seal", sealed=sealed)


def _carries_seal(signed: SignedCms) -> bool:
    try:
        return find_seal(signed.signed_attrs) is not None
    except (ValueError, TypeError, KeyError, IndexError):
        return True  # a malformed seal attribute: judged as a seal (and the seal check reports it)
