"""OFD verification (issue 18) on ofdrw's sample files (tests/data/vendor/ofd): every signed one read and its
signatures verified at a time inside their validity, with ofdrw's test root as an explicit anchor and without it; every
unsigned one parsed and reported unsigned; a one-byte change in any protected file detected and named."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from tests.conftest import shared_file
from trust.crypto.errors import Code, InputError, TrustError
from trust.formats import ses
from trust.formats.ofd import package, signatures
from verifier import api, context
from verifier.certificate import verify_certificate
from verifier.ofd.verify import verify_ofd
from verifier.report import Finding, Indication, Report, Result, SubIndication

INSIDE = datetime(2021, 6, 1, tzinfo=UTC)  # every ofdrw test certificate and seal is valid then
ROOT = "ofdrw-root.pem"
UNSIGNED = [
    "ofdrw-converter-helloworld.ofd",
    "ofdrw-converter-signout.ofd",
    "ofdrw-layout-fptpl.ofd",
    "ofdrw-reader-chineseDir.ofd",
    "ofdrw-sign-VPage7.ofd",
]
INTACT = [  # signed, and unchanged since (ofdrw's keyword sample was edited after signing)
    "ofdrw-converter-V4RideRight.ofd",
    "ofdrw-sign-DigitalSign.ofd",
    "ofdrw-sign-signedFile.ofd",
    "ofdrw-sign-v4signed.ofd",
]


def sample(name: str) -> bytes:
    return shared_file("ofd", name).read_bytes()


def ofdrw_user_certificate() -> bytes:
    """ofdrw's "Test Certificate" (its USER.p12), as carried by the SES_Signature of the V4RideRight sample."""
    pkg = package.read(sample("ofdrw-converter-V4RideRight.ofd"))
    return ses.parse_signature(pkg.read("Doc_0/Signs/Sign_0/SignedValue.dat")).signer_cert


def ctx_for(
    *, anchor: bool, untrusted: bool = True, at: datetime = INSIDE, key: bool = False, purpose: str = "auto"
) -> context.VerificationContext:
    """``anchor``: ofdrw's root as ``--anchor`` (RFC 5937 checks), or with ``key`` as ``--anchor-key``."""
    root = [shared_file("ofd", ROOT).read_bytes()] if anchor else []
    return context.build(
        at=at,
        anchors=[] if key else root,
        key_anchors=root if key else [],
        untrusted=[ofdrw_user_certificate()] if untrusted else [],
        purpose=purpose,
    )


def checks(report: Report) -> dict[str, Result]:
    return {c.name: c.result for c in report.checks}


def only(report: Report) -> Report:
    assert report.kind == "ofd"
    assert len(report.children) == 1
    return report.children[0]


# --- unsigned -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", UNSIGNED)
def test_unsigned_samples_parse_and_are_reported_unsigned(name):
    report = verify_ofd(sample(name), ctx_for(anchor=True))
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.FORMAT_FAILURE
    assert report.errors == ("signatures: the OFD document carries no signature",)  # "<check>: <reason>"
    assert checks(report)["package"] is Result.PASSED


# --- signed ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INTACT)
def test_document_checks_of_every_intact_signed_sample_pass(name):
    sig = only(verify_ofd(sample(name), ctx_for(anchor=True)))
    result = checks(sig)
    for name_ in ("signature-file", "check-method", "references", "references-complete", "modifications"):
        assert result[name_] is Result.PASSED, (name_, sig.to_text())


def test_v4_ride_right_with_ofdrw_root_as_anchor_every_check_but_the_anchor_rule_passes():
    """As ``--anchor`` (RFC 5937, the CA profile demanded of an issuing anchor): the seal, the maker's and signer's
    signatures and the SM3 of Signature.xml verify; the chain to ofdrw's root fails on the anchor rule
    (verifier/anchors.py): the root's basicConstraints is not critical (nor does it assert keyCertSign)."""
    report = verify_ofd(sample("ofdrw-converter-V4RideRight.ofd"), ctx_for(anchor=True))
    sig = only(report)
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    ses_report = sig.children[0]
    assert ses_report.kind == "ses-signature"
    failed = {c.name for c in ses_report.checks if c.result is Result.FAILED}
    assert failed == {"seal.maker-certificate", "signer-certificate"}
    for check in ses_report.checks:
        if check.result is Result.FAILED:
            assert "non-critical basicConstraints" in check.detail
    ses_checks = checks(ses_report)
    for name in ("signature", "signer-listed", "seal.maker-signature", "seal.validity", "seal.picture", "data-hash"):
        assert ses_checks[name] is Result.PASSED, name
    assert dict(sig.details)["stamps"][0] == "page 1 at x 202 y 40, 40×40 mm"
    assert checks(sig)["seal-file"] is Result.PASSED  # Seal.esl is the seal inside the signature


# --- ofdrw's root as a key anchor (--anchor-key): every sample's verdict -----------------------------------------

# sample -> (indication, sub-indication) with ofdrw's root as --anchor-key and --purpose any, ofdrw's "Test
# Certificate" given as --untrusted (the raw SM2 signature carries none)
WITH_ROOT = {
    "ofdrw-converter-V4RideRight.ofd": (Indication.TOTAL_PASSED, None),
    "ofdrw-sign-DigitalSign.ofd": (Indication.TOTAL_PASSED, None),
    # signed under the tax administration's test CAs, which ofdrw does not ship
    "ofdrw-sign-v4signed.ofd": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    "ofdrw-sign-signedFile.ofd": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    # edited after signing
    "ofdrw-reader-keyword.ofd": (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE),
}
WITHOUT_ROOT = {
    "ofdrw-converter-V4RideRight.ofd": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    "ofdrw-sign-DigitalSign.ofd": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    "ofdrw-sign-v4signed.ofd": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    "ofdrw-sign-signedFile.ofd": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    "ofdrw-reader-keyword.ofd": (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE),
}


def test_every_sample_is_listed():
    signed = {p.name for p in shared_file("ofd", ROOT).parent.glob("*.ofd")} - set(UNSIGNED)
    assert signed == set(WITH_ROOT) == set(WITHOUT_ROOT)


@pytest.mark.parametrize("name", sorted(WITH_ROOT))
def test_every_signed_sample_with_ofdrw_root_as_key_anchor(name):
    report = verify_ofd(sample(name), ctx_for(anchor=True, key=True, purpose="any"))
    assert (report.indication, report.sub_indication) == WITH_ROOT[name], report.to_text()


@pytest.mark.parametrize("name", sorted(WITHOUT_ROOT))
def test_every_signed_sample_without_ofdrw_root_is_untrusted(name):
    report = verify_ofd(sample(name), ctx_for(anchor=False, purpose="any"))
    assert (report.indication, report.sub_indication) == WITHOUT_ROOT[name], report.to_text()


def test_v4_ride_right_with_ofdrw_root_as_key_anchor_passes_and_says_how_the_root_was_trusted():
    sig = only(verify_ofd(sample("ofdrw-converter-V4RideRight.ofd"), ctx_for(anchor=True, key=True, purpose="any")))
    assert sig.indication is Indication.TOTAL_PASSED, sig.to_text()
    assert len(sig.chain) == 2
    # the signer certificate's own report says how the root was trusted
    cert = verify_certificate(ofdrw_user_certificate(), ctx_for(anchor=True, key=True))
    assert cert.indication is Indication.TOTAL_PASSED, cert.to_text()
    anchor = next(c for c in cert.checks if c.name == "anchor")
    assert "trusted as name and key (--anchor-key, RFC 5280 clause 6.1.1 (d))" in anchor.detail
    assert not any(c.name == "profile" and c.result is Result.PASSED for c in cert.checks)


def test_v4_ride_right_signer_is_a_tls_client_certificate():
    """ofdrw's "Test Certificate" has extendedKeyUsage clientAuth only (RFC 5280 clause 4.2.1.12: usable for that
    purpose only), so without ``--purpose any`` its seal signature fails the purpose check, anchor or not."""
    sig = only(verify_ofd(sample("ofdrw-converter-V4RideRight.ofd"), ctx_for(anchor=True, key=True)))
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert "not usable for seal" in sig.to_text()


def test_digital_signature_with_ofdrw_root_as_key_anchor_passes_for_document_signing():
    """The raw SM2 signature is checked for document signing (digitalSignature), which the certificate has."""
    sig = only(verify_ofd(sample("ofdrw-sign-DigitalSign.ofd"), ctx_for(anchor=True, key=True)))
    assert sig.indication is Indication.TOTAL_PASSED, sig.to_text()
    assert checks(sig)["signer-certificate"] is Result.PASSED


def test_v4_ride_right_without_an_anchor_is_untrusted():
    sig = only(verify_ofd(sample("ofdrw-converter-V4RideRight.ofd"), ctx_for(anchor=False)))
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert checks(sig)["references"] is Result.PASSED


@pytest.mark.parametrize("name", ["ofdrw-sign-v4signed.ofd", "ofdrw-sign-signedFile.ofd"])
def test_tax_bureau_seals_verify_but_chain_to_no_given_anchor(name):
    """Signed under the tax administration's test CAs, which ofdrw does not ship: untrusted with or without its root."""
    for anchor in (True, False):
        sig = only(verify_ofd(sample(name), ctx_for(anchor=anchor)))
        assert sig.indication is Indication.INDETERMINATE
        assert sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
        ses_checks = checks(sig.children[0])
        for check in ("signature", "signer-listed", "seal.maker-signature", "seal.validity", "data-hash"):
            assert ses_checks[check] is Result.PASSED, check
        assert checks(sig)["stamp"] is Result.PASSED
        assert checks(sig)["signing-time"] is Result.PASSED


def test_digital_signature_needs_the_signer_certificate_given():
    with_cert = only(verify_ofd(sample("ofdrw-sign-DigitalSign.ofd"), ctx_for(anchor=True)))
    assert checks(with_cert)["signed-value"] is Result.PASSED
    assert "raw SM2 signature" in next(c.detail for c in with_cert.checks if c.name == "signed-value")
    # the chain: the anchor rule again
    assert with_cert.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    without = only(verify_ofd(sample("ofdrw-sign-DigitalSign.ofd"), ctx_for(anchor=True, untrusted=False)))
    assert without.indication is Indication.INDETERMINATE
    assert without.sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND


def test_keyword_sample_was_modified_after_signing():
    report = verify_ofd(sample("ofdrw-reader-keyword.ofd"), ctx_for(anchor=True))
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.HASH_FAILURE
    assert len(report.children) == 2
    for sig in report.children:
        assert sig.sub_indication is SubIndication.HASH_FAILURE
        assert set(dict(sig.details)["changed_files"]) == {
            "/OFD.xml",
            "/Doc_0/Document.xml",
            "/Doc_0/Pages/Page_0/Content.xml",
        }


# --- modifications ------------------------------------------------------------------------------------------


def one_byte_changed(data: bytes, name: str) -> bytes:
    """``data`` with one byte changed so that XML stays well formed (and reads the same)."""
    if name.endswith(".xml"):
        for old, new in ((b'encoding="UTF-8"', b'encoding="utf-8"'), (b'" ', b'"\t'), (b"><", b"> <")):
            at = data.find(old)
            if at != -1:
                changed = data[:at] + new + data[at + len(old) :]
                return changed if len(changed) == len(data) else changed[: len(data) + 1]
    return data[:-1] + bytes([data[-1] ^ 0x01])


def rewrite(ofd: bytes, name: str, content: bytes | None) -> bytes:
    pkg = package.read(ofd)
    files = dict(pkg.files)
    if content is None:
        del files[name]
    else:
        files[name] = content
    return package.write(files)


def protected_files(ofd: bytes) -> list[str]:
    pkg = package.read(ofd)
    listing = signatures.parse_list(pkg, "Doc_0/Signs/Signatures.xml")
    found: list[str] = []
    for entry in listing.entries:
        for ref in signatures.parse_signature(pkg, entry.path).references:
            assert ref.path is not None
            if ref.path not in found:
                found.append(ref.path)
    return found


CASES = [(name, path) for name in INTACT for path in protected_files(sample(name))]


@pytest.mark.parametrize(("name", "path"), CASES, ids=[f"{n}:{p}" for n, p in CASES])
def test_one_byte_change_in_any_protected_file_is_detected_and_named(name, path):
    original = sample(name)
    pkg = package.read(original)
    changed = one_byte_changed(pkg.read(path), path)
    assert changed != pkg.read(path)
    report = verify_ofd(rewrite(original, path, changed), ctx_for(anchor=True))
    sig = only(report)
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.HASH_FAILURE
    assert f"/{path}" in dict(sig.details)["changed_files"]
    assert f"/{path} changed" in sig.errors[0]


def test_added_file_is_detected_and_named():
    original = sample("ofdrw-sign-v4signed.ofd")
    report = verify_ofd(rewrite(original, "Doc_0/Res/added.png", b"\x89PNG extra"), ctx_for(anchor=True))
    sig = only(report)
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert dict(sig.details)["uncovered_files"] == ["/Doc_0/Res/added.png"]
    assert "coverage" in checks(report)


def test_removed_protected_file_is_named_missing():
    original = sample("ofdrw-sign-v4signed.ofd")
    sig = only(verify_ofd(rewrite(original, "Doc_0/Res/qr.png", None), ctx_for(anchor=True)))
    assert sig.sub_indication is SubIndication.HASH_FAILURE
    assert "/Doc_0/Res/qr.png missing" in sig.errors[0]


def test_changed_signatures_xml_is_detected_when_protected():
    original = sample("ofdrw-converter-V4RideRight.ofd")
    pkg = package.read(original)
    listing = pkg.read("Doc_0/Signs/Signatures.xml")
    sig = only(
        verify_ofd(
            rewrite(original, "Doc_0/Signs/Signatures.xml", one_byte_changed(listing, ".xml")), ctx_for(anchor=True)
        )
    )
    assert "/Doc_0/Signs/Signatures.xml" in dict(sig.details)["changed_files"]


def test_changed_signature_xml_breaks_the_seal_signature():
    original = sample("ofdrw-sign-v4signed.ofd")
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    pkg = package.read(original)
    changed = pkg.read(path).replace(b'Boundary="90.00 8.00', b'Boundary="10.00 8.00')
    sig = only(verify_ofd(rewrite(original, path, changed), ctx_for(anchor=True)))
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.HASH_FAILURE  # dataHash is SM3 of Signature.xml
    assert "data-hash" in sig.errors[0]


# --- the entry points -----------------------------------------------------------------------------------------


def test_api_detects_ofd_by_content():
    assert api.detect(sample("ofdrw-sign-v4signed.ofd")) == "ofd"
    report = api.verify(sample("ofdrw-sign-v4signed.ofd"), ctx_for(anchor=False))
    assert report.kind == "ofd"
    with pytest.raises(TrustError) as caught:
        api.verify(b"PK\x03\x04" + b"\0" * 64, ctx_for(anchor=False))
    assert caught.value.code is Code.OFD_PACKAGE_INVALID


def test_zip_bomb_through_the_api_is_an_input_error():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", b"<x/>")
        archive.writestr("Doc_0/bomb", b"\0" * (16 * 1024 * 1024))
    with pytest.raises(InputError) as caught:
        api.verify(out.getvalue(), ctx_for(anchor=False))
    assert caught.value.code is Code.INPUT_TOO_LARGE


def test_cli_verifies_an_ofd_file_named_anything(tmp_path, capsys):
    from trust.cli.main import main

    target = tmp_path / "document.bin"  # not named .ofd: detected by content
    target.write_bytes(sample("ofdrw-sign-v4signed.ofd"))
    code = main(["verify", str(target), "--at", "2021-06-01T00:00:00Z", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "ofd"
    assert out["indication"] == "INDETERMINATE"
    assert code == 2
    assert out["reports"][0]["kind"] == "ofd-signature"
    bad = tmp_path / "bad.ofd"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert main(["verify", str(bad)]) == 3


def test_cli_anchor_key_trusts_ofdrw_root(tmp_path, capsys):
    """``trust verify --anchor-key``: ofdrw's digitally signed sample passes (exit 0) with its root as a key anchor,
    fails the anchor rule as ``--anchor`` (exit 1) and is untrusted without it (exit 2)."""
    from trust.cli.main import main

    target = tmp_path / "signed.ofd"
    target.write_bytes(sample("ofdrw-sign-DigitalSign.ofd"))
    cert = tmp_path / "user.der"
    cert.write_bytes(ofdrw_user_certificate())
    root = str(shared_file("ofd", ROOT))
    common = ["verify", str(target), "--at", "2021-06-01T00:00:00Z", "--untrusted", str(cert), "--format", "json"]
    assert main([*common, "--anchor-key", root]) == 0
    assert json.loads(capsys.readouterr().out)["indication"] == "TOTAL_PASSED"
    assert main([*common, "--anchor", root]) == 1
    assert "non-critical basicConstraints" in capsys.readouterr().out
    assert main(common) == 2
    capsys.readouterr()


def test_ofd_verification_loads_no_service_module_or_network_client():
    import subprocess
    import sys

    from tests.conftest import REPO

    program = f"""
import sys
from verifier import api, context
ctx = context.build(anchors=[open({str(shared_file("ofd", ROOT))!r}, 'rb').read()])
report = api.verify(open({str(shared_file("ofd", "ofdrw-sign-v4signed.ofd"))!r}, 'rb').read(), ctx)
assert report.kind == 'ofd', report.to_text()
forbidden = ('fastapi', 'starlette', 'uvicorn', 'sqlmodel', 'sqlalchemy', 'alembic', 'psycopg', 'httpx',
             'requests', 'urllib3', 'aiohttp', 'reportlab', 'qrcode', 'PIL', 'fontTools', 'ca', 'seal', 'licenses')
print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set(forbidden)))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("LOADED []", "LOADED ['aiohttp']"), result.stdout  # pyhanko-certvalidator's


# --- a claimed time is not a proof of existence (issue sespoe) -------------------------------------------------


def _golden_sealed_ofd(*, stamped: bool) -> bytes:
    """ofdrw's hello-world OFD sealed by the golden contract seal five minutes before the golden validation time,
    with a time-stamp over the signature value by the golden TSA, or without (timeInfo then is only claimed)."""
    from datetime import timedelta

    from seal import ofd as seal_ofd
    from tests.support import golden
    from trust.crypto.algorithms import digest

    at = golden.validation_time() - timedelta(minutes=5)
    return seal_ofd.seal_ofd(
        sample("ofdrw-converter-helloworld.ofd"),
        seal_der=golden.read("ses/seal-v4.esl"),
        signer=golden.key("seal-contract-sm2").signer(),
        signer_cert=golden.certificate("seal-contract-sm2").dump(),
        time_info=at,
        timestamper=(lambda value: golden.time_stamp(digest("sm3", value), gen_time=at)) if stamped else None,
    )


def test_unstamped_ofd_seal_after_the_signer_certificate_expired_is_indeterminate():
    """The seal signature's timeInfo is the signer's claim: at +6 years (the signer certificate and the seal ended
    after three), an unstamped OFD seal is INDETERMINATE / OUT_OF_BOUNDS_NO_POE, as an unstamped PAdES B-B PDF is;
    the same seal time-stamped passes while its TSA certificate is valid."""
    from tests.support import golden

    late = golden.context(at=golden.later(days=6 * 366))
    unstamped = _golden_sealed_ofd(stamped=False)
    assert verify_ofd(unstamped, golden.context()).indication is Indication.TOTAL_PASSED
    report = verify_ofd(unstamped, late)
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    inner = only(report).children[0]
    failed = [c.name for c in inner.checks if c.result is Result.FAILED]
    assert failed == ["seal.validity", "signer-certificate"], inner.to_text()
    # Time-stamped, it passes after the signer certificate expired (2028) while the TSA's is valid (to 2030).
    stamped = verify_ofd(_golden_sealed_ofd(stamped=True), golden.context(at=golden.later(days=4 * 366)))
    assert stamped.indication is Indication.TOTAL_PASSED, stamped.to_text()


def test_stamped_ofd_seal_after_the_tsa_certificate_expired_is_indeterminate():
    """An OFD seal goes through verify_ses_signature: its time-stamp proves nothing once the TSA certificate has
    expired (genTime is the TSA's own word; no archive time-stamp exists in GB/T 38540 or the OFD signature), so the
    seal is INDETERMINATE / OUT_OF_BOUNDS_NO_POE after the golden TSA's notAfter and TOTAL_PASSED the day before
    (issue sesltv; before it, TOTAL_PASSED on both days)."""
    from datetime import timedelta

    from tests.support import golden

    tsa_end = golden.certificate("tsa-sm2")["tbs_certificate"]["validity"]["not_after"].native
    stamped = _golden_sealed_ofd(stamped=True)
    before = verify_ofd(stamped, golden.context(at=tsa_end - timedelta(days=1)))
    assert before.indication is Indication.TOTAL_PASSED, before.to_text()
    report = verify_ofd(stamped, golden.context(at=tsa_end + timedelta(days=1)))
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    inner = only(report).children[0]
    stamp = next(c for c in inner.checks if c.name == "time-stamp")
    assert isinstance(stamp, Finding), inner.to_text()
    assert (stamp.result, stamp.sub_indication) == (Result.FAILED, SubIndication.OUT_OF_BOUNDS_NO_POE), inner.to_text()
    failed = [c.name for c in inner.checks if c.result is Result.FAILED]
    assert failed == ["seal.validity", "signer-certificate", "time-stamp"], inner.to_text()


@pytest.mark.parametrize(
    ("purpose", "indication"),
    [
        ("any", Indication.TOTAL_PASSED),  # waived
        ("tls-client", Indication.TOTAL_PASSED),  # what the certificate is for: taken as asked
        ("generic", Indication.TOTAL_FAILED),  # a seal signature stays ``seal`` under the generic policy
        ("seal", Indication.TOTAL_FAILED),
        ("auto", Indication.TOTAL_FAILED),
    ],
)
def test_a_seal_signers_purpose_follows_the_one_rule(purpose, indication):
    """GB/T 38540 signatures read ``--purpose`` as PDF and OFD ``Sign`` signatures do (docs/VERIFIER.md, "The
    signer's purpose"): an explicit purpose is taken as asked. Before the rule, every purpose but ``any`` was read as
    ``seal`` here, so ``tls-client`` failed ofdrw's clientAuth-only signer."""
    sig = only(verify_ofd(sample("ofdrw-converter-V4RideRight.ofd"), ctx_for(anchor=True, key=True, purpose=purpose)))
    assert sig.indication is indication, sig.to_text()
    if indication is Indication.TOTAL_FAILED:
        assert sig.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
        assert "not usable for seal" in sig.to_text()
