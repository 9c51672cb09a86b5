"""Holder retrieval (``POST /holder/licenses/{identifier}`` and ``…/pdf``): a holder fetches the licence bound to
their key with a single-use proof; an unknown licence, a licence without a holder key and a licence bound to another
key get one and the same refusal; replays, proofs for another licence or service and garbage are refused before any
licence is looked at; every decision after the proof's signature is audited; the route spends the per-address rate
limit."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from licenses import samples
from tests.support.sdk import BUSINESS, SM2_CA, ZJ_AUTHORITY
from tests.support.world import PASSPHRASE, World, copy_world
from trust import db
from trust.crypto import jwk
from trust.crypto.keys import PrivateKey, generate_private_key
from trust.formats import holder_proof
from trust.formats.names import make_uscc
from trust.http.app import create_app
from trust.service import audit, licenses
from trust.service.instance import Instance

GD_AUTHORITY = make_uscc("11440000006940051")  # 广东省市场监督管理局


@dataclass
class Setup:
    world: World
    http: TestClient
    issuer_id: str
    audience: str

    def license(self, holder: PrivateKey | None) -> str:
        return licenses.issue(
            self.world.instance,
            issuer_id=self.issuer_id,
            type_code=BUSINESS,
            fields=samples.sample(BUSINESS),
            holder_jwk=jwk.public_jwk(holder.public_key) if holder is not None else None,
        ).record.identifier

    def proof(self, key: PrivateKey, identifier: str, **options: Any) -> str:
        options.setdefault("audience", self.audience)
        return holder_proof.build(key.signer(), identifier=identifier, **options)

    def fetch(self, key: PrivateKey, identifier: str, *, pdf: bool = False, **options: Any) -> Any:
        path = f"/holder/licenses/{identifier}" + ("/pdf" if pdf else "")
        return self.http.post(path, json={"proof": self.proof(key, identifier, **options)})


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[Setup]:
    world = copy_world(world_template, tmp_path_factory.mktemp("holder") / "home")
    instance = world.instance
    instance.settings = instance.settings.model_copy(update={"anonymous_rate_limit": 0})
    issuer = licenses.register_issuer(
        instance, ca_id=SM2_CA, name="浙江省市场监督管理局", code=ZJ_AUTHORITY, license_types=[BUSINESS]
    )
    with TestClient(create_app(instance), raise_server_exceptions=False) as http:
        yield Setup(world, http, issuer.id, instance.settings.effective_public_url)


def _entries(setup: Setup, identifier: str) -> list[audit.AuditEntry]:
    return [
        e
        for e in audit.entries(setup.world.instance.engine, subject=f"license:{identifier}", limit=1000)
        if e.action == "license.holder-retrieve"
    ]


def test_the_holder_fetches_the_license_bound_to_their_key(setup: Setup) -> None:
    holder = generate_private_key("ec-p256")
    identifier = setup.license(holder)
    answer = setup.fetch(holder, identifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    record = licenses.get(setup.world.instance, identifier)
    assert (body["identifier"], body["token"], body["sd_jwt"], body["status"]) == (
        identifier,
        record.token,
        record.sd_jwt,
        "valid",
    )
    assert body["qr"].startswith("HR1:")
    [entry] = _entries(setup, identifier)
    assert (entry.result, entry.actor) == ("ok", f"holder:{jwk.thumbprint(holder.public_key)}")
    assert entry.request_id == answer.headers["x-request-id"]


def test_an_sm2_holder_key_works_too(setup: Setup) -> None:
    holder = generate_private_key("sm2")
    identifier = setup.license(holder)
    assert setup.fetch(holder, identifier).status_code == 200


def _shape(answer: Any, identifier: str) -> tuple[int, dict[str, Any], list[str]]:
    """What a refusal tells: status, the problem with the identifier asked for and the request id left out, and the
    headers it carries."""
    body = json.loads(answer.text.replace(identifier, "<identifier>"))
    body.pop("request_id")
    skip = {"x-request-id", "content-length", "date"}
    return answer.status_code, body, sorted(k for k in answer.headers if k not in skip)


def test_unknown_unbound_and_another_keys_license_are_refused_alike(setup: Setup) -> None:
    holder, stranger = generate_private_key("ec-p256"), generate_private_key("ec-p256")
    bound, unbound = setup.license(holder), setup.license(None)
    unknown = re.sub(r"\d{7}\.001", "9999999.001", bound)
    answers = {
        "another key": (setup.fetch(stranger, bound), bound),
        "no holder key": (setup.fetch(stranger, unbound), unbound),
        "unknown licence": (setup.fetch(stranger, unknown), unknown),
    }
    shapes = {reason: _shape(answer, identifier) for reason, (answer, identifier) in answers.items()}
    assert len({json.dumps(shape, sort_keys=True) for shape in shapes.values()}) == 1, shapes
    status, problem, _headers = shapes["unknown licence"]
    assert (status, problem["code"]) == (403, "E1403")
    assert problem["detail"] == "no licence <identifier> bound to the key of this proof"
    for reason, (_answer, identifier) in answers.items():  # the audit log knows which it was
        [entry] = _entries(setup, identifier)
        assert entry.result == "denied" and json.loads(entry.details)["reason"] == reason
        assert entry.actor == f"holder:{jwk.thumbprint(stranger.public_key)}"
    for pdf_answer in (setup.fetch(stranger, bound, pdf=True), setup.fetch(stranger, unknown, pdf=True)):
        assert pdf_answer.status_code == 403 and pdf_answer.json()["code"] == "E1403"


def test_a_proof_is_accepted_once(setup: Setup) -> None:
    holder = generate_private_key("ec-p256")
    identifier = setup.license(holder)
    proof = setup.proof(holder, identifier)
    assert setup.http.post(f"/holder/licenses/{identifier}", json={"proof": proof}).status_code == 200
    again = setup.http.post(f"/holder/licenses/{identifier}", json={"proof": proof})
    assert again.status_code == 401 and again.json()["code"] == "E1402"
    assert again.headers["www-authenticate"].startswith("Bearer")
    # the replay check comes before the licence is looked up: a replay for an unknown licence says replay too
    unknown = identifier[:-5] + "9.001." + identifier[-1]
    stale = setup.proof(holder, unknown)
    assert setup.http.post(f"/holder/licenses/{unknown}", json={"proof": stale}).status_code == 403
    assert setup.http.post(f"/holder/licenses/{unknown}", json={"proof": stale}).json()["code"] == "E1402"


def test_proofs_for_another_license_service_or_moment_are_refused_unaudited(setup: Setup) -> None:
    holder = generate_private_key("ec-p256")
    first, second = setup.license(holder), setup.license(holder)
    cases: dict[str, dict[str, Any]] = {
        "sub must be": {"json": {"proof": setup.proof(holder, first)}, "path": second},
        "not for this service": {"json": {"proof": setup.proof(holder, first, audience="https://x.example")}},
        "expired": {"json": {"proof": setup.proof(holder, first, issued_at=1_700_000_000)}},
        "lifetime": {"json": {"proof": setup.proof(holder, first, lifetime=3600)}},
        "not a compact JWS": {"json": {"proof": "garbage"}},
    }
    for reason, case in cases.items():
        path = case.get("path", first)
        answer = setup.http.post(f"/holder/licenses/{path}", json=case["json"])
        assert answer.status_code == 401, (reason, answer.text)
        assert answer.json()["code"] == "E1400" and reason in answer.json()["detail"]
    assert _entries(setup, first) == [] and _entries(setup, second) == []


def test_malformed_requests_are_problems(setup: Setup) -> None:
    for body in ({}, {"proof": ""}, {"proof": "x" * (16 * 1024 + 1)}, {"proof": 5}, [1]):
        answer = setup.http.post("/holder/licenses/x", json=body)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json", body
    answer = setup.http.post("/holder/licenses/x", content=b"\xff", headers={"content-type": "application/json"})
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"


def test_the_holder_gets_the_sealed_pdf(setup: Setup) -> None:
    holder = generate_private_key("ec-p256")
    identifier = setup.license(holder)
    answer = setup.fetch(holder, identifier, pdf=True)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-") and answer.headers["cache-control"] == "no-store"
    [entry] = _entries(setup, identifier)
    assert (entry.result, json.loads(entry.details)["form"]) == ("ok", "pdf")
    licenses.set_status(setup.world.instance, identifier, "suspended", "核查中")
    suspended = setup.fetch(holder, identifier, pdf=True)
    assert suspended.status_code == 409 and suspended.json()["code"] == "E1004"
    assert setup.fetch(holder, identifier).json()["status"] == "suspended"  # the token and SD-JWT still come


def test_sealing_for_a_holder_is_audited_as_theirs(setup: Setup) -> None:
    """The first PDF of an authority makes its seal: that change is the holder's request's."""
    from seal.models import SealRecord

    other = licenses.register_issuer(
        setup.world.instance,
        ca_id="region-440000-sm2",
        name="广东省市场监督管理局",
        code=GD_AUTHORITY,
        license_types=[BUSINESS],
    )
    holder = generate_private_key("ec-p256")
    identifier = licenses.issue(
        setup.world.instance,
        issuer_id=other.id,
        type_code=BUSINESS,
        fields=samples.sample(BUSINESS),
        holder_jwk=jwk.public_jwk(holder.public_key),
    ).record.identifier
    answer = setup.fetch(holder, identifier, pdf=True)
    assert answer.status_code == 200, answer.text
    with db.session_scope(setup.world.instance.engine, read_only=True) as session:
        seal = session.exec(select(SealRecord).where(SealRecord.holder_code == GD_AUTHORITY)).one()
    made = audit.entries(setup.world.instance.engine, subject=f"seal:{seal.es_id}", limit=10)
    assert made and {e.actor for e in made} == {f"holder:{jwk.thumbprint(holder.public_key)}"}


def test_the_route_spends_the_per_address_limit(setup: Setup) -> None:
    settings = setup.world.instance.settings.model_copy(
        update={"anonymous_rate_limit": 6}
    )  # 6 a minute (moving window)
    limited = Instance(settings, passphrase=PASSPHRASE)
    holder = generate_private_key("ec-p256")
    with TestClient(create_app(limited), raise_server_exceptions=False) as http:
        statuses = [http.post("/holder/licenses/x", json={"proof": "garbage"}).status_code for _ in range(8)]
        assert statuses[:6] == [401] * 6 and statuses[6] == 429
        refused = http.post("/holder/licenses/x", json={"proof": setup.proof(holder, "x")})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
