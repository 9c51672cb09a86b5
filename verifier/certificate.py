"""Certificate path validation (RFC 5280 clause 6) for SM2, RSA and ECDSA, plus the trust-list rules.

Steps, in order (each one becomes a :class:`~verifier.report.Check`):

1. **parse** — the input is one DER X.509 certificate (``trust.formats.x509.load_certificate``: size limit, strict DER),
   and what its signature does not cover is well-formed (:func:`structure_problem`: known version, outer and inner
   signature algorithm identical, no unused bits in the signature); otherwise TOTAL_FAILED / FORMAT_FAILURE.
2. **path** — candidate paths to an anchor come from :class:`verifier.paths.BoundedPaths` (anchors first, issuers
   whose key verifies first, bounded by :mod:`verifier.limits`); each one first passes Huren's checks
   (:mod:`verifier.pathchecks`: the anchor itself and its RFC 5937 constraints, the maximum depth, dNSName/iPAddress
   names and constraints, the RFC 5280 CA profile under ``strict`` and for trust-list members), then
   pyhanko-certvalidator validates it from the RFC 5937-qualified anchor (:func:`_find_path`: signatures — SM2
   through :class:`trust.crypto.certvalidator.HurenSignatureValidator`, wrapped by :class:`_Signatures` —, validity
   at the validation time, basic constraints and path length, key usage of CAs, directoryName/rfc822Name/URI name
   constraints, policies, unknown critical extensions) and checks revocation from the given CRLs and OCSP
   responses; nothing is fetched (``allow_fetching`` off). Revocation (``VerificationContext.revocation``):
   ``available`` — pyhanko's ``hard-fail`` (a certificate that names a CRL or OCSP source must have revocation
   data) plus :func:`_check_available_revocation` (a certificate that names no source is checked against the CRLs of its
   issuer and the OCSP responses at hand; pyhanko skips those); ``required`` — every certificate needs
   revocation data (pyhanko's ``require``). The CA certificates of the validated path pass
   :func:`structure_problem` too. OCSP responses reach pyhanko only from the CA itself or a responder the trust list
   designates for it (:mod:`verifier.ocsp`), and a revocation in any authentic source wins over a "good" from another
   (:func:`_revocation_wins`, issue 11 item 2).
3. **purpose** — key usage and extended key usage of the leaf for ``--purpose`` (``generic``:
   :func:`generic_usage_problem`), and the subject alternative name types the purpose allows (:mod:`verifier.san`).
4. **trust list** (with a bundle) — every CA of the path below the root must be a CA service of the trust list,
   and usable (issuer and service ``granted``) when it issued the next certificate of the path, judged at that
   certificate's ``notBefore``; the leaf, if it is itself a listed service (TSA, OCSP), must be usable at the
   validation time.

pyhanko's errors map to ETSI EN 319 102-1 indications in :func:`_classify` (table in ``docs/VERIFIER.md``).
``legacy_dsa`` is the NIST PKITS conformance profile (:func:`algorithm_policy`); production never sets it.

Work done once per context (its :class:`~verifier.context.Memo`, shared by the contexts derived from it; nothing
changes what is checked): a report is kept per certificate, material, time and options; a signature that verified
is not verified again (:class:`_Signatures`); one pyhanko ``ValidationContext`` serves every validation against the
same material at the same time (:func:`_validation_context`); pyhanko is given only the CRLs that can concern the
certificates it will check (:func:`_relevant_crls`: it matches every certificate against every CRL it holds), and of
a partitioned CA only the partitions that can be in scope for them (:func:`_scoped_crls`, :mod:`verifier.crlscope`:
it checks the signature of every CRL before its scope test), a validation that ends neither valid nor revoked being
done again with every CRL (:func:`_settled`: same reports).
:func:`may_be_revoked` tells callers when no revocation data at hand can revoke a certificate at any time.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias, cast

from asn1crypto import algos, keys, x509
from asn1crypto import crl as asn1_crl
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator import errors as pv_errors
from pyhanko_certvalidator._state import ValProcState  # pyhanko's error constructors need the path state
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    AlgorithmUsageConstraint,
    DisallowWeakAlgorithmsPolicy,
    PKIXValidationParams,
)
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.revinfo.validate_ocsp import verify_ocsp_response
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    SignatureValidationContext,
    SignatureValidator,
)
from pyhanko_certvalidator.util import ConsList, get_declared_revinfo
from pyhanko_certvalidator.validate import async_validate_path, validate_usage

from trust.crypto import asn1fix
from trust.crypto.algorithms import KeyFamily
from trust.crypto.certvalidator import SIGNATURE_VALIDATOR
from trust.crypto.errors import InputError, TrustError
from trust.crypto.oids import EKU_DOCUMENT_SIGNING, EKU_LICENSE_SIGNING
from trust.formats import x509 as cx
from trust.formats.names import name_text
from trust.formats.x509 import utc_time
from verifier import anchors, crlscope, limits, san
from verifier import ocsp as ocsp_screen
from verifier.context import Memo, VerificationContext
from verifier.pathchecks import CheckedPath, PathCheckError, PathOptions, check_candidate
from verifier.paths import BoundedPaths
from verifier.report import ChainLink, Indication, Report, ReportBuilder, SubIndication

# purpose -> (required key usages (all), required extended key usages (all)); "generic" has its own rule
# (:func:`generic_usage_problem`), "auto" is the input's own purpose (``any`` for a certificate)
PURPOSES: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    "auto": (frozenset(), frozenset()),
    "any": (frozenset(), frozenset()),
    "generic": (frozenset(), frozenset()),
    "ca": (frozenset({"key_cert_sign"}), frozenset()),
    "seal": (frozenset({"digital_signature"}), frozenset({EKU_DOCUMENT_SIGNING})),
    "document-signing": (frozenset({"digital_signature"}), frozenset()),
    "seal-maker": (frozenset({"digital_signature"}), frozenset()),
    "identity": (frozenset({"digital_signature"}), frozenset({"client_auth"})),
    "license-issuer": (frozenset({"digital_signature"}), frozenset({EKU_LICENSE_SIGNING})),
    "timestamping": (frozenset({"digital_signature"}), frozenset({"time_stamping"})),
    "ocsp": (frozenset({"digital_signature"}), frozenset({"ocsp_signing"})),
    "tls-server": (frozenset({"digital_signature"}), frozenset({"server_auth"})),
    "tls-client": (frozenset({"digital_signature"}), frozenset({"client_auth"})),
}
LEAF_SERVICE_FOR_PURPOSE: Final = {"timestamping": "TSA", "ocsp": "OCSP"}
ANY_EKU: Final = "2.5.29.37.0"
GENERIC_SIGNING_EKUS: Final = {
    ANY_EKU: "anyExtendedKeyUsage",
    EKU_DOCUMENT_SIGNING: "documentSigning (RFC 9336)",
    "1.3.6.1.5.5.7.3.4": "emailProtection (CMS signatures, RFC 8550)",
    "1.2.840.113583.1.1.5": "Adobe authentic documents",
    "1.3.6.1.4.1.311.10.3.12": "Microsoft document signing",
}
"""Extended key usages that permit signing documents under the ``generic`` policy (module docstring of
:func:`generic_usage_problem`)."""


def generic_usage_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert`` may not sign a document under RFC 5280 alone (the ``generic`` policy), or None.

    RFC 5280 clause 4.2.1.3: without keyUsage the key may be used for any purpose; with it, signing a document needs
    digitalSignature or nonRepudiation (contentCommitment). Clause 4.2.1.12: without extendedKeyUsage any purpose;
    with it, the key may be used only for the purposes listed, so one of :data:`GENERIC_SIGNING_EKUS` must be there.
    A certificate with neither extension (as many foreign signers have) is acceptable."""
    usage = cert.key_usage_value
    if usage is not None and not ({"digital_signature", "non_repudiation"} & set(usage.native)):
        return f"keyUsage {sorted(usage.native)} asserts neither digitalSignature nor nonRepudiation"
    extended = cert.extended_key_usage_value
    if extended is not None:
        oids = {purpose.dotted for purpose in extended}
        if not oids & set(GENERIC_SIGNING_EKUS):
            return (
                f"extendedKeyUsage {sorted(p.native for p in extended)} lists no document-signing purpose "
                f"({', '.join(GENERIC_SIGNING_EKUS.values())})"
            )
    return None


@dataclass(frozen=True)
class PolicyInputs:
    """RFC 5280 clause 6.1.1 inputs (c), (e), (f), (g)."""

    initial_policy_set: frozenset[str] = frozenset({"any_policy"})
    policy_mapping_inhibit: bool = False
    explicit_policy: bool = False
    any_policy_inhibit: bool = False

    def pkix(self) -> PKIXValidationParams:
        return PKIXValidationParams(
            user_initial_policy_set=self.initial_policy_set,
            initial_policy_mapping_inhibit=self.policy_mapping_inhibit,
            initial_explicit_policy=self.explicit_policy,
            initial_any_policy_inhibit=self.any_policy_inhibit,
        )


class _LegacyDSAPolicy(DisallowWeakAlgorithmsPolicy):
    """The production policy, except that DSA with SHA-1 (``sha1_dsa``, keys of 1024 bits or more) is accepted:
    the NIST PKITS DSA certificates (4.1.4–4.1.6) are signed that way and there is no other DSA in the suite."""

    def signature_algorithm_allowed(
        self, algo: algos.SignedDigestAlgorithm, moment: datetime | None, public_key: keys.PublicKeyInfo | None
    ) -> AlgorithmUsageConstraint:
        try:
            legacy = algo.signature_algo == "dsa" and algo.hash_algo == "sha1"
        except ValueError:
            legacy = False
        if not legacy:
            return super().signature_algorithm_allowed(algo, moment, public_key)
        if public_key is not None and public_key.bit_size < self.dsa_key_size_threshold:
            return AlgorithmUsageConstraint(False, failure_reason=f"DSA key of {public_key.bit_size} bits")
        return AlgorithmUsageConstraint(True)


SM2_KEY_ALGORITHM: Final = "1.2.156.10197.1.301"


class _Signatures(SignatureValidator):
    """:data:`~trust.crypto.certvalidator.SIGNATURE_VALIDATOR`, with two key normalisations before it runs.

    * An SM2 SubjectPublicKeyInfo whose *algorithm* is the SM2 OID ``1.2.156.10197.1.301`` (as Tongsuo and GmSSL
      2 write it; OpenSSL 3 accepts it) instead of ``id-ecPublicKey`` with that named curve (GB/T 20518) is read
      as the same key: the signature check (SM3 over Z and the message, Z from the public point) is identical.
    * PKITS profile only (``dsa_parameters``): RFC 5280 clause 6.1.4 (f) DSA parameter inheritance for CRL
      signatures. pyhanko-certvalidator inherits DSA domain parameters along the path for certificate
      signatures but checks a CRL with its issuer's own SubjectPublicKeyInfo, so a CRL signed with a
      parameter-less DSA key (PKITS 4.1.5) could not be checked; such a key is completed with the parameters of
      its nearest DSA ancestor among the context's certificates (:func:`_inherited_dsa_parameters`).
    """

    def __init__(
        self,
        inner: SignatureValidator,
        dsa_parameters: Mapping[bytes, Any] | None = None,
        memo: Memo | None = None,
    ) -> None:
        self._inner = inner
        self._dsa_parameters = dsa_parameters or {}
        self._memo = memo

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        algorithm = public_key_info["algorithm"]
        if algorithm["algorithm"].dotted == SM2_KEY_ALGORITHM and algorithm["parameters"].native in (
            None,
            SM2_KEY_ALGORITHM,
            "sm2p256v1",
        ):
            public_key_info = keys.PublicKeyInfo(
                {
                    "algorithm": {
                        "algorithm": "ec",
                        "parameters": keys.ECDomainParameters(name="named", value=SM2_KEY_ALGORITHM),
                    },
                    "public_key": public_key_info["public_key"].native,
                }
            )
        elif self._dsa_parameters and public_key_info.algorithm == "dsa" and algorithm["parameters"].native is None:
            parameters = self._dsa_parameters.get(public_key_info["public_key"].dump())
            if parameters is not None:
                public_key_info = keys.PublicKeyInfo(
                    {
                        "algorithm": {"algorithm": "dsa", "parameters": parameters},
                        "public_key": public_key_info["public_key"],
                    }
                )
        key = None
        if self._memo is not None:
            # Only successes are kept, by everything the check reads: the same signature over the same bytes with the
            # same key and algorithm verifies again (the algorithm policy is pyhanko's, applied before this call).
            key = self._memo.signature_key(
                bytes(signature),
                public_key_info.dump(),
                signature_algorithm.dump(),
                context.contextual_md_algorithm,
                context.prehashed,
                data=bytes(signed_data),
            )
            if self._memo.signatures.get(key):
                return
        try:
            self._inner.validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)
        except InvalidSignature:
            raise
        except (UnsupportedAlgorithm, ValueError, TypeError, KeyError, TrustError) as exc:
            # e.g. an ECDSA signature algorithm over an SM2 key: pyca raises UnsupportedAlgorithm, which pyhanko
            # would let escape; for path validation it is a signature that cannot be verified
            raise pv_errors.AlgorithmNotSupported(f"signature cannot be checked: {type(exc).__name__}: {exc}") from None
        if key is not None and self._memo is not None:
            self._memo.signatures.put(key, True)


SIGNATURES: Final = _Signatures(SIGNATURE_VALIDATOR)


def _inherited_dsa_parameters(certs: list[x509.Certificate]) -> dict[bytes, Any]:
    """DSA public key (DER) -> the domain parameters of the nearest DSA ancestor that has them (by issuer name)."""
    by_subject: dict[Any, list[x509.Certificate]] = {}
    for cert in certs:
        by_subject.setdefault(cert.subject.hashable, []).append(cert)
    inherited: dict[bytes, Any] = {}
    for cert in certs:
        info = cert.public_key
        if info.algorithm != "dsa" or info["algorithm"]["parameters"].native is not None:
            continue
        current = cert
        for _ in range(limits.MAX_PATH_CERTS):
            issuers = [c for c in by_subject.get(current.issuer.hashable, []) if c.public_key.algorithm == "dsa"]
            if not issuers or issuers[0] is current:
                break
            current = issuers[0]
            if current.public_key["algorithm"]["parameters"].native is not None:
                inherited[info["public_key"].dump()] = current.public_key["algorithm"]["parameters"]
                break
    return inherited


def algorithm_policy(*, legacy_dsa: bool = False) -> DisallowWeakAlgorithmsPolicy:
    """No MD2/MD5/SHA-1; RSA keys of at least 2048 bits; DSA refused.

    ``legacy_dsa`` is the NIST PKITS conformance profile switch: DSA keys of at least 1024 bits, with SHA-1 inside
    DSA signatures only (every other use of SHA-1 stays refused). Production code never sets it."""
    if legacy_dsa:
        # the __init__ it inherits from pyhanko-certvalidator's DisallowWeakAlgorithmsPolicy carries no annotations
        return _LegacyDSAPolicy(rsa_key_size_threshold=2048, dsa_key_size_threshold=1024)  # type: ignore[no-untyped-call]
    return DisallowWeakAlgorithmsPolicy(rsa_key_size_threshold=2048, dsa_key_size_threshold=1 << 20)


def _link(cert: x509.Certificate, source: str) -> ChainLink:
    validity = cert["tbs_certificate"]["validity"]
    return ChainLink(
        subject=name_text(cert.subject) or cert.subject.human_friendly,
        fingerprint=cx.fingerprint(cert),
        not_before=utc_time(validity["not_before"].native),
        not_after=utc_time(validity["not_after"].native),
        source=source,
        key=key_label(cert),
    )


def key_label(cert: x509.Certificate) -> str:
    """The certificate's key for people: ``SM2``, ``RSA 4096``, ``ECDSA P-256`` (``""`` if it cannot be read) — how a
    report tells an SM2 certificate from its RSA twin of the same name."""
    try:
        key = cx.public_key(cert)
    except (TrustError, ValueError, TypeError, KeyError, AttributeError):
        return ""
    if key.family is KeyFamily.SM2:
        return "SM2"
    if key.family is KeyFamily.RSA:
        return f"RSA {key.size}"
    return f"ECDSA {_CURVES.get(str(getattr(key, 'curve', '')), str(getattr(key, 'curve', '')))}"


def structure_problem(cert: x509.Certificate) -> str | None:
    """What is wrong with the parts of ``cert`` its signature does not cover (RFC 5280 clause 4.1.1), or None.

    The signature covers ``tbsCertificate`` only: a certificate whose outer ``signatureAlgorithm`` differs from
    ``tbsCertificate.signature`` (clause 4.1.1.2) or whose ``signatureValue`` BIT STRING declares unused bits
    (clause 4.1.1.3; OpenSSL refuses these too) would still verify while its bytes, and so its fingerprint,
    differ from what the issuer signed. The version must be one RFC 5280 defines (clause 4.1.2.1)."""
    version = cert["tbs_certificate"]["version"].native
    if version not in ("v1", "v2", "v3"):
        if isinstance(version, int) and abs(version) >= 10**9:  # thousands of digits: no decimal text of it
            version = "of more than 9 digits"
        return f"unknown X.509 version {version!r} (RFC 5280 clause 4.1.2.1: v1, v2 or v3)"
    if cert["signature_algorithm"].dump() != cert["tbs_certificate"]["signature"].dump():
        return "signatureAlgorithm differs from tbsCertificate.signature (RFC 5280 clause 4.1.1.2)"
    contents = cert["signature_value"].contents
    if not contents or contents[0] != 0:
        return "signatureValue BIT STRING has unused bits (RFC 5280 clause 4.1.1.3)"
    return None


def _classify(exc: Exception) -> tuple[Indication, SubIndication, str]:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, PathCheckError):
        return exc.indication, exc.sub_indication, exc.message
    if isinstance(exc, pv_errors.PathBuildingError):
        return Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, message
    if isinstance(exc, pv_errors.RevokedError):
        return Indication.TOTAL_FAILED, SubIndication.REVOKED, message
    if isinstance(exc, pv_errors.ExpiredError):
        return Indication.TOTAL_FAILED, SubIndication.EXPIRED, message
    if isinstance(exc, pv_errors.NotYetValidError):
        return Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID, message
    if isinstance(exc, pv_errors.StaleRevinfoError):
        return Indication.INDETERMINATE, SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE, message
    if isinstance(exc, pv_errors.InsufficientRevinfoError):
        return Indication.INDETERMINATE, SubIndication.TRY_LATER, f"{message} (no usable revocation data offline)"
    if isinstance(exc, pv_errors.DisallowedAlgorithmError):
        return Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, message
    if isinstance(exc, pv_errors.InsufficientPOEError):
        return Indication.INDETERMINATE, SubIndication.NO_POE, message
    if isinstance(exc, pv_errors.InvalidCertificateError):
        if message.startswith("The X.509 certificate provided is self-signed"):
            # find_valid_path's wording for "no path" when the input is self-signed and not an anchor
            return Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, message
        return Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message
    if isinstance(exc, pv_errors.PathValidationError):
        lowered = message.lower()
        if "signature" in lowered and ("could not be verified" in lowered or "do not match" in lowered):
            return Indication.TOTAL_FAILED, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, message
        return Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message
    return Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, message


def _validation_context(
    ctx: VerificationContext,
    crls: tuple[int, ...] | None,
    *,
    legacy_dsa: bool = False,
    policy: PolicyInputs | None = None,
) -> ValidationContext:
    """pyhanko's context for validating a certificate against ``ctx`` with the CRLs at positions ``crls`` (``None``:
    all; :func:`_crl_positions`): one per material, CRLs, validation time, profile and policy (and thread), kept in
    the memo, so that validations of several certificates against the same material at the same time share what
    pyhanko caches in it — the issuers of CRLs it has matched and checked, the certificates whose paths it has
    validated — as pyhanko intends a context to be reused."""
    key = (
        "validation-context",
        ctx.material_key,
        crls,
        ctx.validation_time.isoformat(),
        legacy_dsa,
        policy,
        threading.get_ident(),  # pyhanko's caches are not made for concurrent use
    )
    vc = ctx.memo.contexts.get(key)
    if vc is None:
        vc = _new_validation_context(ctx, legacy_dsa=legacy_dsa, crls=crls)
        ctx.memo.contexts.put(key, vc)
    return cast(ValidationContext, vc)


def _new_validation_context(
    ctx: VerificationContext, *, legacy_dsa: bool = False, crls: tuple[int, ...] | None = None
) -> ValidationContext:
    objects = ctx.crl_objects
    with asn1fix.scope():  # it indexes every certificate by name: the RDN memo applies
        return ValidationContext(
            trust_roots=[_trust_anchor(anchor, ctx) for anchor in ctx.anchors],
            other_certs=list(ctx.intermediates),
            crls=list(objects) if crls is None else [objects[i] for i in crls],
            ocsps=ocsp_screen.for_path_validator(ctx),  # only responders that may speak for the CA, revocations first
            moment=ctx.validation_time,
            allow_fetching=False,
            revocation_mode="require" if ctx.revocation == "required" else "hard-fail",
            retroactive_revinfo=True,
            signature_validator=_Signatures(
                SIGNATURE_VALIDATOR,
                _inherited_dsa_parameters([*ctx.anchors, *ctx.intermediates]) if legacy_dsa else None,
                ctx.memo,
            ),
            algorithm_usage_policy=algorithm_policy(legacy_dsa=legacy_dsa),
        )


def _trust_anchor(cert: x509.Certificate, ctx: VerificationContext) -> Any:
    """The RFC 5937-qualified anchor of ``cert`` (:func:`verifier.anchors.trust_anchor`), once per memo."""
    fingerprint = ctx.memo.fingerprint(cert)
    key_only = fingerprint in ctx.key_anchors
    key = ("trust-anchor", fingerprint, key_only)
    anchor = ctx.memo.facts.get(key)
    if anchor is None:
        anchor = anchors.key_anchor(cert) if key_only else anchors.trust_anchor(cert)
        ctx.memo.facts.put(key, anchor)
    return anchor


_Positions: TypeAlias = tuple[int, ...] | None  # positions in VerificationContext.crls; None: all


def _crl_positions(cert: x509.Certificate, ctx: VerificationContext) -> tuple[_Positions, _Positions]:
    """The positions in ``ctx.crls`` of the CRLs pyhanko could use for a certificate it checks while validating
    ``cert`` (:func:`_relevant_crls`: by issuer), and of those the ones that can be in scope for one by their issuing
    distribution point (:func:`_scoped_crls`); ``None`` for all of them."""
    scope = _scope(cert, ctx) if len(ctx.crls) > 1 else None
    if scope is None:
        return None, None
    relevant = _relevant_crls(cert, ctx, scope)
    return relevant, _scoped_crls(cert, ctx, scope, relevant)


def _relevant_crls(cert: x509.Certificate, ctx: VerificationContext, scope: tuple[set[str], list[str]]) -> _Positions:
    """The positions in ``ctx.crls`` of the CRLs pyhanko could use for any certificate it checks while validating
    ``cert``, or ``None`` for all of them.

    pyhanko checks every certificate against every CRL it holds; a CRL concerns certificate X only if its issuer is
    X's issuer, or is the subject of a certificate X's issuer issued (a delegated CRL issuer), or it is an indirect
    CRL (``revinfo/validate_crl.py``: the candidate issuers of ``_find_candidate_crl_paths`` and the scope test of
    ``_get_crl_scope_assuming_authority``); any other CRL only adds one to both its count of CRLs and its count of
    CRLs of another issuer, which cancel out in every decision. The certificates it checks are those of
    :func:`_scope` (``scope``). With OCSP responses (their responder certificates join the search), an indirect CRL,
    or anything unreadable, :func:`_scope` is ``None`` and every CRL is kept."""
    names, issuers = scope
    concerned = names | {subject for subject, issuer in _known(cert, ctx) if issuer in names}
    kept = tuple(i for i, issuer in enumerate(issuers) if issuer in concerned)
    return None if len(kept) == len(issuers) else kept


def _scoped_crls(
    cert: x509.Certificate, ctx: VerificationContext, scope: tuple[set[str], list[str]], relevant: _Positions
) -> _Positions:
    """Of the CRLs at ``relevant``, those that can be in scope (RFC 5280 clause 6.3.3 (b)(2)) for some certificate
    pyhanko may revocation-check while validating ``cert`` — ``cert`` and the anchors and intermediates that
    :func:`_scope` names (``scope``) —, or ``relevant`` itself when none is dropped or that cannot be told.

    A partitioned CA's CRL names its partition in its issuing distribution point and each certificate its partition
    in its distribution points: pyhanko finds the issuer of and checks the signature of every CRL it is given before
    its scope test puts another partition aside (:mod:`verifier.crlscope`). A CRL whose issuing distribution point
    shares no name with (or whose flags exclude) every such certificate is left out; a CRL without one, or whose
    scope :mod:`verifier.crlscope` cannot decide, and every CRL when a certificate's distribution points cannot be
    compared, are kept. Leaving out a CRL pyhanko would put aside changes neither a success nor a revocation, only
    the explanation of a failure to settle one (its list of CRLs that did not apply, and so whether the failure reads
    as stale data): :func:`_find_path` validates again with every CRL whenever the answer is neither."""
    names = scope[0]
    found: list[crlscope.Points] = []
    certs = (cert, *ctx.anchors, *ctx.intermediates)
    for index, (candidate, (subject, issuer)) in enumerate(zip(certs, _known(cert, ctx), strict=True)):
        if index and not {subject, issuer} & names:
            continue
        points = _points(candidate, ctx)
        if points is None:
            return relevant
        found.append(points)
    wanted = crlscope.Wanted.of(found)
    partitions = _partitions(ctx)
    positions = range(len(partitions)) if relevant is None else relevant
    kept = tuple(i for i in positions if (p := partitions[i]) is None or p.may_cover(wanted))
    return relevant if len(kept) == len(positions) else kept


def _scope(cert: x509.Certificate, ctx: VerificationContext) -> tuple[set[str], list[str]] | None:
    """The issuer names above ``cert`` — its issuer's, then the issuers' of every anchor or intermediate named like
    one of them, and so on — and every CRL's issuer (``Name.hashable``, what ``Name.__eq__`` compares); ``None`` when
    that cannot bound pyhanko's search: OCSP responses at hand, an indirect CRL, or anything unreadable.

    Every certificate pyhanko revocation-checks while validating ``cert`` — ``cert``, the certificates of its
    candidate paths, the CRL issuers and the certificates of their paths — is ``cert``, an anchor or an
    intermediate of ``ctx`` whose subject or issuer is one of these names."""
    if ctx.ocsps:
        return None
    try:
        known = _known(cert, ctx)
        issuers = []
        for der, crl in zip(ctx.crls, ctx.crl_objects, strict=True):
            issuer, indirect, _partition = _crl_facts(der, crl, ctx)
            if indirect:
                return None
            issuers.append(issuer)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
        return None
    names = {known[0][1]}
    while True:
        above = {issuer for subject, issuer in known if subject in names} - names
        if not above:
            return names, issuers
        names |= above


def _known(cert: x509.Certificate, ctx: VerificationContext) -> list[tuple[str, str]]:
    return [_names(c, ctx) for c in (cert, *ctx.anchors, *ctx.intermediates)]


def _names(cert: x509.Certificate, ctx: VerificationContext) -> tuple[str, str]:
    """``Name.hashable`` of a certificate's subject and issuer (what ``Name.__eq__`` compares), once per memo."""
    key = ("names", ctx.memo.fingerprint(cert))
    value = ctx.memo.facts.get(key)
    if value is None:
        with asn1fix.scope():  # the RDN memo keeps the normalised names for pyhanko's comparisons
            value = (cert.subject.hashable, cert.issuer.hashable)
        ctx.memo.facts.put(key, value)
    return cast(tuple[str, str], value)


def _points(cert: x509.Certificate, ctx: VerificationContext) -> crlscope.Points | None:
    """:func:`verifier.crlscope.points` of a certificate, once per memo."""
    key = ("crl-points", ctx.memo.fingerprint(cert))
    value = ctx.memo.facts.get(key)
    if value is None:
        value = (crlscope.points(cert),)
        ctx.memo.facts.put(key, value)
    return cast(tuple[crlscope.Points | None], value)[0]


def _partitions(ctx: VerificationContext) -> tuple[crlscope.Partition | None, ...]:
    """:func:`verifier.crlscope.partition` of every CRL of ``ctx``, once per tuple of CRLs."""

    def compute() -> tuple[crlscope.Partition | None, ...]:
        return tuple(_crl_facts(der, crl, ctx)[2] for der, crl in zip(ctx.crls, ctx.crl_objects, strict=True))

    return cast(tuple[crlscope.Partition | None, ...], ctx.shared("crl-partitions", compute, ctx.crls))


def _crl_facts(der: bytes, crl: Any, ctx: VerificationContext) -> tuple[str, bool, crlscope.Partition | None]:
    """A CRL's issuer (``Name.hashable``), whether it is indirect, and its partition (:func:`verifier.crlscope.
    partition`), once per memo; the first two read as pyhanko reads a CRL before it knows whether the CRL concerns a
    certificate (issuer, issuing distribution point, delta CRL indicator: an unreadable one keeps every CRL)."""
    key = ("crl-facts", ctx.memo.digest(der))
    value = ctx.memo.facts.get(key)
    if value is None:
        idp = crl.issuing_distribution_point_value
        crl.delta_crl_indicator_value  # noqa: B018 - read as pyhanko does (an unreadable one keeps every CRL)
        with asn1fix.scope():
            value = (
                crl.issuer.hashable,
                bool(idp is not None and idp["indirect_crl"].native),
                crlscope.partition(crl),
            )
        ctx.memo.facts.put(key, value)
    return cast(tuple[str, bool, crlscope.Partition | None], value)


async def _find_path(
    cert: x509.Certificate,
    ctx: VerificationContext,
    vc: ValidationContext,
    params: PKIXValidationParams,
    every_crl: Callable[[], ValidationContext] | None = None,
) -> CheckedPath:
    """The first candidate path (:class:`BoundedPaths`) that passes Huren's checks (:mod:`verifier.pathchecks`) and
    pyhanko-certvalidator's RFC 5280 validation; as ``pyhanko_certvalidator.find_valid_path`` does, the error of a
    failed search is the only candidate's, else the last one not about a signature, else the first.

    ``vc`` holds the CRLs that can be in scope (:func:`_scoped_crls`); when that left some out, ``every_crl`` gives
    the context with all of them, and each validation that ends neither valid nor revoked is done again with it
    (:func:`_settled`)."""
    paths = BoundedPaths(
        cert,
        trust_manager=vc.path_builder.trust_manager,
        registry=vc.certificate_registry,
        signature_validator=vc.sig_validator,
    )
    options = PathOptions(strict=ctx.strict, max_depth=ctx.max_depth)
    members = ctx.member_fingerprints

    def member(candidate: x509.Certificate) -> bool:
        return bool(members) and ctx.memo.fingerprint(candidate) in members

    def self_signed(candidate: x509.Certificate) -> bool:
        return _self_signed(candidate, vc)

    errors: list[pv_errors.ValidationError] = []
    found: CheckedPath | None = None
    try:
        async for candidate in paths:
            try:
                checked = check_candidate(
                    candidate, ctx.validation_time, options, member=member, self_signed=self_signed
                )
                await _settled(functools.partial(_validate_path, path=checked.path, params=params), vc, every_crl)
                found = checked
                break
            except pv_errors.ValidationError as exc:
                errors.append(exc)
            except NotImplementedError as exc:  # a name form or constraint pyhanko cannot process, met on a side path
                errors.append(pv_errors.ValidationError(f"the path cannot be validated here: {exc}"))
    except pv_errors.PathBuildingError:
        if cert.self_signed in {"yes", "maybe"}:
            raise pv_errors.InvalidCertificateError(
                f'The X.509 certificate provided is self-signed - "{cert.subject.human_friendly}"'
            ) from None
        raise
    finally:
        await paths.cancel()
    if found is None:
        if not errors:
            raise pv_errors.PathBuildingError(f'Unable to build a validation path for "{cert.subject.human_friendly}"')
        error = errors[0]
        if len(errors) > 1:
            error = next((e for e in reversed(errors) if "signature" not in str(e)), errors[0])
        if paths.stopped_by and not isinstance(error, pv_errors.PathBuildingError):
            error.args = (f"{error} (path search stopped at {paths.stopped_by} after {paths.emitted} paths)",)
            if isinstance(error, PathCheckError):
                error.message = str(error.args[0])
        raise error
    if ctx.revocation == "available":
        path = found.path
        await _settled(lambda v: _check_available_revocation(path, ctx, v), vc, every_crl)
    if ctx.ocsps:
        await _revocation_wins(found.path, ctx, vc)
    return found


_UNSETTLED: Final = (
    pv_errors.PathError,
    pv_errors.ValidationError,
    pv_errors.CRLValidationError,
    pv_errors.OCSPValidationError,
    NotImplementedError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    TrustError,
    UnsupportedAlgorithm,
)


async def _settled(
    check: Callable[[ValidationContext], Awaitable[object]],
    vc: ValidationContext,
    every_crl: Callable[[], ValidationContext] | None,
) -> None:
    """``check(vc)``; when it raises anything but a revocation and ``every_crl`` is given, ``check(every_crl())``
    instead, whose end (success or exception) stands.

    ``vc`` lacks only CRLs that pyhanko would find out of scope for every certificate it checks (:func:`_scoped_crls`):
    such a CRL never settles a certificate and never revokes one, so a success or a ``RevokedError`` is the same with
    or without it. A failure to settle revocation is not: pyhanko lists every CRL it put aside among the reasons, and
    calls the failure stale data only when nothing but freshness failed. Such ends (and any other failure) are
    worked out again as before, with every CRL of the issuers concerned."""
    if every_crl is None:
        await check(vc)
        return
    try:
        await check(vc)
    except pv_errors.RevokedError:
        raise
    except _UNSETTLED:
        await check(every_crl())


async def _validate_path(vc: ValidationContext, *, path: ValidationPath, params: PKIXValidationParams) -> None:
    await async_validate_path(vc, path, params)


def _self_signed(cert: x509.Certificate, vc: ValidationContext) -> bool:
    """Whether ``cert`` is signed by its own key (issuer equals subject and its signature verifies with its key)."""
    if cert.self_signed not in ("yes", "maybe"):
        return False
    try:
        vc.sig_validator.validate_signature(
            signature=cert["signature_value"].native,
            signed_data=cert["tbs_certificate"].dump(),
            public_key_info=cert.public_key,
            signature_algorithm=cert["signature_algorithm"],
        )
    except (InvalidSignature, pv_errors.ValidationError, TrustError, ValueError, TypeError, KeyError):
        return False
    return True


async def _revocation_wins(path: ValidationPath, ctx: VerificationContext, vc: ValidationContext) -> None:
    """A revocation seen in any authentic source fails the path, whatever another source said (issue 11, item 2).

    pyhanko settles a certificate with the first source that answers: an OCSP "good" ends the check, and the CRLs at
    hand are not read. So, once a path is valid, every certificate of it is checked again against every authorised
    OCSP response (:func:`verifier.ocsp.revocations`, including those pyhanko cannot check itself) and every CRL at
    hand (pyhanko's own CRL validation: issuer, signature, scope, freshness); a revocation found is the result. A
    source that cannot be used here (stale, out of scope, unverifiable) changes nothing: pyhanko's check decided
    whether the revocation data sufficed."""
    certs = list(path.iter_certs(include_root=True))
    for index in range(1, len(certs)):
        cert, issuer = certs[index], certs[index - 1]
        if not isinstance(cert, x509.Certificate):
            continue
        state = ValProcState(cert_path_stack=ConsList.sing(path), init_index=index)
        for answer, screened in ocsp_screen.revocations(ctx, cert, issuer):
            assert answer.revoked_at is not None
            raise pv_errors.RevokedError.format(
                reason=asn1_crl.CRLReason(answer.reason or "unspecified"),
                revocation_dt=answer.revoked_at,
                revinfo_type=f"OCSP response ({screened.why})",
                proc_state=state,
            )
        if ctx.crls:
            try:
                await verify_crl(cert, path, vc, proc_state=state)
            except pv_errors.RevokedError:
                raise
            except (pv_errors.CRLValidationError, pv_errors.PathValidationError, ValueError, TypeError):
                continue


async def _check_available_revocation(path: ValidationPath, ctx: VerificationContext, vc: ValidationContext) -> None:
    """Revocation data at hand for certificates that name no CRL distribution point and no OCSP responder.

    pyhanko's ``hard-fail`` checks only the sources a certificate names (its ``CHECK_IF_DECLARED`` rule skips even
    CRLs already in the context). Here every such certificate of the path is checked against the OCSP responses
    and the CRLs the context holds: a response or CRL that covers it decides (revoked fails); when CRLs of its
    issuer are present but none covers it (wrong scope, bad signature, stale), the result is INDETERMINATE as in
    hard-fail; when nothing at hand concerns it, there is nothing to check."""
    issuers = ctx.crl_issuers
    for index, cert in enumerate(path.iter_certs(include_root=False), start=1):
        if not isinstance(cert, x509.Certificate) or any(get_declared_revinfo(cert)):
            continue  # declared sources were checked by pyhanko (hard-fail)
        state = ValProcState(cert_path_stack=ConsList.sing(path), init_index=index)
        failures: list[str] = []
        if ctx.ocsps:
            try:
                await verify_ocsp_response(cert, path, vc, proc_state=state)
                continue
            except pv_errors.OCSPNoMatchesError:
                pass
            except pv_errors.OCSPValidationError as exc:
                failures.append(_revinfo_message(exc))
        direct = cert.issuer.hashable in issuers
        if not direct and "indirect" not in issuers:
            if failures:
                raise pv_errors.InsufficientRevinfoError.from_state(
                    f"The path could not be validated because the OCSP response for {state.describe_cert()} "
                    f"could not be used: {'; '.join(failures)}",
                    state,
                )
            continue
        try:
            await verify_crl(cert, path, vc, proc_state=state)
        except pv_errors.CRLNoMatchesError as exc:
            if direct or failures:
                raise pv_errors.InsufficientRevinfoError.from_state(
                    f"The path could not be validated because no CRL at hand from the issuer of "
                    f"{state.describe_cert()} covers it: {'; '.join([*failures, str(exc)])}",
                    state,
                ) from None
        except pv_errors.CRLValidationIndeterminateError as exc:
            message = (
                f"The path could not be validated because the revocation check of {state.describe_cert()} "
                f"failed: {'; '.join([*failures, _revinfo_message(exc)])}"
            )
            if exc.suspect_stale:
                raise pv_errors.StaleRevinfoError.format(message, exc.suspect_stale, state) from None
            raise pv_errors.InsufficientRevinfoError.from_state(message, state) from None
        except pv_errors.CRLValidationError as exc:
            raise pv_errors.InsufficientRevinfoError.from_state(
                f"The path could not be validated because the revocation check of {state.describe_cert()} "
                f"failed: {exc}",
                state,
            ) from None


def _revinfo_message(exc: Exception) -> str:
    """pyhanko's indeterminate CRL/OCSP errors carry (reason, CRL object) pairs: keep the reasons."""
    failures = getattr(exc, "failures", None)
    if isinstance(failures, list) and failures:
        reasons = [str(f[0]) if isinstance(f, tuple) else str(f) for f in failures]
        return f"{getattr(exc, 'msg', exc)} ({'; '.join(reasons)})"
    return str(getattr(exc, "msg", exc))


def _run(coroutine: Any) -> Any:
    with asn1fix.scope():  # Huren's own validation: the RDN comparison memo applies (trust.crypto.asn1fix)
        return asyncio.run(coroutine)


def verify_certificate(
    cert: x509.Certificate | bytes,
    ctx: VerificationContext,
    *,
    purpose: str | None = None,
    policy: PolicyInputs | None = None,
    legacy_dsa: bool = False,
    kind: str = "certificate",
) -> Report:
    """Validate one certificate; returns a report (a bad certificate is a result, not an exception).

    ``legacy_dsa`` selects the NIST PKITS conformance profile's algorithm policy (:func:`algorithm_policy`).

    The report is kept in the context's memo (:class:`verifier.context.Memo`) under the certificate, the context's
    material (:attr:`~verifier.context.VerificationContext.material_key`), the validation time and the options: the
    same question against the same material at the same time gets the same report without validating again."""
    if isinstance(cert, bytes):
        cert = ctx.memo.certificate(cert)
    purpose = purpose or ctx.purpose
    if purpose not in PURPOSES:
        raise InputError(f"unknown purpose {purpose!r}; one of {', '.join(sorted(PURPOSES))}")
    if purpose == "auto":
        purpose = "any"
    policy = policy or PolicyInputs()
    key = (
        ctx.memo.fingerprint(cert),
        ctx.material_key,
        ctx.validation_time.isoformat(),  # the report carries the time as given (its offset too)
        purpose,
        policy,
        legacy_dsa,
        kind,
        ctx.strict,
        ctx.max_depth,
    )
    report: Report | None = ctx.memo.reports.get(key)
    if report is None:
        report = _verify_certificate(cert, ctx, purpose, policy, legacy_dsa, kind)
        ctx.memo.reports.put(key, report)
    return report


_CURVES: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
CERTIFICATE_CHECKS: Final = ("parse", "path", "purpose", "trust-list")
"""The checks of a certificate as reported (``path`` may be reported by the path check that failed: ``anchor``,
``names``, ``profile``, ``max-depth``; ``trust-list-service`` follows ``trust-list`` for a service's leaf)."""


def _verify_certificate(
    cert: x509.Certificate, ctx: VerificationContext, purpose: str, policy: PolicyInputs, legacy_dsa: bool, kind: str
) -> Report:
    moment = ctx.validation_time
    report = ReportBuilder(kind, moment, name_text(cert.subject) or cert.subject.human_friendly)
    warnings = [*ctx.warnings, *ocsp_screen.ignored(ctx, [cert])]
    report.chain = (_link(cert, "input"),)
    problem = structure_problem(cert)
    if problem is not None:
        report.failed("parse", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, problem)
        report.not_run(CERTIFICATE_CHECKS, "the certificate's structure is not sound")
        return report.build(warnings=warnings)
    report.passed(
        "parse",
        f"X.509 {cert['tbs_certificate']['version'].native} certificate, serial {cx.serial_hex(cert.serial_number)}",
    )
    if not ctx.anchors:
        report.failed(
            "path",
            Indication.INDETERMINATE,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            "no trust anchor: give --bundle with pinned roots, or --anchor",
        )
        report.not_run(CERTIFICATE_CHECKS, "no path to a trust anchor")
        return report.build(warnings=warnings)
    key_usage, ext_key_usage = PURPOSES[purpose]
    relevant, scoped = _crl_positions(cert, ctx)
    vc = _validation_context(ctx, scoped, legacy_dsa=legacy_dsa, policy=policy)

    def every_crl() -> ValidationContext:
        return _validation_context(ctx, relevant, legacy_dsa=legacy_dsa, policy=policy)

    try:
        found = _run(_find_path(cert, ctx, vc, policy.pkix(), None if scoped == relevant else every_crl))
    except (
        pv_errors.PathError,
        pv_errors.ValidationError,
        pv_errors.CRLValidationError,
        pv_errors.OCSPValidationError,
        ValueError,
        TypeError,
        TrustError,
        # pyhanko checks a delegated OCSP responder (ocsp-nocheck) with its default signature validator, which
        # knows no SM2: pyca's UnsupportedAlgorithm escapes (tests/fuzz/regressions/ocsp-response)
        UnsupportedAlgorithm,
    ) as exc:
        indication, sub, message = _classify(exc)
        issued = utc_time(cert["tbs_certificate"]["validity"]["not_before"].native)
        if indication is Indication.INDETERMINATE and ctx.newer_than_bundle(issued):
            # no path, or no CRL of its CA: a CA enrolled after the bundle was made has neither in it (issue 13 item 6)
            message = f"{message}; {ctx.newer_bundle('the certificate', issued)}"
        name = exc.check if isinstance(exc, PathCheckError) else "path"
        if isinstance(exc, PathCheckError):
            report.details["rule"] = exc.rule
        report.failed(name, indication, sub, message)
        report.not_run(CERTIFICATE_CHECKS, "no valid path to a trust anchor")
        return report.build(warnings=warnings)
    path = found.path
    certs = list(path.iter_certs(include_root=True))
    for issuer in certs[:-1]:
        problem = structure_problem(issuer)
        if problem is not None:  # malleated encodings outside the signed part of a CA certificate
            message = f"{name_text(issuer.subject) or issuer.subject.human_friendly}: {problem}"
            report.failed("path", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message)
            report.not_run(CERTIFICATE_CHECKS, "no valid path to a trust anchor")
            return report.build(warnings=warnings)
    report.chain = tuple(
        _link(
            c,
            "anchor"
            if i == 0
            else "input"
            if i == len(certs) - 1
            else "trust-list"
            if ctx.trust_list and ctx.trust_list.find_by_certificate(c.dump())
            else "untrusted",
        )
        for i, c in enumerate(certs)
    )[::-1]
    report.passed(
        "path",
        f"{len(certs)} certificates to {report.chain[-1].subject}; signatures, "
        "validity, constraints, policies and revocation checked"
        + (f" (at most {ctx.max_depth} intermediate CAs)" if ctx.max_depth is not None else ""),
    )
    report.checks.extend(found.checks)
    try:
        if purpose == "generic":
            problem = generic_usage_problem(cert)
            if problem is not None:
                raise pv_errors.InvalidCertificateError(problem)
        elif key_usage or ext_key_usage:
            validate_usage(cert, set(key_usage), set(ext_key_usage), not ext_key_usage)
        names_problem = san.problem(cert, purpose)  # subject alternative name types per purpose (verifier.san)
        if names_problem is not None:
            raise pv_errors.InvalidCertificateError(names_problem)
        report.passed(
            "purpose",
            "generic: RFC 5280 document signature (keyUsage, if present, digitalSignature or nonRepudiation; "
            "extendedKeyUsage, if present, a document-signing purpose)"
            if purpose == "generic"
            else f"{purpose}: key usage {sorted(key_usage) or 'any'}, "
            f"extended key usage {sorted(ext_key_usage) or 'any'}",
        )
    except (pv_errors.InvalidCertificateError, pv_errors.PathValidationError) as exc:
        message = f"not usable for {purpose}: {exc}"
        report.failed("purpose", Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message)
        report.not_run(CERTIFICATE_CHECKS, f"the certificate may not be used for {purpose}")
        return report.build(warnings=warnings)
    _trust_list_checks(certs, ctx, purpose, report)
    return report.build(warnings=warnings)


def may_be_revoked(cert: x509.Certificate, ctx: VerificationContext) -> bool:
    """Whether the revocation data of ``ctx`` could make :func:`verify_certificate` of ``cert`` say ``REVOKED``.

    pyhanko-certvalidator reports a revocation only from an OCSP response that says so or from a CRL entry whose
    serial number is that of a certificate of the path (``find_cert_in_list`` compares the DER serial numbers first).
    Every certificate of any path, and of the path of any CRL issuer, is ``cert``, an anchor or an intermediate of
    ``ctx`` (those :func:`_scope` names, when it can); so with no OCSP response at hand and no CRL listing one of
    their serial numbers, no validation against ``ctx`` can end in ``REVOKED`` — at whatever time. ``True``
    whenever that cannot be shown."""
    if ctx.ocsps:
        return True
    try:
        listed = ctx.revoked_serials
        if listed is None:
            return True
        if not listed:
            return False
        candidates = [cert, *ctx.anchors, *ctx.intermediates]
        scope = _scope(cert, ctx)
        if scope is not None:
            names = scope[0]
            known = _known(cert, ctx)
            candidates = [
                c for c, (subject, issuer) in zip(candidates, known, strict=True) if {subject, issuer} & names
            ]
            candidates.append(cert)
        return any(bytes(c["tbs_certificate"]["serial_number"].dump()) in listed for c in candidates)
    except (TrustError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
        return True


def _trust_list_checks(
    certs: list[x509.Certificate], ctx: VerificationContext, purpose: str, report: ReportBuilder
) -> None:
    """Every CA of the path is a CA service of the trust list usable when it issued the next certificate; a leaf that
    is itself a service (``LEAF_SERVICE_FOR_PURPOSE``) is usable at the validation time. The first failure ends the
    checks (a CA that is not listed makes the standing of what it issued meaningless)."""
    trust_list = ctx.trust_list
    if trust_list is None:
        report.skipped("trust-list", "no bundle given: explicit anchors only")
        return
    # certs[0] is the root; certs[i] issued certs[i + 1].
    for i in range(1, len(certs) - 1):
        ca_cert, child = certs[i], certs[i + 1]
        issued_at = utc_time(child["tbs_certificate"]["validity"]["not_before"].native)
        standing = trust_list.standing(ca_cert.dump(), issued_at, "CA")
        name = name_text(ca_cert.subject)
        if standing.service is None:
            ca_issued = utc_time(ca_cert["tbs_certificate"]["validity"]["not_before"].native)
            if ctx.newer_than_bundle(ca_issued):  # a CA enrolled after the bundle was made
                message = f"CA {name}: {ctx.newer_bundle('its certificate', ca_issued)}"
                report.failed("trust-list", Indication.INDETERMINATE, SubIndication.TRY_LATER, message)
                return
            message = f"CA {name} is not a service of trust list {trust_list.sequence}"
            report.failed("trust-list", Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, message)
            return
        if not standing.usable:
            message = f"CA {name}: {standing.reason}"
            report.failed("trust-list", Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message)
            return
        report.passed(
            "trust-list",
            f"{standing.reason} (judged when it issued {'the leaf' if i == len(certs) - 2 else 'the next CA'})",
        )
    leaf_service = LEAF_SERVICE_FOR_PURPOSE.get(purpose)
    if leaf_service is not None:
        standing = trust_list.standing(certs[-1].dump(), ctx.validation_time, leaf_service)
        leaf_issued = utc_time(certs[-1]["tbs_certificate"]["validity"]["not_before"].native)
        if standing.service is None and ctx.newer_than_bundle(leaf_issued):
            message = f"{leaf_service}: {ctx.newer_bundle('the certificate', leaf_issued)}"
            report.failed("trust-list-service", Indication.INDETERMINATE, SubIndication.TRY_LATER, message)
            return
        if not standing.usable:
            message = f"{leaf_service}: {standing.reason}"
            report.failed(
                "trust-list-service", Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message
            )
            return
        report.passed("trust-list-service", standing.reason)
