"""Offline verification of certificates, seals, sealed PDFs and tokens, with ETSI EN 319 102-1 reports.

Imports only the crypto layer and pure format modules: never the database, the HTTP app or a network client
(import-linter contract "The verifier is offline and storage-free")."""

from trust.crypto import quiet

quiet.pyhanko_dsa_import()  # before any module of this package imports pyhanko.sign
