"""A small Huren world built once per test session: national roots, national operations CAs, and the
regions 浙江 (330000) and 广东 (440000) with SM2 and RSA CAs. Tests that change state build their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ca.names import make_uscc
from trust.service import ca as service
from trust.service.instance import Instance
from trust.settings import Settings

PASSPHRASE = b"test world passphrase"
ZJ_ORG_USCC = make_uscc("91330106MA2CFA4X0")
GD_ORG_USCC = make_uscc("91440101MA5CXXX00")


@dataclass
class World:
    instance: Instance
    home: Path
    base_url: str
    port: int

    def ca_pem(self, ca_id: str) -> bytes:
        from ca import x509 as cx

        return cx.certificate_pem(cx.load_certificate(service.ca_certificate_der(self.instance, ca_id)))


def make_instance(home: Path, port: int = 8000) -> Instance:
    settings = Settings(home=home, public_url=f"http://127.0.0.1:{port}", key_kdf_iterations=2_000, port=port)
    return Instance(settings, passphrase=PASSPHRASE)


def build_world(home: Path, port: int) -> World:
    instance = make_instance(home, port)
    service.init(instance)
    for code in ("330000", "440000"):
        for family in ("SM2", "RSA"):
            service.enrol(instance, kind="region", code=code, family=family)
    return World(instance=instance, home=home, base_url=f"http://127.0.0.1:{port}", port=port)
