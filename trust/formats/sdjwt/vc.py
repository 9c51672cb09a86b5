"""SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): the verifiable-credential profile of SD-JWT, for licences.

A licence SD-JWT is an SD-JWT VC: header ``typ`` ``dc+sd-jwt`` (clause 3.2.1), and in the issuer-signed payload
(clause 3.2.2.2) ``vct`` (the credential type), ``vct#integrity``, ``iss``, ``iat``, ``nbf``, ``exp``, ``cnf`` (the
holder key, when the holder gave one) and ``status`` (a Token Status List reference) — none of them selectively
disclosable (:data:`~trust.formats.sdjwt.disclosures.NEVER_DISCLOSABLE`); the licence fields are.

Types (decisions, issue 12 item 9):

* ``vct`` is ``<public URL>/vct/<21-character licence type code>`` — a URL of the issuing instance that serves the
  type's metadata document, and whose last segment names the catalogue type (:func:`type_code_of`).
* The **type metadata** document (clause 6) of a licence type is made from the licence catalogue
  (:func:`licence_type_metadata`): ``vct``, ``name``, ``description``, ``display`` (``zh-CN``) and one ``claims``
  entry per field (``path`` ``["license", "fields", <name>]``, its title as label, ``sd`` ``always``). Its bytes are
  :func:`encode` (sorted members, no spaces, UTF-8) and ``vct#integrity`` is their W3C Subresource Integrity
  ``sha256-<base64>`` (clause 6.5; :func:`integrity`).
* Publication: ``GET /vct/<type code>`` serves those exact bytes, and the offline bundle carries every type's
  document (``type_metadata``: ``[{"vct", "document"}]``) under the national roots' signatures, so a verifier
  resolves the type offline; it checks ``vct#integrity`` against the document it found.

Pure format code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from trust.crypto.errors import EncodingError

if TYPE_CHECKING:
    from trust.formats.license_catalogue import LicenseType

TYP: Final = "dc+sd-jwt"
VCT_SEGMENT: Final = "/vct/"
LOCALE: Final = "zh-CN"
INTEGRITY_ALGORITHMS: Final = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def vct_for(base_url: str, type_code: str) -> str:
    """The ``vct`` of a licence type issued by the instance at ``base_url``."""
    return f"{base_url.rstrip('/')}{VCT_SEGMENT}{type_code}"


def type_code_of(vct: str) -> str | None:
    """The licence type code a ``vct`` names (its last segment after ``/vct/``), or None."""
    head, separator, code = vct.rpartition(VCT_SEGMENT)
    if not separator or not head or not code or "/" in code:
        return None
    return code


def license_type_metadata(license_type: LicenseType, vct: str) -> dict[str, Any]:
    """The SD-JWT VC type metadata document (clause 6.2) of a licence type, for ``vct``."""
    properties = license_type.fields.get("properties") or {}
    claims = [
        {
            "path": ["license", "fields", name],
            "display": [{"locale": LOCALE, "label": str(spec.get("title") or name)}],
            "sd": "always",
        }
        for name, spec in properties.items()
        if isinstance(spec, Mapping)
    ]
    return {
        "vct": vct,
        "name": license_type.name,
        "description": license_type.description,
        "display": [{"locale": LOCALE, "name": license_type.name, "description": license_type.description}],
        "claims": claims,
    }


def encode(document: Mapping[str, Any]) -> bytes:
    """The bytes a type metadata document is published and hashed as (sorted members, no spaces, UTF-8)."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def integrity(data: bytes, algorithm: str = "sha256") -> str:
    """W3C Subresource Integrity metadata of ``data``: ``<alg>-<standard base64 of the digest>``."""
    return f"{algorithm}-{base64.b64encode(INTEGRITY_ALGORITHMS[algorithm](data).digest()).decode('ascii')}"


def integrity_matches(data: bytes, metadata: str) -> bool:
    """Whether ``data`` matches SRI ``metadata`` (space-separated ``<alg>-<base64>`` items; the strongest known
    algorithm present decides, as the SRI specification says). Raises :class:`EncodingError` if no item is
    usable."""
    if not isinstance(metadata, str):
        raise EncodingError("integrity metadata must be a string")
    items: dict[str, list[str]] = {}
    for item in metadata.split():
        algorithm, _, value = item.partition("-")
        value = value.split("?", 1)[0]  # SRI options are ignored
        if algorithm in INTEGRITY_ALGORITHMS and value:
            items.setdefault(algorithm, []).append(value)
    if not items:
        raise EncodingError(f"integrity metadata {metadata[:80]!r} names no sha256/sha384/sha512 digest")
    strongest = max(items, key=lambda name: INTEGRITY_ALGORITHMS[name]().digest_size)
    expected = integrity(data, strongest).partition("-")[2]
    return expected in items[strongest]
