"""The keys of the CA's operations: the signer of a CA (from the key store), new keys for subjects, storing them with a
cleanup for a failed transaction.
"""

from __future__ import annotations

from ca.authority.records import Issued
from ca.models import CertificateAuthority
from trust.crypto.algorithms import RSA_PKCS1_SHA256, SM2_SM3, KeyFamily, SignatureAlgorithm
from trust.crypto.errors import ConflictError, InputError
from trust.crypto.keys import PrivateKey, generate_private_key
from trust.crypto.keystore import KeyStore
from trust.crypto.signer import Signer


def algorithm_for(family: str) -> SignatureAlgorithm:
    if family == KeyFamily.SM2.value:
        return SM2_SM3
    if family == KeyFamily.RSA.value:
        return RSA_PKCS1_SHA256
    raise InputError(f"CAs sign with SM2 or RSA keys, not {family}")


def ca_signer(keystore: KeyStore, ca: CertificateAuthority) -> Signer:
    if ca.key_id is None:
        raise ConflictError(f"CA {ca.id} holds its own key (enrolled from a CSR); Huren cannot sign for it")
    return keystore.signer(ca.key_id, algorithm_for(ca.family))


def new_key(family: str, *, ca: bool) -> PrivateKey:
    if family == KeyFamily.SM2.value:
        return generate_private_key("sm2")
    if family == KeyFamily.RSA.value:
        return generate_private_key("rsa-4096" if ca else "rsa-2048")
    if family == KeyFamily.EC.value:
        return generate_private_key("ec-p256")
    raise InputError(f"unknown key family {family!r}; SM2, RSA or EC")


def store_key(keystore: KeyStore, key: PrivateKey, label: str, issued: Issued | None = None) -> str:
    info = keystore.import_key(key, label=label)
    if issued is not None:
        issued.cleanups.append(lambda: keystore.discard(info.key_id))
    return info.key_id
