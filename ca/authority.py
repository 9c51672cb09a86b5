"""Issuance and revocation over storage: the CA's operations, given a database session and a key store.

Issuance discipline (after Boulder): **check → persist → sign → complete**, all in the caller's one database
transaction.

1. Check: the CA is active and may issue this profile; the profile accepts the key and the subject; the
   subject lies inside the CA's name constraints; validity is clamped to the issuer's.
2. Persist: a row with a fresh random 159-bit serial is inserted and flushed — the unique constraint on
   ``certificate.serial`` (and ``crl.(ca_id, number)``) is the arbiter across processes.
3. Sign once with the CA's :class:`~trust.crypto.signer.Signer`; the certificate is verified before use.
4. Complete the row. The caller commits. Any exception before the commit rolls everything back: no record,
   no consumed serial, no CRL number gap. Keys the service generates for a subject are written to the key
   store only after signing succeeded, and removed again if the transaction fails (:func:`issue` returns
   a ``cleanup`` action for that).

Roots sign only CA certificates and CRLs (and, in ``trust.service``, the trust list); they never issue
end-entity certificates or OCSP responses.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ca import crl as crl_mod
from ca import x509 as cx
from ca.models import CaKeyHistory, CertificateAuthority, CrlRecord, IssuedCertificate, now, utc
from ca.names import DN, name_attributes, name_text, region
from ca.profiles import POLICY, Profile
from trust.crypto.algorithms import RSA_PKCS1_SHA256, SM2_SM3, KeyFamily, SignatureAlgorithm
from trust.crypto.errors import Code, ConflictError, InputError, NotFoundError, TrustError
from trust.crypto.keys import PrivateKey, PublicKey, generate_private_key
from trust.crypto.keystore import KeyStore
from trust.crypto.signer import Signer
from trust.formats import idcodes

ROOT_VALIDITY: Final = timedelta(days=20 * 365)
SUB_CA_VALIDITY: Final = timedelta(days=10 * 365)
CRL_VALIDITY: Final = timedelta(days=7)
BACKDATE: Final = timedelta(minutes=5)

# Profiles each kind of CA may issue; their policy OIDs go into the CA certificate.
KIND_PROFILES: Final = {
    "national": ("timestamping", "ocsp", "tls-server", "tls-client"),
    "region": (
        "seal",
        "seal-maker",
        "person-identity",
        "organization-identity",
        "license-issuer",
        "ocsp",
        "tls-server",
        "tls-client",
    ),
    "department": ("seal", "seal-maker", "organization-identity", "license-issuer", "ocsp", "tls-client"),
}


@dataclass(frozen=True)
class Endpoints:
    """Where relying parties fetch CRLs, OCSP and issuer certificates (written into certificates)."""

    base_url: str

    def crl(self, ca_id: str) -> str:
        return f"{self.base_url}/crl/{ca_id}.crl"

    def ca_cert(self, ca_id: str) -> str:
        return f"{self.base_url}/ca/{ca_id}.cer"

    def ocsp(self) -> str:
        return f"{self.base_url}/ocsp"


@dataclass
class Issued:
    """Result of an issuance: the stored row, the certificate, and cleanups to run if the commit fails."""

    record: IssuedCertificate
    certificate: asn1_x509.Certificate
    cleanups: list[Callable[[], None]] = field(default_factory=list)


def new_serial() -> int:
    """159 random bits (20 DER octets at most, RFC 5280 clause 4.1.2.2; far above the 64 bits CA/B asks)."""
    while True:
        serial = secrets.randbits(159)
        if serial >= 1 << 64:
            return serial


def algorithm_for(family: str) -> SignatureAlgorithm:
    if family == KeyFamily.SM2.value:
        return SM2_SM3
    if family == KeyFamily.RSA.value:
        return RSA_PKCS1_SHA256
    raise InputError(f"CAs sign with SM2 or RSA keys, not {family}")


def get_ca(session: Session, ca_id: str) -> CertificateAuthority:
    ca = session.get(CertificateAuthority, ca_id)
    if ca is None:
        raise NotFoundError(f"no CA {ca_id!r}")
    return ca


def ca_certificate(ca: CertificateAuthority) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(ca.cert_der)


def _signer(keystore: KeyStore, ca: CertificateAuthority) -> Signer:
    if ca.key_id is None:
        raise ConflictError(f"CA {ca.id} holds its own key (enrolled from a CSR); Huren cannot sign for it")
    return keystore.signer(ca.key_id, algorithm_for(ca.family))


def _new_key(family: str, *, ca: bool) -> PrivateKey:
    if family == KeyFamily.SM2.value:
        return generate_private_key("sm2")
    if family == KeyFamily.RSA.value:
        return generate_private_key("rsa-4096" if ca else "rsa-2048")
    if family == KeyFamily.EC.value:
        return generate_private_key("ec-p256")
    raise InputError(f"unknown key family {family!r}; SM2, RSA or EC")


def _store_key(keystore: KeyStore, key: PrivateKey, label: str, issued: Issued | None = None) -> str:
    info = keystore.import_key(key, label=label)
    if issued is not None:
        issued.cleanups.append(lambda: keystore.discard(info.key_id))
    return info.key_id


class DuplicateRequest(ConflictError):
    """Another transaction committed a certificate for the same idempotency key first."""

    def __init__(self, request_id: str):
        super().__init__(f"request {request_id!r} was already issued", evidence={"request_id": request_id})
        self.request_id = request_id


def _reserve(session: Session, make: Callable[[int], IssuedCertificate]) -> IssuedCertificate:
    """Insert a row with a fresh serial; retry on the (astronomically rare) serial collision.

    A unique violation on ``request_id`` is not a collision: a concurrent request with the same idempotency
    key won the race, and :class:`DuplicateRequest` tells the caller to return that one."""
    for _ in range(5):
        record = make(new_serial())
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
            return record
        except IntegrityError:
            if (
                record.request_id is not None
                and session.exec(
                    select(IssuedCertificate.id).where(IssuedCertificate.request_id == record.request_id)
                ).first()
                is not None
            ):
                raise DuplicateRequest(record.request_id) from None
            continue
    raise ConflictError("could not allocate a unique serial number", code=Code.CONFLICT)


def _clamp(issuer_cert: asn1_x509.Certificate, start: datetime, end: datetime) -> datetime:
    issuer_end = utc(issuer_cert["tbs_certificate"]["validity"]["not_after"].native)
    return min(end, issuer_end)


# --- roots and CAs -----------------------------------------------------------------------------------------


def create_root(session: Session, keystore: KeyStore, *, ca_id: str, family: str, name: str) -> CertificateAuthority:
    if session.get(CertificateAuthority, ca_id) is not None:
        raise ConflictError(f"CA {ca_id} already exists")
    key = _new_key(family, ca=True)
    subject = DN(organization="国家政务服务平台", common_name=name).to_asn1()
    start = now() - BACKDATE
    serial = new_serial()
    builder = (
        cx.CertificateBuilder()
        .subject(subject)
        .issuer(subject)
        .public_key(key.public_key)
        .serial_number(serial)
        .validity(start, start + ROOT_VALIDITY)
        .add_extension(cx.basic_constraints(True, 1))
        .add_extension(cx.key_usage({"key_cert_sign", "crl_sign"}))
        .add_extension(cx.subject_key_identifier(key.public_key))
    )
    cert = builder.sign(key.signer(algorithm_for(family)))
    key_id = _store_key(keystore, key, f"national root {family}")
    ca = CertificateAuthority(
        id=ca_id,
        kind="root",
        code=None,
        name=name,
        family=family,
        key_id=key_id,
        parent_id=None,
        serial=cx.serial_hex(serial),
        cert_der=cert.dump(),
    )
    session.add(ca)
    session.flush()
    return ca


def ca_scope(kind: str, code: str | None, organization: str | None) -> DN:
    """The name prefix a CA of this kind may certify (its permitted subtree)."""
    if kind == "region":
        assert code is not None
        r = region(code)
        if r.is_province:
            return DN(province=r.province)
        return DN(province=r.province, locality=r.name)
    if kind == "department":
        if not organization:
            raise InputError("a department CA needs the department's name")
        return DN(organization=organization)
    return DN()


def _scope_names(scope: DN) -> list[asn1_x509.Name]:
    return [scope.to_asn1()]


def create_sub_ca(
    session: Session,
    keystore: KeyStore,
    endpoints: Endpoints,
    *,
    ca_id: str,
    parent_id: str,
    kind: str,
    code: str | None,
    name: str,
    organization: str,
    public_key: PublicKey | None = None,
    family: str | None = None,
) -> tuple[CertificateAuthority, Issued]:
    """A regional, departmental or national operations CA under a root, from a CSR key or a new key."""
    if kind not in KIND_PROFILES:
        raise InputError(f"CA kind must be one of {', '.join(KIND_PROFILES)}")
    if session.get(CertificateAuthority, ca_id) is not None:
        raise ConflictError(f"CA {ca_id} already exists")
    parent = get_ca(session, parent_id)
    if parent.kind != "root":
        raise InputError("subordinate CAs are certified by a national root")
    if parent.status != "active":
        raise ConflictError(f"CA {parent.id} is {parent.status}")
    scope = ca_scope(kind, code, organization)
    subject = DN(
        province=scope.province, locality=scope.locality, organization=organization, common_name=name
    ).to_asn1()
    generated: PrivateKey | None = None
    if public_key is None:
        generated = _new_key(family or parent.family, ca=True)
        public_key = generated.public_key
    if public_key.family.value not in (KeyFamily.SM2.value, KeyFamily.RSA.value):
        raise InputError("CA keys are SM2 or RSA", code=Code.KEY_MISMATCH)
    if public_key.family is KeyFamily.RSA and public_key.size < 3072:
        raise InputError("RSA CA keys must have at least 3072 bits", code=Code.WEAK_KEY)
    parent_cert = ca_certificate(parent)
    start = now() - BACKDATE
    end = _clamp(parent_cert, start, start + SUB_CA_VALIDITY)
    policies = [POLICY[p] for p in KIND_PROFILES[kind]]
    builder = (
        cx.CertificateBuilder()
        .subject(subject)
        .issuer(parent_cert.subject)
        .public_key(public_key)
        .validity(start, end)
        .add_extension(cx.basic_constraints(True, 0))
        .add_extension(cx.key_usage({"key_cert_sign", "crl_sign"}))
        .add_extension(cx.subject_key_identifier(public_key))
        .add_extension(cx.authority_key_identifier(cx.public_key(parent_cert)))
        .add_extension(cx.certificate_policies(policies))
        .add_extension(cx.crl_distribution_point(endpoints.crl(parent.id)))
        .add_extension(cx.authority_information_access(None, endpoints.ca_cert(parent.id)))
    )
    if kind != "national":
        builder = builder.add_extension(cx.name_constraints(_scope_names(scope)))
    issued = _issue_signed(
        session,
        keystore,
        parent,
        builder,
        profile_name=f"ca-{kind}",
        subject=subject,
        public_key=public_key,
        key_id=None,
    )
    key_id = None
    if generated is not None:
        key_id = _store_key(keystore, generated, f"{kind} CA {ca_id}", issued)
        issued.record.key_id = key_id
    ca = CertificateAuthority(
        id=ca_id,
        kind=kind,
        code=code,
        name=name,
        family=public_key.family.value,
        key_id=key_id,
        parent_id=parent.id,
        serial=issued.record.serial,
        cert_der=issued.record.der,
    )
    session.add(ca)
    session.flush()
    return ca, issued


REKEY_COPIED_EXTENSIONS: Final = (
    "basic_constraints",
    "key_usage",
    "certificate_policies",
    "crl_distribution_points",
    "authority_information_access",
    "name_constraints",
)


def rekey_sub_ca(
    session: Session, keystore: KeyStore, *, ca_id: str, public_key: PublicKey | None = None
) -> tuple[CertificateAuthority, Issued]:
    """Give subordinate CA ``ca_id`` a new key and a new certificate from the same root.

    The new certificate has the old one's subject and, copied verbatim, its basic constraints (path length), key
    usage, certificate policies, CRL distribution point, authority information access and name constraints; a new
    serial, a new subject key identifier and a fresh validity. ``public_key`` comes from a verified CSR of the
    CA's family (the region keeps the key); without it the key store generates one. The old certificate is not
    revoked: it moves to ``ca_key_history`` with its key reference, so what it issued keeps verifying and its key
    keeps signing the CRL that covers those certificates (:func:`generate_crl`). Issuance discipline as for every
    certificate: check, persist (row and serial), sign, complete; the new key is written to the key store after
    signing and discarded if the transaction fails (``Issued.cleanups``)."""
    ca = get_ca(session, ca_id)
    if ca.kind == "root":
        raise InputError(f"{ca.id} is a national root; roots are not re-keyed (a root rollover is a new ceremony)")
    if ca.parent_id is None:
        raise InputError(f"CA {ca.id} has no parent to certify its new key")
    if ca.status != "active":
        raise ConflictError(f"CA {ca.id} is {ca.status}")
    parent = get_ca(session, ca.parent_id)
    if parent.kind != "root":
        raise InputError("subordinate CAs are certified by a national root")
    if parent.status != "active":
        raise ConflictError(f"CA {parent.id} is {parent.status}")
    old_cert = ca_certificate(ca)
    generated: PrivateKey | None = None
    if public_key is None:
        generated = _new_key(ca.family, ca=True)
        public_key = generated.public_key
    if public_key.family.value != ca.family:
        raise InputError(
            f"CA {ca.id} is an {ca.family} CA; the new key is {public_key.family.value}", code=Code.KEY_MISMATCH
        )
    if public_key.family is KeyFamily.RSA and public_key.size < 3072:
        raise InputError("RSA CA keys must have at least 3072 bits", code=Code.WEAK_KEY)
    earlier = [cx.public_key(old_cert)] + [
        cx.public_key(asn1_x509.Certificate.load(h.cert_der))
        for h in session.exec(select(CaKeyHistory).where(CaKeyHistory.ca_id == ca.id)).all()
    ]
    if public_key in earlier:
        raise ConflictError(f"the new key of CA {ca.id} is one it held before; re-keying needs a new key")
    parent_cert = ca_certificate(parent)
    start = now() - BACKDATE
    end = _clamp(parent_cert, start, start + SUB_CA_VALIDITY)
    builder = (
        cx.CertificateBuilder()
        .subject(old_cert.subject)
        .issuer(parent_cert.subject)
        .public_key(public_key)
        .validity(start, end)
        .add_extension(cx.subject_key_identifier(public_key))
        .add_extension(cx.authority_key_identifier(cx.public_key(parent_cert)))
    )
    copied = {ext["extn_id"].native: ext for ext in old_cert["tbs_certificate"]["extensions"]}
    for name in REKEY_COPIED_EXTENSIONS:
        ext = copied.get(name)
        if ext is not None:
            builder = builder.add_extension(
                cx.Ext(name, ext["extn_value"].parsed, critical=bool(ext["critical"].native))
            )
    previous = session.exec(
        select(IssuedCertificate).where(IssuedCertificate.serial == ca.serial, IssuedCertificate.issuer_id == parent.id)
    ).first()
    issued = _issue_signed(
        session,
        keystore,
        parent,
        builder,
        profile_name=previous.profile if previous is not None else f"ca-{ca.kind}",
        subject=old_cert.subject,
        public_key=public_key,
        key_id=None,
    )
    key_id = None
    if generated is not None:
        key_id = _store_key(keystore, generated, f"{ca.kind} CA {ca.id} (re-keyed)", issued)
        issued.record.key_id = key_id
    session.add(
        CaKeyHistory(
            ca_id=ca.id,
            serial=ca.serial,
            key_id=ca.key_id,
            cert_der=ca.cert_der,
            not_after=utc(old_cert["tbs_certificate"]["validity"]["not_after"].native),
        )
    )
    ca.key_id = key_id
    ca.serial = issued.record.serial
    ca.cert_der = issued.record.der
    # the delegated OCSP responder was certified by the old key: the next ensure_ocsp_responder certifies a new one
    ca.ocsp_key_id = None
    ca.ocsp_cert_der = None
    session.add(ca)
    session.flush()
    return ca, issued


def key_history(session: Session, ca_id: str) -> list[CaKeyHistory]:
    """The certificates ``ca_id`` held before its current one, newest first."""
    return list(
        session.exec(
            select(CaKeyHistory).where(CaKeyHistory.ca_id == ca_id).order_by(col(CaKeyHistory.id).desc())
        ).all()
    )


# --- end entities ------------------------------------------------------------------------------------------


def check_in_scope(ca: CertificateAuthority, subject: asn1_x509.Name) -> None:
    """The subject must start with the CA's permitted subtree (the same rule RFC 5280 name constraints apply)."""
    cert = ca_certificate(ca)
    constraints = cert.name_constraints_value
    if constraints is None:
        return
    attrs = name_attributes(subject)
    for subtree in constraints["permitted_subtrees"]:
        base = subtree["base"]
        if base.name != "directory_name":
            continue
        prefix = name_attributes(base.chosen)
        if attrs[: len(prefix)] == prefix:
            return
    raise InputError(
        f"subject {name_text(subject)} is outside the name constraints of CA {ca.id}",
        evidence={"permitted": [name_text(s["base"].chosen) for s in constraints["permitted_subtrees"]]},
    )


def issue(
    session: Session,
    keystore: KeyStore,
    endpoints: Endpoints,
    *,
    ca_id: str,
    profile: Profile,
    subject: DN,
    public_key: PublicKey | None = None,
    key_family: str = "SM2",
    validity: timedelta | None = None,
    dns_names: Sequence[str] = (),
    uris: Sequence[str] = (),
    request_id: str | None = None,
) -> Issued:
    """Issue an end-entity certificate of ``profile`` for ``subject``.

    ``public_key`` comes from a verified CSR; without it the service generates a key of ``key_family`` and
    keeps it in the key store (``record.key_id``)."""
    ca = get_ca(session, ca_id)
    if ca.kind == "root":
        raise InputError("national roots sign only CA certificates, CRLs and the trust list")
    if ca.status != "active":
        raise ConflictError(f"CA {ca.id} is {ca.status}")
    allowed = KIND_PROFILES.get(ca.kind, ())
    if profile.name not in allowed:
        raise InputError(f"a {ca.kind} CA does not issue {profile.name} certificates", code=Code.INVALID_INPUT)
    subject = profile.check_subject(subject)
    subject_name = subject.to_asn1()
    check_in_scope(ca, subject_name)
    if profile.needs_dns and not dns_names:
        raise InputError(f"profile {profile.name} needs at least one DNS name")
    generated: PrivateKey | None = None
    if public_key is None:
        generated = _new_key(key_family, ca=False)
        public_key = generated.public_key
    profile.check_key(public_key)
    lifetime = validity or profile.validity
    if lifetime > profile.max_validity or lifetime <= timedelta(0):
        raise InputError(f"validity must be positive and at most {profile.max_validity.days} days for {profile.name}")
    issuer_cert = ca_certificate(ca)
    start = now() - BACKDATE
    end = _clamp(issuer_cert, start, start + lifetime)
    usages = set(profile.key_usage)
    builder = (
        cx.CertificateBuilder()
        .subject(subject_name)
        .issuer(issuer_cert.subject)
        .public_key(public_key)
        .validity(start, end)
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage(usages))
        .add_extension(cx.subject_key_identifier(public_key))
        .add_extension(cx.authority_key_identifier(cx.public_key(issuer_cert)))
        .add_extension(cx.certificate_policies(profile.policies))
    )
    if profile.extended_key_usage:
        builder = builder.add_extension(
            cx.extended_key_usage(profile.extended_key_usage, critical=profile.eku_critical)
        )
    if dns_names or uris:
        builder = builder.add_extension(cx.subject_alt_name(dns=dns_names, uris=uris))
    if profile.ocsp_no_check:
        builder = builder.add_extension(cx.ocsp_no_check())
    else:
        builder = builder.add_extension(cx.crl_distribution_point(endpoints.crl(ca.id)))
        builder = builder.add_extension(cx.authority_information_access(endpoints.ocsp(), endpoints.ca_cert(ca.id)))
    issued = _issue_signed(
        session,
        keystore,
        ca,
        builder,
        profile_name=profile.name,
        subject=subject_name,
        public_key=public_key,
        key_id=None,
        request_id=request_id,
    )
    if generated is not None:
        # the key store's metadata is not the certificate: personal identifiers in the subject are masked there
        label = idcodes.mask_identifiers(f"{profile.name} {name_text(subject_name)}")
        issued.record.key_id = _store_key(keystore, generated, label, issued)
    session.flush()
    return issued


def _issue_signed(
    session: Session,
    keystore: KeyStore,
    ca: CertificateAuthority,
    builder: cx.CertificateBuilder,
    *,
    profile_name: str,
    subject: asn1_x509.Name,
    public_key: PublicKey,
    key_id: str | None,
    request_id: str | None = None,
) -> Issued:
    signer = _signer(keystore, ca)
    assert builder.not_before is not None and builder.not_after is not None

    def make(serial: int) -> IssuedCertificate:
        return IssuedCertificate(
            serial=cx.serial_hex(serial),
            fingerprint=f"pending-{serial:x}"[:64],
            issuer_id=ca.id,
            profile=profile_name,
            subject=name_text(subject)[:512],
            family=public_key.family.value,
            key_id=key_id,
            not_before=builder.not_before,
            not_after=builder.not_after,
            der=b"",
            request_id=request_id,
        )

    record = _reserve(session, make)
    cert = builder.serial_number(int(record.serial, 16)).sign(signer, issuer_key=cx.public_key(ca_certificate(ca)))
    record.der = cert.dump()
    record.fingerprint = cx.fingerprint(cert)
    session.add(record)
    session.flush()
    return Issued(record=record, certificate=cert)


# --- revocation ---------------------------------------------------------------------------------------------


def find_certificate(session: Session, serial: str) -> IssuedCertificate:
    normalised = serial.lower().removeprefix("0x").lstrip("0") or "0"
    try:
        int(normalised, 16)
    except ValueError:
        raise InputError(f"serial number {serial!r} is not hexadecimal") from None
    record = session.exec(select(IssuedCertificate).where(IssuedCertificate.serial == normalised)).first()
    if record is None:
        record = session.exec(
            select(IssuedCertificate).where(IssuedCertificate.serial == normalised.rjust(2, "0"))
        ).first()
    if record is None:
        raise NotFoundError(f"no certificate with serial {serial}")
    return record


def revoke(
    session: Session, keystore: KeyStore, *, serial: str, reason: str, at: datetime | None = None
) -> tuple[IssuedCertificate, CrlRecord]:
    """Revoke a certificate (RFC 5280 reason) and publish a new CRL of its issuer in the same transaction."""
    reason = crl_mod.check_reason(reason)
    record = find_certificate(session, serial)
    if record.status == "revoked" and not (
        record.revocation_reason == "certificate_hold" and reason != "certificate_hold"
    ):  # a certificate on hold may still be revoked for good
        raise ConflictError(f"certificate {record.serial} is already revoked ({record.revocation_reason})")
    record.status = "revoked"
    record.revoked_at = (at or now()).replace(microsecond=0)
    record.revocation_reason = reason
    session.add(record)
    session.flush()
    new_crl = generate_crl(session, keystore, record.issuer_id)
    return record, new_crl


def release_hold(session: Session, keystore: KeyStore, *, serial: str) -> tuple[IssuedCertificate, CrlRecord]:
    """Take a certificate off hold (RFC 5280 ``certificateHold``): valid again, and absent from the new CRL."""
    record = find_certificate(session, serial)
    if record.status != "revoked" or record.revocation_reason != "certificate_hold":
        raise ConflictError(f"certificate {record.serial} is not on hold", evidence={"status": record.status})
    record.status = "valid"
    record.revoked_at = None
    record.revocation_reason = None
    session.add(record)
    session.flush()
    return record, generate_crl(session, keystore, record.issuer_id)


def generate_crl(session: Session, keystore: KeyStore, ca_id: str, *, validity: timedelta = CRL_VALIDITY) -> CrlRecord:
    """A new CRL for ``ca_id`` with the next CRL number (serialised by a row lock on the CA)."""
    ca = session.exec(select(CertificateAuthority).where(CertificateAuthority.id == ca_id).with_for_update()).first()
    if ca is None:
        raise NotFoundError(f"no CA {ca_id!r}")
    signer = _signer(keystore, ca)
    cert = ca_certificate(ca)
    moment = now()
    rows = session.exec(
        select(IssuedCertificate).where(
            IssuedCertificate.issuer_id == ca_id,
            IssuedCertificate.status == "revoked",
            col(IssuedCertificate.not_after) > moment,
        )
    ).all()
    revoked = [
        crl_mod.Revoked(int(r.serial, 16), utc(r.revoked_at or moment), r.revocation_reason or "unspecified")
        for r in rows
    ]
    number = ca.crl_number + 1
    built = crl_mod.build_crl(
        issuer=cert.subject,
        issuer_key=cx.public_key(cert),
        signer=signer,
        number=number,
        this_update=moment,
        next_update=moment + validity,
        revoked=revoked,
    )
    ca.crl_number = number
    session.add(ca)
    record = CrlRecord(ca_id=ca_id, number=number, this_update=moment, next_update=moment + validity, der=built.dump())
    session.add(record)
    for retired in retired_signing_keys(session, ca, moment):
        # The same CRL (number, times, entries) signed with a retired key: its AKI names the key that issued the
        # older certificates, which OpenSSL requires of a CRL (without -extended_crl); pyhanko takes either.
        old_cert = asn1_x509.Certificate.load(retired.cert_der)
        assert retired.key_id is not None
        retired.crl_der = crl_mod.build_crl(
            issuer=old_cert.subject,
            issuer_key=cx.public_key(old_cert),
            signer=keystore.signer(retired.key_id, algorithm_for(ca.family)),
            number=number,
            this_update=moment,
            next_update=moment + validity,
            revoked=revoked,
        ).dump()
        retired.crl_number = number
        session.add(retired)
    session.flush()
    return record


def retired_signing_keys(session: Session, ca: CertificateAuthority, moment: datetime) -> list[CaKeyHistory]:
    """The retired keys of ``ca`` that still sign its CRLs: Huren holds the key, the retired CA certificate has not
    expired, and a certificate issued before that key was retired (by it) has not expired either."""
    result = []
    for retired in key_history(session, ca.id):
        if retired.key_id is None or utc(retired.not_after) <= moment:
            continue
        still_valid = session.exec(
            select(IssuedCertificate.id).where(
                IssuedCertificate.issuer_id == ca.id,
                col(IssuedCertificate.created_at) <= retired.retired_at,
                col(IssuedCertificate.not_after) > moment,
            )
        ).first()
        if still_valid is not None:
            result.append(retired)
    return result


def retired_crls(session: Session, ca: CertificateAuthority) -> list[tuple[CaKeyHistory, bytes]]:
    """The current CRLs signed with retired keys of ``ca`` (those signed together with its latest CRL)."""
    return [
        (h, h.crl_der)
        for h in key_history(session, ca.id)
        if h.crl_der is not None and h.crl_number == ca.crl_number and ca.crl_number > 0
    ]


def current_crl(session: Session, ca_id: str) -> CrlRecord:
    get_ca(session, ca_id)
    record = session.exec(
        select(CrlRecord).where(CrlRecord.ca_id == ca_id).order_by(col(CrlRecord.number).desc())
    ).first()
    if record is None:
        raise NotFoundError(f"CA {ca_id} has not published a CRL yet")
    return record


def chain(session: Session, ca_id: str) -> list[asn1_x509.Certificate]:
    """The CA's certificate and its issuers up to the root (leaf-most first)."""
    result: list[asn1_x509.Certificate] = []
    current: CertificateAuthority | None = get_ca(session, ca_id)
    while current is not None:
        result.append(ca_certificate(current))
        current = session.get(CertificateAuthority, current.parent_id) if current.parent_id else None
    return result


def chain_for_certificate(session: Session, cert: asn1_x509.Certificate, ca_id: str) -> list[asn1_x509.Certificate]:
    """The chain of a certificate ``ca_id`` issued: :func:`chain`, except that when a retired key of a re-keyed CA
    issued it, that key's certificate (from ``ca_key_history``) comes first instead of the current one."""
    result = chain(session, ca_id)
    aki = cert.authority_key_identifier
    if aki is None or result[0].key_identifier == aki:
        return result
    for retired in key_history(session, ca_id):
        old = asn1_x509.Certificate.load(retired.cert_der)
        if old.key_identifier == aki:
            return [old, *result[1:]]
    return result


def ensure_ocsp_responder(
    session: Session, keystore: KeyStore, endpoints: Endpoints, ca_id: str
) -> CertificateAuthority:
    """Issue (or renew when it expires within 7 days) the CA's delegated OCSP responder certificate."""
    from ca.profiles import profile as get_profile

    ca = get_ca(session, ca_id)
    if ca.kind == "root":
        raise InputError("roots answer revocation by CRL only")
    if ca.ocsp_cert_der is not None:
        current = asn1_x509.Certificate.load(ca.ocsp_cert_der)
        if utc(current["tbs_certificate"]["validity"]["not_after"].native) > now() + timedelta(days=7):
            return ca
    scope = ca_scope(ca.kind, ca.code, _organization(ca))
    subject = DN(
        province=scope.province, locality=scope.locality, organization=_organization(ca), common_name=f"{ca.name} OCSP"
    )
    issued = issue(
        session, keystore, endpoints, ca_id=ca.id, profile=get_profile("ocsp"), subject=subject, key_family=ca.family
    )
    ca.ocsp_key_id = issued.record.key_id
    ca.ocsp_cert_der = issued.record.der
    session.add(ca)
    session.flush()
    return ca


def _organization(ca: CertificateAuthority) -> str:
    for attr, value in name_attributes(ca_certificate(ca).subject):
        if attr == "organization_name":
            return value
    raise TrustError(f"CA {ca.id} certificate has no organisation", code=Code.INTERNAL)


def list_certificates(
    session: Session, *, ca_id: str | None = None, status: str | None = None, limit: int = 100, offset: int = 0
) -> Sequence[IssuedCertificate]:
    query = select(IssuedCertificate).order_by(col(IssuedCertificate.id))
    if ca_id:
        query = query.where(IssuedCertificate.issuer_id == ca_id)
    if status:
        query = query.where(IssuedCertificate.status == status)
    return session.exec(query.offset(offset).limit(min(limit, 1000))).all()
