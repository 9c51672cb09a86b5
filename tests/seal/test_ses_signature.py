"""GB/T 38540 signatures (SES_Signature) over document hashes: made by ``trust.service.seals.signing.sign_hash`` and
``seal.signature.sign``, checked by independent implementations — asn1tools (``ses.asn``), gmssl's SM3, OpenSSL's
SM2 verification and its RFC 3161 token reader — and by the offline verifier."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asn1tools
import pytest
from gmssl import func, sm3
from sqlmodel import func as sql_func
from sqlmodel import select

from ca import authority
from seal import signature as ses_signature
from seal.models import SealEvent, SealRecord
from tests.conftest import STANDARDS, require_tool
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.algorithms import RSA_PKCS1_SHA256, SM2_SM3
from trust.crypto.errors import Code, ConflictError, InputError, NotFoundError, UnavailableError, UnsupportedAlgorithm
from trust.crypto.keys import generate_private_key
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats import tsp as tsa_mod
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import seals, trust
from trust.service.seals import signing
from verifier import context
from verifier.report import Indication, Report, SubIndication
from verifier.ses import signature as signature_verifier

SES = asn1tools.compile_files(str(STANDARDS / "ses.asn"), "der")
DOCUMENT = "<ofd:Signature>电子证照</ofd:Signature>".encode()
PROPERTY = "/Doc_0/Signs/Sign_0/Signature.xml"


def sm3_of(data: bytes) -> bytes:
    """SM3 by gmssl, independent of Huren's."""
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utc(v) for v in value]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return value[0], _utc(value[1])
    return value


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("ses-signatures") / "home")


@pytest.fixture(scope="module")
def seal(world: World) -> SealRecord:
    return seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="电子证照专用章",
        dual=True,
    )


def _holder(world: World, record: SealRecord, family: str = "SM2") -> tuple[Signer, bytes]:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        from seal import registry

        key_id, der = registry.signer_key_ids(session, record)[family]
    return world.instance.keystore.signer(key_id, SM2_SM3 if family == "SM2" else RSA_PKCS1_SHA256), der


def _verify(world: World, signature: bytes, data: bytes | None = DOCUMENT) -> Report:
    """The offline verifier's report on ``signature`` over ``data`` (the one SES_Signature verifier)."""
    ctx = context.build(
        bundle=trust.export_bundle(world.instance).read_bytes(), pins=[trust.root_fingerprints(world.instance)["SM2"]]
    )
    return signature_verifier.verify_ses_signature(signature, ctx, signed_data=data)


def test_round_trip(world: World, seal: SealRecord) -> None:
    signature = signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY)
    record = ses.parse_signature(signature)
    assert (record.version, record.property_info, record.tagging) == (4, PROPERTY, "explicit")
    assert record.data_hash == sm3_of(DOCUMENT)
    assert record.signer_cert == _holder(world, seal)[1] and record.seal.der == seal.seal_der
    assert abs(record.time_info - datetime.now(UTC)) < timedelta(minutes=1) and record.time_info.microsecond == 0
    # asn1tools reads the same signature, with the seal embedded byte for byte.
    decoded = _utc(SES.decode("SES-Signature", signature))
    assert SES.encode("SESeal", decoded["toSign"]["eseal"]) == seal.seal_der
    assert decoded["toSign"]["dataHash"] == (sm3_of(DOCUMENT), 256)
    assert decoded["toSign"]["timeInfo"] == record.time_info and decoded["signatureAlgID"] == "1.2.156.10197.1.501"
    assert SES.encode("SES-Signature", decoded) == signature
    # The same request with the SM3 digest instead of the data gives the same dataHash; the wrong data fails.
    by_hash = signing.sign_hash(
        world.instance, es_id=seal.es_id, data_hash=sm3_of(DOCUMENT), property_info=PROPERTY, timestamp=False
    )
    assert ses.parse_signature(by_hash).data_hash == record.data_hash
    for made in (signature, by_hash):
        report = _verify(world, made)
        assert report.passed, report.to_text()
    wrong = _verify(world, signature, DOCUMENT + b"x")
    assert (wrong.indication, wrong.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_time_stamp_over_the_signature_value(world: World, seal: SealRecord, tmp_path: Path) -> None:
    signature = signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY)
    decoded = SES.decode("SES-Signature", signature)
    token, bits = decoded["timeStamp"]
    value = decoded["signature"][0]
    assert bits == 8 * len(token)
    stamp = tsa_mod.verify_token(token, message=value)
    assert stamp.hash_algorithm == "sm3" and stamp.policy == tsa_mod.POLICY
    assert "互认时间戳服务 (SM2)" in stamp.tsa_certificate.subject.human_friendly
    assert abs(stamp.gen_time - ses.parse_signature(signature).time_info) <= timedelta(seconds=2)
    # OpenSSL reads the token: an SM3 imprint of exactly the signature value.
    openssl = require_tool("openssl")
    (tmp_path / "token.der").write_bytes(token)
    text = subprocess.run(
        [openssl, "ts", "-reply", "-token_in", "-in", str(tmp_path / "token.der"), "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Hash Algorithm: sm3" in text
    block = text.split("Message data:")[1].split("Serial number:")[0]
    imprint = "".join(re.findall(r"^\s+[0-9a-f]{4} - (.{47})", block, re.M)).replace("-", " ").split()
    assert bytes.fromhex("".join(imprint)) == sm3_of(value)
    # Without a time-stamp there is no [0] field at all.
    plain = SES.decode(
        "SES-Signature",
        signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY, timestamp=False),
    )
    assert "timeStamp" not in plain and "extDatas" not in plain["toSign"]


def test_openssl_verifies_the_signers_signature(world: World, seal: SealRecord, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    signature = signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY)
    decoded = _utc(SES.decode("SES-Signature", signature))
    (tmp_path / "signer.der").write_bytes(decoded["cert"])
    subprocess.run(
        [
            openssl,
            "x509",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signer.der"),
            "-pubkey",
            "-noout",
            "-out",
            str(tmp_path / "signer.pem"),
        ],
        check=True,
        capture_output=True,
    )
    (tmp_path / "sig.der").write_bytes(decoded["signature"][0])

    def verify(tbs: bytes) -> subprocess.CompletedProcess[str]:
        (tmp_path / "tbs.der").write_bytes(tbs)
        return subprocess.run(
            [
                openssl,
                "pkeyutl",
                "-verify",
                "-rawin",
                "-digest",
                "sm3",
                "-pkeyopt",
                "distid:1234567812345678",
                "-pubin",
                "-inkey",
                str(tmp_path / "signer.pem"),
                "-in",
                str(tmp_path / "tbs.der"),
                "-sigfile",
                str(tmp_path / "sig.der"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    tbs = SES.encode("TBS-Sign", decoded["toSign"])  # the independent encoder's DER(TBS_Sign)
    assert tbs in signature
    good = verify(tbs)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout, good.stderr
    other = decoded["toSign"] | {"dataHash": (sm3_of(b"another document"), 256)}
    assert verify(SES.encode("TBS-Sign", other)).returncode != 0


def test_extension_data_is_explicitly_tagged(world: World, seal: SealRecord) -> None:
    signer, cert = _holder(world, seal)
    signature = ses_signature.sign(
        seal=seal.seal_der,
        signer=signer,
        signer_cert=cert,
        property_info=PROPERTY,
        data=DOCUMENT,
        extensions=[("1.2.156.3005.9.1", False, b"ofd")],
    )
    decoded = SES.decode("SES-Signature", signature)  # ses.asn declares extDatas [0] EXPLICIT
    assert decoded["toSign"]["extDatas"] == [{"extnID": "1.2.156.3005.9.1", "critical": False, "extnValue": b"ofd"}]
    assert ses.parse_signature(signature).tagging == "explicit"
    report = _verify(world, signature)
    assert report.passed, report.to_text()


def _counts(world: World) -> tuple[int, int, int]:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        events = int(session.exec(select(sql_func.count()).select_from(SealEvent)).one())
        records = int(session.exec(select(sql_func.count()).select_from(SealRecord)).one())
    return events, records, len(list((world.home / "keys").glob("*")))


def test_bad_requests_are_refused_and_store_nothing(world: World, seal: SealRecord) -> None:
    before = _counts(world)
    digest = sm3_of(DOCUMENT)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"data": DOCUMENT, "data_hash": digest}, InputError, "exactly one"),
        ({}, InputError, "exactly one"),
        ({"data_hash": digest[:20]}, InputError, "32 bytes"),
        ({"data": DOCUMENT, "property_info": ""}, InputError, "propertyInfo"),
        ({"data": DOCUMENT, "property_info": "签章.xml"}, InputError, "ASCII"),
        ({"data": DOCUMENT, "es_id": "330000NOPE"}, NotFoundError, "no seal"),
    ]
    for kwargs, error, message in cases:
        arguments = {"es_id": seal.es_id, "property_info": PROPERTY, **kwargs}
        with pytest.raises(error, match=message):
            signing.sign_hash(world.instance, **arguments)
    assert _counts(world) == before
    # A suspended seal may not sign; reinstated, it may again.
    seals.set_status(world.instance, seal.es_id, "suspended", "盖章暂停")
    with pytest.raises(ConflictError, match="suspended"):
        signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY)
    seals.set_status(world.instance, seal.es_id, "active")
    assert signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY, timestamp=False)


def test_pure_signing_refusals(world: World, seal: SealRecord) -> None:
    signer, cert = _holder(world, seal)
    base: dict[str, Any] = {
        "seal": seal.seal_der,
        "signer": signer,
        "signer_cert": cert,
        "property_info": PROPERTY,
        "data": DOCUMENT,
    }
    parsed = ses.parse_seal(seal.seal_der)
    stranger = ca_service.issue(
        world.instance,
        ca_id="region-330000-sm2",
        profile="seal",
        key_family="SM2",
        subject=DN(
            province="浙江省",
            organization="别家公司",
            common_name="别家公章",
            serial_number=make_uscc("91330106MA2CFA4Y0"),
        ),
    )
    stranger_signer = world.instance.keystore.signer(stranger.record.key_id or "", SM2_SM3)
    with pytest.raises(InputError, match="not in the certList"):
        ses_signature.sign(**{**base, "signer": stranger_signer, "signer_cert": stranger.record.der})
    with pytest.raises(InputError) as mismatch:
        ses_signature.sign(**{**base, "signer": generate_private_key("sm2").signer()})
    assert mismatch.value.code is Code.KEY_MISMATCH
    with pytest.raises(InputError, match="valid from"):
        ses_signature.sign(**base, time_info=parsed.valid_end + timedelta(days=1))
    with pytest.raises(UnsupportedAlgorithm):
        rsa_signer, rsa_cert = _holder(world, seal, "RSA")
        ses_signature.sign(**{**base, "signer": rsa_signer, "signer_cert": rsa_cert})
    with pytest.raises(InputError, match="PEM"):
        ses_signature.sign(**{**base, "signer_cert": b"-----BEGIN CERTIFICATE-----\n"})

    # A time-stamper that answers for other data is caught before the signature leaves.
    def wrong_stamper(value: bytes) -> bytes:
        request = tsa_mod.build_request(hash_algorithm="sm3", message_digest=sm3_of(b"not the signature"))
        from trust.service import tsa as tsa_service

        return ses_signature.time_stamp_token(tsa_service.timestamp(world.instance, request, "SM2"))

    with pytest.raises(Exception, match="imprint"):
        ses_signature.sign(**base, timestamper=wrong_stamper)
    with db.session_scope(world.instance.engine, read_only=True) as session:
        assert authority.find_certificate(session, seal.sm2_cert_serial or "").status == "valid"


def test_a_time_stamp_that_cannot_be_had_is_an_unavailable_error(world: World, seal: SealRecord) -> None:
    """Last in this module: it revokes the world's SM2 TSA certificate."""
    from trust.service import tsa as tsa_service

    with db.session_scope(world.instance.engine, read_only=True) as session:
        current = tsa_service.current_record(session, "SM2")
        assert current is not None
    ca_service.revoke(world.instance, serial=current.serial, reason="key_compromise")
    with pytest.raises(UnavailableError, match="could not time-stamp"):
        signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY)
    # Without a time-stamp the signature can still be made (the caller chose to go without).
    assert signing.sign_hash(world.instance, es_id=seal.es_id, data=DOCUMENT, property_info=PROPERTY, timestamp=False)


def test_a_revoked_signer_certificate_may_not_sign(world: World) -> None:
    """Huren refuses to sign with a seal whose SM2 certificate was revoked (the seal itself still active): what the
    verifier would call REVOKED is never made (moved here from tests/verifier/test_ses_verify.py, which now runs on
    golden artefacts without the service)."""
    record = seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="财务专用章",
    )

    def sign() -> bytes:
        return signing.sign_hash(
            world.instance, es_id=record.es_id, data=DOCUMENT, property_info=PROPERTY, timestamp=False
        )

    assert sign()
    ca_service.revoke(world.instance, serial=record.sm2_cert_serial or "", reason="key_compromise")
    with pytest.raises(ConflictError, match="revoked"):
        sign()
