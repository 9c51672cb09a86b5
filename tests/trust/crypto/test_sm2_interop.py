"""SM2 interoperability: our signatures against two independent implementations, in both directions.

* OpenSSL 3 command line (``openssl pkeyutl -rawin -digest sm3 -pkeyopt distid:...``), the command the
  standards notes name for checking SM2 signatures; also OpenSSL's encrypted PKCS#8 in and out.
* ``gmssl`` (pure Python, its own SM3, its own point arithmetic; default user ID only).

Our SM2 signing and verification run on the system ``libcrypto`` (``trust.crypto._openssl``), but ``Z``,
``e = SM3(Z || M)``, the encodings and every range check are ours, so OpenSSL agreeing on non-default user
IDs is a real check of ``compute_z``; gmssl shares no code with either.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest
from gmssl import sm2 as gm_sm2

from tests.conftest import require_tool
from tests.conftest import shared_file as conformance_file
from trust.crypto import keys, pkcs8, sm2
from trust.crypto.ecsig import decode_signature, encode_signature
from trust.crypto.errors import InvalidSignature, MalformedSignature, PassphraseError

pytestmark = pytest.mark.external

N = sm2.SM2P256V1.n
DEFAULT_ID = b"1234567812345678"
ALICE_ID = b"ALICE123@YAHOO.COM"
BINARY_ID = b"\x00\x01ID\n\x7f\x80\xfe\xff \x00"  # NUL, newline, space, high bytes: must go as hexdistid
LONG_ID = bytes(range(256)) * 2  # 512 bytes: ENTL = 4096 = 0x1000, so the high ENTL byte matters

USER_IDS = [
    pytest.param(DEFAULT_ID, id="default-id"),
    pytest.param(ALICE_ID, id="alice-id"),
    pytest.param(BINARY_ID, id="binary-id"),
    pytest.param(LONG_ID, id="512-byte-id"),
]

MESSAGES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"abc", id="abc"),
    pytest.param(bytes(range(256)) * 40 + b"\xff", id="10k-binary"),
]


# --- helpers ---------------------------------------------------------------------------------------------


def distid_option(user_id: bytes) -> str:
    """The ``-pkeyopt`` that gives OpenSSL this SM2 user ID (printable as ``distid:``, anything else as hex)."""
    if user_id and all(0x21 <= b < 0x7F for b in user_id):
        return "distid:" + user_id.decode("ascii")
    return "hexdistid:" + user_id.hex()


def run(openssl: str, *args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([openssl, *map(str, args)], input=stdin, capture_output=True, timeout=60, check=False)


def run_ok(openssl: str, *args: str | Path, stdin: bytes | None = None) -> bytes:
    proc = run(openssl, *args, stdin=stdin)
    assert proc.returncode == 0, f"openssl {' '.join(map(str, args))} failed: {proc.stderr.decode(errors='replace')}"
    return proc.stdout


class OpenSSL:
    """The OpenSSL CLI working in one temporary directory."""

    def __init__(self, exe: str, workdir: Path):
        self.exe = exe
        self.dir = workdir
        self._n = 0

    def file(self, data: bytes, suffix: str = ".bin") -> Path:
        self._n += 1
        path = self.dir / f"f{self._n}{suffix}"
        path.write_bytes(data)
        return path

    def verify(self, public_pem: bytes | str, data: bytes, der_signature: bytes, user_id: bytes) -> bool:
        """True iff ``openssl pkeyutl -verify`` accepts; a verification failure must be reported as such."""
        if isinstance(public_pem, str):
            public_pem = public_pem.encode()
        proc = run(
            self.exe,
            "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", distid_option(user_id),
            "-pubin", "-inkey", self.file(public_pem, ".pem"),
            "-in", self.file(data), "-sigfile", self.file(der_signature),
        )  # fmt: skip
        if proc.returncode == 0:
            assert b"Signature Verified Successfully" in proc.stdout
            return True
        return False

    def sign(self, key_file: Path, data: bytes, user_id: bytes, *extra: str) -> bytes:
        out = self.dir / f"sig{self._n}.der"
        run_ok(
            self.exe,
            "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", distid_option(user_id),
            "-inkey", key_file, *extra, "-in", self.file(data), "-out", out,
        )  # fmt: skip
        return out.read_bytes()

    def public_pem(self, key_file: Path, *extra: str) -> bytes:
        return run_ok(self.exe, "pkey", "-in", key_file, *extra, "-pubout")

    def genkey(self, *how: str) -> Path:
        self._n += 1
        path = self.dir / f"key{self._n}.pem"
        run_ok(self.exe, "genpkey", *how, "-out", path)
        return path


@pytest.fixture(scope="module")
def ossl(tmp_path_factory: pytest.TempPathFactory) -> OpenSSL:
    return OpenSSL(require_tool("openssl"), tmp_path_factory.mktemp("sm2-openssl"))


@pytest.fixture(scope="module")
def our_key() -> keys.PrivateKey:
    return keys.generate_private_key("sm2")


OPENSSL_KEYGEN = {
    "genpkey-SM2": ("-algorithm", "SM2"),
    "genpkey-EC-curve-SM2": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2"),
}


@pytest.fixture(scope="module", params=sorted(OPENSSL_KEYGEN))
def openssl_key(request: pytest.FixtureRequest, ossl: OpenSSL) -> Path:
    return ossl.genkey(*OPENSSL_KEYGEN[request.param])


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01]) if data else b"\x01"


# --- ours -> OpenSSL -------------------------------------------------------------------------------------


@pytest.mark.parametrize("user_id", USER_IDS)
def test_our_der_signature_verifies_in_openssl(ossl: OpenSSL, our_key: keys.PrivateKey, user_id: bytes) -> None:
    data = b"interop message signed by Huren"
    signature = our_key.sign(data, user_id=user_id)
    pub = our_key.public_key.pem()
    assert ossl.verify(pub, data, signature, user_id)
    # OpenSSL is not simply accepting everything: other ID, other data, other signature all fail.
    other_id = ALICE_ID if user_id != ALICE_ID else DEFAULT_ID
    assert not ossl.verify(pub, data, signature, other_id)
    assert not ossl.verify(pub, data + b".", signature, user_id)
    assert not ossl.verify(pub, data, our_key.sign(b"something else", user_id=user_id), user_id)


@pytest.mark.parametrize("data", MESSAGES)
def test_our_signature_of_various_messages_verifies_in_openssl(
    ossl: OpenSSL, our_key: keys.PrivateKey, data: bytes
) -> None:
    signature = our_key.sign(data)
    assert ossl.verify(our_key.public_key.pem(), data, signature, DEFAULT_ID)


def test_our_raw_signature_is_the_same_r_s_openssl_verifies(ossl: OpenSSL, our_key: keys.PrivateKey) -> None:
    data = b"JOSE-style r||s"
    raw = our_key.sign(data, encoding="raw", user_id=ALICE_ID)
    assert len(raw) == 64
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    assert ossl.verify(our_key.public_key.pem(), data, encode_signature(r, s, "der", N), ALICE_ID)


def test_openssl_rejects_our_signature_under_the_empty_or_missing_id(ossl: OpenSSL, our_key: keys.PrivateKey) -> None:
    """The user ID is part of Z: a default-ID signature must not verify with ENTL = 0 (OpenSSL's bare default)."""
    data = b"the ID matters"
    signature = our_key.sign(data)
    assert ossl.verify(our_key.public_key.pem(), data, signature, DEFAULT_ID)
    assert not ossl.verify(our_key.public_key.pem(), data, signature, b"")


def test_empty_user_id_agrees_with_openssl(ossl: OpenSSL, our_key: keys.PrivateKey) -> None:
    """ENTL = 0: both sides compute Z over no ID bytes."""
    data = b"empty id"
    signature = our_key.sign(data, user_id=b"")
    assert ossl.verify(our_key.public_key.pem(), data, signature, b"")
    assert not ossl.verify(our_key.public_key.pem(), data, signature, DEFAULT_ID)


# --- OpenSSL -> ours -------------------------------------------------------------------------------------


def test_openssl_public_key_loads_byte_for_byte(ossl: OpenSSL, openssl_key: Path) -> None:
    pem = ossl.public_pem(openssl_key)
    public = keys.load_public_key(pem)
    assert isinstance(public, keys.SM2PublicKey)
    assert public.curve == "sm2p256v1"
    assert public.pem() == pem.decode()
    der = run_ok(ossl.exe, "pkey", "-in", openssl_key, "-pubout", "-outform", "DER")
    assert public.spki_der() == der
    assert keys.load_public_key(der) == public


@pytest.mark.parametrize("user_id", USER_IDS)
def test_openssl_signature_verifies_with_ours(ossl: OpenSSL, openssl_key: Path, user_id: bytes) -> None:
    public = keys.load_public_key(ossl.public_pem(openssl_key))
    data = b"interop message signed by OpenSSL " + user_id
    signature = ossl.sign(openssl_key, data, user_id)
    public.verify(signature, data, user_id=user_id)
    # the same (r, s) as raw r || s
    r, s = decode_signature(signature, "der", N)
    public.verify(encode_signature(r, s, "raw", N), data, encoding="raw", user_id=user_id)
    # and ours rejects it under another ID and over other data, as a verification failure (not a format error)
    other_id = DEFAULT_ID if user_id != DEFAULT_ID else ALICE_ID
    with pytest.raises(InvalidSignature, match="does not verify") as wrong_id:
        public.verify(signature, data, user_id=other_id)
    assert not isinstance(wrong_id.value, MalformedSignature)
    with pytest.raises(InvalidSignature, match="does not verify") as wrong_data:
        public.verify(signature, flip_last_byte(data), user_id=user_id)
    assert not isinstance(wrong_data.value, MalformedSignature)


@pytest.mark.parametrize("data", MESSAGES)
def test_openssl_signature_of_various_messages_verifies_with_ours(
    ossl: OpenSSL, openssl_key: Path, data: bytes
) -> None:
    public = keys.load_public_key(ossl.public_pem(openssl_key))
    public.verify(ossl.sign(openssl_key, data, DEFAULT_ID), data)


# --- encrypted PKCS#8 in both directions -----------------------------------------------------------------


def test_our_encrypted_pkcs8_opens_in_openssl(ossl: OpenSSL, our_key: keys.PrivateKey) -> None:
    passphrase = "correct horse 电池 staple"  # non-ASCII: both sides must use the UTF-8 bytes
    encrypted = pkcs8.encrypt_private_key_pem(our_key, passphrase.encode(), iterations=2_000)
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    enc_file = ossl.file(encrypted, ".pem")
    passin = ossl.file(passphrase.encode(), ".pass")

    # OpenSSL decrypts it and finds an SM2 key (sm2p256v1) whose public half is ours, byte for byte.
    text = run_ok(ossl.exe, "pkey", "-in", enc_file, "-passin", f"file:{passin}", "-noout", "-text")
    assert b"ASN1 OID: SM2" in text
    assert ossl.public_pem(enc_file, "-passin", f"file:{passin}").decode() == our_key.public_key.pem()
    assert b"BEGIN PRIVATE KEY" in run_ok(ossl.exe, "pkcs8", "-in", enc_file, "-passin", f"file:{passin}")

    # The private scalar survived: OpenSSL signs with the decrypted key and we verify with our public key.
    data = b"signed by OpenSSL with a key exported by Huren"
    signature = ossl.sign(enc_file, data, ALICE_ID, "-passin", f"file:{passin}")
    our_key.public_key.verify(signature, data, user_id=ALICE_ID)

    # A wrong passphrase fails in OpenSSL too (the file is really encrypted).
    wrong = run(ossl.exe, "pkey", "-in", enc_file, "-passin", "pass:wrong passphrase", "-pubout")
    assert wrong.returncode != 0
    assert b"PUBLIC KEY" not in wrong.stdout


PKCS8_OPTIONS = {
    "aes-256-cbc": ("-v2", "aes-256-cbc"),
    "aes-128-cbc-sha1": ("-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"),
    "aes-192-cbc-sha512": ("-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-iter", "1000"),
}


@pytest.mark.parametrize("options", sorted(PKCS8_OPTIONS))
def test_openssl_encrypted_pkcs8_loads_and_signs(ossl: OpenSSL, openssl_key: Path, options: str) -> None:
    passphrase = b"openssl-made passphrase"
    passout = f"pass:{passphrase.decode()}"
    encrypted = run_ok(ossl.exe, "pkcs8", "-topk8", *PKCS8_OPTIONS[options], "-in", openssl_key, "-passout", passout)
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = keys.load_private_key(encrypted, passphrase)
    assert isinstance(key, keys.SM2PrivateKey)
    openssl_pub = ossl.public_pem(openssl_key)
    assert key.public_key.pem() == openssl_pub.decode()

    for user_id in (DEFAULT_ID, ALICE_ID):
        data = b"signed by Huren with an OpenSSL-made key"
        signature = key.sign(data, user_id=user_id)
        assert ossl.verify(openssl_pub, data, signature, user_id)
        assert not ossl.verify(openssl_pub, data + b"!", signature, user_id)

    with pytest.raises(PassphraseError, match="wrong passphrase"):
        keys.load_private_key(encrypted, b"not the passphrase")


def test_openssl_sec1_and_plain_pkcs8_keys_load(ossl: OpenSSL, openssl_key: Path) -> None:
    """Import paths for keys made elsewhere: plain PKCS#8 (genpkey's output) and SEC 1 from ``openssl ec``
    (OpenSSL 3.0 labels that PEM ``SM2 PRIVATE KEY``, as Tongsuo does)."""
    openssl_pub = ossl.public_pem(openssl_key).decode()
    plain = keys.load_private_key(openssl_key.read_bytes())
    sec1_pem = run_ok(ossl.exe, "ec", "-in", openssl_key)
    assert sec1_pem.startswith((b"-----BEGIN SM2 PRIVATE KEY-----", b"-----BEGIN EC PRIVATE KEY-----"))
    sec1 = keys.load_private_key(sec1_pem)
    for key in (plain, sec1):
        assert key.public_key.pem() == openssl_pub
        data = b"import check"
        assert ossl.verify(openssl_pub, data, key.sign(data), DEFAULT_ID)


# --- gmssl (pure Python) ---------------------------------------------------------------------------------


def gmssl_pair() -> tuple[keys.SM2PrivateKey, gm_sm2.CryptSM2]:
    """One key known to both sides: a random scalar in [1, n-2], imported into ours and into gmssl.

    gmssl's ``CryptSM2`` takes hex ``x || y`` (it strips a leading ``04`` with ``str.lstrip("04")``, which
    would also eat leading ``0``/``4`` digits of x — so we pass ``x || y`` and redraw the rare key whose hex
    itself starts with ``04``). ``mode`` (C1C3C2 vs C1C2C3) only matters for encryption.
    """
    while True:
        d = secrets.randbelow(N - 2) + 1
        key = keys.SM2PrivateKey(sm2.SM2PrivateKey.from_scalar(d))
        xy = f"{key.public_key.raw.x:064x}{key.public_key.raw.y:064x}"
        if not xy.startswith("04"):
            return key, gm_sm2.CryptSM2(private_key=f"{d:064x}", public_key=xy, mode=1)


def test_gmssl_derives_the_same_public_key() -> None:
    key, gm = gmssl_pair()
    gm_public = gm._kg(int(gm.private_key, 16), gm.ecc_table["g"])  # d·G in gmssl's own arithmetic
    assert gm_public == f"{key.public_key.raw.x:064x}{key.public_key.raw.y:064x}"


def test_gmssl_computes_the_same_e() -> None:
    """gmssl's SM3(Z || M) with the default ID equals ours (Z and SM3 from an independent implementation)."""
    key, gm = gmssl_pair()
    for data in (b"", b"abc", bytes(range(256)) * 3):
        assert gm._sm3_z(data) == key.public_key.raw.digest(data, DEFAULT_ID).hex()


def test_our_raw_signature_verifies_in_gmssl() -> None:
    key, gm = gmssl_pair()
    data = b"signed by Huren, checked by gmssl"
    raw = key.sign(data, encoding="raw")
    assert gm.verify_with_sm3(raw.hex(), data) is True
    assert not gm.verify_with_sm3(raw.hex(), data + b"x")
    other_key, _ = gmssl_pair()
    assert not gm.verify_with_sm3(other_key.sign(data, encoding="raw").hex(), data)


def test_our_der_signature_verifies_in_gmssl_asn1_mode() -> None:
    key, gm = gmssl_pair()
    gm_der = gm_sm2.CryptSM2(private_key=gm.private_key, public_key=gm.public_key, mode=1, asn1=True)
    data = b"DER flavour"
    assert gm_der.verify_with_sm3(key.sign(data).hex(), data) is True
    assert not gm_der.verify_with_sm3(key.sign(data + b"?").hex(), data)


def gmssl_sign(gm: gm_sm2.CryptSM2, data: bytes) -> bytes:
    while True:  # gmssl returns None for the (negligible) r = 0 / r + k = n / s = 0 cases
        sig = gm.sign_with_sm3(data)
        if sig is not None:
            assert len(sig) == 128
            return bytes.fromhex(sig)


def test_gmssl_signature_verifies_with_ours_and_openssl(ossl: OpenSSL) -> None:
    key, gm = gmssl_pair()
    public = key.public_key
    data = b"signed by gmssl"
    raw = gmssl_sign(gm, data)
    public.verify(raw, data, encoding="raw")
    der = encode_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"), "der", N)
    public.verify(der, data)
    assert ossl.verify(public.pem(), data, der, DEFAULT_ID)  # three implementations agree
    with pytest.raises(InvalidSignature, match="does not verify"):
        public.verify(raw, data + b"!", encoding="raw")
    with pytest.raises(InvalidSignature, match="does not verify"):
        public.verify(raw, data, encoding="raw", user_id=ALICE_ID)


# --- a known answer that all three implementations agree on ----------------------------------------------


def test_gbt32918_example_on_the_recommended_curve_all_three_agree(ossl: OpenSSL) -> None:
    import json

    case = json.loads(conformance_file("sm2", "sm2_cases.json").read_text())["signature_kat"][0]
    assert case["curve"] == "sm2p256v1"
    d, k = int(case["d"], 16), int(case["k"], 16)
    r, s = int(case["r"], 16), int(case["s"], 16)
    data, user_id = case["msg_ascii"].encode(), case["id_ascii"].encode()
    key = keys.SM2PrivateKey(sm2.SM2PrivateKey.from_scalar(d))
    public = key.public_key
    assert (public.raw.x, public.raw.y) == (int(case["pub_x"], 16), int(case["pub_y"], 16))
    assert public.z(user_id).hex() == case["za"].lower()
    assert public.raw.digest(data, user_id).hex() == case["e"].lower()

    # gmssl with the example's k reproduces (r, s) exactly; ours and OpenSSL verify it.
    gm = gm_sm2.CryptSM2(private_key=case["d"], public_key=case["pub_x"] + case["pub_y"], mode=1)
    assert gm.sign(bytes.fromhex(case["e"]), f"{k:064x}") == f"{r:064x}{s:064x}"
    der = encode_signature(r, s, "der", N)
    public.verify(der, data, user_id=user_id)
    assert ossl.verify(public.pem(), data, der, user_id)
