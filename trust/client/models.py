"""The typed answers (and the one structured request part) of the service's issuing routes, as the client sees
them. They mirror the route models of ``trust/http/routes/`` (the OpenAPI document at ``/openapi.json``) without
importing them: the client talks HTTP only. Unknown members are ignored, so a newer service does not break an older
client; every model is frozen."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AccessToken(_Answer):
    """An access token of ``POST /oauth/token``; ``expires_at`` is computed when the answer arrived."""

    access_token: str = Field(repr=False)  # a credential: never in a repr, a log line or an error
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6749 token type, not a secret
    expires_in: int
    expires_at: datetime

    @classmethod
    def from_answer(cls, body: dict[str, Any], *, received: datetime | None = None) -> AccessToken:
        moment = received or datetime.now(UTC)
        return cls.model_validate({**body, "expires_at": moment + timedelta(seconds=int(body.get("expires_in", 0)))})

    def seconds_left(self, now: datetime | None = None) -> float:
        return (self.expires_at - (now or datetime.now(UTC))).total_seconds()


class Subject(BaseModel):
    """The subject of a certificate request (``POST /certificates``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    common_name: str
    organization: str | None = None
    unit: str | None = None
    province: str | None = None
    locality: str | None = None
    serial_number: str | None = Field(default=None, description="USCC or citizen ID number, as the profile needs")
    country: str = "CN"


class Certificate(_Answer):
    serial: str
    profile: str
    issuer_id: str
    subject: str
    status: str
    not_before: datetime
    not_after: datetime
    fingerprint: str
    key_id: str | None = None
    certificate_pem: str
    chain_pem: list[str] = Field(default_factory=list)
    revocation_reason: str | None = None


class Seal(_Answer):
    es_id: str
    name: str
    holder_kind: str
    holder_name: str
    holder_code: str
    issuer_ca_id: str
    status: str
    valid_start: datetime
    valid_end: datetime
    sm2_cert_serial: str
    rsa_cert_serial: str | None = None
    seal_der: bytes = Field(description="The GB/T 38540 SESeal, DER")

    @field_validator("seal_der", mode="before")
    @classmethod
    def _base64(cls, value: Any) -> Any:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else value


class License(_Answer):
    identifier: str
    type: str
    issuer_id: str
    holder_name: str
    holder_code: str
    status: str
    token: str
    sd_jwt: str
    qr: str | None = Field(default=None, description="The HR1: QR payload, when the answer carries it")


__all__ = ["AccessToken", "Certificate", "License", "Seal", "Subject"]
