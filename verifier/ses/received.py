"""A ``SES_Signature`` as received (GB/T 38540): its fields and the exact bytes that were signed, sliced from the input
(:mod:`trust.formats.ses`), never re-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from asn1crypto import core

from trust.crypto import x690
from trust.crypto.errors import (
    EncodingError,
)
from trust.formats import ses


def maker_signed_bytes(seal: ses.Seal) -> bytes:
    """What the seal maker signed, sliced from the seal as received (README "Electronic seals")."""
    return ses.maker_signed_bytes(seal.der, seal.version)


def _bit_value(value: core.BitString) -> bytes:
    contents = bytes(value.contents)
    if not contents or contents[0] != 0:
        raise EncodingError("a BIT STRING holding a signature, hash or token must have zero unused bits")
    return contents[1:]


def _extensions(value: object) -> tuple[tuple[str, bool, bytes], ...]:
    if not isinstance(value, ses.ExtensionDatas):
        return ()
    return tuple((e["extn_id"].dotted, bool(e["critical"].native), bytes(e["extn_value"].native)) for e in value)


@dataclass(frozen=True)
class ParsedSignature:
    """A ``SES_Signature`` as received: its fields, and the exact bytes of ``TBS_Sign`` and of the seal in it."""

    version: int
    time_info: datetime
    data_hash: bytes
    property_info: str
    extensions: tuple[tuple[str, bool, bytes], ...]
    signer_cert: bytes
    signature_alg_oid: str
    signature: bytes
    time_stamp: bytes | None
    tagging: str  # "explicit" or "untagged"
    tbs_der: bytes
    seal_der: bytes


def parse_signature(data: bytes) -> ParsedSignature:
    """A ``SES_Signature`` as received (:func:`trust.formats.ses.parse_signature`: both encodings of the optional
    fields)."""
    record = ses.parse_signature(data)
    return ParsedSignature(
        version=record.version,
        time_info=record.time_info,
        data_hash=record.data_hash,
        property_info=record.property_info,
        extensions=record.extensions,
        signer_cert=record.signer_cert,
        signature_alg_oid=record.signature_alg_oid,
        signature=record.signature,
        time_stamp=record.time_stamp,
        tagging=record.tagging,
        tbs_der=record.signed_bytes,
        seal_der=x690.children(record.signed_bytes)[1],
    )
