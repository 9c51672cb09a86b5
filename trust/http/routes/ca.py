"""CA routes: CA certificates and CRLs (public), enrolment, issuance, revocation.

Thin: each handler validates the request shape (pydantic), calls one ``trust.service.ca`` function and
renders the result. Enrolment and issuance are unauthenticated until the service issue adds platform
authentication (``docs/ARCHITECTURE.md``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from ca import x509 as cx
from ca.crl import load_crl
from ca.models import utc
from ca.names import DN
from trust.crypto.errors import InputError
from trust.http.auth import Client, IdempotencyKey, allow, request_id_for
from trust.service import ca as service
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["certificate authority"])

PKIX_CERT = "application/pkix-cert"
PKIX_CRL = "application/pkix-crl"


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _cached(request: Request, body: bytes, media_type: str, max_age: int) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


class CAInfo(BaseModel):
    id: str
    kind: str
    code: str | None
    name: str
    family: str
    status: str
    parent_id: str | None
    subject: str
    fingerprint: str = Field(description="SHA-256 of the DER certificate")
    not_after: str
    key_held_by_huren: bool


def _ca_info(ca: Any) -> CAInfo:
    cert = cx.load_certificate(ca.cert_der)
    from ca.names import name_text

    return CAInfo(
        id=ca.id,
        kind=ca.kind,
        code=ca.code,
        name=ca.name,
        family=ca.family,
        status=ca.status,
        parent_id=ca.parent_id,
        subject=name_text(cert.subject),
        fingerprint=cx.fingerprint(cert),
        not_after=cert["tbs_certificate"]["validity"]["not_after"].native.isoformat(),
        key_held_by_huren=ca.key_id is not None,
    )


@router.get("/ca", summary="List certificate authorities", response_model=list[CAInfo])
def list_cas(request: Request) -> list[CAInfo]:
    return [_ca_info(ca) for ca in service.list_cas(_instance(request))]


@router.get(
    "/ca/{ca_id}.cer",
    summary="CA certificate (DER)",
    response_class=Response,
    responses={200: {"content": {PKIX_CERT: {}}}},
)
def ca_certificate(ca_id: str, request: Request) -> Response:
    return _cached(request, service.ca_certificate_der(_instance(request), ca_id), PKIX_CERT, 86400)


@router.get(
    "/ca/{ca_id}.pem",
    summary="CA certificate (PEM)",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
def ca_certificate_pem(ca_id: str, request: Request) -> Response:
    der = service.ca_certificate_der(_instance(request), ca_id)
    return _cached(request, cx.certificate_pem(cx.load_certificate(der)), "application/x-pem-file", 86400)


@router.get(
    "/crl/{ca_id}.crl",
    summary="Current CRL of a CA (DER)",
    response_class=Response,
    responses={200: {"content": {PKIX_CRL: {}}}},
)
def crl(ca_id: str, request: Request) -> Response:
    der = service.current_crl_der(_instance(request), ca_id)
    load_crl(der)
    return _cached(request, der, PKIX_CRL, 300)


class EnrolRequest(BaseModel):
    kind: Literal["region", "department"]
    code: str = Field(
        description="GB/T 2260 region code or the department's unified social credit code", examples=["330000"]
    )
    family: Literal["SM2", "RSA"] = "SM2"
    organization: str | None = Field(default=None, description="Organisation name (required for departments)")
    name: str | None = Field(default=None, description="CA common name; derived from the region by default")
    csr: str | None = Field(default=None, description="PEM PKCS#10 request; absent: Huren generates the key")

    model_config = {"json_schema_extra": {"examples": [{"kind": "region", "code": "330000", "family": "SM2"}]}}


class CertificateOut(BaseModel):
    serial: str
    profile: str
    issuer_id: str
    subject: str
    status: str
    not_before: str
    not_after: str
    fingerprint: str
    key_id: str | None = Field(default=None, description="Key store id when Huren generated and holds the key")
    certificate_pem: str
    chain_pem: list[str] = Field(default_factory=list, description="Issuer chain, nearest first")
    revocation_reason: str | None = None


class EnrolResponse(BaseModel):
    ca: CAInfo
    certificate_pem: str
    chain_pem: list[str]


@router.post("/ca/enrol", status_code=201, summary="Enrol a regional or departmental CA", response_model=EnrolResponse)
def enrol(body: EnrolRequest, request: Request, principal: Client) -> EnrolResponse:
    allow(request, principal, Action.CA_ENROL)
    instance = _instance(request)
    created = service.enrol(
        instance,
        kind=body.kind,
        code=body.code,
        family=body.family,
        csr_data=body.csr.encode() if body.csr else None,
        name=body.name,
        organization=body.organization,
    )
    chain = service.chain_for(instance, created.id)
    return EnrolResponse(
        ca=_ca_info(created),
        certificate_pem=cx.certificate_pem(chain[0]).decode(),
        chain_pem=[cx.certificate_pem(c).decode() for c in chain[1:]],
    )


class SubjectIn(BaseModel):
    common_name: str = Field(examples=["合同专用章"])
    organization: str | None = Field(default=None, examples=["杭州示例科技有限公司"])
    unit: str | None = None
    province: str | None = Field(default=None, examples=["浙江省"])
    locality: str | None = None
    serial_number: str | None = Field(
        default=None, description="USCC or citizen ID number, as the profile needs", examples=["91330106MA2CFXXX0J"]
    )
    country: str = "CN"

    def to_dn(self) -> DN:
        return DN(
            country=self.country,
            province=self.province,
            locality=self.locality,
            organization=self.organization,
            unit=self.unit,
            common_name=self.common_name,
            serial_number=self.serial_number,
        )


class IssueRequest(BaseModel):
    ca_id: str = Field(examples=["region-330000-sm2"])
    profile: str = Field(examples=["seal"])
    subject: SubjectIn
    csr: str | None = Field(default=None, description="PEM PKCS#10; absent: Huren generates and keeps the key")
    key_family: Literal["SM2", "RSA", "EC"] = "SM2"
    validity_days: int | None = Field(default=None, ge=1, le=3650)
    dns_names: list[str] = Field(default_factory=list, max_length=100)
    uris: list[str] = Field(default_factory=list, max_length=100)
    request_id: str | None = Field(default=None, max_length=128, description="Idempotency key")


def _certificate_out(record: Any, chain: list[Any] | None = None) -> CertificateOut:
    cert = cx.load_certificate(record.der)
    return CertificateOut(
        serial=record.serial,
        profile=record.profile,
        issuer_id=record.issuer_id,
        subject=record.subject,
        status=record.status,
        not_before=utc(record.not_before).isoformat(),
        not_after=utc(record.not_after).isoformat(),
        fingerprint=record.fingerprint,
        key_id=record.key_id,
        certificate_pem=cx.certificate_pem(cert).decode(),
        chain_pem=[cx.certificate_pem(c).decode() for c in (chain or [])],
        revocation_reason=record.revocation_reason,
    )


@router.post("/certificates", status_code=201, summary="Issue an end-entity certificate", response_model=CertificateOut)
def issue(
    body: IssueRequest, request: Request, principal: Client, idempotency_key: IdempotencyKey = None
) -> CertificateOut:
    allow(request, principal, Action.CA_ISSUE, ca_id=body.ca_id)
    result = service.issue(
        _instance(request),
        ca_id=body.ca_id,
        profile=body.profile,
        subject=body.subject.to_dn(),
        csr_data=body.csr.encode() if body.csr else None,
        key_family=body.key_family,
        validity_days=body.validity_days,
        dns_names=body.dns_names,
        uris=body.uris,
        request_id=request_id_for(principal, idempotency_key, body.request_id),
    )
    return _certificate_out(result.record, result.chain)


@router.get("/certificates", summary="List issued certificates", response_model=list[CertificateOut])
def list_certificates(
    request: Request,
    principal: Client,
    ca_id: str | None = None,
    status: Annotated[Literal["valid", "revoked"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CertificateOut]:
    allow(request, principal, Action.CERTIFICATE_READ, ca_id=ca_id)
    rows = service.list_certificates(_instance(request), ca_id=ca_id, status=status, limit=limit, offset=offset)
    return [_certificate_out(r) for r in rows]


@router.get("/certificates/{serial}", summary="One certificate by serial (hex)", response_model=CertificateOut)
def get_certificate(serial: str, request: Request, principal: Client) -> CertificateOut:
    allow(request, principal, Action.CERTIFICATE_READ, serial=serial)
    return _certificate_out(service.get_certificate(_instance(request), serial))


class RevokeRequest(BaseModel):
    reason: str = Field(
        default="unspecified",
        examples=["key_compromise"],
        description="RFC 5280 reason: unspecified, key_compromise, ca_compromise, "
        "affiliation_changed, superseded, cessation_of_operation, certificate_hold, "
        "privilege_withdrawn, aa_compromise",
    )


class RevokeResponse(BaseModel):
    serial: str
    status: str
    reason: str
    revoked_at: str
    crl_number: int


@router.post(
    "/certificates/{serial}/revoke", summary="Revoke a certificate and publish a new CRL", response_model=RevokeResponse
)
def revoke(serial: str, body: RevokeRequest, request: Request, principal: Client) -> RevokeResponse:
    if len(serial) > 64:
        raise InputError("serial number too long")
    allow(request, principal, Action.CERTIFICATE_REVOKE, serial=serial)
    record, new_crl = service.revoke(_instance(request), serial=serial, reason=body.reason)
    assert record.revoked_at is not None
    return RevokeResponse(
        serial=record.serial,
        status=record.status,
        reason=record.revocation_reason or "",
        revoked_at=utc(record.revoked_at).isoformat(),
        crl_number=new_crl.number,
    )
