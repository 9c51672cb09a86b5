"""Names in a certification path: syntax (RFC 5280 clause 4.2.1.6) and dNSName / iPAddress name constraints
(clauses 4.2.1.10, 6.1.3 (b)-(c), 6.1.4 (g)), the part of name-constraint processing pyhanko-certvalidator does not do
(it has no iPAddress containment — an iPAddress subtree meeting an iPAddress name raised ``NotImplementedError`` — and
reads a dNSName ``.example.com`` as inside ``example.com``).

Division of work: pyhanko-certvalidator keeps directoryName, rfc822Name and URI constraints; this module checks
dNSName and iPAddress constraints, the syntax of every dNSName and iPAddress in the subject alternative names and the
name constraints of the path, the ``minimum``/``maximum`` fields (RFC 5280: minimum 0, maximum absent), and rejects a
path where a name form nobody here processes (otherName, x400Address, ediPartyName, registeredID) is constrained and
appears in a later certificate (clause 4.2.1.10: "MUST either process the constraint or reject the certificate").
pyhanko is handed views of the certificates whose name constraints omit dNSName and iPAddress subtrees
(:func:`pyhanko_view`: the same DER, only ``name_constraints_value`` differs), so each constraint is processed once,
here or there, and pyhanko never meets an iPAddress subtree.

Decisions where RFC 5280 leaves room (``docs/VERIFIER.md``):

* **dNSName syntax** — RFC 1034 clause 3.5 preferred name syntax as RFC 1123 clause 2.1 relaxes it: labels of 1–63
  letters, digits and hyphens, no hyphen first or last, at most 253 characters, no empty label (so no leading,
  trailing or doubled dot), ASCII only (IDNs as A-labels). In a subject alternative name the left-most label may be
  the single character ``*`` (RFC 9525 clause 6.3) when at least two labels follow; ``*`` anywhere else is invalid.
* **dNSName constraints** — ``host.example.com`` covers that name and every name made by adding labels on the left
  (label by label, case-insensitive); the empty constraint covers every name. A leading period, a wildcard or any
  other syntax error makes the constraint invalid, and a path through an invalid constraint fails. A wildcard name
  ``*.example.com`` is treated as every name it can match: it is excluded when an excluded subtree is
  ``example.com`` (or above) or a name one label below it (``foo.example.com``).
* **iPAddress** — a name is 4 (IPv4) or 16 (IPv6) octets; a constraint is 8 or 32 octets, an address and a mask whose
  one-bits are contiguous and leading, with no address bit set outside the mask. Anything else is invalid (the path
  fails). An IPv4 name is never inside an IPv6 subtree, nor the reverse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from asn1crypto import x509

DNS: Final = "dns_name"
IP: Final = "ip_address"
HANDLED_HERE: Final = frozenset({DNS, IP})
HANDLED_BY_PYHANKO: Final = frozenset({"directory_name", "rfc822_name", "uniform_resource_identifier"})
MAX_DNS_NAME: Final = 253
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class NameProblem(Exception):
    """A name, a constraint or a name form that makes the path fail; ``rule`` is a stable identifier."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


# --- syntax ----------------------------------------------------------------------------------------------------------


def dns_name_problem(name: str, *, wildcard: bool) -> str | None:
    """Why ``name`` is not a dNSName in preferred name syntax (module docstring), or None."""
    if not name:
        return "empty"
    if not name.isascii():
        return "not ASCII (internationalised names are written as A-labels)"
    if len(name) > MAX_DNS_NAME:
        return f"{len(name)} characters (at most {MAX_DNS_NAME})"
    labels = name.lower().split(".")
    if wildcard and labels[0] == "*":
        if len(labels) < 3:
            return "a wildcard needs at least two labels after it"
        labels = labels[1:]
    for label in labels:
        if not label:
            return "has an empty label (a leading, trailing or doubled dot)"
        if "*" in label:
            return "has a wildcard other than a whole left-most label"
        if len(label) > 63:
            return f"has a label of {len(label)} characters (at most 63)"
        if not _LABEL.fullmatch(label):
            return f"label {label!r} is not letters, digits and inner hyphens"
    return None


def dns_constraint_problem(base: str) -> str | None:
    """Why ``base`` is not a dNSName constraint (the empty constraint is valid: it covers every name)."""
    if base == "":
        return None
    if base.startswith("."):
        return "starts with a period (RFC 5280 clause 4.2.1.10 writes dNSName constraints as host.example.com)"
    return dns_name_problem(base, wildcard=False)


@dataclass(frozen=True)
class IPNetwork:
    """An iPAddress constraint: address and mask (4 or 16 octets each)."""

    address: bytes
    mask: bytes

    def contains(self, address: bytes) -> bool:
        if len(address) != len(self.address):
            return False
        return all((a & m) == b for a, m, b in zip(address, self.mask, self.address, strict=True))

    def __str__(self) -> str:
        import ipaddress

        prefix = sum(bin(octet).count("1") for octet in self.mask)
        return str(ipaddress.ip_network((self.address, prefix)))


def ip_name(raw: bytes) -> bytes:
    """An iPAddress name: 4 or 16 octets, else :class:`NameProblem`."""
    if len(raw) not in (4, 16):
        raise NameProblem(
            "ip-address-invalid",
            f"iPAddress name of {len(raw)} octets (RFC 5280 clause 4.2.1.6: 4 for IPv4, 16 for IPv6): {raw.hex()}",
        )
    return raw


def ip_constraint(raw: bytes) -> IPNetwork:
    """An iPAddress constraint: 8 or 32 octets, a contiguous leading mask, no address bit outside it."""
    if len(raw) not in (8, 32):
        raise NameProblem(
            "ip-constraint-invalid",
            f"iPAddress constraint of {len(raw)} octets (RFC 5280 clause 4.2.1.10: address and mask, 8 octets for "
            f"IPv4, 32 for IPv6): {raw.hex()}",
        )
    half = len(raw) // 2
    address, mask = raw[:half], raw[half:]
    bits = "".join(f"{octet:08b}" for octet in mask)
    if "01" in bits:
        raise NameProblem(
            "ip-constraint-invalid", f"iPAddress constraint mask {mask.hex()} is not contiguous (CIDR) in {raw.hex()}"
        )
    if any(a & ~m & 0xFF for a, m in zip(address, mask, strict=True)):
        raise NameProblem(
            "ip-constraint-invalid",
            f"iPAddress constraint {raw.hex()} has address bits set outside its mask",
        )
    return IPNetwork(address, mask)


def _raw(general_name: x509.GeneralName) -> Any:
    chosen = general_name.chosen
    if general_name.name == IP:
        return bytes(chosen.contents or b"")
    return chosen.native


def dns_text(general_name: x509.GeneralName) -> str:
    """A dNSName's characters as encoded (asn1crypto's ``.native`` runs the IDNA codec, which raises on hostile
    input and turns A-labels into Unicode); bytes that are not ASCII become U+FFFD, which the syntax check refuses."""
    return bytes(general_name.chosen.contents or b"").decode("ascii", errors="replace")


def _subtrees(value: Any) -> list[x509.GeneralSubtree]:
    return list(value) if isinstance(value, x509.GeneralSubtrees) else []


def _checked_subtree(subtree: x509.GeneralSubtree, where: str) -> tuple[str, Any]:
    """(name form, parsed base) of one GeneralSubtree; dNSName and iPAddress bases are validated."""
    if subtree["minimum"].native != 0 or subtree["maximum"].native is not None:
        raise NameProblem(
            "name-constraint-invalid",
            f"{where}: a GeneralSubtree with minimum {subtree['minimum'].native} / maximum "
            f"{subtree['maximum'].native} (RFC 5280 clause 4.2.1.10: minimum 0, maximum absent)",
        )
    base = subtree["base"]
    form = base.name
    if form == DNS:
        value = dns_text(base)
        problem = dns_constraint_problem(value)
        if problem is not None:
            raise NameProblem("dns-constraint-invalid", f"{where}: dNSName constraint {value!r} {problem}")
        return form, value.lower()
    if form == IP:
        try:
            return form, ip_constraint(_raw(base))
        except NameProblem as exc:
            raise NameProblem(exc.rule, f"{where}: {exc.message}") from None
    return form, None


# --- the certificate view pyhanko validates ------------------------------------------------------------------------


class _PyhankoView(x509.Certificate):
    """The same certificate (loaded from the same DER: signature, fields and fingerprint are identical) whose name
    constraints, as pyhanko-certvalidator reads them, leave out dNSName and iPAddress subtrees, which
    :class:`PathNames` processes. A subclass used only for the path objects Huren hands to pyhanko."""

    _filtered: x509.NameConstraints | None = None
    _filtered_done = False

    @property
    def name_constraints_value(self) -> x509.NameConstraints | None:
        if not self._filtered_done:
            self._filtered = _without_forms(super().name_constraints_value, HANDLED_HERE)
            self._filtered_done = True
        return self._filtered


def _without_forms(value: x509.NameConstraints | None, forms: frozenset[str]) -> x509.NameConstraints | None:
    if value is None:
        return None
    kept: dict[str, list[Any]] = {}
    for part in ("permitted_subtrees", "excluded_subtrees"):
        subtrees = [s for s in _subtrees(value[part]) if s["base"].name not in forms]
        if subtrees:
            kept[part] = subtrees
    return x509.NameConstraints(kept) if kept else None


def has_handled_constraints(cert: x509.Certificate) -> bool:
    """Whether ``cert`` has dNSName or iPAddress subtrees (only those certificates need a :func:`pyhanko_view`)."""
    value = cert.name_constraints_value
    if value is None:
        return False
    return any(
        s["base"].name in HANDLED_HERE
        for part in ("permitted_subtrees", "excluded_subtrees")
        for s in _subtrees(value[part])
    )


def pyhanko_view(cert: x509.Certificate) -> x509.Certificate:
    """``cert`` as pyhanko-certvalidator should see it (module docstring); ``cert`` itself when nothing differs."""
    if isinstance(cert, _PyhankoView) or not has_handled_constraints(cert):
        return cert
    return _PyhankoView.load(cert.dump())


def pyhanko_subtrees(value: x509.NameConstraints | None) -> x509.NameConstraints | None:
    """An anchor's name constraints as pyhanko gets them (RFC 5937 qualifiers): without dNSName / iPAddress."""
    return _without_forms(value, HANDLED_HERE)


# --- RFC 5280 clause 6.1: the dNSName and iPAddress part of the state ---------------------------------------------


def _dns_within(name: str, base: str) -> bool:
    if base == "":
        return True
    return name == base or name.endswith("." + base)


def _dns_excluded(name: str, base: str) -> bool:
    """A wildcard name ``*.X`` stands for every ``L.X``: excluded when ``base`` covers X, or is one of those names."""
    if _dns_within(name, base):
        return True
    if name.startswith("*."):
        rest = name[2:]
        return base.endswith("." + rest) and base.count(".") == rest.count(".") + 1
    return False


@dataclass
class PathNames:
    """The dNSName / iPAddress constraint state along one path (permitted: one generation per certificate that
    constrains the form, a name must be inside some subtree of every generation; excluded: the union)."""

    permitted: dict[str, list[list[Any]]] = field(default_factory=lambda: {DNS: [], IP: []})
    excluded: dict[str, list[Any]] = field(default_factory=lambda: {DNS: [], IP: []})
    constrained_forms: set[str] = field(default_factory=set)  # forms nobody here or in pyhanko processes
    applied: list[str] = field(default_factory=list)

    def add_constraints(self, cert: x509.Certificate, where: str) -> None:
        """RFC 5280 clause 6.1.4 (g) (and RFC 5937 for an anchor): take ``cert``'s name constraints into the state."""
        value = cert.name_constraints_value
        if value is None:
            return
        for part in ("permitted_subtrees", "excluded_subtrees"):
            generation: dict[str, list[Any]] = {}
            for subtree in _subtrees(value[part]):
                form, base = _checked_subtree(subtree, where)
                if form in HANDLED_HERE:
                    generation.setdefault(form, []).append(base)
                elif form not in HANDLED_BY_PYHANKO:
                    self.constrained_forms.add(form)
            for form, bases in generation.items():
                if part == "permitted_subtrees":
                    self.permitted[form].append(bases)
                else:
                    self.excluded[form].extend(bases)
                shown = ", ".join(repr(b) if form == DNS else str(b) for b in bases)
                self.applied.append(
                    f"{where}: {part.split('_')[0]} {'dNSName' if form == DNS else 'iPAddress'} {shown}"
                )

    def check_names(self, cert: x509.Certificate, where: str) -> None:
        """RFC 5280 clause 6.1.3 (b)-(c) for the dNSName and iPAddress names of ``cert`` (and the name forms nobody
        processes); raises :class:`NameProblem`."""
        for general_name in subject_alt_names(cert, where):
            form = general_name.name
            if form == DNS:
                name = dns_text(general_name).lower()
                self._check(form, name, lambda base, n=name: _dns_within(n, base), _dns_excluded, where, name)
            elif form == IP:
                raw = ip_name(_raw(general_name))
                shown = _ip_text(raw)
                self._check(
                    form, raw, lambda base, r=raw: base.contains(r), lambda n, base: base.contains(n), where, shown
                )
            elif form in self.constrained_forms:
                raise NameProblem(
                    "name-form-unsupported",
                    f"{where} has a {form} name, and a name constraint of the path constrains that form, which this "
                    "verifier does not process (RFC 5280 clause 4.2.1.10: process it or reject the certificate)",
                )

    def _check(self, form: str, name: Any, inside: Any, excluded: Any, where: str, shown: str) -> None:
        kind = "dNSName" if form == DNS else "iPAddress"
        for generation in self.permitted[form]:
            if not any(inside(base) for base in generation):
                allowed = ", ".join(repr(b) if form == DNS else str(b) for b in generation)
                raise NameProblem(
                    "name-not-permitted", f"{where}: {kind} {shown} is outside the permitted subtrees ({allowed})"
                )
        for base in self.excluded[form]:
            if excluded(name, base):
                subtree = repr(base) if form == DNS else str(base)
                raise NameProblem("name-excluded", f"{where}: {kind} {shown} is inside the excluded subtree {subtree}")


def _ip_text(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.ip_address(raw))


def subject_alt_names(cert: x509.Certificate, where: str) -> Iterator[x509.GeneralName]:
    """The subject alternative names of ``cert``; dNSName and iPAddress entries are checked for syntax."""
    try:
        names = cert.subject_alt_name_value
        entries = list(names) if names is not None else []
    except (ValueError, TypeError) as exc:
        raise NameProblem("san-invalid", f"{where}: subjectAltName cannot be read: {exc}") from None
    for general_name in entries:
        if general_name.name == DNS:
            value = dns_text(general_name)
            problem = dns_name_problem(value, wildcard=True)
            if problem is not None:
                raise NameProblem("dns-name-invalid", f"{where}: dNSName {value!r} {problem}")
        elif general_name.name == IP:
            try:
                ip_name(_raw(general_name))
            except NameProblem as exc:
                raise NameProblem(exc.rule, f"{where}: {exc.message}") from None
        yield general_name


def check_path_names(anchor: x509.Certificate | None, certs: Iterable[tuple[x509.Certificate, str]]) -> PathNames:
    """Names of a path, anchor first (its constraints only, RFC 5937), then each certificate from the one the anchor
    issued to the leaf (``(certificate, label)``): syntax of every SAN dNSName/iPAddress and of every constraint, and
    dNSName/iPAddress containment. Returns the state (its ``applied`` list says what constrained the path); raises
    :class:`NameProblem`."""
    state = PathNames()
    if anchor is not None:
        state.add_constraints(anchor, "trust anchor")
    items = list(certs)
    for index, (cert, where) in enumerate(items):
        last = index == len(items) - 1
        if last or not cert.self_issued:
            state.check_names(cert, where)
        else:
            list(subject_alt_names(cert, where))  # syntax still matters
        state.add_constraints(cert, where)
    return state
