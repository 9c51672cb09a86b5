"""``POST /verify`` as a service operation: verification contexts for the instance's own bundle, and the call into the
offline verifier (:mod:`verifier.api`).

The verification context of the service's own signed bundle is built (bundle signatures checked against the root
pins, trust list and CRLs parsed) once per bundle — :func:`trust.service.trust.current_bundle_bytes` hands out the
same bytes until the content changes or it is re-signed — and shared by the requests that use it, with its memo
(thread-safe, keyed by the material). The cache is keyed by the :class:`Instance` held weakly and checks that the
bundle is the same object before reuse (``docs/ARCHITECTURE.md``). Each request gets a copy with its own validation
time, purpose, revocation mode, strict profile and maximum depth: :func:`verifier.context.build` uses the time for
nothing else (staleness is judged against the clock when the bundle is checked, and this bundle is never older than its
re-signing interval).
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from trust.crypto.errors import InputError
from trust.formats import times
from trust.service import trust as trust_service
from trust.service.instance import Instance

_service_contexts: weakref.WeakKeyDictionary[Instance, tuple[bytes, Any]] = weakref.WeakKeyDictionary()
_service_contexts_lock = threading.Lock()


def _service_context(
    instance: Instance, at: datetime | None, purpose: str, revocation: str, strict: bool, max_depth: int | None
) -> Any:
    """The context of the instance's own bundle (built once per bundle, module docstring), for one request."""
    from verifier import context

    bundle_data = trust_service.current_bundle_bytes(instance)
    with _service_contexts_lock:
        cached = _service_contexts.get(instance)
    if cached is not None and cached[0] is bundle_data:
        base = cached[1]
    else:
        base = context.build(bundle=bundle_data, pins=list(trust_service.root_fingerprints(instance).values()))
        with _service_contexts_lock:
            _service_contexts[instance] = (bundle_data, base)
    moment = times.as_utc(at or datetime.now(UTC))  # a naive time is UTC (trust.formats.times)
    return dataclasses.replace(
        base, validation_time=moment, purpose=purpose, revocation=revocation, strict=strict, max_depth=max_depth
    )


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
) -> Any:
    """The verification context of a request: the instance's own bundle (cached) when the request names no anchors,
    intermediates or CRLs; otherwise one built for it (the bundle too, unless the request names anchors)."""
    if not (anchors or untrusted or crls):
        return _service_context(instance, at, purpose, revocation, strict, max_depth)
    from verifier import context

    bundle_data = None
    pins: list[str] = []
    if not anchors:
        bundle_data = trust_service.current_bundle_bytes(instance)
        pins = list(trust_service.root_fingerprints(instance).values())
    return context.build(
        at=at,
        bundle=bundle_data,
        pins=pins,
        anchors=[a.encode() for a in anchors],
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


def verify(data: bytes, ctx: Any, *, signed_data: bytes | None = None, key_binding: Any = None) -> dict[str, Any]:
    """The verifier's report on ``data`` (:func:`verifier.api.verify`), as a JSON-ready dictionary."""
    from verifier import api

    report = api.verify(data, ctx, signed_data=signed_data, key_binding=key_binding)
    result: dict[str, Any] = report.to_dict()
    return result
