"""End-entity issuance: **check → sign → persist** for one certificate inside the CA's name constraints; the
OCSP responder certificate of a CA; listing what a CA issued.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

from asn1crypto import x509 as asn1_x509
from sqlmodel import Session, col, select

from ca.authority import crls
from ca.authority.discipline import clamp_to_issuer, forgotten_on_error, insert_signed, issue_signed
from ca.authority.hierarchy import KIND_PROFILES, ca_scope, namespaces
from ca.authority.keys import NewKey, new_key, store_key
from ca.authority.records import BACKDATE, Endpoints, Issued, ca_certificate, get_ca
from ca.models import CertificateAuthority, IssuedCertificate, now, utc
from ca.profiles import Profile
from trust.crypto.errors import Code, ConflictError, InputError, TrustError
from trust.crypto.keys import PublicKey
from trust.crypto.keystore import KeyStore
from trust.formats import idcodes
from trust.formats import x509 as cx
from trust.formats.names import (
    DN,
    attributes_text,
    check_dns_name,
    check_uri,
    default_dns_namespace,
    dns_within,
    name_attributes,
    name_text,
)


def check_in_scope(
    ca: CertificateAuthority, subject: asn1_x509.Name, attributes: list[tuple[str, str]] | None = None
) -> None:
    """The subject must start with the CA's permitted subtree (the same rule RFC 5280 name constraints apply).
    ``attributes``: the subject's :func:`name_attributes` when the caller has read them already."""
    permitted = _permitted_prefixes(bytes(ca.cert_der))
    if permitted is None:
        return
    attrs = name_attributes(subject) if attributes is None else attributes
    for prefix, _text in permitted:
        if attrs[: len(prefix)] == prefix:
            return
    raise InputError(
        f"subject {name_text(subject)} is outside the name constraints of CA {ca.id}",
        evidence={"permitted": [text for _prefix, text in permitted]},
    )


@functools.lru_cache(maxsize=512)
def _permitted_prefixes(cert_der: bytes) -> tuple[tuple[list[tuple[str, str]], str], ...] | None:
    """The directory-name subtrees a CA certificate permits (attributes and text), once per certificate."""
    constraints = asn1_x509.Certificate.load(cert_der).name_constraints_value
    if constraints is None:
        return None
    return tuple(
        (name_attributes(subtree["base"].chosen), name_text(subtree["base"].chosen))
        for subtree in constraints["permitted_subtrees"]
        if subtree["base"].name == "directory_name"
    )


def check_names(
    ca: CertificateAuthority, profile: Profile, dns_names: Sequence[str], uris: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The subject alternative names of a request, checked before anything is reserved (issue 11, item 4).

    * Every URI must be ``http``/``https`` with a host name (never ``javascript:``, ``data:``, ``file:`` …), every DNS
      name a host name (a wildcard only for ``tls-server``).
    * Types per profile (:attr:`Profile.san_types`): TLS certificates carry DNS names only; seal, seal maker,
      identity, licence issuer, time-stamping and OCSP certificates carry no DNS or URI names.
    * A region's or department's CA certifies names inside its namespace only — the permitted ``dNSName``/URI subtrees
      of its own certificate; a region CA enrolled before those existed is held to its region's default namespace.
    """
    checked_uris = [check_uri(u) for u in uris]
    wildcard = profile.name == "tls-server"
    checked_dns = [check_dns_name(d, wildcard=wildcard) for d in dns_names]
    for kind, given in (("dns", checked_dns), ("uri", checked_uris)):
        if given and kind not in profile.san_types:
            what = "DNS" if kind == "dns" else "URI"
            raise InputError(f"a {profile.name} certificate carries no {what} names", code=Code.INVALID_INPUT)
    if profile.needs_dns and not checked_dns:
        raise InputError(f"profile {profile.name} needs at least one DNS name")
    spaces = _namespaces(bytes(ca.cert_der))
    if spaces is None and ca.kind == "region" and ca.code:
        default = default_dns_namespace(ca.code)
        spaces = ([default], [default, f".{default}"])
    if spaces is not None:
        dns_spaces, uri_spaces = spaces
        outside = [d for d in checked_dns if not any(dns_within(d, ns) for ns in dns_spaces)]
        outside += [
            f"{scheme}://{host}"
            for scheme, host in checked_uris
            if not any(host == ns or (ns.startswith(".") and host.endswith(ns)) for ns in uri_spaces)
        ]
        if outside:
            raise InputError(
                f"{', '.join(outside)} outside the DNS namespace of CA {ca.id}",
                evidence={"permitted": dns_spaces, "names": outside},
            )
    return checked_dns, list(uris)


@functools.lru_cache(maxsize=512)
def _namespaces(cert_der: bytes) -> tuple[list[str], list[str]] | None:
    return namespaces(asn1_x509.Certificate.load(cert_der))


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
    partition: tuple[int, str] | None = None,
) -> Issued:
    """Issue an end-entity certificate of ``profile`` for ``subject``.

    ``public_key`` comes from a verified CSR; without it the service generates a key of ``key_family`` and
    keeps it in the key store (``record.key_id``). ``partition`` is a CRL partition place reserved beforehand
    (:func:`ca.authority.crls.assign_partitions`, a batch's chunk at once); without it one is taken here."""
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
    attributes = subject.attributes()  # the scope check's and the row's subject text (no re-parse of the name)
    check_in_scope(ca, subject_name, attributes)
    dns_names, uris = check_names(ca, profile, dns_names, uris)
    generated: NewKey | None = None
    if public_key is None:
        # the key store's metadata is not the certificate: personal identifiers in the subject are masked there
        label = idcodes.mask_identifiers(f"{profile.name} {name_text(subject_name)}")
        generated = new_key(session, keystore, key_family, ca=False, label=label)
        public_key = generated.public_key
    profile.check_key(public_key)
    lifetime = validity or profile.validity
    if lifetime > profile.max_validity or lifetime <= timedelta(0):
        raise InputError(f"validity must be positive and at most {profile.max_validity.days} days for {profile.name}")
    issuer_cert = ca_certificate(ca)
    start = now() - BACKDATE
    end = clamp_to_issuer(issuer_cert, start, start + lifetime)
    shard: int | None = None
    if profile.ocsp_no_check:
        # the main CRL's scope (its issuing distribution point) covers the responder: name it (ca.authority.crls)
        crl_uri = endpoints.crl(ca.id)
    else:
        shard, crl_uri = partition or crls.assign_partition(session, keystore, endpoints, ca)
    builder = end_entity_builder(
        issuer_cert,
        profile,
        subject_name,
        public_key,
        start,
        end,
        dns_names=dns_names,
        uris=uris,
        crl_uri=crl_uri,
        ocsp_uri=endpoints.ocsp(),
        ca_cert_uri=endpoints.ca_cert(ca.id),
    )
    issued = issue_signed(
        session,
        keystore,
        ca,
        builder,
        profile_name=profile.name,
        subject=subject_name,
        public_key=public_key,
        key_id=None,
        request_id=request_id,
        crl_shard=shard,
        subject_text=attributes_text(attributes),
    )
    with forgotten_on_error(session, issued.record):
        if generated is not None:
            issued.record.key_id = store_key(keystore, generated, issued)
        session.flush()
    return issued


def issue_from_csr(
    session: Session,
    keystore: KeyStore,
    endpoints: Endpoints,
    *,
    ca: CertificateAuthority,
    profile: Profile,
    subject: DN,
    public_key: PublicKey,
    validity: timedelta | None = None,
    dns_names: Sequence[str] = (),
    uris: Sequence[str] = (),
    request_id: str | None = None,
) -> Issued:
    """:func:`issue` of a certificate for a key from a verified CSR, lean (issue 15 item 5). ``ca`` is a snapshot of
    the CA's row that the caller keeps (``trust.service.ca``: per state version, read only), checked again against
    the row as it stands under the lock the place counter takes (:func:`crls.reserve_places`): a CA revoked or
    retired meanwhile refuses; one re-keyed meanwhile (another serial or key) raises :class:`StaleSnapshot` with the
    place reserved, and the caller issues with :func:`issue` from the row read afresh. The same checks, in the same
    order, as :func:`issue`; the row is written by :func:`discipline.insert_signed` (not attached to the session, no
    hooks: the caller records the audit entry and the log leaf). Not for profiles without a partition (OCSP)."""
    if ca.kind == "root":
        raise InputError("national roots sign only CA certificates, CRLs and the trust list")
    if ca.status != "active":
        raise ConflictError(f"CA {ca.id} is {ca.status}")
    allowed = KIND_PROFILES.get(ca.kind, ())
    if profile.name not in allowed:
        raise InputError(f"a {ca.kind} CA does not issue {profile.name} certificates", code=Code.INVALID_INPUT)
    if profile.ocsp_no_check:
        raise InputError(f"{profile.name} certificates are issued by ca.authority.issue only")  # pragma: no cover
    subject = profile.check_subject(subject)
    subject_name = subject.to_asn1()
    attributes = subject.attributes()
    check_in_scope(ca, subject_name, attributes)
    dns_names, uris = check_names(ca, profile, dns_names, uris)
    profile.check_key(public_key)
    lifetime = validity or profile.validity
    if lifetime > profile.max_validity or lifetime <= timedelta(0):
        raise InputError(f"validity must be positive and at most {profile.max_validity.days} days for {profile.name}")
    first, standing = crls.reserve_places(session, ca.id, 1)
    if standing.status != "active":
        raise ConflictError(f"CA {ca.id} is {standing.status}")
    if standing.serial != ca.serial or standing.key_id != ca.key_id:
        raise StaleSnapshot(first)
    issuer_cert = ca_certificate(ca)
    start = now() - BACKDATE
    end = clamp_to_issuer(issuer_cert, start, start + lifetime)
    shard, crl_uri = crls.places_from(session, keystore, endpoints, ca, first, 1)[0]
    builder = end_entity_builder(
        issuer_cert,
        profile,
        subject_name,
        public_key,
        start,
        end,
        dns_names=dns_names,
        uris=uris,
        crl_uri=crl_uri,
        ocsp_uri=endpoints.ocsp(),
        ca_cert_uri=endpoints.ca_cert(ca.id),
    )
    return insert_signed(
        session,
        keystore,
        ca,
        builder,
        profile_name=profile.name,
        public_key=public_key,
        request_id=request_id,
        crl_shard=shard,
        subject_text=attributes_text(attributes),
    )


class StaleSnapshot(Exception):
    """The CA's row changed key since the caller's snapshot was taken (re-keyed by another worker): the caller issues
    with :func:`issue` and ``partition`` = the place already reserved (:attr:`place`), reading the row afresh."""

    def __init__(self, place: int):
        super().__init__(place)
        self.place = place


def end_entity_builder(
    issuer_cert: asn1_x509.Certificate,
    profile: Profile,
    subject_name: asn1_x509.Name,
    public_key: PublicKey,
    start: datetime,
    end: datetime,
    *,
    dns_names: Sequence[str] = (),
    uris: Sequence[str] = (),
    crl_uri: str,
    ocsp_uri: str,
    ca_cert_uri: str,
) -> cx.CertificateBuilder:
    """The certificate of ``profile`` before its serial number: its extensions in their fixed order. An OCSP
    responder's names ``crl_uri`` only (and ``id-pkix-ocsp-nocheck``); every other names its CRL partition
    (``crl_uri``), that partition's delta CRLs, the OCSP responder and the CA certificate.

    The builder is made in one construction (issuefast2: a setter per field and per extension copied the builder
    fourteen times, ~45 µs of an issuance); its checks are the setters' — notAfter after notBefore, and no extension
    twice (the list below names each once)."""
    if end <= start:
        raise InputError("notAfter must be later than notBefore")
    extensions = [
        cx.basic_constraints(False),
        cx.key_usage(profile.key_usage),
        cx.subject_key_identifier(public_key),
        cx.authority_key_identifier(cx.public_key(issuer_cert)),
        cx.certificate_policies(profile.policies),
    ]
    if profile.extended_key_usage:
        extensions.append(cx.extended_key_usage(profile.extended_key_usage, critical=profile.eku_critical))
    if dns_names or uris:
        extensions.append(cx.subject_alt_name(dns=dns_names, uris=uris))
    if profile.ocsp_no_check:
        extensions += (cx.ocsp_no_check(), cx.crl_distribution_point(crl_uri))
    else:
        extensions += (
            cx.crl_distribution_point(crl_uri),
            cx.freshest_crl(crls.delta_uri(crl_uri)),
            cx.authority_information_access(ocsp_uri, ca_cert_uri),
        )
    return cx.CertificateBuilder(
        subject_name=subject_name,
        issuer_name=issuer_cert.subject,
        subject_public_key=public_key,
        not_before=start,
        not_after=end,
        extensions=tuple(extensions),
    )


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
