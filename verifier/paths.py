"""Bounded certification path building (RFC 4158 style) for pyhanko-certvalidator's RFC 5280 validation.

pyhanko's own path builder walks every simple path through the certificates it holds, depth first and
without limits: a thousand same-name CA certificates that are self-issued (issuer = subject) give more paths
than can ever be enumerated, and even a thousand plain impostors of one CA cost a thousand full validations.
:class:`BoundedPaths` yields the same :class:`~pyhanko_certvalidator.path.ValidationPath` objects to
:func:`pyhanko_certvalidator.find_valid_path`, which validates them (signatures, validity, constraints,
policies, revocation) exactly as before, but:

1. trust anchors that may have issued a certificate come first (a path ends at the first anchor);
2. where several non-anchor certificates could have issued a certificate (same name, key identifiers that do
   not tell them apart) they are ranked by checking the certificate's signature with each candidate's key:
   issuers whose key verifies come first; of those that do not verify only the first is followed, and at most
   :data:`~verifier.limits.MAX_UNVERIFIED_LINKS` link per path may be such a one (so a bad signature is still
   reported as a bad signature, but impostors cannot multiply the paths);
3. a path has at most :data:`~verifier.limits.MAX_PATH_CERTS` certificates below its anchor, never repeats a
   certificate (issuer and serial number), and the whole search stops after
   :data:`~verifier.limits.MAX_PATHS` paths, :data:`~verifier.limits.MAX_NODES` expanded certificates or
   :data:`~verifier.limits.MAX_SIGNATURE_CHECKS` ranking signatures; :attr:`BoundedPaths.stopped_by` says
   which limit ended it.

Nothing is fetched: the candidates are the anchors and the certificates registered in the validation context.
"""

from __future__ import annotations

from collections.abc import Iterator

from asn1crypto import x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.authority import AuthorityWithCert, TrustAnchor
from pyhanko_certvalidator.errors import PathBuildingError
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.registry import CertificateRegistry, TrustManager
from pyhanko_certvalidator.sig_validate import SignatureValidator
from pyhanko_certvalidator.util import CancelableAsyncIterator

from trust.crypto.errors import TrustError
from verifier import limits


class _Stop(Exception):
    """A search budget is spent (internal; ends the search)."""


class BoundedPaths(CancelableAsyncIterator[ValidationPath]):
    """Candidate paths for ``leaf``, best first, within :mod:`verifier.limits`."""

    def __init__(
        self,
        leaf: x509.Certificate,
        *,
        trust_manager: TrustManager,
        registry: CertificateRegistry,
        signature_validator: SignatureValidator,
    ) -> None:
        self._leaf = leaf
        self._trust = trust_manager
        self._registry = registry
        self._signatures = signature_validator
        self._verdicts: dict[tuple[bytes, bytes], bool] = {}
        self._nodes = 0
        self._checks = 0
        self.emitted = 0
        self.stopped_by: str | None = None
        self._dead_end: tuple[x509.Certificate, int] | None = None
        self._too_long = False
        self._search: Iterator[ValidationPath] | None = self._paths()

    # --- the async iterator protocol find_valid_path() uses ----------------------------------------------------

    async def __anext__(self) -> ValidationPath:
        if self._search is None:
            raise StopAsyncIteration
        if self.emitted >= limits.MAX_PATHS:
            self.stopped_by = f"the limit of {limits.MAX_PATHS} candidate paths"
            self._search = None
            raise StopAsyncIteration
        try:
            path = next(self._search)
        except StopIteration:
            self._search = None
            if self.emitted == 0:
                raise PathBuildingError(self._no_path_message()) from None
            raise StopAsyncIteration from None
        self.emitted += 1
        return path

    async def cancel(self) -> None:
        self._search = None

    # --- the search --------------------------------------------------------------------------------------------

    def _no_path_message(self) -> str:
        subject = self._leaf.subject.human_friendly
        if self.stopped_by:
            return (
                f'Unable to build a validation path for the certificate "{subject}": the search stopped at '
                f"{self.stopped_by}"
            )
        if self._too_long and self._dead_end is None:
            return (
                f'Unable to build a validation path for the certificate "{subject}": no path of at most '
                f"{limits.MAX_PATH_CERTS} certificates below a trust anchor"
            )
        cert, skipped = self._dead_end or (self._leaf, 0)
        missing = cert.issuer.human_friendly
        if skipped:
            return (
                f'Unable to build a validation path for the certificate "{subject}" - no certificate named '
                f'"{missing}" has a key that verifies the signature of "{cert.subject.human_friendly}" '
                f"({skipped} candidates refused)"
            )
        return (
            f'Unable to build a validation path for the certificate "{subject}" - no issuer matching '
            f'"{missing}" was found'
        )

    def _paths(self) -> Iterator[ValidationPath]:
        as_anchor = self._trust.as_trust_anchor(AuthorityWithCert(self._leaf))
        if as_anchor is not None:  # the input is itself an anchor (as pyhanko's own builder does)
            yield ValidationPath(as_anchor, [], None)
            return
        try:
            yield from self._walk([self._leaf], {self._leaf.issuer_serial}, 0)
        except _Stop as stop:
            self.stopped_by = str(stop)

    def _walk(self, path: list[x509.Certificate], seen: set[str], unverified: int) -> Iterator[ValidationPath]:
        self._nodes += 1
        if self._nodes > limits.MAX_NODES:
            raise _Stop(f"the limit of {limits.MAX_NODES} certificates examined")
        cert = path[-1]
        found = False
        for anchor in self._trust.find_potential_issuers(cert):
            found = True
            yield ValidationPath(anchor, path[:0:-1], path[0])
        if len(path) >= limits.MAX_PATH_CERTS:
            self._too_long = True
            return
        tried_unverified = False
        skipped = 0
        for issuer, verified in self._ranked_issuers(cert, seen):
            if verified is False:
                # one unverified issuer per certificate, and MAX_UNVERIFIED_LINKS per path: enough to report a bad
                # signature as such, never a fan-out over impostors
                if tried_unverified or unverified >= limits.MAX_UNVERIFIED_LINKS:
                    skipped += 1
                    continue
                tried_unverified = True
            found = True
            yield from self._walk([*path, issuer], seen | {issuer.issuer_serial}, unverified + (verified is False))
        if not found and self._dead_end is None:
            self._dead_end = (cert, skipped)

    def _ranked_issuers(self, cert: x509.Certificate, seen: set[str]) -> Iterator[tuple[x509.Certificate, bool | None]]:
        """Non-anchor certificates that may have issued ``cert``: (issuer, signature verified?), those that verify
        first, each as soon as it is found (so the search ends without checking the rest when it leads to a valid
        path); None = not checked (a single candidate needs no ranking)."""
        candidates = [
            issuer
            for issuer in self._registry.find_potential_issuers(cert, self._trust)
            if not isinstance(issuer, TrustAnchor) and issuer.issuer_serial not in seen
        ]
        if len(candidates) <= 1:
            yield from ((issuer, None) for issuer in candidates)
            return
        unverified = []
        for issuer in candidates:
            if self._verifies(cert, issuer):
                yield issuer, True
            else:
                unverified.append(issuer)
        yield from ((issuer, False) for issuer in unverified)

    def _verifies(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        key = (cert.sha256, issuer.sha256)
        verdict = self._verdicts.get(key)
        if verdict is not None:
            return verdict
        self._checks += 1
        if self._checks > limits.MAX_SIGNATURE_CHECKS:
            raise _Stop(f"the limit of {limits.MAX_SIGNATURE_CHECKS} signature checks")
        try:
            self._signatures.validate_signature(
                signature=cert["signature_value"].native,
                signed_data=cert["tbs_certificate"].dump(),
                public_key_info=issuer.public_key,
                signature_algorithm=cert["signature_algorithm"],
            )
            verdict = True
        except (InvalidSignature, TrustError, ValueError, TypeError, KeyError, NotImplementedError):
            verdict = False  # includes keys whose DSA parameters are inherited: validation proper decides
        self._verdicts[key] = verdict
        return verdict
