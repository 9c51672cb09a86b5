"""HTTP skeleton: health, readiness, and RFC 9457 problem details on every error path."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trust.crypto.errors import Code, InvalidSignature, TrustError
from trust.http.app import create_app
from trust.http.problems import PROBLEM_JSON, STATUS, status_for
from trust.service.instance import Instance
from trust.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    instance = Instance(Settings(home=tmp_path, max_request_bytes=2048))
    instance.prepare_storage()
    app = create_app(instance)

    @app.get("/boom/trust")
    def boom_trust() -> None:
        raise InvalidSignature("signature does not verify", evidence={"expected": "a", "found": "b"})

    @app.get("/boom/bug")
    def boom_bug() -> None:
        raise RuntimeError("secret internal detail")

    @app.post("/echo")
    def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    return TestClient(app, raise_server_exceptions=False)


def _is_problem(response, status: int, code: Code) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["type"] == code.type_uri
    assert body["code"] == code.label
    assert body["title"] and body["detail"]
    return body


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/healthz").headers["X-Request-ID"]


def test_trust_error_becomes_problem(client: TestClient) -> None:
    body = _is_problem(client.get("/boom/trust"), 422, Code.INVALID_SIGNATURE)
    assert body["evidence"] == {"expected": "a", "found": "b"}
    assert body["detail"] == "signature does not verify"


def test_unexpected_error_hides_internals(client: TestClient) -> None:
    response = client.get("/boom/bug", headers={"X-Request-ID": "abc-123"})
    body = _is_problem(response, 500, Code.INTERNAL)
    assert "secret" not in response.text
    assert body["request_id"] == response.headers["X-Request-ID"] != "abc-123"  # the server's own id
    assert response.headers["X-Client-Request-ID"] == "abc-123"


def test_unknown_route_and_method(client: TestClient) -> None:
    _is_problem(client.get("/nope"), 404, Code.NOT_FOUND)
    _is_problem(client.delete("/healthz"), 405, Code.USAGE)


def test_validation_error(client: TestClient) -> None:
    body = _is_problem(client.post("/echo", json={"a": "not an int"}), 422, Code.INVALID_INPUT)
    assert body["evidence"]["errors"]
    _is_problem(
        client.post("/echo", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        Code.INVALID_INPUT,
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": 1, "a": 2}', "member 'a' twice"),  # the standard library's reader kept the last one
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1e999}', "too large for a double"),
    ],
)
def test_json_bodies_are_read_strictly(client: TestClient, body: bytes, reason: str) -> None:
    """Request bodies go through the same strict JSON reader as the CLI's files (``trust.http.bodies``)."""
    response = client.post("/echo", content=body, headers={"content-type": "application/json"})
    problem = _is_problem(response, 422, Code.INVALID_INPUT)
    assert reason in problem["evidence"]["errors"][0]["msg"]
    assert client.post("/echo", content=b'{"a": 1, "b": 2}', headers={"content-type": "application/json"}).json() == {
        "a": 1,
        "b": 2,
    }


def test_body_limit(client: TestClient) -> None:
    _is_problem(
        client.post("/echo", content=b"x" * 5000, headers={"content-type": "application/json"}),
        413,
        Code.INPUT_TOO_LARGE,
    )

    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    _is_problem(
        client.post("/echo", content=chunks(), headers={"content-type": "application/json"}), 413, Code.INPUT_TOO_LARGE
    )


def test_every_category_has_a_status() -> None:
    for code in Code:
        assert STATUS[code] >= 400
        assert isinstance(TrustError("x", code=code).code.type_uri, str)


# The HTTP status of every code, pinned: the mapping lives only in trust.http.problems (issue 14: the error root
# carries neutral categories), and moving it there changed no status.
PINNED_STATUS = {
    "INVALID_INPUT": 400,
    "MALFORMED_ENCODING": 400,
    "INPUT_TOO_LARGE": 413,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "CONFIGURATION": 500,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
    "USAGE": 400,
    "UNSUPPORTED_ALGORITHM": 422,
    "INVALID_KEY": 400,
    "WEAK_KEY": 400,
    "INVALID_SIGNATURE": 422,
    "MALFORMED_SIGNATURE": 422,
    "KEY_MISMATCH": 400,
    "DECRYPTION_FAILED": 422,
    "INVALID_PARAMETER": 400,
    "CRYPTO_BACKEND": 503,
    "KEYSTORE_PASSPHRASE_MISSING": 500,
    "KEYSTORE_WRONG_PASSPHRASE": 500,
    "KEYSTORE_KEY_NOT_FOUND": 404,
    "KEYSTORE_KEY_EXISTS": 409,
    "KEYSTORE_CORRUPT": 503,
    "KEYSTORE_INSECURE": 500,
    "KEYSTORE_TOKEN_MISSING": 503,
    "KEYSTORE_TOKEN_PIN": 500,
    "KEYSTORE_TOKEN_KEY_MISSING": 503,
    "KEYSTORE_TOKEN_UNAVAILABLE": 503,
    "ROOT_OFFLINE": 409,
    "REKEY_TOKEN_MISMATCH": 500,
    "REKEY_NOT_ON_TOKEN": 400,
    "CEREMONY_REQUEST_INVALID": 400,
    "CEREMONY_RESPONSE_INVALID": 400,
    "DISCLOSURE_INVALID": 422,
    "KEY_BINDING_FAILED": 422,
    "UNAUTHENTICATED": 401,
    "INVALID_CLIENT": 401,
    "ASSERTION_REPLAYED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "ENTITY_STATEMENT_INVALID": 400,
    "TRUST_CHAIN_INVALID": 422,
    "TRUST_CHAIN_EXPIRED": 422,
    "TRUST_CHAIN_NOT_FOUND": 422,
    "METADATA_POLICY_INVALID": 422,
    "METADATA_POLICY_VIOLATION": 422,
    "TRUST_MARK_INVALID": 422,
    "ENTITY_WITHDRAWN": 422,
    "ID_TOKEN_INVALID": 422,
    "ACR_INSUFFICIENT": 422,
    "OIDC_INVALID_REQUEST": 400,
    "LOGIN_FAILED": 401,
    "CONSENT_MISSING": 403,
    "CONSENT_OUT_OF_SCOPE": 403,
    "CONSENT_EXPIRED": 403,
    "CONSENT_REVOKED": 403,
    "REQUESTER_WITHDRAWN": 403,
    "SHARING_QUOTA_EXCEEDED": 429,
    "DIRECTORY_ENTRY_INVALID": 422,
    "DIRECTORY_ENTRY_FOREIGN": 403,
    "RETRIEVAL_EXPIRED": 409,
    "OFD_PACKAGE_INVALID": 400,
    "OFD_XML_INVALID": 400,
    "LOG_MALFORMED": 400,
    "LOG_PROOF_INVALID": 422,
    "LOG_INCONSISTENT": 422,
    "LOG_SIGNATURE_INVALID": 422,
    "LOG_ENTRY_NOT_FOUND": 404,
    "LOG_NOT_PROVEN": 422,
    "LOG_STALE": 422,
    "LOG_COSIGNATURE_MISSING": 400,
}


def test_status_of_every_code_is_pinned() -> None:
    assert {code.name: status_for(code) for code in Code} == PINNED_STATUS


def test_codes_are_unique_and_stable() -> None:
    numbers = [c.number for c in Code]
    slugs = [c.slug for c in Code]
    assert len(set(numbers)) == len(numbers)
    assert len(set(slugs)) == len(slugs)
    # Pinned: these numbers are public and must never change.
    assert Code.INVALID_SIGNATURE.number == 1103
    assert Code.KEYSTORE_WRONG_PASSPHRASE.number == 1201


BINARY_MEDIA = ("application/pdf", "application/octet-stream", "application/ocsp-request", "application/ocsp-response")


def _has_example(node: object, schemas: dict, seen: frozenset[str] = frozenset()) -> bool:
    """An ``example``/``examples`` in ``node`` or in a component schema it references (followed once each)."""
    if isinstance(node, dict):
        if "example" in node or "examples" in node:
            return True
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and _has_example(schemas.get(name), schemas, seen | {name}):
                return True
        return any(_has_example(value, schemas, seen) for value in node.values())
    if isinstance(node, list):
        return any(_has_example(value, schemas, seen) for value in node)
    return False


def test_openapi_documents_every_operation_with_examples(tmp_path: Path) -> None:
    """Every operation has a summary, documents its problem responses, and shows an example of every textual
    request and success body (binary protocol bodies — PDF, DER OCSP and time-stamp messages — excepted)."""
    document = TestClient(create_app(Instance(Settings(home=tmp_path)))).get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            if not operation.get("summary"):
                missing.append(f"{label}: summary")
            errors = [status for status in operation["responses"] if status.startswith(("4", "5"))]
            if not errors:
                missing.append(f"{label}: no documented error response")
            bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
            bodies += [
                (f"response {status}", response.get("content", {}))
                for status, response in operation["responses"].items()
                if status.startswith("2")
            ]
            for what, content in bodies:
                for media, entry in content.items():
                    binary = (
                        media in BINARY_MEDIA
                        or "timestamp" in media
                        or entry.get("schema", {}).get("format") == "binary"
                    )
                    if not binary and not _has_example(entry, schemas):
                        missing.append(f"{label}: {what} {media} has no example")
    assert missing == []
