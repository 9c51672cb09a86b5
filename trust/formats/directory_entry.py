"""Signed directory entries (issue 21 item 1): a licence a region issued with its own legacy system, registered in
the national directory as a compact JWS signed by the licence issuer's key — the key the trust list lists for that
issuer — so anyone holding the bundle can check the entry (``verifier.directory_entry``).

The entry carries metadata only, as the directory does. The holder is a **salted commitment**,
``BASE64URL(SHA-256(salt ‖ holder code))`` with a random salt of at least 16 bytes: the region sends the salt and the
code beside the entry over its authenticated channel, the directory checks the commitment, keeps its own keyed hash
of the code and forgets salt and code. The stored entry therefore names nobody (the salt is not kept, so the code
cannot be guessed from it) and still verifies against the issuer's key.

Claims (``typ`` ``huren-directory-entry+jwt``, ``kid`` the RFC 7638 thumbprint of the issuer key, as licence tokens)::

    {"iss": "<licence issuer id>", "jti": "<GB/T 36904 identifier>", "iat": 1764547200, "nbf": ..., "exp": ...,
     "license": {"id": "<identifier>", "type": "<GB/T 36903 type code>", "issuer": "<issuer USCC>"},
     "entry": {"holder": "<commitment>", "status": "valid", "location": "https://…"}}

``iat`` is when the region signed the entry (a later entry for the same licence replaces an earlier one: status
changes); ``nbf``/``exp`` are the licence's validity. ``location`` is where the region's system answers retrievals.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from trust.crypto import base64url
from trust.crypto.errors import EncodingError, InputError
from trust.crypto.signer import Signer
from trust.formats import jose, strict_json

TYP: Final = "huren-directory-entry+jwt"
STATUSES: Final = ("valid", "suspended", "revoked")
MIN_SALT: Final = 16
MAX_LOCATION: Final = 256


def normalise_code(code: str) -> bytes:
    """The holder code as committed to (upper case, as GB 11643 / GB 32100 write it; the directory's HMAC too)."""
    return code.strip().upper().encode("ascii", "replace")


def commitment(salt: bytes, holder_code: str) -> str:
    """``BASE64URL(SHA-256(salt ‖ code))``: what the entry says of its holder."""
    if len(salt) < MIN_SALT:
        raise InputError(f"the holder salt must have at least {MIN_SALT} bytes")
    return base64url.encode(hashlib.sha256(salt + normalise_code(holder_code)).digest())


def claims(
    *,
    issuer_id: str,
    identifier: str,
    type_code: str,
    issuer_code: str,
    holder_commitment: str,
    valid_from: datetime,
    valid_until: datetime | None,
    status: str,
    location: str,
    signed_at: datetime | None = None,
) -> dict[str, Any]:
    if status not in STATUSES:
        raise InputError(f"entry status must be one of {', '.join(STATUSES)}")
    body: dict[str, Any] = {
        "iss": issuer_id,
        "jti": identifier,
        "iat": int((signed_at or datetime.now(UTC)).timestamp()),
        "nbf": int(valid_from.timestamp()),
        "license": {"id": identifier, "type": type_code, "issuer": issuer_code},
        "entry": {"holder": holder_commitment, "status": status, "location": location},
    }
    if valid_until is not None:
        body["exp"] = int(valid_until.timestamp())
    return body


def sign(body: Mapping[str, Any], signer: Signer, *, kid: str) -> str:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return jose.sign_compact(payload, signer, headers={"typ": TYP, "kid": kid})


@dataclass(frozen=True)
class Entry:
    """The checked shape of an entry's claims (its signature is the verifier's business)."""

    issuer_id: str
    identifier: str
    type_code: str
    issuer_code: str
    holder_commitment: str
    signed_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    status: str
    location: str


def _int(body: Mapping[str, Any], name: str, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**40:
        raise EncodingError(f"directory entry: {name} must be a number of seconds")
    return value


def _text(container: Mapping[str, Any], name: str, most: int) -> str:
    value = container.get(name)
    if not isinstance(value, str) or not value or len(value) > most:
        raise EncodingError(f"directory entry: {name} must be text of 1..{most} characters")
    return value


def read(body: Mapping[str, Any]) -> Entry:
    """The entry's claims, checked for shape (types, sizes, a https/http location, the identifier echoed)."""
    license = body.get("license")
    entry = body.get("entry")
    if not isinstance(license, Mapping) or not isinstance(entry, Mapping):
        raise EncodingError("directory entry: license and entry claims are required")
    identifier = _text(license, "id", 128)
    if body.get("jti") != identifier:
        raise EncodingError("directory entry: jti differs from license.id")
    status = _text(entry, "status", 16)
    if status not in STATUSES:
        raise EncodingError(f"directory entry: status must be one of {', '.join(STATUSES)}")
    location = _text(entry, "location", MAX_LOCATION)
    if not location.startswith(("https://", "http://")):
        raise EncodingError("directory entry: location must be an https (or http) URL")
    holder = _text(entry, "holder", 64)
    try:
        if len(base64url.decode(holder, "holder commitment")) != 32:
            raise EncodingError("directory entry: the holder commitment is a SHA-256 digest")
    except InputError as exc:
        raise EncodingError(f"directory entry: {exc.message}") from None
    iat, nbf, exp = _int(body, "iat"), _int(body, "nbf"), _int(body, "exp", required=False)
    assert iat is not None and nbf is not None
    return Entry(
        issuer_id=_text(body, "iss", 64),
        identifier=identifier,
        type_code=_text(license, "type", 21),
        issuer_code=_text(license, "issuer", 18),
        holder_commitment=holder,
        signed_at=datetime.fromtimestamp(iat, UTC),
        valid_from=datetime.fromtimestamp(nbf, UTC),
        valid_until=datetime.fromtimestamp(exp, UTC) if exp is not None else None,
        status=status,
        location=location,
    )


def parse_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of an entry without checking its signature."""
    header, payload, _input, _signature = jose.parse_compact(token)
    if header.get("typ") != TYP:
        raise EncodingError(f"not a directory entry: typ is {header.get('typ')!r}, expected {TYP!r}")
    return header, strict_json.load_object(payload, "directory entry")
