"""OFD documents verified offline: every signature of every document (GB/T 33190-2016 clause 18), with the GB/T 38540
seal signature each carries, in ETSI EN 319 102-1 terms.

:func:`verify_ofd` returns one report of kind ``ofd`` — document checks (``package``, ``signatures``, ``coverage``)
and one child of kind ``ofd-signature`` per entry of ``Signatures.xml`` — whose bottom line is
:func:`verifier.report.bottom_line` with each signature counted on its own, as a PDF's are (every report built by
:class:`verifier.report.ReportBuilder`). An OFD without a signature is ``TOTAL_FAILED`` / ``FORMAT_FAILURE``, as an
unsigned PDF is. A package that cannot be read (not a ZIP, a zip bomb, a path outside the package, XML with a
DOCTYPE ...) raises :class:`~trust.crypto.errors.InputError`; anything one signature does wrong is that signature's
report.

Checks of one signature, in order (report check names in brackets):

1. **[signature-file]** its ``Signature.xml`` is in the package and well formed; ``SignedValue.dat`` is there.
2. **[check-method]** the references' digest is SM3 or SHA-256 (absent: the standard's default MD5, refused:
   INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE).
3. **[references]** every ``Reference`` names a file of the package whose digest equals its ``CheckValue``; each
   changed or missing file is named (TOTAL_FAILED / HASH_FAILURE).
4. **[references-complete]** the references cover ``OFD.xml``, the document's ``Document.xml`` and every page, template
   and resource file that the covered ``Document.xml`` names (SIG_CONSTRAINTS_FAILURE otherwise: those files could be
   replaced without touching the signature).
5. **[modifications]** files of the package that this signature does not cover: ``Signatures.xml`` (which a later
   signature must change, so it is unprotected unless a signature closes the document), the files of signatures
   listed after this one (each with the signature that covers it) and anything else — a file added after signing
   that no signature covers fails (SIG_CONSTRAINTS_FAILURE), as does a ``Signatures.xml`` that no longer lists a
   signature whose files are still there.
6. **[signed-value]** ``Type="Seal"``: ``SignedValue.dat`` is a GB/T 38540 ``SES_Signature`` verified by
   :func:`verifier.ses.signature.verify_ses_signature` with ``Signature.xml`` as the signed data (its ``dataHash`` is
   SM3 of the file's bytes): the signer's signature, the seal (maker signature and chain, window at ``timeInfo``,
   certList, picture), the signer chain through the trust list, the time-stamp, revocation — ``timeInfo`` is only
   claimed, so without a time-stamp the signer's path and the seal must last until the validation time
   (OUT_OF_BOUNDS_NO_POE otherwise, :mod:`verifier.ses`); its report is this
   signature's child. ``Type="Sign"``: a raw SM2 signature over ``Signature.xml`` (ofdrw's digital signatures) is
   verified with the certificates given as ``--untrusted``, since the file carries none (INDETERMINATE /
   NO_SIGNING_CERTIFICATE_FOUND when none fits), and that certificate's chain at ``SignatureDateTime``; a CMS
   SignedData (RFC 5652 or GB/T 35275) over ``Signature.xml`` — detached, encapsulated, or its digest encapsulated —
   is verified by :mod:`verifier.ofd.cms_value`, and its signer's chain at ``signingTime`` (else
   ``SignatureDateTime``) with the certificates it carries. Both times are claims: a certificate of the path expired
   since is OUT_OF_BOUNDS_NO_POE, revoked since REVOKED_NO_POE.
7. **[seal-file]** the seal file ``Signature.xml`` names (``Seal.esl``), if any, is the seal inside the signature
   (a different seal is a warning: readers draw the signature's).
8. **[stamp]** each ``StampAnnot``: its page (``PageRef``) exists and its boundary is a positive area; reported with
   the page number and position; outside the page area is a warning (a riding seal crosses the edge).
9. **[signing-time]** ``SignatureDateTime`` agrees with the SES_Signature's ``timeInfo`` (a warning otherwise).

The bottom line of one signature is its most fundamental failure: the first ``TOTAL_FAILED`` in the order above,
else the first ``INDETERMINATE``, else ``TOTAL_PASSED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from trust.crypto.algorithms import SM2_SM3, KeyFamily
from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from trust.formats import ses
from trust.formats import x509 as cx
from trust.formats.ofd import document as ofd_document
from trust.formats.ofd import package as ofd_package
from trust.formats.ofd import signatures as ofd_signatures
from verifier.context import VerificationContext
from verifier.ofd import cms_value
from verifier.report import Check, Indication, Report, ReportBuilder, Result, SubIndication
from verifier.ses.certificates import certificate_at, signer_purpose, subject_of
from verifier.ses.checks import CLOCK_SKEW, MALFORMED, Proof

MAX_OFD_BYTES: Final = ofd_package.MAX_PACKAGE_BYTES
_ORDER: Final = (
    "signature-file",
    "check-method",
    "references",
    "references-complete",
    "modifications",
    "signed-value",
    "signer-certificate",
    "stamp",
    "seal-file",
    "signing-time",
)


@dataclass
class _Signature:
    """Checks, failures and details of one signature, turned into its report."""

    entry: ofd_signatures.SignatureEntry
    ctx: VerificationContext
    subject: str = ""
    checks: list[Check] = field(default_factory=list)
    failures: list[tuple[str, Indication, SubIndication, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    children: list[Report] = field(default_factory=list)
    chain: tuple[Any, ...] = ()

    def passed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, Result.PASSED, detail))

    def note(self, name: str, result: Result, detail: str) -> None:
        self.checks.append(Check(name, result, detail))
        if result is Result.WARNING:
            self.warnings.append(f"{name}: {detail}")

    def fail(self, name: str, indication: Indication, sub: SubIndication, message: str) -> None:
        self.checks.append(Check(name, Result.FAILED, message))
        self.failures.append((name, indication, sub, message))

    def report(self) -> Report:
        """The signature's report: :class:`verifier.report.ReportBuilder`, the bottom line by
        :func:`verifier.report.bottom_line` in :data:`_ORDER`."""
        builder = ReportBuilder(
            "ofd-signature", self.ctx.validation_time, self.subject or f"signature {self.entry.id}", order=_ORDER
        )
        builder.chain = tuple(self.chain)
        failed = {(name, message): (indication, sub) for name, indication, sub, message in self.failures}
        for check in self.checks:
            found = failed.get((check.name, check.detail)) if check.result is Result.FAILED else None
            if found is not None:
                builder.failed(check.name, found[0], found[1], check.detail)
            else:
                builder.add(check)
        builder.warnings = list(self.warnings)
        builder.details = dict(self.details)
        for child in self.children:
            builder.child(child)
        return builder.build()


class _Stop(Exception):
    """The check just recorded makes the following ones meaningless (internal)."""


@dataclass(frozen=True)
class _Parsed:
    entry: ofd_signatures.SignatureEntry
    signature: ofd_signatures.SignatureFile | None
    problem: str
    covered: frozenset[str]  # referenced files, plus its own Signature.xml and SignedValue.dat
    own: frozenset[str]


def looks_like_ofd(data: bytes) -> bool:
    """A ZIP container that names ``OFD.xml`` in its first kilobytes of local headers or its central directory."""
    return ofd_package.looks_like(data) and b"OFD.xml" in data


def verify_ofd(data: bytes, ctx: VerificationContext) -> Report:
    """Verify every signature of every document of the OFD package ``data`` (module docstring)."""
    if len(data) > MAX_OFD_BYTES:
        raise InputError(f"OFD package of {len(data)} bytes exceeds {MAX_OFD_BYTES}", code=Code.INPUT_TOO_LARGE)
    pkg = ofd_package.read(data)
    bodies = ofd_document.entry(pkg)
    checks = [
        Check(
            "package",
            Result.PASSED,
            f"OFD package of {len(data)} bytes, {len(pkg.names)} files, {len(bodies)} document(s)",
        )
    ]
    warnings = list(ctx.warnings)
    children: list[Report] = []
    all_covered: set[str] = set()
    listed_files: set[str] = set()
    details: list[tuple[str, Any]] = [("files", len(pkg.names)), ("documents", len(bodies))]
    for index, body in enumerate(bodies):
        doc = ofd_document.document(pkg, body.doc_root)
        details.append((f"document_{index}", f"{body.doc_root}: {len(doc.pages)} page(s)"))
        if body.signatures is None:
            continue
        if body.signatures not in pkg:
            warnings.append(
                f"OFD.xml names {body.signatures} as the signatures of {body.doc_root}, but it is not in the package"
            )
            continue
        listed_files.add(body.signatures)
        listing = ofd_signatures.parse_list(pkg, body.signatures)
        parsed = [_parse(pkg, entry) for entry in listing.entries]
        for position, item in enumerate(parsed):
            children.append(_verify_one(pkg, doc, body, listing, parsed, position, ctx))
            all_covered |= item.covered
    builder = ReportBuilder("ofd", ctx.validation_time, "unsigned OFD", order=("package", "signatures", "coverage"))
    for check in checks:
        builder.add(check)
    builder.warnings = warnings[len(ctx.warnings) :]
    if not children:
        builder.failed(
            "signatures", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "the OFD document carries no signature"
        )
        builder.details = dict(details)
        return builder.build(warnings=ctx.warnings)
    uncovered = [n for n in pkg.names if n not in all_covered and n not in listed_files]
    if uncovered:
        builder.note(
            "coverage", Result.WARNING, f"{len(uncovered)} file(s) covered by no signature: {', '.join(uncovered[:20])}"
        )
    else:
        builder.passed("coverage", "every file but Signatures.xml is covered by a signature")
    details.append(("uncovered", uncovered[:50]))
    passed = sum(1 for child in children if child.passed)
    # Each signature counts in the bottom line on its own (verifier.report.bottom_line), as a PDF's do.
    builder.note(
        "signatures",
        Result.PASSED if passed == len(children) else Result.FAILED,
        f"{passed} of {len(children)} signature(s) passed",
    )
    for child in children:
        builder.child(child, label=f"signature {dict(child.details).get('id', '')}")
    builder.subject = (f"{len(children)} signature(s): " + ", ".join(child.subject for child in children))[:500]
    builder.details = dict(details)
    return builder.build(warnings=ctx.warnings)


def _parse(pkg: ofd_package.Package, entry: ofd_signatures.SignatureEntry) -> _Parsed:
    try:
        signature = ofd_signatures.parse_signature(pkg, entry.path)
    except TrustError as exc:
        return _Parsed(entry, None, exc.message, frozenset({entry.path}), frozenset({entry.path}))
    own = {signature.path, signature.signed_value}
    covered = {r.path for r in signature.references if r.path is not None} | own
    return _Parsed(entry, signature, "", frozenset(covered), frozenset(own))


def _verify_one(
    pkg: ofd_package.Package,
    doc: ofd_document.Document,
    body: ofd_document.DocBody,
    listing: ofd_signatures.SignatureList,
    parsed: Sequence[_Parsed],
    position: int,
    ctx: VerificationContext,
) -> Report:
    item = parsed[position]
    sig = _Signature(item.entry, ctx)
    sig.details.update(id=item.entry.id, type=item.entry.type, signature_xml=item.entry.path)
    try:
        _verify(pkg, doc, body, listing, parsed, position, sig)
    except _Stop:
        pass
    except (TrustError, *MALFORMED) as exc:  # hostile input that got past the checks: still a verdict
        message = exc.message if isinstance(exc, TrustError) else type(exc).__name__
        sig.fail(
            "signature-file", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"cannot be processed: {message}"
        )
    return sig.report()


def _verify(
    pkg: ofd_package.Package,
    doc: ofd_document.Document,
    body: ofd_document.DocBody,
    listing: ofd_signatures.SignatureList,
    parsed: Sequence[_Parsed],
    position: int,
    sig: _Signature,
) -> None:
    item = parsed[position]
    fmt = Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
    # 1. Signature.xml and SignedValue.dat.
    signature = item.signature
    if signature is None:
        sig.fail("signature-file", *fmt, item.problem)
        raise _Stop
    signed_value = pkg.get(signature.signed_value)
    if signed_value is None:
        sig.fail("signature-file", *fmt, f"SignedValue /{signature.signed_value} is not in the package")
        raise _Stop
    provider = ", ".join(p for p in signature.provider if p) or "unnamed"
    sig.passed(
        "signature-file",
        f"/{signature.path} ({len(signature.raw)} bytes), {len(signature.references)} reference(s), "
        f"SignedValue /{signature.signed_value} ({len(signed_value)} bytes), provider {provider}",
    )
    sig.details.update(provider=provider, signature_date_time=signature.date_time)
    # 2. The digest of the references.
    algorithm, reason = ofd_signatures.check_method(signature.check_method)
    if algorithm is None:
        sig.fail("check-method", Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, reason)
    else:
        sig.passed("check-method", f"{algorithm.upper()} ({signature.check_method})")
        _references(pkg, signature, algorithm, sig)
    # 4. The references cover the document's structure.
    _complete(pkg, doc, body, signature, sig)
    # 5. What the signature does not cover.
    _modifications(pkg, listing, parsed, position, sig)
    # 6. The signature value.
    seal_der = _signed_value(item.entry, signature, signed_value, sig)
    # 7. The seal file.
    _seal_file(pkg, signature, seal_der, sig)
    # 8. The stamp's position.
    _stamps(doc, signature, sig)


def _references(
    pkg: ofd_package.Package, signature: ofd_signatures.SignatureFile, algorithm: str, sig: _Signature
) -> None:
    results = ofd_signatures.check_references(pkg, signature, algorithm)
    if not results:
        sig.fail("references", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "the signature has no references")
        return
    bad = [r for r in results if r.status != "ok"]
    if bad:
        described = []
        for r in bad:
            if r.status == "changed":
                assert r.expected is not None and r.computed is not None
                described.append(f"/{r.path} changed (digest {r.computed.hex()}, signed {r.expected.hex()})")
            elif r.status == "missing":
                described.append(f"/{r.path} missing")
            else:
                described.append(f"{r.path}: {r.detail}")
        sig.details["changed_files"] = [f"/{r.path}" for r in bad]
        sub = SubIndication.HASH_FAILURE if any(r.status != "invalid" for r in bad) else SubIndication.FORMAT_FAILURE
        sig.fail(
            "references",
            Indication.TOTAL_FAILED,
            sub,
            f"{len(bad)} of {len(results)} protected file(s) do not match: " + "; ".join(described[:20]),
        )
        return
    sig.passed("references", f"all {len(results)} protected files match their {algorithm.upper()} digests")


def _structure(pkg: ofd_package.Package, doc: ofd_document.Document) -> list[str]:
    """The files that make up what the document shows: entry, Document.xml, pages, templates, resources."""
    names = [ofd_package.ENTRY_FILE, doc.path]
    names += [p.path for p in doc.pages]
    names += [path for _id, path in doc.templates]
    names += [*doc.public_res, *doc.document_res]
    names += [n for n in (doc.annotations, doc.attachments, doc.custom_tags) if n]
    try:
        res = ofd_document.resources(pkg, doc)
        names += [f.file for f in res.fonts.values() if f.file] + list(res.media.values())
    except TrustError:
        pass
    found = []
    for name in names:
        actual = pkg.find(name)
        if actual is not None and actual not in found:
            found.append(actual)
    return found


def _complete(
    pkg: ofd_package.Package,
    doc: ofd_document.Document,
    body: ofd_document.DocBody,
    signature: ofd_signatures.SignatureFile,
    sig: _Signature,
) -> None:
    referenced = {r.path for r in signature.references if r.path is not None}
    needed = _structure(pkg, doc)
    missing = [n for n in needed if n not in referenced]
    if missing:
        sig.fail(
            "references-complete",
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"the signature does not protect {len(missing)} file(s) of the document: "
            + ", ".join(f"/{n}" for n in missing[:20]),
        )
        return
    sig.passed(
        "references-complete",
        f"OFD.xml, /{doc.path}, {len(doc.pages)} page(s) and the {len(needed) - 2 - len(doc.pages)} other "
        "file(s) the document names are protected",
    )


def _modifications(
    pkg: ofd_package.Package,
    listing: ofd_signatures.SignatureList,
    parsed: Sequence[_Parsed],
    position: int,
    sig: _Signature,
) -> None:
    item = parsed[position]
    later = parsed[position + 1 :]
    unprotected_list = listing.path not in item.covered
    added_later: list[str] = []
    foreign: list[str] = []
    for name in pkg.names:
        if name in item.covered or name == listing.path:
            continue
        by = next((p.entry.id for p in later if name in p.covered), None)
        if by is not None:
            added_later.append(f"/{name} (signature {by})")
        else:
            foreign.append(name)
    if foreign:
        orphans = [n for n in foreign if n.rsplit("/", 1)[-1] in ("Signature.xml", "SignedValue.dat")]
        message = (
            f"{len(foreign)} file(s) were added or left after this signature and no later signature covers them: "
            + ", ".join(f"/{n}" for n in foreign[:20])
        )
        if orphans:
            message += f" — signature files that {listing.path} does not list (a signature was removed from the list?)"
        sig.details["uncovered_files"] = [f"/{n}" for n in foreign]
        sig.fail("modifications", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, message)
        return
    parts = []
    if added_later:
        parts.append(
            f"{len(added_later)} file(s) added later, covered by later signatures: {', '.join(added_later[:20])}"
        )
    parts.append(
        f"/{listing.path} is not protected (later signatures may be added)"
        if unprotected_list
        else f"/{listing.path} is protected: the document is closed to further signatures"
    )
    sig.passed("modifications", "; ".join(parts))


def _signed_value(
    entry: ofd_signatures.SignatureEntry,
    signature: ofd_signatures.SignatureFile,
    value: bytes,
    sig: _Signature,
) -> bytes | None:
    """Verify ``SignedValue.dat``; returns the DER of the seal inside, when there is one."""
    ctx = sig.ctx
    try:
        record = ses.parse_signature(value)
    except TrustError:
        record = None
    if record is not None:
        from verifier.ses.signature import verify_ses_signature

        report = verify_ses_signature(value, ctx, signed_data=signature.raw)
        sig.children.append(report)
        sig.subject = report.subject
        sig.chain = report.chain
        if report.passed:
            sig.passed("signed-value", f"GB/T 38540 SES_Signature over SM3 of /{signature.path}: {report.subject}")
        else:
            assert report.sub_indication is not None
            decisive = next(
                (
                    f"{c.name}: {c.detail}"
                    for c in report.checks
                    if getattr(c, "indication", None) is report.indication
                    and getattr(c, "sub_indication", None) is report.sub_indication
                ),
                report.errors[0] if report.errors else report.sub_indication.value,
            )
            sig.fail("signed-value", report.indication, report.sub_indication, f"SES_Signature: {decisive}")
        sig.details.update(seal=f"{record.seal.name} ({record.seal.es_id})", time_info=record.time_info.isoformat())
        if entry.type not in ("Seal", "Sign"):
            sig.note("signed-value", Result.WARNING, f"Signatures.xml gives the type {entry.type!r}")
        _signing_time(signature, record.time_info, sig)
        return record.seal.der
    if value[:1] == b"\x30" and _is_raw_ecdsa(value):
        _raw_signature(signature, value, sig)
        return None
    if cms_value.is_cms(value):
        _cms_signature(signature, value, sig)
        return None
    sig.fail(
        "signed-value",
        Indication.INDETERMINATE,
        SubIndication.FORMAT_FAILURE,
        f"SignedValue.dat ({len(value)} bytes) is neither a GB/T 38540 SES_Signature, a CMS SignedData nor a raw SM2 "
        "signature",
    )
    return None


def _cms_signature(signature: ofd_signatures.SignatureFile, value: bytes, sig: _Signature) -> None:
    """A CMS SignedData signature value (:mod:`verifier.ofd.cms_value`) and its signer's chain."""
    ctx = sig.ctx
    try:
        verified = cms_value.verify_cms_value(value, signature.raw, ctx.intermediates)
    except cms_value.CmsValueFailure as exc:
        sig.fail("signed-value", exc.indication, exc.sub_indication, f"CMS SignedData: {exc.message}")
        return
    sig.subject = subject_of(verified.signer)
    sig.passed(
        "signed-value",
        f"CMS SignedData ({verified.form}) over /{signature.path}: {verified.algorithm.name} signature verifies with "
        f"the signer certificate {subject_of(verified.signer)}",
    )
    for note in verified.notes:
        sig.note("signed-value", Result.WARNING, note)
    sig.details.update(signed_value_form=f"CMS SignedData, {verified.form}")
    claimed = verified.signing_time or ofd_signatures.signature_time(signature.date_time) or ctx.validation_time
    claim = "signingTime" if verified.signing_time else "SignatureDateTime"
    purpose = signer_purpose(ctx.purpose, own="document-signing", sealed=False)
    carried = verified.certificates
    chain_ctx = replace(ctx, intermediates=(*ctx.intermediates, *carried)) if carried else ctx
    check, chain = certificate_at(
        "signer-certificate",
        verified.signer,
        chain_ctx,
        claimed,
        Proof(ctx.validation_time, "the validation time (no time-stamp)"),
        who="signer",
        claim=claim,
        purpose=purpose,
        expiry_needs_proof=True,
    )
    sig.chain = chain
    if check.result is Result.PASSED:
        sig.passed(check.name, check.detail)
    else:
        indication = getattr(check, "indication", None) or Indication.INDETERMINATE
        sub = getattr(check, "sub_indication", None) or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
        sig.fail("signer-certificate", indication, sub, check.detail)


def _is_raw_ecdsa(value: bytes) -> bool:
    from trust.crypto import x690

    try:
        parts = x690.children(value)
    except (TrustError, *MALFORMED):
        return False
    return len(parts) == 2 and all(p[:1] == b"\x02" for p in parts)


def _raw_signature(signature: ofd_signatures.SignatureFile, value: bytes, sig: _Signature) -> None:
    ctx = sig.ctx
    algorithm = SM2_SM3
    for cert in ctx.intermediates:
        try:
            key = cx.public_key(cert)
        except (TrustError, *MALFORMED):
            continue
        if key.family is not KeyFamily.SM2:
            continue
        try:
            key.verify(value, signature.raw, algorithm)
        except TrustError:
            continue
        sig.subject = subject_of(cert)
        sig.passed(
            "signed-value",
            f"raw SM2 signature over /{signature.path} verifies with the given certificate {subject_of(cert)}",
        )
        claimed = ofd_signatures.signature_time(signature.date_time) or ctx.validation_time
        purpose = signer_purpose(ctx.purpose, own="document-signing", sealed=False)
        check, chain = certificate_at(
            "signer-certificate",
            cert,
            ctx,
            claimed,
            Proof(ctx.validation_time, "the validation time (no time-stamp)"),
            who="signer",
            claim="SignatureDateTime",
            purpose=purpose,
            expiry_needs_proof=True,
        )
        sig.chain = chain
        if check.result is Result.PASSED:
            sig.passed(check.name, check.detail)
        else:
            indication = getattr(check, "indication", None) or Indication.INDETERMINATE
            sub = getattr(check, "sub_indication", None) or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
            sig.fail("signer-certificate", indication, sub, check.detail)
        return
    sig.fail(
        "signed-value",
        Indication.INDETERMINATE,
        SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
        f"a raw SM2 signature over /{signature.path} carries no certificate, and none of the "
        f"{len(ctx.intermediates)} given (--untrusted) verifies it",
    )


def _seal_file(
    pkg: ofd_package.Package, signature: ofd_signatures.SignatureFile, seal_der: bytes | None, sig: _Signature
) -> None:
    if signature.seal is None:
        return
    data = pkg.get(signature.seal)
    if data is None:
        sig.note("seal-file", Result.WARNING, f"the seal file /{signature.seal} is not in the package")
        return
    if seal_der is not None and data == seal_der:
        sig.passed("seal-file", f"/{signature.seal} is the seal inside the signature")
        return
    try:
        other = ses.parse_seal(data)
        what = f"seal {other.name} ({other.es_id})"
    except TrustError as exc:
        what = f"not a seal ({exc.message})"
    sig.note(
        "seal-file",
        Result.WARNING,
        f"/{signature.seal} is {what}, not the seal inside the signature (readers draw the signature's seal)",
    )


def _stamps(doc: ofd_document.Document, signature: ofd_signatures.SignatureFile, sig: _Signature) -> None:
    if not signature.stamps:
        sig.note("stamp", Result.SKIPPED, "no StampAnnot: the signature has no visible appearance")
        return
    placed = []
    for stamp in signature.stamps:
        page = doc.page_by_id(stamp.page_ref or "")
        if page is None:
            sig.fail(
                "stamp",
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"StampAnnot {stamp.id} is on page ID {stamp.page_ref!r}, which the document does not have",
            )
            return
        box = stamp.boundary
        if box is None or box[2] <= 0 or box[3] <= 0:
            sig.fail(
                "stamp", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"StampAnnot {stamp.id} has no area"
            )
            return
        where = f"page {page.index + 1} at x {box[0]:g} y {box[1]:g}, {box[2]:g}×{box[3]:g} mm"
        area = doc.page_area
        if area is not None and (
            box[0] < area[0]
            or box[1] < area[1]
            or box[0] + box[2] > area[0] + area[2]
            or box[1] + box[3] > area[1] + area[3]
        ):
            sig.warnings.append(f"stamp: StampAnnot {stamp.id} reaches outside the page ({where})")
        placed.append(where)
    sig.details["stamps"] = placed
    sig.passed("stamp", "; ".join(placed[:10]))


def _signing_time(signature: ofd_signatures.SignatureFile, time_info: datetime, sig: _Signature) -> None:
    declared = ofd_signatures.signature_time(signature.date_time)
    if declared is None:
        sig.note("signing-time", Result.WARNING, f"SignatureDateTime {signature.date_time!r} is not readable")
        return
    moment = time_info if time_info.tzinfo is not None else time_info.replace(tzinfo=declared.tzinfo)
    if abs(declared - moment) > CLOCK_SKEW:
        sig.note(
            "signing-time",
            Result.WARNING,
            f"SignatureDateTime {signature.date_time} ({declared.isoformat()}) and the SES_Signature's timeInfo "
            f"{moment.isoformat()} differ",
        )
        return
    sig.passed("signing-time", f"SignatureDateTime {signature.date_time} agrees with timeInfo {moment.isoformat()}")


__all__ = ["EncodingError", "looks_like_ofd", "verify_ofd"]
