"""The GB/T 38540 seal (SESeal) embedded in a PDF signature's CMS.

Huren's PDF sealing puts the DER ``SESeal`` into the signature's CMS as the signed attribute
``1.3.6.1.4.1.32473.1.2.1`` (value: OCTET STRING; ``docs/OIDS.md``), so the seal is covered by the signature.
:func:`check_embedded_seal`:

1. finds the attribute (absent: the signature is plain PAdES, reported as skipped with a warning; more than one, or
   not one OCTET STRING: ``FORMAT_FAILURE``);
2. verifies the seal itself with :func:`verifier.ses.verify_seal` (the seal parsed once), judged at the signing
   time, with the signature's time-stamp as the seal's proof of existence when there is one (format, the
   maker's SM2 signature over ``SES_SealInfo``, the maker certificate when the seal was made, the maker as a
   ``SEAL_MAKER`` service of the trust list, the validity window, certList and picture);
3. requires the PDF signer's certificate to be one the seal permits (``certList``: the certificate itself, or its
   digest for ``certListType`` 2) — ``SIG_CONSTRAINTS_FAILURE`` otherwise;
4. requires the signing time to lie inside the seal's ``validStart``..``validEnd`` (``EXPIRED`` /
   ``NOT_YET_VALID`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import cms, core, x509

from trust.crypto.errors import TrustError
from trust.formats import ses
from trust.formats import x509 as cx
from trust.formats.names import name_text
from verifier.context import VerificationContext
from verifier.report import Check, Finding, Indication, Report, Result, SubIndication
from verifier.ses.checks import Proof
from verifier.ses.seal import verify_parsed_seal

SESEAL_ATTRIBUTE: Final = "1.3.6.1.4.1.32473.1.2.1"
"""The signed CMS attribute that carries the DER SESeal (Huren's arc, ``docs/OIDS.md``)."""


@dataclass
class SealOutcome:
    """What the seal check found: its check (a :class:`~verifier.report.Finding` when it fails), the seal's report
    and identity."""

    check: Check
    report: Report | None = None
    es_id: str | None = None
    warning: str | None = None


def _failed(indication: Indication, sub: SubIndication, message: str) -> Finding:
    return Finding("seal", Result.FAILED, message, indication, sub)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_seal(signed_attrs: cms.CMSAttributes) -> bytes | None:
    """The DER SESeal in the signed attributes, ``None`` if absent; ``ValueError`` if malformed."""
    found = [attr for attr in signed_attrs if attr["type"].dotted == SESEAL_ATTRIBUTE]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise ValueError("the seal attribute must appear once with one value")
    value = found[0]["values"][0]
    raw = value.dump() if isinstance(value, core.Asn1Value) else bytes(value)
    octets = core.OctetString.load(raw, strict=True)
    return bytes(octets.native)


def check_embedded_seal(
    signed_attrs: cms.CMSAttributes,
    signer: x509.Certificate,
    signing_time: datetime,
    ctx: VerificationContext,
    *,
    proven: bool = False,
) -> SealOutcome:
    """``signing_time`` is the signature's (proven by its time-stamp when ``proven``, which then also serves as the
    seal's proof of existence)."""
    try:
        seal_der = find_seal(signed_attrs)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        message = f"the embedded seal attribute is malformed: {exc}"
        return SealOutcome(_failed(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message))
    if seal_der is None:
        warning = "no GB/T 38540 seal (SESeal) is embedded in this signature: it is a plain PAdES signature"
        return SealOutcome(Check("seal", Result.SKIPPED, warning), warning=warning)
    try:
        parsed = ses.parse_seal(seal_der)
    except TrustError as exc:
        message = f"the embedded SESeal cannot be read: {exc.message}"
        return SealOutcome(_failed(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message))
    label = f"seal {parsed.name} ({parsed.es_id})"
    try:
        proof = Proof(signing_time, "the time-stamp of the PDF signature that carries it") if proven else None
        report = verify_parsed_seal(parsed, ctx, at=signing_time, proof=proof)
    except TrustError as exc:
        message = f"{label}: {exc.message}"
        return SealOutcome(
            _failed(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message),
            None,
            parsed.es_id,
        )
    if report.indication is not Indication.TOTAL_PASSED:
        message = f"{label}: {report.errors[0] if report.errors else report.indication.value}"
        return SealOutcome(
            _failed(report.indication, report.sub_indication or SubIndication.SIG_CONSTRAINTS_FAILURE, message),
            report,
            parsed.es_id,
        )
    if not ses.lists_certificate(parsed, signer.dump()):
        message = (
            f"{label} does not list the signer's certificate ({name_text(signer.subject)}, serial "
            f"{cx.serial_hex(signer.serial_number)}) in its certList: this key may not use the seal"
        )
        return SealOutcome(
            _failed(Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, message),
            report,
            parsed.es_id,
        )
    start, end = _utc(parsed.valid_start), _utc(parsed.valid_end)
    if signing_time < start or signing_time > end:
        sub = SubIndication.NOT_YET_VALID if signing_time < start else SubIndication.EXPIRED
        message = (
            f"{label} is valid {start.isoformat()}..{end.isoformat()}; the signature was made "
            f"{signing_time.isoformat()}"
        )
        return SealOutcome(_failed(Indication.TOTAL_FAILED, sub, message), report, parsed.es_id)
    detail = (
        f"{label}, made by {_maker_name(parsed, ctx)}: maker signature and certificate verified; the signer's "
        f"certificate is in its certList; signing time inside its validity {start.date()}..{end.date()}"
    )
    return SealOutcome(Check("seal", Result.PASSED, detail), report, parsed.es_id)


def _maker_name(parsed: ses.Seal, ctx: VerificationContext) -> str:
    try:
        return name_text(ctx.memo.certificate(parsed.maker_cert).subject)
    except TrustError:
        return "an unreadable maker certificate"
