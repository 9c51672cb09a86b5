"""Edits to licence PDFs that only an attacker makes: another token behind the ``license.jwt`` file specification,
another licence's face over page 1 — incremental updates written with pyHanko, nothing else of Huren."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from trust.formats import license_face


def attachment_spec(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert str(names[0]) == license_face.ATTACHMENT_NAME
    return names[1].get_object()


def replace_attachment(pdf: bytes, new_token: str) -> bytes:
    """An incremental update pointing the ``license.jwt`` file specification at another token."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    spec = attachment_spec(writer)
    stream = embed.EmbeddedFileObject.from_file_data(writer, new_token.encode(), mime_type=license_face.ATTACHMENT_MIME)
    spec["/EF"] = generic.DictionaryObject({generic.pdf_name("/F"): stream.ef_stream_ref})
    writer.update_container(spec)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def replace_face(pdf: bytes, other: bytes) -> bytes:
    """An incremental update replacing page 1's content and resources with those of another licence's face (the
    seal's widget stays where it was)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    source = PdfFileReader(io.BytesIO(other))
    source_page = source.root["/Pages"]["/Kids"][0].get_object()
    page_ref, _resources = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    page["/Contents"] = writer.import_object(source_page.raw_get("/Contents"))
    page["/Resources"] = writer.import_object(source_page.raw_get("/Resources"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_attachment(pdf: bytes, name: str, data: bytes) -> bytes:
    """A second embedded file (e.g. another ``license.jwt``) added by an incremental update."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = embed.EmbeddedFileObject.from_file_data(writer, data)
    embed.embed_file(writer, embed.FileSpec(file_spec_string=name, embedded_data=stream))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
