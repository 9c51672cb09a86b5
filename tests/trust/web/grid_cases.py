"""The verifier page's grid (issue 17): every kind of input the page accepts × valid, tampered, revoked, expired and
foreign (untrusted), made from the golden artefacts (tests/data/golden) and a few made here once per module from the
golden keys (OFDs sealed with the golden seal, QR photos drawn with ``qrcode``, foreign issuers' keys).

What is expected of each is the verifier library's own report on the same input at the same time (the page must show
exactly it) and, above that, what the state demands (:data:`DEMANDS`): a valid input passes, a tampered one fails, a
revoked one fails or is undecided for want of proof of existence (``REVOKED_NO_POE``), an expired or foreign one
never passes. Combinations that do not exist are listed in :data:`NOT_APPLICABLE` with the reason."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final

from tests.support import golden
from tests.support.tools import shared_file

KINDS: Final = (
    "sealed-pdf", "license-pdf", "ofd", "seal", "ses-signature", "token", "sd-jwt", "qr-payload", "certificate",
    "qr-photo",
)  # fmt: skip
STATES: Final = ("valid", "tampered", "revoked", "expired", "foreign")
FOOD: Final = "11100000000013338W102"  # a five-year licence of the matrix: expired six years later

NOT_APPLICABLE: Final = {
    ("license-pdf", "foreign"): "a licence PDF under a foreign PKI is a sealed PDF under a foreign PKI (sealed-pdf, "
    "foreign) whose attachment is a foreign licence token (token, foreign)",
}
"""(The expired OFD and GB/T 38540 signature are unstamped seal signatures judged six years on: their timeInfo is only
claimed, so they are INDETERMINATE / OUT_OF_BOUNDS_NO_POE since issue sespoe, as an unstamped PAdES B-B PDF is.)"""


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    state: str
    data: bytes
    text: bool = False  # pasted into the text box, not uploaded
    name: str = "input"
    mime: str = "application/octet-stream"
    signed_data: bytes | None = None
    at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.state}"


def later() -> datetime:
    return golden.later(days=6 * 366)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


# -- made once -----------------------------------------------------------------------------------------------------


def _foreign_token_for(header: dict[str, Any], payload: bytes) -> str:
    from trust.crypto import jwk
    from trust.crypto.keys import generate_private_key
    from trust.formats import jose

    rogue = generate_private_key("SM2")
    head = {k: v for k, v in header.items() if k not in ("alg", "x5c", "x5t#S256")}
    head["kid"] = jwk.thumbprint(rogue.signer().public_key)
    return str(jose.sign_compact(payload, rogue.signer(), headers=head))


def _parts(compact: str) -> tuple[dict[str, Any], bytes]:
    import base64

    head, body, _sig = compact.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(head))), base64.urlsafe_b64decode(pad(body))


@cache
def foreign_token() -> str:
    """The golden licence's claims signed by a key no trust list names (a foreign or forged issuer)."""
    return _foreign_token_for(*_parts(golden.text("license/token-zj.jwt")))


@cache
def foreign_sd_jwt() -> str:
    """The golden SD-JWT's issuer JWT signed again by a key no trust list names, its disclosures kept."""
    issuer_jwt, *rest = golden.text("license/sd-jwt-zj.txt").strip().split("~")
    return "~".join([_foreign_token_for(*_parts(issuer_jwt)), *rest])


def foreign_certificate(subject: str = "外省伪造CA") -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    start = golden.validation_time() - timedelta(days=1)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM)


def _tampered_certificate() -> bytes:
    """The contract seal's certificate with one bit of its signature value flipped."""
    der = golden.certificate("seal-contract-sm2").dump()
    return _flip(der, len(der) - 3)


def qr_photo(payload: str) -> bytes:
    """``payload`` drawn as a QR code (``qrcode``), on a page-coloured ground, turned 7° and scaled like a phone
    photo, as a JPEG."""
    import qrcode
    from PIL import Image
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=4, border=4)
    code.add_data(qrcode.util.QRData(payload, mode=qrcode.util.MODE_ALPHA_NUM))  # type: ignore[call-overload]
    code.make(fit=True)
    image = code.make_image().get_image().convert("RGB")
    page = Image.new("RGB", (image.width + 160, image.height + 200), (250, 250, 245))
    page.paste(image, (80, 100))
    photo = page.rotate(7, expand=True, fillcolor=(235, 235, 230), resample=Image.Resampling.BICUBIC)
    photo = photo.resize((int(photo.width * 1.25), int(photo.height * 1.25)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    return out.getvalue()


OFD_SOURCE: Final = "ofdrw-converter-helloworld.ofd"
FOREIGN_OFD: Final = "ofdrw-sign-v4signed.ofd"


def _seal_ofd(seal_name: str, key: str, cert: str, at: datetime) -> bytes:
    from seal import ofd as seal_ofd

    return seal_ofd.seal_ofd(
        shared_file("ofd", OFD_SOURCE).read_bytes(),
        seal_der=golden.read(seal_name),
        signer=golden.key(key).signer(),
        signer_cert=golden.certificate(cert).dump(),
        time_info=at,
    )


@cache
def ofd_valid() -> bytes:
    """ofdrw's hello-world OFD sealed by the golden contract seal (SM2 signer) before the validation time."""
    before = golden.validation_time() - timedelta(minutes=5)
    return _seal_ofd("ses/seal-v4.esl", "seal-contract-sm2", "seal-contract-sm2", before)


@cache
def ofd_revoked() -> bytes:
    """Sealed by the seal whose signer certificate was revoked (golden ``revocations``), after its revocation."""
    before = golden.validation_time() - timedelta(minutes=5)
    return _seal_ofd("ses/seal-v4-revoked-later.esl", "seal-revoked-sm2", "seal-revoked-sm2", before)


def inner_signature(ofd: bytes) -> tuple[bytes, bytes]:
    """The SES_Signature of an OFD's (first) seal and what it signs (its Signature.xml)."""
    from trust.formats.ofd import package

    pkg = package.read(ofd)
    base = _sign_path(pkg)
    return pkg.read(base + "SignedValue.dat"), pkg.read(base + "Signature.xml")


def ofd_tampered() -> bytes:
    """:func:`ofd_valid` with one protected file (the page's content) changed by one byte after sealing."""
    import zipfile

    source = io.BytesIO(ofd_valid())
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("Content.xml") and "Pages" in info.filename and b"OFD" in data:
                data = data.replace(b"OFD", b"0FD", 1)
            zout.writestr(info, data)
    return out.getvalue()


def foreign_seal() -> bytes:
    """The seal of ofdrw's signed sample: made by ofdrw's test PKI, which no trust list names."""
    from trust.formats import ses
    from trust.formats.ofd import package

    pkg = package.read(shared_file("ofd", FOREIGN_OFD).read_bytes())
    return ses.parse_signature(pkg.read(_sign_path(pkg) + "SignedValue.dat")).seal.der


def _sign_path(pkg: Any) -> str:
    names = [n for n in pkg.names if n.endswith("SignedValue.dat")]
    return names[0][: -len("SignedValue.dat")]


def foreign_signature() -> tuple[bytes, bytes]:
    """ofdrw's SES_Signature and what it signs (its Signature.xml): a foreign signer and seal."""
    return inner_signature(shared_file("ofd", FOREIGN_OFD).read_bytes())


def _foreign_pdf(tmp: Path) -> bytes:
    from tests.verifier.test_generic_purpose import _foreign, _signed_pdf

    return bytes(_signed_pdf(_foreign([]), tmp))


# -- the grid ----------------------------------------------------------------------------------------------------------


def builders(tmp: Path) -> dict[tuple[str, str], Callable[[], Case]]:
    """How to make each case of the grid (lazily: the foreign PDF and the OFDs take a moment)."""
    from trust.formats import license_token

    revoked = golden.load_json("license/revoked.json")
    food = golden.load_json("license/matrix.json")["zj"][FOOD]
    document = golden.read("ses/document.xml")
    changed = golden.text("broken/token-payload-changed.jwt").strip()
    pdf, jpeg, der = "application/pdf", "image/jpeg", "application/octet-stream"

    def file(name: str, data: bytes | None = None, mime: str = der, signed: bytes | None = None,
             at: datetime | None = None) -> Callable[[str, str], Case]:  # fmt: skip
        def make(kind: str, state: str) -> Case:
            content = golden.read(name) if data is None else data
            return Case(kind, state, content, name=name.rsplit("/", 1)[-1], mime=mime, signed_data=signed, at=at)

        return make

    def made(name: str, thing: Callable[[], bytes], mime: str = der, at: datetime | None = None,
             signed: Callable[[], bytes] | None = None) -> Callable[[str, str], Case]:  # fmt: skip
        def make(kind: str, state: str) -> Case:
            return Case(kind, state, thing(), name=name, mime=mime, signed_data=signed() if signed else None, at=at)

        return make

    def text(value: Callable[[], str], at: datetime | None = None) -> Callable[[str, str], Case]:
        return lambda kind, state: Case(kind, state, value().strip().encode(), text=True, at=at)

    def photo(value: Callable[[], str], at: datetime | None = None) -> Callable[[str, str], Case]:
        return made("qr.jpg", lambda: qr_photo(value().strip()), jpeg, at)

    sig = inner_signature
    table: dict[tuple[str, str], Callable[[str, str], Case]] = {
        ("sealed-pdf", "valid"): file("pdf/sealed-SM2-B-LTA.pdf", mime=pdf),
        ("sealed-pdf", "tampered"): file("broken/sealed-SM2-B-T-byte-changed.pdf", mime=pdf),
        ("sealed-pdf", "revoked"): file("pdf/revoked-after-B-T.pdf", mime=pdf),
        ("sealed-pdf", "expired"): file("pdf/sealed-SM2-B-B.pdf", mime=pdf, at=later()),
        ("sealed-pdf", "foreign"): made("foreign.pdf", lambda: _foreign_pdf(tmp), pdf),
        ("license-pdf", "valid"): file("license/license.pdf", mime=pdf),
        ("license-pdf", "tampered"): file("license/mixed-token.pdf", mime=pdf),
        ("license-pdf", "revoked"): file("license/license-food.pdf", mime=pdf),
        ("license-pdf", "expired"): file("license/license.pdf", mime=pdf, at=later()),
        ("ofd", "valid"): made("sealed.ofd", ofd_valid),
        ("ofd", "tampered"): made("changed.ofd", ofd_tampered),
        ("ofd", "revoked"): made("revoked.ofd", ofd_revoked),
        ("ofd", "expired"): made("sealed.ofd", ofd_valid, at=later()),
        ("ofd", "foreign"): made(FOREIGN_OFD, lambda: shared_file("ofd", FOREIGN_OFD).read_bytes()),
        ("seal", "valid"): file("ses/seal-v4.esl"),
        ("seal", "tampered"): file("broken/seal-maker-signature-flipped.esl"),
        ("seal", "revoked"): file("ses/seal-v4-gd.esl"),
        ("seal", "expired"): file("ses/seal-v4.esl", at=later()),
        ("seal", "foreign"): made("ofdrw.esl", foreign_seal),
        ("ses-signature", "valid"): file("ses/signature-v4.der", signed=document),
        ("ses-signature", "tampered"): file("broken/signature-data-hash-flipped.der", signed=document),
        ("ses-signature", "revoked"): made(
            "revoked.der", lambda: sig(ofd_revoked())[0], signed=lambda: sig(ofd_revoked())[1]
        ),
        ("ses-signature", "expired"): file("ses/signature-v4-unstamped.der", signed=document, at=later()),
        ("ses-signature", "foreign"): made(
            "ofdrw.der", lambda: foreign_signature()[0], signed=lambda: foreign_signature()[1]
        ),
        ("token", "valid"): text(lambda: golden.text("license/token-zj.jwt")),
        ("token", "tampered"): text(lambda: changed),
        ("token", "revoked"): text(lambda: golden.text("broken/token-revoked.jwt")),
        ("token", "expired"): text(lambda: food["token"], later()),
        ("token", "foreign"): text(foreign_token),
        ("sd-jwt", "valid"): text(lambda: golden.text("license/sd-jwt-zj.txt")),
        ("sd-jwt", "tampered"): text(lambda: golden.text("broken/sd-jwt-disclosure-duplicated.txt")),
        ("sd-jwt", "revoked"): text(lambda: revoked["sd_jwt"]),
        ("sd-jwt", "expired"): text(lambda: food["sd_jwt"], later()),
        ("sd-jwt", "foreign"): text(foreign_sd_jwt),
        ("qr-payload", "valid"): text(lambda: golden.text("license/qr-zj.txt")),
        ("qr-payload", "tampered"): text(lambda: license_token.to_qr(changed)),
        ("qr-payload", "revoked"): text(lambda: revoked["qr"]),
        ("qr-payload", "expired"): text(lambda: food["qr"], later()),
        ("qr-payload", "foreign"): text(lambda: license_token.to_qr(foreign_token())),
        ("certificate", "valid"): file("pki/seal-contract-sm2.pem"),
        ("certificate", "tampered"): made("changed.der", _tampered_certificate),
        ("certificate", "revoked"): file("scope/victim-sm2.pem"),
        ("certificate", "expired"): file("pki/seal-contract-sm2.pem", at=later()),
        ("certificate", "foreign"): made("foreign.pem", foreign_certificate),
        ("qr-photo", "valid"): photo(lambda: golden.text("license/qr-zj.txt")),
        ("qr-photo", "tampered"): photo(lambda: license_token.to_qr(changed)),
        ("qr-photo", "revoked"): photo(lambda: revoked["qr"]),
        ("qr-photo", "expired"): photo(lambda: food["qr"], later()),
        ("qr-photo", "foreign"): photo(lambda: license_token.to_qr(foreign_token())),
    }
    assert not set(table) & set(NOT_APPLICABLE)
    assert set(table) | set(NOT_APPLICABLE) == {(k, s) for k in KINDS for s in STATES}
    return {key: (lambda key=key, make=make: make(*key)) for key, make in table.items()}  # type: ignore[misc]
