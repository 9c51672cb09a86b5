"""Offline verification of GB/T 38540-2020 seals (SESeal version 4, GM/T 0031-2025 version 5, GM/T 0031-2014
version 1) and GB/T 38540 signatures (``SES_Signature``), with ETSI EN 319 102-1 reports.

Stable API (``verifier.api`` and ``verifier.pdf`` rely on it):

* :func:`verify_seal` ``(seal_der, ctx, *, at=None, proof=None) -> Report`` — kind ``seal``; ``at`` is the time
  the seal's validity window is judged at (default: the context's validation time; a sealed PDF passes its signing
  time); ``proof`` (a :class:`Proof`) is the earliest proof that the seal existed, if the caller has one (the
  time-stamp of the PDF signature that carries it). :func:`verify_parsed_seal` is the same for a seal the caller
  has already parsed with :func:`trust.formats.ses.parse_seal`.
* :func:`seal_checks` ``(seal, ctx, at, *, prefix="", proof=None) -> list[Check]`` — the checks of a parsed seal
  (:func:`trust.formats.ses.parse_seal`) in order; every check that is not passed is a :class:`Finding` carrying its
  indication and sub-indication. :func:`verdict` turns such a list into the bottom line.
* :func:`verify_ses_signature` ``(sig_der, ctx, *, signed_data=None) -> Report`` — kind ``ses-signature``;
  :func:`parse_signature` reads one in either encoding of its optional ``[0]`` fields.

Unreadable input (garbage, truncated, oversized, not a seal/signature at all) raises
:class:`~trust.crypto.errors.InputError` (the CLI's exit 3); everything that parses becomes a report. Signatures are
checked over the bytes as received, sliced from the input (never over a re-encoding). This module imports only
the crypto layer, pure format modules (``trust.formats.x509``, ``trust.formats.tsp``, ``trust.formats.ses``) and the
verifier; it never imports the signing code (:mod:`seal.signature`).

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
6. ``validity`` — ``validStart ≤ at ≤ validEnd`` (else EXPIRED / NOT_YET_VALID).
7. ``cert-list`` — every certificate parses (certListType 1; version 1), or every digest has the declared
   algorithm's length (certListType 2).
8. ``picture`` — present, with a positive size in millimetres, and decodable as its declared type (PNG chunk
   structure and CRCs, JPEG markers, GIF and BMP headers, SVG root element); an unknown type is a warning.

SES_Signature checks (:func:`verify_ses_signature`), in the order of deployed verifiers (README "Electronic seals"):
``format`` (TBS_Sign version = seal version), ``signing-time`` (timeInfo not in the future), ``signature`` (over
``DER(TBS_Sign)`` with the signer certificate), ``signer-listed`` (the signer certificate, or its digest, is in the
seal's certList), the seal checks prefixed ``seal.`` with the window judged at timeInfo, ``signer-certificate``
(chain at timeInfo, purpose ``seal``), ``data-hash`` (SM3 of the signed data; without data INDETERMINATE /
SIGNED_DATA_NOT_FOUND) and ``time-stamp`` (over the signature value; its TSA chain and trust-list TSA service).

Signing time (decision): ``timeInfo`` is the signer's claim and the time everything is judged at, as GB/T 38540
says (the seal's window, the signer certificate's chain); the maker is judged at the seal's ``createDate``, the
maker's claim. A claim is not a proof, so revocation is also judged at the earliest proof of existence — genTime of
a valid time-stamp (the signature's; for a seal its own version-5 time-stamp, else the one of the signature that
carries it, else the caller's ``proof``), otherwise the validation time: a certificate revoked before the claimed
time is TOTAL_FAILED / REVOKED; revoked after the claim but before the proof, INDETERMINATE / REVOKED_NO_POE (ETSI
EN 319 102-1 clause 5.2.6); revoked after the proof, still valid. A claimed time later than the genTime that covers
it (beyond :data:`CLOCK_SKEW`) is false (TOTAL_FAILED / SIG_CONSTRAINTS_FAILURE), and so is a timeInfo after the
validation time. Trust-list standing is judged at the claimed time, as for certificates (``docs/VERIFIER.md``,
"Withdrawal").
"""

from __future__ import annotations

import hmac
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from asn1crypto import algos, core, x509

from trust.crypto.algorithms import KeyFamily, SignatureAlgorithm, digest
from trust.crypto.errors import (
    EncodingError,
    InputError,
    InvalidKey,
    InvalidSignature,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.crypto.keys import PublicKey
from trust.formats import ses
from trust.formats import tsp as tsa
from trust.formats import x509 as cx
from trust.formats.names import name_text
from verifier.certificate import may_be_revoked, verify_certificate
from verifier.context import Memo, VerificationContext
from verifier.report import ChainLink, Check, Indication, Report, Result, SubIndication

CLOCK_SKEW: Final = timedelta(minutes=10)
"""Tolerance between the signer's clock (timeInfo, createDate) and a TSA's genTime or the validation time."""
RSA_MIN_BITS: Final = 2048
MAX_TOKEN_CERTS: Final = 10
SM3_SIZE: Final = 32
CERT_DIGESTS: Final = {
    "sm3": "sm3",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "1.2.156.10197.1.401": "sm3",
}
PICTURE_TYPES: Final = ("PNG", "JPG", "GIF", "BMP", "SVG")

T = TypeVar("T")
_MALFORMED: Final = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)
"""What asn1crypto raises on hostile input, besides the project's own errors."""


@dataclass(frozen=True)
class Finding(Check):
    """A check that did not pass, with what it means for the bottom line (``None``: informative only)."""

    indication: Indication | None = None
    sub_indication: SubIndication | None = None


def _passed(name: str, detail: str) -> Check:
    return Check(name, Result.PASSED, detail)


def _failed(
    name: str, indication: Indication, sub: SubIndication, detail: str, result: Result = Result.FAILED
) -> Finding:
    return Finding(name, result, detail, indication, sub)


def _skipped(name: str, detail: str) -> Check:
    return Check(name, Result.SKIPPED, detail)


def _warning(name: str, detail: str) -> Finding:
    return Finding(name, Result.WARNING, detail)


def verdict(checks: Sequence[Check]) -> tuple[Indication, SubIndication | None, tuple[str, ...]]:
    """The bottom line of ``checks``: the first TOTAL_FAILED finding, else the first INDETERMINATE one, else
    TOTAL_PASSED (ETSI EN 319 102-1: a definite failure outweighs an undecided check); and every reason."""
    findings = [
        c
        for c in checks
        if isinstance(c, Finding) and c.indication is not None and c.indication is not Indication.TOTAL_PASSED
    ]
    reasons = tuple(f"{c.name}: {c.detail}" for c in findings)
    for wanted in (Indication.TOTAL_FAILED, Indication.INDETERMINATE):
        for check in findings:
            if check.indication is wanted:
                return wanted, check.sub_indication, reasons
    return Indication.TOTAL_PASSED, None, ()


# --- DER slicing (what was signed, as received) ----------------------------------------------------------------


def maker_signed_bytes(seal: ses.Seal) -> bytes:
    """What the seal maker signed, sliced from the seal as received (README "Electronic seals")."""
    return ses.maker_signed_bytes(seal.der, seal.version)


def _parse(parser: Callable[[bytes], T], data: bytes, what: str) -> T:
    if not isinstance(data, bytes | bytearray):
        raise InputError(f"a {what} is given as bytes")
    try:
        return parser(bytes(data))
    except TrustError:
        raise
    except _MALFORMED as exc:
        raise EncodingError(f"malformed {what}: {type(exc).__name__}") from None


def _bit_value(value: core.BitString) -> bytes:
    contents = bytes(value.contents)
    if not contents or contents[0] != 0:
        raise EncodingError("a BIT STRING holding a signature, hash or token must have zero unused bits")
    return contents[1:]


def _extensions(value: object) -> tuple[tuple[str, bool, bytes], ...]:
    if not isinstance(value, ses.ExtensionDatas):
        return ()
    return tuple((e["extn_id"].dotted, bool(e["critical"].native), bytes(e["extn_value"].native)) for e in value)


@dataclass(frozen=True)
class ParsedSignature:
    """A ``SES_Signature`` as received: its fields, and the exact bytes of ``TBS_Sign`` and of the seal in it."""

    version: int
    time_info: datetime
    data_hash: bytes
    property_info: str
    extensions: tuple[tuple[str, bool, bytes], ...]
    signer_cert: bytes
    signature_alg_oid: str
    signature: bytes
    time_stamp: bytes | None
    tagging: str  # "explicit" or "untagged"
    tbs_der: bytes
    seal_der: bytes


def parse_signature(data: bytes) -> ParsedSignature:
    """A ``SES_Signature`` as received (:func:`trust.formats.ses.parse_signature`: both encodings of the optional
    fields)."""
    record = ses.parse_signature(data)
    return ParsedSignature(
        version=record.version,
        time_info=record.time_info,
        data_hash=record.data_hash,
        property_info=record.property_info,
        extensions=record.extensions,
        signer_cert=record.signer_cert,
        signature_alg_oid=record.signature_alg_oid,
        signature=record.signature,
        time_stamp=record.time_stamp,
        tagging=record.tagging,
        tbs_der=record.signed_bytes,
        seal_der=ses.der_children(record.signed_bytes)[1],
    )


# --- signatures -----------------------------------------------------------------------------------------------


def _algorithm(oid: str) -> SignatureAlgorithm:
    """The algorithm a bare signature OID names (SESeal signAlgID, SES_Signature signatureAlgID)."""
    try:
        identifier = algos.SignedDigestAlgorithm({"algorithm": oid})
    except (ValueError, TypeError) as exc:
        raise UnsupportedAlgorithm(f"signature algorithm {oid} is not supported: {exc}") from None
    return SignatureAlgorithm.from_x509(identifier)


def _load_cert(der: bytes, memo: Memo | None = None) -> x509.Certificate:
    """A DER certificate inside a seal or signature, parsed strictly (once per context when ``memo`` is given)."""
    if der.lstrip()[:5] == b"-----":
        raise EncodingError("a certificate inside a seal or signature is DER, not PEM")
    return memo.certificate(der, _strict_certificate) if memo is not None else _strict_certificate(der)


def _strict_certificate(der: bytes) -> x509.Certificate:
    try:
        return cx.load_certificate(der)
    except (
        _MALFORMED
    ) as exc:  # what trust.formats.x509 does not catch itself (asn1crypto raises AttributeError on some input)
        raise EncodingError(f"not a DER X.509 certificate: {type(exc).__name__}") from None


def _subject(cert: x509.Certificate) -> str:
    try:
        return name_text(cert.subject) or cert.subject.human_friendly
    except _MALFORMED:
        return "(unreadable subject)"


def _check_signature(
    name: str, who: str, cert: x509.Certificate, oid: str, value: bytes, data: bytes, what: str
) -> Check:
    try:
        algorithm = _algorithm(oid)
    except UnsupportedAlgorithm as exc:
        return _failed(name, Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, exc.message)
    try:
        key: PublicKey = cx.public_key(cert)
    except (TrustError, *_MALFORMED) as exc:
        message = exc.message if isinstance(exc, TrustError) else type(exc).__name__
        return _failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"the {who} certificate's public key is not usable: {message}",
        )
    if key.family is KeyFamily.RSA and key.size < RSA_MIN_BITS:
        return _failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"the {who}'s RSA key has {key.size} bits; at least {RSA_MIN_BITS} are required",
        )
    try:
        key.verify(value, data, algorithm)
    except InvalidKey as exc:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"{algorithm.name} does not fit the {who}'s key: {exc.message}",
        )
    except InvalidSignature as exc:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            f"the {who}'s {algorithm.name} signature over {what} does not verify ({exc.message})",
        )
    return _passed(name, f"{algorithm.name} signature over {what} verifies with the {who} certificate {_subject(cert)}")


def _certificate_finding(name: str, report: Report, who: str, moment: datetime) -> Check:
    if report.passed:
        return _passed(
            name,
            f"{who} certificate valid at {moment.isoformat()}: "
            f"{len(report.chain)} certificates to {report.chain[-1].subject if report.chain else '-'}",
        )
    assert report.indication is not Indication.TOTAL_PASSED
    reason = "; ".join(report.errors) or (report.sub_indication.value if report.sub_indication else "")
    return _failed(
        name,
        report.indication,
        report.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
        f"{who} certificate at {moment.isoformat()}: {reason}",
    )


def _certificate_report(
    cert: x509.Certificate,
    ctx: VerificationContext,
    moment: datetime,
    purpose: str,
    kind: str,
    extra: Sequence[x509.Certificate] = (),
) -> Report:
    at_time = replace(ctx, validation_time=moment, intermediates=_merge(ctx.intermediates, extra, ctx.memo))
    try:
        return verify_certificate(cert, at_time, purpose=purpose, kind=kind)
    except (TrustError, *_MALFORMED) as exc:
        message = exc.message if isinstance(exc, TrustError) else f"{type(exc).__name__}: {exc}"
        return Report(
            kind,
            Indication.INDETERMINATE,
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            moment,
            _subject(cert),
            errors=(message,),
        )


def _merge(
    base: tuple[x509.Certificate, ...], extra: Sequence[x509.Certificate], memo: Memo
) -> tuple[x509.Certificate, ...]:
    if not extra:
        return base
    seen = {memo.fingerprint(c) for c in base}
    added = []
    for cert in list(extra)[:MAX_TOKEN_CERTS]:
        fingerprint = memo.fingerprint(cert)
        if fingerprint not in seen:
            seen.add(fingerprint)
            added.append(cert)
    return (*base, *added)


# --- time-stamps ----------------------------------------------------------------------------------------------


def _time_stamp(
    name: str, token: bytes, message: bytes, ctx: VerificationContext, what: str
) -> tuple[Check, tsa.VerifiedTimeStamp | None]:
    """An RFC 3161 token over ``message``: CMS signature, imprint, TSA certificate; then its chain and trust-list
    TSA service at genTime. Returns the check and, when everything holds, the verified time-stamp."""
    listed = (
        [_service_cert(service.certificate, ctx.memo) for _issuer, service in ctx.trust_list.services("TSA")]
        if ctx.trust_list is not None
        else []
    )
    candidates = tuple(cert for cert in listed if cert is not None)
    try:
        stamp = tsa.verify_token(token, message=message, certificates=candidates)
    except InvalidSignature as exc:
        sub = SubIndication.HASH_FAILURE if "imprint" in exc.evidence else SubIndication.SIG_CRYPTO_FAILURE
        return _failed(name, Indication.TOTAL_FAILED, sub, f"time-stamp over {what}: {exc.message}"), None
    except UnsupportedAlgorithm as exc:
        return _failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"time-stamp over {what}: {exc.message}",
        ), None
    except TrustError as exc:
        return _failed(
            name, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"time-stamp over {what}: {exc.message}"
        ), None
    except _MALFORMED as exc:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"time-stamp over {what}: malformed token ({type(exc).__name__})",
        ), None
    report = _certificate_report(stamp.tsa_certificate, ctx, stamp.gen_time, "timestamping", "tsa", stamp.certificates)
    if not report.passed:
        check = _certificate_finding(name, report, "TSA", stamp.gen_time)
        return check, None
    return _passed(
        name,
        f"RFC 3161 time-stamp at {stamp.gen_time.isoformat()} by {_subject(stamp.tsa_certificate)}"
        f" ({stamp.hash_algorithm} imprint of {what}); TSA chain and TSA service valid then",
    ), stamp


def _service_cert(der: bytes, memo: Memo) -> x509.Certificate | None:
    try:
        return memo.certificate(der)
    except (TrustError, *_MALFORMED):
        return None


# --- pictures -------------------------------------------------------------------------------------------------


def _picture_problem(kind: str, data: bytes) -> str | None:
    """Why ``data`` is not a decodable picture of ``kind`` (``None``: it is)."""
    if kind == "PNG":
        return _png_problem(data)
    if kind in ("JPG", "JPEG"):
        if not data.startswith(b"\xff\xd8\xff"):
            return "no JPEG start-of-image marker"
        if b"\xff\xd9" not in data[-64:]:
            return "no JPEG end-of-image marker"
        return None
    if kind == "GIF":
        if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 14:
            return "no GIF87a/GIF89a header"
        width, height = struct.unpack("<HH", data[6:10])
        if not width or not height:
            return "GIF of zero size"
        return None if data.rstrip(b"\x00").endswith(b"\x3b") else "no GIF trailer"
    if kind == "BMP":
        if data[:2] != b"BM" or len(data) < 26:
            return "no BMP header"
        (size,) = struct.unpack("<I", data[2:6])
        width, height = struct.unpack("<ii", data[18:26])
        if size > len(data) or not width or not height:
            return "BMP header does not fit the data"
        return None
    if kind == "SVG":
        head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"<") or b"<svg" not in head:
            return "no <svg> root element"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "SVG is not UTF-8 text"
        return None
    return None


def _png_problem(data: bytes) -> str | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "no PNG signature"
    pos, names = 8, list[bytes]()
    while pos < len(data):
        if pos + 12 > len(data):
            return "truncated PNG chunk"
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return f"truncated PNG chunk {kind!r}"
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(kind + body) != crc:
            return f"PNG chunk {kind.decode('latin-1')} has a bad CRC"
        if not names and (kind != b"IHDR" or length != 13 or 0 in struct.unpack(">II", body[:8])):
            return "the first PNG chunk is not a valid IHDR"
        names.append(kind)
        pos = end
        if kind == b"IEND":
            break
    if b"IDAT" not in names:
        return "PNG without image data"
    if names[-1] != b"IEND":
        return "PNG without IEND"
    return None


# --- seals ----------------------------------------------------------------------------------------------------


def verify_seal(
    seal_der: bytes, ctx: VerificationContext, *, at: datetime | None = None, proof: Proof | None = None
) -> Report:
    """Verify a SESeal (version 1, 4 or 5) offline; the window is judged at ``at`` (default: validation time).

    ``proof`` is the earliest proof that the seal existed, when the caller has one (the time-stamp of the signature
    that carries it); without it, and without a version-5 time-stamp, it is the validation time."""
    return verify_parsed_seal(_parse(ses.parse_seal, seal_der, "SESeal"), ctx, at=at, proof=proof)


def verify_parsed_seal(
    seal: ses.Seal, ctx: VerificationContext, *, at: datetime | None = None, proof: Proof | None = None
) -> Report:
    """:func:`verify_seal` of a seal already parsed by :func:`trust.formats.ses.parse_seal` (as a sealed PDF's is)."""
    moment = at or ctx.validation_time
    checks, chain = _seal_steps(seal, ctx, moment, "", proof)
    seal = replace(
        seal,
        create_date=_aware(seal.create_date),
        valid_start=_aware(seal.valid_start),
        valid_end=_aware(seal.valid_end),
    )
    indication, sub, errors = verdict(checks)
    return Report(
        "seal",
        indication,
        sub,
        ctx.validation_time,
        f"{seal.name} ({seal.es_id})",
        chain,
        tuple(checks),
        tuple(ctx.warnings),
        errors,
        _seal_details(seal, moment),
    )


def seal_checks(
    seal: ses.Seal, ctx: VerificationContext, at: datetime, *, prefix: str = "", proof: Proof | None = None
) -> list[Check]:
    """The checks of a parsed seal, in order (module docstring); ``prefix`` is put before every check name;
    ``proof`` as for :func:`verify_seal`."""
    return _seal_steps(seal, ctx, at, prefix, proof)[0]


def _seal_details(seal: ses.Seal, at: datetime) -> tuple[tuple[str, object], ...]:
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


def _seal_steps(
    seal: ses.Seal, ctx: VerificationContext, at: datetime, prefix: str, proof: Proof | None = None
) -> tuple[list[Check], tuple[ChainLink, ...]]:
    def n(name: str) -> str:
        return prefix + name

    checks: list[Check] = []
    chain: tuple[ChainLink, ...] = ()
    standard = {1: "GM/T 0031-2014", 4: "GB/T 38540-2020", 5: "GM/T 0031-2025"}.get(seal.version)
    zoneless = _zoneless(seal.create_date, seal.valid_start, seal.valid_end)
    seal = replace(
        seal,
        create_date=_aware(seal.create_date),
        valid_start=_aware(seal.valid_start),
        valid_end=_aware(seal.valid_end),
    )
    # 1. format
    if zoneless:
        checks.append(_failed(n("format"), Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, zoneless))
    elif standard is None:
        checks.append(
            _failed(
                n("format"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"SESeal version {seal.version} is not 1, 4 or 5",
            )
        )
    elif not seal.es_id or seal.valid_end <= seal.valid_start:
        checks.append(
            _failed(
                n("format"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "the seal needs an esID and validStart before validEnd",
            )
        )
    elif len(ses.der_children(seal.der)) != (2 if seal.version == 1 else 4 + (seal.time_stamp is not None)):
        checks.append(
            _failed(
                n("format"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "the SESeal has an element this verifier does not know (a timeStamp must be [0])",
            )
        )
    elif _critical(seal.extensions):
        checks.append(
            _failed(
                n("format"), Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, _critical(seal.extensions)
            )
        )
    else:
        checks.append(
            _passed(
                n("format"),
                f"SESeal version {seal.version} ({standard}), esID {seal.es_id}, vendor {seal.vendor!r}, {seal.name!r}",
            )
        )
    # The version-5 time-stamp is checked first (it is the seal's proof of existence) and reported as step 5.
    stamp_check: Check | None = None
    stamp = None
    if seal.time_stamp is not None:
        stamp_check, stamp = _time_stamp(
            n("time-stamp"), seal.time_stamp, seal.signed_value, ctx, "the maker's signature value"
        )
        if stamp is not None and seal.create_date > stamp.gen_time + CLOCK_SKEW:
            stamp_check = _failed(
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
        maker = _load_cert(seal.maker_cert, ctx.memo)
    except TrustError as exc:
        maker = None
        checks.append(
            _failed(
                n("maker-signature"),
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"the maker certificate is unreadable: {exc.message}",
            )
        )
    if maker is not None:
        what = "DER(SEQUENCE {sealInfo, cert, signatureAlgorithm})" if seal.version == 1 else "DER(SES_SealInfo)"
        checks.append(
            _check_signature(
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
        maker_check, chain = _certificate_at(
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
        checks.append(_skipped(n("maker-certificate"), "no readable maker certificate"))
        checks.append(_skipped(n("maker-service"), "no readable maker certificate"))
    # 5. the maker's time-stamp (version 5)
    if stamp_check is not None:
        checks.append(stamp_check)
    # 6. validity window
    checks.append(_window(n("validity"), seal, at))
    # 7. certList
    checks.append(_cert_list(n("cert-list"), seal, ctx.memo))
    # 8. picture
    checks.append(_picture(n("picture"), seal.picture))
    return checks, chain


def _zoneless(*moments: datetime) -> str:
    """Why times without a time zone are refused ("" if all have one): DER GeneralizedTime and UTCTime end in Z."""
    if any(m.tzinfo is None for m in moments):
        return "a time without a time zone (DER times end in Z); read as UTC only to finish the other checks"
    return ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _critical(extensions: Sequence[tuple[str, bool, bytes]]) -> str:
    """Why the critical extension data cannot be honoured ("" if there is none: no extension is known here)."""
    unknown = [oid for oid, is_critical, _value in extensions if is_critical]
    return f"critical extension data this verifier does not know: {', '.join(unknown)}" if unknown else ""


def _maker_service(name: str, seal: ses.Seal, ctx: VerificationContext) -> Check:
    if ctx.trust_list is None:
        return _skipped(name, "no trust list (no bundle): the maker's authorisation is not checked")
    standing = ctx.trust_list.standing(seal.maker_cert, seal.create_date, "SEAL_MAKER")
    if standing.usable:
        return _passed(name, f"authorised seal maker at createDate: {standing.reason}")
    return _failed(
        name,
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        f"the maker is not a SEAL_MAKER in good standing in trust list {ctx.trust_list.sequence} at "
        f"createDate {seal.create_date.isoformat()}: {standing.reason}",
    )


def _window(name: str, seal: ses.Seal, at: datetime) -> Check:
    span = f"valid {seal.valid_start.isoformat()} to {seal.valid_end.isoformat()}"
    if at < seal.valid_start:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.NOT_YET_VALID,
            f"seal not yet valid at {at.isoformat()} ({span})",
        )
    if at > seal.valid_end:
        return _failed(
            name, Indication.TOTAL_FAILED, SubIndication.EXPIRED, f"seal expired at {at.isoformat()} ({span})"
        )
    return _passed(name, f"{span}; judged at {at.isoformat()}")


def _digest_types(seal: ses.Seal) -> list[str]:
    """The declared digest algorithm of every certDigestList entry (certListType 2)."""
    parsed = ses.SESeal.load(seal.der)
    return [str(item.chosen["type"].native) for item in parsed["e_seal_info"]["property"]["cert_list"]]


def _cert_list(name: str, seal: ses.Seal, memo: Memo) -> Check:
    if not seal.cert_list:
        return _failed(name, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "certList is empty")
    if seal.cert_list_type == 1:
        subjects = []
        for index, der in enumerate(seal.cert_list):
            try:
                subjects.append(_subject(_load_cert(der, memo)))
            except TrustError as exc:
                return _failed(
                    name,
                    Indication.TOTAL_FAILED,
                    SubIndication.FORMAT_FAILURE,
                    f"certList entry {index} is not a certificate: {exc.message}",
                )
        return _passed(name, f"{len(subjects)} signer certificate(s): {'; '.join(subjects)}")
    if seal.cert_list_type != 2:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"certListType {seal.cert_list_type} is neither 1 (certificates) nor 2 (digests)",
        )
    for index, (kind, value) in enumerate(zip(_digest_types(seal), seal.cert_list, strict=True)):
        algorithm = CERT_DIGESTS.get(kind.lower().replace("-", ""))
        if algorithm is None:
            return _failed(
                name,
                Indication.INDETERMINATE,
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                f"certList entry {index}: digest algorithm {kind!r} is not accepted (SM3, SHA-2)",
            )
        if len(value) != len(digest(algorithm, b"")):
            return _failed(
                name,
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"certList entry {index}: a {kind} digest has {len(digest(algorithm, b''))} bytes, "
                f"this one {len(value)}",
            )
    return _passed(name, f"{len(seal.cert_list)} signer certificate digest(s)")


def _picture(name: str, picture: ses.Picture) -> Check:
    kind = picture.type.strip().upper()
    if not picture.data:
        return _failed(name, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "the seal has no picture data")
    if picture.width_mm <= 0 or picture.height_mm <= 0:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"picture size {picture.width_mm}×{picture.height_mm} mm is not positive",
        )
    if kind not in (*PICTURE_TYPES, "JPEG"):
        return _warning(
            name,
            f"picture type {picture.type!r} is not one this verifier decodes "
            f"({', '.join(PICTURE_TYPES)}); {len(picture.data)} bytes not checked",
        )
    problem = _picture_problem(kind, picture.data)
    if problem is not None:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"picture declared {picture.type} is not decodable: {problem}",
        )
    return _passed(name, f"{kind} picture of {len(picture.data)} bytes, {picture.width_mm}×{picture.height_mm} mm")


# --- SES_Signature --------------------------------------------------------------------------------------------


def _signer_listed(name: str, seal: ses.Seal, cert_der: bytes) -> Check:
    if seal.cert_list_type == 1:
        if any(hmac.compare_digest(item, cert_der) for item in seal.cert_list):
            return _passed(name, f"the signer certificate is listed in seal {seal.es_id}")
    elif seal.cert_list_type == 2:
        for kind, value in zip(_digest_types(seal), seal.cert_list, strict=True):
            algorithm = CERT_DIGESTS.get(kind.lower().replace("-", ""))
            if algorithm is not None and hmac.compare_digest(value, digest(algorithm, cert_der)):
                return _passed(name, f"the signer certificate's {kind} digest is listed in seal {seal.es_id}")
    return _failed(
        name,
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        f"the signer certificate is not a permitted signer of seal {seal.es_id} (not in its certList)",
    )


@dataclass(frozen=True)
class Proof:
    """The earliest proof that a signature (or seal) existed: a time-stamp's genTime, else the validation time."""

    time: datetime
    what: str


def _certificate_at(
    name: str,
    cert: x509.Certificate,
    ctx: VerificationContext,
    claimed: datetime,
    proof: Proof,
    *,
    who: str,
    claim: str,
    purpose: str,
) -> tuple[Check, tuple[ChainLink, ...]]:
    """A certificate valid at the ``claimed`` time (timeInfo, createDate), and not revoked before the proof of
    existence: revoked before the claim fails (REVOKED); revoked after the claim but before the proof is
    INDETERMINATE / REVOKED_NO_POE (ETSI EN 319 102-1 clause 5.2.6); revoked after the proof passes."""
    report = _certificate_report(cert, ctx, claimed, purpose, who)
    if not report.passed:
        return _certificate_finding(name, report, who, claimed), report.chain
    if proof.time > claimed and may_be_revoked(cert, ctx):  # only a REVOKED verdict at the proof time matters
        later = _certificate_report(cert, ctx, proof.time, purpose, who)
        if later.sub_indication is SubIndication.REVOKED:
            return _failed(
                name,
                Indication.INDETERMINATE,
                SubIndication.REVOKED_NO_POE,
                f"the {who} certificate was revoked after {claim} {claimed.isoformat()} but before {proof.what} "
                f"{proof.time.isoformat()}, and nothing proves existence before the revocation: "
                f"{'; '.join(later.errors)}",
            ), report.chain
    detail = (
        f"{who} certificate valid at {claim} {claimed.isoformat()}: {len(report.chain)} certificates to "
        f"{report.chain[-1].subject if report.chain else '-'}; not revoked up to {proof.what} {proof.time.isoformat()}"
    )
    return _passed(name, detail), report.chain


def _data_hash(name: str, data_hash: bytes, signed_data: bytes | None) -> Check:
    if len(data_hash) != SM3_SIZE:
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"dataHash has {len(data_hash)} bytes; an SM3 digest has {SM3_SIZE}",
        )
    if signed_data is None:
        return _failed(
            name,
            Indication.INDETERMINATE,
            SubIndication.SIGNED_DATA_NOT_FOUND,
            f"no signed data given (--data): dataHash {data_hash.hex()} not compared",
            Result.SKIPPED,
        )
    computed = digest("sm3", signed_data)
    if not hmac.compare_digest(computed, data_hash):
        return _failed(
            name,
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
            f"SM3 of the {len(signed_data)} bytes of signed data is {computed.hex()}, the signature's "
            f"dataHash is {data_hash.hex()}",
        )
    return _passed(name, f"SM3 of the {len(signed_data)} bytes of signed data matches dataHash {data_hash.hex()}")


def verify_ses_signature(sig_der: bytes, ctx: VerificationContext, *, signed_data: bytes | None = None) -> Report:
    """Verify a GB/T 38540 ``SES_Signature`` offline (module docstring); ``signed_data`` is the protected data."""
    record = _parse(parse_signature, sig_der, "SES_Signature")
    tbs_der = record.tbs_der
    seal = _parse(ses.parse_seal, record.seal_der, "SESeal inside TBS_Sign")
    time_info = _aware(record.time_info)
    checks: list[Check] = []
    # 1. format: the version of TBS_Sign is the seal's; the encoding of the optional [0] fields; no critical
    #    extension this verifier does not know.
    critical = _critical(record.extensions)
    zoneless = _zoneless(record.time_info)
    if zoneless:
        checks.append(_failed("format", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, zoneless))
    elif record.version != seal.version or seal.version not in (4, 5):
        checks.append(
            _failed(
                "format",
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                f"TBS_Sign version {record.version} does not match the seal header version "
                f"{seal.version} (a GB/T 38540 signature carries a version 4 or 5 seal)",
            )
        )
    elif critical:
        checks.append(_failed("format", Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE, critical))
    else:
        checks.append(
            _passed(
                "format",
                f"SES_Signature version {record.version}, optional [0] fields "
                f"{record.tagging}, propertyInfo {record.property_info!r}",
            )
        )
    # 2. the claimed signing time is not in the future.
    if time_info > ctx.validation_time + CLOCK_SKEW:
        checks.append(
            _failed(
                "signing-time",
                Indication.TOTAL_FAILED,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"timeInfo {time_info.isoformat()} lies after the validation time {ctx.validation_time.isoformat()}",
            )
        )
    else:
        checks.append(_passed("signing-time", f"timeInfo {time_info.isoformat()}"))
    # 3. the signature over DER(TBS_Sign) with the signer certificate.
    try:
        signer: x509.Certificate | None = _load_cert(record.signer_cert, ctx.memo)
    except TrustError as exc:
        signer = None
        checks.append(
            _failed(
                "signature",
                Indication.INDETERMINATE,
                SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                f"the signer certificate is unreadable: {exc.message}",
            )
        )
    if signer is not None:
        checks.append(
            _check_signature(
                "signature", "signer", signer, record.signature_alg_oid, record.signature, tbs_der, "DER(TBS_Sign)"
            )
        )
    # 4. the signer certificate is a permitted signer of the seal.
    checks.append(_signer_listed("signer-listed", seal, record.signer_cert))
    # The time-stamp is checked now (it is the proof of existence of the signature, and of the seal in it, for
    # revocation) and reported last.
    stamp_check: Check = _skipped("time-stamp", "no time-stamp")
    stamp = None
    if record.time_stamp is not None:
        stamp_check, stamp = _time_stamp("time-stamp", record.time_stamp, record.signature, ctx, "the signature value")
        if stamp is not None and time_info > stamp.gen_time + CLOCK_SKEW:
            stamp_check = _failed(
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
        else Proof(ctx.validation_time, "the validation time (no time-stamp)")
    )
    # 5. the seal: maker signature, maker chain at createDate, maker service, window at timeInfo, certList, picture.
    seal_steps, _maker_chain = _seal_steps(seal, ctx, time_info, "seal.", proof)
    checks.extend(seal_steps)
    # 6. the signer certificate at timeInfo, not revoked before the proof of existence.
    chain: tuple[ChainLink, ...] = ()
    if signer is not None:
        signer_check, chain = _certificate_at(
            "signer-certificate", signer, ctx, time_info, proof, who="signer", claim="timeInfo", purpose="seal"
        )
        checks.append(signer_check)
    else:
        checks.append(_skipped("signer-certificate", "no readable signer certificate"))
    # 7. dataHash against the signed data.
    checks.append(_data_hash("data-hash", record.data_hash, signed_data))
    # 8. the time-stamp over the signature value.
    checks.append(stamp_check)
    indication, sub, errors = verdict(checks)
    subject = f"{_subject(signer) if signer is not None else '(unreadable signer)'} — {seal.name} ({seal.es_id})"
    details: list[tuple[str, object]] = [
        ("time_info", time_info.isoformat()),
        ("property_info", record.property_info),
        ("data_hash", record.data_hash.hex()),
        ("encoding", record.tagging),
        *[(k, v) for k, v in _seal_details(seal, time_info) if k != "judged_at"],
    ]
    if stamp is not None:
        details.append(("time_stamp", stamp.gen_time.isoformat()))
    return Report(
        "ses-signature",
        indication,
        sub,
        ctx.validation_time,
        subject,
        chain,
        tuple(checks),
        tuple(ctx.warnings),
        errors,
        tuple(details),
    )
