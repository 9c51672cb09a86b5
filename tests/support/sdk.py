"""A fresh test world for the platform and holder clients (``trust.client``) and their commands: the world of
:mod:`tests.support.world` plus 浙江省市场监督管理局 as licence issuer of 营业执照 (and its department client
``zj-amr``), served by a real uvicorn server on the port its certificates name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from licenses import samples
from tests.support.server import free_port, live_server
from tests.support.world import ZJ_ORG_USCC, World, build_world, copy_world
from trust.crypto import jwk
from trust.crypto.keys import PrivateKey
from trust.formats.names import make_uscc

BUSINESS = "11100000000013338W101"  # 营业执照
ZJ_AUTHORITY = make_uscc("11330000002482226")  # 浙江省市场监督管理局
SM2_CA = "region-330000-sm2"


@dataclass
class Sdk:
    world: World
    url: str
    issuer_id: str

    def platform(self, client_id: str = "zj-platform") -> Any:
        """A :class:`trust.client.PlatformClient` of ``client_id`` (its key and credential from the world)."""
        from trust.client import PlatformClient

        made = self.world.platforms[client_id]
        return PlatformClient(self.url, signer=made.key.signer(), chain=[bytes(made.certificate.dump())])

    def issue(self, holder: PrivateKey | None = None, **fields: Any) -> Any:
        """A licence issued through the service layer (bound to ``holder`` when given)."""
        from trust.service import licenses

        return licenses.issue(
            self.world.instance,
            issuer_id=self.issuer_id,
            type_code=BUSINESS,
            fields={**samples.sample(BUSINESS), **fields},
            holder_jwk=jwk.public_jwk(holder.public_key) if holder is not None else None,
        ).record


@contextmanager
def sdk_world(home: Path, template: World | None = None) -> Iterator[Sdk]:
    """A world served over HTTP for the client tests: a copy of ``template`` (the session's ``world_template``) when
    given, else one built in ``home``."""
    from trust.service import licenses

    world = copy_world(template, home) if template is not None else build_world(home, free_port())
    issuer = licenses.register_issuer(
        world.instance, ca_id=SM2_CA, name="浙江省市场监督管理局", code=ZJ_AUTHORITY, license_types=[BUSINESS]
    )
    world.add_platform("zj-amr", "department", region="330000", license_issuer_id=issuer.id)
    with live_server(world.instance, world.port) as url:
        yield Sdk(world, url, issuer.id)


__all__ = ["BUSINESS", "SM2_CA", "ZJ_AUTHORITY", "ZJ_ORG_USCC", "Sdk", "sdk_world"]
