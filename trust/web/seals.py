"""The seal pictures embedded in an input, for the verifier page (GB/T 38540 ``SES_ESPictrueInfo``).

Read after the verifier has judged the input, best effort and bounded: a seal file (``.esl``), a GB/T 38540
signature (its seal), or the seals carried as a signed CMS attribute by a sealed PDF's signatures. Only PNG, JPEG and
GIF pictures are shown, recognised by their bytes (never by the declared type alone), at most :data:`MAX_PICTURES` of
at most :data:`MAX_PICTURE_BYTES` each; anything unreadable is skipped (the verdict and its checks say what is wrong
with it). The picture is shown as a ``data:`` image: it is the document's own, never one Huren redraws.
"""

from __future__ import annotations

from typing import Final

from trust.web.verify import SealPicture, data_uri

MAX_PICTURES: Final = 8
MAX_PICTURE_BYTES: Final = 1024 * 1024
_MAGIC: Final = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _picture(seal_der: bytes) -> SealPicture | None:
    from trust.formats import ses

    try:
        seal = ses.parse_seal(seal_der)
    except Exception:  # noqa: BLE001 - best effort: the verdict already says what is wrong with the seal
        return None
    data = seal.picture.data
    if len(data) > MAX_PICTURE_BYTES:
        return None
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return SealPicture(seal.es_id, seal.name, mime, data_uri(data, mime))
    return None


def _pdf_seals(data: bytes) -> list[bytes]:
    from verifier.pdf import cms, document, seal

    found: list[bytes] = []
    doc = document.open_document(data)
    for sig in document.signature_fields(doc)[:MAX_PICTURES]:
        value = sig.value
        if value is None or "/Contents" not in value:
            continue
        try:
            info = cms.parse_contents(bytes(value["/Contents"]))
            signer = info["content"]["signer_infos"][0]
            der = seal.find_seal(signer["signed_attrs"])
        except Exception:  # noqa: BLE001,S112 - a signature without a readable seal has no picture to show
            continue
        if der is not None:
            found.append(der)
    return found


def pictures(data: bytes, kind: str) -> list[SealPicture]:
    """The seal pictures of ``data``, whose kind the verifier detected (``seal``, ``ses-signature``, ``pdf``, ...)."""
    from trust.formats import ses

    seals: list[bytes] = []
    try:
        if kind == "seal":
            seals = [data]
        elif kind == "ses-signature":
            seals = [ses.parse_signature(data).seal.der]
        elif kind in ("pdf", "pdf-signature", "license-pdf"):
            seals = _pdf_seals(data)
    except Exception:  # noqa: BLE001 - best effort (module docstring)
        return []
    shown = [picture for picture in (_picture(der) for der in seals[:MAX_PICTURES]) if picture is not None]
    return list({p.es_id: p for p in shown}.values())
