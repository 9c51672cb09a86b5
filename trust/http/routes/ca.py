"""CA routes: CA certificates and CRLs (public), enrolment, re-keying, issuance, revocation.

Thin: each handler validates the request shape (pydantic), asks the policy layer, calls one ``trust.service.ca``
function and renders the result. CA certificates and CRLs are public and cacheable (:mod:`trust.http.caching`);
enrolment, re-keying, issuance, listing and revocation need a platform client (:mod:`trust.http.auth`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from ca.models import utc
from trust.crypto import pem
from trust.crypto.errors import Code, ForbiddenError, InputError, TrustError
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.http import caching, pagination, problems
from trust.http.auth import IDEMPOTENCY_KEY, Client, IdempotencyKey, allow, idempotency_for, limiter, request_id_for
from trust.http.bodies import StrictJsonRoute
from trust.service import ca as service
from trust.service import idempotency
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(tags=["certificate authority"], route_class=StrictJsonRoute)
log = logging.getLogger("trust.http.routes.ca")

PKIX_CERT = "application/pkix-cert"
PKIX_CRL = "application/pkix-crl"


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


_CA_EXAMPLE: Final[dict[str, Any]] = {
    "id": "region-330000-sm2",
    "kind": "region",
    "code": "330000",
    "name": "浙江省 SM2 CA",
    "family": "SM2",
    "status": "active",
    "parent_id": "national-sm2",
    "subject": "C=CN, ST=浙江省, O=浙江省政务服务平台, CN=浙江省 SM2 CA",
    "fingerprint": "9c3e0a4f7b1d2e8c6a5b4f3e2d1c0b9a8f7e6d5c4b3a29181706f5e4d3c2b1a0",
    "not_after": "2036-01-01T00:00:00+00:00",
    "key_held_by_huren": True,
}


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

    model_config = {"json_schema_extra": {"examples": [_CA_EXAMPLE]}}


def _ca_info(ca: Any) -> CAInfo:
    cert = cx.load_certificate(ca.cert_der)
    from trust.formats.names import name_text

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


@router.get("/ca", summary="List certificate authorities", response_model=list[CAInfo], responses=problems.responses())
def list_cas(request: Request) -> list[CAInfo]:
    return [_ca_info(ca) for ca in service.list_cas(_instance(request))]


CA_MAX_AGE = 86400
CRL_MAX_AGE = 300
PEM = "application/x-pem-file"


@router.get(
    "/ca/{ca_id}.cer",
    summary="CA certificate (DER)",
    response_class=Response,
    responses={**caching.responses("The CA certificate, DER", PKIX_CERT), **problems.responses(404, 422)},
    openapi_extra=caching.OPENAPI_EXTRA,
)
def ca_certificate(ca_id: str, request: Request) -> Response:
    return caching.cached(request, service.ca_certificate_der(_instance(request), ca_id), PKIX_CERT, max_age=CA_MAX_AGE)


@router.get(
    "/ca/{ca_id}.pem",
    summary="CA certificate (PEM)",
    response_class=Response,
    responses={
        **caching.responses(
            "The CA certificate, PEM",
            PEM,
            {"type": "string", "example": "-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n"},
        ),
        **problems.responses(404, 422),
    },
    openapi_extra=caching.OPENAPI_EXTRA,
)
def ca_certificate_pem(ca_id: str, request: Request) -> Response:
    der = service.ca_certificate_der(_instance(request), ca_id)
    return caching.cached(request, cx.certificate_pem(cx.load_certificate(der)), PEM, max_age=CA_MAX_AGE)


@router.get(
    "/crl/{ca_id}.crl",
    summary="Current CRL of a CA (DER)",
    response_class=Response,
    responses={**caching.responses("The CA's latest CRL, DER", PKIX_CRL), **problems.responses(404, 422)},
    openapi_extra=caching.OPENAPI_EXTRA,
)
def crl(ca_id: str, request: Request) -> Response:
    der = service.current_crl_der(_instance(request), ca_id)  # stored bytes, served as they are (never re-parsed)
    return caching.cached(request, der, PKIX_CRL, max_age=CRL_MAX_AGE)


@router.get(
    "/crl/{ca_id}/{shard}.delta.crl",
    summary="Current delta CRL of one CRL partition of a CA (DER)",
    response_class=Response,
    responses={
        **caching.responses("The partition's delta CRL (changes since its base), DER", PKIX_CRL),
        **problems.responses(404, 422),
    },
    openapi_extra=caching.OPENAPI_EXTRA,
)
def crl_partition_delta(ca_id: str, shard: Annotated[int, Path(ge=1)], request: Request) -> Response:
    der = service.partition_crl_der(_instance(request), ca_id, shard, delta=True)
    return caching.cached(request, der, PKIX_CRL, max_age=CRL_MAX_AGE)


@router.get(
    "/crl/{ca_id}/{shard}.crl",
    summary="Current CRL of one CRL partition of a CA (DER): what its certificates name as CRL distribution point",
    response_class=Response,
    responses={**caching.responses("The partition's latest CRL, DER", PKIX_CRL), **problems.responses(404, 422)},
    openapi_extra=caching.OPENAPI_EXTRA,
)
def crl_partition(ca_id: str, shard: Annotated[int, Path(ge=1)], request: Request) -> Response:
    der = service.partition_crl_der(_instance(request), ca_id, shard)
    return caching.cached(request, der, PKIX_CRL, max_age=CRL_MAX_AGE)


class EnrolRequest(BaseModel):
    kind: Literal["region", "department"]
    code: str = Field(
        description="GB/T 2260 region code or the department's unified social credit code", examples=["330000"]
    )
    family: Literal["SM2", "RSA"] = "SM2"
    organization: str | None = Field(default=None, description="Organisation name (required for departments)")
    name: str | None = Field(default=None, description="CA common name; derived from the region by default")
    csr: str | None = Field(default=None, description="PEM PKCS#10 request; absent: Huren generates the key")
    dns_namespace: str | None = Field(
        default=None,
        max_length=253,
        description="DNS namespace the CA may certify; default: a region's <letters>.gov.cn, none for a department",
    )

    model_config = {"json_schema_extra": {"examples": [{"kind": "region", "code": "320000", "family": "SM2"}]}}


_CERT_PEM_EXAMPLE = "-----BEGIN CERTIFICATE-----\nMIIB8jCCAZigAwIBAgIU…\n-----END CERTIFICATE-----\n"


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

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "serial": "5f3a9c1e7d2b4a6c8e0f1a2b3c4d5e6f7a8b9c0d",
                    "profile": "seal",
                    "issuer_id": "region-330000-sm2",
                    "subject": "C=CN, ST=浙江省, O=杭州示例科技有限公司, CN=合同专用章, "
                    "serialNumber=91330106MA2CFA4X0F",
                    "status": "valid",
                    "not_before": "2026-01-01T00:00:00+00:00",
                    "not_after": "2029-01-01T00:00:00+00:00",
                    "fingerprint": "2b7e4f1a9c3d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
                    "key_id": "ee-5f3a9c1e7d2b4a6c",
                    "certificate_pem": _CERT_PEM_EXAMPLE,
                    "chain_pem": [_CERT_PEM_EXAMPLE],
                    "revocation_reason": None,
                }
            ]
        }
    }


class EnrolResponse(BaseModel):
    ca: CAInfo
    certificate_pem: str
    chain_pem: list[str]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "ca": _CA_EXAMPLE,
                    "certificate_pem": _CERT_PEM_EXAMPLE,
                    "chain_pem": [_CERT_PEM_EXAMPLE],
                }
            ]
        }
    }


@router.post(
    "/ca/enrol",
    status_code=201,
    summary="Enrol a regional or departmental CA (operators)",
    response_model=EnrolResponse,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 409),
)
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
        dns_namespace=body.dns_namespace,
    )
    chain = service.chain_for(instance, created.id)
    return EnrolResponse(
        ca=_ca_info(created),
        certificate_pem=cx.certificate_pem(chain[0]).decode(),
        chain_pem=[cx.certificate_pem(c).decode() for c in chain[1:]],
    )


class RekeyRequest(BaseModel):
    csr: str | None = Field(
        default=None, description="PEM PKCS#10 request with the CA's new key (same family); absent: Huren generates it"
    )

    model_config = {"json_schema_extra": {"examples": [{}]}}


class RekeyResponse(BaseModel):
    ca: CAInfo
    certificate_pem: str
    chain_pem: list[str]
    previous_certificates_pem: list[str] = Field(
        description="The certificates the CA held before, newest first: not revoked, what they issued stays valid"
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "ca": _CA_EXAMPLE,
                    "certificate_pem": "-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n",
                    "chain_pem": ["-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n"],
                    "previous_certificates_pem": ["-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n"],
                }
            ]
        }
    }


@router.post(
    "/ca/{ca_id}/rekey",
    summary="Give a subordinate CA a new key and certificate (operators)",
    response_model=RekeyResponse,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def rekey(ca_id: str, request: Request, principal: Client, body: RekeyRequest | None = None) -> RekeyResponse:
    allow(request, principal, Action.CA_REKEY, ca_id=ca_id)
    instance = _instance(request)
    rekeyed = service.rekey(instance, ca_id, body.csr.encode() if body is not None and body.csr else None)
    chain = service.chain_for(instance, rekeyed.id)
    return RekeyResponse(
        ca=_ca_info(rekeyed),
        certificate_pem=cx.certificate_pem(chain[0]).decode(),
        chain_pem=[cx.certificate_pem(c).decode() for c in chain[1:]],
        previous_certificates_pem=[
            cx.certificate_pem(cx.load_certificate(h.cert_der)).decode() for h in service.key_history(instance, ca_id)
        ],
    )


class SubjectIn(BaseModel):
    common_name: str = Field(examples=["合同专用章"])
    organization: str | None = Field(default=None, examples=["杭州示例科技有限公司"])
    unit: str | None = None
    province: str | None = Field(default=None, examples=["浙江省"])
    locality: str | None = None
    serial_number: str | None = Field(
        default=None, description="USCC or citizen ID number, as the profile needs", examples=["91330106MA2CFA4X0F"]
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


class _Certificate(BaseModel):
    """What one certificate request names besides its CA (``POST /certificates`` and each batch entry)."""

    profile: str = Field(examples=["seal"])
    subject: SubjectIn
    csr: str | None = Field(default=None, description="PEM PKCS#10; absent: Huren generates and keeps the key")
    key_family: Literal["SM2", "RSA", "EC"] = "SM2"
    validity_days: int | None = Field(default=None, ge=1, le=3650)
    dns_names: list[str] = Field(default_factory=list, max_length=100)
    uris: list[str] = Field(default_factory=list, max_length=100)


class IssueRequest(_Certificate):
    ca_id: str = Field(examples=["region-330000-sm2"])
    request_id: str | None = Field(default=None, max_length=128, description="Idempotency key")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "ca_id": "region-330000-sm2",
                    "profile": "seal",
                    "subject": {
                        "common_name": "合同专用章",
                        "organization": "杭州示例科技有限公司",
                        "province": "浙江省",
                        "serial_number": "91330106MA2CFA4X0F",
                    },
                    "key_family": "SM2",
                    "validity_days": 365,
                }
            ]
        }
    }


def _certificate_out(record: Any, chain: list[Any] | None = None) -> CertificateOut:
    # The stored DER of a certificate Huren signed, as it is: reading it strictly first (every field parsed) only to
    # write it back was ~1 ms per certificate, a quarter of a batch entry's CPU.
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
        certificate_pem=pem.write("CERTIFICATE", bytes(record.der)).decode(),
        chain_pem=[cx.certificate_pem(c).decode() for c in (chain or [])],
        revocation_reason=record.revocation_reason,
    )


@router.post(
    "/certificates",
    status_code=201,
    summary="Issue an end-entity certificate",
    response_model=CertificateOut,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def issue(
    body: IssueRequest, request: Request, principal: Client, idempotency_key: IdempotencyKey = None
) -> CertificateOut:
    allow(request, principal, Action.CA_ISSUE, ca_id=body.ca_id, profile=body.profile)
    request_id, fingerprint = idempotency_for(request, principal, idempotency_key, body)
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
        request_id=request_id,
        fingerprint=fingerprint,
    )
    return _certificate_out(result.record, result.chain)


MAX_BATCH_ENTRIES: Final = 1000
"""The most entries the schema of ``POST /certificates/batch`` allows; the instance's own maximum
(``TRUST_MAX_BATCH_CERTIFICATES``, 500 by default) is at most this."""
BATCH_CHUNK: Final = 100
"""Entries per transaction of a batch (:func:`trust.service.ca.issue_batch`)."""

_SEAL_SUBJECT: Final[dict[str, Any]] = {
    "common_name": "合同专用章",
    "organization": "杭州示例科技有限公司",
    "province": "浙江省",
    "serial_number": "91330106MA2CFA4X0F",
}


class BatchEntry(_Certificate):
    request_id: str = Field(
        min_length=1,
        max_length=60,
        pattern=IDEMPOTENCY_KEY.pattern,
        description="Idempotency key of this entry, scoped to the calling client as an Idempotency-Key of "
        "POST /certificates is: a retry of the batch replays what was issued, never a second certificate",
        examples=["zj-2026-03-01-0001"],
    )

    model_config = {"extra": "forbid"}


class BatchIssueRequest(BaseModel):
    ca_id: str = Field(examples=["region-330000-sm2"])
    requests: list[BatchEntry] = Field(
        min_length=1,
        max_length=MAX_BATCH_ENTRIES,
        description="The certificates to issue, each as the body of POST /certificates without ca_id; at most "
        "TRUST_MAX_BATCH_CERTIFICATES (500 by default) of them",
    )

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "ca_id": "region-330000-sm2",
                    "requests": [
                        {"request_id": "zj-2026-03-01-0001", "profile": "seal", "subject": _SEAL_SUBJECT},
                        {
                            "request_id": "zj-2026-03-01-0002",
                            "profile": "person-identity",
                            "subject": {
                                "province": "浙江省",
                                "common_name": "张三",
                                "serial_number": "330106199001010018",
                            },
                            "validity_days": 365,
                        },
                    ],
                }
            ]
        },
    }


class EntryProblem(problems.Problem):
    """Why one entry of a batch was refused: the problem ``POST /certificates`` would answer, and its entry."""

    index: int = Field(ge=0, description="Position of the entry in requests (from 0)")


class BatchResult(BaseModel):
    index: int = Field(ge=0, description="Position of the entry in requests (from 0)")
    request_id: str
    outcome: Literal["issued", "replayed", "refused"] = Field(
        description="issued now; replayed: issued before for this request id (the same certificate); refused"
    )
    certificate: CertificateOut | None = Field(default=None, description="Issued or replayed: the certificate")
    problem: EntryProblem | None = Field(default=None, description="Refused: why (nothing was issued for it)")


class BatchResponse(BaseModel):
    ca_id: str
    issued: int = Field(ge=0)
    replayed: int = Field(ge=0)
    refused: int = Field(ge=0)
    results: list[BatchResult] = Field(description="One per entry, in the order of requests")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "ca_id": "region-330000-sm2",
                    "issued": 1,
                    "replayed": 0,
                    "refused": 1,
                    "results": [
                        {
                            "index": 0,
                            "request_id": "zj-2026-03-01-0001",
                            "outcome": "issued",
                            "certificate": CertificateOut.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                        },
                        {
                            "index": 1,
                            "request_id": "zj-2026-03-01-0002",
                            "outcome": "refused",
                            "problem": {
                                "type": "urn:huren:error:invalid-input",
                                "title": "Invalid input",
                                "status": 400,
                                "detail": "subject C=CN, ST=广东省, CN=张三 is outside the name constraints of CA "
                                "region-330000-sm2",
                                "code": "E1000",
                                "index": 1,
                            },
                        },
                    ],
                }
            ]
        }
    }


@router.post(
    "/certificates/batch",
    summary="Issue many end-entity certificates of one CA (regional platforms)",
    description="Each entry is authorised, checked and issued as POST /certificates would, with its request_id "
    "as Idempotency-Key; an entry refused does not stop the others. 200 once the batch was read and authorised, "
    "whatever became of each entry (results, and the counts, say); an error status refuses the whole batch and "
    "issues nothing — a body that does not match the schema (422), another region's CA (403), more entries than "
    "TRUST_MAX_BATCH_CERTIFICATES (413), a client over its rate limit, where every entry counts as a request (429).",
    response_model=BatchResponse,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
)
def issue_batch(body: BatchIssueRequest, request: Request, principal: Client) -> BatchResponse:
    allow(request, principal, Action.CA_ISSUE, ca_id=body.ca_id)  # the CA, for the whole batch
    entries = body.requests
    _within_batch_limits(request, principal, len(entries))
    refused: dict[int, TrustError] = {}
    for profile in sorted({entry.profile for entry in entries}):
        try:  # each entry as POST /certificates would be authorised (a profile only operators issue: refused)
            allow(request, principal, Action.CA_ISSUE, ca_id=body.ca_id, profile=profile)
        except ForbiddenError as exc:
            refused.update((i, exc) for i, entry in enumerate(entries) if entry.profile == profile)
    keys = [request_id_for(principal, None, entry.request_id) or "" for entry in entries]
    single = request.url.path.removesuffix("/batch")  # an entry is the request POST /certificates would be
    prints = [
        idempotency.Fingerprint.of(
            "POST",
            single,
            principal.client_id,
            IssueRequest(ca_id=body.ca_id, **entry.model_dump()).model_dump(mode="json", exclude={"request_id"}),
        )
        for entry in entries
    ]
    first: dict[str, idempotency.Fingerprint] = idempotency.stored(_instance(request), keys)
    for i, (key, fingerprint) in enumerate(zip(keys, prints, strict=True)):
        if i not in refused and first.setdefault(key, fingerprint) != fingerprint:
            refused[i] = idempotency.conflict(key, first[key], fingerprint)
    sent = [i for i in range(len(entries)) if i not in refused]
    outcomes = service.issue_batch(
        _instance(request),
        body.ca_id,
        (_batch_request(entries[i], keys[i], prints[i]) for i in sent),
        chunk=BATCH_CHUNK,
    )
    results: dict[int, BatchResult] = {
        i: _refused(request, i, entries[i].request_id, error) for i, error in refused.items()
    }
    for outcome in outcomes:  # each entry's fingerprint was stored with its certificate, in the chunk's transaction
        i = sent[outcome.index]
        request_id = entries[i].request_id
        if outcome.result is None:
            assert outcome.error is not None
            results[i] = _refused(request, i, request_id, outcome.error)
        else:
            certificate = _certificate_out(outcome.result.record, outcome.result.chain)
            kind: Literal["issued", "replayed"] = "replayed" if outcome.replayed else "issued"
            results[i] = BatchResult(index=i, request_id=request_id, outcome=kind, certificate=certificate)
    ordered = [results[i] for i in range(len(entries))]
    return BatchResponse(
        ca_id=body.ca_id,
        issued=sum(r.outcome == "issued" for r in ordered),
        replayed=sum(r.outcome == "replayed" for r in ordered),
        refused=sum(r.outcome == "refused" for r in ordered),
        results=ordered,
    )


def _within_batch_limits(request: Request, principal: Any, entries: int) -> None:
    """Refuse a batch over the instance's maximum (413), or one the client's rate limit cannot let through now
    (429, every entry a request), before any work."""
    limits = limiter(request)
    most = _instance(request).settings.max_batch_certificates
    budget = limits.client_budget
    if budget is not None and budget < most:
        most = budget
    if entries > most:
        raise InputError(
            f"a batch holds at most {most} entries (TRUST_MAX_BATCH_CERTIFICATES, and the client's rate limit on "
            f"one worker), not {entries}: send it in parts",
            code=Code.INPUT_TOO_LARGE,
            evidence={"entries": entries, "most": most},
        )
    limits.client_entries(principal.client_id, entries - 1)  # the request itself was counted when authenticated


def _batch_request(entry: BatchEntry, request_id: str, fingerprint: idempotency.Fingerprint) -> service.BatchRequest:
    return service.BatchRequest(
        profile=entry.profile,
        subject=entry.subject.to_dn(),
        csr_data=entry.csr.encode() if entry.csr else None,
        key_family=entry.key_family,
        validity_days=entry.validity_days,
        request_id=request_id,
        dns_names=entry.dns_names,
        uris=entry.uris,
        fingerprint=fingerprint,
    )


def _refused(request: Request, index: int, request_id: str, error: TrustError) -> BatchResult:
    """An entry's problem, rendered as the problem of a request of its own would be (5xx: the request id only)."""
    status = problems.status_for(error.code)
    detail, evidence = error.message, error.evidence or None
    request_ref = getattr(request.state, "request_id", None)
    if status >= 500:
        log.error("request %s, batch entry %d failed: %s", request_ref, index, error.diagnostics())
        detail, evidence = f"{error.code.title}; quote request id {request_ref} to the operator", None
    problem = problems.problem_body(error.code, detail, status=status, request_id=request_ref, evidence=evidence)
    return BatchResult(
        index=index, request_id=request_id, outcome="refused", problem=EntryProblem(**problem, index=index)
    )


@router.get(
    "/certificates",
    summary="List issued certificates (a region names one of its CAs), oldest first",
    response_model=list[CertificateOut],
    responses={
        **pagination.page_doc("One page of certificates"),
        **problems.responses(*problems.AUTHENTICATED, 404),
    },
)
def list_certificates(
    request: Request,
    response: Response,
    principal: Client,
    ca_id: str | None = None,
    status: Annotated[Literal["valid", "revoked"] | None, Query()] = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    offset: pagination.Offset = 0,
) -> list[CertificateOut]:
    allow(request, principal, Action.CERTIFICATE_READ, ca_id=ca_id)
    instance = _instance(request)
    rows = pagination.offset_page(
        lambda n, at: service.list_certificates(instance, ca_id=ca_id, status=status, limit=n, offset=at),
        response,
        request,
        limit=limit,
        offset=offset,
    )
    return [_certificate_out(r) for r in rows]


@router.get(
    "/certificates/{serial}",
    summary="One certificate by serial (hex)",
    response_model=CertificateOut,
    responses=problems.responses(*problems.AUTHENTICATED, 400, 404),
)
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

    model_config = {"json_schema_extra": {"examples": [{"reason": "superseded"}]}}


class RevokeResponse(BaseModel):
    serial: str
    status: str
    reason: str
    revoked_at: str
    crl_number: int

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "serial": "5f3a9c1e7d2b4a6c8e0f1a2b3c4d5e6f7a8b9c0d",
                    "status": "revoked",
                    "reason": "superseded",
                    "revoked_at": "2026-03-01T08:00:00+00:00",
                    "crl_number": 7,
                }
            ]
        }
    }


@router.post(
    "/certificates/{serial}/revoke",
    summary="Revoke a certificate and publish a new CRL",
    response_model=RevokeResponse,
    responses=problems.responses(*problems.AUTHENTICATED, *problems.JSON_BODY, 404, 409),
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
