"""The golden artefacts (tests/data/golden/) judged by the verifier and the format layer alone: every good artefact
passes at the recorded validation time, every deliberately broken one gets the verdict the manifest records, and
the pure formats (CRL, OCSP, RFC 3161, status list, trust list, bundle) read and check Huren's own output.

No world, no database, no service: the network is blocked (conftest) and the import-linter contract "Tests on golden
artefacts stand alone" keeps this module off the service.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.support import golden
from trust.crypto.errors import Code, TrustError
from trust.crypto.keys import PrivateKey
from trust.crypto.sm3 import sm3
from trust.formats import bundle as bundle_format
from trust.formats import crl as crl_format
from trust.formats import ocsp as ocsp_format
from trust.formats import status_list, trustlist
from trust.formats import tsp as tsp_format
from trust.formats import x509 as cx
from verifier import api
from verifier.certificate import verify_certificate
from verifier.report import Indication, Report, Result, SubIndication

GOOD = [
    *[
        f"pdf/sealed-{family}-{level}.pdf"
        for family in ("SM2", "RSA", "dual")
        for level in ("B-B", "B-T", "B-LT", "B-LTA")
    ],
    "pdf/several-seals.pdf",
    "pdf/certified-prepared.pdf",
    "pdf/revoked-before-B-T.pdf",
    "ses/seal-v4.esl",
    "license/token-zj.jwt",
    "license/sd-jwt-zj.txt",
    "license/qr-zj.txt",
    "license/token-gd-food.jwt",
    "license/qr-gd-food.txt",
    "license/token-zj-x5c.jwt",
    "license/token-zj_rsa-x5c.jwt",
    "license/token-zj_ec-x5c.jwt",
    "license/sd-jwt-bound.txt",
    "license/license.pdf",
    "license/license-rs256-RSA.pdf",
    "license/license-rs256-SM2.pdf",
]
SIGNED = ["ses/signature-v4.der", "ses/signature-v4-unstamped.der", "ses/signature-v4-revoked-later.der"]


@pytest.fixture(scope="module")
def ctx():
    return golden.context()


def failing(report: Report) -> list[str]:
    return [c.name for c in report.checks if c.result is Result.FAILED]


@pytest.mark.parametrize("name", GOOD)
def test_good_artefacts_pass(name: str, ctx) -> None:
    report = api.verify(golden.read(name), ctx)
    assert report.indication is Indication.TOTAL_PASSED, (name, report.to_text())
    assert not report.errors


@pytest.mark.parametrize("name", SIGNED)
def test_ses_signatures_pass_with_their_data(name: str, ctx) -> None:
    report = api.verify(golden.read(name), ctx, signed_data=golden.read("ses/document.xml"))
    assert report.indication is Indication.TOTAL_PASSED, (name, report.to_text())


def test_key_bound_presentation_passes_for_its_verifier(ctx) -> None:
    from verifier.license import KeyBindingRequest

    binding = golden.manifest()["key_binding"]
    request = KeyBindingRequest(binding["nonce"], binding["audience"])
    # A KB-JWT is fresh for minutes: the presentation is judged when it was presented, and is too old two hours on.
    ctx = golden.context(at=datetime.fromisoformat(binding["presented_at"]) + timedelta(minutes=1))
    report = api.verify(golden.read("license/sd-jwt-bound-presented.txt"), ctx, key_binding=request)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert sorted(dict(report.details)["disclosed"]) == ["name", "uscc"]
    replay = api.verify(
        golden.read("license/sd-jwt-bound-presented.txt"),
        ctx,
        key_binding=KeyBindingRequest(binding["nonce"], "https://evil.example"),
    )
    assert replay.indication is Indication.TOTAL_FAILED
    stale = api.verify(golden.read("license/sd-jwt-bound-presented.txt"), golden.context(), key_binding=request)
    assert stale.indication is Indication.TOTAL_FAILED and "KB-JWT" in stale.errors[0]


@pytest.mark.parametrize("name", sorted(golden.manifest()["broken"]))
def test_broken_variants_get_their_recorded_verdict(name: str, ctx) -> None:
    expect = golden.manifest()["broken"][name]
    data = golden.read(name)
    if name.startswith("broken/bundle"):
        with pytest.raises(TrustError) as caught:
            golden.context(bundle_name=name)
        assert caught.value.code is Code[expect["error"]]
        return
    if "error" in expect:
        with pytest.raises(TrustError) as caught:
            api.verify(data, ctx)
        assert caught.value.code is Code[expect["error"]]
        return
    signed = golden.read(expect["data"]) if "data" in expect else None
    report = api.verify(data, ctx, signed_data=signed)
    assert report.indication is Indication[expect["indication"]], (name, report.to_text())
    if "sub_indication" in expect:
        assert report.sub_indication is SubIndication[expect["sub_indication"]], (name, report.to_text())
    if "failed" in expect:
        assert set(expect["failed"]) <= set(failing(report)), (name, failing(report))


def test_certificates_through_the_bundle(ctx) -> None:
    good = verify_certificate(golden.certificate("seal-contract-sm2"), ctx, purpose="seal")
    assert good.indication is Indication.TOTAL_PASSED, good.to_text()
    assert good.chain[-1].source == "anchor"
    revoked = verify_certificate(golden.certificate("seal-revoked-sm2"), ctx, purpose="seal")
    assert (revoked.indication, revoked.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    rsa = verify_certificate(golden.certificate("seal-contract-rsa"), golden.context(families=("RSA",)), purpose="seal")
    assert rsa.indication is Indication.TOTAL_PASSED, rsa.to_text()


# --- the pure formats on Huren's own output ---------------------------------------------------------------------


def test_crl_reads_and_its_signature_checks() -> None:
    region = golden.certificate("region-330000-sm2")
    crl = crl_format.load_crl(golden.read("crl/region-330000-sm2.crl"))
    crl_format.verify_crl_signature(crl, cx.public_key(region))
    assert crl["tbs_cert_list"]["issuer"] == region.subject
    revoked_serial = golden.certificate("seal-revoked-sm2").serial_number
    assert revoked_serial in {
        entry["user_certificate"].native for entry in crl["tbs_cert_list"]["revoked_certificates"]
    }
    with pytest.raises(TrustError):
        crl_format.verify_crl_signature(crl, cx.public_key(golden.certificate("region-440000-sm2")))


def test_ocsp_responses_good_and_revoked() -> None:
    region = golden.certificate("region-330000-sm2")
    at = golden.validation_time()
    good = ocsp_format.verify_response(golden.read("ocsp/seal-good.ocsp"), issuer=region, at=at)
    assert [str(s.status) for s in good.responses] == ["good"]
    assert good.responses[0].serial == golden.certificate("seal-contract-sm2").serial_number
    revoked = ocsp_format.verify_response(golden.read("ocsp/seal-revoked.ocsp"), issuer=region, at=at)
    assert [str(s.status) for s in revoked.responses] == ["revoked"]
    assert revoked.responses[0].revoked_at is not None
    with pytest.raises(TrustError):
        ocsp_format.verify_response(golden.read("ocsp/seal-good.ocsp"), issuer=golden.certificate("region-440000-sm2"))


def test_time_stamp_token_over_the_document() -> None:
    document = golden.read("ses/document.xml")
    tsa = golden.certificate("tsa-sm2")
    stamp = tsp_format.verify_token(golden.read("tsp/token-sm2.tst"), message_digest=sm3(document), nonce=7)
    assert stamp.tsa_certificate.dump() == tsa.dump()
    assert stamp.hash_algorithm == "sm3" and stamp.message_digest == sm3(document)
    assert golden.made_at() <= stamp.gen_time <= golden.validation_time()
    with pytest.raises(TrustError):
        tsp_format.verify_token(golden.read("tsp/token-sm2.tst"), message_digest=sm3(document + b"!"))
    response = tsp_format.verify_response(golden.read("tsp/response-sm2.tsr"), message_digest=sm3(document), nonce=7)
    assert response.gen_time == stamp.gen_time


def test_trust_list_and_bundle_verify_against_the_pins() -> None:
    listed, _signed = trustlist.verify(golden.read("trust/trustlist.json"), golden.pins("SM2"))
    verified = bundle_format.verify(golden.read("trust/bundle.json"), golden.pins("RSA"))
    assert verified.trust_list.sequence == listed.sequence
    assert verified.bundle.created_at <= golden.validation_time() < verified.bundle.next_update
    assert {ca for ca, _der in verified.bundle.crls} >= {"region-330000-sm2", "root-sm2"}
    issuers = golden.ids()["issuers"]
    services = {service.id for _issuer, service in listed.services()}
    assert all(any(issuers[name] in service for service in services) for name in ("zj", "gd")), services
    with pytest.raises(TrustError):
        bundle_format.verify(golden.read("trust/bundle.json"), ["00" * 32])
    before = bundle_format.verify(golden.read("trust/bundle-before.json"), golden.pins())
    assert before.trust_list.sequence <= listed.sequence


def test_status_list_tokens_of_the_bundle() -> None:
    tokens = golden.load_json("license/status-lists.json")
    assert tokens and all(set(item) >= {"uri", "token"} for item in tokens)
    revoked = json.loads(golden.read("license/revoked.json"))["token"]
    from trust.formats import license_token as token

    _header, claims = token.parse_unverified(revoked)
    uri, index = status_list.parse_status_claim(claims)
    item = next(entry for entry in tokens if entry["uri"] == uri)
    issuer = golden.key("issuer-zj").public_key
    values = status_list.verify_token(
        item["token"], lambda _h: issuer, expected_uri=uri, now=golden.validation_time(), algorithms=("SM2",)
    )
    assert values.get(index) == status_list.Status.INVALID
    with pytest.raises(TrustError):  # a day later the token has expired
        status_list.verify_token(
            item["token"], lambda _h: issuer, expected_uri=uri, now=golden.later(days=2), algorithms=("SM2",)
        )


def test_the_keys_are_encrypted_and_match_their_certificates() -> None:
    for name, cert in (
        ("maker-330000-sm2", "maker-330000-sm2"),
        ("seal-contract-sm2", "seal-contract-sm2"),
        ("tsa-sm2", "tsa-sm2"),
    ):
        assert b"ENCRYPTED PRIVATE KEY" in golden.read(f"keys/{name}.key.pem")
        key: PrivateKey = golden.key(name)
        assert key.public_key == cx.public_key(golden.certificate(cert))


def test_the_committed_set_is_the_one_the_manifest_lists() -> None:
    """Every file is the one make.py wrote (SHA-256 in manifest.json), and nothing else lies in the folder."""
    import hashlib

    files = golden.manifest()["files"]
    on_disk = {
        str(p.relative_to(golden.GOLDEN))
        for p in golden.GOLDEN.rglob("*")
        if p.is_file() and p.name not in {"manifest.json", "README.md", "make.py"} and "__pycache__" not in p.parts
    }
    assert on_disk == set(files)
    for name, entry in files.items():
        assert hashlib.sha256(golden.read(name)).hexdigest() == entry["sha256"], name
    assert golden.made_at() < golden.validation_time()


def test_status_lists_are_judged_at_the_validation_time() -> None:
    """A licence's status list token (24 hours) is judged at the validation time, not the wall clock (issue 14 item
    4): current at the golden validation time, expired two days on — where the licence itself is still valid."""
    data = golden.read("license/token-zj.jwt")
    now = api.verify(data, golden.context())
    assert now.indication is Indication.TOTAL_PASSED, now.to_text()
    later = api.verify(data, golden.context(at=golden.later(days=2)))
    assert (later.indication, later.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert failing(later) == ["status"] and "expired" in later.errors[0], later.to_text()


def test_the_golden_modules_ask_for_no_world() -> None:
    """The contract's modules are the ones tests/conftest.py guards (a test module that asked for the ``world``
    fixture by name would stop the run at collection)."""
    from tests.support.tools import WORLD_FIXTURES, golden_modules

    modules = golden_modules()
    assert {"tests.verifier.test_golden", "tests.verifier.test_pdf_verify", "tests.support.golden"} <= modules
    assert {"world", "world_server", "world_template"} == WORLD_FIXTURES
