"""Build PKCS#10 requests in tests with the project's own keys (signed with SM2's default ID)."""

from __future__ import annotations

from asn1crypto import csr as asn1_csr
from asn1crypto import pem as asn1_pem

from ca.names import DN
from trust.crypto.keys import PrivateKey


def make_csr(key: PrivateKey, subject: DN, *, pem: bool = True, tamper: bool = False) -> bytes:
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": subject.to_asn1(),
            "subject_pk_info": key.public_key.spki,
            "attributes": [],
        }
    )
    algorithm = key.public_key.default_algorithm()
    signature = key.sign(info.dump(), algorithm)
    if tamper:
        signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
    request = asn1_csr.CertificationRequest(
        {"certification_request_info": info, "signature_algorithm": algorithm.x509_identifier(), "signature": signature}
    )
    der = request.dump()
    return bytes(asn1_pem.armor("CERTIFICATE REQUEST", der)) if pem else der
