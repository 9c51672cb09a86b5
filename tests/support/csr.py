"""Build PKCS#10 requests in tests with the project's own keys (signed with SM2's default ID)."""

from __future__ import annotations

from asn1crypto import csr as asn1_csr
from asn1crypto import pem as asn1_pem

from trust.crypto.keys import PrivateKey
from trust.formats import csr
from trust.formats.names import DN


def make_csr(key: PrivateKey, subject: DN, *, pem: bool = True, tamper: bool = False) -> bytes:
    der = csr.build(key, subject)
    if tamper:
        request = asn1_csr.CertificationRequest.load(der)
        signature = request["signature"].native
        der = asn1_csr.CertificationRequest(
            {
                "certification_request_info": request["certification_request_info"],
                "signature_algorithm": request["signature_algorithm"],
                "signature": signature[:-1] + bytes([signature[-1] ^ 0x01]),
            }
        ).dump()
    return bytes(asn1_pem.armor("CERTIFICATE REQUEST", der)) if pem else der
