"""Issuance and revocation over storage: the CA's operations, given a database session and a key store.

Issuance discipline (after Boulder): **check → sign → persist**, all in the caller's one database transaction.

1. Check: the CA is active and may issue this profile; the profile accepts the key and the subject; the
   subject lies inside the CA's name constraints; validity is clamped to the issuer's.
2. Sign once with the CA's :class:`~trust.crypto.signer.Signer`, with a fresh random 159-bit serial; the
   certificate is verified against the CA's key before use.
3. Persist: the complete row is inserted with one statement — the unique constraint on ``certificate.serial`` (and
   ``crl.(ca_id, number)``) is the arbiter across processes; a serial found taken (astronomically rare) is signed
   again with another, and the certificate with the taken serial never leaves the transaction's code. The caller
   commits. Any exception before the commit rolls everything back: no record, no consumed serial, no CRL number
   gap. Keys the service generates for a subject are written to the key
   store only after signing succeeded, and removed again if the transaction fails (:func:`issue` returns
   a ``cleanup`` action for that).

Roots sign only CA certificates and CRLs (and, in ``trust.service``, the trust list); they never issue
end-entity certificates or OCSP responses.

One module per concern: :mod:`ca.authority.records` (CA rows, endpoints, serials), :mod:`ca.authority.keys` (CA
signers, subject keys), :mod:`ca.authority.discipline` (sign → persist), :mod:`ca.authority.hierarchy`
(roots, sub-CAs, re-keying, chains), :mod:`ca.authority.issuance` (end entities) and :mod:`ca.authority.revocation`
(revocation), :mod:`ca.authority.crls` (the main CRL and the CRL partitions). The names below are its API.
"""

from __future__ import annotations

from ca.authority.crls import (
    DELTA_REBASE_ENTRIES,
    SHARD_CAPACITY,
    covering_crl,
    current_crls,
    delta_uri,
    generate_crl,
    partitions,
    refresh_partitions,
    retired_signing_keys,
)
from ca.authority.discipline import DuplicateRequest
from ca.authority.hierarchy import (
    KIND_PROFILES,
    REKEY_COPIED_EXTENSIONS,
    adopt_certificate,
    adopt_rekey,
    adopt_sub_ca,
    ca_scope,
    chain,
    chain_for_certificate,
    create_root,
    create_sub_ca,
    key_history,
    namespaces,
    rekey_builder,
    rekey_sub_ca,
    sub_ca_builder,
)
from ca.authority.issuance import (
    StaleSnapshot,
    check_in_scope,
    ensure_ocsp_responder,
    issue,
    issue_from_csr,
    list_certificates,
)
from ca.authority.keys import (
    algorithm_for,
)
from ca.authority.records import (
    BACKDATE,
    CRL_VALIDITY,
    ROOT_VALIDITY,
    SUB_CA_VALIDITY,
    Endpoints,
    Issued,
    ca_certificate,
    get_ca,
    load_ca,
    new_serial,
)
from ca.authority.revocation import (
    current_crl,
    find_certificate,
    release_hold,
    retired_crls,
    revoke,
)

__all__ = [
    "BACKDATE",
    "CRL_VALIDITY",
    "DELTA_REBASE_ENTRIES",
    "KIND_PROFILES",
    "REKEY_COPIED_EXTENSIONS",
    "ROOT_VALIDITY",
    "SHARD_CAPACITY",
    "SUB_CA_VALIDITY",
    "DuplicateRequest",
    "Endpoints",
    "Issued",
    "StaleSnapshot",
    "adopt_certificate",
    "adopt_rekey",
    "adopt_sub_ca",
    "algorithm_for",
    "ca_certificate",
    "ca_scope",
    "chain",
    "chain_for_certificate",
    "check_in_scope",
    "covering_crl",
    "create_root",
    "create_sub_ca",
    "current_crl",
    "current_crls",
    "delta_uri",
    "ensure_ocsp_responder",
    "find_certificate",
    "generate_crl",
    "get_ca",
    "issue",
    "issue_from_csr",
    "key_history",
    "list_certificates",
    "load_ca",
    "namespaces",
    "new_serial",
    "partitions",
    "refresh_partitions",
    "rekey_builder",
    "rekey_sub_ca",
    "release_hold",
    "retired_crls",
    "retired_signing_keys",
    "revoke",
    "sub_ca_builder",
]
