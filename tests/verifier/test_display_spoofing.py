"""Issue 11, item 5: terminal and display spoofing.

The attack: a licence field holding ANSI escapes printed a green "TOTAL-PASSED" over a revoked licence's report and
hid the reason. Now issuance refuses control, bidi and separator characters (``trust.formats.text``) in names,
licence fields and seals, and the verifier's text report escapes everything it did not write itself — so even a
token issued before the fix (made here by switching the issuance check off) prints its escapes visibly, under the
verifier's own verdict line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from licenses import samples
from tests.support.world import ZJ_ORG_USCC, World, copy_world
from trust.crypto.errors import InputError
from trust.formats import license_catalogue as catalogue
from trust.formats import text
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.service import ca as ca_service
from trust.service import licenses, seals
from trust.service import trust as trust_service

BUSINESS = "11100000000013338W101"
ZJ_AUTHORITY = make_uscc("11330000002482226")
SPOOF = "杭州示例科技有限公司\x1b[2K\r\x1b[1A\x1b[2K\x1b[32mTOTAL-PASSED  license-token: 一切正常\x1b[0m\n\u202e"
HOSTILE = ["\x1b", "\x00", "\x85", "\u202e", "\u2066", "\u200f", "\u061c", "\u2028", "\u2029", "\ufeff", "\r"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> tuple[World, str]:
    world = copy_world(world_template, tmp_path_factory.mktemp("display") / "home")
    issuer = licenses.register_issuer(
        world.instance,
        ca_id="region-330000-sm2",
        name="浙江省市场监督管理局",
        code=ZJ_AUTHORITY,
        license_types=[BUSINESS],
    )
    return world, issuer.id


def _fields(name: str) -> dict:
    fields = samples.sample(BUSINESS)
    fields[catalogue.get(BUSINESS).holder_name_field] = name
    return fields


@pytest.mark.parametrize("char", HOSTILE, ids=[text.describe(c) for c in HOSTILE])
def test_issuance_refuses_control_characters(world: tuple[World, str], char: str) -> None:
    instance, issuer_id = world[0].instance, world[1]
    with pytest.raises(InputError, match="control or formatting character"):
        licenses.issue(instance, issuer_id=issuer_id, type_code=BUSINESS, fields=_fields(f"示例{char}公司"))
    with pytest.raises(InputError, match="control or formatting character"):
        ca_service.issue(
            instance,
            ca_id="region-330000-sm2",
            profile="organization-identity",
            subject=DN(
                province="浙江省", organization=f"示例{char}公司", common_name="示例", serial_number=ZJ_ORG_USCC
            ),
        )
    with pytest.raises(InputError, match="control or formatting character"):
        seals.create(
            instance,
            ca_id="region-330000-sm2",
            holder_kind="organization",
            holder_name="杭州示例科技有限公司",
            holder_code=ZJ_ORG_USCC,
            seal_name=f"合同{char}专用章",
        )


def test_a_spoofing_license_prints_its_escapes_under_the_real_verdict(
    world: tuple[World, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trust.cli.main import main

    instance, issuer_id = world[0].instance, world[1]
    with monkeypatch.context() as patched:  # a licence issued before the fix: the field check was not there
        patched.setattr(catalogue, "_check_text", lambda value, where: None, raising=False)
        made = licenses.issue(instance, issuer_id=issuer_id, type_code=BUSINESS, fields=_fields(SPOOF))
    licenses.set_status(instance, made.record.identifier, "revoked", reason="撤销")
    bundle = trust_service.export_bundle(instance)
    pin = cx.fingerprint(cx.load_certificate(ca_service.ca_certificate_der(instance, "root-sm2")))
    (tmp_path / "licence.jwt").write_text(made.record.token)
    capsys.readouterr()
    code = main(["verify", str(tmp_path / "licence.jwt"), "--bundle", str(bundle), "--pin", pin])
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    # revoked, and its fields no longer fit the catalogue (they hold controls): the claims check fails first
    assert lines[0].startswith("TOTAL-FAILED / FORMAT_FAILURE  licence token: "), lines[0]
    assert any("claims: " in line and "U+001B" in line for line in lines), out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "\\u{1b}[32mTOTAL-PASSED" in lines[0]  # visible, on the verdict line it belongs to
    assert sum(line.lstrip().startswith("TOTAL-") for line in lines) == 1
    assert "reason:" in lines[1]
    # JSON stays JSON: the encoder escapes the controls, the value is intact
    assert (
        main(["verify", str(tmp_path / "licence.jwt"), "--bundle", str(bundle), "--pin", pin, "--format", "json"]) == 1
    )
    report = json.loads(capsys.readouterr().out)
    assert SPOOF in report["subject"] and report["indication"] == "TOTAL_FAILED"


def test_rich_markup_in_a_subject_is_printed_as_text(
    world: tuple[World, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[green]`` and ``[/]`` are ordinary characters of a name: the CLI must not interpret them."""
    from trust.cli.main import main

    instance = world[0].instance
    result = ca_service.issue(
        instance,
        ca_id="region-330000-sm2",
        profile="organization-identity",
        subject=DN(
            province="浙江省",
            organization="[green]TOTAL-PASSED[/green]",
            common_name="[bold]x",
            serial_number=ZJ_ORG_USCC,
        ),
    )
    (tmp_path / "cert.pem").write_bytes(cx.certificate_pem(result.certificate))
    bundle = trust_service.export_bundle(instance)
    pin = cx.fingerprint(cx.load_certificate(ca_service.ca_certificate_der(instance, "root-sm2")))
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "cert.pem"), "--bundle", str(bundle), "--pin", pin]) == 0
    out = capsys.readouterr().out
    assert "O=[green]TOTAL-PASSED[/green], CN=[bold]x" in out.splitlines()[0]
    assert main(["ca", "show", result.record.serial, "--home", str(world[0].home)]) == 0
    assert "O=[green]TOTAL-PASSED[/green]" in capsys.readouterr().out  # rich markup would have eaten the tags


def test_escape_is_visible_and_reversible_enough() -> None:
    assert text.escape("a\x1b[31mb") == "a\\u{1b}[31mb"
    assert text.escape("C:\\x") == "C:\\\\x"
    assert text.escape("浙江省 ok") == "浙江省 ok"
    assert text.escape("\u202eabc\u2028") == "\\u{202e}abc\\u{2028}"
