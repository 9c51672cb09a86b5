"""Inputs the CLI and the HTTP API both take as text are parsed by one function each, so the two cannot disagree:
the seal box (``seal.pdf.parse_box``; the CLI took ``nan,0,100,100`` while HTTP refused it) and the SM3 data hash
(``seal.signature.parse_data_hash``; ``bytes.fromhex`` took spaces). Dates and times: tests/trust/formats/test_times.py;
JSON: tests/trust/formats/test_strict_json.py and the HTTP body test in tests/trust/http/test_app.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from seal.pdf import Placement, PlacementError, parse_box
from seal.signature import parse_data_hash
from trust.cli.main import main
from trust.crypto.errors import InputError
from trust.service.seals import sealing, signing


def test_the_service_hands_out_the_same_parsers() -> None:
    assert sealing.parse_box is parse_box and signing.parse_data_hash is parse_data_hash


@pytest.mark.parametrize(
    ("text", "box"),
    [("400,60,520,180", (400.0, 60.0, 520.0, 180.0)), ("0.5, 1e2 ,-3,4", (0.5, 100.0, -3.0, 4.0))],
)
def test_boxes_read(text: str, box: tuple[float, ...]) -> None:
    assert parse_box(text) == box


@pytest.mark.parametrize(
    "text", ["nan,0,100,100", "0,inf,100,100", "0,0,-inf,100", "0,0,1e999,100", "1,2,3", "1,2,3,4,5", "a,b,c,d", ""]
)
def test_boxes_refused(text: str) -> None:
    with pytest.raises(PlacementError, match="four numbers"):
        parse_box(text)


def test_a_placement_refuses_a_box_that_is_not_finite() -> None:
    with pytest.raises(PlacementError, match="finite"):
        Placement(page=1, box=(float("nan"), 0.0, 100.0, 100.0))
    assert Placement(page=1, box=(0, 0, 100, 100)).box == (0, 0, 100, 100)


def test_the_cli_refuses_a_nan_box(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The regression of issue 14 item 5: ``trust seal pdf --box nan,...`` went on to seal; exit 3 now, before the
    home, the PDF or any key is touched."""
    pdf = tmp_path / "in.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    args = ["seal", "pdf", "ES-1", str(pdf), "--out", str(tmp_path / "out.pdf"), "--home", str(tmp_path / "none")]
    assert main([*args, "--box", "nan,0,100,100"]) == 3
    assert "finite" in capsys.readouterr().err
    assert not (tmp_path / "none").exists() and not (tmp_path / "out.pdf").exists()


@pytest.mark.parametrize(
    "text",
    ["00" * 31, "00" * 33, "0" * 63, " " + "00" * 32, "00 " * 32, "zz" * 32, "０" * 64, "0x" + "00" * 31],
)
def test_data_hashes_refused(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="64 digits"):
        parse_data_hash(text)
    args = ["seal", "sign", "ES-1", "--out", str(tmp_path / "s.der"), "--home", str(tmp_path / "none")]
    assert main([*args, "--hash", text]) == 3
    assert "--hash must be the SM3 digest" in capsys.readouterr().err


def test_data_hash_read() -> None:
    assert parse_data_hash("AB" * 32) == bytes([0xAB] * 32)
