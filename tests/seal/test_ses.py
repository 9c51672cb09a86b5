"""Huren's version-4 seals (SESeal, GB/T 38540-2020) as the service makes them: unique, well-formed esIDs; the
signer certificates of dual and person seals. The format tests (asn1tools decoding every field, OpenSSL verifying the
maker's signature, Pillow reading the picture) run on the golden seal: tests/trust/formats/test_ses_golden.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asn1tools
import pytest

from ca import authority
from seal.models import SealMaker, SealRecord
from tests.conftest import STANDARDS
from tests.support.world import GD_ORG_USCC, ZJ_ORG_USCC, World, copy_world
from trust import db
from trust.crypto.algorithms import KeyFamily
from trust.formats import ses
from trust.formats import x509 as cx
from trust.service import seals

SES = asn1tools.compile_files(str(STANDARDS / "ses.asn"), "der")
PERSON = "330106199001010018"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> World:
    return copy_world(world_template, tmp_path_factory.mktemp("ses-seals") / "home")


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
    """A dual seal lists both signer certificates (the format tests of Huren's seal run on the golden one:
    tests/trust/formats/test_ses_golden.py); a person's seal lists its one SM2 certificate."""
    certs = [cx.load_certificate(der) for der in ses.parse_seal(dual.seal_der).cert_list]
    assert [cx.public_key(c).family for c in certs] == [KeyFamily.SM2, KeyFamily.RSA]
    assert certs[0].dump() == _der(world, dual.sm2_cert_serial)
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
