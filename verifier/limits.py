"""Bounds on what the verifier accepts and on the work it does for one input (every input is hostile).

Sizes are checked before parsing; the path search (:mod:`verifier.paths`) counts its work and stops with a
clear INDETERMINATE report when a budget is spent, so a crafted set of certificates can make verification
fail, never hang. Each limit is far above what an honest input needs: Huren's own chains have 2 or 3
certificates, NIST PKITS needs at most 5 below the anchor, a trust list a few hundred CA certificates.
"""

from __future__ import annotations

from typing import Final

# --- input sizes (checked before parsing) -----------------------------------------------------------------
MAX_EXTRA_CERTS: Final = 2000
"""Certificates given as path material (``--untrusted`` plus the trust list's CA services), after dedup."""
MAX_EXTRA_BYTES: Final = 32 * 1024 * 1024
"""Total size of all ``--untrusted`` files together."""
MAX_ANCHORS: Final = 256
"""Explicit trust anchors (``--anchor``) plus the roots a trust list names."""
MAX_CRLS: Final = 512
MAX_TOTAL_CRL_BYTES: Final = 64 * 1024 * 1024
"""All ``--crl`` files together (one CRL: ``trust.formats.crl.MAX_CRL_BYTES``)."""
MAX_OCSPS: Final = 512
MAX_OCSP_BYTES: Final = 1024 * 1024
MAX_PEM_BLOCKS: Final = MAX_EXTRA_CERTS
"""PEM blocks read from one file (all types counted), so a file of tiny blocks cannot cost unbounded work."""

# --- path search (RFC 5280 clause 6.1 paths are built before they are validated) ---------------------------
MAX_PATH_CERTS: Final = 10
"""Certificates of a path below the trust anchor, leaf included."""
MAX_DEPTH: Final = MAX_PATH_CERTS - 1
"""The largest ``--max-depth`` (HTTP ``max_depth``): intermediate CA certificates between the anchor and the leaf.
A smaller maximum is the caller's choice; self-issued intermediates are not counted against it (RFC 5280 path
length), but every certificate counts against :data:`MAX_PATH_CERTS`."""
MAX_PATHS: Final = 16
"""Candidate paths handed to RFC 5280 validation; the first one that validates wins."""
MAX_NODES: Final = 512
"""Certificates expanded (issuers looked up) during one path search."""
MAX_SIGNATURE_CHECKS: Final = 4096
"""Signatures checked to rank issuer candidates that share a name (only where a name is ambiguous)."""
MAX_UNVERIFIED_LINKS: Final = 1
"""Links per path whose signature did not verify while ranking: one is kept so that a bad signature is
reported as such (PKITS 4.1.2/4.1.3), more would only multiply hopeless paths."""
