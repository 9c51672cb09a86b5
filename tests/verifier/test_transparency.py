"""verifier.transparency on hostile proofs (issue 19): every malformed, oversized or forged proof is a result with a
specific code — never an exception, never a traceback — and the policy maps results to indications."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from trust.formats import tlog, trustlist
from verifier import transparency
from verifier.report import Indication, Report, SubIndication

SECTION = [{"origin": "huren.example/log", "hash": "sha256", "note": "huren.example/log\n0\n", "witnesses": []}]


def _proof(**changes):
    tree = tlog.MemoryTree.of(tlog.leaf_hash(f"e{i}".encode()) for i in range(5))
    document = tlog.InclusionDocument(
        "sha256", tlog.leaf_hash(b"e2"), 2, 5, tuple(tree.inclusion(2)), tree.root(), "not a note", b"e2"
    ).to_json()
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "proof",
    [
        b"",
        b"not json",
        b"[]",
        b'{"hash": "md5"}',
        b"[" * 100_000,
        b'{"a": 1, "a": 2}',
        _proof(leaf_index=True),
        _proof(inclusion=["zz" * 32]),
        _proof(inclusion=["00" * 32] * 65),
        _proof(entry="not base64!"),
        _proof(checkpoint=7),
        b" " * (transparency.MAX_PROOF_BYTES + 1),
    ],
)
def test_malformed_proofs_are_results_with_a_code(proof):
    result = transparency.check(b"credential", proof, SECTION, [])
    assert result.status == "failed"
    assert result.code in ("E1800", "E1001", "E1002"), result


def test_arithmetic_failures_come_before_signatures():
    result = transparency.check(None, _proof(leaf_index=3), SECTION, [])
    assert result.status == "failed" and result.code == "E1801"
    result = transparency.check(None, _proof(entry="ZTM="), SECTION, [])  # "e3": not the leaf
    assert result.code == "E1801"
    # a sound proof whose checkpoint is not a signed note
    assert transparency.check(None, _proof(), SECTION, []).code == "E1800"


def _report(indication=Indication.TOTAL_PASSED):
    return Report("certificate", indication, None, datetime.now(UTC))


def test_policy_maps_results_to_indications():
    missing = transparency.Transparency("not-logged", "no proof", "E1805")
    failed = transparency.Transparency("failed", "forged", "E1801")
    logged = transparency.Transparency("logged", "leaf 1 of 2")
    plain = _report()
    assert transparency.apply(plain, missing, "off", proof_given=False) is plain
    out = transparency.apply(_report(), missing, "indeterminate", proof_given=False)
    assert out.indication is Indication.INDETERMINATE and out.sub_indication is SubIndication.NO_POE
    assert "E1805" in out.errors[-1]
    out = transparency.apply(_report(), missing, "required", proof_given=False)
    assert out.indication is Indication.TOTAL_FAILED
    out = transparency.apply(_report(), failed, "off", proof_given=True)
    assert out.indication is Indication.TOTAL_FAILED and "E1801" in out.errors[-1]
    out = transparency.apply(_report(), logged, "required", proof_given=True)
    assert out.indication is Indication.TOTAL_PASSED and out.checks[-1].name == "transparency"
    # an already failed credential stays failed, with the transparency reason added
    out = transparency.apply(_report(Indication.TOTAL_FAILED), missing, "indeterminate", proof_given=False)
    assert out.indication is Indication.TOTAL_FAILED


def _region_list(count: int) -> trustlist.TrustList:
    """A trust list of ``count`` regions, each with one CA service (a current and a retired certificate; the bytes
    need not parse: the policy looks certificates up by SHA-256), the last region requiring transparency."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    issuers = tuple(
        trustlist.Issuer(
            id=f"region-{i}",
            kind="REGION",
            code=None,
            name=f"region {i}",
            status_history=(trustlist.StatusEntry("granted", moment),),
            services=(
                trustlist.Service(
                    id=f"region-{i}-ca",
                    type="CA",
                    family="SM2",
                    certificate=f"current {i}".encode(),
                    status_history=(trustlist.StatusEntry("granted", moment),),
                    previous_certificates=(f"retired {i}".encode(),),
                ),
            ),
            scope={"transparency": "required"} if i == count - 1 else {},
        )
        for i in range(count)
    )
    return trustlist.TrustList(1, moment, moment, "test", (), issuers)


def test_region_policy_follows_a_retired_ca_certificate_and_does_not_scan_the_list(monkeypatch):
    """A credential issued under a region's retired CA certificate (before a re-key) keeps that region's setting; the
    setting is found through the list's index, not a scan of every service per verification (issue 15 item 4: a
    scan cost ~20 ms per verification with 10^4 issuers)."""
    listed = _region_list(2_000)
    last = listed.issuers[-1].services[0]
    assert transparency.region_policy(listed, [hashlib.sha256(b"leaf").hexdigest(), last.fingerprint]) == "required"
    retired = hashlib.sha256(last.previous_certificates[0]).hexdigest()

    def no_scan(*_args, **_kwargs):
        raise AssertionError("region_policy scanned every service of the trust list")

    monkeypatch.setattr(trustlist.TrustList, "services", no_scan)
    assert transparency.region_policy(listed, [retired]) == "required"
    assert transparency.region_policy(listed, [hashlib.sha256(b"current 0").hexdigest()]) == "off"
    assert transparency.region_policy(listed, [hashlib.sha256(b"unknown").hexdigest()]) == "off"
