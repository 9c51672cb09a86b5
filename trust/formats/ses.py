"""GB/T 38540-2020 electronic seals (SESeal, SES_Signature) and GM/T 0031-2014 version 1, with asn1crypto.

Structures follow ``tests/data/vendor/ses-asn/ses.asn`` (the module that decodes real seals of the deployed open
implementations). What is signed (``../shared/standards/README.md``):

* version 4/5 seal: the seal maker (制章者) signs ``DER(SES_SealInfo)`` with SM2/SM3;
* version 1 seal: the maker signs ``DER(SEQUENCE { sealInfo, makerCert, signatureAlgorithm })``;
* SES_Signature: the signer (签章者) signs ``DER(TBS_Sign)``; ``dataHash`` is SM3 of the protected data;
  ``timeStamp`` is an RFC 3161 token over the signature value.

Versions are told apart by structure: a SESeal of 2 elements is version 1; of 4 elements (5 with GM/T
0031-2025's optional ``timeStamp [0]``) version 4 or 5 by its header. The optional ``[0]`` fields of TBS_Sign and
SES_Signature are written EXPLICIT and read in both encodings (EXPLICIT, and the untagged form another
implementation uses). Signatures are always checked over the bytes as received, never over a re-encoding.

Pure format code: no storage, no network.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import core, x509

from trust.crypto import oids, x690
from trust.crypto.algorithms import digest
from trust.crypto.errors import Code, EncodingError, InputError

oids.register()

SM2_SM3_OID: Final = oids.SM2_WITH_SM3
MAX_SEAL_BYTES: Final = 8 * 1024 * 1024


class SESHeader(core.Sequence):
    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class SESPictureInfo(core.Sequence):
    _fields = [("type", core.IA5String), ("data", core.OctetString), ("width", core.Integer), ("height", core.Integer)]


class ExtData(core.Sequence):
    _fields = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class CertDigestObj(core.Sequence):
    _fields = [("type", core.PrintableString), ("value", core.OctetString)]


class CertListItem(core.Choice):
    _alternatives = [("cert", core.OctetString), ("digest", CertDigestObj)]


class CertList(core.SequenceOf):
    _child_spec = CertListItem


class SESPropertyInfo(core.Sequence):
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", CertList),
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]


class SESSealInfo(core.Sequence):
    _fields = [
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", SESPropertyInfo),
        ("picture", SESPictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):
    _fields = [
        ("e_seal_info", SESSealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.BitString),
        ("time_stamp", core.BitString, {"explicit": 0, "optional": True}),  # GM/T 0031-2025 (version 5)
    ]


class TBSSign(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.BitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class TBSSignUntagged(core.Sequence):
    _fields = [*TBSSign._fields[:5], ("ext_datas", ExtensionDatas, {"optional": True})]


class SESSignature(core.Sequence):
    _fields = [
        ("to_sign", TBSSign),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.BitString),
        ("time_stamp", core.BitString, {"explicit": 0, "optional": True}),
    ]


class SESSignatureUntagged(core.Sequence):
    _fields = [
        ("to_sign", TBSSignUntagged),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.BitString),
        ("time_stamp", core.BitString, {"optional": True}),
    ]


# --- GM/T 0031-2014 (version 1) ---------------------------------------------------------------------------


class CertsV1(core.SequenceOf):
    _child_spec = core.OctetString


class SESPropertyInfoV1(core.Sequence):
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list", CertsV1),
        ("create_date", core.UTCTime),
        ("valid_start", core.UTCTime),
        ("valid_end", core.UTCTime),
    ]


class SESSealInfoV1(core.Sequence):
    _fields = [
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", SESPropertyInfoV1),
        ("picture", SESPictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESSignInfoV1(core.Sequence):
    _fields = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.BitString),
    ]


class SESealV1(core.Sequence):
    _fields = [("eseal_info", SESSealInfoV1), ("sign_info", SESSignInfoV1)]


# --- parsed views -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    type: str
    data: bytes
    width_mm: int
    height_mm: int


@dataclass(frozen=True)
class Seal:
    """A parsed seal of any version, with what is needed to verify the maker's signature."""

    version: int
    vendor: str
    es_id: str
    seal_type: int
    name: str
    cert_list_type: int
    cert_list: tuple[bytes, ...]  # certificates (type 1) or digests (type 2)
    cert_digest_algorithm: str | None
    create_date: datetime
    valid_start: datetime
    valid_end: datetime
    picture: Picture
    maker_cert: bytes
    sign_alg_oid: str
    signed_value: bytes
    signed_bytes: bytes  # exactly what the maker signed
    der: bytes
    extensions: tuple[tuple[str, bool, bytes], ...] = ()
    time_stamp: bytes | None = None
    cert_digest_types: tuple[str, ...] = ()  # certListType 2: the declared digest algorithm of each entry

    @property
    def maker_certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.maker_cert)


# --- the signer certificates of a seal (certList) ---------------------------------------------------------------

CERT_DIGESTS: Final = {
    "sm3": "sm3",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "1.2.156.10197.1.401": "sm3",
}
"""The digest algorithms of a certList entry (certListType 2) that are read, by the ``type`` a seal declares (a name
or an OID; case and hyphens are not significant: ``SHA-256`` is ``sha256``) — the one table for making, sealing
with and verifying seals."""


def cert_digest_name(kind: str | None) -> str | None:
    """The digest algorithm (a :func:`trust.crypto.algorithms.digest` name) a certList entry's ``type`` declares, or
    None for one that is not in :data:`CERT_DIGESTS`."""
    return CERT_DIGESTS.get((kind or "").lower().replace("-", ""))


def listed_as(seal: Seal, cert_der: bytes) -> str | None:
    """How ``cert_der`` is listed among ``seal``'s signer certificates: ``"certificate"`` (itself, certListType 1),
    the ``type`` of the entry holding its digest in the algorithm that entry declares (certListType 2; an entry in an
    algorithm that is not read never matches), or None when it is not listed. Compared in constant time."""
    if seal.cert_list_type == 1:
        return "certificate" if any(hmac.compare_digest(item, cert_der) for item in seal.cert_list) else None
    if seal.cert_list_type != 2:
        return None
    for kind, value in zip(seal.cert_digest_types, seal.cert_list, strict=True):
        name = cert_digest_name(kind)
        if name is not None and hmac.compare_digest(value, digest(name, cert_der)):
            return kind
    return None


def lists_certificate(seal: Seal, cert_der: bytes) -> bool:
    """Whether ``cert_der`` is one of ``seal``'s signer certificates (:func:`listed_as`)."""
    return listed_as(seal, cert_der) is not None


def bit_value(value: core.BitString) -> bytes:
    """The content octets of a BIT STRING with no unused bits (signatures, hashes, tokens)."""
    contents = bytes(value.contents)
    if not contents or contents[0] != 0:
        raise EncodingError("a BIT STRING holding a signature, hash or token must have zero unused bits")
    return contents[1:]


_bits = bit_value


def maker_signed_bytes(seal_der: bytes, version: int) -> bytes:
    """What the seal maker signed, sliced from the seal as received: ``DER(SES_SealInfo)`` (versions 4, 5) or
    ``DER(SEQUENCE { sealInfo, cert, signatureAlgorithm })`` (version 1)."""
    parts = x690.children(seal_der)
    if version == 1:
        sign_info = x690.children(parts[1])
        return x690.sequence(parts[0], sign_info[0], sign_info[1])
    return parts[0]


def _extensions(value: Any) -> tuple[tuple[str, bool, bytes], ...]:
    if not isinstance(value, ExtensionDatas):
        return ()
    return tuple((e["extn_id"].dotted, bool(e["critical"].native), bytes(e["extn_value"].native)) for e in value)


def _limit(data: bytes, what: str) -> None:
    if len(data) > MAX_SEAL_BYTES:
        raise InputError(f"{what} of {len(data)} bytes exceeds {MAX_SEAL_BYTES}", code=Code.INPUT_TOO_LARGE)


def _top_level_count(data: bytes) -> int:
    try:
        outer = core.Sequence.load(data, strict=True)
        return len(outer)
    except (ValueError, TypeError) as exc:
        raise EncodingError(f"not a DER SEQUENCE: {exc}") from None


def parse_seal(data: bytes) -> Seal:
    """Parse a SESeal of version 1, 4 or 5 (DER)."""
    _limit(data, "seal")
    count = _top_level_count(data)
    try:
        if count == 2:
            return _parse_v1(data)
        if count in (4, 5):
            return _parse_v4(data)
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as exc:
        raise EncodingError(f"malformed SESeal: {type(exc).__name__}: {str(exc)[:200]}") from None
    raise EncodingError(f"a SESeal has 2 (version 1) or 4-5 (version 4/5) elements, this one has {count}")


def _parse_v4(data: bytes) -> Seal:
    seal = SESeal.load(data, strict=True)
    native = seal.native
    if set(native) - {f[0] for f in SESeal._fields} or set(native["e_seal_info"]) - {f[0] for f in SESSealInfo._fields}:
        raise EncodingError("SESeal has unexpected fields")
    info = seal["e_seal_info"]
    header = info["header"]
    version = int(header["version"].native)
    if header["id"].native != "ES":
        raise EncodingError(f"SESeal header id must be 'ES', found {header['id'].native!r}")
    if version not in (4, 5):
        raise EncodingError(f"a 4-element SESeal must be version 4 or 5, header says {version}")
    prop = info["property"]
    list_type = int(prop["cert_list_type"].native)
    items = []
    digest_types: list[str] = []
    for item in prop["cert_list"]:
        if list_type == 1 and item.name == "cert":
            items.append(bytes(item.chosen.native))
        elif list_type == 2 and item.name == "digest":
            digest_types.append(str(item.chosen["type"].native))
            items.append(bytes(item.chosen["value"].native))
        else:
            raise EncodingError(f"certList entry {item.name} does not fit certListType {list_type}")
    picture = info["picture"]
    stamp = seal["time_stamp"]
    return Seal(
        version=version,
        vendor=str(header["vid"].native),
        es_id=str(info["es_id"].native),
        seal_type=int(prop["type"].native),
        name=str(prop["name"].native),
        cert_list_type=list_type,
        cert_list=tuple(items),
        cert_digest_algorithm=digest_types[-1] if digest_types else None,
        create_date=prop["create_date"].native,
        valid_start=prop["valid_start"].native,
        valid_end=prop["valid_end"].native,
        picture=Picture(
            str(picture["type"].native),
            bytes(picture["data"].native),
            int(picture["width"].native),
            int(picture["height"].native),
        ),
        maker_cert=bytes(seal["cert"].native),
        sign_alg_oid=seal["sign_alg_id"].dotted,
        signed_value=_bits(seal["signed_value"]),
        signed_bytes=maker_signed_bytes(data, version),
        der=data,
        extensions=_extensions(info["ext_datas"]),
        time_stamp=_bits(stamp) if stamp.native is not None else None,
        cert_digest_types=tuple(digest_types),
    )


def _parse_v1(data: bytes) -> Seal:
    seal = SESealV1.load(data, strict=True)
    seal.native  # noqa: B018
    info = seal["eseal_info"]
    header = info["header"]
    if header["id"].native != "ES":
        raise EncodingError(f"SESeal header id must be 'ES', found {header['id'].native!r}")
    sign_info = seal["sign_info"]
    prop = info["property"]
    picture = info["picture"]
    return Seal(
        version=int(header["version"].native),
        vendor=str(header["vid"].native),
        es_id=str(info["es_id"].native),
        seal_type=int(prop["type"].native),
        name=str(prop["name"].native),
        cert_list_type=1,
        cert_list=tuple(bytes(c.native) for c in prop["cert_list"]),
        cert_digest_algorithm=None,
        create_date=prop["create_date"].native,
        valid_start=prop["valid_start"].native,
        valid_end=prop["valid_end"].native,
        picture=Picture(
            str(picture["type"].native),
            bytes(picture["data"].native),
            int(picture["width"].native),
            int(picture["height"].native),
        ),
        maker_cert=bytes(sign_info["cert"].native),
        sign_alg_oid=sign_info["signature_algorithm"].dotted,
        signed_value=_bits(sign_info["sign_data"]),
        signed_bytes=maker_signed_bytes(data, 1),
        der=data,
        extensions=_extensions(info["ext_datas"]),
    )


# --- building version 4 ----------------------------------------------------------------------------------


def build_seal_info(
    *,
    vendor: str,
    es_id: str,
    seal_type: int,
    name: str,
    signer_certs: list[bytes],
    create_date: datetime,
    valid_start: datetime,
    valid_end: datetime,
    picture: Picture,
    extensions: list[tuple[str, bool, bytes]] | None = None,
    version: int = 4,
) -> SESSealInfo:
    if not signer_certs:
        raise InputError("a seal needs at least one permitted signer certificate")
    if valid_end <= valid_start:
        raise InputError("seal validEnd must be later than validStart")
    value: dict[str, Any] = {
        "header": {"id": "ES", "version": version, "vid": vendor},
        "es_id": es_id,
        "property": {
            "type": seal_type,
            "name": name,
            "cert_list_type": 1,
            "cert_list": [CertListItem(name="cert", value=core.OctetString(c)) for c in signer_certs],
            "create_date": core.GeneralizedTime(create_date),
            "valid_start": core.GeneralizedTime(valid_start),
            "valid_end": core.GeneralizedTime(valid_end),
        },
        "picture": {"type": picture.type, "data": picture.data, "width": picture.width_mm, "height": picture.height_mm},
    }
    if extensions:
        value["ext_datas"] = [
            {"extn_id": oid, "critical": critical, "extn_value": data} for oid, critical, data in extensions
        ]
    return SESSealInfo(value)


def assemble_seal(info: SESSealInfo, maker_cert: bytes, signature: bytes) -> bytes:
    return bytes(
        SESeal(
            {
                "e_seal_info": info,
                "cert": maker_cert,
                "sign_alg_id": SM2_SM3_OID,
                "signed_value": core.BitString.load(x690.bit_string(signature)),
            }
        ).dump()
    )


@dataclass(frozen=True)
class SignatureRecord:
    """A parsed SES_Signature (version 4)."""

    version: int
    seal: Seal
    time_info: datetime
    data_hash: bytes
    property_info: str
    signer_cert: bytes
    signature_alg_oid: str
    signature: bytes
    signed_bytes: bytes  # DER(TBS_Sign) as received
    time_stamp: bytes | None
    tagging: str  # "explicit" or "untagged"
    der: bytes
    extensions: tuple[tuple[str, bool, bytes], ...] = ()


def parse_signature(data: bytes) -> SignatureRecord:
    """Parse a SES_Signature (version 4) whose optional fields are ``[0]`` EXPLICIT or untagged (never a mix).

    The encoding is decided by the tags as received: asn1crypto would read an untagged ``timeStamp`` or
    ``extDatas`` as an unknown extra field of the EXPLICIT form and drop it. ``signed_bytes`` and the seal are
    sliced from the input, never re-encoded."""
    _limit(data, "SES_Signature")
    try:
        outer = x690.children(data)
        tbs = x690.children(outer[0]) if outer and outer[0][:1] == b"\x30" else []
    except EncodingError as exc:
        raise EncodingError(f"not a SES_Signature: {exc.message}") from None
    if len(outer) not in (4, 5) or len(tbs) not in (5, 6):
        raise EncodingError(
            "not a SES_Signature: SEQUENCE {TBS_Sign (5-6 fields), cert, signatureAlgID, signature, "
            "[timeStamp]} expected"
        )
    tags = (tbs[5][0] if len(tbs) == 6 else None, outer[4][0] if len(outer) == 5 else None)
    spec: type[core.Sequence]
    if tags[0] in (None, 0xA0) and tags[1] in (None, 0xA0):
        spec, tagging = SESSignature, "explicit"
    elif tags[0] in (None, 0x30) and tags[1] in (None, 0x03):
        spec, tagging = SESSignatureUntagged, "untagged"
    else:
        raise EncodingError("the optional fields of TBS_Sign and SES_Signature are neither [0] EXPLICIT nor untagged")
    try:
        parsed = spec.load(data, strict=True)
        native = parsed.native
        to_sign = parsed["to_sign"]
        if set(native) - {f[0] for f in spec._fields} or set(native["to_sign"]) - {f[0] for f in to_sign._fields}:
            raise EncodingError("SES_Signature or TBS_Sign has unexpected fields")
        stamp = parsed["time_stamp"]
        return SignatureRecord(
            version=int(to_sign["version"].native),
            seal=parse_seal(tbs[1]),
            time_info=to_sign["time_info"].native,
            data_hash=_bits(to_sign["data_hash"]),
            property_info=str(to_sign["property_info"].native),
            signer_cert=bytes(parsed["cert"].native),
            signature_alg_oid=parsed["signature_alg_id"].dotted,
            signature=_bits(parsed["signature"]),
            signed_bytes=outer[0],
            time_stamp=_bits(stamp) if isinstance(stamp, core.BitString) else None,
            tagging=tagging,
            der=data,
            extensions=_extensions(to_sign["ext_datas"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise EncodingError(f"malformed SES_Signature: {type(exc).__name__}: {str(exc)[:200]}") from None


def build_tbs_sign(
    *, seal_der: bytes, time_info: datetime, data_hash: bytes, property_info: str, version: int = 4
) -> TBSSign:
    return TBSSign(
        {
            "version": version,
            "eseal": SESeal.load(seal_der),
            "time_info": core.GeneralizedTime(time_info),
            "data_hash": core.BitString.load(x690.bit_string(data_hash)),
            "property_info": property_info,
        }
    )


def assemble_signature(tbs: TBSSign, signer_cert: bytes, signature: bytes, time_stamp: bytes | None = None) -> bytes:
    value: dict[str, Any] = {
        "to_sign": tbs,
        "cert": signer_cert,
        "signature_alg_id": SM2_SM3_OID,
        "signature": core.BitString.load(x690.bit_string(signature)),
    }
    if time_stamp is not None:
        value["time_stamp"] = core.BitString.load(x690.bit_string(time_stamp))
    return bytes(SESSignature(value).dump())
