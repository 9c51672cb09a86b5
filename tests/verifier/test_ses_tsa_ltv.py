"""A time-stamp inside a GB/T 38540 signature or seal is a proof of existence only while its TSA is still believed
at the validation time (issue sesltv, docs/VERIFIER.md "Time-stamps: the TSA at the validation time"): a TSA
certificate revoked after genTime makes the token no proof, whatever the reason, as the PDF verifier judges it.

A small PKI of its own (tests.support.chains: a root and a TSA certificate over P-256, a CRL by the root) so the TSA
can be revoked; no trust list (explicit anchor), so only the path and its revocation are judged. The expiry side of
the rule is tested on the golden world (tests/verifier/test_ses_verify.py, test_ofd_verify.py).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509

from tests.support.chains import Factory, Node, ca_extensions, name
from trust.formats import cms as cms_format
from trust.formats import crl as crl_format
from trust.formats import tsp as tsp_format
from trust.formats import x509 as cx
from verifier import context
from verifier.report import Finding, Indication, Result, SubIndication
from verifier.ses.timestamps import time_stamp_check

GEN_TIME = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
REVOKED_AT = GEN_TIME + timedelta(days=30)
MESSAGE = b"the signature value a GB/T 38540 time-stamp covers"


def _pki() -> tuple[Node, Node]:
    factory = Factory()
    start, end = GEN_TIME - timedelta(days=10), GEN_TIME + timedelta(days=3650)
    root_key = factory.key()
    root = factory.make(
        name("LTV Test Root"),
        extensions=ca_extensions(root_key.public_key, None),
        key=root_key,
        not_before=start,
        not_after=end,
    )
    tsa_key = factory.key()
    tsa = factory.make(
        name("LTV Test TSA"),
        issuer=root,
        key=tsa_key,
        not_before=start,
        not_after=GEN_TIME + timedelta(days=1000),
        extensions=[
            cx.basic_constraints(False),
            cx.key_usage({"digital_signature"}),
            cx.extended_key_usage(["time_stamping"], critical=True),
            cx.subject_key_identifier(tsa_key.public_key),
            cx.authority_key_identifier(root_key.public_key),
        ],
    )
    return root, tsa


def _token(tsa: Node) -> bytes:
    info = asn1_tsp.TSTInfo(
        {
            "version": "v1",
            "policy": tsp_format.POLICY,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(MESSAGE).digest(),
            },
            "serial_number": 7,
            "gen_time": GEN_TIME,
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa.cert.subject),
        }
    )
    token = cms_format.sign(
        info.dump(),
        tsa.key.signer(),
        tsa.cert,
        content_type="tst_info",
        attributes=[tsp_format.signing_certificate_v2(tsa.cert, "sha256")],
    )
    return bytes(token.dump())


def _crl(root: Node, tsa: Node, *, issued: datetime, reason: str | None, revoked_at: datetime = REVOKED_AT) -> bytes:
    revoked = [] if reason is None else [crl_format.Revoked(tsa.cert.serial_number, revoked_at, reason)]
    crl = crl_format.build_crl(
        issuer=root.cert.subject,
        issuer_key=root.key.public_key,
        signer=root.key.signer(),
        number=1,
        this_update=issued,
        next_update=issued + timedelta(days=30),
        revoked=revoked,
    )
    return bytes(crl.dump())


def _check(root: Node, tsa: Node, at: datetime, crl: bytes) -> tuple[Finding | None, bool]:
    ctx = context.build(at=at, anchors=[root.der], crls=[crl], environ={})
    check, stamp = time_stamp_check("time-stamp", _token(tsa), MESSAGE, ctx, "the signature value")
    assert (stamp is not None) == (check.result is Result.PASSED), check.detail
    return (check if isinstance(check, Finding) else None), stamp is not None


def test_the_tsa_unrevoked_at_the_validation_time_is_believed() -> None:
    root, tsa = _pki()
    finding, proof = _check(root, tsa, REVOKED_AT + timedelta(days=10), _crl(root, tsa, issued=REVOKED_AT, reason=None))
    assert proof and finding is None


@pytest.mark.parametrize("reason", ["key_compromise", "unspecified", "superseded", "cessation_of_operation"])
def test_a_tsa_revoked_after_gen_time_makes_the_token_no_proof(reason: str) -> None:
    """Revoked after genTime (any reason: decided in docs/VERIFIER.md): INDETERMINATE / REVOKED_NO_POE — genTime is
    the TSA's own word, and nothing proves the token predates the revocation. Before issue sesltv the TSA was
    judged at genTime only, so every case here passed and the token proved its time."""
    root, tsa = _pki()
    crl = _crl(root, tsa, issued=REVOKED_AT + timedelta(days=1), reason=reason)
    finding, proof = _check(root, tsa, REVOKED_AT + timedelta(days=10), crl)
    assert not proof and finding is not None
    assert (finding.indication, finding.sub_indication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
    assert "revoked after genTime" in finding.detail and "proves no time" in finding.detail
    # Judged before the revocation (the same CRL is not yet in force then): the token is a proof.
    earlier, proof = _check(root, tsa, REVOKED_AT - timedelta(days=1), _crl(root, tsa, issued=GEN_TIME, reason=None))
    assert proof and earlier is None


def test_a_tsa_revoked_before_gen_time_fails_outright() -> None:
    """Revoked before the token's genTime: TOTAL_FAILED / REVOKED, as before issue sesltv (the path at genTime)."""
    root, tsa = _pki()
    crl = _crl(root, tsa, issued=GEN_TIME, reason="key_compromise", revoked_at=GEN_TIME - timedelta(days=1))
    finding, proof = _check(root, tsa, GEN_TIME + timedelta(days=2), crl)
    assert not proof and finding is not None
    assert (finding.indication, finding.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
