"""NIST PKITS (Public Key Interoperability Test Suite, RFC 5280 path validation): all 249 cases of
``tests/data/vendor/nist-pkits/vectors.json`` through :func:`verifier.certificate.verify_certificate`.

For every case: the trust anchor is ``CertPath[0]``, the other certificates of ``CertPath`` are given as
untrusted path material (the last one is verified), the CRLs of ``CRLPath`` are in the context, and the
RFC 5280 clause 6.1.1 inputs come from the vector (``InitialPolicySet`` names ``NIST-test-policy-N`` =
2.16.840.1.101.3.2.1.48.N, ``anyPolicy`` = any_policy; ``InitialPolicyMappingInhibit``, ``InitialExplicitPolicy``,
``InitialAnyPolicyInhibit``) through :class:`~verifier.certificate.PolicyInputs`. Assertion: ``ShouldValidate``
is true exactly when the verdict is TOTAL_PASSED; for every failure the ETSI EN 319 102-1 indication and
sub-indication are asserted too (:func:`expected_failure`).

Conformance profile (what this run sets that production does not):

* **Validation time** 2026-01-01T00:00:00Z, fixed: inside the validity (2010-01-01 – 2030-12-31) of every PKITS
  certificate that is meant to be valid (the suite's 2048-bit/SHA-256 edition), so the run does not depend on
  the day it runs.
* **Revocation ``required``** (:data:`verifier.context.REVOCATION_MODES`): PKITS assumes a relying party that
  checks every certificate against CRLs; its certificates name no CRL distribution point. The production default
  (``available``) is run as well, below: it must give the same verdicts except for
  :data:`AVAILABLE_MODE_DEVIATIONS`, which only the ``required`` mode can catch.
* **DSA**: the production algorithm policy refuses DSA (checked by
  :func:`test_production_policy_refuses_the_dsa_cases`). The three DSA cases (4.1.4, 4.1.5, 4.1.6: 1024-bit DSA
  with SHA-1) run with ``verify_certificate(..., legacy_dsa=True)``, the documented conformance-profile switch
  (DSA with SHA-1 accepted inside DSA signatures only, plus RFC 5280 DSA parameter inheritance for CRL
  signatures); every other case runs with the production policy.

Cases Huren cannot support: none.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from tests.conftest import shared_file
from verifier import context
from verifier.certificate import PolicyInputs, verify_certificate
from verifier.report import Indication, Report, SubIndication

pytestmark = pytest.mark.filterwarnings(
    # the DSA cases (4.1.4-4.1.6) are checked on purpose; pyhanko-certvalidator warns each time it checks one
    "ignore:DSA is deprecated:cryptography.utils.CryptographyDeprecationWarning"
)

VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
NIST_TEST_POLICY = "2.16.840.1.101.3.2.1.48."
CASES: list[dict[str, Any]] = json.loads(shared_file("nist-pkits", "vectors.json").read_text())
BY_NAME = {case["Name"]: case for case in CASES}

DSA_CASES = frozenset({"4.1.4", "4.1.5", "4.1.6"})
"""Run with ``legacy_dsa=True`` (1024-bit DSA with SHA-1); see the module docstring."""

AVAILABLE_MODE_DEVIATIONS = {
    "4.4.1": "Missing CRL: the EE's issuer has no CRL in the context; `available` has nothing to check, only "
    "`required` demands revocation data for every certificate",
    "4.4.5": "Bad CRL Issuer Name: the only CRL for the EE names another issuer, so no CRL of the EE's issuer is "
    "at hand (as in 4.4.1)",
    "4.4.6": "Wrong CRL: the context holds the root's CRL but none of the EE's issuer (as in 4.4.1)",
    "4.4.21": "Separate Certificate and CRL Keys: the EE's CRL is signed by a CRL-signing certificate that is "
    "revoked on the root's CRL; that certificate names no CRL distribution point and pyhanko validates "
    "a CRL issuer's path with its own hard-fail rule, which consults no CRL for it",
}
"""Cases whose ``ShouldValidate: false`` only the ``required`` revocation mode gives; in the production mode
``available`` Huren's verdict for them is TOTAL_PASSED (asserted)."""

# --- expected ETSI EN 319 102-1 results of the failing cases -----------------------------------------------

REVOKED = frozenset(
    {
        "4.4.2",
        "4.4.3",
        "4.4.15",
        "4.4.18",
        "4.4.20",
        "4.5.2",
        "4.5.5",
        "4.5.7",
        "4.14.2",
        "4.14.6",
        "4.14.15",
        "4.14.16",
        "4.14.20",
        "4.14.21",
        "4.14.23",
        "4.14.31",
        "4.14.32",
        "4.14.34",
        "4.15.3",
        "4.15.4",
        "4.15.6",
        "4.15.9",
    }
)
"""PKITS: "the end entity (or an intermediate) certificate has been revoked"."""
STALE_REVOCATION = frozenset({"4.4.11", "4.4.12", "4.15.10"})
"""The only applicable CRL (or delta CRL) has a nextUpdate in the past."""
NO_USABLE_REVOCATION = frozenset({"4.7.4", "4.7.5"})
"""CRL issuer without cRLSign: its CRL cannot be used, so revocation is unknown."""


def case_id(name: str) -> str:
    return name.split(" ", 1)[0]


def expected_failure(name: str) -> tuple[Indication, SubIndication]:
    number = case_id(name)
    section = ".".join(number.split(".")[:2])
    if number in REVOKED:
        return Indication.TOTAL_FAILED, SubIndication.REVOKED
    if number in STALE_REVOCATION:
        return Indication.INDETERMINATE, SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE
    if number in NO_USABLE_REVOCATION or section in ("4.4", "4.14", "4.15"):
        # missing, unverifiable, out-of-scope or unknown-critical-extension CRLs: no usable revocation data
        return Indication.INDETERMINATE, SubIndication.TRY_LATER
    if number == "4.1.6":
        # this edition's invalid DSA signature is a signatureValue BIT STRING declaring 1 unused bit, refused before
        # any signature check (RFC 5280 clause 4.1.1.3; OpenSSL refuses it the same way)
        return Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
    if section == "4.1":
        return Indication.TOTAL_FAILED, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    if section == "4.2":
        sub = SubIndication.NOT_YET_VALID if "notBefore" in name else SubIndication.EXPIRED
        return Indication.TOTAL_FAILED, sub
    if section == "4.3":
        return Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    # 4.5.8 (self-issued CRL-signing key used to sign a certificate), basic constraints, key usage, policies,
    # policy mappings, inhibit policy mapping / anyPolicy, name constraints, unknown critical extensions
    return Indication.TOTAL_FAILED, SubIndication.CHAIN_CONSTRAINTS_FAILURE


# --- running a case ----------------------------------------------------------------------------------------


@cache
def _der(folder: str, name: str) -> bytes:
    return shared_file("nist-pkits", folder, name).read_bytes()


def _policy(case: dict[str, Any]) -> PolicyInputs:
    names = set()
    for entry in case["InitialPolicySet"]:
        if entry == "anyPolicy":
            names.add("any_policy")
        else:
            prefix, _, number = entry.rpartition("-")
            assert prefix == "NIST-test-policy" and number.isdigit(), entry
            names.add(NIST_TEST_POLICY + number)
    return PolicyInputs(
        initial_policy_set=frozenset(names),
        policy_mapping_inhibit=case["InitialPolicyMappingInhibit"],
        explicit_policy=case["InitialExplicitPolicy"],
        any_policy_inhibit=case["InitialAnyPolicyInhibit"],
    )


def run(case: dict[str, Any], *, revocation: str, legacy_dsa: bool | None = None, crls: bool = True) -> Report:
    certs = [_der("certs", name) for name in case["CertPath"]]
    ctx = context.build(
        at=VALIDATION_TIME,
        anchors=[certs[0]],
        untrusted=certs[1:-1],
        crls=[_der("crls", name) for name in case["CRLPath"]] if crls else [],
        revocation=revocation,
    )
    if legacy_dsa is None:
        legacy_dsa = case_id(case["Name"]) in DSA_CASES
    return verify_certificate(certs[-1], ctx, policy=_policy(case), legacy_dsa=legacy_dsa)


def _check(case: dict[str, Any], report: Report) -> None:
    if case["ShouldValidate"]:
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    else:
        assert (report.indication, report.sub_indication) == expected_failure(case["Name"]), report.to_text()


# --- the suite ---------------------------------------------------------------------------------------------


def test_vectors_are_the_full_suite() -> None:
    assert len(CASES) == 249 and len(BY_NAME) == 249
    assert sum(case["ShouldValidate"] for case in CASES) == 114
    assert DSA_CASES | set(AVAILABLE_MODE_DEVIATIONS) | REVOKED | STALE_REVOCATION <= {case_id(n) for n in BY_NAME}
    # every case that names a table entry really is an invalid one
    for name, case in BY_NAME.items():
        if case_id(name) in REVOKED | STALE_REVOCATION | NO_USABLE_REVOCATION | set(AVAILABLE_MODE_DEVIATIONS):
            assert not case["ShouldValidate"], name


@pytest.mark.parametrize("name", list(BY_NAME))
def test_pkits_required_revocation(name: str) -> None:
    _check(BY_NAME[name], run(BY_NAME[name], revocation="required"))


@pytest.mark.parametrize("name", list(BY_NAME))
def test_pkits_production_revocation_mode(name: str) -> None:
    """The production default ``available``: the CRLs in the context are checked even though no PKITS
    certificate names a distribution point."""
    case = BY_NAME[name]
    report = run(case, revocation="available")
    if case_id(name) in AVAILABLE_MODE_DEVIATIONS:
        assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    else:
        _check(case, report)


def test_crls_in_the_context_decide_for_certificates_without_distribution_points() -> None:
    revoked_ee = BY_NAME["4.4.3 Invalid Revoked EE Test3"]
    assert not any(b"\x06\x03\x55\x1d\x1f" in _der("certs", name) for name in revoked_ee["CertPath"])  # no CRL DP
    assert run(revoked_ee, revocation="available").sub_indication is SubIndication.REVOKED
    # without its CRLs the same path passes in `available` mode and is INDETERMINATE in `required` mode
    assert run(revoked_ee, revocation="available", crls=False).indication is Indication.TOTAL_PASSED
    required = run(revoked_ee, revocation="required", crls=False)
    assert (required.indication, required.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)


@pytest.mark.parametrize("name", sorted(n for n in BY_NAME if case_id(n) in DSA_CASES and BY_NAME[n]["ShouldValidate"]))
def test_production_policy_refuses_the_dsa_cases(name: str) -> None:
    report = run(BY_NAME[name], revocation="required", legacy_dsa=False)
    assert (report.indication, report.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    ), report.to_text()
    assert "dsa" in report.errors[0].lower()


def test_whole_suite_runs_in_under_a_minute() -> None:
    start = time.monotonic()
    wrong = []
    for case in CASES:
        report = run(case, revocation="required")
        if report.passed != case["ShouldValidate"]:
            wrong.append(case["Name"])
    elapsed = time.monotonic() - start
    assert not wrong
    assert elapsed < 60, f"249 PKITS cases took {elapsed:.1f} s"
