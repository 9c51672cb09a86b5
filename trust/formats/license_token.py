"""Licence tokens: a licence as a compact JWS (RFC 7515, claims after RFC 7519), and the compact QR form of a JWS
(Base45, RFC 9285, of its zlib-compressed parts).

Token (``typ`` ``huren-license+jwt``), signed by the issuing authority's licence-issuer key:

* header: ``alg`` (``SM2`` — SM2 with SM3 and the default ID, signature ``r || s`` — or ``RS256``/``PS256``/
  ``ES256``), ``kid`` = RFC 7638 thumbprint of the issuer key, and by the token's *form* (:data:`TOKEN_FORMS`):

  - ``compact`` (the default for tokens given to holders): ``x5t#S256`` = SHA-256 of the issuer certificate; the
    header stays under 200 bytes, within every JOSE library's default limits (joserfc refuses headers over 512
    bytes). The verifier finds the issuer certificate in the trust list of the bundle by ``kid`` and checks
    ``x5t#S256`` against it; a JOSE library finds the key in the JWK Set by ``kid``;
  - ``x5c``: also ``x5c`` = issuer certificate and its CA (≈ 2.5 KB of header in base64url; for relying parties that
    validate the chain themselves);
  - the QR form carries ``kid`` only (every byte counts).
* claims::

    {"iss": "<issuer id>", "jti": "<GB/T 36904 identifier>", "iat": ..., "nbf": <valid from>, "exp": <valid until>,
     "license": {"id": "<identifier>", "type": "<21-char type code>", "issuer": "<issuer USCC>",
                 "holder": {"kind": "organization", "name": "...", "code": "...", "code_type": "001"},
                 "fields": {...face fields...}},
     "status": {"status_list": {"idx": 17, "uri": "https://.../sl/<issuer>/1"}}}

The type's name and the issuing authority's name are not repeated in the token: the catalogue and the trust list
(the licence-issuer certificate) give them, and every byte counts in a QR code.

QR form (decision; the EU Digital COVID Certificate's "HC1:" base45/zlib approach, adapted to JWS): a QR holds
``HR1:`` followed by Base45 (RFC 9285) of zlib(``len(h) || h || len(p) || p || sig``) where ``h`` and ``p`` are the
JWS header and payload *bytes* (not base64url) with 2-byte big-endian lengths and ``sig`` the raw signature. The
verifier rebuilds the exact compact JWS (base64url is canonical for given bytes), so nothing is re-signed; the
QR avoids base64's 33% and uses the alphanumeric mode: SM2 and ES256 licences need QR version 22–23 at level M,
RS256 ones 26–27 (a 256-byte signature); licence PDFs keep theirs within version 25 (docs/LICENSES.md).

Pure format code.
"""

from __future__ import annotations

import base64
import functools
import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

import base45

from trust.crypto import base64url
from trust.crypto.errors import Code, EncodingError, InputError
from trust.crypto.signer import Signer
from trust.formats import jose, strict_json

TYP: Final = "huren-license+jwt"
TokenForm = Literal["compact", "x5c"]
TOKEN_FORMS: Final[tuple[TokenForm, ...]] = ("compact", "x5c")
DEFAULT_TOKEN_FORM: Final[TokenForm] = "compact"  # noqa: S105 (a token form, not a secret)
QR_PREFIX: Final = "HR1:"
MAX_QR_CHARS: Final = 8000
MAX_INFLATED: Final = 64 * 1024


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def claims(
    *,
    issuer_id: str,
    identifier: str,
    type_code: str,
    issuer_code: str,
    holder_kind: str,
    holder_name: str,
    holder_code: str,
    holder_code_type: str,
    fields: Mapping[str, Any],
    issued_at: datetime,
    valid_from: datetime,
    valid_until: datetime | None,
    status_uri: str,
    status_index: int,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "iss": issuer_id,
        "jti": identifier,
        "iat": epoch(issued_at),
        "nbf": epoch(valid_from),
        "license": {
            "id": identifier,
            "type": type_code,
            "issuer": issuer_code,
            "holder": {"kind": holder_kind, "name": holder_name, "code": holder_code, "code_type": holder_code_type},
            "fields": dict(fields),
        },
        "status": {"status_list": {"idx": status_index, "uri": status_uri}},
    }
    if valid_until is not None:
        body["exp"] = epoch(valid_until)
    return body


def fields_digest(fields: Mapping[str, Any]) -> str:
    """base64url SHA-256 of the canonical JSON of a field set (binds fields a QR token leaves out)."""
    import hashlib

    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return base64url.encode(hashlib.sha256(canonical).digest())


def encode_claims(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@functools.lru_cache(maxsize=64)
def _x5c_member(chain: tuple[bytes, ...]) -> tuple[str, ...]:
    """The ``x5c`` member (RFC 7515 clause 4.1.6: standard base64 of each DER certificate) of a chain, encoded once:
    an issuer signs every token with the same chain."""
    return tuple(base64.b64encode(cert).decode() for cert in chain)


def check_form(form: str) -> TokenForm:
    """``form`` if it names a token form, else an input error naming the forms."""
    for known in TOKEN_FORMS:
        if form == known:
            return known
    raise InputError(f"unknown licence token form {form!r} (one of: {', '.join(TOKEN_FORMS)})")


def sign(
    body: Mapping[str, Any],
    signer: Signer,
    *,
    kid: str,
    x5c: Sequence[bytes] = (),
    certificate: bytes | None = None,
) -> str:
    """The compact JWS of ``body``: header ``typ``, ``kid``, ``x5t#S256`` of ``certificate`` (the issuer certificate,
    if given) and ``x5c`` (the chain, if given: its first certificate is the issuer's)."""
    headers: dict[str, Any] = {"typ": TYP, "kid": kid}
    if certificate is None and x5c:
        certificate = x5c[0]
    if certificate is not None:
        headers["x5t#S256"] = _x5t(certificate)
    if x5c:
        headers["x5c"] = list(_x5c_member(tuple(x5c)))
    return jose.sign_compact(encode_claims(body), signer, headers=headers)


@functools.lru_cache(maxsize=64)
def _x5t(certificate: bytes) -> str:
    return jose.x5t_s256(certificate)


# --- QR form --------------------------------------------------------------------------------------------------


def to_qr(token: str) -> str:
    """``HR1:`` + Base45(zlib(header bytes, payload bytes, signature)) of a compact JWS."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise EncodingError("a compact JWS has three parts")
    header, payload, signature = (base64url.decode(p, "JWS part") for p in parts)
    if len(header) > 0xFFFF or len(payload) > 0xFFFF:
        raise InputError("JWS too large for a QR code", code=Code.INPUT_TOO_LARGE)
    packed = len(header).to_bytes(2, "big") + header + len(payload).to_bytes(2, "big") + payload + signature
    encoded: bytes = base45.b45encode(zlib.compress(packed, 9))
    return QR_PREFIX + encoded.decode("ascii")


def from_qr(text: str) -> str:
    """The compact JWS of an ``HR1:`` QR payload; raises :class:`EncodingError` for anything else."""
    text = text.strip()
    if len(text) > MAX_QR_CHARS:
        raise InputError("QR payload too long", code=Code.INPUT_TOO_LARGE)
    if not text.startswith(QR_PREFIX):
        raise EncodingError(f"QR payload does not start with {QR_PREFIX}")
    try:
        compressed: bytes = base45.b45decode(text[len(QR_PREFIX) :])
    except (ValueError, TypeError) as exc:
        raise EncodingError(f"QR payload is not Base45: {exc}") from None
    inflater = zlib.decompressobj()
    try:
        packed = inflater.decompress(compressed, MAX_INFLATED)
    except zlib.error as exc:
        raise EncodingError(f"QR payload does not inflate: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise EncodingError("QR payload inflates beyond the limit or is truncated")
    if inflater.unused_data:
        raise EncodingError("QR payload has trailing data")
    try:
        h_len = int.from_bytes(packed[:2], "big")
        header = packed[2 : 2 + h_len]
        p_len = int.from_bytes(packed[2 + h_len : 4 + h_len], "big")
        payload = packed[4 + h_len : 4 + h_len + p_len]
        signature = packed[4 + h_len + p_len :]
    except (IndexError, ValueError):
        raise EncodingError("QR payload is truncated") from None
    if len(header) != h_len or len(payload) != p_len or not signature:
        raise EncodingError("QR payload is truncated")
    return f"{base64url.encode(header)}.{base64url.encode(payload)}.{base64url.encode(signature)}"


def qr_version(text: str, error_correction: str = "M") -> int:
    """The smallest QR version that holds ``text`` at the error-correction level (measured with ``qrcode``)."""
    import qrcode
    from qrcode import constants

    level = {
        "L": constants.ERROR_CORRECT_L,
        "M": constants.ERROR_CORRECT_M,
        "Q": constants.ERROR_CORRECT_Q,
        "H": constants.ERROR_CORRECT_H,
    }[error_correction]
    qr = qrcode.QRCode(error_correction=level, border=4)
    if _alphanumeric(text):
        # types-qrcode declares MODE_ALPHA_NUM a plain int while QRData's overloads want Literal[1, 2, 4]
        qr.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))  # type: ignore[call-overload]
    else:
        qr.add_data(text)
    qr.make(fit=True)
    return int(qr.version)


_ALNUM: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def _alphanumeric(text: str) -> bool:
    return all(c in _ALNUM for c in text)


def parse_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _signing_input, _signature = jose.parse_compact(token)
    return header, strict_json.load_object(payload, "licence token payload")
