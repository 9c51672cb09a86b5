"""Huren's version-4 seal (SESeal, GB/T 38540-2020) read by independent implementations, on the golden seal.

asn1tools compiling ``tests/data/vendor/ses-asn/ses.asn`` decodes every field; OpenSSL verifies the maker's SM2
signature over ``DER(SES_SealInfo)``; Pillow decodes the picture. The seal is ``tests/data/golden/ses/seal-v4.esl``
(a dual seal made by the service at a fixed clock): no world, no service. How the service makes seals (identifiers,
person seals) is tests/seal/test_ses.py.
"""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asn1tools
import pytest
from PIL import Image

from tests.support import golden
from tests.support.tools import STANDARDS, require_tool
from trust.crypto.algorithms import KeyFamily
from trust.crypto.oids import EKU_DOCUMENT_SIGNING
from trust.formats import ses
from trust.formats import x509 as cx
from trust.formats.names import make_uscc

SES = asn1tools.compile_files(str(STANDARDS / "ses.asn"), "der")
ZJ_ORG_USCC = make_uscc("91330106MA2CFA4X0")  # the holder of the golden seals (tests.support.world)


class _Seal:
    """The golden dual seal and what the service recorded about it."""

    def __init__(self) -> None:
        self.seal_der = golden.read("ses/seal-v4.esl")
        self.es_id = golden.ids()["seals"]["contract"]
        parsed = ses.parse_seal(self.seal_der)
        self.valid_start = parsed.valid_start
        self.valid_end = parsed.valid_end


@pytest.fixture(scope="module")
def dual() -> _Seal:
    return _Seal()


def _der(name: str) -> bytes:
    return bytes(golden.certificate(name).dump())


def _maker_der() -> bytes:
    return _der("maker-330000-sm2")


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


def test_asn1tools_decodes_every_field(dual: _Seal) -> None:
    decoded = _utc(SES.decode("SESeal", dual.seal_der))
    info = decoded["eSealInfo"]
    assert info["header"] == {"id": "ES", "version": 4, "vid": "HUREN"}
    assert info["esID"] == dual.es_id
    prop = info["property"]
    assert (prop["type"], prop["name"], prop["certListType"]) == (1, "合同专用章", 1)
    assert prop["certList"] == [
        ("cert", _der("seal-contract-sm2")),
        ("cert", _der("seal-contract-rsa")),
    ]
    assert prop["validStart"] == dual.valid_start.replace(tzinfo=UTC)
    assert prop["validEnd"] == dual.valid_end.replace(tzinfo=UTC)
    made = datetime.fromisoformat(golden.ids()["times"]["issuers_and_seals"])  # the golden world's clock
    assert prop["validStart"] <= prop["createDate"] <= golden.validation_time() < prop["validEnd"]
    assert abs(prop["createDate"] - made) < timedelta(minutes=15)
    picture = info["picture"]
    assert (picture["type"], picture["width"], picture["height"]) == ("PNG", 42, 42)
    assert "extDatas" not in info
    assert decoded["cert"] == _maker_der()
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


def test_openssl_verifies_the_maker_signature(dual: _Seal, tmp_path: Path) -> None:
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


def test_picture_is_a_red_png_of_300_dpi(dual: _Seal) -> None:
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


def test_cert_list_holds_the_signer_certificates(dual: _Seal) -> None:
    parsed = ses.parse_seal(dual.seal_der)
    certs = [cx.load_certificate(der) for der in parsed.cert_list]
    assert [cx.public_key(c).family for c in certs] == [KeyFamily.SM2, KeyFamily.RSA]
    for cert in certs:
        assert cert.subject.native["serial_number"] == ZJ_ORG_USCC
        assert EKU_DOCUMENT_SIGNING in [p.dotted for p in cert.extended_key_usage_value]
