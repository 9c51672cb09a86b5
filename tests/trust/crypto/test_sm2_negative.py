"""SM2 rejections: every input that must fail, failing with the right error and a specific message.

Each case is also given to OpenSSL 3 (``openssl pkeyutl -verify ... -pkeyopt distid:...`` for signatures,
``openssl pkey -pubcheck`` / ``-check`` for keys) as a second implementation, which must reject it too; each
OpenSSL check sits next to a positive control (the unmodified input, same command, accepted) so a rejection
cannot come from a broken command line.

Error classes (``trust.crypto.errors``): a signature value that is not canonical DER, has the wrong raw length
or has ``r``/``s`` outside ``[1, n-1]`` raises :class:`MalformedSignature`; a well-formed signature that does
not verify (wrong ID, data, key, ``r + s = n``) raises plain :class:`InvalidSignature`; keys raise
:class:`InvalidKey`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import require_tool
from tests.conftest import shared_file as conformance_file
from trust.crypto import keys, sm2
from trust.crypto.ecsig import decode_signature
from trust.crypto.errors import InvalidKey, InvalidSignature, MalformedSignature

pytestmark = pytest.mark.external

CURVE = sm2.SM2P256V1
N, P = CURVE.n, CURVE.p
DEFAULT_ID = b"1234567812345678"
DATA = b"GB/T 32918.2 negative cases"


# --- independent DER writer (deliberately not trust.crypto.ecsig) -----------------------------------------


def int_body(value: int) -> bytes:
    """Minimal two's-complement content octets of an INTEGER (X.690 8.3)."""
    length = 1
    while True:
        try:
            return value.to_bytes(length, "big", signed=True)
        except OverflowError:
            length += 1


def der_len(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + der_len(len(body)) + body


def der_int(value: int) -> bytes:
    return tlv(0x02, int_body(value))


def der_sig(r: int, s: int) -> bytes:
    return tlv(0x30, der_int(r) + der_int(s))


def raw_sig(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def spki_pem(point: bytes) -> bytes:
    """A SubjectPublicKeyInfo (id-ecPublicKey, sm2p256v1) around an arbitrary point octet string."""
    info = asn1_keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": asn1_keys.ECDomainParameters(name="named", value="sm2p256v1"),
            },
            "public_key": point,
        }
    )
    return bytes(asn1_pem.armor("PUBLIC KEY", info.dump()))


def uncompressed(x: int, y: int) -> bytes:
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def pkcs8_pem(d: int, public_point: bytes | None) -> bytes:
    """An unencrypted PKCS#8 SM2 key with an arbitrary scalar (test input, built without the project)."""
    ec_key: dict[str, object] = {"version": "ecPrivkeyVer1", "private_key": d}
    if public_point is not None:
        ec_key["public_key"] = public_point
    private = asn1_keys.ECPrivateKey(ec_key)
    private["private_key"].set_encoded_width(32)
    info = asn1_keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": {
                "algorithm": "ec",
                "parameters": asn1_keys.ECDomainParameters(name="named", value="sm2p256v1"),
            },
            "private_key": private,
        }
    )
    return bytes(asn1_pem.armor("PRIVATE KEY", info.dump()))


def sqrt_mod_p(value: int) -> int | None:
    root = pow(value, (P + 1) // 4, P)  # p = 3 mod 4
    return root if root * root % P == value % P else None


# --- OpenSSL as the second implementation ----------------------------------------------------------------


def distid_option(user_id: bytes) -> str:
    if user_id and all(0x21 <= b < 0x7F for b in user_id):
        return "distid:" + user_id.decode("ascii")
    return "hexdistid:" + user_id.hex()


class OpenSSL:
    def __init__(self, exe: str, workdir: Path):
        self.exe = exe
        self.dir = workdir
        self._n = 0

    def file(self, data: bytes, suffix: str = ".bin") -> Path:
        self._n += 1
        path = self.dir / f"f{self._n}{suffix}"
        path.write_bytes(data)
        return path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([self.exe, *map(str, args)], capture_output=True, timeout=60, check=False)

    def verifies(self, public_pem: bytes, data: bytes, signature: bytes, user_id: bytes = DEFAULT_ID) -> bool:
        proc = self.run(
            "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", distid_option(user_id),
            "-pubin", "-inkey", self.file(public_pem, ".pem"),
            "-in", self.file(data), "-sigfile", self.file(signature),
        )  # fmt: skip
        if proc.returncode == 0:
            assert b"Signature Verified Successfully" in proc.stdout
            return True
        return False

    def accepts_public_key(self, public_pem: bytes) -> bool:
        return self.run("pkey", "-pubin", "-in", self.file(public_pem, ".pem"), "-pubcheck", "-noout").returncode == 0

    def accepts_private_key(self, private_pem: bytes | Path) -> bool:
        path = private_pem if isinstance(private_pem, Path) else self.file(private_pem, ".pem")
        return self.run("pkey", "-in", path, "-check", "-noout").returncode == 0


@pytest.fixture(scope="module")
def ossl(tmp_path_factory: pytest.TempPathFactory) -> OpenSSL:
    return OpenSSL(require_tool("openssl"), tmp_path_factory.mktemp("sm2-negative"))


@dataclass(frozen=True)
class Signed:
    key: keys.SM2PrivateKey
    public: keys.SM2PublicKey
    pem: bytes
    der: bytes
    r: int
    s: int


@pytest.fixture(scope="module")
def signed() -> Signed:
    """A valid signature of DATA with a known shape, so every expectation below is exact, not statistical.

    ``r`` in ``[2^255, n - 2^254)``: its DER needs a sign byte, and no single bit flip can push it to ``n``;
    ``s`` with top byte in ``0x41..0x7f``: 32 content octets, no sign byte, and no single flip empties its
    top byte. DER is then ``30 45 02 21 00 <r:32> 02 20 <s:32>`` (71 bytes). About 1 in 16 signatures fits.
    """
    key = keys.generate_private_key("sm2")
    assert isinstance(key, keys.SM2PrivateKey)
    for _ in range(600):
        der = key.sign(DATA)
        r, s = decode_signature(der, "der", N)
        if 2**255 <= r < N - 2**254 and 0x41 <= s >> 248 <= 0x7F:
            assert der == der_sig(r, s)  # our independent DER writer reproduces the canonical form
            assert der[:5] == bytes.fromhex("3045022100") and der[37:39] == bytes.fromhex("0220")
            return Signed(key, key.public_key, key.public_key.pem().encode(), der, r, s)
    raise AssertionError("no signature with the wanted r/s shape in 600 tries")


def assert_invalid(exc_info: pytest.ExceptionInfo[InvalidSignature]) -> None:
    """A verification failure proper, not a format error."""
    assert type(exc_info.value) is InvalidSignature, f"expected plain InvalidSignature, got {exc_info.value!r}"


def test_controls_accept_the_unmodified_signature(ossl: OpenSSL, signed: Signed) -> None:
    signed.public.verify(signed.der, DATA)
    signed.public.verify(raw_sig(signed.r, signed.s), DATA, encoding="raw")
    assert ossl.verifies(signed.pem, DATA, signed.der)


# --- wrong user ID, data, key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong_id",
    [
        pytest.param(b"ALICE123@YAHOO.COM", id="other-id"),
        pytest.param(b"1234567812345679", id="last-byte-differs"),
        pytest.param(DEFAULT_ID + b"\x00", id="trailing-nul"),
        pytest.param(DEFAULT_ID[:-1], id="one-byte-short"),
        pytest.param(b"", id="empty-id"),
    ],
)
def test_wrong_user_id_is_rejected(ossl: OpenSSL, signed: Signed, wrong_id: bytes) -> None:
    with pytest.raises(InvalidSignature, match=r"does not verify \(wrong key, user ID or data\)") as exc:
        signed.public.verify(signed.der, DATA, user_id=wrong_id)
    assert_invalid(exc)
    assert not ossl.verifies(signed.pem, DATA, signed.der, wrong_id)


def test_every_single_bit_flip_of_the_message_is_rejected(ossl: OpenSSL, signed: Signed) -> None:
    for bit in range(len(DATA) * 8):
        data = bytearray(DATA)
        data[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(InvalidSignature, match="does not verify") as exc:
            signed.public.verify(signed.der, bytes(data))
        assert_invalid(exc)
    for bit in (0, len(DATA) * 8 - 1):  # OpenSSL agrees on the first and last bit
        data = bytearray(DATA)
        data[bit // 8] ^= 1 << (bit % 8)
        assert not ossl.verifies(signed.pem, bytes(data), signed.der)


def test_every_single_bit_flip_of_a_der_signature_is_rejected(signed: Signed) -> None:
    """All 568 one-bit flips fail. Flips in tags, lengths and r's sign byte are format errors; flips in the
    value octets of r and s are verification failures, except the top bit of each (r then needs no sign
    byte: superfluous zero; s turns negative), which are format errors."""
    value_octets = set(range(5, 37)) | set(range(39, 71))
    format_bits = {(5, 7), (39, 7)}  # (byte index, bit) of the top bit of r's and of s's value
    for index in range(len(signed.der)):
        for bit in range(8):
            sig = bytearray(signed.der)
            sig[index] ^= 1 << bit
            with pytest.raises(InvalidSignature) as exc:
                signed.public.verify(bytes(sig), DATA)
            if index in value_octets and (index, bit) not in format_bits:
                assert type(exc.value) is InvalidSignature, f"byte {index} bit {bit}: {exc.value!r}"
            else:
                assert isinstance(exc.value, MalformedSignature), f"byte {index} bit {bit}: {exc.value!r}"


@pytest.mark.parametrize("which", ["r", "s"])
def test_bit_flip_in_r_or_s_is_a_verification_failure_in_both(ossl: OpenSSL, signed: Signed, which: str) -> None:
    r, s = (signed.r ^ 1, signed.s) if which == "r" else (signed.r, signed.s ^ (1 << 200))
    with pytest.raises(InvalidSignature, match="does not verify") as exc:
        signed.public.verify(der_sig(r, s), DATA)
    assert_invalid(exc)
    with pytest.raises(InvalidSignature, match="does not verify") as exc:
        signed.public.verify(raw_sig(r, s), DATA, encoding="raw")
    assert_invalid(exc)
    assert not ossl.verifies(signed.pem, DATA, der_sig(r, s))


def test_every_single_bit_flip_of_a_raw_signature_is_rejected(signed: Signed) -> None:
    raw = raw_sig(signed.r, signed.s)
    for bit in range(512):
        sig = bytearray(raw)
        sig[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(InvalidSignature, match="does not verify") as exc:  # r, s stay in [1, n-1]
            signed.public.verify(bytes(sig), DATA, encoding="raw")
        assert_invalid(exc)


def test_swapped_r_s_and_other_key_are_rejected(ossl: OpenSSL, signed: Signed) -> None:
    with pytest.raises(InvalidSignature, match="does not verify") as exc:
        signed.public.verify(der_sig(signed.s, signed.r), DATA)
    assert_invalid(exc)
    assert not ossl.verifies(signed.pem, DATA, der_sig(signed.s, signed.r))
    other = keys.generate_private_key("sm2").public_key
    with pytest.raises(InvalidSignature, match="does not verify") as exc:
        other.verify(signed.der, DATA)
    assert_invalid(exc)
    assert not ossl.verifies(other.pem().encode(), DATA, signed.der)


# --- r and s out of range --------------------------------------------------------------------------------

RANGE_CASES: dict[str, Callable[[int, int], tuple[int, int]]] = {
    "r=0": lambda r, s: (0, s),
    "s=0": lambda r, s: (r, 0),
    "r=s=0": lambda r, s: (0, 0),
    "r=n": lambda r, s: (N, s),
    "s=n": lambda r, s: (r, N),
    "r=n+1": lambda r, s: (N + 1, s),
    "r=2^256-1": lambda r, s: (2**256 - 1, s),
    "s=2^256-1": lambda r, s: (r, 2**256 - 1),
    "r+n (congruent to r)": lambda r, s: (r + N, s),
    "s+n (congruent to s)": lambda r, s: (r, s + N),
}


@pytest.mark.parametrize("case", list(RANGE_CASES))
def test_r_or_s_outside_1_to_n_minus_1_is_malformed(ossl: OpenSSL, signed: Signed, case: str) -> None:
    r, s = RANGE_CASES[case](signed.r, signed.s)
    der = der_sig(r, s)
    with pytest.raises(MalformedSignature, match=r"r or s outside \[1, n-1\]"):
        signed.public.verify(der, DATA)
    assert not ossl.verifies(signed.pem, DATA, der)
    if r < 2**256 and s < 2**256:
        with pytest.raises(MalformedSignature, match=r"r or s outside \[1, n-1\]"):
            signed.public.verify(raw_sig(r, s), DATA, encoding="raw")


def test_r_plus_s_equal_to_n_is_rejected(ossl: OpenSSL, signed: Signed) -> None:
    """GB/T 32918.2 clause 7.1 B5: t = (r + s) mod n = 0 fails; r and s are each in range, so not malformed."""
    r, s = signed.r, N - signed.r
    assert 1 <= s < N
    for sig, encoding in ((der_sig(r, s), "der"), (raw_sig(r, s), "raw")):
        with pytest.raises(InvalidSignature, match=r"r \+ s = n") as exc:
            signed.public.verify(sig, DATA, encoding=encoding)  # type: ignore[arg-type]
        assert_invalid(exc)
    assert not ossl.verifies(signed.pem, DATA, der_sig(r, s))


# --- non-canonical DER -----------------------------------------------------------------------------------


def noncanonical(signed: Signed) -> dict[str, tuple[bytes, str]]:
    """Encodings of the *same* (r, s) (or near it) that DER forbids, with the message we expect."""
    r_tlv, s_tlv = der_int(signed.r), der_int(signed.s)
    content = r_tlv + s_tlv
    r_body = int_body(signed.r)
    assert r_body[0] == 0 and r_body[1] & 0x80  # r needs its sign byte
    return {
        "r with an extra leading zero": (
            # 34 content octets: over the 33 an sm2p256v1 INTEGER can need, so the length check fires first
            tlv(0x30, tlv(0x02, b"\x00" + r_body) + s_tlv), "bad INTEGER length|superfluous leading zero"),
        "s with a leading zero": (
            tlv(0x30, r_tlv + tlv(0x02, b"\x00" + int_body(signed.s))), "superfluous leading zero"),
        "SEQUENCE long-form length 81": (b"\x30\x81" + bytes([len(content)]) + content, "minimal form"),
        "SEQUENCE long-form length 82": (b"\x30\x82" + len(content).to_bytes(2, "big") + content, "minimal form"),
        "INTEGER long-form length": (
            tlv(0x30, b"\x02\x81" + bytes([len(r_body)]) + r_body + s_tlv), "bad INTEGER length"),
        "BER indefinite length": (b"\x30\x80" + content + b"\x00\x00", "minimal form"),
        "trailing zero byte after SEQUENCE": (signed.der + b"\x00", "trailing data"),
        "trailing end-of-contents after SEQUENCE": (signed.der + b"\x00\x00", "trailing data"),
        "third INTEGER inside SEQUENCE": (tlv(0x30, content + der_int(0)), "trailing data inside the SEQUENCE"),
        "truncated by one byte": (signed.der[:-1], "truncated"),
        "r without its sign byte (negative)": (tlv(0x30, tlv(0x02, r_body[1:]) + s_tlv), "negative INTEGER"),
        "r encoded as -r": (tlv(0x30, der_int(-signed.r) + s_tlv), "negative INTEGER"),
        "s encoded as -s": (tlv(0x30, r_tlv + der_int(-signed.s)), "negative INTEGER"),
        "SET instead of SEQUENCE": (b"\x31" + signed.der[1:], "not DER SEQUENCE"),
        "BIT STRING instead of INTEGER": (tlv(0x30, b"\x03" + r_tlv[1:] + s_tlv), "INTEGER expected"),
        "zero-length INTEGER": (tlv(0x30, b"\x02\x00" + s_tlv), "bad INTEGER length"),
        "empty": (b"", "not DER SEQUENCE"),
    }  # fmt: skip


NONCANONICAL_NAMES = [
    "r with an extra leading zero",
    "s with a leading zero",
    "SEQUENCE long-form length 81",
    "SEQUENCE long-form length 82",
    "INTEGER long-form length",
    "BER indefinite length",
    "trailing zero byte after SEQUENCE",
    "trailing end-of-contents after SEQUENCE",
    "third INTEGER inside SEQUENCE",
    "truncated by one byte",
    "r without its sign byte (negative)",
    "r encoded as -r",
    "s encoded as -s",
    "SET instead of SEQUENCE",
    "BIT STRING instead of INTEGER",
    "zero-length INTEGER",
    "empty",
]


@pytest.mark.parametrize("name", NONCANONICAL_NAMES)
def test_non_canonical_der_is_malformed(ossl: OpenSSL, signed: Signed, name: str) -> None:
    cases = noncanonical(signed)
    assert set(cases) == set(NONCANONICAL_NAMES)
    sig, message = cases[name]
    assert sig != signed.der
    with pytest.raises(MalformedSignature, match=message):
        signed.public.verify(sig, DATA)
    assert not ossl.verifies(signed.pem, DATA, sig)


@pytest.mark.parametrize("length", [0, 1, 32, 63, 65, 96, 128])
def test_raw_signature_of_the_wrong_length_is_malformed(signed: Signed, length: int) -> None:
    """Raw ``r || s`` (JOSE) has no OpenSSL CLI counterpart; the length rule is ours (RFC 7518 clause 3.4)."""
    raw = raw_sig(signed.r, signed.s)
    sig = (raw * 2)[:length]
    with pytest.raises(MalformedSignature, match=f"raw signature must be 64 bytes .* got {length}$"):
        signed.public.verify(sig, DATA, encoding="raw")


def test_encodings_are_not_guessed(signed: Signed) -> None:
    """A DER signature passed as raw and a raw one passed as DER are both malformed, never reinterpreted."""
    with pytest.raises(MalformedSignature, match="raw signature must be 64 bytes"):
        signed.public.verify(signed.der, DATA, encoding="raw")
    with pytest.raises(MalformedSignature, match="not DER SEQUENCE"):
        signed.public.verify(raw_sig(signed.r, signed.s), DATA, encoding="der")


# --- public keys -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointCase:
    point: bytes
    message: str


def point_cases(x: int, y: int) -> dict[str, PointCase]:
    x0 = 0
    y0 = sqrt_mod_p(x0**3 + CURVE.a * x0 + CURVE.b)
    assert y0 is not None  # b is a square mod p, so (0, y0) is a curve point and (p, y0) its alias
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    p256_point = p256.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        "y + 1": PointCase(uncompressed(x, (y + 1) % P), "not on the curve"),
        "x + 1": PointCase(uncompressed((x + 1) % P, y), "not on the curve"),
        "point at infinity": PointCase(b"\x00", "point at infinity"),
        "x = p (alias of x = 0)": PointCase(uncompressed(P + x0, y0), "not on the curve|below p|not in \\[0, p-1\\]"),
        "compressed x = p": PointCase(bytes([2 | (y0 & 1)]) + P.to_bytes(32, "big"), "not below p"),
        "P-256 point under the SM2 OID": PointCase(p256_point, "not on the curve"),
        "(0, 0)": PointCase(uncompressed(0, 0), "not on the curve"),
        "truncated point": PointCase(uncompressed(x, y)[:-1], "invalid encoding"),
        "hybrid prefix 06/07": PointCase(bytes([6 | (y & 1)]) + uncompressed(x, y)[1:], "invalid encoding"),
    }


OPENSSL_MAY_ACCEPT = {
    # X9.62 hybrid points are a valid encoding to OpenSSL; RFC 5480 clause 2.2 limits SPKI points to the
    # uncompressed and compressed forms, and we reject the rest.
    "hybrid prefix 06/07",
}


@pytest.mark.parametrize(
    "name",
    [
        "y + 1",
        "x + 1",
        "point at infinity",
        "x = p (alias of x = 0)",
        "compressed x = p",
        "P-256 point under the SM2 OID",
        "(0, 0)",
        "truncated point",
        "hybrid prefix 06/07",
    ],
)
def test_bad_public_point_in_spki_is_refused(ossl: OpenSSL, signed: Signed, name: str) -> None:
    x, y = signed.public.raw.x, signed.public.raw.y
    # controls: the genuine key, and the valid points next to the bad ones, are accepted by both
    assert ossl.accepts_public_key(signed.pem)
    keys.load_public_key(spki_pem(uncompressed(x, P - y)))  # -Q is a valid point
    y0 = sqrt_mod_p(CURVE.b)
    assert y0 is not None
    keys.load_public_key(spki_pem(uncompressed(0, y0)))
    assert ossl.accepts_public_key(spki_pem(uncompressed(0, y0)))

    case = point_cases(x, y)[name]
    pem = spki_pem(case.point)
    with pytest.raises(InvalidKey, match=case.message):
        keys.load_public_key(pem)
    if name not in OPENSSL_MAY_ACCEPT:
        assert not ossl.accepts_public_key(pem)


def test_sm2_public_key_constructor_accepts_real_points(signed: Signed) -> None:
    x, y = signed.public.raw.x, signed.public.raw.y
    assert sm2.SM2PublicKey(x, y) == signed.public.raw
    sm2.SM2PublicKey(x, P - y)  # the negation is on the curve
    sm2.SM2PublicKey(CURVE.gx, CURVE.gy)


BAD_COORDINATES: dict[str, Callable[[int, int, int], tuple[int, int]]] = {
    "y + 1": lambda x, y, y0: (x, (y + 1) % P),
    "y - 1": lambda x, y, y0: (x, (y - 1) % P),
    "x = p alias of (0, y0)": lambda x, y, y0: (P, y0),
    "x + p (congruent, not a field element)": lambda x, y, y0: (x + P, y),
    "y + p (congruent, not a field element)": lambda x, y, y0: (x, y + P),
    "x - p (negative)": lambda x, y, y0: (x - P, y),
    "(0, 0)": lambda x, y, y0: (0, 0),
}


@pytest.mark.parametrize("name", list(BAD_COORDINATES))
def test_sm2_public_key_constructor_refuses_bad_coordinates(signed: Signed, name: str) -> None:
    y0 = sqrt_mod_p(CURVE.b)
    assert y0 is not None
    bx, by = BAD_COORDINATES[name](signed.public.raw.x, signed.public.raw.y, y0)
    with pytest.raises(InvalidKey, match=r"not on the curve sm2p256v1|coordinate not in \[0, p-1\]"):
        sm2.SM2PublicKey(bx, by)


def test_off_curve_key_cannot_be_used_to_verify(ossl: OpenSSL, signed: Signed) -> None:
    """Even a signature that verifies for the genuine key cannot be checked against an off-curve alias."""
    x, y = signed.public.raw.x, signed.public.raw.y
    with pytest.raises(InvalidKey):
        keys.load_public_key(spki_pem(uncompressed(x, (y + 1) % P)))
    assert not ossl.verifies(spki_pem(uncompressed(x, (y + 1) % P)), DATA, signed.der)


# --- private scalars -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d",
    [
        pytest.param(0, id="0"),
        pytest.param(N - 1, id="n-1"),
        pytest.param(N, id="n"),
        pytest.param(N + 1, id="n+1"),
        pytest.param(-1, id="-1"),
        pytest.param(2**256 - 1, id="2^256-1"),
    ],
)
def test_private_scalar_outside_1_to_n_minus_2_is_refused(ossl: OpenSSL, d: int) -> None:
    with pytest.raises(InvalidKey, match=r"SM2 private key outside \[1, n-2\]"):
        sm2.SM2PrivateKey.from_scalar(d)
    if 0 <= d < 2**256:
        pem = pkcs8_pem(d, None)
        with pytest.raises(InvalidKey, match=r"SM2 private key outside \[1, n-2\]"):
            keys.load_private_key(pem)
        assert not ossl.accepts_private_key(pem)


@pytest.mark.parametrize("d", [pytest.param(1, id="1"), pytest.param(N - 2, id="n-2")])
def test_private_scalar_boundaries_inside_the_range_work(ossl: OpenSSL, d: int) -> None:
    key = keys.SM2PrivateKey(sm2.SM2PrivateKey.from_scalar(d))
    if d == 1:
        assert (key.public_key.raw.x, key.public_key.raw.y) == (CURVE.gx, CURVE.gy)
    pem = pkcs8_pem(d, key.public_key.point())
    assert ossl.accepts_private_key(pem)
    loaded = keys.load_private_key(pem)
    assert loaded.public_key == key.public_key
    sig = loaded.sign(DATA)
    assert ossl.verifies(key.public_key.pem().encode(), DATA, sig)


@pytest.mark.parametrize("name", ["sm2_bad_neg1.pem", "sm2_bad_0.pem", "sm2_bad_1.pem"])
def test_tongsuo_invalid_private_keys_are_refused(ossl: OpenSSL, name: str) -> None:
    """Tongsuo's d = n-1, n, n+1 keys (``sm2_cases.json`` key_check_cases, expected INVALID)."""
    path = conformance_file("sm2", "tongsuo", "test", "recipes", "91-test_pkey_check_data", name)
    with pytest.raises(InvalidKey, match=r"SM2 private key outside \[1, n-2\]"):
        keys.load_private_key(path.read_bytes())
    assert not ossl.accepts_private_key(path)


def test_private_key_with_a_mismatched_public_key_is_refused(ossl: OpenSSL) -> None:
    d = 0x1234567890ABCDEF << 128
    right = sm2.SM2PrivateKey.from_scalar(d).public_key.point()
    wrong = sm2.SM2PrivateKey.from_scalar(d + 1).public_key.point()
    with pytest.raises(InvalidKey, match="does not match the private key"):
        sm2.SM2PrivateKey.from_scalar(d, wrong)
    with pytest.raises(InvalidKey, match="does not match the private key"):
        keys.load_private_key(pkcs8_pem(d, wrong))
    assert ossl.accepts_private_key(pkcs8_pem(d, right))
    assert not ossl.accepts_private_key(pkcs8_pem(d, wrong))
