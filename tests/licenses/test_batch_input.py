"""Reading bulk-issuance files and CLI licence fields with the one strict JSON reader (``trust.formats.strict_json``):
what the HTTP API refuses in a body (a member twice, ``NaN``) the files refuse too, line by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from licenses import batch, samples
from trust.cli.license import _json_file
from trust.crypto.errors import EncodingError

BUSINESS = "11100000000013338W101"


def _line(**record: object) -> str:
    return json.dumps(record, ensure_ascii=False)


def test_jsonl_lines_that_are_not_strict_json_are_reported(tmp_path: Path) -> None:
    fields = samples.sample(BUSINESS)
    good = _line(request_id="r1", type=BUSINESS, fields=fields)
    twice = good[:-1] + ', "request_id": "r9"}'  # the old reader kept the last request id
    nan = _line(request_id="r3", type=BUSINESS, fields={**fields, "x": float("nan")})  # json.dumps writes NaN
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join([good, twice, nan]) + "\n", encoding="utf-8")
    records = list(batch.read(path))
    assert records[0]["error"] is None and records[0]["request_id"] == "r1"
    assert records[1]["error"][0] == "E1001" and "member 'request_id' twice" in records[1]["error"][1]
    assert records[2]["error"][0] == "E1001" and "NaN" in records[2]["error"][1]


def test_csv_json_cells_are_strict(tmp_path: Path) -> None:
    path = tmp_path / "batch.csv"
    path.write_text(f'request_id,type,business_scope\nr1,{BUSINESS},"[NaN]"\n', encoding="utf-8")
    (record,) = batch.read(path)
    assert record["error"][0] == "E1000" and "NaN" in record["error"][1]


@pytest.mark.parametrize(("text", "words"), [('{"name": "a", "name": "b"}', "member 'name' twice"), ("[1]", "object")])
def test_cli_fields_file_is_strict(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "fields.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EncodingError, match=words):
        _json_file(path)
