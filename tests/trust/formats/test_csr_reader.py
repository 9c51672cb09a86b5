"""The CSR reader parses what issuance reads (issue 15 item 5): the proof of possession is still checked on every
request, and an encoding error anywhere it reads — or in the subject when the subject is read — is a clear
``EncodingError``, never a traceback."""

from __future__ import annotations

import pytest
from asn1crypto import csr as asn1_csr

from trust.crypto.errors import EncodingError, InvalidSignature, TrustError
from trust.crypto.keys import PrivateKey, generate_private_key
from trust.formats import csr
from trust.formats.names import DN

SUBJECT = DN(province="浙江省", common_name="读取测试", serial_number="330106199001010012")


def _signed(key: PrivateKey, info_der: bytes) -> bytes:
    """A request over ``info_der`` as given (not re-encoded), signed by ``key``."""
    algorithm = key.public_key.default_algorithm()
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": asn1_csr.CertificationRequestInfo.load(info_der),
            "signature_algorithm": algorithm.x509_identifier(),
            "signature": key.sign(info_der, algorithm),
        }
    )
    return request.dump()


def _info_der(key: PrivateKey) -> bytes:
    info = asn1_csr.CertificationRequestInfo(
        {"version": "v1", "subject": SUBJECT.to_asn1(), "subject_pk_info": key.public_key.spki, "attributes": []}
    )
    return info.dump()


def test_a_good_request_reads_back() -> None:
    key = generate_private_key("sm2")
    request = csr.parse_and_verify(csr.build(key, SUBJECT))
    assert request.public_key.spki.dump() == key.public_key.spki.dump()
    assert request.subject_dn() == SUBJECT


def test_the_proof_of_possession_is_checked_every_time() -> None:
    key = generate_private_key("sm2")
    good = csr.build(key, SUBJECT)
    csr.parse_and_verify(good)
    loaded = asn1_csr.CertificationRequest.load(good)
    forged = asn1_csr.CertificationRequest(
        {
            "certification_request_info": loaded["certification_request_info"],
            "signature_algorithm": loaded["signature_algorithm"],
            "signature": generate_private_key("sm2").sign(
                loaded["certification_request_info"].dump(), key.public_key.default_algorithm()
            ),
        }
    ).dump()
    for _ in range(2):  # the same bytes again: refused again (nothing remembered)
        with pytest.raises(InvalidSignature):
            csr.parse_and_verify(forged)


def test_a_subject_value_that_does_not_decode_is_an_encoding_error_when_read() -> None:
    key = generate_private_key("sm2")
    info = _info_der(key)
    name = "读取测试".encode()
    assert info.count(name) == 1
    broken = info.replace(name, b"\xff" * len(name))  # not UTF-8, same length: the structure is intact
    request = csr.parse_and_verify(_signed(key, broken))  # signed over these octets: the key is proven
    with pytest.raises(EncodingError):
        request.subject_dn()


@pytest.mark.parametrize("part", ["signature_algorithm", "key"])
def test_a_broken_part_that_issuance_reads_is_refused(part: str) -> None:
    key = generate_private_key("sm2")
    der = csr.build(key, SUBJECT)
    if part == "signature_algorithm":  # its OBJECT IDENTIFIER emptied (same length overall: 06 08 … → 06 00 + 8 junk)
        oid = key.public_key.default_algorithm().x509_identifier()["algorithm"].dump()
        assert der.count(oid) == 1
        der = der.replace(oid, b"\x06\x00" + b"\x05\x00" * ((len(oid) - 2) // 2), 1)
    else:  # the key's BIT STRING made an OCTET STRING
        spki = key.public_key.spki.dump()
        bits = spki.index(b"\x03\x42\x00\x04")
        der = der.replace(spki, spki[:bits] + b"\x04" + spki[bits + 1 :], 1)
    with pytest.raises(TrustError):  # a specific refusal (encoding, algorithm), never a traceback
        csr.parse_and_verify(der)
