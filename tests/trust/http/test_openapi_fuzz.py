"""Schemathesis against the app's own OpenAPI document: every operation, three callers, a few thousand requests.

The document is loaded from the ASGI app (``/openapi.json``) and every operation is exercised with schemathesis's
examples, coverage (boundary values, missing parameters, undeclared methods) and fuzzing phases, positive and
negative data, deterministically (fixed seed, derandomised Hypothesis). Each operation runs three times: as an
anonymous caller, as a regional platform (``zj-platform``, 330000) and as the national operator (``national-ops``).
Authenticated runs sign a fresh RFC 7523 client assertion for every request (assertions are single-use).

To get past "no such resource", a share of the generated path and body identifiers are real ones of the world
(CA ids, seals, certificates, licences, clients, a valid OCSP GET path); resources whose state a request may
change (a seal's status, a certificate's revocation) are separate from the ones other operations use. Binary
bodies — OCSP and time-stamp queries, PDFs to seal — are random bytes, valid objects, and valid objects with
truncations, bit flips and trailing garbage.

Checks on every response:

* ``not_a_server_error`` — never a 5xx;
* ``problem_details`` (below) — every 4xx/5xx is RFC 9457 ``application/problem+json`` with ``type``, ``title``,
  ``status`` (equal to the HTTP status), ``detail`` and ``code``; 401 carries ``WWW-Authenticate: Bearer``, 405
  ``Allow``, 429 ``Retry-After``; a 5xx says nothing but the request id;
* schemathesis's conformance checks — ``status_code_conformance`` (the status is documented),
  ``content_type_conformance``, ``response_schema_conformance``, ``response_headers_conformance`` (documented
  required headers such as ``ETag``/``Cache-Control`` on artefacts, ``WWW-Authenticate`` on 401);
* ``negative_data_rejection`` (schema-invalid requests are refused with a 4xx), ``positive_data_acceptance``
  (see its configuration below), ``missing_required_header``, ``unsupported_method`` (405 with ``Allow``) and
  ``ignored_auth`` (a secured operation that answered 2xx refuses the same request without credentials).

Checks not run, and why: ``use_after_free``, ``ensure_resource_availability`` and ``object_level_authorization``
need schemathesis's stateful phase (request chains linked by OpenAPI links), which this API does not declare; the
authorisation matrix (``test_authz.py``) covers cross-client access instead. ``max_response_time`` is timing, not
correctness. ``allow_header_conformance`` only judges OPTIONS answers, which the app does not serve.
"""

from __future__ import annotations

import base64
import collections
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from asn1crypto import ocsp as asn1_ocsp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckContext, CheckFunction
from schemathesis.specs.openapi import checks as openapi_checks

from licenses import samples
from seal import samples as pdf_samples
from tests.conftest import VENDOR
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust.crypto.keys import generate_private_key
from trust.formats import csr, ocsp
from trust.formats import tsp as ca_tsa
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as ca_service
from trust.service import clients, licenses, seals
from trust.service.seals import sealing, signing

pytestmark = pytest.mark.slow

SEED = 20260307
MAX_EXAMPLES = 6  # fuzzing-phase examples per operation and caller (examples and coverage phases come on top)
MIN_REQUESTS = {"anonymous": 600, "zj-platform": 1400, "national-ops": 1400}  # fails if generation collapses
CALLERS = ("anonymous", "zj-platform", "national-ops")
BUSINESS = "11100000000013338W101"
ZJ_AUTHORITY = make_uscc("11330000002482226")

# Seeds of the binary bodies; filled by the world fixture before any case is drawn (the strategies are deferred).
BINARY_SEEDS: dict[str, list[bytes]] = {"ocsp": [], "tsa": [], "pdf": [], "csr": [], "objects": [], "ofd": []}


def _mutated(kind: str) -> st.SearchStrategy[bytes]:
    """Random bytes, a valid object, or a valid object truncated, bit-flipped or with trailing garbage."""
    seed = st.deferred(lambda: st.sampled_from(BINARY_SEEDS[kind]))

    def truncate(args: tuple[bytes, int]) -> bytes:
        data, at = args
        return data[: at % max(1, len(data))]

    def flip(args: tuple[bytes, list[tuple[int, int]]]) -> bytes:
        data, changes = args
        buffer = bytearray(data)
        for position, mask in changes:
            buffer[position % len(buffer)] ^= mask
        return bytes(buffer)

    flips = st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), min_size=1, max_size=8)
    return st.one_of(  # the valid object first: Hypothesis leans to the earlier branches
        seed,
        st.tuples(seed, flips).map(flip),
        st.tuples(seed, st.integers(min_value=0, max_value=1 << 20)).map(truncate),
        st.tuples(seed, st.binary(min_size=1, max_size=512)).map(lambda args: args[0] + args[1]),
        st.binary(max_size=4096),
    )


schemathesis.openapi.media_type("application/ocsp-request", _mutated("ocsp"))
schemathesis.openapi.media_type("application/timestamp-query", _mutated("tsa"))
schemathesis.openapi.media_type("application/pdf", _mutated("pdf"))
schemathesis.openapi.media_type("application/ofd", _mutated("ofd"))

# --- the problem-details check -------------------------------------------------------------------------------------

_CODE = re.compile(r"^E[0-9]{4}$")


def _header(response: schemathesis.Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


@schemathesis.check
def problem_details(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every error is an RFC 9457 problem with Huren's members, and carries the headers its status needs."""
    status = response.status_code
    if status < 400:
        return None
    media_type = (_header(response, "content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != "application/problem+json":
        raise AssertionError(f"{status} answered as {media_type or 'no content type'}, not application/problem+json")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{status} problem body is not JSON: {response.content[:200]!r}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"{status} problem body is not a JSON object")
    for member, kind in (("type", str), ("title", str), ("status", int), ("detail", str), ("code", str)):
        if not isinstance(body.get(member), kind) or body.get(member) in ("", None):
            raise AssertionError(f"{status} problem lacks a {kind.__name__} {member!r}: {body}")
    if body["status"] != status:
        raise AssertionError(f"problem status {body['status']} differs from the HTTP status {status}")
    if not body["type"].startswith("urn:huren:error:") or not _CODE.match(body["code"]):
        raise AssertionError(f"problem type/code not Huren's: {body['type']} {body['code']}")
    if status == 401 and not (_header(response, "www-authenticate") or "").startswith("Bearer"):
        raise AssertionError("401 without WWW-Authenticate: Bearer")
    if status == 405 and not _header(response, "allow"):
        raise AssertionError("405 without Allow")
    if status == 429 and not (_header(response, "retry-after") or "").isdigit():
        raise AssertionError("429 without Retry-After")
    if status >= 500 and ("evidence" in body or "quote request id" not in body["detail"]):
        raise AssertionError(f"a 5xx problem must carry nothing but the request id: {body}")
    return None


@schemathesis.check
def protocol_answers(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """OCSP and TSA answer inside their protocols; a sealed PDF is an incremental update of the PDF sent; a licence
    PDF is a PDF."""
    if response.status_code != 200:
        return None
    path = case.operation.path
    if path.startswith("/ocsp"):
        answer = asn1_ocsp.OCSPResponse.load(response.content, strict=True)
        status = answer["response_status"].native
        if not case.body and case.method == "POST" and status != "malformed_request":
            raise AssertionError(f"an empty OCSP request was answered {status}, not malformed_request")
    elif path.startswith("/tsa"):
        answer = ca_tsa.TimeStampResp.load(response.content, strict=True)
        answer["status"]["status"].native  # noqa: B018 - parses the PKIStatusInfo
    elif path == "/seals/{es_id}/pdf" and not (isinstance(case.body, bytes) and response.content.startswith(case.body)):
        raise AssertionError("the sealed PDF does not start with the PDF that was sent")
    elif path == "/licenses/{identifier}/pdf" and not response.content.startswith(b"%PDF-"):
        raise AssertionError("the licence PDF is not a PDF")
    return None


CHECKS = [
    protocol_answers,
    schemathesis.checks.not_a_server_error,
    problem_details,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.positive_data_acceptance,
    openapi_checks.missing_required_header,
    openapi_checks.unsupported_method,
    openapi_checks.ignored_auth,
]

# --- the world ----------------------------------------------------------------------------------------------------


@dataclass
class Fuzz:
    world: World
    app: Any
    ids: dict[str, list[Any]]
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: dict[str, collections.Counter[int]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )


def _seal(world: World, name: str) -> str:
    made = seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name=name,
        dual=True,
    )
    return made.es_id


def _certificate(world: World) -> tuple[str, Any]:
    result = ca_service.issue(
        world.instance,
        ca_id="region-330000-sm2",
        profile="seal",
        subject=DN(province="浙江省", organization="杭州示例科技有限公司", common_name="章", serial_number=ZJ_ORG_USCC),
    )
    return result.record.serial, result.certificate


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Fuzz:
    world = copy_world(world_template, tmp_path_factory.mktemp("fuzz") / "home")
    instance = world.instance
    # Rate limits off: thousands of requests from one client would otherwise be answered 429 (tested elsewhere).
    instance.settings = instance.settings.model_copy(update={"rate_limit": 0, "anonymous_rate_limit": 0})
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省市场监督管理局", code=ZJ_AUTHORITY, license_types=[BUSINESS]
    )

    def license() -> Any:
        return licenses.issue(instance, issuer_id=issuer.id, type_code=BUSINESS, fields=samples.sample(BUSINESS)).record

    read_serial, read_cert = _certificate(world)
    clients.add_client(instance, client_id="fuzz-target", kind="region", name="被测平台", region="330000")
    credential = clients.issue_credential(
        instance, client_id="fuzz-target", csr_der=csr.build(generate_private_key("sm2"), DN(common_name="fuzz"))
    )
    use_seal = _seal(world, "合同专用章")
    use_license = license()
    contract = pdf_samples.contract_pdf(1)
    issuer_cert = cx.load_certificate(ca_service.ca_certificate_der(instance, "region-330000-sm2"))
    cert_id = ocsp.CertId.for_certificate(issuer_cert, read_cert.serial_number)
    ocsp_request = ocsp.build_request([cert_id])
    BINARY_SEEDS["ocsp"][:] = [ocsp_request, ocsp.build_request([cert_id], nonce=b"0123456789abcdef")]
    BINARY_SEEDS["tsa"][:] = [ca_tsa.build_request(b"huren"), ca_tsa.build_request(b"x", nonce=7, cert_req=False)]
    BINARY_SEEDS["pdf"][:] = [contract, pdf_samples.contract_pdf(2, signature_line="甲方（盖章）")]
    BINARY_SEEDS["ofd"][:] = [
        (VENDOR / "ofd" / "ofdrw-converter-helloworld.ofd").read_bytes(),
        (VENDOR / "ofd" / "ofdrw-sign-v4signed.ofd").read_bytes(),
    ]
    BINARY_SEEDS["csr"][:] = [
        csr.build(generate_private_key("sm2"), DN(common_name="平台")),
        csr.build(generate_private_key("rsa-2048"), DN(organization="杭州示例科技有限公司", common_name="x")),
    ]
    BINARY_SEEDS["objects"][:] = [
        read_cert.dump(),
        seals.get(instance, use_seal).seal_der,
        signing.sign_hash(
            instance, es_id=use_seal, data_hash=bytes(32), data=None, property_info="fuzz", timestamp=False
        ),
        sealing.seal_document(instance, contract, es_id=use_seal, page=1, box=(400.0, 60.0, 520.0, 180.0)),
        use_license.token.encode(),
        use_license.sd_jwt.encode(),
    ]
    ids: dict[str, list[Any]] = {
        "cas": ["region-330000-sm2", "region-330000-rsa", "region-440000-sm2", "national-sm2", "national-rsa"],
        "use_seals": [use_seal],
        "managed_seals": [_seal(world, "财务专用章"), _seal(world, "发票专用章")],
        "read_certs": [read_serial],
        "revoke_certs": [_certificate(world)[0], _certificate(world)[0]],
        "use_licences": [use_license.identifier],
        "managed_licences": [license().identifier, license().identifier],
        "issuers": [issuer.id],
        "types": [BUSINESS],
        "numbers": [1],
        "target_clients": ["fuzz-target"],
        "credentials": [format(cx.load_certificate(credential).serial_number, "x")],
        "ocsp_paths": [base64.b64encode(ocsp_request).decode()],
    }
    return Fuzz(world=world, app=create_app(instance), ids=ids)


# --- deeper bodies --------------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(der: bytes) -> str:
    return (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(der).decode()
        + "-----END CERTIFICATE REQUEST-----\n"
    )


def _license_fields() -> st.SearchStrategy[dict[str, Any]]:
    """The catalogue's sample fields, as they are or with one field replaced by an odd value."""
    odd = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.text(max_size=300), st.just("x" * 5000))
    sample = samples.sample(BUSINESS)
    replaced = st.tuples(st.sampled_from(sorted(sample)), odd).map(lambda kv: {**sample, kv[0]: kv[1]})
    return st.one_of(st.just(sample), replaced)


def _short(value: Any) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= 4096)


def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Put real and mutated objects where the schema only says "string": verifier input, CSRs, licence fields,
    data to sign. A value is replaced only where it already has the documented type and is short, so a negative
    case stays negative (the negated part is never the one replaced)."""
    label = context.operation.label if context.operation is not None else ""
    if not isinstance(body, dict):
        return st.just(body)
    if label == "POST /verify" and isinstance(body.get("input"), str):
        return _mutated("objects").map(lambda data: {**body, "input": _b64(data)})
    if label in ("POST /certificates", "POST /ca/enrol") and _short(body.get("csr")):
        return st.one_of(st.just(body), _mutated("csr").map(lambda der: {**body, "csr": _pem(der)}))
    if label == "POST /clients/{client_id}/credentials" and _short(body.get("csr")):
        return _mutated("csr").map(lambda der: {**body, "csr": _b64(der)})
    if label == "POST /licenses" and isinstance(body.get("fields"), dict):
        return _license_fields().map(lambda fields: {**body, "fields": fields})
    if label == "POST /seals/{es_id}/signatures" and _short(body.get("data")) and body.get("data") is not None:
        return st.binary(max_size=2048).map(lambda data: {**body, "data": _b64(data)})
    return st.just(body)


# operation -> {parameter: (dictionary of real values, probability of drawing from it)}
BINDINGS: dict[str, dict[str, tuple[str, float]]] = {
    "GET /ca/{ca_id}.cer": {"path.ca_id": ("cas", 0.5)},
    "GET /ca/{ca_id}.pem": {"path.ca_id": ("cas", 0.5)},
    "GET /crl/{ca_id}.crl": {"path.ca_id": ("cas", 0.5)},
    "GET /crl/{ca_id}/{shard}.crl": {"path.ca_id": ("cas", 0.5)},
    "GET /crl/{ca_id}/{shard}.delta.crl": {"path.ca_id": ("cas", 0.5)},
    "POST /certificates": {"body.ca_id": ("cas", 0.7)},
    "POST /certificates/batch": {"body.ca_id": ("cas", 0.7)},
    "GET /certificates": {"query.ca_id": ("cas", 0.7)},
    "GET /certificates/{serial}": {"path.serial": ("read_certs", 0.5)},
    "POST /certificates/{serial}/revoke": {"path.serial": ("revoke_certs", 0.5)},
    "GET /ocsp/{request_b64}": {"path.request_b64": ("ocsp_paths", 0.5)},
    "POST /seals": {"body.ca_id": ("cas", 0.7)},
    "GET /seals": {"query.ca_id": ("cas", 0.7)},
    "GET /seals/{es_id}.esl": {"path.es_id": ("use_seals", 0.5)},
    "GET /seals/{es_id}": {"path.es_id": ("use_seals", 0.5)},
    "POST /seals/{es_id}/signatures": {"path.es_id": ("use_seals", 0.8)},
    "POST /seals/{es_id}/pdf": {"path.es_id": ("use_seals", 0.9)},
    "POST /seals/{es_id}/status": {"path.es_id": ("managed_seals", 0.5)},
    "POST /license-issuers": {"body.ca_id": ("cas", 0.7)},
    "POST /licenses": {"body.issuer_id": ("issuers", 0.8), "body.type": ("types", 0.8)},
    "GET /licenses/{identifier}": {"path.identifier": ("use_licences", 0.5)},
    "POST /licenses/{identifier}/status": {"path.identifier": ("managed_licences", 0.5)},
    "POST /licenses/{identifier}/pdf": {"path.identifier": ("use_licences", 0.5)},
    "GET /statuslists/{issuer_id}/{number}": {"path.issuer_id": ("issuers", 0.8), "path.number": ("numbers", 0.8)},
    "POST /clients/{client_id}/credentials": {"path.client_id": ("target_clients", 0.5)},
    "POST /clients/{client_id}/status": {"path.client_id": ("target_clients", 0.5)},
    "POST /clients/credentials/{serial}/revoke": {"path.serial": ("credentials", 0.5)},
}
# Where the parsers are: more fuzzing examples, all positive (the coverage phase already sends the boundary and
# schema-violating variants of these operations), so the bodies reach the PDF, DER and JOSE parsers.
DEEP = {
    "POST /seals/{es_id}/pdf": 20,
    "POST /verify": 15,
    "POST /ocsp": 10,
    "POST /tsa": 10,
    "POST /certificates": 10,
    "POST /licenses": 10,
    "POST /clients/{client_id}/credentials": 8,
    "POST /seals/{es_id}/signatures": 8,
}


def _labels(fuzz: Fuzz, *, secured: bool | None = None) -> set[str]:
    """Operation labels of the document (``secured``: only those that do / do not declare security)."""
    document = fuzz.app.openapi()
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if secured is None or bool(operation.get("security")) == secured
    }


def _secured(fuzz: Fuzz) -> set[str]:
    return _labels(fuzz, secured=True)


ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429"]
"""Statuses a schema-valid request may get (``positive_data_acceptance``, below)."""


def _config(fuzz: Fuzz, caller: str) -> schemathesis.Config:
    """Seeded; examples, coverage and fuzzing phases; positive and negative data; real ids for a share of draws."""
    operations: dict[str, dict[str, Any]] = {}
    for label, bindings in BINDINGS.items():
        operations.setdefault(label, {})["parameters"] = {
            key: {"dictionary": dictionary, "probability": probability}
            for key, (dictionary, probability) in bindings.items()
        }
    for label, examples in DEEP.items():
        operations.setdefault(label, {})["phases"] = {
            "fuzzing": {"generation": {"max-examples": examples, "mode": "positive"}}
        }
    # Each accepted request renders and seals a licence PDF (about a second): a few fuzzed ones are enough, the
    # coverage phase still sends every boundary and missing-parameter variant.
    operations.setdefault("POST /licenses/{identifier}/pdf", {})["phases"] = {
        "fuzzing": {"generation": {"max-examples": 5}}
    }
    # A certificate batch over the instance's TRUST_MAX_BATCH_CERTIFICATES (500; a setting below the schema's ceiling
    # of 1000 entries) is refused as too large before any work: a 413 for a schema-valid request there only.
    operations.setdefault("POST /certificates/batch", {})["checks"] = {
        "positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "413"]}
    }
    secured = _secured(fuzz)
    if caller == "anonymous":
        # Without credentials a secured operation answers 401 whatever the rest of the request is: its examples
        # and a few fuzzed requests (garbage bearer values included) check the 401 problem; the other two callers
        # run the coverage phase and the full fuzzing budget against it.
        for label in secured:
            operations.setdefault(label, {}).update(
                {"generation": {"max-examples": 3}, "phases": {"coverage": {"enabled": False}}}
            )
    else:
        # Public operations ignore credentials (none are generated for them): the anonymous run covers them.
        for label in _labels(fuzz) - secured:
            operations.setdefault(label, {})["enabled"] = False
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                # JSON Schema cannot say "a DER certificate request", "a region code that exists" or "licence
                # fields the catalogue accepts": schema-valid requests that are semantically wrong are answered
                # with a specific 400 or 422 problem, which is the documented behaviour. The rest of the check's
                # default list stays, except 5xx: a 415, 405, 413 or 5xx for a schema-valid request still fails.
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
                # The default list plus 413: a value over a documented size limit (the token form's assertion)
                # is refused as Content Too Large, which is a rejection like 400.
                "negative_data_rejection": {
                    "expected-statuses": [
                        *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429")
                    ]
                },
            },
            "dictionaries": {name: {"values": values} for name, values in fuzz.ids.items()},
            "operations": [{"include-name": label, **settings} for label, settings in operations.items()],
        }
    )


@pytest.fixture(params=CALLERS)
def caller(request: pytest.FixtureRequest) -> str:
    caller_id: str = request.param
    return caller_id


@pytest.fixture
def fuzz_schema(request: pytest.FixtureRequest, fuzz: Fuzz, caller: str) -> Iterator[Any]:
    if not hasattr(request.node, "_nodeid"):
        # schemathesis 4.32's lazy-schema runner reads and rewrites ``Node._nodeid`` (for its per-operation report
        # names); pytest 9.2 no longer has that attribute. Giving the item one is all the runner needs.
        request.node._nodeid = request.node.nodeid
    loaded = schemathesis.openapi.from_asgi("/openapi.json", fuzz.app, config=_config(fuzz, caller))
    loaded.hook(flatmap_body)
    yield loaded
    made = fuzz.requests[caller]
    print(f"\nfuzz as {caller}: {made} requests, statuses {dict(sorted(fuzz.statuses[caller].items()))}")
    assert made >= MIN_REQUESTS[caller], f"only {made} requests as {caller}"


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_openapi_fuzz(case: schemathesis.Case, fuzz: Fuzz, caller: str) -> None:
    # Credentials go where schemathesis put a (generated, meaningless) bearer value; a case without one is a
    # deliberate "no credentials" case (coverage phase, negative data) and is sent as it is.
    sends_auth = caller != "anonymous" and any(name.lower() == "authorization" for name in case.headers or {})
    headers = fuzz.world.auth(caller) if sends_auth else None
    excluded: list[CheckFunction] = []
    if case.operation.path.startswith("/ocsp"):
        # RFC 6960 protocol errors are answered inside a 200 OCSPResponse (malformedRequest), by design and as
        # OpenSSL's responder does (trust/http/routes/ocsp.py): a schema-invalid OCSP request is not refused with
        # a 4xx. ``protocol_answers`` checks those 200s instead.
        excluded.append(openapi_checks.negative_data_rejection)
    if case.operation.path == "/verify":
        # GET /verify is the verifier page (HTML for people, docs/WEB.md), deliberately not in the API description:
        # the "undeclared method answers 405" check does not hold for it. Every other method still gets 405.
        excluded.append(openapi_checks.unsupported_method)
    fuzz.requests[caller] += 1
    response = case.call_and_validate(headers=headers, checks=CHECKS, excluded_checks=excluded)
    fuzz.statuses[caller][response.status_code] += 1
