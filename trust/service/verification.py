"""``POST /verify`` as a service operation: the verification context of the instance's own bundle, and the call into
the offline verifier (:mod:`verifier.api`).

**One immutable context per state version** (issue 15 item 1). What a verification against the instance's own bundle
depends on — the latest trust list, every CRL, every Status List Token — changes only in transactions that bump the
state version (:mod:`trust.service.state`). A request reads that one number (Redis or one database row, read-only) and
uses the context built at that version; only when the number moved (or :data:`REBUILD_AFTER` passed: status tokens
and the bundle are signed again as they age) is the signed bundle fetched again
(:func:`trust.service.trust.current_bundle_bytes`) and a new context built, once per process (one request builds, the
others wait for it). A revocation, a status change or a publication therefore counts for the next request in every
worker, and no request reads the bundle's content from the database to find out.

**A change patches the context** (branch ctxpatch). When the version moved because of revocations (a CRL partition
re-signed) or licence status changes (a Status List Token), the worker does not fetch and check the whole signed
bundle again: it reads what the versions in between changed (:func:`trust.service.state.changes`, the
``state_change`` rows written in the changing transactions), the changed partitions' stored CRLs and the changed
lists' tokens by key, and derives a new context from the old one with just those replaced
(:meth:`verifier.context.VerificationContext.patched`: each CRL checked — signed by its CA, for a partition the
context holds, not older than the one it replaces). The trust list, the other CRLs, the memo and the indexes are kept,
so the cost of a change does not depend on the revoked certificates of other partitions, nor on the number of status
lists or issuers. Anything else — a new trust list, a CA or main CRL change, the federation, a version without a
change row (a bump by raw SQL, a pruned row), material the context refuses, or :data:`REBUILD_AFTER` since the last
full build — rebuilds from the whole bundle as before. A patched entry has no signed bundle: ``GET /bundle``
(:func:`bundle_bytes`) gets one when first asked, off the verification path. :func:`updates_made` counts both ways
(tests, ``bench/verify_after_change.py``).

**What a context knows** (branch ctxname). Every context the service makes names the database's state version it was
brought to and the moment that version was read (:class:`verifier.context.StateInfo`; ``source.state`` of its reports,
with the CRLs and status lists patched in since its bundle). Every change up to that version is in it, so what it
holds was current at that moment: "newer than the bundle" (:meth:`verifier.context.VerificationContext.
newer_than_bundle`) is judged from then on, not from the bundle's ``created_at`` — right after a patch a verification
says what a context rebuilt from a whole new bundle would. An entry reused while the version does not move keeps its
moment (up to :data:`REBUILD_AFTER`): a newer one would change the material key of every memoised report.

**One signed bundle per version for all workers** (branch ctxname). The signed bundle of a version — for a full
rebuild, and for ``GET /bundle`` — comes from the home's store (:func:`trust.service.trust.stored_bundle`): the first
worker that needs it signs it and writes it under ``<home>/cache/bundles/``, the others read it; its gzip form likewise
(:func:`bundle_gzip`, which ``GET /bundle`` compresses with). At 10^6 revoked, signing and compressing cost ~3–4 s of
CPU each time, formerly in every worker. A context is reused for a newly fetched bundle with the same bytes only when
it was built from exactly those bytes (``_Current.from_bundle``): a patched context is rebuilt instead, so its
reports never name a bundle that does not hold what it was patched with (branch storefix).

The context keeps its memo across versions (parsed certificates and CRLs, verified signatures, path reports): a memo
entry answers only for exactly the material it was made from (:class:`verifier.context.Memo`), so what a change did
not touch stays warm. Each request gets a copy with its own validation time, purpose, revocation mode, strict profile
and maximum depth (:func:`verifier.context.build` uses the time for nothing else), derived once per option set and
context (:func:`_service_context`, branch etag). The cache is keyed by the
:class:`Instance` held weakly (``docs/ARCHITECTURE.md``). ``GET /bundle`` serves the same signed bundle.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from trust.crypto.errors import InputError, NotFoundError, TrustError
from trust.formats import times
from trust.service import state
from trust.service import trust as trust_service
from trust.service.instance import Instance

REBUILD_AFTER: Final = trust_service.VERIFY_BUNDLE_REUSE
"""Seconds a context serves even when the state version did not move (its bundle is then signed again)."""


DERIVED_KEPT: Final = 32
"""Option sets (purpose, revocation, strict, max_depth) whose derived context is kept per base context."""


@dataclasses.dataclass
class _Derived:
    base: Any  # the instance's context these were derived from: compared by identity (a new one empties the cache)
    by_options: dict[tuple[str, str, bool, int | None], Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Current:
    version: Hashable  # trust.service.state.current(): compared for equality
    built: float  # time.monotonic() when the bundle its context was built from was fetched (a patch keeps it)
    bundle: bytes | None  # None after a patch: signed again on the first GET /bundle (bundle_bytes)
    context: Any = None  # verifier.context.VerificationContext, built on first use
    database: int | None = None  # the database's state version, read before the content was
    read_at: datetime | None = None  # when ``database`` was read: what the context holds was current then
    key: str | None = None  # where its signed bundle is stored for all workers (trust.service.trust.store_key)
    stored: str | None = None  # the stored file ``bundle`` came from (trust.service.trust.stored_bundle)
    from_bundle: bool = False  # ``context`` was built from exactly ``bundle`` (not patched: a patch leaves it False)
    digest: str | None = None  # SHA-256 (hex) of ``bundle`` when the store computed it (GET /bundle's ETag)
    gzip: tuple[bytes, str | None] | None = None  # ``bundle``'s gzip form and its SHA-256 if known (bundle_gzip)
    derived: _Derived | None = None  # the request contexts derived from ``context`` (_service_context)


_current: weakref.WeakKeyDictionary[Instance, _Current] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Instance, threading.Lock] = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()
_updates: weakref.WeakKeyDictionary[Instance, Counter[str]] = weakref.WeakKeyDictionary()
log = logging.getLogger(__name__)


def _lock(instance: Instance) -> threading.Lock:
    with _locks_lock:
        lock = _locks.get(instance)
        if lock is None:
            lock = _locks[instance] = threading.Lock()
        return lock


def _fresh(entry: _Current | None, version: Hashable) -> bool:
    return entry is not None and entry.version == version and time.monotonic() - entry.built < REBUILD_AFTER


def updates_made(instance: Instance) -> dict[str, int]:
    """How this process brought the instance's context up to date so far: ``patched`` (with the changed CRLs and
    status lists) and ``rebuilt`` (from the whole signed bundle) — for tests and the bench."""
    return dict(_updates.get(instance, Counter()))


def current(instance: Instance) -> _Current:
    """The bundle (and context) of the instance at the current state version: one version read per call."""
    version = state.current(instance.engine)
    entry = _current.get(instance)
    if _fresh(entry, version):
        assert entry is not None
        return entry
    with _lock(instance):
        entry = _current.get(instance)
        if _fresh(entry, version):
            assert entry is not None
            return entry
        # The version is read before the content: content newer than ``version`` only causes one more update later.
        # Every change up to it is in what the context is brought to, so that is known current from the read on
        # (the clock is read first: a change committed before that moment has a version no higher than the one read).
        read_at = datetime.now(UTC)
        database = state.database_version(instance.engine)
        patched = _patched(instance, entry, version, database, read_at) if entry is not None else None
        if patched is not None:
            _current[instance] = patched
            return patched
        key = trust_service.store_key(database)
        signed, stored, digest = trust_service.stored_bundle_digest(instance, key)  # signed once for all workers
        fetched = _Current(version, time.monotonic(), signed, database=database, read_at=read_at, key=key)
        fetched.stored, fetched.digest = stored, digest
        # The same signed bundle: the same context — only when that context was built from exactly these bytes. A
        # patched context (its bundle signed later for GET /bundle) holds what no bundle named by it says: rebuilt.
        same = (
            entry is not None
            and entry.from_bundle
            and entry.bundle is not None
            and (entry.bundle is signed or entry.bundle == signed)
        )
        if same and entry is not None and entry.context is not None:
            fetched.context = _stamped(entry.context, fetched)
            fetched.from_bundle = True
        elif entry is not None and entry.context is not None:
            fetched.context = _stamped(_build(instance, signed, memo=entry.context.memo), fetched)
            fetched.from_bundle = True
            _updates.setdefault(instance, Counter())["rebuilt"] += 1
        _current[instance] = fetched
        return fetched


def _stamped(context: Any, entry: _Current) -> Any:
    """``context`` naming the state version ``entry`` was brought to and when it was read (``source.state``)."""
    from verifier.context import StateInfo

    assert entry.database is not None and entry.read_at is not None
    return dataclasses.replace(context, state=StateInfo(entry.database, entry.read_at))


def _patched(
    instance: Instance, entry: _Current, version: Hashable, database: int, read_at: datetime
) -> _Current | None:
    """``entry`` brought to ``version`` by patching its context with what changed since (module docstring), or
    ``None`` when only a full rebuild will do: no context yet, :data:`REBUILD_AFTER` passed, a change that is not a
    CRL partition or a status list (or unrecorded), or material the context refuses."""
    if entry.context is None or entry.database is None or time.monotonic() - entry.built >= REBUILD_AFTER:
        return None
    changed = state.changes(instance.engine, entry.database, database)
    if changed is None:
        return None
    try:
        crls, status_lists = _changed_material(instance, changed)
        # even with nothing to replace (a bump that changed nothing the context holds): the newer version and time
        context = entry.context.patched(
            crls=crls, status_lists=status_lists, version=database, known_current_at=read_at
        )
    except TrustError as exc:
        log.warning("the verification context is rebuilt: a change could not be applied (%s)", exc.message)
        return None
    _updates.setdefault(instance, Counter())["patched"] += 1
    return _Current(version, entry.built, None, context, database, read_at, trust_service.store_key(database))


def _changed_material(instance: Instance, changed: set[tuple[Any, ...]]) -> tuple[list[bytes], list[dict[str, str]]]:
    """The stored CRL of every changed partition (by key) and the token of every changed status list."""
    from ca.models import CrlShard
    from licenses.models import StatusListRecord
    from trust import db
    from trust.service import licenses

    crls: list[bytes] = []
    lists: list[tuple[str, int, str]] = []
    with db.session_scope(instance.engine, read_only=True) as session:
        for change in sorted(changed, key=repr):
            if change[0] == "crl_shard":
                row = session.get(CrlShard, (change[1], change[2], change[3]))
                if row is None:
                    raise NotFoundError(f"CRL partition {change[2]} of {change[1]} is gone")
                crls.append(bytes(row.der))
            else:
                found = session.get(StatusListRecord, change[1])
                if found is None:
                    raise NotFoundError(f"status list {change[1]} is gone")
                lists.append((found.issuer_id, found.number, found.uri))
    tokens = [
        {"uri": uri, "token": licenses.status_list_token(instance, issuer, number)} for issuer, number, uri in lists
    ]
    return crls, tokens


def bundle_bytes(instance: Instance) -> bytes:
    """The signed offline bundle at the current state version (``GET /bundle``); after a patch, taken from the home's
    store (:func:`trust.service.trust.stored_bundle`): signed there by the first worker that needs it, once per
    version for all workers (off the verification path)."""
    entry = current(instance)
    if entry.bundle is None:
        with _lock(instance):
            if entry.bundle is None:
                assert entry.key is not None
                signed, entry.stored, entry.digest = trust_service.stored_bundle_digest(instance, entry.key)
                entry.bundle = signed  # last: another thread reads ``bundle`` without the lock (bundle_digest)
    return entry.bundle


def bundle_gzip(body: bytes) -> bytes:
    """The gzip form of ``body``, a signed bundle :func:`bundle_bytes` returned (``GET /bundle`` to a client that
    accepts gzip): from the home's store, compressed once per version for all workers
    (:func:`trust.service.trust.stored_gzip`); compressed here if ``body`` is no longer any instance's current one."""
    for _attempt in range(3):
        try:
            entries = list(_current.items())  # another thread may bring an instance up to date meanwhile
        except RuntimeError:
            continue
        for instance, entry in entries:
            if entry.bundle is body and entry.stored is not None:
                known = entry.gzip
                if known is None:
                    known = entry.gzip = trust_service.stored_gzip_digest(instance, entry.stored, body)
                return known[0]
        break
    return gzip.compress(body, compresslevel=trust_service.STORE_GZIP_LEVEL, mtime=0)


def bundle_digest(data: bytes) -> str | None:
    """The SHA-256 (hex) of ``data`` — a signed bundle :func:`bundle_bytes` returned, or its gzip form
    :func:`bundle_gzip` returned (the same objects) — when the home's store already computed it over exactly those
    bytes (recorded by the worker that wrote the file, checked by the one that read it); else ``None``. ``GET
    /bundle`` derives its ETags from it instead of hashing tens of MB again in every worker (branch etag)."""
    for _attempt in range(3):
        try:
            entries = list(_current.values())
        except RuntimeError:
            continue
        for entry in entries:
            if entry.bundle is data and entry.digest is not None:
                return entry.digest
            packed = entry.gzip
            if packed is not None and packed[0] is data:
                return packed[1]
        break
    return None


def _build(instance: Instance, bundle: bytes, memo: Any = None) -> Any:
    from verifier import context

    built = context.build(bundle=bundle, pins=list(trust_service.root_fingerprints(instance).values()))
    return built if memo is None else dataclasses.replace(built, memo=memo)


def _base_context(instance: Instance) -> Any:
    return _base_entry(instance).context


def _base_entry(instance: Instance) -> _Current:
    """The instance's current entry, with its context built."""
    entry = current(instance)
    if entry.context is None:
        with _lock(instance):
            if entry.context is None:
                assert entry.bundle is not None  # only an entry with a context is patched
                entry.context = _stamped(_build(instance, entry.bundle), entry)
                entry.from_bundle = True
    return entry


_field_names: dict[type, tuple[str, ...]] = {}


def _service_context(
    instance: Instance, at: datetime | None, purpose: str, revocation: str, strict: bool, max_depth: int | None
) -> Any:
    """The context of the instance's own bundle (module docstring), for one request: derived once per base context
    and option set (kept while the base context is the instance's current one, at most :data:`DERIVED_KEPT` option
    sets) — the same object for a request with the same options and validation time; for another time, a copy of it
    with only ``validation_time`` set, made without ``dataclasses.replace`` (its ``__init__`` and checks ran once for
    the options: branch etag)."""
    entry = _base_entry(instance)
    base = entry.context
    moment = times.as_utc(at or datetime.now(UTC))  # a naive time is UTC (trust.formats.times)
    derived = entry.derived  # kept on the entry: a state change (a new entry) drops it with the old context
    if derived is None or derived.base is not base:  # keyed on the context object itself
        derived = entry.derived = _Derived(base)
    options = (purpose, revocation, strict, max_depth)
    last = derived.by_options.get(options)
    if last is None:
        made = dataclasses.replace(
            base, validation_time=moment, purpose=purpose, revocation=revocation, strict=strict, max_depth=max_depth
        )
        if len(derived.by_options) >= DERIVED_KEPT:
            derived.by_options.pop(next(iter(derived.by_options)), None)
        derived.by_options[options] = made
        return made
    if last.validation_time == moment and last.validation_time.tzinfo is moment.tzinfo:
        return last
    made = _with_time(last, moment)
    derived.by_options[options] = made
    return made


def _with_time(context: Any, moment: datetime) -> Any:
    """A copy of the frozen dataclass ``context`` with ``validation_time`` set to ``moment``: its fields only (not
    the values its ``cached_property`` attributes computed, which may depend on the time), without ``__init__``: what
    ``__post_init__`` checks does not involve the time and was checked when ``context`` was made."""
    kind = type(context)
    names = _field_names.get(kind)
    if names is None:
        names = _field_names[kind] = tuple(f.name for f in dataclasses.fields(kind))
    values = context.__dict__
    made = object.__new__(kind)
    made.__dict__.update({name: values[name] for name in names})
    object.__setattr__(made, "validation_time", moment)
    return made


def context_for(
    instance: Instance,
    *,
    at: datetime | None,
    purpose: str,
    revocation: str,
    strict: bool = False,
    max_depth: int | None = None,
    anchors: Sequence[str] = (),
    untrusted: Sequence[str] = (),
    crls: Sequence[bytes] = (),
    anchor_keys: Sequence[str] = (),
) -> Any:
    """The verification context of a request: the instance's own bundle (cached) when the request names no anchors,
    key anchors, intermediates or CRLs; otherwise one built for it (the bundle too, unless the request names anchors
    or key anchors)."""
    if not (anchors or anchor_keys or untrusted or crls):
        return _service_context(instance, at, purpose, revocation, strict, max_depth)
    from verifier import context

    bundle_data = None
    pins: list[str] = []
    if not (anchors or anchor_keys):
        bundle_data = bundle_bytes(instance)
        pins = list(trust_service.root_fingerprints(instance).values())
    return context.build(
        at=at,
        bundle=bundle_data,
        pins=pins,
        anchors=[a.encode() for a in anchors],
        key_anchors=[a.encode() for a in anchor_keys],
        untrusted=[u.encode() for u in untrusted],
        crls=list(crls),
        purpose=purpose,
        revocation=revocation,
        strict=strict,
        max_depth=max_depth,
    )


def key_binding(nonce: str | None, audience: str | None) -> Any:
    """The SD-JWT key binding a request asks for (:class:`verifier.license.KeyBindingRequest`), or ``None``."""
    if (nonce is None) != (audience is None):
        raise InputError("kb_nonce and kb_audience go together")
    if nonce is None or audience is None:
        return None
    from verifier.license import KeyBindingRequest

    return KeyBindingRequest(nonce=nonce, audience=audience)


# One verification at a time per process. The contexts requests share hold parsed asn1crypto objects (certificates,
# CRLs) and pyhanko validation contexts whose fields are parsed lazily on first read, and that lazy parsing is not
# thread-safe (two threads reading a new CRL's extensions at once: KeyError inside asn1crypto, seen with 16 concurrent
# requests). Verification is CPU work under the GIL and never waits on I/O, so serialising it costs no throughput.
_verify_lock = threading.Lock()


def verify(
    data: bytes,
    ctx: Any,
    *,
    signed_data: bytes | None = None,
    key_binding: Any = None,
    log_proof: bytes | None = None,
    require_transparency: bool = False,
) -> dict[str, Any]:
    """The verifier's report on ``data`` (:func:`verifier.api.verify`, the transparency policy included), as a
    JSON-ready dictionary."""
    from verifier import api

    with _verify_lock:
        report = api.verify(
            data,
            ctx,
            signed_data=signed_data,
            key_binding=key_binding,
            log_proof=log_proof,
            require_transparency=require_transparency,
        )
    result: dict[str, Any] = report.to_dict()
    return result
