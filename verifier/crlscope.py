"""Which CRLs can be in scope for a certificate by their issuing distribution point (RFC 5280 clause 6.3.3 (b)(2)),
read exactly as pyhanko-certvalidator 0.33 reads them, so that :mod:`verifier.certificate` gives it only those (issue
15: a CA's CRL is partitioned, and pyhanko handles — finds the issuer of, checks the signature of — every CRL it is
given before it finds a partition out of scope: a cost growing with the CA's size).

pyhanko (``revinfo/validate_crl.py``, ``_get_crl_scope_assuming_authority``) puts a complete CRL out of scope for
certificate X when the CRL's issuing distribution point (IDP) names a ``distributionPoint`` and

* (b)(2)(i) none of its names equals a name of X's cRLDistributionPoints (``_match_dps_idp_names``: ``fullName``
  general names compared with ``GeneralName.__eq__``; a certificate without distribution points matches an IDP that
  names the CRL issuer as a directoryName), or
* (b)(2)(ii–iv) its onlyContainsUserCerts / onlyContainsCACerts / onlyContainsAttributeCerts flag excludes X
  (``_handle_crl_idp_ext_constraints``).

A CRL out of scope for X never adds revocation reasons for X and never revokes it; a delta CRL is only used with a
complete CRL whose IDP equals its own, so the same test decides it.

What is compared here (:class:`Names`): a URI by ``iri_to_uri(value, True)`` — the very function
``asn1crypto.x509.URI.__eq__`` compares (the ``asn1crypto.x509`` module's own name for it) —, a directoryName by
``Name.hashable`` (what ``Name.__eq__`` compares), any other comparable type only by its type (unsure: equal types
keep the CRL). Anything that cannot be decided this way returns ``None`` — an IDP naming a relativeName or nothing,
a distribution point with a relativeName, a cRLIssuer or no name, a name type ``GeneralName.__eq__`` refuses
(otherName, x400Address, ediPartyName), anything unreadable — and the caller keeps every CRL (or that CRL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from asn1crypto import x509

from trust.crypto import asn1fix

_READ_ERRORS: Final = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)
_UNCOMPARABLE: Final = frozenset({"other_name", "x400_address", "edi_party_name"})  # GeneralName.__eq__ raises


@dataclass(frozen=True)
class Names:
    """General names as ``GeneralName.__eq__`` compares them: ``exact`` (type, key) pairs whose keys are equal exactly
    when the names are; ``loose``: the types of names compared by type only (equal types: maybe equal)."""

    exact: frozenset[tuple[str, str]] = frozenset()
    loose: frozenset[str] = frozenset()

    @property
    def types(self) -> frozenset[str]:
        return frozenset(kind for kind, _key in self.exact) | self.loose

    def may_share(self, other: Names) -> bool:
        """Whether some name of ``self`` may equal some name of ``other`` (never False when one does)."""
        return bool(self.exact & other.exact or self.loose & other.types or other.loose & self.types)

    def __or__(self, other: Names) -> Names:
        return Names(self.exact | other.exact, self.loose | other.loose)


def names(general_names: Iterable[Any]) -> Names | None:
    """:class:`Names` of asn1crypto ``GeneralName`` values, or ``None`` if one cannot be compared here."""
    exact: set[tuple[str, str]] = set()
    loose: set[str] = set()
    try:
        for name in general_names:
            kind = name.name
            if kind in _UNCOMPARABLE:
                return None
            if kind == "uniform_resource_identifier":
                exact.add((kind, bytes(x509.iri_to_uri(name.chosen.native, True)).decode("latin-1")))  # as URI.__eq__
            elif kind == "directory_name":
                with asn1fix.scope():
                    exact.add((kind, str(name.chosen.hashable)))  # as Name.__eq__
            else:
                loose.add(str(kind))
    except _READ_ERRORS:
        return None
    return Names(frozenset(exact), frozenset(loose))


@dataclass(frozen=True)
class Partition:
    """What a CRL's issuing distribution point limits it to: the names of its distributionPoint (``fullName``), its
    issuer (``Name.hashable``) and its certificate-kind flags."""

    names: Names
    issuer: str
    only_user: bool = False
    only_ca: bool = False
    only_attribute: bool = False

    def may_cover(self, wanted: Wanted) -> bool:
        """Whether this CRL may be in scope for some certificate ``wanted`` sums up (never False when it is)."""
        if self.only_attribute:
            return False
        for ca, points in ((True, wanted.ca), (False, wanted.end_entity)):
            if points is None or (ca and self.only_user) or (not ca and self.only_ca):
                continue
            if self.names.may_share(points.names):
                return True
            if points.absent and ("directory_name", self.issuer) in self.names.exact:
                return True
        return False


def partition(crl: Any) -> Partition | None:
    """The :class:`Partition` of an asn1crypto CRL, or ``None`` when its scope is not limited by names this module
    compares (no issuing distribution point, or one whose distributionPoint is absent, a relativeName, or empty,
    or anything unreadable): such a CRL is always kept."""
    try:
        idp = crl.issuing_distribution_point_value
        if idp is None:
            return None
        point = idp["distribution_point"]
        if not point or point.name != "full_name" or len(point.chosen) == 0:
            return None
        found = names(point.chosen)
        if found is None:
            return None
        with asn1fix.scope():
            issuer = str(crl.issuer.hashable)
        return Partition(
            names=found,
            issuer=issuer,
            only_user=bool(idp["only_contains_user_certs"].native),
            only_ca=bool(idp["only_contains_ca_certs"].native),
            only_attribute=bool(idp["only_contains_attribute_certs"].native),
        )
    except _READ_ERRORS:
        return None


@dataclass(frozen=True)
class Points:
    """What a certificate's cRLDistributionPoints offer the scope test: the ``fullName`` names of its distribution
    points, or ``absent`` (none: pyhanko then matches an IDP naming the CRL issuer); and whether it is a CA
    certificate (basicConstraints cA, as the flags are read)."""

    names: Names
    absent: bool
    ca: bool


def points(cert: x509.Certificate) -> Points | None:
    """The :class:`Points` of a certificate, or ``None`` when a distribution point is not a plain ``fullName`` one (a
    relativeName, a cRLIssuer, no name) or a name cannot be compared here."""
    try:
        constraints = cert.basic_constraints_value
        ca = bool(constraints and constraints["ca"].native)
        found = Names()
        distribution_points = cert.crl_distribution_points_value
        if not distribution_points:
            return Points(found, absent=True, ca=ca)
        for point in distribution_points:
            name = point["distribution_point"]
            if point["crl_issuer"].native is not None or not name or name.name != "full_name":
                return None
            more = names(name.chosen)
            if more is None:
                return None
            found = found | more
        return Points(found, absent=False, ca=ca)
    except _READ_ERRORS:
        return None


@dataclass(frozen=True)
class Wanted:
    """The distribution points of every certificate a validation may revocation-check, by kind (CA or end entity;
    ``None``: no certificate of that kind)."""

    ca: Points | None = None
    end_entity: Points | None = None

    @classmethod
    def of(cls, found: Iterable[Points]) -> Wanted:
        ca: Points | None = None
        end_entity: Points | None = None
        for item in found:
            if item.ca:
                ca = item if ca is None else Points(ca.names | item.names, ca.absent or item.absent, True)
            else:
                end_entity = (
                    item
                    if end_entity is None
                    else Points(end_entity.names | item.names, end_entity.absent or item.absent, False)
                )
        return cls(ca, end_entity)
