"""What a verifier knows besides the input: anchors, the trust list, CRLs, OCSP responses, the time.

Sources, all local (the verifier never opens a socket):

* ``--bundle FILE`` — the signed offline bundle (gzip accepted; or, repeated, its national part and the regional parts
  needed: :func:`trust.formats.bundle.verify_parts`); its signature is checked against **pinned** national root
  fingerprints (``--pin SHA256``, the fingerprints of ``--anchor`` certificates, or the environment variable
  ``TRUST_ROOT_FINGERPRINTS``, comma separated). The trust list inside supplies the anchors (the pinned roots
  it lists), the intermediate certificates (its CA services, with the previous certificates of re-keyed CAs)
  and the standing of every issuer over time; the bundle's CRLs supply revocation data, its identity federation
  section (:attr:`VerificationContext.federation`) the trust anchor's keys and every entity statement. A bundle past
  its ``next_update`` is still used and reported stale, with its age.
* ``--anchor CERT`` — explicit trust anchors (then no trust-list checks are made unless a bundle is given).
* ``--untrusted CERT``, ``--crl FILE``, ``--ocsp FILE`` — more path and revocation material.

Revocation (``revocation``): ``available`` (the default) — a certificate that names a CRL distribution point
or an OCSP responder must be covered by the CRLs or OCSP responses at hand (hard-fail; nothing is fetched), and
a certificate that names neither is still checked against every CRL of its issuer and every OCSP response the
context holds (when its issuer's CRLs are here, one of them must cover it); ``required`` — every certificate
below the anchor must be covered by a CRL or an OCSP response (RFC 5280 clause 6.3 for each certificate; the
profile of the NIST PKITS revocation tests).

A service that keeps one context per state version of its own bundle and patches it with newer CRLs and Status List
Tokens (:meth:`VerificationContext.patched`, :mod:`trust.service.verification`) stamps it with a :class:`StateInfo`:
the version, when it read it (:attr:`VerificationContext.known_current_at`: "newer than the bundle" starts there), and
what was patched in — ``source.state`` of its reports. A context built here from a bundle file has none.

Every size is bounded before parsing (:mod:`verifier.limits`). Parsed CRLs are kept on the context
(:attr:`VerificationContext.crl_objects`) so that many verifications against one context parse them once.

**Memo.** A context is immutable once built, so what is computed from it and from content-addressed input
can be kept: :attr:`VerificationContext.memo` (a :class:`Memo`) holds parsed certificates and CRLs by their DER,
certificate fingerprints, successful signature checks (by a digest of signature, signed bytes, key and algorithm),
pyhanko validation contexts (one per material, time and options; :mod:`verifier.certificate`) and the reports of
:func:`verifier.certificate.verify_certificate` (by the certificate, the context's material — anchors,
intermediates, CRLs, OCSP responses, trust list, revocation mode, warnings: :attr:`VerificationContext.material_key`
— the validation time, purpose, policy and profile). Contexts derived with :func:`dataclasses.replace` (another
validation time, a document's certificates and CRLs) share the memo of the context they come from; every key
names all the material it depends on, so sharing never mixes two materials. Every table is bounded in entries and
in the input bytes it keeps alive (:data:`MEMO_LIMITS`; least recently used entries go first), and a failed parse
or signature check is never kept. ``dataclasses.replace(ctx, memo=Memo())`` gives a context that starts cold.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Final, cast

from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import x509

from trust.crypto import pem
from trust.crypto.errors import Code, EncodingError, InputError, InvalidSignature, TrustError
from trust.formats import bundle as bundle_format
from trust.formats import federation as federation_format
from trust.formats import ocsp as ocsp_format
from trust.formats import times
from trust.formats import x509 as cx
from trust.formats.crl import MAX_CRL_BYTES, entries_of, load_crl, verify_crl_signature
from trust.formats.trustlist import TrustList
from verifier import limits

PINS_ENV: Final = "TRUST_ROOT_FINGERPRINTS"
MAX_EXTRA_CERTS: Final = limits.MAX_EXTRA_CERTS
MAX_OCSP_BYTES: Final = limits.MAX_OCSP_BYTES
REVOCATION_MODES: Final = ("available", "required")
MEMO_LIMITS: Final = {  # table: (entries, bytes of the inputs it keeps alive, or None)
    "certificates": (1024, 16 * 1024 * 1024),
    "crls": (512, 128 * 1024 * 1024),
    "checked_crls": (512, 32 * 1024 * 1024),
    "digests": (4096, 128 * 1024 * 1024),
    "fingerprints": (8192, None),
    "sequences": (64, None),
    "signatures": (4096, None),
    "reports": (1024, None),
    "contexts": (8, None),
    "revoked": (512, None),
    "facts": (4096, None),
    "listed_kids": (32768, None),
}
"""Bounds of every :class:`Memo` table: entries, and bytes of the DER it holds on to (least recently used go first).
Keys of the ``signatures``, ``reports``, ``contexts``, ``facts`` and ``listed_kids`` tables are digests and short
strings, never input bytes (``listed_kids``: a listed certificate's SHA-256 → its key's ``kid``, for the licence
issuers' key index of a national list, ~10^4 entries, rebuilt from it when a new bundle's list comes: issue 15);
``fingerprints`` refers to certificate objects weakly (it keeps none alive), ``sequences`` holds the certificate
tuples of contexts; a pyhanko context in ``contexts`` holds the material of one derived context (the document's CMS
certificates and DSS data at most)."""


class _Bounded:
    """A small thread-safe LRU table, bounded in entries and in the summed weight (bytes) of its entries."""

    def __init__(self, size: int, budget: int | None = None) -> None:
        self._size = size
        self._budget = budget
        self._weight = 0
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            self._data.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: Any, weight: int = 0) -> None:
        if self._budget is not None and weight > self._budget:
            return  # larger than the whole table: not kept
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._data[key] = (value, weight)
            self._weight += weight
            while len(self._data) > self._size or (self._budget is not None and self._weight > self._budget):
                _key, (_value, dropped) = self._data.popitem(last=False)
                self._weight -= dropped

    def __len__(self) -> int:
        return len(self._data)


_UNREADABLE: Final = object()  # a CRL whose entries cannot be read (revoked_serials)


class _Same:
    """An object as a key part compared by identity (and kept alive by the key that holds it)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


class Memo:
    """What verifications against one context (and the contexts derived from it) compute once (module docstring).

    Nothing here decides anything: a table answers only for exactly the input it was filled with."""

    def __init__(self) -> None:
        def table(name: str) -> _Bounded:
            size, budget = MEMO_LIMITS[name]
            return _Bounded(size, budget)

        self.certificates = table("certificates")
        self.crls = table("crls")
        self.checked_crls = table("checked_crls")
        self.digests = table("digests")
        self.fingerprints = table("fingerprints")
        self.sequences = table("sequences")
        self.signatures = table("signatures")
        self.reports = table("reports")
        self.contexts = table("contexts")  # pyhanko ValidationContexts (verifier.certificate)
        self.revoked = table("revoked")  # CRL digest -> serial numbers (DER) it lists
        self.facts = table("facts")  # small facts read from certificates and CRLs (verifier.certificate)
        self.listed_kids = table("listed_kids")  # trust-list certificate SHA-256 -> kid (verifier.license)

    def __reduce__(self) -> tuple[type[Memo], tuple[()]]:
        """A copied or pickled context starts with an empty memo (what it holds is only ever a shortcut)."""
        return (Memo, ())

    def certificate(
        self, der: bytes, load: Callable[[bytes], x509.Certificate] = cx.load_certificate
    ) -> x509.Certificate:
        """``load(der)`` once per DER. ``load`` is ``trust.formats.x509.load_certificate`` or a wrapper of it that only
        changes which exception a failure raises: any of them gives the same certificate for the same bytes, and a
        failure is never kept (the next call raises again, from its own loader)."""
        cert = self.certificates.get(der)
        if cert is None:
            cert = load(der)
            self.certificates.put(der, cert, len(der))
        return cert

    def crl(self, der: bytes) -> asn1_crl.CertificateList:
        """A CRL parsed (lazily, strictly) once per DER; :class:`EncodingError` if it is not one."""
        parsed = self.crls.get(der)
        if parsed is None:
            try:
                parsed = asn1_crl.CertificateList.load(der, strict=True)
            except (ValueError, TypeError) as exc:
                raise EncodingError(f"not a DER CRL: {type(exc).__name__}") from None
            self.crls.put(der, parsed, 2 * len(der))  # the key and the parsed object's copy
        return parsed

    def checked_crl(self, data: bytes) -> bytes:
        """The DER of ``trust.formats.crl.load_crl(data)`` (size limit, PEM or DER, every field decoded), once per
        input."""
        der = self.checked_crls.get(data)
        if der is None:
            der = bytes(load_crl(data).dump())
            self.checked_crls.put(data, der, len(data) + len(der))
        return bytes(der)

    def digest(self, data: bytes) -> bytes:
        """SHA-256 of ``data``, once per input (a key part that does not keep the input alive)."""
        value = self.digests.get(data)
        if value is None:
            value = hashlib.sha256(data).digest()
            self.digests.put(data, value, len(data))
        return bytes(value)

    def fingerprint(self, cert: x509.Certificate) -> str:
        """``trust.formats.x509.fingerprint(cert)`` (SHA-256 of its DER, lower-case hex), once per certificate
        object. The table holds the object weakly: it kept every input certificate parsed per verification alive
        (8,192 of them, ~240 Python objects each: ~2 million objects that every full garbage collection walked, in
        a process verifying the same certificate again and again — issue 15's benches swung from 0.2 to 1.5 by it)."""
        entry = self.fingerprints.get(id(cert))
        if entry is not None and entry[0]() is cert:  # a dead reference (its id reused since) is never ``cert``
            return str(entry[1])
        value = hashlib.sha256(cert.dump()).hexdigest()
        self.fingerprints.put(id(cert), (weakref.ref(cert), value))
        return value

    def certificates_digest(self, certs: tuple[x509.Certificate, ...]) -> bytes:
        """SHA-256 over the fingerprints of ``certs`` in order, once per tuple object (a context and the contexts
        replaced from it at another time share theirs)."""
        entry = self.sequences.get(id(certs))
        if entry is not None and entry[0] is certs:
            return bytes(entry[1])
        hasher = hashlib.sha256()
        for cert in certs:
            hasher.update(bytes.fromhex(self.fingerprint(cert)))
        value = hasher.digest()
        self.sequences.put(id(certs), (certs, value))
        return value

    @staticmethod
    def signature_key(*parts: bytes | str | bool | None, data: bytes) -> bytes:
        """A signature check's key: SHA-256 over its parts (length-prefixed, so parts cannot run into each other)
        and the signed bytes."""
        hasher = hashlib.sha256()
        for part in (*parts, data):
            raw = part if isinstance(part, bytes) else repr(part).encode()
            hasher.update(len(raw).to_bytes(8, "big"))
            hasher.update(raw)
        return hasher.digest()


@dataclass(frozen=True)
class BundleInfo:
    """Which signed bundle a context was built from: its dates and the SHA-256 of its bytes (what a report names)."""

    created_at: datetime
    next_update: datetime
    sha256: str  # of the national part when several parts were given
    parts: tuple[str, ...] = ()  # SHA-256 of every part, when the bundle came in several (national, regional)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "created_at": self.created_at.isoformat(),
            "next_update": self.next_update.isoformat(),
            "sha256": self.sha256,
        }
        if self.parts:
            out["parts"] = list(self.parts)
        return out


@dataclass(frozen=True)
class StateInfo:
    """What a service's context holds beyond the bundle it was built from (``source.state`` of a report): the state
    version it was brought to, the moment that version was read — what the context holds was known current then, so
    it, not the bundle's ``created_at``, is when "newer than the bundle" starts (:meth:`VerificationContext.
    newer_than_bundle`) — and the CRLs and Status List Tokens patched in since the bundle
    (:meth:`VerificationContext.patched`). ``None`` on a context built from a bundle file (the offline verifier)."""

    version: int | None  # None: patched by a caller that named no version (a library use of patched())
    known_current_at: datetime | None
    crls: tuple[tuple[int, str, int, str], ...] = ()  # (slot index, issuer, CRL number, SHA-256 of its DER)
    status_lists: tuple[tuple[str, str], ...] = ()  # (uri, SHA-256 of the token)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "known_current_at": self.known_current_at.isoformat() if self.known_current_at is not None else None,
            "patched_crls": [
                {"issuer": issuer, "number": number, "sha256": digest} for _slot, issuer, number, digest in self.crls
            ],
            "patched_status_lists": [{"uri": uri, "sha256": digest} for uri, digest in self.status_lists],
        }


@dataclass(frozen=True)
class VerificationContext:
    validation_time: datetime
    anchors: tuple[x509.Certificate, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsps: tuple[bytes, ...] = ()
    trust_list: TrustList | None = None
    warnings: tuple[str, ...] = ()
    purpose: str = "auto"  # auto: each input's own purpose (seal for PDF signatures, any for certificates)
    notes: tuple[str, ...] = field(default=())
    revocation: str = "available"
    status_lists: tuple[Mapping[str, Any], ...] = ()  # [{"uri", "token"}] Token Status Lists from the bundle
    strict: bool = False  # the RFC 5280 CA profile on every certificate of a path (verifier.profile)
    max_depth: int | None = None  # at most this many intermediate CAs (verifier.pathchecks), <= limits.MAX_DEPTH
    type_metadata: tuple[Mapping[str, Any], ...] = ()  # [{"vct", "document"}] SD-JWT VC type metadata (bundle)
    federation: Mapping[str, Any] | None = None  # the bundle's identity federation section (trust.formats.federation)
    checkpoints: tuple[Mapping[str, Any], ...] = ()  # the bundle's transparency log checkpoints (verifier.transparency)
    bundle_created_at: datetime | None = None  # when the bundle was made (what it cannot know of is newer)
    key_anchors: frozenset[str] = frozenset()  # fingerprints of anchors trusted as name and key (verifier.anchors)
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)  # shared by dataclasses.replace copies
    bundle: BundleInfo | None = field(default=None, compare=False)  # the bundle the trust list came from
    patch: _Patch | None = field(default=None, compare=False, repr=False)  # how patched() made it (revoked_serials)
    state: StateInfo | None = field(default=None, compare=False)  # a service's state version and patches (StateInfo)

    def newer_than_bundle(self, moment: datetime, *, certificate: bool = True) -> bool:
        """Whether ``moment`` — a certificate's notBefore (less :data:`BACKDATING`), or a document's time with
        ``certificate=False`` — lies after the bundle was made (without a bundle, after its trust list was issued):
        then what its trust list lacks may simply be newer than it (issue 13 item 6). A bundle made after ``moment``
        holds the trust list current then — Huren publishes a list on every change — so what it lacks is not listed."""
        if self.trust_list is None:
            return False
        made = self.known_current_at
        assert made is not None  # a trust list is at hand
        # Documents and certificates state whole seconds: one of the bundle's own second may be newer than it.
        made = made.replace(microsecond=0)
        return moment >= made - (BACKDATING if certificate else timedelta(0))

    @property
    def known_current_at(self) -> datetime | None:
        """Until when what this context holds is known to be current: the moment a service read the state version
        it was brought to (:class:`StateInfo`), else when its bundle was made, else when its trust list was issued;
        ``None`` without a trust list. What is dated after it may simply be newer than what the context knows."""
        made = self.bundle.created_at if self.bundle is not None else None
        if made is None and self.trust_list is not None:
            made = self.trust_list.issued_at
        known = self.state.known_current_at if self.state is not None else None
        if known is not None:
            made = known if made is None else max(made, known)
        return made

    def newer_bundle(self, what: str, moment: datetime) -> str:
        """The reason to give when ``what`` of ``moment`` is missing from an older bundle: not a forgery proven, an
        answer that a newer bundle may change (INDETERMINATE / TRY_LATER)."""
        listed = self.trust_list
        number = f"trust list {listed.sequence}" if listed else "its trust list"
        made = f" of {self.bundle.created_at.isoformat()}" if self.bundle is not None else ""
        known = self.known_current_at
        if self.state is not None and known is not None:
            made += f", known current at state version {self.state.version} ({known.isoformat()})"
        return (
            f"{what} ({moment.isoformat()}) is newer than the bundle{made}, whose {number} does not list it yet: get a "
            "newer bundle"
        )

    def source(self) -> dict[str, Any]:
        """What a verification against this context relied on besides its input, for the report (``source`` in the
        JSON, ``docs/VERIFIER.md``): the bundle (dates, SHA-256) and its trust list (number, dates), or none; and how
        many anchors, CRLs, OCSP responses and status lists were at hand."""
        trust_list = self.trust_list
        return {
            "bundle": self.bundle.to_dict() if self.bundle is not None else None,
            "trust_list": {
                "sequence": trust_list.sequence,
                "issued_at": trust_list.issued_at.isoformat(),
                "next_update": trust_list.next_update.isoformat(),
            }
            if trust_list is not None
            else None,
            "anchors": len(self.anchors),
            "crls": len(self.crls),
            "ocsp_responses": len(self.ocsps),
            "status_lists": len(self.status_lists),
            **({"state": self.state.to_dict()} if self.state is not None else {}),
        }

    def __post_init__(self) -> None:
        if self.revocation not in REVOCATION_MODES:
            raise InputError(f"revocation mode must be one of {', '.join(REVOCATION_MODES)}, got {self.revocation!r}")
        check_max_depth(self.max_depth)

    def shared(self, name: str, compute: Callable[[], Any], *parts: object) -> Any:
        """A value derived from some fields only, kept in the memo by the identity of those fields' objects: the
        contexts a service derives per request (``dataclasses.replace``, another time or purpose) share the same
        tuples and trust list, so what is derived from them is worked out once, not once per request (issue 15:
        a copy's own cached properties start empty, and these walk every CRL entry or trust-list service)."""
        key = (name, *(_Same(part) for part in parts))
        value = self.memo.facts.get(key)
        if value is None:
            value = compute()
            self.memo.facts.put(key, value)
        return value

    @cached_property
    def member_fingerprints(self) -> frozenset[str]:
        """SHA-256 of every certificate of Huren's own trust list: the roots and every service's current and previous
        certificates (the RFC 5280 profile is always checked on them, :mod:`verifier.profile`)."""
        trust_list = self.trust_list
        if trust_list is None:
            return frozenset()

        def compute() -> frozenset[str]:
            found = {root.fingerprint for root in trust_list.roots}
            for _issuer, service in trust_list.services():
                found.update(service.fingerprints)
            return frozenset(found)

        return cast(frozenset[str], self.shared("member-fingerprints", compute, trust_list))

    @cached_property
    def federation_statements(
        self,
    ) -> tuple[federation_format.FederationSection, federation_format.StatementSet] | None:
        """The bundle's identity federation section and its statements, parsed once (None without one); raises
        :class:`~trust.crypto.errors.FederationError` if the section is malformed."""
        if self.federation is None:
            return None
        section = federation_format.FederationSection.from_json(self.federation)
        return section, section.statement_set()

    @property
    def has_trust_list(self) -> bool:
        return self.trust_list is not None

    @cached_property
    def crl_objects(self) -> tuple[asn1_crl.CertificateList, ...]:
        """The CRLs parsed once (lazily: asn1crypto parses fields when they are read); contexts that share a
        :class:`Memo` share the parsed objects, and with them what asn1crypto and pyhanko have read of them."""
        return cast(
            tuple[asn1_crl.CertificateList, ...],
            self.shared("crl-objects", lambda: tuple(self.memo.crl(der) for der in self.crls), self.crls),
        )

    @cached_property
    def crl_issuers(self) -> frozenset[bytes | str]:
        """``Name.hashable`` of every CRL issuer, and whether any CRL is indirect (``"indirect"``)."""

        def compute() -> frozenset[bytes | str]:
            names: set[bytes | str] = set()
            for crl in self.crl_objects:
                names.add(crl.issuer.hashable)
                idp = crl.issuing_distribution_point_value
                if idp is not None and idp["indirect_crl"].native:
                    names.add("indirect")
            return frozenset(names)

        return cast(frozenset[bytes | str], self.shared("crl-issuers", compute, self.crls))

    @cached_property
    def revoked_serials(self) -> frozenset[bytes] | SerialSet | None:
        """The DER ``serialNumber`` of every entry of every CRL at hand (whatever its issuer, delta CRLs and indirect
        CRLs included); ``None`` if a CRL's entries cannot be read (then nothing can be concluded from it)."""
        found = self.shared("revoked-serials", self._serials_found, self.crls)
        return None if found is _UNREADABLE else cast(frozenset[bytes] | SerialSet, found)

    def _serials_found(self) -> object:
        return self.patch.resolve() if self.patch is not None else self._revoked_serials()

    def _revoked_serials(self) -> frozenset[bytes] | object:
        serials: set[bytes] = set()
        for der in self.crls:
            key = self.memo.digest(der)
            listed = self.memo.revoked.get(key)
            if listed is None:
                try:
                    # Read from a copy: entries parsed on the shared object (crl_objects) would make every later
                    # dump() of it — pyhanko's signature check of each CRL in every new validation context — walk
                    # them all (issue 15: a cost growing with the revoked certificates of every partition).
                    copy = asn1_crl.CertificateList.load(der, strict=True)
                    entries = copy["tbs_cert_list"]["revoked_certificates"]
                    listed = frozenset(bytes(entry["user_certificate"].dump()) for entry in entries)
                except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
                    return _UNREADABLE
                self.memo.revoked.put(key, listed)
            serials.update(listed)
        return frozenset(serials)

    @cached_property
    def material_key(self) -> tuple[Hashable, ...]:
        """Everything besides the time, the input and the options that a verification's result depends on: anchors
        and intermediates (fingerprints, in order), CRLs, OCSP responses, the trust list, revocation mode and
        warnings. Two contexts with equal keys (and equal validation times) give equal results."""
        material = self.shared(
            "material-key", self._material_key, self.anchors, self.intermediates, self.crls, self.ocsps, self.trust_list
        )
        return (
            *cast(tuple[Hashable, ...], material),
            self.revocation,
            self.warnings,
            self.key_anchors,
            self.known_current_at,  # what is "newer than the bundle" (a service's patch moves it)
        )

    def _material_key(self) -> tuple[Hashable, ...]:
        memo = self.memo
        hasher = hashlib.sha256()
        for part in (
            memo.certificates_digest(self.anchors),
            memo.certificates_digest(self.intermediates),
            *(memo.digest(der) for der in self.crls),
            b"ocsp",
            *(memo.digest(der) for der in self.ocsps),
        ):
            hasher.update(part)
        return (len(self.anchors), len(self.crls), hasher.digest(), _Same(self.trust_list))

    def patched(
        self,
        *,
        crls: Sequence[bytes] = (),
        status_lists: Sequence[Mapping[str, Any]] = (),
        version: int | None = None,
        known_current_at: datetime | None = None,
    ) -> VerificationContext:
        """A context like this one with some CRLs and Status List Tokens replaced by newer ones — what a service does
        when a revocation re-signed one CRL partition or a status change one list (issue 15 item 1), instead of
        building a context from a whole new bundle. Everything else (anchors, trust list, the other CRLs, the memo)
        is shared, so the cost depends on what is replaced, not on what is kept.

        Each CRL (DER, at most ``MAX_CRL_BYTES``; parsed lazily and strictly, as a bundle's CRLs are) replaces the
        one CRL of this context with the same issuer, issuing distribution point (the partition it speaks for), delta
        CRL indicator and authority key identifier; it must be signed by a CA certificate of this context (anchor or
        intermediate) with that subject and key identifier, and its CRL number must not be lower than the replaced
        one's. A CRL that matches no CRL here (or several), is not signed so, or is older is refused
        (:class:`InputError`, or :class:`InvalidSignature`): the caller builds a full context instead. A status list
        entry (``{"uri", "token"}``) replaces the entry with the same ``uri`` or is added; its token is checked when it
        is used, as the bundle's are (:mod:`verifier.license`), and its ``sub`` must be its ``uri``.

        The result's :attr:`state` (:class:`StateInfo`, ``source.state`` of its reports) names what was patched in
        since the bundle — this patch's CRLs and lists and those of the patches before it — with ``version`` and
        ``known_current_at``: the state version the caller brought it to and when it read that version (what the
        context holds was current then, so "newer than the bundle" is judged from then on)."""
        new_crls = list(self.crls)
        patched_crls = {record[0]: record for record in (self.state.crls if self.state is not None else ())}
        patched_lists = dict(self.state.status_lists if self.state is not None else ())
        slots = self.shared("crl-slots", self._crl_slots, self.crls)
        added: set[bytes] = set()
        unreadable = False
        for der in crls:
            if len(der) > MAX_CRL_BYTES:
                raise InputError(f"CRL of {len(der)} bytes exceeds {MAX_CRL_BYTES}", code=Code.INPUT_TOO_LARGE)
            crl = self.memo.crl(der)  # parsed lazily, as the bundle's CRLs are (pyhanko reads what it needs)
            slot = _crl_slot(crl)
            index = slots.get(slot)
            if index is None:
                raise InputError("the replacement CRL matches no single CRL of the context (issuer and partition)")
            old = self.memo.crl(new_crls[index])
            if der == new_crls[index]:
                continue
            if _crl_number(crl) < _crl_number(old):
                raise InputError(
                    f"the replacement CRL is older than the context's (number {_crl_number(crl)} < {_crl_number(old)})"
                )
            self._check_crl_signature(crl)
            try:  # the entries the new CRL adds (a revocation appends one), read from copies of their bytes
                before, after = entries_of(new_crls[index]), entries_of(der)
                body = after[len(before) :] if after.startswith(before) else after
                entries = asn1_crl.RevokedCertificates.load(asn1_core.Sequence(contents=body).dump(), strict=True)
                added.update(bytes(entry["user_certificate"].dump()) for entry in entries)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
                unreadable = True
            new_crls[index] = der
            patched_crls[index] = (index, crl.issuer.human_friendly, _crl_number(crl), hashlib.sha256(der).hexdigest())
        new_status = list(self.status_lists)
        positions = {entry.get("uri"): i for i, entry in enumerate(new_status)}
        for entry in status_lists:
            uri, text = entry.get("uri"), entry.get("token")
            if not isinstance(uri, str) or not isinstance(text, str):
                raise InputError("a status list entry needs a uri and a token (text)")
            claims = _token_claims(text)
            if claims.get("sub") != uri:
                raise InputError(f"the status list token's subject is not {uri}")
            item = {"uri": uri, "token": text}
            patched_lists[uri] = hashlib.sha256(text.encode()).hexdigest()
            if uri in positions:
                new_status[positions[uri]] = item
            else:
                positions[uri] = len(new_status)
                new_status.append(item)
        state = StateInfo(
            version,
            known_current_at,
            tuple(patched_crls[index] for index in sorted(patched_crls)),
            tuple(sorted(patched_lists.items())),
        )
        if not crls:
            return replace(self, status_lists=tuple(new_status) if status_lists else self.status_lists, state=state)
        crl_tuple = tuple(new_crls)
        self.memo.facts.put(("crl-slots", _Same(crl_tuple)), slots)  # the same issuers, partitions and keys
        return replace(
            self,
            crls=crl_tuple,
            status_lists=tuple(new_status) if status_lists else self.status_lists,
            patch=_Patch(self, frozenset(added), unreadable),
            state=state,
        )

    def _crl_slots(self) -> dict[Hashable, int]:
        slots: dict[Hashable, int] = {}
        for index, crl in enumerate(self.crl_objects):
            try:
                slot = _crl_slot(crl)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
                continue
            slots[slot] = -1 if slot in slots else index  # two CRLs in one slot: neither is replaced
        return {slot: index for slot, index in slots.items() if index >= 0}

    def _check_crl_signature(self, crl: asn1_crl.CertificateList) -> None:
        """Refuse ``crl`` unless a CA certificate of this context named as its issuer (and with the key identifier its
        authority key identifier names) signed it."""
        issuer = crl.issuer.hashable
        wanted = crl.authority_key_identifier
        for cert in (*self.anchors, *self.intermediates):
            if cert.subject.hashable != issuer or (wanted is not None and cert.key_identifier != wanted):
                continue
            try:
                verify_crl_signature(crl, cx.public_key(cert))
            except TrustError:
                continue
            return
        raise InvalidSignature("the replacement CRL is not signed by a CA certificate of the context")


class _Patch:
    """How :meth:`VerificationContext.patched` made a context: from which context, adding which serial numbers. Its
    :attr:`~VerificationContext.revoked_serials` is the base's with those added, worked out when first asked for
    (only signatures judged at a proof time ask: :func:`verifier.certificate.may_be_revoked`), so a patch never walks
    the entries of the CRLs it keeps. A superset: what a replaced CRL listed stays in — a serial number kept too many
    only costs that shortcut (``may_be_revoked`` then says "maybe"), never a verdict."""

    _lock: Final = threading.Lock()

    def __init__(self, base: VerificationContext, added: frozenset[bytes], unreadable: bool) -> None:
        self.base: VerificationContext | None = base
        self.added = added
        self.unreadable = unreadable
        self.value: object = None  # once resolved: a frozenset, a SerialSet or _UNREADABLE

    def resolve(self) -> object:
        with _Patch._lock:
            chain: list[_Patch] = []
            node: _Patch | None = self
            start: object = None
            while node is not None and node.value is None:
                chain.append(node)
                base = node.base
                assert base is not None  # dropped only once resolved
                start = base.memo.facts.get(("revoked-serials", _Same(base.crls)))
                if start is not None or base.patch is None:
                    if start is None:  # a context built from a bundle: every CRL's entries (once per memo)
                        start = base.shared("revoked-serials", base._revoked_serials, base.crls)
                    node = None
                else:
                    node = base.patch
            if node is not None:
                start = node.value
            for link in reversed(chain):  # oldest patch first
                start = _UNREADABLE if start is _UNREADABLE or link.unreadable else SerialSet.of(start, link.added)
                link.value, link.base = start, None  # resolved: the older contexts may go
            return self.value


class SerialSet:
    """A set of serial numbers (DER) made of a large shared set and a small one added to it, without copying the
    large one (:meth:`VerificationContext.patched`)."""

    __slots__ = ("base", "extra")

    def __init__(self, base: frozenset[bytes], extra: frozenset[bytes]) -> None:
        self.base, self.extra = base, extra

    @classmethod
    def of(cls, base: object, added: Iterable[bytes]) -> SerialSet:
        if isinstance(base, SerialSet):
            return cls(base.base, base.extra | frozenset(added))
        return cls(cast(frozenset[bytes], base), frozenset(added))

    def __contains__(self, serial: object) -> bool:
        return serial in self.extra or serial in self.base

    def __bool__(self) -> bool:
        return bool(self.base) or bool(self.extra)


def _crl_slot(crl: asn1_crl.CertificateList) -> Hashable:
    """What a newer CRL must share with the one it replaces: issuer, issuing distribution point, delta CRL indicator
    (complete or delta) and authority key identifier (the CA key that signs it)."""
    point = crl.issuing_distribution_point_value
    delta = crl.delta_crl_indicator_value
    return (
        crl.issuer.hashable,
        point.dump() if point is not None else None,
        delta is not None,
        crl.authority_key_identifier,
    )


def _crl_number(crl: asn1_crl.CertificateList) -> int:
    number = crl.crl_number_value
    return int(number.native) if number is not None else -1


def _token_claims(text: str) -> Mapping[str, Any]:
    """The payload of a compact JWS, undecoded beyond JSON (its signature is checked where the token is used)."""
    import base64
    import json

    parts = text.split(".")
    if len(parts) != 3:
        raise InputError("a status list token is a compact JWS (three parts)")
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError) as exc:
        raise InputError(f"a status list token's payload is not JSON: {type(exc).__name__}") from None
    if not isinstance(payload, dict):
        raise InputError("a status list token's payload is not a JSON object")
    return payload


def check_max_depth(value: int | None) -> None:
    """``--max-depth`` / ``max_depth``: an integer from 0 to :data:`verifier.limits.MAX_DEPTH`, or None."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limits.MAX_DEPTH:
        raise InputError(
            f"maximum depth must be an integer from 0 to {limits.MAX_DEPTH} (intermediate CA certificates; the hard "
            f"limit is {limits.MAX_PATH_CERTS} certificates below the anchor), got {value!r}"
        )


def parse_pins(values: Iterable[str]) -> list[str]:
    pins = []
    for value in values:
        for part in value.split(","):
            clean = part.strip().lower().replace(":", "")
            if not clean:
                continue
            if len(clean) != 64 or any(c not in "0123456789abcdef" for c in clean):
                raise InputError(f"pinned root fingerprint {part.strip()!r} is not a SHA-256 hex digest")
            pins.append(clean)
    return pins


def load_certificates(
    data: bytes, what: str, *, limit: int = limits.MAX_PEM_BLOCKS, parsed: dict[bytes, x509.Certificate] | None = None
) -> list[x509.Certificate]:
    """One or more certificates from a PEM bundle or a single DER certificate (at most ``limit`` PEM blocks,
    counted before anything is decoded). ``parsed`` (DER -> certificate) lets repeated certificates be parsed once.

    As RFC 7468 clause 2 requires, text before and between PEM blocks (``openssl x509 -text`` output) is ignored."""
    cache: dict[bytes, x509.Certificate] = {} if parsed is None else parsed
    if pem.is_pem(data):
        blocks = pem.read_all(data, what, limit=limit)
        certs = [_load_one(der, what, cache) for label, der in blocks if label in cx.CERTIFICATE_LABELS]
        if not certs:
            raise EncodingError(f"{what}: no CERTIFICATE block")
        return certs
    return [_load_one(data, what, cache)]


def _load_one(der: bytes, what: str, cache: dict[bytes, x509.Certificate]) -> x509.Certificate:
    cert = cache.get(der)
    if cert is not None:
        return cert
    try:
        cert = cx.load_certificate(der)
    except RecursionError:  # nesting deeper than the interpreter's stack: hostile, never a certificate
        raise EncodingError(f"{what}: not a DER X.509 certificate: nesting too deep") from None
    cache[der] = cert
    return cert


BACKDATING: Final = timedelta(minutes=5)
"""How far back Huren's CAs date a certificate's notBefore (``ca.authority.BACKDATE``, which the verifier may not
import; a test keeps them equal): a certificate dated up to this much before the bundle was made was issued after it."""
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""The range of validation times (and of the HTTP API's dates): far from ``datetime.min``/``max``, so the arithmetic
of the checks (validity ends, clock skew) cannot overflow."""


def validation_time(value: datetime | str | None, what: str = "validation time") -> datetime | None:
    """The one reading of a validation time, shared by the library (:func:`build`), ``trust verify --at`` and
    ``POST /verify``: an aware :class:`datetime` or ISO 8601 text with its offset (``Z``, ``+00:00``, ``+08:00``)
    becomes UTC; ``None`` stays ``None`` (the caller's clock decides). A time **without** a time zone is refused
    (``InputError``): ``2026-03-01T09:00`` is 09:00 in Beijing to a clerk and 17:00 there to a UTC reader, and a
    verdict must not depend on where it is computed. So is a time outside :data:`EARLIEST`..:data:`LATEST`."""
    return None if value is None else _read_time(value, what)


def _read_time(value: datetime | str, what: str) -> datetime:
    if isinstance(value, str):  # the one parser (trust.formats.times), here refusing a time without an offset
        return times.parse_time(value, f"the {what}", naive="refuse")
    if not isinstance(value, datetime):
        raise InputError(f"the {what} must be a date and time, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(times.naive_refused(f"the {what}", value.isoformat()))
    if not EARLIEST <= value <= LATEST:
        raise InputError(f"the {what} must lie {times.RANGE}")
    return value.astimezone(UTC)


def system_clock() -> datetime:
    """The wall clock, read once per context when no validation time is given (the verifier reads it nowhere else)."""
    return datetime.now(UTC)


def build(
    *,
    at: datetime | str | None = None,
    clock: Callable[[], datetime] = system_clock,
    bundle: bytes | Sequence[bytes] | None = None,
    pins: Sequence[str] = (),
    anchors: Sequence[bytes] = (),
    untrusted: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
    purpose: str = "auto",
    environ: dict[str, str] | None = None,
    revocation: str = "available",
    strict: bool = False,
    max_depth: int | None = None,
    key_anchors: Sequence[bytes] = (),
) -> VerificationContext:
    """A verification context (module docstring). ``at`` is the validation time (:func:`validation_time`: aware, or
    ISO 8601 with an offset); without it, ``clock()`` once. Everything is judged at that one time: certificate paths,
    trust-list standing, status lists, and the bundle's and trust list's staleness (a warning when their next update
    was due before it)."""
    moment = _read_time(clock() if at is None else at, "validation time")
    if revocation not in REVOCATION_MODES:
        raise InputError(f"revocation mode must be one of {', '.join(REVOCATION_MODES)}, got {revocation!r}")
    check_max_depth(max_depth)
    _bounded(anchors, "anchor", limits.MAX_ANCHORS, limits.MAX_EXTRA_BYTES)
    _bounded(untrusted, "untrusted certificate", limits.MAX_EXTRA_CERTS, limits.MAX_EXTRA_BYTES)
    _bounded(crls, "CRL", limits.MAX_CRLS, limits.MAX_TOTAL_CRL_BYTES)
    _bounded(ocsps, "OCSP response", limits.MAX_OCSPS, limits.MAX_OCSPS * limits.MAX_OCSP_BYTES)
    anchor_certs = _load_all(anchors, "anchor", limits.MAX_ANCHORS)
    _bounded(key_anchors, "key anchor", limits.MAX_ANCHORS, limits.MAX_EXTRA_BYTES)
    key_certs = _load_all(key_anchors, "key anchor", limits.MAX_ANCHORS)
    given = _load_all(untrusted, "untrusted certificate", limits.MAX_EXTRA_CERTS)
    crl_list = []
    for data in crls:
        crl_list.append(load_crl(data).dump())
    for data in ocsps:
        if len(data) > MAX_OCSP_BYTES:
            raise InputError("OCSP response file too large", code=Code.INPUT_TOO_LARGE)
        ocsp_format.load_response(data)  # every field decoded now: pyhanko would meet a malformed one mid-validation
    listed: list[x509.Certificate] = []
    warnings: list[str] = []
    status_lists: tuple[Mapping[str, Any], ...] = ()
    type_metadata: tuple[Mapping[str, Any], ...] = ()
    federation: Mapping[str, Any] | None = None
    checkpoints: tuple[Mapping[str, Any], ...] = ()
    bundle_created_at: datetime | None = None
    trust_list = None
    bundle_info = None
    members: set[str] = set()
    if bundle is not None:
        env = os.environ if environ is None else environ
        pinned = parse_pins([*pins, env.get(PINS_ENV, "")]) + [cx.fingerprint(c) for c in anchor_certs]
        if not pinned:
            raise InputError(
                "a bundle is checked against pinned national root fingerprints: pass --pin SHA256 or --anchor "
                f"ROOT.pem, or set {PINS_ENV}"
            )
        files = [bundle] if isinstance(bundle, bytes) else list(bundle)
        digests = tuple(hashlib.sha256(part).hexdigest() for part in files)
        verified = _verified_bundle(files, digests, pinned)  # one bundle, or its national part and regions' parts
        trust_list = verified.trust_list
        if verified.bundle.next_update < moment:
            age = moment - verified.bundle.next_update
            warnings.append(
                f"bundle is stale: next update was due {_age(age)} before the validation time "
                f"({verified.bundle.next_update.isoformat()})"
            )
        if trust_list.next_update < moment:
            warnings.append(
                f"trust list {trust_list.sequence} is stale: next update was due "
                f"{_age(moment - trust_list.next_update)} before the validation time"
            )
        # The pinned root authenticated the list; the list names the national roots (ETSI TS 119 612 style:
        # pin the list's signer, trust what the signed list lists).
        for root in trust_list.roots:
            anchor_certs.append(cx.load_certificate(root.certificate))
            members.add(root.fingerprint)
        for _issuer, service in trust_list.services():
            if service.type == "CA":
                # the current certificate, then those a re-keyed CA held before: what it issued under an older
                # key chains through the older certificate (same subject, other key identifier)
                listed.append(cx.load_certificate(service.certificate))
                listed.extend(cx.load_certificate(der) for der in service.previous_certificates)
        crl_list.extend(der for _ca, der in verified.bundle.crls)
        status_lists = tuple(verified.bundle.status_lists)
        type_metadata = tuple(verified.bundle.type_metadata)
        federation = verified.bundle.federation
        checkpoints = tuple(verified.bundle.checkpoints)
        bundle_created_at = verified.bundle.created_at
        bundle_info = BundleInfo(
            verified.bundle.created_at.astimezone(UTC),
            verified.bundle.next_update.astimezone(UTC),
            digests[0],
            digests if len(files) > 1 else (),
        )
    elif pins and not anchor_certs:
        raise InputError("--pin needs --bundle (pins check the bundle's signature)")
    # The trust list's CAs come first: when two certificates share issuer and serial number, path building keeps
    # the first one, so an input certificate can never shadow a listed CA.
    extra = _unique([*listed, *given])
    if len(extra) > MAX_EXTRA_CERTS:
        raise InputError(
            f"{len(extra)} untrusted certificates exceed the limit of {MAX_EXTRA_CERTS}", code=Code.INPUT_TOO_LARGE
        )
    # a key anchor is trusted as name and key only (verifier.anchors); the trust list's roots keep their checks
    key_only = frozenset(cx.fingerprint(c) for c in key_certs) - members
    return VerificationContext(
        validation_time=moment,
        anchors=tuple(_unique([*anchor_certs, *key_certs])),
        key_anchors=key_only,
        intermediates=tuple(extra),
        crls=tuple(crl_list),
        ocsps=tuple(ocsps),
        trust_list=trust_list,
        warnings=tuple(warnings),
        purpose=purpose,
        revocation=revocation,
        status_lists=status_lists,
        strict=strict,
        max_depth=max_depth,
        type_metadata=type_metadata,
        federation=federation,
        checkpoints=checkpoints,
        bundle_created_at=bundle_created_at,
        bundle=bundle_info,
    )


_VERIFIED: Final[OrderedDict[tuple[tuple[str, ...], frozenset[str]], bundle_format.VerifiedBundle]] = OrderedDict()
_VERIFIED_SIZE: Final = 2
_VERIFIED_LOCK: Final = threading.Lock()


def _verified_bundle(
    files: Sequence[bytes], digests: tuple[str, ...], pinned: Sequence[str]
) -> bundle_format.VerifiedBundle:
    """``bundle_format.verify_parts(files, pinned)``, kept for the last :data:`_VERIFIED_SIZE` bundles by the SHA-256
    of their bytes and the pinned fingerprints (what its result depends on; it reads no clock). A national bundle
    with 10^4 issuers is ~19 MB: checking and parsing it took ~0.86 s of CPU for every context built from it — a
    ``POST /verify`` naming intermediates or CRLs builds one per request (issue 15 item 4). The result is immutable
    (frozen dataclasses); contexts built from the same bundle share its trust list, and with it the list's indexes.
    A failure is never kept."""
    key = (digests, frozenset(pinned))
    with _VERIFIED_LOCK:
        found = _VERIFIED.get(key)
        if found is not None:
            _VERIFIED.move_to_end(key)
            return found
    verified = bundle_format.verify_parts(files, pinned)
    with _VERIFIED_LOCK:
        _VERIFIED[key] = verified
        while len(_VERIFIED) > _VERIFIED_SIZE:
            _VERIFIED.popitem(last=False)
    return verified


def _load_all(files: Sequence[bytes], what: str, most: int) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    parsed: dict[bytes, x509.Certificate] = {}
    for data in files:
        certs.extend(load_certificates(data, what, parsed=parsed))
        if len(certs) > most:
            raise InputError(f"more than {most} {what}s", code=Code.INPUT_TOO_LARGE)
    return certs


def _bounded(items: Sequence[bytes], what: str, count: int, total: int) -> None:
    if len(items) > count:
        raise InputError(f"{len(items)} {what} files exceed the limit of {count}", code=Code.INPUT_TOO_LARGE)
    size = sum(len(item) for item in items)
    if size > total:
        raise InputError(f"{what} files of {size} bytes together exceed {total}", code=Code.INPUT_TOO_LARGE)


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[str] = set()
    result = []
    for cert in certs:
        fp = cx.fingerprint(cert)
        if fp not in seen:
            seen.add(fp)
            result.append(cert)
    return result


def _age(delta: object) -> str:
    seconds = int(delta.total_seconds()) if hasattr(delta, "total_seconds") else 0
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
