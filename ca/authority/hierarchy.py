"""The CA hierarchy: roots, sub-CAs (national, region, department) with their name constraints and policies, re-keying a
sub-CA, its key history, and the chain of a CA.
"""

from __future__ import annotations

from typing import Final

from asn1crypto import x509 as asn1_x509
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from ca.authority.discipline import clamp_to_issuer, issue_signed
from ca.authority.keys import NewKey, algorithm_for, ca_signer, new_key, store_key
from ca.authority.records import (
    BACKDATE,
    ROOT_VALIDITY,
    SUB_CA_VALIDITY,
    Endpoints,
    Issued,
    _parsed_ca_certificate,
    ca_certificate,
    get_ca,
    new_serial,
)
from ca.models import CaKeyHistory, CertificateAuthority, IssuedCertificate, now, utc
from trust.crypto.algorithms import KeyFamily
from trust.crypto.errors import Code, ConflictError, InputError
from trust.crypto.keys import PublicKey
from trust.crypto.keystore import KeyStore
from trust.crypto.oids import POLICY
from trust.formats import x509 as cx
from trust.formats.names import DN, NO_NAMESPACE, check_dns_name, default_dns_namespace, name_text, region

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
        "identity-provider",
    ),
    "department": (
        "seal",
        "seal-maker",
        "organization-identity",
        "license-issuer",
        "ocsp",
        "tls-client",
        "identity-provider",
    ),
}


def create_root(session: Session, keystore: KeyStore, *, ca_id: str, family: str, name: str) -> CertificateAuthority:
    if session.get(CertificateAuthority, ca_id) is not None:
        raise ConflictError(f"CA {ca_id} already exists")
    key = new_key(session, keystore, family, ca=True, label=f"national root {family}")
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
    cert = builder.sign(keystore.signer(key.key_id, algorithm_for(family)))
    key_id = store_key(keystore, key)
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


def ca_namespace(kind: str, code: str | None, dns_namespace: str | None) -> str:
    """The DNS namespace a CA of this kind is constrained to (issue 11, item 4): the one named at enrolment, else a
    region's default (``zj.gov.cn``, :func:`trust.formats.names.default_dns_namespace`) and, for a department, none
    (``invalid``, RFC 6761: no DNS or URI names at all)."""
    if dns_namespace:
        namespace = check_dns_name(dns_namespace, what="DNS namespace")
        if namespace == NO_NAMESPACE or namespace.endswith(".invalid"):
            return NO_NAMESPACE
        if namespace.count(".") < 1 or namespace in ("gov.cn", "com.cn", "org.cn", "net.cn", "edu.cn"):
            raise InputError(f"DNS namespace {namespace!r} is a public suffix; name the region's own domain")
        return namespace
    if kind == "region":
        assert code is not None
        return default_dns_namespace(code)
    return NO_NAMESPACE


def namespaces(cert: asn1_x509.Certificate) -> tuple[list[str], list[str]] | None:
    """The permitted ``dNSName`` and URI host subtrees of a CA certificate's name constraints; ``None`` when it
    constrains neither (a national CA, or a CA enrolled before issue 11)."""
    constraints = cert.name_constraints_value
    if constraints is None or constraints["permitted_subtrees"].native is None:
        return None
    dns = [str(s["base"].native) for s in constraints["permitted_subtrees"] if s["base"].name == "dns_name"]
    uri = [
        str(s["base"].native)
        for s in constraints["permitted_subtrees"]
        if s["base"].name == "uniform_resource_identifier"
    ]
    return (dns, uri) if dns or uri else None


def _scope_names(scope: DN) -> list[asn1_x509.Name]:
    return [scope.to_asn1()]


def sub_ca_builder(
    session: Session,
    endpoints: Endpoints,
    *,
    parent: CertificateAuthority,
    kind: str,
    code: str | None,
    name: str,
    organization: str,
    public_key: PublicKey,
    dns_namespace: str | None = None,
) -> tuple[cx.CertificateBuilder, asn1_x509.Name]:
    """The unsigned certificate (no serial yet) of a regional, departmental or national operations CA under root
    ``parent``, and its subject: what :func:`create_sub_ca` signs, and what an offline root signs in a ceremony."""
    if kind not in KIND_PROFILES:
        raise InputError(f"CA kind must be one of {', '.join(KIND_PROFILES)}")
    if parent.kind != "root":
        raise InputError("subordinate CAs are certified by a national root")
    if parent.status != "active":
        raise ConflictError(f"CA {parent.id} is {parent.status}")
    scope = ca_scope(kind, code, organization)
    subject = DN(
        province=scope.province, locality=scope.locality, organization=organization, common_name=name
    ).to_asn1()
    if public_key.family.value not in (KeyFamily.SM2.value, KeyFamily.RSA.value):
        raise InputError("CA keys are SM2 or RSA", code=Code.KEY_MISMATCH)
    if public_key.family is KeyFamily.RSA and public_key.size < 3072:
        raise InputError("RSA CA keys must have at least 3072 bits", code=Code.WEAK_KEY)
    parent_cert = ca_certificate(parent)
    start = now() - BACKDATE
    end = clamp_to_issuer(parent_cert, start, start + SUB_CA_VALIDITY)
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
        namespace = ca_namespace(kind, code, dns_namespace)
        builder = builder.add_extension(
            cx.name_constraints(_scope_names(scope), dns=[namespace], uri_hosts=[namespace, f".{namespace}"])
        )
    return builder, subject


def adopt_certificate(
    session: Session,
    issuer: CertificateAuthority,
    cert: asn1_x509.Certificate,
    *,
    profile_name: str,
    key_id: str | None,
) -> IssuedCertificate:
    """Record a certificate an offline root signed in a ceremony (the service built it, the root signed it): the same
    row :func:`issue_signed` writes. The caller has checked the signature against the root's key."""
    tbs = cert["tbs_certificate"]
    serial = cx.serial_hex(tbs["serial_number"].native)
    if session.exec(select(IssuedCertificate.id).where(IssuedCertificate.serial == serial)).first() is not None:
        raise ConflictError(f"a certificate with serial {serial} is already recorded (imported twice?)")
    public_key = cx.public_key(cert)
    record = IssuedCertificate(
        serial=serial,
        fingerprint=cx.fingerprint(cert),
        issuer_id=issuer.id,
        profile=profile_name,
        subject=name_text(tbs["subject"])[:512],
        family=public_key.family.value,
        key_id=key_id,
        not_before=utc(tbs["validity"]["not_before"].native),
        not_after=utc(tbs["validity"]["not_after"].native),
        der=cert.dump(),
    )
    session.add(record)
    session.flush()
    return record


def adopt_sub_ca(
    session: Session,
    cert: asn1_x509.Certificate,
    *,
    ca_id: str,
    parent_id: str,
    kind: str,
    code: str | None,
    name: str,
    key_id: str | None,
) -> CertificateAuthority:
    """A sub-CA whose certificate an offline root signed in a ceremony: its certificate row and its CA row."""
    if session.get(CertificateAuthority, ca_id) is not None:
        raise ConflictError(f"CA {ca_id} already exists")
    parent = get_ca(session, parent_id)
    record = adopt_certificate(session, parent, cert, profile_name=f"ca-{kind}", key_id=key_id)
    ca = CertificateAuthority(
        id=ca_id,
        kind=kind,
        code=code,
        name=name,
        family=record.family,
        key_id=key_id,
        parent_id=parent.id,
        serial=record.serial,
        cert_der=record.der,
    )
    session.add(ca)
    session.flush()
    return ca


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
    dns_namespace: str | None = None,
) -> tuple[CertificateAuthority, Issued]:
    """A regional, departmental or national operations CA under a root, from a CSR key or a new key.

    A region's or department's CA is constrained to its subject subtree and to its DNS namespace
    (:func:`ca_namespace`), for ``dNSName`` and for the hosts of ``uniformResourceIdentifier`` names."""
    if kind not in KIND_PROFILES:
        raise InputError(f"CA kind must be one of {', '.join(KIND_PROFILES)}")
    if session.get(CertificateAuthority, ca_id) is not None:
        raise ConflictError(f"CA {ca_id} already exists")
    parent = get_ca(session, parent_id)
    if parent.kind != "root":
        raise InputError("subordinate CAs are certified by a national root")
    ca_signer(keystore, parent)  # an offline root (no key here) is refused before a key is made
    generated: NewKey | None = None
    if public_key is None:
        generated = new_key(session, keystore, family or parent.family, ca=True, label=f"{kind} CA {ca_id}")
        public_key = generated.public_key
    builder, subject = sub_ca_builder(
        session,
        endpoints,
        parent=parent,
        kind=kind,
        code=code,
        name=name,
        organization=organization,
        public_key=public_key,
        dns_namespace=dns_namespace,
    )
    issued = issue_signed(
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
        key_id = store_key(keystore, generated, issued)
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


def rekeyable(session: Session, ca: CertificateAuthority) -> CertificateAuthority:
    """The root that certifies ``ca``'s next key; refuses roots, CAs without a parent and anything not active."""
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
    return parent


def rekey_builder(
    session: Session, ca: CertificateAuthority, public_key: PublicKey
) -> tuple[cx.CertificateBuilder, CertificateAuthority]:
    """The unsigned new certificate (no serial yet) of sub-CA ``ca`` for ``public_key``, and its root: what
    :func:`rekey_sub_ca` signs, and what an offline root signs in a ceremony. Checks as :func:`rekey_sub_ca`."""
    parent = rekeyable(session, ca)
    old_cert = ca_certificate(ca)
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
    end = clamp_to_issuer(parent_cert, start, start + SUB_CA_VALIDITY)
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
    return builder, parent


def _profile_of(session: Session, ca: CertificateAuthority, parent: CertificateAuthority) -> str:
    previous = session.exec(
        select(IssuedCertificate).where(IssuedCertificate.serial == ca.serial, IssuedCertificate.issuer_id == parent.id)
    ).first()
    return previous.profile if previous is not None else f"ca-{ca.kind}"


def retire_and_replace(
    session: Session, ca: CertificateAuthority, record: IssuedCertificate, key_id: str | None
) -> None:
    """The CA's current certificate and key into ``ca_key_history``; ``record`` (its new certificate) current."""
    old_cert = ca_certificate(ca)
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
    ca.serial = record.serial
    ca.cert_der = record.der
    # the delegated OCSP responder was certified by the old key: the next ensure_ocsp_responder certifies a new one
    ca.ocsp_key_id = None
    ca.ocsp_cert_der = None
    session.add(ca)
    session.flush()


def adopt_rekey(session: Session, ca_id: str, cert: asn1_x509.Certificate, key_id: str | None) -> CertificateAuthority:
    """A re-key whose certificate an offline root signed in a ceremony (see :func:`adopt_sub_ca`)."""
    ca = get_ca(session, ca_id)
    parent = get_ca(session, ca.parent_id or "")
    record = adopt_certificate(session, parent, cert, profile_name=_profile_of(session, ca, parent), key_id=key_id)
    retire_and_replace(session, ca, record, key_id)
    return ca


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
    ca_signer(keystore, rekeyable(session, ca))  # refused (an offline root too) before a key is made
    generated: NewKey | None = None
    if public_key is None:
        generated = new_key(session, keystore, ca.family, ca=True, label=f"{ca.kind} CA {ca.id} (re-keyed)")
        public_key = generated.public_key
    builder, parent = rekey_builder(session, ca, public_key)
    issued = issue_signed(
        session,
        keystore,
        parent,
        builder,
        profile_name=_profile_of(session, ca, parent),
        subject=ca_certificate(ca).subject,
        public_key=public_key,
        key_id=None,
    )
    key_id = None
    if generated is not None:
        key_id = store_key(keystore, generated, issued)
        issued.record.key_id = key_id
    retire_and_replace(session, ca, issued.record, key_id)
    return ca, issued


def key_history(session: Session, ca_id: str) -> list[CaKeyHistory]:
    """The certificates ``ca_id`` held before its current one, newest first."""
    return list(
        session.exec(
            select(CaKeyHistory).where(CaKeyHistory.ca_id == ca_id).order_by(col(CaKeyHistory.id).desc())
        ).all()
    )


_PARENT: Final = select(CertificateAuthority.parent_id, CertificateAuthority.cert_der).where(
    CertificateAuthority.id == bindparam("id")
)


def chain(session: Session, ca_id: str) -> list[asn1_x509.Certificate]:
    """The CA's certificate and its issuers up to the root (leaf-most first)."""
    current = get_ca(session, ca_id)
    result = [ca_certificate(current)]
    parent_id = current.parent_id
    if parent_id:
        session.flush()  # what the ORM's autoflush would do (a no-op when nothing is pending)
    while parent_id:  # the issuers' rows: their certificates and parents only, on the connection (issue 15 item 5)
        row = session.connection().execute(_PARENT, {"id": parent_id}).first()
        if row is None:
            break
        parent_id, cert_der = row
        result.append(_parsed_ca_certificate(bytes(cert_der)))
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
