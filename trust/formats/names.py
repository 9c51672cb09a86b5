"""Distinguished names (RFC 5280 clause 4.1.2.4, X.520), regions (GB/T 2260) and identifiers of Chinese subjects
(GB 32100, GB 11643).

* Region codes: GB/T 2260 six-digit administrative division codes, validated and named from the division
  table shipped with python-stdnum (``cn/loc``); province level (``330000`` 浙江省) and below.
* Unified social credit codes (统一社会信用代码): GB 32100-2015, checked with ``stdnum.cn.uscc``.
* Citizen identity numbers (公民身份号码): GB 11643-1999, checked with ``stdnum.cn.ric``.

Subject names are built in a fixed RDN order — ``C, ST, L, O, OU, CN, serialNumber`` — so that a region's
name constraint (a ``directoryName`` subtree ``C=CN, ST=<province>``, RFC 5280 clause 4.2.1.10) is a prefix of
every subject the region certifies. Country and serialNumber are PrintableString (X.520), everything else
UTF8String (RFC 5280 clause 4.1.2.4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from asn1crypto import core, x509
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.util import isdigits

from trust.crypto import x690
from trust.crypto.errors import InputError
from trust.formats import text

_ORDER: Final = (
    "country_name",
    "state_or_province_name",
    "locality_name",
    "organization_name",
    "organizational_unit_name",
    "common_name",
    "serial_number",
)
_PRINTABLE: Final = frozenset({"country_name", "serial_number"})
_ATTRIBUTE_OIDS: Final = {  # the encoded OBJECT IDENTIFIER of each attribute type DN writes (X.520)
    name: core.ObjectIdentifier(dotted).dump()
    for name, dotted in (
        ("country_name", "2.5.4.6"),
        ("state_or_province_name", "2.5.4.8"),
        ("locality_name", "2.5.4.7"),
        ("organization_name", "2.5.4.10"),
        ("organizational_unit_name", "2.5.4.11"),
        ("common_name", "2.5.4.3"),
        ("serial_number", "2.5.4.5"),
    )
}
_MAX_VALUE: Final = 128
_REGION_RE: Final = re.compile(r"^[1-9]\d{5}$")


@dataclass(frozen=True)
class Region:
    """A GB/T 2260 administrative division."""

    code: str
    name: str
    province_code: str
    province: str

    @property
    def is_province(self) -> bool:
        return self.code.endswith("0000")


@lru_cache(maxsize=4096)
def region(code: str) -> Region:
    """The division with GB/T 2260 code ``code``; :class:`InputError` if there is none."""
    if not isinstance(code, str) or not _REGION_RE.match(code):
        raise InputError(f"region code must be six digits (GB/T 2260), got {code!r}")
    info = numdb.get("cn/loc").info(code)
    province = info[0][1].get("province") if info else None
    county = info[1][1].get("county") if len(info) > 1 else None
    if not province or not county:
        raise InputError(f"{code} is not a GB/T 2260 administrative division code")
    clean = re.sub(r"^\[[^\]]*\]", "", county)  # the table marks historical names as "[1983-]西湖区"
    return Region(code=code, name=clean, province_code=code[:2] + "0000", province=province)


# GB/T 2260 alphabetic codes of the provincial divisions (罗马字母代码), by the first two digits of the code: the
# default DNS namespace of a region is ``<code>.gov.cn`` (issue 11, item 4; docs/CA.md "Names and constraints").
PROVINCE_ALPHA: Final = {
    "11": "bj", "12": "tj", "13": "he", "14": "sx", "15": "nm", "21": "ln", "22": "jl", "23": "hl", "31": "sh",
    "32": "js", "33": "zj", "34": "ah", "35": "fj", "36": "jx", "37": "sd", "41": "ha", "42": "hb", "43": "hn",
    "44": "gd", "45": "gx", "46": "hi", "50": "cq", "51": "sc", "52": "gz", "53": "yn", "54": "xz", "61": "sn",
    "62": "gs", "63": "qh", "64": "nx", "65": "xj", "71": "tw", "81": "hk", "82": "mo",
}  # fmt: skip
NO_NAMESPACE: Final = "invalid"
"""The namespace of a CA that may certify no DNS or URI names: the reserved top-level domain ``invalid`` (RFC 6761
clause 6.4), which nothing can resolve."""
_LABEL_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def default_dns_namespace(code: str) -> str:
    """A region's DNS namespace unless its enrolment names another: ``zj.gov.cn`` for 330000 (the province's GB/T 2260
    alphabetic code), ``330100.zj.gov.cn`` below province level (inside the province's namespace)."""
    r = region(code)
    alpha = PROVINCE_ALPHA.get(code[:2])
    if alpha is None:
        raise InputError(f"region {code} has no default DNS namespace; give one at enrolment")
    return f"{alpha}.gov.cn" if r.is_province else f"{code}.{alpha}.gov.cn"


def check_dns_name(name: str, *, wildcard: bool = False, what: str = "DNS name") -> str:
    """A host name in preferred syntax (RFC 1034 clause 3.5, RFC 5280 clause 4.2.1.6), lower-cased; with ``wildcard``
    a leading ``*.`` label is allowed (RFC 6125). :class:`InputError` otherwise — never a trailing dot, an empty label,
    an underscore, a non-ASCII character (give the A-label) or a single label."""
    if not isinstance(name, str) or not name or len(name) > 253:
        raise InputError(f"{what} must be 1..253 characters")
    text.check(name, what)
    lowered = name.lower()
    labels = lowered.split(".")
    if wildcard and labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        raise InputError(f"{what} {name!r} is not a host name (letters, digits and hyphens, at least two labels)")
    return lowered


def dns_within(name: str, namespace: str) -> bool:
    """Whether ``name`` is ``namespace`` or below it (RFC 5280 clause 4.2.1.10 dNSName rule; a wildcard counts as a
    name below)."""
    host = name.removeprefix("*.")
    return host == namespace or host.endswith("." + namespace)


def check_uri(uri: str) -> tuple[str, str]:
    """``(scheme, host)`` of an ``http`` or ``https`` URI with a host name; :class:`InputError` for any other scheme
    (``javascript:``, ``data:``, ``file:`` …), a missing host or an IP address host."""
    from urllib.parse import urlsplit

    if not isinstance(uri, str) or not uri or len(uri) > 2048:
        raise InputError("a URI must be 1..2048 characters")
    text.check(uri, "URI")
    if any(ch.isspace() for ch in uri):
        raise InputError(f"URI {uri!r} contains white space")
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise InputError(f"{uri!r} is not a URI") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"URI {uri!r}: only http and https URIs are certified, not {parts.scheme or 'no'} scheme")
    host = parts.hostname or ""
    return parts.scheme.lower(), check_dns_name(host, what=f"host of URI {uri!r}")


def validate_uscc(code: str) -> str:
    """A valid unified social credit code (GB 32100), normalised; :class:`InputError` otherwise."""
    try:
        return str(uscc.validate(code))
    except ValidationError as exc:
        raise InputError(f"{code!r} is not a valid unified social credit code (GB 32100): {exc}") from None


def validate_citizen_id(number: str) -> str:
    """A valid citizen identity number (GB 11643), normalised; :class:`InputError` otherwise.

    The checks of ``stdnum.cn.ric.validate`` in its order (length, digits, check digit, birth date, birth place),
    with the birth place — a lookup in stdnum's table of county codes, ~4 % of an issuance (issue 15 item 5) —
    remembered per (county code, birth year): the only inputs of that lookup's answer. The number itself is checked
    every time."""
    try:
        compact = str(ric.compact(number))
        if len(compact) != 18:
            raise InvalidLength()
        if not isdigits(compact[:-1]):
            raise InvalidFormat()
        if compact[-1] != ric.calc_check_digit(compact):
            raise InvalidChecksum()
        year = ric.get_birth_date(compact).year
        if not _birth_place_known(compact, year):
            raise InvalidComponent()
    except ValidationError as exc:
        raise InputError(f"{number!r} is not a valid citizen identity number (GB 11643): {exc}") from None
    return compact


_BIRTH_PLACES: dict[tuple[str, int], bool] = {}
_BIRTH_PLACES_MAX: Final = 1 << 16  # ~3,500 county codes in use; a bound, not a working-set guess


def _birth_place_known(compact: str, year: int) -> bool:
    """Whether stdnum knows the county code ``compact[:6]`` as assigned in ``year`` (``ric.get_birth_place``)."""
    key = (compact[:6], year)
    known = _BIRTH_PLACES.get(key)
    if known is None:
        try:
            ric.get_birth_place(compact)
            known = True
        except ValidationError:
            known = False
        if len(_BIRTH_PLACES) < _BIRTH_PLACES_MAX:
            _BIRTH_PLACES[key] = known
    return known


def make_uscc(prefix17: str) -> str:
    """Complete 17 characters with the GB 32100 check character (test data and the demo world)."""
    return prefix17 + str(uscc.calc_check_digit(prefix17))


@dataclass(frozen=True)
class DN:
    """A distinguished name in the project's fixed RDN order."""

    country: str = "CN"
    province: str | None = None
    locality: str | None = None
    organization: str | None = None
    unit: str | None = None
    common_name: str | None = None
    serial_number: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    def items(self) -> list[tuple[str, str]]:
        values = {
            "country_name": self.country,
            "state_or_province_name": self.province,
            "locality_name": self.locality,
            "organization_name": self.organization,
            "organizational_unit_name": self.unit,
            "common_name": self.common_name,
            "serial_number": self.serial_number,
        }
        return [(k, value) for k in _ORDER if (value := values[k])] + list(self.extra)

    def attributes(self) -> list[tuple[str, str]]:
        """:func:`name_attributes` of :meth:`to_asn1`, without encoding and parsing the name again (what issuance's
        scope check and the row's subject text read; issue 15 item 5). Equal by construction for the attribute
        types of :data:`_ATTRIBUTE_OIDS`; a name with other types is read back from its encoding."""
        items = self.items()
        if all(attr in _ATTRIBUTE_OIDS for attr, _value in items):
            return items
        return name_attributes(self.to_asn1())

    def to_asn1(self) -> x509.Name:
        """The name, one attribute per RDN, encoded straight to DER (issue 15 item 5: asn1crypto's encoder cost
        ~0.8 ms per issuance); the octets equal :meth:`to_asn1_general`'s (``tests/trust/formats/test_names.py``)."""
        return x509.Name.load(self.to_der())

    def to_der(self) -> bytes:
        """The DER of :meth:`to_asn1`: the same values checked, the same string types, the same octets."""
        items = self.items()
        for attr, value in items:
            _check_value(attr, value)
        if any(attr not in _ATTRIBUTE_OIDS for attr, _value in items):
            return bytes(self.to_asn1_general().dump())
        rdns = []
        for attr, value in items:
            if attr in _PRINTABLE:
                string = x690.tlv(0x13, value.encode("latin-1"))  # PrintableString (checked: ASCII)
            else:
                string = x690.tlv(0x0C, value.encode("utf-8"))  # UTF8String
            rdns.append(x690.tlv(0x31, x690.sequence(_ATTRIBUTE_OIDS[attr], string)))
        return x690.sequence(*rdns)

    def to_asn1_general(self) -> x509.Name:
        """The name built by asn1crypto's encoder (the reference :meth:`to_der` is tested against; extra attributes
        of types outside :data:`_ATTRIBUTE_OIDS` go this way)."""
        rdns = []
        for attr, value in self.items():
            _check_value(attr, value)
            string_type = "printable_string" if attr in _PRINTABLE else "utf8_string"
            value_obj = x509.DirectoryString(name=string_type, value=value)
            rdns.append(x509.RelativeDistinguishedName([{"type": attr, "value": value_obj}]))
        return x509.Name.load(x509.Name(name="", value=x509.RDNSequence(rdns)).dump())

    def prefix(self) -> x509.Name:
        """``C`` and ``ST`` only (or ``C, O`` when there is no province): a name-constraint subtree."""
        if self.province:
            return DN(country=self.country, province=self.province).to_asn1()
        return DN(country=self.country, organization=self.organization).to_asn1()


def _check_value(attr: str, value: str) -> None:
    if not value or len(value) > _MAX_VALUE:
        raise InputError(f"name attribute {attr} must be 1..{_MAX_VALUE} characters")
    text.check(value, f"name attribute {attr}")  # controls, bidi, separators, BOM (issue 11 item 5)
    if attr == "country_name" and not re.fullmatch(r"[A-Z]{2}", value):
        raise InputError("country must be two capital letters (ISO 3166)")
    if attr == "serial_number" and not re.fullmatch(r"[A-Za-z0-9 '()+,\-./:=?]+", value):
        raise InputError("serialNumber must be a PrintableString")


def name_attributes(name: x509.Name) -> list[tuple[str, str]]:
    """``[(attribute, value)]`` of a parsed name, in RDN order (multi-valued RDNs flattened)."""
    result: list[tuple[str, str]] = []
    for rdn in name.chosen:
        for attr in rdn:
            result.append((str(attr["type"].native), str(attr["value"].native)))
    return result


def name_text(name: x509.Name) -> str:
    """RFC 4514-like text in RDN order (``C=CN, ST=浙江省, ...``) for reports and logs."""
    return attributes_text(name_attributes(name))


def attributes_text(attributes: Sequence[tuple[str, str]]) -> str:
    """:func:`name_text` of a name whose :func:`name_attributes` are ``attributes`` (read once, used twice)."""
    short = {
        "country_name": "C",
        "state_or_province_name": "ST",
        "locality_name": "L",
        "organization_name": "O",
        "organizational_unit_name": "OU",
        "common_name": "CN",
        "serial_number": "serialNumber",
        "organization_identifier": "organizationIdentifier",
    }
    return ", ".join(f"{short.get(k, k)}={v}" for k, v in attributes)
