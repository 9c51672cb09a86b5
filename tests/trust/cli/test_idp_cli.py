"""``trust idp``: create a region's OpenID Provider, add a demo account, print its discovery document, list the OPs;
bad input exits 3 with a code (issue 16: CLI for everything)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trust.cli.main import main
from trust.service.demo import _citizen_id


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", "cli test passphrase")
    monkeypatch.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    monkeypatch.setenv("TRUST_PUBLIC_URL", "https://trust.example.gov.cn")
    return tmp_path / "home"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_idp_commands(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    h = ["--home", str(home)]
    assert run(capsys, "init", *h)[0] == 0
    assert run(capsys, "ca", "enrol", "region", "330000", "--family", "SM2", *h)[0] == 0
    code, out, err = run(capsys, "idp", "create", "330000", "浙江省统一身份认证平台", *h)
    assert code == 0, err
    assert "https://trust.example.gov.cn/idp/330000" in out and "idp-330000-" in out
    citizen = _citizen_id("33010619900101001")
    monkeypatch.setenv("TRUST_DEMO_PASSWORD", "short")
    code, _out, err = run(capsys, "idp", "citizen-add", citizen, "张三", *h)
    assert code == 3 and "E1000" in err
    monkeypatch.setenv("TRUST_DEMO_PASSWORD", "a demo password")
    code, out, _err = run(capsys, "idp", "citizen-add", citizen, "张三", *h)
    assert code == 0 and citizen not in out and "330106********" in out
    code, _out, err = run(capsys, "idp", "citizen-add", "330106199001010010", "李四", *h)  # bad check character
    assert code == 3 and "E1000" in err
    code, out, _err = run(capsys, "idp", "discovery", "330000", *h)
    document = json.loads(out)
    assert document["issuer"] == "https://trust.example.gov.cn/idp/330000"
    assert document["code_challenge_methods_supported"] == ["S256"]
    code, out, _err = run(capsys, "idp", "list", *h)
    assert code == 0 and "active" in out and "330000" in out
    code, _out, err = run(capsys, "idp", "discovery", "440000", *h)
    assert code == 3 and "E1003" in err
