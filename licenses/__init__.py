"""Electronic licences: catalogue, GB/T 36904 identifiers, tokens (JWS, SD-JWT), status lists, licence PDFs."""
