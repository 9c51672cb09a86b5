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
from trust import db
from trust.formats import crl as crl_mod
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as ca_service
from trust.service import files, state, verification
from trust.service import trust as trust_service
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


# --- branch storefix: the store is never a way to fool the service ------------------------------------------------


def _store(world: World) -> Path:
    return world.home / "cache" / trust_service.STORE_FOLDER


def _verdict(world: World, data: bytes) -> tuple[Any, Any]:
    ctx = verification.context_for(world.instance, at=None, purpose="auto", revocation="available")
    report = verification.verify(data, ctx)
    return report["indication"], report.get("sub_indication")


def test_a_bundle_planted_in_the_store_is_never_used(tmp_path: Path, world_template: World) -> None:
    """An older genuine bundle (``public/bundle.json`` is public) written into the store under the next version's key
    (as any name a worker would pick), and over a genuine stored file: the revoked certificate stays REVOKED after the
    next full rebuild, and ``GET /bundle`` (plain and gzip) never serves the planted bytes. The folder is 0700. Before
    (branch storefix): the planted file became the verification truth (TOTAL_PASSED) and was served."""
    world = copy_world(world_template, tmp_path / "home")
    app = TestClient(create_app(world.instance))
    cert = ca_service.issue(world.instance, ca_id=ZJ_SM2, profile="seal", subject=_seal(50))
    old = trust_service.current_bundle_bytes(world.instance)
    assert _verdict(world, cert.certificate.dump())[0] == "TOTAL_PASSED"
    ca_service.revoke(world.instance, serial=cert.record.serial, reason="key_compromise")
    assert _verdict(world, cert.certificate.dump()) == ("TOTAL_FAILED", "REVOKED")
    assert app.get("/bundle").status_code == 200  # the store exists now
    folder = _store(world)
    key = trust_service.store_key(state.database_version(world.instance.engine) + 1)
    for nonce in ("0000", "00000000", "ffffffff"):
        (folder / f"{key}.{nonce}.json").write_bytes(old)
    (folder / f"{key}.00000000.json.gz").write_bytes(gzip.compress(old))
    with db.session_scope(world.instance.engine) as session:
        state.bump(session)  # a change that rebuilds
    assert _verdict(world, cert.certificate.dump()) == ("TOTAL_FAILED", "REVOKED")
    plain = app.get("/bundle", headers={"Accept-Encoding": "identity"})
    packed = app.get("/bundle", headers={"Accept-Encoding": "gzip"})
    assert plain.content != old and packed.content == plain.content
    assert int(cert.record.serial, 16) in _listed(
        plain.content, list(trust_service.root_fingerprints(world.instance).values())
    )
    # the genuine file of the current key overwritten, and its gzip form: a worker that reads the store signs again
    stored = [p for p in folder.glob(f"{key}.*.json") if p.read_bytes() == plain.content]
    assert len(stored) == 1
    stored[0].write_bytes(old)
    stored[0].with_name(stored[0].name + ".gz").write_bytes(gzip.compress(old))
    again, name, _ = trust_service.stored_bundle_digest(world.instance, key)
    assert again != old and name is not None and name != stored[0].name.removesuffix(".json")
    assert (
        gzip.decompress(
            trust_service.stored_gzip_digest(world.instance, stored[0].name.removesuffix(".json"), again)[0]
        )
        == again
    )
    assert folder.stat().st_mode & 0o777 == 0o700


def test_pruning_parses_keys_and_leaves_foreign_names_alone(tmp_path: Path, world_template: World) -> None:
    """A stray ``README.json`` is left alone and does not rank as the newest key; a key whose version is lower than
    the stored ones (a database restored from a backup) is kept right after it is written; files the database does not
    record and temporary files older than a minute (a killed worker's) are pruned, a fresh temporary file is not.
    Before: keys were sorted as text, so ``README`` ranked newest and the new bundle was deleted right after writing."""
    import os
    import time

    world = copy_world(world_template, tmp_path / "home")
    folder = _store(world)
    folder.mkdir(parents=True)
    (folder / "README.json").write_text("{}")
    old_temp, new_temp = folder / ".x.json.abc.tmp", folder / ".y.json.abc.tmp"
    old_temp.write_bytes(b"partial")
    new_temp.write_bytes(b"partial")
    os.utime(old_temp, (time.time() - 120, time.time() - 120))
    unrecorded = folder / f"{trust_service.store_key(1)}.0badf00d.json"
    unrecorded.write_bytes(b"{}")
    for version in (7, 8, 9):
        _data, name, _ = trust_service.stored_bundle_digest(world.instance, trust_service.store_key(version))
        assert name is not None and (folder / f"{name}.json").exists(), version
    assert (folder / "README.json").exists() and new_temp.exists()
    assert not old_temp.exists() and not unrecorded.exists()
    names = {p.name.split(".", 1)[0] for p in folder.glob("0*.json")}
    assert names == {trust_service.store_key(v) for v in (7, 8, 9)}
    _data, name, _ = trust_service.stored_bundle_digest(world.instance, trust_service.store_key(2))  # backwards
    assert name is not None and (folder / f"{name}.json").exists()
    assert len(list(folder.glob("0*.json"))) == trust_service.STORE_KEPT + 1  # the newest three and the one written


def test_a_hung_signer_does_not_stall_the_others(
    tmp_path: Path, world_template: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker holding the store's lock (a hung signer): after ``STORE_WAIT`` the bundle is signed here and
    served, not stored. Before: ``flock`` waited without limit."""
    import fcntl
    import threading

    world = copy_world(world_template, tmp_path / "home")
    folder = _store(world)
    folder.mkdir(parents=True)
    monkeypatch.setattr(trust_service, "STORE_WAIT", 0.3, raising=False)
    got: list[tuple[bytes, str | None]] = []
    with open(folder / ".lock", "a+b") as other:  # another open file: flock excludes it as another process
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        worker = threading.Thread(
            target=lambda: got.append(
                trust_service.stored_bundle_digest(world.instance, trust_service.store_key(3))[:2]
            ),
            daemon=True,
        )
        worker.start()
        worker.join(20)
        assert not worker.is_alive()
    data, name = got[0]
    assert name is None
    pins = list(trust_service.root_fingerprints(world.instance).values())
    assert context.build(bundle=data, pins=pins).trust_list is not None


def test_store_failures_cost_no_second_compression_or_signature(
    tmp_path: Path, world_template: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gzip form that cannot be written is compressed once (before: twice), and a pruning that fails leaves the
    bundle stored and named (before: it was signed again and not named)."""
    world = copy_world(world_template, tmp_path / "home")
    key = trust_service.store_key(4)

    def failing_prune(*args: Any, **kwargs: Any) -> None:
        raise OSError("pruning failed")

    monkeypatch.setattr(trust_service, "_prune_store", failing_prune)
    signed: list[int] = []
    real_sign = trust_service._sign_bundle

    def counted_sign(*args: Any) -> dict[str, Any]:
        signed.append(1)
        return real_sign(*args)

    monkeypatch.setattr(trust_service, "_sign_bundle", counted_sign)
    trust_service._verify_bundles.pop(world.instance, None)
    data, name, _ = trust_service.stored_bundle_digest(world.instance, key)
    assert name is not None and len(signed) == 1
    real_write, real_compress = files.atomic_write, gzip.compress
    compressed: list[int] = []

    def failing_write(path: Path, body: bytes) -> None:
        if path.name.endswith(".gz"):
            raise OSError("disk full")
        real_write(path, body)

    def counted_compress(body: bytes, *args: Any, **kwargs: Any) -> bytes:
        compressed.append(1)
        return real_compress(body, *args, **kwargs)

    monkeypatch.setattr("trust.service.trust.atomic_write", failing_write)
    monkeypatch.setattr(gzip, "compress", counted_compress)
    packed = trust_service.stored_gzip_digest(world.instance, name, data)[0]
    monkeypatch.undo()
    assert gzip.decompress(packed) == data and len(compressed) == 1
