"""Certificate authority: X.509 building and parsing (RFC 5280, GB/T 20518), profiles, CSRs, CRLs, OCSP
(RFC 6960) and time-stamping (RFC 3161). Builds on :mod:`trust.crypto` and :mod:`trust.formats` only."""
