"""A small Huren world built once per test session: national roots, national operations CAs, the regions
浙江 (330000) and 广东 (440000) with SM2 and RSA CAs, and platform clients for HTTP tests — a national
operator (``national-ops``) and the two regional platforms (``zj-platform``, ``gd-platform``), each with an
SM2 credential from the national CA. ``world.auth("zj-platform")`` gives the headers of a request signed with
a fresh client assertion. Tests that change state build their own world, or copy the session's template of one
(:func:`copy_world`, the ``world_template`` fixture of tests/conftest.py) when they need no other shape."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust.formats.names import make_uscc
from trust.service import ca as service
from trust.service.instance import Instance
from trust.settings import Settings

PASSPHRASE = b"test world passphrase"
ZJ_ORG_USCC = make_uscc("91330106MA2CFA4X0")
GD_ORG_USCC = make_uscc("91440101MA5CXXX00")


@dataclass
class PlatformKey:
    client_id: str
    key: Any  # trust.crypto.keys.PrivateKey, held by the platform (never in Huren's key store)
    certificate: Any  # its credential certificate


@dataclass
class World:
    instance: Instance
    home: Path
    base_url: str
    port: int
    platforms: dict[str, PlatformKey] = field(default_factory=dict)

    def add_platform(
        self,
        client_id: str,
        kind: str,
        *,
        region: str | None = None,
        license_issuer_id: str | None = None,
        family: str = "SM2",
    ) -> PlatformKey:
        """Register a client and certify a key made here, as a platform would (CSR, national CA)."""
        from trust.crypto.keys import generate_private_key
        from trust.formats import csr
        from trust.formats import x509 as cx
        from trust.formats.names import DN
        from trust.service import clients

        clients.add_client(
            self.instance,
            client_id=client_id,
            kind=kind,
            name=f"{client_id} 平台",
            region=region,
            license_issuer_id=license_issuer_id,
        )
        key = generate_private_key("sm2" if family == "SM2" else "rsa-2048")
        der = clients.issue_credential(
            self.instance, client_id=client_id, csr_der=csr.build(key, DN(common_name=client_id)), family=family
        )
        platform = PlatformKey(client_id, key, cx.load_certificate(der))
        self.platforms[client_id] = platform
        return platform

    def assertion(self, client_id: str, **kwargs: Any) -> str:
        from trust.service import clients

        platform = self.platforms[client_id]
        kwargs.setdefault("audience", clients.audiences(self.instance)[1])
        return clients.make_assertion(platform.key, platform.certificate, client_id=client_id, **kwargs)

    def auth(self, client_id: str, **kwargs: Any) -> dict[str, str]:
        """Headers for one request by ``client_id`` (a fresh client assertion as the bearer credential)."""
        return {"Authorization": f"Bearer {self.assertion(client_id, **kwargs)}"}

    def ca_pem(self, ca_id: str) -> bytes:
        from trust.formats import x509 as cx

        return cx.certificate_pem(cx.load_certificate(service.ca_certificate_der(self.instance, ca_id)))


def make_instance(home: Path, port: int = 8000, database_url: str | None = None) -> Instance:
    settings = Settings(
        home=home,
        database_url=database_url,
        public_url=f"http://127.0.0.1:{port}",
        key_kdf_iterations=2_000,
        port=port,
        # The tests of this world fail authentications on purpose, many times a minute from one address; the
        # failure budgets have their own tests (tests/trust/http/test_ratelimit.py).
        auth_failure_limit=0,
        auth_failure_client_limit=0,
    )
    return Instance(settings, passphrase=PASSPHRASE)


def build_world(home: Path, port: int, database_url: str | None = None) -> World:
    """The world on SQLite under ``home``, or on ``database_url`` (PostgreSQL tests)."""
    instance = make_instance(home, port, database_url)
    service.init(instance)
    for code in ("330000", "440000"):
        for family in ("SM2", "RSA"):
            service.enrol(instance, kind="region", code=code, family=family)
    world = World(instance=instance, home=home, base_url=f"http://127.0.0.1:{port}", port=port)
    world.add_platform("national-ops", "operator")
    world.add_platform("zj-platform", "region", region="330000")
    world.add_platform("gd-platform", "region", region="440000")
    return world


def copy_world(template: World, home: Path) -> World:
    """A world of its own for a module or test that changes state, copied from ``template`` (the session's
    ``world_template``, built once by :func:`build_world`) into ``home`` (which must not exist yet) instead of built
    again: the same CAs, keys and platform credentials, a separate database and key store.

    Checked as :func:`tests.support.demo.copy_demo` checks its copies: the same files with the same bytes and modes
    (database, key store, ``public/``), no file of the copy names the template's folder, and the copy's instance uses
    the copy's database. The certificates name the template's port (their CRL and OCSP addresses), so the copy keeps
    it: serve a copy on ``world.port`` only while no other copy is served (one module at a time)."""
    from tests.support.demo import copy_home

    assert template.instance.settings.database_url is None, "only a SQLite world is copied"
    template.instance.engine.dispose()  # every connection closed: SQLite folds its write-ahead log into huren.db
    copy_home(template.home, home, ("huren.db", "keys", "public"))
    instance = make_instance(home, template.port)
    url = instance.settings.effective_database_url
    assert url == f"sqlite:///{(home / 'huren.db').resolve()}", url
    assert instance.settings.keystore_dir == home / "keys"
    return World(
        instance=instance,
        home=home,
        base_url=template.base_url,
        port=template.port,
        platforms=dict(template.platforms),
    )


def copy_world_with_issuer(template: World, home: Path, license_type: str) -> tuple[World, str]:
    """A copy of ``template`` with Zhejiang's market regulator registered as a licence issuer of ``license_type``
    under the region's SM2 CA; the world and the issuer's id (the state and context-patch tests start here)."""
    from trust.service import licenses

    world = copy_world(template, home)
    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省市场监督管理局",
        code=make_uscc("11330000002482226"),
        license_types=[license_type],
    )
    return world, issuer.id


def two_workers(kind: str, template: World, home: Path) -> Iterator[tuple[Instance, Instance]]:
    """Two instances (two workers' engines and pools) on one database and key store: a copy of ``template`` on SQLite
    (``kind`` "sqlite"), or a fresh PostgreSQL database with Zhejiang's SM2 CA enrolled; disposed of at the end."""
    from tests.support import postgres

    if kind == "sqlite":
        world = copy_world(template, home)
        pair = (world.instance, make_instance(world.home, world.port))
        yield pair
        for instance in pair:
            instance.engine.dispose()
        return
    databases = postgres.fresh_database()
    url = next(databases)
    try:
        first = make_instance(home, 8000, url)
        service.init(first)
        service.enrol(first, kind="region", code="330000", family="SM2")
        pair = (first, make_instance(home, 8000, url))
        yield pair
        for instance in pair:
            instance.engine.dispose()
    finally:
        databases.close()
