"""``GET /bundle``'s ETags come from the SHA-256 the bundle store recorded and checked (branch etag): the same strong
ETags as before for the same bytes, 304 as before, and a worker that reads the stored bundle hashes each served form
once (the store's check), not a second time for its ETag."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.world import World, copy_world
from trust.http import caching
from trust.http.app import create_app
from trust.service import trust as trust_service
from trust.service import verification

PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


def _stored_gzip(world: World) -> bytes:
    found = list((world.home / "cache" / trust_service.STORE_FOLDER).glob("*.json.gz"))
    assert len(found) == 1, found
    return found[0].read_bytes()


def _counting_sha256(monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> None:
    real: Callable[..., Any] = hashlib.sha256

    def counted(data: bytes = b"", **kwargs: Any) -> Any:
        sizes.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(hashlib, "sha256", counted)


def test_bundle_etags_are_the_stored_digests_and_a_reader_hashes_once(
    tmp_path: Path, world_template: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = copy_world(world_template, tmp_path / "home")
    app = TestClient(create_app(world.instance))
    plain = app.get("/bundle", headers=PLAIN)
    packed = app.get("/bundle", headers=GZIP)
    assert plain.status_code == packed.status_code == 200 and packed.headers["content-encoding"] == "gzip"
    raw_gzip = _stored_gzip(world)
    # the same strong ETags as hashing the bytes served gives; gzip's distinct
    assert plain.headers["etag"] == caching.etag_for(plain.content)
    assert packed.headers["etag"] == caching.etag_for(raw_gzip) != plain.headers["etag"]
    for headers, tag in ((PLAIN, plain.headers["etag"]), (GZIP, packed.headers["etag"])):
        again = app.get("/bundle", headers={**headers, "If-None-Match": tag})
        assert again.status_code == 304 and again.headers["etag"] == tag

    # A second worker: no bundle, context or signed bytes of its own in this process; it reads the store.
    verification._current.pop(world.instance, None)
    trust_service._verify_bundles.pop(world.instance, None)
    sizes: list[int] = []
    _counting_sha256(monkeypatch, sizes)
    second = [app.get("/bundle", headers=PLAIN), app.get("/bundle", headers=GZIP)]
    monkeypatch.undo()
    assert [r.status_code for r in second] == [200, 200]
    assert second[0].content == plain.content and second[1].content == plain.content
    assert [r.headers["etag"] for r in second] == [plain.headers["etag"], packed.headers["etag"]]
    # each form hashed once: the store's check of the file against its recorded digest (twice before: the ETag)
    assert sizes.count(len(plain.content)) == 1, sizes
    assert sizes.count(len(raw_gzip)) == 1, sizes
    assert trust_service.bundles_stored(world.instance) == {"signed": 1, "gzipped": 1}


def test_a_bypassed_store_still_gives_the_hashed_etags(tmp_path: Path, world_template: World) -> None:
    """No store (``<home>/cache`` is a file): no digest is known, the ETags are hashed from the bytes as before."""
    world = copy_world(world_template, tmp_path / "home")
    (world.home / "cache").write_bytes(b"not a folder")
    app = TestClient(create_app(world.instance))
    plain = app.get("/bundle", headers=PLAIN)
    packed = app.get("/bundle", headers=GZIP)
    body = verification.bundle_bytes(world.instance)
    assert verification.bundle_digest(body) is None
    assert plain.headers["etag"] == caching.etag_for(plain.content)
    assert packed.headers["etag"] == caching.etag_for(verification.bundle_gzip(body)) != plain.headers["etag"]
    assert app.get("/bundle", headers={**GZIP, "If-None-Match": packed.headers["etag"]}).status_code == 304


def test_representations_use_a_known_digest_only_for_the_bytes_it_names() -> None:
    body = b"a body" * 100
    known = {id(body): hashlib.sha256(body).hexdigest()}

    def digest(data: bytes) -> str | None:
        return known.get(id(data))

    def compress(data: bytes) -> bytes:
        return data[::-1]

    forms = caching.Representations(compress=compress, digest=digest)
    assert forms.etag(body) == caching.etag_for(body)
    packed, tag = forms.gzipped(body)
    assert packed == body[::-1] and tag == caching.etag_for(packed)  # no digest known for it: hashed
    # a wrong digest given for the body would show: the ETag is taken from it, not recomputed
    liar = caching.Representations(digest=lambda _data: "0" * 64)
    assert liar.etag(body) == '"' + "0" * caching.ETAG_HEX_CHARS + '"'
    with pytest.raises(ValueError, match="SHA-256"):
        caching.etag_of_digest("XYZ")
