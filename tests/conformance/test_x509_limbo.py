"""x509-limbo (C2SP): the vendored path-validation cases of ``tests/data/vendor/x509-limbo/`` (provenance and licence
in its README) through :func:`verifier.certificate.verify_certificate`.

Harness: the case's ``trusted_certs`` are the anchors, ``untrusted_intermediates`` the path material,
``peer_certificate`` is verified at the current time (the certificates are valid 1970–2969); ``max_chain_depth`` is
``max_depth``; ``extended_key_usage: ["serverAuth"]`` is the purpose ``tls-server`` (otherwise ``any``). A case
passes when the verdict is TOTAL_PASSED exactly when ``expected_result`` is ``SUCCESS``. Every case loaded is
asserted; none is skipped.

Profiles:

* **strict** (``--strict``: the RFC 5280 CA profile on every certificate of the path) must match x509-limbo on every
  case — x509-limbo expects its ``rfc5280::*`` cases to fail on CA-profile violations too.
* **default** must match too (a duplicated extension fails under every profile), except :data:`PROFILE_ONLY`: cases
  whose only fault is a CA-profile rule (RFC 5280 clause 4 obliges the CA; clause 6 validation does not check it, and
  OpenSSL's and pyHanko's default settings mostly do not either). Huren checks those only under ``--strict`` and on
  its own trust list's certificates (``docs/VERIFIER.md``). This is the one deliberate difference.

Not exercised: ``expected_peer_name`` (Huren verifies certificates and documents, not TLS peers; every vendored case's
peer name is one its leaf carries, so the verdict does not depend on it).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from trust.crypto.errors import TrustError
from trust.crypto.keys import public_key_from_spki
from trust.formats import x509 as cx
from verifier import context
from verifier.certificate import verify_certificate
from verifier.report import Indication, Report

VENDOR = Path(__file__).resolve().parent.parent / "data" / "vendor" / "x509-limbo"

PROFILE_ONLY = {
    "rfc5280::ee-empty-issuer": "empty-issuer",
    "rfc5280::ca-empty-subject": "ca-empty-subject",
    "rfc5280::critical-aki": "aki-critical",
    "rfc5280::cross-signed-root-missing-aki": "aki-missing",
    "rfc5280::intermediate-missing-aki": "aki-missing",
    "rfc5280::leaf-missing-aki": "aki-missing",
    "rfc5280::missing-ski": "ski-missing",
    "rfc5280::leaf-ku-keycertsign": "ee-key-cert-sign",
    "rfc5280::ee-critical-aia-invalid": "aia-critical",
    "rfc5280::san-noncritical-with-empty-subject": "empty-subject-san-not-critical",
}
"""Cases that fail only on a CA-profile rule (case id -> the rule ``--strict`` reports). ``rfc5280::critical-ski`` is
not one: its leaf's authorityKeyIdentifier does not match the root's (critical) subjectKeyIdentifier, so no path is
built to that root whatever the profile (INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND; OpenSSL matches key identifiers
the same way) — the verdict is x509-limbo's, the reason another."""


@cache
def cases() -> tuple[dict[str, Any], ...]:
    loaded: list[dict[str, Any]] = []
    for path in sorted(VENDOR.glob("*.json")):
        data = json.loads(path.read_text())
        assert data["version"] == 1
        loaded.extend(data["testcases"])
    return tuple(loaded)


def _ids() -> list[str]:
    return [case["id"] for case in cases()]


def _der(pem: str) -> bytes:
    return bytes(cx.load_certificate(pem.encode()).dump())


def _run(case: dict[str, Any], *, strict: bool) -> Report:
    ctx = context.build(
        anchors=[_der(p) for p in case["trusted_certs"]],
        untrusted=[_der(p) for p in case["untrusted_intermediates"]],
        max_depth=case.get("max_chain_depth"),
        strict=strict,
    )
    purpose = "tls-server" if case.get("extended_key_usage") == ["serverAuth"] else "any"
    return verify_certificate(_der(case["peer_certificate"]), ctx, purpose=purpose)


def test_the_vendored_suite_is_complete_and_intact() -> None:
    """48 cases, unique ids, every certificate strict DER, every signature of every case verifying with the key of a
    certificate of the case named as its issuer (the certificates were transcribed: a copying error shows here)."""
    ids = _ids()
    assert len(ids) == 48 and len(set(ids)) == 48
    assert set(PROFILE_ONLY) <= set(ids)
    for case in cases():
        certs = [
            cx.load_certificate(pem.encode())
            for pem in [*case["trusted_certs"], *case["untrusted_intermediates"], case["peer_certificate"]]
        ]
        anchors = len(case["trusted_certs"])
        for index, cert in enumerate(certs):
            issuers = [c for c in certs if c.subject == cert.issuer]
            if index < anchors and not issuers:
                continue  # an anchor whose issuer is not part of the case
            verified = 0
            for issuer in issuers:
                try:
                    cx.verify_signature(cert, public_key_from_spki(issuer.public_key))
                    verified += 1
                except TrustError:  # another certificate of the same name may be the issuer
                    continue
            assert verified, f"{case['id']}: {cert.subject.human_friendly} has no issuer in the case that verifies it"


@pytest.mark.parametrize("case_id", _ids())
def test_strict_profile_matches_x509_limbo(case_id: str) -> None:
    case = next(c for c in cases() if c["id"] == case_id)
    report = _run(case, strict=True)
    expected = case["expected_result"] == "SUCCESS"
    assert (report.indication is Indication.TOTAL_PASSED) is expected, f"{case_id}\n{report.to_text()}"
    if case_id in PROFILE_ONLY:
        assert dict(report.details).get("rule") == PROFILE_ONLY[case_id], report.to_text()


@pytest.mark.parametrize("case_id", _ids())
def test_default_profile_matches_x509_limbo_except_profile_rules(case_id: str) -> None:
    case = next(c for c in cases() if c["id"] == case_id)
    report = _run(case, strict=False)
    expected = case["expected_result"] == "SUCCESS" or case_id in PROFILE_ONLY
    assert (report.indication is Indication.TOTAL_PASSED) is expected, f"{case_id}\n{report.to_text()}"
