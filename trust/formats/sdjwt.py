"""SD-JWT: selectively disclosable JWTs (RFC 9901), on the project's JOSE layer (:mod:`trust.formats.jose`).

A licence token that lets its holder show only chosen fields: the issuer signs a JWT whose disclosable claims
are replaced by salted digests; the holder presents that JWT with the *Disclosures* of the claims it chooses
to reveal and, when the verifier asks for it, a Key Binding JWT signed with the holder key named in ``cnf``.

* :func:`issue` — RFC 9901 clause 4: ``<issuer JWT>~<Disclosure>~...~``; object properties (clause 4.2.1) and
  array elements (4.2.2) at any depth, recursively (4.2.6); ``_sd`` digests sorted (4.2.4.1); 128-bit salts
  (4.2.1, 9.3); optional decoy digests (4.2.5); ``_sd_alg`` ``sha-256`` (4.1.1); ``cnf.jwk`` for key binding
  (4.1.2); header ``typ`` ``dc+sd-jwt`` unless the caller sets another.
* :func:`present` — clause 4.3/5: a subset of the Disclosures (with every Disclosure needed to reach them),
  optionally a KB-JWT (``typ`` ``kb+jwt``; ``iat``, ``aud``, ``nonce``, ``sd_hash`` — clause 4.3.1).
* :func:`verify` — clause 7: the issuer signature (7.1 step 2), Disclosures and digests processed recursively
  (7.1 step 3: no digest twice, every Disclosure referenced, no claim name clash, no ``_sd``/``...`` names, the
  right Disclosure shape for objects and arrays, ``_sd``/``_sd_alg`` and unreferenced decoys removed), ``exp``
  and ``nbf`` (7.1 step 4), and the KB-JWT (7.3: signature by ``cnf.jwk``, ``typ``, ``iat`` freshness,
  ``nonce``, ``aud``, ``sd_hash``).
* JSON serialization (clause 8): flattened and general forms are verified and presented; Disclosures and the
  KB-JWT travel in the unprotected header of the (first) signature, ``sd_hash`` is computed over the compact
  form built from the first signature (clause 8.1).

Only ``sha-256`` is implemented as ``_sd_alg`` (the one hash RFC 9901 requires); any other is refused with
:class:`UnsupportedDigestAlgorithm`. Signature algorithms are those of :mod:`trust.formats.jose` (``SM2``,
``RS*``, ``PS*``, ``ES*``): ``none``, HMAC and ``EdDSA`` are refused there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from trust.crypto import jwk as huren_jwk
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import (
    Code,
    EncodingError,
    InputError,
    InvalidKey,
    InvalidSignature,
    NotFoundError,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.crypto.keys import PublicKey
from trust.crypto.signer import Signer
from trust.formats import jose

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
_RESERVED_NAMES: Final = frozenset({"_sd", "..."})
_HASHES: Final[dict[str, Callable[[bytes], Any]]] = {"sha-256": hashlib.sha256}


# --- errors -----------------------------------------------------------------------------------------------


class SdJwtError(InputError):
    """Root of the SD-JWT errors: the presentation is not acceptable."""

    default_code = Code.INVALID_INPUT


class MalformedSdJwt(SdJwtError, EncodingError):
    """The serialization, a Disclosure, the payload or a KB-JWT is not what RFC 9901 prescribes."""

    default_code = Code.MALFORMED_ENCODING


class UnsupportedDigestAlgorithm(SdJwtError, UnsupportedAlgorithm):
    """``_sd_alg`` names a hash this implementation does not offer (only ``sha-256``)."""

    default_code = Code.UNSUPPORTED_ALGORITHM


class SdJwtSignatureInvalid(SdJwtError, InvalidSignature):
    """The issuer's signature over the SD-JWT does not verify."""

    default_code = Code.INVALID_SIGNATURE


class DisclosureError(SdJwtError):
    """The Disclosures do not fit the digests of the issuer-signed JWT (RFC 9901 clause 7.1 step 3)."""

    default_code = Code.DISCLOSURE_INVALID


class DuplicateDisclosure(DisclosureError):
    """The same Disclosure (the same digest) is presented twice."""


class UnreferencedDisclosure(DisclosureError):
    """A Disclosure whose digest appears nowhere in the issuer-signed JWT or in another Disclosure."""


class DuplicateDigest(DisclosureError):
    """A digest appears more than once in the payload and the Disclosures."""


class ClaimConflict(DisclosureError):
    """A disclosed claim clashes with an existing claim, or uses a reserved name (``_sd``, ``...``)."""


class SdJwtExpired(SdJwtError):
    """``exp`` has passed or ``nbf`` has not come yet."""


class KeyBindingError(SdJwtError):
    """The Key Binding JWT is missing or does not bind this presentation (RFC 9901 clause 7.3)."""

    default_code = Code.KEY_BINDING_FAILED


class KeyBindingMissing(KeyBindingError):
    """Key binding is required and the presentation has no KB-JWT."""


class NonceMismatch(KeyBindingError):
    """The KB-JWT's ``nonce`` is not the verifier's."""


class AudienceMismatch(KeyBindingError):
    """The KB-JWT's ``aud`` is not the verifier."""


class KeyBindingNotFresh(KeyBindingError):
    """The KB-JWT's ``iat`` is too old or in the future."""


class SdHashMismatch(KeyBindingError):
    """The KB-JWT's ``sd_hash`` is not the digest of the presented SD-JWT."""


class KeyBindingSignatureInvalid(KeyBindingError, InvalidSignature):
    """The KB-JWT is not signed by the holder key in ``cnf.jwk``."""

    default_code = Code.INVALID_SIGNATURE


# --- Disclosures --------------------------------------------------------------------------------------------


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


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _hash(sd_alg: str) -> Callable[[bytes], Any]:
    try:
        return _HASHES[sd_alg]
    except KeyError:
        raise UnsupportedDigestAlgorithm(
            f"_sd_alg {sd_alg!r} is not supported (only sha-256)", evidence={"sd_alg": str(sd_alg)}
        ) from None


def digest(encoded: str, sd_alg: str = SD_ALG) -> str:
    """The digest of a Disclosure or of a presented SD-JWT: base64url of the hash over its ASCII text."""
    return _b64u(_hash(sd_alg)(encoded.encode("ascii")).digest())


def _strict_loads(data: bytes, what: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise MalformedSdJwt(f"{what} has the member {key!r} twice")
            result[key] = value
        return result

    def no_constants(name: str) -> Any:
        raise MalformedSdJwt(f"{what} contains {name}, which is not JSON")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedSdJwt(f"{what} is not UTF-8 JSON: {exc}") from None


def decode_disclosure(encoded: str, sd_alg: str = SD_ALG) -> Disclosure:
    """Parse one Disclosure (RFC 9901 clause 4.2); raises :class:`MalformedSdJwt` for any other shape."""
    try:
        raw = jose.b64u_decode(encoded, "Disclosure")
    except EncodingError as exc:
        raise MalformedSdJwt(f"Disclosure is not base64url: {exc.message}") from None
    value = _strict_loads(raw, "Disclosure")
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise MalformedSdJwt("a Disclosure must be a JSON array of 2 (array element) or 3 (property) elements")
    if not isinstance(value[0], str) or not value[0]:
        raise MalformedSdJwt("a Disclosure's salt must be a non-empty string")
    if len(value) == 3:
        if not isinstance(value[1], str):
            raise MalformedSdJwt("a Disclosure's claim name must be a string")
        if value[1] in _RESERVED_NAMES:
            raise ClaimConflict(f"a Disclosure must not disclose a claim named {value[1]!r}")
        return Disclosure(encoded, value[0], value[1], value[2], digest(encoded, sd_alg))
    return Disclosure(encoded, value[0], None, value[1], digest(encoded, sd_alg))


def new_salt() -> str:
    """A fresh 128-bit salt, base64url (RFC 9901 clause 4.2.1 and 9.3)."""
    return _b64u(secrets.token_bytes(SALT_BYTES))


def _encode_json(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InputError(f"claims must be JSON values: {exc}") from None


# --- serializations -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """An SD-JWT or SD-JWT+KB in any serialization, split but not verified."""

    protected: str  # the issuer JWS (for JSON: its first signature) as base64url parts
    payload: str
    signature: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None
    form: Literal["compact", "flattened", "general"]
    document: Mapping[str, Any] | None = None  # JSON serialization as received
    as_text: bool = True  # JSON given as text (answer with text) or as a mapping

    @property
    def issuer_jws(self) -> str:
        return f"{self.protected}.{self.payload}.{self.signature}"

    def hash_input(self, disclosures: Sequence[str] | None = None) -> str:
        """``<issuer JWS>~<Disclosure>~...~`` — what ``sd_hash`` covers (clause 4.3.1, 8.1)."""
        chosen = self.disclosures if disclosures is None else disclosures
        return "~".join([self.issuer_jws, *chosen, ""])


_UNPROTECTED_ALLOWED: Final = frozenset({"disclosures", "kb_jwt", "kid"})


def _unprotected(entry: Mapping[str, Any], first: bool) -> tuple[tuple[str, ...], str | None]:
    header = entry.get("header", {})
    if not isinstance(header, Mapping):
        raise MalformedSdJwt("the unprotected JWS header must be a JSON object")
    extra = sorted(set(header) - _UNPROTECTED_ALLOWED)
    if extra:
        raise MalformedSdJwt(
            f"unprotected header members {', '.join(extra)} are not accepted (only disclosures, kb_jwt, kid)"
        )
    if not first and ("disclosures" in header or "kb_jwt" in header):
        raise MalformedSdJwt("disclosures and kb_jwt belong in the unprotected header of the first signature only")
    disclosures = header.get("disclosures", [])
    if not isinstance(disclosures, list) or not all(isinstance(d, str) and d for d in disclosures):
        raise MalformedSdJwt("the disclosures header member must be an array of non-empty strings")
    kb_jwt = header.get("kb_jwt")
    if kb_jwt is not None and (not isinstance(kb_jwt, str) or not kb_jwt):
        raise MalformedSdJwt("the kb_jwt header member must be a non-empty string")
    return tuple(disclosures), kb_jwt


def _parse(presentation: str | bytes | Mapping[str, Any]) -> _Parsed:
    as_text = True
    if isinstance(presentation, bytes):
        try:
            presentation = presentation.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedSdJwt("SD-JWT is not UTF-8 text") from None
    if isinstance(presentation, str):
        if len(presentation) > MAX_PRESENTATION_BYTES:
            raise InputError(
                f"SD-JWT of {len(presentation)} characters exceeds {MAX_PRESENTATION_BYTES}",
                code=Code.INPUT_TOO_LARGE,
            )
        text = presentation.strip()
        if not text.startswith("{"):
            return _parse_compact(text)
        document = _strict_loads(text.encode("utf-8"), "SD-JWT JSON serialization")
    elif isinstance(presentation, Mapping):
        document, as_text = presentation, False
    else:
        raise MalformedSdJwt(f"an SD-JWT is text or a JSON object, not {type(presentation).__name__}")
    return _parse_json(document, as_text)


def _parse_compact(text: str) -> _Parsed:
    parts = text.split("~")
    if len(parts) < 2:
        raise MalformedSdJwt("an SD-JWT is <issuer JWT>~<Disclosures>~[<KB-JWT>]; no '~' found")
    jws_parts = parts[0].split(".")
    if len(jws_parts) != 3:
        raise MalformedSdJwt(f"the issuer-signed JWT needs 3 parts, found {len(jws_parts)}")
    disclosures = parts[1:-1]
    if any(not d for d in disclosures):
        raise MalformedSdJwt("empty Disclosure ('~~') in the SD-JWT")
    if len(disclosures) > MAX_DISCLOSURES:
        raise InputError(f"more than {MAX_DISCLOSURES} Disclosures", code=Code.INPUT_TOO_LARGE)
    kb_jwt = parts[-1] or None
    return _Parsed(jws_parts[0], jws_parts[1], jws_parts[2], tuple(disclosures), kb_jwt, "compact")


def _parse_json(document: Any, as_text: bool) -> _Parsed:
    if not isinstance(document, Mapping) or not isinstance(document.get("payload"), str):
        raise MalformedSdJwt("an SD-JWT in JSON serialization needs a payload member")
    if "signatures" in document:
        if any(m in document for m in ("protected", "signature", "header")):
            raise MalformedSdJwt("JSON serialization mixes the general and the flattened form")
        signatures = document["signatures"]
        if not isinstance(signatures, list) or not signatures:
            raise MalformedSdJwt("general JSON serialization needs a non-empty signatures array")
        entries, form = signatures, "general"
    else:
        entries, form = [document], "flattened"
    disclosures: tuple[str, ...] = ()
    kb_jwt = None
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise MalformedSdJwt("each JWS signature must be a JSON object")
        if not isinstance(entry.get("protected"), str) or not isinstance(entry.get("signature"), str):
            raise MalformedSdJwt("each JWS signature needs protected and signature members (strings)")
        found, kb = _unprotected(entry, first=index == 0)
        if index == 0:
            disclosures, kb_jwt = found, kb
    if len(disclosures) > MAX_DISCLOSURES:
        raise InputError(f"more than {MAX_DISCLOSURES} Disclosures", code=Code.INPUT_TOO_LARGE)
    first = entries[0]
    return _Parsed(
        first["protected"],
        document["payload"],
        first["signature"],
        disclosures,
        kb_jwt,
        "general" if form == "general" else "flattened",
        document,
        as_text,
    )


def _serialize(parsed: _Parsed, disclosures: Sequence[str], kb_jwt: str | None) -> Any:
    """The same serialization as ``parsed`` with other Disclosures and KB-JWT."""
    if parsed.form == "compact":
        return "~".join([parsed.issuer_jws, *disclosures, kb_jwt or ""])
    assert parsed.document is not None
    document = json.loads(json.dumps(parsed.document))  # a deep copy of plain JSON
    entry = document if parsed.form == "flattened" else document["signatures"][0]
    header = {k: v for k, v in entry.get("header", {}).items() if k == "kid"}
    header["disclosures"] = list(disclosures)
    if kb_jwt:
        header["kb_jwt"] = kb_jwt
    entry["header"] = header
    return json.dumps(document, ensure_ascii=False) if parsed.as_text else document


def to_json_serialization(sd_jwt: str) -> dict[str, Any]:
    """An SD-JWT (or SD-JWT+KB) in compact form as the flattened JSON serialization (RFC 9901 clause 8.1).

    The ``sd_hash`` of a KB-JWT is the same in both forms, so a bound presentation survives the conversion.
    """
    parsed = _parse_compact(sd_jwt.strip())
    header: dict[str, Any] = {"disclosures": list(parsed.disclosures)}
    if parsed.kb_jwt:
        header["kb_jwt"] = parsed.kb_jwt
    return {"header": header, "payload": parsed.payload, "protected": parsed.protected, "signature": parsed.signature}


# --- issuance -----------------------------------------------------------------------------------------------


def _normalize_paths(disclosable: Iterable[str | Sequence[str | int]]) -> set[ClaimPath]:
    paths: set[ClaimPath] = set()
    for item in disclosable:
        path: ClaimPath = (item,) if isinstance(item, str) else tuple(item)
        if not path or not all(isinstance(p, str) or (isinstance(p, int) and not isinstance(p, bool)) for p in path):
            raise InputError(f"a disclosable claim is a name or a path of names and indexes, not {item!r}")
        if not isinstance(path[0], str):
            raise InputError(f"a claim path starts with a top-level claim name, not {path[0]!r}")
        if path[0] in NEVER_DISCLOSABLE:
            raise InputError(f"the claim {path[0]!r} must stay readable and cannot be selectively disclosable")
        paths.add(path)
    return paths


def _check_claims(value: Any, path: ClaimPath, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InputError(f"claims nest deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        for key, child in value.items():
            if not isinstance(key, str):
                raise InputError(f"claim names must be strings, not {key!r} at {_show(path)}")
            if key in _RESERVED_NAMES or (key == "_sd_alg"):
                raise InputError(f"the claim name {key!r} is reserved by RFC 9901 (at {_show(path)})")
            _check_claims(child, (*path, key), depth + 1)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _check_claims(child, (*path, index), depth + 1)


def _show(path: ClaimPath) -> str:
    return "/" + "/".join(str(p) for p in path)


def _exists(claims: Any, path: ClaimPath) -> bool:
    node = claims
    for step in path:
        in_object = isinstance(step, str) and isinstance(node, Mapping) and step in node
        in_array = isinstance(step, int) and isinstance(node, list | tuple) and 0 <= step < len(node)
        if not (in_object or in_array):
            return False
        node = node[step]
    return True


class _Issuer:
    def __init__(self, paths: set[ClaimPath], salt_source: Callable[[], str], decoys: int):
        self.paths = paths
        self.salt_source = salt_source
        self.decoys = decoys
        self.disclosures: list[str] = []
        self.salts: set[str] = set()

    def _disclose(self, elements: list[Any]) -> str:
        salt = self.salt_source()
        if not isinstance(salt, str) or not salt:
            raise InputError("salt_source must return non-empty strings")
        if salt in self.salts:
            raise InputError("salt_source returned the same salt twice; salts must be unique")
        self.salts.add(salt)
        encoded = _b64u(_encode_json([salt, *elements]))
        self.disclosures.append(encoded)
        return digest(encoded)

    def conceal(self, value: Any, path: ClaimPath) -> Any:
        """``value`` with every disclosable claim below it replaced by its digest (children first)."""
        if isinstance(value, Mapping):
            result: dict[str, Any] = {}
            digests: list[str] = []
            for key, child in value.items():
                concealed = self.conceal(child, (*path, key))
                if (*path, key) in self.paths:
                    digests.append(self._disclose([key, concealed]))
                else:
                    result[key] = concealed
            if digests:
                digests.extend(_b64u(hashlib.sha256(secrets.token_bytes(32)).digest()) for _ in range(self.decoys))
                result["_sd"] = sorted(digests)
            return result
        if isinstance(value, list | tuple):
            elements = []
            for index, child in enumerate(value):
                concealed = self.conceal(child, (*path, index))
                if (*path, index) in self.paths:
                    elements.append({"...": self._disclose([concealed])})
                else:
                    elements.append(concealed)
            return elements
        return value


def issue(
    claims: Mapping[str, Any],
    disclosable: Iterable[str | Sequence[str | int]],
    signer: Signer,
    *,
    headers: Mapping[str, Any] | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    salt_source: Callable[[], str] = new_salt,
    decoys: int = 0,
) -> str:
    """Issue an SD-JWT ``<issuer JWT>~<Disclosure>~...~`` signed by ``signer``.

    ``disclosable`` names the claims the holder may later disclose one by one: top-level names, or paths
    (tuples of member names and array indexes) for nested claims and array elements; a path and its parent
    may both be disclosable (recursive disclosure). ``headers`` go into the protected header (``typ`` defaults
    to ``dc+sd-jwt``). ``holder_jwk`` (a public JWK) binds the token to the holder: ``cnf.jwk``. ``decoys``
    adds that many decoy digests to every ``_sd`` array. ``iss``, ``exp``, ``nbf``, ``cnf``, ``vct`` and
    ``status`` must stay readable and cannot be disclosable.
    """
    if not isinstance(claims, Mapping):
        raise InputError("SD-JWT claims must be a JSON object")
    if not isinstance(decoys, int) or isinstance(decoys, bool) or not 0 <= decoys <= 64:
        raise InputError("decoys must be an integer between 0 and 64")
    _check_claims(claims, ())
    paths = _normalize_paths(disclosable)
    missing = sorted(_show(p) for p in paths if not _exists(claims, p))
    if missing:
        raise InputError(f"disclosable claims not present in the claims: {', '.join(missing)}")
    body = dict(claims)
    if holder_jwk is not None:
        if "cnf" in body:
            raise InputError("claims already carry cnf; pass the holder key either as cnf or as holder_jwk")
        body["cnf"] = {"jwk": huren_jwk.public_jwk(jose.public_key_for_verification(holder_jwk))}
    issuer = _Issuer(paths, salt_source, decoys)
    payload = issuer.conceal(body, ())
    payload["_sd_alg"] = SD_ALG
    header = dict(headers or {})
    header.setdefault("typ", DEFAULT_TYP)
    if header["typ"] == KB_JWT_TYP:
        raise InputError("an issuer-signed JWT must not be typed kb+jwt")
    jwt = jose.sign_compact(_encode_json(payload), signer, headers=header)
    return "~".join([jwt, *issuer.disclosures, ""])


# --- processing (shared by presentation and verification) ---------------------------------------------------


@dataclass
class _Processed:
    claims: dict[str, Any]
    paths: dict[str, ClaimPath]  # digest of each referenced Disclosure -> where its claim sits
    parents: dict[str, str | None]  # digest -> digest of the Disclosure that holds it (None: the payload)
    known: set[ClaimPath]  # every claim path of the processed claims (array indexes as issued)


def _process(payload: Mapping[str, Any], disclosures: Sequence[Disclosure]) -> _Processed:
    """RFC 9901 clause 7.1 step 3 over ``payload`` with ``disclosures`` (already checked for duplicates)."""
    by_digest = {d.digest: d for d in disclosures}
    seen: set[str] = set()
    paths: dict[str, ClaimPath] = {}
    parents: dict[str, str | None] = {}
    known: set[ClaimPath] = set()

    def note(found: Any, where: ClaimPath) -> Disclosure | None:
        if not isinstance(found, str):
            raise MalformedSdJwt(f"digests must be strings (at {_show(where)})")
        if found in seen:
            raise DuplicateDigest(
                f"the digest {found} appears more than once (at {_show(where)})", evidence={"digest": found}
            )
        seen.add(found)
        return by_digest.get(found)

    def walk(value: Any, path: ClaimPath, holder: str | None, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise MalformedSdJwt(f"the payload nests deeper than {MAX_DEPTH} levels")
        known.add(path)
        if isinstance(value, dict):
            if "_sd_alg" in value and depth > 0:
                raise MalformedSdJwt(f"_sd_alg may appear only at the top level, found at {_show(path)}")
            sd = value.get("_sd", [])
            if not isinstance(sd, list):
                raise MalformedSdJwt(f"_sd must be an array of digests (at {_show(path)})")
            result: dict[str, Any] = {}
            for key, child in value.items():
                if key in ("_sd", "_sd_alg"):
                    continue
                result[key] = walk(child, (*path, key), holder, depth + 1)
            for found in sd:
                disclosure = note(found, path)
                if disclosure is None:
                    continue  # a decoy, or a claim the holder did not disclose
                if disclosure.name is None:
                    raise DisclosureError(
                        f"an array-element Disclosure is referenced from the _sd array at {_show(path)}",
                        evidence={"digest": disclosure.digest},
                    )
                if disclosure.name in result:
                    raise ClaimConflict(
                        f"the disclosed claim {disclosure.name!r} already exists at {_show(path)}",
                        evidence={"claim": disclosure.name},
                    )
                where = (*path, disclosure.name)
                paths[disclosure.digest], parents[disclosure.digest] = where, holder
                result[disclosure.name] = walk(disclosure.value, where, disclosure.digest, depth + 1)
            return result
        if isinstance(value, list):
            elements = []
            for index, child in enumerate(value):
                where = (*path, index)
                if isinstance(child, dict) and "..." in child:
                    if len(child) != 1:
                        raise MalformedSdJwt(f"an array element with '...' must have no other member ({_show(where)})")
                    disclosure = note(child["..."], where)
                    if disclosure is None:
                        continue  # undisclosed or decoy element: removed
                    if disclosure.name is not None:
                        raise DisclosureError(
                            f"an object-property Disclosure is referenced as the array element {_show(where)}",
                            evidence={"digest": disclosure.digest},
                        )
                    paths[disclosure.digest], parents[disclosure.digest] = where, holder
                    elements.append(walk(disclosure.value, where, disclosure.digest, depth + 1))
                else:
                    elements.append(walk(child, where, holder, depth + 1))
            return elements
        return value

    claims = walk(payload, (), None, 0)
    unreferenced = [d for d in disclosures if d.digest not in paths]
    if unreferenced:
        raise UnreferencedDisclosure(
            f"{len(unreferenced)} Disclosure(s) are not referenced by the issuer-signed JWT "
            f"(first: digest {unreferenced[0].digest})",
            evidence={"digests": [d.digest for d in unreferenced]},
        )
    return _Processed(claims, paths, parents, known)


def _decode_all(encoded: Sequence[str], sd_alg: str) -> list[Disclosure]:
    decoded = [decode_disclosure(e, sd_alg) for e in encoded]
    seen: set[str] = set()
    for d in decoded:
        if d.digest in seen:
            raise DuplicateDisclosure(f"the Disclosure with digest {d.digest} is presented twice")
        seen.add(d.digest)
    return decoded


def _payload_of(parsed: _Parsed) -> dict[str, Any]:
    try:
        raw = jose.b64u_decode(parsed.payload, "payload")
    except EncodingError as exc:
        raise MalformedSdJwt(f"SD-JWT payload: {exc.message}") from None
    payload = _strict_loads(raw, "SD-JWT payload")
    if not isinstance(payload, dict):
        raise MalformedSdJwt("the SD-JWT payload must be a JSON object")
    return payload


def _sd_alg(payload: Mapping[str, Any]) -> str:
    sd_alg = payload.get("_sd_alg", SD_ALG)
    if not isinstance(sd_alg, str):
        raise MalformedSdJwt("_sd_alg must be a string")
    _hash(sd_alg)
    return sd_alg


# --- presentation -------------------------------------------------------------------------------------------


def present(
    sd_jwt: str | Mapping[str, Any],
    disclose: Iterable[str | Sequence[str | int]] | Callable[[ClaimPath], bool],
    *,
    holder_signer: Signer | None = None,
    nonce: str | None = None,
    audience: str | None = None,
    iat: int | None = None,
) -> Any:
    """A presentation of ``sd_jwt`` disclosing only what ``disclose`` selects, optionally key-bound.

    ``disclose`` is either claim names/paths — each selects the claim at that path *with everything below
    it* — or a predicate over :data:`ClaimPath` that selects individual Disclosures. Either way the
    Disclosures needed to reach a selected one (its ancestors) are included. With ``holder_signer`` a KB-JWT
    over ``nonce`` and ``audience`` is appended; the signer must hold the key in ``cnf.jwk``.

    The answer has the serialization of ``sd_jwt``: compact text, or JSON (text or mapping, as given).
    """
    parsed = _parse(sd_jwt)
    if parsed.kb_jwt is not None:
        raise InputError("the SD-JWT already carries a KB-JWT; present from the issued SD-JWT")
    payload = _payload_of(parsed)
    disclosures = _decode_all(parsed.disclosures, _sd_alg(payload))
    processed = _process(payload, disclosures)
    if callable(disclose):
        predicate = disclose
    else:
        wanted = _normalize_selection(disclose)
        unknown = sorted(_show(p) for p in wanted if p not in processed.known)
        if unknown:
            raise InputError(f"no such claim to disclose: {', '.join(unknown)}")

        def predicate(path: ClaimPath) -> bool:
            return any(path[: len(w)] == w for w in wanted)

    chosen: set[str] = set()
    for d in disclosures:
        if predicate(processed.paths[d.digest]):
            current: str | None = d.digest
            while current is not None and current not in chosen:
                chosen.add(current)
                current = processed.parents[current]
    selected = [d.encoded for d in disclosures if d.digest in chosen]

    kb_jwt = None
    if holder_signer is not None:
        kb_jwt = _key_binding_jwt(parsed, selected, processed.claims, payload, holder_signer, nonce, audience, iat)
    elif nonce is not None or audience is not None:
        raise InputError("nonce and audience belong in a KB-JWT: pass holder_signer as well")
    return _serialize(parsed, selected, kb_jwt)


def _normalize_selection(disclose: Iterable[str | Sequence[str | int]]) -> list[ClaimPath]:
    if isinstance(disclose, str | bytes):
        raise InputError("disclose takes a collection of claim names or paths, not a single string")
    wanted: list[ClaimPath] = []
    for item in disclose:
        path: ClaimPath = (item,) if isinstance(item, str) else tuple(item)
        if not path:
            raise InputError("an empty claim path selects nothing")
        wanted.append(path)
    return wanted


def _key_binding_jwt(
    parsed: _Parsed,
    selected: Sequence[str],
    claims: Mapping[str, Any],
    payload: Mapping[str, Any],
    signer: Signer,
    nonce: str | None,
    audience: str | None,
    iat: int | None,
) -> str:
    if not isinstance(nonce, str) or not nonce or not isinstance(audience, str) or not audience:
        raise InputError("a KB-JWT needs a nonce and an audience (non-empty strings) from the verifier")
    holder_key = _holder_key(claims, required=True)
    if holder_key is None:
        raise InputError("the SD-JWT has no cnf.jwk: it is not bound to a holder key")
    if signer.public_key != holder_key:
        raise InvalidKey("the holder signer's key is not the key in cnf.jwk", code=Code.KEY_MISMATCH)
    body = {
        "iat": int(time.time()) if iat is None else int(iat),
        "aud": audience,
        "nonce": nonce,
        "sd_hash": digest(parsed.hash_input(selected), _sd_alg(payload)),
    }
    return jose.sign_compact(_encode_json(body), signer, headers={"typ": KB_JWT_TYP})


def _holder_key(claims: Mapping[str, Any], *, required: bool) -> PublicKey | None:
    """The key in ``cnf.jwk`` (RFC 7800); ``None`` without ``cnf``.

    When key binding needs the key, anything but a usable public ``cnf.jwk`` is refused (other confirmation
    methods such as ``kid`` or ``jkt`` are not supported). When it does not, an unusable ``cnf`` is left alone
    and gives ``None`` (RFC 9901 leaves ``cnf`` to the key binding check; one of its examples carries a
    placeholder RSA key).
    """
    cnf = claims.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, Mapping) or not isinstance(cnf.get("jwk"), Mapping):
        if required:
            raise UnsupportedAlgorithm("cnf must hold a jwk (other confirmation methods are not supported)")
        return None
    try:
        return jose.public_key_for_verification(cnf["jwk"])
    except TrustError:
        if required:
            raise
        return None


# --- verification -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedSdJwt:
    """A verified SD-JWT: the processed claims and the evidence behind them."""

    payload: dict[str, Any]  # the claims with the disclosed ones in place, _sd/_sd_alg and decoys removed
    disclosed: tuple[Disclosure, ...]  # in presentation order
    header: dict[str, Any]  # the issuer JWT's protected header
    issuer_key: PublicKey
    algorithm: SignatureAlgorithm
    holder_key: PublicKey | None  # cnf.jwk, if the SD-JWT is bound to a holder key
    key_binding: dict[str, Any] | None  # the verified KB-JWT payload, if one was presented
    paths: Mapping[str, ClaimPath]  # digest of each disclosed Disclosure -> where its claim sits

    def path_of(self, disclosure: Disclosure) -> ClaimPath:
        """Where ``disclosure`` put its claim (array indexes count the elements as issued)."""
        return self.paths[disclosure.digest]


def _timestamp(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise InputError("now must be an aware datetime (or seconds since the epoch)")
        return now.timestamp()
    return float(now)


def _numeric(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedSdJwt(f"{name} must be a NumericDate (seconds since the epoch)")
    return float(value)


def _verify_issuer(
    parsed: _Parsed, resolve_issuer_key: Callable[[dict[str, Any]], PublicKey], algorithms: Sequence[str]
) -> tuple[dict[str, Any], PublicKey, SignatureAlgorithm]:
    """RFC 9901 clause 7.1 step 2: the issuer signature (for the general form, see :func:`verify`)."""
    try:
        if parsed.form == "compact":
            verified = jose.verify_compact(parsed.issuer_jws, resolve_issuer_key, algorithms=algorithms)
            header = verified.header
            if header.get("typ") == KB_JWT_TYP:
                raise MalformedSdJwt("the issuer-signed JWT is typed kb+jwt")
            return header, verified.key, verified.algorithm
        assert parsed.document is not None
        entries = parsed.document["signatures"] if parsed.form == "general" else [parsed.document]
        stripped = {
            "payload": parsed.payload,
            "signatures": [{"protected": e["protected"], "signature": e["signature"]} for e in entries],
        }
        _payload, signatures = jose.parse_json(stripped)
        found: tuple[dict[str, Any], PublicKey, SignatureAlgorithm] | None = None
        for entry, item in zip(entries, signatures, strict=True):
            hint = entry.get("header", {}).get("kid")
            lookup = dict(item.header)
            if "kid" in lookup and hint is not None:
                raise MalformedSdJwt("kid is both in the protected and in the unprotected header")
            if hint is not None:
                lookup["kid"] = hint  # a lookup hint only: the key found must still verify the signature
            try:
                key = resolve_issuer_key(lookup)
            except NotFoundError:
                if parsed.form == "flattened":
                    raise
                continue  # a signature by a key this verifier does not know
            algorithm = jose.verify_json_signature(item, key, algorithms=algorithms)
            if item.header.get("typ") == KB_JWT_TYP:
                raise MalformedSdJwt("the issuer-signed JWT is typed kb+jwt")
            if found is None:
                found = (item.header, key, algorithm)
        if found is None:
            raise NotFoundError("none of the SD-JWT's signatures is by a key this verifier knows")
        return found
    except InvalidSignature as exc:
        raise SdJwtSignatureInvalid(f"the issuer signature of the SD-JWT does not verify: {exc.message}") from None


def verify(
    presentation: str | bytes | Mapping[str, Any],
    resolve_issuer_key: Callable[[dict[str, Any]], PublicKey],
    *,
    algorithms: Sequence[str],
    expected_nonce: str | None = None,
    expected_audience: str | None = None,
    require_key_binding: bool = False,
    now: float | datetime | None = None,
    max_kb_age: float = DEFAULT_MAX_KB_AGE,
    leeway: float = DEFAULT_LEEWAY,
    expected_typ: str | None = None,
    kb_algorithms: Sequence[str] | None = None,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB (compact, or JSON flattened/general) per RFC 9901 clause 7.

    ``resolve_issuer_key(header)`` returns the issuer's key for the protected header (raise
    :class:`~trust.crypto.errors.NotFoundError` for an unknown issuer). In the general JSON form every
    signature whose key resolves must verify and at least one must; an unprotected ``kid`` is passed to the
    resolver as a lookup hint. ``algorithms`` (and ``kb_algorithms``, default the same) are the allowed JWS
    ``alg`` values. With ``require_key_binding`` a KB-JWT must be present and ``expected_nonce`` and
    ``expected_audience`` are required; a KB-JWT that is present is always verified. ``expected_typ``, if
    given, must equal the issuer JWT's ``typ``. ``now`` (seconds or aware datetime) is the time of
    verification, for ``exp``/``nbf`` and the KB-JWT's ``iat`` (at most ``max_kb_age`` seconds old).

    Raises a :class:`~trust.crypto.errors.TrustError`: :class:`SdJwtError` subclasses for SD-JWT failures,
    the JOSE layer's errors for refused headers, algorithms and keys.
    """
    if require_key_binding and (expected_nonce is None or expected_audience is None):
        raise InputError(
            "require_key_binding needs expected_nonce and expected_audience to check the KB-JWT against",
            code=Code.USAGE,
        )
    at = _timestamp(now)
    parsed = _parse(presentation)
    # Step 2: the issuer signature.
    header, issuer_key, algorithm = _verify_issuer(parsed, resolve_issuer_key, algorithms)
    if expected_typ is not None and header.get("typ") != expected_typ:
        raise MalformedSdJwt(
            f"the issuer JWT is typed {header.get('typ')!r}, expected {expected_typ!r}",
            evidence={"expected": expected_typ, "found": str(header.get("typ"))},
        )
    payload = _payload_of(parsed)
    sd_alg = _sd_alg(payload)
    # Step 3: the Disclosures and the digests.
    disclosures = _decode_all(parsed.disclosures, sd_alg)
    processed = _process(payload, disclosures)
    claims = processed.claims
    # Step 4: validity.
    if "exp" in claims and at >= _numeric(claims["exp"], "exp") + leeway:
        raise SdJwtExpired(f"the SD-JWT expired at {claims['exp']}", evidence={"exp": claims["exp"], "now": int(at)})
    if "nbf" in claims and at + leeway < _numeric(claims["nbf"], "nbf"):
        raise SdJwtExpired(
            f"the SD-JWT is not valid before {claims['nbf']}", evidence={"nbf": claims["nbf"], "now": int(at)}
        )
    holder_key = _holder_key(claims, required=parsed.kb_jwt is not None or require_key_binding)
    # Clause 7.3: key binding.
    key_binding = None
    if parsed.kb_jwt is None:
        if require_key_binding:
            raise KeyBindingMissing("key binding is required and the presentation has no KB-JWT")
    else:
        if holder_key is None:
            raise KeyBindingError("a KB-JWT is presented but the SD-JWT has no cnf.jwk to check it with")
        key_binding = _verify_key_binding(
            parsed,
            holder_key,
            sd_alg,
            kb_algorithms if kb_algorithms is not None else algorithms,
            expected_nonce,
            expected_audience,
            at,
            max_kb_age,
            leeway,
        )
    result = VerifiedSdJwt(
        payload=claims,
        disclosed=tuple(disclosures),
        header=header,
        issuer_key=issuer_key,
        algorithm=algorithm,
        holder_key=holder_key,
        key_binding=key_binding,
        paths=dict(processed.paths),
    )
    return result


def _verify_key_binding(
    parsed: _Parsed,
    holder_key: PublicKey,
    sd_alg: str,
    algorithms: Sequence[str],
    nonce: str | None,
    audience: str | None,
    at: float,
    max_age: float,
    leeway: float,
) -> dict[str, Any]:
    assert parsed.kb_jwt is not None
    try:
        verified = jose.verify_compact(parsed.kb_jwt, lambda _header: holder_key, algorithms=algorithms)
    except InvalidSignature as exc:
        raise KeyBindingSignatureInvalid(f"the KB-JWT is not signed by the holder key: {exc.message}") from None
    except InvalidKey as exc:
        if exc.code is not Code.KEY_MISMATCH:
            raise
        raise KeyBindingSignatureInvalid(f"the KB-JWT's alg does not fit the holder key: {exc.message}") from None
    if verified.header.get("typ") != KB_JWT_TYP:
        raise KeyBindingError(
            f"the KB-JWT must be typed kb+jwt, found {verified.header.get('typ')!r}",
            evidence={"expected": KB_JWT_TYP, "found": str(verified.header.get("typ"))},
        )
    body = _strict_loads(verified.payload, "KB-JWT payload")
    if not isinstance(body, dict):
        raise MalformedSdJwt("the KB-JWT payload must be a JSON object")
    for name in ("nonce", "aud", "sd_hash"):
        if not isinstance(body.get(name), str):
            raise KeyBindingError(f"the KB-JWT lacks {name} (a string)")
    if "iat" not in body:
        raise KeyBindingError("the KB-JWT lacks iat")
    issued = _numeric(body["iat"], "KB-JWT iat")
    if nonce is not None and not hmac.compare_digest(body["nonce"].encode(), nonce.encode()):
        raise NonceMismatch("the KB-JWT nonce is not the one this verifier issued", evidence={"expected": nonce})
    if audience is not None and body["aud"] != audience:
        raise AudienceMismatch(
            f"the KB-JWT is for {body['aud']!r}, not for {audience!r}",
            evidence={"expected": audience, "found": body["aud"]},
        )
    if issued > at + leeway:
        raise KeyBindingNotFresh(
            f"the KB-JWT was issued in the future (iat {body['iat']})", evidence={"iat": body["iat"], "now": int(at)}
        )
    if issued < at - max_age - leeway:
        raise KeyBindingNotFresh(
            f"the KB-JWT is {int(at - issued)} s old; at most {int(max_age)} s are accepted",
            evidence={"iat": body["iat"], "now": int(at)},
        )
    expected_hash = digest(parsed.hash_input(), sd_alg)
    if not hmac.compare_digest(body["sd_hash"].encode(), expected_hash.encode()):
        raise SdHashMismatch(
            "the KB-JWT's sd_hash does not match the presented SD-JWT (other Disclosures or another token)",
            evidence={"expected": expected_hash, "found": body["sd_hash"]},
        )
    return body


__all__ = [
    "DEFAULT_TYP",
    "KB_JWT_TYP",
    "NEVER_DISCLOSABLE",
    "SD_ALG",
    "AudienceMismatch",
    "ClaimConflict",
    "ClaimPath",
    "Disclosure",
    "DisclosureError",
    "DuplicateDigest",
    "DuplicateDisclosure",
    "KeyBindingError",
    "KeyBindingMissing",
    "KeyBindingNotFresh",
    "KeyBindingSignatureInvalid",
    "MalformedSdJwt",
    "NonceMismatch",
    "SdHashMismatch",
    "SdJwtError",
    "SdJwtExpired",
    "SdJwtSignatureInvalid",
    "UnreferencedDisclosure",
    "UnsupportedDigestAlgorithm",
    "VerifiedSdJwt",
    "decode_disclosure",
    "digest",
    "issue",
    "new_salt",
    "present",
    "to_json_serialization",
    "verify",
]
