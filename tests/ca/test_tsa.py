"""RFC 3161 time-stamping: the TSA certificates, the live ``/tsa`` endpoints, and independent checks.

Peers: OpenSSL's command line (``openssl ts -query`` builds the requests, ``openssl ts -verify`` checks RSA
tokens against the chain root-rsa → national-rsa), pyHanko's HTTP time-stamp client and its own token
validator (``validate_tst_signed_data``, trust anchored at root-rsa, revocation required from our CRLs).

SM2 limitation, pinned by :func:`test_sm2_tsa_openssl_reads_reply_huren_verifies`: OpenSSL 3.0 checks SM2
signatures with an *empty* user ID unless told otherwise (``-vfyopt``/``-pkeyopt distid:``), and
``openssl ts -verify`` has no such option. Our SM2 certificates and tokens are signed with the GB/T 35276
default ID ``1234567812345678``, so ``ts -verify`` fails on a correct SM2 token — already at the chain
("certificate signature failure"), and ``openssl cms -verify -noverify`` fails on the token's own signature.
The test shows the token is right: OpenSSL parses the reply, ``openssl pkeyutl -verify`` with the default
ID accepts the signature over the signed attributes, our verifier accepts the token, and our verifier with
an empty ID (what OpenSSL does) refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import algos, cms, core, tsp, x509
from sqlmodel import Session

from ca import tsa as ca_tsa
from tests.conftest import require_tool
from tests.support.server import free_port
from tests.support.world import World, make_instance
from trust import db
from trust.crypto.errors import ConflictError, InputError, InvalidSignature
from trust.crypto.oids import POLICY
from trust.formats import cms as cms_mod
from trust.formats import tsp as tsa
from trust.formats import x509 as cx
from trust.service import ca as ca_service
from trust.service import tsa as service

QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"
DATA = b"Huren time-stamp test document\n"


# --- helpers -----------------------------------------------------------------------------------------------


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("openssl"), *map(str, args)], capture_output=True, text=True, timeout=30)


def run_ok(*args: str | Path) -> str:
    proc = run(*args)
    assert proc.returncode == 0, f"openssl {' '.join(map(str, args))}: {proc.stderr}"
    return proc.stdout


def post(url: str, body: bytes, content_type: str = QUERY) -> httpx.Response:
    response = httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code < 500, response.text
    return response


def reply(url: str, body: bytes) -> bytes:
    """POST a query; the answer must be HTTP 200 ``application/timestamp-reply``."""
    response = post(url, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == REPLY  # exactly: pyHanko compares the whole header
    return response.content


def current_tsa(world: World, family: str) -> x509.Certificate:
    with db.session_scope(world.instance.engine) as session:
        record = service.current_record(session, family)
        assert record is not None
        return x509.Certificate.load(record.der)


@pytest.fixture(scope="module")
def pki(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chain files (root + national CA) for both families, the TSA certificates and the test data."""
    folder = tmp_path_factory.mktemp("tsa")
    for family in ("rsa", "sm2"):
        (folder / f"{family}-chain.pem").write_bytes(
            world.ca_pem(f"root-{family}") + world.ca_pem(f"national-{family}")
        )
        (folder / f"{family}-national.pem").write_bytes(world.ca_pem(f"national-{family}"))
        (folder / f"{family}-tsa.pem").write_bytes(cx.certificate_pem(current_tsa(world, family.upper())))
    (folder / "data.txt").write_bytes(DATA)
    (folder / "other.txt").write_bytes(DATA + b"tampered")
    return folder


# --- TSA certificates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_tsa_certificates_issued_by_init(world: World, family: str) -> None:
    cert = current_tsa(world, family)
    national = cx.load_certificate(ca_service.ca_certificate_der(world.instance, f"national-{family.lower()}"))
    assert cert.issuer == national.subject
    cx.verify_signature(cert, cx.public_key(national))
    assert cert.extended_key_usage_value.native == ["time_stamping"]
    assert "extended_key_usage" in cert.critical_extensions
    assert cx.public_key(cert).family.value == family
    assert cert.subject.native["common_name"] == f"互认时间戳服务 ({family})"
    assert POLICY["timestamping"] in [p["policy_identifier"].dotted for p in cert.certificate_policies_value]
    tsa.check_tsa_certificate(cert)


def test_ensure_is_idempotent(world: World) -> None:
    """A second run finds both certificates current and issues nothing (checked in a rolled-back session)."""
    before = {f: current_tsa(world, f).serial_number for f in ("SM2", "RSA")}
    session = Session(world.instance.engine)
    try:
        issued = service.ensure_tsa_certificates(session, world.instance.keystore, ca_service.endpoints(world.instance))
        assert issued == []
        for family in ("SM2", "RSA"):
            record = service.current_record(session, family)
            assert record is not None and int(record.serial, 16) == before[family]
    finally:
        session.rollback()
        session.close()


def test_revoked_tsa_refuses_then_renews(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Revoking the TSA certificate makes the service answer systemFailure (not a crash); ``ensure`` issues a
    new certificate, and the next token is signed by it."""
    instance = make_instance(tmp_path / "home", free_port())
    ca_service.init(instance)
    request = tsa.build_request(DATA)
    first = tsa.verify_response(service.timestamp(instance, request, "RSA"), message=DATA)
    old_serial = first.tsa_certificate.serial_number
    ca_service.revoke(instance, serial=f"{old_serial:x}", reason="key_compromise")
    monkeypatch.setattr(service, "REFRESH_SECONDS", 0.0)
    refused = tsa.response_status(service.timestamp(instance, request, "RSA"))
    assert refused.status == "rejection"
    assert refused.fail_info == {"system_failure"}
    renewed = service.ensure(instance)
    assert [r.family for r in renewed] == ["RSA"]  # the SM2 certificate is still good
    second = tsa.verify_response(service.timestamp(instance, request, "RSA"), message=DATA)
    assert second.tsa_certificate.serial_number == int(renewed[0].serial, 16) != old_serial


# --- RSA TSA with OpenSSL ----------------------------------------------------------------------------------


@pytest.mark.external
@pytest.mark.parametrize("path", ["/tsa", "/tsa/rsa"])
def test_openssl_verifies_rsa_time_stamp(world_server: str, pki: Path, path: str) -> None:
    query = pki / f"q{path.replace('/', '-')}.tsq"
    response = pki / f"r{path.replace('/', '-')}.tsr"
    run_ok("ts", "-query", "-data", pki / "data.txt", "-sha256", "-cert", "-out", query)
    response.write_bytes(reply(world_server + path, query.read_bytes()))
    chain = pki / "rsa-chain.pem"

    out = run_ok("ts", "-verify", "-data", pki / "data.txt", "-in", response, "-CAfile", chain)
    assert "Verification: OK" in out
    digest = hashlib.sha256(DATA).hexdigest()
    out = run_ok("ts", "-verify", "-digest", digest, "-in", response, "-CAfile", chain)
    assert "Verification: OK" in out
    out = run_ok("ts", "-verify", "-queryfile", query, "-in", response, "-CAfile", chain)  # nonce too
    assert "Verification: OK" in out

    wrong = run("ts", "-verify", "-data", pki / "other.txt", "-in", response, "-CAfile", chain)
    assert wrong.returncode != 0
    assert "Verification: FAILED" in wrong.stdout
    assert "message imprint mismatch" in wrong.stderr
    # The SM2 chain does not vouch for the RSA TSA.
    foreign = run("ts", "-verify", "-data", pki / "data.txt", "-in", response, "-CAfile", pki / "sm2-chain.pem")
    assert foreign.returncode != 0

    text = run_ok("ts", "-reply", "-in", response, "-text")
    assert "Status: Granted." in text
    assert f"Policy OID: {POLICY['timestamping']}" in text
    assert "Accuracy: 0x01 seconds" in text
    verified = tsa.verify_response(response.read_bytes(), message=DATA)
    with pytest.raises(InvalidSignature, match="message imprint does not match"):
        tsa.verify_response(response.read_bytes(), message=(pki / "other.txt").read_bytes())
    assert verified.signature_algorithm == "rsa-pkcs1-sha256"
    assert verified.ess_hash_algorithm == "sha256"
    national = cx.load_certificate((pki / "rsa-national.pem").read_bytes())
    assert {c.serial_number for c in verified.certificates} == {
        verified.tsa_certificate.serial_number,
        national.serial_number,
    }  # TSA certificate and its issuing CA, not the root


@pytest.mark.external
def test_openssl_rsa_without_cert_req(world_server: str, pki: Path) -> None:
    """Without ``-cert`` the token carries no certificates; OpenSSL verifies with the TSA certificate given."""
    query, response = pki / "nocert.tsq", pki / "nocert.tsr"
    run_ok("ts", "-query", "-data", pki / "data.txt", "-sha512", "-out", query)
    response.write_bytes(reply(world_server + "/tsa", query.read_bytes()))
    token = tsa.load_response(response.read_bytes())["time_stamp_token"]
    assert isinstance(token["content"]["certificates"], core.Void)
    missing = run("ts", "-verify", "-data", pki / "data.txt", "-in", response, "-CAfile", pki / "rsa-chain.pem")
    assert missing.returncode != 0
    out = run_ok(
        "ts",
        "-verify",
        "-data",
        pki / "data.txt",
        "-in",
        response,
        "-CAfile",
        pki / "rsa-chain.pem",
        "-untrusted",
        pki / "rsa-tsa.pem",
    )
    assert "Verification: OK" in out
    tsa_cert = cx.load_certificate((pki / "rsa-tsa.pem").read_bytes())
    verified = tsa.verify_response(response.read_bytes(), message=DATA, certificates=(tsa_cert,))
    assert verified.hash_algorithm == "sha512"


# --- SM2 TSA -----------------------------------------------------------------------------------------------


@pytest.mark.external
@pytest.mark.parametrize("digest_option", ["-sm3", "-sha256"])
def test_sm2_tsa_openssl_reads_reply_huren_verifies(world_server: str, pki: Path, digest_option: str) -> None:
    query, response = pki / f"sm2{digest_option}.tsq", pki / f"sm2{digest_option}.tsr"
    run_ok("ts", "-query", "-data", pki / "data.txt", digest_option, "-cert", "-out", query)
    response.write_bytes(reply(world_server + "/tsa/sm2", query.read_bytes()))
    hash_name = digest_option[1:]

    # OpenSSL reads the reply.
    text = run_ok("ts", "-reply", "-in", response, "-text")
    assert "Status: Granted." in text
    assert f"Hash Algorithm: {hash_name}" in text
    assert f"Policy OID: {POLICY['timestamping']}" in text
    assert "TSA: DirName:/C=CN/O=" in text

    # Huren's verifier accepts it: SM2 with SM3, ESSCertIDv2 with SM3, imprint, EKU, nonce from the query.
    nonce = tsp.TimeStampReq.load(query.read_bytes())["nonce"].native
    verified = tsa.verify_response(response.read_bytes(), message=DATA, nonce=nonce, policy=POLICY["timestamping"])
    assert verified.signature_algorithm == "sm2-sm3"
    assert verified.ess_hash_algorithm == "sm3"
    assert verified.hash_algorithm == hash_name
    with pytest.raises(InvalidSignature, match="message imprint does not match"):
        tsa.verify_response(response.read_bytes(), message=DATA + b"x")

    # The limitation: OpenSSL 3.0 verifies SM2 with an empty user ID, and `ts -verify` cannot be told otherwise.
    failed = run("ts", "-verify", "-data", pki / "data.txt", "-in", response, "-CAfile", pki / "sm2-chain.pem")
    assert failed.returncode != 0 and "Verification: FAILED" in failed.stdout
    assert "certificate signature failure" in failed.stderr
    token = pki / f"sm2{digest_option}.token"
    run_ok("ts", "-reply", "-in", response, "-token_out", "-out", token)
    cms_fail = run("cms", "-verify", "-inform", "DER", "-in", token, "-noverify", "-out", pki / "tst.der")
    assert cms_fail.returncode != 0 and "verification failure" in cms_fail.stderr
    with pytest.raises(InvalidSignature):  # what OpenSSL does: our verifier with an empty ID refuses it too
        cms_mod.verify(verified.token, sm2_user_id=b"")

    # ... while OpenSSL itself accepts the same signature once given the GB/T 35276 default ID.
    signer_info = verified.token["content"]["signer_infos"][0]
    raw = signer_info["signed_attrs"].dump()
    (pki / "attrs.der").write_bytes(b"\x31" + raw[1:])
    (pki / "sig.der").write_bytes(bytes(signer_info["signature"].native))
    (pki / "sm2-tsa.pub").write_text(cx.public_key(verified.tsa_certificate).pem())
    out = run_ok(
        "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
        "-pubin", "-inkey", pki / "sm2-tsa.pub", "-in", pki / "attrs.der", "-sigfile", pki / "sig.der",
    )  # fmt: skip
    assert "Signature Verified Successfully" in out
    # ... and OpenSSL accepts each link of the SM2 chain with the default ID. (`-vfyopt` applies to the
    # certificate being verified only, so `openssl verify` cannot check a three-level SM2 chain in one go.)
    national = pki / "sm2-national.pem"
    for issuer, subject in ((national, pki / "sm2-tsa.pem"), (pki / "sm2-chain.pem", national)):
        link = run_ok("verify", "-vfyopt", "distid:1234567812345678", "-partial_chain", "-CAfile", issuer, subject)
        assert link.strip().endswith("OK")


# --- pyHanko -----------------------------------------------------------------------------------------------


def _pyhanko_validate(world: World, token: cms.ContentInfo, data: bytes, family: str = "rsa") -> Any:
    """pyHanko's time-stamp token validation, trust anchored at the root of ``family``, revocation required
    (from our CRLs, no fetching). SM2 signatures go through the project's pyHanko signature validator."""
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    from trust.crypto.certvalidator import SIGNATURE_VALIDATOR

    root = x509.Certificate.load(ca_service.ca_certificate_der(world.instance, f"root-{family}"))
    crls = [der for kind in ("root", "national") for der in ca_service.current_crls(world.instance, f"{kind}-{family}")]
    context = ValidationContext(
        trust_roots=[root],
        crls=crls,
        allow_fetching=False,
        revocation_mode="require",
        signature_validator=SIGNATURE_VALIDATOR,
    )

    def expected(algorithm: str) -> bytes:
        return hashlib.new(algorithm, data).digest()

    kwargs = asyncio.run(validate_tst_signed_data(token["content"], context, expected))
    return TimestampSignatureStatus(**kwargs)


@pytest.mark.parametrize("md_algorithm", ["sha256", "sha512"])
def test_pyhanko_client_and_validator_rsa(world: World, world_server: str, md_algorithm: str) -> None:
    from pyhanko.sign.timestamps import HTTPTimeStamper

    stamper = HTTPTimeStamper(world_server + "/tsa")
    token = asyncio.run(stamper.async_timestamp(hashlib.new(md_algorithm, DATA).digest(), md_algorithm))
    status = _pyhanko_validate(world, token, DATA)
    assert status.intact and status.valid, status
    assert status.trusted, status.trust_problem_indic
    assert abs(status.timestamp - datetime.now(UTC)) < timedelta(seconds=30)
    assert [c.subject.native["common_name"] for c in status.validation_path.iter_certs(include_root=True)] == [
        "互认国家根CA (RSA)",
        "互认国家运营CA (RSA)",
        "互认时间戳服务 (RSA)",
    ]
    # The same token over other data: pyHanko says it is not intact.
    other = _pyhanko_validate(world, token, DATA + b"!")
    assert not other.intact


def test_pyhanko_client_and_validator_sm2(world: World, world_server: str) -> None:
    """pyHanko's client talks to the SM2 TSA; Huren's verifier and pyHanko's token validation (its CMS, ESS and
    path logic, with the project's SM2 signature validator plugged in) accept the token."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    stamper = HTTPTimeStamper(world_server + "/tsa/sm2")
    token = asyncio.run(stamper.async_timestamp(hashlib.new("sm3", DATA).digest(), "sm3"))
    verified = tsa.verify_token(token, message=DATA)
    assert verified.signature_algorithm == "sm2-sm3" and verified.hash_algorithm == "sm3"
    status = _pyhanko_validate(world, token, DATA, "sm2")
    assert status.intact and status.valid, status
    assert status.trusted, status.trust_problem_indic
    assert not _pyhanko_validate(world, token, DATA + b"!", "sm2").intact


# --- bad input ---------------------------------------------------------------------------------------------


def _request(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(DATA).digest()},
        "nonce": 42,
        "cert_req": True,
    }
    fields.update(overrides)
    return bytes(tsp.TimeStampReq(fields).dump())


GOOD = _request()
BAD_INPUTS = [
    pytest.param(b"not a time-stamp request", "bad_data_format", id="garbage"),
    pytest.param(b"", "bad_data_format", id="empty"),
    pytest.param(GOOD[:-7], "bad_data_format", id="truncated"),
    pytest.param(GOOD + b"\x00\x00", "bad_data_format", id="trailing-bytes"),
    pytest.param(b"\x30\x84\xff\xff\xff\xff" + GOOD[2:], "bad_data_format", id="huge-length"),
    pytest.param(_request(version=2), "bad_data_format", id="version-2"),
    pytest.param(
        _request(message_imprint={"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x01" * 20}),
        "bad_data_format",
        id="imprint-length",
    ),
    pytest.param(
        _request(message_imprint={"hash_algorithm": {"algorithm": "md5"}, "hashed_message": b"\x01" * 16}),
        "bad_alg",
        id="md5",
    ),
    pytest.param(
        _request(message_imprint={"hash_algorithm": {"algorithm": "sha1"}, "hashed_message": b"\x01" * 20}),
        "bad_alg",
        id="sha1",
    ),
    pytest.param(
        _request(
            message_imprint={
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sm3", "parameters": core.Integer(1)}),
                "hashed_message": b"\x01" * 32,
            }
        ),
        "bad_alg",
        id="hash-parameters",
    ),
    pytest.param(_request(req_policy="1.2.3.4.5"), "unaccepted_policy", id="unknown-policy"),
    pytest.param(
        _request(extensions=[{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]),
        "unaccepted_extensions",
        id="extensions",
    ),
    pytest.param(_request(nonce=1 << 600), "bad_data_format", id="nonce-too-long"),
    pytest.param(b"\x30" + b"\x82\xff\xff" + b"\x00" * 0xFFFF, "bad_request", id="over-64KiB"),
]


@pytest.mark.parametrize("path", ["/tsa", "/tsa/sm2"])
@pytest.mark.parametrize(("body", "fail_info"), BAD_INPUTS)
def test_bad_requests_are_rejected(world_server: str, path: str, body: bytes, fail_info: str) -> None:
    status = tsa.response_status(reply(world_server + path, body))
    assert status.status == "rejection"
    assert status.fail_info == {fail_info}
    assert status.text


def test_good_request_baseline(world_server: str) -> None:
    """The request the bad ones are derived from is granted (so each bad case fails for its own reason)."""
    verified = tsa.verify_response(reply(world_server + "/tsa", GOOD), message=DATA, nonce=42)
    assert verified.nonce == 42
    assert tsa.response_status(reply(world_server + "/tsa", _request(req_policy=POLICY["timestamping"]))).granted


@pytest.mark.external
def test_openssl_reads_rejections(world_server: str, pki: Path) -> None:
    bodies: dict[str, bytes] = {str(case.id): case.values[0] for case in BAD_INPUTS}  # type: ignore[misc]
    for case, meaning in (
        ("md5", "unsupported algorithm"),
        ("extensions", "extension is not supported"),
        ("unknown-policy", "policy is not supported"),
        ("imprint-length", "the data submitted has the wrong format"),
    ):
        body = bodies[case]
        path = pki / "rejected.tsr"
        path.write_bytes(reply(world_server + "/tsa", body))
        text = run_ok("ts", "-reply", "-in", path, "-text")
        assert "Status: Rejected." in text
        assert meaning in text


def test_oversized_chunked_body(world_server: str) -> None:
    """No Content-Length (chunked): the route stops reading at 64 KiB and answers badRequest."""

    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b"\x00" * 1024

    response = httpx.post(world_server + "/tsa", content=chunks(), headers={"Content-Type": QUERY}, timeout=30)
    assert response.status_code == 200
    assert tsa.response_status(response.content).fail_info == {"bad_request"}


def test_wrong_media_type_is_a_problem(world_server: str) -> None:
    response = post(world_server + "/tsa", GOOD, content_type="application/octet-stream")
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "E1008"
    assert httpx.get(world_server + "/tsa", timeout=10).status_code == 405


# --- token contents ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/tsa", "/tsa/sm2"])
def test_serials_differ_gentime_now_nonce_echoed(world_server: str, path: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    first = tsa.verify_response(reply(world_server + path, _request(nonce=7)), message=DATA, nonce=7)
    second = tsa.verify_response(reply(world_server + path, _request(nonce=8)), message=DATA, nonce=8)
    end = datetime.now(UTC)
    assert first.serial_number != second.serial_number
    assert first.serial_number.bit_length() > 64 and second.serial_number.bit_length() > 64
    for token in (first, second):
        assert start - timedelta(seconds=1) <= token.gen_time <= end + timedelta(seconds=1)
        assert token.gen_time.microsecond == 0
        assert token.accuracy == timedelta(seconds=1)
        assert token.policy == POLICY["timestamping"]
        assert not token.ordering
        assert token.tsa_name is not None and token.tsa_name.chosen == token.tsa_certificate.subject
    assert (first.nonce, second.nonce) == (7, 8)
    with pytest.raises(InvalidSignature, match="nonce"):
        tsa.verify_response(reply(world_server + path, _request(nonce=9)), message=DATA, nonce=10)


def test_message_imprint_is_copied_exactly(world: World) -> None:
    """A request with absent SHA-256 parameters gets them back absent (the imprint is copied byte for byte)."""
    imprint = tsp.MessageImprint(
        {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(DATA).digest()}
    )
    der = imprint.dump()
    assert der[15:17] == b"\x05\x00"  # asn1crypto writes NULL; strip it to get the absent form
    absent = der[:1] + bytes([der[1] - 2]) + der[2:3] + bytes([der[3] - 2]) + der[4:15] + der[17:]
    request = _request(message_imprint=tsp.MessageImprint.load(absent))
    response = service.timestamp(world.instance, request, "RSA")
    verified = tsa.verify_response(response, message=DATA)
    tst = tsp.TSTInfo.load(verified.token["content"]["encap_content_info"]["content"].contents)
    assert tst["message_imprint"].dump() == absent


# --- the pure verifier refuses forgeries -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_tsa(world: World) -> ca_tsa.TimeStampAuthority:
    return service.authority_for(world.instance, "RSA")


def test_tsa_refuses_outside_its_certificate_validity(rsa_tsa: ca_tsa.TimeStampAuthority) -> None:
    request = tsa.parse_request(GOOD)
    not_after = rsa_tsa.certificate["tbs_certificate"]["validity"]["not_after"].native
    with pytest.raises(ConflictError, match="not valid at this time"):
        rsa_tsa.token(request, gen_time=not_after + timedelta(seconds=1))
    assert tsa.verify_token(rsa_tsa.token(request, gen_time=not_after), message=DATA).gen_time == not_after


def test_tampered_tst_info_is_refused(rsa_tsa: ca_tsa.TimeStampAuthority) -> None:
    token = rsa_tsa.token(tsa.parse_request(GOOD))
    der = bytearray(token.dump())
    tst_der = token["content"]["encap_content_info"]["content"].contents
    at = bytes(der).index(tst_der) + len(tst_der) - 40  # inside genTime / nonce / tsa name
    der[at] ^= 0x01
    with pytest.raises(InvalidSignature, match="messageDigest does not match"):
        tsa.verify_token(bytes(der), message=DATA)


def test_tampered_signature_is_refused(rsa_tsa: ca_tsa.TimeStampAuthority) -> None:
    token = rsa_tsa.token(tsa.parse_request(GOOD))
    signature = bytes(token["content"]["signer_infos"][0]["signature"].native)
    der = token.dump().replace(signature, signature[:-1] + bytes([signature[-1] ^ 0x80]))
    with pytest.raises(InvalidSignature, match="CMS signature does not verify"):
        tsa.verify_token(der, message=DATA)


def test_signing_certificate_must_name_the_signer(world: World, rsa_tsa: ca_tsa.TimeStampAuthority) -> None:
    """A token whose signingCertificateV2 names another certificate (here the issuing CA) is refused."""
    national = cx.load_certificate(ca_service.ca_certificate_der(world.instance, "national-rsa"))
    tst = rsa_tsa.tst_info(tsa.parse_request(GOOD), gen_time=datetime.now(UTC), serial=ca_tsa.new_serial())
    forged = cms_mod.sign(
        tst.dump(),
        rsa_tsa.signer,
        rsa_tsa.certificate,
        content_type="tst_info",
        attributes=[tsa.signing_certificate_v2(national)],
    )
    with pytest.raises(InvalidSignature, match="signingCertificateV2 hash does not match"):
        tsa.verify_token(forged, message=DATA)
    unbound = cms_mod.sign(tst.dump(), rsa_tsa.signer, rsa_tsa.certificate, content_type="tst_info")
    with pytest.raises(InvalidSignature, match="signingCertificate"):
        tsa.verify_token(unbound, message=DATA)


def test_only_tsa_certificates_may_time_stamp(world: World, rsa_tsa: ca_tsa.TimeStampAuthority) -> None:
    """The OCSP responder certificate (EKU ocspSigning) cannot back a TSA."""
    with db.session_scope(world.instance.engine) as session:
        from ca.models import CertificateAuthority

        ca = session.get(CertificateAuthority, "national-rsa")
        assert ca is not None and ca.ocsp_cert_der is not None and ca.ocsp_key_id is not None
        ocsp_cert, ocsp_key = x509.Certificate.load(ca.ocsp_cert_der), ca.ocsp_key_id
    signer = world.instance.keystore.signer(ocsp_key)
    with pytest.raises(InputError, match="id-kp-timeStamping"):
        ca_tsa.TimeStampAuthority(signer=signer, certificate=ocsp_cert)
    with pytest.raises(InputError, match="not the key"):
        replace(rsa_tsa, signer=signer)


# --- trust.formats.cms beyond time-stamps -----------------------------------------------------------------------------


@pytest.mark.external
@pytest.mark.parametrize("rsa_identifier", ["sha_with_rsa", "rsa_encryption"])
def test_cms_detached_rsa_verifies_with_openssl(
    rsa_tsa: ca_tsa.TimeStampAuthority, pki: Path, rsa_identifier: str
) -> None:
    signed = cms_mod.sign(
        DATA,
        rsa_tsa.signer,
        rsa_tsa.certificate,
        detached=True,
        signing_time=datetime.now(UTC),
        rsa_identifier=rsa_identifier,  # type: ignore[arg-type]
    )
    assert signed["content"]["version"].native == "v1"
    path = pki / f"detached-{rsa_identifier}.p7s"
    path.write_bytes(signed.dump())
    proc = run("cms", "-verify", "-binary", "-inform", "DER", "-in", path, "-content", pki / "data.txt", "-noverify")
    assert proc.returncode == 0, proc.stderr
    bad = run("cms", "-verify", "-binary", "-inform", "DER", "-in", path, "-content", pki / "other.txt", "-noverify")
    assert bad.returncode != 0
    verified = cms_mod.verify(signed, detached_content=DATA)
    assert verified.signing_time is not None
    with pytest.raises(InvalidSignature, match="messageDigest"):
        cms_mod.verify(signed, detached_content=DATA + b"x")


def test_cms_sm2_both_signature_oids(world: World) -> None:
    sm2_tsa = service.authority_for(world.instance, "SM2")
    for oid_name, dotted in (("sm2_sm3", "1.2.156.10197.1.501"), ("sm2_sign", "1.2.156.10197.1.301.1")):
        signed = cms_mod.sign(DATA, sm2_tsa.signer, sm2_tsa.certificate, sm2_identifier=oid_name)  # type: ignore[arg-type]
        signer_info = signed["content"]["signer_infos"][0]
        assert signer_info["signature_algorithm"]["algorithm"].dotted == dotted
        assert signer_info["digest_algorithm"]["algorithm"].native == "sm3"
        assert cms_mod.verify(signed).content == DATA


def test_cms_refuses_detached_content_for_embedded_signature(rsa_tsa: ca_tsa.TimeStampAuthority) -> None:
    """A CMS object carrying content must not be accepted as a detached signature over other bytes."""
    signed = cms_mod.sign(DATA, rsa_tsa.signer, rsa_tsa.certificate)
    with pytest.raises(InvalidSignature, match="encapsulated content"):
        cms_mod.verify(signed, detached_content=b"something else")


def test_rejection_encoding() -> None:
    """failInfo is a DER named bit string (trailing zero bits dropped); no token in a rejection."""
    der = tsa.rejection(tsa.Failure.BAD_ALG, "no")
    resp = tsa.TimeStampResp.load(der)
    assert resp["status"]["status"].native == "rejection"
    assert resp["status"]["fail_info"].dump() == b"\x03\x02\x07\x80"  # bit 0 = badAlg
    assert isinstance(resp["time_stamp_token"], core.Void)
    assert tsp.PKIFailureInfo.load(
        tsa.TimeStampResp.load(tsa.rejection(tsa.Failure.UNACCEPTED_EXTENSION, "x"))["status"]["fail_info"].dump()
    ).native == {"unaccepted_extensions"}
