"""一地注册、各地互认: a verifier holding only the bundle and the root fingerprints judges any region's
certificates offline. The trust list, the bundle and the certificates are golden artefacts (tests/data/golden, judged
at the recorded validation time): no world, no service. How the service changes the list (sequence, withdrawal,
staleness) is tests/trust/service/test_trust_list_changes.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import golden
from trust.crypto import base64url
from trust.crypto.errors import EncodingError, InputError, InvalidSignature
from trust.crypto.keys import generate_private_key
from trust.formats import bundle as bundle_format
from trust.formats import trustlist as tl
from trust.formats import x509 as cx
from trust.formats.names import DN
from verifier import api, context
from verifier.report import Indication, SubIndication


def _pins() -> dict[str, str]:
    return dict(golden.manifest()["pins"])


def _document() -> bytes:
    return golden.read("trust/trustlist.json")


def _gd_seal(family: str = "SM2"):
    """A 广东 seal certificate (region-440000's "seal" profile) and its chain, from the golden set."""
    return golden.certificate(f"gd-seal-{family.lower()}")


def _ctx(family: str = "SM2", purpose: str = "auto") -> context.VerificationContext:
    return golden.context(families=(family,), purpose=purpose)


# --- the trust list document --------------------------------------------------------------------------------


def test_trust_list_lists_issuers_services_and_history() -> None:
    parsed, checked = tl.verify(_document(), list(_pins().values()))
    assert len(checked.signed_by) == 2
    ids = {i.id: i for i in parsed.issuers}
    assert {"national", "region-330000", "region-440000"} <= set(ids)
    zj = ids["region-330000"]
    assert zj.kind == "region" and zj.code == "330000" and zj.name == "浙江省" and zj.scope == {"region": "330000"}
    types = {s.id: s.type for s in zj.services}
    assert {
        "region-330000-sm2": "CA",
        "region-330000-rsa": "CA",
        "region-330000-sm2-ocsp": "OCSP",
        "region-330000-rsa-ocsp": "OCSP",
        "region-330000-sm2-seal-maker": "SEAL_MAKER",
        "region-330000-rsa-maker": "SEAL_MAKER",
    }.items() <= types.items()
    assert "LICENSE_ISSUER" in types.values()  # the golden world's licence issuers
    assert [e.status for e in zj.status_history] == ["granted"]
    assert parsed.next_update > parsed.issued_at
    assert {r.family for r in parsed.roots} == {"SM2", "RSA"}


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_either_root_alone_verifies_the_trust_list(family: str) -> None:
    _parsed, checked = tl.verify(_document(), [_pins()[family]])
    assert checked.signed_by == (_pins()[family],)


def test_tampered_or_unpinned_trust_list_refused() -> None:
    document = json.loads(_document())
    payload = json.loads(base64url.decode(document["payload"]))
    payload["issuers"][0]["name"] = "冒名"
    forged = {**document, "payload": base64url.encode(json.dumps(payload).encode())}
    with pytest.raises(InvalidSignature):
        tl.verify(json.dumps(forged).encode(), list(_pins().values()))
    with pytest.raises(InvalidSignature, match="not signed by any pinned"):
        tl.verify(json.dumps(document).encode(), ["00" * 32])
    # A signature by some other key is ignored, not trusted.
    rogue = generate_private_key("sm2")
    rogue_cert = (
        cx.CertificateBuilder()
        .subject(DN(common_name="rogue").to_asn1())
        .issuer(DN(common_name="rogue").to_asn1())
        .public_key(rogue.public_key)
        .serial_number(7)
        .validity(golden.validation_time(), golden.later(days=1))
        .sign(rogue.signer())
    )
    signed = tl.sign(tl.TrustList.from_json(payload), [(rogue.signer(), rogue_cert.dump())])
    with pytest.raises(InvalidSignature, match="not signed by any pinned"):
        tl.verify(json.dumps(signed).encode(), list(_pins().values()))
    # A pin one hex digit away from the rogue's fingerprint (always a different digit) is no pin for it.
    rogue_pin = cx.fingerprint(rogue_cert)
    near_pin = rogue_pin[:-1] + ("1" if rogue_pin[-1] == "0" else "0")
    assert near_pin != rogue_pin
    with pytest.raises(InvalidSignature, match="not signed by any pinned"):
        tl.verify(json.dumps(signed).encode(), [near_pin])
    for garbage in (b"", b"[]", b"{", b'{"payload": "x"}', b'{"payload":"e30","signatures":[]}'):
        with pytest.raises((EncodingError, InputError)):
            tl.verify(garbage, list(_pins().values()))


# --- the bundle -----------------------------------------------------------------------------------------------


def test_bundle_verifies_and_carries_crls() -> None:
    data = golden.bundle()
    verified = bundle_format.verify(data, [_pins()["RSA"]])
    cas = {ca for ca, _der in verified.bundle.crls}
    assert {"root-sm2", "root-rsa", "region-330000-sm2", "region-440000-rsa"} <= cas
    assert verified.trust_list.sequence == tl.verify(_document(), [_pins()["RSA"]])[0].sequence
    tampered = data.replace(b'"payload":"', b'"payload":"A', 1)
    with pytest.raises((InvalidSignature, EncodingError)):
        bundle_format.verify(tampered, [_pins()["RSA"]])


def test_bundle_needs_pins() -> None:
    with pytest.raises(InputError, match="pinned national root"):
        context.build(bundle=b"{}", environ={})


# --- cross-region verification and withdrawal ------------------------------------------------------------------


@pytest.mark.parametrize("family", ["SM2", "RSA"])
def test_guangdong_certificate_verifies_in_another_region(family: str) -> None:
    cert = _gd_seal(family)
    ctx = _ctx(purpose="seal")
    report = api.verify(cert.dump(), ctx)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert [c.name for c in report.checks] == ["parse", "path", "anchor", "names", "profile", "purpose", "trust-list"]
    # the trust list's own certificates (root, regional CA) are held to the RFC 5280 CA profile (issue 12 item 4)
    assert next(c for c in report.checks if c.name == "profile").detail == (
        "RFC 5280 CA profile (trust-list members): 2 certificate(s)"
    )
    assert report.chain[-1].source == "anchor" and report.chain[1].source == "trust-list"


def test_input_forms_detected_by_content() -> None:
    """PEM after explanatory text (RFC 7468) verifies like DER, and so does a file with the chain after the
    certificate (the first block is the certificate, as for openssl x509); an oversized DER certificate is an input
    error with its specific code, not "unrecognised input"."""
    cert = _gd_seal("SM2")
    chain = [golden.certificate("region-440000-sm2"), golden.certificate("root-sm2")]
    ctx = _ctx(purpose="seal")
    with_text = b"Certificate:\n    Data:\n        Version: 3 (0x2)\n" + cx.certificate_pem(cert)
    assert api.detect(with_text) == "certificate"
    assert api.verify(with_text, ctx).indication is Indication.TOTAL_PASSED
    chain_file = cx.certificate_pem(cert) + b"\n" + b"".join(cx.certificate_pem(c) for c in chain)
    report = api.verify(chain_file, ctx)
    assert report.indication is Indication.TOTAL_PASSED and report.subject == api.verify(cert.dump(), ctx).subject
    padded = bytearray(cert.dump())
    huge = (
        b"\x30\x83"
        + (cx.MAX_CERT_BYTES + 10).to_bytes(3, "big")
        + bytes(padded)
        + bytes(cx.MAX_CERT_BYTES + 10 - len(padded))
    )
    with pytest.raises(InputError) as caught:
        api.verify(huge, ctx)
    assert caught.value.code.name == "INPUT_TOO_LARGE"


def test_revoked_certificate_fails_from_the_bundle_crl() -> None:
    victim = golden.certificate("gd-seal-rsa-revoked")  # revoked for key compromise before the bundle was made
    report = api.verify(victim.dump(), _ctx("RSA"))
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)


# --- the CLI contract, offline --------------------------------------------------------------------------------


def _run_verify(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "trust.cli.main", "verify", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
    )


def test_cli_contract(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(golden.bundle())
    good = tmp_path / "good.pem"
    good.write_bytes(cx.certificate_pem(_gd_seal()))
    at = ["--at", golden.validation_time().isoformat()]
    pin = ["--bundle", str(bundle), "--pin", _pins()["SM2"], *at]
    result = _run_verify([str(good), *pin, "--format", "json", "--purpose", "seal"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("kind", "indication", "sub_indication", "validation_time", "chain", "checks", "warnings", "errors"):
        assert key in report
    assert report["indication"] == "TOTAL_PASSED" and len(report["chain"]) == 3
    text = _run_verify([str(good), *pin])
    assert text.returncode == 0 and text.stdout.decode().startswith("TOTAL-PASSED")
    from_stdin = _run_verify(["-", *pin], stdin=good.read_bytes())
    assert from_stdin.returncode == 0
    # INDETERMINATE (2): no path to an anchor the verifier knows.
    stranger = generate_private_key("sm2")
    name = DN(common_name="不相关的根").to_asn1()
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_bytes(
        cx.certificate_pem(
            cx.CertificateBuilder()
            .subject(name)
            .issuer(name)
            .public_key(stranger.public_key)
            .serial_number(9)
            .validity(golden.later(days=-1), golden.later(days=1))
            .add_extension(cx.basic_constraints(True))
            .sign(stranger.signer())
        )
    )
    other = _run_verify([str(good), "--anchor", str(unrelated), "--format", "json", *at])
    assert other.returncode == 2, other.stdout
    assert json.loads(other.stdout)["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    # TOTAL_FAILED (1): wrong purpose.
    assert _run_verify([str(good), *pin, "--purpose", "tls-server"]).returncode == 1
    # 3: unreadable input, unknown option, bad time, missing file, bundle without pins.
    for args in (
        ["-"],
        [str(tmp_path / "missing")],
        [str(good), "--at", "yesterday"],
        [str(good), "--bogus"],
        [str(good), "--bundle", str(bundle)],
        [str(good), "--format", "xml"],
    ):
        result = _run_verify(args, stdin=b"not a certificate")
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        assert result.stderr


def test_verifier_imports_no_network_or_storage_library(tmp_path: Path) -> None:
    """In a fresh interpreter: verify through the library and through the CLI entry, then list the modules."""
    bundle = golden.path("trust/bundle.json")
    cert = tmp_path / "c.pem"
    cert.write_bytes(cx.certificate_pem(_gd_seal()))
    pin = _pins()["SM2"]
    at = golden.validation_time().isoformat()
    program = f"""
import sys
from datetime import datetime
from verifier import api, context
ctx = context.build(bundle=open({str(bundle)!r}, 'rb').read(), pins=[{pin!r}], at=datetime.fromisoformat({at!r}))
report = api.verify(open({str(cert)!r}, 'rb').read(), ctx)
assert report.indication.value == 'TOTAL_PASSED', report.to_text()
from trust.cli.main import main
assert main(['verify', {str(cert)!r}, '--bundle', {str(bundle)!r}, '--pin', {pin!r}, '--at', {at!r}]) == 0
forbidden = ('fastapi', 'starlette', 'uvicorn', 'sqlmodel', 'sqlalchemy', 'alembic', 'psycopg', 'httpx',
             'requests', 'urllib3', 'aiohttp')
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set(forbidden))
print('LOADED', loaded)
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout


# --- a national list: 10^4 issuers (issue 15 item 4) ---------------------------------------------------------------


def _with_issuers(count: int, kind: str = "LICENSE_ISSUER") -> tuple[context.VerificationContext, list[bytes]]:
    """The golden context with ``count`` more issuers in its trust list, each with one ``kind`` service with a real
    certificate of a key of its own (signed by a throw-away key: they only fill the list), and their certificates."""
    import dataclasses
    from datetime import timedelta

    base = golden.context()
    listed = base.trust_list
    assert listed is not None
    signer = generate_private_key("sm2").signer()
    granted = (tl.StatusEntry("granted", listed.issued_at - timedelta(days=1)),)
    issuers, ders = [], []
    for i in range(count):
        der = (
            cx.CertificateBuilder()
            .subject(DN(organization=f"合成 {i}", common_name=f"证照签发 {i}").to_asn1())
            .issuer(DN(organization="合成", common_name="合成 CA").to_asn1())
            .public_key(generate_private_key("sm2").public_key)
            .serial_number(i + 1)
            .validity(listed.issued_at - timedelta(days=1), listed.issued_at + timedelta(days=365))
            .add_extension(cx.basic_constraints(False))
            .sign(signer)
            .dump()
        )
        scope = {"license_types": ["11100000000013338W101"], "issuer_id": f"synthetic-{i}", "name": f"合成 {i}"}
        service = tl.Service(f"synthetic-{i}", kind, "SM2", der, granted, scope if kind == "LICENSE_ISSUER" else {})
        issuers.append(tl.Issuer(f"synthetic-{i}", "department", None, f"合成 {i}", granted, (service,)))
        ders.append(der)
    bigger = dataclasses.replace(listed, issuers=(*listed.issuers, *issuers))
    return dataclasses.replace(base, trust_list=bigger, memo=context.Memo()), ders


def _recording_strict_reads(monkeypatch) -> list[bytes]:
    """Every DER the verifier reads strictly through its memo (``Memo.certificate``) from now on."""
    strictly: list[bytes] = []
    read = context.Memo.certificate

    def recording(self: context.Memo, der: bytes, *args: object, **kwargs: object) -> object:
        strictly.append(der)
        return read(self, der, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(context.Memo, "certificate", recording)
    return strictly


def test_an_sd_jwt_issuer_found_by_kid_without_reading_every_listed_certificate(monkeypatch) -> None:
    """An SD-JWT's issuer JWT names its key by ``kid`` only (no ``x5t#S256``): the service is found through an index of
    the listed licence issuers' key ids, made once per trust list. Making it read only each certificate's key, never
    the whole certificate strictly (through the memo): with 10^4 issuers the first verification took ~3 s (and the
    memo's tables were flooded), ~0.15 ms per issuer remains."""
    ctx, listed = _with_issuers(60)
    strictly = _recording_strict_reads(monkeypatch)
    report = api.verify(golden.text("license/sd-jwt-zj.txt").strip().encode(), ctx)
    assert report.passed, report.to_dict()
    assert not set(strictly) & set(listed), "the kid index read every listed licence issuer's certificate strictly"


def test_a_time_stamp_s_tsa_found_without_reading_every_listed_tsa_certificate(monkeypatch) -> None:
    """An SES_Signature's RFC 3161 time-stamp: the trust list's TSA certificates that its ``sid`` names are found in an
    index made once per list; not every TSA certificate read for every time-stamp (with more TSAs than the memo's
    certificate table holds, every one was parsed again per verification: ses-signature at 0.75 with 10^4 issuers)."""
    ctx, listed = _with_issuers(40, "TSA")
    strictly = _recording_strict_reads(monkeypatch)
    for _ in range(2):
        report = api.verify(golden.read("ses/signature-v4.der"), ctx, signed_data=golden.read("ses/document.xml"))
        assert report.passed, report.to_dict()
        assert any("time-stamp" in check.detail for check in report.checks), report.to_dict()
    assert not set(strictly) & set(listed), "every listed TSA certificate was read for the time-stamp"


def test_the_next_bundle_s_list_finds_the_licence_issuers_key_ids_in_the_memo(monkeypatch) -> None:
    """The service builds a new context (a new trust-list object) at every state change and keeps its memo: the key
    ids of the listed licence issuers' certificates are kept there by the certificates' SHA-256, so the next list's
    index reads no certificate again (with 10^4 issuers: ~1 s of key reading per revocation and worker before)."""
    import dataclasses

    from verifier import license as license_verifier

    ctx, _listed = _with_issuers(30)
    presentation = golden.text("license/sd-jwt-zj.txt").strip().encode()
    assert api.verify(presentation, ctx).passed
    assert ctx.trust_list is not None
    next_list = dataclasses.replace(ctx.trust_list)  # what context.build makes of the next bundle: equal, not the same
    assert next_list is not ctx.trust_list
    read: list[object] = []
    reading = license_verifier.public_key_from_spki  # type: ignore[attr-defined]

    def counting(info: object) -> object:
        read.append(info)
        return reading(info)

    monkeypatch.setattr(license_verifier, "public_key_from_spki", counting)
    report = api.verify(presentation, dataclasses.replace(ctx, trust_list=next_list))
    assert report.passed, report.to_dict()
    assert read == [], f"{len(read)} listed certificates' keys read again for the next list"


def test_the_memo_keeps_no_input_certificate_alive() -> None:
    """The memo's fingerprint table refers to certificate objects weakly: a certificate parsed for one verification is
    freed after it. It held them (8,192 parsed certificates, ~2 million objects every full garbage collection walked,
    in a process verifying one certificate again and again), which swung issue 15's benches from 0.2 to 1.5."""
    import gc
    import weakref

    ctx = golden.context()
    der = golden.certificate("seal-contract-sm2").dump()
    assert api.verify(der, ctx).passed
    cert = cx.load_certificate(der)
    fingerprint = ctx.memo.fingerprint(cert)
    assert ctx.memo.fingerprint(cert) == fingerprint == cx.fingerprint(cert)
    gone = weakref.ref(cert)
    del cert
    gc.collect()
    assert gone() is None, "the memo keeps a certificate object alive"
    again = cx.load_certificate(der)
    assert ctx.memo.fingerprint(again) == fingerprint


def test_a_bundle_is_checked_once_for_the_contexts_built_from_it(monkeypatch) -> None:
    """Contexts built from the same bundle bytes under the same pins share one check of it (and its trust list, and the
    list's indexes): a national bundle of 10^4 issuers (~19 MB) took ~0.86 s of CPU to check and parse per context,
    and ``POST /verify`` with intermediates or CRLs builds a context per request. Other pins check it again."""
    from collections import OrderedDict

    from trust.crypto.errors import TrustError

    monkeypatch.setattr(context, "_VERIFIED", OrderedDict())  # what earlier tests checked is not this test's
    bundle, pins, at = golden.bundle(), golden.pins("SM2"), golden.validation_time()
    first = context.build(bundle=bundle, pins=pins, at=at, environ={})

    def checked_again(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the same bundle was checked and parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(bundle_format, "verify_parts", checked_again)
        again = context.build(bundle=bundle, pins=pins, at=at, environ={}, untrusted=[golden.read("pki/tsa-sm2.pem")])
        assert again.trust_list is first.trust_list
        assert again.bundle == first.bundle
        with pytest.raises(AssertionError):
            context.build(bundle=bundle, pins=golden.pins("RSA"), at=at, environ={})
    with pytest.raises(TrustError):
        context.build(bundle=bundle, pins=["00" * 32], at=at, environ={})
