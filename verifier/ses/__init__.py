"""Offline verification of GB/T 38540-2020 seals (SESeal version 4, GM/T 0031-2025 version 5, GM/T 0031-2014
version 1) and GB/T 38540 signatures (``SES_Signature``), with ETSI EN 319 102-1 reports.

Stable API (``verifier.api`` and ``verifier.pdf`` rely on it), one module per concern:

* :func:`verifier.ses.seal.verify_seal` ``(seal_der, ctx, *, at=None, proof=None) -> Report`` — kind ``seal``; ``at`` is
  the time the seal's validity window is judged at (default: the context's validation time; a sealed PDF passes its
  signing time); ``proof`` (a :class:`verifier.ses.checks.Proof`) is the earliest proof that the seal existed, if the
  caller has one (the time-stamp of the PDF signature that carries it). :func:`~verifier.ses.seal.verify_parsed_seal` is
  the same for a seal the caller has already parsed with :func:`trust.formats.ses.parse_seal`.
* :func:`verifier.ses.seal.seal_checks` ``(seal, ctx, at, *, prefix="", proof=None) -> list[Check]`` — the checks of a
  parsed seal (:func:`trust.formats.ses.parse_seal`) in order; every check that is not passed is a
  :class:`verifier.report.Finding` carrying its indication and sub-indication. :func:`verifier.report.bottom_line`
  turns such a list into the bottom line.
* :func:`verifier.ses.signature.verify_ses_signature` ``(sig_der, ctx, *, signed_data=None) -> Report`` — kind
  ``ses-signature``; :func:`verifier.ses.received.parse_signature` reads one in either encoding of its optional ``[0]``
  fields.

Unreadable input (garbage, truncated, oversized, not a seal/signature at all) raises
:class:`~trust.crypto.errors.InputError` (the CLI's exit 3); everything that parses becomes a report. Signatures are
checked over the bytes as received, sliced from the input (never over a re-encoding). This package imports only
the crypto layer, pure format modules (``trust.formats.x509``, ``trust.formats.tsp``, ``trust.formats.ses``) and the
verifier; it never imports the signing code (:mod:`seal.signature`).

The other modules: :mod:`verifier.ses.certificates` (signature values, certificates at a claimed time and at the
proof of existence), :mod:`verifier.ses.timestamps` (RFC 3161 tokens and the trust-list TSA service),
:mod:`verifier.ses.pictures` (the seal picture decodes as its declared type).

Signing time (decision): ``timeInfo`` is the signer's claim and the time everything is judged at, as GB/T 38540
says (the seal's window, the signer certificate's chain); the maker is judged at the seal's ``createDate``, the
maker's claim. A claim is not a proof (the signer writes it, and can backdate it), so, as for a PAdES B-B signature
(:mod:`verifier.pdf.verify`, ETSI EN 319 102-1 past signature validation), the signer's path and the seal's window
must also last until the earliest proof of existence: a certificate of the signer's path that expired before it, or a
seal whose ``validEnd`` is before it, is INDETERMINATE / OUT_OF_BOUNDS_NO_POE (issue sespoe; the maker's certificate
is judged at ``createDate`` only). Revocation is also judged at the earliest proof of existence — genTime of
a valid time-stamp (the signature's; for a seal its own version-5 time-stamp, else the one of the signature that
carries it, else the caller's ``proof``), otherwise the validation time. A time-stamp is valid only if its TSA path
was valid at genTime and is still unexpired and unrevoked at the validation time (:mod:`verifier.ses.timestamps`,
issue sesltv): genTime is the TSA's own word. As for revocation: a certificate revoked before the claimed
time is TOTAL_FAILED / REVOKED; revoked after the claim but before the proof, INDETERMINATE / REVOKED_NO_POE (ETSI
EN 319 102-1 clause 5.2.6); revoked after the proof, still valid. A claimed time later than the genTime that covers
it (beyond :data:`verifier.ses.checks.CLOCK_SKEW`) is false (TOTAL_FAILED / SIG_CONSTRAINTS_FAILURE), and so is a
timeInfo after the validation time. Trust-list standing is judged at the claimed time, as for certificates
(``docs/VERIFIER.md``, "Withdrawal").
"""
