"""GB/T 38540 seals and signatures verified offline — Huren's own and those of other implementations.

There are no third-party sample files, so the "other implementations" are written here with an independent encoder:
asn1tools compiling ``tests/data/vendor/ses-asn/ses.asn`` (plus the few structures its comments describe: what a
version-1 maker signs, a version-5 seal with ``timeStamp [0]``, and the untagged variant of the optional ``[0]``
fields), signed with keys from ``trust.crypto`` and certificates of a world's region CAs. Every single failure is
caught with its ETSI EN 319 102-1 indication; unreadable input is an InputError (the CLI's exit 3). The network is
blocked in this folder (conftest).
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asn1tools
import pytest
from asn1crypto import core, tsp
from gmssl import func, sm3

from ca import authority
from seal import signature as ses_signature
from seal.models import SealMaker
from tests.conftest import STANDARDS
from tests.support.server import free_port
from tests.support.world import ZJ_ORG_USCC, World, build_world
from trust import db
from trust.crypto.algorithms import ECDSA_SHA256, RSA_PKCS1_SHA256, SM2_SM3
from trust.crypto.errors import Category, InputError
from trust.crypto.keys import generate_private_key
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats import tsp as tsa_mod
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import seals, trust
from trust.service import tsa as tsa_service
from trust.service.seals import signing
from verifier import api, context
from verifier.report import Indication, Report, Result, SubIndication, bottom_line
from verifier.ses import checks as ses_checks
from verifier.ses import received as ses_received
from verifier.ses import seal as seal_verifier
from verifier.ses import signature as signature_verifier

SM2_OID = "1.2.156.10197.1.501"
RSA_SHA256_OID = "1.2.840.113549.1.1.11"
ECDSA_SHA256_OID = "1.2.840.10045.4.3.2"
GD_USCC = make_uscc("91440101MA5CXXX00")
DOCUMENT = b"<ofd:Document>...</ofd:Document>"
PROPERTY = "/Doc_0/Signs/Sign_0/Signature.xml"

# Structures ses.asn describes in its comments, for the independent encoder.
EXTRA_ASN = """
TBS-SealV1 ::= SEQUENCE { sealInfo SES-SealInfoV1, cert OCTET STRING, signatureAlgorithm OBJECT IDENTIFIER }
SESealV5 ::= SEQUENCE { eSealInfo SES-SealInfo, cert OCTET STRING, signAlgID OBJECT IDENTIFIER,
                        signedValue BIT STRING, timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
TBS-SignUntagged ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo GeneralizedTime, dataHash BIT STRING,
                                propertyInfo IA5String, extDatas ExtensionDatas OPTIONAL }
SES-SignatureUntagged ::= SEQUENCE { toSign TBS-SignUntagged, cert OCTET STRING, signatureAlgID OBJECT IDENTIFIER,
                                     signature BIT STRING, timeStamp BIT STRING OPTIONAL }
TBS-SignV5 ::= SEQUENCE { version INTEGER, eseal SESealV5, timeInfo GeneralizedTime, dataHash BIT STRING,
                          propertyInfo IA5String, extDatas [0] EXPLICIT ExtensionDatas OPTIONAL }
SES-SignatureV5 ::= SEQUENCE { toSign TBS-SignV5, cert OCTET STRING, signatureAlgID OBJECT IDENTIFIER,
                               signature BIT STRING, timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
"""


def _compile() -> Any:
    text = (STANDARDS / "ses.asn").read_text(encoding="utf-8")
    end = text.rstrip().rfind("END")
    return asn1tools.compile_string(text[:end] + EXTRA_ASN + "END\n", "der")


ASN = _compile()


def sm3_of(data: bytes) -> bytes:
    """SM3 by gmssl, an implementation independent of Huren's."""
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def _bits(value: bytes) -> tuple[bytes, int]:
    return value, len(value) * 8


def _utc(value: Any) -> Any:
    """asn1tools decodes times as naive datetimes; give them back their ``Z`` before re-encoding."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utc(v) for v in value]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):  # CHOICE
        return value[0], _utc(value[1])
    return value


# --- a tiny independent seal maker and signer -------------------------------------------------------------------


def _png() -> bytes:
    """A small red PNG written by Pillow."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (230, 0, 18, 255)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()


@dataclass
class Party:
    signer: Signer
    cert: bytes


def seal_info(
    *,
    signers: list[bytes],
    create: datetime,
    start: datetime,
    end: datetime,
    version: int = 4,
    cert_list_type: int = 1,
    digest_type: str = "SM3",
    picture: tuple[str, bytes] = ("PNG", PNG),
    es_id: str = "OTHER-0001",
    ext: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    items: list[tuple[str, Any]] = (
        [("cert", der) for der in signers]
        if cert_list_type == 1
        else [("digest", {"type": digest_type, "value": sm3_of(der)}) for der in signers]
    )
    info: dict[str, Any] = {
        "header": {"id": "ES", "version": version, "vid": "OTHER-VENDOR"},
        "esID": es_id,
        "property": {
            "type": 1,
            "name": "外省合同章",
            "certListType": cert_list_type,
            "certList": items,
            "createDate": create,
            "validStart": start,
            "validEnd": end,
        },
        "picture": {"type": picture[0], "data": picture[1], "width": 40, "height": 40},
    }
    if ext:
        info["extDatas"] = ext
    return info


def make_seal(
    maker: Party, info: dict[str, Any], *, alg_oid: str = SM2_OID, stamper: Callable[[bytes], bytes] | None = None
) -> bytes:
    """A version-4 (or, with a stamper, version-5) SESeal: the maker signs DER(SES_SealInfo)."""
    value = maker.signer.sign(ASN.encode("SES-SealInfo", info))
    seal: dict[str, Any] = {"eSealInfo": info, "cert": maker.cert, "signAlgID": alg_oid, "signedValue": _bits(value)}
    if stamper is None:
        return bytes(ASN.encode("SESeal", seal))
    seal["timeStamp"] = _bits(stamper(value))
    return bytes(ASN.encode("SESealV5", seal))


def make_seal_v1(
    maker: Party,
    *,
    signers: list[bytes],
    create: datetime,
    start: datetime,
    end: datetime,
    sign_info_only: bool = False,
) -> bytes:
    """A GM/T 0031-2014 seal: the maker signs DER(SEQUENCE {sealInfo, cert, signatureAlgorithm})."""
    info = {
        "header": {"id": "ES", "version": 1, "vid": "GMT0031"},
        "esID": "V1-0001",
        "property": {
            "type": 1,
            "name": "老版本印章",
            "certList": signers,
            "createDate": create,
            "validStart": start,
            "validEnd": end,
        },
        "picture": {"type": "PNG", "data": PNG, "width": 40, "height": 40},
    }
    signed = (
        ASN.encode("SES-SealInfoV1", info)
        if sign_info_only
        else ASN.encode("TBS-SealV1", {"sealInfo": info, "cert": maker.cert, "signatureAlgorithm": SM2_OID})
    )
    value = maker.signer.sign(signed)
    return bytes(
        ASN.encode(
            "SESealV1",
            {
                "esealInfo": info,
                "signInfo": {"cert": maker.cert, "signatureAlgorithm": SM2_OID, "signData": _bits(value)},
            },
        )
    )


def make_signature(
    seal_der: bytes,
    signer: Party,
    *,
    time_info: datetime,
    data: bytes = DOCUMENT,
    tagging: str = "explicit",
    ext: list[dict[str, Any]] | None = None,
    stamper: Callable[[bytes], bytes] | None = None,
    version: int | None = None,
) -> bytes:
    """A SES_Signature written by asn1tools: EXPLICIT or untagged ``[0]`` fields, version 4 or 5 seals."""
    v5 = ses.parse_seal(seal_der).time_stamp is not None
    seal_type = "SESealV5" if v5 else "SESeal"
    seal = _utc(ASN.decode(seal_type, seal_der))
    assert ASN.encode(seal_type, seal) == seal_der  # DER is canonical: the embedded seal is byte-identical
    tbs_type, sig_type = {
        ("explicit", False): ("TBS-Sign", "SES-Signature"),
        ("untagged", False): ("TBS-SignUntagged", "SES-SignatureUntagged"),
        ("explicit", True): ("TBS-SignV5", "SES-SignatureV5"),
    }[(tagging, v5)]
    tbs: dict[str, Any] = {
        "version": version or seal["eSealInfo"]["header"]["version"],
        "eseal": seal,
        "timeInfo": time_info.replace(microsecond=0),
        "dataHash": _bits(sm3_of(data)),
        "propertyInfo": PROPERTY,
    }
    if ext:
        tbs["extDatas"] = ext
    value = signer.signer.sign(ASN.encode(tbs_type, tbs))
    signature: dict[str, Any] = {
        "toSign": tbs,
        "cert": signer.cert,
        "signatureAlgID": SM2_OID,
        "signature": _bits(value),
    }
    if stamper is not None:
        signature["timeStamp"] = _bits(stamper(value))
    return bytes(ASN.encode(sig_type, signature))


def tsa_stamper(world: World, *, over: bytes | None = None) -> Callable[[bytes], bytes]:
    """Tokens from the world's SM2 TSA over the value (or over ``over``, to make a wrong one)."""

    def stamp(value: bytes) -> bytes:
        request = tsa_mod.build_request(hash_algorithm="sm3", message_digest=sm3_of(over or value))
        response = tsa_service.timestamp(world.instance, request, "SM2")
        return bytes(tsp.TimeStampResp.load(response)["time_stamp_token"].dump())

    return stamp


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# --- the world ------------------------------------------------------------------------------------------------


@dataclass
class Setup:
    world: World
    seal: bytes  # Huren's own version-4 seal (dual: SM2 and RSA signer certificates)
    es_id: str
    maker: Party  # the 浙江 SM2 seal maker, a SEAL_MAKER service of the trust list
    holder: Party  # the seal's SM2 signer
    other: Party  # a 广东 seal certificate, permitted by the foreign seals
    start: datetime
    bundle: bytes | None = None  # exported once; ``changed()`` after the trust list or a CRL changes

    def changed(self) -> None:
        self.bundle = None


def _party(world: World, record: Any) -> Party:
    family = cx.public_key(cx.load_certificate(record.der)).family.value
    algorithm = {"SM2": SM2_SM3, "RSA": RSA_PKCS1_SHA256, "EC": ECDSA_SHA256}[family]
    return Party(world.instance.keystore.signer(record.key_id, algorithm), record.der)


def _issue(world: World, ca_id: str, profile: str, family: str = "SM2", name: str = "公章") -> Party:
    subject = (
        DN(province="广东省", organization="广州示例有限公司", common_name=name, serial_number=GD_USCC)
        if profile == "seal"
        else DN(province="广东省" if "440000" in ca_id else "浙江省", organization="电子印章制作中心", common_name=name)
    )
    done = ca_service.issue(world.instance, ca_id=ca_id, profile=profile, subject=subject, key_family=family)
    return _party(world, done.record)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    world = build_world(tmp_path_factory.mktemp("ses-verify"), free_port())
    record = seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
        dual=True,
    )
    with db.session_scope(world.instance.engine, read_only=True) as session:
        maker = session.get(SealMaker, "region-330000-sm2")
        assert maker is not None
        maker_party = _party(world, authority.find_certificate(session, maker.cert_serial))
        holder = _party(world, authority.find_certificate(session, record.sm2_cert_serial or ""))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    return Setup(
        world, record.seal_der, record.es_id, maker_party, holder, _issue(world, "region-440000-sm2", "seal"), start
    )


def ctx(setup: Setup, at: datetime | None = None) -> context.VerificationContext:
    """What a verifier anywhere holds: the signed bundle and one pinned root fingerprint."""
    if setup.bundle is None:
        setup.bundle = trust.export_bundle(setup.world.instance).read_bytes()
    return context.build(bundle=setup.bundle, pins=[trust.root_fingerprints(setup.world.instance)["SM2"]], at=at)


def foreign_seal(setup: Setup, **kwargs: Any) -> bytes:
    window = {
        "create": setup.start + timedelta(seconds=30),
        "start": setup.start,
        "end": setup.start + timedelta(days=365),
        "signers": [setup.other.cert],
    }
    maker = kwargs.pop("maker", setup.maker)
    alg_oid = kwargs.pop("alg_oid", SM2_OID)
    stamper = kwargs.pop("stamper", None)
    return make_seal(maker, seal_info(**{**window, **kwargs}), alg_oid=alg_oid, stamper=stamper)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def failing(report: Report) -> list[str]:
    return [c.name for c in report.checks if c.result is Result.FAILED]


def assert_passed(report: Report) -> None:
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert report.sub_indication is None and not report.errors
    assert all(c.result in (Result.PASSED, Result.SKIPPED) for c in report.checks), report.to_text()


# --- what passes ----------------------------------------------------------------------------------------------


SEAL_CHECKS = ["format", "maker-signature", "maker-certificate", "maker-service", "validity", "cert-list", "picture"]


def test_huren_seal_and_signature_pass(setup: Setup) -> None:
    report = seal_verifier.verify_seal(setup.seal, ctx(setup))
    assert_passed(report)
    assert report.kind == "seal" and [c.name for c in report.checks] == SEAL_CHECKS
    assert report.chain[0].subject.endswith("CN=浙江省制章者") and report.chain[-1].source == "anchor"
    signature = signing.sign_hash(setup.world.instance, es_id=setup.es_id, data=DOCUMENT, property_info=PROPERTY)
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert_passed(report)
    assert [c.name for c in report.checks] == [
        "format",
        "signing-time",
        "signature",
        "signer-listed",
        *[f"seal.{n}" for n in SEAL_CHECKS],
        "signer-certificate",
        "data-hash",
        "time-stamp",
    ]
    assert dict(report.details)["time_stamp"] and dict(report.details)["encoding"] == "explicit"
    # The library entry point detects both kinds by content.
    assert api.verify(setup.seal, ctx(setup)).kind == "seal"
    assert api.verify(signature, ctx(setup), signed_data=DOCUMENT).passed


def test_seal_checks_for_the_pdf_verifier(setup: Setup) -> None:
    """``seal_checks`` + :func:`verifier.report.bottom_line` (the one verdict rule): the lower-level API for the seal
    inside a signature."""
    seal = ses.parse_seal(setup.seal)
    checks = seal_verifier.seal_checks(seal, ctx(setup), now(), prefix="seal.")
    assert [c.name for c in checks] == [f"seal.{n}" for n in SEAL_CHECKS]
    assert bottom_line(checks)[0] is Indication.TOTAL_PASSED
    late = seal_verifier.seal_checks(seal, ctx(setup), seal.valid_end + timedelta(days=1))
    assert bottom_line(late)[:2] == (Indication.TOTAL_FAILED, SubIndication.EXPIRED)


def test_foreign_version_4_seal_and_both_encodings_of_signatures(setup: Setup) -> None:
    ext = [{"extnID": "1.2.3.4.5", "critical": False, "extnValue": b"vendor data"}]
    seal = foreign_seal(setup, ext=ext)
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert_passed(report)
    assert dict(report.details)["vendor"] == "OTHER-VENDOR"
    for tagging in ("explicit", "untagged"):
        signature = make_signature(
            seal, setup.other, time_info=now(), tagging=tagging, ext=ext, stamper=tsa_stamper(setup.world)
        )
        assert ses_received.parse_signature(signature).tagging == tagging
        checked = ses_signature.verify(signature, data=DOCUMENT)  # the pure checker reads both encodings too
        assert checked.record.tagging == tagging and checked.time_stamp is not None
        report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
        assert_passed(report)
        assert dict(report.details)["encoding"] == tagging and "time_stamp" in dict(report.details)
        # The encodings differ exactly in the optional fields: [0] EXPLICIT (A0) or a bare SEQUENCE / BIT STRING.
        outer = ses_signature.children(signature)
        tbs_tail = ses_signature.children(outer[0])[-1][0]
        assert (tbs_tail, outer[-1][0]) == ((0xA0, 0xA0) if tagging == "explicit" else (0x30, 0x03))
    untagged_plain = make_signature(seal, setup.other, time_info=now(), tagging="untagged")
    plain = signature_verifier.verify_ses_signature(untagged_plain, ctx(setup), signed_data=DOCUMENT)
    assert plain.passed, plain.to_text()
    assert next(c for c in plain.checks if c.name == "time-stamp").result is Result.SKIPPED


def test_foreign_version_1_seal(setup: Setup) -> None:
    seal = make_seal_v1(
        setup.maker,
        signers=[setup.other.cert],
        create=setup.start + timedelta(seconds=30),
        start=setup.start,
        end=setup.start + timedelta(days=365),
    )
    parsed = ses.parse_seal(seal)
    assert parsed.version == 1 and parsed.create_date == setup.start + timedelta(seconds=30)
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert_passed(report)
    assert "GM/T 0031-2014" in report.checks[0].detail
    assert "DER(SEQUENCE {sealInfo, cert, signatureAlgorithm})" in report.checks[1].detail
    # The version-1 maker signature covers the maker certificate and algorithm too: over sealInfo alone it fails.
    wrong = make_seal_v1(
        setup.maker,
        signers=[setup.other.cert],
        create=setup.start + timedelta(seconds=30),
        start=setup.start,
        end=setup.start + timedelta(days=365),
        sign_info_only=True,
    )
    report = seal_verifier.verify_seal(wrong, ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert failing(report) == ["maker-signature"]
    # The maker certificate is judged at createDate: a seal "made" before the certificate existed fails.
    early = make_seal_v1(
        setup.maker,
        signers=[setup.other.cert],
        create=setup.start - timedelta(days=2),
        start=setup.start,
        end=setup.start + timedelta(days=365),
    )
    report = seal_verifier.verify_seal(early, ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID)
    assert failing(report) == ["maker-certificate", "maker-service"]


def test_foreign_version_5_seal_with_time_stamp(setup: Setup) -> None:
    seal = foreign_seal(setup, version=5, stamper=tsa_stamper(setup.world))
    parsed = ses.parse_seal(seal)
    assert parsed.version == 5 and parsed.time_stamp is not None
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert_passed(report)
    assert [c.name for c in report.checks] == [*SEAL_CHECKS[:4], "time-stamp", *SEAL_CHECKS[4:]]
    signature = make_signature(seal, setup.other, time_info=now(), stamper=tsa_stamper(setup.world))
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert_passed(report)
    assert dict(report.details)["seal_version"] == 5
    # A version-5 seal whose time-stamp covers something else.
    wrong = foreign_seal(setup, version=5, stamper=tsa_stamper(setup.world, over=b"other"))
    report = seal_verifier.verify_seal(wrong, ctx(setup))
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert failing(report) == ["time-stamp"]


def test_cert_digest_list_seal(setup: Setup) -> None:
    seal = foreign_seal(setup, cert_list_type=2)
    assert ses.parse_seal(seal).cert_digest_algorithm == "SM3"
    assert_passed(seal_verifier.verify_seal(seal, ctx(setup)))
    signature = make_signature(seal, setup.other, time_info=now())
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert_passed(report)
    assert "SM3 digest is listed" in next(c for c in report.checks if c.name == "signer-listed").detail
    weak = seal_verifier.verify_seal(foreign_seal(setup, cert_list_type=2, digest_type="MD5"), ctx(setup))
    assert (weak.indication, weak.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    )


@pytest.mark.parametrize("family", ["RSA", "EC"])
def test_rsa_and_ecdsa_seal_makers(setup: Setup, family: str) -> None:
    maker = _issue(setup.world, "region-330000-rsa", "seal-maker", family, name=f"{family} 制章者")
    oid = {"RSA": RSA_SHA256_OID, "EC": ECDSA_SHA256_OID}[family]
    valid_from = cx.load_certificate(maker.cert)["tbs_certificate"]["validity"]["not_before"].native
    seal = foreign_seal(setup, maker=maker, alg_oid=oid, create=valid_from + timedelta(seconds=5))
    # Not (yet) an authorised seal maker of the trust list: with a bundle made before the maker certificate, that may
    # be the bundle's age (issue 13 item 6); with one made after, it is what the list says.
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert failing(report) == ["maker-service"] and "get a newer bundle" in report.errors[0]
    setup.changed()
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    assert failing(report) == ["maker-service"] and "not a service of the trust list" in report.errors[0]
    with db.session_scope(setup.world.instance.engine) as session:
        rsa_ca = authority.get_ca(session, "region-330000-rsa")
        trust.register_service(
            session,
            issuer_ca=rsa_ca,
            service_id=f"region-330000-{family.lower()}-maker",
            service_type="SEAL_MAKER",
            cert_der=maker.cert,
        )
        trust.publish(session, setup.world.instance)
    setup.changed()
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert_passed(report)
    assert {"RSA": "rsa-pkcs1-sha256", "EC": "ecdsa-sha256"}[family] in report.checks[1].detail
    # The algorithm must fit the key: an SM2 OID on an RSA/ECDSA signature fails.
    report = seal_verifier.verify_seal(
        foreign_seal(setup, maker=maker, alg_oid=SM2_OID, create=valid_from + timedelta(seconds=5)), ctx(setup)
    )
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


# --- every single failure -------------------------------------------------------------------------------------


def _verdict(report: Report) -> tuple[Indication, SubIndication | None]:
    return report.indication, report.sub_indication


def test_bit_flips(setup: Setup) -> None:
    # In the maker's signature (the last octets of a version-4 seal without time-stamp).
    report = seal_verifier.verify_seal(flip(setup.seal, len(setup.seal) - 5), ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert failing(report) == ["maker-signature"]
    # In the SES signature value and in dataHash (the signer's signature covers dataHash).
    signature = make_signature(setup.seal, setup.holder, time_info=now())
    record = ses.parse_signature(signature)
    for target, failed in ((record.signature, ["signature"]), (record.data_hash, ["signature", "data-hash"])):
        position = signature.rfind(target) + len(target) // 2
        report = signature_verifier.verify_ses_signature(flip(signature, position), ctx(setup), signed_data=DOCUMENT)
        assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE), report.to_text()
        assert failing(report) == failed
    # A signer who signs over a seal whose maker signature was tampered with.
    forged = make_signature(flip(setup.seal, len(setup.seal) - 5), setup.holder, time_info=now())
    report = signature_verifier.verify_ses_signature(forged, ctx(setup), signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert failing(report) == ["seal.maker-signature"]


def test_no_single_bit_flip_passes_or_crashes(setup: Setup) -> None:
    """Every byte of a seal and of an unstamped SES_Signature is covered by a signature or is structure: a flipped bit
    anywhere (headers, fields, picture, certificates, signature values) is a failed report or an InputError."""
    signature = make_signature(setup.seal, setup.holder, time_info=now())
    context_ = ctx(setup)
    rng = random.Random(38540)
    for data, verify in ((setup.seal, seal_verifier.verify_seal), (signature, signature_verifier.verify_ses_signature)):
        head, tail = range(0, 400), range(len(data) - 1500, len(data))
        for position in [*rng.sample(head, 6), *rng.sample(tail, 6), rng.randrange(len(data))]:
            bad = data[:position] + bytes([data[position] ^ (1 << rng.randrange(8))]) + data[position + 1 :]
            try:
                report = verify(bad, context_)
            except InputError:
                continue
            assert not report.passed, (position, report.to_text())


def test_wrong_or_missing_data(setup: Setup) -> None:
    signature = make_signature(setup.seal, setup.holder, time_info=now())
    assert signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT).passed
    wrong = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT + b" ")
    assert _verdict(wrong) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE) and failing(wrong) == ["data-hash"]
    missing = signature_verifier.verify_ses_signature(signature, ctx(setup))
    assert _verdict(missing) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)


def test_signer_not_in_cert_list(setup: Setup) -> None:
    signature = make_signature(setup.seal, setup.other, time_info=now())  # 广东's certificate, 浙江's seal
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["signer-listed"]


@pytest.mark.parametrize(
    ("window", "sub"),
    [
        ((-10, -1), SubIndication.EXPIRED),
        ((1, 30), SubIndication.NOT_YET_VALID),
    ],
)
def test_seal_window_at_time_info(setup: Setup, window: tuple[int, int], sub: SubIndication) -> None:
    moment = now()
    seal = foreign_seal(setup, start=moment + timedelta(days=window[0]), end=moment + timedelta(days=window[1]))
    signature = make_signature(seal, setup.other, time_info=moment)
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.TOTAL_FAILED, sub)
    assert failing(report) == ["seal.validity"] and moment.isoformat() in report.errors[0]
    assert _verdict(seal_verifier.verify_seal(seal, ctx(setup))) == (Indication.TOTAL_FAILED, sub)


def test_maker_not_a_seal_maker(setup: Setup) -> None:
    # A seal-maker certificate of a listed CA that was never registered as a SEAL_MAKER service.
    rogue = _issue(setup.world, "region-440000-sm2", "seal-maker", name="未登记制章者")
    valid_from = cx.load_certificate(rogue.cert)["tbs_certificate"]["validity"]["not_before"].native
    seal = foreign_seal(setup, maker=rogue, create=valid_from + timedelta(seconds=5))
    setup.changed()  # a bundle made after the rogue certificate: its absence from the list is not the bundle's age
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["maker-service"]
    # A certificate that is a service, but of another type (the national TSA), is no seal maker either.
    with db.session_scope(setup.world.instance.engine, read_only=True) as session:
        tsa_record = tsa_service.current_record(session, "SM2")
        assert tsa_record is not None
        tsa_party = _party(setup.world, tsa_record)
    valid_from = cx.load_certificate(tsa_party.cert)["tbs_certificate"]["validity"]["not_before"].native
    report = seal_verifier.verify_seal(foreign_seal(setup, maker=tsa_party, create=valid_from), ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["maker-service"] and "is a TSA, not a SEAL_MAKER" in report.errors[0]
    # A maker certificate that chains to no known root.
    stranger = generate_private_key("sm2")
    name = DN(organization="无名制章者", common_name="无名制章者").to_asn1()
    self_signed = (
        cx.CertificateBuilder()
        .subject(name)
        .issuer(name)
        .public_key(stranger.public_key)
        .serial_number(7)
        .validity(setup.start, setup.start + timedelta(days=2))
        .add_extension(cx.key_usage({"digital_signature"}))
        .sign(stranger.signer())
    )
    seal = foreign_seal(setup, maker=Party(stranger.signer(), self_signed.dump()))
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["maker-certificate", "maker-service"]
    assert (
        next(c for c in report.checks if c.name == "maker-certificate").sub_indication
        is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    )  # type: ignore[attr-defined]


def test_revoked_signer(setup: Setup) -> None:
    """Revocation is judged at timeInfo, and again at the earliest proof of existence (module docstring)."""
    record = seals.create(
        setup.world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="财务专用章",
    )
    with db.session_scope(setup.world.instance.engine, read_only=True) as session:
        holder = _party(setup.world, authority.find_certificate(session, record.sm2_cert_serial or ""))
    stamped = signing.sign_hash(setup.world.instance, es_id=record.es_id, data=DOCUMENT, property_info=PROPERTY)
    unstamped = make_signature(record.seal_der, holder, time_info=now() - timedelta(minutes=3))
    assert signature_verifier.verify_ses_signature(unstamped, ctx(setup), signed_data=DOCUMENT).passed
    ca_service.revoke(setup.world.instance, serial=record.sm2_cert_serial or "", reason="key_compromise")
    setup.changed()
    after = ses_signature.sign(
        seal=record.seal_der,
        signer=holder.signer,
        signer_cert=holder.cert,
        property_info=PROPERTY,
        data=DOCUMENT,
        time_info=now() + timedelta(seconds=2),
    )
    later = ctx(setup, at=now() + timedelta(seconds=5))
    # Signed after the revocation (what a thief of the key could do): failed.
    report = signature_verifier.verify_ses_signature(after, later, signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.REVOKED), report.to_text()
    assert failing(report) == ["signer-certificate"] and "CRL" in report.errors[0]
    # Claims a time before the revocation, but nothing proves it: indeterminate.
    report = signature_verifier.verify_ses_signature(unstamped, later, signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE), report.to_text()
    # Time-stamped before the revocation: still valid.
    assert_passed(signature_verifier.verify_ses_signature(stamped, later, signed_data=DOCUMENT))
    # Huren refuses to sign with the revoked certificate.
    from trust.crypto.errors import ConflictError

    with pytest.raises(ConflictError, match="revoked"):
        signing.sign_hash(setup.world.instance, es_id=record.es_id, data=DOCUMENT, property_info=PROPERTY)


def test_revoked_seal_maker(setup: Setup) -> None:
    """The maker is judged at createDate, and its revocation up to the seal's proof of existence: the seal's own
    time-stamp (version 5), the time-stamp of the signature that carries it, or else the validation time."""
    record = seals.create(
        setup.world.instance,
        ca_id="region-440000-sm2",
        holder_kind="organization",
        holder_name="广州示例有限公司",
        holder_code=GD_USCC,
        seal_name="合同专用章",
    )
    setup.changed()  # a new seal maker: a new trust list
    with db.session_scope(setup.world.instance.engine, read_only=True) as session:
        maker_record = session.get(SealMaker, "region-440000-sm2")
        assert maker_record is not None
        maker = _party(setup.world, authority.find_certificate(session, maker_record.cert_serial))
    stamped = signing.sign_hash(setup.world.instance, es_id=record.es_id, data=DOCUMENT, property_info=PROPERTY)
    plain = signing.sign_hash(
        setup.world.instance, es_id=record.es_id, data=DOCUMENT, property_info=PROPERTY, timestamp=False
    )
    valid_from = cx.load_certificate(maker.cert)["tbs_certificate"]["validity"]["not_before"].native
    v5 = foreign_seal(
        setup, maker=maker, version=5, create=valid_from + timedelta(seconds=1), stamper=tsa_stamper(setup.world)
    )
    before = now()
    assert seal_verifier.verify_seal(record.seal_der, ctx(setup)).passed
    ca_service.revoke(setup.world.instance, serial=maker_record.cert_serial, reason="key_compromise")
    setup.changed()
    after = ctx(setup, at=now() + timedelta(seconds=2))
    report = seal_verifier.verify_seal(record.seal_der, after)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE), report.to_text()
    assert failing(report) == ["maker-certificate"]
    # A proof of existence from the caller (e.g. the PDF signature's time-stamp) settles it.
    proof = ses_checks.Proof(before, "the PDF signature's time-stamp")
    assert seal_verifier.verify_seal(record.seal_der, after, proof=proof).passed
    assert_passed(seal_verifier.verify_seal(v5, after))
    assert_passed(signature_verifier.verify_ses_signature(stamped, after, signed_data=DOCUMENT))
    report = signature_verifier.verify_ses_signature(plain, after, signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
    assert failing(report) == ["seal.maker-certificate"]


def test_bad_time_stamps(setup: Setup) -> None:
    good = tsa_stamper(setup.world)
    cases: dict[str, tuple[Callable[[bytes], bytes], SubIndication]] = {
        "over other data": (tsa_stamper(setup.world, over=b"something else"), SubIndication.HASH_FAILURE),
        "TSA signature flipped": (lambda v: flip(good(v), len(good(v)) - 10), SubIndication.SIG_CRYPTO_FAILURE),
        "garbage": (lambda v: b"\x30\x03\x02\x01\x00", SubIndication.FORMAT_FAILURE),
    }
    for name, (stamper, sub) in cases.items():
        signature = make_signature(setup.seal, setup.holder, time_info=now(), stamper=stamper)
        report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
        assert _verdict(report) == (Indication.TOTAL_FAILED, sub), (name, report.to_text())
        assert failing(report) == ["time-stamp"], name
    # timeInfo claims a time 20 minutes after the time-stamp proves the signature existed.
    signature = make_signature(setup.seal, setup.holder, time_info=now() + timedelta(minutes=20), stamper=good)
    report = signature_verifier.verify_ses_signature(
        signature, ctx(setup, at=now() + timedelta(minutes=30)), signed_data=DOCUMENT
    )
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["time-stamp"] and "claimed signing time is false" in report.errors[0]
    # ... and a timeInfo in the future of the validation time.
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert "signing-time" in failing(report)


def test_format_failures(setup: Setup) -> None:
    # TBS_Sign version 5 over a version-4 seal.
    signature = make_signature(setup.seal, setup.holder, time_info=now(), version=5)
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE) and failing(report) == ["format"]
    # A picture that is not what it says; a certList entry that is not a certificate.
    for kwargs, check in (
        ({"picture": ("PNG", b"\xff\xd8\xff\xe0 not a png")}, "picture"),
        ({"picture": ("PNG", PNG[:-5] + b"\x00" * 5)}, "picture"),
        ({"signers": [b"\x04\x03abc"]}, "cert-list"),
    ):
        report = seal_verifier.verify_seal(foreign_seal(setup, **kwargs), ctx(setup))
        assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), check
        assert failing(report) == [check]
    # Critical extension data the verifier does not know, in the seal or in TBS_Sign (non-critical ones pass above).
    critical = [{"extnID": "1.2.3.4.6", "critical": True, "extnValue": b"must understand"}]
    report = seal_verifier.verify_seal(foreign_seal(setup, ext=critical), ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["format"] and "1.2.3.4.6" in report.errors[0]
    signature = make_signature(foreign_seal(setup), setup.other, time_info=now(), ext=critical)
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["format"]
    # A createDate without a time zone (DER times end in Z): a format failure, not a crash.
    info = ses.build_seal_info(
        vendor="OTHER",
        es_id="ZONELESS-1",
        seal_type=1,
        name="无时区",
        signer_certs=[setup.other.cert],
        create_date=setup.start,
        valid_start=setup.start,
        valid_end=setup.start + timedelta(days=30),
        picture=ses.Picture("PNG", PNG, 40, 40),
    )
    info["property"]["create_date"] = core.GeneralizedTime.load(b"\x18\x0e" + f"{setup.start:%Y%m%d%H%M%S}".encode())
    zoneless = ses.assemble_seal(info, setup.maker.cert, setup.maker.signer.sign(info.dump()))
    assert ses.parse_seal(zoneless).create_date.tzinfo is None
    report = seal_verifier.verify_seal(zoneless, ctx(setup))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert failing(report) == ["format"] and "time zone" in report.errors[0]
    # An unknown picture type is reported, not failed.
    report = seal_verifier.verify_seal(foreign_seal(setup, picture=("OFD", b"PK\x03\x04")), ctx(setup))
    assert report.passed and next(c for c in report.checks if c.name == "picture").result is Result.WARNING


@pytest.mark.parametrize("case", ["garbage", "empty", "truncated", "trailing", "oversized", "not a sequence"])
def test_unreadable_input_is_an_input_error(setup: Setup, case: str) -> None:
    signature = make_signature(setup.seal, setup.holder, time_info=now())
    context_ = ctx(setup)
    for data in (setup.seal, signature):
        bad = {
            "garbage": b"\x30\x82\x01\x00garbage",
            "empty": b"",
            "truncated": data[: len(data) // 2],
            "trailing": data + b"\x00",
            "oversized": b"\x30\x84\x00\x90\x00\x00" + bytes(9 * 1024 * 1024),
            "not a sequence": b"\x04\x02ab",
        }[case]
        for verify in (seal_verifier.verify_seal, signature_verifier.verify_ses_signature):
            with pytest.raises(InputError) as caught:
                verify(bad, context_)
            assert caught.value.code.category is Category.INPUT
        with pytest.raises(InputError):
            api.verify(bad, context_)


# --- through the command line ---------------------------------------------------------------------------------


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trust.cli.main", "verify", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_cli_exit_codes(setup: Setup, tmp_path: Path) -> None:
    bundle = trust.export_bundle(setup.world.instance, tmp_path / "bundle.json")
    pin = ["--bundle", str(bundle), "--pin", trust.root_fingerprints(setup.world.instance)["SM2"], "--format", "json"]
    seal_file, sig_file, doc, other, garbage = (tmp_path / n for n in ("seal.esl", "sig.der", "doc.ofd", "x", "g"))
    seal_file.write_bytes(setup.seal)
    sig_file.write_bytes(
        signing.sign_hash(setup.world.instance, es_id=setup.es_id, data=DOCUMENT, property_info=PROPERTY)
    )
    doc.write_bytes(DOCUMENT)
    other.write_bytes(DOCUMENT + b"!")
    garbage.write_bytes(b"\x30\x05garbage")
    expected = {
        "seal": ([str(seal_file)], 0, "TOTAL_PASSED"),
        "signature with its data": ([str(sig_file), "--data", str(doc)], 0, "TOTAL_PASSED"),
        "signature with other data": ([str(sig_file), "--data", str(other)], 1, "HASH_FAILURE"),
        "signature without data": ([str(sig_file)], 2, "SIGNED_DATA_NOT_FOUND"),
    }
    # `python -m trust.cli.main verify seal.esl --bundle B --pin P`, as a clerk would type it.
    result = _cli([str(seal_file), *pin])
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["kind"] == "seal"
    # The other cases run the same module the same way (runpy, as `python -m` does) in one fresh interpreter, which
    # then lists the storage, web and network libraries that verification loaded: none.
    cases = [(name, [*args, *pin]) for name, (args, _code, _verdict) in expected.items()]
    cases.append(("garbage", [str(garbage), *pin]))
    program = f"""
import contextlib, io, json, runpy, sys
results = []
for name, args in {cases!r}:
    sys.argv = ["trust", "verify", *args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module("trust.cli.main", run_name="__main__")
            code = 0
        except SystemExit as done:
            code = done.code
    results.append((name, code, out.getvalue(), err.getvalue()))
forbidden = {{'fastapi', 'starlette', 'uvicorn', 'sqlmodel', 'sqlalchemy', 'alembic', 'psycopg', 'httpx', 'requests',
             'urllib3', 'aiohttp'}}
print(json.dumps({{"results": results, "loaded": sorted({{m.split('.')[0] for m in sys.modules}} & forbidden)}}))
"""
    fresh = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    outcome = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert outcome["loaded"] == []
    codes = {name: (code, out, err) for name, code, out, err in outcome["results"]}
    for name, (_args, code, verdict) in expected.items():
        got, out, err = codes[name]
        assert got == code, (name, out, err)
        report = json.loads(out)
        assert verdict in (report["indication"], report["sub_indication"]), name
        assert report["kind"] == ("seal" if name == "seal" else "ses-signature")
    got, out, err = codes["garbage"]
    assert got == 3 and "unrecognised input" in err, (out, err)
