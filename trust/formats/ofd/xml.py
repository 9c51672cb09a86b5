"""The XML of OFD packages (GB/T 33190-2016), read as hostile input and written deterministically.

Reading (:func:`parse`): lxml with a parser that never resolves entities, loads no DTD and opens no network; a document
with a ``DOCTYPE`` (the carrier of entity expansion, "billion laughs", and external entities) is refused outright, as
defusedxml does; libxml2's own limits hold (nesting depth 256, no huge text nodes: ``huge_tree`` off); the input is at
most :data:`MAX_XML_BYTES`. Every refusal is an :class:`~trust.crypto.errors.EncodingError` with code
``E1701 ofd-xml-invalid`` (or ``E1002`` for size), never an lxml exception.

OFD elements live in the namespace :data:`OFD_NS`; some writers leave the namespace off nested elements (ofdrw's
samples have ``<Parameters>`` unqualified inside ``ofd:Annot``), so lookups by local name accept an element in the OFD
namespace (or the draft's ``http://www.ofdspec.org``) or in none, and nothing else.

Writing (:func:`element`, :func:`serialise`): UTF-8 with an XML declaration, the ``ofd:`` prefix, no pretty-printing,
attributes in the order given — the same input gives the same bytes, which matters because SM3 digests of these files
are what a signature protects.

Pure format code: no storage, no network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, TypeAlias

from lxml import etree

from trust.crypto.errors import Code, EncodingError, InputError

OFD_NS: Final = "http://www.ofdspec.org/2016"
MAX_XML_BYTES: Final = 16 * 1024 * 1024
"""One XML file of a package (a page's Content.xml of a dense document is a few MB)."""
OLD_NS: Final = "http://www.ofdspec.org"
"""The namespace of drafts before GB/T 33190-2016, still written by some producers (ofdrw's keyword sample)."""
_NAMESPACES: Final = (OFD_NS, OLD_NS, None)

Element: TypeAlias = Any
"""An lxml element (lxml ships no type information)."""


def _refuse(message: str, what: str) -> EncodingError:
    return EncodingError(f"{what}: {message}", code=Code.OFD_XML_INVALID, evidence={"file": what})


def parse(data: bytes, what: str) -> Element:
    """The root element of the XML ``data`` (``what`` names the file in errors)."""
    if len(data) > MAX_XML_BYTES:
        raise InputError(
            f"{what}: {len(data)} bytes of XML exceed {MAX_XML_BYTES}",
            code=Code.INPUT_TOO_LARGE,
            evidence={"file": what},
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise _refuse(f"not well-formed XML ({str(exc)[:200]})", what) from None
    except (ValueError, TypeError) as exc:  # e.g. an encoding lxml cannot read
        raise _refuse(f"unreadable XML ({type(exc).__name__}: {str(exc)[:200]})", what) from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise _refuse("a DOCTYPE is not allowed (entities are never expanded)", what)
    for node in root.iter(etree.Entity, etree.ProcessingInstruction):
        if isinstance(node, etree._Entity):
            raise _refuse(f"entity reference &{node.name}; is not allowed", what)
    return root


def local(element: Element) -> str:
    """The local name of ``element`` ("" for comments and processing instructions)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return str(etree.QName(tag).localname)


def _is(element: Element, name: str) -> bool:
    tag = element.tag
    if not isinstance(tag, str):
        return False
    qname = etree.QName(tag)
    return qname.localname == name and qname.namespace in _NAMESPACES


def is_ofd(element: Element, name: str) -> bool:
    """Whether ``element`` is the OFD element ``name`` (in the OFD namespace, or in none)."""
    return _is(element, name)


def children(element: Element, name: str) -> Iterator[Element]:
    """The child elements called ``name``, in document order."""
    for child in element:
        if _is(child, name):
            yield child


def child(element: Element, name: str) -> Element | None:
    """The first child element called ``name``, or None."""
    return next(children(element, name), None)


def text(element: Element | None, name: str | None = None) -> str | None:
    """The text of ``element`` (or of its first child ``name``), stripped; None when absent or empty."""
    target = element if name is None or element is None else child(element, name)
    if target is None:
        return None
    value = "".join(target.itertext()).strip()
    return value or None


def element(name: str, attributes: dict[str, str] | None = None, text_value: str | None = None) -> Element:
    """A new OFD element ``ofd:name`` (attributes in the order given)."""
    node = etree.Element(f"{{{OFD_NS}}}{name}", nsmap={"ofd": OFD_NS})
    for key, value in (attributes or {}).items():
        node.set(key, value)
    if text_value is not None:
        node.text = text_value
    return node


def sub(parent: Element, name: str, attributes: dict[str, str] | None = None, text_value: str | None = None) -> Element:
    """A new OFD child element of ``parent``."""
    node = etree.SubElement(parent, f"{{{OFD_NS}}}{name}")
    for key, value in (attributes or {}).items():
        node.set(key, value)
    if text_value is not None:
        node.text = text_value
    return node


def serialise(root: Element) -> bytes:
    """``root`` as UTF-8 XML with a declaration; deterministic."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=None))
