"""The JSON report is fully described (issue 13 item 5): ``verifier/schemas/report.schema.json`` validates real reports
— here certificates that pass, fail and are undecided, without a bundle — and refuses what it does not describe (an
undocumented detail, a failed report without a reason). Every artefact of the demo world, with its bundle, and the
reports of ``POST /verify`` are validated in ``tests/trust/service/test_report_schema.py`` and
``tests/trust/http/test_trust_routes.py``."""

from __future__ import annotations

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
