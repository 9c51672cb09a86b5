"""The JSON report is fully described (issue 13 item 5): ``verifier/schemas/report.schema.json`` validates real reports
— here certificates that pass, fail and are undecided, without a bundle — and refuses what it does not describe (an
undocumented detail, a failed report without a reason). Every artefact of the demo world, with its bundle, and the
reports of ``POST /verify`` are validated in ``tests/trust/service/test_report_schema.py`` and
``tests/trust/http/test_trust_routes.py``."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.conformance.test_sm2_chains import BY_ID, load
from verifier import api, context
from verifier.report import Report, schema

VALIDATOR = Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
REPR = re.compile(r"\{'|\['|\(\'|0x0x|\bNone\b|\bTrue\b|\bFalse\b")
"""What a Python literal leaks into text: a dict, list or tuple repr, a doubled hex prefix, None/True/False."""


def valid(report: Report) -> dict[str, Any]:
    data = report.to_dict()
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return data


def readable(report: Report) -> None:
    for text in (report.to_text(), report.to_text(verbose=True)):
        assert not REPR.search(text), REPR.search(text)


@pytest.mark.parametrize(
    ("case", "at"),
    [
        ("tongsuo-ntls-server_sign", "2025-01-01T00:00Z"),  # passes
        ("tongsuo-ntls-server_sign-expired", "2025-01-01T00:00Z"),  # fails: expired
        ("tongsuo-sm2-cert-root", "2020-01-01T00:00Z"),  # fails: not yet valid
    ],
)
def test_certificate_reports_fit_the_schema(case: str, at: str) -> None:
    entry = BY_ID[case]
    ctx = context.build(
        at=at, anchors=[load(e) for e in entry["trusted"]], untrusted=[load(e) for e in entry["intermediates"]]
    )
    report = api.verify(load(entry["leaf"]), ctx)
    data = valid(report)
    assert data["source"] == {
        "bundle": None,
        "trust_list": None,
        "anchors": len(ctx.anchors),
        "crls": 0,
        "ocsp_responses": 0,
        "status_lists": 0,
    }
    readable(report)


def test_an_undecided_report_fits_the_schema() -> None:
    entry = BY_ID["tongsuo-ntls-server_sign"]
    report = api.verify(load(entry["leaf"]), context.build(at=datetime(2025, 1, 1, tzinfo=UTC)))  # no anchor
    data = valid(report)
    assert data["indication"] == "INDETERMINATE" and data["checks"][-1]["detail"].startswith("not run")
    readable(report)


def test_the_schema_refuses_what_it_does_not_describe() -> None:
    entry = BY_ID["tongsuo-ntls-server_sign"]
    ctx = context.build(
        at="2025-01-01T00:00Z",
        anchors=[load(e) for e in entry["trusted"]],
        untrusted=[load(e) for e in entry["intermediates"]],
    )
    data = api.verify(load(entry["leaf"]), ctx).to_dict()
    assert VALIDATOR.is_valid(data) and data["indication"] == "TOTAL_PASSED"
    assert not VALIDATOR.is_valid({**data, "details": {"undocumented": 1}})
    assert not VALIDATOR.is_valid({**data, "indication": "TOTAL_FAILED"})  # a failure names its sub-indication
    assert not VALIDATOR.is_valid({**data, "indication": "TOTAL_FAILED", "sub_indication": "REVOKED", "errors": []})
    assert not VALIDATOR.is_valid({**data, "kind": "hologram"})
    assert not VALIDATOR.is_valid({**data, "validation_time": "yesterday"})


GOLDEN_KINDS = [
    ("ses/seal-v4.esl", "seal"),
    ("ses/signature-v4.der", "ses-signature"),
    ("pdf/sealed-SM2-B-LTA.pdf", "pdf"),
    ("pdf/revoked-before-B-T.pdf", "pdf"),
    ("license/token-zj.jwt", "license-token"),
    ("license/sd-jwt-zj.txt", "license-sd-jwt"),
    ("license/qr-zj.txt", "license-qr"),
    ("license/license.pdf", "license-pdf"),
    ("pki/seal-contract-sm2.pem", "certificate"),
    ("pki/seal-revoked-sm2.pem", "certificate"),
]


def _kinds(data: dict[str, Any]) -> set[str]:
    return {data["kind"]} | {kind for child in data.get("reports", ()) for kind in _kinds(child)}


@pytest.mark.parametrize(("name", "kind"), GOLDEN_KINDS, ids=[name for name, _kind in GOLDEN_KINDS])
def test_a_report_of_every_golden_kind_fits_the_schema(name: str, kind: str) -> None:
    """A real report of each kind Huren makes (golden artefacts, with the golden bundle at the recorded time), every
    contained report too (a PDF's signatures and time-stamps, a signature's seal, a licence PDF's token)."""
    from tests.support import golden

    if not golden.path(name).exists():
        pytest.skip(f"no golden {name}")
    report = api.verify(golden.read(name), golden.context())
    data = valid(report)
    assert data["kind"] == kind and data["source"]["bundle"]["sha256"] == hashlib.sha256(golden.bundle()).hexdigest()
    readable(report)


def test_ofd_reports_fit_the_schema() -> None:
    """An OFD document (ofdrw's sample, with its signature's GB/T 38540 report inside) and an unsigned one."""
    from tests.verifier.test_ofd_verify import ctx_for, sample

    report = api.verify(sample("ofdrw-converter-V4RideRight.ofd"), ctx_for(anchor=True))
    data = valid(report)
    assert _kinds(data) >= {"ofd", "ofd-signature", "ses-signature"}, _kinds(data)
    assert data["indication"] == "TOTAL_FAILED" and data["errors"][0].startswith("signature ")
    readable(report)
    unsigned = valid(api.verify(sample("ofdrw-converter-helloworld.ofd"), ctx_for(anchor=True)))
    assert unsigned["errors"] == ["signatures: the OFD document carries no signature"]


def test_entity_statement_reports_fit_the_schema() -> None:
    """Entity configurations and subordinate statements of the identity federation, passed and failed (with the
    checks the failure left unrun)."""
    from tests.support.federation import World
    from tests.verifier.test_entity_statement import context as federation_context

    fed = World()
    section = fed.section()
    ctx = federation_context(fed, section)
    kinds = set()
    for token in (fed.zj.configuration(iat=fed.now), fed.subordinate(fed.gd), fed.anchor_configuration()):
        data = valid(api.verify(token.encode(), ctx))
        assert data["indication"] == "TOTAL_PASSED", data
        kinds.add(data["kind"])
    assert kinds == {"entity-configuration", "entity-statement"}
    unknown = valid(api.verify(fed.zj.configuration(iat=fed.now).encode(), federation_context(fed, None)))
    assert unknown["indication"] == "INDETERMINATE" and unknown["errors"][0].startswith("trust-chain: ")
    assert [c["name"] for c in unknown["checks"]] == ["parse", "validity", "self-signature", "trust-chain"]
