"""GB/T 38540 seals and signatures verified offline — Huren's own and those of other implementations.

There are no third-party sample files, so the "other implementations" are written here with an independent encoder:
asn1tools compiling ``tests/data/vendor/ses-asn/ses.asn`` (plus the few structures its comments describe: what a
version-1 maker signs, a version-5 seal with ``timeStamp [0]``, and the untagged variant of the optional ``[0]``
fields), signed with the golden world's keys (tests/data/golden/keys: seal makers, seals, the TSA) under its region
CAs' certificates. Huren's own seals and signatures, and the bundles before and after the revocations, are golden
artefacts too, judged at the recorded times: no world, no service. Every single failure is caught with its ETSI EN
319 102-1 indication; unreadable input is an InputError (the CLI's exit 3). The network is blocked in this folder
(conftest).
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
from asn1crypto import core
from gmssl import func, sm3

from tests.support import golden
from trust.crypto import x690
from trust.crypto.algorithms import ECDSA_SHA256, RSA_PKCS1_SHA256, SM2_SM3
from trust.crypto.errors import Category, InputError
from trust.crypto.keys import generate_private_key
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats import x509 as cx
from trust.formats.names import DN
from verifier import api, context
from verifier.report import Finding, Indication, Report, Result, SubIndication, bottom_line
from verifier.ses import checks as ses_checks
from verifier.ses import received as ses_received
from verifier.ses import seal as seal_verifier
from verifier.ses import signature as signature_verifier

SM2_OID = "1.2.156.10197.1.501"
RSA_SHA256_OID = "1.2.840.113549.1.1.11"
ECDSA_SHA256_OID = "1.2.840.10045.4.3.2"
STANDARDS = golden.REPO / "tests" / "data" / "vendor" / "ses-asn"
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


def tsa_stamper(*, over: bytes | None = None, at: datetime | None = None) -> Callable[[bytes], bytes]:
    """Tokens by the golden SM2 TSA's key over the value (or over ``over``, to make a wrong one), at ``at``."""

    def stamp(value: bytes) -> bytes:
        return golden.time_stamp(sm3_of(over or value), gen_time=at)

    return stamp


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# --- the golden world -----------------------------------------------------------------------------------------


@dataclass
class Setup:
    seal: bytes  # Huren's own version-4 seal (dual: SM2 and RSA signer certificates)
    es_id: str
    maker: Party  # the 浙江 SM2 seal maker, a SEAL_MAKER service of the trust list
    holder: Party  # the seal's SM2 signer
    other: Party  # a 广东 seal certificate, permitted by the foreign seals
    start: datetime


def _party(name: str, cert: str | None = None) -> Party:
    """A key of the golden world and its certificate (tests/data/golden/keys, pki)."""
    der = golden.certificate(cert or name).dump()
    family = cx.public_key(cx.load_certificate(der)).family.value
    algorithm = {"SM2": SM2_SM3, "RSA": RSA_PKCS1_SHA256, "EC": ECDSA_SHA256}[family]
    return Party(golden.key(name).signer(algorithm), der)


@pytest.fixture(scope="module")
def setup() -> Setup:
    return Setup(
        golden.read("ses/seal-v4.esl"),
        golden.ids()["seals"]["contract"],
        _party("maker-330000-sm2"),
        _party("seal-contract-sm2"),
        _party("seal-gd-sm2"),
        moment("issuers_and_seals"),  # after the world's seal makers were certified and listed
    )


def moment(name: str) -> datetime:
    """A moment of the golden world's clock (tests/data/golden/manifest.json: ids.times)."""
    return datetime.fromisoformat(golden.ids()["times"][name])


def ctx(setup: Setup, at: datetime | None = None, bundle: str = "trust/bundle.json") -> context.VerificationContext:
    """What a verifier anywhere holds: the signed bundle and one pinned root fingerprint."""
    return golden.context(at=at, bundle_name=bundle)


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
    """ "Now" for the signatures made here: a minute before the golden validation time."""
    return golden.later(minutes=-1)


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
    signature = golden.read("ses/signature-v4.der")  # Huren's own, time-stamped by its TSA
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
        signature = make_signature(seal, setup.other, time_info=now(), tagging=tagging, ext=ext, stamper=tsa_stamper())
        assert ses_received.parse_signature(signature).tagging == tagging
        assert ses.parse_signature(signature).time_stamp is not None  # the format parser reads both encodings too
        report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
        assert_passed(report)
        assert dict(report.details)["encoding"] == tagging and "time_stamp" in dict(report.details)
        # The encodings differ exactly in the optional fields: [0] EXPLICIT (A0) or a bare SEQUENCE / BIT STRING.
        outer = x690.children(signature)
        tbs_tail = x690.children(outer[0])[-1][0]
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
    seal = foreign_seal(setup, version=5, stamper=tsa_stamper())
    parsed = ses.parse_seal(seal)
    assert parsed.version == 5 and parsed.time_stamp is not None
    report = seal_verifier.verify_seal(seal, ctx(setup))
    assert_passed(report)
    assert [c.name for c in report.checks] == [*SEAL_CHECKS[:4], "time-stamp", *SEAL_CHECKS[4:]]
    signature = make_signature(seal, setup.other, time_info=now(), stamper=tsa_stamper())
    report = signature_verifier.verify_ses_signature(signature, ctx(setup), signed_data=DOCUMENT)
    assert_passed(report)
    assert dict(report.details)["seal_version"] == 5
    # A version-5 seal whose time-stamp covers something else.
    wrong = foreign_seal(setup, version=5, stamper=tsa_stamper(over=b"other"))
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
    """Seal makers of 浙江's RSA CA with RSA and ECDSA keys: certified before the first bundle, registered as
    SEAL_MAKER services only after it (tests/data/golden/make.py)."""
    maker = _party(f"maker-330000-{family.lower()}")
    oid = {"RSA": RSA_SHA256_OID, "EC": ECDSA_SHA256_OID}[family]
    valid_from = cx.load_certificate(maker.cert)["tbs_certificate"]["validity"]["not_before"].native
    seal = foreign_seal(setup, maker=maker, alg_oid=oid, create=valid_from + timedelta(seconds=5))
    # Not (yet) an authorised seal maker of the trust list.
    before = ctx(setup, at=moment("bundle_before") + timedelta(minutes=5), bundle="trust/bundle-before.json")
    report = seal_verifier.verify_seal(seal, before)
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    assert failing(report) == ["maker-service"] and "not a service of the trust list" in report.errors[0]
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
    # A seal-maker certificate of a listed CA that is not (yet) registered as a SEAL_MAKER service.
    rogue = _party("maker-330000-rsa")
    valid_from = cx.load_certificate(rogue.cert)["tbs_certificate"]["validity"]["not_before"].native
    seal = foreign_seal(setup, maker=rogue, alg_oid=RSA_SHA256_OID, create=valid_from + timedelta(seconds=5))
    before = ctx(setup, at=moment("bundle_before") + timedelta(minutes=5), bundle="trust/bundle-before.json")
    report = seal_verifier.verify_seal(seal, before)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(report) == ["maker-service"]
    # A certificate that is a service, but of another type (the national TSA), is no seal maker either.
    tsa_party = _party("tsa-sm2")
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
    maker_certificate = next(c for c in report.checks if c.name == "maker-certificate")
    assert isinstance(maker_certificate, Finding)
    assert maker_certificate.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_revoked_signer(setup: Setup) -> None:
    """Revocation is judged at timeInfo, and again at the earliest proof of existence (module docstring). The seal
    "作废专用章" (tests/data/golden) had its signer certificate revoked for key compromise at +40 minutes."""
    seal = golden.read("ses/seal-v4-revoked-later.esl")
    holder = _party("seal-revoked-sm2")
    revoked_at = moment("revocations")
    stamped = golden.read("ses/signature-v4-revoked-later.der")  # Huren's, time-stamped at +20
    unstamped = make_signature(seal, holder, time_info=revoked_at - timedelta(minutes=3))
    before = ctx(setup, at=revoked_at - timedelta(minutes=1), bundle="trust/bundle-before.json")
    assert signature_verifier.verify_ses_signature(unstamped, before, signed_data=DOCUMENT).passed
    after = make_signature(seal, holder, time_info=revoked_at + timedelta(seconds=2))
    later = ctx(setup)
    # Signed after the revocation (what a thief of the key could do): failed.
    report = signature_verifier.verify_ses_signature(after, later, signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.REVOKED), report.to_text()
    assert failing(report) == ["signer-certificate"] and "CRL" in report.errors[0]
    # Claims a time before the revocation, but nothing proves it: indeterminate.
    report = signature_verifier.verify_ses_signature(unstamped, later, signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE), report.to_text()
    # Time-stamped before the revocation: still valid.
    assert_passed(signature_verifier.verify_ses_signature(stamped, later, signed_data=DOCUMENT))
    # (That Huren refuses to sign with the revoked certificate is an end-to-end test of the service:
    # tests/seal/test_ses_signature.py.)


def test_revoked_seal_maker(setup: Setup) -> None:
    """The maker is judged at createDate, and its revocation up to the seal's proof of existence: the seal's own
    time-stamp (version 5), the time-stamp of the signature that carries it, or else the validation time. The 广东
    seal maker's certificate was revoked for key compromise at +40 minutes (tests/data/golden)."""
    seal = golden.read("ses/seal-v4-gd.esl")
    maker = _party("maker-440000-sm2")
    revoked_at = moment("revocations")
    stamped = golden.read("ses/signature-v4-gd.der")
    plain = golden.read("ses/signature-v4-gd-unstamped.der")
    valid_from = cx.load_certificate(maker.cert)["tbs_certificate"]["validity"]["not_before"].native
    v5 = foreign_seal(
        setup,
        maker=maker,
        version=5,
        create=valid_from + timedelta(seconds=1),
        stamper=tsa_stamper(at=revoked_at - timedelta(minutes=5)),
    )
    before = revoked_at - timedelta(minutes=1)
    assert seal_verifier.verify_seal(seal, ctx(setup, at=before, bundle="trust/bundle-before.json")).passed
    after = ctx(setup)
    report = seal_verifier.verify_seal(seal, after)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE), report.to_text()
    assert failing(report) == ["maker-certificate"]
    # A proof of existence from the caller (e.g. the PDF signature's time-stamp) settles it.
    proof = ses_checks.Proof(before, "the PDF signature's time-stamp")
    assert seal_verifier.verify_seal(seal, after, proof=proof).passed
    assert_passed(seal_verifier.verify_seal(v5, after))
    assert_passed(signature_verifier.verify_ses_signature(stamped, after, signed_data=DOCUMENT))
    report = signature_verifier.verify_ses_signature(plain, after, signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
    assert failing(report) == ["seal.maker-certificate"]


def test_bad_time_stamps(setup: Setup) -> None:
    good = tsa_stamper()
    cases: dict[str, tuple[Callable[[bytes], bytes], SubIndication]] = {
        "over other data": (tsa_stamper(over=b"something else"), SubIndication.HASH_FAILURE),
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
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(golden.bundle())
    pin = ["--bundle", str(bundle), "--pin", golden.pins()[0], "--format", "json"]
    pin += ["--at", golden.validation_time().isoformat()]
    seal_file, sig_file, doc, other, garbage = (tmp_path / n for n in ("seal.esl", "sig.der", "doc.ofd", "x", "g"))
    seal_file.write_bytes(setup.seal)
    sig_file.write_bytes(golden.read("ses/signature-v4.der"))
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


# --- a claimed time is not a proof of existence (issue sespoe) -------------------------------------------------


def _finding(report: Report, name: str) -> tuple[Indication | None, SubIndication | None] | None:
    check = next(c for c in report.checks if c.name == name)
    return (check.indication, check.sub_indication) if isinstance(check, Finding) else None


def test_unstamped_signature_after_the_signer_certificate_expired_is_indeterminate(setup: Setup) -> None:
    """timeInfo is the signer's claim: after the signer certificate (and the seal) expired, an unstamped signature
    cannot be believed to predate the expiry (ETSI EN 319 102-1, as the PDF verifier judges a PAdES B-B signature);
    a time-stamped one still passes while its TSA certificate is valid. The golden contract seal and its signer
    certificate end on the same day (2028), the golden TSA certificate two years later."""
    signer_end = cx.load_certificate(setup.holder.cert)["tbs_certificate"]["validity"]["not_after"].native
    late = ctx(setup, at=golden.later(days=4 * 366))
    assert signer_end < late.validation_time < _tsa_end()
    document = golden.read("ses/document.xml")
    unstamped = golden.read("ses/signature-v4-unstamped.der")
    report = signature_verifier.verify_ses_signature(unstamped, late, signed_data=document)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE), report.to_text()
    assert failing(report) == ["seal.validity", "signer-certificate"]
    assert _finding(report, "signer-certificate") == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert "claimed, not proven" in next(c.detail for c in report.checks if c.name == "signing-time")
    # The same signature while its certificate was valid passes; a time-stamped one passes at +4 years.
    assert_passed(signature_verifier.verify_ses_signature(unstamped, ctx(setup), signed_data=document))
    stamped = signature_verifier.verify_ses_signature(golden.read("ses/signature-v4.der"), late, signed_data=document)
    assert_passed(stamped)
    assert "the time-stamp proves" in next(c.detail for c in stamped.checks if c.name == "signing-time")


def _tsa_end() -> datetime:
    """When the golden TSA's certificate expires (2030): the last moment its time-stamps are believed."""
    end: datetime = golden.certificate("tsa-sm2")["tbs_certificate"]["validity"]["not_after"].native
    return end


def test_stamped_signature_after_the_tsa_certificate_expired_is_indeterminate(setup: Setup) -> None:
    """A time-stamp's genTime is the TSA's own word: once the TSA certificate has expired (and GB/T 38540 has no
    archive time-stamp to prove the token existed before), the token proves no time — as the PDF verifier judges a
    signature time-stamp's TSA at the validation time (ETSI EN 319 102-1). The time-stamp check is then INDETERMINATE
    / OUT_OF_BOUNDS_NO_POE, the signing time falls back to claimed, and the expired signer certificate is not believed
    either. Before issue sesltv the TSA was judged at genTime only and this passed."""
    document = golden.read("ses/document.xml")
    stamped = golden.read("ses/signature-v4.der")
    before = signature_verifier.verify_ses_signature(
        stamped, ctx(setup, at=_tsa_end() - timedelta(days=1)), signed_data=document
    )
    assert_passed(before)
    assert "unexpired and not revoked at the validation time" in next(
        c.detail for c in before.checks if c.name == "time-stamp"
    )
    after = signature_verifier.verify_ses_signature(
        stamped, ctx(setup, at=_tsa_end() + timedelta(days=1)), signed_data=document
    )
    assert _verdict(after) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE), after.to_text()
    assert _finding(after, "time-stamp") == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert _finding(after, "signer-certificate") == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    stamp_detail = next(c.detail for c in after.checks if c.name == "time-stamp")
    assert "expired on 2030-03-02" in stamp_detail and "proves no time" in stamp_detail
    assert "claimed, not proven" in next(c.detail for c in after.checks if c.name == "signing-time")
    assert "time_stamp" not in dict(after.details)


def test_stamped_seal_after_the_tsa_certificate_expired_is_indeterminate(setup: Setup) -> None:
    """A version-5 seal's own time-stamp follows the same rule: after its TSA certificate expired the seal's
    ``time-stamp`` check is INDETERMINATE / OUT_OF_BOUNDS_NO_POE (it passed before issue sesltv)."""
    end = _tsa_end()
    seal = foreign_seal(setup, version=5, stamper=tsa_stamper(), end=end + timedelta(days=400))
    assert_passed(seal_verifier.verify_seal(seal, ctx(setup, at=end - timedelta(days=1))))
    report = seal_verifier.verify_seal(seal, ctx(setup, at=end + timedelta(days=1)))
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE), report.to_text()
    assert failing(report) == ["time-stamp"]
    assert _finding(report, "time-stamp") == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)


def test_backdated_time_info_into_an_expired_signer_certificate_is_not_believed(setup: Setup) -> None:
    """A signer whose certificate has expired backdates timeInfo into its validity, with a seal still valid: without
    a time-stamp, INDETERMINATE / OUT_OF_BOUNDS_NO_POE on the signer certificate alone; a genuine time-stamp from
    while it was valid passes at the same validation time."""
    signer_end = cx.load_certificate(setup.other.cert)["tbs_certificate"]["validity"]["not_after"].native
    claimed = now()
    seal = foreign_seal(setup, end=signer_end + timedelta(days=3 * 365))  # the seal outlives the certificate
    later = ctx(setup, at=signer_end + timedelta(days=30))
    backdated = make_signature(seal, setup.other, time_info=claimed)
    report = signature_verifier.verify_ses_signature(backdated, later, signed_data=DOCUMENT)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE), report.to_text()
    assert failing(report) == ["signer-certificate"]
    assert "expired on" in report.errors[0] and "claimed, not proven" in report.errors[0]
    stamped = make_signature(seal, setup.other, time_info=claimed, stamper=tsa_stamper(at=claimed))
    assert_passed(signature_verifier.verify_ses_signature(stamped, later, signed_data=DOCUMENT))
    # Judged when the certificate was still valid, the unstamped one passes (nothing had expired yet).
    assert_passed(signature_verifier.verify_ses_signature(backdated, ctx(setup), signed_data=DOCUMENT))


def test_backdated_time_info_into_an_ended_seal_window_is_not_believed(setup: Setup) -> None:
    """The seal's window is judged at timeInfo; a seal that ended before the proof of existence (here the validation
    time: no time-stamp) is INDETERMINATE / OUT_OF_BOUNDS_NO_POE, not TOTAL_PASSED; a time-stamp from inside the
    window settles it."""
    claimed = now()
    seal = foreign_seal(setup, end=claimed + timedelta(days=2))
    later = ctx(setup, at=claimed + timedelta(days=10))
    report = signature_verifier.verify_ses_signature(
        make_signature(seal, setup.other, time_info=claimed), later, signed_data=DOCUMENT
    )
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE), report.to_text()
    assert failing(report) == ["seal.validity"]
    stamped = make_signature(seal, setup.other, time_info=claimed, stamper=tsa_stamper(at=claimed))
    assert_passed(signature_verifier.verify_ses_signature(stamped, later, signed_data=DOCUMENT))
    # The seal on its own, judged at the validation time, has expired outright.
    assert _verdict(seal_verifier.verify_seal(seal, later)) == (Indication.TOTAL_FAILED, SubIndication.EXPIRED)


def test_unstamped_signature_revoked_after_the_claim_and_expired_is_indeterminate(setup: Setup) -> None:
    """The signer certificate revoked (golden ``revocations``) after the claimed timeInfo and then expired: without
    a proof of existence it is not TOTAL_PASSED at +6 years either."""
    seal = golden.read("ses/seal-v4-revoked-later.esl")
    holder = _party("seal-revoked-sm2")
    unstamped = make_signature(seal, holder, time_info=moment("revocations") - timedelta(minutes=3))
    report = signature_verifier.verify_ses_signature(
        unstamped, ctx(setup, at=golden.later(days=6 * 366)), signed_data=DOCUMENT
    )
    assert report.indication is Indication.INDETERMINATE, report.to_text()
    assert report.sub_indication in (SubIndication.OUT_OF_BOUNDS_NO_POE, SubIndication.REVOKED_NO_POE)
