"""The key store: encrypted at rest, 0600 files, passphrase from the environment only, clear errors."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from trust.crypto import pkcs8
from trust.crypto.errors import Code, KeyStoreError, PassphraseError
from trust.crypto.keys import generate_private_key, load_private_key
from trust.crypto.keystore import FileKeyStore, passphrase_from_env

PASS = b"correct horse battery staple"
FAST = 2_000  # PBKDF2 iterations for tests; production default is pkcs8.DEFAULT_ITERATIONS


def _store(path: Path, passphrase: bytes = PASS) -> FileKeyStore:
    return FileKeyStore(path, passphrase, iterations=FAST)


@pytest.mark.parametrize("spec", ["sm2", "rsa-2048", "ec-p256", "ec-p384"])
def test_generate_sign_reopen(tmp_path: Path, spec: str) -> None:
    store = _store(tmp_path / "keys")
    info = store.generate(spec, label="test")
    signature = store.signer(info.key_id).sign(b"document")
    info.public_key.verify(signature, b"document")
    # A fresh store (new process) decrypts from disk.
    again = _store(tmp_path / "keys")
    assert again.info(info.key_id).public_key == info.public_key
    again.signer(info.key_id).public_key.verify(again.signer(info.key_id).sign(b"x"), b"x")
    assert [k.key_id for k in again.list()] == [info.key_id]


def test_no_private_key_is_ever_written_unencrypted(tmp_path: Path) -> None:
    """Every byte the store writes is either public or PBES2 ciphertext: scan all files for key material."""
    store = _store(tmp_path / "keys")
    keys = [generate_private_key(spec) for spec in ("sm2", "rsa-2048", "ec-p256")]
    for key in keys:
        store.import_key(key)
    files = list((tmp_path / "keys").iterdir())
    blob = b"".join(f.read_bytes() for f in files)
    assert b"BEGIN PRIVATE KEY" not in blob
    assert b"BEGIN EC PRIVATE KEY" not in blob
    assert b"BEGIN RSA PRIVATE KEY" not in blob
    for key in keys:
        plain_der = key._private_key_info().dump()
        # No unencrypted PKCS#8 encoding and no raw private scalar / exponent anywhere on disk.
        assert plain_der not in blob
        secret = _secret_bytes(key)
        assert secret not in blob
        import base64

        assert base64.b64encode(secret)[:24] not in blob
        assert secret.hex().encode() not in blob
    for path in files:
        if path.name.endswith(".key.pem"):
            assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
            with pytest.raises(PassphraseError):
                load_private_key(path.read_bytes(), b"wrong passphrase!")


def _secret_bytes(key: object) -> bytes:
    from trust.crypto.keys import ECPrivateKey, RSAPrivateKey, SM2PrivateKey

    if isinstance(key, SM2PrivateKey):
        return key._key.private_scalar().to_bytes(32, "big")
    if isinstance(key, RSAPrivateKey):
        d = key._key.private_numbers().d
        return d.to_bytes((d.bit_length() + 7) // 8, "big")
    assert isinstance(key, ECPrivateKey)
    d = key._key.private_numbers().private_value
    return d.to_bytes(32, "big")


def test_files_are_0600_and_directory_0700(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        store = _store(tmp_path / "keys")
        store.generate("sm2")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for path in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_wrong_passphrase_is_a_clear_error_at_open(tmp_path: Path) -> None:
    _store(tmp_path / "keys").generate("sm2")
    with pytest.raises(PassphraseError) as caught:
        _store(tmp_path / "keys", b"not the passphrase")
    assert caught.value.code is Code.KEYSTORE_WRONG_PASSPHRASE
    assert "wrong key store passphrase" in caught.value.message
    assert b"not the passphrase".decode() not in caught.value.diagnostics()


def test_insecure_directory_refused(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    _store(directory)
    directory.chmod(0o755)
    with pytest.raises(KeyStoreError) as caught:
        _store(directory)
    assert caught.value.code is Code.KEYSTORE_INSECURE


def test_unknown_and_hostile_key_ids(tmp_path: Path) -> None:
    store = _store(tmp_path / "keys")
    for key_id in ("sm2-0000", "../../etc/passwd", "", "A" * 80, "x/y"):
        with pytest.raises(KeyStoreError) as caught:
            store.signer(key_id)
        assert caught.value.code is Code.KEYSTORE_KEY_NOT_FOUND


def test_importing_the_same_key_twice_is_a_conflict(tmp_path: Path) -> None:
    store = _store(tmp_path / "keys")
    key = generate_private_key("sm2")
    store.import_key(key)
    with pytest.raises(KeyStoreError) as caught:
        store.import_key(key)
    assert caught.value.code is Code.KEYSTORE_KEY_EXISTS


def test_tampered_key_file_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path / "keys")
    a = store.generate("sm2")
    b = store.generate("sm2")
    # Swap b's encrypted key into a's slot: the store notices the public key mismatch.
    (tmp_path / "keys" / f"{a.key_id}.key.pem").write_bytes((tmp_path / "keys" / f"{b.key_id}.key.pem").read_bytes())
    with pytest.raises(KeyStoreError, match="does not match"):
        _store(tmp_path / "keys").signer(a.key_id)


def test_concurrent_generation(tmp_path: Path) -> None:
    store = _store(tmp_path / "keys")
    ids: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            info = store.generate("sm2")
            with lock:
                ids.append(info.key_id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 20
    assert sorted(ids) == [k.key_id for k in _store(tmp_path / "keys").list()]


def test_passphrase_from_env(tmp_path: Path) -> None:
    assert passphrase_from_env({"TRUST_KEY_PASSPHRASE": "a long enough passphrase"}) == b"a long enough passphrase"
    secret = tmp_path / "pass"
    secret.write_text("from a file, with newline\n")
    assert passphrase_from_env({"TRUST_KEY_PASSPHRASE_FILE": str(secret)}) == b"from a file, with newline"
    for env in (
        {},
        {"TRUST_KEY_PASSPHRASE": "short"},
        {"TRUST_KEY_PASSPHRASE": "a long enough passphrase", "TRUST_KEY_PASSPHRASE_FILE": str(secret)},
        {"TRUST_KEY_PASSPHRASE_FILE": str(tmp_path / "missing")},
    ):
        with pytest.raises(PassphraseError) as caught:
            passphrase_from_env(env)
        assert caught.value.code is Code.KEYSTORE_PASSPHRASE_MISSING
        assert "a long enough passphrase" not in caught.value.diagnostics()


def test_default_iterations_are_strong() -> None:
    assert pkcs8.DEFAULT_ITERATIONS >= 200_000
