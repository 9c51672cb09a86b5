"""Platform clients: who may call the service's write routes, and how they prove it (RFC 7523 ``private_key_jwt``).

**Clients.** A client is a regional platform (``region``: acts for one GB/T 2260 region), a department
(``department``: a licence issuer of a region, acts for that issuer only) or a national operator
(``operator``). Operators register clients (``trust client add`` or ``POST /clients``).

**Credentials.** A client holds a private key; the national operations CA (``national-sm2`` or
``national-rsa``) certifies it with the ``tls-client`` profile (EKU clientAuth; subject O = the client's name,
CN = the client id). The platform sends its PKCS#10 request; Huren never sees the private key. A client may hold
several credentials (rotation). Revoking the certificate (``trust client revoke-credential``, or
``trust ca revoke``) locks the platform out at once: every authentication reads the certificate's status.

**Client assertions** (RFC 7523 clause 3, RFC 7521 clause 4.2): a compact JWS signed with the credential's key
(``SM2``, ``ES256/384/512``, ``RS256/384/512``, ``PS256/384/512``), header ``x5c`` = [the credential
certificate, optionally its CA]; claims ``iss`` = ``sub`` = client id, ``aud`` = the token endpoint
(``<public url>/oauth/token``) or the service (``<public url>``), ``exp`` at most :data:`MAX_ASSERTION_SECONDS`
after ``iat`` and in the future, ``iat`` not in the future, ``jti`` unique (replays are refused for as long as
the assertion could be valid, across all workers: the ``client_assertion_jti`` table). Clock skew tolerated:
:data:`SKEW_SECONDS`.

**Access tokens.** ``POST /oauth/token`` (``grant_type=client_credentials``, ``client_assertion_type =
urn:ietf:params:oauth:client-assertion-type:jwt-bearer``) returns an opaque bearer token valid
``TRUST_TOKEN_SECONDS`` (default 300 s). Only its SHA-256 is stored. A client may instead send a fresh
assertion as the bearer token of each request.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import Column, DateTime, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from ca.models import CertificateAuthority, IssuedCertificate, now
from licenses.models import LicenseIssuer
from trust import db
from trust.crypto.errors import (
    AuthenticationError,
    Code,
    ConflictError,
    EncodingError,
    InputError,
    NotFoundError,
    TrustError,
)
from trust.formats import client_assertion, jose, strict_json
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import ca as ca_service
from trust.service.instance import Instance

KINDS: Final = ("operator", "region", "department")
CLIENT_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
REGION_CODE: Final = re.compile(r"^[1-9][0-9]{5}$")
MAX_ASSERTION_SECONDS: Final = client_assertion.MAX_LIFETIME
SKEW_SECONDS: Final = 60
MAX_X5C: Final = 4
ASSERTION_TYPE: Final = client_assertion.ASSERTION_TYPE
TOKEN_PREFIX: Final = "hrt_"  # noqa: S105 - a prefix, not a secret


class PlatformClient(SQLModel, table=True):
    __tablename__ = "platform_client"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)  # operator | region | department
    name: str = Field(max_length=128)
    region: str | None = Field(default=None, max_length=6)
    license_issuer_id: str | None = Field(default=None, foreign_key="license_issuer.id", max_length=64)
    status: str = Field(default="active", max_length=16)  # active | disabled
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class PlatformCredential(SQLModel, table=True):
    __tablename__ = "platform_credential"

    serial: str = Field(primary_key=True, max_length=48)  # the certificate's serial (hex)
    client_id: str = Field(foreign_key="platform_client.id", max_length=64, index=True)
    fingerprint: str = Field(max_length=64, unique=True)  # SHA-256 of the certificate
    status: str = Field(default="active", max_length=16)  # active | revoked
    created_at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(foreign_key="platform_client.id", max_length=64, index=True)
    serial: str = Field(max_length=48)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))


class AssertionJti(SQLModel, table=True):
    __tablename__ = "client_assertion_jti"

    jti_hash: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))


@dataclass(frozen=True)
class Principal:
    """An authenticated client, as the policy layer sees it."""

    client_id: str
    kind: str
    region: str | None
    license_issuer_id: str | None
    serial: str

    @property
    def actor(self) -> str:
        return f"client:{self.client_id}"


# --- registration -----------------------------------------------------------------------------------------------


def add_client(
    instance: Instance,
    *,
    client_id: str,
    kind: str,
    name: str,
    region: str | None = None,
    license_issuer_id: str | None = None,
) -> PlatformClient:
    if not CLIENT_ID.fullmatch(client_id):
        raise InputError("client id: 3-64 characters a-z, 0-9 and '-', starting with a letter or digit")
    if kind not in KINDS:
        raise InputError(f"client kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not name.strip() or len(name) > 128:
        raise InputError("client name must be 1-128 characters")
    if kind == "operator" and (region or license_issuer_id):
        raise InputError("an operator acts nationally: no region or licence issuer")
    if kind in ("region", "department") and (region is None or not REGION_CODE.fullmatch(region)):
        raise InputError(f"a {kind} client needs its six-digit GB/T 2260 region code")
    if kind == "region" and license_issuer_id:
        raise InputError("a region client is not bound to one licence issuer (that is a department)")
    if kind == "department" and not license_issuer_id:
        raise InputError("a department client needs the licence issuer it acts for")
    with db.session_scope(instance.engine) as session:
        if session.get(PlatformClient, client_id) is not None:
            raise ConflictError(f"client {client_id} exists", evidence={"client_id": client_id})
        if region is not None:
            has_ca = session.exec(
                select(CertificateAuthority).where(
                    CertificateAuthority.kind == "region", CertificateAuthority.code == region
                )
            ).first()
            if has_ca is None:
                raise NotFoundError(f"no region CA for region {region}: enrol the region first")
        if license_issuer_id is not None:
            issuer = session.get(LicenseIssuer, license_issuer_id)
            if issuer is None:
                raise NotFoundError(f"no licence issuer {license_issuer_id}")
            ca = session.get(CertificateAuthority, issuer.ca_id)
            if ca is None or ca.code != region:
                raise InputError(f"licence issuer {license_issuer_id} does not belong to region {region}")
        client = PlatformClient(
            id=client_id, kind=kind, name=name.strip(), region=region, license_issuer_id=license_issuer_id
        )
        session.add(client)
    return client


def issue_credential(instance: Instance, *, client_id: str, csr_der: bytes, family: str = "SM2") -> bytes:
    """Certify the client's key (PKCS#10 from the platform) with the ``tls-client`` profile of the national
    operations CA of ``family``; returns the certificate (DER)."""
    if family not in ca_service.NATIONAL:
        raise InputError(f"family must be one of {', '.join(ca_service.NATIONAL)}")
    client = get_client(instance, client_id)
    if client.status != "active":
        raise ConflictError(f"client {client_id} is {client.status}")
    result = ca_service.issue(
        instance,
        ca_id=ca_service.NATIONAL[family],
        profile="tls-client",
        subject=DN(organization=client.name, common_name=client_id),
        csr_data=csr_der,
    )
    with db.session_scope(instance.engine) as session:
        session.add(
            PlatformCredential(
                serial=result.record.serial, client_id=client_id, fingerprint=cx.fingerprint(result.certificate)
            )
        )
    return bytes(result.certificate.dump())


def revoke_credential(instance: Instance, *, serial: str, reason: str = "key_compromise") -> None:
    """Revoke a platform credential's certificate: the platform is locked out at its next request."""
    with db.session_scope(instance.engine) as session:
        credential = session.get(PlatformCredential, serial)
        if credential is None:
            raise NotFoundError(f"no platform credential with serial {serial}")
        credential.status = "revoked"
        session.add(credential)
        for token in session.exec(select(AccessToken).where(AccessToken.serial == serial)).all():
            session.delete(token)
    record = ca_service.get_certificate(instance, serial)
    if record.status != "revoked":
        ca_service.revoke(instance, serial=serial, reason=reason)


def set_client_status(instance: Instance, client_id: str, status: str) -> PlatformClient:
    if status not in ("active", "disabled"):
        raise InputError("client status must be active or disabled")
    with db.session_scope(instance.engine) as session:
        client = session.get(PlatformClient, client_id)
        if client is None:
            raise NotFoundError(f"no client {client_id}")
        client.status = status
        session.add(client)
        if status == "disabled":
            session.execute(delete(AccessToken).where(col(AccessToken.client_id) == client_id))
    return client


def get_client(instance: Instance, client_id: str) -> PlatformClient:
    with db.session_scope(instance.engine, read_only=True) as session:
        client = session.get(PlatformClient, client_id)
        if client is None:
            raise NotFoundError(f"no client {client_id}")
        return client


def list_clients(instance: Instance) -> list[tuple[PlatformClient, list[PlatformCredential]]]:
    with db.session_scope(instance.engine, read_only=True) as session:
        clients = session.exec(select(PlatformClient).order_by(col(PlatformClient.id))).all()
        credentials = session.exec(select(PlatformCredential)).all()
        by_client: dict[str, list[PlatformCredential]] = {}
        for credential in credentials:
            by_client.setdefault(credential.client_id, []).append(credential)
        return [(c, by_client.get(c.id, [])) for c in clients]


# --- client assertions ------------------------------------------------------------------------------------------


def audiences(instance: Instance) -> tuple[str, ...]:
    base = instance.settings.effective_public_url
    return (f"{base}/oauth/token", base)


def _fail(message: str, code: Code = Code.INVALID_CLIENT) -> AuthenticationError:
    return AuthenticationError(message, code=code)


def _int_claim(claims: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(f"client assertion claim {name} must be a NumericDate (integer seconds)")
    return value


def _x5c_leaf(header: Mapping[str, Any]) -> asn1_x509.Certificate:
    chain = header.get("x5c")
    if not isinstance(chain, list) or not 1 <= len(chain) <= MAX_X5C or not all(isinstance(c, str) for c in chain):
        raise _fail(f"client assertion header needs x5c: 1-{MAX_X5C} base64 certificates, the credential first")
    try:
        der = base64.b64decode(chain[0], validate=True)
    except ValueError:
        raise _fail("client assertion x5c[0] is not base64 (RFC 7515 clause 4.1.6: standard base64)") from None
    try:
        return cx.load_certificate(der)
    except TrustError as exc:
        raise _fail(f"client assertion x5c[0] is not a certificate: {exc.message}") from None


def verify_assertion(instance: Instance, assertion: str, *, at: datetime | None = None) -> Principal:
    """Authenticate a client assertion (module docstring); records its ``jti``. Raises AuthenticationError."""
    moment = at or datetime.now(UTC)
    try:
        header, _payload, _input, _signature = jose.parse_compact(assertion)
    except TrustError as exc:
        raise _fail(f"client assertion is not a compact JWS: {exc.message}") from None
    leaf = _x5c_leaf(header)
    fingerprint = cx.fingerprint(leaf)
    try:
        verified = jose.verify_compact(
            assertion, lambda _h: cx.public_key(leaf), algorithms=sorted(jose.ACCEPTED_ALGORITHMS)
        )
    except TrustError as exc:
        raise _fail(f"client assertion signature refused: {exc.message}") from None
    try:
        claims = strict_json.load_object(verified.payload, "client assertion payload")
    except EncodingError as exc:
        raise _fail(exc.message) from None
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or claims.get("sub") != client_id:
        raise _fail("client assertion iss and sub must both be the client id (RFC 7523 clause 3)")
    audience = claims.get("aud")
    accepted = audiences(instance)
    named = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if not any(a in accepted for a in named if isinstance(a, str)):
        raise _fail(f"client assertion is not for this service (aud must name {accepted[0]})")
    now_s = int(moment.timestamp())
    exp, iat = _int_claim(claims, "exp"), _int_claim(claims, "iat")
    nbf = _int_claim(claims, "nbf", required=False)
    assert exp is not None and iat is not None
    if exp <= now_s - SKEW_SECONDS:
        raise _fail("client assertion expired")
    if iat > now_s + SKEW_SECONDS or (nbf is not None and nbf > now_s + SKEW_SECONDS):
        raise _fail("client assertion is not valid yet (iat/nbf in the future)")
    if exp - iat > MAX_ASSERTION_SECONDS or exp - now_s > MAX_ASSERTION_SECONDS + SKEW_SECONDS:
        raise _fail(f"client assertion lifetime exceeds {MAX_ASSERTION_SECONDS} s")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 128:
        raise _fail("client assertion needs a jti of 1-128 characters")
    principal = _principal_for(instance, client_id, fingerprint, leaf, moment)
    jti_hash = hashlib.sha256(f"{client_id}\n{jti}".encode()).hexdigest()
    expires = datetime.fromtimestamp(exp + SKEW_SECONDS, UTC)
    try:
        with db.session_scope(instance.engine) as session:
            session.add(AssertionJti(jti_hash=jti_hash, expires_at=expires))
    except IntegrityError:
        raise _fail("client assertion already used (jti replay)", Code.ASSERTION_REPLAYED) from None
    if secrets.randbelow(64) == 0:
        _purge(instance, moment)
    return principal


def _principal_for(
    instance: Instance, client_id: str, fingerprint: str, leaf: asn1_x509.Certificate, moment: datetime
) -> Principal:
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.exec(
            select(PlatformCredential, PlatformClient, IssuedCertificate)
            .join(PlatformClient, col(PlatformClient.id) == col(PlatformCredential.client_id))
            .join(IssuedCertificate, col(IssuedCertificate.serial) == col(PlatformCredential.serial))
            .where(PlatformCredential.fingerprint == fingerprint)
        ).first()
        if row is None:
            raise _fail("client assertion certificate is not a registered platform credential")
        credential, client, record = row
        issuer = session.get(CertificateAuthority, record.issuer_id)
    if client.id != client_id:
        raise _fail("client assertion certificate belongs to another client")
    _check_standing(client, credential, record, moment)
    if issuer is None or issuer.id not in ca_service.NATIONAL.values():
        raise _fail("platform credential was not issued by the national operations CA")
    try:
        cx.verify_signature(leaf, cx.public_key(cx.load_certificate(issuer.cert_der)))
    except TrustError:
        raise _fail("platform credential signature does not verify with the national CA key") from None
    return Principal(client.id, client.kind, client.region, client.license_issuer_id, credential.serial)


def _check_standing(
    client: PlatformClient, credential: PlatformCredential, record: IssuedCertificate, moment: datetime
) -> None:
    if client.status != "active":
        raise _fail(f"client {client.id} is {client.status}")
    if credential.status != "active" or record.status == "revoked":
        raise _fail(f"platform credential {credential.serial} is revoked")
    not_before = record.not_before if record.not_before.tzinfo else record.not_before.replace(tzinfo=UTC)
    not_after = record.not_after if record.not_after.tzinfo else record.not_after.replace(tzinfo=UTC)
    if not not_before <= moment <= not_after:
        raise _fail(f"platform credential {credential.serial} is outside its validity period")


def _purge(instance: Instance, moment: datetime) -> None:
    with db.session_scope(instance.engine) as session:
        session.execute(delete(AssertionJti).where(col(AssertionJti.expires_at) < moment))
        session.execute(delete(AccessToken).where(col(AccessToken.expires_at) < moment))


# --- access tokens ----------------------------------------------------------------------------------------------


def issue_token(instance: Instance, principal: Principal) -> tuple[str, int]:
    """A new opaque access token for ``principal`` and its lifetime in seconds."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    lifetime = instance.settings.token_seconds
    with db.session_scope(instance.engine) as session:
        session.add(
            AccessToken(
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                client_id=principal.client_id,
                serial=principal.serial,
                expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
            )
        )
    return token, lifetime


def authenticate(instance: Instance, bearer: str) -> Principal:
    """The principal behind an ``Authorization: Bearer`` value: an access token or a client assertion."""
    if bearer.count(".") == 2:
        return verify_assertion(instance, bearer)
    if not bearer.startswith(TOKEN_PREFIX) or len(bearer) > 128:
        raise _fail("bearer value is neither an access token nor a client assertion", Code.UNAUTHENTICATED)
    moment = datetime.now(UTC)
    digest = hashlib.sha256(bearer.encode()).hexdigest()
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.exec(
            select(AccessToken, PlatformClient, PlatformCredential, IssuedCertificate)
            .join(PlatformClient, col(PlatformClient.id) == col(AccessToken.client_id))
            .join(PlatformCredential, col(PlatformCredential.serial) == col(AccessToken.serial))
            .join(IssuedCertificate, col(IssuedCertificate.serial) == col(AccessToken.serial))
            .where(AccessToken.token_hash == digest)
        ).first()
    if row is None:
        raise _fail("unknown or expired access token", Code.UNAUTHENTICATED)
    token, client, credential, record = row
    expires = token.expires_at if token.expires_at.tzinfo else token.expires_at.replace(tzinfo=UTC)
    if expires <= moment:
        raise _fail("access token expired", Code.UNAUTHENTICATED)
    _check_standing(client, credential, record, moment)
    return Principal(client.id, client.kind, client.region, client.license_issuer_id, credential.serial)


# --- the platform side (tests, the demo, and platforms written in Python) ---------------------------------------


def make_assertion(
    signer_key: Any,
    certificate: asn1_x509.Certificate,
    *,
    client_id: str,
    audience: str,
    lifetime: int = 120,
    jti: str | None = None,
    issued_at: int | None = None,
    extra_chain: Sequence[asn1_x509.Certificate] = (),
) -> str:
    """A client assertion signed with ``signer_key`` (a :class:`~trust.crypto.keys.PrivateKey`); the format is
    :mod:`trust.formats.client_assertion` (platforms use :mod:`trust.client`)."""
    return client_assertion.build(
        signer_key.signer(),
        [bytes(c.dump()) for c in (certificate, *extra_chain)],
        client_id=client_id,
        audience=audience,
        lifetime=lifetime,
        jti=jti,
        issued_at=issued_at,
    )


def claimed_client_id(value: str) -> str | None:
    """The client id a client assertion claims (``sub``, else ``iss``), read **without verifying anything**: only to
    count failed authentications per claimed client. ``value`` is an assertion or an ``Authorization`` header
    value; None for access tokens and for anything unreadable or not shaped like a client id."""
    credential = value.strip()
    scheme, _, rest = credential.partition(" ")
    if scheme.lower() == "bearer":
        credential = rest.strip()
    if credential.count(".") != 2:
        return None
    try:
        _header, payload, _input, _signature = jose.parse_compact(credential)
        claims = strict_json.loads(payload, "client assertion payload")
    except TrustError:
        return None
    if not isinstance(claims, dict):
        return None
    claimed = claims.get("sub", claims.get("iss"))
    return claimed if isinstance(claimed, str) and CLIENT_ID.fullmatch(claimed) else None


def load_bearer_header(value: str | None) -> str | None:
    """The credential of an ``Authorization`` header value (``Bearer <credential>``), or None when absent."""
    if value is None:
        return None
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise _fail("Authorization must be 'Bearer <access token or client assertion>'", Code.UNAUTHENTICATED)
    return credential.strip()


__all__ = [
    "ASSERTION_TYPE",
    "KINDS",
    "AccessToken",
    "AssertionJti",
    "PlatformClient",
    "PlatformCredential",
    "Principal",
    "add_client",
    "audiences",
    "authenticate",
    "claimed_client_id",
    "get_client",
    "issue_credential",
    "issue_token",
    "list_clients",
    "load_bearer_header",
    "make_assertion",
    "revoke_credential",
    "set_client_status",
    "verify_assertion",
]
