"""Seal pictures on the verifier page (issue 17) beyond PNG/JPEG/GIF: SVG shown, as the seal carries it, through an
``<img>`` with a ``data:`` URL, after :func:`trust.web.seals.safe_svg` has removed what could run or fetch (a picture
that is not a readable SVG — a DOCTYPE, an entity, another root element — is not shown); a picture in OFD vector form
drawn by the OFD renderer where the server has one (``trust serve``); the seals of an OFD's signatures. The real
browser, where the script of a hostile SVG must not run, is test_verify_grid_browser.py."""

from __future__ import annotations

import base64
import re

import pytest

from tests.support import golden
from trust.formats import ses
from trust.web import seals
from trust.web.server import App, BundleContext

CIRCLE = b'<circle cx="50" cy="50" r="40" stroke="red" stroke-width="4" fill="none"/>'
HOSTILE_SVG = (
    b'<?xml version="1.0"?>\n<!-- a seal picture -->\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100" '
    b'onload="document.body.dataset.pwned=1">'
    b"<script>document.body.dataset.pwned=1</script>"
    b'<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
    + CIRCLE
    + b'<a href="javascript:document.body.dataset.pwned=1"><text x="20" y="55" fill="red">SEAL</text></a>'
    b'<image xlink:href="http://198.51.100.1/beacon.png" width="1" height="1"/>'
    b'<set attributeName="href" to="javascript:alert(1)"/>'
    b'<use href="#c"/><circle id="c" cx="1" cy="1" r="1" onclick="alert(1)"/>'
    b"</svg>"
)


def svg_seal(svg: bytes, kind: str = "svg") -> bytes:
    """The golden seal (ses/seal-v4.esl) with ``svg`` as its picture (of type ``kind``), signed again by its maker (the
    golden maker key), so that the picture is the seal's own and the maker's signature holds."""
    seal = ses.parse_seal(golden.read("ses/seal-v4.esl"))
    info = ses.build_seal_info(
        vendor=seal.vendor,
        es_id=seal.es_id,
        seal_type=seal.seal_type,
        name=seal.name,
        signer_certs=list(seal.cert_list),
        create_date=seal.create_date,
        valid_start=seal.valid_start,
        valid_end=seal.valid_end,
        picture=ses.Picture(kind, svg, seal.picture.width_mm, seal.picture.height_mm),
        extensions=list(seal.extensions) or None,
    )
    signer = golden.key("maker-330000-sm2").signer()
    return ses.assemble_seal(info, seal.maker_cert, signer.sign(info.dump()))


def _shown(seal_der: bytes) -> bytes:
    (picture,) = seals.pictures(seal_der, "seal")
    assert picture.mime == "image/svg+xml"
    prefix = "data:image/svg+xml;base64,"
    assert picture.data_uri.startswith(prefix)
    return base64.b64decode(picture.data_uri[len(prefix) :])


def test_a_hostile_svg_seal_picture_is_shown_without_what_runs_or_fetches() -> None:
    shown = _shown(svg_seal(HOSTILE_SVG))
    lowered = shown.lower()
    gone_all = (b"<script", b"foreignobject", b"onload", b"onclick", b"javascript:", b"198.51.100.1", b"<set", b"<!--")
    for gone in gone_all:
        assert gone not in lowered, (gone, shown)
    assert b"<circle" in shown and b">SEAL</text>" in shown and b'href="#c"' in shown  # the picture itself stays


@pytest.mark.parametrize(
    "svg",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
        b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
        b"<svg>" + CIRCLE + b"</svg>",  # no SVG namespace: not an SVG to a browser either
        b'<svg xmlns="http://www.w3.org/2000/svg"><circle',
    ],
    ids=["doctype-entity", "xhtml", "no-namespace", "not-well-formed"],
)
def test_what_is_not_a_readable_svg_is_not_shown(svg: bytes) -> None:
    assert seals.pictures(svg_seal(svg), "seal") == []


def _page(upload: bytes) -> str:
    """``trust verify-server``'s result page (the WSGI app on the golden bundle) for ``upload``."""
    import io

    app = App(BundleContext([golden.path("trust/bundle.json")], golden.pins(), at=golden.validation_time()))
    boundary = "svg-seal"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n\r\n'.encode()
        + upload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer: dict[str, str] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/verify/result", "QUERY_STRING": "",
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }  # fmt: skip
    html = b"".join(app(environ, start)).decode()
    assert answer["status"].startswith("200")
    return html


def test_the_page_shows_the_svg_seal_picture_as_an_image() -> None:
    html = _page(svg_seal(HOSTILE_SVG))
    images = re.findall(r'<div id="seals".*?</div>', html, re.S)
    assert images and '<img src="data:image/svg+xml;base64,' in images[0]
    assert "<svg" not in html  # never inline in the page: only as an image


def test_an_ofd_shows_the_seal_pictures_of_its_signatures() -> None:
    from tests.trust.web import grid_cases

    html = _page(grid_cases.ofd_valid())
    assert 'data-indication="TOTAL_PASSED"' in html
    images = re.findall(r'<div id="seals".*?</div>', html, re.S)
    assert images and '<img src="data:image/png;base64,' in images[0]
    assert 'id="ofd-page"' not in html  # the verifier-only server has no OFD renderer


def test_a_seal_picture_in_ofd_vector_form_is_drawn_where_the_server_can() -> None:
    from seal import ofd_render
    from tests.support.tools import shared_file

    vector = shared_file("ofd", "ofdrw-converter-helloworld.ofd").read_bytes()
    seal_der = svg_seal(vector, kind="ofd")
    assert seals.pictures(seal_der, "seal") == []  # no renderer (trust verify-server): not shown
    (picture,) = seals.pictures(seal_der, "seal", render_ofd=lambda data: ofd_render.render_page(data, 1, dpi=72))
    assert picture.mime == "image/png" and base64.b64decode(picture.data_uri.split(",", 1)[1]).startswith(b"\x89PNG")
    broken = svg_seal(b"PK\x03\x04 not a package", kind="ofd")
    assert seals.pictures(broken, "seal", render_ofd=lambda data: ofd_render.render_page(data, 1, dpi=72)) == []
