"""Sealing OFD documents with a Huren seal (:func:`seal.ofd.seal_ofd`): Huren's own and those a region gives.

The seal must be usable now, exactly as for a GB/T 38540 signature over a hash (:func:`trust.service.seals.signing.
seal_signer`); the package is read (and refused if unsafe) before any key or the TSA is used; with ``timestamp`` the
national SM2 TSA time-stamps the signature value. Nothing is stored.
"""

from __future__ import annotations

import logging

from seal import ofd as seal_ofd
from trust.formats.ofd import document as ofd_document
from trust.formats.ofd import package as ofd_package
from trust.service.instance import Instance
from trust.service.seals import signing

log = logging.getLogger("trust.signing")


def seal_document(
    instance: Instance,
    ofd: bytes,
    *,
    es_id: str,
    placement: seal_ofd.Placement | None = None,
    anchor: str | None = None,
    timestamp: bool = True,
) -> bytes:
    """``ofd`` sealed by seal ``es_id`` (:func:`seal.ofd.seal_ofd`); the stamp at ``placement``, else centred on
    ``anchor``, else at the bottom right of the last page."""
    pkg = ofd_package.read(ofd)  # fail fast on a bad package, before the key and the TSA are used
    ofd_document.entry(pkg)
    seal_der, signer, cert_der = signing.seal_signer(instance, es_id)
    sealed = seal_ofd.seal_ofd(
        ofd,
        seal_der=seal_der,
        signer=signer,
        signer_cert=cert_der,
        placement=placement,
        anchor_text=anchor,
        timestamper=signing.timestamper(instance) if timestamp else None,
    )
    log.info("OFD of %d bytes sealed by seal %s", len(ofd), es_id)
    return sealed
