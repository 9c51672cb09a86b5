"""The format layer: pure encoders, decoders and signature checks, one module per standard, shared by issuance and
verification.

X.509 certificates (:mod:`~trust.formats.x509`, RFC 5280), CRLs (:mod:`~trust.formats.crl`), OCSP
(:mod:`~trust.formats.ocsp`, RFC 6960), CMS (:mod:`~trust.formats.cms`, RFC 5652 / GB/T 35275), time-stamps
(:mod:`~trust.formats.tsp`, RFC 3161), certification requests (:mod:`~trust.formats.csr`, RFC 2986), names
(:mod:`~trust.formats.names`), GB/T 38540 seals (:mod:`~trust.formats.ses`), JOSE (:mod:`~trust.formats.jose`),
SD-JWT (:mod:`~trust.formats.sdjwt`, RFC 9901; SD-JWT VC in :mod:`~trust.formats.sdjwt.vc`), Token Status Lists
(:mod:`~trust.formats.status_list`), licence tokens, identifiers, catalogue and face
(:mod:`~trust.formats.license_token`, :mod:`~trust.formats.identifiers` GB/T 36904,
:mod:`~trust.formats.license_catalogue`, :mod:`~trust.formats.license_face`), the trust list and the offline bundle
(:mod:`~trust.formats.trustlist`, :mod:`~trust.formats.bundle`), RFC 7523 client assertions
(:mod:`~trust.formats.client_assertion`), holder proofs (:mod:`~trust.formats.holder_proof`), and what text people
read may hold (:mod:`~trust.formats.text`: control, bidi and separator characters refused at issuance, escaped in
reports).

Imports only :mod:`trust.crypto` (import-linter checks it); no storage, no policy, no network, no HTTP.
"""
