"""``POST /certificates/batch`` (issue 15 item 5): per-entry outcomes, request ids scoped to the client as the single
route scopes them, authorisation per entry, limits, audit entries and log leaves per certificate."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, func, select

from ca.models import IssuedCertificate
from tests.support.csr import make_csr
from tests.support.http import AuthClient
from tests.support.world import GD_ORG_USCC, ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.keys import generate_private_key
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.http.app import create_app
from trust.service import audit
from trust.service import ca as ca_service
from trust.service.tlog import LogLeaf

ZJ_CA = "region-330000-sm2"
SEAL_SUBJECT: dict[str, str] = {
    "province": "浙江省",
    "organization": "杭州示例科技有限公司",
    "common_name": "合同专用章",
    "serial_number": ZJ_ORG_USCC,
}
PERSON = DN(province="浙江省", common_name="张三", serial_number="330106199001010018")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("batch") / "home")


@pytest.fixture(scope="module")
def client(world: World) -> AuthClient:
    return AuthClient(create_app(world.instance), world, "zj-platform")


def _seal(request_id: str, **changes: Any) -> dict[str, Any]:
    return {"request_id": request_id, "profile": "seal", "subject": SEAL_SUBJECT, **changes}


def _person(request_id: str) -> dict[str, Any]:
    csr = make_csr(generate_private_key("sm2"), PERSON).decode()
    subject = {"province": "浙江省", "common_name": "张三", "serial_number": "330106199001010018"}
    return {"request_id": request_id, "profile": "person-identity", "subject": subject, "csr": csr}


def _counts(world: World) -> tuple[int, int, int]:
    """Certificates, ``certificate.create`` audit entries, certificate log leaves."""
    with db.session_scope(world.instance.engine) as session:
        certificates = session.exec(select(func.count()).select_from(IssuedCertificate)).one()
        created = session.exec(
            select(func.count()).select_from(audit.AuditEntry).where(audit.AuditEntry.action == "certificate.create")
        ).one()
        leaves = session.exec(select(func.count()).select_from(LogLeaf).where(LogLeaf.kind == "certificate")).one()
    return int(certificates), int(created), int(leaves)


def _batch(client: AuthClient, entries: list[dict[str, Any]], ca_id: str = ZJ_CA, **kwargs: Any) -> Any:
    return client.post("/certificates/batch", json={"ca_id": ca_id, "requests": entries}, **kwargs)


def test_a_batch_issues_each_entry_and_reports_a_refused_one_without_stopping(client: AuthClient, world: World) -> None:
    """Issued, issued, refused (outside the CA's name constraints, with the problem POST /certificates gives and its
    index), issued: 200 with the counts; each certificate is signed by the CA, has its audit entry and log leaf;
    the same batch again replays the three certificates and refuses the bad entry again, issuing nothing."""
    outside = _seal("b1-2", subject={**SEAL_SUBJECT, "province": "广东省", "serial_number": GD_ORG_USCC})
    entries = [_seal("b1-0"), _person("b1-1"), outside, _seal("b1-3", validity_days=30)]
    before = _counts(world)
    response = _batch(client, entries)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["issued"], body["replayed"], body["refused"]) == (3, 0, 1), [r["problem"] for r in body["results"]]
    results = body["results"]
    assert [(r["index"], r["request_id"], r["outcome"]) for r in results] == [
        (0, "b1-0", "issued"),
        (1, "b1-1", "issued"),
        (2, "b1-2", "refused"),
        (3, "b1-3", "issued"),
    ]
    problem = results[2]["problem"]
    assert (problem["status"], problem["code"], problem["index"]) == (400, "E1000", 2)
    assert problem["type"] == "urn:huren:error:invalid-input" and problem["title"] == "Invalid input"
    assert "outside the name constraints" in problem["detail"]
    single = client.post(
        "/certificates", json={"ca_id": ZJ_CA, **{k: v for k, v in outside.items() if k != "request_id"}}
    )
    assert single.status_code == 400 and single.json()["detail"] == problem["detail"]  # as a request of its own
    ca_key = cx.public_key(cx.load_certificate(ca_service.ca_certificate_der(world.instance, ZJ_CA)))
    for result in (results[0], results[1], results[3]):
        certificate = cx.load_certificate(result["certificate"]["certificate_pem"].encode())
        cx.verify_signature(certificate, ca_key)
        assert result["problem"] is None and len(result["certificate"]["chain_pem"]) == 2
    assert results[1]["certificate"]["key_id"] is None and results[0]["certificate"]["key_id"]
    assert _counts(world) == tuple(n + 3 for n in before)  # a row, an audit entry and a leaf per certificate
    assert audit.verify(world.instance.engine).ok

    again = _batch(client, entries).json()
    assert [r["outcome"] for r in again["results"]] == ["replayed", "replayed", "refused", "replayed"]
    assert [r["certificate"]["serial"] for r in again["results"] if r["certificate"]] == [
        r["certificate"]["serial"] for r in results if r["certificate"]
    ]
    assert _counts(world) == tuple(n + 3 for n in before)


def test_request_ids_are_scoped_to_the_calling_client(client: AuthClient, world: World) -> None:
    """Region B's platform using region A's request id gets a certificate of its own CA (not A's, no conflict);
    with region A's CA it is refused as a whole (403), nothing issued; A's retry still replays A's certificate."""
    first = _batch(client, [_seal("shared-id-1")]).json()["results"][0]["certificate"]
    gd_subject = {
        "province": "广东省",
        "organization": "广州示例有限公司",
        "common_name": "公章",
        "serial_number": GD_ORG_USCC,
    }
    gd = client.as_("gd-platform")
    other = _batch(gd, [_seal("shared-id-1", subject=gd_subject)], ca_id="region-440000-sm2")
    assert other.status_code == 200, other.text
    (result,) = other.json()["results"]
    assert result["outcome"] == "issued" and result["certificate"]["issuer_id"] == "region-440000-sm2"
    assert result["certificate"]["serial"] != first["serial"]
    before = _counts(world)
    audit_head = audit.head(world.instance.engine)[0]
    crossed = _batch(gd, [_seal("shared-id-1"), _seal("shared-id-2")])
    assert crossed.status_code == 403 and crossed.json()["code"] == "E1403", crossed.text
    assert _counts(world) == before
    denied = audit.entries(world.instance.engine, after=audit_head)
    assert [(e.result, e.actor) for e in denied] == [("denied", "client:gd-platform")]
    replay = _batch(client, [_seal("shared-id-1")]).json()["results"][0]
    assert replay["outcome"] == "replayed" and replay["certificate"]["serial"] == first["serial"]
    with db.session_scope(world.instance.engine) as session:
        keys = session.exec(
            select(IssuedCertificate.request_id).where(col(IssuedCertificate.request_id).endswith("/shared-id-1"))
        ).all()
    assert sorted(str(k) for k in keys) == ["gd-platform/shared-id-1", "zj-platform/shared-id-1"]


def test_a_request_id_names_one_request_across_the_single_and_batch_routes(client: AuthClient, world: World) -> None:
    """An entry is the request POST /certificates would be: the same body under a key the single route used is a
    replay, another body is a conflict (409 in the entry, nothing issued); one key twice in a batch: the same body
    gets one certificate, another body the conflict; and a key a batch used is one the single route knows."""
    single = client.post("/certificates", json={"ca_id": ZJ_CA, **_seal("x")} | {"request_id": "one-key-1"})
    assert single.status_code == 201, single.text
    serial = single.json()["serial"]
    before = _counts(world)
    renamed = _seal("one-key-1", subject={**SEAL_SUBJECT, "common_name": "财务专用章"})
    body = _batch(client, [_seal("one-key-1"), renamed, _seal("one-key-2"), _seal("one-key-2", validity_days=9)])
    results = body.json()["results"]
    assert [r["outcome"] for r in results] == ["replayed", "refused", "issued", "refused"]
    assert results[0]["certificate"]["serial"] == serial
    assert [(r["problem"]["status"], r["problem"]["code"]) for r in (results[1], results[3])] == [(409, "E1004")] * 2
    assert _counts(world)[0] == before[0] + 1
    twice = _batch(client, [_seal("one-key-3"), _seal("one-key-3")]).json()["results"]
    assert [r["outcome"] for r in twice] == ["issued", "replayed"]
    assert twice[0]["certificate"]["serial"] == twice[1]["certificate"]["serial"]
    batch_serial = results[2]["certificate"]["serial"]
    same = client.post("/certificates", json={"ca_id": ZJ_CA, **_seal("x"), "request_id": "one-key-2"})
    assert same.status_code == 201 and same.json()["serial"] == batch_serial
    changed = client.post("/certificates", json={"ca_id": ZJ_CA, **renamed, "request_id": "one-key-2"})
    assert changed.status_code == 409 and changed.json()["code"] == "E1004", changed.text


def test_a_key_used_on_another_route_is_a_conflict_and_issues_nothing(client: AuthClient, world: World) -> None:
    """Keys are the client's, whichever route used them: a seal made under an Idempotency-Key makes that key a
    conflict for a batch entry (409, as POST /certificates answers it), and no certificate is issued for it."""
    seal = {"ca_id": ZJ_CA, "holder_name": "杭州示例科技有限公司", "holder_code": ZJ_ORG_USCC}
    seal["seal_name"] = "发票专用章"
    made = client.post("/seals", json=seal, headers={"Idempotency-Key": "seal-key-1"})
    assert made.status_code == 201, made.text
    single = client.post("/certificates", json={"ca_id": ZJ_CA, **_seal("x"), "request_id": "seal-key-1"})
    assert single.status_code == 409, single.text
    before = _counts(world)
    (result,) = _batch(client, [_seal("seal-key-1")]).json()["results"]
    assert result["outcome"] == "refused" and result["problem"]["code"] == "E1004", result
    assert "POST /seals" in result["problem"]["detail"]
    assert _counts(world) == before


def test_each_entry_is_authorised_as_a_single_issuance(client: AuthClient, world: World) -> None:
    """A region may not issue OCSP responder certificates (operators only): that entry is refused 403, audited as
    denied, and the seal beside it is issued."""
    ocsp = _seal("authz-1", profile="ocsp")
    audit_head = audit.head(world.instance.engine)[0]
    results = _batch(client, [ocsp, _seal("authz-2")]).json()["results"]
    assert [r["outcome"] for r in results] == ["refused", "issued"]
    assert (results[0]["problem"]["status"], results[0]["problem"]["code"]) == (403, "E1403")
    single = client.post("/certificates", json={"ca_id": ZJ_CA, **ocsp})
    assert single.status_code == 403 and single.json()["detail"] == results[0]["problem"]["detail"]
    denied = [e for e in audit.entries(world.instance.engine, after=audit_head) if e.result == "denied"]
    assert len(denied) == 2  # the batch entry's and the single request's


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda entries: entries[1].pop("profile"), ["body", "requests", "1", "profile"]),
        (lambda entries: entries[1].update(request_id="no spaces"), ["body", "requests", "1", "request_id"]),
        (lambda entries: entries[1].update(colour="red"), ["body", "requests", "1", "colour"]),
        (lambda entries: entries[1].update(validity_days=0), ["body", "requests", "1", "validity_days"]),
        (lambda entries: entries.clear(), ["body", "requests"]),
    ],
    ids=["missing-profile", "bad-request-id", "unknown-field", "zero-days", "empty"],
)
def test_a_malformed_batch_is_refused_whole(client: AuthClient, world: World, change: Any, where: list[str]) -> None:
    entries = [_seal("malformed-0"), _seal("malformed-1")]
    change(entries)
    before = _counts(world)
    response = _batch(client, entries)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "E1000" and where in [e["loc"] for e in problem["evidence"]["errors"]]
    assert _counts(world) == before


def test_batch_limits_entries_and_counts_each_entry_against_the_rate_limit(world: World) -> None:
    """Over TRUST_MAX_BATCH_CERTIFICATES: 413 before any work (nothing issued, no rate budget spent beyond the
    request). Every entry counts as a request of the client's rate limit: with 6 a minute, after the refused request
    and a batch of 3 the next batch of 3 is 429; a batch larger than the whole budget is refused as too large (it
    never could pass)."""
    instance = world.instance
    saved = instance.settings
    instance.settings = saved.model_copy(update={"max_batch_certificates": 3, "rate_limit": 6})
    try:
        limited = AuthClient(create_app(instance), world, "zj-platform")
        before = _counts(world)
        too_many = _batch(limited, [_seal(f"limit-{i}") for i in range(4)])
        assert too_many.status_code == 413, too_many.text
        assert too_many.json()["code"] == "E1002" and too_many.json()["evidence"] == {"entries": 4, "most": 3}
        assert _counts(world) == before
        made = _batch(limited, [_seal(f"limit-{i}") for i in range(3)])  # the 413 and 3 entries: 4 of 6 spent
        assert made.status_code == 200 and made.json()["issued"] == 3, made.text
        over = _batch(limited, [_seal(f"limit-{i}") for i in range(3, 6)])  # 3 more: 7 > 6
        assert over.status_code == 429 and over.headers["retry-after"].isdigit(), over.text
        assert _counts(world)[0] == before[0] + 3
        instance.settings = saved.model_copy(update={"max_batch_certificates": 500, "rate_limit": 2})
        budget = AuthClient(create_app(instance), world, "zj-platform")
        larger = _batch(budget, [_seal(f"limit-{i}") for i in range(3)])
        assert larger.status_code == 413 and larger.json()["evidence"] == {"entries": 3, "most": 2}, larger.text
    finally:
        instance.settings = saved


def test_batch_entries_carry_their_subject_alternative_names(client: AuthClient) -> None:
    """``dns_names`` of an entry reach the certificate (a TLS server certificate needs one), and a name outside the
    CA's DNS namespace refuses that entry as POST /certificates would."""
    subject = {"province": "浙江省", "organization": "浙江省政务服务平台", "common_name": "api.zj.gov.cn"}
    tls = {"profile": "tls-server", "subject": subject}
    entries = [
        {"request_id": "san-1", **tls, "dns_names": ["api.zj.gov.cn"]},
        {"request_id": "san-2", **tls, "dns_names": ["www.example.com"]},
    ]
    results = _batch(client, entries).json()["results"]
    assert [r["outcome"] for r in results] == ["issued", "refused"], results
    certificate = cx.load_certificate(results[0]["certificate"]["certificate_pem"].encode())
    assert certificate.subject_alt_name_value.native == ["api.zj.gov.cn"]
    assert "outside the DNS namespace" in results[1]["problem"]["detail"]
