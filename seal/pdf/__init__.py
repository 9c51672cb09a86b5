"""PAdES sealing of PDF documents (ETSI EN 319 142-1 baseline levels B-B, B-T, B-LT, B-LTA) with pyHanko,
SM2/SM3 added through pyHanko's one signing extension point (``Signer.async_sign_raw``).

**Stable API** (exported here) — other modules and the PDF verifier's tests build on these; keep them compatible:
:func:`seal_pdf`, :class:`SealSigner`, :class:`Placement`, :class:`RevocationData`, :class:`HurenPdfSigner`,
:class:`CallableTimeStamper`, :data:`SESEAL_ATTRIBUTE_OID` / :data:`SESEAL_ATTRIBUTE`, :func:`seseal_attribute_value`
and the error classes below. Pure with respect to storage: signers, certificates, time-stampers and revocation
data are arguments; nothing here opens a database or a socket.

What a seal signature is (decisions):

* ``/SubFilter /ETSI.CAdES.detached`` (ISO 32000-2 clause 12.8.3.4, PAdES), one CMS ``SignedData`` with the
  signer certificate and its chain, ``signingCertificateV2``, no ``signingTime`` (PAdES forbids it; the
  time of a B-B seal is the claimed ``/M``), and the **SESeal signed attribute**:
  ``huren_seseal`` = :data:`SESEAL_ATTRIBUTE_OID` (1.3.6.1.4.1.32473.1.2.1, Huren's documentation arc,
  ``docs/OIDS.md``), ``values = SET { OCTET STRING (DER SESeal) }``. Being signed, it binds the GB/T 38540
  seal (esID, picture, permitted signer certificates, validity, maker's signature) to the signature; the
  signer certificate must be one of the seal's ``certList`` (checked here before signing).
* Algorithms: SM2 with SM3 (``signatureAlgorithm`` 1.2.156.10197.1.501, parameters absent, GB/T 35275 /
  GB/T 20518; digest SM3; the GB/T 35276 default user ID — verifiers know no other), RSA PKCS#1 v1.5 or PSS with
  SHA-256/384/512, ECDSA with SHA-256/384. pyHanko hands :meth:`HurenPdfSigner.async_sign_raw` the DER of the
  signed attributes (not a hash); the project :class:`~trust.crypto.signer.Signer` hashes it as its algorithm
  says (for SM2: ``SM3(Z || M)``). Every signature is verified with the certificate's key before it is embedded.
* Levels: **B-B** no time-stamp; **B-T** a signature time-stamp (RFC 3161, over the signature value, imprint in
  the signature's digest: SM3 for SM2 seals from the SM2 TSA, SHA-256 for RSA seals from the RSA TSA);
  **B-LT** B-T plus the certificates, CRLs and OCSP responses of the signer's, the TSA's and the SESeal maker's
  chains in the document security store (DSS), gathered offline from :class:`RevocationData`
  (``allow_fetching=False``; SM2 chains checked with :data:`trust.crypto.certvalidator.SIGNATURE_VALIDATOR`; the
  seal fails if the chain does not validate with that data). The data go into a DSS revision *before* the
  signature (so the signature covers them; pyHanko alone would not collect the maker's chain), then pyHanko's
  own DSS update after it adds the validation paths and VRI entries. **B-LTA**: B-LT plus a document time-stamp
  after the DSS.
* Visible seal: the vector seal picture (one-page PDF from :mod:`seal.picture`) imported as a form XObject
  into the widget's appearance — vectors and the subset CJK font stay as they are, no rasterising. Placed by
  page and box, or centred on a text anchor (:mod:`seal.anchor`). No border, no text of pyHanko's.
* Several seals: every seal is an incremental update (ISO 32000-2 clause 7.5.6); nothing before it changes,
  so earlier signatures stay valid. Field names ``Seal1``, ``Seal2``, … (first free), or the caller's.
* **Dual seal** (one SM2 and one RSA/ECDSA signature, one operation): the SM2 signature first — its widget
  carries the visible seal — then the RSA/ECDSA signature in a second field whose widget lies on the same
  rectangle with an empty (transparent) appearance. The picture is drawn once; clicking it in a standard
  viewer opens the RSA signature (the top widget), which covers the whole file including the SM2 signature
  and the seal's appearance, so viewers that cannot check SM2 still report "total document signed". National
  verifiers check the SM2 signature and see the later revision as an added signature only. Field names
  ``SealN-SM2`` and ``SealN-RSA`` (``-EC`` for ECDSA). At B-LTA one document time-stamp (the last signer's
  TSA, RSA for dual seals) follows both signatures and their DSS updates.

Bad input raises a specific :class:`~trust.crypto.errors.TrustError` before anything is signed or time-stamped:
:class:`PdfFormatError` (not a PDF, broken structure), :class:`PdfEncryptedError`, :class:`PageOutOfRange`,
:class:`~seal.anchor.AnchorNotFound`, :class:`PlacementError`, :class:`SealBindingError` (signer certificate not
permitted by the seal), :class:`~trust.crypto.errors.InputError` for arguments that do not fit.

Modules: :mod:`seal.pdf.document` (the input PDF, placement, appearance), :mod:`seal.pdf.attribute` (the SESeal
signed attribute), :mod:`seal.pdf.signer` (pyHanko signer and time-stamper over the project's ``Signer``) and
:mod:`seal.pdf.sealing` (:func:`seal_pdf`).
"""

from __future__ import annotations

from seal.pdf.attribute import (
    SESEAL_ATTRIBUTE,
    SESEAL_ATTRIBUTE_OID,
    register_seseal_attribute,
    seseal_attribute_value,
)
from seal.pdf.document import (
    MAX_PDF_BYTES,
    PageOutOfRange,
    PdfDocument,
    PdfEncryptedError,
    PdfFormatError,
    Placement,
    PlacementError,
    open_pdf,
    parse_box,
    resolve_placement,
)
from seal.pdf.sealing import (
    LEVELS,
    Level,
    RevocationData,
    SealBindingError,
    SealSigner,
    async_seal_pdf,
    check_seal_binding,
    seal_pdf,
)
from seal.pdf.signer import (
    CallableTimeStamper,
    HurenPdfSigner,
)

__all__ = [
    "LEVELS",
    "MAX_PDF_BYTES",
    "SESEAL_ATTRIBUTE",
    "SESEAL_ATTRIBUTE_OID",
    "CallableTimeStamper",
    "HurenPdfSigner",
    "Level",
    "PageOutOfRange",
    "PdfDocument",
    "PdfEncryptedError",
    "PdfFormatError",
    "Placement",
    "PlacementError",
    "RevocationData",
    "SealBindingError",
    "SealSigner",
    "async_seal_pdf",
    "check_seal_binding",
    "open_pdf",
    "parse_box",
    "register_seseal_attribute",
    "resolve_placement",
    "seal_pdf",
    "seseal_attribute_value",
]
