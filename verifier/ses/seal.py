"""GB/T 38540 seals (SESeal versions 1, 4 and 5) verified offline: the checks of a seal, in order, and its report.

Seal checks (:func:`seal_checks`), in order:

1. ``format`` — version 1, 4 or 5 (told apart by structure, ``../shared/standards/README.md``), header ``ES``,
   an esID, ``validStart < validEnd``, no unknown element, no critical extension data (none is known here).
2. ``maker-signature`` — the seal maker's (制章者) signature with the maker certificate: version 4/5 over
   ``DER(SES_SealInfo)``, version 1 over ``DER(SEQUENCE {sealInfo, cert, signatureAlgorithm})``; SM2 with SM3 and the
   default ID, or RSA PKCS#1 v1.5 / ECDSA when ``signAlgID`` names them.
3. ``maker-certificate`` — the maker certificate's chain, validity and revocation **at the seal's createDate**
   (purpose ``seal-maker``; :func:`verifier.certificate.verify_certificate`), and not revoked before the seal's
   proof of existence (see "Signing time" below).
4. ``maker-service`` — with a trust list: the maker certificate is a ``SEAL_MAKER`` service granted at createDate.
5. ``time-stamp`` — version 5 only, when the seal carries ``timeStamp [0]``: an RFC 3161 token over the maker's
   signature value (as in SES_Signature; *inferred*, GM/T 0031-2025 is not public), its TSA chain and TSA service at
   genTime, and genTime not before createDate.
6. ``validity`` — ``validStart ≤ at ≤ validEnd`` (else EXPIRED / NOT_YET_VALID); when ``at`` is a claimed time
   and the seal ended before its proof of existence (the time-stamp, else the validation time), INDETERMINATE /
   OUT_OF_BOUNDS_NO_POE.
7. ``cert-list`` — every certificate parses (certListType 1; version 1), or every digest has the declared
   algorithm's length (certListType 2).
8. ``picture`` — present, with a positive size in millimetres, and decodable as its declared type (PNG chunk
   structure and CRCs, JPEG markers, GIF and BMP headers, SVG root element); an unknown type is a warning.

Signing time and proof of existence: :mod:`verifier.ses` (the package docstring).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Final

from trust.crypto import x690
from trust.crypto.algorithms import digest
from trust.crypto.errors import (
    TrustError,
)
from trust.formats import ses
from verifier.context import Memo, VerificationContext
from verifier.report import ChainLink, Check, Indication, Report, ReportBuilder, SubIndication
from verifier.ses.certificates import certificate_at, check_signature, load_cert, subject_of
from verifier.ses.checks import (
    CLOCK_SKEW,
    Proof,
    aware,
    critical_extension_problem,
    failed,
    parse_input,
    passed,
    skipped,
    zoneless_problem,
)
from verifier.ses.pictures import picture_check
from verifier.ses.received import maker_signed_bytes
from verifier.ses.timestamps import time_stamp_check

SM3_SIZE: Final = 32


def verify_seal(
    seal_der: bytes, ctx: VerificationContext, *, at: datetime | None = None, proof: Proof | None = None
) -> Report:
    """Verify a SESeal (version 1, 4 or 5) offline; the window is judged at ``at`` (default: validation time).

    ``proof`` is the earliest proof that the seal existed, when the caller has one (the time-stamp of the signature
    that carries it); without it, and without a version-5 time-stamp, it is the validation time."""
    return verify_parsed_seal(parse_input(ses.parse_seal, seal_der, "SESeal"), ctx, at=at, proof=proof)


def verify_parsed_seal(
    seal: ses.Seal, ctx: VerificationContext, *, at: datetime | None = None, proof: Proof | None = None
) -> Report:
    """:func:`verify_seal` of a seal already parsed by :func:`trust.formats.ses.parse_seal` (as a sealed PDF's is)."""
    moment = at or ctx.validation_time
    checks, chain = run_seal_steps(seal, ctx, moment, "", proof)
    seal = replace(
        seal,
        create_date=aware(seal.create_date),
        valid_start=aware(seal.valid_start),
        valid_end=aware(seal.valid_end),
    )
    report = ReportBuilder("seal", ctx.validation_time, f"{seal.name} ({seal.es_id})")
    report.chain = chain
    report.checks.extend(checks)
    report.details.update(seal_details(seal, moment))
    return report.build(warnings=ctx.warnings)


def seal_checks(
    seal: ses.Seal, ctx: VerificationContext, at: datetime, *, prefix: str = "", proof: Proof | None = None
) -> list[Check]:
    """The checks of a parsed seal, in order (module docstring); ``prefix`` is put before every check name;
    ``proof`` as for :func:`verify_seal`."""
    return run_seal_steps(seal, ctx, at, prefix, proof)[0]


def seal_details(seal: ses.Seal, at: datetime) -> tuple[tuple[str, object], ...]:
    return (
        ("es_id", seal.es_id),
        ("seal_name", seal.name),
        ("seal_version", seal.version),
        ("vendor", seal.vendor),
        ("seal_type", seal.seal_type),
        ("create_date", seal.create_date.isoformat()),
        ("valid_start", seal.valid_start.isoformat()),
        ("valid_end", seal.valid_end.isoformat()),
        ("judged_at", at.isoformat()),
    )


def run_seal_steps(
    seal: ses.Seal, ctx: VerificationContext, at: datetime, prefix: str, proof: Proof | None = None
) -> tuple[list[Check], tuple[ChainLink, ...]]:
    def n(name: str) -> str:
        return prefix + name

    checks: list[Check] = []
    chain: tuple[ChainLink, ...] = ()
    standard = {1: "GM/T 0031-2014", 4: "GB/T 38540-2020", 5: "GM/T 0031-2025"}.get(seal.version)
    zoneless = zoneless_problem(seal.create_date, seal.valid_start, seal.valid_end)
    seal = replace(
        seal,
        create_date=aware(seal.create_date),
        valid_start=aware(seal.valid_start),
        valid_end=aware(seal.valid_end),
    )
    # 1. format
    if zoneless:
        checks.append(failed(n("format"), Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, zoneless))
    elif standard is None:
        checks.append(
            failed(
                n("format"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"SESeal version {seal.version} is not 1, 4 or 5",
            )
        )
    elif not seal.es_id or seal.valid_end <= seal.valid_start:
        checks.append(
            failed(
                n("format"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "the seal needs an esID and validStart before validEnd",
            )
        )
    elif len(x690.children(seal.der)) != (2 if seal.version == 1 else 4 + (seal.time_stamp is not None)):
        checks.append(
            failed(
                n("format"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "the SESeal has an element this verifier does not know (a timeStamp must be [0])",
            )
        )
    elif critical_extension_problem(seal.extensions):
        checks.append(
            failed(
                n("format"),
                Indication.TOTAL_FAILED,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                critical_extension_problem(seal.extensions),
            )
        )
    else:
        checks.append(
            passed(
                n("format"),
                f"SESeal version {seal.version} ({standard}), esID {seal.es_id}, vendor {seal.vendor!r}, {seal.name!r}",
            )
        )
    # The version-5 time-stamp is checked first (it is the seal's proof of existence) and reported as step 5.
    stamp_check: Check | None = None
    stamp = None
    if seal.time_stamp is not None:
        stamp_check, stamp = time_stamp_check(
            n("time-stamp"), seal.time_stamp, seal.signed_value, ctx, "the maker's signature value"
        )
        if stamp is not None and seal.create_date > stamp.gen_time + CLOCK_SKEW:
            stamp_check = failed(
                n("time-stamp"),
                Indication.TOTAL_FAILED,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"createDate {seal.create_date.isoformat()} is later than the time-stamp's genTime "
                f"{stamp.gen_time.isoformat()}",
            )
            stamp = None
    outer_proof = proof or Proof(ctx.validation_time, "the validation time (no time-stamp)")
    # 2. maker signature
    try:
        maker = load_cert(seal.maker_cert, ctx.memo)
    except TrustError as exc:
        maker = None
        checks.append(
            failed(
                n("maker-signature"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"the maker certificate is unreadable: {exc.message}",
            )
        )
    if maker is not None:
        what = "DER(SEQUENCE {sealInfo, cert, signatureAlgorithm})" if seal.version == 1 else "DER(SES_SealInfo)"
        checks.append(
            check_signature(
                n("maker-signature"),
                "seal maker",
                maker,
                seal.sign_alg_oid,
                seal.signed_value,
                maker_signed_bytes(seal),
                what,
            )
        )
        # 3. maker certificate at createDate, not revoked before the seal's proof of existence
        proof = outer_proof  # the earliest proof of existence wins
        if stamp is not None and stamp.gen_time < outer_proof.time:
            proof = Proof(stamp.gen_time, "the seal's time-stamp")
        maker_check, chain = certificate_at(
            n("maker-certificate"),
            maker,
            ctx,
            seal.create_date,
            proof,
            who="seal-maker",
            claim="createDate",
            purpose="seal-maker",
        )
        checks.append(maker_check)
        # 4. the maker is an authorised seal maker
        checks.append(_maker_service(n("maker-service"), seal, ctx))
    else:
        checks.append(skipped(n("maker-certificate"), "no readable maker certificate"))
        checks.append(skipped(n("maker-service"), "no readable maker certificate"))
    # 5. the maker's time-stamp (version 5)
    if stamp_check is not None:
        checks.append(stamp_check)
    # 6. validity window
    checks.append(_window(n("validity"), seal, at, outer_proof))
    # 7. certList
    checks.append(_cert_list(n("cert-list"), seal, ctx.memo))
    # 8. picture
    checks.append(picture_check(n("picture"), seal.picture))
    return checks, chain


def _maker_service(name: str, seal: ses.Seal, ctx: VerificationContext) -> Check:
    if ctx.trust_list is None:
        return skipped(name, "no trust list (no bundle): the maker's authorisation is not checked")
    standing = ctx.trust_list.standing(seal.maker_cert, seal.create_date, "SEAL_MAKER")
    if standing.usable:
        return passed(name, f"authorised seal maker at createDate: {standing.reason}")
    if standing.service is None:
        made = _maker_since(seal, ctx)
        if made is not None and ctx.newer_than_bundle(made):  # a maker listed after the bundle was made
            return failed(
                name, Indication.INDETERMINATE, SubIndication.TRY_LATER, ctx.newer_bundle("the seal maker", made)
            )
    return failed(
        name,
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        f"the maker is not a SEAL_MAKER in good standing in trust list {ctx.trust_list.sequence} at "
        f"createDate {seal.create_date.isoformat()}: {standing.reason}",
    )


def _maker_since(seal: ses.Seal, ctx: VerificationContext) -> datetime | None:
    """When the maker certificate was issued (its notBefore), ``None`` if it cannot be read."""
    try:
        validity = load_cert(seal.maker_cert, ctx.memo)["tbs_certificate"]["validity"]
        return aware(validity["not_before"].native)
    except (TrustError, ValueError, TypeError, KeyError):
        return None


def _window(name: str, seal: ses.Seal, at: datetime, proof: Proof) -> Check:
    """The window at ``at``; a seal that ended before the proof of existence (a claimed ``at``) is INDETERMINATE /
    OUT_OF_BOUNDS_NO_POE: a signer cannot backdate timeInfo into an ended seal's window and be believed."""
    span = f"valid {seal.valid_start.isoformat()} to {seal.valid_end.isoformat()}"
    if at < seal.valid_start:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.NOT_YET_VALID,
            f"seal not yet valid at {at.isoformat()} ({span})",
        )
    if at > seal.valid_end:
        return failed(
            name, Indication.TOTAL_FAILED, SubIndication.EXPIRED, f"seal expired at {at.isoformat()} ({span})"
        )
    if proof.time > at and seal.valid_end < proof.time:
        return failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.OUT_OF_BOUNDS_NO_POE,
            f"seal ended on {seal.valid_end.isoformat()}, before {proof.what} {proof.time.isoformat()}; the time it "
            f"is judged at, {at.isoformat()}, is claimed, not proven: nothing proves the signature was made while the "
            f"seal was valid ({span})",
        )
    return passed(name, f"{span}; judged at {at.isoformat()}")


def _cert_list(name: str, seal: ses.Seal, memo: Memo) -> Check:
    if not seal.cert_list:
        return failed(name, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "certList is empty")
    if seal.cert_list_type == 1:
        subjects = []
        for index, der in enumerate(seal.cert_list):
            try:
                subjects.append(subject_of(load_cert(der, memo)))
            except TrustError as exc:
                return failed(
                    name,
                    Indication.TOTAL_FAILED,
                    SubIndication.FORMAT_FAILURE,
                    f"certList entry {index} is not a certificate: {exc.message}",
                )
        return passed(name, f"{len(subjects)} signer certificate(s): {'; '.join(subjects)}")
    if seal.cert_list_type != 2:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"certListType {seal.cert_list_type} is neither 1 (certificates) nor 2 (digests)",
        )
    for index, (kind, value) in enumerate(zip(seal.cert_digest_types, seal.cert_list, strict=True)):
        algorithm = ses.cert_digest_name(kind)
        if algorithm is None:
            return failed(
                name,
                Indication.INDETERMINATE,
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                f"certList entry {index}: digest algorithm {kind!r} is not accepted (SM3, SHA-2)",
            )
        if len(value) != len(digest(algorithm, b"")):
            return failed(
                name,
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"certList entry {index}: a {kind} digest has {len(digest(algorithm, b''))} bytes, "
                f"this one {len(value)}",
            )
    return passed(name, f"{len(seal.cert_list)} signer certificate digest(s)")
