"""Huren's version-4 seals (SESeal, GB/T 38540-2020) read by independent implementations.

asn1tools compiling ``tests/data/vendor/ses-asn/ses.asn`` decodes every field; OpenSSL verifies the maker's SM2
signature over ``DER(SES_SealInfo)``; Pillow decodes the picture.
"""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asn1tools
import pytest
from PIL import Image

from ca import authority
from seal.models import SealMaker, SealRecord
from tests.conftest import STANDARDS, require_tool
from tests.support.server import free_port
from tests.support.world import GD_ORG_USCC, ZJ_ORG_USCC, World, build_world
from trust import db
from trust.crypto.algorithms import KeyFamily
from trust.crypto.oids import EKU_DOCUMENT_SIGNING
from trust.formats import ses
from trust.formats import x509 as cx
from trust.service import seals

SES = asn1tools.compile_files(str(STANDARDS / "ses.asn"), "der")
PERSON = "330106199001010018"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("ses-seals"), free_port())


@pytest.fixture(scope="module")
def dual(world: World) -> SealRecord:
    return seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
        dual=True,
    )


def _der(world: World, serial: str | None) -> bytes:
    assert serial is not None
    with db.session_scope(world.instance.engine, read_only=True) as session:
        return authority.find_certificate(session, serial).der


def _maker_der(world: World, ca_id: str = "region-330000-sm2") -> bytes:
    with db.session_scope(world.instance.engine, read_only=True) as session:
        maker = session.get(SealMaker, ca_id)
        assert maker is not None
        return authority.find_certificate(session, maker.cert_serial).der


def _utc(value: Any) -> Any:
    """asn1tools decodes times as naive datetimes; give them back their ``Z`` before re-encoding."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utc(v) for v in value]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return value[0], _utc(value[1])
    return value


def test_asn1tools_decodes_every_field(world: World, dual: SealRecord) -> None:
    decoded = _utc(SES.decode("SESeal", dual.seal_der))
    info = decoded["eSealInfo"]
    assert info["header"] == {"id": "ES", "version": 4, "vid": "HUREN"}
    assert info["esID"] == dual.es_id
    prop = info["property"]
    assert (prop["type"], prop["name"], prop["certListType"]) == (1, "合同专用章", 1)
    assert prop["certList"] == [
        ("cert", _der(world, dual.sm2_cert_serial)),
        ("cert", _der(world, dual.rsa_cert_serial)),
    ]
    assert prop["validStart"] == dual.valid_start.replace(tzinfo=UTC)
    assert prop["validEnd"] == dual.valid_end.replace(tzinfo=UTC)
    assert prop["validStart"] <= prop["createDate"] <= datetime.now(UTC) < prop["validEnd"]
    assert abs(prop["createDate"] - datetime.now(UTC)) < timedelta(minutes=5)
    picture = info["picture"]
    assert (picture["type"], picture["width"], picture["height"]) == ("PNG", 42, 42)
    assert "extDatas" not in info
    assert decoded["cert"] == _maker_der(world)
    assert decoded["signAlgID"] == "1.2.156.10197.1.501"
    value, bits = decoded["signedValue"]
    assert bits == 8 * len(value) and value[0] == 0x30  # DER SEQUENCE {r, s}, no unused bits
    # Our own parser agrees field by field, and the independent re-encoding is the same DER, byte for byte.
    parsed = ses.parse_seal(dual.seal_der)
    assert (parsed.version, parsed.vendor, parsed.es_id, parsed.name) == (4, "HUREN", dual.es_id, "合同专用章")
    assert parsed.create_date == prop["createDate"] and parsed.picture.data == picture["data"]
    assert parsed.signed_value == value
    assert SES.encode("SESeal", decoded) == dual.seal_der
    assert SES.encode("SES-SealInfo", info) == parsed.signed_bytes


def test_openssl_verifies_the_maker_signature(world: World, dual: SealRecord, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    decoded = _utc(SES.decode("SESeal", dual.seal_der))
    (tmp_path / "maker.der").write_bytes(decoded["cert"])
    subprocess.run(
        [
            openssl,
            "x509",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "maker.der"),
            "-pubkey",
            "-noout",
            "-out",
            str(tmp_path / "maker_pub.pem"),
        ],
        check=True,
        capture_output=True,
    )
    sealinfo = SES.encode("SES-SealInfo", decoded["eSealInfo"])
    (tmp_path / "sig.der").write_bytes(decoded["signedValue"][0])

    def verify(data: bytes) -> subprocess.CompletedProcess[str]:
        (tmp_path / "sealinfo.der").write_bytes(data)
        return subprocess.run(
            [
                openssl,
                "pkeyutl",
                "-verify",
                "-rawin",
                "-digest",
                "sm3",
                "-pkeyopt",
                "distid:1234567812345678",
                "-pubin",
                "-inkey",
                str(tmp_path / "maker_pub.pem"),
                "-in",
                str(tmp_path / "sealinfo.der"),
                "-sigfile",
                str(tmp_path / "sig.der"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    good = verify(sealinfo)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout, good.stderr
    tampered = decoded["eSealInfo"] | {"esID": dual.es_id[:-1] + ("0" if dual.es_id[-1] != "0" else "1")}
    assert verify(SES.encode("SES-SealInfo", tampered)).returncode != 0


def test_picture_is_a_red_png_of_300_dpi(dual: SealRecord) -> None:
    picture = ses.parse_seal(dual.seal_der).picture
    image = Image.open(io.BytesIO(picture.data))
    image.load()
    assert image.format == "PNG"
    dpi_x, dpi_y = image.info["dpi"]
    assert min(dpi_x, dpi_y) >= 299.5
    assert min(image.size) >= 42 / 25.4 * 300 - 1  # 42 mm at 300 dpi
    rgba = image.convert("RGBA")
    raw = rgba.tobytes()
    red = sum(1 for i in range(0, len(raw), 4) if raw[i + 3] > 128 and raw[i] > 180 and max(raw[i + 1 : i + 3]) < 80)
    assert red > 0.02 * image.size[0] * image.size[1]
    corner = rgba.getpixel((0, 0))
    assert isinstance(corner, tuple) and corner[3] == 0  # transparent outside the ring


def test_es_ids_are_unique_and_well_formed(world: World, dual: SealRecord) -> None:
    made = [dual]
    for ca_id, kind, name, code in (
        ("region-330000-sm2", "organization", "杭州示例科技有限公司", ZJ_ORG_USCC),
        ("region-330000-sm2", "organization", "杭州示例科技有限公司", ZJ_ORG_USCC),
        ("region-330000-sm2", "person", "张三", PERSON),
        ("region-440000-sm2", "organization", "广州示例有限公司", GD_ORG_USCC),
    ):
        made.append(
            seals.create(
                world.instance,
                ca_id=ca_id,
                holder_kind=kind,
                holder_name=name,
                holder_code=code,
                seal_name="公章" if kind == "organization" else "个人签章",
            )
        )
    parsed = [ses.parse_seal(r.seal_der) for r in made]
    ids = [p.es_id for p in parsed]
    assert len(set(ids)) == len(ids)
    for record, seal_info in zip(made, parsed, strict=True):
        # The date part is the seal's creation day (UTC), not "today": the module's seal may predate midnight.
        created = seal_info.create_date
        assert abs(datetime.now(UTC) - created) < timedelta(hours=1)
        assert seal_info.es_id == record.es_id
        day = created.astimezone(UTC).strftime("%Y%m%d")
        assert re.fullmatch(rf"{record.issuer_ca_id[7:13]}{day}[0-9A-F]{{8}}", seal_info.es_id), seal_info.es_id


def test_cert_list_holds_the_signer_certificates(world: World, dual: SealRecord) -> None:
    parsed = ses.parse_seal(dual.seal_der)
    certs = [cx.load_certificate(der) for der in parsed.cert_list]
    assert [cx.public_key(c).family for c in certs] == [KeyFamily.SM2, KeyFamily.RSA]
    for cert in certs:
        assert cert.subject.native["serial_number"] == ZJ_ORG_USCC
        assert EKU_DOCUMENT_SIGNING in [p.dotted for p in cert.extended_key_usage_value]
    person = seals.create(
        world.instance,
        ca_id="region-330000-sm2",
        holder_kind="person",
        holder_name="李四",
        holder_code=PERSON,
        seal_name="个人签章",
    )
    single = ses.parse_seal(person.seal_der)
    assert single.cert_list == (_der(world, person.sm2_cert_serial),) and person.rsa_cert_serial is None
    assert (single.seal_type, single.picture.width_mm) == (2, 20)
