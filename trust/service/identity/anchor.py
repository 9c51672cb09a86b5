"""The national trust anchor of the identity federation (OpenID Federation 1.0), run by the national operator.

* The anchor's entity identifier is the service's public URL; its configuration is served at
  ``/.well-known/openid-federation`` and names the ``fetch``, ``list``, ``resolve`` and trust mark status endpoints
  (clause 5.1.1) and the trust mark issuers (the anchor itself). Its federation key is an SM2 key in the key store;
  relying parties trust it because the offline bundle, signed by both national roots, carries it.
* **Registration** (:func:`register`): the operator, or a region's platform for its own region, enrols an OpenID
  Provider or a relying service. A *hosted* entity (the demo's regional OPs and relying services, run by this
  service) gets a federation key certified by its region's SM2 CA (profile ``identity-provider``); an *external*
  one brings its key's certificate, which must come from a CA of its region, and its signed entity configuration.
  An OP's key is also listed in the trust list as an ``IDENTITY_PROVIDER`` service of its region, so that the
  region's standing in the trust list governs the OP (withdrawal, with the before/after semantics of licence
  issuers: an RP judges the OP's service at the ``iat`` of each ID token).
* **Subordinate statements** (:func:`subordinate_statement`, the ``fetch`` endpoint): the entity's certified keys
  and the metadata policy that bounds it — for an OP the regions it may assert (``huren_regions_supported`` ⊆ its
  own region), the assurance levels it may issue, the scopes and ID token algorithms; for a relying service the
  code flow only.
* **Trust marks** (:func:`grant_trust_mark`, :func:`revoke_trust_mark`): e.g. "实名认证 level 2 identity
  provider", signed by the anchor; revoked marks are listed in the bundle and answered ``revoked`` by the status
  endpoint.
* **Withdrawal** (:func:`withdraw`): the anchor stops vouching (``fetch`` answers 404, the bundle leaves it out) and,
  for an OP, its trust-list service is withdrawn from that moment.
* **Resolve** (:func:`resolve`): the validated chain of a member, metadata with the policies applied, signed by the
  anchor (``resolve-response+jwt``).
* :func:`bundle_section` is what the offline bundle carries (:class:`trust.formats.federation.FederationSection`).

Every change is one transaction with its audit entries (``federation_entity`` and ``trust_mark`` are audited
tables).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import weakref
from datetime import timedelta
from typing import Any, Final

from asn1crypto import x509 as asn1_x509
from sqlmodel import Session, col, select

from ca.models import CertificateAuthority, now
from trust import db
from trust.crypto import jwk as huren_jwk
from trust.crypto.errors import Code, ConflictError, FederationError, InputError, NotFoundError, TrustError
from trust.crypto.signer import Signer
from trust.formats import federation, oidc
from trust.formats import x509 as cx
from trust.formats.names import DN, region
from trust.service import ca as ca_service
from trust.service import trust as trust_service
from trust.service.identity.models import FederationEntity, TrustMarkRecord
from trust.service.instance import Instance

KIND_OP: Final = "openid_provider"
KIND_RP: Final = "openid_relying_party"
KIND_ANCHOR: Final = "trust_anchor"
KINDS: Final = (KIND_OP, KIND_RP)
STATEMENT_LIFETIME: Final = timedelta(hours=24)
TRUST_MARK_LIFETIME: Final = timedelta(days=365)
TRUST_MARK_TYPE_PREFIX: Final = "/trust-marks/real-name-idp-level-"
DEFAULT_LEVELS: Final = (oidc.LOA_1, oidc.LOA_2)
RP_POLICY: Final = {
    KIND_RP: {
        "grant_types": {"subset_of": ["authorization_code"]},
        "response_types": {"subset_of": ["code"]},
        "redirect_uris": {"essential": True},
    }
}
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")


_anchor_ids: weakref.WeakKeyDictionary[Instance, str] = weakref.WeakKeyDictionary()


def anchor_id(instance: Instance) -> str:
    """The anchor's entity identifier: the public URL it was created under (kept in the database, so a server started
    with another ``TRUST_PUBLIC_URL`` still speaks for the same federation), else the instance's public URL."""
    known = _anchor_ids.get(instance)
    if known is not None:
        return known
    with db.session_scope(instance.engine, read_only=True) as session:
        row = session.exec(select(FederationEntity).where(FederationEntity.kind == KIND_ANCHOR)).first()
    if row is None:
        return instance.settings.effective_public_url
    _anchor_ids[instance] = row.id
    return row.id


def hosted_op_id(instance: Instance, code: str) -> str:
    return f"{anchor_id(instance)}/idp/{code}"


def hosted_rp_id(instance: Instance, name: str) -> str:
    return f"{anchor_id(instance)}/rp/{name}"


def trust_mark_type(instance: Instance, level: int) -> str:
    return f"{anchor_id(instance)}{TRUST_MARK_TYPE_PREFIX}{level}"


def _now() -> int:
    return int(time.time())


def _load(text: str) -> Any:
    return json.loads(text) if text else {}


# --- the anchor ---------------------------------------------------------------------------------------------------


def _anchor_row(session: Session, instance: Instance, *, create: bool = False) -> FederationEntity:
    row = session.get(FederationEntity, anchor_id(instance))
    if row is not None:
        return row
    if not create:
        raise NotFoundError("the identity federation has no trust anchor yet (trust federation init)")
    info = instance.keystore.generate("sm2", label="federation trust anchor")
    jwks = {"keys": [federation.jwk_entry(info.public_key)]}
    row = FederationEntity(
        id=anchor_id(instance),
        kind=KIND_ANCHOR,
        name=trust_service.OPERATOR,
        jwks=json.dumps(jwks),
        key_id=info.key_id,
    )
    session.add(row)
    return row


def init(instance: Instance) -> FederationEntity:
    """Create the anchor's federation key (once); returns the anchor's record."""
    with db.session_scope(instance.engine) as session:
        return _anchor_row(session, instance, create=True)


def has_anchor(instance: Instance) -> bool:
    with db.session_scope(instance.engine, read_only=True) as session:
        return session.get(FederationEntity, anchor_id(instance)) is not None


def _signer(instance: Instance, row: FederationEntity) -> Signer:
    if row.key_id is None:
        raise FederationError(f"{row.id} is not hosted here: its statements are signed by its own key")
    return instance.keystore.signer(row.key_id)


def anchor_jwks(instance: Instance) -> dict[str, Any]:
    with db.session_scope(instance.engine, read_only=True) as session:
        return dict(_load(_anchor_row(session, instance).jwks))


def _anchor_claims(instance: Instance, row: FederationEntity, iat: int) -> dict[str, Any]:
    base = anchor_id(instance)
    return {
        "iss": base,
        "sub": base,
        "iat": iat,
        "exp": iat + int(STATEMENT_LIFETIME.total_seconds()),
        "jwks": _load(row.jwks),
        "metadata": {
            "federation_entity": {
                "organization_name": trust_service.OPERATOR,
                "federation_fetch_endpoint": f"{base}/federation/fetch",
                "federation_list_endpoint": f"{base}/federation/list",
                "federation_resolve_endpoint": f"{base}/federation/resolve",
                "federation_trust_mark_status_endpoint": f"{base}/federation/trust-mark-status",
            }
        },
        "trust_mark_issuers": {trust_mark_type(instance, level): [base] for level in (1, 2, 3)},
    }


def anchor_configuration(instance: Instance) -> str:
    with db.session_scope(instance.engine, read_only=True) as session:
        row = _anchor_row(session, instance)
    return federation.sign_statement(_anchor_claims(instance, row, _now()), _signer(instance, row))


# --- registration -------------------------------------------------------------------------------------------------


def op_policy(code: str, levels: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """What the anchor lets a region's OP claim: its own region's citizens, the levels it was certified for, the
    scopes and claims it may release, Huren's ID token algorithms."""
    return {
        KIND_OP: {
            oidc.CLAIM_REGIONS_SUPPORTED: {"subset_of": [code], "essential": True},
            "acr_values_supported": {"subset_of": list(levels)},
            "scopes_supported": {"subset_of": ["openid", "profile", oidc.SCOPE_CITIZEN_ID]},
            "claims_supported": {
                "subset_of": ["sub", "name", "acr", "auth_time", oidc.CLAIM_REGION, oidc.CLAIM_CITIZEN_ID]
            },
            "id_token_signing_alg_values_supported": {"subset_of": list(oidc.ID_TOKEN_ALGORITHMS)},
            "code_challenge_methods_supported": {"subset_of": ["S256"], "essential": True},
        }
    }


def _region_ca(session: Session, code: str) -> CertificateAuthority:
    ca = session.get(CertificateAuthority, ca_service.ca_id_for("region", code, "SM2"))
    if ca is None:
        raise NotFoundError(f"region {code} has no SM2 CA: enrol the region first (trust ca enrol)")
    return ca


def _issued_by(cert: asn1_x509.Certificate, ca: CertificateAuthority) -> bool:
    try:
        cx.verify_signature(cert, cx.public_key(asn1_x509.Certificate.load(ca.cert_der)))
    except TrustError:
        return False
    return True


def _check_certificate(session: Session, code: str, cert_der: bytes, jwks: dict[str, Any]) -> None:
    """An external entity's key certificate must be issued by one of its region's CAs and hold a key of ``jwks``."""
    cert = cx.load_certificate(cert_der)
    cas = session.exec(
        select(CertificateAuthority).where(CertificateAuthority.kind == "region", CertificateAuthority.code == code)
    ).all()
    if not any(_issued_by(cert, ca) for ca in cas):
        raise InputError(f"the entity key certificate is not issued by a CA of region {code}")
    key = cx.public_key(cert)
    thumbprints = {entry.get("kid") for entry in jwks.get("keys", [])}
    if huren_jwk.thumbprint(key) not in thumbprints:
        raise InputError("the entity key certificate does not certify a key of the entity's jwks")


def register(
    instance: Instance,
    *,
    kind: str,
    region_code: str,
    name: str,
    entity_id: str | None = None,
    slug: str | None = None,
    metadata: dict[str, Any] | None = None,
    levels: list[str] | None = None,
    certificate: bytes | None = None,
    configuration: str | None = None,
) -> FederationEntity:
    """Enrol an OP or a relying service of ``region_code``. Without ``certificate``/``configuration`` the entity is
    hosted here (``slug`` names it: ``/idp/<region>`` for an OP, ``/rp/<slug>`` for a relying service) and its
    federation key is made and certified by the region's SM2 CA."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}")
    region(region_code)  # a GB/T 2260 province code, or InputError
    levels = list(levels or DEFAULT_LEVELS)
    if any(level not in oidc.ACR_LEVELS for level in levels):
        raise InputError(f"assurance levels must be among {', '.join(oidc.ACR_LEVELS)}")
    external = certificate is not None or configuration is not None
    if external:
        if certificate is None or configuration is None or entity_id is None:
            raise InputError("an external entity brings its entity id, its key certificate and its configuration")
        return _register_external(instance, kind, region_code, name, entity_id, levels, certificate, configuration)
    if kind == KIND_RP and (slug is None or not _NAME.fullmatch(slug)):
        raise InputError("a hosted relying service needs a name of lower-case letters, digits and '-'")
    entity_id = hosted_op_id(instance, region_code) if kind == KIND_OP else hosted_rp_id(instance, slug or "")
    return _register_hosted(instance, kind, region_code, name, entity_id, levels, metadata or {})


def _policy(kind: str, code: str, levels: list[str]) -> dict[str, Any]:
    return op_policy(code, levels) if kind == KIND_OP else json.loads(json.dumps(RP_POLICY))


def _register_hosted(
    instance: Instance, kind: str, code: str, name: str, entity_id: str, levels: list[str], metadata: dict[str, Any]
) -> FederationEntity:
    with db.session_scope(instance.engine, read_only=True) as session:
        _anchor_row(session, instance)
        if session.get(FederationEntity, entity_id) is not None:
            raise ConflictError(f"{entity_id} is already registered")
        province = region(code).name
    subject = DN(province=province, organization=name, common_name=f"{name} 联邦实体"[:64])
    issued = ca_service.issue(
        instance, ca_id=ca_service.ca_id_for("region", code, "SM2"), profile="identity-provider", subject=subject
    )
    cert_der = issued.certificate.dump()
    key_id = issued.record.key_id
    assert key_id is not None  # issued without a CSR: the key is in the key store
    jwks = {"keys": [federation.jwk_entry(cx.public_key(issued.certificate), certificate=cert_der)]}
    signing: dict[str, str] = {}
    if kind == KIND_OP:
        for alg, spec in (("RS256", "rsa-2048"), ("ES256", "ec-p256"), ("SM2", "sm2")):
            signing[alg] = instance.keystore.generate(spec, label=f"{entity_id} ID tokens {alg}").key_id
        signing["pairwise_salt"] = secrets.token_hex(16)  # pairwise subjects (trust.service.identity.op)
    with db.session_scope(instance.engine) as session:
        row = FederationEntity(
            id=entity_id,
            kind=kind,
            region=code,
            issuer_id=f"region-{code}",
            name=name,
            jwks=json.dumps(jwks),
            entity_metadata=json.dumps(metadata, ensure_ascii=False),
            policy=json.dumps(_policy(kind, code, levels)),
            key_id=key_id,
            signing_keys=json.dumps(signing),
        )
        if kind == KIND_OP:
            row.trust_service_id = f"idp-{code}-{hashlib.sha256(entity_id.encode()).hexdigest()[:8]}"
            trust_service.register_service(
                session,
                issuer_ca=_region_ca(session, code),
                service_id=row.trust_service_id,
                service_type="IDENTITY_PROVIDER",
                cert_der=cert_der,
                scope={"region": code, "entity_id": entity_id},
            )
            trust_service.publish(session, instance)
        session.add(row)
    return row


def _register_external(
    instance: Instance,
    kind: str,
    code: str,
    name: str,
    entity_id: str,
    levels: list[str],
    certificate: bytes,
    configuration: str,
) -> FederationEntity:
    statement = federation.parse_statement(configuration)
    if not statement.is_configuration or statement.sub != entity_id:
        raise InputError(f"the configuration is not {entity_id}'s own entity configuration")
    jwks = dict(statement.jwks)
    cert_der = cx.load_certificate(certificate).dump()  # PEM or DER
    federation.verify_signature(statement, jwks)
    with db.session_scope(instance.engine) as session:
        _anchor_row(session, instance)
        if session.get(FederationEntity, entity_id) is not None:
            raise ConflictError(f"{entity_id} is already registered")
        _check_certificate(session, code, cert_der, jwks)
        thumb = huren_jwk.thumbprint(cx.public_key(cx.load_certificate(cert_der)))
        certified = {
            "keys": [
                {**entry, "x5c": [base64.b64encode(cert_der).decode()]} if entry.get("kid") == thumb else dict(entry)
                for entry in jwks["keys"]
            ]
        }
        row = FederationEntity(
            id=entity_id,
            kind=kind,
            region=code,
            issuer_id=f"region-{code}",
            name=name,
            jwks=json.dumps(certified),
            policy=json.dumps(_policy(kind, code, levels)),
            configuration=configuration.strip(),
        )
        if kind == KIND_OP:
            row.trust_service_id = f"idp-{code}-{hashlib.sha256(entity_id.encode()).hexdigest()[:8]}"
            trust_service.register_service(
                session,
                issuer_ca=_region_ca(session, code),
                service_id=row.trust_service_id,
                service_type="IDENTITY_PROVIDER",
                cert_der=cert_der,
                scope={"region": code, "entity_id": entity_id},
            )
            trust_service.publish(session, instance)
        session.add(row)
    return row


def update_configuration(instance: Instance, entity_id: str, configuration: str) -> None:
    """An external entity's new configuration (signed by a key the anchor certified for it)."""
    statement = federation.parse_statement(configuration)
    with db.session_scope(instance.engine) as session:
        row = _member(session, entity_id)
        if row.key_id is not None or statement.sub != entity_id or not statement.is_configuration:
            raise InputError(f"{entity_id}: not an external entity's own configuration")
        federation.verify_signature(statement, _load(row.jwks))
        row.configuration = configuration.strip()
        session.add(row)


# --- queries ------------------------------------------------------------------------------------------------------


def _member(session: Session, entity_id: str, *, active: bool = True) -> FederationEntity:
    row = session.get(FederationEntity, entity_id)
    if row is None or row.kind == KIND_ANCHOR or (active and row.status != "active"):
        raise NotFoundError(f"{entity_id} is not a member of the federation")
    return row


def get(instance: Instance, entity_id: str) -> FederationEntity:
    with db.session_scope(instance.engine, read_only=True) as session:
        return _member(session, entity_id, active=False)


def entities(instance: Instance, entity_type: str | None = None, *, active_only: bool = True) -> list[FederationEntity]:
    with db.session_scope(instance.engine, read_only=True) as session:
        query = select(FederationEntity).where(col(FederationEntity.kind) != KIND_ANCHOR)
        if entity_type is not None:
            query = query.where(FederationEntity.kind == entity_type)
        if active_only:
            query = query.where(FederationEntity.status == "active")
        return list(session.exec(query.order_by(col(FederationEntity.id))).all())


def subordinate_statement(instance: Instance, entity_id: str, *, iat: int | None = None) -> str:
    """The anchor's statement about an active member (``fetch``)."""
    iat = _now() if iat is None else iat
    with db.session_scope(instance.engine, read_only=True) as session:
        row = _member(session, entity_id)
        anchor = _anchor_row(session, instance)
    claims = {
        "iss": anchor.id,
        "sub": row.id,
        "iat": iat,
        "exp": iat + int(STATEMENT_LIFETIME.total_seconds()),
        "jwks": _load(row.jwks),
        "metadata_policy": _load(row.policy),
        "source_endpoint": f"{anchor.id}/federation/fetch",
    }
    return federation.sign_statement(claims, _signer(instance, anchor))


def _active_marks(session: Session, entity_id: str) -> list[TrustMarkRecord]:
    return list(
        session.exec(
            select(TrustMarkRecord).where(
                TrustMarkRecord.entity_id == entity_id, col(TrustMarkRecord.revoked_at).is_(None)
            )
        ).all()
    )


def entity_configuration(instance: Instance, entity_id: str, *, iat: int | None = None) -> str:
    """A member's entity configuration: signed here for a hosted entity, the uploaded one for an external one."""
    iat = _now() if iat is None else iat
    with db.session_scope(instance.engine, read_only=True) as session:
        row = _member(session, entity_id, active=False)
        marks = _active_marks(session, entity_id)
    if row.key_id is None:
        if row.configuration is None:
            raise NotFoundError(f"the anchor holds no configuration of {entity_id}")
        return row.configuration
    claims: dict[str, Any] = {
        "iss": row.id,
        "sub": row.id,
        "iat": iat,
        "exp": iat + int(STATEMENT_LIFETIME.total_seconds()),
        "jwks": {"keys": [{k: v for k, v in e.items() if k != "x5c"} for e in _load(row.jwks)["keys"]]},
        "authority_hints": [anchor_id(instance)],
        "metadata": hosted_metadata(instance, row),
    }
    if marks:
        claims["trust_marks"] = [{"trust_mark_type": m.trust_mark_type, "trust_mark": m.token} for m in marks]
    return federation.sign_statement(claims, _signer(instance, row))


def hosted_metadata(instance: Instance, row: FederationEntity) -> dict[str, Any]:
    """The metadata a hosted entity publishes: an OP's endpoints and ID token keys, an RP's redirect URIs."""
    base = row.id
    stored = _load(row.entity_metadata)
    metadata: dict[str, Any] = {"federation_entity": {"organization_name": row.name}}
    if row.kind == KIND_OP:
        keys = []
        for alg, key_id in _load(row.signing_keys).items():
            if alg not in oidc.ID_TOKEN_ALGORITHMS:
                continue
            keys.append(federation.jwk_entry(instance.keystore.info(key_id).public_key, alg=alg))
        metadata[KIND_OP] = {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "end_session_endpoint": f"{base}/logout",
            "jwks_uri": f"{base}/jwks",
            "huren_sm2_jwks_uri": f"{base}/jwks-sm2",
            "jwks": {"keys": keys},
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": list(oidc.ID_TOKEN_ALGORITHMS),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", oidc.SCOPE_CITIZEN_ID],
            "claims_supported": ["sub", "name", "acr", "auth_time", oidc.CLAIM_REGION, oidc.CLAIM_CITIZEN_ID],
            "acr_values_supported": list(oidc.ACR_LEVELS),
            "authorization_response_iss_parameter_supported": True,
            "client_registration_types_supported": ["automatic"],
            oidc.CLAIM_REGIONS_SUPPORTED: [row.region] if row.region else [],
            **stored.get(KIND_OP, {}),
        }
    else:
        metadata[KIND_RP] = {
            "client_name": row.name,
            "redirect_uris": [f"{base}/callback"],
            "post_logout_redirect_uris": [f"{base}/"],
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none",
            "client_registration_types": ["automatic"],
            **stored.get(KIND_RP, {}),
        }
    return metadata


def list_ids(instance: Instance, entity_type: str | None = None) -> list[str]:
    """The ``list`` endpoint: identifiers of the active members (of one entity type)."""
    return [row.id for row in entities(instance, entity_type)]


def chain_tokens(instance: Instance, entity_id: str, *, iat: int | None = None) -> list[str]:
    return [
        entity_configuration(instance, entity_id, iat=iat),
        subordinate_statement(instance, entity_id, iat=iat),
        anchor_configuration(instance),
    ]


def resolve_chain(instance: Instance, entity_id: str) -> federation.TrustChain:
    """A member's trust chain, validated as any relying party would validate it."""
    now_s = _now()
    jwks = anchor_jwks(instance)
    chain = federation.validate_chain(
        chain_tokens(instance, entity_id, iat=now_s), jwks, now=now_s, anchor=anchor_id(instance)
    )
    with db.session_scope(instance.engine, read_only=True) as session:
        revoked = [m.digest for m in session.exec(select(TrustMarkRecord)).all() if m.revoked_at is not None]
    marks = federation.chain_trust_marks(chain, issuer_jwks={anchor_id(instance): jwks}, now=now_s, revoked=revoked)
    return federation.TrustChain(
        chain.statements, chain.metadata, chain.expires_at, marks, chain.subject_key_certificates
    )


def resolve(instance: Instance, entity_id: str, trust_anchor: str | None = None) -> str:
    """The ``resolve`` endpoint's answer: a ``resolve-response+jwt`` signed by the anchor."""
    if trust_anchor is not None and trust_anchor != anchor_id(instance):
        raise NotFoundError(f"this resolver answers for the trust anchor {anchor_id(instance)} only")
    chain = resolve_chain(instance, entity_id)
    with db.session_scope(instance.engine, read_only=True) as session:
        anchor = _anchor_row(session, instance)
    return federation.sign_resolve_response(
        _signer(instance, anchor), resolver=anchor.id, chain=chain, iat=_now(), trust_marks=chain.trust_marks
    )


# --- trust marks and withdrawal -----------------------------------------------------------------------------------


def grant_trust_mark(instance: Instance, entity_id: str, level: int) -> TrustMarkRecord:
    if level not in (1, 2, 3):
        raise InputError("the trust mark level must be 1, 2 or 3")
    mark_type = trust_mark_type(instance, level)
    iat = _now()
    with db.session_scope(instance.engine) as session:
        row = _member(session, entity_id)
        if row.kind != KIND_OP:
            raise InputError("实名认证 trust marks are granted to identity providers")
        if any(m.trust_mark_type == mark_type for m in _active_marks(session, entity_id)):
            raise ConflictError(f"{entity_id} already holds {mark_type}")
        anchor = _anchor_row(session, instance)
        token = federation.sign_trust_mark(
            _signer(instance, anchor),
            iss=anchor.id,
            sub=entity_id,
            trust_mark_type=mark_type,
            iat=iat,
            exp=iat + int(TRUST_MARK_LIFETIME.total_seconds()),
        )
        record = TrustMarkRecord(
            entity_id=entity_id,
            trust_mark_type=mark_type,
            digest=hashlib.sha256(token.encode()).hexdigest(),
            token=token,
        )
        session.add(record)
    return record


def revoke_trust_mark(instance: Instance, entity_id: str, level: int) -> TrustMarkRecord:
    mark_type = trust_mark_type(instance, level)
    with db.session_scope(instance.engine) as session:
        marks = [m for m in _active_marks(session, entity_id) if m.trust_mark_type == mark_type]
        if not marks:
            raise NotFoundError(f"{entity_id} holds no active {mark_type}")
        for mark in marks:
            mark.revoked_at = now()
            session.add(mark)
    return marks[0]


def trust_mark_status(instance: Instance, token: str) -> str:
    """``active`` or ``revoked`` for a trust mark this anchor issued; NotFound for any other."""
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    with db.session_scope(instance.engine, read_only=True) as session:
        record = session.exec(select(TrustMarkRecord).where(TrustMarkRecord.digest == digest)).first()
    if record is None:
        raise NotFoundError("this anchor did not issue that trust mark")
    return "revoked" if record.revoked_at is not None else "active"


def withdraw(instance: Instance, entity_id: str, reason: str = "") -> FederationEntity:
    """Stop vouching for a member; an OP's trust-list service is withdrawn from now (a new trust list)."""
    with db.session_scope(instance.engine) as session:
        row = _member(session, entity_id)
        row.status = "withdrawn"
        row.reason = reason[:256]
        row.withdrawn_at = now()
        session.add(row)
        if row.trust_service_id is not None:
            from trust.service import registry

            registry.set_status(
                session, subject="service", subject_id=row.trust_service_id, status="withdrawn", at=None, reason=reason
            )
            trust_service.publish(session, instance)
    return row


# --- the offline bundle -------------------------------------------------------------------------------------------


def bundle_section(instance: Instance) -> dict[str, Any] | None:
    """The federation as the offline bundle carries it, or None when there is no anchor (older deployments: their
    bundles stay byte for byte as they were)."""
    if not has_anchor(instance):
        return None
    iat = _now()
    statements = [anchor_configuration(instance)]
    for row in entities(instance):
        try:
            statements.append(entity_configuration(instance, row.id, iat=iat))
        except NotFoundError:
            continue
        statements.append(subordinate_statement(instance, row.id, iat=iat))
    with db.session_scope(instance.engine, read_only=True) as session:
        revoked = sorted(m.digest for m in session.exec(select(TrustMarkRecord)).all() if m.revoked_at is not None)
    section = federation.FederationSection(
        anchor_id(instance), anchor_jwks(instance), tuple(statements), tuple(revoked)
    )
    return section.to_json()


def op_signer(instance: Instance, row: FederationEntity, alg: str) -> Signer:
    keys = _load(row.signing_keys)
    if alg not in keys or alg not in oidc.ID_TOKEN_ALGORITHMS:
        raise FederationError(f"{row.id} has no {alg} ID token key", code=Code.OIDC_INVALID_REQUEST)
    return instance.keystore.signer(keys[alg])


def certificate_of(row: FederationEntity) -> bytes | None:
    for entry in _load(row.jwks).get("keys", []):
        if entry.get("x5c"):
            return base64.b64decode(entry["x5c"][0])
    return None


__all__ = [
    "KINDS",
    "KIND_OP",
    "KIND_RP",
    "anchor_configuration",
    "anchor_id",
    "bundle_section",
    "chain_tokens",
    "entities",
    "entity_configuration",
    "grant_trust_mark",
    "init",
    "list_ids",
    "register",
    "resolve",
    "revoke_trust_mark",
    "subordinate_statement",
    "trust_mark_status",
    "withdraw",
]
