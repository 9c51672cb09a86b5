"""The end-entity certificate builder made in one construction (issuefast2) is the builder the setters made: the
same fields and extensions in the same order — so the same TBS octets — for every profile, with and without subject
alternative names; and it refuses a validity that ends before it starts, as ``validity`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509

from ca.authority import crls
from ca.authority.issuance import end_entity_builder
from ca.profiles import PROFILES, Profile
from tests.support import chains
from trust.crypto.errors import InputError
from trust.crypto.keys import PrivateKey, PublicKey, generate_private_key
from trust.formats import x509 as cx
from trust.formats.names import DN

CRL = "http://127.0.0.1:8000/crl/region-330000-sm2/3.crl"
OCSP = "http://127.0.0.1:8000/ocsp"
CA_CERT = "http://127.0.0.1:8000/ca/region-330000-sm2.cer"


@pytest.fixture(scope="module")
def issuer() -> tuple[PrivateKey, asn1_x509.Certificate]:
    return chains.sm2_test_ca()


def _chained(
    issuer_cert: asn1_x509.Certificate,
    profile: Profile,
    subject: asn1_x509.Name,
    key: PublicKey,
    start: datetime,
    end: datetime,
    dns: list[str],
    uris: list[str],
) -> cx.CertificateBuilder:
    """The builder as the setters made it before issuefast2 (the reference)."""
    builder = (
        cx.CertificateBuilder()
        .subject(subject)
        .issuer(issuer_cert.subject)
        .public_key(key)
        .validity(start, end)
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage(profile.key_usage))
        .add_extension(cx.subject_key_identifier(key))
        .add_extension(cx.authority_key_identifier(cx.public_key(issuer_cert)))
        .add_extension(cx.certificate_policies(profile.policies))
    )
    if profile.extended_key_usage:
        builder = builder.add_extension(
            cx.extended_key_usage(profile.extended_key_usage, critical=profile.eku_critical)
        )
    if dns or uris:
        builder = builder.add_extension(cx.subject_alt_name(dns=dns, uris=uris))
    if profile.ocsp_no_check:
        builder = builder.add_extension(cx.ocsp_no_check())
        return builder.add_extension(cx.crl_distribution_point(CRL))
    builder = builder.add_extension(cx.crl_distribution_point(CRL))
    builder = builder.add_extension(cx.freshest_crl(crls.delta_uri(CRL)))
    return builder.add_extension(cx.authority_information_access(OCSP, CA_CERT))


@pytest.mark.parametrize("sans", [False, True], ids=["no-sans", "sans"])
@pytest.mark.parametrize("profile_name", sorted(PROFILES))
def test_one_construction_is_the_chained_setters_builder(
    issuer: tuple[PrivateKey, asn1_x509.Certificate], profile_name: str, sans: bool
) -> None:
    ca_key, ca_cert = issuer
    profile = PROFILES[profile_name]
    key = generate_private_key("sm2").public_key
    subject = DN(province="浙江省", organization="浙江示例有限公司", common_name="示例").to_asn1()
    start = datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC)
    end = start + timedelta(days=30)
    dns = ["a.zj.gov.cn"] if sans else []
    uris = ["https://b.zj.gov.cn/x"] if sans else []
    made = end_entity_builder(
        ca_cert,
        profile,
        subject,
        key,
        start,
        end,
        dns_names=dns,
        uris=uris,
        crl_uri=CRL,
        ocsp_uri=OCSP,
        ca_cert_uri=CA_CERT,
    )
    reference = _chained(ca_cert, profile, subject, key, start, end, dns, uris)
    assert [e.name for e in made.extensions] == [e.name for e in reference.extensions]
    assert made == reference
    algorithm = ca_key.signer().algorithm
    assert made.serial_number(0x80).tbs_der(algorithm) == reference.serial_number(0x80).tbs_der(algorithm)


def test_a_validity_ending_before_it_starts_is_refused(issuer: tuple[PrivateKey, asn1_x509.Certificate]) -> None:
    _key, ca_cert = issuer
    start = datetime(2026, 12, 7, tzinfo=UTC)
    for end in (start, start - timedelta(seconds=1)):
        with pytest.raises(InputError, match="notAfter must be later than notBefore"):
            end_entity_builder(
                ca_cert,
                PROFILES["seal"],
                ca_cert.subject,
                generate_private_key("sm2").public_key,
                start,
                end,
                crl_uri=CRL,
                ocsp_uri=OCSP,
                ca_cert_uri=CA_CERT,
            )
