"""The offline bundle: one signed file with everything a verifier needs without a network.

Payload (JSON)::

    {"type": "huren-bundle", "version": 1, "created_at": ..., "next_update": ...,
     "trust_list": <the signed trust list, JWS JSON serialization>,
     "crls": [{"ca": "region-330000-sm2", "der": "<base64>"}, ...],
     "status_lists": [{"uri": ..., "token": "<statuslist+jwt>"}, ...],
     "type_metadata": [{"vct": ..., "document": {...}}, ...],           # SD-JWT VC types (sdjwt.vc)
     "checkpoints": [...],                                                # transparency (later)
     "federation": {"anchor": ..., "anchor_jwks": {...}, "statements": [...], "revoked_trust_marks": [...]}}

``federation`` (issue 16; present only when the service runs the identity federation, so earlier bundles are unchanged
byte for byte) carries the OpenID Federation trust anchor's keys, every entity configuration and subordinate
statement, and the digests of revoked trust marks (:class:`trust.formats.federation.FederationSection`): a relying
party resolves and validates an OP's trust chain from it with no network.

The bundle is signed like the trust list — a JWS JSON serialization with one signature per national root —
and the trust list inside keeps its own signatures, so each can be checked on its own. A verifier pins the
national roots' SHA-256 fingerprints and calls :func:`verify`; a bundle past ``next_update`` still verifies
and the caller reports it as stale, with its age. Pure format code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from trust.crypto.errors import EncodingError
from trust.crypto.signer import Signer
from trust.formats import jose, strict_json, trustlist
from trust.formats.trustlist import TrustList, iso, parse_time

TYPE: Final = "huren-bundle"
VERSION: Final = 1


@dataclass(frozen=True)
class Bundle:
    created_at: datetime
    next_update: datetime
    trust_list_document: Mapping[str, Any]
    crls: tuple[tuple[str, bytes], ...] = ()
    status_lists: tuple[Mapping[str, Any], ...] = ()
    type_metadata: tuple[Mapping[str, Any], ...] = ()
    checkpoints: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    federation: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": TYPE,
            "version": VERSION,
            "created_at": iso(self.created_at),
            "next_update": iso(self.next_update),
            "trust_list": dict(self.trust_list_document),
            "crls": [{"ca": ca, "der": base64.b64encode(der).decode()} for ca, der in self.crls],
            "status_lists": [dict(s) for s in self.status_lists],
            "type_metadata": [dict(t) for t in self.type_metadata],
            "checkpoints": [dict(c) for c in self.checkpoints],
            **({"federation": dict(self.federation)} if self.federation is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Any) -> Bundle:
        if not isinstance(data, Mapping) or data.get("type") != TYPE:
            raise EncodingError("not a Huren offline bundle")
        if data.get("version") != VERSION:
            raise EncodingError(f"bundle version {data.get('version')!r} is not supported (expected {VERSION})")
        crls = []
        for entry in data.get("crls") or []:
            try:
                crls.append((str(entry["ca"]), base64.b64decode(str(entry["der"]), validate=True)))
            except (KeyError, ValueError, TypeError):
                raise EncodingError("bundle CRL entries need a CA id and base64 DER") from None
        document = data.get("trust_list")
        if not isinstance(document, Mapping):
            raise EncodingError("bundle has no signed trust list")
        type_metadata = data.get("type_metadata") or []
        if not isinstance(type_metadata, list) or not all(
            isinstance(t, Mapping) and isinstance(t.get("vct"), str) and isinstance(t.get("document"), Mapping)
            for t in type_metadata
        ):
            raise EncodingError("bundle type_metadata entries need a vct (string) and a document (object)")
        return cls(
            created_at=parse_time(data.get("created_at"), "created_at"),
            next_update=parse_time(data.get("next_update"), "next_update"),
            trust_list_document=document,
            crls=tuple(crls),
            status_lists=tuple(data.get("status_lists") or ()),
            type_metadata=tuple(type_metadata),
            checkpoints=tuple(data.get("checkpoints") or ()),
            federation=_federation(data.get("federation")),
        )


def _federation(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise EncodingError("bundle federation must be an object")
    return value


def sign(bundle: Bundle, signers: Sequence[tuple[Signer, bytes]]) -> dict[str, Any]:
    payload = json.dumps(bundle.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return jose.sign_json(
        payload,
        [(signer, {"typ": "huren-bundle+json", "x5c": [base64.b64encode(cert).decode()]}) for signer, cert in signers],
    )


@dataclass(frozen=True)
class VerifiedBundle:
    bundle: Bundle
    trust_list: TrustList
    signed_by: tuple[str, ...]


def verify(data: bytes, pinned: Iterable[str]) -> VerifiedBundle:
    """Check the bundle's and its trust list's signatures against pinned root fingerprints."""
    pins = list(pinned)
    outer = trustlist.verify_signed(trustlist.load_document(data, "bundle"), pins, what="bundle")
    bundle = Bundle.from_json(strict_json.load_object(outer.payload, "bundle payload"))
    inner = trustlist.verify_signed(bundle.trust_list_document, pins, what="trust list in the bundle")
    trust_list = TrustList.from_json(strict_json.load_object(inner.payload, "trust list payload in the bundle"))
    return VerifiedBundle(bundle, trust_list, outer.signed_by)
