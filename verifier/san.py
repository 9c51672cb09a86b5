"""Subject alternative names a certificate may carry for a purpose (issue 11, item 4).

Huren's profiles put DNS names only into TLS certificates and URIs into none (``ca.profiles``), and every region's CA
is constrained to its DNS namespace. The verifier holds any certificate to the same rules for the purposes that are
Huren's own, whoever issued it, so a CA that ignores them (one holding its own key) still fails:

* ``seal``, ``seal-maker``, ``identity``, ``license-issuer``, ``timestamping``, ``ocsp``: no ``dNSName``, no
  ``uniformResourceIdentifier``, no ``iPAddress`` name;
* ``tls-server``, ``tls-client``: ``dNSName`` and ``iPAddress`` names only;
* every URI of a certificate checked for one of those purposes must be ``http``/``https`` (never ``javascript:``).

``any``, ``ca`` and ``document-signing`` (foreign PDFs) are not restricted here; name constraints of the path apply to
every purpose (pyhanko-certvalidator, RFC 5280 clause 6.1.3 (b)).
"""

from __future__ import annotations

from typing import Final

from asn1crypto import x509

NO_HOST_NAMES: Final = frozenset({"seal", "seal-maker", "identity", "license-issuer", "timestamping", "ocsp"})
TLS: Final = frozenset({"tls-server", "tls-client"})
_HOST_TYPES: Final = {"dns_name": "DNS", "uniform_resource_identifier": "URI", "ip_address": "IP address"}


def problem(cert: x509.Certificate, purpose: str) -> str | None:
    """Why ``cert``'s subject alternative names do not fit ``purpose``, or None."""
    if purpose not in NO_HOST_NAMES and purpose not in TLS:
        return None
    names = cert.subject_alt_name_value
    if names is None:
        return None
    for name in names:
        kind = name.name
        if kind == "uniform_resource_identifier":
            uri = str(name.native)
            scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
            if scheme not in ("http", "https"):
                return f"subject alternative name URI {uri[:80]!r} is not an http(s) URI"
        if purpose in NO_HOST_NAMES and kind in _HOST_TYPES:
            shown = str(name.native)[:80]
            return f"a {purpose} certificate carries no {_HOST_TYPES[kind]} names, this one names {shown!r}"
        if purpose in TLS and kind not in ("dns_name", "ip_address"):
            return f"a {purpose} certificate names hosts only (DNS, IP), this one has a {kind} name"
    return None


__all__ = ["NO_HOST_NAMES", "TLS", "problem"]
