"""Pure data formats shared by issuance and verification: JOSE, the trust list and the offline bundle.

Imports only :mod:`trust.crypto`; no storage, no network, no HTTP.
"""
