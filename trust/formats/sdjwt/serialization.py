"""SD-JWT serializations: the compact ``<JWT>~<Disclosure>~...~<KB-JWT>`` form (RFC 9901 clause 4) and the flattened
and general JSON forms (clause 8), parsed strictly into one internal shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from trust.crypto.errors import (
    Code,
    InputError,
)
from trust.formats.sdjwt.disclosures import MAX_DISCLOSURES, MAX_PRESENTATION_BYTES, strict_loads
from trust.formats.sdjwt.errors import MalformedSdJwt


@dataclass(frozen=True)
class Parsed:
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


def parse(presentation: str | bytes | Mapping[str, Any]) -> Parsed:
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
        document = strict_loads(text.encode("utf-8"), "SD-JWT JSON serialization")
    elif isinstance(presentation, Mapping):
        document, as_text = presentation, False
    else:
        raise MalformedSdJwt(f"an SD-JWT is text or a JSON object, not {type(presentation).__name__}")
    return _parse_json(document, as_text)


def _parse_compact(text: str) -> Parsed:
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
    return Parsed(jws_parts[0], jws_parts[1], jws_parts[2], tuple(disclosures), kb_jwt, "compact")


def _parse_json(document: Any, as_text: bool) -> Parsed:
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
    return Parsed(
        first["protected"],
        document["payload"],
        first["signature"],
        disclosures,
        kb_jwt,
        "general" if form == "general" else "flattened",
        document,
        as_text,
    )


def serialize(parsed: Parsed, disclosures: Sequence[str], kb_jwt: str | None) -> Any:
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
