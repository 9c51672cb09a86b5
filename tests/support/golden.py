"""The golden artefacts (``tests/data/golden/``, made by its ``make.py``): Huren's own certificates, CRLs, OCSP
responses, time-stamps, seals, signatures, sealed PDFs, licence tokens, SD-JWTs, status lists, licence PDFs, trust
list and bundle, each made once through the whole service stack at a fixed clock and judged here at the recorded
validation time — so format and verifier tests need no database, no service and no world.

This module imports only the crypto and format layers and the verifier (the import-linter contract "Tests on golden
artefacts stand alone" in pyproject.toml keeps it so).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import x509

from trust.crypto.keys import PrivateKey, load_private_key
from trust.formats import x509 as cx

if TYPE_CHECKING:
    from verifier.context import VerificationContext

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
REPO = GOLDEN.parents[2]


@cache
def manifest() -> dict[str, Any]:
    path = GOLDEN / "manifest.json"
    if not path.exists():
        raise AssertionError(f"golden artefacts missing: {path} (run tests/data/golden/make.py)")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def validation_time() -> datetime:
    """When the golden artefacts are judged: every good one passes then."""
    return datetime.fromisoformat(manifest()["validation_time"])


def made_at() -> datetime:
    return datetime.fromisoformat(manifest()["made_at"])


def pins(*families: str) -> list[str]:
    """The national roots' fingerprints a verifier pins (SM2 by default)."""
    return [manifest()["pins"][family] for family in (families or ("SM2",))]


def ids() -> dict[str, Any]:
    return dict(manifest()["ids"])


def path(name: str) -> Path:
    found = GOLDEN / name
    if name not in manifest()["files"] or not found.exists():
        raise AssertionError(f"no golden file {name} (tests/data/golden/README.md lists them)")
    return found


@cache
def read(name: str) -> bytes:
    return path(name).read_bytes()


def text(name: str) -> str:
    return read(name).decode("utf-8")


def load_json(name: str) -> Any:
    return json.loads(read(name))


def certificate(name: str) -> x509.Certificate:
    return cx.load_certificate(read(f"pki/{name}.pem"))


@cache
def key(name: str) -> PrivateKey:
    """A test key of the golden world (``keys/NAME.key.pem``, PBES2-encrypted PKCS#8 under the test passphrase)."""
    return load_private_key(read(f"keys/{name}.key.pem"), manifest()["passphrase_of_keys"].encode())


@cache
def bundle(name: str = "trust/bundle.json") -> bytes:
    return read(name)


def context(
    *,
    at: datetime | None = None,
    bundle_name: str = "trust/bundle.json",
    families: tuple[str, ...] = ("SM2",),
    **options: Any,
) -> VerificationContext:
    """What a verifier anywhere holds: the signed bundle and a pinned root fingerprint, at the validation time (or
    ``at``)."""
    from verifier import context as verifier_context

    return verifier_context.build(
        bundle=bundle(bundle_name),
        pins=pins(*families),
        at=at or validation_time(),
        environ={},
        **options,
    )


def later(**delta: float) -> datetime:
    return validation_time() + timedelta(**delta)


def time_stamp(message_digest: bytes, *, gen_time: datetime | None = None, serial: int = 1) -> bytes:
    """An RFC 3161 time-stamp token (DER ContentInfo) by the golden SM2 TSA's key over an SM3 ``message_digest``, at
    ``gen_time`` (default: a minute before the validation time) — for tests that stamp what they make themselves.
    Written here over the format layer (``TSTInfo`` as RFC 3161 clause 2.4.2 and Huren's TSA make it: policy,
    accuracy one second, the TSA's name, ESSCertIDv2 with SM3), not by the issuance code."""
    from asn1crypto import tsp as asn1_tsp
    from asn1crypto import x509 as asn1_x509

    from trust.formats import cms as cms_format
    from trust.formats import tsp as tsp_format

    cert = certificate("tsa-sm2")
    moment = (gen_time or later(minutes=-1)).replace(microsecond=0)
    info = asn1_tsp.TSTInfo(
        {
            "version": "v1",
            "policy": tsp_format.POLICY,
            "message_imprint": {"hash_algorithm": {"algorithm": "sm3"}, "hashed_message": message_digest},
            "serial_number": serial,
            "gen_time": moment,
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=cert.subject),
        }
    )
    token = cms_format.sign(
        info.dump(),
        key("tsa-sm2").signer(),
        cert,
        content_type="tst_info",
        attributes=[tsp_format.signing_certificate_v2(cert, "sm3")],
    )
    return bytes(token.dump())
