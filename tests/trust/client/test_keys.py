"""Key sources of the client (:mod:`trust.client.keys`): ``file:PATH`` or a bare path, ``pkcs11:`` reserved with a
usage error, unknown schemes refused; passphrases from a variable or the file its ``_FILE`` twin names, never both."""

from __future__ import annotations

from pathlib import Path

import pytest

from trust.client.keys import KeySource, load_signer, new_passphrase, parse_pkcs11_uri, passphrase
from trust.crypto import pkcs8
from trust.crypto.errors import Code, InputError, TrustError
from trust.crypto.keys import generate_private_key


def test_key_sources_parse() -> None:
    assert KeySource.parse("file:/keys/platform.key") == KeySource("file", "/keys/platform.key")
    assert KeySource.parse("platform.key") == KeySource("file", "platform.key")
    assert KeySource.parse("./a:b.key") == KeySource("file", "./a:b.key")  # no scheme: a path
    assert KeySource.parse("pkcs11:token=huren;object=zj") == KeySource("pkcs11", "token=huren;object=zj")
    for bad in ("", "  ", "vault:secret/zj", "file:"):
        with pytest.raises(InputError) as caught:
            KeySource.parse(bad)
        assert caught.value.code is Code.USAGE
    for bad in (
        "pkcs11:token=huren;object=zj;pin-value=1234",  # a PIN never goes on a command line
        "pkcs11:token=huren;object=zj?pin-source=file:/pin",
        "pkcs11:token=huren;colour=blue",
        "pkcs11:token=huren;token=other",
        "pkcs11:object=zj?module-path=/x.so",  # no token
        "pkcs11:token=huren;object=zj;type=public?module-path=/x.so",
    ):
        with pytest.raises(InputError) as refused:
            load_signer(bad, environ={})
        assert refused.value.code is Code.USAGE and "1234" not in refused.value.message
    assert parse_pkcs11_uri("token=a%20b;id=%01%02?module-path=/m.so") == ({"token": "a b", "id": "%01%02"},
                                                                            {"module-path": "/m.so"})  # fmt: skip


def test_passphrases_come_from_the_environment(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_bytes(b"from a file 12345\n")
    assert passphrase("P", {"P": "direct value 1234"}) == b"direct value 1234"
    assert passphrase("P", {"P_FILE": str(secret_file)}) == b"from a file 12345"
    assert passphrase("P", {}) is None
    with pytest.raises(InputError, match="set one of them"):
        passphrase("P", {"P": "a", "P_FILE": str(secret_file)})
    with pytest.raises(InputError, match="cannot read"):
        passphrase("P", {"P_FILE": str(tmp_path / "missing")})
    with pytest.raises(InputError, match="shorter than 12"):
        new_passphrase("P", {"P": "short"})
    with pytest.raises(InputError, match="set P"):
        new_passphrase("P", {})


def test_key_files(tmp_path: Path) -> None:
    key = generate_private_key("sm2")
    encrypted = tmp_path / "k.pem"
    encrypted.write_bytes(pkcs8.encrypt_private_key_pem(key, b"correct horse battery", iterations=2000))
    signer = load_signer(f"file:{encrypted}", passphrase_env="P", environ={"P": "correct horse battery"})
    assert signer.public_key == key.public_key
    with pytest.raises(InputError, match="is encrypted: set P"):
        load_signer(str(encrypted), passphrase_env="P", environ={})
    with pytest.raises(TrustError) as wrong:
        load_signer(str(encrypted), passphrase_env="P", environ={"P": "wrong horse battery"})
    assert "BEGIN" not in wrong.value.message
    garbage = tmp_path / "g.pem"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(TrustError, match="not a usable private key"):
        load_signer(str(garbage), passphrase_env="P", environ={})
    with pytest.raises(InputError, match="cannot read the key file"):
        load_signer(str(tmp_path / "missing.pem"), passphrase_env="P", environ={})
