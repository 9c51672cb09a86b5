"""Certificate authority: roots, constrained sub-CAs, profiles, CRLs — checked by OpenSSL and pyHanko."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import InvalidCertificateError, PathValidationError, RevokedError
from sqlmodel import col, func, select

from ca import authority
from ca.models import CrlRecord, CrlShard, IssuedCertificate, now
from ca.profiles import PROFILES
from tests.conftest import require_tool
from tests.support.csr import make_csr
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.errors import Code, ConflictError, InputError, InvalidSignature, NotFoundError, TrustError
from trust.crypto.keys import generate_private_key
from trust.crypto.oids import EKU_DOCUMENT_SIGNING, EKU_LICENSE_SIGNING
from trust.formats import x509 as cx
from trust.formats.crl import load_crl
from trust.formats.names import DN, make_uscc
from trust.service import ca as service

ZJ_PERSON = "330106199001010018"  # valid GB 11643 check digit (checked below)


@pytest.fixture(scope="module")
def ca_world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    """A world this module may change (issue, revoke)."""
    return copy_world(world_template, tmp_path_factory.mktemp("ca-world") / "home")


def _subject(profile: str, region: str = "浙江省") -> DN:
    if profile in ("seal", "organization-identity"):
        return DN(
            province=region, organization="杭州示例科技有限公司", common_name="合同专用章", serial_number=ZJ_ORG_USCC
        )
    if profile == "person-identity":
        return DN(province=region, common_name="张三", serial_number=ZJ_PERSON)
    return DN(province=region, organization="浙江省市场监督管理局", common_name=f"{profile} 测试")


def _issued(outcome: service.BatchOutcome) -> service.IssueResult:
    assert outcome.result is not None, outcome.error
    return outcome.result


def _issue(world: World, ca_id: str, profile: str, **kwargs):
    return service.issue(
        world.instance, ca_id=ca_id, profile=profile, subject=kwargs.pop("subject", _subject(profile)), **kwargs
    )


def _write_chain(tmp: Path, certs: list[asn1_x509.Certificate]) -> list[Path]:
    paths = []
    for i, cert in enumerate(certs):
        path = tmp / f"c{i}.pem"
        path.write_bytes(cx.certificate_pem(cert))
        paths.append(path)
    return paths


def _ext(cert: asn1_x509.Certificate, name: str) -> asn1_x509.Extension | None:
    for ext in cert["tbs_certificate"]["extensions"]:
        if ext["extn_id"].native == name:
            return ext
    return None


def _critical(cert: asn1_x509.Certificate, name: str) -> bool:
    ext = _ext(cert, name)
    assert ext is not None, f"no {name} extension"
    return bool(ext["critical"].native is True)


# --- roots and sub-CAs ----------------------------------------------------------------------------------


def test_citizen_id_fixture_is_valid() -> None:
    from stdnum.cn import ric

    assert ric.is_valid(ZJ_PERSON)


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_national_roots(world: World, family: str) -> None:
    cert = cx.load_certificate(service.ca_certificate_der(world.instance, f"root-{family.lower()}"))
    assert cert.self_signed == "maybe" or cert.self_issued
    cx.verify_signature(cert, cx.public_key(cert))
    assert cert.basic_constraints_value["ca"].native is True
    assert cert.basic_constraints_value["path_len_constraint"].native == 1
    assert _critical(cert, "basic_constraints")
    assert cert.key_usage_value.native == {"key_cert_sign", "crl_sign"}
    assert _critical(cert, "key_usage")
    assert cert.key_identifier == cx.public_key(cert).key_identifier()
    if family == "SM2":
        spki = cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]
        assert spki["algorithm"].dotted == "1.2.840.10045.2.1"
        assert spki["parameters"].chosen.dotted == "1.2.156.10197.1.301"
        sig_alg = cert["signature_algorithm"]
        assert sig_alg["algorithm"].dotted == "1.2.156.10197.1.501"
        # GB/T 20518: parameters ABSENT (the AlgorithmIdentifier is just the OID).
        assert sig_alg.dump() == bytes.fromhex("300a06082a811ccf55018375")
    else:
        assert cx.public_key(cert).size == 4096


@pytest.mark.parametrize(("code", "province"), [("330000", "浙江省"), ("440000", "广东省")])
@pytest.mark.parametrize("family", ["sm2", "rsa"])
def test_region_ca_is_constrained(world: World, code: str, province: str, family: str) -> None:
    cert = cx.load_certificate(service.ca_certificate_der(world.instance, f"region-{code}-{family}"))
    root = cx.load_certificate(service.ca_certificate_der(world.instance, f"root-{family}"))
    cx.verify_signature(cert, cx.public_key(root))
    assert cert.basic_constraints_value["path_len_constraint"].native == 0
    nc = _ext(cert, "name_constraints")
    assert nc is not None and nc["critical"].native is True
    permitted = [s["base"].chosen for s in cert.name_constraints_value["permitted_subtrees"]]
    namespace = {"330000": "zj.gov.cn", "440000": "gd.gov.cn"}[code]  # the default namespace (issue 11, item 4)
    assert [n.native for n in permitted] == [
        {"country_name": "CN", "state_or_province_name": province},
        namespace,
        namespace,
        f".{namespace}",
    ]
    policies = {p["policy_identifier"].dotted for p in cert.certificate_policies_value}
    assert {PROFILES[p].policies[0] for p in authority.KIND_PROFILES["region"]} == policies
    assert cert.authority_key_identifier == root.key_identifier
    assert cert.crl_distribution_points[0]["distribution_point"].native[0].endswith(f"/crl/root-{family}.crl")
    assert [a["access_method"].native for a in cert.authority_information_access_value] == ["ca_issuers"]


# --- profiles ---------------------------------------------------------------------------------------------

CA_FOR = {p: "region-330000-sm2" for p in authority.KIND_PROFILES["region"]} | {"timestamping": "national-sm2"}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile(ca_world: World, profile: str) -> None:
    ca_id = CA_FOR[profile]
    subject = (
        _subject(profile, "浙江省")
        if ca_id.startswith("region")
        else DN(organization="国家政务服务平台", common_name=f"{profile} 测试")
    )
    result = _issue(
        ca_world, ca_id, profile, subject=subject, dns_names=["zj.gov.cn"] if PROFILES[profile].needs_dns else []
    )
    cert = result.certificate
    spec = PROFILES[profile]
    cx.verify_signature(cert, cx.public_key(result.chain[0]))
    assert cert.basic_constraints_value["ca"].native is False
    assert cert.key_usage_value.native == set(spec.key_usage)
    eku = _ext(cert, "extended_key_usage")
    if spec.extended_key_usage:
        assert eku is not None
        assert [e for e in cert.extended_key_usage_value.native] == list(spec.extended_key_usage)
        assert eku["critical"].native is spec.eku_critical
    else:
        assert eku is None
    assert {p["policy_identifier"].dotted for p in cert.certificate_policies_value} == set(spec.policies)
    assert (cert.ocsp_no_check_value is not None) is spec.ocsp_no_check
    if not spec.ocsp_no_check:
        assert cert.crl_distribution_points and cert.ocsp_urls
    validity = cert["tbs_certificate"]["validity"]
    lifetime = validity["not_after"].native - validity["not_before"].native
    assert lifetime <= spec.max_validity
    assert result.record.key_id is not None  # generated in the key store
    assert serial_bits(cert) >= 64


def serial_bits(cert: asn1_x509.Certificate) -> int:
    return int(cert.serial_number).bit_length()


def test_profile_details(ca_world: World) -> None:
    tsa = _issue(
        ca_world,
        "national-rsa",
        "timestamping",
        subject=DN(organization="国家政务服务平台", common_name="TSA"),
        key_family="RSA",
    ).certificate
    assert _critical(tsa, "extended_key_usage")
    assert tsa.extended_key_usage_value.native == ["time_stamping"]
    seal = _issue(ca_world, "region-330000-sm2", "seal").certificate
    assert seal.extended_key_usage_value.native == [EKU_DOCUMENT_SIGNING, "email_protection"]
    assert seal.subject.native["serial_number"] == ZJ_ORG_USCC
    issuer = _issue(ca_world, "region-330000-sm2", "license-issuer").certificate
    assert issuer.extended_key_usage_value.native == [EKU_LICENSE_SIGNING]
    person = _issue(ca_world, "region-330000-sm2", "person-identity").certificate
    assert person.subject.native["serial_number"] == ZJ_PERSON
    tls = _issue(ca_world, "region-330000-rsa", "tls-server", dns_names=["api.zj.gov.cn"], key_family="EC").certificate
    assert tls.valid_domains == ["api.zj.gov.cn"]


# --- interoperability: OpenSSL ----------------------------------------------------------------------------


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("openssl"), *args], capture_output=True, text=True, check=False)


def test_openssl_verifies_rsa_chain_with_crls(ca_world: World, tmp_path: Path) -> None:
    good = _issue(ca_world, "region-330000-rsa", "seal", key_family="RSA")
    bad = _issue(ca_world, "region-330000-rsa", "organization-identity", key_family="RSA")
    service.revoke(ca_world.instance, serial=bad.record.serial, reason="key_compromise")
    ee, sub, root = _write_chain(tmp_path, [good.certificate, *good.chain])
    partition = service.crl_for_certificate(ca_world.instance, bad.record.serial)  # the CRL both certificates name
    assert partition == service.crl_for_certificate(ca_world.instance, good.record.serial)
    crls = tmp_path / "crls.pem"
    crls.write_bytes(
        service.crl_text(partition) + service.crl_text(service.current_crl_der(ca_world.instance, "root-rsa"))
    )
    ok = _openssl(
        "verify",
        "-x509_strict",
        "-crl_check_all",
        "-CRLfile",
        str(crls),
        "-CAfile",
        str(root),
        "-untrusted",
        str(sub),
        "-purpose",
        "any",
        str(ee),
    )
    assert ok.returncode == 0 and f"{ee}: OK" in ok.stdout, ok.stdout + ok.stderr
    revoked = tmp_path / "revoked.pem"
    revoked.write_bytes(cx.certificate_pem(bad.certificate))
    fail = _openssl(
        "verify", "-crl_check_all", "-CRLfile", str(crls), "-CAfile", str(root), "-untrusted", str(sub), str(revoked)
    )
    assert fail.returncode != 0 and "certificate revoked" in fail.stdout + fail.stderr
    # The CRL itself: v2, number, reason code, signed by the CA.
    text = _openssl("crl", "-in", str(crls), "-noout", "-text").stdout
    assert "X509v3 CRL Number" in text and "Key Compromise" in text
    assert bad.record.serial.upper()[-8:] in text.replace(":", "").upper()


def test_openssl_verifies_sm2_chain_link_by_link(ca_world: World, tmp_path: Path) -> None:
    """OpenSSL applies -vfyopt distid only to the target certificate, so each link is checked on its own."""
    result = _issue(
        ca_world,
        "region-440000-sm2",
        "seal",
        subject=DN(
            province="广东省",
            organization="广州示例有限公司",
            common_name="公章",
            serial_number=make_uscc("91440101MA5CXXX00"),
        ),
    )
    ee, sub, root = _write_chain(tmp_path, [result.certificate, *result.chain])
    for target, anchor in ((root, root), (sub, root), (ee, sub)):
        out = _openssl(
            "verify",
            "-x509_strict",
            "-partial_chain",
            "-vfyopt",
            "distid:1234567812345678",
            "-CAfile",
            str(anchor),
            str(target),
        )
        assert out.returncode == 0 and "OK" in out.stdout, (target, out.stdout + out.stderr)
    wrong_id = _openssl("verify", "-partial_chain", "-vfyopt", "distid:1234567812345679", "-CAfile", str(sub), str(ee))
    assert wrong_id.returncode != 0


def _forge_outside_constraints(world: World, ca_id: str, subject: DN) -> asn1_x509.Certificate:
    """A certificate the CA's key signs for a subject outside its name constraints — what a rogue or buggy
    issuer might produce. Built by hand: the authority itself refuses to do this."""
    with db.session_scope(world.instance.engine) as session:
        ca = authority.get_ca(session, ca_id)
        assert ca.key_id is not None
        signer = world.instance.keystore.signer(ca.key_id, authority.algorithm_for(ca.family))
        issuer = authority.ca_certificate(ca)
    key = generate_private_key("rsa-2048")
    start = now() - timedelta(minutes=1)
    return (
        cx.CertificateBuilder()
        .subject(subject.to_asn1())
        .issuer(issuer.subject)
        .public_key(key.public_key)
        .serial_number(authority.new_serial())
        .validity(start, start + timedelta(days=30))
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage({"digital_signature"}))
        .add_extension(cx.authority_key_identifier(signer.public_key))
        .sign(signer)
    )


def test_name_constraints_enforced_by_openssl_and_pyhanko(ca_world: World, tmp_path: Path) -> None:
    rogue = _forge_outside_constraints(
        ca_world,
        "region-330000-rsa",
        DN(province="广东省", organization="广州示例有限公司", common_name="越权", serial_number=ZJ_ORG_USCC),
    )
    chain = service.chain_for(ca_world.instance, "region-330000-rsa")
    ee, sub, root = _write_chain(tmp_path, [rogue, *chain])
    out = _openssl("verify", "-CAfile", str(root), "-untrusted", str(sub), str(ee))
    assert out.returncode != 0 and "permitted subtree violation" in out.stdout + out.stderr
    context = ValidationContext(
        trust_roots=[chain[1]], other_certs=[chain[0]], allow_fetching=False, revocation_mode="soft-fail"
    )
    with pytest.raises(PathValidationError, match=r"(?i)name constraint|permitted"):
        asyncio.run(CertificateValidator(rogue, validation_context=context).async_validate_path())
    # And the authority itself refuses to issue it, leaving nothing behind.
    with pytest.raises(InputError, match="outside the name constraints"):
        _issue(
            ca_world,
            "region-330000-rsa",
            "seal",
            subject=DN(province="广东省", organization="x", common_name="越权", serial_number=ZJ_ORG_USCC),
        )


# --- interoperability: pyHanko's certificate validator ----------------------------------------------------


def test_pyhanko_validates_rsa_chain_with_crls(ca_world: World) -> None:
    good = _issue(ca_world, "region-330000-rsa", "seal", key_family="RSA")
    bad = _issue(ca_world, "region-330000-rsa", "seal", key_family="RSA")
    service.revoke(ca_world.instance, serial=bad.record.serial, reason="superseded")
    crls = [
        service.crl_for_certificate(ca_world.instance, bad.record.serial),  # the partition CRL both name
        service.current_crl_der(ca_world.instance, "region-330000-rsa"),
        service.current_crl_der(ca_world.instance, "root-rsa"),
    ]
    root = good.chain[-1]

    def context() -> ValidationContext:
        return ValidationContext(
            trust_roots=[root],
            other_certs=good.chain[:-1],
            crls=crls,
            allow_fetching=False,
            revocation_mode="hard-fail",
        )

    path = asyncio.run(
        CertificateValidator(good.certificate, validation_context=context()).async_validate_usage(
            {"digital_signature", "non_repudiation"}
        )
    )
    assert path.leaf.dump() == good.certificate.dump()
    with pytest.raises(RevokedError):
        asyncio.run(
            CertificateValidator(bad.certificate, validation_context=context()).async_validate_usage(
                {"digital_signature"}
            )
        )
    with pytest.raises(InvalidCertificateError):  # the seal profile has no keyEncipherment
        asyncio.run(
            CertificateValidator(good.certificate, validation_context=context()).async_validate_usage(
                {"key_encipherment"}
            )
        )


# --- bad input ----------------------------------------------------------------------------------------


def _counts(world: World) -> tuple[int, int, int]:
    with db.session_scope(world.instance.engine) as session:
        certs = session.exec(select(func.count()).select_from(IssuedCertificate)).one()
        crls = session.exec(select(func.count()).select_from(CrlRecord)).one()
        crls += session.exec(select(func.count()).select_from(CrlShard)).one()
    keys = len(list((world.home / "keys").glob("*.key.pem")))
    return certs, crls, keys


BAD_REQUESTS: dict[str, dict[str, Any]] = {
    "unknown profile": dict(ca_id="region-330000-sm2", profile="wizard"),
    "unknown CA": dict(ca_id="region-999999-sm2", profile="seal"),
    "root issues end entity": dict(ca_id="root-sm2", profile="seal"),
    "national CA issues seal": dict(ca_id="national-sm2", profile="seal"),
    "subject outside region": dict(
        ca_id="region-330000-sm2",
        profile="seal",
        subject=DN(province="广东省", organization="o", common_name="c", serial_number=ZJ_ORG_USCC),
    ),
    "bad USCC": dict(
        ca_id="region-330000-sm2",
        profile="seal",
        subject=DN(province="浙江省", organization="o", common_name="c", serial_number="91330106MA2CFA4X0X"),
    ),
    "bad citizen ID": dict(
        ca_id="region-330000-sm2",
        profile="person-identity",
        subject=DN(province="浙江省", common_name="张三", serial_number="330106199001010011"),
    ),
    "tls without DNS": dict(ca_id="region-330000-sm2", profile="tls-server"),
    "validity too long": dict(ca_id="region-330000-sm2", profile="ocsp", validity_days=3000),
    "garbage CSR": dict(ca_id="region-330000-sm2", profile="seal", csr_data=b"\x30\x82\x01\x00garbage"),
    "PEM of wrong type": dict(
        ca_id="region-330000-sm2",
        profile="seal",
        csr_data=b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    ),
    "oversized CSR": dict(ca_id="region-330000-sm2", profile="seal", csr_data=b"0" * 70_000),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_issuance_requests_change_nothing(ca_world: World, case: str) -> None:
    before = _counts(ca_world)
    kwargs = dict(BAD_REQUESTS[case])
    subject = kwargs.pop("subject", None) or _subject(kwargs["profile"] if kwargs["profile"] in PROFILES else "seal")
    with pytest.raises(TrustError) as caught:
        service.issue(ca_world.instance, subject=subject, **kwargs)
    assert caught.value.code in {Code.INVALID_INPUT, Code.NOT_FOUND, Code.MALFORMED_ENCODING, Code.INPUT_TOO_LARGE}
    assert caught.value.message
    assert _counts(ca_world) == before


def test_csr_proof_of_possession(ca_world: World) -> None:
    key = generate_private_key("sm2")
    subject = _subject("seal")
    before = _counts(ca_world)
    with pytest.raises(InvalidSignature, match="proof of possession"):
        _issue(ca_world, "region-330000-sm2", "seal", csr_data=make_csr(key, subject, tamper=True))
    good = make_csr(key, subject)
    for cut in (10, len(good) // 2, len(good) - 30):
        with pytest.raises(TrustError):
            _issue(ca_world, "region-330000-sm2", "seal", csr_data=good[:cut])
    assert _counts(ca_world) == before
    result = _issue(ca_world, "region-330000-sm2", "seal", csr_data=good)
    assert cx.public_key(result.certificate) == key.public_key
    assert result.record.key_id is None  # the holder keeps the key


def test_openssl_generated_csrs_are_accepted(ca_world: World, tmp_path: Path) -> None:
    """PoP of CSRs made by OpenSSL: RSA, and SM2 signed with SM3 and the default ID."""
    for algo, extra in (("RSA", ["-pkeyopt", "rsa_keygen_bits:2048"]), ("SM2", [])):
        key = tmp_path / f"{algo}.key"
        req = tmp_path / f"{algo}.csr"
        assert _openssl("genpkey", "-algorithm", algo, *extra, "-out", str(key)).returncode == 0
        args = [
            "req",
            "-new",
            "-key",
            str(key),
            "-utf8",
            "-subj",
            "/C=CN/ST=浙江省/O=杭州示例/CN=设备",
            "-out",
            str(req),
        ]
        if algo == "SM2":
            args += ["-sm3", "-sigopt", "distid:1234567812345678"]
        made = _openssl(*args)
        assert made.returncode == 0, made.stderr
        result = _issue(
            ca_world,
            "region-330000-sm2",
            "tls-client",
            csr_data=req.read_bytes(),
            subject=DN(province="浙江省", organization="杭州示例", common_name="设备"),
        )
        assert cx.public_key(result.certificate).family.value == algo


def test_weak_rsa_csr_refused(ca_world: World) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from trust.crypto.keys import RSAPrivateKey

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    wrapped = RSAPrivateKey.__new__(RSAPrivateKey)
    wrapped._key = weak  # bypass the loader's refusal to build a CSR signed by a 1024-bit key
    wrapped._public = type("P", (), {})()
    from asn1crypto import csr as asn1_csr
    from asn1crypto import keys as asn1_keys

    spki = asn1_keys.PublicKeyInfo.load(
        weak.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    info = asn1_csr.CertificationRequestInfo(
        {"version": "v1", "subject": _subject("seal").to_asn1(), "subject_pk_info": spki, "attributes": []}
    )
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    sig = weak.sign(info.dump(), padding.PKCS1v15(), hashes.SHA256())
    der = asn1_csr.CertificationRequest(
        {"certification_request_info": info, "signature_algorithm": {"algorithm": "sha256_rsa"}, "signature": sig}
    ).dump()
    with pytest.raises(TrustError) as caught:
        _issue(ca_world, "region-330000-sm2", "seal", csr_data=der)
    assert caught.value.code is Code.WEAK_KEY


def test_failed_signing_leaves_no_record_and_no_key(ca_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _counts(ca_world)
    from trust.formats import x509 as cx_mod

    def explode(self, signer, *, issuer_key=None):
        raise RuntimeError("HSM unplugged")

    monkeypatch.setattr(cx_mod.CertificateBuilder, "sign", explode)
    with pytest.raises(RuntimeError):
        _issue(ca_world, "region-330000-sm2", "seal")
    assert _counts(ca_world) == before


def test_revocation_errors(ca_world: World) -> None:
    result = _issue(ca_world, "region-330000-sm2", "seal")
    with pytest.raises(InputError, match="unknown revocation reason"):
        service.revoke(ca_world.instance, serial=result.record.serial, reason="because")
    record, crl = service.revoke(
        ca_world.instance,
        serial=result.record.serial,
        reason="cessationOfOperation".lower() if False else "cessation_of_operation",
    )
    assert record.status == "revoked"
    entries = load_crl(crl.der)["tbs_cert_list"]["revoked_certificates"]
    assert int(result.record.serial, 16) in {e["user_certificate"].native for e in entries}
    with pytest.raises(ConflictError, match="already revoked"):
        service.revoke(ca_world.instance, serial=result.record.serial, reason="superseded")
    with pytest.raises(NotFoundError):
        service.revoke(ca_world.instance, serial="abcdef", reason="superseded")
    with pytest.raises(InputError, match="not hexadecimal"):
        service.revoke(ca_world.instance, serial="xyz", reason="superseded")


def test_crl_numbers_increase(ca_world: World) -> None:
    first = service.regenerate_crl(ca_world.instance, "region-440000-rsa")
    second = service.regenerate_crl(ca_world.instance, "region-440000-rsa")
    assert second.number == first.number + 1
    crl = load_crl(second.der)
    assert crl.crl_number_value.native == second.number
    assert crl["tbs_cert_list"]["next_update"].native > crl["tbs_cert_list"]["this_update"].native
    published = (ca_world.home / "public" / "crl" / "region-440000-rsa.crl").read_bytes()
    assert published == second.der


def test_init_twice_is_a_conflict(world: World) -> None:
    with pytest.raises(ConflictError, match="already has its national roots"):
        service.init(world.instance)


def test_enrol_from_csr_keeps_key_with_region(tmp_path: Path) -> None:
    from tests.support.world import make_instance

    inst = make_instance(tmp_path)
    service.init(inst)
    key = generate_private_key("sm2")
    csr = make_csr(key, DN(province="江苏省", organization="江苏省政务服务平台", common_name="江苏CA"))
    ca = service.enrol(inst, kind="region", code="320000", family="SM2", csr_data=csr)
    assert ca.key_id is None
    assert cx.public_key(cx.load_certificate(ca.cert_der)) == key.public_key
    with pytest.raises(ConflictError, match="already exists"):
        service.enrol(inst, kind="region", code="320000", family="SM2")
    with pytest.raises(InputError, match=r"RSA root|SM2 key"):
        service.enrol(inst, kind="region", code="320100", family="RSA", csr_data=csr)
    with pytest.raises(InputError, match="GB/T 2260"):
        service.enrol(inst, kind="region", code="999999", family="SM2")
    weak = generate_private_key("rsa-2048")
    with pytest.raises(InputError, match="3072"):
        service.enrol(
            inst,
            kind="region",
            code="320200",
            family="RSA",
            csr_data=make_csr(weak, DN(province="江苏省", common_name="x")),
        )
    dept = service.enrol(
        inst, kind="department", code=make_uscc("11100000000013338"), family="SM2", organization="国家市场监督管理总局"
    )
    cert = cx.load_certificate(dept.cert_der)
    assert [s["base"].chosen.native for s in cert.name_constraints_value["permitted_subtrees"]] == [
        {"country_name": "CN", "organization_name": "国家市场监督管理总局"},
        "invalid",  # no DNS or URI names at all (RFC 6761)
        "invalid",
        ".invalid",
    ]
    with pytest.raises(InputError, match="unified social credit code"):
        service.enrol(inst, kind="department", code="111000000000133380", family="SM2", organization="x")


def test_issuance_without_validity_is_refused_before_a_serial_is_reserved(ca_world: World) -> None:
    """A builder without validity is refused with a clear error and no row (issue 14 item 8: mypy strict found
    that only an ``assert`` stood between an optional validity and the NOT NULL columns; under ``python -O`` every
    insert failed and the caller read "could not allocate a unique serial number")."""
    from ca.authority.discipline import issue_signed

    before = _counts(ca_world)
    key = generate_private_key("sm2")
    with db.session_scope(ca_world.instance.engine) as session:
        ca = authority.get_ca(session, "region-330000-sm2")
        builder = (
            cx.CertificateBuilder()
            .subject(_subject("seal").to_asn1())
            .issuer(authority.ca_certificate(ca).subject)
            .public_key(key.public_key)
        )
        with pytest.raises(InputError, match="missing: validity"):
            issue_signed(
                session,
                ca_world.instance.keystore,
                ca,
                builder,
                profile_name="seal",
                subject=_subject("seal").to_asn1(),
                public_key=key.public_key,
                key_id=None,
            )
    assert _counts(ca_world) == before


# --- CRL partitions and delta CRLs (issue 15 item 3) ------------------------------------------------------------------


def _serials(der: bytes) -> set[int]:
    return {e["user_certificate"].native for e in load_crl(der)["tbs_cert_list"]["revoked_certificates"]}


def _shard(session: Any, record_id: int | None) -> int:
    row = session.get(IssuedCertificate, record_id)
    assert row is not None and row.crl_shard is not None
    return int(row.crl_shard)


def _partition_rows(world: World, ca_id: str) -> dict[int, CrlShard]:
    with db.session_scope(world.instance.engine) as session:
        return {row.shard: row for row in authority.partitions(session, ca_id)}


def test_a_revocation_re_signs_only_the_partition_of_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world_template: World
) -> None:
    """Certificates are given partitions in issuance order and name their partition's CRL (and delta CRL); revoking
    one re-signs that partition only — the other partitions and the CA's main CRL keep their numbers and bytes — and
    its CRL names the partition in an issuing distribution point, so no other CRL claims the certificate."""
    from ca.authority import crls

    monkeypatch.setattr(crls, "SHARD_CAPACITY", 2)
    world = copy_world(world_template, tmp_path / "world")
    ca_id = "region-330000-sm2"
    with db.session_scope(world.instance.engine) as session:
        issued_before = authority.get_ca(session, ca_id).cert_count
    made = [_issue(world, ca_id, "seal") for _ in range(5)]
    with db.session_scope(world.instance.engine) as session:
        shards = [_shard(session, m.record.id) for m in made]
    assert shards == [(issued_before + i) // 2 + 1 for i in range(5)]
    base = world.base_url
    for m, shard in zip(made, shards, strict=True):
        names = m.certificate.crl_distribution_points_value[0]["distribution_point"].native
        assert names == [f"{base}/crl/{ca_id}/{shard}.crl"]
        freshest = _ext(m.certificate, "freshest_crl")
        assert freshest is not None
        assert freshest["extn_value"].parsed[0]["distribution_point"].native == [
            f"{base}/crl/{ca_id}/{shard}.delta.crl"
        ]
    before = _partition_rows(world, ca_id)
    main_before = service.current_crl_der(world.instance, ca_id)
    target = made[2]
    service.revoke(world.instance, serial=target.record.serial, reason="key_compromise")
    after = _partition_rows(world, ca_id)
    changed = {n for n in after if after[n].der != before[n].der}
    assert changed == {shards[2]}
    assert service.current_crl_der(world.instance, ca_id) == main_before
    partition = load_crl(after[shards[2]].der)
    assert partition.crl_number_value.native > before[shards[2]].number
    assert int(target.record.serial, 16) in _serials(after[shards[2]].der)
    assert partition.issuing_distribution_point_value["distribution_point"].native == [
        f"{base}/crl/{ca_id}/{shards[2]}.crl"
    ]
    assert partition.critical_extensions >= {"issuing_distribution_point"}
    main = load_crl(main_before)  # a regional CA's main CRL is scoped to its own URI too
    assert main.issuing_distribution_point_value["distribution_point"].native == [f"{base}/crl/{ca_id}.crl"]
    root = load_crl(service.current_crl_der(world.instance, "root-sm2"))
    assert root.issuing_distribution_point_value is None  # roots do not partition: complete CRLs
    # served and published as stored, bytes for bytes
    folder = world.home / "public" / "crl" / ca_id
    assert (folder / f"{shards[2]}.crl").read_bytes() == after[shards[2]].der
    assert (folder / f"{shards[2]}.delta.crl").read_bytes() == after[shards[2]].delta_der
    assert service.partition_crl_der(world.instance, ca_id, shards[2]) == after[shards[2]].der
    with pytest.raises(NotFoundError):
        service.partition_crl_der(world.instance, ca_id, 999)
    # a hold released: the entry leaves the partition's CRL, which is rebuilt (and its delta re-based)
    held = made[4]
    with db.session_scope(world.instance.engine) as session:
        authority.revoke(
            session,
            world.instance.keystore,
            serial=held.record.serial,
            reason="certificate_hold",
            endpoints=service.endpoints(world.instance),
        )
    assert int(held.record.serial, 16) in _serials(service.crl_for_certificate(world.instance, held.record.serial))
    with db.session_scope(world.instance.engine) as session:
        _record, row = authority.release_hold(
            session, world.instance.keystore, serial=held.record.serial, endpoints=service.endpoints(world.instance)
        )
        assert isinstance(row, CrlShard) and row.delta_base == row.number
    assert int(held.record.serial, 16) not in _serials(service.crl_for_certificate(world.instance, held.record.serial))


def test_openssl_takes_the_partition_and_its_delta(ca_world: World, tmp_path: Path) -> None:
    """``openssl verify -crl_check``: the partition CRL covers its certificates, the CA's main CRL does not (its
    scope is another distribution point); with ``-use_deltas``, a base fetched before a revocation plus the delta
    fetched after it shows the revocation."""
    ca_id = "region-440000-rsa"
    subject = DN(
        province="广东省",
        organization="广州示例有限公司",
        common_name="公章",
        serial_number=make_uscc("91440101MA5CXXX00"),
    )
    good = _issue(ca_world, ca_id, "seal", key_family="RSA", subject=subject)
    bad = _issue(ca_world, ca_id, "seal", key_family="RSA", subject=subject)
    service.regenerate_crl(ca_world.instance, ca_id)  # the partition is re-based: its delta starts from here
    with db.session_scope(ca_world.instance.engine) as session:
        number = _shard(session, bad.record.id)
    base = service.crl_for_certificate(ca_world.instance, bad.record.serial)
    service.revoke(ca_world.instance, serial=bad.record.serial, reason="key_compromise")
    delta = service.partition_crl_der(ca_world.instance, ca_id, number, delta=True)
    current = service.crl_for_certificate(ca_world.instance, bad.record.serial)
    parsed = load_crl(delta)
    assert parsed.delta_crl_indicator_value.native == load_crl(base).crl_number_value.native
    assert parsed.issuing_distribution_point_value.native == load_crl(current).issuing_distribution_point_value.native
    assert _serials(delta) == {int(bad.record.serial, 16)}
    _ee, sub, root = _write_chain(tmp_path, [good.certificate, *good.chain])
    root_crl = service.crl_text(service.current_crl_der(ca_world.instance, "root-rsa"))

    def verify(cert: asn1_x509.Certificate, *crls: bytes, deltas: bool = False) -> subprocess.CompletedProcess[str]:
        target = tmp_path / "target.pem"
        target.write_bytes(cx.certificate_pem(cert))
        bundle = tmp_path / "crls.pem"
        bundle.write_bytes(b"".join(service.crl_text(c) for c in crls) + root_crl)
        flags = ["-use_deltas"] if deltas else []
        return _openssl(
            "verify", "-crl_check_all", *flags, "-CRLfile", str(bundle), "-CAfile", str(root), "-untrusted", str(sub),
            str(target),
        )  # fmt: skip

    assert verify(good.certificate, current).returncode == 0
    refused = verify(bad.certificate, current)
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    wrong_scope = verify(good.certificate, service.current_crl_der(ca_world.instance, ca_id))
    assert wrong_scope.returncode != 0 and "different CRL scope" in wrong_scope.stdout + wrong_scope.stderr
    assert verify(bad.certificate, base).returncode == 0  # the old base alone does not know
    with_delta = verify(bad.certificate, base, delta, deltas=True)
    assert with_delta.returncode != 0 and "certificate revoked" in with_delta.stdout + with_delta.stderr
    assert verify(good.certificate, base, delta, deltas=True).returncode == 0


def test_crl_entries_are_encoded_as_asn1crypto_does() -> None:
    """``encode_entry`` (used to build partitions without re-encoding) gives asn1crypto's bytes: serials of every
    length, UTCTime before 2050 and GeneralizedTime from 2050, each reason (none for ``unspecified``)."""
    from datetime import UTC, datetime

    from asn1crypto import crl as asn1_crl

    from trust.formats import crl as crl_mod

    for serial in (1, 127, 128, 255, 1 << 64, (1 << 159) - 1):
        for at in (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), datetime(2050, 1, 1, tzinfo=UTC)):
            for reason in crl_mod.REASONS:
                entry: dict[str, object] = {"user_certificate": serial, "revocation_date": cx.x509_time(at)}
                if reason != "unspecified":
                    entry["crl_entry_extensions"] = [{"extn_id": "crl_reason", "critical": False, "extn_value": reason}]
                expected = asn1_crl.RevokedCertificate(entry).dump()
                assert crl_mod.encode_entry(crl_mod.Revoked(serial, at, reason)) == expected


# --- issuance: one transaction and one audit entry per certificate, batches (issue 15 item 5) ------------------------


def test_an_issuance_is_one_transaction_with_one_audit_entry(ca_world: World) -> None:
    """A certificate is persisted, signed and completed in one transaction (the idempotency lookup included), and
    the audit chain gets one ``certificate.create`` entry with the values it was committed with (before, a
    ``create`` with the pending fingerprint and an ``update`` were appended)."""
    from sqlalchemy import event

    from trust.service import audit

    engine = ca_world.instance.engine
    begins: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    with db.session_scope(engine) as session:
        after = audit.head_of(session).sequence
    event.listen(engine, "before_cursor_execute", count)
    try:
        made = _issue(ca_world, "region-330000-sm2", "seal", request_id="one-transaction-1")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert begins == ["BEGIN IMMEDIATE"]
    entries = [e for e in audit.entries(engine, after=after) if e.subject == f"certificate:{made.record.serial}"]
    assert [e.action for e in entries] == ["certificate.create"]
    details = json.loads(entries[0].details)
    assert details["fingerprint"] == made.record.fingerprint == cx.fingerprint(made.certificate)
    assert _issue(ca_world, "region-330000-sm2", "seal", request_id="one-transaction-1").record.id == made.record.id


def test_batch_issuance_goes_on_past_a_bad_request_and_is_idempotent(ca_world: World) -> None:
    """``issue_batch``: a chunk per transaction; a refused request is reported with its error and leaves nothing;
    the others are issued (verifiable, in their CRL partitions); running the batch again replays them."""
    requests = [
        service.BatchRequest("seal", _subject("seal"), request_id="batch-a"),
        service.BatchRequest(
            "seal",
            DN(province="广东省", organization="越界", common_name="越界", serial_number=ZJ_ORG_USCC),
            request_id="batch-b",
        ),
        service.BatchRequest("person-identity", _subject("person-identity"), request_id="batch-c"),
    ]
    before = _counts(ca_world)
    outcomes = list(service.issue_batch(ca_world.instance, "region-330000-sm2", requests, chunk=2))
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert outcomes[1].result is None and isinstance(outcomes[1].error, InputError)
    issued = [o.result for o in (outcomes[0], outcomes[2])]
    assert all(r is not None for r in issued)
    ca_cert = cx.load_certificate(service.ca_certificate_der(ca_world.instance, "region-330000-sm2"))
    for result in issued:
        assert result is not None
        cx.verify_signature(result.certificate, cx.public_key(ca_cert))
        assert result.record.crl_shard is not None
    assert _counts(ca_world)[0] == before[0] + 2
    again = list(service.issue_batch(ca_world.instance, "region-330000-sm2", requests, chunk=10))
    assert [o.result.record.serial if o.result else None for o in again] == [
        o.result.record.serial if o.result else None for o in outcomes
    ]
    assert _counts(ca_world)[0] == before[0] + 2


def test_extensions_are_encoded_as_asn1crypto_does() -> None:
    """Extensions are kept by value once encoded: the same value gives asn1crypto's own DER, another value its own."""
    from asn1crypto import x509 as asn1

    key = generate_private_key("sm2").public_key
    samples = [
        cx.basic_constraints(False),
        cx.basic_constraints(True, 0),
        cx.key_usage({"digital_signature", "non_repudiation"}),
        cx.key_usage({"digital_signature"}),
        cx.subject_key_identifier(key),
        cx.authority_key_identifier(key),
        cx.certificate_policies(["1.2.156.112581.1.1"]),
        cx.crl_distribution_point("http://a.example/crl/x/1.crl"),
        cx.crl_distribution_point("http://a.example/crl/x/2.crl"),
        cx.freshest_crl("http://a.example/crl/x/1.delta.crl"),
        cx.authority_information_access("http://a.example/ocsp", "http://a.example/ca/x.cer"),
        cx.subject_alt_name(dns=["api.zj.gov.cn"]),
    ]
    for ext in samples * 2:  # the second time from what was kept
        expected = asn1.Extension({"extn_id": ext.name, "critical": ext.critical, "extn_value": ext.value}).dump()
        assert ext.to_asn1().dump() == expected
    assert len({ext.to_asn1().dump() for ext in samples}) == len(samples)


def test_pkilint_finds_nothing_in_partition_and_delta_crls(ca_world: World, tmp_path: Path) -> None:
    """pkilint's PKIX CRL profile on a partition CRL with entries (issuing distribution point, reason codes) and on
    its delta CRL (delta CRL indicator), RSA-signed: no finding at WARNING or above."""
    import contextlib
    import io

    from pkilint.bin import lint_crl

    ca_id = "region-440000-rsa"
    gd_code = make_uscc("91440101MA5CXXX00")
    subject = DN(province="广东省", organization="广州示例有限公司", common_name="公章", serial_number=gd_code)
    made = _issue(ca_world, ca_id, "seal", key_family="RSA", subject=subject)
    service.revoke(ca_world.instance, serial=made.record.serial, reason="superseded")
    shard = service.get_certificate(ca_world.instance, made.record.serial).crl_shard
    assert shard is not None
    for delta in (False, True):
        path = tmp_path / f"{shard}{'.delta' if delta else ''}.crl"
        path.write_bytes(service.partition_crl_der(ca_world.instance, ca_id, shard, delta=delta))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            lint_crl.main(["lint", "-f", "JSON", "-s", "WARNING", "-t", "CRL", "-p", "PKIX", str(path)])
        findings = [f for r in json.loads(out.getvalue())["results"] for f in r["finding_descriptions"]]
        assert findings == [], findings


@pytest.mark.parametrize("from_csr", [False, True], ids=["generated-key", "csr"])
def test_batch_request_failing_after_its_row_is_reserved_leaves_no_audit_or_log_entry(
    ca_world: World, monkeypatch: pytest.MonkeyPatch, from_csr: bool
) -> None:
    """A certificate row is written with a Core statement and attached to the session (issue 15 item 5); a batch
    request that fails midway (here: its signing — since the row is written after the signature, before its row; a
    failure after the row is undone by its savepoint's rollback for a key Huren generates, or the row deleted again
    for a request from a CSR, which runs without a savepoint) must leave no row and no object in the session as
    persistent: the chunk's commit would otherwise write an audit entry and a log leaf for a row that does not exist
    (or fail on it). The other requests are issued; the chain verifies; leaves = certificates; the failed
    request's id is not taken (a rerun issues it and replays the others)."""
    from trust.service import audit
    from trust.service.tlog import LogLeaf

    def leaves() -> int:
        with db.session_scope(ca_world.instance.engine) as session:
            return session.exec(select(func.count()).select_from(LogLeaf).where(LogLeaf.kind == "certificate")).one()

    real_sign = cx.CertificateBuilder.sign
    calls = {"n": 0}

    def failing_second(self: cx.CertificateBuilder, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise TrustError("the signer failed (test)", code=Code.INTERNAL)
        return real_sign(self, *args, **kwargs)

    subject = _subject("person-identity")
    prefix = f"reserved-{'csr' if from_csr else 'key'}-"
    requests = [
        service.BatchRequest(
            "person-identity",
            subject,
            make_csr(generate_private_key("sm2"), subject) if from_csr else None,
            request_id=f"{prefix}{i}",
        )
        for i in range(3)
    ]
    before, leaves_before = _counts(ca_world), leaves()
    monkeypatch.setattr(cx.CertificateBuilder, "sign", failing_second)
    outcomes = list(service.issue_batch(ca_world.instance, "region-330000-sm2", requests, chunk=3))
    monkeypatch.undo()
    assert [o.error is None for o in outcomes] == [True, False, True]
    assert _counts(ca_world)[0] == before[0] + 2
    assert leaves() == leaves_before + 2
    report = audit.verify(ca_world.instance.engine)
    assert report.ok, report.problem
    with db.session_scope(ca_world.instance.engine) as session:
        serials = {o.result.record.serial for o in outcomes if o.result is not None}
        created = session.exec(
            select(audit.AuditEntry.subject).where(audit.AuditEntry.action == "certificate.create")
        ).all()
        stored = session.exec(
            select(IssuedCertificate.request_id).where(col(IssuedCertificate.request_id).startswith(prefix))
        ).all()
    assert sum(any(serial in subject for serial in serials) for subject in created) == 2
    assert sorted(str(request_id) for request_id in stored) == [f"{prefix}0", f"{prefix}2"]
    again = list(service.issue_batch(ca_world.instance, "region-330000-sm2", requests, chunk=3))
    assert [o.replayed for o in again] == [True, False, True]
    assert [_issued(again[i]).record.serial for i in (0, 2)] == [_issued(outcomes[i]).record.serial for i in (0, 2)]


def test_batch_with_one_request_id_twice_in_a_chunk_answers_both_with_one_certificate(ca_world: World) -> None:
    """Idempotency inside one chunk: the second request under a key the first one used gets the first's certificate
    (not an error, not a second certificate)."""
    subject = _subject("person-identity")
    csr_data = make_csr(generate_private_key("sm2"), subject)
    requests = [service.BatchRequest("person-identity", subject, csr_data, request_id="twice-in-a-chunk")] * 2
    before = _counts(ca_world)
    outcomes = list(service.issue_batch(ca_world.instance, "region-330000-sm2", requests, chunk=2))
    assert all(o.error is None and o.result is not None for o in outcomes)
    assert _issued(outcomes[0]).record.serial == _issued(outcomes[1]).record.serial
    assert _issued(outcomes[0]).certificate.dump() == _issued(outcomes[1]).certificate.dump()
    assert _counts(ca_world)[0] == before[0] + 1


def test_batch_fingerprints_are_stored_with_their_certificates_and_judged_in_the_transaction(ca_world: World) -> None:
    """A batch request's fingerprint (HTTP) is stored in the chunk's transaction with its certificate, not after it:
    once the chunk committed, the key names that request; the same key with another body — in a later batch, or
    later in the same chunk — is a conflict in that entry and issues nothing; with the same body, a replay."""
    from trust.service import idempotency

    subject = _subject("person-identity")
    csr_data = make_csr(generate_private_key("sm2"), subject)

    def fingerprint(body: str) -> idempotency.Fingerprint:
        return idempotency.Fingerprint.of("POST", "/certificates", "client-a", {"body": body})

    def request(key: str, body: str) -> service.BatchRequest:
        return service.BatchRequest("person-identity", subject, csr_data, request_id=key, fingerprint=fingerprint(body))

    before = _counts(ca_world)
    first = list(
        service.issue_batch(
            ca_world.instance,
            "region-330000-sm2",
            [request("fp-a", "one"), request("fp-b", "two"), request("fp-b", "three")],
            chunk=3,
        )
    )
    assert first[0].result is not None and not first[0].replayed
    assert first[1].result is not None and not first[1].replayed
    assert isinstance(first[2].error, ConflictError) and first[2].result is None  # same chunk, other body
    assert idempotency.stored(ca_world.instance, ["fp-a", "fp-b"]) == {
        "fp-a": fingerprint("one"),
        "fp-b": fingerprint("two"),
    }
    again = list(
        service.issue_batch(
            ca_world.instance, "region-330000-sm2", [request("fp-a", "one"), request("fp-b", "changed")], chunk=2
        )
    )
    assert again[0].replayed and _issued(again[0]).record.serial == _issued(first[0]).record.serial
    assert isinstance(again[1].error, ConflictError) and again[1].result is None
    assert _counts(ca_world)[0] == before[0] + 2


def test_a_batch_reserves_its_chunks_partition_places_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world_template: World
) -> None:
    """A batch chunk takes the CRL partition places of its new certificates in one counter update: the certificates
    fill the partitions in order as single issuance does (a replayed request takes no place), every partition they
    name — and the one after — has its CRL, and the next single issuance continues after the chunk."""
    from ca.authority import crls

    monkeypatch.setattr(crls, "SHARD_CAPACITY", 2)
    world = copy_world(world_template, tmp_path / "world")
    ca_id = "region-330000-sm2"
    first = _issue(world, ca_id, "seal", request_id="batch-places-0")
    with db.session_scope(world.instance.engine) as session:
        start = authority.get_ca(session, ca_id).cert_count
    requests = [service.BatchRequest("seal", _subject("seal"), request_id=f"batch-places-{i}") for i in range(6)]
    outcomes = list(service.issue_batch(world.instance, ca_id, requests, chunk=6))
    assert all(o.result is not None for o in outcomes)
    assert _issued(outcomes[0]).record.serial == first.record.serial  # replayed, no place taken
    later = _issue(world, ca_id, "seal")
    with db.session_scope(world.instance.engine) as session:
        shards = [_shard(session, _issued(o).record.id) for o in outcomes[1:]] + [_shard(session, later.record.id)]
        count = authority.get_ca(session, ca_id).cert_count
    assert shards == [(start + i) // 2 + 1 for i in range(6)]
    assert count == start + 6
    rows = _partition_rows(world, ca_id)
    assert set(shards) | {shards[-1] + 1} <= set(rows)
    for o, shard in zip(outcomes[1:], shards, strict=False):
        names = _issued(o).certificate.crl_distribution_points_value[0]["distribution_point"].native
        assert names == [f"{world.base_url}/crl/{ca_id}/{shard}.crl"]


def test_one_certificate_is_one_statement_on_its_row_written_after_the_signature(ca_world: World) -> None:
    """Issue 15 item 5: a certificate's row is inserted once, complete (DER, fingerprint), after the signature — no
    row reserved empty and completed by an ``UPDATE`` — and the issuance reads the CA's standing and its chain on the
    transaction's connection. The stored row is the returned certificate; a retry under the request id replays it
    without another write."""
    from sqlalchemy import event

    subject = _subject("person-identity")
    csr_data = make_csr(generate_private_key("sm2"), subject)
    statements: list[str] = []

    # the driver's own trace: the statements every issuance runs go to the DB-API cursor (ca.authority.cursor), past
    # SQLAlchemy's events
    def seen(statement: str) -> None:
        statements.append(" ".join(statement.split()))

    def traced(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.set_trace_callback(seen)

    def untraced(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    engine = ca_world.instance.engine
    assert engine.dialect.name == "sqlite"
    # the CA's snapshot (row, chain, region) is made once per state version (issuefast): the count is the steady one
    _issue(ca_world, "region-330000-sm2", "person-identity", csr_data=csr_data, request_id="one-row-0")
    event.listen(engine, "checkout", traced)
    event.listen(engine, "checkin", untraced)
    try:
        made = _issue(ca_world, "region-330000-sm2", "person-identity", csr_data=csr_data, request_id="one-row-1")
        # one executemany traces each of its rows: counted once (consecutive INSERTs into one table)
        issuing = [
            s
            for i, s in enumerate(statements)
            if s not in ("COMMIT", "ROLLBACK")
            and not (i and s.startswith("INSERT") and s.split(" VALUES ")[0] == statements[i - 1].split(" VALUES ")[0])
        ]
        statements.clear()
        again = _issue(ca_world, "region-330000-sm2", "person-identity", csr_data=csr_data, request_id="one-row-1")
    finally:
        event.remove(engine, "checkout", traced)
        event.remove(engine, "checkin", untraced)
    on_row = [s for s in issuing if s.startswith(("INSERT INTO certificate ", "UPDATE certificate "))]
    assert len(on_row) == 1 and on_row[0].startswith("INSERT INTO certificate "), on_row
    # BEGIN, 11 statements (issuefast2: the state version read with the request id), nothing on the row after its INSERT
    assert len(issuing) <= 12, "\n".join(issuing)
    assert not any(s.startswith(("INSERT", "UPDATE", "DELETE")) for s in statements), statements
    assert again.record.serial == made.record.serial
    with db.session_scope(engine, read_only=True) as session:
        row = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == made.record.serial)).one()
    assert bytes(row.der) == made.certificate.dump() == made.record.der
    assert row.fingerprint == hashlib.sha256(made.certificate.dump()).hexdigest()


def test_load_ca_reads_as_session_get_does(ca_world: World) -> None:
    """``authority.load_ca`` (the issuance's first read of its CA, a prebuilt statement) answers as ``Session.get``:
    the session's own object when it holds one, no flush of pending objects, ``NotFoundError`` for an unknown id."""
    from sqlmodel import Session

    with Session(ca_world.instance.engine) as session:
        loaded = authority.load_ca(session, "region-330000-sm2")
        assert loaded is session.get(type(loaded), "region-330000-sm2")
        assert authority.load_ca(session, "region-330000-sm2") is loaded
        session.add(
            IssuedCertificate(
                serial="00",
                fingerprint="pending",
                issuer_id="x",
                profile="p",
                subject="s",
                family="SM2",
                not_before=now(),
                not_after=now(),
                der=b"",
            )
        )
        authority.load_ca(session, "region-330000-sm2")
        assert session.new, "load_ca flushed the session (Session.get does not)"
        with pytest.raises(NotFoundError):
            authority.load_ca(session, "region-999999-sm2")
        session.rollback()
