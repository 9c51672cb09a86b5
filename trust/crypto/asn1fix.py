"""Two fixes for asn1crypto 1.5.1 that hostile or merely unusual DER needs: correct indefinite-length detection
(wbond/asn1crypto#249, open) and a bound on nesting depth.

**Indefinite length.**
asn1crypto's ``dump()`` (``Asn1Value``, ``Primitive``, ``Choice``, ``Sequence``, ``SequenceOf``) treats a value
whose encoded header *ends* with the octet ``0x80`` as a BER indefinite-length value and re-encodes it. A
definite long-form length whose last octet is ``0x80`` — 128, 384, 640, 896, … octets — matches as well, so
``dump()`` of such a certificate silently re-encodes it: its SHA-256 fingerprint is then not the fingerprint of
the bytes received, and where asn1crypto's re-encoding is not the identity (a BIT STRING with unused bits
such as ``subjectUniqueID`` is rewritten with none) the re-encoded ``tbsCertificate`` no longer matches its
signature. NIST PKITS 4.3.6 (a 900-octet certificate, header ``30 82 03 80``) fails for that reason alone.

:func:`apply` wraps those five methods: a value is re-encoded only when its (last) length octet really is the
indefinite form (X.690 clause 8.1.3.6: the single octet ``0x80``); every other case behaves exactly as
before.

**Nesting depth.** Values without a schema (an unknown attribute type in a name, anything under ``Any``) are
parsed recursively, one Python frame or two per level: 20 KB of nested ``SEQUENCE`` headers raise
``RecursionError`` from ``.native`` — an exception no loader expects, so a certificate becomes a crash instead of
an input error. :func:`apply` bounds the recursion of ``_parse_children`` (SEQUENCE, SEQUENCE OF, SET) and of
constructed-string merging at :data:`MAX_NESTING` levels and raises ``ValueError`` beyond it, which every
loader already maps to an encoding error. Real certificates, CRLs and CMS nest about a dozen levels.

**Name comparison memo.** RFC 5280 name comparison (``Name.__eq__``) normalises every attribute of every RDN
(``RelativeDistinguishedName.hashable``: Unicode normalisation, case folding, whitespace) on every comparison;
path building and CRL matching in pyhanko-certvalidator compare the same names thousands of times per
validation (15 % of a sealed-PDF verification). :func:`apply` keeps the computed value on the RDN object, valid
while the object holds the same parsed contents (the same ``bytes`` object) and has not been changed
(``_mutated``); a changed or freshly built RDN is computed again, as before. Same results, computed once.

**Scope (issue 14 item 6).** The wrappers are installed once, idempotently (:func:`trust.crypto.oids.register`
calls :func:`apply`), but they change nothing for anyone but Huren: a program that imports Huren and uses
asn1crypto itself gets asn1crypto's own behaviour, bugs included
(``tests/trust/test_library_coexistence.py`` compares with a process that never imported Huren).

* The indefinite-length fix and the nesting bound act only on a call made by Huren — inside :func:`scope`, or
  with a frame of one of Huren's packages (``trust``, ``ca``, ``seal``, ``licenses``, ``verifier``) on the call
  stack, directly or through pyHanko or pyhanko-certvalidator. The stack is looked at only on the rare paths
  (a definite length whose last octet is ``0x80``; nesting deeper than :data:`MAX_NESTING`); everything else
  goes straight to asn1crypto's code.
* The name-comparison memo is kept and used only inside :func:`scope` — the path validations of the verifier
  (``verifier.certificate``) and of PDF sealing enter it; outside it ``hashable`` is asn1crypto's own property
  (a caller that changes an attribute inside an RDN in place would otherwise see a stale value).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import Any, Final

from asn1crypto import core, x509

MAX_NESTING: Final = 64
_MARK: Final = "_huren_asn1_fix"
_CLASSES: Final = (core.Asn1Value, core.Primitive, core.Choice, core.Sequence, core.SequenceOf)
_NESTED: Final = (
    (core.Sequence, "_parse_children"),
    (core.SequenceOf, "_parse_children"),
    (core.Set, "_parse_children"),
    (core.Constructable, "_merge_chunks"),
)
_depth = threading.local()
HUREN_PACKAGES: Final = frozenset({"trust", "ca", "seal", "licenses", "verifier"})
_SCOPE: ContextVar[bool] = ContextVar("huren_asn1_scope", default=False)


@contextmanager
def scope() -> Iterator[None]:
    """Huren's own ASN.1 work: the fixes apply and the name-comparison memo is used (asyncio tasks started inside
    inherit it)."""
    token = _SCOPE.set(True)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def huren_call() -> bool:
    """True inside :func:`scope` or when a frame of Huren's packages is on the call stack (not this module's)."""
    if _SCOPE.get():
        return True
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != __name__ and module.partition(".")[0] in HUREN_PACKAGES:
            return True
        frame = frame.f_back
    return False


def indefinite(header: bytes) -> bool:
    """True if the last TLV header in ``header`` (explicit tags stack several) has the indefinite length form."""
    position, result, size = 0, False, len(header)
    while position < size:
        first = header[position]
        position += 1
        if first & 0x1F == 0x1F:  # high-tag-number form: continuation octets have bit 8 set
            while position < size and header[position] & 0x80:
                position += 1
            position += 1
        if position >= size:
            return False
        length = header[position]
        position += 1
        result = length == 0x80
        if length > 0x80:
            position += length & 0x7F
    return result


def _wrap(original: Callable[..., bytes]) -> Callable[..., bytes]:
    def dump(self: Any, force: bool = False) -> bytes:
        header = self._header
        if (
            not force
            and header is not None
            and header[-1:] == b"\x80"
            and not indefinite(header)
            and huren_call()  # others get asn1crypto's own behaviour
        ):
            # A definite length that asn1crypto would mistake for BER: output what was parsed (or, if a child was
            # changed, what asn1crypto would output without the mistake).
            if isinstance(self, core.Choice):
                self._contents = self.chosen.dump()
                return bytes(self._header + self._contents)
            contents = self.contents  # re-serialises mutated children, which resets the header
            if self._header is not None:
                return bytes(self._header + contents + self._trailer)
        return original(self, force)

    setattr(dump, _MARK, True)
    dump.__doc__ = original.__doc__
    return dump


def _bounded(original: Callable[..., Any]) -> Callable[..., Any]:
    def nested(self: Any, *args: Any, **kwargs: Any) -> Any:
        level = getattr(_depth, "level", 0)
        if level >= MAX_NESTING and huren_call():
            raise ValueError(f"ASN.1 values nested deeper than {MAX_NESTING} levels")
        _depth.level = level + 1
        try:
            return original(self, *args, **kwargs)
        finally:
            _depth.level = level

    setattr(nested, _MARK, True)
    nested.__doc__ = original.__doc__
    return nested


_RDN_HASHABLE: Final = "_huren_hashable"


def _memo_hashable(original: Any) -> property:
    compute = original.fget

    def hashable(self: Any) -> str:
        contents = self._contents
        if not _SCOPE.get() or contents is None or getattr(self, "_mutated", False):
            computed: str = compute(self)
            return computed
        cached = self.__dict__.get(_RDN_HASHABLE)
        if cached is not None and cached[0] is contents:
            return str(cached[1])
        value = compute(self)
        self.__dict__[_RDN_HASHABLE] = (contents, value)
        return str(value)

    hashable.__doc__ = compute.__doc__
    setattr(hashable, _MARK, True)
    return property(hashable)


def apply() -> None:
    rdn = x509.RelativeDistinguishedName
    if not getattr(rdn.__dict__["hashable"].fget, _MARK, False):
        rdn.hashable = _memo_hashable(rdn.__dict__["hashable"])
    for cls in _CLASSES:
        method = cls.__dict__["dump"]
        if not getattr(method, _MARK, False):
            cls.dump = _wrap(method)
    for cls, name in _NESTED:
        method = cls.__dict__[name]
        if not getattr(method, _MARK, False):
            setattr(cls, name, _bounded(method))


def applied() -> bool:
    return (
        getattr(x509.RelativeDistinguishedName.__dict__["hashable"].fget, _MARK, False)
        and all(getattr(cls.__dict__["dump"], _MARK, False) for cls in _CLASSES)
        and all(getattr(cls.__dict__[name], _MARK, False) for cls, name in _NESTED)
    )
