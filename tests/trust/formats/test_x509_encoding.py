"""Certificates and names written straight to DER (issue 15 item 5) are the octets asn1crypto's general encoder
writes: for every profile the CA issues, every key family it takes, subject alternative names, long values, times
after 2049 and serial numbers with the top bit set. The post-signing check still refuses a wrong key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asn1crypto import x509 as asn1_x509

from ca.authority.issuance import end_entity_builder
from ca.profiles import PROFILES
from tests.support import chains
from trust.crypto.algorithms import KeyFamily
from trust.crypto.errors import InputError, InvalidSignature
from trust.crypto.keys import PrivateKey, generate_private_key
from trust.formats import x509 as cx
from trust.formats.names import DN, name_attributes

SPECS = {KeyFamily.SM2: "sm2", KeyFamily.RSA: "rsa-2048", KeyFamily.EC: "ec-p256"}
LONG = "浙江省杭州市西湖区文三路" * 10  # 120 characters, 360 octets: long-form lengths inside the name


@pytest.fixture(scope="module")
def issuer() -> tuple[PrivateKey, asn1_x509.Certificate]:
    return chains.sm2_test_ca()


def subject_for(profile_name: str, long: bool) -> DN:
    unit = LONG if long else None
    if profile_name in ("person-identity",):
        return DN(province="浙江省", unit=unit, common_name="张三", serial_number="330106199001010011")
    return DN(
        province="浙江省",
        locality="杭州市",
        organization="浙江示例有限公司",
        unit=unit,
        common_name="示例 平台",
        serial_number="91330000MA27XL0E2K",
    )


CASES = [
    (name, family, long, late)
    for name, profile in PROFILES.items()
    for family in sorted(profile.families, key=lambda f: f.value)
    for long in (False, True)
    for late in (False, True)
]


@pytest.mark.parametrize(("profile_name", "family", "long", "late"), CASES)
def test_a_certificate_of_every_profile_is_written_as_the_general_encoder_writes_it(
    issuer: tuple[PrivateKey, asn1_x509.Certificate], profile_name: str, family: KeyFamily, long: bool, late: bool
) -> None:
    ca_key, ca_cert = issuer
    profile = PROFILES[profile_name]
    subject_key = generate_private_key(SPECS[family]).public_key
    start = datetime(2051, 3, 4, 5, 6, 7, 890, tzinfo=UTC) if late else datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC)
    dns = ["platform.zj.gov.cn", "www.platform.zj.gov.cn"] if "dns" in profile.san_types else []
    builder = end_entity_builder(
        ca_cert,
        profile,
        subject_for(profile_name, long).to_asn1(),
        subject_key,
        start,
        start + profile.validity,
        dns_names=dns,
        crl_uri="http://127.0.0.1:8000/crl/region-330000-sm2/3.crl",
        ocsp_uri="http://127.0.0.1:8000/ocsp",
        ca_cert_uri="http://127.0.0.1:8000/ca/region-330000-sm2.cer",
    )
    signer = ca_key.signer()
    for serial in (1, 0x7F, 0x80, 0xFF00, (1 << 158) | 0x1234, (1 << 159) - 1):
        numbered = builder.serial_number(serial)
        assert numbered.tbs_der(signer.algorithm) == numbered.tbs(signer.algorithm).dump()
    made = builder.serial_number((1 << 158) | 0xBEEF).sign(signer)
    reference = asn1_x509.Certificate(
        {
            "tbs_certificate": builder.serial_number((1 << 158) | 0xBEEF).tbs(signer.algorithm),
            "signature_algorithm": signer.algorithm.x509_identifier(),
            "signature_value": made["signature_value"].native,
        }
    )
    assert made.dump() == reference.dump()
    cx.verify_signature(cx.load_certificate(made.dump()), ca_key.public_key)


def test_every_profile_and_key_family_is_covered() -> None:
    assert {name for name, *_rest in CASES} == set(PROFILES)
    assert {family for _name, family, *_rest in CASES} == {KeyFamily.SM2, KeyFamily.RSA, KeyFamily.EC}


def test_the_certificate_just_signed_is_checked_with_the_issuer_key(
    issuer: tuple[PrivateKey, asn1_x509.Certificate],
) -> None:
    ca_key, ca_cert = issuer
    builder = end_entity_builder(
        ca_cert,
        PROFILES["seal"],
        subject_for("seal", False).to_asn1(),
        generate_private_key("sm2").public_key,
        datetime(2026, 12, 7, tzinfo=UTC),
        datetime(2027, 12, 7, tzinfo=UTC),
        crl_uri="http://127.0.0.1/crl/x/1.crl",
        ocsp_uri="http://127.0.0.1/ocsp",
        ca_cert_uri="http://127.0.0.1/ca/x.cer",
    ).serial_number(99)
    other = generate_private_key("sm2").public_key
    with pytest.raises(InvalidSignature, match="just signed does not verify"):
        builder.sign(ca_key.signer(), issuer_key=other)
    with pytest.raises(InputError, match="missing: issuer, public key, serial number, validity"):
        cx.CertificateBuilder().subject(ca_cert.subject).tbs_der(ca_key.signer().algorithm)


@pytest.mark.parametrize(
    "dn",
    [
        DN(),
        DN(common_name="张三"),
        DN(province="浙江省", common_name="张三", serial_number="330106199001010011"),
        DN(province=LONG, locality=LONG, organization=LONG[:128], unit="单位", common_name="x" * 128),
        DN(organization="O", common_name="CN", extra=(("common_name", "第二个名字"),)),
        DN(organization="O", common_name="CN", extra=(("organization_identifier", "NTRCN-91330000MA27XL0E2K"),)),
        DN(country="HK", common_name="Ａ　全角 ü é"),
    ],
)
def test_a_name_is_written_as_the_general_encoder_writes_it(dn: DN) -> None:
    assert dn.to_der() == dn.to_asn1_general().dump() == dn.to_asn1().dump()
    # what issuance reads of the subject without parsing it again is what a parse of the encoding gives
    assert dn.attributes() == name_attributes(dn.to_asn1()) == name_attributes(dn.to_asn1_general())


def test_a_name_is_checked_before_it_is_written() -> None:
    with pytest.raises(InputError, match="PrintableString"):
        DN(common_name="x", serial_number="号码").to_der()
    with pytest.raises(InputError, match="country"):
        DN(country="cn", common_name="x").to_der()
