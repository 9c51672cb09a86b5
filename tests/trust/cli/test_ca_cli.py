"""``trust init`` and ``trust ca ...`` end to end on a fresh home, including bad input (exit 3, nothing kept)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.csr import make_csr
from tests.support.world import ZJ_ORG_USCC
from trust.cli.main import main
from trust.crypto.keys import generate_private_key
from trust.formats import x509 as cx
from trust.formats.crl import load_crl
from trust.formats.names import DN


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "cli test passphrase")
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    return tmp_path / "home"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ca_commands(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = ["--home", str(home)]
    code, out, _ = run(capsys, "init", *h)
    assert code == 0 and "root-sm2" in out and "root-rsa" in out
    code, _, err = run(capsys, "init", *h)
    assert code == 3 and "E1004" in err
    code, out, _ = run(capsys, "ca", "enrol", "region", "330000", "--family", "SM2", *h)
    assert code == 0 and "region-330000-sm2" in out
    key = generate_private_key("sm2")
    csr = tmp_path / "req.pem"
    csr.write_bytes(make_csr(key, DN(province="浙江省", organization="杭州示例科技有限公司", common_name="合同专用章")))
    cert_out = tmp_path / "seal.pem"
    code, out, err = run(
        capsys,
        "ca",
        "issue",
        "region-330000-sm2",
        "seal",
        "--cn",
        "合同专用章",
        "--org",
        "杭州示例科技有限公司",
        "--province",
        "浙江省",
        "--id",
        ZJ_ORG_USCC,
        "--csr",
        str(csr),
        "--out",
        str(cert_out),
        *h,
    )
    assert code == 0, err
    serial = out.split("serial ")[1].split()[0]
    assert cx.public_key(cx.load_certificate(cert_out.read_bytes())) == key.public_key
    code, out, _ = run(capsys, "ca", "show", serial, *h)
    assert code == 0 and "status:      valid" in out
    code, out, _ = run(capsys, "ca", "list", "certificates", "--json", *h)
    assert serial in {row["serial"] for row in json.loads(out)}
    code, out, _ = run(capsys, "ca", "revoke", serial, "--reason", "key_compromise", *h)
    assert code == 0 and "revoked" in out and " partition " in out
    partition = out.split(" partition ")[1].split()[0]
    crl_file = tmp_path / "ca.crl"
    code, _, _ = run(capsys, "ca", "crl", "region-330000-sm2", "--partition", partition, "--out", str(crl_file), *h)
    assert code == 0
    entries = load_crl(crl_file.read_bytes())["tbs_cert_list"]["revoked_certificates"]
    assert int(serial, 16) in {e["user_certificate"].native for e in entries}
    code, out, _ = run(capsys, "ca", "list", "--json", *h)
    assert code == 0 and "region-330000-sm2" in {row["id"] for row in json.loads(out)}


BAD = {
    "unknown profile": (["ca", "issue", "region-330000-sm2", "wizard", "--cn", "x"], "E1000"),
    "outside region": (
        [
            "ca",
            "issue",
            "region-330000-sm2",
            "seal",
            "--cn",
            "x",
            "--org",
            "o",
            "--province",
            "广东省",
            "--id",
            ZJ_ORG_USCC,
        ],
        "E1000",
    ),
    "missing CSR file": (["ca", "issue", "region-330000-sm2", "seal", "--cn", "x", "--csr", "/nonexistent"], "E1000"),
    "bad region code": (["ca", "enrol", "region", "33000"], "E1000"),
    "unknown serial": (["ca", "revoke", "abcdef"], "E1003"),
    "bad reason": (["ca", "revoke", "abcdef", "--reason", "whim"], "E1000"),
    "unknown CA CRL": (["ca", "crl", "nope"], "E1003"),
    "missing argument": (["ca", "issue"], "Missing"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_3(home: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    assert main(["init", "--home", str(home)]) == 0
    main(["ca", "enrol", "region", "330000", "--home", str(home)])
    capsys.readouterr()
    args, marker = BAD[case]
    before = sorted(p.name for p in (home / "keys").iterdir())
    code, _out, err = run(capsys, *args, "--home", str(home))
    assert code == 3, err
    assert marker in err
    assert sorted(p.name for p in (home / "keys").iterdir()) == before
