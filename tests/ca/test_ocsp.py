"""OCSP responder (RFC 6960): ``trust.formats.ocsp``, ``trust.service.ocsp`` and ``/ocsp`` — checked by ``openssl ocsp``
and pyhanko-certvalidator against a live server.

SM2 and OpenSSL: OpenSSL 3.0's ``openssl ocsp`` verifies an SM2 response signature with an **empty** SM2 user
ID, not the GB/T 35276 default ``1234567812345678`` that every SM2 signature of Huren uses (and that
``openssl ocsp`` has no option to set: no ``-vfyopt``). So for SM2 the tests show (1) ``openssl ocsp
-noverify`` parses our response and reports good/revoked, (2) our :func:`trust.formats.ocsp.verify_response` checks
signature and responder chain, (3) OpenSSL itself verifies the same signatures with the right ID through
``openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678`` (the response over
``tbsResponseData`` with the responder key, the responder certificate with the CA key), and (4) the
limitation is pinned: ``openssl ocsp`` refuses the default-ID response and accepts the same response signed
with an empty ID. If a later OpenSSL fixes this, (4) fails and tells us.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import subprocess
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule

from ca import authority
from ca.authority import algorithm_for
from ca.models import CertificateAuthority
from ca.profiles import profile as get_profile
from tests.conftest import require_tool
from tests.support.server import live_server
from tests.support.world import GD_ORG_USCC, ZJ_ORG_USCC, World, copy_world
from trust.crypto.algorithms import SM2_SM3
from trust.crypto.errors import InputError, InvalidSignature
from trust.formats import ocsp
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import ca as service
from trust.service import ocsp as responder
from trust.service.instance import Instance
from trust.settings import Settings

SM2_DEFAULT_ID = "1234567812345678"
MALFORMED = bytes.fromhex("30030a0101")  # OCSPResponse { malformedRequest }, no responseBytes
UNAUTHORIZED = bytes.fromhex("30030a0106")


# --- helpers -----------------------------------------------------------------------------------------------


def _issue(world: World, family: str, cn: str = "合同专用章", region: str = "330000") -> asn1_x509.Certificate:
    province, uscc = ("浙江省", ZJ_ORG_USCC) if region == "330000" else ("广东省", GD_ORG_USCC)
    result = service.issue(
        world.instance,
        ca_id=f"region-{region}-{family.lower()}",
        profile="seal",
        subject=DN(province=province, organization="示例科技有限公司", common_name=cn, serial_number=uscc),
        key_family=family,
    )
    return result.certificate


def _ca(world: World, ca_id: str) -> CertificateAuthority:
    return next(ca for ca in service.list_cas(world.instance) if ca.id == ca_id)


def _responder_cert(ca: CertificateAuthority) -> asn1_x509.Certificate:
    assert ca.ocsp_cert_der is not None, f"{ca.id} has no OCSP responder"
    return cx.load_certificate(ca.ocsp_cert_der)


def _ca_cert(world: World, ca_id: str) -> asn1_x509.Certificate:
    return cx.load_certificate(_ca(world, ca_id).cert_der)


def _request(issuer: asn1_x509.Certificate, *serials: int, hash_algorithm: str = "sha1", nonce: bytes | None = None):
    return ocsp.build_request([ocsp.CertId.for_certificate(issuer, s, hash_algorithm) for s in serials], nonce=nonce)


def _status(der: bytes) -> str:
    return ocsp.response_status(der)


def _files(tmp: Path, **items: bytes) -> dict[str, Path]:
    paths = {}
    for name, data in items.items():
        paths[name] = tmp / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths


def _pem(cert: asn1_x509.Certificate) -> bytes:
    return cx.certificate_pem(cert)


def _openssl_ocsp(url: str, files: dict[str, Path], *extra: str) -> subprocess.CompletedProcess[str]:
    """``openssl ocsp`` as a relying party runs it (nonce on by default), stdout and stderr together."""
    args = [require_tool("openssl"), "ocsp", "-issuer", files["ca"], "-cert", files["ee"], "-url", f"{url}/ocsp"]
    return subprocess.run(
        [*map(str, args), *extra], capture_output=True, text=True, timeout=60, check=False, errors="replace"
    )


def _text(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def rsa_ee(world: World) -> asn1_x509.Certificate:
    return _issue(world, "RSA", "OCSP 合同专用章 RSA")


@pytest.fixture(scope="module")
def sm2_ee(world: World) -> asn1_x509.Certificate:
    return _issue(world, "SM2", "OCSP 合同专用章 SM2")


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, world_template: World):
    """A world of this module's own (revocations happen here), served over HTTP."""
    world = copy_world(world_template, tmp_path_factory.mktemp("ocsp-world") / "home")
    with live_server(world.instance, world.port) as url:
        yield world, url


# --- the responder certificate -----------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["RSA", "SM2"])
def test_responder_certificate_profile(world: World, family: str) -> None:
    ca = _ca(world, f"region-330000-{family.lower()}")
    assert ca.ocsp_key_id is not None and ca.ocsp_cert_der is not None
    responder_cert = cx.load_certificate(ca.ocsp_cert_der)
    ca_cert = cx.load_certificate(ca.cert_der)
    assert responder_cert.extended_key_usage_value.native == ["ocsp_signing"]
    assert responder_cert.ocsp_no_check_value is not None  # id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1)
    assert responder_cert.key_usage_value.native == {"digital_signature"}
    assert responder_cert.basic_constraints_value["ca"].native is False
    assert responder_cert.issuer == ca_cert.subject
    cx.verify_signature(responder_cert, cx.public_key(ca_cert))  # issued by the CA itself
    assert cx.public_key(responder_cert) != cx.public_key(ca_cert)  # a delegated key, not the CA key
    assert cx.public_key(responder_cert).family.value == family
    # Roots answer by CRL only: they have no responder.
    root = _ca(world, f"root-{family.lower()}")
    assert root.ocsp_key_id is None and root.ocsp_cert_der is None


# --- answers, in process -----------------------------------------------------------------------------------


@pytest.mark.parametrize("hash_algorithm", ["sha1", "sha256", "sm3"])
@pytest.mark.parametrize("family", ["RSA", "SM2"])
def test_good_answer_fields(
    world: World, rsa_ee: asn1_x509.Certificate, sm2_ee: asn1_x509.Certificate, family: str, hash_algorithm: str
) -> None:
    ee = rsa_ee if family == "RSA" else sm2_ee
    ca = _ca(world, f"region-330000-{family.lower()}")
    issuer = cx.load_certificate(ca.cert_der)
    nonce = os.urandom(16)
    before = datetime.now(UTC).replace(microsecond=0)
    request = _request(issuer, ee.serial_number, hash_algorithm=hash_algorithm, nonce=nonce)
    der = responder.respond(world.instance, request)
    after = datetime.now(UTC)

    verified = ocsp.verify_response(der, issuer=issuer, nonce=nonce, at=after)
    assert verified.signature_algorithm == algorithm_for(family)
    assert verified.responder.dump() == ca.ocsp_cert_der
    assert verified.nonce == nonce
    (single,) = verified.responses
    assert single.status == "good" and single.serial == ee.serial_number
    assert single.cert_id.hash_algorithm == hash_algorithm  # the CertID is echoed as asked
    assert (
        single.cert_id.der == asn1_ocsp.OCSPRequest.load(request)["tbs_request"]["request_list"][0]["req_cert"].dump()
    )
    assert before <= verified.produced_at <= after
    assert single.next_update is not None
    assert single.this_update <= after < single.next_update
    assert single.next_update - single.this_update == responder.VALIDITY == timedelta(hours=1)

    parsed = asn1_ocsp.OCSPResponse.load(der)
    parsed.native  # noqa: B018 - parse everything, so that dump(force=True) re-encodes every level
    assert parsed.dump(force=True) == der  # our hand-assembled DER is what asn1crypto's encoder writes
    data = parsed.response_data
    assert data["responder_id"].name == "by_key"
    assert data["responder_id"].native == cx.public_key(verified.responder).key_identifier()
    assert [c.dump() for c in parsed.basic_ocsp_response["certs"]] == [ca.ocsp_cert_der]


def test_unknown_serial_is_unknown(world: World, rsa_ee: asn1_x509.Certificate) -> None:
    issuer = _ca_cert(world, "region-330000-rsa")
    missing = int.from_bytes(os.urandom(19), "big") | 1 << 150
    der = responder.respond(world.instance, _request(issuer, missing, rsa_ee.serial_number))
    verified = ocsp.verify_response(der, issuer=issuer, at=datetime.now(UTC))
    assert [(r.serial, r.status) for r in verified.responses] == [(missing, "unknown"), (rsa_ee.serial_number, "good")]


def test_serials_that_cannot_exist_are_unknown(world: World) -> None:
    issuer = _ca_cert(world, "region-330000-rsa")
    for serials in ([0], [-5, 0], [-1, 1, 2]):  # no positive serial at all: the query gets an empty IN list
        verified = ocsp.verify_response(responder.respond(world.instance, _request(issuer, *serials)), issuer=issuer)
        assert [(r.serial, r.status) for r in verified.responses] == [(s, "unknown") for s in serials]


def test_several_cert_ids_of_one_ca(world: World) -> None:
    first, second = _issue(world, "SM2", "甲章"), _issue(world, "SM2", "乙章")
    issuer = _ca_cert(world, "region-330000-sm2")
    der = responder.respond(
        world.instance, _request(issuer, second.serial_number, 12345, first.serial_number, hash_algorithm="sm3")
    )
    verified = ocsp.verify_response(der, issuer=issuer)
    assert [(r.serial, r.status) for r in verified.responses] == [
        (second.serial_number, "good"),
        (12345, "unknown"),
        (first.serial_number, "good"),
    ]


def test_unknown_or_mixed_issuers_are_unauthorized(world: World, rsa_ee: asn1_x509.Certificate) -> None:
    zj = _ca_cert(world, "region-330000-rsa")
    gd = _ca_cert(world, "region-440000-rsa")
    gd_ee = _issue(world, "RSA", "广东章", region="440000")
    foreign = asn1_ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": os.urandom(20),
            "issuer_key_hash": os.urandom(20),
            "serial_number": rsa_ee.serial_number,
        }
    )
    md5 = asn1_ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "md5"},
            "issuer_name_hash": os.urandom(16),
            "issuer_key_hash": os.urandom(16),
            "serial_number": 7,
        }
    )

    def raw(*cert_ids: asn1_ocsp.CertId) -> bytes:
        request = {"tbs_request": {"request_list": [{"req_cert": c} for c in cert_ids]}}
        return asn1_ocsp.OCSPRequest(request).dump()

    def cert_id(issuer: asn1_x509.Certificate, serial: int) -> asn1_ocsp.CertId:
        return asn1_ocsp.CertId.load(ocsp.CertId.for_certificate(issuer, serial).der)

    root = _ca_cert(world, "root-rsa")
    cases = {
        "unknown issuer": raw(foreign),
        "root (answers by CRL only)": raw(cert_id(root, zj.serial_number)),
        "unsupported hash algorithm": raw(md5),
        "known and unknown issuer": raw(cert_id(zj, rsa_ee.serial_number), foreign),
        "two known CAs": raw(cert_id(zj, rsa_ee.serial_number), cert_id(gd, gd_ee.serial_number)),
    }
    for case, request in cases.items():
        assert responder.respond(world.instance, request) == UNAUTHORIZED, case
    # Each CA on its own is answered.
    assert _status(responder.respond(world.instance, raw(cert_id(gd, gd_ee.serial_number)))) == "successful"


def _valid_request(world: World, rsa_ee: asn1_x509.Certificate) -> bytes:
    return _request(_ca_cert(world, "region-330000-rsa"), rsa_ee.serial_number, nonce=b"n" * 16)


def _with_extension(request: bytes, extn_id: str, value: core.Asn1Value, critical: bool) -> bytes:
    parsed = asn1_ocsp.OCSPRequest.load(request)
    tbs = parsed["tbs_request"]
    extension = {"extn_id": extn_id, "critical": critical, "extn_value": value}
    tbs = asn1_ocsp.TBSRequest(
        {"request_list": asn1_ocsp.Requests.load(tbs["request_list"].dump()), "request_extensions": [extension]}
    )
    return asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump()


def _tlv(tag: int, *parts: bytes) -> bytes:
    content = b"".join(parts)
    assert len(content) < 0x80
    return bytes((tag, len(content))) + content


def _malformed_cases(world: World, rsa_ee: asn1_x509.Certificate) -> dict[str, bytes]:
    good = _valid_request(world, rsa_ee)
    issuer = _ca_cert(world, "region-330000-rsa")
    cert_id = asn1_ocsp.CertId.load(ocsp.CertId.for_certificate(issuer, rsa_ee.serial_number).der)
    short_hash = asn1_ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha256"},
            "issuer_name_hash": os.urandom(20),
            "issuer_key_hash": os.urandom(32),
            "serial_number": 1,
        }
    )
    sha1_with_integer = _tlv(0x30, core.ObjectIdentifier("1.3.14.3.2.26").dump() + core.Integer(5).dump())
    with_params = _tlv(0x30, sha1_with_integer, *(cert_id[n].dump() for n in list(cert_id)[1:]))

    def tbs(**fields: object) -> bytes:
        return asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}], **fields}}).dump()

    return {
        "empty": b"",
        "garbage": b"this is not DER",
        "random bytes": os.urandom(300),
        "truncated": good[:-5],
        "trailing byte": good + b"\x00",
        "oversized": good + b"\x00" * ocsp.MAX_REQUEST_BYTES,
        "a certificate instead": rsa_ee.dump(),
        "version v2": tbs(version=1),
        "no CertID": asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": []}}).dump(),
        "too many CertIDs": ocsp.build_request(
            [ocsp.CertId.for_certificate(issuer, n + 1) for n in range(ocsp.MAX_CERT_IDS + 1)]
        ),
        "hash of the wrong length": asn1_ocsp.OCSPRequest(
            {"tbs_request": {"request_list": [{"req_cert": short_hash}]}}
        ).dump(),
        "hash parameters not NULL": _tlv(0x30, _tlv(0x30, _tlv(0x30, _tlv(0x30, with_params)))),
        "empty nonce": _with_extension(good, "nonce", core.OctetString(b""), False),
        "nonce over 128 octets": _with_extension(good, "nonce", core.OctetString(b"x" * 129), False),
        "nonce not an OCTET STRING": _with_extension(
            good, "1.3.6.1.5.5.7.48.1.99", core.ParsableOctetString(core.Integer(5).dump()), False
        ).replace(bytes.fromhex("2b0601050507300163"), bytes.fromhex("2b0601050507300102")),  # id-pkix-ocsp-nonce
        "unknown critical extension": _with_extension(
            good, "1.2.3.4.5", core.ParsableOctetString(core.Null().dump()), True
        ),
    }


def test_malformed_requests(world: World, rsa_ee: asn1_x509.Certificate) -> None:
    for case, request in _malformed_cases(world, rsa_ee).items():
        answer = responder.answer(world.instance, request)
        assert answer.status == "malformed_request", case
        assert answer.der == MALFORMED, case  # no responseBytes (RFC 6960 4.2.1)
    # The same request without the faults is answered, and an unknown non-critical extension is ignored.
    good = _valid_request(world, rsa_ee)
    assert _status(responder.respond(world.instance, good)) == "successful"
    ignored = _with_extension(good, "1.2.3.4.5", core.ParsableOctetString(core.Null().dump()), False)
    assert _status(responder.respond(world.instance, ignored)) == "successful"
    longest = _with_extension(good, "nonce", core.OctetString(b"y" * 128), False)
    assert ocsp.verify_response(
        responder.respond(world.instance, longest), issuer=_ca_cert(world, "region-330000-rsa"), nonce=b"y" * 128
    )


def test_mutated_requests_never_crash(world: World, rsa_ee: asn1_x509.Certificate) -> None:
    """Every truncation and every single-octet corruption of a valid request gets an OCSPResponse."""
    good = _valid_request(world, rsa_ee)
    variants = [good[:cut] for cut in range(len(good))]
    variants += [good[:i] + bytes([good[i] ^ 0xFF]) + good[i + 1 :] for i in range(len(good))]
    seen = set()
    for variant in variants:
        answer = responder.answer(world.instance, variant)
        ocsp.load_response(answer.der)
        seen.add(answer.status)
    assert seen <= {"successful", "malformed_request", "unauthorized"}
    assert "malformed_request" in seen and "unauthorized" in seen  # flips in the hashes name another CA


def test_failures_become_ocsp_statuses(
    world: World, rsa_ee: asn1_x509.Certificate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _request(_ca_cert(world, "region-330000-rsa"), rsa_ee.serial_number)
    assert responder.answer(world.instance, request).status == "successful"

    # The database does not answer (nothing listens on port 1): tryLater, not an exception.
    settings = Settings(home=tmp_path, database_url="postgresql+psycopg://huren:x@127.0.0.1:1/huren")
    unreachable = responder.answer(Instance(settings, passphrase=b"unused"), request)
    assert (unreachable.status, unreachable.der) == ("try_later", bytes.fromhex("30030a0103"))

    # The responder certificate has expired (not renewed in time): tryLater, logged.
    expired = datetime.now(UTC) + timedelta(days=365)
    with monkeypatch.context() as patch:
        patch.setattr(responder, "now", lambda: expired)
        assert responder.answer(world.instance, request).status == "try_later"

    # A bug: internalError, and the exception does not escape.
    def broken(**_kwargs: object) -> bytes:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(ocsp, "build_response", broken)  # the format module the responder builds with
        failed = responder.answer(world.instance, request)
    assert (failed.status, failed.der) == ("internal_error", bytes.fromhex("30030a0102"))
    assert responder.answer(world.instance, request).status == "successful"


# --- verify helper: it must be able to say no ----------------------------------------------------------------


def test_verify_rejects_what_it_must(world: World, rsa_ee: asn1_x509.Certificate) -> None:
    zj = _ca(world, "region-330000-rsa")
    issuer = cx.load_certificate(zj.cert_der)
    der = responder.respond(world.instance, _request(issuer, rsa_ee.serial_number, nonce=b"a" * 16))
    ocsp.verify_response(der, issuer=issuer, nonce=b"a" * 16, at=datetime.now(UTC))

    at = der.index(bytes(ocsp.load_response(der).basic_ocsp_response["signature"].native)) + 7
    with pytest.raises(InvalidSignature):  # one bit flipped inside the signature
        ocsp.verify_response(der[:at] + bytes([der[at] ^ 1]) + der[at + 1 :], issuer=issuer)
    at = der.index(b"\xa0\x11\x18\x0f") + 6  # inside nextUpdate of the signed data
    with pytest.raises(InvalidSignature):
        ocsp.verify_response(der[:at] + bytes([der[at] ^ 1]) + der[at + 1 :], issuer=issuer)
    with pytest.raises(InputError, match="nonce"):
        ocsp.verify_response(der, issuer=issuer, nonce=b"b" * 16)
    with pytest.raises(InputError, match="not current"):
        ocsp.verify_response(der, issuer=issuer, at=datetime.now(UTC) + timedelta(hours=2))
    with pytest.raises(InvalidSignature):  # another CA's responder is not authorised for this CA
        ocsp.verify_response(der, issuer=_ca_cert(world, "region-440000-rsa"))
    with pytest.raises(InputError, match="malformed_request"):
        ocsp.verify_response(MALFORMED, issuer=issuer)

    # A response signed by the 440000 responder about a 330000 certificate: signature fine, authority not.
    gd = _ca(world, "region-440000-rsa")
    assert gd.ocsp_key_id is not None and gd.ocsp_cert_der is not None
    now = datetime.now(UTC)
    forged = ocsp.build_response(
        signer=world.instance.keystore.signer(gd.ocsp_key_id, algorithm_for("RSA")),
        responder_cert=cx.load_certificate(gd.ocsp_cert_der),
        statuses=[ocsp.CertStatus(ocsp.CertId.for_certificate(issuer, rsa_ee.serial_number), "good")],
        produced_at=now,
        this_update=now,
        next_update=now + timedelta(hours=1),
    )
    with pytest.raises(InvalidSignature, match="not issued by the CA"):
        ocsp.verify_response(forged, issuer=issuer)

    # A certificate of the CA without id-kp-OCSPSigning may not answer (RFC 6960 4.2.2.2).
    seal = service.issue(
        world.instance,
        ca_id=zj.id,
        profile="seal",
        subject=DN(province="浙江省", organization="示例", common_name="冒充", serial_number=ZJ_ORG_USCC),
        key_family="RSA",
    )
    assert seal.record.key_id is not None
    impostor = ocsp.build_response(
        signer=world.instance.keystore.signer(seal.record.key_id, algorithm_for("RSA")),
        responder_cert=seal.certificate,
        statuses=[ocsp.CertStatus(ocsp.CertId.for_certificate(issuer, rsa_ee.serial_number), "revoked", now)],
        produced_at=now,
        this_update=now,
        next_update=now + timedelta(hours=1),
    )
    with pytest.raises(InvalidSignature, match="OCSPSigning"):
        ocsp.verify_response(impostor, issuer=issuer)


# --- OpenSSL and HTTP against the shared world ---------------------------------------------------------------


@pytest.mark.parametrize("variant", ["CAfile", "VAfile", "no_nonce"])
def test_openssl_ocsp_rsa_good(
    world: World, world_server: str, rsa_ee: asn1_x509.Certificate, tmp_path: Path, variant: str
) -> None:
    files = _files(
        tmp_path,
        ca=world.ca_pem("region-330000-rsa"),
        ee=_pem(rsa_ee),
        chain=world.ca_pem("root-rsa") + world.ca_pem("region-330000-rsa"),
        responder=_pem(_responder_cert(_ca(world, "region-330000-rsa"))),
    )
    extra = {
        "CAfile": ["-CAfile", str(files["chain"])],
        "VAfile": ["-VAfile", str(files["responder"])],
        "no_nonce": ["-CAfile", str(files["chain"]), "-no_nonce"],
    }[variant]
    proc = _openssl_ocsp(world_server, files, *extra, "-resp_text")
    text = _text(proc)
    assert proc.returncode == 0, text
    assert "Response verify OK" in text
    assert f"{files['ee']}: good" in text
    assert "OCSP Response Status: successful (0x0)" in text
    assert "Produced At:" in text and "This Update:" in text and "Next Update:" in text
    assert "WARNING" not in text and "Nonce Verify error" not in text
    # openssl ocsp sends a nonce unless told not to, and checks that it comes back.
    assert ("OCSP Nonce" in text) is (variant != "no_nonce")


def test_openssl_ocsp_sm2_good(world: World, world_server: str, sm2_ee: asn1_x509.Certificate, tmp_path: Path) -> None:
    files = _files(tmp_path, ca=world.ca_pem("region-330000-sm2"), ee=_pem(sm2_ee))
    proc = _openssl_ocsp(world_server, files, "-noverify", "-resp_text")
    text = _text(proc)
    assert proc.returncode == 0, text
    assert f"{files['ee']}: good" in text
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert "OCSP Nonce" in text and "Nonce Verify error" not in text  # the nonce check still runs


def test_sm2_signature_verified_by_openssl_with_the_default_id(
    world: World, sm2_ee: asn1_x509.Certificate, tmp_path: Path
) -> None:
    openssl = require_tool("openssl")
    ca = _ca(world, "region-330000-sm2")
    issuer = cx.load_certificate(ca.cert_der)
    der = responder.respond(world.instance, _request(issuer, sm2_ee.serial_number))
    verified = ocsp.verify_response(der, issuer=issuer, at=datetime.now(UTC))  # ours: signature and chain
    assert verified.responses[0].status == "good"
    basic = ocsp.load_response(der).basic_ocsp_response
    responder_cert = verified.responder

    def pkeyutl_verify(key: asn1_x509.Certificate, data: bytes, signature: bytes, user_id: str) -> bool:
        paths = _files(tmp_path, key=cx.public_key(key).pem().encode())
        (tmp_path / "data.bin").write_bytes(data)
        (tmp_path / "sig.bin").write_bytes(signature)
        proc = subprocess.run(
            [openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", f"distid:{user_id}",
             "-pubin", "-inkey", str(paths["key"]), "-in", str(tmp_path / "data.bin"),
             "-sigfile", str(tmp_path / "sig.bin")],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return proc.returncode == 0 and "Signature Verified Successfully" in proc.stdout

    tbs, signature = basic["tbs_response_data"].dump(), bytes(basic["signature"].native)
    assert pkeyutl_verify(responder_cert, tbs, signature, SM2_DEFAULT_ID)  # the response
    assert not pkeyutl_verify(responder_cert, tbs + b"x", signature, SM2_DEFAULT_ID)  # the check can fail
    cert_tbs = responder_cert["tbs_certificate"].dump()
    cert_sig = bytes(responder_cert["signature_value"].native)
    assert pkeyutl_verify(issuer, cert_tbs, cert_sig, SM2_DEFAULT_ID)  # the responder certificate, by the CA


def test_openssl_ocsp_uses_an_empty_sm2_id(world: World, sm2_ee: asn1_x509.Certificate, tmp_path: Path) -> None:
    """Pins the OpenSSL 3.0 limitation described in the module docstring."""
    openssl = require_tool("openssl")
    ca = _ca(world, "region-330000-sm2")
    issuer = cx.load_certificate(ca.cert_der)
    responder_cert = _responder_cert(ca)
    responder_key_id = ca.ocsp_key_id
    assert responder_key_id is not None
    files = _files(tmp_path, ca=_pem(issuer), ee=_pem(sm2_ee), responder=_pem(responder_cert))
    now = datetime.now(UTC)

    def signed_with(user_id: bytes) -> Path:
        der = ocsp.build_response(
            signer=world.instance.keystore.signer(responder_key_id, SM2_SM3, user_id=user_id),
            responder_cert=responder_cert,
            statuses=[ocsp.CertStatus(ocsp.CertId.for_certificate(issuer, sm2_ee.serial_number), "good")],
            produced_at=now,
            this_update=now,
            next_update=now + timedelta(hours=1),
        )
        path = tmp_path / f"resp-{len(user_id)}.der"
        path.write_bytes(der)
        return path

    def openssl_check(response: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [openssl, "ocsp", "-respin", str(response), "-issuer", str(files["ca"]), "-cert", str(files["ee"]),
             "-VAfile", str(files["responder"]), "-no_nonce"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    default_id = openssl_check(signed_with(SM2_DEFAULT_ID.encode()))
    assert default_id.returncode != 0 and "signature failure" in _text(default_id)
    empty_id = openssl_check(signed_with(b""))
    assert empty_id.returncode == 0 and "Response verify OK" in _text(empty_id), _text(empty_id)


def test_get_form(world: World, world_server: str, rsa_ee: asn1_x509.Certificate) -> None:
    issuer = _ca_cert(world, "region-330000-rsa")
    plain = _request(issuer, rsa_ee.serial_number)
    encoded = base64.b64encode(plain).decode()
    response = httpx.get(f"{world_server}/ocsp/{urllib.parse.quote(encoded, safe='')}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ocsp-response"
    verified = ocsp.verify_response(response.content, issuer=issuer, at=datetime.now(UTC))
    single = verified.responses[0]
    assert single.status == "good" and single.next_update is not None
    max_age = int(response.headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert max_age == (single.next_update - verified.produced_at).total_seconds() == 3600
    assert "public" in response.headers["cache-control"]
    assert response.headers["expires"] and response.headers["last-modified"] and response.headers["etag"]

    # A request whose base64 has '/' and '+' works percent-encoded and with a bare '/' in the path.
    for attempt in range(2000):
        request = _request(issuer, rsa_ee.serial_number, nonce=attempt.to_bytes(2, "big") + os.urandom(14))
        encoded = base64.b64encode(request).decode()
        if "/" in encoded and "+" in encoded:
            break
    else:
        pytest.fail("no request with '/' and '+' in its base64")
    nonce = asn1_ocsp.OCSPRequest.load(request).nonce_value.native
    for path in (urllib.parse.quote(encoded, safe=""), encoded.replace("+", "%2B")):
        response = httpx.get(f"{world_server}/ocsp/{path}")
        assert response.status_code == 200
        assert ocsp.verify_response(response.content, issuer=issuer, nonce=nonce).responses[0].status == "good"
        assert response.headers["cache-control"] == "no-store"  # a nonce makes the answer single-use

    for bad in ("not*base64!", "%00%01", "AAAA", base64.b64encode(b"garbage").decode(), "=" * 8):
        response = httpx.get(f"{world_server}/ocsp/{urllib.parse.quote(bad, safe='')}")
        assert response.status_code == 200, bad
        assert response.content == MALFORMED, bad
        assert response.headers["cache-control"] == "no-store"


def test_http_errors_are_ocsp_statuses(world: World, world_server: str, rsa_ee: asn1_x509.Certificate) -> None:
    headers = {"Content-Type": "application/ocsp-request"}
    cases = _malformed_cases(world, rsa_ee)
    for case in ("empty", "garbage", "truncated", "oversized", "nonce over 128 octets"):
        response = httpx.post(f"{world_server}/ocsp", content=cases[case], headers=headers)
        assert response.status_code == 200, case
        assert response.headers["content-type"] == "application/ocsp-response", case
        assert response.content == MALFORMED, case

    # An oversized body sent chunked (no Content-Length) is cut off while streaming.
    host, port = world_server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/ocsp", body=iter([b"\x30" * 40_000] * 3), headers=headers, encode_chunked=True)
        chunked = conn.getresponse()
        assert chunked.status == 200 and chunked.read() == MALFORMED
    finally:
        conn.close()

    foreign = _request(_ca_cert(world, "root-rsa"), 1)
    response = httpx.post(f"{world_server}/ocsp", content=foreign, headers=headers)
    assert response.status_code == 200 and response.content == UNAUTHORIZED

    good = httpx.post(
        f"{world_server}/ocsp", content=_request(_ca_cert(world, "region-330000-rsa"), rsa_ee.serial_number)
    )
    assert good.status_code == 200 and _status(good.content) == "successful"  # without the media type too


# --- revocation, on a world of this module -------------------------------------------------------------------


def test_openssl_ocsp_rsa_revoked(own: tuple[World, str], tmp_path: Path) -> None:
    world, url = own
    ee = _issue(world, "RSA", "将被吊销 RSA")
    files = _files(
        tmp_path,
        ca=world.ca_pem("region-330000-rsa"),
        ee=_pem(ee),
        chain=world.ca_pem("root-rsa") + world.ca_pem("region-330000-rsa"),
        responder=_pem(_responder_cert(_ca(world, "region-330000-rsa"))),
    )
    before = _openssl_ocsp(url, files, "-CAfile", str(files["chain"]))
    assert before.returncode == 0 and f"{files['ee']}: good" in _text(before), _text(before)

    record, _crl = service.revoke(world.instance, serial=f"{ee.serial_number:x}", reason="key_compromise")
    assert record.revoked_at is not None
    for extra in (["-CAfile", str(files["chain"])], ["-VAfile", str(files["responder"])]):
        proc = _openssl_ocsp(url, files, *extra)
        text = _text(proc)
        assert proc.returncode == 0, text
        assert "Response verify OK" in text
        assert f"{files['ee']}: revoked" in text
        assert "Reason: keyCompromise" in text
        assert "Revocation Time: " + record.revoked_at.strftime("%b %e %H:%M:%S %Y GMT") in text


def test_sm2_revoked(own: tuple[World, str], tmp_path: Path) -> None:
    world, url = own
    ee = _issue(world, "SM2", "将被吊销 SM2")
    record, _crl = service.revoke(world.instance, serial=f"{ee.serial_number:x}", reason="superseded")
    files = _files(tmp_path, ca=world.ca_pem("region-330000-sm2"), ee=_pem(ee))
    proc = _openssl_ocsp(url, files, "-noverify")
    text = _text(proc)
    assert proc.returncode == 0, text
    assert f"{files['ee']}: revoked" in text and "Reason: superseded" in text

    issuer = _ca_cert(world, "region-330000-sm2")
    nonce = os.urandom(32)
    response = httpx.post(f"{url}/ocsp", content=_request(issuer, ee.serial_number, nonce=nonce, hash_algorithm="sm3"))
    single = ocsp.verify_response(response.content, issuer=issuer, nonce=nonce, at=datetime.now(UTC)).responses[0]
    assert single.status == "revoked" and single.reason == "superseded"
    assert single.revoked_at == record.revoked_at


def test_renewed_responder_and_new_ca_are_picked_up(own: tuple[World, str]) -> None:
    world, _url = own
    ee = _issue(world, "SM2", "续期前")
    ca_id = "region-330000-sm2"
    issuer = _ca_cert(world, ca_id)
    request = _request(issuer, ee.serial_number)
    before = ocsp.verify_response(responder.respond(world.instance, request), issuer=issuer).responder
    assert before.dump() == _ca(world, ca_id).ocsp_cert_der

    # Renew the responder the way ensure_ocsp_responder does (a new key and certificate on the CA row).
    with service.transaction(world.instance) as (session, issued):
        ca = session.get(CertificateAuthority, ca_id)
        assert ca is not None
        done = authority.issue(
            session,
            world.instance.keystore,
            service.endpoints(world.instance),
            ca_id=ca_id,
            profile=get_profile("ocsp"),
            subject=DN(province="浙江省", organization="浙江省政务服务平台", common_name="浙江 OCSP 续期"),
            key_family="SM2",
        )
        issued.append(done)
        ca.ocsp_key_id, ca.ocsp_cert_der = done.record.key_id, done.record.der
        session.add(ca)
    after = ocsp.verify_response(responder.respond(world.instance, request), issuer=issuer).responder
    assert after.dump() == done.record.der != before.dump()  # the very next answer is signed by the new one

    # A CA enrolled after the responder warmed up is answered on its first request.
    service.enrol(world.instance, kind="region", code="110000", family="SM2")
    bj_ee = service.issue(
        world.instance,
        ca_id="region-110000-sm2",
        profile="seal",
        subject=DN(province="北京市", organization="北京示例", common_name="北京章", serial_number=ZJ_ORG_USCC),
        key_family="SM2",
    ).certificate
    bj = _ca_cert(world, "region-110000-sm2")
    verified = ocsp.verify_response(responder.respond(world.instance, _request(bj, bj_ee.serial_number)), issuer=bj)
    assert verified.responses[0].status == "good"


# --- pyhanko-certvalidator -----------------------------------------------------------------------------------

OCSP_FOR_END_ENTITIES = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.OCSP_REQUIRED,  # the end entity must be checked by OCSP
        intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,  # the region CA by the root's CRL
    )
)


# pyHanko's validation moment is taken when the context is made, before it fetches the OCSP response; by default a
# response whose thisUpdate is more than 1 s after that moment is "too recent". On a loaded machine the fetch can take
# longer than that, so the test allows a minute (``time_tolerance``) and checks the response's own times itself
# (in the test): a response dated after the validation returned, or already expired, still fails the test.
FETCH_TOLERANCE = timedelta(seconds=60)


async def _pyhanko_validate(root: asn1_x509.Certificate, ee: asn1_x509.Certificate) -> ValidationContext:
    context = ValidationContext(
        trust_roots=[root],
        allow_fetching=True,
        revinfo_policy=OCSP_FOR_END_ENTITIES,
        time_tolerance=FETCH_TOLERANCE,
    )
    try:
        await CertificateValidator(ee, validation_context=context).async_validate_usage({"digital_signature"})
    finally:
        await context.aclose()
    return context


def test_pyhanko_validates_with_our_ocsp(
    world: World, world_server: str, own: tuple[World, str], rsa_ee: asn1_x509.Certificate
) -> None:
    root = _ca_cert(world, "root-rsa")
    context = asyncio.run(_pyhanko_validate(root, rsa_ee))
    returned = datetime.now(UTC)
    (fetched,) = context.ocsps  # pyhanko fetched exactly one OCSP response, from our responder, and used it
    assert fetched["response_status"].native == "successful"
    (single,) = fetched.basic_ocsp_response["tbs_response_data"]["responses"]
    assert single["cert_status"].name == "good"
    # what the widened tolerance no longer checks: the response is not from the future and not expired
    assert single["this_update"].native <= returned
    assert single["next_update"].native is None or single["next_update"].native > returned
    assert fetched.basic_ocsp_response["certs"][0].dump() == _ca(world, "region-330000-rsa").ocsp_cert_der

    own_world, _url = own
    revoked = _issue(own_world, "RSA", "pyhanko 吊销")
    service.revoke(own_world.instance, serial=f"{revoked.serial_number:x}", reason="key_compromise")
    with pytest.raises(RevokedError, match="OCSP response indicates") as excinfo:
        asyncio.run(_pyhanko_validate(_ca_cert(own_world, "root-rsa"), revoked))
    assert excinfo.value.reason.native == "key_compromise"
