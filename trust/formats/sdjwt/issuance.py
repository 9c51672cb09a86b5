"""Issuing an SD-JWT (RFC 9901 clause 4): disclosable object properties and array elements at any depth, sorted ``_sd``
digests, 128-bit salts, optional decoys, ``cnf.jwk`` for key binding.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from trust.crypto import base64url
from trust.crypto import jwk as huren_jwk
from trust.crypto.errors import (
    InputError,
)
from trust.crypto.signer import Signer
from trust.formats import jose
from trust.formats.sdjwt.disclosures import (
    DEFAULT_TYP,
    KB_JWT_TYP,
    MAX_DEPTH,
    NEVER_DISCLOSABLE,
    RESERVED_NAMES,
    SD_ALG,
    ClaimPath,
    digest,
    encode_json,
    new_salt,
    show_path,
)


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
                raise InputError(f"claim names must be strings, not {key!r} at {show_path(path)}")
            if key in RESERVED_NAMES or (key == "_sd_alg"):
                raise InputError(f"the claim name {key!r} is reserved by RFC 9901 (at {show_path(path)})")
            _check_claims(child, (*path, key), depth + 1)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _check_claims(child, (*path, index), depth + 1)


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
        encoded = base64url.encode(encode_json([salt, *elements]))
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
                digests.extend(
                    base64url.encode(hashlib.sha256(secrets.token_bytes(32)).digest()) for _ in range(self.decoys)
                )
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
    missing = sorted(show_path(p) for p in paths if not _exists(claims, p))
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
    jwt = jose.sign_compact(encode_json(payload), signer, headers=header)
    return "~".join([jwt, *issuer.disclosures, ""])
