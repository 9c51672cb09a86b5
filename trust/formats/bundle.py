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

**Parts and compression** (issue 15 item 4). A national list of 10^4 issuers makes a bundle of tens of megabytes, most
of it other regions' issuers, CRLs and status lists. A bundle can be cut into parts (``"part": "national"`` or
``"region:<GB/T 2260 code>"``): each part is a whole signed bundle whose trust list holds the issuers of that part only
(same sequence and times, signed by both roots) with their CRLs and status lists. A verifier loads the national part and
the regions it needs (:func:`verify_parts`: every part checked, all from the same trust list, merged). Any bundle file
may be gzip-compressed (:func:`compress`; read back by :func:`decompress`, bounded by :data:`MAX_BUNDLE_BYTES`).

**Size limit** (issue 15: CAs with 10^6 revoked certificates). A bundle file — compressed or not, and a compressed
one's decompressed size — is at most :data:`MAX_BUNDLE_BYTES`, checked before anything is parsed; each CRL in it is
at most :data:`trust.formats.crl.MAX_CRL_BYTES` (the verification context checks it before parsing the CRL); the
trust list alone keeps :data:`trust.formats.trustlist.MAX_DOCUMENT_BYTES`. The limit is derived from the scale the
service promises: :data:`BUNDLE_REVOKED_ENTRIES` revoked-certificate entries (one region's part: its CA at
:data:`MAX_REVOKED_PER_CA`, and as many again for the region's other CAs, retired-key copies and headroom) of at most
:data:`MAX_CRL_ENTRY_BYTES` of DER each, written base64 in the payload, which the JWS signature writes base64url again
(×16/9), plus :data:`BUNDLE_OVERHEAD_BYTES` for the trust list, status lists and the rest. A national service cuts
its bundle into parts (above) so that each region's part stays inside it; a whole bundle of several such regions
does not fit, by design.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from trust.crypto.errors import Code, EncodingError, InputError
from trust.crypto.signer import Signer
from trust.formats import jose, strict_json, trustlist
from trust.formats.trustlist import TrustList, iso, parse_time

TYPE: Final = "huren-bundle"
VERSION: Final = 1
NATIONAL: Final = "national"
_PART: Final = re.compile(r"national|region:[0-9]{6}")
_GZIP_MAGIC: Final = b"\x1f\x8b"
MAX_REVOKED_PER_CA: Final = 1_000_000  # the scale issue 15 promises per CA
MAX_CRL_ENTRY_BYTES: Final = 64  # DER of one revokedCertificates entry: serial (≤ 20 octets), date, reason (~49 in use)
BUNDLE_REVOKED_ENTRIES: Final = 2 * MAX_REVOKED_PER_CA
BUNDLE_OVERHEAD_BYTES: Final = 32 * 1024 * 1024  # trust list (≤ 10^4 issuers ≈ 19 MB), status lists, CRL headers
MAX_BUNDLE_BYTES: Final = BUNDLE_REVOKED_ENTRIES * MAX_CRL_ENTRY_BYTES * 16 // 9 + BUNDLE_OVERHEAD_BYTES  # ≈ 261 MB


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
    part: str | None = None  # None: the whole bundle

    def to_json(self) -> dict[str, Any]:
        return {
            **({"part": self.part} if self.part is not None else {}),
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
        part = data.get("part")
        if part is not None and not (isinstance(part, str) and _PART.fullmatch(part)):
            raise EncodingError("bundle part must be 'national' or 'region:<six digits>'")
        return cls(
            part=part,
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


def sign(bundle: Bundle, signers: Sequence[tuple[Signer, trustlist.Chain]]) -> dict[str, Any]:
    """Signed by each root — or by each root's delegated trust list signer (``trustlist.check_delegate``)."""
    payload = json.dumps(bundle.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return jose.sign_json(
        payload, [(signer, {"typ": "huren-bundle+json", "x5c": trustlist.x5c(chain)}) for signer, chain in signers]
    )


@dataclass(frozen=True)
class VerifiedBundle:
    bundle: Bundle
    trust_list: TrustList
    signed_by: tuple[str, ...]


def compress(data: bytes) -> bytes:
    """A bundle file gzip-compressed (no file name, no time: the same bytes give the same file)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def decompress(data: bytes) -> bytes:
    """The bundle of a gzip file (``data`` unchanged when it is not one), never more than :data:`MAX_BUNDLE_BYTES`
    in or out: a decompression bomb stops at the limit, without allocating the rest."""
    limit = MAX_BUNDLE_BYTES
    if len(data) > limit:
        raise InputError(f"bundle of {len(data)} bytes exceeds {limit}", code=Code.INPUT_TOO_LARGE)
    if not data.startswith(_GZIP_MAGIC):
        return data
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise EncodingError(f"bundle is not valid gzip: {exc}") from None
    if len(out) > limit:
        raise InputError(f"bundle decompresses to more than {limit} bytes", code=Code.INPUT_TOO_LARGE)
    if not inflater.eof or inflater.unused_data:
        raise EncodingError("bundle gzip data is truncated or followed by other data")
    return out


def verify(data: bytes, pinned: Iterable[str]) -> VerifiedBundle:
    """Check the bundle's and its trust list's signatures against pinned root fingerprints (gzip accepted)."""
    pins = list(pinned)
    data = decompress(data)
    outer = trustlist.verify_signed(
        trustlist.load_document(data, "bundle", limit=MAX_BUNDLE_BYTES), pins, what="bundle"
    )
    bundle = Bundle.from_json(strict_json.load_object(outer.payload, "bundle payload"))
    inner = trustlist.verify_signed(bundle.trust_list_document, pins, what="trust list in the bundle")
    trust_list = TrustList.from_json(strict_json.load_object(inner.payload, "trust list payload in the bundle"))
    return VerifiedBundle(bundle, trust_list, outer.signed_by)


def verify_parts(files: Sequence[bytes], pinned: Iterable[str]) -> VerifiedBundle:
    """Check several bundle files and merge them: one whole bundle alone, or parts — the national part and any
    regions' — all cut from the same trust list (its sequence); each file is checked like :func:`verify`."""
    pins = list(pinned)
    checked = [verify(data, pins) for data in files]
    if len(checked) == 1 and checked[0].bundle.part in (None, NATIONAL):
        return checked[0]
    if not checked:
        raise InputError("no bundle to check")
    parts = [c.bundle.part for c in checked]
    if None in parts:
        raise InputError("a whole bundle cannot be combined with other bundles; give parts only")
    if parts.count(NATIONAL) != 1:
        raise InputError("bundle parts need the national part, once")
    if len(set(parts)) != len(parts):
        raise InputError("a bundle part is given twice")
    sequences = {c.trust_list.sequence for c in checked}
    if len(sequences) != 1:
        raise InputError(
            f"bundle parts come from different trust lists (sequences {', '.join(map(str, sorted(sequences)))}): "
            "take every part from one export"
        )
    national = next(c for c in checked if c.bundle.part == NATIONAL)
    issuers: dict[str, Any] = {}
    for c in checked:
        for issuer in c.trust_list.issuers:
            issuers.setdefault(issuer.id, issuer)
    merged_list = dataclasses.replace(national.trust_list, issuers=tuple(issuers.values()))
    crls = tuple(dict.fromkeys(entry for c in checked for entry in c.bundle.crls))
    status: dict[Any, Mapping[str, Any]] = {}
    for c in checked:
        for item in c.bundle.status_lists:
            status.setdefault(item.get("uri"), item)
    merged = dataclasses.replace(
        national.bundle,
        part=None,
        created_at=min(c.bundle.created_at for c in checked),
        next_update=min(c.bundle.next_update for c in checked),
        crls=crls,
        status_lists=tuple(status.values()),
    )
    signed_by = tuple(sorted(set.intersection(*(set(c.signed_by) for c in checked))))
    return VerifiedBundle(merged, merged_list, signed_by)
