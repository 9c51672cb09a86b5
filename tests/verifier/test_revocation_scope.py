"""Issue 11, item 2: a region cannot overrule a national revocation with OCSP.

The attack: a region platform obtained an OCSP-signing certificate from its own region CA, signed "good" for a
certificate the operator had revoked for key compromise, and ``trust verify --ocsp`` said TOTAL_PASSED — even with
``--revocation required`` and a bundle whose CRL revokes it (pyhanko-certvalidator accepts any certificate the CA
issued with id-kp-OCSPSigning as a responder, RFC 6960 clause 4.2.2.2, and stops at the first response that
settles a certificate, so the CRL was never read).

Now (``verifier.ocsp``, ``verifier.certificate._revocation_wins``): a response counts only from the CA itself or a
responder the trust list designates for it, and a revocation in any authentic source wins.

:func:`test_no_region_input_makes_a_revoked_certificate_pass` is the verifier path test of issue 11: every
combination of what a region platform can put in front of a verifier — its own responder certificate from its region
CA, OCSP responses signed by it or by the region CA itself (a region that enrolled from a CSR holds that key), a
newer CRL of its CA that omits the certificate, a delta CRL "removing" it, a CRL signed by its own responder
key, the genuine responses of Huren's responder, given as ``--ocsp`` /
``--crl`` or embedded in a PDF's DSS, in both revocation modes and both algorithm families — and asserts that no
combination makes a certificate the bundle revokes pass.

The certificates, the region's responder certificates, the region CA keys a region may hold, the designated
responder's answers and the bundle are golden artefacts (tests/data/golden/scope, judged at the recorded validation
time); the forgeries (OCSP "good" answers, CRLs without the victim, a delta CRL, a CRL signed by the rogue key) are
made here with those keys over the format layer. No world, no service.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from tests.support import golden
from trust.crypto.algorithms import RSA_PKCS1_SHA256, SM2_SM3
from trust.formats import crl as crl_format
from trust.formats import ocsp as ocsp_format
from trust.formats import x509 as cx
from verifier import api, context
from verifier.certificate import verify_certificate
from verifier.pdf.document import RevocationMaterial
from verifier.pdf.verify import _with_material
from verifier.report import Indication, SubIndication

FAMILIES = ("SM2", "RSA")


@dataclass
class Inputs:
    """What a Zhejiang platform can produce against one revoked certificate of its region CA (one family)."""

    victim: asn1_x509.Certificate  # revoked by the operator (key compromise); the bundle's CRL lists it
    good_cert: asn1_x509.Certificate  # not revoked
    rogue: asn1_x509.Certificate  # the region's own OCSP-signing certificate from its region CA
    rogue_good: bytes  # "good" for the victim, signed by the rogue responder
    ca_good: bytes  # "good" for the victim, signed by the region CA key itself
    genuine_revoked: bytes  # Huren's designated responder: revoked
    genuine_good: bytes  # Huren's designated responder, about good_cert: good
    rogue_good_for_good: bytes  # the rogue responder about good_cert
    clean_crl: bytes  # a newer CRL of the region CA (number + 1) that omits the victim
    delta_crl: bytes  # a delta CRL of the region CA "removing" the victim from the base CRL (removeFromCRL)
    rogue_crl: bytes  # a CRL naming the region CA as issuer, signed by the rogue responder's key, omitting the victim


@dataclass
class Scene:
    bundle: bytes
    pins: list[str]
    inputs: dict[str, Inputs]


def _signer(key_name: str, family: str):
    return golden.key(key_name).signer(SM2_SM3 if family == "SM2" else RSA_PKCS1_SHA256)


def _ocsp(
    *,
    key_name: str,
    responder_cert: asn1_x509.Certificate,
    issuer: asn1_x509.Certificate,
    serial: int,
    family: str,
) -> bytes:
    now = golden.later(minutes=-1)
    cert_id = ocsp_format.CertId.for_certificate(issuer, serial, "sha256")
    return ocsp_format.build_response(
        signer=_signer(key_name, family),
        responder_cert=responder_cert,
        statuses=[ocsp_format.CertStatus(cert_id, "good")],
        produced_at=now,
        this_update=now - timedelta(minutes=1),
        next_update=now + timedelta(hours=1),
    )


@pytest.fixture(scope="module")
def scene() -> Scene:
    inputs: dict[str, Inputs] = {}
    for family in FAMILIES:
        fam = family.lower()
        ca_id = f"region-330000-{fam}"
        victim = cx.load_certificate(golden.read(f"scope/victim-{fam}.pem"))  # revoked (key compromise)
        good = cx.load_certificate(golden.read(f"scope/good-{fam}.pem"))
        rogue = cx.load_certificate(golden.read(f"scope/rogue-responder-{fam}.pem"))
        issuer = golden.certificate(ca_id)
        crl_number = int(crl_format.load_crl(golden.read(f"crl/{ca_id}.crl")).crl_number_value.native)
        now = golden.later(minutes=-1)
        clean_crl = crl_format.build_crl(
            issuer=issuer.subject,
            issuer_key=cx.public_key(issuer),
            signer=_signer(ca_id, family),
            number=crl_number + 1,
            this_update=now - timedelta(minutes=1),
            next_update=now + timedelta(days=1),
            revoked=[],
        ).dump()
        signer = _signer(ca_id, family)
        delta_tbs = asn1_crl.TbsCertList(
            {
                "version": "v2",
                "signature": signer.algorithm.x509_identifier(),
                "issuer": issuer.subject,
                "this_update": cx.x509_time(now - timedelta(minutes=1)),
                "next_update": cx.x509_time(now + timedelta(days=1)),
                "revoked_certificates": [
                    {
                        "user_certificate": victim.serial_number,
                        "revocation_date": cx.x509_time(now),
                        "crl_entry_extensions": [
                            {"extn_id": "crl_reason", "critical": False, "extn_value": "remove_from_crl"}
                        ],
                    }
                ],
                "crl_extensions": [
                    {
                        "extn_id": "authority_key_identifier",
                        "critical": False,
                        "extn_value": {"key_identifier": cx.public_key(issuer).key_identifier()},
                    },
                    {"extn_id": "crl_number", "critical": False, "extn_value": crl_number + 2},
                    {"extn_id": "delta_crl_indicator", "critical": True, "extn_value": crl_number},
                ],
            }
        )
        delta_crl = asn1_crl.CertificateList(
            {
                "tbs_cert_list": delta_tbs,
                "signature_algorithm": signer.algorithm.x509_identifier(),
                "signature": signer.sign(delta_tbs.dump()),
            }
        ).dump()
        rogue_crl = crl_format.build_crl(
            issuer=issuer.subject,
            issuer_key=cx.public_key(rogue),
            signer=_signer(f"rogue-responder-{fam}", family),
            number=crl_number + 3,
            this_update=now - timedelta(minutes=1),
            next_update=now + timedelta(days=1),
            revoked=[],
        ).dump()
        rogue_key = f"rogue-responder-{fam}"
        inputs[family] = Inputs(
            victim=victim,
            good_cert=good,
            rogue=rogue,
            rogue_good=_ocsp(
                key_name=rogue_key, responder_cert=rogue, issuer=issuer, serial=victim.serial_number, family=family
            ),
            ca_good=_ocsp(
                key_name=ca_id, responder_cert=issuer, issuer=issuer, serial=victim.serial_number, family=family
            ),
            genuine_revoked=golden.read(f"scope/genuine-victim-{fam}.ocsp"),
            genuine_good=golden.read(f"scope/genuine-good-{fam}.ocsp"),
            rogue_good_for_good=_ocsp(
                key_name=rogue_key, responder_cert=rogue, issuer=issuer, serial=good.serial_number, family=family
            ),
            clean_crl=clean_crl,
            delta_crl=delta_crl,
            rogue_crl=rogue_crl,
        )
    return Scene(golden.bundle(), golden.pins("SM2"), inputs)


def _build(scene: Scene, **options: object) -> context.VerificationContext:
    return context.build(bundle=scene.bundle, pins=scene.pins, at=golden.validation_time(), **options)  # type: ignore[arg-type]


def _verify(scene: Scene, cert: asn1_x509.Certificate, *, ocsps=(), crls=(), mode="available"):
    ctx = _build(scene, ocsps=list(ocsps), crls=list(crls), revocation=mode)
    return api.verify(cert.dump(), ctx)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", ["available", "required"])
def test_the_reported_attack_fails(scene: Scene, family: str, mode: str) -> None:
    """``trust verify --ocsp rogue-good.der --revocation required`` with the bundle: revoked, not TOTAL_PASSED."""
    inputs = scene.inputs[family]
    report = _verify(scene, inputs.victim, ocsps=[inputs.rogue_good], mode=mode)
    assert report.indication is Indication.TOTAL_FAILED, report.to_text()
    assert report.sub_indication is SubIndication.REVOKED
    assert any("ignored" in w and "designates" in w for w in report.warnings), report.warnings


@pytest.mark.parametrize("family", FAMILIES)
def test_the_rogue_responder_cannot_vouch_for_a_good_certificate_either(scene: Scene, family: str) -> None:
    """Its "good" is ignored, not merely outvoted: alone (no CRL covers the certificate in ``required`` mode with the
    CRLs removed) it gives no revocation data at all."""
    inputs = scene.inputs[family]
    ctx = _build(scene, ocsps=[inputs.rogue_good_for_good], revocation="required")
    ctx = dataclasses.replace(ctx, crls=())
    report = verify_certificate(inputs.good_cert, ctx)
    assert report.indication is Indication.INDETERMINATE, report.to_text()
    assert report.sub_indication is SubIndication.TRY_LATER


@pytest.mark.parametrize("family", FAMILIES)
def test_the_designated_responder_still_counts(scene: Scene, family: str) -> None:
    """Huren's own responder (listed in the trust list for its CA) is used: its "good" alone suffices in ``required``
    mode without CRLs, for SM2 too (which crashed with UnsupportedAlgorithm before, item 7)."""
    inputs = scene.inputs[family]
    ctx = _build(scene, ocsps=[inputs.genuine_good], revocation="required")
    report = verify_certificate(inputs.good_cert, ctx)
    if family == "RSA":
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    # with the bundle's CRLs the good certificate passes in both families, and the genuine "revoked" fails the victim
    assert _verify(scene, inputs.good_cert, ocsps=[inputs.genuine_good], mode="required").passed
    revoked = _verify(scene, inputs.victim, ocsps=[inputs.genuine_revoked], mode="required")
    assert revoked.sub_indication is SubIndication.REVOKED, revoked.to_text()


def test_the_trust_list_names_each_responder_for_its_ca(scene: Scene) -> None:
    """Designated responders are recorded as OCSP services scoped to their CA service; a list written before that
    (no ``ca`` in the scope) still reads with the same meaning."""
    from trust.formats import bundle as bundle_format

    trust_list = bundle_format.verify(scene.bundle, scene.pins).trust_list
    ca_der = golden.certificate("region-330000-sm2").dump()
    ((_issuer, designated),) = trust_list.designated_responders(ca_der)
    assert designated.scope == {"ca": "region-330000-sm2"} and designated.id == "region-330000-sm2-ocsp"
    legacy = trust_list.to_json()
    for entry in legacy["issuers"]:
        for svc in entry["services"]:
            if svc["type"] == "OCSP":
                svc["scope"] = {}
    from trust.formats.trustlist import TrustList

    old = TrustList.from_json(legacy)
    assert [s.id for _i, s in old.designated_responders(ca_der)] == ["region-330000-sm2-ocsp"]
    other = golden.certificate("region-440000-sm2").dump()
    assert [s.id for _i, s in old.designated_responders(other)] == ["region-440000-sm2-ocsp"]


def test_no_region_input_makes_a_revoked_certificate_pass(scene: Scene) -> None:
    """The verifier path test (issue 11): every combination of region-made revocation inputs, channels and modes."""
    outcomes = []
    for family in FAMILIES:
        inputs = scene.inputs[family]
        responses = {
            "rogue-good": inputs.rogue_good,
            "ca-good": inputs.ca_good,
            "genuine-revoked": inputs.genuine_revoked,
        }
        crl_sets = {
            "none": [],
            "clean": [inputs.clean_crl],
            "delta-remove": [inputs.delta_crl],
            "rogue-signed": [inputs.rogue_crl],
            "clean+delta+rogue": [inputs.clean_crl, inputs.delta_crl, inputs.rogue_crl],
        }
        for size in range(len(responses) + 1):
            for order in itertools.permutations(responses, size):  # every subset in every order
                ocsps = [responses[n] for n in order]
                for crl_name, crls in crl_sets.items():
                    if size > 1 and crl_name not in ("none", "clean"):
                        continue  # the other CRL forgeries with one response at most: enough to show each alone
                    for mode in ("available", "required"):
                        for channel in ("files", "pdf-dss"):
                            report = _channel(scene, inputs, channel, ocsps, crls, mode)
                            label = (family, order, crl_name, mode, channel)
                            outcomes.append((label, report.indication, report.sub_indication))
                            assert report.indication is not Indication.TOTAL_PASSED, (label, report.to_text())
    assert len(outcomes) == 2 * ((1 + 3) * 5 + (6 + 6) * 2) * 2 * 2
    # Huren's CRL in the bundle revokes the certificate whatever else is given: never a softer verdict
    assert {sub for _label, _ind, sub in outcomes} == {SubIndication.REVOKED}


def _channel(scene: Scene, inputs: Inputs, channel: str, ocsps: list[bytes], crls: list[bytes], mode: str):
    if channel == "files":
        return _verify(scene, inputs.victim, ocsps=ocsps, crls=crls, mode=mode)
    # what a sealed PDF's DSS / revocationInfoArchival brings to the signer's path (verifier.pdf.verify)
    ctx = _build(scene, revocation=mode)
    material = RevocationMaterial(certificates=[inputs.rogue], crls=list(crls), ocsps=list(ocsps))
    derived = _with_material(ctx, ctx.validation_time, [inputs.victim], material)
    return verify_certificate(inputs.victim, derived)


def test_the_cli_refuses_the_attack(scene: Scene, tmp_path: Path) -> None:
    """As reported: ``trust verify victim.pem --bundle … --pin … --ocsp rogue.der --revocation required`` exits 1."""
    import subprocess
    import sys

    inputs = scene.inputs["RSA"]
    (tmp_path / "victim.pem").write_bytes(cx.certificate_pem(inputs.victim))
    (tmp_path / "bundle.json").write_bytes(scene.bundle)
    (tmp_path / "rogue.ocsp").write_bytes(inputs.rogue_good)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trust.cli.main",
            "verify",
            str(tmp_path / "victim.pem"),
            "--bundle",
            str(tmp_path / "bundle.json"),
            "--pin",
            scene.pins[0],
            "--ocsp",
            str(tmp_path / "rogue.ocsp"),
            "--revocation",
            "required",
            "--at",
            golden.validation_time().isoformat(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
