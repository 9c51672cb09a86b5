"""Processing Disclosures against the issuer-signed payload (RFC 9901 clause 7.1 step 3), shared by presentation and
verification: every digest once, every Disclosure referenced, no claim name clash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trust.crypto import base64url
from trust.crypto.errors import (
    EncodingError,
    TrustError,
    UnsupportedAlgorithm,
)
from trust.crypto.keys import PublicKey
from trust.formats import jose
from trust.formats.sdjwt.disclosures import (
    MAX_DEPTH,
    SD_ALG,
    ClaimPath,
    Disclosure,
    decode_disclosure,
    hash_function,
    show_path,
    strict_loads,
)
from trust.formats.sdjwt.errors import (
    ClaimConflict,
    DisclosureError,
    DuplicateDigest,
    DuplicateDisclosure,
    MalformedSdJwt,
    UnreferencedDisclosure,
)
from trust.formats.sdjwt.serialization import Parsed


@dataclass
class _Processed:
    claims: dict[str, Any]
    paths: dict[str, ClaimPath]  # digest of each referenced Disclosure -> where its claim sits
    parents: dict[str, str | None]  # digest -> digest of the Disclosure that holds it (None: the payload)
    known: set[ClaimPath]  # every claim path of the processed claims (array indexes as issued)


def process(payload: Mapping[str, Any], disclosures: Sequence[Disclosure]) -> _Processed:  # noqa: C901 (RFC 9901 clause 7.1 step 3, one algorithm)
    """RFC 9901 clause 7.1 step 3 over ``payload`` with ``disclosures`` (already checked for duplicates)."""
    by_digest = {d.digest: d for d in disclosures}
    seen: set[str] = set()
    paths: dict[str, ClaimPath] = {}
    parents: dict[str, str | None] = {}
    known: set[ClaimPath] = set()

    def note(found: Any, where: ClaimPath) -> Disclosure | None:
        if not isinstance(found, str):
            raise MalformedSdJwt(f"digests must be strings (at {show_path(where)})")
        if found in seen:
            raise DuplicateDigest(
                f"the digest {found} appears more than once (at {show_path(where)})", evidence={"digest": found}
            )
        seen.add(found)
        return by_digest.get(found)

    def walk(value: Any, path: ClaimPath, holder: str | None, depth: int) -> Any:  # noqa: C901, PLR0912 (RFC 9901 clause 7.1 step 3, one algorithm)
        if depth > MAX_DEPTH:
            raise MalformedSdJwt(f"the payload nests deeper than {MAX_DEPTH} levels")
        known.add(path)
        if isinstance(value, dict):
            if "_sd_alg" in value and depth > 0:
                raise MalformedSdJwt(f"_sd_alg may appear only at the top level, found at {show_path(path)}")
            sd = value.get("_sd", [])
            if not isinstance(sd, list):
                raise MalformedSdJwt(f"_sd must be an array of digests (at {show_path(path)})")
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
                        f"an array-element Disclosure is referenced from the _sd array at {show_path(path)}",
                        evidence={"digest": disclosure.digest},
                    )
                if disclosure.name in result:
                    raise ClaimConflict(
                        f"the disclosed claim {disclosure.name!r} already exists at {show_path(path)}",
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
                        raise MalformedSdJwt(
                            f"an array element with '...' must have no other member ({show_path(where)})"
                        )
                    disclosure = note(child["..."], where)
                    if disclosure is None:
                        continue  # undisclosed or decoy element: removed
                    if disclosure.name is not None:
                        raise DisclosureError(
                            f"an object-property Disclosure is referenced as the array element {show_path(where)}",
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


def decode_all(encoded: Sequence[str], sd_alg: str) -> list[Disclosure]:
    decoded = [decode_disclosure(e, sd_alg) for e in encoded]
    seen: set[str] = set()
    for d in decoded:
        if d.digest in seen:
            raise DuplicateDisclosure(f"the Disclosure with digest {d.digest} is presented twice")
        seen.add(d.digest)
    return decoded


def payload_of(parsed: Parsed) -> dict[str, Any]:
    try:
        raw = base64url.decode(parsed.payload, "SD-JWT payload")
    except EncodingError as exc:
        raise MalformedSdJwt(exc.message) from None
    payload = strict_loads(raw, "SD-JWT payload")
    if not isinstance(payload, dict):
        raise MalformedSdJwt("the SD-JWT payload must be a JSON object")
    return payload


def sd_alg_of(payload: Mapping[str, Any]) -> str:
    sd_alg = payload.get("_sd_alg", SD_ALG)
    if not isinstance(sd_alg, str):
        raise MalformedSdJwt("_sd_alg must be a string")
    hash_function(sd_alg)
    return sd_alg


def find_holder_key(claims: Mapping[str, Any], *, required: bool) -> PublicKey | None:
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
