"""证照共享: licence tokens, SD-JWT presentations and QR payloads verified offline — and every forgery refused
with a specific reason. The licences, the issuers' keys (to forge with) and the bundle are golden artefacts
(tests/data/golden/license/, judged at the recorded validation time): no world, no service. The network is blocked
for this module (tests/verifier/conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import golden, photos
from trust.crypto import base64url, jwk
from trust.crypto.keys import generate_private_key
from trust.formats import jose, sdjwt
from trust.formats import license_catalogue as catalogue
from trust.formats import license_token as token
from trust.formats import x509 as cx
from trust.formats.names import DN
from verifier import api, context
from verifier.license import KeyBindingRequest
from verifier.report import Indication, SubIndication

BUSINESS = "11100000000013338W101"
FOOD = "11100000000013338W102"
BIRTH = "11100000000013338W104"


def _matrix() -> dict[str, dict[str, dict[str, str]]]:
    return dict(golden.load_json("license/matrix.json"))


def _verify(data: str, **kwargs):
    key_binding = kwargs.pop("key_binding", None)
    families = kwargs.pop("families", ("SM2",))
    return api.verify(data.encode(), golden.context(families=families, **kwargs), key_binding=key_binding)


def _verify_bytes(data: bytes):
    return api.verify(data, golden.context())


class _Prepared:
    """An issuer's signer and kid, from its golden key (what licenses.issuance.prepare_issuer gives the service)."""

    def __init__(self, name: str) -> None:
        self.signer = golden.key(f"issuer-{name}").signer()
        self.kid = jwk.thumbprint(self.signer.public_key)


def _signer(issuer: str) -> _Prepared:
    return _Prepared(issuer)


def _present(sd_jwt: str, disclose: list, holder, nonce: str, audience: str) -> str:
    """A key-bound presentation made at the validation time (a KB-JWT is fresh for minutes)."""
    return str(
        sdjwt.present(
            sd_jwt,
            disclose,
            holder_signer=holder.signer(),
            nonce=nonce,
            audience=audience,
            iat=int(golden.validation_time().timestamp()),
        )
    )


@pytest.mark.parametrize("issuer", ["zj", "zj_rsa", "zj_ec"])
@pytest.mark.parametrize("type_code", [t.code for t in catalogue.all_types()])
def test_every_type_and_algorithm_verifies_in_every_form(issuer: str, type_code: str) -> None:
    made = _matrix()[issuer][type_code]
    ctx = golden.context()
    for form, data in (
        ("license-token", made["token"]),
        ("license-sd-jwt", made["sd_jwt"]),
        ("license-qr", made["qr"]),
    ):
        report = api.verify(data.encode(), ctx)
        assert report.kind == form
        assert report.indication is Indication.TOTAL_PASSED, (form, report.to_text())
    if issuer == "zj":  # SM2 licences fit a QR code of version 25 or lower at level M (measured in test_qr_sizes)
        assert token.qr_version(made["qr"]) <= 25


def test_qr_sizes_for_every_seeded_type(record_property) -> None:
    versions = {}
    for license_type in catalogue.all_types():
        versions[license_type.name] = token.qr_version(_matrix()["zj"][license_type.code]["qr"])
    record_property("qr_versions", versions)
    print(f"\nQR versions (SM2, level M): {versions}")
    assert all(v <= 25 for v in versions.values()), versions


def test_a_photo_of_the_qr_code_verifies(tmp_path: Path) -> None:
    """Issue 13 item 5: a phone photo (JPEG: turned, blurred, speckled) or a PNG scan of a licence's QR code is read
    with zxing-cpp and verified like the scanned payload — by the library and by ``trust verify`` — and its report
    says so in its first check; a photo of a forged QR code fails like the forged payload."""
    payload = golden.text("license/qr-zj.txt")  # 浙江's licence; forged below with 广东's genuine key
    for data in (photos.photo(payload), photos.photo(payload, angle=-3, image_format="PNG")):
        report = _verify_bytes(data)
        assert report.kind == "license-qr" and report.indication is Indication.TOTAL_PASSED, report.to_text()
        assert report.checks[0].name == "image" and "QR code read by zxing-cpp" in report.checks[0].detail
        assert report.subject == _verify(payload).subject
    header, body = token.parse_unverified(token.from_qr(payload))
    body["license"]["holder"]["name"] = "冒名顶替有限公司"
    forged = token.to_qr(_forge("gd", body, {**header}))
    refused = _verify_bytes(photos.photo(forged))
    assert refused.indication is Indication.TOTAL_FAILED and refused.checks[0].name == "image", refused.to_text()

    (tmp_path / "licence-qr.jpg").write_bytes(photos.photo(payload))
    (tmp_path / "bundle.json").write_bytes(golden.bundle())
    command = ["verify", str(tmp_path / "licence-qr.jpg"), "--bundle", str(tmp_path / "bundle.json")]
    command += ["--pin", golden.pins("SM2")[0], "--at", golden.validation_time().isoformat()]
    result = subprocess.run(
        [sys.executable, "-m", "trust.cli.main", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("TRUST_")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("TOTAL-PASSED  licence QR code: "), result.stdout


def test_selective_disclosure_and_key_binding() -> None:
    holder = golden.key("holder-p256")
    bound = golden.text("license/sd-jwt-bound.txt")
    presented = _present(
        bound,
        [("license", "fields", "name"), ("license", "fields", "uscc")],
        holder,
        "n-123",
        "https://bank.example",
    )
    good = _verify(presented, key_binding=KeyBindingRequest("n-123", "https://bank.example"))
    assert good.indication is Indication.TOTAL_PASSED, good.to_text()
    assert sorted(dict(good.details)["disclosed"]) == ["name", "uscc"]
    wrong_nonce = _verify(presented, key_binding=KeyBindingRequest("n-999", "https://bank.example"))
    assert wrong_nonce.indication is Indication.TOTAL_FAILED and "nonce" in wrong_nonce.errors[0].lower()
    wrong_aud = _verify(presented, key_binding=KeyBindingRequest("n-123", "https://evil.example"))
    assert wrong_aud.indication is Indication.TOTAL_FAILED and "not for 'https://evil.example'" in wrong_aud.errors[0]
    unbound = sdjwt.present(bound, [("license", "fields", "name")])
    missing = _verify(unbound, key_binding=KeyBindingRequest("n-123", "https://bank.example"))
    assert missing.indication is Indication.TOTAL_FAILED


def test_tampered_and_duplicated_disclosures() -> None:
    parts = golden.text("license/sd-jwt-zj.txt").split("~")
    disclosure = json.loads(base64url.decode(parts[1]))
    disclosure[2] = "伪造的值"
    tampered = "~".join([parts[0], base64url.encode(json.dumps(disclosure, ensure_ascii=False).encode()), *parts[2:]])
    report = _verify(tampered)
    assert report.indication is Indication.TOTAL_FAILED
    assert [c.name for c in report.checks if c.result.value == "failed"] == ["disclosures"]
    duplicated = "~".join([parts[0], parts[1], parts[1], *parts[2:]])
    report = _verify(duplicated)
    assert report.indication is Indication.TOTAL_FAILED
    assert "twice" in report.errors[0] or "duplicate" in report.errors[0].lower()


def _forge(issuer: str, claims: dict, headers: dict) -> str:
    prepared = _signer(issuer)
    return jose.sign_compact(token.encode_claims(claims), prepared.signer, headers=headers)


def _claims() -> tuple[dict, dict]:
    header, body = token.parse_unverified(golden.text("license/token-zj-x5c.jwt"))
    return header, body


REFUSED = ("header", "issuer-key", "signature")


def test_alg_none_is_refused() -> None:
    header, body = _claims()
    none_header = base64url.encode(json.dumps({**header, "alg": "none"}).encode())
    forged = f"{none_header}.{base64url.encode(token.encode_claims(body))}."
    report = _verify(forged)
    assert report.indication is not Indication.TOTAL_PASSED and "none" in report.errors[0]


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    """The classic key-confusion attack: HMAC with the issuer's public key (which everybody has) as secret."""
    header, body = _claims()
    public_pem = cx.public_key(cx.load_certificate(base64.b64decode(header["x5c"][0]))).pem().encode()
    head = base64url.encode(json.dumps({"alg": "HS256", "typ": token.TYP, "kid": header["kid"]}).encode())
    payload = base64url.encode(token.encode_claims(body))
    mac = hmac.new(public_pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    report = _verify(f"{head}.{payload}.{base64url.encode(mac)}")
    assert report.indication is not Indication.TOTAL_PASSED and "HS256" in report.errors[0]


def test_embedded_jwk_is_refused() -> None:
    _header, body = _claims()
    attacker = generate_private_key("ec-p256")
    head = {"alg": "ES256", "typ": token.TYP, "jwk": jwk.public_jwk(attacker.public_key)}
    forged = base64url.encode(json.dumps(head).encode()) + "." + base64url.encode(token.encode_claims(body))
    sig = attacker.sign(forged.encode(), encoding="raw")
    report = _verify(forged + "." + base64url.encode(sig))
    assert report.indication is not Indication.TOTAL_PASSED and "jwk" in report.errors[0]


def test_unknown_crit_is_refused() -> None:
    _header, body = _claims()
    prepared = _signer("zj")
    head = {"alg": "SM2", "typ": token.TYP, "kid": prepared.kid, "crit": ["exp-policy"], "exp-policy": 1}
    forged = base64url.encode(json.dumps(head).encode()) + "." + base64url.encode(token.encode_claims(body))
    sig = prepared.signer.sign(forged.encode(), encoding="raw")
    report = _verify(forged + "." + base64url.encode(sig))
    assert report.indication is not Indication.TOTAL_PASSED and "crit" in report.errors[0]


def test_x5c_not_chaining_to_the_trust_list_is_refused() -> None:
    _header, body = _claims()
    rogue = generate_private_key("sm2")
    name = DN(province="浙江省", organization="浙江省市场监督管理局", common_name="冒充的签发者").to_asn1()
    cert = (
        cx.CertificateBuilder()
        .subject(name)
        .issuer(name)
        .public_key(rogue.public_key)
        .serial_number(5)
        .validity(golden.later(days=-1), golden.later(days=30))
        .sign(rogue.signer())
    )
    head = {"typ": token.TYP, "kid": jwk.thumbprint(rogue.public_key), "x5c": [base64.b64encode(cert.dump()).decode()]}
    forged = jose.sign_compact(token.encode_claims(body), rogue.signer(), headers=head)
    report = _verify(forged)
    assert report.indication is not Indication.TOTAL_PASSED
    assert [c.name for c in report.checks if c.result.value == "failed"] == ["issuer-key"]


def test_issuer_not_authorised_for_the_type() -> None:
    """广东's authority may issue only 食品经营许可证; a 营业执照 signed with its genuine key fails."""
    good = golden.text("license/token-gd-food.jwt")
    assert _verify(good).indication is Indication.TOTAL_PASSED
    _header, body = token.parse_unverified(good)
    body["license"]["type"] = BUSINESS
    forged = _forge("gd", body, {"typ": token.TYP, "kid": _signer("gd").kid})
    report = _verify(forged)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE and "not authorised" in report.errors[0]


def test_every_check_is_reported_not_only_the_first_failure() -> None:
    """Issue 14 item 3: a genuinely signed token that fails several checks reports each of them — here a revoked
    licence re-signed by its own issuer with a type its identifier does not name — and the bottom line is the most
    fundamental (the first TOTAL_FAILED in the order of the checks). A token that cannot be authenticated still lists
    every check, those it could not run as skipped with the reason."""
    revoked = golden.load_json("license/revoked.json")
    _header, body = token.parse_unverified(revoked["token"])
    body["license"]["type"] = FOOD  # the identifier names 营业执照 (…W101), the claim 食品经营许可证
    forged = _forge("zj", body, {"typ": token.TYP, "kid": _signer("zj").kid})
    report = _verify(forged)
    results = {c.name: c.result.value for c in report.checks}
    assert results == {
        "parse": "passed",
        "issuer-key": "passed",
        "signature": "passed",
        "issuer-authorised": "passed",
        "claims": "failed",
        "validity": "passed",
        "status": "failed",
    }, report.to_text()
    assert report.indication is Indication.TOTAL_FAILED
    assert report.errors[0].startswith("claims: "), report.errors
    assert any(e.startswith("status: ") and "revoked" in e for e in report.errors[1:]), report.errors

    unknown = generate_private_key("sm2")
    head = {"typ": token.TYP, "kid": jwk.thumbprint(unknown.public_key)}
    stranger = jose.sign_compact(token.encode_claims(body), unknown.signer(), headers=head)
    report = _verify(stranger)  # a token older than the bundle: an unknown key is not a newer issuer (issue 13 item 6)
    assert (report.indication, report.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
    ), report.to_text()
    checks = {c.name: c for c in report.checks}
    assert list(checks) == ["parse", "issuer-key", "signature", "issuer-authorised", "claims", "validity", "status"]
    assert all(checks[n].result.value == "skipped" and "not run" in checks[n].detail for n in list(checks)[2:])


def test_kid_pointing_elsewhere() -> None:
    """A token signed by one issuer whose kid names another issuer's key: the named key does not verify it."""
    _header, body = _claims()
    signer = _signer("gd")
    head = {"typ": token.TYP, "kid": _signer("zj").kid}
    forged = jose.sign_compact(token.encode_claims(body), signer.signer, headers=head)
    report = _verify(forged)
    assert report.indication is Indication.TOTAL_FAILED and report.sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_validity_window() -> None:
    made = _matrix()["zj"][FOOD]["token"]  # five years
    expired = _verify(made, at=golden.later(days=6 * 366))
    assert (expired.indication, expired.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.EXPIRED)
    early = _verify(made, at=golden.later(days=-2))
    assert early.indication is Indication.TOTAL_FAILED
    assert early.sub_indication in (
        SubIndication.NOT_YET_VALID,
        SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )


def test_status_lists_are_judged_at_the_validation_time() -> None:
    """Issue 14 item 4: one clock. The status list and the bundle's freshness are judged at the validation time, not
    at the wall clock: two days on, the bundle's status list (24 hours) has expired — INDETERMINATE / TRY_LATER, the
    bundle reported stale then. A list issued after the validation time that shows the licence revoked does not say
    it was revoked then (REVOKED_NO_POE); at its own time it does. (Golden: the licence issued 01:20, the list showing
    it revoked issued 01:45, the earlier bundle's list 01:30 shows it valid.)"""
    revoked = golden.load_json("license/revoked.json")["token"]
    before = "trust/bundle-before.json"
    later = _verify(revoked, bundle_name=before, at=golden.later(days=2))
    assert (later.indication, later.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    status = next(c for c in later.checks if c.name == "status")
    assert status.result.value == "failed" and "expired" in status.detail, later.to_text()
    assert any("stale" in w and "before the validation time" in w for w in later.warnings), later.warnings
    current = _verify(revoked, bundle_name=before)
    assert current.indication is Indication.TOTAL_PASSED and not any("stale" in w for w in current.warnings)

    earlier = _verify(revoked, at=golden.later(hours=-1))  # 01:30, before the list of 01:45
    assert (earlier.indication, earlier.sub_indication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
    assert "after the validation time" in earlier.errors[0], earlier.errors
    now_revoked = _verify(revoked)
    assert (now_revoked.indication, now_revoked.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)


@pytest.mark.parametrize(("status", "word"), [("revoked", "revoked"), ("suspended", "suspended")])
def test_revoked_and_suspended(status: str, word: str) -> None:
    made = golden.load_json(f"license/{status}.json")
    before = _verify(made["token"], bundle_name="trust/bundle-before.json")
    assert before.indication is Indication.TOTAL_PASSED, before.to_text()
    for data in (made["token"], made["sd_jwt"], made["qr"]):
        report = _verify(data)
        assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
        assert word in report.errors[0]
    if status == "suspended":  # another licence, suspended and then reinstated before the bundle was made
        reinstated = golden.load_json("license/reinstated.json")
        assert _verify(reinstated["token"]).indication is Indication.TOTAL_PASSED


@pytest.mark.parametrize(("issuer", "passes"), [("closed", True), ("compromised", False)])
def test_issuer_certificate_revoked_after_issue(issuer: str, passes: bool) -> None:
    """Tokens are judged at their ``iat``: an issuer certificate revoked later (the authority closed: reason
    cessationOfOperation) leaves the tokens it signed before valid, while a revocation for key compromise fails every
    token of that key, whatever ``iat`` it claims (a thief can backdate). Checked twice against one context, so the
    memoised CRL facts and certificates give the same verdict as the first, cold, verification."""
    made = golden.load_json(f"license/issuer-{issuer}.json")
    assert _verify(made["token"], bundle_name="trust/bundle-before.json").indication is Indication.TOTAL_PASSED
    ctx = golden.context()
    for data in (made["token"], made["sd_jwt"], made["qr"]):
        for _ in range(2):
            report = api.verify(data.encode(), ctx)
            if passes:
                assert report.indication is Indication.TOTAL_PASSED, report.to_text()
            else:
                assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
                assert "key compromise" in report.errors[0]


def test_no_status_list_offline_is_indeterminate() -> None:
    made = golden.read("license/token-zj-x5c.jwt")  # anchors only, no trust list: the chain comes with the token
    ctx = context.build(anchors=[golden.read("pki/root-sm2.pem")], at=golden.validation_time())
    report = api.verify(made, ctx)
    assert report.indication is Indication.INDETERMINATE and report.sub_indication is SubIndication.TRY_LATER


def test_rs256_and_es256_tokens_verify_with_pyjwt_and_joserfc() -> None:
    """Issue 12 item 8: at their default settings, PyJWT and joserfc read the whole standard JWK Set and verify the
    default (compact) RS256 and ES256 tokens; the SM2 keys are in their own set."""
    import jwt as pyjwt
    from joserfc import jws as jf_jws
    from joserfc.errors import ExceededSizeError
    from joserfc.jwk import KeySet

    jwks = golden.load_json("license/jwks.json")
    assert jwks["keys"] and all(k["alg"] in {"RS256", "ES256"} and k.get("crv") != "SM2" for k in jwks["keys"])
    sm2_set = golden.load_json("license/jwks-sm2.json")
    assert sm2_set["keys"] and all(k["alg"] == "SM2" and k["crv"] == "SM2" for k in sm2_set["keys"])
    key_set = KeySet.import_key_set(jwks)  # the whole set: one unknown curve would fail it
    pyjwt_set = pyjwt.PyJWKSet.from_dict(jwks)
    assert len(pyjwt_set.keys) == len(jwks["keys"])  # PyJWT drops keys it cannot read: none dropped
    for issuer in ("zj_rsa", "zj_ec"):
        made = _matrix()[issuer][BUSINESS]
        header = jose.parse_compact(made["token"])[0]
        assert set(header) == {"alg", "typ", "kid", "x5t#S256"} and len(made["token"].split(".")[0]) < 512
        decoded = pyjwt.decode(
            made["token"], pyjwt_set[header["kid"]].key, algorithms=[header["alg"]], options={"verify_aud": False}
        )
        assert decoded["jti"] == made["identifier"]
        obj = jf_jws.deserialize_compact(made["token"], key_set, algorithms=[header["alg"]])
        assert json.loads(obj.payload)["jti"] == made["identifier"]
        # The x5c form (an option) carries two certificates: joserfc refuses its 4 KB header by default.
        full = golden.text(f"license/token-{issuer}-x5c.jwt")
        assert len(full.split(".")[0]) > 512
        with pytest.raises(ExceededSizeError, match="exceeds 512"):
            jf_jws.deserialize_compact(full, key_set, algorithms=[header["alg"]])


def test_compact_token_verifies_offline_by_thumbprint() -> None:
    """A default (compact) token carries no certificate: the verifier finds the issuer certificate in the bundle's
    trust list by kid and x5t#S256; an x5t#S256 that names no certificate of that key is refused."""
    made = golden.text("license/token-zj.jwt")
    header, body = token.parse_unverified(made)
    assert "x5c" not in header and header["x5t#S256"]
    report = _verify(made)
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert any(c.name == "issuer-key" and "trust list" in c.detail for c in report.checks)
    issuer = golden.load_json("license/jwks-sm2.json")  # the SM2 issuer's key is published in the SM2 set
    assert header["kid"] in {k["kid"] for k in issuer["keys"]}
    wrong = {**header, "x5t#S256": base64url.encode(hashlib.sha256(b"another certificate").digest())}
    signer_free = f"{base64url.encode(json.dumps(wrong).encode())}.{base64url.encode(token.encode_claims(body))}.AAAA"
    refused = _verify(signer_free)
    assert refused.indication is not Indication.TOTAL_PASSED and "x5t#S256" in refused.errors[0]


def test_sm2_tokens_verify_with_gmssl() -> None:
    from gmssl import sm2 as gm_sm2

    header, _payload, signing_input, signature = jose.parse_compact(golden.text("license/token-zj.jwt"))
    key = next(k for k in golden.load_json("license/jwks-sm2.json")["keys"] if k["kid"] == header["kid"])
    xy = (base64url.decode(key["x"]) + base64url.decode(key["y"])).hex()
    verifier = gm_sm2.CryptSM2(private_key="", public_key=xy)
    # gmssl 3.2.2 does public_key.lstrip("04") when the hex starts with "04", eating x's own leading 0/4 digits
    # (the issuer key is random: 1 run in 256); give it the key it was handed (docs/NOTES.md).
    verifier.public_key = xy
    assert verifier.verify_with_sm3(signature.hex(), signing_input)
    assert not verifier.verify_with_sm3(signature.hex(), signing_input + b"x")


def test_cross_region_verification_with_only_the_bundle() -> None:
    """A 广东 licence checked by a 浙江 clerk holding only the bundle file and the RSA root fingerprint."""
    ctx = golden.context(families=("RSA",))
    assert api.verify(golden.read("license/qr-gd-food.txt"), ctx).indication is Indication.TOTAL_PASSED


def test_garbage_tokens_are_input_errors() -> None:
    from trust.crypto.errors import TrustError

    ctx = golden.context()
    for data in (b"HR1:!!!!", b"HR1:" + b"0" * 9000, b"eyJ.eyJ.x", b"ey" + b"A" * 100 + b".." + b"A"):
        try:
            report = api.verify(data, ctx)
        except TrustError:
            continue
        assert report.indication is not Indication.TOTAL_PASSED


def test_cli_key_binding_and_revocation_options(tmp_path: Path) -> None:
    """`trust verify presentation.txt --kb-nonce N --kb-audience A`: exit 0 for the right proof, 1 for a replay to
    another audience, 3 for half an option pair or an unknown revocation mode."""
    import subprocess
    import sys

    presented = _present(
        golden.text("license/sd-jwt-bound.txt"),
        [("license", "fields", "name")],
        golden.key("holder-p256"),
        "n-cli",
        "https://bank.example",
    )
    source = tmp_path / "presentation.txt"
    source.write_text(presented)
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(golden.bundle())
    base = [
        str(source),
        "--bundle",
        str(bundle),
        "--pin",
        golden.pins()[0],
        "--at",
        golden.validation_time().isoformat(),
    ]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trust.cli.main", "verify", *base, "--format", "json", *extra],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    good = run("--kb-nonce", "n-cli", "--kb-audience", "https://bank.example", "--revocation", "required")
    assert good.returncode == 0, (good.stdout, good.stderr)
    assert json.loads(good.stdout)["indication"] == "TOTAL_PASSED"
    replay = run("--kb-nonce", "n-cli", "--kb-audience", "https://evil.example")
    assert replay.returncode == 1, (replay.stdout, replay.stderr)
    half = run("--kb-nonce", "n-cli")
    assert half.returncode == 3 and "--kb-audience" in half.stderr
    mode = run("--revocation", "sometimes")
    assert mode.returncode == 3 and "revocation mode" in mode.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vct": None}, "without a vct"),
        ({"vct": "https://elsewhere.example/vct/11100000000013338W102"}, "does not name the licence type"),
        ({"vct#integrity": "sha256-" + base64.b64encode(b"\0" * 32).decode()}, "vct#integrity does not match"),
        ({"vct#integrity": "md5-AAAA"}, "names no sha256"),
    ],
    ids=["no-vct", "other-type", "wrong-integrity", "unknown-integrity-algorithm"],
)
def test_sd_jwt_vc_type_is_checked_against_the_bundle(change: dict, message: str) -> None:
    """SD-JWT VC (issue 12 item 9): vct names the licence's own type, and its type metadata from the bundle matches
    vct#integrity; the same SD-JWT re-signed by the real issuer key with the claim changed fails."""
    made = golden.text("license/sd-jwt-zj.txt")
    report = _verify(made)
    assert report.indication is Indication.TOTAL_PASSED and "integrity checked" in report.to_text(verbose=True)
    claims = json.loads(jose.parse_compact(made.split("~")[0])[1])
    claims.pop("_sd_alg")
    claims["license"]["fields"] = golden.load_json("license/fields-business.json")  # in the clear
    for name, value in change.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    prepared = _signer("zj")
    forged = sdjwt.issue(claims, [], prepared.signer, headers={"typ": "dc+sd-jwt", "kid": prepared.kid})
    refused = _verify(forged)
    assert refused.indication is Indication.TOTAL_FAILED, refused.to_text()
    assert message in refused.errors[0]
