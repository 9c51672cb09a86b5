"""Root ceremony files: what the service asks an offline national root to sign, and what comes back (issue 20).

An offline root's key never meets the service. The service builds the to-be-signed structures — a subordinate CA's
or a trust list signer's ``TBSCertificate`` (RFC 5280 clause 4.1), a root CRL's ``TBSCertList`` (clause 5.1) — and
exports them in a **request**; the offline machine shows exactly what each item is, checks it against its own policy
and records, signs, and writes a **response** holding the signed DER; the service imports it, checks that each
signed object is byte for byte the structure it asked for and that the root's signature verifies.

Request (JSON, UTF-8; ``trust.formats.strict_json``)::

    {"type": "huren-root-ceremony-request", "version": 1, "id": "<32 hex>", "created_at": "<RFC 3339 Z>",
     "items": [{"root": "<SHA-256 of the root certificate>", "purpose": "region-ca", "tbs": "<base64 DER>"}, ...]}

Response::

    {"type": "huren-root-ceremony-response", "version": 1, "id": "<the request's id>",
     "request": "<SHA-256 of the request file>", "signed": ["<base64 DER certificate or CRL>", ...]}

The request is hostile input on the offline machine (it travels on removable media from an online host): the file
is bounded (:data:`MAX_BYTES`, :data:`MAX_ITEMS`), every member is known and typed, each ``tbs`` must be the DER of
the structure its purpose names with nothing after it and encoded canonically (re-encoding gives the same octets),
so what :func:`describe` shows is exactly what is signed. Pure format code: policy (what a root may sign) is the
offline machine's (``trust.service.ceremony``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from trust.crypto.errors import Code, InputError
from trust.crypto.keys import public_key_from_spki
from trust.formats import strict_json
from trust.formats.names import name_text
from trust.formats.trustlist import iso, parse_time

REQUEST_TYPE: Final = "huren-root-ceremony-request"
RESPONSE_TYPE: Final = "huren-root-ceremony-response"
VERSION: Final = 1
MAX_BYTES: Final = 1 << 20
MAX_ITEMS: Final = 16
MAX_TBS_BYTES: Final = 256 * 1024
CA_PURPOSES: Final = ("national-ca", "region-ca", "department-ca")
PURPOSES: Final = (*CA_PURPOSES, "trust-list-signer", "root-crl")
_HEX64: Final = re.compile(r"^[0-9a-f]{64}$")
_ID: Final = re.compile(r"^[0-9a-f]{32}$")


def _refuse(message: str) -> InputError:
    return InputError(message, code=Code.CEREMONY_REQUEST_INVALID)


def _members(data: Mapping[str, Any], expected: set[str], what: str) -> None:
    unknown = set(data) - expected
    missing = expected - set(data)
    if unknown or missing:
        detail = "; ".join(
            part
            for part in (
                f"unknown member(s) {', '.join(sorted(unknown))}" if unknown else "",
                f"missing {', '.join(sorted(missing))}" if missing else "",
            )
            if part
        )
        raise _refuse(f"{what}: {detail}")


def _b64(value: Any, what: str, limit: int) -> bytes:
    if not isinstance(value, str) or len(value) > limit * 4 // 3 + 4:
        raise _refuse(f"{what} must be base64 text of at most {limit} bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(f"{what} is not base64") from None
    if base64.b64encode(raw).decode() != value:
        raise _refuse(f"{what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class Item:
    root: str
    """SHA-256 (hex) of the root certificate whose key is to sign."""
    purpose: str
    tbs: bytes
    """The DER ``TBSCertificate`` (``*-ca``, ``trust-list-signer``) or ``TBSCertList`` (``root-crl``)."""

    @property
    def is_crl(self) -> bool:
        return self.purpose == "root-crl"

    def certificate(self) -> asn1_x509.TbsCertificate:
        return asn1_x509.TbsCertificate.load(self.tbs)

    def crl(self) -> asn1_crl.TbsCertList:
        return asn1_crl.TbsCertList.load(self.tbs)

    def to_json(self) -> dict[str, str]:
        return {"root": self.root, "purpose": self.purpose, "tbs": base64.b64encode(self.tbs).decode()}


@dataclass(frozen=True)
class Request:
    id: str
    created_at: datetime
    items: tuple[Item, ...]

    def dumps(self) -> bytes:
        document = {
            "type": REQUEST_TYPE,
            "version": VERSION,
            "id": self.id,
            "created_at": iso(self.created_at),
            "items": [item.to_json() for item in self.items],
        }
        return json.dumps(document, indent=1, ensure_ascii=False).encode() + b"\n"


@dataclass(frozen=True)
class Response:
    id: str
    request: str
    """SHA-256 (hex) of the request file's bytes."""
    signed: tuple[bytes, ...]

    def dumps(self) -> bytes:
        document = {
            "type": RESPONSE_TYPE,
            "version": VERSION,
            "id": self.id,
            "request": self.request,
            "signed": [base64.b64encode(der).decode() for der in self.signed],
        }
        return json.dumps(document, indent=1).encode() + b"\n"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical_der(raw: bytes, purpose: str) -> None:
    """The octets must decode as the purpose's structure, entirely, and re-encode to themselves (DER)."""
    spec: type[asn1_crl.TbsCertList] | type[asn1_x509.TbsCertificate]
    spec = asn1_crl.TbsCertList if purpose == "root-crl" else asn1_x509.TbsCertificate
    what = "TBSCertList" if purpose == "root-crl" else "TBSCertificate"
    try:
        parsed = spec.load(raw, strict=True)
        parsed.native  # noqa: B018 - decode every field now, inside the try
        again = spec.load(raw).dump(force=True)
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError, RecursionError) as exc:
        raise _refuse(f"item ({purpose}): not a DER {what}: {type(exc).__name__}: {str(exc)[:160]}") from None
    if again != raw:
        raise _refuse(f"item ({purpose}): the {what} is not DER (it re-encodes differently)")


def parse_request(data: bytes) -> Request:
    """A ceremony request, checked strictly (module docstring); :attr:`Code.CEREMONY_REQUEST_INVALID` otherwise."""
    if len(data) > MAX_BYTES:
        raise InputError(f"ceremony request of {len(data)} bytes exceeds {MAX_BYTES}", code=Code.INPUT_TOO_LARGE)
    try:
        document = strict_json.load_object(data, "ceremony request")
    except InputError as exc:
        raise _refuse(exc.message) from None
    _members(document, {"type", "version", "id", "created_at", "items"}, "ceremony request")
    if document["type"] != REQUEST_TYPE or document["version"] != VERSION:
        raise _refuse(f"not a {REQUEST_TYPE} version {VERSION}")
    if not isinstance(document["id"], str) or not _ID.match(document["id"]):
        raise _refuse("ceremony request id must be 32 lower-case hex digits")
    try:
        created = parse_time(document["created_at"], "ceremony request created_at")
    except InputError as exc:
        raise _refuse(exc.message) from None
    items = document["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise _refuse(f"ceremony request items must be a list of 1 to {MAX_ITEMS}")
    parsed = []
    for number, entry in enumerate(items, 1):
        if not isinstance(entry, Mapping):
            raise _refuse(f"item {number} must be an object")
        _members(entry, {"root", "purpose", "tbs"}, f"item {number}")
        if not isinstance(entry["root"], str) or not _HEX64.match(entry["root"]):
            raise _refuse(f"item {number}: root must be the 64 hex digit SHA-256 of a root certificate")
        if entry["purpose"] not in PURPOSES:
            raise _refuse(f"item {number}: purpose must be one of {', '.join(PURPOSES)}")
        raw = _b64(entry["tbs"], f"item {number} tbs", MAX_TBS_BYTES)
        _canonical_der(raw, str(entry["purpose"]))
        parsed.append(Item(entry["root"], str(entry["purpose"]), raw))
    return Request(document["id"], created, tuple(parsed))


def parse_response(data: bytes) -> Response:
    """A ceremony response (:attr:`Code.CEREMONY_RESPONSE_INVALID` when malformed)."""

    def refuse(message: str) -> InputError:
        return InputError(message, code=Code.CEREMONY_RESPONSE_INVALID)

    if len(data) > MAX_BYTES:
        raise InputError(f"ceremony response of {len(data)} bytes exceeds {MAX_BYTES}", code=Code.INPUT_TOO_LARGE)
    try:
        document = strict_json.load_object(data, "ceremony response")
        _members(document, {"type", "version", "id", "request", "signed"}, "ceremony response")
    except InputError as exc:
        raise refuse(exc.message) from None
    if document["type"] != RESPONSE_TYPE or document["version"] != VERSION:
        raise refuse(f"not a {RESPONSE_TYPE} version {VERSION}")
    if not isinstance(document["id"], str) or not _ID.match(document["id"]):
        raise refuse("ceremony response id must be 32 lower-case hex digits")
    if not isinstance(document["request"], str) or not _HEX64.match(document["request"]):
        raise refuse("ceremony response must name its request by SHA-256 (64 hex digits)")
    signed = document["signed"]
    if not isinstance(signed, list) or not 1 <= len(signed) <= MAX_ITEMS:
        raise refuse(f"ceremony response signed must be a list of 1 to {MAX_ITEMS}")
    try:
        ders = tuple(_b64(value, f"signed item {n}", MAX_TBS_BYTES + 4096) for n, value in enumerate(signed, 1))
    except InputError as exc:
        raise refuse(exc.message) from None
    return Response(document["id"], document["request"], ders)


# --- what will be signed, for people ------------------------------------------------------------------------------


def _when(value: Any) -> str:
    return iso(value) if isinstance(value, datetime) else str(value)


def _extension_lines(extensions: Any) -> list[str]:
    lines = []
    for ext in extensions:
        name = ext["extn_id"].native
        critical = " (critical)" if ext["critical"].native else ""
        value = ext["extn_value"].parsed
        if name == "basic_constraints":
            text = f"CA={value['ca'].native}, path length={value['path_len_constraint'].native}"
        elif name == "key_usage":
            text = ", ".join(sorted(value.native))
        elif name == "extended_key_usage":
            text = ", ".join(p.dotted for p in value)
        elif name == "certificate_policies":
            text = ", ".join(p["policy_identifier"].dotted for p in value)
        elif name == "name_constraints":
            permitted = value["permitted_subtrees"]
            names = []
            for subtree in permitted if permitted.native is not None else []:
                base = subtree["base"]
                names.append(name_text(base.chosen) if base.name == "directory_name" else f"{base.name}:{base.native}")
            text = "permitted " + "; ".join(names)
        elif name in ("key_identifier",):
            text = bytes(value.native).hex()
        elif name == "authority_key_identifier":
            text = bytes(value["key_identifier"].native or b"").hex()
        elif name == "crl_number":
            text = str(value.native)
        else:
            text = json.dumps(value.native, default=str, ensure_ascii=False)[:300]
        lines.append(f"    {name}{critical}: {text}")
    return lines


def describe(item: Item) -> list[str]:
    """Every field of the structure to be signed, one line each, as a person at the ceremony reads it."""
    if item.is_crl:
        tbs = item.crl()
        revoked = tbs["revoked_certificates"]
        entries = list(revoked) if revoked.native is not None else []
        lines = [
            f"  root CRL of {name_text(tbs['issuer'])}",
            f"    signature algorithm: {tbs['signature']['algorithm'].native}",
            f"    this update: {_when(tbs['this_update'].native)}; next update: {_when(tbs['next_update'].native)}",
            f"    revoked certificates: {len(entries)}",
        ]
        for entry in entries:
            reason = ""
            for ext in entry["crl_entry_extensions"] if entry["crl_entry_extensions"].native else []:
                if ext["extn_id"].native == "crl_reason":
                    reason = f" ({ext['extn_value'].native})"
            lines.append(
                f"      serial {entry['user_certificate'].native:x} at {_when(entry['revocation_date'].native)}{reason}"
            )
        return lines + _extension_lines(tbs["crl_extensions"] if tbs["crl_extensions"].native else [])
    tbs = item.certificate()
    key = public_key_from_spki(tbs["subject_public_key_info"])
    validity = tbs["validity"]
    lines = [
        f"  certificate ({item.purpose}) for {name_text(tbs['subject'])}",
        f"    issuer: {name_text(tbs['issuer'])}",
        f"    serial: {tbs['serial_number'].native:x}",
        f"    signature algorithm: {tbs['signature']['algorithm'].native}",
        f"    valid: {_when(validity['not_before'].native)} to {_when(validity['not_after'].native)}",
        f"    key: {key.family.value} {key.size} bits, SPKI SHA-256 {key.fingerprint()}",
    ]
    return lines + _extension_lines(tbs["extensions"] if tbs["extensions"].native else [])
