"""Issue 11, item 4: names outside the region.

The attack: a region CA issued a TLS certificate for ``www.gov.cn``, ``*.gd.gov.cn`` and another region's API host, and
a seal certificate with ``uris=["javascript:alert(1)"]``. Now every region CA carries ``dNSName`` and URI name
constraints for its own namespace (``zj.gov.cn`` by default, or the one named at enrolment), profiles say which
subject alternative name types they carry, the CA refuses before reserving anything, and the verifier rejects a
certificate that breaks those rules anyway (a CA holding its own key can sign what it likes): name constraints in the
path, SAN types per purpose (``verifier.san``) — and OpenSSL agrees on the constraints.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from ca import authority
from ca.models import IssuedCertificate, now
from tests.conftest import require_tool
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.errors import InputError
from trust.crypto.keys import generate_private_key
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import ca as service
from trust.service import trust as trust_service
from verifier import api, context
from verifier.report import Indication

SEAL_SUBJECT = DN(
    province="浙江省", organization="杭州示例科技有限公司", common_name="合同专用章", serial_number=ZJ_ORG_USCC
)
TLS_SUBJECT = DN(province="浙江省", organization="浙江省政务服务平台", common_name="api")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("names-scope") / "home")


def _issued(world: World) -> int:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(IssuedCertificate)).one())


@pytest.mark.parametrize(
    ("profile", "subject", "dns", "uris", "message"),
    [
        ("tls-server", TLS_SUBJECT, ["www.gov.cn"], [], "outside the DNS namespace"),
        ("tls-server", TLS_SUBJECT, ["*.gd.gov.cn"], [], "outside the DNS namespace"),
        ("tls-server", TLS_SUBJECT, ["api.gd.gov.cn"], [], "outside the DNS namespace"),
        ("tls-server", TLS_SUBJECT, ["api.zj.gov.cn", "zj.gov.cn.evil.example"], [], "outside the DNS namespace"),
        ("tls-server", TLS_SUBJECT, ["api.zj.gov.cn"], ["https://api.zj.gov.cn/"], "carries no URI"),
        ("seal", SEAL_SUBJECT, [], ["javascript:alert(1)"], "only http and https"),
        ("seal", SEAL_SUBJECT, [], ["https://zj.gov.cn/"], "carries no URI"),
        ("seal", SEAL_SUBJECT, ["seal.zj.gov.cn"], [], "carries no DNS"),
        ("organization-identity", SEAL_SUBJECT, ["x.zj.gov.cn"], [], "carries no DNS"),
        ("tls-server", TLS_SUBJECT, ["api..zj.gov.cn"], [], "not a host name"),
        ("tls-server", TLS_SUBJECT, ["api.zj.gov.cn."], [], "not a host name"),
    ],
)
def test_the_ca_refuses_before_signing(
    world: World, profile: str, subject: DN, dns: list[str], uris: list[str], message: str
) -> None:
    before = _issued(world)
    with pytest.raises(InputError, match=message):
        service.issue(
            world.instance, ca_id="region-330000-sm2", profile=profile, subject=subject, dns_names=dns, uris=uris
        )
    assert _issued(world) == before  # nothing persisted, no serial consumed


def test_names_inside_the_namespace_are_certified(world: World) -> None:
    result = service.issue(
        world.instance,
        ca_id="region-330000-sm2",
        profile="tls-server",
        subject=TLS_SUBJECT,
        dns_names=["API.zj.gov.cn", "*.zj.gov.cn", "zj.gov.cn"],
    )
    assert result.certificate.valid_domains == ["api.zj.gov.cn", "*.zj.gov.cn", "zj.gov.cn"]
    service.enrol(world.instance, kind="region", code="320000", family="SM2", dns_namespace="jiangsu.example")
    explicit = service.issue(
        world.instance,
        ca_id="region-320000-sm2",
        profile="tls-server",
        subject=DN(province="江苏省", organization="江苏省政务服务平台", common_name="api"),
        dns_names=["api.jiangsu.example"],
    )
    assert explicit.certificate.valid_domains == ["api.jiangsu.example"]
    with pytest.raises(InputError, match="outside the DNS namespace"):
        service.issue(
            world.instance,
            ca_id="region-320000-sm2",
            profile="tls-server",
            subject=DN(province="江苏省", organization="江苏省政务服务平台", common_name="api"),
            dns_names=["api.js.gov.cn"],
        )


def test_enrolment_refuses_a_public_suffix_namespace(world: World) -> None:
    with pytest.raises(InputError, match="public suffix"):
        service.enrol(world.instance, kind="region", code="340000", family="SM2", dns_namespace="gov.cn")


def _forge(world: World, *, dns: Sequence[str] = (), uris: Sequence[str] = (), eku: tuple[str, ...]) -> bytes:
    """What a region CA holding its own key could sign regardless of the service's checks."""
    with db.session_scope(world.instance.engine) as session:
        ca = authority.get_ca(session, "region-330000-rsa")
        assert ca.key_id is not None
        signer = world.instance.keystore.signer(ca.key_id, authority.algorithm_for(ca.family))
        issuer = authority.ca_certificate(ca)
    key = generate_private_key("rsa-2048")
    start = now() - timedelta(minutes=1)
    builder = (
        cx.CertificateBuilder()
        .subject((TLS_SUBJECT if "server_auth" in eku else SEAL_SUBJECT).to_asn1())
        .issuer(issuer.subject)
        .public_key(key.public_key)
        .serial_number(authority.new_serial())
        .validity(start, start + timedelta(days=30))
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage({"digital_signature", "non_repudiation"}))
        .add_extension(cx.extended_key_usage(eku))
        .add_extension(cx.authority_key_identifier(signer.public_key))
        .add_extension(cx.subject_alt_name(dns=dns, uris=uris))
        # the CRL it names (a partitioned CA's CRLs each speak only for the certificates naming them)
        .add_extension(cx.crl_distribution_point(service.endpoints(world.instance).crl("region-330000-rsa")))
    )
    return builder.sign(signer).dump()


def _verify(world: World, der: bytes, purpose: str):
    bundle = trust_service.export_bundle(world.instance).read_bytes()
    root = cx.load_certificate(service.ca_certificate_der(world.instance, "root-rsa"))
    ctx = context.build(bundle=bundle, pins=[cx.fingerprint(root)], purpose=purpose)
    return api.verify(der, ctx)


@pytest.mark.parametrize("host", ["www.gov.cn", "*.gd.gov.cn", "api.gd.gov.cn"])
def test_the_verifier_rejects_a_forged_tls_certificate(world: World, host: str) -> None:
    report = _verify(world, _forge(world, dns=[host], eku=("server_auth",)), "tls-server")
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert "name constraint" in report.errors[0].lower() or "permitted" in report.errors[0].lower(), report.errors
    inside = _verify(world, _forge(world, dns=["api.zj.gov.cn"], eku=("server_auth",)), "tls-server")
    assert inside.passed, inside.to_text()


def test_the_verifier_rejects_a_forged_seal_with_a_javascript_uri(world: World) -> None:
    forged = _forge(world, uris=["javascript:alert(1)"], eku=("1.3.6.1.5.5.7.3.36", "email_protection"))
    for purpose in ("seal", "any"):  # the URI name constraint fails it whatever the purpose
        report = _verify(world, forged, purpose)
        assert report.indication is Indication.TOTAL_FAILED, (purpose, report.to_text())


def test_the_verifier_holds_seals_to_no_host_names(world: World) -> None:
    """Inside the namespace (so the name constraints pass), a DNS name still has no place in a seal certificate."""
    forged = _forge(world, dns=["seal.zj.gov.cn"], eku=("1.3.6.1.5.5.7.3.36", "email_protection"))
    report = _verify(world, forged, "seal")
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert "a seal certificate carries no DNS names" in report.errors[0]
    assert _verify(world, forged, "any").passed  # the rule is the seal purpose's


def test_openssl_enforces_the_dns_constraint(world: World, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    chain = service.chain_for(world.instance, "region-330000-rsa")
    (tmp_path / "sub.pem").write_bytes(cx.certificate_pem(chain[0]))
    (tmp_path / "root.pem").write_bytes(cx.certificate_pem(chain[1]))
    for host, ok in (("www.gov.cn", False), ("api.zj.gov.cn", True)):
        der = _forge(world, dns=[host], eku=("server_auth",))
        (tmp_path / "ee.pem").write_bytes(cx.certificate_pem(cx.load_certificate(der)))
        out = subprocess.run(
            [openssl, "verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "sub.pem"),
             str(tmp_path / "ee.pem")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert (out.returncode == 0) is ok, (host, out.stdout, out.stderr)
        if not ok:
            assert "permitted subtree violation" in out.stdout + out.stderr


def test_the_namespace_is_named_at_enrolment_over_http_and_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.http import AuthClient
    from tests.support.world import PASSPHRASE
    from trust.cli.main import main
    from trust.http.app import create_app

    client = AuthClient(create_app(world.instance), world, "national-ops")
    body = {"kind": "region", "code": "350000", "family": "SM2", "dns_namespace": "fujian.example"}
    response = client.post("/ca/enrol", json=body)
    assert response.status_code == 201, response.text
    cert = cx.load_certificate(service.ca_certificate_der(world.instance, "region-350000-sm2"))
    assert authority.namespaces(cert) == (["fujian.example"], ["fujian.example", ".fujian.example"])
    bad = client.post("/ca/enrol", json=dict(body, code="360000", dns_namespace="bad_name.example"))
    assert bad.status_code in {422, 400}, bad.text
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    code = main(["ca", "enrol", "region", "370000", "--dns-namespace", "shandong.example", "--home", str(world.home)])
    assert code == 0
    cert = cx.load_certificate(service.ca_certificate_der(world.instance, "region-370000-sm2"))
    assert authority.namespaces(cert) == (["shandong.example"], ["shandong.example", ".shandong.example"])
