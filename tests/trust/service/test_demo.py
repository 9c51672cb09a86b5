"""``trust demo``: the whole demo world, every artefact in index.json checked for the verdict it promises."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.demo import demo_index, demo_pins
from tests.support.offline import no_network  # noqa: F401 - fixture
from trust.formats import bundle as bundle_format
from trust.formats import license_token as token
from trust.formats import ocsp as ocsp_format
from trust.formats import trustlist as tl
from trust.formats import tsp as tsa_format
from trust.formats import x509 as cx
from trust.formats.crl import load_crl, verify_crl_signature
from trust.service.demo import DEMO_PUBLIC_URL
from verifier import api, context

FIELDS = {"id", "kind", "path", "algorithm", "issuer", "expect", "anchors"}
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"  # the QR alphanumeric mode (ISO/IEC 18004 7.4.4)


def _index(home: Path) -> list[dict]:
    return demo_index(home)


def _pins(home: Path) -> list[str]:
    return demo_pins(home)


def test_passphrase_was_created_0600(demo: Path) -> None:
    secret = demo / "secrets" / "passphrase"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_text().strip()) == 64


def test_index_lists_every_kind(demo: Path) -> None:
    entries = _index(demo)
    kinds = {e["kind"] for e in entries}
    assert kinds >= {"certificate", "crl", "ocsp-response", "timestamp", "trust-list", "bundle", "seal", "pdf"}
    assert kinds >= {"ses-signature", "license-token", "license-sd-jwt", "license-qr", "license-pdf", "ofd"}
    for entry in entries:
        assert set(entry) >= FIELDS, entry
        assert (demo / "out" / entry["path"]).exists(), entry
        assert all((demo / "out" / a).exists() for a in entry["anchors"])
    profiles = {e.get("profile") for e in entries if e["kind"] == "certificate"}
    assert profiles >= {
        "seal",
        "seal-maker",
        "person-identity",
        "organization-identity",
        "license-issuer",
        "tls-server",
        "tls-client",
    }
    assert [e["expect"] for e in entries if e["id"] == "440000-rsa-revoked"] == ["TOTAL_FAILED"]


@pytest.mark.usefixtures("no_network")
def test_every_certificate_gets_its_expected_verdict_offline(demo: Path) -> None:
    out = demo / "out"
    ctx = context.build(bundle=(out / "bundle.json").read_bytes(), pins=_pins(demo)[:1])
    checked = 0
    for entry in _index(demo):
        if entry["kind"] != "certificate":
            continue
        report = api.verify((out / entry["path"]).read_bytes(), ctx)
        assert report.indication.value == entry["expect"], (entry["id"], report.to_text())
        checked += 1
    assert checked >= 37


def test_crls_ocsp_timestamps_trust_list_and_bundle(demo: Path) -> None:
    out = demo / "out"
    certs = {
        e["id"]: cx.load_certificate((out / e["path"]).read_bytes()) for e in _index(demo) if e["kind"] == "certificate"
    }
    for entry in _index(demo):
        path = out / entry["path"]
        if entry["kind"] == "crl":
            verify_crl_signature(load_crl(path.read_bytes()), cx.public_key(certs[entry["issuer"]]))
        elif entry["kind"] == "ocsp-response":
            verified = ocsp_format.verify_response(path.read_bytes(), issuer=certs[entry["issuer"]])
            assert verified.single(int(entry["serial"], 16)).status == entry["status"]
        elif entry["kind"] == "timestamp":
            stamp = tsa_format.verify_response(path.read_bytes(), message=(out / entry["data"]).read_bytes())
            assert stamp.tsa_certificate is not None
        elif entry["kind"] == "trust-list":
            parsed, _ = tl.verify(path.read_bytes(), _pins(demo))
            assert parsed.sequence == entry["sequence"]
        elif entry["kind"] == "bundle":
            assert bundle_format.verify(path.read_bytes(), _pins(demo)[1:]).trust_list.issuers


SIGNED_KINDS = {"seal", "ses-signature", "pdf", "license-token", "license-sd-jwt", "license-qr", "license-pdf", "ofd"}


@pytest.mark.usefixtures("no_network")
def test_every_seal_pdf_and_license_gets_its_expected_verdict_offline(demo: Path) -> None:
    """Seals, the GB/T 38540 signature (with its document), sealed PDFs of every level and licences in every
    form, including the tampered, revoked and suspended ones, with only the bundle and one pinned root."""
    out = demo / "out"
    ctx = context.build(bundle=(out / "bundle.json").read_bytes(), pins=_pins(demo)[:1])
    seen: dict[str, int] = {}
    failures = set()
    for entry in _index(demo):
        if entry["kind"] not in SIGNED_KINDS:
            continue
        data = (out / entry["data"]).read_bytes() if entry.get("data") else None
        report = api.verify((out / entry["path"]).read_bytes(), ctx, signed_data=data)
        assert report.indication.value == entry["expect"], (entry["id"], report.to_text())
        seen[entry["kind"]] = seen.get(entry["kind"], 0) + 1
        if entry["expect"] == "TOTAL_FAILED":
            failures.add(entry["id"])
    assert seen["pdf"] >= 5 and seen["seal"] >= 4 and seen["license-qr"] >= 5 and seen["license-pdf"] >= 6
    assert seen["ofd"] >= 1  # the OFD licence sealed by its issuer (issue 18)
    assert {"pdf-tampered", "license-w101-revoked", "license-w101-suspended", "license-w101-tampered"} <= failures
    levels = {e.get("level") for e in _index(demo) if e["kind"] == "pdf"}
    assert levels >= {"B-B", "B-T", "B-LT", "B-LTA"}


def test_license_qr_artefacts_are_the_hr1_payloads_the_pdfs_print(demo: Path) -> None:
    """``license-qr`` holds what the QR code carries (``HR1:`` + Base45, docs/LICENSES.md), not the compact JWS, and
    it is the QR token of the licence the same type's token and PDF are of."""
    out = demo / "out"
    entries = {e["id"]: e for e in _index(demo)}
    qrs = [e for e in entries.values() if e["kind"] == "license-qr"]
    assert len(qrs) >= 5
    for entry in qrs:
        text = (out / entry["path"]).read_text().strip()
        assert text.startswith(token.QR_PREFIX) and set(text[4:]) <= set(ALPHANUMERIC), entry["id"]
        _header, claims = token.parse_unverified(token.from_qr(text))
        assert claims["license"]["id"] == entry["identifier"], entry["id"]
        pdf = entries[entry["id"].removesuffix("-qr") + "-pdf"]
        assert pdf["identifier"] == entry["identifier"]


def test_demo_names_its_documented_public_url(demo: Path) -> None:
    """Without TRUST_PUBLIC_URL the demo writes DEMO_PUBLIC_URL into certificates (CRL, OCSP, AIA), tokens (status
    list) and the index, never the listen address 127.0.0.1:8000."""
    out = demo / "out"
    index = json.loads((out / "index.json").read_text())
    assert index["public_url"] == DEMO_PUBLIC_URL == "https://trust.demo.huren.example"
    cert = x509.load_pem_x509_certificate((out / "certs" / "330000-rsa-seal.pem").read_bytes())
    crl_url = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    aia = [
        d.access_location.value for d in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ]
    assert crl_url == f"{DEMO_PUBLIC_URL}/crl/region-330000-rsa/1.crl"  # its CRL partition (docs/CA.md)
    assert aia == [f"{DEMO_PUBLIC_URL}/ocsp", f"{DEMO_PUBLIC_URL}/ca/region-330000-rsa.cer"]
    _header, claims = token.parse_unverified((out / "licenses" / "w101-token.txt").read_text().strip())
    assert claims["status"]["status_list"]["uri"].startswith(f"{DEMO_PUBLIC_URL}/statuslists/")
    for entry in _index(demo):
        if entry["kind"] in ("certificate", "crl", "license-token", "trust-list", "bundle"):
            assert b"127.0.0.1" not in (out / entry["path"]).read_bytes(), entry["id"]


@pytest.mark.usefixtures("no_network")
def test_the_federation_entity_configurations_resolve_offline_from_the_bundle(demo: Path) -> None:
    """Issue 16: the anchor, two regional OPs and the relying services, each configuration an artefact of kind
    ``entity-configuration`` with its URL on ``trust serve``; every OP's chain validates from the bundle alone."""
    import time

    from trust.formats import federation, oidc

    out = demo / "out"
    entries = [e for e in _index(demo) if e["kind"] == "entity-configuration"]
    urls = {e["url"] for e in entries}
    assert {"/.well-known/openid-federation", "/idp/330000/.well-known/openid-federation"} <= urls
    assert "/idp/440000/.well-known/openid-federation" in urls and len(entries) >= 6  # anchor, 2 OPs, 3 services
    verified = bundle_format.verify((out / "bundle.json").read_bytes(), _pins(demo)[:1])
    assert verified.bundle.federation is not None
    section = federation.FederationSection.from_json(verified.bundle.federation)
    for entry in entries:
        statement = federation.parse_statement((out / entry["path"]).read_text().strip())
        assert statement.sub == entry["entity_id"] and statement.is_configuration
        if statement.sub == section.anchor:
            continue
        chain = section.resolve(statement.sub, now=int(time.time()))
        if "openid_provider" in chain.metadata:
            regions = chain.entity_metadata("openid_provider")[oidc.CLAIM_REGIONS_SUPPORTED]
            assert regions == [statement.sub.rsplit("/", 1)[1]]
            assert [m.trust_mark_type.rsplit("-", 1)[1] for m in chain.trust_marks] == ["2"]
