"""GB/T 38540 signatures (``SES_Signature``) verified offline: the checks of a signature, in order, and its report.

SES_Signature checks (:func:`verify_ses_signature`), in the order of deployed verifiers (README "Electronic seals"):
``format`` (TBS_Sign version = seal version), ``signing-time`` (timeInfo not in the future; says whether a
time-stamp proves existence or the time is only claimed), ``signature`` (over
``DER(TBS_Sign)`` with the signer certificate), ``signer-listed`` (the signer certificate, or its digest, is in the
seal's certList), the seal checks prefixed ``seal.`` with the window judged at timeInfo, ``signer-certificate``
(chain at timeInfo, purpose ``seal``, or as :func:`verifier.ses.certificates.signer_purpose` reads ``--purpose``;
unexpired and unrevoked up to the proof of existence), ``data-hash`` (SM3 of the signed
data; without data INDETERMINATE /
SIGNED_DATA_NOT_FOUND) and ``time-stamp`` (over the signature value; its TSA chain and trust-list TSA service at
genTime, the TSA's path unexpired and unrevoked at the validation time: :mod:`verifier.ses.timestamps`).

Signing time and proof of existence: :mod:`verifier.ses` (the package docstring).
"""

from __future__ import annotations

import hmac

from asn1crypto import x509

from trust.crypto.algorithms import digest
from trust.crypto.errors import (
    TrustError,
)
from trust.formats import ses
from verifier.context import VerificationContext
from verifier.report import ChainLink, Check, Indication, Report, ReportBuilder, Result, SubIndication
from verifier.ses.certificates import certificate_at, check_signature, load_cert, signer_purpose, subject_of
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
from verifier.ses.received import parse_signature
from verifier.ses.seal import SM3_SIZE, run_seal_steps, seal_details
from verifier.ses.timestamps import time_stamp_check


def _signer_listed(name: str, seal: ses.Seal, cert_der: bytes) -> Check:
    listing = ses.listed_as(seal, cert_der)
    if listing == "certificate":
        return passed(name, f"the signer certificate is listed in seal {seal.es_id}")
    if listing is not None:
        return passed(name, f"the signer certificate's {listing} digest is listed in seal {seal.es_id}")
    return failed(
        name,
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        f"the signer certificate is not a permitted signer of seal {seal.es_id} (not in its certList)",
    )


def _data_hash(name: str, data_hash: bytes, signed_data: bytes | None) -> Check:
    if len(data_hash) != SM3_SIZE:
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"dataHash has {len(data_hash)} bytes; an SM3 digest has {SM3_SIZE}",
        )
    if signed_data is None:
        return failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.SIGNED_DATA_NOT_FOUND,
            f"no signed data given (--data): dataHash {data_hash.hex()} not compared",
            Result.SKIPPED,
        )
    computed = digest("sm3", signed_data)
    if not hmac.compare_digest(computed, data_hash):
        return failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
            f"SM3 of the {len(signed_data)} bytes of signed data is {computed.hex()}, the signature's "
            f"dataHash is {data_hash.hex()}",
        )
    return passed(name, f"SM3 of the {len(signed_data)} bytes of signed data matches dataHash {data_hash.hex()}")


def verify_ses_signature(sig_der: bytes, ctx: VerificationContext, *, signed_data: bytes | None = None) -> Report:
    """Verify a GB/T 38540 ``SES_Signature`` offline (module docstring); ``signed_data`` is the protected data."""
    record = parse_input(parse_signature, sig_der, "SES_Signature")
    tbs_der = record.tbs_der
    seal = parse_input(ses.parse_seal, record.seal_der, "SESeal inside TBS_Sign")
    time_info = aware(record.time_info)
    checks: list[Check] = []
    # 1. format: the version of TBS_Sign is the seal's; the encoding of the optional [0] fields; no critical
    #    extension this verifier does not know.
    critical = critical_extension_problem(record.extensions)
    zoneless = zoneless_problem(record.time_info)
    if zoneless:
        checks.append(failed("format", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, zoneless))
    elif record.version != seal.version or seal.version not in (4, 5):
        checks.append(
            failed(
                "format",
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"TBS_Sign version {record.version} does not match the seal header version "
                f"{seal.version} (a GB/T 38540 signature carries a version 4 or 5 seal)",
            )
        )
    elif critical:
        checks.append(failed("format", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, critical))
    else:
        checks.append(
            passed(
                "format",
                f"SES_Signature version {record.version}, optional [0] fields "
                f"{record.tagging}, propertyInfo {record.property_info!r}",
            )
        )
    # 2. the claimed signing time is not in the future.
    if time_info > ctx.validation_time + CLOCK_SKEW:
        checks.append(
            failed(
                "signing-time",
                Indication.TOTAL_FAILED,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"timeInfo {time_info.isoformat()} lies after the validation time {ctx.validation_time.isoformat()}",
            )
        )
    else:
        checks.append(passed("signing-time", f"timeInfo {time_info.isoformat()}"))
    timing = len(checks) - 1
    # 3. the signature over DER(TBS_Sign) with the signer certificate.
    try:
        signer: x509.Certificate | None = load_cert(record.signer_cert, ctx.memo)
    except TrustError as exc:
        signer = None
        checks.append(
            failed(
                "signature",
                Indication.INDETERMINATE,
                SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                f"the signer certificate is unreadable: {exc.message}",
            )
        )
    if signer is not None:
        checks.append(
            check_signature(
                "signature", "signer", signer, record.signature_alg_oid, record.signature, tbs_der, "DER(TBS_Sign)"
            )
        )
    # 4. the signer certificate is a permitted signer of the seal.
    checks.append(_signer_listed("signer-listed", seal, record.signer_cert))
    # The time-stamp is checked now (it is the proof of existence of the signature, and of the seal in it, for
    # revocation) and reported last.
    stamp_check: Check = skipped("time-stamp", "no time-stamp")
    stamp = None
    if record.time_stamp is not None:
        stamp_check, stamp = time_stamp_check(
            "time-stamp", record.time_stamp, record.signature, ctx, "the signature value"
        )
        if stamp is not None and time_info > stamp.gen_time + CLOCK_SKEW:
            stamp_check = failed(
                "time-stamp",
                Indication.TOTAL_FAILED,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"timeInfo {time_info.isoformat()} is later than the time-stamp's genTime "
                f"{stamp.gen_time.isoformat()}: the claimed signing time is false",
            )
            stamp = None
    proof = (
        Proof(stamp.gen_time, "the time-stamp's genTime")
        if stamp is not None
        else Proof(
            ctx.validation_time,
            "the validation time (no time-stamp)"
            if record.time_stamp is None
            else "the validation time (no valid time-stamp)",
        )
    )
    if checks[timing].result is Result.PASSED:  # say whether the time is proven or only claimed
        checks[timing] = passed(
            "signing-time",
            f"timeInfo {time_info.isoformat()}, "
            + (
                f"claimed; the time-stamp proves the signature existed at its genTime {stamp.gen_time.isoformat()}"
                if stamp is not None
                else "claimed, not proven (no valid time-stamp): the signer certificate and the seal must also "
                "stand at the validation time"
            ),
        )
    # 5. the seal: maker signature, maker chain at createDate, maker service, window at timeInfo, certList, picture.
    seal_steps, _maker_chain = run_seal_steps(seal, ctx, time_info, "seal.", proof)
    checks.extend(seal_steps)
    # 6. the signer certificate at timeInfo, not revoked before the proof of existence.
    chain: tuple[ChainLink, ...] = ()
    if signer is not None:
        signer_check, chain = certificate_at(
            "signer-certificate",
            signer,
            ctx,
            time_info,
            proof,
            who="signer",
            claim="timeInfo",
            expiry_needs_proof=True,  # timeInfo is the signer's claim: an expiry needs a proof of existence before it
            purpose=signer_purpose(ctx.purpose, own="seal", sealed=True),  # --purpose any waives it
        )
        checks.append(signer_check)
    else:
        checks.append(skipped("signer-certificate", "no readable signer certificate"))
    # 7. dataHash against the signed data.
    checks.append(_data_hash("data-hash", record.data_hash, signed_data))
    # 8. the time-stamp over the signature value.
    checks.append(stamp_check)
    subject = f"{subject_of(signer) if signer is not None else '(unreadable signer)'} — {seal.name} ({seal.es_id})"
    details: list[tuple[str, object]] = [
        ("time_info", time_info.isoformat()),
        ("property_info", record.property_info),
        ("data_hash", record.data_hash.hex()),
        ("encoding", record.tagging),
        *[(k, v) for k, v in seal_details(seal, time_info) if k != "judged_at"],
    ]
    if stamp is not None:
        details.append(("time_stamp", stamp.gen_time.isoformat()))
    report = ReportBuilder("ses-signature", ctx.validation_time, subject)
    report.chain = chain
    report.checks.extend(checks)
    report.details.update(details)
    return report.build(warnings=ctx.warnings)
