"""Presenting an SD-JWT (RFC 9901 clauses 4.3 and 5): a subset of the Disclosures and, optionally, a Key Binding JWT
(``typ`` ``kb+jwt``; ``iat``, ``aud``, ``nonce``, ``sd_hash`` — clause 4.3.1).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from trust.crypto.errors import (
    Code,
    InputError,
    InvalidKey,
)
from trust.crypto.signer import Signer
from trust.formats import jose
from trust.formats.sdjwt.disclosures import KB_JWT_TYP, ClaimPath, digest, encode_json, show_path
from trust.formats.sdjwt.processing import decode_all, find_holder_key, payload_of, process, sd_alg_of
from trust.formats.sdjwt.serialization import Parsed, parse, serialize


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
    parsed = parse(sd_jwt)
    if parsed.kb_jwt is not None:
        raise InputError("the SD-JWT already carries a KB-JWT; present from the issued SD-JWT")
    payload = payload_of(parsed)
    disclosures = decode_all(parsed.disclosures, sd_alg_of(payload))
    processed = process(payload, disclosures)
    if callable(disclose):
        predicate = disclose
    else:
        wanted = _normalize_selection(disclose)
        unknown = sorted(show_path(p) for p in wanted if p not in processed.known)
        if unknown:
            choices = [show_path(p) for p in _disclosable(processed.paths)]
            raise InputError(
                f"no such claim to disclose: {', '.join(unknown)}; "
                + (f"disclosable: {', '.join(choices)}" if choices else "this SD-JWT has nothing to disclose"),
                evidence={"unknown": unknown, "disclosable": choices},
            )

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
    return serialize(parsed, selected, kb_jwt)


def disclosable(sd_jwt: str | Mapping[str, Any]) -> list[ClaimPath]:
    """The claim paths a holder may choose to disclose (one per Disclosure, in the order of the payload's claims):
    what :func:`present` accepts, and what a holder's tool lists when asked for a claim that is not there."""
    parsed = parse(sd_jwt)
    payload = payload_of(parsed)
    return _disclosable(process(payload, decode_all(parsed.disclosures, sd_alg_of(payload))).paths)


def _disclosable(paths: Mapping[str, ClaimPath]) -> list[ClaimPath]:
    """The claim paths of the referenced Disclosures (``paths``: digest -> path), sorted."""
    return sorted(paths.values(), key=lambda path: [str(part) for part in path])


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
    parsed: Parsed,
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
    holder_key = find_holder_key(claims, required=True)
    if holder_key is None:
        raise InputError("the SD-JWT has no cnf.jwk: it is not bound to a holder key")
    if signer.public_key != holder_key:
        raise InvalidKey("the holder signer's key is not the key in cnf.jwk", code=Code.KEY_MISMATCH)
    body = {
        "iat": int(time.time()) if iat is None else int(iat),
        "aud": audience,
        "nonce": nonce,
        "sd_hash": digest(parsed.hash_input(selected), sd_alg_of(payload)),
    }
    return jose.sign_compact(encode_json(body), signer, headers={"typ": KB_JWT_TYP})
