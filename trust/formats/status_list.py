"""IETF Token Status List (draft-ietf-oauth-status-list): status lists and ``statuslist+jwt`` tokens.

Status list (draft clause "Status List", JSON encoding): a byte array holding one ``bits``-wide value per
Referenced Token (``bits`` ∈ {1, 2, 4, 8}); index *i* lives in byte ``i*bits // 8`` at bit offset
``i*bits % 8`` — the least significant bits of a byte hold the lowest index (byte ``0xB9`` at 1 bit is
statuses 1,0,0,1,1,1,0,1 for indexes 0..7). The array is compressed with DEFLATE in the ZLIB format
(RFC 1950/1951, highest compression) and carried as ``{"bits": n, "lst": base64url(no padding)}``. The
number of statuses a decoded list holds is ``len(bytes) * 8 / bits`` (the last byte's spare values count).

Status values (draft clause "Status Types"; Huren uses ``bits`` = 2, :data:`HUREN_BITS`):

* ``0`` :attr:`Status.VALID`;
* ``1`` :attr:`Status.INVALID` — revoked, irreversible;
* ``2`` :attr:`Status.SUSPENDED` — temporarily invalid, reversible (reinstated by setting it back to ``0``);
* ``3`` — application-specific in the draft; **reserved** in Huren: never written by Huren, and a verifier
  treats it (like any value it does not know) as *not valid*.

Status list token (draft clause "Status List Token in JWT Format"): a compact JWS with header
``typ`` = ``statuslist+jwt`` and claims ``sub`` (the URI of the list, equal to the ``uri`` of every
Referenced Token's ``status.status_list``), ``iat``, ``exp``, ``ttl`` (seconds a copy may be cached) and
``status_list``. Huren always sets ``exp`` and requires it when verifying: an offline verifier must be able to
tell a stale list. Referenced tokens carry ``{"status": {"status_list": {"idx": n, "uri": "..."}}}``
(:func:`status_claim`).

Hostile input: ``lst`` is bounded before decoding (:data:`MAX_LST_CHARS`) and decompressed incrementally
with a ceiling (:data:`MAX_LIST_BYTES`), so a zip bomb costs at most that much memory; a stream that is
truncated, carries trailing bytes, or is not ZLIB is refused.

Pure format code: no storage, no network.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from functools import lru_cache
from typing import Any, Final

from trust.crypto import base64url
from trust.crypto.errors import Code, EncodingError, InputError
from trust.crypto.keys import PublicKey
from trust.crypto.signer import Signer
from trust.formats import jose, strict_json

TOKEN_TYPE: Final = "statuslist+jwt"  # noqa: S105 (a JWT typ, not a secret)
MEDIA_TYPE: Final = "application/statuslist+jwt"
ALLOWED_BITS: Final = (1, 2, 4, 8)
HUREN_BITS: Final = 2
MAX_LIST_BYTES: Final = 8 * 1024 * 1024
"""Largest uncompressed status list: 8 MiB — 32 Mi licences at 2 bits, 64 Mi at 1 bit (the draft's own
examples need 1 MiB at most)."""
MAX_LST_CHARS: Final = (MAX_LIST_BYTES + MAX_LIST_BYTES // 1000 + 64) * 4 // 3 + 4
"""Largest ``lst`` text: base64url of the worst-case (stored, incompressible) ZLIB stream of the largest list."""
MAX_URI: Final = 2048
DEFAULT_ALGORITHMS: Final = tuple(sorted(jose.ACCEPTED_ALGORITHMS))
MAX_CLOCK_SKEW: Final = 300


class Status(IntEnum):
    """Status Type values Huren writes (draft clause "Status Types"); 3 is reserved."""

    VALID = 0
    INVALID = 1  # revoked
    SUSPENDED = 2


@lru_cache(maxsize=8)
def _unpack_table(bits: int) -> tuple[tuple[int, ...], ...]:
    """For each byte value, its ``8 // bits`` statuses, lowest index first."""
    mask = (1 << bits) - 1
    return tuple(tuple((byte >> shift) & mask for shift in range(0, 8, bits)) for byte in range(256))


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in ALLOWED_BITS:
        raise InputError(f"status list bits must be 1, 2, 4 or 8, got {bits!r}", evidence={"member": "bits"})
    return bits


class StatusList:
    """A mutable status list of ``size`` entries, ``bits`` bits each, all ``0`` (VALID) when created."""

    __slots__ = ("_bits", "_data", "_size")

    def __init__(self, bits: int = HUREN_BITS, size: int = 1) -> None:
        self._bits = _check_bits(bits)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InputError(f"status list size must be a positive integer, got {size!r}")
        if size > self.max_size(bits):
            raise InputError(
                f"status list of {size} entries at {bits} bits exceeds {MAX_LIST_BYTES} bytes",
                code=Code.INPUT_TOO_LARGE,
                evidence={"max_size": self.max_size(bits)},
            )
        self._size = size
        self._data = bytearray((size * bits + 7) // 8)

    @staticmethod
    def max_size(bits: int) -> int:
        """The most entries a list of ``bits`` may hold (:data:`MAX_LIST_BYTES`)."""
        return MAX_LIST_BYTES * 8 // _check_bits(bits)

    @classmethod
    def from_bytes(cls, bits: int, data: bytes) -> StatusList:
        """A list over an uncompressed byte array; its size is ``len(data) * 8 // bits``."""
        bits = _check_bits(bits)
        if not data:
            raise InputError("status list is empty", evidence={"member": "lst"})
        if len(data) > MAX_LIST_BYTES:
            raise InputError(f"status list of {len(data)} bytes exceeds {MAX_LIST_BYTES}", code=Code.INPUT_TOO_LARGE)
        result = cls(bits, len(data) * 8 // bits)
        result._data[:] = data
        return result

    @property
    def bits(self) -> int:
        return self._bits

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._size

    def _index(self, idx: object) -> int:
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise InputError(f"status list index must be an integer, got {type(idx).__name__}")
        if not 0 <= idx < self._size:
            raise InputError(
                f"status list index {idx} is out of range: the list holds indexes 0..{self._size - 1}",
                evidence={"idx": idx, "size": self._size},
            )
        return idx

    def get(self, idx: int) -> int:
        """The status value at ``idx``; :class:`InputError` if ``idx`` is outside the list (the draft: reject)."""
        position = self._index(idx) * self._bits
        return (self._data[position // 8] >> (position % 8)) & ((1 << self._bits) - 1)

    def set(self, idx: int, value: int) -> None:
        """Store ``value`` (``0 .. 2**bits - 1``) at ``idx``."""
        position = self._index(idx) * self._bits
        mask = (1 << self._bits) - 1
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= mask:
            raise InputError(f"status value must be 0..{mask} for a {self._bits}-bit list, got {value!r}")
        shift = position % 8
        byte = position // 8
        self._data[byte] = (self._data[byte] & ~(mask << shift) & 0xFF) | (value << shift)

    __getitem__ = get
    __setitem__ = set

    def values(self) -> list[int]:
        """Every status, index order (fast: one table look-up per byte)."""
        table = _unpack_table(self._bits)
        result = [value for byte in self._data for value in table[byte]]
        del result[self._size :]
        return result

    def __iter__(self) -> Iterator[int]:
        return iter(self.values())

    def nonzero(self) -> dict[int, int]:
        """``{index: status}`` of every entry that is not 0."""
        per_byte = 8 // self._bits
        table = _unpack_table(self._bits)
        found: dict[int, int] = {}
        for offset, byte in enumerate(self._data):
            if byte:
                for k, value in enumerate(table[byte]):
                    index = offset * per_byte + k
                    if value and index < self._size:
                        found[index] = value
        return found

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusList):
            return NotImplemented
        return (self._bits, self._size, self._data) == (other._bits, other._size, other._data)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"StatusList(bits={self._bits}, size={self._size}, nonzero={len(self.nonzero())})"

    # --- JSON encoding ----------------------------------------------------------------------------------------

    def encode(self) -> dict[str, Any]:
        """``{"bits": n, "lst": base64url(zlib(bytes, level 9))}`` (the draft's JSON Status List)."""
        return {"bits": self._bits, "lst": base64url.encode(zlib.compress(bytes(self._data), 9))}

    @classmethod
    def decode(cls, obj: object) -> StatusList:
        """The list of a JSON Status List object; :class:`InputError` for anything malformed or too large.

        Members other than ``bits`` and ``lst`` (``aggregation_uri``, future ones) are ignored.
        """
        if not isinstance(obj, Mapping):
            raise EncodingError("status list must be a JSON object with bits and lst")
        if "bits" not in obj or "lst" not in obj:
            raise EncodingError("status list needs the members bits and lst", evidence={"member": "bits/lst"})
        bits = _check_bits(obj["bits"])
        lst = obj["lst"]
        if not isinstance(lst, str) or not lst:
            raise EncodingError("status list lst must be a non-empty base64url string", evidence={"member": "lst"})
        if len(lst) > MAX_LST_CHARS:
            raise InputError(
                f"status list lst of {len(lst)} characters exceeds {MAX_LST_CHARS}", code=Code.INPUT_TOO_LARGE
            )
        try:
            compressed = base64url.decode(lst, "status list lst")
        except EncodingError as exc:
            raise EncodingError("status list lst is not unpadded base64url", evidence={"member": "lst"}) from exc
        return cls.from_bytes(bits, inflate(compressed))


def inflate(compressed: bytes, limit: int = MAX_LIST_BYTES) -> bytes:
    """ZLIB-decompress (RFC 1950) at most ``limit`` bytes; refuses bombs, truncation and trailing bytes."""
    decompressor = zlib.decompressobj()
    try:
        data = decompressor.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise EncodingError(
            f"status list lst is not a ZLIB (DEFLATE) stream: {exc}", evidence={"member": "lst"}
        ) from None
    if len(data) > limit or decompressor.unconsumed_tail:
        raise InputError(
            f"status list decompresses to more than {limit} bytes (refused: possible zip bomb)",
            code=Code.INPUT_TOO_LARGE,
            evidence={"limit": limit, "compressed": len(compressed)},
        )
    if not decompressor.eof:
        raise EncodingError("status list lst is a truncated ZLIB stream", evidence={"member": "lst"})
    if decompressor.unused_data:
        raise EncodingError(
            f"status list lst has {len(decompressor.unused_data)} bytes after the ZLIB stream",
            evidence={"member": "lst"},
        )
    return data


def decode(obj: object) -> StatusList:
    """Module-level alias of :meth:`StatusList.decode`."""
    return StatusList.decode(obj)


def encode(status_list: StatusList) -> dict[str, Any]:
    return status_list.encode()


# --- referenced tokens --------------------------------------------------------------------------------------------


def _check_uri(uri: object, what: str = "status list uri") -> str:
    if not isinstance(uri, str) or not uri:
        raise InputError(f"{what} must be a non-empty string")
    if len(uri) > MAX_URI:
        raise InputError(f"{what} of {len(uri)} characters exceeds {MAX_URI}")
    scheme, sep, rest = uri.partition(":")
    if not sep or not rest or not scheme[:1].isalpha() or not all(c.isalnum() or c in "+-." for c in scheme):
        raise InputError(f"{what} {uri[:80]!r} is not an absolute URI (RFC 3986)")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in uri):
        raise InputError(f"{what} contains spaces or control characters")
    return uri


def status_claim(uri: str, idx: int) -> dict[str, Any]:
    """The ``status`` claim of a Referenced Token: ``{"status": {"status_list": {"idx": idx, "uri": uri}}}``."""
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise InputError(f"status list index must be a non-negative integer, got {idx!r}")
    return {"status": {"status_list": {"idx": idx, "uri": _check_uri(uri)}}}


def parse_status_claim(claims: Mapping[str, Any]) -> tuple[str, int]:
    """``(uri, idx)`` from a Referenced Token's claims; :class:`InputError` if the reference is malformed."""
    status = claims.get("status") if isinstance(claims, Mapping) else None
    reference = status.get("status_list") if isinstance(status, Mapping) else None
    if not isinstance(reference, Mapping):
        raise InputError("token has no status.status_list reference", evidence={"claim": "status"})
    idx = reference.get("idx")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise InputError(
            f"status.status_list.idx must be a non-negative integer, got {idx!r}", evidence={"claim": "idx"}
        )
    return _check_uri(reference.get("uri"), "status.status_list.uri"), idx


# --- status list tokens ------------------------------------------------------------------------------------------


def _numeric_date(value: object, what: str) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InputError(f"{what} must carry a time zone")
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{what} must be a NumericDate (seconds since the epoch) or an aware datetime")
    return value


def make_token(
    status_list: StatusList,
    uri: str,
    signer: Signer,
    *,
    iat: datetime | int,
    exp: datetime | int,
    ttl: int | None = None,
    kid: str | None = None,
    iss: str | None = None,
) -> str:
    """A signed Status List Token (compact JWS, ``typ`` ``statuslist+jwt``) for ``status_list`` at ``uri``."""
    if not isinstance(status_list, StatusList):
        raise InputError("make_token needs a StatusList")
    issued = _numeric_date(iat, "iat")
    expires = _numeric_date(exp, "exp")
    if expires <= issued:
        raise InputError(f"exp ({expires}) must be after iat ({issued})")
    claims: dict[str, Any] = {
        "sub": _check_uri(uri),
        "iat": issued,
        "exp": expires,
        "status_list": status_list.encode(),
    }
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
            raise InputError(f"ttl must be a positive number of seconds, got {ttl!r}")
        claims["ttl"] = ttl
    if iss is not None:
        claims["iss"] = _check_uri(iss, "iss")
    headers: dict[str, Any] = {"typ": TOKEN_TYPE}
    if kid is not None:
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise InputError("kid must be a non-empty string of at most 256 characters")
        headers["kid"] = kid
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return jose.sign_compact(payload, signer, headers=headers)


@dataclass(frozen=True)
class StatusListToken:
    """A verified Status List Token."""

    status_list: StatusList
    uri: str
    iat: int
    exp: int
    ttl: int | None
    header: dict[str, Any]
    claims: dict[str, Any]
    key: PublicKey

    def status(self, idx: int) -> int:
        return self.status_list.get(idx)


def _reject(message: str, check: str, **evidence: Any) -> InputError:
    return InputError(message, evidence={"check": check, **evidence})


def _claims(payload: bytes) -> dict[str, Any]:
    return strict_json.load_object(payload, "status list token claims")


def verify_token_claims(
    token: str | bytes,
    resolve_key: Callable[[dict[str, Any]], PublicKey],
    *,
    expected_uri: str,
    now: datetime | int,
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
    leeway: int = 0,
) -> StatusListToken:
    """Verify a Status List Token and return it with its claims; raises on the first failed check.

    Checks, in order (draft "Status List Token in JWT Format" and RFC 7519 / RFC 8725):

    1. the header's ``typ`` is ``statuslist+jwt`` (or ``application/statuslist+jwt``, case-insensitive);
    2. the signature verifies with the key ``resolve_key(header)`` names, under an asymmetric algorithm of
       ``algorithms`` (:func:`trust.formats.jose.verify_compact`: no ``none``, no HMAC, no embedded keys);
    3. ``sub`` equals ``expected_uri`` (the Referenced Token's ``uri``; simple string comparison);
    4. ``iat`` is a NumericDate not after ``now`` + ``leeway``; ``nbf``, if present, is not after it either;
    5. ``exp`` is present and after ``now`` − ``leeway`` (Huren requires ``exp``);
    6. ``ttl``, if present, is a positive integer;
    7. ``status_list`` decodes (bounded; :meth:`StatusList.decode`).

    Failures raise :class:`InputError` (``evidence["check"]`` names the check: ``typ``, ``sub``, ``iat``,
    ``nbf``, ``exp``, ``ttl``) or the JOSE layer's errors (:class:`InvalidSignature`, :class:`EncodingError`,
    :class:`UnsupportedAlgorithm`).
    """
    expected_uri = _check_uri(expected_uri, "expected status list uri")
    moment = _numeric_date(now, "now")
    if isinstance(leeway, bool) or not isinstance(leeway, int) or not 0 <= leeway <= MAX_CLOCK_SKEW:
        raise InputError(f"leeway must be 0..{MAX_CLOCK_SKEW} seconds")
    # 1. typ, before any key is looked up.
    header, _payload, _signing_input, _signature = jose.parse_compact(token)
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in (TOKEN_TYPE, MEDIA_TYPE):
        raise _reject(f"token typ is {typ!r}, not {TOKEN_TYPE!r}: not a status list token", "typ", found=typ)
    # 2. signature.
    verified = jose.verify_compact(token, resolve_key, algorithms=algorithms)
    claims = _claims(verified.payload)
    # 3. sub.
    sub = claims.get("sub")
    if sub != expected_uri:
        raise _reject(
            f"status list token is for {sub!r}, not the expected {expected_uri!r}",
            "sub",
            expected=expected_uri,
            found=sub,
        )
    # 4. iat, nbf.
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int):
        raise _reject("status list token needs an integer iat", "iat")
    if iat > moment + leeway:
        raise _reject(
            f"status list token was issued in the future (iat {iat} > now {moment})", "iat", iat=iat, now=moment
        )
    nbf = claims.get("nbf")
    if nbf is not None and (isinstance(nbf, bool) or not isinstance(nbf, int) or nbf > moment + leeway):
        raise _reject(f"status list token is not valid before {nbf!r} (now {moment})", "nbf", nbf=nbf, now=moment)
    # 5. exp.
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise _reject("status list token needs an integer exp (Huren refuses lists that never expire)", "exp")
    if exp <= moment - leeway:
        raise _reject(f"status list token expired at {exp} (now {moment})", "exp", exp=exp, now=moment)
    # 6. ttl.
    ttl = claims.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1):
        raise _reject(f"status list token ttl must be a positive integer, got {ttl!r}", "ttl")
    # 7. the list.
    if "status_list" not in claims:
        raise _reject("status list token has no status_list claim", "status_list")
    status_list = StatusList.decode(claims["status_list"])
    return StatusListToken(
        status_list=status_list,
        uri=sub,
        iat=iat,
        exp=exp,
        ttl=ttl,
        header=verified.header,
        claims=claims,
        key=verified.key,
    )


def verify_token(
    token: str | bytes,
    resolve_key: Callable[[dict[str, Any]], PublicKey],
    *,
    expected_uri: str,
    now: datetime | int,
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
    leeway: int = 0,
) -> StatusList:
    """The :class:`StatusList` of a verified Status List Token (:func:`verify_token_claims` for the checks)."""
    return verify_token_claims(
        token, resolve_key, expected_uri=expected_uri, now=now, algorithms=algorithms, leeway=leeway
    ).status_list
