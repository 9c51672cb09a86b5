"""``GET /bundle`` after a change is signed and gzip-compressed once per state version for all workers of a home
(branch ctxname): the first worker that needs the signed bundle of a version stores it (and the first that serves it
gzip-encoded, its gzip form) under ``<home>/cache/bundles/``; the other workers serve those bytes. Before, every worker
signed (~3–4 s of CPU at 10^6 revoked) and compressed its own."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import World, copy_world, make_instance
from trust.formats import crl as crl_mod
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as ca_service
from trust.service import trust as trust_service
from trust.service import verification
from verifier import context

ZJ_SM2 = "region-330000-sm2"


def _seal(index: int) -> DN:
    return DN(
        province="浙江省",
        organization=f"杭州存储测试{index}有限公司",
        common_name="合同专用章",
        serial_number=make_uscc(f"91330106MA2CFD{index:03d}"),
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


def _listed(body: bytes, pins: list[str]) -> set[int]:
    served = context.build(bundle=body, pins=pins)
    return {
        entry["user_certificate"].native
        for der in served.crls
        for entry in crl_mod.load_crl(der)["tbs_cert_list"]["revoked_certificates"]
    }


@pytest.mark.postgres
def test_two_workers_sign_and_compress_the_bundle_once_per_version(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers (two instances, engines and apps on one PostgreSQL database and home): after a revocation, the
    first ``GET /bundle`` signs and (gzip asked for) compresses; the second worker's answers are the same bytes, with
    no signature and no compression of its own — ETag, gzip and Vary as before. A new change makes a new bundle (one
    signature), which lists it; old bundles are pruned."""
    port = free_port()
    one = make_instance(tmp_path / "home", port, postgres_url)
    ca_service.init(one)
    ca_service.enrol(one, kind="region", code="330000", family="SM2")
    other = make_instance(tmp_path / "home", port, postgres_url)
    signed: list[int] = []
    compressed: list[int] = []
    real_sign, real_compress = trust_service._sign_bundle, gzip.compress

    def counted_sign(*args: Any) -> dict[str, Any]:
        signed.append(1)
        return real_sign(*args)

    def counted_compress(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        compressed.append(len(data))
        return real_compress(data, *args, **kwargs)

    try:
        apps = [TestClient(create_app(one)), TestClient(create_app(other))]
        certs = [ca_service.issue(one, ca_id=ZJ_SM2, profile="seal", subject=_seal(i)) for i in range(3)]
        pins = list(trust_service.root_fingerprints(one).values())
        for app in apps:  # both workers have a context (built, then patched by what follows)
            assert app.get("/bundle").status_code == 200
        for round_, cert in enumerate(certs):
            ca_service.revoke(one, serial=cert.record.serial, reason="key_compromise")  # exports public/: not counted
            signed.clear()
            compressed.clear()
            monkeypatch.setattr(trust_service, "_sign_bundle", counted_sign)
            monkeypatch.setattr(gzip, "compress", counted_compress)
            plain = [app.get("/bundle", headers={"Accept-Encoding": "identity"}) for app in apps]
            packed = [app.get("/bundle", headers={"Accept-Encoding": "gzip"}) for app in apps]
            monkeypatch.undo()
            assert len(signed) == 1, round_  # the first worker signed; the second read what it stored
            assert len(compressed) == 1, round_
            assert plain[0].content == plain[1].content == packed[0].content == packed[1].content
            assert plain[0].headers["etag"] == plain[1].headers["etag"] != packed[0].headers["etag"]
            assert packed[0].headers["etag"] == packed[1].headers["etag"]
            assert {r.headers["vary"] for r in plain + packed} == {"Accept-Encoding"}
            assert {r.headers.get("content-encoding") for r in packed} == {"gzip"}
            assert "content-encoding" not in plain[0].headers and "content-encoding" not in plain[1].headers
            assert packed[1].num_bytes_downloaded < len(plain[1].content) * 0.8
            listed = _listed(plain[1].content, pins)
            assert {int(c.record.serial, 16) for c in certs[: round_ + 1]} <= listed
            again = {"Accept-Encoding": "gzip", "If-None-Match": packed[0].headers["etag"]}
            assert apps[1].get("/bundle", headers=again).status_code == 304
        stored = sorted(p.name for p in (tmp_path / "home" / "cache" / trust_service.STORE_FOLDER).glob("*.json*"))
        assert len(stored) <= 2 * trust_service.STORE_KEPT, stored  # older versions pruned
        assert verification.current(other).bundle == plain[1].content
    finally:
        other.engine.dispose()
        one.engine.dispose()


def test_a_store_that_cannot_be_written_is_bypassed(tmp_path: Path, world_template: World) -> None:
    """The store is a cache: when ``<home>/cache`` cannot hold it (here a file stands in its place), the bundle is
    signed in the worker as before and ``GET /bundle`` still answers, gzip too."""
    world = copy_world(world_template, tmp_path / "home")
    (world.home / "cache").write_bytes(b"not a folder")
    app = TestClient(create_app(world.instance))
    plain = app.get("/bundle", headers={"Accept-Encoding": "identity"})
    packed = app.get("/bundle", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200 and packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content
    pins = list(trust_service.root_fingerprints(world.instance).values())
    assert context.build(bundle=plain.content, pins=pins).trust_list is not None
    assert trust_service.bundles_stored(world.instance) == {"signed": 0, "gzipped": 0}
