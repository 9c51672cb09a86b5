"""PEM (RFC 7468) or DER: the one reader of the textual encoding, for keys, certificates, CRLs and requests.

:func:`read` takes what a user or a peer hands over — a DER value, or a PEM file, possibly with explanatory text
before the block (``openssl x509 -text`` output; RFC 7468 clause 2 lets parsers ignore it) and more blocks after
it (a chain after its certificate) — and returns the DER of the first block, with its label.
:func:`read_all` returns every block (bundles of certificates); :func:`write` makes one.

A block is read as RFC 7468 writes it, not as leniently as asn1crypto's ``pem.unarmor`` reads it:

* ``-----BEGIN <label>-----`` on a line of its own, and ``-----END <label>-----`` with the *same* label;
* between them only base64 (RFC 4648 clause 4) with padding, canonical (the unused bits of the last character are
  zero), split into lines by any whitespace; nothing else — no characters outside the alphabet (which the standard
  library's lenient decoder skips), no RFC 1421 headers (``Proc-Type: 4,ENCRYPTED``: legacy OpenSSL key
  encryption, which Huren does not read; encrypted keys are PKCS#8), and not empty.

A value that starts with the octet ``0x30`` (a DER SEQUENCE: every certificate, CRL, request and key) is DER;
anything else without a ``-----BEGIN`` line is given back as DER for the caller's parser to refuse. Callers bound
the size before reading.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection
from typing import Final

from trust.crypto.errors import Code, EncodingError, InputError

# RFC 7468 clause 3: label = [ labelchar *( ["-" / SP] labelchar ) ], labelchar = %x21-2C / %x2E-7E
_LABEL: Final = rb"[!-,.-~](?:[- ]?[!-,.-~])*"
_BEGIN: Final = re.compile(rb"-----BEGIN (" + _LABEL + rb")?-----[ \t]*(?:\r\n|\r|\n)")
_END: Final = b"-----END "
_WHITESPACE: Final = re.compile(rb"[ \t\r\n]+")


def write(label: str, der: bytes) -> bytes:
    """The PEM block of ``der`` (RFC 7468 clause 2 "stricttextualmsg": 64-character lines, LF line ends)."""
    text = base64.b64encode(der)
    lines = b"".join(text[i : i + 64] + b"\n" for i in range(0, len(text), 64))
    name = label.encode("ascii")
    return b"-----BEGIN " + name + b"-----\n" + lines + b"-----END " + name + b"-----\n"


def is_pem(data: bytes) -> bool:
    """Whether :func:`read` would read ``data`` as PEM (it does not start like DER and has a BEGIN line)."""
    return data[:1] != b"\x30" and b"-----BEGIN " in data


def read(data: bytes, what: str, labels: Collection[str] | None = None) -> tuple[str | None, bytes]:
    """``(label, DER)`` of the first PEM block of ``data``, or ``(None, data)`` for DER (module docstring).

    With ``labels``, a block with another label is refused, naming the first expected one."""
    if not is_pem(data):
        return None, data
    label, der, _end = _block(data, 0, what)
    if labels is not None and label not in labels:
        expected = next(iter(labels))
        raise EncodingError(f"{what}: expected a {expected} PEM block, found {label!r}")
    return label, der


def read_all(data: bytes, what: str, *, limit: int) -> list[tuple[str, bytes]]:
    """Every PEM block of ``data`` as ``(label, DER)``, in order; at most ``limit`` blocks (counted before anything is
    decoded: :class:`InputError` ``E1002`` beyond it). Text before, between and after the blocks is ignored."""
    if data.count(b"-----BEGIN") > limit:
        raise InputError(f"{what}: more than {limit} PEM blocks", code=Code.INPUT_TOO_LARGE)
    blocks = []
    position = 0
    while _BEGIN.search(data, position) is not None:
        label, der, position = _block(data, position, what)
        blocks.append((label, der))
    if not blocks:
        raise EncodingError(f"{what}: no PEM block (a -----BEGIN <label>----- line)")
    return blocks


def _block(data: bytes, position: int, what: str) -> tuple[str, bytes, int]:
    """``(label, DER, position after the END line)`` of the first block at or after ``position``."""
    begin = _BEGIN.search(data, position)
    if begin is None:
        raise EncodingError(f"{what}: malformed PEM: no -----BEGIN <label>----- line")
    raw_label = begin.group(1) or b""
    label = raw_label.decode("ascii")
    end = data.find(_END, begin.end())
    if end < 0:
        raise EncodingError(f"{what}: malformed PEM: the {label} block has no -----END line")
    closing = _END + raw_label + b"-----"
    if not data.startswith(closing, end):
        raise EncodingError(f"{what}: malformed PEM: the {label} block does not end with -----END {label}-----")
    body = data[begin.end() : end]
    if b":" in body:
        raise EncodingError(
            f"{what}: PEM headers (RFC 1421, e.g. legacy OpenSSL key encryption) are not supported; "
            "use PKCS#8 (-----BEGIN ENCRYPTED PRIVATE KEY-----)"
        )
    text = _WHITESPACE.sub(b"", body)
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EncodingError(f"{what}: malformed PEM: the {label} block is not base64") from None
    if not der:
        raise EncodingError(f"{what}: malformed PEM: the {label} block is empty")
    if base64.b64encode(der) != text:
        raise EncodingError(f"{what}: malformed PEM: the {label} block is not canonical base64 (unused bits set)")
    return label, der, end + len(closing)
