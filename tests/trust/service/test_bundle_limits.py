"""The offline bundle's size limit (branch biglimit, issue 15): a region's bundle with a CA of 10^6 revoked
certificates is ~86 MB, over the 64 MiB every signed document was once held to, so neither the service's verification
context nor ``trust verify --bundle`` could load it. The bundle now has its own limit,
``trust.formats.bundle.MAX_BUNDLE_BYTES`` (derived from the promised scale), checked before parsing; a gzip bundle's
inflated size is held to it too."""

from __future__ import annotations

import dataclasses
import json
import zlib
from pathlib import Path

import pytest

from tests.support.world import World, copy_world
from trust import db
from trust.crypto import pem
from trust.crypto.errors import Code, EncodingError, InputError
from trust.formats import bundle as bundle_format
from trust.formats import trustlist as tl
from trust.formats.names import DN
from trust.service import ca as service
from trust.service import trust
from verifier import api, context
from verifier.report import Indication

OLD_LIMIT = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def big_world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("bundle-limits") / "home")


def _pins(world: World) -> list[str]:
    return list(trust.root_fingerprints(world.instance).values())


def _padded_bundle(world: World, padding: int) -> bytes:
    """The instance's bundle, signed by its roots, carrying ``padding`` more bytes in an SD-JWT VC type metadata
    document (a field the format accepts and the verifier reads only when a credential of that type is checked):
    the size of a region with a CA of ~10^6 revoked certificates, without signing a CRL that long."""
    with db.session_scope(world.instance.engine, read_only=True) as session:
        content, roots = trust._bundle_content(world.instance, session)
        filler = {"vct": "urn:huren:test:padding", "document": {"vct": "urn:huren:test:padding", "pad": "x" * padding}}
        padded = dataclasses.replace(content, type_metadata=(*content.type_metadata, filler))
        signed = bundle_format.sign(padded, trust.root_signers(session, world.instance, roots))
    return json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_bundle_over_the_old_limit_loads(
    big_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A signed bundle just over 64 MiB (and its gzip) builds a verification context — the service's path
    (``context.build`` from the signed bundle) and ``trust verify --bundle`` — and a certificate verifies against it.
    Before: E1002 "bundle of … bytes exceeds 67108864"."""
    from trust.cli.main import main

    issued = service.issue(
        big_world.instance,
        ca_id="region-330000-sm2",
        profile="person-identity",
        subject=DN(province="浙江省", common_name="张三", serial_number="330102199001011234"),
        key_family="SM2",
    )
    data = _padded_bundle(big_world, 49 * 1024 * 1024)  # the payload is base64url in the JWS: ×4/3
    assert OLD_LIMIT < len(data) < bundle_format.MAX_BUNDLE_BYTES
    cert = pem.write("CERTIFICATE", issued.certificate.dump())
    for given in (data, bundle_format.compress(data)):
        ctx = context.build(bundle=given, pins=_pins(big_world))
        assert api.verify(cert, ctx).indication is Indication.TOTAL_PASSED
    (tmp_path / "bundle.json").write_bytes(data)
    (tmp_path / "cert.pem").write_bytes(cert)
    pin = _pins(big_world)[0]
    assert main(["verify", str(tmp_path / "cert.pem"), "--bundle", str(tmp_path / "bundle.json"), "--pin", pin]) == 0
    assert "TOTAL-PASSED" in capsys.readouterr().out


def test_a_bundle_over_the_new_limit_is_refused_before_parsing(big_world: World, tmp_path: Path) -> None:
    """Bytes over ``MAX_BUNDLE_BYTES`` are E1002 INPUT_TOO_LARGE whatever they hold (here not JSON at all: a parse
    would have said so) — in ``bundle.verify``, in ``context.build`` and when ``trust verify`` reads the file."""
    pins = _pins(big_world)
    with pytest.raises(EncodingError):
        bundle_format.verify(b"{not json", pins)  # the same junk, small: a parse error
    junk = b"{not json" + bytes(bundle_format.MAX_BUNDLE_BYTES)
    for call in (bundle_format.verify, lambda data, pins: context.build(bundle=data, pins=pins)):
        with pytest.raises(InputError) as refused:
            call(junk, pins)
        assert refused.value.code is Code.INPUT_TOO_LARGE and "exceeds" in refused.value.message
    from trust.cli import verify as verify_cli

    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(bundle_format.MAX_BUNDLE_BYTES + 1)  # sparse: nothing written
    with pytest.raises(InputError) as too_big:
        verify_cli._read(huge, "bundle", bundle_format.MAX_BUNDLE_BYTES)
    assert too_big.value.code is Code.INPUT_TOO_LARGE


def test_a_compressed_bundle_inflating_past_the_limit_is_refused(big_world: World) -> None:
    """A gzip bundle of a few hundred kB that inflates past ``MAX_BUNDLE_BYTES`` stops at the limit (E1002), never
    inflating the rest; a compressed file itself over the limit is refused before inflating."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(bundle_format.MAX_BUNDLE_BYTES // len(chunk) + 2)]
    bomb = b"".join(parts) + packer.flush()
    assert len(bomb) < 1024 * 1024
    for call in (lambda: bundle_format.decompress(bomb), lambda: bundle_format.verify(bomb, _pins(big_world))):
        with pytest.raises(InputError) as refused:
            call()
        assert refused.value.code is Code.INPUT_TOO_LARGE and "decompresses to more than" in refused.value.message
    with pytest.raises(InputError) as packed_too_big:
        bundle_format.decompress(b"\x1f\x8b" + bytes(bundle_format.MAX_BUNDLE_BYTES))
    assert packed_too_big.value.code is Code.INPUT_TOO_LARGE


def test_the_limit_follows_the_promised_scale() -> None:
    """The limit holds the promised 10^6 revoked entries per CA (twice: a region's other CAs and retired-key copies)
    at the bytes a CRL entry takes, written base64 twice (CRL in the payload, payload in the JWS), plus the rest of the
    bundle; the trust list alone keeps its own 64 MiB."""
    entry = bundle_format.MAX_CRL_ENTRY_BYTES * 16 // 9
    assert 2 * bundle_format.MAX_REVOKED_PER_CA * entry <= bundle_format.MAX_BUNDLE_BYTES
    assert tl.MAX_DOCUMENT_BYTES == OLD_LIMIT
    with pytest.raises(InputError) as refused:
        tl.load_document(b"{" + bytes(OLD_LIMIT), "trust list")
    assert refused.value.code is Code.INPUT_TOO_LARGE
