"""Which OCSP responses at hand may speak for a CA, and what they say (RFC 6960 clauses 3.2 and 4.2.2.2, issue 11).

RFC 6960 lets a CA delegate OCSP signing to any certificate it issues with ``id-kp-OCSPSigning``. In Huren a region
platform can obtain certificates from its own region CA, so that rule alone let a region's own responder answer
"good" for a certificate the national operator had revoked. Here a response counts only when it is signed

* by the CA itself (the key the CertID's ``issuerKeyHash`` names), or
* with a trust list (a bundle): by a **designated responder** of that CA — an ``OCSP`` service of the trust list
  whose scope names the CA's service (:meth:`trust.formats.trustlist.TrustList.designated_responders`), usable
  (issuer and service granted) at the validation time;
* without a trust list (explicit ``--anchor`` only): by a certificate the CA issued directly with
  ``id-kp-OCSPSigning`` (plain RFC 6960 delegation: there is no list to name responders, and the relying party chose
  its anchors itself).

Every other response is ignored — neither its "good" nor its "revoked" counts — and the report says so
(:func:`ignored`). :func:`screen` checks each response once per context (signature with the SM2/RSA/ECDSA code of
:mod:`trust.formats.ocsp`, the responder's authorisation, every CertID naming that CA) and keeps the result in the
context's memo.

What the path validator (pyhanko-certvalidator) is handed (:func:`for_path_validator`): the authorised responses,
those that say ``revoked`` first (pyhanko stops at the first response that settles a certificate, so a "good" listed
before a "revoked" would otherwise hide it) — except the responses of delegated responders whose certificate carries
``id-pkix-ocsp-nocheck`` and is signed with SM2: pyhanko checks such a responder certificate in a context of its own
with its default signature validator, which has no SM2 (``UnsupportedAlgorithm``, issue 11 item 7). Those responses
still count through :func:`revocations` (a revocation they report fails the certificate); their "good" is not used
for the path (the certificate's CRL is, as for a certificate without OCSP).

:func:`revocations` gives every authorised ``revoked`` answer about a certificate, so that
:mod:`verifier.certificate` can make a revocation seen in any authentic source win over a "good" from another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asn1crypto import x509

from trust.crypto import oids
from trust.crypto.errors import TrustError
from trust.formats import ocsp as ocsp_format
from trust.formats import x509 as cx
from trust.formats.names import name_text
from verifier.context import VerificationContext

oids.register()

_SM2_SIGNATURES: Final = oids.SM2_SIGNATURE_NAMES


@dataclass(frozen=True)
class Answer:
    """One SingleResponse of an authorised response."""

    serial: int
    status: str  # good | revoked | unknown
    this_update: datetime
    revoked_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class Screened:
    """One OCSP response at hand and what may be made of it."""

    der: bytes
    authorised: bool
    why: str  # who signed it, or why it does not count
    ca_fingerprints: frozenset[str] = frozenset()  # the CA certificates (same key) it speaks for
    answers: tuple[Answer, ...] = ()
    checkable: bool = True  # pyhanko-certvalidator can check its responder (see the module docstring)

    @property
    def says_revoked(self) -> bool:
        return any(a.status == "revoked" for a in self.answers)


def screen(ctx: VerificationContext) -> tuple[Screened, ...]:
    """Every OCSP response of ``ctx``, screened (module docstring); once per context material and validation time."""
    if not ctx.ocsps:
        return ()
    key = ("ocsp-screen", ctx.material_key, ctx.validation_time.isoformat())
    value = ctx.memo.facts.get(key)
    if value is None:
        cas = [*ctx.anchors, *ctx.intermediates]
        value = tuple(_screen_one(der, cas, ctx) for der in ctx.ocsps)
        ctx.memo.facts.put(key, value)
    return tuple(value)


def for_path_validator(ctx: VerificationContext) -> list[bytes]:
    """The responses pyhanko-certvalidator may use, revocations first (module docstring)."""
    usable = [s for s in screen(ctx) if s.authorised and s.checkable]
    return [s.der for s in sorted(usable, key=lambda s: not s.says_revoked)]


def revocations(
    ctx: VerificationContext, cert: x509.Certificate, issuer: x509.Certificate
) -> list[tuple[Answer, Screened]]:
    """Authorised answers that ``cert`` (issued by ``issuer``) is revoked at or before the validation time."""
    issuer_fp = ctx.memo.fingerprint(issuer)
    serial = cert.serial_number
    found = []
    for item in screen(ctx):
        if not item.authorised or issuer_fp not in item.ca_fingerprints:
            continue
        for answer in item.answers:
            if (
                answer.serial == serial
                and answer.status == "revoked"
                and answer.revoked_at is not None
                and answer.revoked_at <= ctx.validation_time
            ):
                found.append((answer, item))
    return found


def ignored(ctx: VerificationContext, certs: Sequence[x509.Certificate]) -> list[str]:
    """Why each response about one of ``certs`` (by serial number) was not used: for the report's warnings."""
    serials = {c.serial_number for c in certs}
    notes = []
    for index, item in enumerate(screen(ctx), start=1):
        if item.authorised:
            continue
        named = _serials(item.der)
        if named & serials:
            notes.append(f"OCSP response {index} ignored: {item.why}")
    return notes


def _serials(der: bytes) -> set[int]:
    try:
        return {cert_id.serial for cert_id in ocsp_format.response_cert_ids(der)}
    except (TrustError, ValueError, TypeError, KeyError, AttributeError):
        return set()


def _screen_one(der: bytes, cas: Sequence[x509.Certificate], ctx: VerificationContext) -> Screened:
    try:
        cert_ids = ocsp_format.response_cert_ids(der)
    except TrustError as exc:
        return Screened(der, False, exc.message)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return Screened(der, False, f"not a readable OCSP response ({type(exc).__name__})")
    if not cert_ids:
        return Screened(der, False, "the response answers about no certificate")
    issuers = [ca for ca in cas if all(_names(cert_id, ca) for cert_id in cert_ids)]
    if not issuers:
        return Screened(der, False, "it names no CA known here (its CertIDs match no CA certificate)")
    reasons = []
    for issuer in issuers:
        try:
            verified = ocsp_format.verify_response(der, issuer=issuer)
        except TrustError as exc:
            reasons.append(exc.message)
            continue
        responder = verified.responder
        same_key = ocsp_format.responder_key_hash(responder) == ocsp_format.responder_key_hash(issuer)
        answers = tuple(Answer(s.serial, s.status, s.this_update, s.revoked_at, s.reason) for s in verified.responses)
        fingerprints = frozenset(ctx.memo.fingerprint(c) for c in cas if _same_key(c, issuer))
        subject = _subject(responder)
        if same_key:
            return Screened(der, True, f"signed by the CA {subject}", fingerprints, answers)
        checkable = not (
            responder.ocsp_no_check_value is not None
            and responder["signature_algorithm"]["algorithm"].native in _SM2_SIGNATURES
        )
        trust_list = ctx.trust_list
        if trust_list is None:
            # no list to name responders: RFC 6960 clause 4.2.2.2 delegation (verify_response checked it)
            return Screened(der, True, f"signed by {subject}, delegated by the CA", fingerprints, answers, checkable)
        fingerprint = cx.fingerprint(responder)
        designated = [
            service
            for ca in cas
            if ctx.memo.fingerprint(ca) in fingerprints
            for _issuer, service in trust_list.designated_responders(ca.dump())
            if fingerprint in service.fingerprints
        ]
        if not designated:
            reasons.append(
                f"signed by {subject}, which is neither the CA nor a responder the trust list designates for it"
            )
            continue
        standing = trust_list.standing(responder.dump(), ctx.validation_time, "OCSP")
        if not standing.usable:
            reasons.append(f"signed by the designated responder {designated[0].id}, but {standing.reason}")
            continue
        return Screened(
            der, True, f"signed by {designated[0].id}, designated in the trust list", fingerprints, answers, checkable
        )
    return Screened(der, False, "; ".join(dict.fromkeys(reasons)))


def _names(cert_id: ocsp_format.CertId, ca: x509.Certificate) -> bool:
    try:
        return cert_id.matches(ca)
    except TrustError:
        return False


def _same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    return bool(a.subject == b.subject and a.public_key.dump() == b.public_key.dump())


def _subject(cert: x509.Certificate) -> str:
    return name_text(cert.subject) or cert.subject.human_friendly


__all__ = ["Answer", "Screened", "for_path_validator", "ignored", "revocations", "screen"]
