"""The crypto layer: the bottom of Huren's import graph (it imports nothing else of the project).

* :mod:`trust.crypto.algorithms` — signature algorithm descriptors (X.509 and JOSE identifiers).
* :mod:`trust.crypto.keys` — SM2, RSA and ECDSA keys behind one interface; DER, PEM, SPKI.
* :mod:`trust.crypto.signer` — the one :class:`Signer` interface every signing component takes.
* :mod:`trust.crypto.sm2`, :mod:`trust.crypto.sm3`, :mod:`trust.crypto.sm4` — the Chinese algorithms.
* :mod:`trust.crypto.pkcs8` — PBES2-encrypted PKCS#8; :mod:`trust.crypto.jwk` — JSON Web Keys.
* :mod:`trust.crypto.keystore` — the service's key store (encrypted files; PKCS#11-ready interface).
* :mod:`trust.crypto.oids` — SM2/SM3/GB/T 35275 OIDs, registered with asn1crypto here, once.
* :mod:`trust.crypto.errors` — the project's one error root and its stable codes.
"""

from trust.crypto import oids

oids.register()

from trust.crypto.algorithms import KeyFamily, SignatureAlgorithm  # noqa: E402
from trust.crypto.errors import InvalidSignature, TrustError  # noqa: E402
from trust.crypto.keys import (  # noqa: E402
    PrivateKey,
    PublicKey,
    generate_private_key,
    load_private_key,
    load_public_key,
)
from trust.crypto.signer import LocalSigner, Signer  # noqa: E402

__all__ = [
    "InvalidSignature",
    "KeyFamily",
    "LocalSigner",
    "PrivateKey",
    "PublicKey",
    "SignatureAlgorithm",
    "Signer",
    "TrustError",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
]
