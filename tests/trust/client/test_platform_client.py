"""The platform client (:class:`trust.client.PlatformClient`) against a real server: the access token from an RFC 7523
assertion and its renewal, a typed call for each issuing route a platform uses, the service's problems as typed
errors, and the retry rules (idempotent calls only, with an ``Idempotency-Key``; 429 for any call), with faults
injected between the client and the server (:mod:`tests.trust.client.faults`)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlmodel import delete, select

from licenses import samples
from licenses.models import LicenseRecord
from seal import samples as pdf_samples
from tests.support.sdk import BUSINESS, SM2_CA, ZJ_ORG_USCC, Sdk
from tests.support.world import PlatformKey
from tests.trust.client.faults import Faulty
from trust import db
from trust.client import License, PlatformClient, ProblemError, RetryPolicy, ServiceUnreachable, Subject
from trust.crypto import jwk
from trust.crypto.errors import Code, InputError
from trust.crypto.keys import generate_private_key
from trust.formats import csr, ses, tsp
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import clients
from trust.service import trust as trust_service


def faulty_client(
    sdk: Sdk, plan: dict[tuple[str, str], list[str]], who: str = "zj-platform"
) -> tuple[PlatformClient, Faulty, list[float]]:
    transport = Faulty(plan)
    waits: list[float] = []
    made: PlatformKey = sdk.world.platforms[who]
    client = PlatformClient(
        sdk.url,
        signer=made.key.signer(),
        chain=[bytes(made.certificate.dump())],
        http=httpx.Client(transport=transport, timeout=60),
        retry=RetryPolicy(attempts=3, backoff=0.01),
        sleep=waits.append,
    )
    return client, transport, waits


@pytest.fixture
def platform(sdk: Sdk) -> Iterator[PlatformClient]:
    with sdk.platform() as client:
        yield client


# --- the access token -------------------------------------------------------------------------------------------


def test_the_token_is_kept_and_renewed_before_it_expires(sdk: Sdk, platform: PlatformClient) -> None:
    first = platform.token()
    assert first.access_token.startswith("hrt_") and first.expires_in == 300
    assert platform.token() is first  # kept while enough of its life is left
    assert first.access_token not in repr(first)  # a credential is never in a repr
    platform._token = first.model_copy(update={"expires_at": datetime.now(UTC) + timedelta(seconds=30)})
    second = platform.token()  # 30 s left of 300: less than the 60 s margin, so a new one
    assert second.access_token != first.access_token
    assert clients.authenticate(sdk.world.instance, second.access_token).client_id == "zj-platform"


def test_a_token_the_service_no_longer_knows_is_replaced_once(sdk: Sdk) -> None:
    client, transport, _waits = faulty_client(sdk, {})
    issued_license = sdk.issue()
    client.token()
    with db.session_scope(sdk.world.instance.engine) as session:  # the service forgets every token (a restore, say)
        session.execute(delete(clients.AccessToken))
    assert client.license(issued_license.identifier).identifier == issued_license.identifier
    assert len(transport.to("POST", "/oauth/token")) == 2
    assert len(transport.to("GET", "/licenses/")) == 2  # refused (401 E1400), then sent again with the new token


def test_a_disabled_platform_gets_the_refusal_not_a_loop(sdk: Sdk) -> None:
    sdk.world.add_platform("zj-disabled", "region", region="330000")
    client, transport, _waits = faulty_client(sdk, {}, who="zj-disabled")
    client.token()
    clients.set_client_status(sdk.world.instance, "zj-disabled", "disabled")
    with pytest.raises(ProblemError) as caught:
        client.seals(ca_id=SM2_CA)
    assert caught.value.status == 401 and caught.value.code is Code.INVALID_CLIENT
    assert len(transport.to("POST", "/oauth/token")) == 2 and len(transport.to("GET", "/seals")) == 1


def test_the_key_must_be_the_certificates(sdk: Sdk) -> None:
    made = sdk.world.platforms["zj-platform"]
    with pytest.raises(InputError) as caught:
        PlatformClient(sdk.url, signer=generate_private_key("sm2").signer(), chain=[bytes(made.certificate.dump())])
    assert caught.value.code is Code.KEY_MISMATCH


def test_the_token_request_is_retried_with_a_fresh_assertion(sdk: Sdk) -> None:
    client, transport, waits = faulty_client(sdk, {("POST", "/oauth/token"): ["503"]})
    client.fetch_token()
    sent = transport.to("POST", "/oauth/token")
    assertions = [dict(httpx.QueryParams(s.body.decode()))["client_assertion"] for s in sent]
    assert len(assertions) == 2 and assertions[0] != assertions[1] and len(waits) == 1


# --- typed calls -------------------------------------------------------------------------------------------------


def test_certificates(platform: PlatformClient) -> None:
    own = generate_private_key("sm2")
    request = csr.build(own, DN(common_name="api.zj.gov.cn"), pem=True)
    subject = Subject(common_name="api.zj.gov.cn", organization="浙江省政务服务平台", province="浙江省")
    made = platform.issue_certificate(SM2_CA, "tls-server", subject, csr=request, dns_names=["api.zj.gov.cn"])
    assert made.profile == "tls-server" and made.key_id is None and made.status == "valid"
    assert cx.public_key(cx.load_certificate(made.certificate_pem.encode())) == own.public_key
    assert platform.certificate(made.serial) == made.model_copy(update={"chain_pem": []})  # one certificate, no chain
    assert made.serial in {c.serial for c in platform.certificates(ca_id=SM2_CA, limit=500)}
    kept = platform.issue_certificate(
        SM2_CA,
        "seal",
        {
            "common_name": "合同专用章",
            "organization": "杭州示例科技有限公司",
            "province": "浙江省",
            "serial_number": ZJ_ORG_USCC,
        },
    )
    assert kept.key_id and kept.chain_pem


def test_seals_sealed_pdfs_and_signatures(platform: PlatformClient) -> None:
    made = platform.create_seal(
        SM2_CA, holder_name="杭州示例科技有限公司", holder_code=ZJ_ORG_USCC, seal_name="合同专用章"
    )
    assert made.status == "active" and ses.parse_seal(made.seal_der).es_id == made.es_id
    assert platform.seal(made.es_id) == made
    assert made.es_id in {s.es_id for s in platform.seals(ca_id=SM2_CA, holder_code=ZJ_ORG_USCC)}
    document = pdf_samples.contract_pdf()
    sealed = platform.seal_pdf(made.es_id, document, level="B-T", page=1, box=pdf_samples.SEAL_BOX)
    assert sealed.startswith(document)  # an incremental update of the input
    signatures = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    assert len(signatures) == 1
    record = ses.parse_signature(
        platform.ses_signature(made.es_id, property_info="Doc_0/Signs/Sign_0/Signature.xml", data=b"data")
    )
    assert record.property_info == "Doc_0/Signs/Sign_0/Signature.xml"


def test_licenses(sdk: Sdk, platform: PlatformClient) -> None:
    holder = generate_private_key("ec-p256")
    fields = samples.sample(BUSINESS)
    issued = platform.issue_license(sdk.issuer_id, BUSINESS, fields, holder_jwk=jwk.public_jwk(holder.public_key))
    assert isinstance(issued, License) and issued.status == "valid" and issued.qr and issued.qr.startswith("HR1:")
    assert issued.sd_jwt.count("~") == len(fields) + 1  # every field disclosable
    fetched = platform.license(issued.identifier)
    assert (fetched.token, fetched.sd_jwt) == (issued.token, issued.sd_jwt)
    assert platform.license_token(issued.identifier) == issued.token
    assert platform.license_pdf(issued.identifier).startswith(b"%PDF-")
    assert platform.suspend_license(issued.identifier, "年报未公示").status == "suspended"
    assert platform.reinstate_license(issued.identifier).status == "valid"
    assert platform.revoke_license(issued.identifier, "注销").status == "revoked"


def test_time_stamps_and_public_artefacts(sdk: Sdk, platform: PlatformClient) -> None:
    for family in ("RSA", "SM2"):
        answer = platform.timestamp_data(b"to be time-stamped", family=family)
        assert tsp.response_status(answer).granted
    refused = platform.timestamp(b"not a query")
    assert not tsp.response_status(refused).granted  # RFC 3161 carries the refusal: a response, not an error
    bundle = json.loads(platform.bundle())
    assert bundle["signatures"] and json.loads(base64.urlsafe_b64decode(bundle["payload"] + "==="))
    assert json.loads(platform.trust_list())["signatures"]
    assert platform.roots() == trust_service.root_fingerprints(sdk.world.instance)


# --- problems ------------------------------------------------------------------------------------------------------


def test_problems_are_typed_errors_with_the_services_code(sdk: Sdk, platform: PlatformClient) -> None:
    with pytest.raises(ProblemError) as caught:
        platform.license("1.2.156.3005.2.11100000000013338W101.11330000002482226F.20269999999.001.X")
    problem = caught.value
    # another region's licence (or none at all) is answered as missing: no existence probe (docs/SECURITY.md)
    assert (problem.status, problem.code, problem.problem_code) == (404, Code.NOT_FOUND, "E1003")
    assert problem.request_id and len(problem.request_id) == 32
    assert problem.diagnostics().startswith("E1003 not-found: ")
    assert f"request id {problem.request_id}" in problem.diagnostics()
    with sdk.platform("national-ops") as operator, pytest.raises(ProblemError) as unknown:
        operator.license("no-such-licence")
    assert (unknown.value.status, unknown.value.code) == (404, Code.NOT_FOUND)
    with pytest.raises(ProblemError) as invalid:
        platform.issue_license(sdk.issuer_id, "short", {})
    assert invalid.value.status == 422 and invalid.value.evidence["errors"]
    with sdk.platform("zj-amr") as department, pytest.raises(ProblemError) as denied:
        department.create_seal(SM2_CA, holder_name="杭州示例科技有限公司", holder_code=ZJ_ORG_USCC)
    assert denied.value.code is Code.FORBIDDEN


def test_an_unreachable_service_is_an_environment_error(sdk: Sdk) -> None:
    made = sdk.world.platforms["zj-platform"]
    client = PlatformClient(
        "http://127.0.0.1:9",
        signer=made.key.signer(),
        chain=[bytes(made.certificate.dump())],
        retry=RetryPolicy(attempts=2, backoff=0.01),
    )
    with pytest.raises(ServiceUnreachable) as caught:
        client.roots()
    assert caught.value.code is Code.UNAVAILABLE and "after 2 attempt(s)" in caught.value.message


# --- retries -----------------------------------------------------------------------------------------------------


def _licenses_of(sdk: Sdk, request_id: str) -> list[str]:
    with db.session_scope(sdk.world.instance.engine, read_only=True) as session:
        rows = session.exec(select(LicenseRecord).where(LicenseRecord.request_id == request_id)).all()
        return [r.identifier for r in rows]


def test_a_lost_answer_to_an_issuing_call_is_retried_with_its_idempotency_key(sdk: Sdk) -> None:
    client, transport, waits = faulty_client(sdk, {("POST", "/licenses"): ["lose-answer"]})
    issued = client.issue_license(sdk.issuer_id, BUSINESS, samples.sample(BUSINESS))
    sent = transport.to("POST", "/licenses")
    keys = {s.headers["idempotency-key"] for s in sent}
    assert len(sent) == 2 and len(keys) == 1 and len(waits) == 1  # the same request, sent again
    assert _licenses_of(sdk, f"zj-platform/{keys.pop()}") == [issued.identifier]  # and only one licence


def test_the_callers_idempotency_key_returns_the_first_license(sdk: Sdk, platform: PlatformClient) -> None:
    first = platform.issue_license(sdk.issuer_id, BUSINESS, samples.sample(BUSINESS), idempotency_key="zj-2026-0001")
    again = platform.issue_license(sdk.issuer_id, BUSINESS, samples.sample(BUSINESS), idempotency_key="zj-2026-0001")
    assert again.identifier == first.identifier
    assert _licenses_of(sdk, "zj-platform/zj-2026-0001") == [first.identifier]


def test_calls_that_are_not_idempotent_are_not_retried(sdk: Sdk) -> None:
    issued_license = sdk.issue()
    seal_id = sdk.platform().create_seal(SM2_CA, holder_name="杭州示例科技有限公司", holder_code=ZJ_ORG_USCC).es_id
    client, transport, waits = faulty_client(
        sdk, {("POST", f"/licenses/{issued_license.identifier}/status"): ["503"], ("POST", "/seals/"): ["lose-answer"]}
    )
    with pytest.raises(ProblemError) as caught:
        client.suspend_license(issued_license.identifier)
    status_path = f"/licenses/{issued_license.identifier}/status"
    assert caught.value.status == 503 and len(transport.to("POST", status_path)) == 1
    with pytest.raises(ServiceUnreachable):
        client.seal_pdf(seal_id, pdf_samples.contract_pdf())
    assert len(transport.to("POST", f"/seals/{seal_id}/pdf")) == 1 and waits == []


def test_429_is_retried_for_any_call_after_retry_after(sdk: Sdk) -> None:
    issued_license = sdk.issue()
    path = f"/licenses/{issued_license.identifier}/status"
    client, transport, waits = faulty_client(sdk, {("POST", path): ["429:2"]})
    assert client.suspend_license(issued_license.identifier).status == "suspended"
    assert waits == [2] and len(transport.to("POST", path)) == 2
    client, transport, waits = faulty_client(sdk, {("POST", path): ["429:120"]})
    with pytest.raises(ProblemError) as caught:  # longer than the policy's longest wait: the caller decides
        client.reinstate_license(issued_license.identifier)
    assert caught.value.code is Code.RATE_LIMITED and caught.value.retry_after == 120 and waits == []


def test_reads_are_retried_until_the_attempts_are_spent(sdk: Sdk) -> None:
    issued_license = sdk.issue()
    path = f"/licenses/{issued_license.identifier}"
    client, transport, waits = faulty_client(sdk, {("GET", path): ["refuse", "503"]})
    assert client.license(issued_license.identifier).identifier == issued_license.identifier
    assert len(transport.to("GET", path)) == 3 and len(waits) == 2
    client, transport, waits = faulty_client(sdk, {("GET", path): ["refuse", "refuse", "refuse"]})
    with pytest.raises(ServiceUnreachable):
        client.license(issued_license.identifier)
    assert len(transport.to("GET", path)) == 3
