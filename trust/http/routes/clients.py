"""The token endpoint (RFC 6749 client credentials with an RFC 7523 client assertion), platform client
management for national operators, and the audit log."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from trust.crypto.errors import AuthenticationError, Code, InputError
from trust.http import pagination, problems
from trust.http.auth import Client, allow, anonymous_limit, client_address, guarded_authentication, limiter
from trust.http.bodies import StrictJsonRoute
from trust.service import audit, clients
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["clients and audit"], route_class=StrictJsonRoute)
MAX_FORM_BYTES = 64 * 1024


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the RFC 6749 token type, not a secret
    expires_in: int

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "access_token": "hrt_4Qz7p0Vw3mXc9sLk2dRf8yTb6nHj1aGe5uIo0WqZx3E",
                    "token_type": "Bearer",
                    "expires_in": 300,
                }
            ]
        }
    }


def _client_id_field(fields: dict[str, str]) -> str | None:
    value = fields.get("client_id")
    return value if value is not None and clients.CLIENT_ID.fullmatch(value) else None


@router.post(
    "/oauth/token",
    summary="Exchange a client assertion (RFC 7523 private_key_jwt) for an access token",
    response_model=TokenResponse,
    dependencies=[Depends(anonymous_limit)],
    responses={
        200: {
            "description": "An opaque bearer token (RFC 6749 clause 5.1)",
            "headers": {"Cache-Control": {"required": True, "schema": {"type": "string", "enum": ["no-store"]}}},
        },
        **problems.responses(400, 401, 413, 415, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "client_assertion_type", "client_assertion"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "client_assertion_type": {"type": "string", "enum": [clients.ASSERTION_TYPE]},
                            "client_assertion": {"type": "string", "maxLength": 65536},
                            "client_id": {"type": "string"},
                            "scope": {"type": "string"},
                        },
                    },
                    "example": {
                        "grant_type": "client_credentials",
                        "client_assertion_type": clients.ASSERTION_TYPE,
                        "client_assertion": "eyJhbGciOiJTTTIiLCJ0eXAiOiJKV1QiLCJ4NWMiOlsiTUlJQi4uLiJdfQ"
                        ".eyJpc3MiOiJ6ai1wbGF0Zm9ybSJ9.MEUCIQ",
                    },
                }
            },
        }
    },
)
async def token(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return problems.problem_response(
            request, Code.USAGE, "the token request is a form (application/x-www-form-urlencoded)", status=415
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError(f"token request of {len(body)} bytes exceeds {MAX_FORM_BYTES}", code=Code.INPUT_TOO_LARGE)
    try:
        form = parse_qs(body.decode("ascii"), strict_parsing=True, keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise InputError("token request is not a valid form") from None
    if any(len(values) != 1 for values in form.values()):
        raise InputError("token request repeats a parameter (RFC 6749 clause 3.2)")
    fields = {k: v[0] for k, v in form.items()}
    if fields.get("grant_type") != "client_credentials":
        raise InputError("grant_type must be client_credentials", evidence={"error": "unsupported_grant_type"})
    assertion = fields.get("client_assertion", "")
    instance = _instance(request)
    claimed = clients.claimed_client_id(assertion) or _client_id_field(fields)

    def authenticate() -> clients.Principal:
        if fields.get("client_assertion_type") != clients.ASSERTION_TYPE:
            raise AuthenticationError(
                f"client_assertion_type must be {clients.ASSERTION_TYPE}",
                code=Code.INVALID_CLIENT,
                evidence={"error": "invalid_client"},
            )
        principal = clients.verify_assertion(instance, assertion)
        if "client_id" in fields and fields["client_id"] != principal.client_id:
            raise AuthenticationError("client_id does not match the assertion", code=Code.INVALID_CLIENT)
        return principal

    principal = await run_in_threadpool(
        guarded_authentication, limiter(request), client_address(request), claimed, authenticate
    )
    value, lifetime = await run_in_threadpool(clients.issue_token, instance, principal)
    return Response(
        TokenResponse(access_token=value, expires_in=lifetime).model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


# --- client management (operators) ------------------------------------------------------------------------------


class ClientCreate(BaseModel):
    id: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{2,63}$", examples=["zj-platform"])
    kind: Literal["operator", "region", "department"]
    name: str = Field(min_length=1, max_length=128, examples=["浙江省政务服务平台"])
    region: str | None = Field(default=None, pattern=r"^[1-9][0-9]{5}$", examples=["330000"])
    license_issuer_id: str | None = Field(default=None, max_length=64)

    model_config = {
        "json_schema_extra": {
            "examples": [{"id": "js-platform", "kind": "region", "name": "江苏省政务服务平台", "region": "320000"}]
        }
    }


class CredentialOut(BaseModel):
    serial: str
    fingerprint: str
    status: str


class ClientOut(BaseModel):
    id: str
    kind: str
    name: str
    region: str | None
    license_issuer_id: str | None
    status: str
    credentials: list[CredentialOut] = Field(default_factory=list)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "zj-platform",
                    "kind": "region",
                    "name": "浙江省政务服务平台",
                    "region": "330000",
                    "license_issuer_id": None,
                    "status": "active",
                    "credentials": [
                        {
                            "serial": "3e1f5a7c9b0d2e4f6a8c0b1d3e5f7a9c",
                            "fingerprint": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
                            "status": "active",
                        }
                    ],
                }
            ]
        }
    }


def _client_out(client: clients.PlatformClient, credentials: list[clients.PlatformCredential]) -> ClientOut:
    return ClientOut(
        id=client.id,
        kind=client.kind,
        name=client.name,
        region=client.region,
        license_issuer_id=client.license_issuer_id,
        status=client.status,
        credentials=[CredentialOut(serial=c.serial, fingerprint=c.fingerprint, status=c.status) for c in credentials],
    )


@router.post(
    "/clients",
    status_code=201,
    summary="Register a platform client (operators)",
    response_model=ClientOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def add_client(body: ClientCreate, request: Request, principal: Client) -> ClientOut:
    allow(request, principal, Action.CLIENT_MANAGE)
    made = clients.add_client(
        _instance(request),
        client_id=body.id,
        kind=body.kind,
        name=body.name,
        region=body.region,
        license_issuer_id=body.license_issuer_id,
    )
    return _client_out(made, [])


@router.get(
    "/clients",
    summary="List platform clients (operators), by id",
    response_model=list[ClientOut],
    responses={**pagination.page_doc("One page of clients"), **problems.responses(*problems.AUTHENTICATED)},
)
def list_clients(
    request: Request,
    response: Response,
    principal: Client,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    offset: pagination.Offset = 0,
) -> list[ClientOut]:
    allow(request, principal, Action.CLIENT_MANAGE)
    everyone = clients.list_clients(_instance(request))  # a few hundred platforms at most: paged here
    pagination.link_next(response, request, more=len(everyone) > offset + limit, limit=limit, offset=offset + limit)
    return [_client_out(c, creds) for c, creds in everyone[offset : offset + limit]]


class CredentialRequest(BaseModel):
    csr: str = Field(description="PKCS#10 request of the platform's key, base64 DER or PEM", max_length=65536)
    family: Literal["SM2", "RSA"] = "SM2"

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIHXMH4CAQAwHDEaMBgGA1UEAwwRanMtcGxhdGZvcm0…\n"
                    "-----END CERTIFICATE REQUEST-----\n",
                    "family": "SM2",
                }
            ]
        }
    }


class CredentialIssued(BaseModel):
    certificate: str = Field(description="The platform credential certificate, base64 DER")

    model_config = {
        "json_schema_extra": {"examples": [{"certificate": "MIIB9DCCAZqgAwIBAgIUPh9afJsNLk9qjAsdPl96nA=="}]}
    }


@router.post(
    "/clients/{client_id}/credentials",
    status_code=201,
    summary="Certify a platform client's key (tls-client profile, national CA)",
    response_model=CredentialIssued,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def add_credential(client_id: str, body: CredentialRequest, request: Request, principal: Client) -> CredentialIssued:
    allow(request, principal, Action.CLIENT_MANAGE)
    raw = body.csr.encode()
    if not raw.lstrip().startswith(b"-----BEGIN"):
        try:
            raw = base64.b64decode(raw, validate=True)
        except ValueError:
            raise InputError("csr must be base64 DER or PEM") from None
    der = clients.issue_credential(_instance(request), client_id=client_id, csr_der=raw, family=body.family)
    return CredentialIssued(certificate=base64.b64encode(der).decode())


class ClientStatus(BaseModel):
    status: Literal["active", "disabled"]

    model_config = {"json_schema_extra": {"examples": [{"status": "disabled"}]}}


@router.post(
    "/clients/{client_id}/status",
    summary="Disable or re-enable a client (operators)",
    response_model=ClientOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404),
)
def set_status(client_id: str, body: ClientStatus, request: Request, principal: Client) -> ClientOut:
    allow(request, principal, Action.CLIENT_MANAGE)
    made = clients.set_client_status(_instance(request), client_id, body.status)
    return _client_out(made, [])


@router.post(
    "/clients/credentials/{serial}/revoke",
    status_code=204,
    summary="Revoke a platform credential: the platform is locked out at once",
    response_class=Response,
    responses=problems.responses(*problems.AUTHENTICATED, 404, 409),
)
def revoke_credential(serial: str, request: Request, principal: Client) -> Response:
    allow(request, principal, Action.CLIENT_MANAGE)
    clients.revoke_credential(_instance(request), serial=serial)
    return Response(status_code=204)


# --- audit ------------------------------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    request_id: str | None = Field(description="The server's own id of the request (its X-Request-ID answer)")
    client_request_id: str | None = Field(default=None, description="The X-Request-ID the client sent, if any")
    result: str
    details: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null on the last page")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "entries": [
                        {
                            "seq": 41,
                            "at": "2026-03-01T08:00:00+00:00",
                            "actor": "client:zj-platform",
                            "action": "seal.create",
                            "subject": "seal:330000202611260001",
                            "request_id": "6f1d0c3a9b2e4c7d8e5f4a3b2c1d0e9f",
                            "client_request_id": "zj-batch-2026-03-01-0042",
                            "result": "ok",
                            "details": "{}",
                            "hash": "b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6",
                        }
                    ],
                    "next_after": 41,
                }
            ]
        }
    }


@router.get(
    "/audit",
    summary="Audit log entries (operators), oldest first",
    response_model=AuditPage,
    responses={
        **pagination.page_doc("One page of entries; the Link names the next page as next_after does"),
        **problems.responses(*problems.AUTHENTICATED),
    },
)
def audit_entries(
    request: Request,
    response: Response,
    principal: Client,
    after: Annotated[int, Query(ge=0, le=pagination.MAX_OFFSET, description="Entries after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    subject: Annotated[str | None, Query(max_length=256, examples=["seal:330000202611260001"])] = None,
) -> AuditPage:
    allow(request, principal, Action.CLIENT_MANAGE)
    rows = audit.entries(_instance(request).engine, subject=subject, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = rows[-1].seq if more and rows else None
    if next_after is not None:
        pagination.link_next(response, request, more=True, after=next_after)
    return AuditPage(
        entries=[AuditEntryOut(**{k: getattr(r, k) for k in AuditEntryOut.model_fields}) for r in rows],
        next_after=next_after,
    )


class AuditCheck(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    first_bad: int | None
    problem: str
    published_seq: int | None = Field(
        default=None, description="The latest audit head published in a signed trust list that the chain contains"
    )
    published_in: str = Field(default="", description="Where that head was published")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "ok": True,
                    "entries": 412,
                    "head_seq": 412,
                    "first_bad": None,
                    "problem": "",
                    "published_seq": 407,
                    "published_in": "trust list 31 (database)",
                }
            ]
        }
    }


@router.get(
    "/audit/verify",
    summary="Recompute the audit hash chain and compare it with the head in the latest trust list (operators)",
    response_model=AuditCheck,
    responses=problems.responses(*problems.AUTHENTICATED),
)
def audit_verify(request: Request, principal: Client) -> AuditCheck:
    allow(request, principal, Action.CLIENT_MANAGE)
    instance = _instance(request)
    result = audit.check(instance.engine, published_file=instance.settings.published_dir / "trustlist.json")
    return AuditCheck(**result.__dict__)
