"""The seal pictures embedded in an input, for the verifier page (GB/T 38540 ``SES_ESPictrueInfo``).

Read after the verifier has judged the input, best effort and bounded: a seal file (``.esl``), a GB/T 38540
signature (its seal), the seals carried as a signed CMS attribute by a sealed PDF's signatures, or the seals of an OFD's
signatures. PNG, JPEG and GIF pictures are shown, recognised by their bytes (never by the declared type alone), SVG
pictures (:func:`safe_svg`), and pictures in OFD vector form drawn by the OFD renderer where the server has one,
at most :data:`MAX_PICTURES` of at most :data:`MAX_PICTURE_BYTES` each; anything unreadable is skipped (the verdict and
its checks say what is wrong with it). The picture is shown as a ``data:`` image: it is the document's own, never one
Huren redraws.

An SVG is hostile input twice over (XML, and a format that can carry script), so it is held off twice: it is parsed
as hostile XML (:func:`trust.formats.ofd.xml.parse`: no DOCTYPE, no entity, no network) and stripped of what could run
or fetch (script and foreignObject elements and their kin, ``on*`` event attributes, links that leave the picture),
and it is shown only through an ``<img>`` element, where a browser never runs an SVG's script nor loads what it links
(and the page's Content-Security-Policy allows images from the page's origin and ``data:`` only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from trust.web.verify import SealPicture, data_uri

MAX_PICTURES: Final = 8
MAX_PICTURE_BYTES: Final = 1024 * 1024
_MAGIC: Final = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))
_ZIP: Final = b"PK\x03\x04"  # an OFD package: a seal picture in OFD vector form
RenderOfd = Callable[[bytes], bytes]
"""``render(ofd)``: the first page of an OFD package as PNG bytes (``trust serve`` passes :mod:`seal.ofd_render`; the
verifier-only server has no renderer, and shows no OFD picture)."""


SVG_NS: Final = "http://www.w3.org/2000/svg"
_SVG_DROP: Final = frozenset(
    {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener", "audio", "video", "set", "animate"}
)
"""Elements removed from an SVG picture (lower-case local names): what runs code, embeds another document or changes
attributes (``set``/``animate`` can write an ``href``)."""
_LINKS: Final = ("href", "src")


def _local(name: Any) -> str:
    text = str(name)
    return text.rsplit("}", 1)[-1].lower()


def safe_svg(data: bytes) -> bytes | None:
    """``data`` as an SVG picture safe to show, or None if it is not one (module docstring): the root element is
    ``svg`` in the SVG namespace; comments and processing instructions go, as do :data:`_SVG_DROP` elements, ``on*``
    attributes and ``href``/``src`` links other than to a fragment of the picture itself (``#id``)."""
    from lxml import etree

    from trust.formats.ofd import xml

    try:
        root = xml.parse(data, "seal picture (SVG)")
    except Exception:  # noqa: BLE001 - not a readable SVG: no picture
        return None
    if not isinstance(root.tag, str) or root.tag != f"{{{SVG_NS}}}svg":
        return None
    for node in list(root.iter()):
        if node is root:
            continue
        if not isinstance(node.tag, str) or _local(node.tag) in _SVG_DROP:  # comments, PIs, script and kin
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)
    for node in root.iter(etree.Element):
        for name in list(node.attrib):
            local, value = _local(name), str(node.attrib[name]).strip()
            if local.startswith("on") or (local in _LINKS and not value.startswith("#")):
                del node.attrib[name]
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _picture(seal_der: bytes, render_ofd: RenderOfd | None = None) -> SealPicture | None:
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
    if data.startswith(_ZIP) and render_ofd is not None:  # drawn by Huren's OFD renderer, as the seal's vectors say
        try:
            png = render_ofd(data)
        except Exception:  # noqa: BLE001 - best effort (module docstring)
            return None
        return SealPicture(seal.es_id, seal.name, "image/png", data_uri(png, "image/png"))
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):  # XML: perhaps an SVG
        svg = safe_svg(data)
        if svg is not None:
            return SealPicture(seal.es_id, seal.name, "image/svg+xml", data_uri(svg, "image/svg+xml"))
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


def _ofd_seals(data: bytes) -> list[bytes]:
    """The seals of an OFD package's signatures (each ``SignedValue.dat`` is a GB/T 38540 signature)."""
    from trust.formats import ses
    from trust.formats.ofd import package

    pkg = package.read(data)
    found: list[bytes] = []
    for name in [n for n in pkg.names if n.endswith("SignedValue.dat")][:MAX_PICTURES]:
        try:
            found.append(ses.parse_signature(pkg.read(name)).seal.der)
        except Exception:  # noqa: BLE001,S112 - a signature without a readable seal has no picture to show
            continue
    return found


def pictures(data: bytes, kind: str, *, render_ofd: RenderOfd | None = None) -> list[SealPicture]:
    """The seal pictures of ``data``, whose kind the verifier detected (``seal``, ``ses-signature``, ``pdf``, ``ofd``,
    ...); a picture in OFD vector form only with ``render_ofd``."""
    from trust.formats import ses

    seals: list[bytes] = []
    try:
        if kind == "seal":
            seals = [data]
        elif kind == "ses-signature":
            seals = [ses.parse_signature(data).seal.der]
        elif kind in ("pdf", "pdf-signature", "license-pdf"):
            seals = _pdf_seals(data)
        elif kind in ("ofd", "license-ofd"):
            seals = _ofd_seals(data)
    except Exception:  # noqa: BLE001 - best effort (module docstring)
        return []
    shown = [p for p in (_picture(der, render_ofd) for der in seals[:MAX_PICTURES]) if p is not None]
    return list({p.es_id: p for p in shown}.values())
