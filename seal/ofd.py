"""Sealing OFD documents (GB/T 33190-2016 clause 18, GB/T 38540-2020): Huren's own and those a region gives.

:func:`seal_ofd` adds one electronic-seal signature to a document of an OFD package and returns the new package:

1. the package is read as hostile input (:func:`trust.formats.ofd.package.read`); a document whose existing signature
   protects ``Signatures.xml`` is closed to further signatures and refused, as ofdrw refuses it;
2. the seal is written as ``<Signs>/Sign_N/Seal.esl`` (``N`` the first free number), the signature is listed in
   ``Signatures.xml`` (created, and named in ``OFD.xml``, for a document's first signature; otherwise the existing
   entries are kept and one is added, ``MaxSignId`` updated);
3. ``Signature.xml`` references every file of the package with its SM3 digest — pages, resources, attachments,
   ``OFD.xml``, the seal file and the files of earlier signatures — but ``Signatures.xml`` itself, so later signatures
   can be added (ofdrw's "continue" mode); its ``StampAnnot`` places the seal picture (its size, from the seal) on a
   page: centred on a text of the page (:func:`text_position`, the licence's ``发证机关：…`` line) or at a given
   position;
4. ``SignedValue.dat`` is a GB/T 38540 ``SES_Signature`` (:func:`seal.signature.sign`) whose ``dataHash`` is SM3 of
   the ``Signature.xml`` bytes and whose ``propertyInfo`` is its absolute location, optionally time-stamped;
5. the package is written again (:func:`trust.formats.ofd.package.write`): the bytes of every existing file are kept
   as they were, so earlier signatures still verify.

No storage, no network: the seal, the signer and the time-stamper come from the caller (``trust.service.seals.ofd``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from seal import signature as ses_signature
from trust.crypto.algorithms import digest
from trust.crypto.errors import ConflictError, InputError
from trust.crypto.signer import Signer
from trust.formats import ses
from trust.formats.license_face import normalise
from trust.formats.ofd import document as ofd_document
from trust.formats.ofd import package as ofd_package
from trust.formats.ofd import signatures as ofd_signatures

PROVIDER: Final = ("Huren", "Huren 互认", "1.0")


@dataclass(frozen=True)
class Placement:
    """Where the seal goes: a page (1-based) and the centre of the stamp in millimetres from the page's top-left."""

    page: int
    x: float
    y: float


def text_position(pkg: ofd_package.Package, doc: ofd_document.Document, text: str) -> Placement | None:
    """The centre of the first text object whose text contains ``text`` (white space ignored), on the last page that
    has one; None when no page shows it."""
    wanted = normalise(text)
    found: Placement | None = None
    for ref in doc.pages:
        page = ofd_document.page(pkg, ref)
        for obj in page.objects:
            if isinstance(obj, ofd_document.TextObject) and wanted in normalise("".join(c.text for c in obj.codes)):
                box = obj.boundary
                found = Placement(ref.index + 1, box[0] + box[2] / 2, box[1] + box[3] / 2)
    return found


def _signs_folder(body: ofd_document.DocBody, doc: ofd_document.Document) -> str:
    if body.signatures is not None:
        return ofd_package.folder(body.signatures)
    base = ofd_package.folder(doc.path)
    return f"{base}/Signs" if base else "Signs"


def _free_folder(files: dict[str, bytes], signs: str) -> str:
    used = {name for name in files if name.startswith(signs + "/")}
    number = 0
    while any(name.startswith(f"{signs}/Sign_{number}/") for name in used):
        number += 1
    return f"{signs}/Sign_{number}"


def seal_ofd(
    ofd: bytes,
    *,
    seal_der: bytes,
    signer: Signer,
    signer_cert: bytes,
    placement: Placement | None = None,
    anchor_text: str | None = None,
    doc_index: int = 0,
    time_info: datetime | None = None,
    timestamper: ses_signature.Timestamper | None = None,
) -> bytes:
    """``ofd`` with one more seal signature (module docstring). The stamp goes to ``placement``, else centred on
    ``anchor_text`` (refused when no page shows it), else to the bottom right of the last page.

    Raises :class:`InputError` for an unreadable package, a page or document that does not exist, an anchor text the
    document does not show; :class:`ConflictError` for a document closed to further signatures; and what
    :func:`seal.signature.sign` raises for the seal and signer."""
    pkg = ofd_package.read(ofd)
    bodies = ofd_document.entry(pkg)
    if not 0 <= doc_index < len(bodies):
        raise InputError(f"the package has {len(bodies)} document(s), not a document {doc_index}")
    body = bodies[doc_index]
    doc = ofd_document.document(pkg, body.doc_root)
    if not doc.pages:
        raise InputError("the document has no page to put the seal on")
    parsed_seal = ses.parse_seal(seal_der)
    files = dict(pkg.files)
    listing: ofd_signatures.SignatureList | None = None
    if body.signatures is not None and body.signatures in pkg:
        listing = ofd_signatures.parse_list(pkg, body.signatures)
        for entry in listing.entries:
            existing = ofd_signatures.parse_signature(pkg, entry.path)
            if any(r.path == listing.path for r in existing.references):
                raise ConflictError(
                    f"signature {entry.id} protects {listing.path}: the document is closed to further signatures"
                )
    signs = _signs_folder(body, doc)
    folder = _free_folder(files, signs)
    seal_path, signature_path, value_path = (
        f"{folder}/Seal.esl",
        f"{folder}/Signature.xml",
        f"{folder}/SignedValue.dat",
    )
    list_path = listing.path if listing is not None else f"{signs}/Signatures.xml"
    entry_id = ofd_signatures.next_id([e.id for e in listing.entries] if listing is not None else [])
    if body.signatures != list_path:
        files[ofd_package.ENTRY_FILE] = ofd_signatures.set_signatures_location(
            files[ofd_package.ENTRY_FILE], doc_index, "/" + list_path
        )
    files[list_path] = ofd_signatures.add_to_list(
        files.get(list_path), entry_id=entry_id, kind="Seal", location=signature_path
    )
    files[seal_path] = seal_der
    where = _placement(pkg, doc, placement, anchor_text)
    page_ref = doc.pages[where.page - 1]
    width, height = float(parsed_seal.picture.width_mm or 40), float(parsed_seal.picture.height_mm or 40)
    stamp = ofd_signatures.StampAnnot(
        f"s{entry_id}", page_ref.id, (where.x - width / 2, where.y - height / 2, width, height), None
    )
    moment = (time_info or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    references = [(name, digest("sm3", data)) for name, data in files.items() if name != list_path]
    signature_xml = ofd_signatures.build_signature(
        references=references,
        signed_value=value_path,
        date_time=moment,
        provider=PROVIDER,
        stamps=[stamp],
        seal=seal_path,
    )
    files[signature_path] = signature_xml
    files[value_path] = ses_signature.sign(
        seal=seal_der,
        signer=signer,
        signer_cert=signer_cert,
        property_info="/" + signature_path,
        data=signature_xml,
        time_info=moment,
        timestamper=timestamper,
    )
    return ofd_package.write(files)


def _placement(
    pkg: ofd_package.Package, doc: ofd_document.Document, placement: Placement | None, anchor_text: str | None
) -> Placement:
    pages = len(doc.pages)
    if placement is not None:
        if not 1 <= placement.page <= pages:
            raise InputError(f"the document has {pages} page(s), not a page {placement.page}")
        return placement
    if anchor_text is not None:
        found = text_position(pkg, doc, anchor_text)
        if found is None:
            raise InputError(f"no page of the document shows {anchor_text!r}, where the seal is to be centred")
        return found
    area = ofd_document.page(pkg, doc.pages[-1]).area or doc.page_area or (0.0, 0.0, 210.0, 297.0)
    return Placement(pages, area[0] + area[2] - 45, area[1] + area[3] - 45)


def placements(values: Sequence[str]) -> Placement:
    """``PAGE,X,Y`` (the CLI's and the HTTP API's ``position``) as a :class:`Placement`."""
    if len(values) != 3:
        raise InputError("a position is PAGE,X,Y (page from 1; the stamp's centre in mm from the top-left)")
    try:
        return Placement(int(values[0]), float(values[1]), float(values[2]))
    except ValueError:
        raise InputError("a position is PAGE,X,Y with a whole page number and X, Y in millimetres") from None
