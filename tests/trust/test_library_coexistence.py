"""Importing Huren changes nothing for other users of the same libraries in the process (issue 14 item 6).

A child process imports every module of Huren's five packages, then uses PyJWT, joserfc (and python-jose, if some
other package installed it), asn1crypto and pyHanko in the ordinary way; a second child that never imports Huren
does the same; their results must be equal. The cases are chosen so that each of the process-wide patches Huren
used to apply shows: python-jose's key registry (its own RSA/EC keys replaced), asn1crypto's ``dump`` (a definite
length ending in ``0x80`` re-encoded — asn1crypto's bug, which is its users' behaviour), ``_parse_children``
(nesting bounded at 64 levels), ``RelativeDistinguishedName.hashable`` (its memo left on the RDN objects) and
pyHanko's string readers (replaced by linear ones).

Huren itself still gets its fixes: the last test shows them inside Huren's scope.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core, keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from trust.crypto import asn1fix

CHILD = r"""
import hashlib, io, json, sys
if sys.argv[1] == "huren":
    import importlib, pkgutil
    for top in ("trust", "ca", "seal", "licenses", "verifier"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, top + "."):
            if not info.name.startswith("trust.migrations"):  # Alembic scripts, run only by Alembic
                importlib.import_module(info.name)
    assert "verifier.pdf.strings" in sys.modules and "trust.formats.jose" in sys.modules
data = json.loads(open(sys.argv[2], encoding="utf-8").read())
pem, der = data["pem"].encode(), bytes.fromhex(data["certificate"])
out = {}

import jwt
out["pyjwt"] = jwt.encode({"sub": "x"}, pem, algorithm="RS256", headers={"kid": "k"})
out["pyjwt-decoded"] = jwt.decode(out["pyjwt"], data["public_pem"], algorithms=["RS256"])
from joserfc import jws
from joserfc.jwk import RSAKey
out["joserfc"] = jws.serialize_compact({"alg": "RS256"}, b"payload", RSAKey.import_key(pem))
try:
    from jose import jwt as jose_jwt
except ImportError:
    out["python-jose"] = "not installed"
else:
    out["python-jose"] = jose_jwt.encode({"sub": "x"}, data["pem"], algorithm="RS256")

from asn1crypto import core, x509
certificate = x509.Certificate.load(der)
tbs = certificate["tbs_certificate"]
out["tbs-header"] = tbs._header.hex()
out["tbs-dump"] = hashlib.sha256(tbs.dump()).hexdigest()
out["certificate-dump"] = hashlib.sha256(certificate.dump()).hexdigest()
out["subject-unique-id"] = str(tbs["subject_unique_id"].native)
try:
    out["nested"] = repr(core.load(bytes.fromhex(data["nested"])).native)[:40]
except Exception as exc:
    out["nested"] = type(exc).__name__
name, same = x509.Name.load(bytes.fromhex(data["name"])), x509.Name.load(bytes.fromhex(data["name"]))
out["names-equal"] = [name == same, name == certificate.subject, [rdn.hashable for rdn in name.chosen]]
out["rdn-attributes"] = sorted(vars(name.chosen[1]))  # what a comparison leaves on the RDN object

from pyhanko.pdf_utils import generic
calls = set()
def profile(frame, event, arg):
    if event == "call" and "/pyhanko/" in frame.f_code.co_filename:
        calls.add(frame.f_code.co_name)
sys.setprofile(profile)
hex_string = generic.read_hex_string_from_stream(io.BytesIO(b"<48 65 6c6C6f>"))
literal = generic._read_string_literal_bytes(io.BytesIO(b"(a\\(b\\)c\\101)"))
sys.setprofile(None)
out["pdf-strings"] = [hex_string.original_bytes.hex(), literal.hex()]
out["pyhanko-functions"] = sorted(calls)
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
"""


def _nested(depth: int) -> bytes:
    value = b"\x05\x00"
    for _ in range(depth):
        value = b"\x30" + _length(len(value)) + value
    return value


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _certificate_with_0x80_length(public_der: bytes) -> bytes:
    """A certificate whose tbsCertificate is 640 octets long (header ``30 82 02 80``) and has a subjectUniqueID
    BIT STRING with 7 unused bits: asn1crypto's ``dump`` takes that header for BER and re-encodes the value."""
    for size in range(1, 600):
        tbs = x509.TbsCertificate(
            {
                "version": "v3",
                "serial_number": 1,
                "signature": {"algorithm": "sha256_rsa"},
                "issuer": x509.Name.build({"common_name": "Coexistence Test CA"}),
                "validity": {
                    "not_before": x509.Time(name="utc_time", value=_utc(2026)),
                    "not_after": x509.Time(name="utc_time", value=_utc(2036)),
                },
                "subject": x509.Name.build({"common_name": "x" * size}),
                "subject_public_key_info": keys.PublicKeyInfo.load(public_der),
                "subject_unique_id": b"\x80",
            }
        ).dump()
        if tbs[:4] == b"\x30\x82\x02\x80":
            tbs = tbs.replace(b"\x82\x02\x00\x80", b"\x82\x02\x07\x80")  # 7 unused bits: valid DER, not re-encodable
            signature = b"\x03\x81\x81\x00" + b"\x01" * 128
            algorithm = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00"
            body = tbs + algorithm + signature
            return b"\x30" + _length(len(body)) + body
    raise AssertionError("no subject length gives a 640-octet tbsCertificate")


def _utc(year: int) -> Any:
    from datetime import UTC, datetime

    return datetime(year, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key()
    data = {
        "pem": pem.decode(),
        "public_pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "certificate": _certificate_with_0x80_length(
            public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ).hex(),
        "nested": _nested(100).hex(),
        "name": x509.Name.build({"common_name": "浙江省市场监督管理局", "country_name": "CN"}).dump().hex(),
    }
    path = tmp_path_factory.mktemp("coexistence") / "material.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _child(mode: str, material: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(material)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_libraries_behave_as_without_huren(material: Path) -> None:
    alone = _child("alone", material)
    with_huren = _child("huren", material)
    # the cases reach the behaviour they are about (so an equal result means something)
    assert alone["tbs-header"] == "30820280"
    assert alone["nested"] != "ValueError"  # asn1crypto parses 100 levels; Huren's bound would stop at 64
    assert alone["names-equal"][:2] == [True, False]
    assert "read_hex_string_from_stream" in alone["pyhanko-functions"]
    differences = {name: (with_huren[name], value) for name, value in alone.items() if with_huren[name] != value}
    assert differences == {}, "(with Huren imported, without): " + repr(differences)


def test_huren_keeps_its_fixes_in_its_own_scope(material: Path) -> None:
    """Inside Huren's scope the asn1crypto fixes still apply: the 0x80 length is kept, nesting is bounded."""
    data = json.loads(material.read_text(encoding="utf-8"))
    der = bytes.fromhex(data["certificate"])
    original_tbs = der[4 : 4 + 4 + 640]
    assert original_tbs[:4] == b"\x30\x82\x02\x80"
    outside = x509.Certificate.load(der)["tbs_certificate"].dump()
    assert outside != original_tbs  # asn1crypto's own (buggy) re-encoding, as other users get it
    with asn1fix.scope():
        inside = x509.Certificate.load(der)["tbs_certificate"].dump()
        assert inside == original_tbs
        with pytest.raises(ValueError, match="nested deeper than 64"):
            _ = core.load(bytes.fromhex(data["nested"])).native
