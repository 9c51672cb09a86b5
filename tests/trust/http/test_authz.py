"""The authorisation matrix: every write route × every kind of caller gets exactly the allowed outcome.

Callers: the national operator, region A (浙江 330000, owner of every resource used here), region B (广东
440000), a department of A (浙江省市场监督管理局 as licence issuer), nobody, a platform whose credential was
revoked, an expired assertion, a replayed assertion, and an assertion for another audience. Each case builds a
fresh resource of region A with the service layer, so an allowed call never changes what the next caller sees.
Allowed → 2xx; refused by policy → 403, or 404 when the route names a certificate, seal or licence the caller may
not see (the same answer as for one that does not exist: ``test_existence.py``); not authenticated → 401 with
``WWW-Authenticate``. Refusals change nothing, and are audited as ``denied``.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from licenses import samples
from tests.support.http import AuthClient
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.keys import generate_private_key
from trust.formats import csr
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import audit, clients, licenses, seals
from trust.service import ca as ca_service

BUSINESS = "11100000000013338W101"
FOOD = "11100000000013338W102"
ZJ_AUTHORITY = make_uscc("11330000002482226")
_counter = itertools.count(1)
_SEAL_SUBJECT = {  # the subject of the seal certificates the issuance rows ask for (single and batch)
    "common_name": "合同专用章",
    "organization": "杭州示例科技有限公司",
    "province": "浙江省",
    "serial_number": ZJ_ORG_USCC,
}

ALLOWED_KINDS = ("operator", "region-a", "region-b", "department-a")
UNAUTHENTICATED = ("nobody", "revoked-platform", "expired-assertion", "replayed-assertion", "other-audience")


@dataclass
class Setup:
    world: World
    client: AuthClient
    issuer_id: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Setup:
    world = copy_world(world_template, tmp_path_factory.mktemp("authz") / "home")
    instance = world.instance
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省市场监督管理局", code=ZJ_AUTHORITY, license_types=[BUSINESS]
    )
    world.add_platform("zj-amr", "department", region="330000", license_issuer_id=issuer.id)
    revoked = world.add_platform("zj-old", "region", region="330000")
    clients.revoke_credential(instance, serial=format(revoked.certificate.serial_number, "x"))
    ca_service.enrol(instance, kind="region", code="350000", family="SM2")
    from trust.service.identity import anchor

    anchor.init(instance)  # the identity federation (issue 16)
    anchor.register(instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    from trust.service.sharing import access

    access.add_legal_basis(instance, "LB-AUTHZ", "授权矩阵测试", [BUSINESS])  # licence sharing (issue 21)
    return Setup(world, AuthClient(create_app(instance), world, None), issuer.id)


def _federation_rp(s: Setup) -> str:
    """A fresh relying service of region A, registered with the service layer."""
    from trust.service.identity import anchor

    row = anchor.register(
        s.world.instance, kind=anchor.KIND_RP, region_code="330000", name="浙江服务", slug=f"rp-{next(_counter)}"
    )
    return row.id


def _zj_op(s: Setup, *, marked: bool) -> str:
    """Region A's OP, with (``marked``) or without an active level-2 trust mark."""
    from trust.crypto.errors import ConflictError, NotFoundError
    from trust.service.identity import anchor

    op_id = anchor.hosted_op_id(s.world.instance, "330000")
    try:
        if marked:
            anchor.grant_trust_mark(s.world.instance, op_id, 2)
        else:
            anchor.revoke_trust_mark(s.world.instance, op_id, 2)
    except (ConflictError, NotFoundError):
        pass  # already so
    return op_id


def _seal(s: Setup) -> str:
    return seals.create(
        s.world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
    ).es_id


def _license(s: Setup) -> str:
    made = licenses.issue(s.world.instance, issuer_id=s.issuer_id, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    return made.record.identifier


def _ticket(s: Setup) -> tuple[str, str, dict[str, Any]]:
    """A queued retrieval ticket of a fresh relying service of region A (not due: polling it only reads it)."""
    import secrets
    from datetime import UTC, datetime, timedelta

    from trust.service.sharing.models import Pending

    requester = _federation_rp(s)
    ticket = secrets.token_hex(16)
    with db.session_scope(s.world.instance.engine) as session:
        session.add(
            Pending(
                id=ticket, requester=requester, purpose="授权矩阵", legal_basis="LB-AUTHZ", identifier=_license(s),
                holder_key="0" * 64, type_code=BUSINESS, status="queued", attempts=1,
                next_attempt_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )  # fmt: skip
    return "POST", f"/sharing/tickets/{ticket}", {"json": {"requester": requester}}


def _legacy_entry(s: Setup) -> dict[str, str]:
    """A signed entry of region A's licence issuer for a fresh licence of its legacy system."""
    import os
    from datetime import UTC, datetime

    from licenses import issuance
    from trust.crypto import base64url
    from trust.formats import directory_entry, identifiers

    salt = os.urandom(16)
    instance = s.world.instance
    with db.session_scope(instance.engine, read_only=True) as session:
        prepared = issuance.prepare_issuer(session, instance.keystore, s.issuer_id)
    identifier = identifiers.make(BUSINESS, ZJ_AUTHORITY, f"LEGACY{next(_counter):08d}", 1)
    body = directory_entry.claims(
        issuer_id=s.issuer_id, identifier=identifier, type_code=BUSINESS, issuer_code=ZJ_AUTHORITY,
        holder_commitment=directory_entry.commitment(salt, ZJ_ORG_USCC), valid_from=datetime(2001, 1, 1, tzinfo=UTC),
        valid_until=None, status="valid", location="https://legacy.zj.example/licenses",
    )  # fmt: skip
    signed = directory_entry.sign(body, prepared.signer, kid=prepared.kid)
    return {"signed_entry": signed, "holder_code": ZJ_ORG_USCC, "salt": base64url.encode(salt)}


def _certificate(s: Setup) -> str:
    result = ca_service.issue(
        s.world.instance,
        ca_id="region-330000-sm2",
        profile="seal",
        subject=DN(province="浙江省", organization="杭州示例科技有限公司", common_name="章", serial_number=ZJ_ORG_USCC),
    )
    return result.record.serial


def _client_id(_s: Setup) -> str:
    client_id = f"zj-extra-{next(_counter)}"
    clients.add_client(_s.world.instance, client_id=client_id, kind="region", name="额外平台", region="330000")
    return client_id


def _cosigned_checkpoint(s: Setup) -> str:
    """The log's latest checkpoint cosigned by a fresh witness registered for region A (issue 19)."""
    import time

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from trust.formats import tlog as formats
    from trust.service import tlog

    instance = s.world.instance
    key = ed25519.Ed25519PrivateKey.generate()
    name = f"zj.example/witness-{next(_counter)}"
    tlog.add_witness(instance, name=name, region="330000", public=key.public_key().public_bytes_raw())
    note = (tlog.latest_checkpoint(instance) or tlog.checkpoint(instance)).note
    signature = formats.cosign(formats.parse_note(note).text, name, key, int(time.time()))
    return formats.add_signatures(note, [signature])


def _credential(s: Setup) -> str:
    client_id = _client_id(s)
    key = generate_private_key("sm2")
    der = clients.issue_credential(s.world.instance, client_id=client_id, csr_der=csr.build(key, DN(common_name="x")))
    from trust.formats import x509 as cx

    return format(cx.load_certificate(der).serial_number, "x")


def _pdf() -> bytes:
    from seal import samples as pdf_samples

    return pdf_samples.contract_pdf(1)


def _ofd() -> bytes:
    from tests.conftest import shared_file

    return shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()


Request = tuple[str, str, dict[str, Any]]
# route name -> (builds a request about a fresh resource of region A, the callers allowed)
ROUTES: dict[str, tuple[Callable[[Setup], Request], set[str]]] = {
    "POST /ca/enrol": (
        lambda s: ("POST", "/ca/enrol", {"json": {"kind": "region", "code": "320000", "family": "SM2"}}),
        {"operator"},
    ),
    "POST /ca/{ca_id}/rekey": (lambda s: ("POST", "/ca/region-330000-rsa/rekey", {"json": {}}), {"operator"}),
    "POST /certificates": (
        lambda s: (
            "POST",
            "/certificates",
            {
                "json": {
                    "ca_id": "region-330000-sm2",
                    "profile": "seal",
                    "subject": _SEAL_SUBJECT,
                }
            },
        ),
        {"region-a"},
    ),
    "POST /certificates/batch": (  # the CA is authorised for the whole batch, each entry's profile as one issuance
        lambda s: (
            "POST",
            "/certificates/batch",
            {
                "json": {
                    "ca_id": "region-330000-sm2",
                    "requests": [
                        {
                            "request_id": f"authz-batch-{next(_counter)}",
                            "profile": "seal",
                            "subject": _SEAL_SUBJECT,
                        }
                    ],
                }
            },
        ),
        {"region-a"},
    ),
    "POST /certificates/{serial}/revoke": (
        lambda s: ("POST", f"/certificates/{_certificate(s)}/revoke", {"json": {"reason": "superseded"}}),
        {"operator", "region-a"},
    ),
    "POST /federation/entities": (
        lambda s: (
            "POST",
            "/federation/entities",
            {
                "json": {
                    "kind": "openid_relying_party",
                    "region": "330000",
                    "name": "浙江政务服务",
                    "slug": f"svc-{next(_counter)}",
                }
            },
        ),
        {"operator", "region-a"},
    ),
    "POST /federation/entities/withdraw": (
        lambda s: ("POST", "/federation/entities/withdraw", {"json": {"entity_id": _federation_rp(s)}}),
        {"operator"},
    ),
    "POST /federation/trust-marks": (
        lambda s: ("POST", "/federation/trust-marks", {"json": {"entity_id": _zj_op(s, marked=False), "level": 2}}),
        {"operator"},
    ),
    "POST /federation/trust-marks/revoke": (
        lambda s: (
            "POST",
            "/federation/trust-marks/revoke",
            {"json": {"entity_id": _zj_op(s, marked=True), "level": 2}},
        ),
        {"operator"},
    ),
    "POST /trustlist/status": (
        lambda s: ("POST", "/trustlist/status", {"json": {"id": "region-350000", "status": "suspended"}}),
        {"operator"},
    ),
    "POST /license-issuers": (
        lambda s: (
            "POST",
            "/license-issuers",
            {
                "json": {
                    "ca_id": "region-330000-sm2",
                    "name": "浙江省卫生健康委员会",
                    "code": make_uscc(f"1133000000{next(_counter):07d}"),
                    "license_types": [FOOD],
                }
            },
        ),
        {"operator"},
    ),
    "POST /seals": (
        lambda s: (
            "POST",
            "/seals",
            {
                "json": {
                    "ca_id": "region-330000-sm2",
                    "holder_name": "杭州示例科技有限公司",
                    "holder_code": ZJ_ORG_USCC,
                    "seal_name": "财务专用章",
                }
            },
        ),
        {"region-a"},
    ),
    "POST /seals/{es_id}/status": (
        lambda s: ("POST", f"/seals/{_seal(s)}/status", {"json": {"status": "suspended", "reason": "x"}}),
        {"region-a"},
    ),
    "POST /seals/{es_id}/signatures": (
        lambda s: (
            "POST",
            f"/seals/{_seal(s)}/signatures",
            {"json": {"data_hash": "11" * 32, "property_info": "Doc_0/Signs/Sign_0/Signature.xml", "timestamp": False}},
        ),
        {"region-a"},
    ),
    "POST /seals/{es_id}/pdf": (
        lambda s: (
            "POST",
            f"/seals/{_seal(s)}/pdf",
            {"content": _pdf(), "headers": {"content-type": "application/pdf"}},
        ),
        {"region-a"},
    ),
    "POST /seals/{es_id}/ofd": (
        lambda s: (
            "POST",
            f"/seals/{_seal(s)}/ofd",
            {"content": _ofd(), "headers": {"content-type": "application/ofd"}, "params": {"timestamp": "false"}},
        ),
        {"region-a"},
    ),
    "POST /licenses": (
        lambda s: (
            "POST",
            "/licenses",
            {"json": {"issuer_id": s.issuer_id, "type": BUSINESS, "fields": samples.sample(BUSINESS)}},
        ),
        {"region-a", "department-a"},
    ),
    "POST /licenses/{identifier}/status": (
        lambda s: ("POST", f"/licenses/{_license(s)}/status", {"json": {"status": "suspended", "reason": "x"}}),
        {"region-a", "department-a"},
    ),
    "POST /licenses/{identifier}/pdf": (
        lambda s: ("POST", f"/licenses/{_license(s)}/pdf", {}),
        {"region-a", "department-a"},
    ),
    # licence sharing (issue 21): a region's platform requests as a relying service of its own region
    "POST /sharing/lookup": (
        lambda s: (
            "POST",
            "/sharing/lookup",
            {
                "json": {
                    "requester": _federation_rp(s),
                    "purpose": "授权矩阵",
                    "legal_basis": "LB-AUTHZ",
                    "holder_code": ZJ_ORG_USCC,
                    "type": BUSINESS,
                }
            },
        ),
        {"region-a"},
    ),
    "POST /sharing/licenses/{identifier}": (
        lambda s: (
            "POST",
            f"/sharing/licenses/{_license(s)}",
            {"json": {"requester": _federation_rp(s), "purpose": "授权矩阵", "legal_basis": "LB-AUTHZ"}},
        ),
        {"region-a"},
    ),
    "POST /sharing/tickets/{ticket}": (  # a retrieval queued for an offline region, polled by its requester
        lambda s: _ticket(s),
        {"region-a"},
    ),
    "POST /sharing/legacy-entries": (  # a region registers its own legacy system's licence (a signed entry)
        lambda s: ("POST", "/sharing/legacy-entries", {"json": _legacy_entry(s)}),
        {"region-a"},
    ),
    "POST /sharing/legal-bases": (
        lambda s: (
            "POST",
            "/sharing/legal-bases",
            {"json": {"code": f"LB-{next(_counter)}", "description": "法定依据", "license_types": [BUSINESS]}},
        ),
        {"operator"},
    ),
    "POST /licenses/{identifier}/ofd": (
        lambda s: ("POST", f"/licenses/{_license(s)}/ofd", {}),
        {"region-a", "department-a"},
    ),
    "POST /clients": (
        lambda s: (
            "POST",
            "/clients",
            {"json": {"id": f"new-client-{next(_counter)}", "kind": "region", "name": "新平台", "region": "330000"}},
        ),
        {"operator"},
    ),
    "POST /clients/{client_id}/credentials": (
        lambda s: (
            "POST",
            f"/clients/{_client_id(s)}/credentials",
            {"json": {"csr": base64.b64encode(csr.build(generate_private_key("sm2"), DN(common_name="x"))).decode()}},
        ),
        {"operator"},
    ),
    "POST /log/cosignatures": (
        lambda s: ("POST", "/log/cosignatures", {"json": {"checkpoint": _cosigned_checkpoint(s)}}),
        {"region-a"},
    ),
    "POST /clients/{client_id}/status": (
        lambda s: ("POST", f"/clients/{_client_id(s)}/status", {"json": {"status": "disabled"}}),
        {"operator"},
    ),
    "POST /clients/credentials/{serial}/revoke": (
        lambda s: ("POST", f"/clients/credentials/{_credential(s)}/revoke", {}),
        {"operator"},
    ),
}


# Routes about one certificate, seal or licence: a caller who may not see it gets 404, as if it did not exist
# (operators see everything, so they get 403 for what they may not do).
HIDDEN = {
    "POST /certificates/{serial}/revoke",
    "POST /seals/{es_id}/status",
    "POST /seals/{es_id}/signatures",
    "POST /seals/{es_id}/pdf",
    "POST /seals/{es_id}/ofd",
    "POST /licenses/{identifier}/status",
    "POST /licenses/{identifier}/pdf",
    "POST /licenses/{identifier}/ofd",
}


def _headers(s: Setup, caller: str) -> dict[str, str]:
    world = s.world
    by_kind = {
        "operator": "national-ops",
        "region-a": "zj-platform",
        "region-b": "gd-platform",
        "department-a": "zj-amr",
    }
    if caller in by_kind:
        return world.auth(by_kind[caller])
    if caller == "nobody":
        return {}
    if caller == "revoked-platform":
        return world.auth("zj-old")
    if caller == "expired-assertion":
        return world.auth("zj-platform", issued_at=int(__import__("time").time()) - 1000, lifetime=120)
    if caller == "replayed-assertion":
        headers = world.auth("zj-platform")
        used = s.client.get("/seals", params={"ca_id": "region-330000-sm2"}, headers=headers)
        assert used.status_code == 200, used.text
        return headers
    if caller == "other-audience":
        return world.auth("zj-platform", audience="https://another-service.example")
    raise AssertionError(caller)


def _audit_rows(s: Setup) -> int:
    with db.session_scope(s.world.instance.engine) as session:
        return int(session.exec(select(func.count()).select_from(audit.AuditEntry)).one())


@pytest.mark.parametrize("caller", ALLOWED_KINDS + UNAUTHENTICATED)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_matrix(setup: Setup, route: str, caller: str) -> None:
    build, allowed = ROUTES[route]
    method, path, kwargs = build(setup)
    headers = {**kwargs.pop("headers", {}), **_headers(setup, caller)}
    before = audit.head(setup.world.instance.engine)[0]
    response = setup.client.request(method, path, headers=headers, **kwargs)
    if caller in UNAUTHENTICATED:
        assert response.status_code == 401, (route, caller, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] in ("E1400", "E1401", "E1402")
        assert audit.head(setup.world.instance.engine)[0] == before  # nothing changed, nothing written
    elif caller in allowed:
        assert 200 <= response.status_code < 300, (route, caller, response.text)
    else:
        status, code = (404, "E1003") if route in HIDDEN and caller != "operator" else (403, "E1403")
        assert response.status_code == status, (route, caller, response.text)
        assert response.json()["code"] == code
        entries = audit.entries(setup.world.instance.engine, after=before)
        assert [(e.result, e.actor) for e in entries] == [("denied", f"client:{_client_of(caller)}")]


def _client_of(caller: str) -> str:
    return {"operator": "national-ops", "region-a": "zj-platform", "region-b": "gd-platform", "department-a": "zj-amr"}[
        caller
    ]


def test_every_write_route_is_in_the_matrix(setup: Setup) -> None:
    """A new write route must be added to ROUTES (or be public on purpose)."""
    public = {"POST /oauth/token", "POST /verify", "POST /ocsp", "POST /tsa", "POST /tsa/rsa", "POST /tsa/sm2"}
    public |= {"POST /federation/trust-mark-status"}  # answers about a trust mark to anyone (issue 16)
    # holder retrieval: no platform client, a proof of the licence's holder key (tests/trust/http/test_holder_routes.py)
    public |= {"POST /holder/licenses/{identifier}", "POST /holder/licenses/{identifier}/pdf"}
    # licence sharing: the citizen's own routes, authenticated by the ID token of their federation login
    public |= {"POST /sharing/consents", "POST /sharing/consents/{consent_id}/withdraw"}
    public |= {"POST /sharing/citizen/consents", "POST /sharing/citizen/history"}
    public |= {"POST /ofd/render"}  # anonymous, rate-limited like /verify (tests/trust/http/test_verify_ofd.py)
    schema = setup.client.app.openapi()  # type: ignore[attr-defined]
    writes = {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    assert writes - public == set(ROUTES), (writes - public) ^ set(ROUTES)


def test_department_only_for_its_granted_types(setup: Setup) -> None:
    """The trust list grants the department BUSINESS only: FOOD is refused, and so is acting as another issuer."""
    other = licenses.register_issuer(
        setup.world.instance,
        ca_id="region-330000-sm2",
        name="杭州市市场监督管理局",
        code=make_uscc("11330100002482227"),
        license_types=[BUSINESS, FOOD],
    )
    for issuer_id, type_code in ((setup.issuer_id, FOOD), (other.id, BUSINESS)):
        response = setup.client.post(
            "/licenses",
            json={"issuer_id": issuer_id, "type": type_code, "fields": samples.sample(type_code)},
            headers=setup.world.auth("zj-amr"),
        )
        assert response.status_code == 403, response.text
    # the region may use both of its issuers
    for issuer_id, type_code in ((other.id, FOOD), (other.id, BUSINESS)):
        response = setup.client.post(
            "/licenses",
            json={"issuer_id": issuer_id, "type": type_code, "fields": samples.sample(type_code)},
            headers=setup.world.auth("zj-platform"),
        )
        assert response.status_code == 201, response.text


def test_revoking_a_credential_locks_out_its_access_tokens(setup: Setup) -> None:
    platform = setup.world.add_platform("zj-rotating", "region", region="330000")
    token = setup.client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": clients.ASSERTION_TYPE,
            "client_assertion": setup.world.assertion(
                "zj-rotating", audience=clients.audiences(setup.world.instance)[0]
            ),
        },
    )
    assert token.status_code == 200 and token.headers["cache-control"] == "no-store", token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert setup.client.get("/seals", params={"ca_id": "region-330000-sm2"}, headers=bearer).status_code == 200
    ca_service.revoke(
        setup.world.instance, serial=format(platform.certificate.serial_number, "x"), reason="key_compromise"
    )
    locked = setup.client.get("/seals", params={"ca_id": "region-330000-sm2"}, headers=bearer)
    assert locked.status_code == 401 and "revoked" in locked.json()["detail"]


def test_token_endpoint_refusals(setup: Setup) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": clients.ASSERTION_TYPE,
        "client_assertion": setup.world.assertion("zj-platform", audience=clients.audiences(setup.world.instance)[0]),
    }
    for change, status in (
        ({"grant_type": "password"}, 400),
        ({"client_assertion_type": "urn:other"}, 401),
        ({"client_assertion": "not.a.jwt"}, 401),
        ({"client_assertion": setup.world.assertion("zj-platform", lifetime=3600)}, 401),
        ({"client_id": "gd-platform"}, 401),
    ):
        response = setup.client.post("/oauth/token", data={**form, **change})
        assert response.status_code == status, (change, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    wrong_type = setup.client.post("/oauth/token", content=b"{}", headers={"content-type": "application/json"})
    assert wrong_type.status_code == 415
    assert _audit_rows(setup) > 0
    assert audit.verify(setup.world.instance.engine).ok


def test_bearer_forms(setup: Setup, tmp_path: Path) -> None:
    for value in ("Basic abc", "Bearer", "Bearer hrt_unknown", "Bearer x.y", "Bearer " + "a" * 300):
        response = setup.client.get("/seals", params={"ca_id": "region-330000-sm2"}, headers={"Authorization": value})
        assert response.status_code == 401, (value, response.text)
