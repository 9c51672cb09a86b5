"""``trust keys`` with a PKCS#11 token configured (SoftHSM2): RSA and EC keys are made on the token, SM2 keys in the
encrypted file store, and ``keys show`` / ``keys list`` say where each key lives. The PIN comes from the environment
or a file; a wrong one is a clear error (E1207), a missing token too (E1206)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.softhsm import SoftHsm
from trust.cli.main import main

pytestmark = pytest.mark.external


@pytest.fixture
def token_env(softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "a test passphrase of length")
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PKCS11_MODULE", softhsm.module)
    monkeypatch.setenv("TRUST_PKCS11_TOKEN", "huren-test")
    (tmp_path / "pin").write_text(softhsm.pin + "\n")
    monkeypatch.setenv("TRUST_PKCS11_PIN_FILE", str(tmp_path / "pin"))
    monkeypatch.setenv("COLUMNS", "250")
    return tmp_path / "home"


def _generate(home: Path, spec: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["keys", "generate", "--type", spec, "--home", str(home)]) == 0
    return capsys.readouterr().out.split("key id: ")[1].split()[0]


def test_keys_say_where_they_live(token_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ec_id = _generate(token_env, "ec-p256", capsys)
    sm2_id = _generate(token_env, "sm2", capsys)
    assert ec_id.startswith("p11:huren-test/") and not sm2_id.startswith("p11:")
    assert main(["keys", "show", ec_id, "--home", str(token_env)]) == 0
    assert "where: pkcs11 token huren-test" in capsys.readouterr().out
    assert main(["keys", "show", sm2_id, "--home", str(token_env)]) == 0
    assert "where: file" in capsys.readouterr().out
    assert main(["keys", "list", "--home", str(token_env)]) == 0
    listing = capsys.readouterr().out
    assert ec_id in listing and sm2_id in listing and "pkcs11 token huren-test" in listing
    # Only the SM2 key has files in the key store folder: the EC key is on the token.
    assert [p.name for p in (token_env / "keys").glob("*.key.pem")] == [f"{sm2_id}.key.pem"]


def test_wrong_pin_and_missing_token(
    token_env: Path, softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRUST_PKCS11_PIN_FILE")
    monkeypatch.setenv("TRUST_PKCS11_TOKEN", "huren-pin")
    monkeypatch.setenv("TRUST_PKCS11_PIN", "wrong-pin-0000")
    assert main(["keys", "list", "--home", str(token_env)]) == 3
    err = capsys.readouterr().err
    assert "E1207" in err and "wrong-pin-0000" not in err
    monkeypatch.setenv("TRUST_PKCS11_TOKEN", "absent-token")
    monkeypatch.setenv("TRUST_PKCS11_PIN", softhsm.pin)
    assert main(["keys", "list", "--home", str(token_env)]) == 4
    assert "E1206" in capsys.readouterr().err
    monkeypatch.delenv("TRUST_PKCS11_PIN")
    monkeypatch.setenv("TRUST_PKCS11_TOKEN", "huren-test")
    assert main(["keys", "list", "--home", str(token_env)]) == 3
    err = capsys.readouterr().err
    assert "E1207" in err and "TRUST_PKCS11_PIN" in err


def test_keys_move_refuses_what_it_cannot_move(
    token_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`trust keys move` (the successful moves are in tests/trust/service/test_token_faults.py): no token configured,
    an SM2 key, a key already on the token, a file key nothing uses (the token copy is removed again)."""
    home = str(token_env)
    with monkeypatch.context() as plain:
        plain.delenv("TRUST_PKCS11_MODULE")
        plain.delenv("TRUST_PKCS11_TOKEN")
        rsa_file = _generate(token_env, "rsa-2048", capsys)  # made before the token was configured: a file key
        assert not rsa_file.startswith("p11:")
        assert main(["keys", "move", rsa_file, "--home", home]) == 3
        assert "no PKCS#11 token is configured" in capsys.readouterr().err
    sm2 = _generate(token_env, "sm2", capsys)
    on_token = _generate(token_env, "ec-p256", capsys)
    assert main(["keys", "move", sm2, "--home", home]) == 3
    assert "only RSA and EC keys can live on the token" in capsys.readouterr().err
    assert main(["keys", "move", on_token, "--home", home]) == 3
    assert "already lives on a token" in capsys.readouterr().err
    assert main(["keys", "list", "--home", home]) == 0
    before = capsys.readouterr().out.count("pkcs11 token huren-test")
    assert main(["keys", "move", rsa_file, "--home", home]) == 3
    assert "nothing to move" in capsys.readouterr().err
    assert main(["keys", "list", "--home", home]) == 0
    listing = capsys.readouterr().out
    assert listing.count("pkcs11 token huren-test") == before and rsa_file in listing
