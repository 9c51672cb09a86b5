"""The fuzz targets: every parser that reads outside input, the property each must keep, and the oracle that says
which mutated inputs may still be accepted.

**The property, for every target and every input** (:func:`check`):

1. *Ends cleanly*: the call returns (a parsed object, a verifier :class:`~verifier.report.Report`, an OCSP or
   time-stamp answer, an HTTP response) or raises a :class:`~trust.crypto.errors.TrustError` whose ``code`` is a
   :class:`~trust.crypto.errors.Code` (stable, append-only) with a message. Any other exception is a crash. A report
   must also render (``to_text``, ``to_json``): printing it is part of verifying. An HTTP response is never a 5xx,
   and every 4xx is an RFC 9457 problem with a Huren code.
2. *Bounded*: at most :data:`CPU_SECONDS` of CPU time plus :data:`CPU_SECONDS_PER_MIB` per MiB of input, and
   :data:`MEMORY` bytes of resident memory above what the process held before the call (the approach of
   ``tests/verifier/test_hostile.py``: ``/proc/self/clear_refs`` resets the peak, ``VmHWM`` reads it); a call that
   has not returned after :data:`WALL_SECONDS` is interrupted (``SIGALRM``) and is a hang.
3. *No forgery passes*: where the target verifies a signature, an **accepted** input (a TOTAL_PASSED report, a
   verified signature, an authenticated client) must carry exactly the signed bytes of one of the seeds. Which bytes
   are signed is read from the mutated input by a small independent DER/JSON/text reader here, never by the parser
   under test:

   ============================  ===========================================================================
   target                        signed bytes (a mutant whose signed bytes differ from every seed's must fail)
   ============================  ===========================================================================
   certificate                   the ``tbsCertificate`` TLV, byte for byte
   crl                           the ``tbsCertList`` TLV
   ocsp-response                 the ``tbsResponseData`` TLV inside ``responseBytes``; and a certificate the
                                 bundle's CRL revokes is never TOTAL_PASSED with the mutated response given
   cms, tsp-response             the ``eContent`` and the signer's ``signedAttrs`` TLV
   seal                          ``SES_SealInfo`` (the maker's signed part, GB/T 38540 clause 7.1)
   ses-signature                 ``TBS_Sign`` (the document it signs is fixed)
   csr                           ``certificationRequestInfo``
   jws, qr, client-assertion,    the JWS signing input ``BASE64URL(header) '.' BASE64URL(payload)`` (for a QR
   status-list                   payload: after Base45 and inflating)
   sd-jwt                        the issuer JWS signing input, every disclosure one of the seed's (each at most
                                 once: leaving disclosures out is the holder's right), and a KB-JWT only if it
                                 is the seed's own with the seed's disclosures in the seed's order
   trust-list, bundle            the ``payload`` member of the JWS JSON document
   pdf                           every byte inside every signature's ``/ByteRange`` of the seed, at the same
                                 offset (the only bytes outside are the ``/Contents`` hex strings and nothing
                                 else); or the mutant is a seed cut exactly at the end of one signature's range
                                 (an earlier, itself signed, revision)
   ============================  ===========================================================================

   A mutation that leaves the signed bytes alone — an edit of the signature value's encoding, the unsigned
   certificates of a CMS, the zero padding of ``/Contents``, an unprotected header — may still pass.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import resource
import signal
import time
import zlib
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tests.fuzz.mutate import DerError, der_children, der_content, der_header, der_length
from tests.fuzz.seeds import FuzzWorld

if TYPE_CHECKING:
    from trust.crypto.keys import PublicKey

CPU_SECONDS: Final = 10.0
CPU_SECONDS_PER_MIB: Final = 10.0
WALL_SECONDS: Final = 60
MEMORY: Final = 500 * 1024 * 1024


class PropertyViolation(AssertionError):
    """The property does not hold for this input (a crash, a bound exceeded, or a forgery accepted)."""


class Hang(BaseException):
    """Raised by the wall-clock alarm inside the call (a ``BaseException``: no ``except Exception`` swallows it)."""


@dataclass(frozen=True)
class Target:
    name: str
    mutator: str
    run: Callable[[FuzzWorld, bytes], bool | str]
    """Feeds the input to the parsers; returns whether it was *accepted* (see the module docstring), or (HTTP targets)
    the outcome's name, e.g. ``answered 422``."""
    signed: Callable[[FuzzWorld, bytes], Hashable | None] | None = None
    """The signed bytes of an input (``None``: none readable); ``None`` for targets that verify nothing."""
    allowed: Callable[[FuzzWorld, bytes], bool] | None = None
    """Instead of ``signed``: whether an input may be accepted (the PDF and SD-JWT rules)."""
    cost: int = 1
    """Relative cost of one input (the CI profile runs fewer examples of costly targets)."""


# --- independent readers of the signed bytes --------------------------------------------------------------------


def _der(data: bytes) -> bytes:
    """DER of ``data``, or of its first PEM block."""
    if data[:1] == b"\x30":
        return data
    match = re.search(rb"-----BEGIN [^\n]*\n(.*?)(?:\n-----|$)", data, re.S)  # as leniently as a PEM reader may
    if match is None:
        raise DerError("neither DER nor PEM")
    return base64.b64decode(b"".join(match.group(1).split()), validate=False)


def definite(tlv: bytes) -> bytes:
    """``tlv`` as asn1crypto's ``dump()`` gives it (what Huren hashes and verifies): a value received with a BER
    indefinite length is re-encoded with a definite one (its children likewise); any other encoding is kept byte
    for byte. The signed *value* is the same either way (OpenSSL, too, verifies over the DER re-encoding)."""
    tag_len, _header, _length = der_header(tlv, 0)
    if tlv[tag_len] != 0x80:
        return tlv
    body = b"".join(definite(child) for child in der_children(der_content(tlv)))
    return tlv[:tag_len] + der_length(len(body)) + body


def _child(tlv: bytes, index: int) -> bytes:
    children = der_children(der_content(tlv))
    return children[index]


def first_child(_fw: FuzzWorld, data: bytes) -> bytes | None:
    """The first element of the outer SEQUENCE (tbsCertificate, tbsCertList, certificationRequestInfo, TBS_Sign,
    SES_SealInfo)."""
    try:
        der = _der(data)
        (outer,) = der_children(der)
        return definite(_child(outer, 0))
    except (DerError, ValueError, IndexError):
        return None


def ocsp_tbs(_fw: FuzzWorld, data: bytes) -> bytes | None:
    """``OCSPResponse.responseBytes.response`` → ``BasicOCSPResponse.tbsResponseData``."""
    try:
        (outer,) = der_children(data)
        response_bytes = der_children(der_content(_child(outer, 1)))[0]  # [0] EXPLICIT ResponseBytes
        octets = _child(response_bytes, 1)
        (basic,) = der_children(der_content(octets))
        return definite(_child(basic, 0))
    except (DerError, ValueError, IndexError):
        return None


def cms_signed(_fw: FuzzWorld, data: bytes) -> tuple[bytes | None, bytes | None] | None:
    """``(eContent, signedAttrs)`` of a ContentInfo with SignedData (one signer)."""
    try:
        (outer,) = der_children(data)
        signed_data_tlv = der_children(der_content(_child(outer, 1)))[0]
        parts = der_children(der_content(signed_data_tlv))
        encap = der_children(der_content(parts[2]))
        econtent = der_content(der_children(der_content(encap[1]))[0]) if len(encap) > 1 else None
        signer_infos = der_children(der_content(parts[-1]))
        if len(signer_infos) != 1:
            return None
        attrs = [c for c in der_children(der_content(signer_infos[0])) if c[:1] == b"\xa0"]
        return econtent, definite(attrs[0]) if attrs else None
    except (DerError, ValueError, IndexError):
        return None


def tsp_signed(fw: FuzzWorld, data: bytes) -> tuple[bytes | None, bytes | None] | None:
    try:
        (outer,) = der_children(data)
        return cms_signed(fw, _child(outer, 1))
    except (DerError, ValueError, IndexError):
        return None


def signing_input(_fw: FuzzWorld, data: bytes) -> str | None:
    try:
        parts = data.decode("ascii").strip().split(".")
    except UnicodeDecodeError:
        return None
    return f"{parts[0]}.{parts[1]}" if len(parts) == 3 else None


def qr_signing_input(fw: FuzzWorld, data: bytes) -> str | None:
    import base45

    try:
        text = data.decode("ascii").strip()
        if not text.startswith("HR1:"):
            return None
        inflater = zlib.decompressobj()
        packed = inflater.decompress(base45.b45decode(text[4:]), 1 << 20)
    except (UnicodeDecodeError, ValueError, zlib.error):
        return None
    h_len = int.from_bytes(packed[:2], "big")
    header = packed[2 : 2 + h_len]
    p_len = int.from_bytes(packed[2 + h_len : 4 + h_len], "big")
    payload = packed[4 + h_len : 4 + h_len + p_len]
    b64 = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
    return f"{b64(header)}.{b64(payload)}"


def json_payload(_fw: FuzzWorld, data: bytes) -> str | None:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    payload = document.get("payload") if isinstance(document, dict) else None
    return payload if isinstance(payload, str) else None


def sd_jwt_allowed(fw: FuzzWorld, data: bytes) -> bool:
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return False
    parts = text.split("~")
    for seed in fw.seeds["sd-jwt"]:
        seed_parts = seed.decode().split("~")
        if len(parts) < 2 or signing_input(fw, parts[0].encode()) != signing_input(fw, seed_parts[0].encode()):
            continue
        disclosures, kb = parts[1:-1], parts[-1]
        if len(set(disclosures)) != len(disclosures) or not set(disclosures) <= set(seed_parts[1:-1]):
            continue
        if kb == "" or (kb == seed_parts[-1] and parts[:-1] == seed_parts[:-1]):
            return True
    return False


def _pdf_ranges(pdf: bytes) -> list[list[int]]:
    return [
        [int(n) for n in m.group(1).split()]
        for m in re.finditer(rb"/ByteRange\s*\[\s*([0-9 \r\n]+?)\s*\]", pdf)
        if len(m.group(1).split()) == 4
    ]


def pdf_allowed(fw: FuzzWorld, data: bytes) -> bool:
    for seed in fw.seeds["pdf"]:
        ranges = _pdf_ranges(seed)
        if not ranges:
            continue
        spans = [(r[0], r[0] + r[1]) for r in ranges] + [(r[2], r[2] + r[3]) for r in ranges]
        end = max(e for _s, e in spans)
        if len(data) >= end and all(data[s:e] == seed[s:e] for s, e in spans):
            return True
        if any(data == seed[: r[2] + r[3]] for r in ranges):
            return True
    return False


# --- the targets ------------------------------------------------------------------------------------------------


def _report(report: Any) -> bool:
    from verifier.report import Indication, Report

    if not isinstance(report, Report):
        raise PropertyViolation(f"the verifier returned {type(report).__name__}, not a Report")
    report.to_text()
    report.to_json()
    return bool(report.indication is Indication.TOTAL_PASSED)


def run_certificate(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import names
    from trust.formats import x509 as cx
    from verifier import api

    try:
        cert = cx.load_certificate(data)
        names.name_text(cert.subject)
        names.name_text(cert.issuer)
        cx.signature_algorithm(cert)
        cx.public_key(cert)
    except TrustError:
        pass
    return _report(api.verify(data, fw.context()))


def run_crl(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import crl as crl_format
    from trust.formats import x509 as cx
    from verifier import context
    from verifier.certificate import verify_certificate

    parsed = crl_format.load_crl(data)
    accepted = False
    for issuer in fw.issuer_certs:
        try:
            crl_format.verify_crl_signature(parsed, cx.public_key(issuer))
            accepted = True
        except TrustError:
            pass
    base = fw.context()
    ctx = context.build(
        anchors=[a.dump() for a in base.anchors],
        untrusted=[c.dump() for c in base.intermediates],
        crls=[data],
        revocation="required",
        at=fw.at,
    )
    _report(verify_certificate(cx.load_certificate(fw.seeds["certificate"][0]), ctx))
    return accepted


def run_ocsp_request(fw: FuzzWorld, data: bytes) -> bool:
    from trust.formats import ocsp
    from trust.service import ocsp as ocsp_service

    with _logged_crashes(ocsp_service.log.name):
        answer = ocsp_service.answer(fw.instance, data)
    from asn1crypto import ocsp as asn1_ocsp

    asn1_ocsp.OCSPResponse.load(answer.der, strict=True).native  # noqa: B018 - the answer is a DER OCSPResponse
    ocsp.parse_request(data)
    return False


def run_ocsp_response(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import ocsp
    from trust.formats import x509 as cx
    from verifier import context
    from verifier.certificate import verify_certificate

    accepted = False
    try:
        ocsp.response_status(data)
        for issuer in fw.issuer_certs:
            try:
                ocsp.verify_response(data, issuer=issuer)
                accepted = True
            except TrustError:
                pass
    finally:
        # the revoked certificate, with the bundle (whose CRL revokes it) and the mutated response: never passed
        ctx = context.build(bundle=fw.bundle, pins=fw.pins, environ={}, ocsps=[data], revocation="required", at=fw.at)
        revoked = cx.load_certificate(fw.extras["revoked"])
        if _report(verify_certificate(revoked, ctx)):
            raise PropertyViolation("a certificate the bundle's CRL revokes passed with this OCSP response")
    return accepted


def run_cms(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import cms

    info = cms.load_content_info(data)
    for detached in (None, fw.extras["pdf-signed-bytes"]):
        try:
            cms.verify(info, detached_content=detached)
            return True
        except TrustError:
            pass
    return False


def run_tsp_request(fw: FuzzWorld, data: bytes) -> bool:
    from trust.formats import tsp
    from trust.service import tsa

    with _logged_crashes(tsa.log.name):
        answer = tsa.timestamp(fw.instance, data, "SM2")
    tsp.response_status(answer)  # the answer is a TimeStampResp (granted or a rejection)
    tsp.parse_request(data)
    return False


def run_tsp_response(fw: FuzzWorld, data: bytes) -> bool:
    from trust.formats import tsp

    tsp.response_status(data)
    tsp.verify_response(data, message=b"huren fuzz")
    return True


def run_seal(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import ses
    from verifier import api

    with suppress(TrustError):
        ses.parse_seal(data)
    return _report(api.verify(data, fw.context()))


def run_ses_signature(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import ses
    from verifier.ses import signature

    with suppress(TrustError):
        ses.parse_signature(data)
    return _report(signature.verify_ses_signature(data, fw.context(), signed_data=fw.document))


def run_pdf(fw: FuzzWorld, data: bytes) -> bool:
    from verifier import api

    return _report(api.verify(data, fw.context()))


def run_jws(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import jose
    from trust.formats import license_token as token
    from verifier import api

    try:
        jose.parse_compact(data)
        token.parse_unverified(data.decode("ascii", "replace"))
    except TrustError:
        pass
    return _report(api.verify(data, fw.context()))


def run_sd_jwt(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats.sdjwt import serialization
    from verifier import api

    with suppress(TrustError):
        serialization.parse(data)
    return _report(api.verify(data, fw.context()))


def run_qr(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import license_token as token
    from verifier import api

    with suppress(TrustError):
        token.from_qr(data.decode("ascii", "replace"))
    return _report(api.verify(data, fw.context()))


def run_trust_list(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import trustlist

    _unsigned_payload(data, lambda value: trustlist.TrustList.from_json(value))
    try:
        trustlist.verify(data, fw.pins)
    except TrustError:
        return False
    return True


def run_bundle(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import bundle
    from verifier import context

    _unsigned_payload(data, lambda value: bundle.Bundle.from_json(value))
    try:
        bundle.verify(data, fw.pins)
    except TrustError:
        context.build(bundle=data, pins=fw.pins, environ={}, at=fw.at)  # raises too, or the property fails
        raise PropertyViolation("context.build accepted a bundle that bundle.verify refused") from None
    context.build(bundle=data, pins=fw.pins, environ={}, at=fw.at)
    return True


def _unsigned_payload(data: bytes, parse: Callable[[Any], Any]) -> None:
    """The payload's parser run directly (past the signature check), so that its robustness is fuzzed too: any
    result or a TrustError."""
    from trust.crypto.errors import TrustError

    payload = json_payload(None, data)  # type: ignore[arg-type]
    if payload is None:
        return
    try:
        value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return
    with suppress(TrustError):
        parse(value)


def _fixed_key(key: PublicKey, _header: object) -> PublicKey:
    """A JWS key resolver that always answers ``key``."""
    return key


def run_status_list(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import status_list
    from trust.formats import x509 as cx

    refusal: TrustError | None = None
    for uri, der in fw.extras["status-lists"]:
        key = cx.public_key(cx.load_certificate(der))
        try:
            status_list.verify_token(data, partial(_fixed_key, key), expected_uri=uri, now=fw.at or datetime.now(UTC))
            return True
        except TrustError as exc:
            refusal = exc
    if refusal is not None:
        raise refusal  # refused by every list's key: the outcome is the last refusal's code
    return False


def run_csr(fw: FuzzWorld, data: bytes) -> bool:
    from trust.crypto.errors import TrustError
    from trust.formats import csr

    request = csr.parse_and_verify(data)
    with suppress(TrustError):
        request.subject_dn()
    return True


def run_client_assertion(fw: FuzzWorld, data: bytes) -> bool:
    from trust.service import clients

    clients.verify_assertion(fw.instance, data.decode("latin-1"))
    return True


def _http(fw: FuzzWorld, data: bytes, content_type: str) -> bool | str:
    head, _, body = data.partition(b"\n")
    try:
        method, path = head.decode("ascii").split(" ", 1)
    except (UnicodeDecodeError, ValueError):
        return False
    if method not in ("POST", "PUT", "PATCH") or not path.startswith("/"):
        return False
    headers = {"content-type": content_type}
    if path not in ("/verify", "/oauth/token"):
        headers.update(fw.world.auth("zj-platform"))
    response = fw.http_client().request(method, path, content=body, headers=headers)
    if response.status_code >= 500:
        raise PropertyViolation(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
    if response.status_code >= 400:
        if response.headers.get("content-type", "").split(";")[0] != "application/problem+json":
            raise PropertyViolation(f"{response.status_code} is not a problem document")
        problem = response.json()
        if not re.fullmatch(r"E[0-9]{4}", str(problem.get("code"))) or problem.get("status") != response.status_code:
            raise PropertyViolation(f"malformed problem: {problem}")
    return f"answered {response.status_code}"


def run_http_json(fw: FuzzWorld, data: bytes) -> bool | str:
    return _http(fw, data, "application/json")


def run_http_form(fw: FuzzWorld, data: bytes) -> bool | str:
    return _http(fw, data, "application/x-www-form-urlencoded")


@contextmanager
def _logged_crashes(logger: str) -> Iterator[None]:
    """Services that must always answer (OCSP, TSA) catch every exception and log it with its traceback: a record
    with ``exc_info`` is a crash the service hid."""
    records: list[logging.LogRecord] = []

    class _Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                records.append(record)

    handler = _Catch(logging.ERROR)
    target = logging.getLogger(logger)
    target.addHandler(handler)
    try:
        yield
    finally:
        target.removeHandler(handler)
    if records:
        exc = records[0].exc_info
        raise PropertyViolation(f"{logger} hid a crash: {records[0].getMessage()}") from (exc[1] if exc else None)


TARGETS: Final[dict[str, Target]] = {
    t.name: t
    for t in (
        Target("certificate", "der", run_certificate, first_child, cost=2),
        Target("crl", "der", run_crl, first_child, cost=2),
        Target("ocsp-request", "der", run_ocsp_request),
        Target("ocsp-response", "der", run_ocsp_response, ocsp_tbs, cost=3),
        Target("cms", "der", run_cms, cms_signed),
        Target("tsp-request", "der", run_tsp_request),
        Target("tsp-response", "der", run_tsp_response, tsp_signed),
        Target("seal", "der", run_seal, first_child, cost=2),
        Target("ses-signature", "der", run_ses_signature, first_child, cost=2),
        Target("pdf", "pdf", run_pdf, allowed=pdf_allowed, cost=5),
        Target("jws", "jws", run_jws, signing_input, cost=2),
        Target("sd-jwt", "sd-jwt", run_sd_jwt, allowed=sd_jwt_allowed, cost=2),
        Target("qr", "qr", run_qr, qr_signing_input, cost=2),
        Target("trust-list", "json", run_trust_list, json_payload, cost=2),
        Target("bundle", "json", run_bundle, json_payload, cost=4),
        Target("status-list", "jws", run_status_list, signing_input),
        Target("csr", "der", run_csr, first_child),
        Target("client-assertion", "jws", run_client_assertion, signing_input),
        Target("http-json", "http-json", run_http_json, cost=3),
        Target("http-form", "http-form", run_http_form, cost=2),
    )
}


# --- the property ----------------------------------------------------------------------------------------------


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang


def check(target: Target, fw: FuzzWorld, data: bytes) -> str:
    """Run ``target`` on ``data`` and check the property; returns ``accepted``, ``answered`` or ``refused E…``.
    Raises :class:`PropertyViolation` (with the original exception as its cause) when the property fails."""
    from trust.crypto.errors import Code, TrustError

    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status("VmRSS")
    cpu_start = time.process_time()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(WALL_SECONDS)
    outcome: str
    try:
        result = target.run(fw, data)
        outcome = result if isinstance(result, str) else "accepted" if result else "answered"
    except TrustError as exc:
        if not isinstance(exc.code, Code) or not exc.message:
            raise PropertyViolation(f"TrustError without a stable code or message: {exc!r}") from exc
        outcome = f"refused {exc.code.label}"
    except PropertyViolation:
        raise
    except Hang:
        raise PropertyViolation(f"{target.name}: no answer after {WALL_SECONDS} s") from None
    except (Exception, RecursionError) as exc:
        raise PropertyViolation(f"{target.name}: crashed with {type(exc).__name__}: {str(exc)[:300]}") from exc
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    cpu = time.process_time() - cpu_start
    used = _status("VmHWM") - before
    allowed_cpu = CPU_SECONDS + CPU_SECONDS_PER_MIB * len(data) / 2**20
    if cpu > allowed_cpu:
        raise PropertyViolation(f"{target.name}: {cpu:.1f} CPU seconds for {len(data)} bytes (bound {allowed_cpu:.1f})")
    if used > MEMORY:
        raise PropertyViolation(f"{target.name}: {used / 2**20:.0f} MiB for {len(data)} bytes")
    if outcome == "accepted" and not may_accept(target, fw, data):
        raise PropertyViolation(f"{target.name}: accepted an input whose signed bytes differ from every seed's")
    return outcome


def may_accept(target: Target, fw: FuzzWorld, data: bytes) -> bool:
    if target.allowed is not None:
        return target.allowed(fw, data)
    if target.signed is None:
        return True
    known = fw.signed_cache.get(target.name)
    if known is None:
        known = {target.signed(fw, seed) for seed in fw.seeds[target.name]} - {None}
        fw.signed_cache[target.name] = known
    return target.signed(fw, data) in known


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- regression cases ------------------------------------------------------------------------------------------

REGRESSIONS: Final = Path(__file__).resolve().parent / "regressions"


def record(target: Target, fw: FuzzWorld, data: bytes, reason: str, *, folder: Path = REGRESSIONS) -> Path:
    """Keep a crashing input as a regression case: ``<target>/<sha256 prefix>.bin`` (the input), ``.txt`` (what
    went wrong) and ``.world`` (the name of the file, ``<target>/world-<digest>.json``, that holds the world material
    it was found with, :meth:`FuzzWorld.snapshot`; cases found in one world share it)."""
    name = hashlib.sha256(data).hexdigest()[:16]
    where = folder / target.name
    where.mkdir(parents=True, exist_ok=True)
    snapshot = json.dumps(fw.snapshot(target.name), sort_keys=True) + "\n"
    world = f"world-{hashlib.sha256(snapshot.encode()).hexdigest()[:16]}.json"
    if not (where / world).exists():
        (where / world).write_text(snapshot)
    (where / f"{name}.bin").write_bytes(data)
    (where / f"{name}.world").write_text(world + "\n")
    (where / f"{name}.txt").write_text(reason.strip() + "\n")
    return where / f"{name}.bin"


def regression_cases(folder: Path = REGRESSIONS) -> list[tuple[str, Path]]:
    return sorted((path.parent.name, path) for path in folder.glob("*/*.bin"))


def replay(fw: FuzzWorld, name: str, path: Path) -> str:
    """Check the property on a regression case, against the world material it was recorded with (if any)."""
    pointer = path.with_suffix(".world")
    world = fw
    if pointer.exists():
        world = fw.restored(json.loads((path.parent / pointer.read_text().strip()).read_text()))
    return check(TARGETS[name], world, path.read_bytes())
