"""The PKCS#11 key store (:mod:`trust.crypto.pkcs11`) against SoftHSM2: keys made on the token and never readable,
signatures through the ``Signer`` interface checked by OpenSSL's CLI and pyca/cryptography, SM2 kept in files, a
session pool shared by threads, and clear errors for a missing token, a wrong PIN and a key deleted on the token."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature as PycaInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.support.softhsm import SoftHsm
from trust.crypto.algorithms import SignatureAlgorithm
from trust.crypto.errors import Code, ConfigError, KeyStoreError
from trust.crypto.keys import generate_private_key
from trust.crypto.keystore import FileKeyStore
from trust.crypto.pkcs11 import TokenConfig, TokenKeyStore, pin_from_env

pytestmark = pytest.mark.external
FAST = 2_000
PASS = b"correct horse battery staple"
DATA = "互认 — a document to sign".encode()


@pytest.fixture
def store(softhsm: SoftHsm, tmp_path: Path) -> TokenKeyStore:
    files = FileKeyStore(tmp_path / "keys", PASS, iterations=FAST)
    return TokenKeyStore(TokenConfig(softhsm.module, "huren-test", softhsm.pin), files)


def _openssl_verify(openssl: str, tmp_path: Path, pem: str, signature: bytes, alg: SignatureAlgorithm) -> None:
    (tmp_path / "pub.pem").write_text(pem)
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(signature)
    args = [openssl, "dgst", f"-{alg.hash}", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig")]
    if alg.padding == "pss":
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", f"rsa_pss_saltlen:{alg.salt_length}"]
    result = subprocess.run([*args, str(tmp_path / "data")], capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stdout + result.stderr


def _pyca_verify(pem: str, signature: bytes, alg: SignatureAlgorithm) -> None:
    key = serialization.load_pem_public_key(pem.encode())
    hash_alg = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[alg.hash]
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, DATA, ec.ECDSA(hash_alg))
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        pad: padding.AsymmetricPadding = (
            padding.PSS(padding.MGF1(hash_alg), alg.salt_length or 0) if alg.padding == "pss" else padding.PKCS1v15()
        )
        key.verify(signature, DATA, pad, hash_alg)
    with pytest.raises(PycaInvalidSignature):  # and the check is real: another message fails
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, DATA + b"!", ec.ECDSA(hash_alg))
        else:
            key.verify(signature, DATA + b"!", pad, hash_alg)


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("rsa-2048", "rsa-pkcs1-sha256"),
        ("rsa-2048", "rsa-pss-sha256"),
        ("rsa-3072", "rsa-pss-sha384"),
        ("ec-p256", "ecdsa-sha256"),
        ("ec-p384", "ecdsa-sha384"),
    ],
)
def test_key_made_on_token_signs_and_peers_verify(
    store: TokenKeyStore, openssl: str, tmp_path: Path, spec: str, algorithm: str
) -> None:
    alg = SignatureAlgorithm.from_name(algorithm)
    info = store.generate(spec, label=f"test {spec}")
    assert info.key_id.startswith("p11:huren-test/") and len(info.key_id) <= 64
    assert info.location == "pkcs11 token huren-test"
    signer = store.signer(info.key_id, alg)
    signature = signer.sign(DATA)
    info.public_key.verify(signature, DATA, alg)
    _pyca_verify(info.public_key.pem(), signature, alg)
    _openssl_verify(openssl, tmp_path, info.public_key.pem(), signature, alg)
    assert store.info(info.key_id).public_key == info.public_key


def test_ecdsa_raw_encoding_for_jose(store: TokenKeyStore) -> None:
    info = store.generate("ec-p256")
    alg = SignatureAlgorithm.from_name("ecdsa-sha256")
    raw = store.signer(info.key_id, alg).sign(DATA, encoding="raw")
    assert len(raw) == 64
    info.public_key.verify(raw, DATA, alg, encoding="raw")


def test_private_key_is_sensitive_and_not_extractable(store: TokenKeyStore, softhsm: SoftHsm) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    info = store.generate("rsa-2048")
    ckaid = bytes.fromhex(info.key_id.rsplit("/", 1)[1])
    with store.pool.session("inspecting") as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=ckaid)
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.TOKEN] is True
        assert key[Attribute.NEVER_EXTRACTABLE] is True  # made on the token, never exported
        for secret in (Attribute.PRIVATE_EXPONENT, Attribute.PRIME_1, Attribute.VALUE):
            with pytest.raises((pkcs11.exceptions.AttributeSensitive, pkcs11.exceptions.AttributeTypeInvalid)):
                key[secret]
    # An independent client (OpenSC's pkcs11-tool) sees the same attributes on the token.
    listing = softhsm.tool("--list-objects", "--type", "privkey", "--id", ckaid.hex())
    assert listing.returncode == 0, listing.stderr
    assert "sensitive" in listing.stdout and "never extractable" in listing.stdout, listing.stdout


def test_imported_key_goes_on_token_and_keeps_its_public_key(
    store: TokenKeyStore, openssl: str, tmp_path: Path
) -> None:
    for spec, name in (("rsa-2048", "rsa-pkcs1-sha256"), ("ec-p256", "ecdsa-sha256")):
        key = generate_private_key(spec)
        info = store.import_key(key, label="imported")
        assert info.key_id.startswith("p11:") and info.public_key == key.public_key
        alg = SignatureAlgorithm.from_name(name)
        _openssl_verify(openssl, tmp_path, key.public_key.pem(), store.signer(info.key_id, alg).sign(DATA), alg)
        assert store.info(info.key_id).public_key == key.public_key  # read back from the token's objects
        with pytest.raises(KeyStoreError) as exc:
            store.import_key(key)
        assert exc.value.code is Code.KEYSTORE_KEY_EXISTS


def test_sm2_stays_in_the_file_store_and_list_says_where(store: TokenKeyStore) -> None:
    sm2 = store.generate("sm2", label="sm2 root")
    ec_key = store.generate("ec-p256", label="ec key")
    assert sm2.location == "file" and not sm2.key_id.startswith("p11:")
    assert store.files is not None and store.files.info(sm2.key_id).public_key == sm2.public_key
    store.signer(sm2.key_id).public_key.verify(store.signer(sm2.key_id).sign(DATA), DATA)
    where = {k.key_id: k.location for k in store.list()}
    assert where[sm2.key_id] == "file"
    assert where[ec_key.key_id] == "pkcs11 token huren-test"
    assert next(k for k in store.list() if k.key_id == ec_key.key_id).label == "ec key"
    imported_sm2 = store.import_key(generate_private_key("sm2"))
    assert imported_sm2.location == "file"


def test_key_deleted_on_token_is_a_clear_error(store: TokenKeyStore, softhsm: SoftHsm) -> None:
    info = store.generate("ec-p256")
    signer = store.signer(info.key_id)
    signer.sign(DATA)
    ckaid = info.key_id.rsplit("/", 1)[1]
    deleted = softhsm.tool("--delete-object", "--type", "privkey", "--id", ckaid)  # another application deletes it
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(KeyStoreError) as exc:
        signer.sign(DATA)
    assert exc.value.code is Code.KEYSTORE_TOKEN_KEY_MISSING
    assert info.key_id in str(exc.value)
    store.discard(info.key_id)  # the public half too
    with pytest.raises(KeyStoreError) as exc:
        store.signer(info.key_id)
    assert exc.value.code is Code.KEYSTORE_TOKEN_KEY_MISSING


def test_missing_token_is_a_clear_error(softhsm: SoftHsm) -> None:
    with pytest.raises(KeyStoreError) as exc:
        TokenKeyStore(TokenConfig(softhsm.module, "no-such-token", softhsm.pin))
    assert exc.value.code is Code.KEYSTORE_TOKEN_MISSING
    assert "no-such-token" in str(exc.value)


def test_key_of_another_token_is_refused(store: TokenKeyStore) -> None:
    with pytest.raises(KeyStoreError) as exc:
        store.signer("p11:other-token/0011223344556677")
    assert exc.value.code is Code.KEYSTORE_TOKEN_MISSING


def test_wrong_pin_is_a_clear_error_and_never_shown(softhsm: SoftHsm) -> None:
    wrong = "not-the-pin-9999"
    with pytest.raises(KeyStoreError) as exc:
        TokenKeyStore(TokenConfig(softhsm.module, "huren-pin", wrong))
    assert exc.value.code is Code.KEYSTORE_TOKEN_PIN
    assert wrong not in str(exc.value) and wrong not in repr(TokenConfig(softhsm.module, "huren-pin", wrong))


def test_module_that_does_not_load_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        TokenKeyStore(TokenConfig(str(tmp_path / "missing.so"), "huren-test", "1234"))


def test_pin_from_environment_or_file_only(tmp_path: Path) -> None:
    assert pin_from_env({"TRUST_PKCS11_PIN": "1234"}) == "1234"
    (tmp_path / "pin").write_text("5678\n")
    assert pin_from_env({"TRUST_PKCS11_PIN_FILE": str(tmp_path / "pin")}) == "5678"
    for env in ({}, {"TRUST_PKCS11_PIN": "1", "TRUST_PKCS11_PIN_FILE": str(tmp_path / "pin")},
                {"TRUST_PKCS11_PIN_FILE": str(tmp_path / "absent")}):  # fmt: skip
        with pytest.raises(KeyStoreError) as exc:
            pin_from_env(env)
        assert exc.value.code is Code.KEYSTORE_TOKEN_PIN


def test_several_threads_sign_at_once_through_a_small_pool(softhsm: SoftHsm, tmp_path: Path) -> None:
    store = TokenKeyStore(TokenConfig(softhsm.module, "huren-test", softhsm.pin, pool_size=2))
    keys = [store.generate("ec-p256"), store.generate("rsa-2048")]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(8):
                info = keys[(n + i) % 2]
                message = f"{n}-{i}".encode()
                info.public_key.verify(store.signer(info.key_id).sign(message), message)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert store.pool._open <= 2
