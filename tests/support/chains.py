"""Generated certification paths for the path-validation tests (issue 12 items 1-6) and the peer comparisons.

Certificates are made with Huren's own builder (:class:`trust.formats.x509.CertificateBuilder`) over ECDSA P-256 keys,
so OpenSSL's ``verify`` and pyca/cryptography's verifier read the same chains; :func:`sign_tbs` signs a
``tbsCertificate`` the builder refuses to make (a duplicated extension, raw name encodings). Every extension is
explicit: :func:`ca_extensions` / :func:`leaf_extensions` are the conforming defaults a test then changes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import core, x509

from trust.crypto.keys import PrivateKey, PublicKey, generate_private_key
from trust.formats import x509 as cx

NOW = datetime.now(UTC).replace(microsecond=0)
UNKNOWN_CRITICAL = "1.3.6.1.4.1.55738.666.1"  # the OID x509-limbo uses for "no implementation knows this"


def name(cn: str, **more: str) -> x509.Name:
    return x509.Name.build({**more, "common_name": cn})


def dns(value: str) -> x509.GeneralName:
    """A dNSName of exactly these characters (asn1crypto's own setter runs the IDNA codec, which refuses some of the
    malformed names the tests need)."""
    return x509.GeneralName(name="dns_name", value=x509.DNSName(contents=value.encode("utf-8")))


def ip(value: str) -> x509.GeneralName:
    """An iPAddress GeneralName: ``192.0.2.1`` (a name) or ``192.0.2.0/24`` (a constraint)."""
    if "/" in value:
        interface = ipaddress.ip_interface(value)  # the address as written (host bits included) and the mask
        return raw_ip(interface.ip.packed + interface.network.netmask.packed)
    return raw_ip(ipaddress.ip_address(value).packed)


def raw_ip(octets: bytes) -> x509.GeneralName:
    """An iPAddress GeneralName of any octets (invalid lengths and masks included)."""
    return x509.GeneralName(name="ip_address", value=x509.IPAddress(contents=octets))


def dirname(**attrs: str) -> x509.GeneralName:
    return x509.GeneralName(name="directory_name", value=x509.Name.build(attrs))


def san(*names: x509.GeneralName, critical: bool = False) -> cx.Ext:
    return cx.Ext("subject_alt_name", list(names), critical=critical)


def name_constraints(
    permitted: Sequence[x509.GeneralName] = (), excluded: Sequence[x509.GeneralName] = (), *, critical: bool = True
) -> cx.Ext:
    value: dict[str, Any] = {}
    if permitted:
        value["permitted_subtrees"] = [{"base": base} for base in permitted]
    if excluded:
        value["excluded_subtrees"] = [{"base": base} for base in excluded]
    return cx.Ext("name_constraints", value, critical=critical)


def unknown_critical() -> cx.Ext:
    return cx.Ext(UNKNOWN_CRITICAL, core.Null().dump(), critical=True)


def ca_extensions(key: PublicKey, issuer_key: PublicKey | None, *, path_len: int | None = None) -> list[cx.Ext]:
    extensions = [
        cx.basic_constraints(True, path_len),
        cx.key_usage({"key_cert_sign", "crl_sign"}),
        cx.subject_key_identifier(key),
    ]
    if issuer_key is not None:
        extensions.append(cx.authority_key_identifier(issuer_key))
    return extensions


def leaf_extensions(key: PublicKey, issuer_key: PublicKey) -> list[cx.Ext]:
    return [
        cx.basic_constraints(False),
        cx.key_usage({"digital_signature"}),
        cx.extended_key_usage(["client_auth"]),
        cx.subject_key_identifier(key),
        cx.authority_key_identifier(issuer_key),
    ]


def replace(extensions: Sequence[cx.Ext], *changes: cx.Ext, drop: Sequence[str] = ()) -> list[cx.Ext]:
    """``extensions`` with those named in ``changes`` replaced (or added) and those in ``drop`` removed."""
    names = {change.name for change in changes} | set(drop)
    return [e for e in extensions if e.name not in names] + list(changes)


def sign_tbs(tbs: x509.TbsCertificate, signer: PrivateKey) -> x509.Certificate:
    """Sign a tbsCertificate as is (no builder checks)."""
    algorithm = signer.signer().algorithm
    signature = signer.signer().sign(tbs.dump())
    cert = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm.x509_identifier(), "signature_value": signature}
    )
    return x509.Certificate.load(cert.dump())


@dataclass
class Node:
    """A certificate and its key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return bytes(self.cert.dump())

    @property
    def pem(self) -> bytes:
        return cx.certificate_pem(self.cert)


@dataclass
class Factory:
    """Makes certificates; serial numbers are unique within a factory."""

    serial: int = 1
    keys: list[PrivateKey] = field(default_factory=list)

    def key(self) -> PrivateKey:
        return generate_private_key("ec-p256")

    def make(
        self,
        subject: x509.Name,
        *,
        issuer: Node | None = None,
        extensions: Sequence[cx.Ext] | None = None,
        ca: bool = False,
        path_len: int | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        key: PrivateKey | None = None,
        issuer_name: x509.Name | None = None,
        duplicate: cx.Ext | None = None,
    ) -> Node:
        """A certificate for ``subject`` issued by ``issuer`` (self-signed without one). ``extensions`` default to
        :func:`ca_extensions` or :func:`leaf_extensions`; ``duplicate`` appends a second instance of an extension."""
        own = key or self.key()
        signer = issuer.key if issuer is not None else own
        issuer_public = issuer.key.public_key if issuer is not None else None
        if extensions is None:
            extensions = (
                ca_extensions(own.public_key, issuer_public, path_len=path_len)
                if ca
                else leaf_extensions(own.public_key, issuer_public or own.public_key)
            )
        self.serial += 1
        builder = (
            cx.CertificateBuilder()
            .subject(subject)
            .issuer(issuer_name if issuer_name is not None else issuer.cert.subject if issuer is not None else subject)
            .public_key(own.public_key)
            .serial_number(self.serial)
            .validity(not_before or NOW - timedelta(days=1), not_after or NOW + timedelta(days=365))
        )
        for extension in extensions:
            builder = builder.add_extension(extension)
        if duplicate is None and issuer_name is None:
            return Node(builder.sign(signer.signer(), issuer_key=signer.public_key), own)
        tbs = builder.tbs(signer.signer().algorithm)
        if duplicate is not None:
            tbs["extensions"] = [*list(tbs["extensions"]), duplicate.to_asn1()]
        return Node(sign_tbs(tbs, signer), own)

    def root(self, cn: str = "Path Test Root", *, extensions: Sequence[cx.Ext] | None = None, **kwargs: Any) -> Node:
        key = kwargs.pop("key", None) or self.key()
        if extensions is None:
            extensions = ca_extensions(key.public_key, None, path_len=kwargs.pop("path_len", None))
        return self.make(name(cn), extensions=extensions, key=key, **kwargs)

    def ca(self, cn: str, issuer: Node, *, extra: Sequence[cx.Ext] = (), **kwargs: Any) -> Node:
        key = kwargs.pop("key", None) or self.key()
        extensions = kwargs.pop("extensions", None)
        if extensions is None:
            extensions = ca_extensions(key.public_key, issuer.key.public_key, path_len=kwargs.pop("path_len", None))
            extensions += list(extra)
        return self.make(name(cn), issuer=issuer, extensions=extensions, key=key, **kwargs)

    def leaf(self, cn: str, issuer: Node, *, extra: Sequence[cx.Ext] = (), **kwargs: Any) -> Node:
        key = kwargs.pop("key", None) or self.key()
        extensions = kwargs.pop("extensions", None)
        if extensions is None:
            extensions = leaf_extensions(key.public_key, issuer.key.public_key) + list(extra)
        subject = kwargs.pop("subject", None) or name(cn)
        return self.make(subject, issuer=issuer, extensions=extensions, key=key, **kwargs)


def sm2_test_ca() -> tuple[PrivateKey, x509.Certificate]:
    """A self-signed SM2 CA (浙江省 / 互认测试 / 测试 CA, serial 7, 2026 for ten years) for the encoding and builder
    tests, which compare what is built under it, not its path."""
    from trust.formats.names import DN

    key = generate_private_key("sm2")
    subject = DN(province="浙江省", organization="互认测试", common_name="测试 CA").to_asn1()
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        cx.CertificateBuilder()
        .subject(subject)
        .issuer(subject)
        .public_key(key.public_key)
        .serial_number(7)
        .validity(moment, moment + timedelta(days=3650))
        .add_extension(cx.basic_constraints(True, 0))
        .add_extension(cx.key_usage({"key_cert_sign", "crl_sign"}))
        .sign(key.signer())
    )
    return key, cert
