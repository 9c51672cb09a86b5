"""SD-JWT Disclosures (RFC 9901 clause 4.2): salted ``[salt, name, value]`` / ``[salt, value]`` arrays, base64url, and
their digests (``_sd_alg`` ``sha-256``, clause 4.1.1); the limits every step shares.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from trust.crypto import base64url
from trust.crypto.errors import (
    EncodingError,
    InputError,
)
from trust.formats import strict_json
from trust.formats.sdjwt.errors import ClaimConflict, MalformedSdJwt, UnsupportedDigestAlgorithm

ClaimPath = tuple[str | int, ...]
"""Where a claim sits: object member names and array indexes from the top of the payload, e.g.
``("address", "locality")`` or ``("nationalities", 0)``. An index counts the elements of the array as the
issuer signed it (undisclosed elements included)."""


SD_ALG: Final = "sha-256"


DEFAULT_TYP: Final = "dc+sd-jwt"


KB_JWT_TYP: Final = "kb+jwt"


SALT_BYTES: Final = 16  # 128 bits (RFC 9901 clause 9.3)


MAX_PRESENTATION_BYTES: Final = 1024 * 1024


MAX_DISCLOSURES: Final = 4096


MAX_DEPTH: Final = 32


DEFAULT_MAX_KB_AGE: Final = 300  # seconds a KB-JWT stays fresh


DEFAULT_LEEWAY: Final = 60  # clock skew tolerated for exp, nbf and a KB-JWT's iat


# Claims that must stay readable: the processing keys themselves, and (SD-JWT VC) the issuer, the validity
# period, the holder key, the type and the status reference a verifier needs before trusting anything.
NEVER_DISCLOSABLE: Final = frozenset({"_sd", "_sd_alg", "...", "iss", "nbf", "exp", "cnf", "vct", "status"})


RESERVED_NAMES: Final = frozenset({"_sd", "..."})


_HASHES: Final[dict[str, Callable[[bytes], Any]]] = {"sha-256": hashlib.sha256}


@dataclass(frozen=True)
class Disclosure:
    """One Disclosure: ``[salt, name, value]`` for an object property, ``[salt, value]`` for an array element."""

    encoded: str
    salt: str
    name: str | None
    value: Any
    digest: str

    @property
    def is_array_element(self) -> bool:
        return self.name is None


def hash_function(sd_alg: str) -> Callable[[bytes], Any]:
    try:
        return _HASHES[sd_alg]
    except KeyError:
        raise UnsupportedDigestAlgorithm(
            f"_sd_alg {sd_alg!r} is not supported (only sha-256)", evidence={"sd_alg": str(sd_alg)}
        ) from None


def digest(encoded: str, sd_alg: str = SD_ALG) -> str:
    """The digest of a Disclosure or of a presented SD-JWT: base64url of the hash over its ASCII text."""
    return base64url.encode(hash_function(sd_alg)(encoded.encode("ascii")).digest())


def strict_loads(data: bytes, what: str) -> Any:
    """:func:`trust.formats.strict_json.loads`, its refusals as :class:`MalformedSdJwt`."""
    try:
        return strict_json.loads(data, what)
    except EncodingError as exc:
        raise MalformedSdJwt(exc.message) from None


def decode_disclosure(encoded: str, sd_alg: str = SD_ALG) -> Disclosure:
    """Parse one Disclosure (RFC 9901 clause 4.2); raises :class:`MalformedSdJwt` for any other shape."""
    try:
        raw = base64url.decode(encoded, "Disclosure")
    except EncodingError as exc:
        raise MalformedSdJwt(exc.message) from None
    value = strict_loads(raw, "Disclosure")
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise MalformedSdJwt("a Disclosure must be a JSON array of 2 (array element) or 3 (property) elements")
    if not isinstance(value[0], str) or not value[0]:
        raise MalformedSdJwt("a Disclosure's salt must be a non-empty string")
    if len(value) == 3:
        if not isinstance(value[1], str):
            raise MalformedSdJwt("a Disclosure's claim name must be a string")
        if value[1] in RESERVED_NAMES:
            raise ClaimConflict(f"a Disclosure must not disclose a claim named {value[1]!r}")
        return Disclosure(encoded, value[0], value[1], value[2], digest(encoded, sd_alg))
    return Disclosure(encoded, value[0], None, value[1], digest(encoded, sd_alg))


def new_salt() -> str:
    """A fresh 128-bit salt, base64url (RFC 9901 clause 4.2.1 and 9.3)."""
    return base64url.encode(secrets.token_bytes(SALT_BYTES))


def encode_json(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InputError(f"claims must be JSON values: {exc}") from None


def show_path(path: ClaimPath) -> str:
    return "/" + "/".join(str(p) for p in path)
