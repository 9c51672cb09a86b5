"""Retrieval from a region's own system, and the queue for regions that are offline (issue 21 items 1 and 3).

A licence Huren issued is answered by this service (the issuing region's Huren end). A licence a region registered
from its legacy system (:mod:`trust.service.sharing.legacy`) lives in that system: the directory forwards the
retrieval to the entry's ``location`` — ``POST {"identifier", "requester", "audience_jwk", "fields"}`` — and the
region answers ``{"sd_jwt": …}``: the licence as an SD-JWT VC signed by its issuer (a key of the trust list), bound to
the requester (``aud``, ``cnf.jwk``). The directory does not pass on what it has not checked: the SD-JWT must verify
with the instance's bundle, name this licence, its issuer and the requester, and it is re-presented with the
disclosures of the consented fields only (a field the region disclosed in the clear outside the consent is refused).

**Offline regions.** When the region's system cannot be reached (connection refused or timed out, HTTP 502/503/504)
the request is queued (``sharing_pending``) and the requester gets a ticket (HTTP 202). The ticket is tried again
with a doubling delay (``TRUST_SHARING_RETRY_SECONDS``, at most an hour) by the service's schedule
(:func:`deliver_due`) and whenever the requester polls it (:func:`attempt`); after
``TRUST_SHARING_QUEUE_HOURS`` it expires (``E1608``). **Notification is by polling** (decision, docs/SHARING.md): the
requester polls ``POST /sharing/tickets/{ticket}`` — no callback URL, so the directory never connects to an address a
requester chose. A region's answer waits sealed (AES-GCM under a key derived from the directory key, the ticket as
associated data) until the requester collects it, and is erased then. **Consent is checked again at delivery**: when
the region answers and again when the requester collects; a consent withdrawn or expired while queued, or a
requesting service withdrawn meanwhile, is refused then and the answer erased.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from trust.crypto import jwk
from trust.crypto.errors import Code, SharingRefused, TrustError
from trust.formats import jose
from trust.formats.sdjwt import presentation, serialization
from trust.service import verification
from trust.service.instance import Instance
from trust.service.sharing import directory
from trust.service.sharing.models import DirectoryEntry

UNREACHABLE_STATUS: Final = frozenset({502, 503, 504})
MAX_DELAY: Final = 3600
MAX_ANSWER: Final = 256 * 1024


class Unreachable(Exception):
    """The issuing region's system did not answer (the request is queued)."""


@dataclass(frozen=True)
class Answer:
    sd_jwt: str
    disclosed: list[str]


def _fields_path(path: Sequence[Any]) -> str | None:
    return str(path[2]) if len(path) == 3 and tuple(path[:2]) == ("license", "fields") else None


def fetch(
    instance: Instance,
    entry: DirectoryEntry,
    *,
    requester: str,
    requester_jwk: dict[str, Any],
    fields: list[str] | None,
    timeout: float = 10.0,
) -> Answer:
    """The licence from the region's system at ``entry.location``, checked and limited to ``fields`` (None: all);
    raises :class:`Unreachable` when the region is offline and :class:`SharingRefused` when its answer is refused."""
    try:
        response = httpx.post(
            entry.location,
            json={
                "identifier": entry.identifier,
                "requester": requester,
                "audience_jwk": requester_jwk,
                "fields": fields,
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            follow_redirects=False,
        )
    except httpx.TransportError as exc:
        raise Unreachable(f"{type(exc).__name__}") from None
    if response.status_code in UNREACHABLE_STATUS:
        raise Unreachable(f"HTTP {response.status_code}")
    if response.status_code != 200 or len(response.content) > MAX_ANSWER:
        raise SharingRefused(f"the issuing region's system answered HTTP {response.status_code}")
    try:
        sd_jwt = response.json()["sd_jwt"]
        assert isinstance(sd_jwt, str)
        paths = presentation.disclosable(sd_jwt)
    except (ValueError, KeyError, TypeError, AssertionError, TrustError):
        raise SharingRefused("the issuing region's system answered no SD-JWT") from None
    offered = {name for name in (_fields_path(p) for p in paths) if name is not None}
    chosen = sorted(offered if fields is None else offered & set(fields))
    presented = str(presentation.present(sd_jwt, [("license", "fields", name) for name in chosen]))
    _check(instance, presented, entry, requester, requester_jwk, fields)
    return Answer(presented, chosen)


def _check(
    instance: Instance,
    sd_jwt: str,
    entry: DirectoryEntry,
    requester: str,
    requester_jwk: dict[str, Any],
    fields: list[str] | None,
) -> None:
    from verifier import api

    ctx = verification.context_for(instance, at=None, purpose="auto", revocation="available")
    report = api.verify(sd_jwt.encode(), ctx)
    if report.kind != "license-sd-jwt" or report.indication.value != "TOTAL_PASSED":
        reason = "; ".join(report.errors) or report.indication.value
        raise SharingRefused(f"the issuing region's licence does not verify: {reason}")
    _header, payload, _input, _sig = jose.parse_compact(serialization.parse(sd_jwt).issuer_jws)
    claims = json.loads(payload)
    license = claims.get("license") or {}
    bound = (claims.get("cnf") or {}).get("jwk") or {}
    if (
        license.get("id") != entry.identifier
        or claims.get("iss") != entry.issuer_id
        or claims.get("aud") != requester
        or not bound
        or jwk.thumbprint(jose.public_key_for_verification(bound))
        != jwk.thumbprint(jose.public_key_for_verification(requester_jwk))
    ):
        raise SharingRefused("the issuing region answered with another licence, issuer or binding than asked for")
    shown = set(dict(report.details).get("disclosed") or [])
    plain = set((license.get("fields") or {}).keys()) - {"_sd"}
    if fields is not None and (shown | plain) - set(fields):
        raise SharingRefused("the issuing region's licence discloses fields outside the consent")


# --- sealing answers while they wait ------------------------------------------------------------------------------


def _seal_key(instance: Instance) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"huren-sharing-pending-seal").derive(
        directory.directory_key(instance)
    )


def seal(instance: Instance, ticket: str, answer: Answer) -> str:
    nonce = os.urandom(12)
    data = json.dumps({"sd_jwt": answer.sd_jwt, "disclosed": answer.disclosed}).encode()
    sealed = AESGCM(_seal_key(instance)).encrypt(nonce, data, ticket.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(instance: Instance, ticket: str, sealed: str) -> Answer:
    raw = base64.urlsafe_b64decode(sealed)
    data = json.loads(AESGCM(_seal_key(instance)).decrypt(raw[:12], raw[12:], ticket.encode()))
    return Answer(str(data["sd_jwt"]), [str(name) for name in data["disclosed"]])


def next_delay(instance: Instance, attempts: int) -> timedelta:
    base = instance.settings.sharing_retry_seconds
    return timedelta(seconds=min(MAX_DELAY, base * 2 ** min(attempts, 16)))


def expired(instance: Instance, created_at: datetime) -> bool:
    created = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at
    return datetime.now(UTC) - created > timedelta(hours=instance.settings.sharing_queue_hours)


def refusal_code(reason: str) -> Code:
    label = reason.split(" ", 1)[0]
    for code in Code:
        if code.label == label:
            return code
    return Code.CONSENT_MISSING
